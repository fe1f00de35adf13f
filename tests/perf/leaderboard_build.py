"""Time `factorbench leaderboard build` on a synthetic store, and the cost of one matrix figure both ways.

Run: .venv/bin/python tests/perf/leaderboard_build.py [--runs 300]
Writes a store of N synthetic runs (6 methods x 5 hyperparameter values x N/30 seeds on one dataset, through the
store's write API), builds the site and prints the seconds of each phase. Also times one annotated 5 x 10 heatmap
drawn by matplotlib against the HTML colour table the run pages use instead (`leaderboard/matrices.py`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "leaderboard"))
from leaderboard_fixtures import synthetic_evaluation  # noqa: E402

from factorbench.benchmark.store import ResultsStore  # noqa: E402
from factorbench.leaderboard import build_site, build_tables, plots  # noqa: E402
from factorbench.leaderboard.matrices import matrix_view  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    seeds = max(1, args.runs // 30)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = ResultsStore(root / "results.db")
        t0 = time.perf_counter()
        with store.transaction():
            models = ("beta_vae", "factor_vae", "beta_tc_vae", "dip_vae_i", "dip_vae_ii", "annealed_vae")
            for m, model in enumerate(models):
                for h in range(5):
                    for seed in range(seeds):
                        run_id = f"{model}-h{h}-s{seed}"
                        store.record_run({"run_id": run_id, "dataset": "sprites", "model": model,
                                          "hparams": {"w": float(2 ** h)}, "seed": seed})
                        rng = np.random.default_rng(1000 * m + 100 * h + seed)
                        store.record_evaluation(run_id, synthetic_evaluation(
                            0.2 + 0.1 * h + 0.05 * m, rng, protocol="fast", seed=0, n_factors=5))
                        store.record_training(run_id, {"reconstruction": 30.0 + rng.normal()})
        n = len(store.runs())
        print(f"store: {n} runs written in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        runs, scores = store.runs(), store.scores()
        print(f"read runs+scores: {time.perf_counter() - t0:.2f} s ({len(scores)} scores)")
        t0 = time.perf_counter()
        build_tables(runs, scores, n_boot=1000)
        print(f"tables + 1000-replicate bootstrap: {time.perf_counter() - t0:.2f} s")
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
