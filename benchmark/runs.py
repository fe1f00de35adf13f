"""Run directories: read what training wrote, evaluate the exported encoder, record both in the results store.

A run directory (written by `factorbench.models.train_ensemble`) holds `config.json`, `final_metrics.json`,
`encoder_mean.jaxexport` and `encoder_gaussian.jaxexport`. Evaluation needs nothing but those files and the
dataset: no model code is imported.

>>> evaluation = evaluate_run_dir("factorbench-out/runs/beta_vae-s0", protocol="fast", metrics=["mig"])
>>> run_id = record_run_dir(ResultsStore(), "factorbench-out/runs/beta_vae-s0", evaluations={"mean": evaluation})
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.benchmark.store import ResultsStore
from factorbench.models import binding

REPRESENTATIONS = ("mean", "sampled")
ENCODER_FILES = {"mean": "encoder_mean.jaxexport", "sampled": "encoder_gaussian.jaxexport"}
_RUN_FIELDS = ("dataset", "dataset_version", "steps", "status", "device", "train_seconds", "versions")


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist; is {Path(path).parent} a run directory written by "
                                "`factorbench train`?") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the run may have been interrupted") from None


def read_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The run's config.json (dataset, objective, hparams, seed, steps, status, ...)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    return read_json(run_dir / "config.json")


def check_finished(run_dir: str | os.PathLike) -> dict[str, Any]:
    """The config of a finished run directory whose files still match it; ValueError naming the file otherwise
    (an unfinished run, an edited config.json, a replaced or damaged encoder)."""
    config = read_config(run_dir)
    if config.get("status") != "done":
        raise ValueError(f"{run_dir} is not finished (status {config.get('status')!r}); resume its training first "
                         "(run the same `factorbench train` command again)")
    binding.verify(run_dir, config)
    return config


def default_run_id(run_dir: str | os.PathLike, config: Mapping[str, Any] | None = None) -> str:
    """The store id of a run directory: config.json's "run_id" if it has one, else a hash of the absolute path."""
    config = read_config(run_dir) if config is None else config
    if config.get("run_id"):
        return str(config["run_id"])
    digest = hashlib.sha1(str(Path(run_dir).resolve()).encode()).hexdigest()[:12]
    return f"run-{digest}"


def run_record(run_dir: str | os.PathLike, *, run_id: str | None = None, name: str | None = None,
               provenance: Mapping[str, Any] | None = None, shortened: bool | None = None) -> dict[str, Any]:
    """The `ResultsStore.record_run` dict for a run directory (provenance carries the whole config.json)."""
    run_dir = Path(run_dir)
    config = read_config(run_dir)
    record = {k: config[k] for k in _RUN_FIELDS if config.get(k) is not None}
    record.update(
        run_id=run_id or default_run_id(run_dir, config),
        name=name or config.get("name") or run_dir.name,
        model=config.get("objective") or config.get("model"),
        hparams=dict(config.get("hparams") or {}),
        seed=config.get("seed"),
        kind="trained",
        run_dir=str(run_dir.resolve()),
        shortened=bool(config.get("shortened", False) if shortened is None else shortened),
        provenance={"config": config, "recorded_at": datetime.datetime.now(datetime.UTC).isoformat(),
                    **dict(provenance or {})},
    )
    return record


def training_statistics(run_dir: str | os.PathLike) -> dict[str, float]:
    """final_metrics.json (reconstruction, kl, loss, ...) as floats; {} when the run has none (not finished)."""
    path = Path(run_dir) / "final_metrics.json"
    if not path.exists():
        return {}
    return {k: float(v) for k, v in read_json(path).items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "eval_batches"}


def record_run_dir(store: ResultsStore, run_dir: str | os.PathLike, *,
                   evaluations: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]] | None = None,
                   run_id: str | None = None, name: str | None = None, provenance: Mapping[str, Any] | None = None,
                   shortened: bool | None = None) -> str:
    """Record a run directory, its training statistics and `evaluations` ({representation: evaluation dict or a
    list of them}) in one transaction; returns the run id."""
    if run_id is None:  # a run dir recorded before (e.g. by a sweep) keeps its id, name and provenance
        resolved = str(Path(run_dir).resolve())
        known = [r for r in store.find_runs(resolved) if r["run_dir"] == resolved]
        if known:
            run_id, name = known[-1]["run_id"], name or known[-1]["name"]
            provenance = {**known[-1]["provenance"], **dict(provenance or {})}
            shortened = known[-1]["shortened"] if shortened is None else shortened
    record = run_record(run_dir, run_id=run_id, name=name, provenance=provenance, shortened=shortened)
    return record_results(store, record, training_statistics(run_dir), evaluations)


