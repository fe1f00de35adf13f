"""`factorbench quickstart`: the main job, from nothing to a browsable leaderboard on the machine at hand.

Five stages, each with a progress bar: traversal grids of the procedural datasets; the shipped baseline encoders
scored on this machine; a beta-VAE ensemble trained live for as many steps as `--budget-minutes` allows; the live
models scored beside the baselines; the leaderboard site built from the results. Everything lands in `--out`:

    <out>/grid-<dataset>.png     traversal grids
    <out>/quickstart.db          the results store of this run (rebuilt each time)
    <out>/quickstart-runs/       the live models' run directories (rebuilt each time)
    <out>/site/index.html        the leaderboard

On a CPU the live models and all scores use shortened settings (learning rate 1e-3 instead of 1e-4, a few hundred
steps instead of 300,000, small evaluation samples), labelled as such on the site. `--full` trains with the study's
settings (300,000 steps at 1e-4, full-size samples) and is meant for a GPU.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

DATASET = "sprites"
OBJECTIVE = "beta_vae"
# Adam at the study's 1e-4 leaves a beta-VAE on sprites collapsed (KL < 1 nat) after 500 steps; 1e-3 makes a few
# hundred steps learn something. The shipped CPU baselines were trained the same way.
SHORT_LEARNING_RATE = 1e-3
STUDY_LEARNING_RATE = 1e-4
STUDY_STEPS = 300_000


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("quickstart", help="the main job: baselines, a live model, scores and the leaderboard",
                            description="Render traversal grids, score the shipped baseline encoders, train a "
                            "beta-VAE ensemble live, score it beside them with the fast protocol and build the "
                            "leaderboard site; prints the page to open. About 5 minutes on a 2-core CPU.")
    parser.add_argument("--out", type=Path, default=Path("factorbench-out"),
                        help="output folder (default ./factorbench-out)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the live beta-VAE ensemble (default 2)")
    parser.add_argument("--budget-minutes", type=float, default=2.0,
                        help="training time of the live ensemble, compilation included (default 2); it stops "
                        "after the first compiled call past this")
    parser.add_argument("--full", action="store_true",
                        help="the study's settings: 300,000 steps at learning rate 1e-4 with no time budget, "
                        "full-size evaluation samples (for a GPU: days on a CPU)")
    parser.add_argument("--max-baselines", type=int, default=None, metavar="N",
                        help="score only the first N shipped baselines (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.budget_minutes <= 0:
        raise ValueError(f"--budget-minutes must be positive, got {args.budget_minutes}")
    progress = not args.no_progress
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    _stage(1, "traversal grids of the procedural datasets")
    grids = _grids(out, progress)
    print(f"wrote {len(grids)} grids into {out}/ (e.g. {grids[0]})")

    from factorbench.benchmark.baselines import EVALUATION, load_manifest, score_baselines
    from factorbench.benchmark.store import ResultsStore

    evaluation = {**EVALUATION, "sizes": {}} if args.full else EVALUATION
    store = ResultsStore(_fresh_store(out / "quickstart.db"))

    _stage(2, "score the shipped baseline encoders on this machine")
    baselines = load_manifest()[: args.max_baselines]
    if baselines:
        score_baselines(store, baselines, progress=progress)
        print(f"scored {len(baselines)} baselines ({', '.join(sorted({b.objective for b in baselines}))})")
    else:
        print("this installation ships no baselines")

    _stage(3, f"train a {OBJECTIVE} ensemble of {args.seeds} seed(s) live on {DATASET}")
    run_dirs = _train(out / "quickstart-runs", args.seeds, args.full, args.budget_minutes, progress)

    _stage(4, "score the live models beside the baselines")
    _score_live(store, run_dirs, evaluation, progress)

    _stage(5, "build the leaderboard site")
    from factorbench.leaderboard import build_site

    index = build_site(store, out / "site", progress=progress, store_label=str(store.path))
    print(f"\nleaderboard: {index.resolve()}")
    print(f"open it in a browser, or serve it: factorbench leaderboard serve {index.parent}")


def _stage(number: int, title: str) -> None:
    print(f"\n[{number}/5] {title}", flush=True)


def _grids(out: Path, progress: bool) -> list[Path]:
    from tqdm.auto import tqdm

    from factorbench import datasets
    from factorbench.datasets.grid import save_traversal_grid

    procedural = [n for n in datasets.names() if datasets.load(n).info.source.startswith("procedural")]
    return [save_traversal_grid(datasets.load(name), out / f"grid-{name}.png")
            for name in tqdm(procedural, desc="traversal grids", unit="dataset", disable=not progress)]


def _fresh_store(path: Path) -> Path:
    """The quickstart's store is its own and starts empty each run, so its site shows this run only."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _train(folder: Path, seeds: int, full: bool, budget_minutes: float, progress: bool) -> list[Path]:
    import jax

    from factorbench.models import train_ensemble

    if folder.exists():  # budget-stopped runs record a machine-dependent step count: they cannot resume
        shutil.rmtree(folder)
    on_cpu = jax.default_backend() == "cpu"
    run_dirs = train_ensemble(
        DATASET, OBJECTIVE, [{"seed": s} for s in range(seeds)], STUDY_STEPS, folder,
        learning_rate=STUDY_LEARNING_RATE if full else SHORT_LEARNING_RATE,
        log_every=10 if on_cpu else 100, checkpoint_every=10_000, progress=progress,
        budget_seconds=None if full else budget_minutes * 60,
    )
    from factorbench.benchmark.runs import read_config

    config = read_config(run_dirs[0])
    print(f"trained {len(run_dirs)} model(s) for {config['steps']} steps each "
          f"({config['train_seconds']:.0f} s per model on {config['device']})")
    return run_dirs


def _score_live(store, run_dirs: list[Path], evaluation: dict, progress: bool) -> None:
    from tqdm.auto import tqdm

    from factorbench.benchmark.runs import evaluate_run_dir, record_run_dir

    for run_dir in tqdm(run_dirs, desc="score live models", unit="model", disable=not progress):
        result = evaluate_run_dir(run_dir, protocol=evaluation["protocol"], seed=evaluation["seed"],
                                  sample_sizes=evaluation["sizes"] or None, progress=False)
        record_run_dir(store, run_dir, evaluations={"mean": result}, name=f"{run_dir.name} (live)")
