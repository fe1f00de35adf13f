"""A fixture results store with a few dozen synthetic runs, written through the store's real write API.

The scores are synthetic numbers (this is a rendering test): each configuration has a quality, each seed adds noise,
so rows have a clear but seed-blurred order. The evaluations are tagged with their tracks by the store itself, from
their recorded protocol version, sample sizes and the runs' training budgets, and the mix is deliberate:
- sprites-fast (the study's sizes and budget): five trained configurations, a trusted-code submission with declared
  metadata, a shortened baseline that declares its 600 steps; one row lacks IRS (so has no aggregate rank);
- the same sizes but another batch size (16) or another step count (3,000): ad hoc, each in its own row;
- the quickstart track (its reduced sizes and training length): two live seeds (one collapsed) and a baseline;
- other sample sizes (train=512) and a second evaluation seed: ad hoc, apart from every track;
- sprites-dlib for two runs, a sampled representation for one, a run still training, xysquares-fast.
Some runs have decoder pictures in their run folder.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from factorbench.benchmark import tracks
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


STUDY_TRAINING = {"steps": 300000, "batch_size": 64, "learning_rate": 1e-4, "architecture": "conv", "num_latents": 10,
                  "dlib_step_counter": False}


def synthetic_evaluation(quality: float, rng: np.random.Generator, *, protocol: str = "fast", seed: int = 0,
                         n_factors: int, n_codes: int = 10, factor_names: list[str] | None = None, skip: tuple = (),
                         track: str | None = None, sizes: dict | None = None, collapsed: bool = False) -> dict:
    """A metrics-driver-shaped dict whose scores and matrices get better with `quality` (in [0, 1]).

    track: record the protocol, protocol version and sample sizes of that built-in track (what an evaluation made
    for it records); sizes: other sample sizes (an ad hoc evaluation).
    """
    noisy = lambda x: float(np.clip(x + rng.normal(0.0, 0.06), 0.0, 1.0))
    scores = {metric: {key: noisy(quality * (0.9 if i % 2 else 1.0) + 0.05 * i / len(HEADLINE))}
              for i, (metric, key) in enumerate(HEADLINE.items()) if metric not in skip}
    scores["beta_vae"]["train_accuracy"] = noisy(quality + 0.05)
    scores["factor_vae"]["num_active_dims"] = 0.0 if collapsed else float(n_codes)
    if collapsed:  # nothing passes FactorVAE's pruning: it scores 0, as the driver reports it
        scores["factor_vae"]["eval_accuracy"] = 0.0
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
    ordered = np.sort(mi, axis=1)
    gaps = (ordered[:, -1] - ordered[:, -2]) / entropies  # what `metrics.mig.mig` stores as per_factor_gap
    mig_details = {"mi_matrix": mi.tolist(), "factor_entropy": entropies.tolist(), "per_factor_gap": gaps.tolist()}
    if factor_names:
        mig_details["factor_names"] = factor_names
    contract = tracks.get(track) if track else None
    protocol = contract.protocol if contract else protocol
    version = contract.protocol_version if contract else tracks.get(f"sprites-{protocol}").protocol_version
    return {
        "scores": scores,
        "details": {"mig": mig_details, "dci": {"importance_matrix": importance.tolist()}},
        "protocol": protocol, "seed": seed, "sample_sizes": dict(contract.sizes if contract else sizes or {}),
        "versions": {"numpy": np.__version__, "protocol": f"{protocol}/{version}"}, "seconds": {m: 0.1 for m in scores},
    }


def _picture(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tiles = (rng.uniform(0, 255, (4, 8, 8, 8)) > 128).astype(np.uint8) * 255
    grid = tiles.transpose(0, 2, 1, 3).reshape(4 * 8, 8 * 8)  # 4 rows x 8 tiles of 8x8 pixels
    Image.fromarray(grid).save(path)


def _record(store, run_id, *, dataset="sprites", model, hparams=None, seed=0, training=None, kind="trained",
            **fields) -> str:
    training = dict(STUDY_TRAINING if training is None else training)
    store.record_run({"run_id": run_id, "name": fields.pop("name", run_id), "dataset": dataset,
                      "dataset_version": "1.0.0", "model": model, "hparams": hparams or {}, "seed": seed,
                      "steps": training.get("steps"), "status": "done", "kind": kind, "training": training,
                      "shortened": training.get("steps", 300000) < 300000, **fields})
    return run_id


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
                run_dir = None
                if dataset == "sprites" and seed == 0:
                    run_dir = root / "runs" / run_id
                    run_dir.mkdir(parents=True)
                    _picture(run_dir / "traversals.png", c)
                    _picture(run_dir / "reconstructions.png", c + 100)
                _record(store, run_id, dataset=dataset, model=model, hparams=hparams, seed=seed,
                        run_dir=str(run_dir) if run_dir else None, device="cpu", train_seconds=100.0 + seed,
                        provenance={"study": "fixture", "command": f"pytest {root}/tests/leaderboard"})
                rng = np.random.default_rng(1000 * c + seed + (0 if dataset == "sprites" else 50))
                skip = ("irs",) if model == "vae" else ()
                store.record_evaluation(run_id, synthetic_evaluation(
                    quality, rng, track=f"{dataset}-fast", n_factors=n_factors, factor_names=names, skip=skip))
                store.record_training(run_id, {"reconstruction": 40.0 - 20.0 * quality + rng.normal(0, 1.0),
                                               "kl": 10.0 + 20.0 * quality, "loss": 60.0})
                run_ids.append(run_id)
    rng = np.random.default_rng(7)
    # The same model and sizes, another training: a batch size of 16, or 3,000 steps. Ad hoc, a row each.
    for run_id, training in (("sprites-beta_vae-beta4-batch16-s0", {**STUDY_TRAINING, "batch_size": 16}),
                             ("sprites-beta_vae-beta16-short-s0", {**STUDY_TRAINING, "steps": 3000})):
        run_ids.append(_record(store, run_id, model="beta_vae", hparams={"beta": float(run_id.split("-")[2][4:])},
                               training=training))
        store.record_evaluation(run_id, synthetic_evaluation(0.5, rng, track="sprites-fast", n_factors=5,
                                                             factor_names=SPRITES_FACTORS))
    # The quickstart track: two live seeds at its training length, and a baseline declaring 600 steps.
    for seed in range(2):
        run_ids.append(_record(store, f"live-s{seed}", model="beta_vae", hparams={"beta": 4.0}, seed=seed,
                               training=tracks.QUICKSTART_TRAINING, name=f"sprites-beta_vae-beta4-seed{seed} (live)"))
        store.record_evaluation(f"live-s{seed}", synthetic_evaluation(0.4, rng, track="quickstart", n_factors=5,
                                                                      factor_names=SPRITES_FACTORS,
                                                                      collapsed=seed == 1))
    run_ids.append(_record(store, "baseline-beta_tc_vae", model="beta_tc_vae", hparams={"beta": 6.0}, kind="baseline",
                           training={"steps": 600, "batch_size": 64, "learning_rate": 1e-3},
                           provenance={"file": "/opt/factorbench/baselines/x.jaxexport"}))
    store.record_evaluation("baseline-beta_tc_vae", synthetic_evaluation(0.45, rng, track="quickstart", n_factors=5,
                                                                         factor_names=SPRITES_FACTORS))
    # Extra evaluations: other sample sizes and a second evaluation seed (both ad hoc), and the dlib track.
    store.record_evaluation("sprites-factor_vae-gamma40-s0", synthetic_evaluation(
        0.7, rng, seed=1, n_factors=5, factor_names=SPRITES_FACTORS, sizes=tracks.get("sprites-fast").sizes))
    store.record_evaluation("sprites-factor_vae-gamma40-s1", synthetic_evaluation(
        0.7, rng, n_factors=5, factor_names=SPRITES_FACTORS, sizes={"train": 512, "test": 256}))
    for run_id, quality in (("sprites-beta_vae-beta4-s0", 0.55), ("sprites-factor_vae-gamma10-s0", 0.6)):
        store.record_evaluation(run_id, synthetic_evaluation(quality, rng, track="sprites-dlib", n_factors=5,
                                                             factor_names=SPRITES_FACTORS))
    store.record_evaluation("sprites-beta_vae-beta4-s0", synthetic_evaluation(
        0.5, rng, track="sprites-fast", n_factors=5, factor_names=SPRITES_FACTORS), representation="sampled")
    # A run still training: it has a page but no place in the tables.
    store.record_run({"run_id": "sprites-beta_vae-beta4-s3", "dataset": "sprites", "model": "beta_vae",
                      "hparams": {"beta": 4.0}, "seed": 3, "steps": 300000, "status": "running"})
    store.record_training("sprites-beta_vae-beta4-s3", {"reconstruction": 99.0, "kl": 1.0, "loss": 100.0})
    run_ids.append("sprites-beta_vae-beta4-s3")
    # A trusted-code submission (two seeds, declared metadata) and a shortened baseline, both on sprites-fast.
    for seed in range(2):
        run_id = f"sub-mymodel-s{seed}"
        store.record_run({"run_id": run_id, "name": f"mymodel-s{seed}", "dataset": "sprites",
                          "dataset_version": "1.0.0", "model": "mymodel", "seed": seed, "kind": "submission",
                          "trusted_code": True,
                          "submitter": {"authors": ["A. Author", "B. Author"], "training_steps": 50000,
                                        "paper_url": "https://example.org/paper", "framework": "pytorch"},
                          "provenance": {"submitted": "python:mypkg.encoders:encode",
                                         "artefact": "/home/someone/models/encoder.onnx"}})
        store.record_evaluation(run_id, synthetic_evaluation(0.65, np.random.default_rng(90 + seed),
                                                             track="sprites-fast", n_factors=5,
                                                             factor_names=SPRITES_FACTORS))
        run_ids.append(run_id)
    run_ids.append(_record(store, "baseline-pca", model="pca", name="pca", kind="baseline",
                           training={"steps": 600}))
    store.record_evaluation("baseline-pca", synthetic_evaluation(0.2, np.random.default_rng(99), track="sprites-fast",
                                                                 n_factors=5, factor_names=SPRITES_FACTORS))
    return store, run_ids
