"""An artefact, loaded: one raw call on a batch plus what its file says about itself.

`load_artefact(spec, channels)` picks the format from the spec: a ``.onnx`` file, a ``.jaxexport`` file (or a
training run folder holding ``encoder_mean.jaxexport``), or ``python:module:function`` (trusted local code). Static
checks (file size, parse, declared input and output shapes and dtypes) happen here; the behaviour on real images is
checked by `validate`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from factorbench.benchmark.submissions._contract import (
    JAX_EXPORT_SUFFIXES,
    ONNX_SUFFIXES,
    PYTHON_PREFIX,
    Limits,
    SubmissionError,
)

RawCall = Callable[[np.ndarray], Any]
#: The encoder a training run folder offers for each representation.
RUN_DIR_ENCODERS = {"mean": "encoder_mean.jaxexport", "sampled": "encoder_gaussian.jaxexport"}


@dataclasses.dataclass
class Artefact:
    """A loaded encoder.

    Attributes:
        spec: what the user gave (a path or ``python:module:function``).
        format: "jax.export", "onnx" or "python".
        call: runs the encoder on one float32 NHWC batch (of exactly `batch_size` images when that is set) and
            returns whatever the encoder returns.
        batch_size: the fixed batch dimension, or None when the batch dimension is symbolic.
        trusted_code: True when scoring runs the submitter's Python (``python:`` specs).
        sha256: hash of the artefact file (of the module source for ``python:``), for provenance and the run id.
        size_bytes: the file's size (None for ``python:``).
        info: format-specific provenance (platforms, opset, producer...).
    """

    spec: str
    format: str
    call: RawCall
    batch_size: int | None
    trusted_code: bool = False
    sha256: str = ""
    size_bytes: int | None = None
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    process: Any = None  # the EncoderProcess `call` runs in, if any (None: called in this process)

    def close(self) -> None:
        """Stop the encoder's process, if it has one."""
        if self.process is not None:
            self.process.close()


def one_line(err: BaseException | str, limit: int = 240) -> str:
    """The first meaningful line of an error message, whitespace collapsed and cut to `limit` characters."""
    text = str(err) if not isinstance(err, str) else err
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = re.sub(r"\s+", " ", lines[0]) if lines else type(err).__name__
    return line if len(line) <= limit else line[: limit - 3] + "..."


def check_file(spec: str | Path, *, representation: str = "mean", limits: Limits | None = None) -> Path | None:
    """The cheap checks, before any dataset or framework is loaded: the file exists, has a known type, is not
    empty and is within the size limit. Returns the encoder file (inside a run folder, the representation's
    encoder), or None for a ``python:`` spec."""
    limits = limits or Limits()
    text = str(spec)
    if text.startswith(PYTHON_PREFIX):
        return None
    path = Path(text).expanduser()
    if path.is_dir():
        if (path / "config.json").is_file():  # a training run folder: finished, and its files match its config
            from factorbench.benchmark.runs import check_finished

            check_finished(path)
        name = RUN_DIR_ENCODERS.get(representation, RUN_DIR_ENCODERS["mean"])
        if not (path / name).is_file():
            raise SubmissionError(f"{path} is a folder without {name}; give an encoder file (.onnx, .jaxexport) "
                                  "or a training run folder")
        path = path / name
    if not path.exists():
        raise FileNotFoundError(f"no artefact at {path}; give a .onnx or .jaxexport file, or python:module:function")
    if not path.is_file():
        raise SubmissionError(f"{path} is not a regular file")
    if path.suffix.lower() not in ONNX_SUFFIXES + JAX_EXPORT_SUFFIXES:
        raise SubmissionError(
            f"unknown artefact type {path.name!r}: give a .onnx file (PyTorch, TensorFlow: see README), a "
            ".jaxexport file (jax.export), or python:module:function; pickles and TorchScript are not accepted")
    size = path.stat().st_size
    _check_size(path.name, size, limits)
    if size == 0:
        raise SubmissionError(f"{path.name} is empty")
    return path


