"""Submissions: score an encoder you bring, from any framework, without running its code.

Formats: a `jax.export` file (``.jaxexport``, serialized StableHLO), an ONNX file (``.onnx``, run by onnxruntime:
``pip install 'factorbench[onnx]'``), or ``python:module:function`` (trusted local code, flagged as such).
The contract (`_contract`): float32 NHWC images [B, 64, 64, C] in [0, 1] in, float codes [B, D] out, 1 <= D <= 1024,
finite, deterministic, each image encoded independently of its batch; B fixed (padded) or symbolic.
Every encoder runs in a child process of its own (`_process`), killed when it passes a limit (`Limits`).

>>> from factorbench.benchmark.submissions import submit
>>> result = submit("encoder.onnx", "sprites", name="my VAE", protocol="fast")
>>> result.standing.describe()
"""

from factorbench.benchmark.submissions._artefact import Artefact, check_file, load_artefact
from factorbench.benchmark.submissions._contract import MAX_CODE_DIM, Limits, SubmissionError
from factorbench.benchmark.submissions._encode import check_codes, make_encoder
from factorbench.benchmark.submissions._rank import Standing, standing
from factorbench.benchmark.submissions._score import SubmissionResult, submit
from factorbench.benchmark.submissions._validate import ValidationReport, validate, validation_images

__all__ = [
    "MAX_CODE_DIM",
    "Artefact",
    "Limits",
    "Standing",
    "SubmissionError",
    "SubmissionResult",
    "ValidationReport",
    "check_codes",
    "check_file",
    "load_artefact",
    "make_encoder",
    "standing",
    "submit",
    "validate",
    "validation_images",
]
