"""`factorbench quickstart`: the main job, from nothing to a browsable leaderboard on the machine at hand.

Five stages, each with a progress bar: traversal grids of the procedural datasets; the shipped baseline encoders
scored on this machine; a beta-VAE ensemble trained live for a fixed number of updates; the live models scored
beside the baselines; the leaderboard site built from the results store. The runs go into the default results
store (or `--store`), in the `quickstart` track, so `factorbench results list`, `leaderboard build`, `submit` and
`compare` see them with no `--store`. Files land in `--out`:

    <out>/grid-<dataset>.png     traversal grids
    <out>/quickstart-runs/       the live models' run directories (rebuilt each time)
    <out>/site/index.html        the leaderboard of the whole store

The `quickstart` track (`factorbench.benchmark.tracks`) fixes the live training (its steps, batch size, learning
rate 1e-3 instead of the study's 1e-4, architecture) and the evaluation (the fast protocol on small samples), so
the live models score the same on every machine; both are labelled shortened. `--steps N` trains another length
(scored ad hoc, outside the track); `--full` trains with the study's settings (300,000 steps at 1e-4, full-size
samples, the dataset's fast track) and is meant for a GPU.
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

from factorbench.benchmark.tracks import QUICKSTART_DATASET as DATASET
from factorbench.benchmark.tracks import QUICKSTART_TRAINING

OBJECTIVE = "beta_vae"
def add_parser(sub: argparse._SubParsersAction) -> None:
    steps = QUICKSTART_TRAINING["steps"]
    parser = sub.add_parser("quickstart", help="the main job: baselines, a live model, scores and the leaderboard",
                            description="Render traversal grids, score the shipped baseline encoders, train a "
                            f"beta-VAE ensemble live for {steps} updates, score it beside them in the quickstart "
                            "track (the fast protocol on small samples) and build the leaderboard site from the "
                            "results store; prints the page to open. About 5 minutes on a 2-core CPU.")
    parser.add_argument("--out", type=Path, default=Path("factorbench-out"),
                        help="output folder for grids, the live runs and the site (default ./factorbench-out)")
    parser.add_argument("--store", type=Path, help="results database the runs are recorded in (default "
                        "$FACTORBENCH_RESULTS or ./factorbench-results/results.db)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the live beta-VAE ensemble (default 2)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"updates of the live ensemble (default {steps}, the quickstart track's; another "
                        "count is scored ad hoc, outside the track)")
    parser.add_argument("--full", action="store_true",
                        help="the study's settings: 300,000 steps at learning rate 1e-4, full-size evaluation "
                        "samples, the dataset's fast track (for a GPU: days on a CPU)")
    parser.add_argument("--max-baselines", type=int, default=None, metavar="N",
                        help="score only the first N shipped baselines (default: all)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> None:
    from factorbench.benchmark import tracks

    if args.seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {args.seeds}")
    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    track = tracks.default_for(DATASET) if args.full else tracks.get("quickstart")
    training = dict(track.training)
    if args.steps is not None:
        training["steps"] = args.steps
    progress = not args.no_progress
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    _stage(1, "traversal grids of the procedural datasets")
    grids = _grids(out, progress)
    print(f"wrote {len(grids)} grids into {out}/ (e.g. {grids[0]})")

    from factorbench.benchmark.baselines import EVALUATION, load_manifest, score_baselines
    from factorbench.benchmark.store import ResultsStore

    evaluation = {"protocol": track.protocol, "seed": track.eval_seeds[0], "sizes": track.sizes}
    store = ResultsStore(args.store)
    print(f"results store: {store.path}; track {track.name} (protocol {track.protocol}/{track.protocol_version}, "
          f"train {track.sizes['train']:,} / test {track.sizes['test']:,} points)")

    _stage(2, "score the shipped baseline encoders on this machine")
    baselines = load_manifest()[: args.max_baselines]
    if baselines:
        score_baselines(store, baselines, progress=progress, evaluation=EVALUATION if not args.full else evaluation)
        print(f"scored {len(baselines)} baselines ({', '.join(sorted({b.objective for b in baselines}))})")
    else:
        print("this installation ships no baselines")

    _stage(3, f"train a {OBJECTIVE} ensemble of {args.seeds} seed(s) live on {DATASET} for {training['steps']:,} "
              "updates")
    run_dirs = _train(out / "quickstart-runs", args.seeds, training, progress)

    _stage(4, "score the live models beside the baselines")
    _score_live(store, run_dirs, evaluation, progress)
    in_track = training == dict(track.training)
    print(f"recorded {len(run_dirs)} live model(s) in {store.path}, "
          + (f"track {track.name}" if in_track else f"ad hoc ({training['steps']:,} updates is not the "
             f"{track.name} track's {dict(track.training)['steps']:,})"))

    _stage(5, "build the leaderboard site")
    from factorbench.leaderboard import build_site

    index = build_site(store, out / "site", progress=progress)
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


def _train(folder: Path, seeds: int, training: dict, progress: bool) -> list[Path]:
    import jax

    from factorbench.benchmark.runs import read_config
    from factorbench.models import train_ensemble

    if folder.exists():  # the live models are retrained from scratch each time: the same updates, the same scores
        shutil.rmtree(folder)
    # Updates per compiled call: a divisor of the step count, so the run ends exactly there.
    per_call = math.gcd(10 if jax.default_backend() == "cpu" else 100, training["steps"])
    run_dirs = train_ensemble(
        DATASET, OBJECTIVE, [{"seed": s} for s in range(seeds)], training["steps"], folder,
        batch_size=training["batch_size"], architecture=training["architecture"],
        num_latents=training["num_latents"], learning_rate=training["learning_rate"],
        dlib_step_counter=training["dlib_step_counter"], log_every=per_call,
        checkpoint_every=max(10_000 // per_call, 1) * per_call, progress=progress,
    )
    config = read_config(run_dirs[0])
    print(f"trained {len(run_dirs)} model(s) for {config['steps']:,} updates each "
          f"({config['train_seconds']:.0f} s per model on {config['device']})")
    return run_dirs


def _score_live(store, run_dirs: list[Path], evaluation: dict, progress: bool) -> None:
    from tqdm.auto import tqdm

    from factorbench.benchmark.runs import evaluate_run_dir, record_run_dir

    for run_dir in tqdm(run_dirs, desc="score live models", unit="model", disable=not progress):
        result = evaluate_run_dir(run_dir, protocol=evaluation["protocol"], seed=evaluation["seed"],
                                  sample_sizes=evaluation["sizes"] or None, progress=False)
        record_run_dir(store, run_dir, evaluations={"mean": result}, name=f"{run_dir.name} (live)")
