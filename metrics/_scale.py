"""How codes are standardised before a probe or an estimator sees them: one rule for every metric."""

from __future__ import annotations

import numpy as np


def standardization(reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) per column of `reference` (the train codes); a constant column gets std 1, so it maps to 0
    (tested exactly with the range: a constant column's float std can be ~1e-17, not 0)."""
    return reference.mean(axis=0), np.where(np.ptp(reference, axis=0) > 0, reference.std(axis=0), 1.0)
