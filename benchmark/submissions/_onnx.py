"""Load an ONNX encoder with onnxruntime (``pip install 'factorbench[onnx]'``). No submitter Python runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factorbench.benchmark.submissions._artefact import (
    Artefact,
    check_input_shape,
    check_output_shape,
    one_line,
)
from factorbench.benchmark.submissions._contract import SubmissionError

_UNREADABLE = "not a readable ONNX model (truncated, corrupt, or another format?)"
_FLOAT_TYPES = ("tensor(float)", "tensor(float16)", "tensor(double)", "tensor(bfloat16)")


def external_data_files(path: Path) -> list[Path]:
    """The external weight files an ONNX model refers to (PyTorch >= 2.9 writes ``encoder.onnx.data``).

    Each must lie in the model's folder. Raises SubmissionError for an unreadable model or a missing or
    escaping file. Without the `onnx` package, falls back to ``<name>.data`` beside the model when it exists.
    """
    try:
        import onnx
        from onnx.external_data_helper import ExternalDataInfo, _get_all_tensors, uses_external_data
    except ImportError:
        guess = path.with_name(path.name + ".data")
        return [guess] if guess.is_file() else []
    try:
        model = onnx.load_model(str(path), load_external_data=False)
    except Exception:
        raise SubmissionError(f"{path.name}: {_UNREADABLE}") from None
    folder = path.parent.resolve()
    files: dict[Path, None] = {}
    for tensor in _get_all_tensors(model):
        if not uses_external_data(tensor):
            continue
        location = ExternalDataInfo(tensor).location
        target = (folder / location).resolve()
        if folder not in target.parents:
            raise SubmissionError(f"{path.name}: external weights {location!r} lie outside the model's folder")
        if not target.is_file():
            raise SubmissionError(f"{path.name}: its weights are in {location!r}, which is missing; keep that file "
                                  "next to the model")
        files[target] = None
    return list(files)


def load_onnx(path: Path, channels: int, *, name: str = "artefact.onnx", optimize: bool = True) -> Artefact:
    """Build an onnxruntime session for the model at `path` (external weights beside it are read too) and check
    its one input and one output against the contract. optimize=False skips onnxruntime's graph optimizations
    (constant folding could run long on a hostile graph): enough for the static checks the scorer makes before the
    encoder's own process loads it for real."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise SubmissionError("scoring ONNX artefacts needs onnxruntime: pip install 'factorbench[onnx]'") from None
    options = ort.SessionOptions()
    options.log_severity_level = 4  # errors come back as exceptions; keep onnxruntime's own log off stderr
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as err:
        raise SubmissionError(f"{name}: {_explain(err)}") from None
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise SubmissionError(f"{name}: the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                              "it must take the images alone")
    if len(outputs) != 1:
        raise SubmissionError(f"{name}: the model has {len(outputs)} outputs ({', '.join(o.name for o in outputs)}); "
                              "export only the codes (for a VAE: the means)")
    image, codes = inputs[0], outputs[0]
    if image.type != "tensor(float)":
        raise SubmissionError(f"{name}: input type is {image.type}; the contract is float32 images in [0, 1]")
    batch_size = check_input_shape(name, tuple(image.shape), channels)
    if codes.type not in _FLOAT_TYPES:
        raise SubmissionError(f"{name}: output type is {codes.type}; codes must be floating point")
    check_output_shape(name, tuple(codes.shape) if codes.shape else None, batch=image.shape[0])
    input_name = image.name

    def call(images: np.ndarray) -> np.ndarray:
        return session.run(None, {input_name: images})[0]

    meta = session.get_modelmeta()
    return Artefact(spec=name, format="onnx", call=call, batch_size=batch_size,
                    info={"producer": meta.producer_name, "graph": meta.graph_name,
                          "providers": session.get_providers(), "onnxruntime": ort.__version__})


def _explain(err: Exception) -> str:
    """onnxruntime's load errors, said for a submitter."""
    text = str(err)
    if "INVALID_PROTOBUF" in text or "protobuf parsing failed" in text:
        return _UNREADABLE
    if "is not a registered function/op" in text or "Could not find an implementation" in text:
        return f"uses an operator onnxruntime cannot run: {one_line(text.split(':', 3)[-1])}"
    if "opset" in text.lower():
        return f"uses an unsupported opset: {one_line(text)}; export with opset 17 or 18"
    return f"onnxruntime cannot load it: {one_line(text)}"
