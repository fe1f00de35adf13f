"""Encoders as self-contained `jax.export` artefacts, and the loader that scores them without model code.

An artefact is a serialized `jax.export.Exported` of `images float32 (b, 64, 64, C) in [0, 1] -> codes
(b, D)`, with a symbolic batch dimension and the weights embedded as constants. Loading needs jax
(and jaxlib) only: no flax, no factorbench.models. Needs the `flatbuffers` package to serialize.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.models.files import write_atomic

IMAGE_SIZE = 64
PLATFORMS = ("cpu", "cuda")
LOAD_BATCH = 256


def export_encoder(fn: Callable[[Any, Any], Any], params: Any, channels: int, path: str | os.PathLike, *,
                   platforms: tuple[str, ...] = PLATFORMS) -> Path:
    """Export `fn(params, images) -> codes` with `params` baked in, to `path` (written atomically).

    The artefact takes float32 images (b, 64, 64, channels) in [0, 1] for any batch size b and runs
    on every platform in `platforms`.
    """
    import jax
    import jax.numpy as jnp

    (b,) = jax.export.symbolic_shape("b")
    spec = jax.ShapeDtypeStruct((b, IMAGE_SIZE, IMAGE_SIZE, int(channels)), jnp.float32)
    exported = jax.export.export(jax.jit(lambda images: fn(params, images)), platforms=platforms)(spec)
    return write_atomic(Path(path), exported.serialize())


def load_encoder(path: str | os.PathLike, *, batch_size: int = LOAD_BATCH) -> Callable[[Any], np.ndarray]:
    """`encode(images) -> np.float32 codes` from an exported artefact; calls it in batches of `batch_size`.

    images: float32 (N, 64, 64, C) in [0, 1] (numpy or jax). The last partial batch is padded to the
    batch size, so the artefact runs with a single compiled shape.
    """
    import jax

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no exported encoder at {path}; train a model first (factorbench train)")
    try:
        exported = jax.export.deserialize(bytearray(path.read_bytes()))
    except Exception as err:  # flatbuffers raise whatever a truncated buffer trips (IndexError, struct.error...)
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path} is not a readable jax.export encoder ({reason[:160]}); the file is truncated or "
                         "was not written by jax.export: export it again (or re-run the training's end)") from None
    call = jax.jit(exported.call)
    expected = tuple(exported.in_avals[0].shape[1:])

    def encode(images) -> np.ndarray:
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(f"{path.name} encodes images of shape (N, {', '.join(map(str, expected))}), "
                             f"got {images.shape}")
        out = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            n = len(batch)
            if n < batch_size and len(images) > batch_size:
                batch = np.concatenate([batch, np.zeros((batch_size - n, *expected), np.float32)])
            out.append(np.asarray(call(batch))[:n])
        if not out:
            return np.zeros((0, exported.out_avals[0].shape[1]), np.float32)
        return np.concatenate(out).astype(np.float32, copy=False)

    encode.path = path  # type: ignore[attr-defined]
    return encode
