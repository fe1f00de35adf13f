"""The validation pass: a few real images through the artefact before any expensive scoring.

Checks, in order: the call returns within `call_timeout_s`; the output is a float [B, D] array with 1 <= D <= 1024;
codes are finite on dataset images and on an all-black and an all-white image; codes differ between images; a
second call gives the same codes (deterministic); the warm call costs at most `max_ms_per_image` per image; every
image gets the same code reversed, shuffled, alone and in batches of every size the scorer uses and larger
(`batch_probes`: no batch statistics such as BatchNorm left in training mode, no dependence on the position or the
batch size), within BATCH_RTOL / BATCH_ATOL (`_contract`), and D never changes with the batch size.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from factorbench.benchmark.submissions._artefact import Artefact, one_line
from factorbench.benchmark.submissions._contract import (
    BATCH_ATOL,
    BATCH_RTOL,
    DETERMINISM_ATOL,
    DETERMINISM_RTOL,
    Limits,
    SubmissionError,
)
from factorbench.benchmark.submissions._encode import call_artefact, check_codes, make_encoder, scorer_batch_sizes


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
    timed = functools.partial(_call_with_timeout, timeout=limits.call_timeout_s, threaded=artefact.process is None)
    first, first_seconds = timed(encode, images, what=f"a batch of {n} images")
    if np.all(np.ptp(first, axis=0) == 0):
        raise SubmissionError(f"the encoder returned the same code for all {n} validation images; a constant "
                              "representation cannot be scored")
    if representation == "sampled" and first.shape[1] % 2:
        raise SubmissionError(f"the sampled representation needs [means, log-variances] codes of even width; got "
                              f"width {first.shape[1]}")
    second, seconds = timed(encode, images, what=f"a batch of {n} images")
    scale = max(1.0, float(np.abs(first).max()))
    if not _close(second, first, DETERMINISM_RTOL, DETERMINISM_ATOL * scale):
        raise SubmissionError("the encoder is not deterministic: two calls on the same images gave different codes; "
                              "export the mean (sampling is done by the scorer)")
    ms_per_image = 1000.0 * seconds / n
    if ms_per_image > limits.max_ms_per_image:
        raise SubmissionError(f"the encoder is too slow: {ms_per_image:.1f} ms per image here, over the "
                              f"{limits.max_ms_per_image:g} ms limit (--max-ms-per-image)")
    for what, order in batch_probes(artefact, n, limits.chunk_size, seed):
        raw = timed(lambda x: _probe_call(artefact, encode, x), images[order], what=what)[0]
        if raw.shape[1] != first.shape[1]:
            raise SubmissionError(f"the encoder's code width changes with the batch size (width {first.shape[1]} "
                                  f"for {n} images, {raw.shape[1]} for {what}); D must be a fixed number")
        if not _close(raw, first[order], BATCH_RTOL, BATCH_ATOL * scale):
            raise SubmissionError(f"an image's code depends on the other images in its batch or on its position "
                                  f"({what} gave other codes than the same images in the validation batch; "
                                  "BatchNorm in training mode? call model.eval() before exporting)")
    return ValidationReport(code_dim=int(first.shape[1]), batch_size=artefact.batch_size, images=n,
                            first_call_seconds=first_seconds, ms_per_image=ms_per_image)


def batch_probes(artefact: Artefact, n: int, chunk_size: int, seed: int = 0) -> list[tuple[str, np.ndarray]]:
    """(description, indices into the n validation images) of each batch that checks that codes are computed from
    each image alone: one image alone; the batch reversed and shuffled; and, for a symbolic batch dimension, every
    size the scorer uses (`scorer_batch_sizes`) plus one just above the validation batch and one above the scorer's
    largest, each filled with the validation images in a fresh shuffled order, so each image sits at other positions
    beside other images. A fixed batch is checked with a shuffled batch spanning three calls, the last one padded."""
    rng = np.random.default_rng([seed, n])
    probes = [("one image alone", np.array([n // 2])),
              ("the validation batch reversed", np.arange(n)[::-1]),
              ("the validation batch shuffled", rng.permutation(n))]
    sizes = [n + 1, chunk_size + n + 1]
    if artefact.batch_size is None:
        sizes += [s for s in scorer_batch_sizes(artefact, chunk_size) if s != n]
    else:
        sizes = [2 * artefact.batch_size + 1]
    for size in sorted(set(sizes)):
        order = np.concatenate([rng.permutation(n) for _ in range(-(-size // n))])[:size]
        probes.append((f"a shuffled batch of {size} images", order))
    return probes


def _probe_call(artefact: Artefact, encode: Callable[[np.ndarray], np.ndarray], images: np.ndarray) -> np.ndarray:
    """Codes of exactly this batch: one raw call at its size for a symbolic batch dimension, else the scorer's
    padded fixed-size calls."""
    if artefact.batch_size is not None:
        return encode(images)
    return check_codes(call_artefact(artefact, images), len(images))


def _close(a: np.ndarray, b: np.ndarray, rtol: float, atol: float) -> bool:
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= atol + rtol * np.abs(b)))


def _call_with_timeout(fn: Callable[[np.ndarray], np.ndarray], images: np.ndarray, timeout: float, what: str, *,
                       threaded: bool = True) -> tuple[np.ndarray, float]:
    """fn(images) and its seconds; an error says which validation call it was. An artefact from `load_artefact`
    runs in its own process, which enforces the limits itself (threaded=False); an in-process callable (an
    `Artefact` built in Python) runs in a daemon thread, so at least the scorer does not hang on it."""
    box: dict[str, Any] = {}

    def target() -> None:
        start = time.perf_counter()
        try:
            box["out"] = fn(images)
        except BaseException as err:  # handed to the caller's thread below
            box["err"] = err
        box["seconds"] = time.perf_counter() - start

    if threaded:
        thread = threading.Thread(target=target, name="factorbench-validation", daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise SubmissionError(f"the encoder did not return within {timeout:g} s on {what} (--call-timeout)")
    else:
        target()
    err = box.get("err")
    if isinstance(err, SubmissionError):
        raise SubmissionError(f"{err} (validation, {what})") from None
    if err is not None:
        raise SubmissionError(f"the encoder failed on {what}: {type(err).__name__}: {one_line(err)}") from None
    return box["out"], box["seconds"]
