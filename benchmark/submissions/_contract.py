"""The submission contract and the limits a scorer enforces, in one place.

An encoder takes float32 NHWC images ``[B, 64, 64, C]`` with values in [0, 1] (C from the dataset) and returns one
float code per image, ``[B, D]`` with ``1 <= D <= 1024``, finite. B may be fixed (the scorer pads the last batch)
or symbolic. The encoder must be a function of each image alone (no batch statistics) and deterministic; the
sampled representation, when asked for, is drawn by the scorer, not inside the artefact.
"""

from __future__ import annotations

import dataclasses
import math
import unicodedata

IMAGE_SIZE = 64
MAX_CODE_DIM = 1024
#: File endings of the formats that run no submitter code.
JAX_EXPORT_SUFFIXES = (".jaxexport", ".jax_export", ".stablehlo")
ONNX_SUFFIXES = (".onnx",)
#: Prefix of a trusted-code submission: ``python:package.module:function``.
PYTHON_PREFIX = "python:"


#: The longest leaderboard title a submission may have, in characters.
MAX_NAME_LENGTH = 120
#: Characters a title may not hold besides the control characters: line and paragraph separators, and the bidi
#: controls that would reorder the text around the title on the leaderboard.
_FORBIDDEN_IN_NAMES = set("\u2028\u2029\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class SubmissionError(ValueError):
    """An artefact that breaks the contract; the message is one line telling what is wrong and what to do."""


def check_name(name: str) -> str:
    """The leaderboard title, stripped; refuses an empty, overlong or control-character title."""
    text = str(name).strip()
    if not text:
        raise SubmissionError("a submission needs a name (--name TITLE)")
    if len(text) > MAX_NAME_LENGTH:
        raise SubmissionError(f"--name is {len(text):,} characters long; a title may have at most {MAX_NAME_LENGTH}")
    bad = next((c for c in text if unicodedata.category(c) == "Cc" or c in _FORBIDDEN_IN_NAMES), None)
    if bad is not None:
        raise SubmissionError(f"--name holds the control character U+{ord(bad):04X}; a title is one line of "
                              "printable text")
    return text


#: How far two codes of one image may differ between calls and batch compositions before the encoder counts as
#: non-deterministic or batch-dependent: |a - b| <= RTOL * |b| + ATOL * max(1, largest |code|). Loose enough for the
#: float reassociation a different batch size brings (measured at most 8e-7 of |b| + 1e-4 for the shipped conv
#: baselines, batch sizes 1 to 273, XLA on CPU), tight enough that a code carrying its batch position or size is
#: refused.
DETERMINISM_RTOL, DETERMINISM_ATOL = 1e-4, 1e-5
BATCH_RTOL, BATCH_ATOL = 1e-3, 1e-4


def _limit(default: float, low: float, high: float, flag: str | None, what: str = "", *, integer: bool = False):
    return dataclasses.field(default=default, metadata={"range": (low, high), "flag": flag, "integer": integer,
                                                        "what": what})


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a submission may cost; each value is checked (finite, positive, within its range) when built.

    Attributes:
        max_file_mb: largest artefact file accepted, checked before it is read.
        max_ms_per_image: slowest accepted encoder, measured on the validation batch after a warm-up call.
        call_timeout_s: longest one encoder call may take (compilation included), while validating and scoring.
        load_timeout_s: longest starting the encoder's process and loading the artefact may take (for
            ``python:`` specs: the import of the submitter's module).
        time_limit_s: the encoder's total time over validation and scoring; past it the submission stops.
        validation_images: images in the validation batch (dataset images plus an all-black and an all-white one).
        chunk_size: the scorer's largest batch when the artefact's batch dimension is symbolic; smaller batches are
            padded to a power of two (at least 8), so the encoder only ever sees the sizes validation checked.
    """

    max_file_mb: float = _limit(1024.0, 1e-6, 1e6, "--max-file-mb", "largest artefact file in MiB")
    max_ms_per_image: float = _limit(50.0, 1e-6, 60_000.0, "--max-ms-per-image",
                                     "slowest accepted encoder, ms per image on a warm call")
    call_timeout_s: float = _limit(120.0, 1e-3, 86_400.0, "--call-timeout",
                                   "seconds one encoder call may take, validating or scoring, compilation included")
    load_timeout_s: float = _limit(120.0, 1e-3, 86_400.0, "--load-timeout",
                                   "seconds starting the encoder's process and loading it may take (python: the "
                                   "import)")
    # A day: the dlib protocol encodes ~3M images (1.92M for the BetaVAE score), ~1 h at 1 ms per image.
    time_limit_s: float = _limit(86_400.0, 1e-3, 7 * 86_400.0, "--time-limit",
                                 "total seconds of encoder calls over validation and scoring")
    validation_images: int = _limit(16, 3, 256, None, integer=True)
    chunk_size: int = _limit(256, 8, 4096, None, integer=True)

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            low, high = field.metadata["range"]
            value = getattr(self, field.name)
            name = field.metadata["flag"] or f"Limits.{field.name}"
            kind = "an integer" if field.metadata["integer"] else "a number"
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
                and low <= value <= high and (not field.metadata["integer"] or value == int(value))
            if not ok:
                raise SubmissionError(f"{name} must be {kind} from {low:g} to {high:g}, got {value!r}")


def limit_flags() -> list[tuple[str, str, float, str]]:
    """(flag, Limits field, default, help) of each limit the command line offers, help stating default and range."""
    flags = []
    for field in dataclasses.fields(Limits):
        if field.metadata["flag"]:
            low, high = field.metadata["range"]
            text = f"{field.metadata['what']} (default {field.default:g}; {low:g} to {high:g})"
            flags.append((field.metadata["flag"], field.name, field.default, text))
    return flags
