"""factorbench.models.objectives: the training objectives, one pure function per file.

Every objective has the signature

    NAME(x, logits, mean, logvar, z, step, *, <hyperparameters with defaults>) -> (loss, aux)

x: (B, H, W, C) float32 targets in [0, 1]; logits: decoder output (B, H, W, C); mean, logvar: (B, D) posterior;
z: (B, D) the decoder input (the reparameterised sample, or the mean / quantized code for deterministic models);
step: the 0-based count of real updates (int32 scalar). aux is a dict of float32 scalars that always holds
"reconstruction" (batch mean of the per-image summed sigmoid cross-entropy), "kl" (batch mean of the summed KL to
N(0, I); for the deterministic ae and qlae the diagnostic 0.5 * |mean|^2, outside their loss), "loss", "elbo" and
"regularizer", plus the objective's own terms. Some objectives need extra keyword inputs
(`ObjectiveSpec.inputs`): factor_vae takes `discriminator_logits`, qlae/qlvae take `z_continuous` and `z_quantized`.
Hyperparameters may be traced values (jit arguments, or vmapped over an ensemble's members): no objective branches on
them in Python.

Note: the package attribute `factor_vae` (likewise `qlae`, ...) is the loss function. Import a file's other names from
the file: `from factorbench.models.objectives.factor_vae import Discriminator` (they are also re-exported here).

>>> from factorbench.models.objectives import OBJECTIVES
>>> spec = OBJECTIVES["beta_vae"]
>>> spec.sweep_param, dict(spec.defaults)
('beta', {'beta': 4.0})
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from factorbench.models.objectives import ada_gvae as _ada_gvae
from factorbench.models.objectives import ada_ml_vae as _ada_ml_vae
from factorbench.models.objectives import gvae_labels as _gvae_labels
from factorbench.models.objectives import ml_vae_labels as _ml_vae_labels
from factorbench.models.objectives._domain import Interval
from factorbench.models.objectives._quantization import QUANTIZED_OPTIMIZER, Codebook, LatentQuantizer, Quantized
from factorbench.models.objectives.ada_gvae import ada_gvae
from factorbench.models.objectives.ada_ml_vae import ada_ml_vae
from factorbench.models.objectives.ae import ae
from factorbench.models.objectives.annealed_vae import annealed_vae
from factorbench.models.objectives.beta_tc_vae import beta_tc_vae
from factorbench.models.objectives.beta_vae import beta_vae
from factorbench.models.objectives.dip_vae_i import dip_vae_i
from factorbench.models.objectives.dip_vae_ii import dip_vae_ii
from factorbench.models.objectives.factor_vae import (
    DISCRIMINATOR_OPTIMIZER,
    Discriminator,
    discriminator_loss,
    factor_vae,
    permute_dims,
)
from factorbench.models.objectives.gvae_labels import gvae_labels
from factorbench.models.objectives.ml_vae_labels import ml_vae_labels
from factorbench.models.objectives.qlae import qlae
from factorbench.models.objectives.qlvae import qlvae
from factorbench.models.objectives.vae import vae

_POSITIONAL = ("x", "logits", "mean", "logvar", "z", "step")
KINDS = ("ae", "vae", "factor_vae", "quantized")


@dataclasses.dataclass(frozen=True)
class ObjectiveSpec:
    """A registered objective.

    Attributes:
        name: registry name, also the file name under models/objectives/.
        loss: the pure loss function.
        defaults: its hyperparameters and their defaults, read from the function's signature.
        domains: the Interval each numeric hyperparameter declares beside its default
            (``beta: Annotated[float, Interval(0.0, 1e6)] = 4.0``); `hparams` and `check` refuse values outside.
        kind: "ae" (deterministic encoder), "vae" (Gaussian encoder), "factor_vae" (Gaussian encoder plus a
            discriminator with its own optimizer) or "quantized" (latent quantization, `LatentQuantizer`).
        sweep_param: the hyperparameter the Locatello et al. study sweeps (its values: STUDY_VALUES[name]), or None.
        sampled: whether the decoder input z is a reparameterised Gaussian sample (False: z is the mean or the code).
        inputs: extra keyword inputs the loss requires besides the six positional arguments.
        optimizer: optimizer hints of the method that differ from the study's Adam(1e-4) (e.g. weight decay).
        citation: the paper.
        batches: what one training batch holds: "single" observations, or "pairs" of observations sharing all
            but a few factors (`factorbench.models.step.SAMPLERS`).
        posterior: `posterior(mean, logvar, **batch extras) -> (mean, logvar)`, applied to the encoder's output
            before z is drawn (pair objectives share parts of the two posteriors), or None.
        batch_params: hyperparameters the batch sampler reads (a pair's `k`) rather than the loss.
        aliases: other names `get` accepts (disentanglement_lib's gin names).
    """

    name: str
    loss: Callable[..., Any]
    defaults: Mapping[str, Any]
    kind: str
    sweep_param: str | None
    sampled: bool = True
    inputs: tuple[str, ...] = ()
    optimizer: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    citation: str = ""
    domains: Mapping[str, Interval] = dataclasses.field(default_factory=dict)
    batches: str = "single"
    posterior: Callable[..., Any] | None = None
    batch_params: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    def check(self, hparams: Mapping[str, Any]) -> None:
        """Refuse a plain number outside its hyperparameter's declared domain (traced values are not checked)."""
        for name, value in hparams.items():
            domain = self.domains.get(name)
            if domain is None or not isinstance(value, (int, float)) or domain.contains(value):
                continue
            raise ValueError(f"{self.name}: {name}={value!r} is outside its domain; it must be {domain.describe()} "
                             f"(--{name.replace('_', '-')})")

    def bind(self, **hparams: Any) -> Callable[..., Any]:
        """The loss with hyperparameters fixed; an unknown hyperparameter name raises ValueError."""
        unknown = sorted(set(hparams) - set(self.defaults))
        if unknown:
            raise ValueError(
                f"objective {self.name!r} has no hyperparameter {', '.join(map(repr, unknown))}; "
                f"it takes {sorted(self.defaults) or 'none'}"
            )
        return functools.partial(self.loss, **hparams)

    def hparams(self, **overrides: Any) -> dict[str, Any]:
        """The full hyperparameter dict: defaults updated with overrides (validated like `bind`)."""
        self.bind(**overrides)
        self.check(overrides)
        return {**self.defaults, **overrides}


def _spec(loss: Callable[..., Any], kind: str, sweep_param: str | None, citation: str, **extra: Any) -> ObjectiveSpec:
    params = list(inspect.signature(loss).parameters.values())
    names = tuple(p.name for p in params[: len(_POSITIONAL)])
    if names != _POSITIONAL:
        raise TypeError(f"objective {loss.__name__} must take {_POSITIONAL} first, got {names}")
    keyword = params[len(_POSITIONAL) :]
    defaults = {p.name: p.default for p in keyword if p.default is not inspect.Parameter.empty}
    inputs = tuple(p.name for p in keyword if p.default is inspect.Parameter.empty)
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not one of {KINDS}")
    unread = set(extra.get("batch_params", ())) - set(defaults)
    if unread:
        raise ValueError(f"batch_params {sorted(unread)} are not hyperparameters of {loss.__name__}")
    if sweep_param is not None and sweep_param not in defaults:
        raise ValueError(f"sweep_param {sweep_param!r} is not a hyperparameter of {loss.__name__}")
    hints = typing.get_type_hints(loss, include_extras=True)
    domains = {name: _domain_of(loss.__name__, name, hints.get(name), default) for name, default in defaults.items()}
    return ObjectiveSpec(
        name=loss.__name__,
        loss=loss,
        defaults=MappingProxyType(defaults),
        kind=kind,
        sweep_param=sweep_param,
        inputs=inputs,
        citation=citation,
        domains=MappingProxyType(domains),
        **extra,
    )


def _domain_of(objective: str, name: str, hint: Any, default: Any) -> Interval | None:
    """The Interval in `name: Annotated[float, Interval(...)] = default`; numeric hyperparameters must declare one,
    and their default must lie in it."""
    found = [m for m in getattr(hint, "__metadata__", ()) if isinstance(m, Interval)]
    if not isinstance(default, (int, float)) or isinstance(default, bool):
        return found[0] if found else None
    if not found:
        raise TypeError(f"objective {objective}: hyperparameter {name} declares no domain; write "
                        f"{name}: Annotated[float, Interval(low, high)] = {default!r}")
    if not found[0].contains(default):
        raise TypeError(f"objective {objective}: default {name}={default!r} is outside its domain")
    return found[0]


OBJECTIVES: dict[str, ObjectiveSpec] = {
    spec.name: spec
    for spec in (
        _spec(ae, "ae", None, "Hinton and Salakhutdinov, Science 2006", sampled=False),
        _spec(vae, "vae", None, "Kingma and Welling, ICLR 2014"),
        _spec(beta_vae, "vae", "beta", "Higgins et al., ICLR 2017"),
        _spec(annealed_vae, "vae", "c_max", "Burgess et al., arXiv 1804.03599, 2018"),
        _spec(
            factor_vae,
            "factor_vae",
            "gamma",
            "Kim and Mnih, ICML 2018",
            optimizer={"discriminator": DISCRIMINATOR_OPTIMIZER},
        ),
        _spec(beta_tc_vae, "vae", "beta", "Chen et al., NeurIPS 2018"),
        _spec(dip_vae_i, "vae", "lambda_od", "Kumar et al., ICLR 2018"),
        _spec(dip_vae_ii, "vae", "lambda_od", "Kumar et al., ICLR 2018"),
        _spec(qlae, "quantized", None, "Hsu et al., NeurIPS 2023", sampled=False, optimizer=QUANTIZED_OPTIMIZER),
        _spec(qlvae, "quantized", None, "Hsu et al., NeurIPS 2023", optimizer=QUANTIZED_OPTIMIZER),
        *(
            _spec(loss, "vae", "beta", "Locatello et al., ICML 2020", batches="pairs",
                  posterior=module.posterior, batch_params=("k",), aliases=(alias,))
            for module, loss, alias in (
                (_ada_gvae, ada_gvae, "group_vae_argmax"),
                (_ada_ml_vae, ada_ml_vae, "mlvae_argmax"),
                (_gvae_labels, gvae_labels, "group_vae_labels"),
                (_ml_vae_labels, ml_vae_labels, "mlvae_labels"),
            )
        ),
    )
}
ALIASES: dict[str, str] = {alias: spec.name for spec in OBJECTIVES.values() for alias in spec.aliases}

# The Locatello et al. (ICML 2019) study grid: six values of sweep_param per method
# (disentanglement_lib config/unsupervised_study_v1/sweep.py; see shared/reference/disentanglement_lib.md sec 2.4).
STUDY_VALUES: dict[str, list[float]] = {
    "beta_vae": [1.0, 2.0, 4.0, 6.0, 8.0, 16.0],
    "factor_vae": [10.0, 20.0, 30.0, 40.0, 50.0, 100.0],
    "dip_vae_i": [1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
    "dip_vae_ii": [1.0, 2.0, 5.0, 10.0, 20.0, 50.0],
    "beta_tc_vae": [1.0, 2.0, 4.0, 6.0, 8.0, 10.0],
    "annealed_vae": [5.0, 10.0, 25.0, 50.0, 75.0, 100.0],
}


def names() -> list[str]:
    """The registered objective names."""
    return list(OBJECTIVES)


def get(name: str) -> ObjectiveSpec:
    """The spec of objective `name`; an unknown name raises ValueError with the closest matches."""
    try:
        return OBJECTIVES[ALIASES.get(name, name)]
    except KeyError:
        close = difflib.get_close_matches(name, OBJECTIVES, n=3)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else f" Known: {', '.join(OBJECTIVES)}."
        raise ValueError(f"unknown objective {name!r}.{hint}") from None


__all__ = [
    "ALIASES",
    "DISCRIMINATOR_OPTIMIZER",
    "KINDS",
    "OBJECTIVES",
    "QUANTIZED_OPTIMIZER",
    "STUDY_VALUES",
    "Codebook",
    "Discriminator",
    "Interval",
    "LatentQuantizer",
    "ObjectiveSpec",
    "Quantized",
    "ada_gvae",
    "ada_ml_vae",
    "ae",
    "annealed_vae",
    "beta_tc_vae",
    "beta_vae",
    "dip_vae_i",
    "dip_vae_ii",
    "discriminator_loss",
    "factor_vae",
    "get",
    "gvae_labels",
    "ml_vae_labels",
    "names",
    "permute_dims",
    "qlae",
    "qlvae",
    "vae",
]
