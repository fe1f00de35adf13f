"""The validation pass: a few real images through the artefact before any expensive scoring.

Checks, in order: the call returns within `call_timeout_s`; the output is a float [B, D] array with 1 <= D <= 1024;
codes are finite on dataset images and on an all-black and an all-white image; codes differ between images; a
second call gives the same codes (deterministic); an image gets the same code alone as in a batch (no batch
statistics, e.g. BatchNorm left in training mode); the warm call costs at most `max_ms_per_image` per image.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from factorbench.benchmark.submissions._artefact import Artefact, one_line
from factorbench.benchmark.submissions._contract import Limits, SubmissionError
from factorbench.benchmark.submissions._encode import make_encoder


@dataclasses.dataclass(frozen=True)
class ValidationReport:
    """What the validation pass measured."""

    code_dim: int
    batch_size: int | None
    images: int
    first_call_seconds: float
    ms_per_image: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def validation_images(dataset: Any, count: int, seed: int = 0) -> np.ndarray:
    """`count` float32 images: dataset images drawn with `seed`, then an all-black and an all-white one."""
    rng = np.random.default_rng(seed)
    factors = dataset.sample_factors(max(count - 2, 1), rng)
    images = np.asarray(dataset.images_float(factors, rng), dtype=np.float32)
    shape = (1, *images.shape[1:])
    return np.concatenate([images, np.zeros(shape, np.float32), np.ones(shape, np.float32)])[:max(count, 3)]


def validate(artefact: Artefact, dataset: Any, *, limits: Limits | None = None, representation: str = "mean",
             seed: int = 0) -> ValidationReport:
    """Run the validation pass; raises SubmissionError (one line) on the first broken rule."""
    limits = limits or Limits()
    images = validation_images(dataset, limits.validation_images, seed)
    n = len(images)
    encode = make_encoder(artefact, chunk_size=limits.chunk_size)
    first, first_seconds = _call_with_timeout(encode, images, limits.call_timeout_s, f"a batch of {n} images")
    if np.all(np.ptp(first, axis=0) == 0):
        raise SubmissionError(f"the encoder returned the same code for all {n} validation images; a constant "
                              "representation cannot be scored")
    if representation == "sampled" and first.shape[1] % 2:
        raise SubmissionError(f"the sampled representation needs [means, log-variances] codes of even width; got "
                              f"width {first.shape[1]}")
    second, seconds = _call_with_timeout(encode, images, limits.call_timeout_s, f"a batch of {n} images")
    scale = max(1.0, float(np.abs(first).max()))
    if not np.allclose(second, first, rtol=1e-4, atol=1e-5 * scale):
        raise SubmissionError("the encoder is not deterministic: two calls on the same images gave different codes; "
                              "export the mean (sampling is done by the scorer)")
    alone, _ = _call_with_timeout(encode, images[:3], limits.call_timeout_s, "a batch of 3 images")
    if not np.allclose(alone, first[:3], rtol=1e-3, atol=1e-4 * scale):
        raise SubmissionError("an image's code depends on the other images in its batch (BatchNorm in training "
                              "mode? call model.eval() before exporting)")
    ms_per_image = 1000.0 * seconds / n
    if ms_per_image > limits.max_ms_per_image:
        raise SubmissionError(f"the encoder is too slow: {ms_per_image:.1f} ms per image here, over the "
                              f"{limits.max_ms_per_image:g} ms limit (--max-ms-per-image)")
    return ValidationReport(code_dim=int(first.shape[1]), batch_size=artefact.batch_size, images=n,
                            first_call_seconds=first_seconds, ms_per_image=ms_per_image)


def _call_with_timeout(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, timeout: float,
                       what: str) -> tuple[np.ndarray, float]:
    """fn(images) in a daemon thread, so an encoder that never returns cannot hang the scorer."""
    box: dict[str, Any] = {}

    def target() -> None:
        start = time.perf_counter()
        try:
            box["out"] = fn(images)
        except BaseException as err:  # handed to the caller's thread below
            box["err"] = err
        box["seconds"] = time.perf_counter() - start

    thread = threading.Thread(target=target, name="factorbench-validation", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise SubmissionError(f"the encoder did not return within {timeout:g} s on {what} (--call-timeout)")
    err = box.get("err")
    if isinstance(err, SubmissionError):
        raise SubmissionError(f"{err} (validation, {what})") from None
    if err is not None:
        raise SubmissionError(f"the encoder failed on {what}: {type(err).__name__}: {one_line(err)}") from None
    return box["out"], box["seconds"]
