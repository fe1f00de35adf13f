"""Shared information-theoretic pieces: dlib's histogram discretizer and the discrete MI matrix (nats)."""

from __future__ import annotations

import numpy as np


def histogram_discretize(values: np.ndarray, num_bins: int = 20) -> np.ndarray:
    """dlib's `_histogram_discretize`, column-wise: equal-width bins over each column's own range.

    For each column, the edges are `np.histogram(column, num_bins)[1]` and the label is
    `np.digitize(column, edges[:-1])`, so labels run 1..num_bins (a constant column gets one label).
    values: (N, D) -> int64 (N, D). The loop is over columns, never over samples.
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.empty(values.shape, dtype=np.int64)
    for d in range(values.shape[1]):
        edges = np.histogram(values[:, d], num_bins)[1]
        out[:, d] = np.digitize(values[:, d], edges[:-1])
    return out


def _labels(column: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1), len(uniq)


def mutual_info_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MI in nats between every column of discrete `a` (N, A) and of discrete `b` (N, B): (A, B).

    Equals `sklearn.metrics.mutual_info_score(b[:, j], a[:, i])` (clipped at 0) to float rounding; built from one
    contingency table per pair with `np.bincount`.
    """
    n = a.shape[0]
    la = [_labels(a[:, i]) for i in range(a.shape[1])]
    lb = [_labels(b[:, j]) for j in range(b.shape[1])]
    out = np.zeros((a.shape[1], b.shape[1]))
    for i, (xa, na) in enumerate(la):
        pa = np.bincount(xa, minlength=na) / n
        for j, (xb, nb) in enumerate(lb):
            if na == 1 or nb == 1:
                continue
            pb = np.bincount(xb, minlength=nb) / n
            joint = np.bincount(xa * nb + xb, minlength=na * nb).reshape(na, nb) / n
            nz = joint > 0
            mi = np.sum(joint[nz] * (np.log(joint[nz]) - np.log(np.outer(pa, pb)[nz])))
            out[i, j] = max(mi, 0.0)
    return out


def entropy(b: np.ndarray) -> np.ndarray:
    """Entropy in nats of each column of discrete `b` (N, B): (B,). Equals dlib's `discrete_entropy`."""
    out = np.zeros(b.shape[1])
    for j in range(b.shape[1]):
        x, _ = _labels(b[:, j])
        p = np.bincount(x) / b.shape[0]
        out[j] = float(-np.sum(p * np.log(p)))
    return out


def normalized_entropy(p: np.ndarray, axis: int) -> np.ndarray:
    """Entropy of `p` normalised along `axis` (as `scipy.stats.entropy`), in log base = that axis' length.

    A length-1 axis has entropy 0 by convention (log base 1 is undefined).
    """
    size = p.shape[axis]
    q = p / p.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(q > 0, q * np.log(q), 0.0), axis=axis)
    return h / np.log(size) if size > 1 else np.zeros_like(h)