def load_artefact(spec: str | Path, channels: int, *, representation: str = "mean",
                  limits: Limits | None = None) -> Artefact:
    """Load an artefact for images with `channels` channels; raises SubmissionError when it breaks the contract."""
    limits = limits or Limits()
    path = check_file(spec, representation=representation, limits=limits)
    if path is None:
        return _load_python(str(spec), channels, limits)
    folder = Path(spec).expanduser() if Path(spec).expanduser().is_dir() else None
    suffix = path.suffix.lower()
    size = path.stat().st_size
    digest = hashlib.sha256()
    # The static checks (parse, declared shapes and dtypes) run here, where nothing of the artefact executes;
    # every call runs in a child process (`EncoderProcess`), started at the first call.
    if suffix in ONNX_SUFFIXES:
        from factorbench.benchmark.submissions._onnx import external_data_files, load_onnx

        files = [path, *external_data_files(path)]
        size = sum(f.stat().st_size for f in files)
        _check_size(f"{path.name} with its external weights", size, limits)
        for file in files:
            digest.update(file.read_bytes())
        artefact = load_onnx(path, channels, name=path.name, optimize=False)
    else:
        from factorbench.benchmark.submissions._jax_export import load_jax_export

        blob = path.read_bytes()
        digest.update(blob)
        artefact = load_jax_export(blob, channels, name=path.name)
    artefact.sha256 = digest.hexdigest()
    artefact.spec = str(path)
    artefact.size_bytes = size
    if folder is not None:
        artefact.info["run_folder"] = str(folder.resolve())
    return _in_child(artefact, {"format": artefact.format, "target": str(path), "channels": channels,
                                "name": path.name}, limits)


def _load_python(spec: str, channels: int, limits: Limits) -> Artefact:
    """A ``python:`` spec is imported in the child only (its import runs the submitter's code)."""
    from factorbench.benchmark.submissions._python import check_spec

    check_spec(spec)
    artefact = Artefact(spec=spec, format="python", call=_unstarted, batch_size=None, trusted_code=True)
    artefact = _in_child(artefact, {"format": "python", "target": spec, "channels": channels, "name": spec}, limits)
    meta = artefact.process.start()
    artefact.sha256, artefact.info = meta["sha256"], meta["info"]
    return artefact


def _in_child(artefact: Artefact, request: dict[str, Any], limits: Limits) -> Artefact:
    from factorbench.benchmark.submissions._process import EncoderProcess

    artefact.process = EncoderProcess(request, limits)
    artefact.call = artefact.process.call
    return artefact


def _unstarted(images: np.ndarray) -> Any:
    raise SubmissionError("the encoder's process was not started")


def _check_size(what: str, size: int, limits: Limits) -> None:
    if size > limits.max_file_mb * 2**20:
        raise SubmissionError(f"{what} is {size / 2**20:,.1f} MiB, over the {limits.max_file_mb:,g} MiB limit "
                              "(--max-file-mb)")


def check_input_shape(name: str, shape: tuple, channels: int) -> int | None:
    """Check a declared input shape against [B, 64, 64, C]; returns the fixed batch size or None if symbolic.

    Symbolic dimensions (str, None or jax dimension expressions) are accepted anywhere; constant ones must match.
    """
    dims = [d if isinstance(d, (int, np.integer)) else None for d in shape]
    if len(dims) != 4:
        raise SubmissionError(f"{name}: input has rank {len(dims)} (shape {_show(shape)}); expected 4, "
                              f"[batch, 64, 64, {channels}] NHWC")
    if dims[1] == channels and dims[3] == 64 and channels != 64:
        raise SubmissionError(f"{name}: input is NCHW {_show(shape)}; the contract is NHWC [batch, 64, 64, "
                              f"{channels}]: wrap the model to permute (see README)")
    expected = (None, 64, 64, channels)
    for axis in (1, 2, 3):
        if dims[axis] is not None and dims[axis] != expected[axis]:
            what = "channels" if axis == 3 else "image size"
            raise SubmissionError(f"{name}: input shape {_show(shape)} has the wrong {what}; this dataset needs "
                                  f"[batch, 64, 64, {channels}]")
    if dims[0] is not None and dims[0] < 1:
        raise SubmissionError(f"{name}: input batch dimension is {dims[0]}")
    return None if dims[0] is None else int(dims[0])


def check_output_shape(name: str, shape: tuple | None, batch: Any = None) -> None:
    """Check a declared output shape against [B, D] with 1 <= D <= 1024 (unknown parts are checked when run).

    `batch` is the declared input batch dimension: a width declared as that same symbol is refused (it would give
    [B, B] codes, one width per batch size)."""
    from factorbench.benchmark.submissions._contract import MAX_CODE_DIM

    if shape is None:
        return
    if len(shape) != 2:
        raise SubmissionError(f"{name}: output has rank {len(shape)} (shape {_show(shape)}); expected 2, "
                              "[batch, code dimension]")
    width = shape[1]
    if batch is not None and not isinstance(width, (int, np.integer)) and str(width) == str(batch):
        raise SubmissionError(f"{name}: the output width is the batch size ({width}); D must be a fixed number, "
                              "the same for every batch")
    if isinstance(width, (int, np.integer)) and not 1 <= width <= MAX_CODE_DIM:
        raise SubmissionError(f"{name}: output code dimension is {width}; it must be between 1 and {MAX_CODE_DIM}")


def _show(shape: tuple) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
