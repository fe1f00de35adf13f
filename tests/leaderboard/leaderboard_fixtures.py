"""A fixture results store with a few dozen synthetic runs, written through the store's real write API.

The scores are synthetic numbers (this is a rendering test): each configuration has a quality, each seed adds noise,
so rows have a clear but seed-blurred order. A few runs are shortened, one is a trusted-code submission, one a
baseline, two are also evaluated under a second protocol, one has two evaluation seeds, one row lacks IRS (so has no
aggregate rank) and some runs have decoder pictures in their run folder.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from factorbench.benchmark.store import ResultsStore

SPRITES_FACTORS = ["shape", "scale", "orientation", "pos_x", "pos_y"]
CONFIGS = {  # dataset -> [(model, hparams, quality, seeds)]
    "sprites": [
        ("beta_vae", {"beta": 1.0}, 0.35, 3),
        ("beta_vae", {"beta": 4.0}, 0.55, 3),
        ("beta_vae", {"beta": 16.0}, 0.45, 3),
        ("factor_vae", {"gamma": 10.0}, 0.60, 3),
        ("factor_vae", {"gamma": 40.0}, 0.70, 3),
        ("vae", {}, 0.30, 3),  # evaluated without IRS: the row has no aggregate rank
    ],
    "xysquares": [
        ("beta_vae", {"beta": 2.0}, 0.4, 2),
        ("beta_vae", {"beta": 8.0}, 0.6, 2),
        ("dip_vae_i", {"lambda_od": 1.0}, 0.5, 2),
        ("dip_vae_i", {"lambda_od": 10.0}, 0.3, 2),
    ],
}
HEADLINE = {"beta_vae": "eval_accuracy", "factor_vae": "eval_accuracy", "mig": "mig", "dci": "disentanglement",
            "sap": "sap", "modularity_explicitness": "modularity", "irs": "irs", "infomec": "infom"}


def synthetic_evaluation(quality: float, rng: np.random.Generator, *, protocol: str, seed: int, n_factors: int,
                         n_codes: int = 10, factor_names: list[str] | None = None, skip: tuple = ()) -> dict:
    """A metrics-driver-shaped dict whose scores and matrices get better with `quality` (in [0, 1])."""
    noisy = lambda x: float(np.clip(x + rng.normal(0.0, 0.06), 0.0, 1.0))
    scores = {metric: {key: noisy(quality * (0.9 if i % 2 else 1.0) + 0.05 * i / len(HEADLINE))}
              for i, (metric, key) in enumerate(HEADLINE.items()) if metric not in skip}
    scores["beta_vae"]["train_accuracy"] = noisy(quality + 0.05)
    scores["dci"]["completeness"] = noisy(quality)
    scores["dci"]["informativeness_test"] = noisy(0.8)
    # MI: each factor carries most of its information in one latent, the more so the better the run.
    mi = rng.uniform(0.0, 0.25, (n_factors, n_codes)) * (1.2 - quality)
    for k in range(n_factors):
        mi[k, (3 * k) % n_codes] += 0.4 + 1.6 * quality * rng.uniform(0.7, 1.0)
    entropies = mi.max(axis=1) * 1.15
    importance = rng.uniform(0.0, 0.05, (n_codes, n_factors))
    for k in range(n_factors):
        importance[(3 * k) % n_codes, k] += quality
    importance /= importance.sum()
    mig_details = {"mi_matrix": mi.tolist(), "factor_entropies": entropies.tolist()}
    if factor_names:
        mig_details["factor_names"] = factor_names
    return {
        "scores": scores,
        "details": {"mig": mig_details, "dci": {"importance_matrix": importance.tolist()}},
        "protocol": protocol, "seed": seed, "sample_sizes": {"mig": 10000, "dci": 10000},
        "versions": {"numpy": np.__version__}, "seconds": {m: 0.1 for m in scores},
    }


def _picture(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tiles = (rng.uniform(0, 255, (4, 8, 8, 8)) > 128).astype(np.uint8) * 255
    grid = tiles.transpose(0, 2, 1, 3).reshape(4 * 8, 8 * 8)  # 4 rows x 8 tiles of 8x8 pixels
    Image.fromarray(grid).save(path)


def make_store(root) -> tuple[ResultsStore, list[str]]:
    """Write the fixture runs into `root / "results.db"`; returns the store and the run ids in write order."""
    store = ResultsStore(root / "results.db")
    run_ids = []
    for dataset, configs in CONFIGS.items():
        names = SPRITES_FACTORS if dataset == "sprites" else None
        n_factors = 5 if dataset == "sprites" else 3
        for c, (model, hparams, quality, seeds) in enumerate(configs):
            for seed in range(seeds):
                tag = "-".join(f"{k}{v:g}" for k, v in hparams.items())
                run_id = f"{dataset}-{model}{'-' + tag if tag else ''}-s{seed}"
                shortened = model == "beta_vae" and hparams.get("beta") == 16.0 and seed == 2
                run_dir = None
                if dataset == "sprites" and seed == 0:
                    run_dir = root / "runs" / run_id
                    run_dir.mkdir(parents=True)
                    _picture(run_dir / "traversals.png", c)
                    _picture(run_dir / "reconstructions.png", c + 100)
                store.record_run({
                    "run_id": run_id, "name": run_id, "dataset": dataset, "dataset_version": "1.0.0", "model": model,
                    "hparams": hparams, "seed": seed, "steps": 3000 if shortened else 300000, "status": "done",
                    "kind": "trained", "shortened": shortened, "run_dir": str(run_dir) if run_dir else None,
                    "device": "cpu", "train_seconds": 100.0 + seed,
                    "provenance": {"study": "fixture", "command": "pytest tests/leaderboard"},
                })
                rng = np.random.default_rng(1000 * c + seed + (0 if dataset == "sprites" else 50))
                skip = ("irs",) if model == "vae" else ()
                store.record_evaluation(run_id, synthetic_evaluation(
                    quality, rng, protocol="fast", seed=0, n_factors=n_factors, factor_names=names, skip=skip))
                store.record_training(run_id, {"reconstruction": 40.0 - 20.0 * quality + rng.normal(0, 1.0),
                                               "kl": 10.0 + 20.0 * quality, "loss": 60.0})
                run_ids.append(run_id)
    # Extra evaluations: a second evaluation seed, and a second protocol for two runs.
    rng = np.random.default_rng(7)
    store.record_evaluation("sprites-factor_vae-gamma40-s0", synthetic_evaluation(
        0.7, rng, protocol="fast", seed=1, n_factors=5, factor_names=SPRITES_FACTORS))
    for run_id, quality in (("sprites-beta_vae-beta4-s0", 0.55), ("sprites-factor_vae-gamma10-s0", 0.6)):
        store.record_evaluation(run_id, synthetic_evaluation(quality, rng, protocol="dlib", seed=0, n_factors=5,
                                                             factor_names=SPRITES_FACTORS))
    store.record_evaluation("sprites-beta_vae-beta4-s0", synthetic_evaluation(
        0.5, rng, protocol="fast", seed=0, n_factors=5, factor_names=SPRITES_FACTORS), representation="sampled")
    # A run still training: it has a page but no place in the tables.
    store.record_run({"run_id": "sprites-beta_vae-beta4-s3", "dataset": "sprites", "model": "beta_vae",
                      "hparams": {"beta": 4.0}, "seed": 3, "steps": 300000, "status": "running"})
    store.record_training("sprites-beta_vae-beta4-s3", {"reconstruction": 99.0, "kl": 1.0, "loss": 100.0})
    run_ids.append("sprites-beta_vae-beta4-s3")
    # A trusted-code submission (two seeds) and a baseline.
    for seed in range(2):
        run_id = f"sub-mymodel-s{seed}"
        store.record_run({"run_id": run_id, "name": f"mymodel-s{seed}", "dataset": "sprites", "model": "mymodel",
                          "seed": seed, "kind": "submission", "trusted_code": True,
                          "provenance": {"submitted": "python:mypkg.encoders:encode"}})
        store.record_evaluation(run_id, synthetic_evaluation(0.65, np.random.default_rng(90 + seed), protocol="fast",
                                                             seed=0, n_factors=5, factor_names=SPRITES_FACTORS))
        run_ids.append(run_id)
    store.record_run({"run_id": "baseline-pca", "name": "pca", "dataset": "sprites", "model": "pca", "seed": 0,
                      "kind": "baseline"})
    store.record_evaluation("baseline-pca", synthetic_evaluation(0.2, np.random.default_rng(99), protocol="fast",
                                                                 seed=0, n_factors=5, factor_names=SPRITES_FACTORS))
    run_ids.append("baseline-pca")
    return store, run_ids
