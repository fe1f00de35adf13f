"""Render factor rows and encode them once, in chunks, checking the codes (shared by the sampling metrics)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from factorbench.metrics._checks import check_codes


def encode_factors(
    dataset, encode: Callable, factors: np.ndarray, rng: np.random.Generator, metric: str,
    chunk: int = 1024, progress=None,
) -> np.ndarray:
    """Codes (N, D) float64 of freshly rendered images for `factors` (N, K); images go in chunks of `chunk`."""
    parts = []
    for start in range(0, len(factors), chunk):
        images = dataset.images_float(factors[start:start + chunk], rng)
        parts.append(np.asarray(encode(images)))
        if progress is not None:
            progress.update(len(images))
    codes = np.concatenate(parts, axis=0) if parts else np.zeros((0, 0))
    if codes.ndim != 2 or codes.shape[0] != len(factors):
        raise ValueError(f"{metric}: encode must return codes of shape (batch, D), got {codes.shape} in total "
                         f"for {len(factors)} images")
    return check_codes(metric, codes)


def fixed_factor_batches(dataset, num_points: int, batch_size: int, rng: np.random.Generator):
    """(which factor (P,), factor rows (P, B, K)) where each batch of B rows shares one value of its factor."""
    which = rng.integers(dataset.num_factors, size=num_points)
    rows = dataset.sample_factors(num_points * batch_size, rng).reshape(num_points, batch_size, -1)
    idx = np.arange(num_points)
    rows[idx, :, which] = rows[idx, 0, which][:, None]
    return which, rows
