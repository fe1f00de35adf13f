"""`factorbench sweep STUDY [--executor local|ray] [--address ADDR]`: train and score every selected configuration.

Resumable: runs that are done and scored are skipped, unscored ones are only evaluated, crashed ones are trained
again (from their checkpoint when the training engine finds one). The results go to the store.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """--dataset/--model/--seeds/--model-num: which configurations of the study."""
    parser.add_argument("--dataset", action="append", metavar="NAME",
                        help="only this dataset slot (dlib name, e.g. dsprites_full, or ours, e.g. sprites); "
                        "repeatable")
    parser.add_argument("--model", action="append", metavar="OBJECTIVE", help="only this method; repeatable")
    parser.add_argument("--seeds", metavar="SEEDS", help="only these training seeds, e.g. 0-4 or 0,3,7")
    parser.add_argument("--model-num", type=int, action="append", metavar="N",
                        help="only this model number (dlib's numbering); repeatable")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Where runs go, how they train and how they are scored."""
    parser.add_argument("--store", type=Path, help="results database (default $FACTORBENCH_RESULTS or "
                        "./factorbench-results/results.db)")
    parser.add_argument("--out", type=Path, default=Path("factorbench-out"),
                        help="folder for the run directories (default ./factorbench-out)")
    parser.add_argument("--steps", type=int, help="training steps instead of the study's (fewer: labelled shortened)")
    parser.add_argument("--protocol", choices=("dlib", "fast"),
                        help="evaluation protocol (default: the study's); both draw the same samples, fast swaps "
                        "three sklearn probes (DCI, explicitness, downstream) for a JAX logistic probe")
    parser.add_argument("--metrics", nargs="+", metavar="METRIC", help="metrics to compute (default: the study's)")
    parser.add_argument("--sample-size", action="append", metavar="NAME=COUNT", dest="sample_sizes",
                        help="override an evaluation sample size (labels the evaluation shortened); repeatable")
    parser.add_argument("--eval-seed", type=int, default=0, help="evaluation seed (default 0)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: this process; ray: a Ray cluster (default local)")
    parser.add_argument("--address", help="join the Ray cluster at this address (default: start a local one)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of a local Ray cluster (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sweep", help="train and score every configuration of a study (resumable)",
                            description="Train and score every selected configuration of a study; done runs are "
                            "skipped, crashed runs retried. Results land in the results store.")
    parser.add_argument("study", help="study name: locatello2019 (alias unsupervised_study_v1) or tiny")
    add_selection_arguments(parser)
    add_run_arguments(parser)
    parser.add_argument("--dry-run", "--only-print", dest="dry_run", action="store_true",
                        help="print what would run, run nothing")
    parser.set_defaults(func=run)


def selected_configs(study, args: argparse.Namespace) -> list:
    from factorbench.benchmark.studies import parse_seeds

    configs = study.configs(datasets=args.dataset, models=args.model,
                            seeds=parse_seeds(args.seeds) if args.seeds else None, model_nums=args.model_num)
    if not configs:
        raise ValueError(f"the selection matches no configuration of study {study.name}")
    return configs


def execute(study, configs: list, args: argparse.Namespace) -> int:
    """Plan (and unless --dry-run, run) the sweep of `configs`; print a summary; exit status 1 if runs failed."""
    from factorbench.benchmark.executors import make_executor, plan_sweep, run_sweep
    from factorbench.benchmark.runs import parse_sample_sizes
    from factorbench.benchmark.store import ResultsStore

    store = ResultsStore(args.store)
    options = dict(steps=args.steps, metrics=args.metrics, protocol=args.protocol, eval_seed=args.eval_seed,
                   sample_sizes=parse_sample_sizes(args.sample_sizes), progress=not args.no_progress)
    if getattr(args, "dry_run", False):
        plan = plan_sweep(study, configs, store=store, out_dir=args.out, **options)
        print(f"{study.name}: {len(configs)} configurations, {len(plan.skipped)} done, {plan.to_train} to train, "
              f"{plan.to_evaluate} to evaluate, {plan.steps:,} steps{' (shortened)' if plan.shortened else ''}")
        for task in plan.tasks:
            print(f"  ensemble {task.key} on {task.dataset}: "
                  + ", ".join(f"{m.model_num}{'' if m.train else ' (evaluate)'}" for m in task.members))
        return 0
    executor = make_executor(args.executor, address=args.address, num_cpus=args.num_cpus)
    summary = run_sweep(study, configs, store=store, out_dir=args.out, executor=executor,
                        command=shlex.join(["factorbench", *sys.argv[1:]]), **options)
    print(f"{study.name}: {len(summary['recorded'])} recorded, {len(summary['skipped'])} already done, "
          f"{len(summary['failed'])} failed; store {store.path}")
    for run_id, error in summary["failed"].items():
        print(f"  FAILED {run_id}: {error.strip().splitlines()[-1]}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def run(args: argparse.Namespace) -> int:
    from factorbench.benchmark.studies import get_study

    study = get_study(args.study)
    return execute(study, selected_configs(study, args), args)
