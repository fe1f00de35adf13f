"""Shipped baselines: exported encoders of the Locatello et al. (2019) methods, re-scored on the user's machine.

The folder holds one `jax.export` file per trained model (the posterior-mean encoder, weights included) and
`manifest.json`, which says for each how it was produced (objective, hyperparameters, seed, steps, learning rate,
device, date, package versions) and the scores it had when it was packed. `factorbench quickstart` scores every
file again with `EVALUATION` on the machine it runs on, so the leaderboard shows numbers computed there, and a test
checks they agree with the packed ones.

Baselines trained for fewer steps than the study's 300,000 are labelled shortened wherever they appear; their real
step count and learning rate travel with them. To pack new ones (maintainers):

    factorbench train --dataset sprites --model beta_vae --seeds 0-1 --steps 600 --learning-rate 1e-3 --out runs
    python -m factorbench.benchmark.baselines runs/sprites-beta_vae-beta4-seed0 runs/sprites-beta_vae-beta4-seed1
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from factorbench.models.study_settings import STUDY_STEPS

BASELINE_DIR = Path(__file__).resolve().parent
MANIFEST_NAME = "manifest.json"
FORMAT = 1
#: How the quickstart scores a representation: the fast protocol on small samples (labelled shortened). About
#: 8,700 encoded images a model (BetaVAE's pairs dominate), so a 2-core CPU scores one in about 10 s; the numbers are
#: noisier than the full protocol's and are compared only with each other.
EVALUATION: dict[str, Any] = {
    "protocol": "fast",
    "seed": 0,
    "sizes": {"train": 1000, "test": 500, "beta_vae_train": 100, "beta_vae_eval": 50, "factor_vae_train": 100,
              "factor_vae_eval": 50, "factor_vae_variance": 1000, "batch_size": 16},
}


class BaselineError(ValueError):
    """A shipped baseline is missing, damaged or does not match its manifest."""


@dataclasses.dataclass(frozen=True)
class Baseline:
    """One shipped encoder and how it was made (a manifest entry)."""

    name: str
    file: str
    sha256: str
    dataset: str
    dataset_version: str
    objective: str
    hparams: dict[str, Any]
    seed: int
    steps: int
    learning_rate: float
    batch_size: int
    device: str
    date: str
    train_seconds: float | None = None
    versions: dict[str, str] = dataclasses.field(default_factory=dict)
    training: dict[str, float] = dataclasses.field(default_factory=dict)
    scores: dict[str, dict[str, float]] = dataclasses.field(default_factory=dict)

    @property
    def shortened(self) -> bool:
        return self.steps < STUDY_STEPS

    @property
    def run_id(self) -> str:
        return f"baseline-{self.name}"

    def path(self, folder: Path = BASELINE_DIR) -> Path:
        return Path(folder) / self.file

    def record(self, folder: Path = BASELINE_DIR) -> dict[str, Any]:
        """The results-store run row (kind "baseline")."""
        return {
            "run_id": self.run_id,
            "name": f"{self.name} (shipped)",
            "dataset": self.dataset,
            "dataset_version": self.dataset_version,
            "model": self.objective,
            "hparams": dict(self.hparams),
            "seed": self.seed,
            "steps": self.steps,
            "status": "done",
            "kind": "baseline",
            "shortened": self.shortened,
            "device": self.device,
            "train_seconds": self.train_seconds,
            "versions": dict(self.versions),
            "provenance": {
                "how": "shipped baseline, re-scored on this machine by factorbench quickstart",
                "trained_on": self.device, "trained_at": self.date, "steps": self.steps,
                "learning_rate": self.learning_rate, "batch_size": self.batch_size,
                "file": self.file, "sha256": self.sha256,
            },
        }


def load_manifest(folder: str | os.PathLike = BASELINE_DIR) -> list[Baseline]:
    """The baselines listed in `folder`/manifest.json ([] when the folder ships none)."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return []
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BaselineError(f"{path} is not valid JSON ({err}); reinstall factorbench") from None
    if manifest.get("format") != FORMAT:
        raise BaselineError(f"{path} has format {manifest.get('format')!r}; this factorbench reads format {FORMAT}")
    fields = {f.name for f in dataclasses.fields(Baseline)}
    return [Baseline(**{k: v for k, v in entry.items() if k in fields}) for entry in manifest["baselines"]]


def check_file(baseline: Baseline, folder: Path = BASELINE_DIR) -> Path:
    """The encoder's path, after checking it exists and its sha256 matches the manifest."""
    path = baseline.path(folder)
    if not path.is_file():
        raise BaselineError(f"baseline {baseline.name}: {path} is missing; reinstall factorbench")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != baseline.sha256:
        raise BaselineError(f"baseline {baseline.name}: {path} does not match its manifest (sha256 {digest[:12]}, "
                            f"expected {baseline.sha256[:12]}); reinstall factorbench")
    return path


