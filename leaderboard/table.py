"""Leaderboard tables: one ranked table per track, rows of one full training configuration over its seeds.

A track (`factorbench.benchmark.tracks`, read here as the store's `tracks()` records) fixes the evaluation contract;
every stored score names its track, or none (ad hoc). Runs enter a row only when they share the method, every
hyperparameter and the whole training configuration (steps, batch size, learning rate, architecture, latents, step
counter): nothing that differs is pooled. Ad hoc evaluations get their own tables, one per evaluation contract
(protocol and its version, sample sizes, evaluation seed), shown apart and never ranked.

Pure functions of the store's read API output (`runs()`, `scores()` and `tracks()` dicts); no I/O.
"""

from __future__ import annotations

import hashlib
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
    seeds: list = field(default_factory=list)  # the seed of each value
    mean: float = math.nan
    std: float = math.nan
    median: float = math.nan
    rank: float = math.nan

    @property
    def n(self) -> int:
        return len(self.values)


@dataclass
class Row:
    """One full training configuration (method, hyperparameters, training budget) in one table, over its seeds."""

    slug: str
    dataset: str
    protocol: str | None
    kind: str
    model: str
    label: str
    hparams: dict
    runs: list[dict]
    training: dict = field(default_factory=dict)
    collapsed: int = 0  # runs with no active code dimension in this table's evaluation (they encode nothing)
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

    @property
    def training_text(self) -> str:
        """`steps 300,000, batch 64, lr 0.0001, conv, 10 latents` (what was recorded)."""
        return training_text(self.training)

    @property
    def submitter(self) -> dict:
        """A submission's declared metadata (authors, training steps, URLs...), {} for other runs."""
        return dict(self.runs[0].get("submitter") or {}) if self.runs else {}

    @property
    def declared_steps(self) -> bool:
        """Whether a submission declared its training steps (other kinds record them)."""
        return self.kind != "submission" or self.submitter.get("training_steps") is not None


@dataclass
class Table:
    """The leaderboard of one track (ranked), or of one ad hoc evaluation contract on one dataset (unranked)."""

    dataset: str
    protocol: str | None
    columns: list[Column]
    rows: list[Row]
    key: str = ""  # the track id, or "adhoc-<hash of the contract>"
    track: dict | None = None  # the store's track record (name, version, family, description, contract)
    contract: dict = field(default_factory=dict)  # an ad hoc table's evaluation contract
    slug: str = ""

    @property
    def ranked_columns(self) -> list[Column]:
        return [c for c in self.columns if c.ranked]

    @property
    def ranked(self) -> bool:
        return self.track is not None

    @property
    def name(self) -> str:
        return self.track["name"] if self.track else AD_HOC

    @property
    def label(self) -> str:
        return evaluation_label(self.track, self.contract)

    @property
    def family(self) -> str:
        return self.track.get("family", "") if self.track else ""

    @property
    def n_runs(self) -> int:
        return sum(len(r.runs) for r in self.rows)


