"""IRS: Interventional Robustness Score (Suter, Miladinovic, Schoelkopf & Bauer, "Robustly Disentangled Causal
Mechanisms: Validating Deep Representations for Interventional Robustness", ICML 2019), as computed by dlib."""

from __future__ import annotations

import numpy as np

from factorbench.metrics._checks import check_codes_factors, check_num_bins
from factorbench.metrics._info import histogram_discretize


def irs(
    codes, factors, diff_quantile: float = 0.99, num_bins: int = 20, *, details: dict | None = None
) -> dict[str, float]:
    """IRS and the number of active (non-constant) code dimensions.

    Factors are discretised with the 20-bin histogram discretizer (as dlib; this coarsens factors with more than
    20 values), constant code dimensions are dropped. For factor k and each of its values v: e = E[z | v_k = v],
    the `diff_quantile` quantile of |z - e| per code; the mean over values is the deviation dev[d, k], divided by
    max_dev_d = max |z_d - mean z_d|. IRS matrix = 1 - normalised deviation, per-code score = its max over
    factors, IRS = average of per-code scores weighted by max_dev. Returns {"irs": float in [0, 1] (can dip
    below 0 for adversarial codes), "num_active_dims": float}. details receives "irs_matrix" (D_active x K) and
    "per_code_score".

    Differs from dlib: identical `IRS` on the same arrays; `num_active_dims` counts the active dimensions (dlib
    sums the latent values, a known bug); with no active dimension IRS is 0 (as dlib).
    """
    z, y = check_codes_factors("irs", codes, factors)
    num_bins = check_num_bins("irs", num_bins)
    if not 0.0 <= diff_quantile <= 1.0:
        raise ValueError(f"irs: diff_quantile must be in [0, 1], got {diff_quantile}")
    active = z[:, np.ptp(z, axis=0) > 0]  # exact: a constant column's float std can be ~1e-17
    if active.shape[1] == 0:
        return {"irs": 0.0, "num_active_dims": 0.0}
    g = histogram_discretize(y, num_bins)
    max_dev = np.max(np.abs(active - active.mean(axis=0)), axis=0)
    dev = np.zeros((active.shape[1], g.shape[1]))
    for k in range(g.shape[1]):
        values = np.unique(g[:, k])
        for v in values:
            group = active[g[:, k] == v]
            dev[:, k] += np.percentile(np.abs(group - group.mean(axis=0)), q=diff_quantile * 100, axis=0)
        dev[:, k] /= len(values)
    matrix = 1.0 - dev / max_dev[:, None]
    per_code = matrix.max(axis=1)
    score = np.average(per_code, weights=max_dev) if max_dev.sum() > 0 else per_code.mean()
    if details is not None:
        details.update(irs_matrix=matrix.tolist(), per_code_score=per_code.tolist())
    return {"irs": float(score), "num_active_dims": float(active.shape[1])}
