"""Bad and degenerate inputs: NaN/Inf codes, mismatched lengths, constant codes, one-valued factors."""

import math

import numpy as np
import pytest
from conftest import make_factors

from factorbench.metrics import dci, downstream, infomec, irs, mig, modularity, sap, unsupervised

F = make_factors(300, sizes=(2, 3, 2))  # few classes keep the GBT and CV probes cheap


def _single(fn):
    return lambda z, f: fn(z, f)


def _split(fn):
    return lambda z, f: fn(z[:200], f[:200], z[200:], f[200:])


CALLS = {
    "mig": _single(mig.mig),
    "mig_sup": _single(mig.mig_sup),
    "dcimig": _single(mig.dcimig),
    "irs": _single(irs.irs),
    "unsupervised": lambda z, f: unsupervised.unsupervised(z),
    "infomec": _single(infomec.infomec),
    "sap": _split(sap.sap),
    "dci": _split(lambda *a: dci.dci(*a, random_state=0)),
    "modularity_explicitness": _split(modularity.modularity_explicitness),
    "downstream": _split(lambda *a: downstream.downstream(*a, num_train=(10,))),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_nan_and_inf_codes_raise_naming_metric_and_count(name):
    z = np.random.default_rng(0).normal(size=(300, 3))
    z[5, 1] = np.nan
    z[7, 0] = np.inf
    z[250, 2] = -np.inf
    # every call checks its (first) input: 2 bad entries in the first 200 rows, 3 in all 300
    with pytest.raises(ValueError, match=rf"^{name}: codes\S* contain [23] non-finite entries"):
        CALLS[name](z, F)


@pytest.mark.parametrize("name", ["mig", "irs", "infomec", "sap", "dci"])
def test_mismatched_lengths_raise(name):
    z = np.random.default_rng(0).normal(size=(300, 3))
    with pytest.raises(ValueError, match=rf"^{name}: .*samples"):
        CALLS[name](z, F[:-10] if name in ("mig", "irs", "infomec") else np.concatenate([F[:190], F[200:]]))


@pytest.mark.parametrize("name", sorted(CALLS))
def test_constant_codes_give_defined_scores(name):
    out = CALLS[name](np.full((300, 3), 0.7), F)
    assert all(math.isfinite(v) for v in out.values()), out
    for key in ("mig", "mig_sup", "dcimig", "irs", "sap", "modularity", "infom", "infoc", "disentanglement",
                "gaussian_total_correlation", "mutual_info_score"):
        if key in out:
            assert abs(out[key]) < 1e-9, (key, out[key])


@pytest.mark.parametrize("name", sorted(CALLS))
def test_one_valued_factor_is_handled(name):
    f = F.copy()
    f[:, 1] = 4
    z = f[:, [0, 2, 0]] + np.random.default_rng(1).normal(scale=0.1, size=(300, 3))
    out = CALLS[name](z, f)
    assert all(math.isfinite(v) for v in out.values()), out


def test_bad_shapes_and_options():
    with pytest.raises(ValueError, match="mig: codes must be a 2-D array"):
        mig.mig(np.zeros(10), F[:10])
    with pytest.raises(ValueError, match="mig: factors must hold integer"):
        mig.mig(np.zeros((10, 2)), np.full((10, 1), 0.5))
    with pytest.raises(ValueError, match="num_bins"):
        mig.mig(np.zeros((10, 2)), F[:10], num_bins=1)
    with pytest.raises(ValueError, match="unknown probe"):
        dci.dci(np.zeros((10, 2)), F[:10], np.zeros((10, 2)), F[:10], probe="forest")
    with pytest.raises(ValueError, match="train has 2 codes"):
        sap.sap(np.zeros((10, 2)), F[:10], np.zeros((10, 3)), F[:10])


def test_a_code_without_information_scores_nothing():
    """One constant code: it predicts no factor, so SAP and DCI completeness are 0 (were 0.28 and 1.0)."""
    y = make_factors(300, sizes=(3, 5))
    z = np.full((300, 1), 0.3)
    assert sap.sap(z, y, z, y)["sap"] == 0.0
    scores = dci.dci(z, y, z, y, probe="logistic")
    assert scores["completeness"] == 0.0 and scores["disentanglement"] == 0.0


def test_infomec_with_a_factor_whose_sampled_values_are_all_distinct():
    rng = np.random.default_rng(0)
    y = np.stack([np.arange(10), rng.integers(0, 2, 10)], axis=1)
    out = infomec.infomec(rng.normal(size=(10, 3)), y)
    assert all(0.0 <= v <= 1.0 for v in out.values())


def test_tree_probe_dci_does_not_depend_on_the_codes_scale():
    """sklearn's trees see a feature spanning less than 1e-7 as constant; DCI standardises codes first."""
    y = make_factors(200, sizes=(2, 3))
    z = np.column_stack([y[:, 0] + 0.1 * np.random.default_rng(1).normal(size=200), y[:, 1] * 0.5])
    at_one = dci.dci(z[:150], y[:150], z[150:], y[150:], probe="gbt", random_state=0)
    tiny = dci.dci(z[:150] * 1e-8, y[:150], z[150:] * 1e-8, y[150:], probe="gbt", random_state=0)
    assert at_one["disentanglement"] > 0.5
    for key, value in at_one.items():
        assert tiny[key] == pytest.approx(value, abs=1e-9), key
