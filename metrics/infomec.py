"""InfoMEC: InfoM (modularity), InfoE (explicitness), InfoC (compactness) (Hsu, Dorrell, Whittington, Wu & Finn,
"Disentanglement via Latent Quantization", NeurIPS 2023, arXiv 2305.18378)."""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_codes_factors
from factorbench.metrics._info import entropy
from factorbench.metrics._scale import standardization


def nmi_matrix(z: np.ndarray, y: np.ndarray, n_neighbors: int = 3, random_state: int = 0) -> np.ndarray:
    """NMI[k, d] = I(v_k; z_d) / H(v_k): KSG continuous-discrete MI (sklearn `mutual_info_classif`) on the
    standardised codes, over the plug-in factor entropy. A factor with one value, or whose sampled values are all
    distinct (KSG finds no neighbour of the same value), gets a zero row."""
    from sklearn.feature_selection import mutual_info_classif

    mean, std = standardization(z)
    x = (z - mean) / std
    h = entropy(y)
    out = np.zeros((y.shape[1], z.shape[1]))
    for k in range(y.shape[1]):
        if h[k] > 0 and np.unique(y[:, k], return_counts=True)[1].max() > 1:  # KSG needs a value seen twice
            mi = mutual_info_classif(x, y[:, k], discrete_features=False, n_neighbors=n_neighbors,
                                     random_state=random_state)
            out[k] = np.clip(mi / h[k], 0.0, 1.0)
    return out


def infoe_per_factor(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(H_null - CE) / H_null per factor with more than one value: CE is the training cross-entropy of a
    class-balanced multinomial logistic regression (the converged probe of `_probe`), H_null = log(#classes)."""
    from factorbench.metrics._probe import fit_logistic_probes

    probes = fit_logistic_probes(z, y, balanced=True)
    ce = probes.log_loss(z, y, balanced=True)
    out = []
    for k, cls in enumerate(probes.classes):
        if len(cls) > 1:
            h_null = np.log(len(cls))
            out.append(float(np.clip((h_null - ce[k]) / h_null, 0.0, 1.0)))
    return np.asarray(out)


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
    - InfoE = mean over factors of (H_null - CE) / H_null: CE is the training cross-entropy (nats) of a multinomial
      logistic regression with balanced class weights from all standardised codes to the factor, H_null =
      log(#classes) is that of the best input-free predictor under balanced weights.
    All three are in [0, 1], higher is better. A code with no information about any factor counts as uniform.
    details receives "nmi_matrix" (K x D) and "active" (D booleans).

    Differs from dlib: not in dlib. Differs from the authors' code: sklearn's default 3 neighbours for KSG; factors
    with one value are skipped in InfoE (their entropy is 0); InfoE's regression has sklearn's default L2 penalty
    (C = 1, i.e. ||W||^2 / 2N on the mean cross-entropy) and is fitted to convergence in float64 (`_probe`), where the
    authors run 100 lbfgs iterations of an unpenalised one: on a separable factor that has no optimum, so their
    number depends on where the iterations stop and on the CPU's rounding (2.6e-4 apart for codes 7e-7 apart).
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
    infoe = infoe_per_factor(z, y)
    return {
        "infom": _ratio_score(sub, axis=0),
        "infoe": float(np.mean(infoe)) if len(infoe) else 0.0,
        "infoc": _ratio_score(sub, axis=1),
    }
