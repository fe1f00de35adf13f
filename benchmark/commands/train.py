"""`factorbench train`: train seeds (and hyperparameter values) of one objective as one ensemble.

    factorbench train --dataset sprites --model beta_vae --beta 4 --seeds 0-9 --steps 300000 --out runs/

Every hyperparameter of every objective is a flag (`--beta`, `--gamma`, `--c-max`, `--lambda-od`, ...);
giving several values (`--beta 1 4 16`) trains every value with every seed, all in one compiled program.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

from factorbench.models.study_settings import (
    STUDY_ARCHITECTURE,
    STUDY_BATCH_SIZE,
    STUDY_LEARNING_RATE,
    STUDY_STEPS,
)

#: The largest --batch-size accepted: 32768 sprites images are 1.5 GiB per batch on the device already.
MAX_BATCH_SIZE = 32_768
#: The most models one `train` call builds (seeds x hyperparameter values), one compiled program for all.
MAX_MEMBERS = 1024


def parse_seeds(text: str) -> list[int]:
    """"0-9" -> 0..9; "0,3,5" -> [0, 3, 5]; "2-4,8" -> [2, 3, 4, 8]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                if hi_i - lo_i >= MAX_MEMBERS:
                    raise OverflowError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
            if seeds[-1] < 0:
                raise ValueError
        except OverflowError:
            raise ValueError(f"--seeds {part} asks for more than {MAX_MEMBERS} models; train at most {MAX_MEMBERS} "
                             "at once") from None
        except ValueError:
            raise ValueError(f"--seeds: cannot read {part!r}; write a range like 0-9 or a list like 0,3,5") from None
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds lists a seed twice: {text}")
    return seeds


def _hparam_names() -> dict[str, type]:
    from factorbench.models.objectives import OBJECTIVES

    names: dict[str, type] = {}
    for spec in OBJECTIVES.values():
        for name, default in spec.defaults.items():
            if isinstance(default, (int, float)) and not isinstance(default, bool):
                names.setdefault(name, type(default))
    return names


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("train", help="train seeds / hyperparameter values of one objective as one ensemble",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, help="dataset name (factorbench datasets list)")
    parser.add_argument("--model", required=True, help="objective: ae, vae, beta_vae, annealed_vae, factor_vae, "
                        "beta_tc_vae, dip_vae_i, dip_vae_ii, qlae, qlvae; on pairs of images (weak "
                        "supervision): ada_gvae, ada_ml_vae, gvae_labels, ml_vae_labels")
    parser.add_argument("--seeds", default="0", help="seeds: a range 0-9 or a list 0,3,5 (default 0)")
    parser.add_argument("--steps", type=int, default=STUDY_STEPS,
                        help=f"updates per model (default {STUDY_STEPS}, the study's)")
    parser.add_argument("--out", default="runs", help="parent folder of the run directories")
    parser.add_argument("--batch-size", type=int, default=STUDY_BATCH_SIZE)
    parser.add_argument("--architecture", default=STUDY_ARCHITECTURE, choices=("conv", "fc"))
    parser.add_argument("--learning-rate", type=float, default=STUDY_LEARNING_RATE)
    parser.add_argument("--log-every", type=int, default=500, help="updates between log lines (and per compiled call)")
    parser.add_argument("--checkpoint-every", type=int, default=10_000)
    parser.add_argument("--dlib-step-counter", action="store_true",
                        help="FactorVAE: run steps/2 updates, as disentanglement_lib's double-counted global step did")
    parser.add_argument("--strategy", choices=("unrolled", "loop", "vmap"), default=None,
                        help="how members share the program (default: unrolled on CPU, vmap on accelerators)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--store", type=Path, help="results database the runs are recorded in (default "
                        "$FACTORBENCH_RESULTS or ./factorbench-results/results.db)")
    parser.add_argument("--no-store", action="store_true", help="record nothing in the results store")
    group = parser.add_argument_group("hyperparameters (one or more values each; defaults are the objective's)")
    # The flags come from the objectives, whose import pulls in jax and flax (~2 s): they are added only when
    # `train` is the command being parsed, so `factorbench --help` and the other commands start without them.
    parse_known_args = parser.parse_known_args
    added = []

    def parse_with_hyperparameters(args=None, namespace=None):
        if not added:
            for name, kind in _hparam_names().items():
                group.add_argument(f"--{name.replace('_', '-')}", dest=f"hp_{name}", type=kind, nargs="+",
                                   default=None, metavar=name.upper())
            added.append(True)
        return parse_known_args(args, namespace)

    parser.parse_known_args = parse_with_hyperparameters
    parser.set_defaults(func=run)


