"""InfoMEC: InfoM (modularity), InfoE (explicitness), InfoC (compactness) (Hsu, Dorrell, Whittington, Wu & Finn,
"Disentanglement via Latent Quantization", NeurIPS 2023, arXiv 2305.18378)."""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_codes_factors
from factorbench.metrics._info import entropy


def nmi_matrix(z: np.ndarray, y: np.ndarray, n_neighbors: int = 3, random_state: int = 0) -> np.ndarray:
    """NMI[k, d] = I(v_k; z_d) / H(v_k): KSG continuous-discrete MI (sklearn `mutual_info_classif`) on the
    standardised codes, over the plug-in factor entropy. A factor with one value gets a zero row."""
    from sklearn.feature_selection import mutual_info_classif

    std = z.std(axis=0)
    x = (z - z.mean(axis=0)) / np.where(np.ptp(z, axis=0) > 0, std, 1.0)
    h = entropy(y)
    out = np.zeros((y.shape[1], z.shape[1]))
    for k in range(y.shape[1]):
        if h[k] > 0:
            mi = mutual_info_classif(x, y[:, k], discrete_features=False, n_neighbors=n_neighbors,
                                     random_state=random_state)
            out[k] = np.clip(mi / h[k], 0.0, 1.0)
    return out


def _infoe_factor(z: np.ndarray, y: np.ndarray, max_iter: int = 100) -> float:
    """(H_null - CE) / H_null for one factor: unpenalised, class-balanced multinomial logistic regression."""
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.utils.class_weight import compute_sample_weight

    std = z.std(axis=0)
    x = (z - z.mean(axis=0)) / np.where(np.ptp(z, axis=0) > 0, std, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(penalty=None, class_weight="balanced", max_iter=max_iter).fit(x, y)
    proba = np.clip(model.predict_proba(x), 1e-300, 1.0)
    weight = compute_sample_weight("balanced", y)
    ce = -np.sum(weight * np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)])) / weight.sum()
    h_null = np.log(len(model.classes_))
    return float(np.clip((h_null - ce) / h_null, 0.0, 1.0))


def _ratio_score(nmi: np.ndarray, axis: int) -> float:
    """Mean over the other axis of max/sum along `axis`, rescaled so 1/len is 0 and 1 is 1."""
    n = nmi.shape[axis]
    if n <= 1:
        return 1.0 if nmi.sum() > 0 else 0.0
    total = nmi.sum(axis=axis)
    ratio = np.where(total > 0, nmi.max(axis=axis) / np.where(total > 0, total, 1.0), 1.0 / n)
    return float(np.clip((ratio.mean() - 1.0 / n) / (1.0 - 1.0 / n), 0.0, 1.0))


def infomec(
    codes, factors, *, n_neighbors: int = 3, active_fraction: float = 1 / 20, random_state: int = 0,
    details: dict | None = None,
) -> dict[str, float]:
    """InfoM, InfoE and InfoC of continuous codes.

    Estimator: NMI[k, d] = I(v_k; z_d) / H(v_k), with I the KSG continuous-discrete estimator (Ross 2014, sklearn
    `mutual_info_classif`, `n_neighbors`=3, on standardised codes, seeded by `random_state`) and H the plug-in
    entropy of the factor in nats. Inactive-latent rule: a code dimension is active when its range (max - min over
    the sample) exceeds `active_fraction` (1/20) of the largest range, as in latent_quantization's infomec.py;
    InfoM and InfoC use active codes only (L = their number).
    - InfoM = (mean over active codes of max_k NMI / sum_k NMI - 1/K) / (1 - 1/K)
    - InfoC = (mean over factors of max_d NMI / sum_d NMI - 1/L) / (1 - 1/L)
    - InfoE = mean over factors of (H_null - CE) / H_null: CE is the training cross-entropy (nats) of an unpenalised
      multinomial logistic regression with balanced class weights from all standardised codes to the factor
      (sklearn lbfgs, 100 iterations, as the authors), H_null = log(#classes) is that of the best input-free
      predictor under balanced weights.
    All three are in [0, 1], higher is better. A code with no information about any factor counts as uniform.
    details receives "nmi_matrix" (K x D) and "active" (D booleans).

    Differs from dlib: not in dlib. Differs from the authors' code: sklearn's default 3 neighbours for KSG, and factors
    with one value are skipped in InfoE (their entropy is 0).
    """
    z, y = check_codes_factors("infomec", codes, factors)
    rng = z.max(axis=0) - z.min(axis=0)
    active = rng > active_fraction * rng.max() if rng.max() > 0 else np.zeros(z.shape[1], bool)
    nmi = nmi_matrix(z, y, n_neighbors, random_state)
    if details is not None:
        details.update(nmi_matrix=nmi.tolist(), active=active.tolist())
    if not active.any():
        return {"infom": 0.0, "infoe": 0.0, "infoc": 0.0}
    sub = nmi[:, active]
    infoe = [_infoe_factor(z, y[:, k]) for k in range(y.shape[1]) if len(np.unique(y[:, k])) > 1]
    return {
        "infom": _ratio_score(sub, axis=0),
        "infoe": float(np.mean(infoe)) if infoe else 0.0,
        "infoc": _ratio_score(sub, axis=1),
    }
