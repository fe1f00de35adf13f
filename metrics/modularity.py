"""Modularity and Explicitness (Ridgeway & Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic
Loss", NeurIPS 2018), as computed by dlib."""

from __future__ import annotations

import warnings

import numpy as np

from factorbench.metrics._checks import check_num_bins, check_train_test
from factorbench.metrics._info import histogram_discretize, mutual_info_matrix
from factorbench.metrics._scale import standardization


def modularity_from_mi(mi: np.ndarray) -> np.ndarray:
    """Per-code modularity from the MI matrix (D, K): 1 - (sum_j m_ij^2 - theta_i) / (theta_i (K - 1)),
    theta_i = max_j m_ij^2; 0 for a code with no information. With K = 1 every informative code scores 1."""
    sq = np.square(mi)
    theta = sq.max(axis=1)
    k = mi.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - theta) / (theta * (k - 1)) if k > 1 else np.zeros_like(theta)
    return np.where(theta == 0, 0.0, 1.0 - delta)


def _roc_auc_macro(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Macro ROC-AUC of one-vs-rest probabilities, over the classes that have both positives and negatives."""
    from sklearn.metrics import roc_auc_score

    onehot = (y[:, None] == classes[None, :]).astype(int)
    keep = (onehot.sum(axis=0) > 0) & (onehot.sum(axis=0) < len(y))
    if not keep.any():
        return 1.0
    return float(roc_auc_score(onehot[:, keep], proba[:, keep], average="macro"))


def _explicitness_sklearn(xt, yt, xe, ye):
    from sklearn.linear_model import LogisticRegression

    train, test = np.ones(yt.shape[1]), np.ones(yt.shape[1])
    for j in range(yt.shape[1]):
        if len(np.unique(yt[:, j])) < 2:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = LogisticRegression().fit(xt, yt[:, j])
        train[j] = _roc_auc_macro(yt[:, j], clf.predict_proba(xt), clf.classes_)
        test[j] = _roc_auc_macro(ye[:, j], clf.predict_proba(xe), clf.classes_)
    return train, test


def _explicitness_logistic(xt, yt, xe, ye):
    from factorbench.metrics._probe import fit_logistic_probes

    probes = fit_logistic_probes(xt, yt)
    pt, pe = probes.predict_proba(xt), probes.predict_proba(xe)
    train, test = np.ones(yt.shape[1]), np.ones(yt.shape[1])
    for j, cls in enumerate(probes.classes):
        if len(cls) > 1:
            train[j] = _roc_auc_macro(yt[:, j], pt[j, :, : len(cls)], cls)
            test[j] = _roc_auc_macro(ye[:, j], pe[j, :, : len(cls)], cls)
    return train, test


def modularity_explicitness(
    codes_train, factors_train, codes_test, factors_test, num_bins: int = 20, *,
    probe: str = "sklearn", details: dict | None = None,
) -> dict[str, float]:
    """Modularity (mean per-code score from the binned MI matrix of the train split) and Explicitness (mean over
    factors of the macro one-vs-rest ROC-AUC of a logistic regression from the standardised codes).

    probe : "sklearn" (dlib: `LogisticRegression()` defaults, i.e. lbfgs, L2 C=1, 100 iterations) or "logistic" (the
        fast protocol: the same objective fitted to convergence in float64 by `_probe`, so another CPU's rounding
        cannot move it).
    Returns {"modularity", "explicitness_train", "explicitness_test"} in [0, 1]. details receives "mi_matrix"
    (K x D) and "per_code_modularity".

    Differs from dlib: on the same arrays modularity is identical (dlib's keys: `modularity_score`,
    `explicitness_score_train/_test`). Explicitness standardises with the train mean/std as dlib does, but a
    constant code is left at 0 (dlib divides by 0), the one-hot labels use the classifier's classes (dlib refits a
    MultiLabelBinarizer on each split and crashes when a class is missing from the test split), and classes with
    no positive or no negative example are left out of the macro average.
    """
    if probe not in ("sklearn", "logistic"):
        raise ValueError(f"modularity_explicitness: unknown probe {probe!r}; choose 'sklearn' or 'logistic'")
    zt, yt, ze, ye = check_train_test("modularity_explicitness", codes_train, factors_train, codes_test, factors_test)
    num_bins = check_num_bins("modularity_explicitness", num_bins)
    mi = mutual_info_matrix(histogram_discretize(zt, num_bins), yt)
    per_code = modularity_from_mi(mi)
    mean, std = standardization(zt)
    xt, xe = (zt - mean) / std, (ze - mean) / std
    if probe == "sklearn":
        train, test = _explicitness_sklearn(xt, yt, xe, ye)
    else:  # the probe standardises the same way itself; raw codes let it reuse DCI's fitted probes
        train, test = _explicitness_logistic(zt, yt, ze, ye)
    if details is not None:
        details.update(mi_matrix=mi.T.tolist(), per_code_modularity=per_code.tolist())
    return {
        "modularity": float(per_code.mean()),
        "explicitness_train": float(np.mean(train)),
        "explicitness_test": float(np.mean(test)),
    }
