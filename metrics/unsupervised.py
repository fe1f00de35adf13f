"""dlib's unsupervised scores (Locatello et al., "Challenging Common Assumptions in the Unsupervised Learning of
Disentangled Representations", ICML 2019): Gaussian total correlation, Gaussian Wasserstein correlation, and the
mean pairwise mutual information of the binned codes. No labels needed; lower means more independent codes."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from factorbench.metrics._checks import check_codes, check_num_bins
from factorbench.metrics._info import histogram_discretize, mutual_info_matrix


def unsupervised(codes, num_bins: int = 20, *, details: dict | None = None) -> dict[str, float]:
    """Unsupervised independence scores of the codes (N, D).

    With C = np.cov(codes) (ddof 1): gaussian_total_correlation = 1/2 (sum log diag C - log det C);
    gaussian_wasserstein_correlation = 2 tr C - 2 tr sqrtm(C * diag(C)[:, None]); its _norm version divides by
    tr C; mutual_info_score = sum of the off-diagonal pairwise MI (nats) of the 20-bin-discretised codes / (D^2 - D).
    All are >= 0 and unbounded above. details receives "mi_matrix" (D x D).

    Differs from dlib: identical on the same arrays when no code is constant. Constant code dimensions (zero
    variance, where dlib returns NaN or -inf) are left out of the total correlation, and a representation whose
    codes are all constant scores 0 everywhere; the matrix square root's tiny imaginary round-off is dropped.
    """
    z = check_codes("unsupervised", codes)
    num_bins = check_num_bins("unsupervised", num_bins)
    d = z.shape[1]
    cov = np.atleast_2d(np.cov(z, rowvar=False))
    var = np.diag(cov)
    live = np.ptp(z, axis=0) > 0  # exact test for constant codes (their float variance can be ~1e-32)
    cov[~live, :] = 0.0
    cov[:, ~live] = 0.0
    var = np.diag(cov)
    if live.any():
        sub = cov[np.ix_(live, live)]
        sign, logdet = np.linalg.slogdet(sub)
        tc = 0.5 * (np.sum(np.log(np.diag(sub))) - logdet) if sign > 0 else float("inf")
    else:
        tc = 0.0
    with warnings.catch_warnings():  # singular when codes are constant or collinear; the root is still defined
        warnings.simplefilter("ignore")
        root = scipy.linalg.sqrtm(cov * var[:, None])
    wc = float(2 * np.trace(cov) - 2 * np.trace(np.real(root)))
    trace = float(np.trace(cov))
    mi = mutual_info_matrix(*(histogram_discretize(z, num_bins),) * 2)
    np.fill_diagonal(mi, 0.0)
    if details is not None:
        details.update(mi_matrix=mi.tolist())
    return {
        "gaussian_total_correlation": float(tc),
        "gaussian_wasserstein_correlation": wc,
        "gaussian_wasserstein_correlation_norm": wc / trace if trace > 0 else 0.0,
        "mutual_info_score": float(mi.sum() / (d * d - d)) if d > 1 else 0.0,
    }
