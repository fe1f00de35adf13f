"""The submission contract and the limits a scorer enforces, in one place.

An encoder takes float32 NHWC images ``[B, 64, 64, C]`` with values in [0, 1] (C from the dataset) and returns one
float code per image, ``[B, D]`` with ``1 <= D <= 1024``, finite. B may be fixed (the scorer pads the last batch)
or symbolic. The encoder must be a function of each image alone (no batch statistics) and deterministic; the
sampled representation, when asked for, is drawn by the scorer, not inside the artefact.
"""

from __future__ import annotations

import dataclasses

IMAGE_SIZE = 64
MAX_CODE_DIM = 1024
#: File endings of the formats that run no submitter code.
JAX_EXPORT_SUFFIXES = (".jaxexport", ".jax_export", ".stablehlo")
ONNX_SUFFIXES = (".onnx",)
#: Prefix of a trusted-code submission: ``python:package.module:function``.
PYTHON_PREFIX = "python:"


class SubmissionError(ValueError):
    """An artefact that breaks the contract; the message is one line telling what is wrong and what to do."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a submission may cost. Defaults suit a CPU; `factorbench submit` exposes the first three.

    Attributes:
        max_file_mb: largest artefact file accepted, checked before it is read.
        max_ms_per_image: slowest accepted encoder, measured on the validation batch after a warm-up call.
        call_timeout_s: longest a single validation call may take, compilation included.
        validation_images: images in the validation batch (dataset images plus an all-black and an all-white one).
        chunk_size: images per encoder call while scoring when the artefact's batch dimension is symbolic.
    """

    max_file_mb: float = 1024.0
    max_ms_per_image: float = 50.0
    call_timeout_s: float = 120.0
    validation_images: int = 16
    chunk_size: int = 256
