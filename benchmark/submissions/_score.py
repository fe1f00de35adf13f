"""Score a submission: load, validate, run the metrics driver, then record run and scores in one transaction.

Nothing reaches the results store unless every step succeeded, so a bad artefact leaves no trace. The encoder runs in
its own process under the limits (`Limits`: per call, and in total over validation and scoring), which ends with
the submission.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from factorbench.benchmark.submissions._artefact import RUN_DIR_ENCODERS, Artefact, check_file, load_artefact
from factorbench.benchmark.submissions._contract import Limits, SubmissionError, check_name
from factorbench.benchmark.submissions._encode import REPRESENTATIONS, make_encoder
from factorbench.benchmark.submissions._rank import Standing, standing
from factorbench.benchmark.submissions._validate import ValidationReport, validate

MODEL = "submission"


@dataclasses.dataclass
class SubmissionResult:
    """What `submit` did: the stored run id, the driver's evaluation, the validation report and the standing."""

    run_id: str
    artefact: Artefact
    validation: ValidationReport
    evaluation: dict[str, Any]
    standing: Standing | None
    store_path: Path
    track: Any = None  # the Track scored under; None: an ad hoc evaluation, not ranked


#: Metadata a submitter may declare (stored with the run, shown on the leaderboard; never checked).
SUBMITTER_FIELDS = ("authors", "training_steps", "paper_url", "code_url", "parameters", "framework")


def submit(artefact: str | Path, dataset: Any, *, name: str, track: str | None = None, protocol: str = "fast",
           representation: str = "mean", metrics: list[str] | None = None, seed: int = 0, store: Any = None,
           limits: Limits | None = None, progress: bool = True, sizes: dict[str, int] | None = None,
           submitter: dict[str, Any] | None = None,
           on_validated: Callable[[ValidationReport, Artefact, Any], None] | None = None) -> SubmissionResult:
    """Validate and score an encoder artefact on `dataset`, record it as a "submission" run, and rank it.

    Args:
        artefact: a .onnx or .jaxexport file, a training run folder, or ``python:module:function``.
        dataset: a dataset name or a loaded dataset.
        name: the title shown on the leaderboard.
        track: the track to score under (its protocol, sample sizes and evaluation seed); None: the dataset's fast
            track (`factorbench.benchmark.tracks.default_for`) unless `sizes` is given; a dataset with no track
            is scored ad hoc with `protocol`'s own sizes.
        sizes: an ad hoc evaluation instead of a track: the driver's sample sizes (small numbers for tests), with
            `protocol` and `seed`; recorded as such and never ranked.
        metrics: passed to `factorbench.metrics.evaluate` (a track ranks only runs with every ranked metric).
        representation: "mean" (the artefact's output) or "sampled" (output read as [means, log-variances]).
        store: a ResultsStore, a path to one, or None for the default store.
        limits: file size, speed and timeout limits.
        submitter: declared metadata, keys of `SUBMITTER_FIELDS`; a submission without "training_steps" is marked
            so on the leaderboard.
        on_validated: called with the validation report, the loaded artefact and the track (None: ad hoc) before
            scoring starts.
    """
    name = check_name(name)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise SubmissionError(f"the evaluation seed must be an integer from 0 to {2**32 - 1}, got {seed!r}")
    if representation not in REPRESENTATIONS:
        raise SubmissionError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got {representation!r}")
    declared = _submitter(submitter)
    limits = limits or Limits()
    check_file(artefact, representation=representation, limits=limits)  # fail fast, before jax and the dataset

    from factorbench import datasets
    from factorbench.benchmark import tracks
    from factorbench.benchmark.store import ResultsStore, now, package_versions
    from factorbench.metrics import available, evaluate

    unknown = sorted(set(metrics or ()) - set(available()))
    if unknown:  # before the validation pass, not after it
        raise SubmissionError(f"unknown metric(s) {', '.join(unknown)}; choose from {', '.join(available())}")
    store = store if isinstance(store, ResultsStore) else ResultsStore(store)
    store.check_writable()  # a read-only or damaged store refuses now, not after the evaluation
    ds = datasets.load(dataset) if isinstance(dataset, str) else dataset
    chosen = _track(tracks, track, ds.name, sizes)
    if chosen is not None:
        protocol, seed, sizes = chosen.protocol, chosen.eval_seeds[0], chosen.sizes
        if representation != chosen.representation:
            chosen = None  # tracks rank one representation: the other is recorded, ad hoc
    loaded = load_artefact(artefact, ds.num_channels, representation=representation, limits=limits)
    try:
        report = validate(loaded, ds, limits=limits, representation=representation, seed=seed)
        if on_validated is not None:
            on_validated(report, loaded, chosen)
        encode = make_encoder(loaded, chunk_size=limits.chunk_size, representation=representation, seed=seed)
        started = time.perf_counter()
        try:
            evaluation = evaluate(ds, encode, metrics=metrics, protocol=protocol, seed=seed, progress=progress,
                                  sizes=sizes or None)
        except SubmissionError as err:
            raise SubmissionError(f"{err} (scoring)") from None
        scoring_seconds = time.perf_counter() - started
    finally:
        loaded.close()  # the encoder's process ends here, whatever happened
    # Every score carries the hash of the encoder that made it.
    evaluation["versions"] = {**dict(evaluation.get("versions") or {}), "encoder_sha256": loaded.sha256}
    if chosen is not None:
        evaluation["track"] = chosen.name  # the store refuses it unless the evaluation meets the track
    identity = "\0".join([_model_hash(loaded), ds.name, ds.info.version, str(name)])
    run = {
        "run_id": "sub-" + hashlib.sha256(identity.encode()).hexdigest()[:16],
        "name": str(name),
        "dataset": ds.name,
        "dataset_version": ds.info.version,
        "model": MODEL,
        "hparams": {},
        "submitter": declared,
        "training": {"steps": declared["training_steps"]} if "training_steps" in declared else {},
        "status": "done",
        "kind": "submission",
        "trusted_code": loaded.trusted_code,
        "shortened": False,
        "run_dir": loaded.info.get("run_folder"),
        "device": _device(loaded),
        "versions": package_versions(("factorbench", "jax", "jaxlib", "numpy", "scikit-learn", "onnxruntime")),
        "provenance": {
            "how": "factorbench submit",
            "date": now(),
            "format": loaded.format,
            "artefact": loaded.spec,
            "sha256": loaded.sha256,
            "size_bytes": loaded.size_bytes,
            "representation": representation,
            "validation": report.as_dict(),
            "scoring_seconds": scoring_seconds,
            "artefact_info": loaded.info,
        },
    }
    run_id = run["run_id"]
    with store.transaction():
        # Already recorded (same model, dataset and name, e.g. its other representation): add this evaluation only.
        if store.run(run_id) is None:
            store.record_run(run)
        store.record_evaluation(run_id, evaluation, representation=representation)
    place = standing(store, run_id, ds.name, chosen.id) if chosen is not None else None
    return SubmissionResult(run_id=run_id, artefact=loaded, validation=report, evaluation=evaluation,
                            standing=place, store_path=store.path, track=chosen)


