"""`factorbench reproduce --study locatello2019 --model-num N [--only-print]`: one model of the published study.

Like disentanglement_lib's `dlib_reproduce`: prints the configuration (dlib's gin bindings and what factorbench runs
for them), then trains, evaluates and records it. Selections (--dataset, --model, --seeds) reproduce several models;
same-method models of one dataset train as one ensemble.
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
    parser.add_argument("--only-print", action="store_true", help="print the configuration(s), run nothing")
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
    if args.only_print:
        if len(configs) == 1:
            print(describe(configs[0], study))
        else:
            print(f"{len(configs)} configurations of {study.name}:")
            for config in configs:
                hparams = ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                    for k, v in config.hparams.items())
                print(f"  {config.model_num:>5}  {config.dataset_slot:<16} {config.model:<13} {hparams:<40} "
                      f"seed {config.seed}")
        return 0
    for config in configs[:5]:
        print(describe(config, study), end="\n\n")
    if len(configs) > 5:
        print(f"... and {len(configs) - 5} more configurations\n")
    return execute(study, configs, args)
