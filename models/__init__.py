"""factorbench.models: dlib's architectures in flax NNX, the objectives, and the ensemble training engine.

>>> from factorbench.models import train_ensemble, load_encoder
>>> members = [{"seed": 0, "beta": 4.0}]
>>> dirs = train_ensemble("sprites", "beta_vae", members, steps=100, out_dir="runs")  # doctest: +SKIP
>>> encode = load_encoder(dirs[0] / "encoder_mean.jaxexport")  # doctest: +SKIP

Names are imported lazily, so `load_encoder` works without importing flax or the model code.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "train_ensemble": "factorbench.models.engine",
    "run_name": "factorbench.models.engine",
    "STUDY_STEPS": "factorbench.models.study_settings",
    "load_encoder": "factorbench.models.export",
    "export_encoder": "factorbench.models.export",
    "ARCHITECTURES": "factorbench.models.architectures",
    "make_encoder_decoder": "factorbench.models.architectures",
    "ConvEncoder": "factorbench.models.architectures",
    "DeconvDecoder": "factorbench.models.architectures",
    "FCEncoder": "factorbench.models.architectures",
    "FCDecoder": "factorbench.models.architectures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'factorbench.models' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