def members_from_args(args: argparse.Namespace) -> tuple[str, list[dict]]:
    """(objective name, members) from parsed arguments; unknown hyperparameters for the model raise ValueError."""
    from factorbench.models.objectives import get

    spec = get(args.model)
    given = {k[3:]: v for k, v in vars(args).items() if k.startswith("hp_") and v is not None}
    wrong = sorted(set(given) - set(spec.defaults))
    if wrong:
        flags = ", ".join("--" + w.replace("_", "-") for w in wrong)
        takes = ", ".join("--" + w.replace("_", "-") for w in spec.defaults) or "no hyperparameters"
        raise ValueError(f"{spec.name} does not take {flags}; it takes {takes}")
    seeds = parse_seeds(args.seeds)
    names = sorted(given)
    members = []
    for values in itertools.product(*(given[n] for n in names)):
        for seed in seeds:
            members.append({"seed": seed, **dict(zip(names, values))})
    return spec.name, members


def _flag_domains() -> dict[str, Any]:
    """The domain of each numeric training flag (hyperparameter domains live with their objectives)."""
    from factorbench.models.objectives import Interval

    return {
        "steps": Interval(1, 1e9, integer=True),
        "batch_size": Interval(1, MAX_BATCH_SIZE, integer=True),
        "learning_rate": Interval(0.0, 10.0, open_low=True),
        "log_every": Interval(1, 1e9, integer=True),
        "checkpoint_every": Interval(1, 1e9, integer=True),
    }


def check_args(args: argparse.Namespace, objective: str, members: list[dict]) -> None:
    """Refuse, before anything is built or compiled, a flag or hyperparameter outside its domain and an --out
    that cannot hold run directories."""
    from factorbench.models.objectives import get

    for name, domain in _flag_domains().items():
        value = getattr(args, name)
        if not domain.contains(value):
            raise ValueError(f"--{name.replace('_', '-')} must be {domain.describe()}, got {value!r}")
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"{len(members)} models asked for (seeds x hyperparameter values); train at most "
                         f"{MAX_MEMBERS} at once")
    spec = get(objective)
    for member in members:
        spec.check({k: v for k, v in member.items() if k != "seed"})
    out = Path(args.out)
    if not str(args.out).strip():
        raise ValueError("--out is empty; give the parent folder of the run directories (default runs)")
    for folder in (out, *out.parents):
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"--out {out}: {folder} is a file, not a folder; give a folder for the run directories")


def run(args: argparse.Namespace) -> None:
    from factorbench.models import train_ensemble

    objective, members = members_from_args(args)
    check_args(args, objective, members)
    if not args.no_store:  # a store that cannot take the runs refuses now, not after the training
        from factorbench.benchmark.store import ResultsStore

        ResultsStore(args.store).check_writable()
    log_every = args.log_every
    checkpoint_every = max(log_every, args.checkpoint_every // log_every * log_every)
    try:
        dirs = train_ensemble(args.dataset, objective, members, args.steps, args.out, batch_size=args.batch_size,
                              architecture=args.architecture, checkpoint_every=checkpoint_every,
                              log_every=log_every, progress=not args.no_progress, learning_rate=args.learning_rate,
                              dlib_step_counter=args.dlib_step_counter, strategy=args.strategy)
    except Exception as err:
        from factorbench.benchmark.errors import UserError, is_out_of_memory, out_of_memory_bytes

        if not is_out_of_memory(err):
            raise
        asked = out_of_memory_bytes(err)
        amount = f"an allocation of {asked / 2**30:,.2f} GiB failed" if asked else "an allocation failed"
        raise UserError(f"out of memory training {len(members)} model(s) with --batch-size {args.batch_size} "
                        f"({amount}); lower --batch-size or train fewer models at once (--seeds, hyperparameter "
                        "values)") from None
    import json

    source = json.loads((dirs[0] / "config.json").read_text()).get("data_source", "?")
    print(f"trained {len(dirs)} model(s), batches from {source}:")
    for d in dirs:
        print(f"  {d}")
    if not args.no_store:
        from factorbench.benchmark.runs import record_trained

        record_trained(dirs, args.store)