def evaluate_baseline(baseline: Baseline, folder: Path = BASELINE_DIR, *, progress: bool = False,
                      evaluation: Mapping[str, Any] = EVALUATION) -> dict[str, Any]:
    """Score one shipped encoder on its dataset with `evaluation` (the driver's dict, marked shortened)."""
    from factorbench import datasets
    from factorbench.metrics import evaluate
    from factorbench.models import load_encoder

    encode = load_encoder(check_file(baseline, folder))
    ds = datasets.load(baseline.dataset)
    if ds.info.version != baseline.dataset_version:
        raise BaselineError(f"baseline {baseline.name} was trained on {ds.name} version {baseline.dataset_version}, "
                            f"this factorbench renders version {ds.info.version}; repack the baselines")
    result = evaluate(ds, encode, protocol=evaluation["protocol"], seed=evaluation["seed"], progress=progress,
                      sizes=dict(evaluation["sizes"]))
    result["shortened"] = True
    return result


def score_baselines(store, baselines: Iterable[Baseline] | None = None, folder: Path = BASELINE_DIR, *,
                    progress: bool = True, evaluation: Mapping[str, Any] = EVALUATION) -> list[str]:
    """Score every shipped baseline with `evaluation` and record it in `store` (a ResultsStore); returns the run
    ids."""
    from tqdm.auto import tqdm

    from factorbench.benchmark.runs import record_results

    baselines = list(load_manifest(folder) if baselines is None else baselines)
    ids = []
    for baseline in tqdm(baselines, desc="score shipped baselines", unit="model", disable=not progress):
        result = evaluate_baseline(baseline, folder, evaluation=evaluation)
        ids.append(record_results(store, baseline.record(folder), baseline.training, {"mean": result}))
    return ids


def pack(run_dirs: Sequence[str | os.PathLike], folder: str | os.PathLike = BASELINE_DIR, *,
         progress: bool = True) -> list[Baseline]:
    """Copy the mean encoders of finished run directories into `folder`, score them and (re)write the manifest.

    Entries already in the manifest under another name are kept; a run packed again replaces its entry.
    """
    from factorbench.benchmark.runs import read_config, training_statistics
    from factorbench.models.files import atomic_path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    entries = {b.name: b for b in load_manifest(folder)}
    for run_dir in map(Path, run_dirs):
        config = read_config(run_dir)
        if config.get("status") != "done":
            raise BaselineError(f"{run_dir} has not finished training (status {config.get('status')!r})")
        source = run_dir / "encoder_mean.jaxexport"
        name = config.get("run_name") or run_dir.name
        target = folder / f"{name}.jaxexport"
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
        baseline = Baseline(
            name=name, file=target.name, sha256=hashlib.sha256(target.read_bytes()).hexdigest(),
            dataset=config["dataset"], dataset_version=config["dataset_version"], objective=config["objective"],
            hparams=dict(config["hparams"]), seed=int(config["seed"]), steps=int(config["steps"]),
            learning_rate=float(config["learning_rate"]), batch_size=int(config["batch_size"]),
            device=str(config.get("device")), date=str(config.get("created_at")),
            train_seconds=config.get("train_seconds"), versions=dict(config.get("versions") or {}),
            training=training_statistics(run_dir),
        )
        result = evaluate_baseline(baseline, folder, progress=progress)
        entries[name] = dataclasses.replace(baseline, scores=result["scores"])
    _write_manifest(folder, entries.values())
    return list(entries.values())


def rescore(folder: str | os.PathLike = BASELINE_DIR, *, progress: bool = True) -> list[Baseline]:
    """Score every baseline in `folder` again with `EVALUATION` and rewrite the manifest's scores (after a change
    to a protocol's definition: see `factorbench.metrics.driver.PROTOCOL_VERSIONS`)."""
    folder = Path(folder)
    entries = [dataclasses.replace(b, scores=evaluate_baseline(b, folder, progress=progress)["scores"])
               for b in load_manifest(folder)]
    _write_manifest(folder, entries)
    return entries


def packed_protocol_version(folder: str | os.PathLike = BASELINE_DIR) -> int:
    """The version of `EVALUATION`'s protocol the manifest's scores were computed with (1 before it was recorded)."""
    return int(json.loads((Path(folder) / MANIFEST_NAME).read_text())["evaluation"].get("protocol_version", 1))


def _write_manifest(folder: Path, entries: Iterable[Baseline]) -> None:
    from factorbench.metrics.driver import PROTOCOL_VERSIONS
    from factorbench.models.files import write_atomic

    manifest = {
        "format": FORMAT,
        "about": "Exported posterior-mean encoders (jax.export, weights included); `scores` were computed with "
                 "`evaluation` when packed. Steps below 300,000 are shortened runs.",
        "packed_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "evaluation": {**EVALUATION, "protocol_version": PROTOCOL_VERSIONS[EVALUATION["protocol"]]},
        "baselines": [dataclasses.asdict(b) for b in sorted(entries, key=lambda b: b.name)],
    }
    write_atomic(folder / MANIFEST_NAME, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
