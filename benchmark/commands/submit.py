"""`factorbench submit ARTEFACT --dataset NAME --name TITLE`: validate, score, record and rank an encoder."""

from __future__ import annotations

import argparse
import math


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "submit", help="score an encoder you bring (.onnx, .jaxexport) without running its code",
        description="Validate an encoder artefact on a few images, score it with the metrics driver, record it in "
        "the results store as a submission and print its scores and leaderboard rank. ARTEFACT is a .onnx file "
        "(PyTorch, TensorFlow: see README), a .jaxexport file, a training run folder, or python:module:function "
        "(trusted local code, flagged on the leaderboard). Contract: float32 NHWC images [B, 64, 64, C] in [0, 1] "
        "-> float codes [B, D], 1 <= D <= 1024.")
    parser.add_argument("artefact", metavar="ARTEFACT")
    parser.add_argument("--dataset", required=True, help="dataset name (see `factorbench datasets list`)")
    parser.add_argument("--name", required=True, metavar="TITLE", help="the title shown on the leaderboard")
    parser.add_argument("--protocol", choices=("dlib", "fast"), default="dlib",
                        help="evaluation protocol (default dlib: disentanglement_lib's sample sizes)")
    parser.add_argument("--representation", choices=("mean", "sampled"), default="mean",
                        help="mean: the artefact's codes; sampled: read them as [means, log-variances] and sample")
    parser.add_argument("--metrics", nargs="+", metavar="METRIC",
                        help="metrics to compute, space- or comma-separated (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="evaluation seed (default 0)")
    parser.add_argument("--store", "--results", dest="store", help="results database (default "
                        "$FACTORBENCH_RESULTS or ./factorbench-results/results.db)")
    limits = parser.add_argument_group("limits")
    from factorbench.benchmark.submissions._contract import limit_flags

    for flag, field, default, text in limit_flags():  # one home for the limits: `Limits`
        limits.add_argument(flag, dest=field, type=float, default=default, metavar="N", help=text)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from factorbench.benchmark.submissions import Limits, submit

    metrics = [m.strip() for item in args.metrics for m in item.split(",") if m.strip()] if args.metrics else None
    from factorbench.benchmark.submissions._contract import limit_flags

    limits = Limits(**{field: getattr(args, field) for _, field, _, _ in limit_flags()})
    result = submit(args.artefact, args.dataset, name=args.name, protocol=args.protocol,
                    representation=args.representation, metrics=metrics, seed=args.seed, store=args.store,
                    limits=limits, progress=not args.no_progress)
    report = result.validation
    batch = "symbolic" if report.batch_size is None else str(report.batch_size)
    trusted = ", trusted code" if result.artefact.trusted_code else ""
    print(f"{args.name}: {result.artefact.format} encoder{trusted}, D={report.code_dim}, batch {batch}, "
          f"{report.ms_per_image:.2f} ms/image")
    evaluation = result.evaluation
    print(f"scores on {args.dataset} (protocol {evaluation.get('protocol', args.protocol)}, seed "
          f"{evaluation.get('seed', args.seed)}, representation {args.representation}):")
    rows = [(f"{metric}/{key}", value) for metric, keys in sorted(evaluation["scores"].items())
            for key, value in sorted(keys.items())]
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        shown = "nan" if value is None or not math.isfinite(float(value)) else f"{float(value):.4f}"
        print(f"  {label:<{width}}  {shown}")
    if result.standing is None:
        print("leaderboard: not ranked (the leaderboard ranks the mean representation only)"
              if args.representation != "mean" else "leaderboard: not ranked (no comparable runs in the store)")
    else:
        print(f"leaderboard: {result.standing.describe()}")
    print(f"recorded as run {result.run_id} in {result.store_path}")
