"""MIG, MIG-sup and DCIMIG: gaps in the binned mutual-information matrix between codes and factors.

All three share dlib's estimator: each code dimension is discretised into `num_bins` equal-width bins over its own
sampled range (`_histogram_discretize`), factors are used as given (integer indices), and MI is the plug-in estimate in
nats (`sklearn.metrics.mutual_info_score`). Scores are in [0, 1]; higher means more disentangled.
"""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_codes_factors, check_num_bins
from factorbench.metrics._info import entropy, histogram_discretize, mutual_info_matrix


def mi_matrix(codes, factors, num_bins: int = 20, metric: str = "mig") -> tuple[np.ndarray, np.ndarray]:
    """(MI matrix (D codes, K factors) in nats, factor entropies (K,)) on the histogram-discretised codes."""
    z, y = check_codes_factors(metric, codes, factors)
    num_bins = check_num_bins(metric, num_bins)
    return mutual_info_matrix(histogram_discretize(z, num_bins), y), entropy(y)


def _top_two(m: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    s = -np.sort(-m, axis=axis)
    first = np.take(s, 0, axis=axis)
    second = np.take(s, 1, axis=axis) if m.shape[axis] > 1 else np.zeros_like(first)
    return first, second


def mig(codes, factors, num_bins: int = 20, *, details: dict | None = None) -> dict[str, float]:
    """Mutual Information Gap (Chen et al., "Isolating Sources of Disentanglement in VAEs", NeurIPS 2018).

    For each factor k: (largest - second largest of I(z_d; v_k) over codes d) / H(v_k); MIG is the mean over factors.

    Parameters
    ----------
    codes : (N, D) float array; factors : (N, K) integer array; num_bins : bins of the code discretizer (dlib: 20).
    details : optional dict, filled with "mi_matrix" (K x D, nats), "factor_entropy" (K,), "per_factor_gap" (K,).

    Returns
    -------
    {"mig": float in [0, 1]}.

    Differs from dlib: identical to `discrete_mig` on the same arrays, except that a factor with a single value
    (entropy 0) is left out of the mean instead of producing NaN (0 if no factor varies), and with one code
    dimension the second-largest MI is taken as 0.
    """
    m, h = mi_matrix(codes, factors, num_bins, "mig")
    first, second = _top_two(m, axis=0)
    varying = h > 0
    gaps = np.where(varying, (first - second) / np.where(varying, h, 1.0), 0.0)
    if details is not None:
        details.update(mi_matrix=m.T.tolist(), factor_entropy=h.tolist(), per_factor_gap=gaps.tolist())
    return {"mig": float(gaps[varying].mean()) if varying.any() else 0.0}


def mig_sup(codes, factors, num_bins: int = 20, *, details: dict | None = None) -> dict[str, float]:
    """MIG-sup (Li, Murkute, Gyawali & Wang, "Progressive Learning and Disentanglement of Hierarchical
    Representations", ICLR 2020): the per-code gap of MIG.

    For each code d: normalised MI n_dk = I(z_d; v_k) / H(v_k); gap = largest - second largest over factors k;
    MIG-sup is the mean over codes. Returns {"mig_sup": float in [0, 1]}.

    Differs from dlib: not in dlib. Uses dlib's binned estimator (20 bins) so it is comparable with `mig`;
    factors with a single value are left out (their normalised MI is undefined).
    """
    m, h = mi_matrix(codes, factors, num_bins, "mig_sup")
    varying = h > 0
    if not varying.any():
        return {"mig_sup": 0.0}
    n = m[:, varying] / h[varying]
    first, second = _top_two(n, axis=1)
    gaps = first - second
    if details is not None:
        details.update(per_code_gap=gaps.tolist())
    return {"mig_sup": float(np.clip(gaps.mean(), 0.0, 1.0))}


def dcimig(codes, factors, num_bins: int = 20, *, details: dict | None = None) -> dict[str, float]:
    """DCIMIG (Sepliarskaia, Kiseleva & de Rijke, "How to Not Measure Disentanglement", arXiv 1910.05587).

    For each code d: gap_d = largest - second largest of I(z_d; v_k) over factors, credited to its top factor.
    For each factor k: D_k = the largest gap credited to k (0 if none). DCIMIG = sum_k D_k / sum_k H(v_k).
    Returns {"dcimig": float in [0, 1]}.

    Differs from dlib: not in dlib. Uses dlib's binned estimator (20 bins) so it is comparable with `mig`.
    """
    m, h = mi_matrix(codes, factors, num_bins, "dcimig")
    if h.sum() <= 0:
        return {"dcimig": 0.0}
    first, second = _top_two(m, axis=1)
    owner = np.argmax(m, axis=1)
    best = np.zeros(m.shape[1])
    for d in range(m.shape[0]):
        best[owner[d]] = max(best[owner[d]], first[d] - second[d])
    if details is not None:
        details.update(per_factor_gap=best.tolist())
    return {"dcimig": float(np.clip(best.sum() / h.sum(), 0.0, 1.0))}
