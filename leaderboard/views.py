"""What the track pages and the index show beyond the tables: per-seed strip plots and the cross-dataset view.

Both are plain data for the templates (positions and labels, no markup): the strips are drawn as inline SVG, one
small axis per ranked metric, because seeds move these scores more than methods do (Locatello et al., 2019) and a
reader needs the spread, not only the mean.
"""

from __future__ import annotations

import math
from collections import defaultdict

from factorbench.leaderboard.table import Table

STRIP_WIDTH = 120  # px of one metric's axis: eight fit beside the row labels on a laptop screen
STRIP_HEIGHT = 16
_PAD = 5


def strips(table: Table) -> dict:
    """Per ranked column an axis (its own min..max over the table's seeds) and per row the seeds' x positions.

    Returns {"width", "height", "columns": [{label, title, low, high, higher_is_better}],
    "rows": [{slug, label, hp, training, n, cells: [{dots: [{x, y, value, seed}], mean_x}]}]}.
    """
    columns = table.ranked_columns
    axes = []
    for column in columns:
        values = [v for row in table.rows for v in row.cells[column.id].values]
        low, high = (min(values), max(values)) if values else (0.0, 1.0)
        if math.isclose(low, high):
            low, high = low - 0.5, high + 0.5
        axes.append((low, high))

    def x_of(value: float, axis: tuple[float, float]) -> float:
        low, high = axis
        return round(_PAD + (value - low) / (high - low) * (STRIP_WIDTH - 2 * _PAD), 1)

    rows = []
    for row in table.rows:
        cells = []
        for column, axis in zip(columns, axes):
            cell = row.cells[column.id]
            # a little vertical jitter (fixed by position) so equal scores stay visible as several seeds
            dots = [{"x": x_of(v, axis), "y": round(STRIP_HEIGHT / 2 + ((i % 3) - 1) * 3, 1), "value": v,
                     "seed": seed} for i, (seed, v) in enumerate(zip(cell.seeds, cell.values))]
            cells.append({"dots": dots, "mean_x": x_of(cell.mean, axis) if cell.values else None})
        rows.append({"slug": row.slug, "label": row.label, "hp": row.hparam_text, "training": row.training_text,
                     "n": len(row.runs), "cells": cells})
    return {"width": STRIP_WIDTH, "height": STRIP_HEIGHT, "rows": rows,
            "columns": [{"label": c.label, "title": c.title, "low": a[0], "high": a[1],
                         "higher_is_better": c.higher_is_better} for c, a in zip(columns, axes)]}


def cross_dataset(tables: list[Table]) -> list[dict]:
    """For each track family (e.g. "study-fast": every dataset at the study's sizes under protocol fast): a method x
    dataset grid of each method's best configuration, with its position among the table's ranked rows.

    Returns [{"family", "title", "datasets", "methods": [{"method", "cells": {dataset: {...} | None},
    "mean_position"}]}], families in name order, methods by mean position.
    """
    families: dict[str, list[Table]] = defaultdict(list)
    for table in tables:
        if table.ranked and table.family:
            families[table.family].append(table)
    out = []
    for family in sorted(families):
        chosen: dict[str, Table] = {}
        for table in families[family]:  # the newest contract of a family on a dataset is the first built
            chosen.setdefault(table.dataset, table)
        datasets = sorted(chosen)
        methods: dict[str, dict] = defaultdict(dict)
        for dataset, table in chosen.items():
            ranked = sorted((r for r in table.rows if math.isfinite(r.rank)), key=lambda r: r.rank)
            for position, row in enumerate(ranked, start=1):
                methods[row.label].setdefault(dataset, {
                    "position": position, "of": len(ranked), "rank": row.rank, "hp": row.hparam_text,
                    "slug": row.slug, "table_slug": table.slug})
            for row in table.rows:  # a method with no ranked row still shows up, as unranked
                methods[row.label].setdefault(dataset, None)
        listed = []
        for method, cells in methods.items():
            positions = [c["position"] / c["of"] for c in cells.values() if c]
            listed.append({"method": method, "cells": {d: cells.get(d) for d in datasets},
                           "mean_position": sum(positions) / len(positions) if positions else math.nan})
        listed.sort(key=lambda m: (not math.isfinite(m["mean_position"]), m["mean_position"]
                                   if math.isfinite(m["mean_position"]) else 0.0, m["method"]))
        protocol = families[family][0].protocol
        out.append({"family": family, "protocol": protocol, "datasets": datasets, "methods": listed,
                    "title": _family_title(family, protocol)})
    return out


def _family_title(family: str, protocol: str | None) -> str:
    if family.startswith("study-"):
        return f"Protocol {protocol} at the study's sizes"
    return f"Track family {family}"
