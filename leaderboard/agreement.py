"""The agreement page: per ranked track, the Spearman rank correlation between metrics across runs, and one
violin figure per method of its scores against its hyperparameters."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.leaderboard import plots
from factorbench.leaderboard.columns import TRAINING_METRIC
from factorbench.leaderboard.table import REPRESENTATION, Row, Table, evaluation_key, slugify


def agreement(tables: list[Table], runs: list[dict], scores: list[dict], folder: Path) -> list[dict]:
    """Per protocol: the rank-correlation heatmap between metrics, and one violin figure per method."""
    from scipy.stats import rankdata

    sections = []
    for table in (t for t in tables if t.ranked):
        tag = table.slug
        columns = table.columns
        per_run = {run["run_id"]: {} for row in table.rows for run in row.runs}
        wanted = {(c.metric, c.key): c for c in columns}
        for s in scores:
            column = wanted.get((s["metric"], s["key"]))
            if column is None or s["run_id"] not in per_run or s["value"] is None:
                continue
            if s["representation"] != REPRESENTATION and s["metric"] != TRAINING_METRIC:
                continue
            if s["metric"] != TRAINING_METRIC and evaluation_key(s)[0] != table.key:
                continue
            per_run[s["run_id"]].setdefault(column.id, []).append(float(s["value"]))
        matrix = np.array([[np.mean(v[c.id]) if c.id in v else np.nan for c in columns] for v in per_run.values()])
        section: dict[str, Any] = {"protocol": table.protocol, "label": table.label, "n_runs": len(per_run),
                                   "correlation": None, "violins": [], "single": []}
        if len(columns) >= 2 and len(per_run) >= 3:
            k = len(columns)
            corr = np.full((k, k), np.nan)
            for i in range(k):
                for j in range(k):
                    both = np.isfinite(matrix[:, i]) & np.isfinite(matrix[:, j])
                    if both.sum() >= 3:
                        a, b = rankdata(matrix[both, i]), rankdata(matrix[both, j])
                        if a.std() > 0 and b.std() > 0:
                            corr[i, j] = float(np.corrcoef(a, b)[0, 1])
            labels = [c.label for c in columns]
            path = plots.heatmap(corr, folder / f"rank-correlation-{tag}.png", row_labels=labels, col_labels=labels,
                                 title=f"Spearman rank correlation across {len(per_run)} runs",
                                 colorbar_label="Spearman rho", cmap="RdBu_r", vmin=-1.0, vmax=1.0)
            section["correlation"] = f"img/{path.name}"
        by_model: dict[str, list[Row]] = defaultdict(list)
        for row in table.rows:
            by_model[row.label if row.kind == "submission" else row.model].append(row)
        for model, rows in sorted(by_model.items()):
            varying = sorted({k for r in rows for k in r.hparams if len({json.dumps(x.hparams.get(k), default=str)
                                                                          for x in rows}) > 1})
            rows = sorted(rows, key=lambda r: [_order(r.hparams.get(k)) for k in varying])
            groups = [", ".join(_fmt_hp(r.hparams.get(k)) for k in varying) for r in rows]
            if not varying:  # one setting: nothing to plot against; the leaderboard row says it all
                section["single"].append(model)
                continue
            ranked = [c for c in columns if c.ranked]
            path = plots.violins([c.label for c in ranked], groups,
                                 [[r.cells[c.id].values for r in rows] for c in ranked],
                                 folder / f"violins-{tag}-{slugify(model)}.png",
                                 title=f"{model}: ranked scores against {', '.join(varying)} (one dot per seed)",
                                 legend_title=", ".join(varying))
            section["violins"].append({"model": model, "path": f"img/{path.name}", "varying": varying,
                                       "n_runs": sum(len(r.runs) for r in rows)})
        sections.append(section)
    return sections


def _order(value: Any) -> tuple:
    return (0, float(value), "") if isinstance(value, int | float) else (1, 0.0, str(value))


def _fmt_hp(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
