"""Turn a loaded artefact into the `encode(images) -> codes` callable the metrics driver takes.

Batches are cut to the artefact's fixed batch size (the last one padded with black images and the padding's codes
dropped) or, for a symbolic batch, to `chunk_size` images, a shorter one padded to a power of two. Every output is
checked as it comes back, so a NaN that only shows up while scoring still stops the submission before anything is
stored.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from factorbench.benchmark import sampled
from factorbench.benchmark.submissions._artefact import Artefact, one_line
from factorbench.benchmark.submissions._contract import MAX_CODE_DIM, SubmissionError

REPRESENTATIONS = ("mean", "sampled")


def check_codes(raw: object, num_images: int, *, where: str = "") -> np.ndarray:
    """Check one encoder output against [B, D], 1 <= D <= 1024, float, finite; returns it as float32."""
    suffix = f" {where}" if where else ""
    if isinstance(raw, (tuple, list, dict)):
        raise SubmissionError(f"the encoder returned a {type(raw).__name__}{suffix}; it must return one [batch, D] "
                              "array")
    codes = np.asarray(raw)
    if not np.issubdtype(codes.dtype, np.floating) and codes.dtype.name != "bfloat16":
        raise SubmissionError(f"the encoder returned {codes.dtype} codes{suffix}; codes must be floating point")
    if codes.ndim != 2:
        raise SubmissionError(f"the encoder returned shape {list(codes.shape)}{suffix}; expected rank 2, "
                              f"[{num_images}, D]")
    if codes.shape[0] != num_images:
        raise SubmissionError(f"the encoder returned {codes.shape[0]} codes for {num_images} images{suffix}; it must "
                              "return one code per image")
    if not 1 <= codes.shape[1] <= MAX_CODE_DIM:
        raise SubmissionError(f"the encoder returned codes of dimension {codes.shape[1]}{suffix}; D must be between "
                              f"1 and {MAX_CODE_DIM}")
    codes = codes.astype(np.float32)
    bad = ~np.isfinite(codes).all(axis=1)
    if bad.any():
        kind = "NaN" if np.isnan(codes[bad]).any() else "Inf"
        raise SubmissionError(f"the encoder returned {kind} codes for {int(bad.sum())} of {num_images} images{suffix}; "
                              "codes must be finite for every image in [0, 1]")
    return codes


def make_encoder(artefact: Artefact, *, chunk_size: int = 256, representation: str = "mean",
                 seed: int = 0) -> Callable[[np.ndarray], np.ndarray]:
    """`encode(images float32 [N, 64, 64, C] in [0, 1]) -> float32 [N, D]` over the artefact.

    representation "sampled" reads the artefact's output as [means, log-variances] ([N, 2D]) and returns
    ``mean + exp(logvar / 2) * eps`` as `evaluate` draws it (`factorbench.benchmark.sampled`: seeded by `seed`,
    drawn in call order), so both give the same codes for the same model and seed.
    """
    if representation not in REPRESENTATIONS:
        raise SubmissionError(f"representation must be one of {', '.join(REPRESENTATIONS)}, got {representation!r}")
    step = artefact.batch_size or chunk_size
    noise = sampled.noise(seed)
    widths: dict[int, int] = {}  # batch size -> code width seen: D must not change with the batch

    def checked(batch: np.ndarray) -> np.ndarray:
        codes = check_codes(call_artefact(artefact, batch), len(batch))
        widths.setdefault(len(batch), codes.shape[1])
        if len(set(widths.values())) > 1:
            seen = ", ".join(f"width {w} for {b} images" for b, w in sorted(widths.items()))
            raise SubmissionError(f"the encoder's code width changes with the batch size ({seen}); D must be a "
                                  "fixed number, the same for every batch")
        return codes

    def encode(images: np.ndarray) -> np.ndarray:
        images = np.ascontiguousarray(np.asarray(images), dtype=np.float32)
        n = len(images)
        if n == 0:
            raise SubmissionError("encode was called with no images")
        parts = []
        for start in range(0, n, step):
            batch = images[start:start + step]
            size = len(batch)
            pad_to = artefact.batch_size or (step if n > step else _bucket(size, step))
            if size < pad_to:
                batch = np.concatenate([batch, np.zeros((pad_to - size, *batch.shape[1:]), np.float32)])
            parts.append(checked(batch)[:size])
        codes = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if representation == "sampled":
            if codes.shape[1] % 2:
                raise SubmissionError(f"the sampled representation needs [means, log-variances] codes of even width; "
                                      f"got width {codes.shape[1]}")
            codes = sampled.sample(codes, noise)
        return codes

    return encode


def call_artefact(artefact: Artefact, batch: np.ndarray) -> object:
    """artefact.call(batch), with any failure of the encoder's own code said as a SubmissionError."""
    try:
        return artefact.call(batch)
    except SubmissionError:
        raise
    except Exception as err:
        raise SubmissionError(f"the encoder failed on a batch of {len(batch)} images: {type(err).__name__}: "
                              f"{one_line(err)}") from None


def scorer_batch_sizes(artefact: Artefact, chunk_size: int) -> list[int]:
    """Every batch size `make_encoder` calls the artefact with: its fixed size, or the powers of two from 8 to
    `chunk_size` and `chunk_size` itself (validation checks each of them)."""
    if artefact.batch_size is not None:
        return [artefact.batch_size]
    sizes = {chunk_size}
    size = 8
    while size < chunk_size:
        sizes.add(size)
        size *= 2
    return sorted(sizes)


def _bucket(size: int, step: int) -> int:
    """Batch size to pad a short symbolic batch to: a power of two (at least 8, at most `step`), so the encoder
    sees few distinct sizes (jax.export compiles once per shape) and only sizes that validation checked."""
    return min(step, max(8, 1 << (size - 1).bit_length()))
