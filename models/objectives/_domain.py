"""The domain of a hyperparameter, declared in the objective's signature next to its default.

    beta: Annotated[float, Interval(0.0, 1e6)] = 4.0

`ObjectiveSpec` reads the annotation (every hyperparameter must have one), and `ObjectiveSpec.check` refuses a value
outside it, so `factorbench train --beta -1` or `--beta inf` stops before anything is compiled.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass(frozen=True)
class Interval:
    """Finite values from `low` to `high` (both included unless `open_low`); `integer` also asks for a whole number."""

    low: float
    high: float
    open_low: bool = False
    integer: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a finite number"
        left = "(" if self.open_low else "["
        return f"{kind} in {left}{self.low:g}, {self.high:g}]"

    def contains(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value) or (self.integer and value != int(value)):
            return False
        above = value > self.low if self.open_low else value >= self.low
        return above and value <= self.high


#: A loss weight: a penalty's coefficient, never negative (a negative weight rewards the penalised term).
WEIGHT = Interval(0.0, 1e6)

#: Factors resampled between the two images of a pair (dlib's `dynamics.k`); -1 (or 0) draws the count per pair.
FACTORS_CHANGED = Interval(-1, 64, integer=True)
