"""`factorbench results list | export --format csv|json|parquet`: what the results store holds, in portable files."""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

FORMATS = ("csv", "json", "parquet")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("results", help="list the results store or export it (csv, json, parquet)",
                            description="List the runs of the results store, or export every score with its "
                            "run's provenance as one flat table.")
    store_help = "results database (default $FACTORBENCH_RESULTS or ./factorbench-results/results.db)"
    parser.add_argument("--store", type=Path, help=store_help)
    # --store is accepted after the action too (`results list --store X`), like every other command's flags.
    after = argparse.ArgumentParser(add_help=False)
    after.add_argument("--store", type=Path, default=argparse.SUPPRESS, help=store_help)
    verbs = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = verbs.add_parser("list", help="one line per run", parents=[after])
    listing.add_argument("--dataset", help="only this dataset")
    listing.set_defaults(func=run_list)
    export = verbs.add_parser("export", help="every score with its run's provenance, one row per score",
                              parents=[after])
    export.add_argument("--format", choices=FORMATS, default="csv", help="file format (default csv)")
    export.add_argument("--out", type=Path, help="output file (default ./factorbench-results/results.FORMAT)")
    export.add_argument("--dataset", help="only this dataset")
    export.set_defaults(func=run_export)


def _store(args: argparse.Namespace):
    from factorbench.benchmark.store import ResultsStore

    return ResultsStore(args.store, create=False)  # reading never creates a store


def run_list(args: argparse.Namespace) -> None:
    store = _store(args)
    runs = store.runs(dataset=args.dataset)
    counts: dict[str, int] = {}
    for score in store.scores(dataset=args.dataset):
        counts[score["run_id"]] = counts.get(score["run_id"], 0) + 1
    print(f"{len(runs)} runs in {store.path}")
    for run in runs:
        hparams = ",".join(f"{k}={v}" for k, v in run["hparams"].items())
        flags = " shortened" if run["shortened"] else ""
        print(f"  {run['run_id']:<28} {run['dataset']:<16} {run['model']:<13} {hparams:<36} seed {run['seed']} "
              f"{run['status']}{flags}  {counts.get(run['run_id'], 0)} scores")


def export_rows(rows: list[dict], path: Path, fmt: str) -> Path:
    """Write flat rows (`ResultsStore.table()`) as csv, json (a list of objects) or parquet, through a temporary
    name: a failed write (full disk) leaves the previous file as it was."""
    from factorbench.models.files import atomic_open, atomic_path, write_atomic

    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if path.is_dir():
        raise ValueError(f"--out {path} is a folder; give a file name such as {path / ('results.' + fmt)}")
    if fmt == "json":
        write_atomic(path, json.dumps(rows, indent=1))
    elif fmt == "csv":
        fields = list(rows[0]) if rows else ["run_id", "metric", "key", "value"]
        with atomic_open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise ValueError("parquet export needs pyarrow (pip install pyarrow); or use --format csv") from None
        with atomic_path(path) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)
    return path


def run_export(args: argparse.Namespace) -> None:
    store = _store(args)
    rows = store.table(dataset=args.dataset)
    path = args.out or Path("factorbench-results") / f"results.{args.format}"
    export_rows(rows, path, args.format)
    print(f"wrote {len(rows)} scores of {len({r['run_id'] for r in rows})} runs to {path}")
