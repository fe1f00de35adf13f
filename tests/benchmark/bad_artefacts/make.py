"""Build the submission test artefacts: one good encoder (as jax.export and as ONNX) and the corpus of bad ones.

Everything is generated (ONNX through the `onnx` helper API, no torch), so no binary sits in the repository.
`bad_corpus(folder)` writes each bad artefact and returns `BadCase`s: the CLI spec, extra CLI flags, and a
fragment the one-line error must contain.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 18
CHANNELS = 1  # the identity dataset is grey
CODE_DIM = 4  # identity's default factor count: one code per band


def band_weights(num_bands: int = CODE_DIM, channels: int = CHANNELS) -> np.ndarray:
    """(64*64*C, num_bands) float32: column k averages the rows of band k, as identity's `read_factors` does."""
    edges = np.linspace(0, 64, num_bands + 1).round().astype(int)
    weights = np.zeros((64, 64, channels, num_bands), np.float32)
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        weights[a:b, :, :, k] = 1.0 / ((b - a) * 64 * channels)
    return weights.reshape(-1, num_bands)


SCALE = np.float32(1.7)
OFFSETS = np.linspace(0.05, 0.35, CODE_DIM).astype(np.float32)


def reference_codes(images: np.ndarray) -> np.ndarray:
    """What the good encoder computes, in numpy: tanh(1.7 * band means + offsets)."""
    flat = np.asarray(images, np.float32).reshape(len(images), -1)
    return np.tanh(flat @ band_weights() * SCALE + OFFSETS)


def encoder_fn(params: dict, images):
    """The good encoder in jax: `fn(params, images)` as `export_encoder` takes it."""
    import jax.numpy as jnp

    flat = images.reshape(images.shape[0], -1)
    return jnp.tanh(flat @ params["w"] * params["scale"] + params["offsets"])


def encoder_params() -> dict:
    return {"w": band_weights(), "scale": SCALE, "offsets": OFFSETS}


def write_jax(path: Path, fn=None, *, input_shape=("b", 64, 64, CHANNELS), dtype="float32",
              platforms=("cpu", "cuda"), two_args: bool = False) -> Path:
    """Export `fn(images)` (default: the good encoder with its weights closed over) with jax.export."""
    import jax
    import jax.numpy as jnp
    from jax import export

    params = encoder_params()
    fn = fn or (lambda x: encoder_fn(params, x))
    dims = export.symbolic_shape(",".join(str(d) for d in input_shape))
    spec = jax.ShapeDtypeStruct(dims, jnp.dtype(dtype))
    if two_args:
        w_spec = jax.ShapeDtypeStruct(params["w"].shape, jnp.float32)
        exported = export.export(jax.jit(lambda w, x: jnp.tanh(x.reshape(x.shape[0], -1) @ w)),
                                 platforms=platforms)(w_spec, spec)
    else:
        exported = export.export(jax.jit(fn), platforms=platforms)(spec)
    path.write_bytes(exported.serialize())
    return path


# ----------------------------------------------------------------------------------------------------- ONNX
def _value(name: str, shape, elem=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, elem, list(shape))


def _model(nodes, inputs, outputs, initializers=(), opsets=()) -> bytes:
    graph = helper.make_graph(nodes, "encoder", inputs, outputs,
                              initializer=[numpy_helper.from_array(np.asarray(v), k) for k, v in initializers])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), *opsets])
    model.ir_version = 9
    return model.SerializeToString()


