"""Ranks for the leaderboard: per-metric ranks, the aggregate rank and its bootstrap interval over seeds.

Locatello et al. (2019) showed that the random seed moves disentanglement scores more than the choice of method,
so a bare rank misleads. Every row (a method with one hyperparameter value) holds one run per seed; the interval
resamples each row's runs with replacement, recomputes every row's per-metric means, ranks and aggregate rank,
and reports the central `level` quantiles of the aggregate rank.

Rules, shared by the point estimate and the bootstrap:
- rank 1 is best; ties share the average rank;
- a row without a value for a metric gets no rank for it, and no aggregate rank at all (a gap is never averaged
  away);
- the aggregate rank is the mean of the per-metric ranks over the ranked columns.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def rank(values: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Ranks along the last axis (1 = best, ties averaged); NaN in, NaN out.

    Parameters
    ----------
    values : array of shape (..., n_rows)
    higher_is_better : whether the largest value gets rank 1.

    Returns
    -------
    float64 array of the same shape.
    """
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    keyed = -values if higher_is_better else values
    keyed = np.where(missing, np.inf, keyed)  # missing values sort last, so they don't shift the others
    ranks = rankdata(keyed, method="average", axis=-1)
    return np.where(missing, np.nan, ranks)


def aggregate_rank(ranks: np.ndarray) -> np.ndarray:
    """Mean over the metric axis (-2) of ranks shaped (..., n_metrics, n_rows); NaN if any rank is missing."""
    ranks = np.asarray(ranks, dtype=np.float64)
    if ranks.shape[-2] == 0:
        return np.full(ranks.shape[:-2] + ranks.shape[-1:], np.nan)
    return ranks.mean(axis=-2)


def point_ranks(values: np.ndarray, higher_is_better: list[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Per-metric and aggregate ranks of seed-averaged values.

    Parameters
    ----------
    values : array of shape (n_metrics, n_rows, n_seeds), NaN where a seed has no value (rows have different
        seed counts; a metric may be missing for some seeds).
    higher_is_better : one flag per metric.

    Returns
    -------
    ranks : (n_metrics, n_rows); aggregate : (n_rows,).
    """
    means = _nanmean(values, axis=-1)
    ranks = np.stack([rank(m, higher_is_better=h) for m, h in zip(means, higher_is_better)]) if len(means) else \
        np.zeros((0, values.shape[1]))
    return ranks, aggregate_rank(ranks)


def bootstrap_rank_interval(
    values: np.ndarray,
    higher_is_better: list[bool],
    *,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap interval of the aggregate rank, resampling each row's seeds with replacement.

    Parameters
    ----------
    values : array of shape (n_metrics, n_rows, n_seeds), NaN-padded as in `point_ranks`. The same resampled
        seeds serve every metric of a row, since one seed's run produced all of its scores.
    higher_is_better : one flag per metric.
    n_boot : number of bootstrap replicates.
    level : central coverage of the interval.
    seed : seed of the resampling.

    Returns
    -------
    low, high : (n_rows,) bounds of the aggregate rank, NaN for rows that have no aggregate rank.
    """
    values = np.asarray(values, dtype=np.float64)
    n_metrics, n_rows, n_seeds = values.shape
    if n_metrics == 0 or n_rows == 0:
        return np.full(n_rows, np.nan), np.full(n_rows, np.nan)
    # A run belongs to a row when it has a value for at least one metric; those runs are the ones resampled.
    present = ~np.all(np.isnan(values), axis=0)  # (rows, seeds)
    order = np.argsort(~present, axis=1, kind="stable")  # each row's present runs first
    values = np.take_along_axis(values, order[None], axis=2)
    counts = present.sum(axis=1)  # (rows,)
    rng = np.random.default_rng(seed)
    draws = (rng.random((n_boot, n_rows, n_seeds)) * np.maximum(counts, 1)[None, :, None]).astype(np.int64)
    used = np.arange(n_seeds)[None, None, :] < counts[None, :, None]  # resample n_r runs for a row of n_r runs
    ranks = np.empty((n_boot, n_metrics, n_rows))
    for m in range(n_metrics):
        resampled = np.take_along_axis(np.broadcast_to(values[m], (n_boot, n_rows, n_seeds)), draws, axis=2)
        means = _nanmean(np.where(used, resampled, np.nan), axis=-1)
        ranks[:, m] = rank(means, higher_is_better=higher_is_better[m])
    aggregate = aggregate_rank(ranks)  # (n_boot, rows)
    tail = (1.0 - level) / 2.0 * 100.0
    low = np.full(n_rows, np.nan)
    high = np.full(n_rows, np.nan)
    # A row whose point aggregate exists can still miss it in a replicate (a metric present in only some seeds).
    ok = np.isfinite(aggregate).any(axis=0)
    if ok.any():
        low[ok], high[ok] = np.nanpercentile(aggregate[:, ok], [tail, 100.0 - tail], axis=0)
    return low, high


def _nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    count = np.sum(~np.isnan(values), axis=axis)
    total = np.nansum(values, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
