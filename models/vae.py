"""The trainable model of one ensemble member: encoder, decoder and the objective's extra parts, as pure functions.

`build(...)` makes the NNX modules of one member and splits them into a static graph definition and a
parameter pytree; everything after that (`forward`, the representation functions, the train step) is a
pure function of parameters, so members can be stacked along a leading axis and trained in one program.

How each objective kind is wired (the objectives themselves are in `factorbench.models.objectives`):

* ``vae``: z = mean + exp(logvar / 2) * eps, eps ~ N(0, I) (dlib's `sample_from_latent_distribution`).
* ``ae``: z = mean (the log-variance head exists but receives no gradient).
* ``factor_vae``: as vae, plus the `Discriminator`, whose parameters live apart from the VAE's (they have
  their own Adam); the VAE loss gets `discriminator_logits = D(z)`.
* ``quantized`` (qlae, qlvae): a `LatentQuantizer` snaps the mean to per-dimension codebooks; the decoder gets
  the straight-through code (qlae), or a sample around it (qlvae); the loss gets z_continuous and z_quantized.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from factorbench.models.architectures import make_encoder_decoder
from factorbench.models.layers import DEFAULT_FORMULATION
from factorbench.models.objectives import ObjectiveSpec


class Autoencoder(nnx.Module):
    """Encoder + decoder (+ the latent quantizer for quantized objectives)."""

    def __init__(self, architecture: str, channels: int, num_latents: int, *, quantize: bool,
                 formulation: str = DEFAULT_FORMULATION, rngs: nnx.Rngs):
        self.encoder, self.decoder = make_encoder_decoder(architecture, channels, num_latents,
                                                          formulation=formulation, rngs=rngs)
        if quantize:
            from factorbench.models.objectives.qlae import LatentQuantizer

            self.quantizer = LatentQuantizer(num_latents)
        else:
            self.quantizer = None


@dataclasses.dataclass(frozen=True)
class ModelDef:
    """Static description of a member's model: hashable, so compiled functions can be cached on it."""

    architecture: str
    channels: int
    num_latents: int
    kind: str
    sampled: bool
    formulation: str = DEFAULT_FORMULATION

    @property
    def quantize(self) -> bool:
        return self.kind == "quantized"


def model_def(spec: ObjectiveSpec, architecture: str, channels: int, num_latents: int = 10,
              formulation: str = DEFAULT_FORMULATION) -> ModelDef:
    return ModelDef(architecture, channels, num_latents, spec.kind, spec.sampled, formulation)


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class Graphs:
    """The NNX graph definitions (static) of the autoencoder and, for FactorVAE, the discriminator."""

    model: Any
    discriminator: Any = None


def build(mdef: ModelDef, key: jax.Array) -> tuple[Graphs, dict]:
    """Initialise one member from `key`: (graph definitions, params) with params = {"model": ..., ["disc": ...]}."""
    model_key, disc_key = jax.random.split(key)
    model = Autoencoder(mdef.architecture, mdef.channels, mdef.num_latents, quantize=mdef.quantize,
                        formulation=mdef.formulation, rngs=nnx.Rngs(params=model_key))
    graph, params = nnx.split(model, nnx.Param)
    out = {"model": params}
    disc_graph = None
    if mdef.kind == "factor_vae":
        from factorbench.models.objectives.factor_vae import Discriminator

        disc_graph, disc_params = nnx.split(Discriminator(mdef.num_latents, rngs=nnx.Rngs(params=disc_key)),
                                            nnx.Param)
        out["disc"] = disc_params
    return Graphs(graph, disc_graph), out


def graphs_for(mdef: ModelDef) -> Graphs:
    """The autoencoder's graph definition for `mdef` without initialising weights (shapes only): lets trained
    params run under another formulation, e.g. the exported encoder's (the formulations share param trees)."""
    abstract = nnx.eval_shape(lambda: Autoencoder(mdef.architecture, mdef.channels, mdef.num_latents,
                                                  quantize=mdef.quantize, formulation=mdef.formulation,
                                                  rngs=nnx.Rngs(params=0)))
    return Graphs(nnx.split(abstract, nnx.Param)[0])


def encode(graphs: Graphs, params: dict, x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(mean, logvar) of images x (B, 64, 64, C) float32 in [0, 1]."""
    model = nnx.merge(graphs.model, params["model"])
    return model.encoder(x)


def decode(graphs: Graphs, params: dict, z: jax.Array) -> jax.Array:
    """Decoder logits (B, 64, 64, C) of latents z (B, D)."""
    model = nnx.merge(graphs.model, params["model"])
    return model.decoder(z)


def discriminate(graphs: Graphs, disc_params: Any, z: jax.Array) -> jax.Array:
    """FactorVAE discriminator logits (B, 2)."""
    return nnx.merge(graphs.discriminator, disc_params)(z)


def forward(mdef: ModelDef, graphs: Graphs, params: dict, x: jax.Array, key: jax.Array | None, *,
            posterior: Callable | None = None) -> dict:
    """One forward pass: the objective's positional inputs and its extra keyword inputs.

    Returns {"logits", "mean", "logvar", "z", "inputs": {extra keyword inputs}}. `key` draws eps; None
    uses the mean (eps = 0), as for evaluation-time reconstructions. `posterior(mean, logvar) -> (mean, logvar)`
    replaces the encoder's posterior before z is drawn (pair objectives share parts of it between the two images);
    "mean" and "logvar" are then the replaced ones.
    """
    model = nnx.merge(graphs.model, params["model"])
    mean, logvar = model.encoder(x)
    if posterior is not None:
        mean, logvar = posterior(mean, logvar)
    inputs: dict[str, jax.Array] = {}
    centre = mean
    if mdef.quantize:
        q = model.quantizer(mean)
        centre = q.z
        inputs = {"z_continuous": mean, "z_quantized": q.quantized}
    if mdef.sampled and key is not None:
        z = centre + jnp.exp(logvar / 2) * jax.random.normal(key, mean.shape, mean.dtype)
    else:
        z = centre
    if mdef.kind == "factor_vae":
        inputs["discriminator_logits"] = discriminate(graphs, params["disc"], z)
    return {"logits": model.decoder(z), "mean": mean, "logvar": logvar, "z": z, "inputs": inputs}


def representation(mdef: ModelDef, graphs: Graphs, params: dict, x: jax.Array, *, gaussian: bool) -> jax.Array:
    """The exported representation: means (B, D), or means then log-variances (B, 2D) if `gaussian`.

    Quantized models report the quantized means (the code the decoder sees). Deterministic encoders
    (ae, qlae) report log-variance -inf (zero variance), so mean + exp(logvar / 2) * eps equals the mean.
    """
    model = nnx.merge(graphs.model, params["model"])
    mean, logvar = model.encoder(x)
    if mdef.quantize:
        mean = model.quantizer(mean).quantized
    if not gaussian:
        return mean
    if not mdef.sampled:
        logvar = jnp.full_like(mean, -jnp.inf)
    return jnp.concatenate([mean, logvar], axis=1)
