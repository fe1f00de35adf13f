"""Per-metric ranks, the aggregate rank and its bootstrap interval, on hand-made numbers."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

from factorbench.leaderboard.ranking import aggregate_rank, bootstrap_rank_interval, point_ranks, rank

nan = np.nan


def test_rank_direction_ties_and_gaps():
    assert_array_equal(rank([0.1, 0.9, 0.5]), [3, 1, 2])
    assert_array_equal(rank([0.1, 0.9, 0.5], higher_is_better=False), [1, 3, 2])
    assert_array_equal(rank([0.5, 0.5, 0.1, 0.9]), [2.5, 2.5, 4, 1])  # ties share the average rank
    assert_array_equal(rank([nan, 0.2, 0.8]), [nan, 2, 1])  # a gap gets no rank and moves nobody
    assert_array_equal(rank([[0.1, 0.2], [0.2, 0.1]]), [[2, 1], [1, 2]])  # along the last axis


def test_aggregate_is_mean_of_ranks_and_never_averages_a_gap_away():
    ranks = np.array([[1.0, 2.0, 3.0], [3.0, 1.0, nan]])
    assert_allclose(aggregate_rank(ranks), [2.0, 1.5, nan])


def test_point_ranks_average_seeds_first():
    # 2 metrics x 3 rows x up to 3 seeds; row 2 has one seed, row 1 misses a seed of metric 0.
    values = np.array([
        [[0.9, 0.7, 0.8], [0.5, nan, 0.7], [0.1, nan, nan]],
        [[0.2, 0.2, 0.2], [0.9, 0.8, 0.7], [0.5, nan, nan]],
    ])
    ranks, aggregate = point_ranks(values, [True, True])
    assert_array_equal(ranks, [[1, 2, 3], [3, 1, 2]])
    assert_allclose(aggregate, [2.0, 1.5, 2.5])


def test_bootstrap_interval_covers_point_and_shrinks_without_seed_noise():
    rng = np.random.default_rng(0)
    rows, seeds = 5, 10
    quality = np.linspace(0.9, 0.1, rows)  # row 0 best
    noisy = quality[None, :, None] + rng.normal(0, 0.3, (3, rows, seeds))
    flags = [True, True, True]
    _, point = point_ranks(noisy, flags)
    low, high = bootstrap_rank_interval(noisy, flags, n_boot=400, seed=1)
    assert np.all(low <= point + 1e-9) and np.all(point <= high + 1e-9)
    assert np.all(high - low > 0)  # seed noise makes neighbouring rows swap
    exact = np.repeat(quality[None, :, None], 3, axis=0).repeat(seeds, axis=2)  # no seed noise at all
    low, high = bootstrap_rank_interval(exact, flags, n_boot=50)
    assert_array_equal(low, np.arange(1, rows + 1))
    assert_array_equal(high, np.arange(1, rows + 1))


def test_bootstrap_is_seeded_and_handles_gaps_and_single_seeds():
    values = np.array([[[0.9, 0.1, 0.5], [0.6, nan, nan], [0.3, 0.4, nan], [nan, nan, nan]]])
    a = bootstrap_rank_interval(values, [True], n_boot=200, seed=3)
    b = bootstrap_rank_interval(values, [True], n_boot=200, seed=3)
    assert_array_equal(a[0], b[0]) and assert_array_equal(a[1], b[1])
    low, high = a
    assert np.isnan(low[3]) and np.isnan(high[3])  # a row without the metric has no interval
    assert np.all(np.isfinite(low[:3])) and np.all(low[:3] >= 1) and np.all(high[:3] <= 3)
    assert low[0] == 1 and high[0] == 3  # the widely spread row can land anywhere