def _track(tracks: Any, name: str | None, dataset: str, sizes: dict[str, int] | None) -> Any:
    """The track to score under: the named one, else the dataset's fast track; None (ad hoc) when sizes are given,
    or when no track was named and the dataset has none (then the protocol's own sizes are used)."""
    if name is None:
        if sizes or f"{dataset}-fast" not in tracks.every():
            return None
        return tracks.default_for(dataset)
    chosen = tracks.get(name)
    if chosen.dataset != dataset:
        raise SubmissionError(f"track {chosen.name} is for dataset {chosen.dataset}, not {dataset}")
    if sizes:
        raise SubmissionError(f"track {chosen.name} fixes the sample sizes; give a track or sizes, not both")
    return chosen


def _submitter(given: dict[str, Any] | None) -> dict[str, Any]:
    """Declared metadata, checked for shape only: known keys, authors a list of names, counts positive integers."""
    given = {k: v for k, v in (given or {}).items() if v not in (None, "", [], ())}
    unknown = sorted(set(given) - set(SUBMITTER_FIELDS))
    if unknown:
        raise SubmissionError(f"unknown submitter field(s) {', '.join(unknown)}; known: {', '.join(SUBMITTER_FIELDS)}")
    out: dict[str, Any] = {}
    for key, value in given.items():
        if key == "authors":
            names = [value] if isinstance(value, str) else list(value)
            out[key] = [str(n).strip() for n in names if str(n).strip()]
        elif key in ("training_steps", "parameters"):
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = -1
            if number < 1 or (isinstance(value, float) and not value.is_integer()):
                raise SubmissionError(f"--{key.replace('_', '-')} must be a positive whole number, got {value!r}")
            out[key] = number
        else:
            out[key] = str(value).strip()
    return out


def _model_hash(artefact: Artefact) -> str:
    """The hash that names the model: for a training run folder, that of its mean encoder, so the mean and
    sampled representations of one run land in one store run."""
    folder = artefact.info.get("run_folder")
    mean_file = Path(folder) / RUN_DIR_ENCODERS["mean"] if folder else None
    if mean_file is not None and mean_file.is_file():
        return hashlib.sha256(mean_file.read_bytes()).hexdigest()
    return artefact.sha256


def _device(artefact: Artefact) -> str:
    if artefact.format == "onnx":
        return "onnxruntime " + ",".join(artefact.info.get("providers", []))
    import jax

    device = jax.devices()[0]
    kind = device.device_kind
    return device.platform if kind.lower() == device.platform else f"{device.platform} ({kind})"
