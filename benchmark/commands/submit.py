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
    parser.add_argument("--track", metavar="NAME",
                        help="the track to score under: its protocol, sample sizes and evaluation seed; ranked "
                        "only against that track's rows (default: the dataset's fast track, DATASET-fast; "
                        "`factorbench results tracks` lists them)")
    parser.add_argument("--representation", choices=("mean", "sampled"), default="mean",
                        help="mean: the artefact's codes; sampled: read them as [means, log-variances] and sample")
    parser.add_argument("--metrics", nargs="+", metavar="METRIC",
                        help="metrics to compute, space- or comma-separated (default: all)")
    parser.add_argument("--store", "--results", dest="store", help="results database (default "
                        "$FACTORBENCH_RESULTS or ./factorbench-results/results.db)")
    about = parser.add_argument_group("submitter metadata (optional; stored and shown on the leaderboard)")
    about.add_argument("--author", action="append", dest="authors", metavar="NAME",
                       help="an author (repeat for several)")
    about.add_argument("--training-steps", type=int, metavar="N",
                       help="how many updates the model trained for (undeclared: marked so on the leaderboard)")
    about.add_argument("--paper-url", metavar="URL")
    about.add_argument("--code-url", metavar="URL")
    about.add_argument("--parameters", type=int, metavar="N", help="parameter count of the encoder")
    about.add_argument("--framework", metavar="NAME", help="e.g. pytorch, jax, tensorflow")
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
    submitter = {"authors": args.authors, "training_steps": args.training_steps, "paper_url": args.paper_url,
                 "code_url": args.code_url, "parameters": args.parameters, "framework": args.framework}

    def announce(report, artefact, track) -> None:  # before scoring, which takes minutes
        batch = "symbolic" if report.batch_size is None else str(report.batch_size)
        trusted = ", trusted code" if artefact.trusted_code else ""
        print(f"{args.name}: validated {artefact.format} encoder{trusted}, D={report.code_dim}, batch {batch}, "
              f"{report.ms_per_image:.2f} ms/image", flush=True)
        if track is None:
            why = ("the tracks rank the mean representation" if args.representation != "mean" else
                   f"{args.dataset} has no track; scored with the fast protocol's own sizes")
            print(f"track: none ({why}): recorded ad hoc, not ranked", flush=True)
        else:
            how = "given" if args.track else "default: the dataset's fast track"
            print(f"track: {track.name} v{track.version} ({how}): protocol {track.protocol}/"
                  f"{track.protocol_version}, train {track.sizes['train']:,} / test {track.sizes['test']:,} "
                  f"points, evaluation seed {track.eval_seeds[0]}; scoring...", flush=True)

    result = submit(args.artefact, args.dataset, name=args.name, track=args.track,
                    representation=args.representation, metrics=metrics, store=args.store, limits=limits,
                    progress=not args.no_progress, submitter=submitter, on_validated=announce)
    evaluation = result.evaluation
    print(f"scores on {args.dataset} (protocol {evaluation['protocol']}, seed {evaluation['seed']}, "
          f"representation {args.representation}):")
    rows = [(f"{metric}/{key}", value) for metric, keys in sorted(evaluation["scores"].items())
            for key, value in sorted(keys.items())]
    width = max((len(label) for label, _ in rows), default=0)
    for label, value in rows:
        shown = "nan" if value is None or not math.isfinite(float(value)) else f"{float(value):.4f}"
        print(f"  {label:<{width}}  {shown}")
    if result.standing is None:
        print("leaderboard: not ranked (the tracks rank the mean representation only)"
              if result.track is None else f"leaderboard: not ranked in {result.track.name}")
    else:
        print(f"leaderboard ({result.track.name}, ranked against that track only): {result.standing.describe()}")
    if args.training_steps is None:
        print("note: no --training-steps declared; the leaderboard marks the submission so")
    print(f"recorded as run {result.run_id} in {result.store_path}")
