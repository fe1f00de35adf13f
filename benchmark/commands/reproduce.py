"""`factorbench reproduce --study locatello2019 --model-num N [--dry-run]`: one model of the published study.

Like disentanglement_lib's `dlib_reproduce`: prints the configuration (dlib's gin bindings and exactly what
factorbench runs for them, with every override: steps, protocol, metrics, sample sizes, and the track the scores
land in), then trains, evaluates and records it. `--dry-run` (dlib's `--only-print` is an alias) prints only.
Selections (--dataset, --model, --seeds) reproduce several models; same-method models of one dataset train as one
ensemble.
"""

from __future__ import annotations

import argparse

from factorbench.benchmark.commands.sweep import add_run_arguments, add_selection_arguments


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("reproduce", help="reproduce models of the Locatello et al. study by model number",
                            description="Print, train, evaluate and record models of a study by dlib's model "
                            "numbers (model_num = dataset*1800 + model*50 + seed for locatello2019).")
    parser.add_argument("--study", default="locatello2019",
                        help="study name (default locatello2019, alias unsupervised_study_v1)")
    add_selection_arguments(parser)
    parser.add_argument("--dry-run", "--only-print", dest="dry_run", action="store_true",
                        help="print exactly what would run (every binding), run nothing; --only-print is dlib's "
                        "spelling")
    add_run_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from factorbench.benchmark.commands.sweep import execute, selected_configs
    from factorbench.benchmark.studies import describe, get_study

    study = get_study(args.study)
    if not (args.model_num or args.dataset or args.model or args.seeds):
        raise ValueError(f"say which models: --model-num N (0 .. {len(study) - 1}) or --dataset/--model/--seeds; "
                         f"`factorbench sweep {study.name}` runs the whole study")
    configs = selected_configs(study, args)
    overrides = describe_overrides(args)
    if args.dry_run:
        if len(configs) == 1:
            print(describe(configs[0], study, **overrides))
        else:
            print(f"{len(configs)} configurations of {study.name}:")
            for config in configs:
                hparams = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in config.hparams.items())
                print(f"  {config.model_num:>5}  {config.dataset_slot:<16} {config.model:<13} {hparams:<40} "
                      f"seed {config.seed}")
            print("each as:\n" + describe(configs[0], study, **overrides).split("factorbench configuration:")[1])
        return 0
    for config in configs[:5]:
        print(describe(config, study, **overrides), end="\n\n")
    if len(configs) > 5:
        print(f"... and {len(configs) - 5} more configurations\n")
    return execute(study, configs, args)


def describe_overrides(args: argparse.Namespace) -> dict:
    """The run options that change what a configuration runs, as `describe` takes them."""
    from factorbench.benchmark.runs import parse_sample_sizes

    return {"steps": args.steps, "protocol": args.protocol, "metrics": args.metrics,
            "sample_sizes": parse_sample_sizes(args.sample_sizes), "eval_seed": args.eval_seed}
