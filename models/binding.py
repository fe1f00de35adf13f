"""A run directory is checked against itself: config.json seals what training wrote beside it.

When a run finishes, config.json records the sha256 of each exported encoder and of final_metrics.json
(`"files"`), the step of the final checkpoint (`"final_step"`) and a `"seal"`: the hash of those together with
the fields that say what was trained (`IDENTITY_FIELDS`). Editing one of those fields, or replacing or truncating
an encoder, then no longer matches, and `verify` names the file that disagrees before anything is scored or
resumed. Reading needs hashlib and json only (no jax), so the evaluation side stays light.

Runs written before the seal existed carry none and are not checked.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: The fields of config.json that say what was trained; a resume with a different value is refused.
IDENTITY_FIELDS = ("dataset", "dataset_version", "objective", "hparams", "seed", "steps", "updates", "batch_size",
                   "architecture", "num_latents", "learning_rate", "dlib_step_counter")
ENCODER_FILES = ("encoder_mean.jaxexport", "encoder_gaussian.jaxexport")
BOUND_FILES = (*ENCODER_FILES, "final_metrics.json")
_CHUNK = 1 << 20


class RunMismatch(ValueError):
    """A run directory's parts disagree (an edited config.json, a replaced or damaged file)."""


def sha256_file(path: str | os.PathLike) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _seal(config: Mapping[str, Any]) -> str:
    bound = {k: config.get(k) for k in IDENTITY_FIELDS}
    bound.update(files=config.get("files"), final_step=config.get("final_step"))
    return hashlib.sha256(json.dumps(bound, sort_keys=True, default=str).encode()).hexdigest()


def bind(run_dir: str | os.PathLike, config: Mapping[str, Any], *, final_step: int) -> dict[str, Any]:
    """`config` with the hashes of the run's bound files, the final checkpoint's step and the seal added."""
    run_dir = Path(run_dir)
    bound = dict(config)
    bound["files"] = {name: sha256_file(run_dir / name) for name in BOUND_FILES if (run_dir / name).is_file()}
    bound["final_step"] = int(final_step)
    bound["seal"] = _seal(bound)
    return bound


def verify(run_dir: str | os.PathLike, config: Mapping[str, Any], *, files: tuple[str, ...] = BOUND_FILES) -> None:
    """Raise RunMismatch naming the first file of `run_dir` that disagrees with its config.json; a run without a
    seal (older factorbench, unfinished) passes."""
    run_dir = Path(run_dir)
    if "seal" not in config:
        return
    if config.get("seal") != _seal(config):
        raise RunMismatch(f"{run_dir / 'config.json'} was edited after training: its fields no longer match the seal "
                          "written with the run's encoders; restore the original config.json or train the run again")
    for name in files:
        expected = (config.get("files") or {}).get(name)
        if expected is None:
            continue
        path = run_dir / name
        if not path.is_file():
            raise RunMismatch(f"{path} is missing, but config.json records it; the run directory is incomplete: "
                              "restore the file or train the run again")
        found = sha256_file(path)
        if found != expected:
            raise RunMismatch(f"{path} does not match config.json (sha256 {found[:12]}..., recorded "
                              f"{expected[:12]}...): the file was replaced or damaged after training; restore it or "
                              "train the run again")


def encoder_hash(config: Mapping[str, Any], name: str) -> str | None:
    """The recorded sha256 of encoder file `name`, or None for a run without one."""
    return (config.get("files") or {}).get(name)
