"""The downloads: everything as JSON (runs, scores, tracks, the leaderboards as shown) and CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from factorbench.leaderboard.columns import HEADLINE, RANKED
from factorbench.leaderboard.render import json_number, write
from factorbench.leaderboard.table import Row, Table

RUN_FIELDS = ("run_id", "name", "dataset", "dataset_version", "model", "hparams", "seed", "steps", "status", "kind",
              "trusted_code", "shortened", "run_dir", "device", "created_at", "train_seconds", "git_revision",
              "training", "submitter", "versions", "provenance")
SCORE_FIELDS = ("run_id", "representation", "metric", "key", "value", "protocol", "eval_seed", "sample_sizes",
                "versions", "created_at", "track_id")


def downloads(folder: Path, runs, scores, tables: list[Table], tracks: dict, context: dict) -> list[dict]:
    folder.mkdir(parents=True, exist_ok=True)
    board = [_table_json(t) for t in tables]
    meta = {k: context[k] for k in ("built_at", "factorbench_version", "store_label", "protocols", "n_boot", "level",
                                    "representation")}
    meta["aggregate_rank"] = ("mean over the ranked columns of the per-metric ranks (1 = best, ties averaged) of "
                              "seed-averaged scores; none when a ranked score is missing")
    meta["ranked_columns"] = [c.id for c in RANKED]
    results = {"meta": meta, "tracks": tracks, "runs": [{k: run.get(k) for k in RUN_FIELDS} for run in runs],
               "scores": [{k: s.get(k) for k in SCORE_FIELDS} for s in scores], "leaderboards": board}
    write(folder / "results.json", json.dumps(results, indent=1, sort_keys=True, default=str, allow_nan=False))
    _csv(folder / "runs.csv", RUN_FIELDS, ({k: run.get(k) for k in RUN_FIELDS} for run in runs))
    run_by_id = {r["run_id"]: r for r in runs}
    extra = ("dataset", "model", "hparams", "seed", "kind", "shortened", "trusted_code")
    _csv(folder / "scores.csv", SCORE_FIELDS + extra, (
        {**{k: s.get(k) for k in SCORE_FIELDS}, **{k: run_by_id.get(s["run_id"], {}).get(k) for k in extra}}
        for s in scores))
    fields = ["dataset", "track", "track_id", "protocol", "method", "kind", "hparams", "training", "seeds",
              "shortened_seeds", "trusted_code", "aggregate_rank", "rank_low", "rank_high"]
    for column in HEADLINE:
        fields += [f"{column.id}.{stat}" for stat in ("mean", "std", "median", "n", "rank")]
    _csv(folder / "leaderboard.csv", fields, (_board_csv_row(t, row) for t in tables for row in t.rows))
    described = [
        ("results.json", "everything: runs with provenance, every score, and the leaderboards as shown"),
        ("leaderboard.csv", "one line per leaderboard row: mean, std, median, n and rank of each column"),
        ("scores.csv", "one line per score (every metric key, representation, protocol and evaluation seed)"),
        ("runs.csv", "one line per run with its hyperparameters, seed, status and provenance"),
    ]
    return [{"name": name, "href": f"downloads/{name}", "bytes": (folder / name).stat().st_size, "what": what}
            for name, what in described]


def _table_json(table: Table) -> dict:
    return {"dataset": table.dataset, "track": table.name, "track_id": table.track["track_id"] if table.track
            else None, "label": table.label, "ranked": table.ranked, "contract": table.contract or None,
            "protocol": table.protocol, "columns": [c.id for c in table.columns],
            "rows": [{"method": r.label, "model": r.model, "kind": r.kind, "hparams": r.hparams,
                      "training": r.training, "submitter": r.submitter,
                      "runs": [x["run_id"] for x in r.runs], "seeds": r.seeds, "shortened_seeds": r.shortened,
                      "trusted_code": r.trusted_code, "aggregate_rank": json_number(r.rank),
                      "rank_interval": [json_number(r.rank_low), json_number(r.rank_high)],
                      "cells": {c: {"mean": json_number(cell.mean), "std": json_number(cell.std),
                                    "median": json_number(cell.median), "n": cell.n,
                                    "rank": json_number(cell.rank), "values": cell.values}
                                for c, cell in r.cells.items()}} for r in table.rows]}


def _board_csv_row(table: Table, row: Row) -> dict:
    line = {"dataset": table.dataset, "track": table.name, "track_id": table.track["track_id"] if table.track
            else "", "protocol": table.protocol, "method": row.label, "kind": row.kind,
            "hparams": json.dumps(row.hparams, sort_keys=True), "training": json.dumps(row.training, sort_keys=True),
            "seeds": " ".join(map(str, row.seeds)),
            "shortened_seeds": row.shortened, "trusted_code": row.trusted_code,
            "aggregate_rank": json_number(row.rank), "rank_low": json_number(row.rank_low),
            "rank_high": json_number(row.rank_high)}
    for column_id, cell in row.cells.items():
        line.update({f"{column_id}.mean": json_number(cell.mean), f"{column_id}.std": json_number(cell.std),
                     f"{column_id}.median": json_number(cell.median), f"{column_id}.n": cell.n,
                     f"{column_id}.rank": json_number(cell.rank)})
    return line


def _csv(path: Path, fields, rows) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fields), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else
                             ("" if v is None else v) for k, v in row.items()})
