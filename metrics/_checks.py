"""The one input checker every metric calls first: shapes, dtypes, finiteness, matching lengths."""

from __future__ import annotations

import numpy as np


def check_codes(metric: str, codes, name: str = "codes") -> np.ndarray:
    """Codes as a float64 (N, D) array; raise ValueError naming `metric` on bad shape or non-finite entries.

    Metrics compute on the host in float64 so that results match the numpy/sklearn reference to 1e-9.
    """
    arr = np.asarray(codes)
    if arr.ndim != 2:
        raise ValueError(f"{metric}: {name} must be a 2-D array (N samples, D codes), got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{metric}: {name} must be numeric, got dtype {arr.dtype}")
    if arr.shape[0] < 2 or arr.shape[1] < 1:
        raise ValueError(f"{metric}: {name} needs at least 2 samples and 1 code dimension, got shape {arr.shape}")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = int(bad.any(axis=1).sum())
        raise ValueError(
            f"{metric}: {name} contain {int(bad.sum())} non-finite entries (NaN or Inf) in {rows} of {arr.shape[0]} "
            "rows; check the encoder's outputs"
        )
    return arr


def check_factors(metric: str, factors, name: str = "factors") -> np.ndarray:
    """Factors as an int64 (N, K) array of class labels; raise ValueError naming `metric` otherwise."""
    arr = np.asarray(factors)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise ValueError(f"{metric}: {name} must be a 2-D array (N samples, K factors), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{metric}: {name} must hold integer factor indices, got non-integer floats")
    elif arr.dtype.kind not in "biu":
        raise ValueError(f"{metric}: {name} must hold integer factor indices, got dtype {arr.dtype}")
    return arr.astype(np.int64)


def check_codes_factors(metric: str, codes, factors, suffix: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Both checks plus equal sample counts."""
    z = check_codes(metric, codes, "codes" + suffix)
    y = check_factors(metric, factors, "factors" + suffix)
    if z.shape[0] != y.shape[0]:
        raise ValueError(
            f"{metric}: codes{suffix} have {z.shape[0]} samples but factors{suffix} have {y.shape[0]}; "
            "they must come from the same observations"
        )
    return z, y


def check_train_test(metric: str, codes_train, factors_train, codes_test, factors_test):
    """Checks a train/test split: each pair consistent, and the same code and factor counts in both."""
    zt, yt = check_codes_factors(metric, codes_train, factors_train, "_train")
    ze, ye = check_codes_factors(metric, codes_test, factors_test, "_test")
    if zt.shape[1] != ze.shape[1] or yt.shape[1] != ye.shape[1]:
        raise ValueError(
            f"{metric}: train has {zt.shape[1]} codes / {yt.shape[1]} factors but test has "
            f"{ze.shape[1]} codes / {ye.shape[1]} factors"
        )
    return zt, yt, ze, ye


def check_num_bins(metric: str, num_bins: int) -> int:
    if int(num_bins) != num_bins or num_bins < 2:
        raise ValueError(f"{metric}: num_bins must be an integer >= 2, got {num_bins!r}")
    return int(num_bins)
