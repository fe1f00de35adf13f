"""``python:package.module:function``: trusted local code, scored like any encoder but marked trusted_code.

The function is imported and called with float32 NHWC batches in the encoder's child process (`_process`), under the
same load and call limits as any encoder; its results are flagged on the leaderboard because nothing stops such code
from reading the dataset's factors.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import os
import sys

import numpy as np

from factorbench.benchmark.submissions._artefact import Artefact, one_line
from factorbench.benchmark.submissions._contract import PYTHON_PREFIX, SubmissionError


def check_spec(spec: str) -> tuple[str, str]:
    """(module, function) of a ``python:module:function`` spec; refuses a malformed one."""
    module_name, _, function_name = spec[len(PYTHON_PREFIX):].partition(":")
    if not module_name or not function_name or not all(part.isidentifier() for part in module_name.split(".")) \
            or not function_name.isidentifier():
        raise SubmissionError(f"{spec[:80]!r}: write python:package.module:function")
    return module_name, function_name


def load_python(spec: str) -> Artefact:
    """Import ``module:function`` from a ``python:module:function`` spec."""
    module_name, function_name = check_spec(spec)
    if os.getcwd() not in sys.path:  # `factorbench submit python:mymodule:encode` finds ./mymodule.py
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:
        raise SubmissionError(f"{spec}: cannot import {module_name}: {one_line(err)}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SubmissionError(f"{spec}: {module_name} has no function {function_name!r}")
    try:
        source = inspect.getsource(module).encode()
    except (OSError, TypeError):
        source = b""
    digest = hashlib.sha256(spec.encode() + b"\0" + source).hexdigest()

    def call(images: np.ndarray) -> np.ndarray:
        return np.asarray(function(images))

    return Artefact(spec=spec, format="python", call=call, batch_size=None, trusted_code=True, sha256=digest,
                    info={"module": module_name, "function": function_name,
                          "file": getattr(module, "__file__", None)})
