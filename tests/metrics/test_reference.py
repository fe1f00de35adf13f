"""Each deterministic metric equals a plain, loop-based re-statement of dlib's algorithm (from
shared/reference/disentanglement_lib.md sec 3) to 1e-9. dlib stores arrays transposed ([dim, N]); so do these."""

import numpy as np
import pytest
import scipy.linalg
from sklearn.metrics import mutual_info_score
from sklearn.svm import LinearSVC

from factorbench.metrics import irs, mig, modularity, sap, unsupervised


def ref_discretize(target, num_bins=20):
    out = np.zeros_like(target, dtype=int)
    for i in range(target.shape[0]):
        out[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return out


def ref_mi(mus, ys):
    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = mutual_info_score(ys[j, :], mus[i, :])
    return m


def ref_entropy(ys):
    return np.array([mutual_info_score(ys[j, :], ys[j, :]) for j in range(ys.shape[0])])


def ref_mig(mus, ys):
    m = ref_mi(ref_discretize(mus), ys)
    sorted_m = np.sort(m, axis=0)[::-1]
    return np.mean((sorted_m[0, :] - sorted_m[1, :]) / ref_entropy(ys))


def ref_mig_sup(mus, ys):
    m = ref_mi(ref_discretize(mus), ys) / ref_entropy(ys)[None, :]
    gaps = []
    for i in range(m.shape[0]):
        row = sorted(m[i, :], reverse=True)
        gaps.append(row[0] - row[1])
    return np.mean(gaps)


def ref_dcimig(mus, ys):
    m = ref_mi(ref_discretize(mus), ys)
    best = [0.0] * ys.shape[0]
    for i in range(m.shape[0]):
        row = sorted(m[i, :], reverse=True)
        j = int(np.argmax(m[i, :]))
        best[j] = max(best[j], row[0] - row[1])
    return sum(best) / np.sum(ref_entropy(ys))


def ref_sap(mus, ys, mus_test, ys_test):
    s = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            clf = LinearSVC(C=0.01, class_weight="balanced")
            clf.fit(mus[i, :][:, np.newaxis], ys[j, :])
            s[i, j] = np.mean(clf.predict(mus_test[i, :][:, np.newaxis]) == ys_test[j, :])
    srt = np.sort(s, axis=0)
    return np.mean(srt[-1, :] - srt[-2, :])


def ref_modularity(mus, ys):
    m = ref_mi(ref_discretize(mus), ys)
    sq = np.square(m)
    mx = np.max(sq, axis=1)
    score = 1.0 - (np.sum(sq, axis=1) - mx) / (mx * (sq.shape[1] - 1.0))
    score[mx == 0.0] = 0.0
    return np.mean(score)


def ref_irs(mus, ys, diff_quantile=0.99):
    gen = ref_discretize(ys).T
    lat = mus[np.std(mus, axis=1) > 0.0].T
    max_dev = np.max(np.abs(lat - lat.mean(axis=0)), axis=0)
    cum = np.zeros([lat.shape[1], gen.shape[1]])
    for i in range(gen.shape[1]):
        values = np.unique(gen[:, i])
        for v in values:
            match = gen[:, i] == v
            e_loc = np.mean(lat[match, :], axis=0)
            cum[:, i] += np.percentile(np.abs(lat[match, :] - e_loc), q=diff_quantile * 100, axis=0)
        cum[:, i] /= values.shape[0]
    scores = (1.0 - cum / max_dev[:, np.newaxis]).max(axis=1)
    return np.average(scores, weights=max_dev)


def ref_unsupervised(mus):
    cov = np.cov(mus)
    tc = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    wc = 2 * np.trace(cov) - 2 * np.trace(scipy.linalg.sqrtm(cov * np.expand_dims(np.diag(cov), axis=1)))
    disc = ref_discretize(mus)
    m = ref_mi(disc, disc)
    np.fill_diagonal(m, 0)
    d = mus.shape[0]
    return {"gaussian_total_correlation": tc, "gaussian_wasserstein_correlation": np.real(wc),
            "gaussian_wasserstein_correlation_norm": np.real(wc) / np.trace(cov),
            "mutual_info_score": np.sum(m) / (d**2 - d)}


@pytest.mark.parametrize("name, ours, ref", [
    ("mig", lambda z, f: mig.mig(z, f)["mig"], ref_mig),
    ("mig_sup", lambda z, f: mig.mig_sup(z, f)["mig_sup"], ref_mig_sup),
    ("dcimig", lambda z, f: mig.dcimig(z, f)["dcimig"], ref_dcimig),
    ("irs", lambda z, f: irs.irs(z, f)["irs"], ref_irs),
])
def test_matches_dlib_restatement(mixed, name, ours, ref):
    z, f = mixed
    assert ours(z, f) == pytest.approx(ref(z.T, f.T), abs=1e-9), name


def test_sap_matches(split):
    zt, ft, ze, fe = split
    assert sap.sap(zt, ft, ze, fe)["sap"] == pytest.approx(ref_sap(zt.T, ft.T, ze.T, fe.T), abs=1e-9)


def test_modularity_matches(split):
    zt, ft, ze, fe = split
    ours = modularity.modularity_explicitness(zt, ft, ze, fe)["modularity"]
    assert ours == pytest.approx(ref_modularity(zt.T, ft.T), abs=1e-9)


def test_unsupervised_matches(mixed):
    z, _ = mixed
    ours = unsupervised.unsupervised(z)
    for key, value in ref_unsupervised(z.T).items():
        assert ours[key] == pytest.approx(value, abs=1e-9), key


def test_irs_factor_discretization_coarsens_many_valued_factors():
    # A factor with 40 values is binned into 20 groups before grouping, as dlib does.
    rng = np.random.default_rng(0)
    f = rng.integers(0, 40, (600, 1))
    z = np.concatenate([f / 40 + 0.01 * rng.normal(size=f.shape), rng.normal(size=f.shape)], axis=1)
    assert irs.irs(z, f)["irs"] == pytest.approx(ref_irs(z.T, f.T), abs=1e-9)
