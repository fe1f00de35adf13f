"""Leaderboard tables: runs grouped into rows (a method with one hyperparameter value, over seeds), with
per-column mean, std, median, per-metric ranks, the aggregate rank and its bootstrap interval.

Pure functions of the store's read API output (`runs()` and `scores()` dicts); no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from factorbench.leaderboard.columns import HEADLINE, TRAINING_METRIC, Column
from factorbench.leaderboard.ranking import bootstrap_rank_interval, point_ranks

REPRESENTATION = "mean"  # the leaderboard ranks the mean representation; run pages show every representation


@dataclass
class Cell:
    """One column of one row: per-seed values and their summary."""

    values: list[float]
    mean: float = math.nan
    std: float = math.nan
    median: float = math.nan
    rank: float = math.nan

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass
class Row:
    """A method with one hyperparameter setting on one dataset and protocol, aggregated over its seeds."""

    slug: str
    dataset: str
    protocol: str | None
    kind: str
    model: str
    label: str
    hparams: dict
    runs: list[dict]
    cells: dict[str, Cell] = field(default_factory=dict)
    rank: float = math.nan
    rank_low: float = math.nan
    rank_high: float = math.nan

    @property
    def hparam_text(self) -> str:
        return hparam_text(self.hparams)

    @property
    def seeds(self) -> list:
        return [r.get("seed") for r in self.runs]

    @property
    def shortened(self) -> int:
        return sum(bool(r.get("shortened")) for r in self.runs)

    @property
    def trusted_code(self) -> bool:
        return any(bool(r.get("trusted_code")) for r in self.runs)


@dataclass
class Table:
    """The leaderboard of one dataset under one evaluation protocol."""

    dataset: str
    protocol: str | None
    columns: list[Column]
    rows: list[Row]

    @property
    def ranked_columns(self) -> list[Column]:
        return [c for c in self.columns if c.ranked]


def slugify(text: str) -> str:
    """A file-name-safe form of `text` (letters, digits, dot, dash, underscore)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return slug or "x"


def hparam_text(hparams: dict) -> str:
    """`beta=4, gamma=10`, keys sorted; empty for none."""
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(hparams.items()))


def run_values(scores: list[dict], representation: str = REPRESENTATION) -> dict[tuple, float]:
    """Map (run_id, protocol, metric, key) -> value, averaged over evaluation seeds.

    Training scores are stored under protocol None here, whatever protocol they were written with.
    """
    sums: dict[tuple, list[float]] = defaultdict(list)
    for s in scores:
        if s.get("representation", REPRESENTATION) != representation and s["metric"] != TRAINING_METRIC:
            continue
        value = s.get("value")
        if value is None or not math.isfinite(float(value)):
            continue
        protocol = None if s["metric"] == TRAINING_METRIC else s.get("protocol")
        sums[(s["run_id"], protocol, s["metric"], s["key"])].append(float(value))
    return {k: float(np.mean(v)) for k, v in sums.items()}


def protocols_of(values: dict[tuple, float], run_ids: set) -> list[str | None]:
    """Evaluation protocols with scores for these runs, the one covering most runs first (then "dlib", then by
    name); [None] when only training scores exist."""
    covered: dict[str, set] = defaultdict(set)
    for run_id, protocol, _, _ in values:
        if run_id in run_ids and protocol is not None:
            covered[protocol].add(run_id)
    return sorted(covered, key=lambda p: (-len(covered[p]), p != "dlib", str(p))) or [None]


def build_tables(runs: list[dict], scores: list[dict], *, n_boot: int = 1000, level: float = 0.95,
                 seed: int = 0) -> list[Table]:
    """One table per (dataset, protocol), rows sorted by aggregate rank (rows without one last).

    Only finished runs (status "done") enter the tables; the others still get their own page.
    """
    values = run_values(scores)
    by_dataset: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        if (run.get("status") or "done") == "done":
            by_dataset[run["dataset"]].append(run)
    tables = []
    for dataset in sorted(by_dataset):
        dataset_runs = by_dataset[dataset]
        for protocol in protocols_of(values, {r["run_id"] for r in dataset_runs}):
            table = _table(dataset, protocol, dataset_runs, values, n_boot=n_boot, level=level, seed=seed)
            if table.rows:
                tables.append(table)
    return tables


def _table(dataset, protocol, runs, values, *, n_boot, level, seed) -> Table:
    def value(run, column):
        p = None if column.metric == TRAINING_METRIC else protocol
        return values.get((run["run_id"], p, column.metric, column.key), math.nan)

    columns = [c for c in HEADLINE if any(math.isfinite(value(r, c)) for r in runs)]
    if protocol is not None:  # a run belongs to this protocol's table when it was evaluated under it
        runs = [r for r in runs if any(math.isfinite(value(r, c)) for c in columns if c.ranked)]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[_group_key(run)].append(run)
    rows = []
    for key, members in groups.items():
        members = sorted(members, key=lambda r: (_sortable(r.get("seed")), str(r["run_id"])))
        kind, model, submission, hparams = key[0], key[1], key[2], json.loads(key[3])
        label = submission or model
        row = Row(slug="", dataset=dataset, protocol=protocol, kind=kind, model=model, label=label,
                  hparams=hparams, runs=members)
        for column in columns:
            per_seed = [value(r, column) for r in members]
            finite = [v for v in per_seed if math.isfinite(v)]
            cell = Cell(values=finite)
            if finite:
                cell.mean = float(np.mean(finite))
                cell.std = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
                cell.median = float(np.median(finite))
            row.cells[column.id] = cell
        rows.append(row)
    ranked = [c for c in columns if c.ranked]
    if rows and ranked:
        width = max(len(r.runs) for r in rows)
        grid = np.full((len(ranked), len(rows), width), np.nan)
        for j, row in enumerate(rows):
            for i, column in enumerate(ranked):
                for s, run in enumerate(row.runs):
                    grid[i, j, s] = value(run, column)
        flags = [c.higher_is_better for c in ranked]
        ranks, aggregate = point_ranks(grid, flags)
        low, high = bootstrap_rank_interval(grid, flags, n_boot=n_boot, level=level, seed=seed)
        for j, row in enumerate(rows):
            for i, column in enumerate(ranked):
                row.cells[column.id].rank = float(ranks[i, j])
            row.rank, row.rank_low, row.rank_high = float(aggregate[j]), float(low[j]), float(high[j])
    rows.sort(key=lambda r: (not math.isfinite(r.rank), r.rank if math.isfinite(r.rank) else 0.0, r.label,
                             r.hparam_text))
    used: set[str] = set()
    for row in rows:
        base = slugify(f"{row.label}-{row.hparam_text}" if row.hparams else row.label)
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        row.slug = slug
    return Table(dataset=dataset, protocol=protocol, columns=columns, rows=rows)


def _group_key(run: dict) -> tuple:
    hparams = {k: v for k, v in (run.get("hparams") or {}).items() if k != "seed"}
    kind = run.get("kind") or "trained"
    model = run.get("model") or run.get("name") or "?"
    # A submission is its own method, whatever model it names; its seeds share the name's stem.
    submission = _submission_name(run) if kind == "submission" else ""
    return kind, model, submission, json.dumps(hparams, sort_keys=True, default=str)


def _submission_name(run: dict) -> str:
    name = str(run.get("name") or run["run_id"])
    seed = run.get("seed")
    if seed is not None:  # "mysub-s3" / "mysub-seed3" / "mysub_3" are seeds of "mysub"
        name = re.sub(rf"[-_.](?:s|seed)?{re.escape(str(seed))}$", "", name) or name
    return name


def _sortable(value) -> tuple:
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
