"""Where a run stands on its dataset's leaderboard, computed the way the leaderboard computes it.

The rank is the mean of per-metric ranks over the ranked headline columns among the rows of the same track
(`factorbench.leaderboard.table.build_tables`): nothing scored under another contract takes part; rows missing a
ranked column get no aggregate rank, as on the leaderboard.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


@dataclasses.dataclass(frozen=True)
class Standing:
    """A run's row on a leaderboard table.

    Attributes:
        position: 1 + the number of rows with a strictly better (lower) aggregate rank; None when unranked.
        of: rows with an aggregate rank in the table.
        aggregate: the row's mean per-metric rank (NaN when a ranked column is missing).
        low, high: bootstrap interval of the aggregate rank over seeds.
        columns: ids of the ranked columns of the table.
        per_metric: the row's rank in each ranked column.
    """

    position: int | None
    of: int
    aggregate: float
    low: float
    high: float
    columns: tuple[str, ...]
    per_metric: dict[str, float]

    def describe(self) -> str:
        if self.position is None:
            return (f"unranked: the table ranks {len(self.columns)} columns ({', '.join(self.columns)}) and this run "
                    "lacks some of them; score every metric (leave out --metrics) for a rank")
        interval = (f", 95% interval {self.low:.2f}-{self.high:.2f}" if math.isfinite(self.low) else
                    ", one seed: no interval")
        return (f"rank {self.position} of {self.of} (mean per-metric rank {self.aggregate:.2f}{interval}, over "
                f"{len(self.columns)} metrics)")


def standing(store: Any, run_id: str, dataset: str, track_id: str, *, n_boot: int = 200) -> Standing | None:
    """The run's standing on the table of track `track_id` (ranked against that track's rows only), or None if it
    has no row there."""
    from factorbench.leaderboard.table import build_tables

    runs = store.runs(dataset=dataset)
    scores = store.scores(dataset=dataset)
    for table in build_tables(runs, scores, store.tracks(), n_boot=n_boot):
        if table.key != track_id:
            continue
        ranked = [c.id for c in table.ranked_columns]
        for row in table.rows:
            if not any(r["run_id"] == run_id for r in row.runs):
                continue
            finite = [r.rank for r in table.rows if math.isfinite(r.rank)]
            position = None
            if math.isfinite(row.rank):
                position = 1 + sum(other < row.rank - 1e-9 for other in finite)
            return Standing(position=position, of=len(finite), aggregate=row.rank, low=row.rank_low,
                            high=row.rank_high, columns=tuple(ranked),
                            per_metric={c: row.cells[c].rank for c in ranked if c in row.cells})
    return None