def record_results(store: ResultsStore, record: Mapping[str, Any], training: Mapping[str, float] | None,
                   evaluations: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]] | None) -> str:
    """Write a run row, its training statistics and evaluations in one transaction (readers see all or none)."""
    with store.transaction():
        run_id = store.record_run(record)
        if training:
            store.record_training(run_id, training)
        for representation, found in (evaluations or {}).items():
            for evaluation in [found] if isinstance(found, Mapping) else found:
                store.record_evaluation(run_id, evaluation, representation=representation)
    return run_id


def load_representation(run_dir: str | os.PathLike, representation: str = "mean", *,
                        seed: int = 0) -> Callable[[Any], np.ndarray]:
    """encode(images float32 NHWC in [0, 1]) -> codes (B, D) from the run's exported encoder.

    "mean": the posterior means. "sampled": mean + exp(logvar / 2) * eps with eps ~ N(0, I) drawn from a numpy
    generator seeded by `seed`, so the same call sequence gives the same codes (dlib's sampled representation).
    """
    from factorbench.models import load_encoder

    run_dir = Path(run_dir)
    if representation not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got {representation!r}")
    path = run_dir / ENCODER_FILES[representation]
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; the run has no exported encoder (is it finished?)")
    encoder = load_encoder(path)
    if representation == "mean":
        return encoder
    from factorbench.benchmark import sampled

    rng = sampled.noise(seed)

    def encode_sampled(images: Any) -> np.ndarray:
        return sampled.sample(encoder(images), rng)

    return encode_sampled


def load_run_dataset(config: Mapping[str, Any], *, check_version: bool = True):
    """The dataset a run was trained on, refusing a different dataset version than the run recorded."""
    from factorbench import datasets

    ds = datasets.load(config["dataset"], **dict(config.get("dataset_options") or {}))
    recorded = config.get("dataset_version")
    if check_version and recorded and recorded != ds.info.version:
        raise ValueError(f"the run was trained on {ds.name} version {recorded}, but this factorbench has version "
                         f"{ds.info.version}; scores would not be comparable (evaluate with the matching version)")
    return ds


def evaluate_run_dir(run_dir: str | os.PathLike, *, metrics: Sequence[str] | None = None, protocol: str = "dlib",
                     seed: int = 0, representation: str = "mean", sample_sizes: Mapping[str, int] | None = None,
                     progress: bool = True) -> dict[str, Any]:
    """Score a run directory with `factorbench.metrics.evaluate`; returns the driver's dict (nothing is stored).

    sample_sizes: overrides of the protocol's sample sizes, keys of `factorbench.metrics.driver.DEFAULT_SIZES`
    (train, test, beta_vae_train, ...): a shortened evaluation, flagged "shortened" in the returned dict, whose
    "sample_sizes" records what was used. The same seed gives identical numbers.
    """
    from factorbench import metrics as metrics_module

    config = check_finished(run_dir)
    dataset = load_run_dataset(config)
    encode = load_representation(run_dir, representation, seed=seed)
    encoder_file = Path(run_dir) / ENCODER_FILES[representation]
    kwargs: dict[str, Any] = {"metrics": list(metrics) if metrics else None, "protocol": protocol, "seed": seed,
                              "progress": progress}
    if sample_sizes:
        kwargs["sizes"] = dict(sample_sizes)
    evaluation = metrics_module.evaluate(dataset, encode, **kwargs)
    evaluation.setdefault("protocol", protocol)
    evaluation.setdefault("seed", seed)
    # Every score carries the hash of the encoder that made it (checked against config.json above).
    evaluation["versions"] = {**dict(evaluation.get("versions") or {}),
                              "encoder_sha256": binding.sha256_file(encoder_file)}
    if sample_sizes:
        evaluation["shortened"] = True
    return evaluation


def parse_sample_sizes(items: Sequence[str] | None) -> dict[str, int] | None:
    """["num_train=500", "num_test=250"] -> {"num_train": 500, "num_test": 250}; None or [] -> None."""
    if not items:
        return None
    sizes = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value.strip().isdigit() or int(value) < 1:
            raise ValueError(f"cannot read sample size {item!r}: write NAME=COUNT, e.g. train=1000")
        sizes[name.strip()] = int(value)
    return sizes


def record_trained(run_dirs: Sequence[str | os.PathLike], store_path: str | os.PathLike | None = None) -> list[str]:
    """Record freshly trained run directories (config and training statistics, no scores yet); prints where."""
    import shlex
    import sys

    store = ResultsStore(store_path)
    command = shlex.join(["factorbench", *sys.argv[1:]])
    ids = [record_run_dir(store, run_dir, provenance={"command": command}) for run_dir in run_dirs]
    print(f"recorded {len(ids)} run(s) in {store.path}; score them with `factorbench evaluate RUN_DIR`")
    return ids
