"""`factorbench evaluate RUN_DIR [--metrics ...] [--protocol dlib|fast] [--representation mean|sampled]`.

Scores a trained run directory with the metrics driver and records the run and its scores in the results store
(one transaction). The same seed gives identical numbers; re-evaluating replaces the earlier scores.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("evaluate", help="score a trained run and record the scores in the results store",
                            description="Score a run directory written by `factorbench train` with every metric "
                            "(or --metrics) and record the scores in the results store.")
    parser.add_argument("run_dir", type=Path, nargs="+", help="run directory (holds config.json and the encoders)")
    parser.add_argument("--metrics", nargs="+", metavar="METRIC", help="metrics to compute (default: all)")
    parser.add_argument("--protocol", choices=("dlib", "fast"), default="dlib",
                        help="dlib: disentanglement_lib's probes (DCI with gradient boosting: minutes); fast: the "
                        "same samples (10,000 / 5,000 points) with a JAX logistic probe for DCI, explicitness "
                        "and downstream (default dlib)")
    parser.add_argument("--track", metavar="NAME",
                        help="score under this track: its protocol, sample sizes and evaluation seed (the run must "
                        "meet its training budget too); replaces --protocol, --seed and --sample-size "
                        "(`factorbench results tracks` lists them)")
    parser.add_argument("--representation", choices=("mean", "sampled", "both"), default="mean",
                        help="encoder means, or samples from the posterior (default mean)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (default 0)")
    parser.add_argument("--sample-size", action="append", metavar="NAME=COUNT", dest="sample_sizes",
                        help="override an evaluation sample size (labels the evaluation shortened); repeatable")
    parser.add_argument("--store", type=Path, help="results database (default $FACTORBENCH_RESULTS or "
                        "./factorbench-results/results.db)")
    parser.add_argument("--no-store", action="store_true", help="print the scores, record nothing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from factorbench.benchmark import runs
    from factorbench.benchmark.store import ResultsStore

    sample_sizes = runs.parse_sample_sizes(args.sample_sizes)
    track = None
    if args.track:
        from factorbench.benchmark import tracks

        if sample_sizes or args.seed:
            raise ValueError("--track fixes the sample sizes and the evaluation seed; drop --sample-size / --seed")
        track = tracks.get(args.track)
        args.protocol, args.seed, sample_sizes = track.protocol, track.eval_seeds[0], track.sizes
    representations = ["mean", "sampled"] if args.representation == "both" else [args.representation]
    for run_dir in args.run_dir:  # every run directory checked before the first evaluation starts
        runs.check_finished(run_dir)
    store = None if args.no_store else ResultsStore(args.store)
    if store is not None:
        store.check_writable()  # refuse now, not after the evaluation
    for run_dir in args.run_dir:
        evaluations = {}
        for representation in representations:
            evaluations[representation] = runs.evaluate_run_dir(
                run_dir, metrics=args.metrics, protocol=args.protocol, seed=args.seed,
                representation=representation, sample_sizes=sample_sizes, progress=not args.no_progress)
            if track is not None and representation == track.representation:
                evaluations[representation]["track"] = track.name  # the store refuses it unless it is met
            print_scores(f"{run_dir} ({representation}, protocol {args.protocol}, seed {args.seed})",
                         evaluations[representation])
        if store is not None:
            provenance = {"command": shlex.join(["factorbench", *sys.argv[1:]]),
                          "evaluation_shortened": bool(sample_sizes) and track is None}
            run_id = runs.record_run_dir(store, run_dir, evaluations=evaluations, provenance=provenance)
            names = {t["track_id"]: t["name"] for t in store.tracks().values()}
            found = sorted({names.get(s["track_id"], "ad hoc") for s in store.scores([run_id])
                            if s["protocol"] == args.protocol and s["eval_seed"] == args.seed})
            print(f"recorded run {run_id} in {store.path} (track: {', '.join(found) or 'ad hoc'})")


def print_scores(title: str, evaluation: dict) -> None:
    print(title)
    for metric, values in evaluation["scores"].items():
        seconds = (evaluation.get("seconds") or {}).get(metric)
        timing = f"  ({seconds:.1f} s)" if seconds is not None else ""
        cells = ", ".join(f"{key} {value:.4f}" for key, value in values.items() if isinstance(value, (int, float)))
        print(f"  {metric:<24} {cells}{timing}")