def _linear_nodes(out: str = "codes", images: str = "images") -> tuple[list, list]:
    """images -> tanh(flat @ W * scale + offsets), the good encoder's graph, ending in `out`."""
    nodes = [
        helper.make_node("Reshape", [images, "flat_shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "W"], ["band"]),
        helper.make_node("Mul", ["band", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "offsets"], ["pre"]),
        helper.make_node("Tanh", ["pre"], [out]),
    ]
    inits = [("flat_shape", np.array([-1, 64 * 64 * CHANNELS], np.int64)), ("W", band_weights()),
             ("scale", np.array(SCALE)), ("offsets", OFFSETS)]
    return nodes, inits


def write_onnx(path: Path, *, batch="b", external: str | None = None) -> Path:
    """The good encoder as ONNX; `batch` is a symbolic name or a fixed int. `external` names a file (relative to
    the model's folder) to hold the weights, as PyTorch >= 2.9 writes them."""
    import onnx

    nodes, inits = _linear_nodes()
    blob = _model(nodes, [_value("images", (batch, 64, 64, CHANNELS))], [_value("codes", (batch, CODE_DIM))], inits)
    if external is None:
        path.write_bytes(blob)
    else:
        onnx.save_model(onnx.load_model_from_string(blob), str(path), save_as_external_data=True,
                        all_tensors_to_one_file=True, location=external, size_threshold=1024)
    return path


def _onnx_variant(path: Path, extra_nodes, out_shape, *, extra_inits=(), out_elem=TensorProto.FLOAT,
                  in_shape=("b", 64, 64, CHANNELS), in_elem=TensorProto.FLOAT, outputs=None, inputs=None,
                  opsets=()) -> Path:
    """The good encoder's codes ("lin") followed by `extra_nodes` ending in "codes"."""
    nodes, inits = _linear_nodes("lin")
    outs = outputs or [_value("codes", out_shape, out_elem)]
    ins = inputs or [_value("images", in_shape, in_elem)]
    path.write_bytes(_model(nodes + list(extra_nodes), ins, outs, inits + list(extra_inits), opsets))
    return path


def _raw_onnx(path: Path, nodes, in_shape, out_shape, inits=(), in_elem=TensorProto.FLOAT) -> Path:
    path.write_bytes(_model(nodes, [_value("images", in_shape, in_elem)], [_value("codes", out_shape)], inits))
    return path


def _slow_onnx(path: Path, matmuls: int = 1000) -> Path:
    """A valid encoder that multiplies each channel plane by a permutation `matmuls` times (~15 ms per image)."""
    nodes = [helper.make_node("Transpose", ["images"], ["h0"], perm=[0, 3, 1, 2])]
    nodes += [helper.make_node("MatMul", [f"h{i}", "P"], [f"h{i + 1}"]) for i in range(matmuls)]
    nodes += [helper.make_node("ReduceMean", [f"h{matmuls}", "axes"], ["r"], keepdims=0),
              helper.make_node("Flatten", ["r"], ["codes"], axis=1)]
    inits = [("P", np.eye(64, dtype=np.float32)[::-1].copy()), ("axes", np.array([3], np.int64))]
    return _raw_onnx(path, nodes, ("b", 64, 64, CHANNELS), ("b", 64 * CHANNELS), inits)


@dataclasses.dataclass(frozen=True)
class BadCase:
    id: str
    spec: str
    expect: str  # a fragment of the one-line error (case-insensitive)
    flags: tuple[str, ...] = ()


def bad_corpus(folder: Path) -> list[BadCase]:
    """Write every bad artefact into `folder`; returns the cases."""
    import jax.numpy as jnp
    from jax import export

    folder.mkdir(parents=True, exist_ok=True)
    good_onnx = write_onnx(folder / "good.onnx").read_bytes()
    good_jax = write_jax(folder / "good.jaxexport").read_bytes()
    f = folder
    cases: list[BadCase] = []

    def add(id: str, path: Path | str, expect: str, *flags: str) -> None:
        cases.append(BadCase(id, str(path), expect, tuple(flags)))

    # --- wrong input
    add("onnx_input_rank2", _raw_onnx(
        f / "rank2.onnx", [helper.make_node("MatMul", ["images", "W"], ["codes"])], ("b", 4096), ("b", CODE_DIM),
        [("W", band_weights())]), "input has rank 2")
    add("onnx_input_nchw", _raw_onnx(
        f / "nchw.onnx", [helper.make_node("ReduceMean", ["images", "axes"], ["codes"], keepdims=0)],
        ("b", CHANNELS, 64, 64), ("b", 64), [("axes", np.array([1, 3], np.int64))]), "NCHW")
    add("onnx_input_rgb", _raw_onnx(
        f / "rgb.onnx", [helper.make_node("ReduceMean", ["images", "axes"], ["codes"], keepdims=0)],
        ("b", 64, 64, 3), ("b", 64), [("axes", np.array([1, 3], np.int64))]), "wrong channels")
    add("onnx_input_32px", _raw_onnx(
        f / "small.onnx", [helper.make_node("ReduceMean", ["images", "axes"], ["codes"], keepdims=0)],
        ("b", 32, 32, CHANNELS), ("b", 32), [("axes", np.array([1, 3], np.int64))]), "wrong image size")
    add("onnx_input_float64", _raw_onnx(
        f / "double.onnx", [helper.make_node("ReduceMean", ["images", "axes"], ["m"], keepdims=0),
                            helper.make_node("Cast", ["m"], ["codes"], to=TensorProto.FLOAT)],
        ("b", 64, 64, CHANNELS), ("b", 64), [("axes", np.array([1, 3], np.int64))], in_elem=TensorProto.DOUBLE),
        "input type is tensor(double)")
    add("onnx_two_inputs", _onnx_variant(
        f / "two_in.onnx", [helper.make_node("Add", ["lin", "bias"], ["codes"])], ("b", CODE_DIM),
        inputs=[_value("images", ("b", 64, 64, CHANNELS)), _value("bias", (CODE_DIM,))]), "2 inputs")
    add("jax_uint8_input", write_jax(f / "uint8.jaxexport", lambda x: x.reshape(x.shape[0], -1)[:, :4] * 1.0,
                                     dtype="uint8"), "input dtype is uint8")
    add("jax_weights_as_argument", write_jax(f / "two_args.jaxexport", two_args=True), "takes 2 arrays")
    # --- wrong output
    add("onnx_output_rank3", _onnx_variant(
        f / "rank3.onnx", [helper.make_node("Unsqueeze", ["lin", "ax"], ["codes"])], ("b", CODE_DIM, 1),
        extra_inits=[("ax", np.array([2], np.int64))]), "output has rank 3")
    add("jax_output_rank1", write_jax(f / "rank1.jaxexport", lambda x: x.mean(axis=(1, 2, 3))), "output has rank 1")
    add("onnx_two_outputs", _onnx_variant(
        f / "two_out.onnx", [helper.make_node("Identity", ["lin"], ["codes"]),
                             helper.make_node("Neg", ["lin"], ["logvar"])], None,
        outputs=[_value("codes", ("b", CODE_DIM)), _value("logvar", ("b", CODE_DIM))]), "2 outputs")
    add("onnx_d0", _onnx_variant(
        f / "d0.onnx", [helper.make_node("Slice", ["lin", "zero", "zero", "one"], ["codes"])], ("b", "d"),
        extra_inits=[("zero", np.array([0], np.int64)), ("one", np.array([1], np.int64))]), "dimension is 0")
    add("onnx_d2048_declared", _onnx_variant(
        f / "wide.onnx", [helper.make_node("Tile", ["lin", "reps"], ["codes"])], ("b", 2048),
        extra_inits=[("reps", np.array([1, 512], np.int64))]), "code dimension is 2048")
    add("onnx_int_output", _onnx_variant(
        f / "int_out.onnx", [helper.make_node("Cast", ["lin"], ["codes"], to=TensorProto.INT32)], ("b", CODE_DIM),
        out_elem=TensorProto.INT32), "output type is tensor(int32)")
    add("jax_int_output", write_jax(f / "int_out.jaxexport",
                                    lambda x: (x.reshape(x.shape[0], -1)[:, :4] * 10).astype(jnp.int32)),
        "output dtype is int32")
    add("onnx_one_code_per_batch", _onnx_variant(
        f / "batch_mean.onnx", [helper.make_node("ReduceMean", ["lin", "ax0"], ["codes"], keepdims=1)],
        ("b", CODE_DIM), extra_inits=[("ax0", np.array([0], np.int64))]), "codes for 16 images")
    # --- bad values
    add("onnx_nan_on_black", _onnx_variant(
        f / "nan.onnx", [helper.make_node("ReduceMean", ["images", "all"], ["mean"], keepdims=0),
                         helper.make_node("Unsqueeze", ["mean", "ax1"], ["mean2"]),
                         helper.make_node("Sub", ["lin", "lin"], ["zero"]),
                         helper.make_node("Div", ["zero", "mean2"], ["ratio"]),
                         helper.make_node("Add", ["lin", "ratio"], ["codes"])], ("b", CODE_DIM),
        extra_inits=[("all", np.array([1, 2, 3], np.int64)), ("ax1", np.array([1], np.int64))]),
        "NaN codes for")
    add("jax_inf_on_white", write_jax(f / "inf.jaxexport", lambda x: encoder_fn(encoder_params(), x)
                                      - jnp.log(1.0 - x.mean(axis=(1, 2, 3)))[:, None]), "Inf codes")
    add("onnx_constant", _onnx_variant(
        f / "constant.onnx", [helper.make_node("Mul", ["lin", "zero"], ["codes"])], ("b", CODE_DIM),
        extra_inits=[("zero", np.array(0.0, np.float32))]), "same code for all 16")
    add("onnx_random", _onnx_variant(
        f / "random.onnx", [helper.make_node("RandomNormalLike", ["lin"], ["eps"]),
                            helper.make_node("Add", ["lin", "eps"], ["codes"])], ("b", CODE_DIM)),
        "not deterministic")
    add("onnx_batch_statistics", _onnx_variant(
        f / "batchnorm.onnx", [helper.make_node("ReduceMean", ["lin", "ax0"], ["mu"], keepdims=1),
                               helper.make_node("Sub", ["lin", "mu"], ["codes"])], ("b", CODE_DIM),
        extra_inits=[("ax0", np.array([0], np.int64))]), "depends on the other images")
    # --- bad files
    add("onnx_truncated", _write(f / "truncated.onnx", good_onnx[: len(good_onnx) // 2]), "not a readable ONNX")
    add("onnx_random_bytes", _write(f / "noise.onnx", np.random.default_rng(0).bytes(4096)), "not a readable ONNX")
    add("onnx_is_text", _write(f / "readme.onnx", b"this is not a model, just some text\n" * 20),
        "not a readable ONNX")
    add("jax_truncated", _write(f / "truncated.jaxexport", good_jax[: len(good_jax) // 3]),
        "not a readable jax.export")
    add("jax_is_png", _write(f / "picture.jaxexport", b"\x89PNG\r\n\x1a\n" + bytes(200)),
        "not a readable jax.export")
    add("jax_is_onnx", _write(f / "onnx_inside.jaxexport", good_onnx), "not a readable jax.export")
    add("empty_file", _write(f / "empty.onnx", b""), "is empty")
    add("torchscript_suffix", _write(f / "model.pt", b"PK\x03\x04"), "unknown artefact type")
    add("missing_file", f / "does_not_exist.onnx", "no artefact at")
    add("onnx_custom_op", _write(f / "custom_op.onnx", _model(
        [helper.make_node("FancyEncoder", ["images"], ["codes"], domain="com.example")],
        [_value("images", ("b", 64, 64, CHANNELS))], [_value("codes", ("b", CODE_DIM))],
        opsets=[helper.make_opsetid("com.example", 1)])), "operator onnxruntime cannot run")
    other = "cuda" if export.default_export_platform() == "cpu" else "cpu"
    add("jax_other_platform", write_jax(f / "other_platform.jaxexport", platforms=(other,)), f"exported for {other}")
    add("onnx_too_slow", _slow_onnx(f / "slow.onnx"), "too slow", "--max-ms-per-image", "1")
    add("onnx_hangs", str(f / "slow.onnx"), "did not return within", "--call-timeout", "0.01")
    add("huge_file", _sparse(f / "huge.onnx", 1025 * 2**20), "over the 1,024 MiB limit")
    add("python_missing_module", "python:factorbench_no_such_module:encode", "cannot import")
    return cases


def _write(path: Path, blob: bytes) -> Path:
    path.write_bytes(blob)
    return path


def _sparse(path: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space."""
    with open(path, "wb") as fh:
        fh.truncate(size)
    assert os.path.getsize(path) == size
    return path


def numpy_encoder(images: np.ndarray) -> np.ndarray:
    """The good encoder as plain Python, for ``python:module:numpy_encoder`` (trusted code) submissions."""
    return reference_codes(images)


# ------------------------------------------------------------------------- batch-dependent and hostile encoders
def _batch_flag_nodes(threshold: int, out: str) -> list:
    """ONNX nodes computing `out` = 1.0 when the batch holds more than `threshold` images, else 0.0 (shape [])."""
    return [helper.make_node("Shape", ["images"], ["shape"]),
            helper.make_node("Gather", ["shape", "zero_i"], ["batch"], axis=0),
            helper.make_node("Greater", ["batch", "threshold"], ["is_over"]),
            helper.make_node("Cast", ["is_over"], [out], to=TensorProto.FLOAT)], \
        [("zero_i", np.array(0, np.int64)), ("threshold", np.array(threshold, np.int64))]


def _position_nodes(out: str) -> tuple[list, list]:
    """ONNX nodes computing `out` [B, 1] = 0.01 * (position in the batch)."""
    nodes = [helper.make_node("Shape", ["images"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero_i"], ["batch"], axis=0),
             helper.make_node("Range", ["zero_i", "batch", "one_i"], ["positions"]),
             helper.make_node("Cast", ["positions"], ["positions_f"], to=TensorProto.FLOAT),
             helper.make_node("Unsqueeze", ["positions_f", "ax1"], ["column"]),
             helper.make_node("Mul", ["column", "step"], [out])]
    return nodes, [("zero_i", np.array(0, np.int64)), ("one_i", np.array(1, np.int64)),
                   ("ax1", np.array([1], np.int64)), ("step", np.array(0.01, np.float32))]


def hostile_artefacts(folder: Path) -> dict[str, Path]:
    """Encoders that pass the old validation but break the contract: codes that depend on the image's position or
    on the batch size, a code width equal to the batch size, and slow ones. Returns {id: path}."""
    import jax.numpy as jnp

    folder.mkdir(parents=True, exist_ok=True)
    params = encoder_params()
    good = lambda x: encoder_fn(params, x)  # noqa: E731
    f = folder
    out = {
        # jax.export: position in the batch, batch size over 16 or over the scorer's 256, a neighbour's image
        "jax_position": write_jax(f / "position.jaxexport", lambda x: good(x) + 0.01 * jnp.arange(
            x.shape[0], dtype=jnp.float32)[:, None]),
        "jax_batch_over_16": write_jax(f / "over16.jaxexport", lambda x: good(x) * jnp.where(
            jnp.asarray(x.shape[0]) > 16, 0.5, 1.0)),
        "jax_batch_over_256": write_jax(f / "over256.jaxexport", lambda x: good(x) + jnp.where(
            jnp.asarray(x.shape[0]) > 256, 0.2, 0.0)),
        "jax_neighbour": write_jax(f / "neighbour.jaxexport", lambda x: good(x) + 0.2 * jnp.roll(good(x), 1, 0)),
        "jax_width_is_batch": write_jax(f / "width_b.jaxexport", lambda x: jnp.broadcast_to(
            good(x)[:, :1], (x.shape[0], x.shape[0]))),
    }
    # ONNX: a fixed batch of 16 with an offset per position (passes the old 3-image check at positions 0-2 of 16)
    offsets = (0.01 * np.arange(16, dtype=np.float32))[:, None] * np.ones((1, CODE_DIM), np.float32)
    nodes, inits = _linear_nodes("lin")
    out["onnx_position_fixed16"] = _write(f / "position16.onnx", _model(
        nodes + [helper.make_node("Add", ["lin", "pos"], ["codes"])], [_value("images", (16, 64, 64, CHANNELS))],
        [_value("codes", (16, CODE_DIM))], inits + [("pos", offsets)]))
    pos_nodes, pos_inits = _position_nodes("shift")
    out["onnx_position"] = _onnx_variant(f / "position.onnx", pos_nodes + [
        helper.make_node("Add", ["lin", "shift"], ["codes"])], ("b", CODE_DIM), extra_inits=pos_inits)
    flag_nodes, flag_inits = _batch_flag_nodes(16, "over")
    out["onnx_batch_over_16"] = _onnx_variant(f / "over16.onnx", flag_nodes + [
        helper.make_node("Mul", ["over", "bump"], ["shift"]),
        helper.make_node("Add", ["lin", "shift"], ["codes"])], ("b", CODE_DIM),
        extra_inits=flag_inits + [("bump", np.array(0.3, np.float32))])
    out["onnx_width_is_batch"] = _onnx_variant(f / "width_run.onnx", [
        helper.make_node("Transpose", ["lin"], ["lin_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["lin", "lin_t"], ["codes"])], ("b", "d"))
    return out


HOSTILE_PYTHON = '''
"""Trusted-code encoders that misbehave (written by the tests; imported by the encoder's child process)."""
import os
import sys
import time

import numpy as np

_calls = {"n": 0}


def _good(x):
    flat = np.asarray(x, np.float32).reshape(len(x), -1)
    return np.tanh(flat.reshape(len(x), 4, -1).mean(axis=2) * 1.7 + np.linspace(0.05, 0.35, 4, dtype=np.float32))


def exit_in_call(x):
    os._exit(0)


def exit_later(x):
    _calls["n"] += 1
    if _calls["n"] > 20:  # after validation: while scoring
        os._exit(0)
    return _good(x)


def system_exit(x):
    raise SystemExit(0)


def hang(x):
    time.sleep(600)


def slow_when_scoring(x):
    _calls["n"] += 1
    if _calls["n"] > 20:
        time.sleep(600)
    return _good(x)


def drip_when_scoring(x):
    _calls["n"] += 1
    if _calls["n"] > 20:
        time.sleep(0.6)
    return _good(x)


def noisy_failure(x):
    print("lots of output\\n" * 50)
    print("and on stderr\\n" * 50, file=sys.stderr)
    raise RuntimeError("encoder broke\\nwith a second line")


def returns_pair(x):
    return _good(x), _good(x)


def segfault(x):
    import ctypes
    ctypes.string_at(0)
'''


def hostile_python(folder: Path) -> str:
    """Write the misbehaving trusted-code modules into `folder` (to be put on sys.path); returns the main module's
    name. Also writes `fb_exit_at_import` and `fb_sleep_at_import`, whose import itself misbehaves."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fb_hostile_encoders.py").write_text(HOSTILE_PYTHON)
    (folder / "fb_exit_at_import.py").write_text("import os\nos._exit(0)\n")
    (folder / "fb_sleep_at_import.py").write_text("import time\ntime.sleep(600)\n")
    return "fb_hostile_encoders"
