"""`factorbench compare RUN_OR_NAME ...`: runs side by side: every score, then per-factor MI and importance matrices."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

MATRICES = (("mig", "mi_matrix", "factors x codes"), ("dci", "importance_matrix", "codes x factors"))


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("compare", help="runs side by side: every metric, per-factor MI and importance matrices",
                            description="Show recorded runs side by side: every score (by representation, protocol "
                            "and evaluation seed), then each run's per-factor MI and DCI importance matrices.")
    parser.add_argument("runs", nargs="+", metavar="RUN_OR_NAME", help="run id, run name or run directory")
    parser.add_argument("--representation", default="mean", help="representation of the matrices (default mean)")
    parser.add_argument("--no-matrices", action="store_true", help="scores only")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--store", type=Path, help="results database (default $FACTORBENCH_RESULTS or "
                        "./factorbench-results/results.db)")
    parser.set_defaults(func=run)


def resolve_runs(store, names: list[str]) -> list[dict[str, Any]]:
    """One stored run per name (id, name, or run directory); a missing or ambiguous name raises ValueError."""
    found = []
    for name in names:
        matches = store.find_runs(name)
        if not matches and Path(name).exists():
            matches = store.find_runs(str(Path(name).resolve()))
        if not matches:
            raise ValueError(f"no run {name!r} in {store.path}; `factorbench results list` shows the runs "
                             "(a run directory is recorded by `factorbench evaluate RUN_DIR`)")
        exact = [r for r in matches if name in (r["run_id"], r["name"])]
        matches = exact or matches
        if len(matches) > 1:
            ids = ", ".join(r["run_id"] for r in matches[:5])
            raise ValueError(f"{name!r} matches {len(matches)} runs ({ids}); name one by its run id")
        found.append(matches[0])
    return found


def comparison(store, runs: list[dict[str, Any]], representation: str = "mean") -> dict[str, Any]:
    """{"runs": [...], "scores": {"representation/protocol/seed": {"metric/key": [value per run]}},
    "matrices": {run_id: {"mig/mi_matrix": ..., "dci/importance_matrix": ...}}}."""
    ids = [r["run_id"] for r in runs]
    table: dict[str, dict[str, list]] = {}
    for score in store.scores(ids):
        section = f"{score['representation']}/{score['protocol']}/seed {score['eval_seed']}"
        row = table.setdefault(section, {}).setdefault(f"{score['metric']}/{score['key']}", [None] * len(ids))
        row[ids.index(score["run_id"])] = score["value"]
    matrices = {}
    for run_id in ids:
        details = store.details(run_id, representation)
        matrices[run_id] = {f"{metric}/{name}": details[metric][name]
                            for metric, name, _ in MATRICES if name in details.get(metric, {})}
    return {"runs": runs, "scores": {k: dict(sorted(v.items())) for k, v in sorted(table.items())},
            "matrices": matrices}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _factor_names(run: dict[str, Any]) -> list[str] | None:
    try:
        from factorbench import datasets

        return list(datasets.load(run["dataset"]).factor_names)
    except Exception:  # a dataset this install cannot load: number the factors instead
        return None


def run(args: argparse.Namespace) -> None:
    from factorbench.benchmark.store import ResultsStore

    store = ResultsStore(args.store, create=False)
    runs = resolve_runs(store, args.runs)
    result = comparison(store, runs, args.representation)
    if args.json:
        print(json.dumps(result, indent=1, default=str))
        return
    labels = [r["run_id"] for r in runs]
    width = max(30, *(len(k) for section in result["scores"].values() for k in section)) + 2
    columns = [max(10, len(label)) + 2 for label in labels]

    def line(first: str, cells: list[str]) -> str:
        return first.ljust(width) + "".join(c.rjust(w) for c, w in zip(cells, columns))

    print(line("run", labels))
    for field in ("run_id", "dataset", "model", "hparams", "seed", "steps", "shortened", "status"):
        values = [json.dumps(r[field], sort_keys=True) if field == "hparams" else _cell(r[field]) for r in runs]
        print(line(f"  {field}", values))
    for section, rows in result["scores"].items():
        print(f"\n{section}")
        for key, values in rows.items():
            print(line(f"  {key}", [_cell(v) for v in values]))
    if args.no_matrices:
        return
    for run in runs:
        names = _factor_names(run)
        for metric, name, layout in MATRICES:
            key = f"{metric}/{name}"
            matrix = result["matrices"][run["run_id"]].get(key)
            if not matrix:
                continue
            print(f"\n{run['name']}: {key} ({layout}, {args.representation})")
            rows = matrix if layout.startswith("factors") else [list(col) for col in zip(*matrix)]
            print("  " + "factor".ljust(14) + "".join(f"z{j}".rjust(7) for j in range(len(rows[0]))))
            for i, row in enumerate(rows):
                label = names[i] if names and i < len(names) else f"f{i}"
                print("  " + label[:13].ljust(14) + "".join(f"{v:7.3f}" for v in row))
