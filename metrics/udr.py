"""UDR: Unsupervised Disentanglement Ranking (Duan et al., "Unsupervised Model Selection for Variational
Disentangled Representation Learning", ICLR 2020), as simplified in dlib's `udr_sklearn`."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from factorbench.metrics._checks import check_codes


def relative_strength(corr: np.ndarray) -> float:
    """1/2 [mean over columns of max^2 / sum + mean over rows of max^2 / sum] (NaN terms count 0)."""
    if corr.size == 0:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.nan_to_num(np.max(corr, axis=0) ** 2 / np.sum(corr, axis=0), nan=0.0, posinf=0.0)
        y = np.nan_to_num(np.max(corr, axis=1) ** 2 / np.sum(corr, axis=1), nan=0.0, posinf=0.0)
    return float((x.mean() + y.mean()) / 2)


def _correlation(a: np.ndarray, b: np.ndarray, kind: str, alpha: float, random_state: int) -> np.ndarray:
    if kind == "lasso":
        from sklearn.linear_model import Lasso

        return np.abs(Lasso(alpha=alpha, random_state=random_state).fit(a, b).coef_).T
    import scipy.stats

    d = a.shape[1]
    rho = scipy.stats.spearmanr(a, b)[0]
    return np.abs(np.nan_to_num(np.atleast_2d(rho)[:d, d:]))


def udr(
    representations: Sequence[np.ndarray], kl: Sequence[np.ndarray] | None = None, correlation: str = "lasso", *,
    lasso_alpha: float = 0.1, kl_threshold: float = 0.01, random_state: int = 0, details: dict | None = None,
) -> dict[str, float]:
    """UDR scores of M >= 2 models from their codes (each (N, D)) on the same N images.

    Codes are standardised; if per-dimension KLs (mean over the data of KL(q(z_d|x) || N(0,1)), one (D,) array per
    model) are given, dimensions with KL <= kl_threshold are zeroed and left out. For each ordered pair (i, j),
    R = |Lasso(alpha=0.1) coefficients| from model i's codes to model j's (or |Spearman rho|), the pair score is
    the relative strength of R, and model i's score is the median over j != i of pair[j, i].
    Returns {"model_{i}": score in [0, 1], ..., "mean": mean of the model scores}; details receives
    "pairwise_disentanglement_scores" (M x M).

    Differs from dlib: dlib zeroes dims with KL <= 0.01 regardless of kl_filter_threshold (a known bug); here the
    one threshold does both. Without KLs (e.g. deterministic encoders) every non-constant dimension is kept.
    """
    if correlation not in ("lasso", "spearman"):
        raise ValueError(f"udr: unknown correlation {correlation!r}; choose 'lasso' or 'spearman'")
    reps = [check_codes("udr", r, f"representations[{i}]") for i, r in enumerate(representations)]
    if len(reps) < 2:
        raise ValueError(f"udr: needs codes of at least 2 models, got {len(reps)}")
    if len({r.shape[0] for r in reps}) > 1:
        raise ValueError(f"udr: every model must encode the same images, got sample counts {[len(r) for r in reps]}")
    masks, scaled = [], []
    for i, r in enumerate(reps):
        std = r.std(axis=0)
        mask = np.ptp(r, axis=0) > 0
        if kl is not None:
            mask &= np.asarray(kl[i], dtype=np.float64) > kl_threshold
        scaled.append(np.where(mask, (r - r.mean(axis=0)) / np.where(std > 0, std, 1.0), 0.0))
        masks.append(mask)
    m = len(reps)
    pair = np.zeros((m, m))
    for i in range(m):
        for j in range(m):
            if i != j:
                corr = _correlation(scaled[i], scaled[j], correlation, lasso_alpha, random_state)
                pair[i, j] = relative_strength(corr[masks[i]][:, masks[j]])
    scores = [float(np.median(np.delete(pair[:, i], i))) for i in range(m)]
    if details is not None:
        details.update(pairwise_disentanglement_scores=pair.tolist())
    out = {f"model_{i}": s for i, s in enumerate(scores)}
    out["mean"] = float(np.mean(scores))
    return out


def udr_score(
    dataset, encoders: Sequence[Callable], seed: int, num_data_points: int = 1000, correlation: str = "lasso", *,
    gaussian: bool = False, **kwargs,
) -> dict[str, float]:
    """UDR of several encoders on one sample of `num_data_points` images (dlib's config uses 1000), rendered once.

    With gaussian=True each encoder returns 2D columns, means then log-variances (the `encoder_gaussian` export):
    the means are the codes and the per-dimension KL to N(0, I) drives the filter, as in dlib.
    """
    rng = np.random.default_rng(seed)
    images = dataset.images_float(dataset.sample_factors(num_data_points, rng), rng)
    reps, kls = [], []
    for i, enc in enumerate(encoders):
        codes = check_codes("udr", np.asarray(enc(images)), f"codes of encoder {i}")
        if gaussian:
            d = codes.shape[1] // 2
            mean, logvar = codes[:, :d], codes[:, d:]
            kls.append(np.mean(0.5 * (mean**2 + np.exp(logvar) - logvar - 1), axis=0))
            codes = mean
        reps.append(codes)
    return udr(reps, kls if gaussian else None, correlation, random_state=seed, **kwargs)
