"""Property tests (hypothesis): invariance to permuting code dimensions and to per-dimension affine maps where a
metric claims it, and scores inside [0, 1]."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from factorbench.metrics import irs, mig, unsupervised
from factorbench.metrics._info import histogram_discretize, mutual_info_matrix
from factorbench.metrics.modularity import modularity_from_mi

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    d = draw(st.integers(2, 5))
    sizes = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    rng = np.random.default_rng(seed)
    f = np.stack([rng.integers(0, s, 200) for s in sizes], axis=1)
    mix = rng.normal(size=(len(sizes), d)) * (rng.random((len(sizes), d)) < 0.6)
    z = f @ mix + draw(st.floats(0.01, 2.0)) * rng.normal(size=(200, d))
    return z, f, rng


def modularity_score(z, f):
    return {"modularity": float(modularity_from_mi(mutual_info_matrix(histogram_discretize(z), f)).mean())}


BOUNDED = [("mig", mig.mig), ("mig_sup", mig.mig_sup), ("dcimig", mig.dcimig), ("modularity", modularity_score)]


@pytest.mark.parametrize("key, fn", BOUNDED)
@SETTINGS
@given(problem=problems())
def test_bounds_permutation_and_affine_invariance(key, fn, problem):
    z, f, rng = problem
    base = fn(z, f)[key]
    assert 0.0 <= base <= 1.0
    perm = rng.permutation(z.shape[1])
    assert fn(z[:, perm], f)[key] == pytest.approx(base, abs=1e-9)
    scale = rng.uniform(0.5, 3.0, z.shape[1])
    shift = rng.normal(size=z.shape[1])
    assert fn(z * scale + shift, f)[key] == pytest.approx(base, abs=1e-6)


@SETTINGS
@given(problem=problems())
def test_irs_permutation_shift_and_common_scale(problem):
    z, f, rng = problem
    base = irs.irs(z, f)["irs"]
    assert base <= 1.0 + 1e-12
    assert irs.irs(z[:, rng.permutation(z.shape[1])], f)["irs"] == pytest.approx(base, abs=1e-9)
    assert irs.irs(3.0 * z + rng.normal(size=z.shape[1]), f)["irs"] == pytest.approx(base, abs=1e-6)


@SETTINGS
@given(problem=problems())
def test_unsupervised_permutation_invariance_and_sign(problem):
    z, _, rng = problem
    base = unsupervised.unsupervised(z)
    perm = unsupervised.unsupervised(z[:, rng.permutation(z.shape[1])])
    for key, value in base.items():
        assert value >= -1e-9
        assert perm[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
