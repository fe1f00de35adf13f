"""Time `factorbench leaderboard build` on a synthetic store, and the cost of one matrix figure both ways.

Run: .venv/bin/python tests/perf/leaderboard_build.py [--runs 300] [--study] [--keep DIR]
Writes a store of N synthetic runs (6 methods x 5 hyperparameter values x N/30 seeds on one dataset, through the
store's write API), builds the site and prints the seconds of each phase. `--study` writes the Locatello et al.
(2019) grid instead: 7 datasets x 6 methods x 6 values x 50 seeds = 12,600 runs at the study's budget, each with
every headline score and the MI and importance matrices, in each dataset's fast track. Also times one annotated
5 x 10 heatmap drawn by matplotlib against the HTML colour table the run pages use instead (`leaderboard/matrices.py`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from leaderboard_fixtures import STUDY_TRAINING, synthetic_evaluation  # noqa: E402

from factorbench.benchmark.store import ResultsStore  # noqa: E402
from factorbench.leaderboard import build_site, build_tables, plots  # noqa: E402
from factorbench.leaderboard.matrices import matrix_view  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--study", action="store_true", help="the 12,600-run study grid over 7 datasets")
    parser.add_argument("--keep", type=Path, help="write the store and site here instead of a temporary folder")
    args = parser.parse_args()
    if args.study:
        datasets = ("sprites", "sprites_color", "sprites_noisy", "sprites_textured", "smallnorb", "cars3d", "shapes3d")
        values, seeds = 6, 50
    else:
        datasets, values, seeds = ("sprites",), 5, max(1, args.runs // 30)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        store = ResultsStore(root / "results.db")
        t0 = time.perf_counter()
        models = ("beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_i", "dip_vae_ii", "annealed_vae")
        for d, dataset in enumerate(datasets):
            with store.transaction():  # one transaction per dataset: 1,800 runs
                for m, model in enumerate(models):
                    for h in range(values):
                        for seed in range(seeds):
                            run_id = f"{dataset}-{model}-h{h}-s{seed}"
                            store.record_run({"run_id": run_id, "dataset": dataset, "dataset_version": "1.0.0",
                                              "model": model, "hparams": {"w": float(2 ** h)}, "seed": seed,
                                              "steps": 300000, "training": STUDY_TRAINING})
                            rng = np.random.default_rng(100000 * d + 1000 * m + 100 * h + seed)
                            store.record_evaluation(run_id, synthetic_evaluation(
                                min(0.2 + 0.1 * h + 0.05 * m, 1.0), rng, track=f"{dataset}-fast", n_factors=5))
                            store.record_training(run_id, {"reconstruction": 30.0 + rng.normal()})
            print(f"  {dataset}: {len(models) * values * seeds} runs, {time.perf_counter() - t0:.0f} s so far",
                  flush=True)
        n = len(store.runs())
        print(f"store: {n} runs written in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        runs, scores = store.runs(), store.scores()
        print(f"read runs+scores: {time.perf_counter() - t0:.2f} s ({len(scores)} scores)")
        t0 = time.perf_counter()
        built = build_tables(runs, scores, store.tracks(), n_boot=1000)
        print(f"tables + 1000-replicate bootstrap: {time.perf_counter() - t0:.2f} s ({len(built)} tables, "
              f"{sum(len(t.rows) for t in built)} rows, {sum(t.ranked for t in built)} ranked)")
        t0 = time.perf_counter()
        build_site(store, root / "site", progress=False)
        total = time.perf_counter() - t0
        files = sum(1 for p in (root / "site").rglob("*") if p.is_file())
        print(f"build_site: {total:.1f} s for {n} runs ({1000 * total / n:.0f} ms per run), {files} files")
        mi = np.random.default_rng(0).uniform(0, 1, (5, 10))
        labels = dict(row_labels=[f"f{i}" for i in range(5)], col_labels=[f"z{j}" for j in range(10)])
        t0 = time.perf_counter()
        for _ in range(3):
            plots.heatmap(mi, root / "h.png", title="MI", **labels)
        print(f"matplotlib annotated 5x10 heatmap PNG: {(time.perf_counter() - t0) / 3 * 1000:.0f} ms each")
        t0 = time.perf_counter()
        for _ in range(100):
            matrix_view(mi, **labels)
        print(f"HTML colour table (matrix_view): {(time.perf_counter() - t0) / 100 * 1000:.2f} ms each")


if __name__ == "__main__":
    main()
