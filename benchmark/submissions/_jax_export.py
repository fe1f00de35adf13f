"""Load a `jax.export` artefact (serialized StableHLO): deserialize, check, call. No submitter Python runs.

A deserialized module could still name custom calls registered in jaxlib, so modules that disabled jax's safety
checks or call targets outside jax's guaranteed-stable list are refused.
"""

from __future__ import annotations

import re

import numpy as np

from factorbench.benchmark.submissions._artefact import (
    Artefact,
    check_input_shape,
    check_output_shape,
    one_line,
)
from factorbench.benchmark.submissions._contract import SubmissionError

_CUSTOM_CALL = re.compile(r"stablehlo\.custom_call\s+@([\w$.\-]+)|call_target_name\s*=\s*\"([^\"]+)\"")


def load_jax_export(blob: bytes, channels: int, *, name: str = "artefact") -> Artefact:
    """Deserialize a `jax.export.Exported` from `blob` and check it against the contract."""
    import jax
    from jax import export

    try:
        exported = export.deserialize(bytearray(blob))
        in_avals, out_avals = exported.in_avals, exported.out_avals
    except Exception as err:  # flatbuffers raises anything from struct.error to UnicodeDecodeError
        raise SubmissionError(f"{name} is not a readable jax.export artefact (truncated, corrupt, or another "
                              f"format?): {one_line(err)}") from None
    if len(in_avals) != 1:
        raise SubmissionError(f"{name}: the exported function takes {len(in_avals)} arrays; it must take the images "
                              "alone, with the weights closed over (use factorbench.benchmark.export_encoder)")
    if len(out_avals) != 1:
        raise SubmissionError(f"{name}: the exported function returns {len(out_avals)} arrays; it must return one "
                              "[batch, D] array of codes")
    image_aval, code_aval = in_avals[0], out_avals[0]
    if image_aval.dtype != np.float32:
        raise SubmissionError(f"{name}: input dtype is {image_aval.dtype}; the contract is float32 images in [0, 1]")
    batch_size = check_input_shape(name, tuple(image_aval.shape), channels)
    check_output_shape(name, tuple(code_aval.shape), batch=image_aval.shape[0])
    if len(code_aval.shape) == 2 and not isinstance(code_aval.shape[1], (int, np.integer)):
        # The input's batch is the only symbol an export can have, so a symbolic width is a function of it.
        raise SubmissionError(f"{name}: the output width is {code_aval.shape[1]}, which changes with the batch size "
                              "(input batch dimension "
                              f"{image_aval.shape[0]}); D must be a fixed number, the same for every batch")
    if not np.issubdtype(code_aval.dtype, np.floating):
        raise SubmissionError(f"{name}: output dtype is {code_aval.dtype}; codes must be floating point")
    platform = export.default_export_platform()
    if platform not in exported.platforms:
        raise SubmissionError(f"{name} was exported for {', '.join(exported.platforms)} but this machine runs "
                              f"{platform}; export with platforms=('cpu', 'cuda')")
    if exported.nr_devices != 1:
        raise SubmissionError(f"{name} was exported for {exported.nr_devices} devices; export for one device")
    if exported.disabled_safety_checks:
        raise SubmissionError(f"{name} was exported with jax safety checks disabled "
                              f"({', '.join(map(str, exported.disabled_safety_checks))}); export without them")
    _check_custom_calls(exported, name)
    compiled = jax.jit(exported.call)

    def call(images: np.ndarray) -> np.ndarray:
        return np.asarray(compiled(images))

    return Artefact(spec=name, format="jax.export", call=call, batch_size=batch_size,
                    info={"platforms": list(exported.platforms), "function": exported.fun_name,
                          "calling_convention_version": exported.calling_convention_version})


def _stable_targets() -> set[str]:
    try:  # jax's own list; private, so fall back to the targets plain jax code emits on CPU
        from jax._src.export._export import _CUSTOM_CALL_TARGETS_GUARANTEED_STABLE
    except ImportError:
        return {"shape_assertion", "Sharding", "SPMDFullToShardShape", "SPMDShardToFullShape"}
    return set(_CUSTOM_CALL_TARGETS_GUARANTEED_STABLE)


def _check_custom_calls(exported, name: str) -> None:
    try:
        text = exported.mlir_module()
    except Exception as err:
        raise SubmissionError(f"{name}: its StableHLO module does not parse (corrupt file?): {one_line(err)}") from None
    targets = {a or b for a, b in _CUSTOM_CALL.findall(text)}
    unknown = sorted(targets - _stable_targets())
    if unknown:
        raise SubmissionError(f"{name} calls custom targets outside jax's stable set ({', '.join(unknown)}); "
                              "export plain jax code")