def slugify(text: str) -> str:
    """A file-name-safe form of `text` (letters, digits, dot, dash, underscore)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return slug or "x"


def hparam_text(hparams: dict) -> str:
    """`beta=4, gamma=10`, keys sorted; empty for none."""
    return ", ".join(f"{k}={_short(v)}" for k, v in sorted(hparams.items()))


AD_HOC = "ad hoc"
#: (metric, key) counting the code dimensions whose spread passes FactorVAE's pruning threshold: 0 means collapsed.
COLLAPSE_KEY = ("factor_vae", "num_active_dims")


def training_text(training: dict) -> str:
    """A training budget as text, fields in a fixed order; empty for none."""
    parts = []
    for key, fmt in (("steps", "steps {:,}"), ("batch_size", "batch {}"), ("learning_rate", "lr {:g}"),
                     ("architecture", "{}"), ("num_latents", "{} latents"),
                     ("dlib_step_counter", "dlib step counter")):
        value = (training or {}).get(key)
        if value is None or value is False:
            continue
        parts.append(fmt.format(value) if key != "dlib_step_counter" else fmt)
    return ", ".join(parts)


def evaluation_label(track: dict | None, contract: dict | None) -> str:
    """`sprites-fast v1 (fast/2)` for a track, `ad hoc: fast/2, train=1000, test=500, seed 0` for an ad hoc
    contract, `training statistics only` for neither."""
    if track:
        terms = track["contract"]
        return f"{track['name']} v{track['version']} ({terms['protocol']}/{terms['protocol_version']})"
    if not contract:
        return "training statistics only"
    sizes = contract["sample_sizes"]
    shown = [f"{k}={sizes[k]}" for k in ("train", "test") if k in sizes]
    more = len(sizes) - len(shown)
    text = ", ".join(shown) + (f" (+{more} size{'s' if more > 1 else ''})" if more else "")
    return f"{AD_HOC}: {contract['protocol']}, {text or 'sizes not recorded'}, seed {contract['eval_seed']}"


def evaluation_key(score: dict) -> tuple[str, dict]:
    """The table a score belongs to: its track id, or an ad hoc key hashing its evaluation contract."""
    if score.get("track_id"):
        return str(score["track_id"]), {}
    versions = score.get("versions") or {}
    protocol = str(versions.get("protocol") or f"{score.get('protocol')}/1")
    contract = {"protocol": protocol, "sample_sizes": dict(score.get("sample_sizes") or {}),
                "eval_seed": score.get("eval_seed")}
    if score.get("evaluation"):  # the store's key for the contract (one home: factorbench.benchmark.tracks)
        return f"{score['evaluation']}-seed{contract['eval_seed']}", contract
    digest = hashlib.sha1(json.dumps(contract, sort_keys=True).encode()).hexdigest()[:10]
    return f"adhoc-{digest}", contract


def run_values(scores: list[dict], representation: str = REPRESENTATION) -> tuple[dict[tuple, float], dict]:
    """Map (run_id, table key, metric, key) -> value, and {table key: ad hoc contract or {}}.

    Training scores are stored under table key None here: they join every table their run appears in.
    """
    sums: dict[tuple, list[float]] = defaultdict(list)
    contracts: dict[str, dict] = {}
    for s in scores:
        training = s["metric"] == TRAINING_METRIC
        if s.get("representation", REPRESENTATION) != representation and not training:
            continue
        value = s.get("value")
        if value is None or not math.isfinite(float(value)):
            continue
        key = None
        if not training:
            key, contract = evaluation_key(s)
            contracts.setdefault(key, contract)
        sums[(s["run_id"], key, s["metric"], s["key"])].append(float(value))
    return {k: float(np.mean(v)) for k, v in sums.items()}, contracts


def build_tables(runs: list[dict], scores: list[dict], tracks: dict[str, dict] | None = None, *,
                 n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> list[Table]:
    """Per dataset: one ranked table per track (the one covering most runs first), then the ad hoc tables
    (unranked), then, for runs with no evaluation at all, a training-statistics table. Rows sorted by aggregate
    rank (rows without one last).

    tracks: the store's `tracks()` records; a score naming a track missing from them is treated as ad hoc.
    Only finished runs (status "done") enter the tables; the others still get their own page.
    """
    tracks = tracks or {}
    values, contracts = run_values(scores)
    for key in list(contracts):
        if not key.startswith("adhoc-") and key not in tracks:  # a track the store does not describe
            contracts.pop(key)
    by_dataset: dict[str, list[dict]] = defaultdict(list)
    for run in runs:
        if (run.get("status") or "done") == "done":
            by_dataset[run["dataset"]].append(run)
    covered: dict[str, set] = defaultdict(set)
    for run_id, key, _, _ in values:
        if key is not None:
            covered[key].add(run_id)
    tables = []
    for dataset in sorted(by_dataset):
        dataset_runs = by_dataset[dataset]
        ids = {r["run_id"] for r in dataset_runs}
        keys = [k for k in contracts if covered[k] & ids]
        keys.sort(key=lambda k: (k.startswith("adhoc-"), -len(covered[k] & ids),
                                 tracks.get(k, {}).get("name", ""), k))
        for key in keys or [None]:
            table = _table(dataset, key, tracks.get(key), contracts.get(key) or {}, dataset_runs, values,
                           n_boot=n_boot, level=level, seed=seed)
            if table.rows:
                tables.append(table)
    return tables


def _table(dataset, key, track, contract, runs, values, *, n_boot, level, seed) -> Table:
    def value(run, column):
        k = None if column.metric == TRAINING_METRIC else key
        return values.get((run["run_id"], k, column.metric, column.key), math.nan)

    columns = [c for c in HEADLINE if any(math.isfinite(value(r, c)) for r in runs)]
    if key is not None:  # a run belongs to this table when it was evaluated under its contract
        runs = [r for r in runs if any(math.isfinite(value(r, c)) for c in columns if c.ranked)]
    protocol = (track or {}).get("contract", {}).get("protocol") or (contract.get("protocol") or "").split("/")[0]
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for run in runs:
        groups[_group_key(run)].append(run)
    rows = []
    for group, members in groups.items():
        members = sorted(members, key=lambda r: (_sortable(r.get("seed")), str(r["run_id"])))
        kind, model, submission, hparams, training = group[0], group[1], group[2], json.loads(group[3]), \
            json.loads(group[4])
        row = Row(slug="", dataset=dataset, protocol=protocol or None, kind=kind, model=model,
                  label=submission or model, hparams=hparams, runs=members, training=training,
                  collapsed=sum(values.get((r["run_id"], key) + COLLAPSE_KEY) == 0.0 for r in members))
        for column in columns:
            pairs = [(r.get("seed"), value(r, column)) for r in members]
            finite = [v for _, v in pairs if math.isfinite(v)]
            cell = Cell(values=finite, seeds=[seed for seed, v in pairs if math.isfinite(v)])
            if finite:
                cell.mean = float(np.mean(finite))
                cell.std = float(np.std(finite, ddof=1)) if len(finite) > 1 else math.nan
                cell.median = float(np.median(finite))
            row.cells[column.id] = cell
        rows.append(row)
    ranked = [c for c in columns if c.ranked]
    if track is not None and rows and ranked:  # only a track's table is ranked
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
            row.rank = float(aggregate[j])
            if len(row.runs) > 1:  # one seed has no spread to resample: no interval
                row.rank_low, row.rank_high = float(low[j]), float(high[j])
    rows.sort(key=lambda r: (not math.isfinite(r.rank), r.rank if math.isfinite(r.rank) else 0.0, r.label,
                             r.hparam_text, r.training_text))
    used: set[str] = set()
    for row in rows:
        base = slugify(f"{row.label}-{row.hparam_text}" if row.hparams else row.label)
        slug, n = base, 2
        while slug in used:
            slug, n = f"{base}-{n}", n + 1
        used.add(slug)
        row.slug = slug
    table = Table(dataset=dataset, protocol=protocol or None, columns=columns, rows=rows, key=key or "training",
                  track=track, contract=contract)
    table.slug = slugify(f"{track['name']}-{key[:8]}") if track else slugify(f"{dataset}-{key or 'training'}")
    return table


def _group_key(run: dict) -> tuple:
    """What a row's runs share: kind, method, submission name, every hyperparameter, the training budget."""
    hparams = {k: v for k, v in (run.get("hparams") or {}).items() if k != "seed"}
    kind = run.get("kind") or "trained"
    model = run.get("model") or run.get("name") or "?"
    # A submission is its own method, whatever model it names; its seeds share the name's stem.
    submission = _submission_name(run) if kind == "submission" else ""
    training = dict(run.get("training") or {})
    if not training and run.get("steps") is not None:
        training = {"steps": int(run["steps"])}
    if kind == "submission" and (run.get("submitter") or {}).get("training_steps") is not None:
        training.setdefault("steps", int(run["submitter"]["training_steps"]))
    return (kind, model, submission, json.dumps(hparams, sort_keys=True, default=str),
            json.dumps(training, sort_keys=True, default=str))


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
