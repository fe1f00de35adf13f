"""`factorbench results list | tracks | export --format csv|json|parquet`: what the results store holds, the tracks
its numbers are compared within, and portable files."""

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
    listing_tracks = verbs.add_parser("tracks", help="the tracks (frozen evaluation contracts) and how many runs "
                                      "the store holds in each", parents=[after])
    listing_tracks.set_defaults(func=run_tracks)
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
    names = {track_id: record["name"] for track_id, record in store.tracks().items()}
    tracks_of: dict[str, set] = {}
    for score in store.scores(dataset=args.dataset):
        if score["metric"] != "training":
            tracks_of.setdefault(score["run_id"], set()).add(names.get(score["track_id"], "ad hoc"))
    for run in runs:
        hparams = ",".join(f"{k}={v}" for k, v in run["hparams"].items())
        flags = " shortened" if run["shortened"] else ""
        print(f"  {run['run_id']:<28} {run['dataset']:<16} {run['model']:<13} {hparams:<36} seed {run['seed']} "
              f"{run['status']}{flags}  {counts.get(run['run_id'], 0)} scores  "
              f"[{', '.join(sorted(tracks_of.get(run['run_id'], ()))) or 'no evaluation'}]")


def run_tracks(args: argparse.Namespace) -> None:
    """Every built-in track, then any other the store recorded, with the store's run counts (no store: none)."""
    from factorbench.benchmark import tracks
    from factorbench.benchmark.store import default_path

    path = Path(args.store) if args.store is not None else default_path()
    counts: dict[str, set] = {}
    stored: dict[str, dict] = {}
    if path.exists():
        store = _store(args)
        stored = store.tracks()
        for score in store.scores():
            if score["metric"] != "training":
                counts.setdefault(score["track_id"] or "", set()).add(score["run_id"])
    known = {track.id for track in tracks.every().values()}
    print(f"{'track':<22} {'id':<12} {'protocol':<8} {'train/test':<12} {'training':<26} runs")
    for track in tracks.every().values():
        sizes = f"{track.sizes['train']}/{track.sizes['test']}"
        budget = dict(track.training)
        training = f"{budget['steps']:,} steps, batch {budget['batch_size']}" if budget else "declared"
        print(f"{track.name:<22} {track.id:<12} {track.protocol}/{track.protocol_version:<6} {sizes:<12} "
              f"{training:<26} {len(counts.get(track.id, ()))}")
    for track_id, record in stored.items():
        if track_id not in known:  # recorded under a contract this factorbench no longer defines
            print(f"{record['name']:<22} {track_id:<12} (an earlier contract)  {len(counts.get(track_id, ()))}")
    if path.exists():
        print(f"ad hoc (no track): {len(counts.get('', ()))} runs in {path}")


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
