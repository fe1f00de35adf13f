"""disentanglement_lib's encoder/decoder pairs in flax NNX (shared/reference/disentanglement_lib.md sec. 2.1).

* ``"conv"`` (the Locatello et al. 2019 study): `ConvEncoder` + `DeconvDecoder`.
* ``"fc"`` (beta-VAE paper, Table 1 row 1; not in the study sweep): `FCEncoder` + `FCDecoder`.

Every kernel is Glorot-uniform and every bias zero, as with TF1's `tf.layers` defaults (Flax's own
default is LeCun-normal). Convolutions use TF's "same" padding, so the decoder goes 4->8->16->32->64.
The channel count comes from the dataset. The decoder returns logits; the objectives apply the sigmoid.

Differs from disentanglement_lib: nothing in the maths. The convolutions are computed by default in
a faster but equivalent formulation (see `factorbench.models.layers`); ``formulation="lax"`` gives
the textbook one.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from factorbench.models.layers import DEFAULT_FORMULATION, Conv, ConvTranspose, dense

IMAGE_SIZE = 64


class ConvEncoder(nnx.Module):
    """conv 32 k4 s2 -> conv 32 k4 s2 -> conv 64 k2 s2 -> conv 64 k2 s2 -> dense 256 -> means, log-variances.

    All ReLU; layers 3 and 4 have 2x2 kernels, as in dlib's code (many re-implementations use 4x4).
    """

    def __init__(self, channels: int, num_latents: int = 10, *, formulation: str = DEFAULT_FORMULATION,
                 rngs: nnx.Rngs):
        spec = ((channels, 32, 4), (32, 32, 4), (32, 64, 2), (64, 64, 2))
        self.convs = nnx.List([Conv(i, o, k, 2, formulation=formulation, rngs=rngs) for i, o, k in spec])
        self.hidden = dense(4 * 4 * 64, 256, rngs=rngs)
        self.means = dense(256, num_latents, rngs=rngs)
        self.log_var = dense(256, num_latents, rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        for conv in self.convs:
            x = jax.nn.relu(conv(x))
        h = jax.nn.relu(self.hidden(x.reshape(x.shape[0], -1)))
        return self.means(h), self.log_var(h)


class DeconvDecoder(nnx.Module):
    """dense 256 -> dense 1024 -> 4x4x64 -> deconv 64, 32, 32 (k4 s2, ReLU) -> deconv C (k4 s2) = logits."""

    def __init__(self, channels: int, num_latents: int = 10, *, formulation: str = DEFAULT_FORMULATION,
                 rngs: nnx.Rngs):
        self.hidden1 = dense(num_latents, 256, rngs=rngs)
        self.hidden2 = dense(256, 1024, rngs=rngs)
        spec = ((64, 64), (64, 32), (32, 32), (32, channels))
        self.deconvs = nnx.List([ConvTranspose(i, o, 4, 2, formulation=formulation, rngs=rngs) for i, o in spec])

    def __call__(self, z: jax.Array) -> jax.Array:
        h = jax.nn.relu(self.hidden2(jax.nn.relu(self.hidden1(z))))
        h = h.reshape(z.shape[0], 4, 4, 64)
        for deconv in self.deconvs[:-1]:
            h = jax.nn.relu(deconv(h))
        return self.deconvs[-1](h)


class FCEncoder(nnx.Module):
    """flatten -> 1200 ReLU -> 1200 ReLU -> means, log-variances."""

    def __init__(self, channels: int, num_latents: int = 10, *, formulation: str = DEFAULT_FORMULATION,
                 rngs: nnx.Rngs):
        del formulation  # no convolutions
        self.hidden1 = dense(IMAGE_SIZE * IMAGE_SIZE * channels, 1200, rngs=rngs)
        self.hidden2 = dense(1200, 1200, rngs=rngs)
        self.means = dense(1200, num_latents, rngs=rngs)
        self.log_var = dense(1200, num_latents, rngs=rngs)

    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        h = jax.nn.relu(self.hidden1(x.reshape(x.shape[0], -1)))
        h = jax.nn.relu(self.hidden2(h))
        return self.means(h), self.log_var(h)


class FCDecoder(nnx.Module):
    """1200 tanh x 3 -> 64*64*C -> reshape = logits."""

    def __init__(self, channels: int, num_latents: int = 10, *, formulation: str = DEFAULT_FORMULATION,
                 rngs: nnx.Rngs):
        del formulation
        self.shape = (IMAGE_SIZE, IMAGE_SIZE, channels)
        self.hidden = nnx.List([dense(i, 1200, rngs=rngs) for i in (num_latents, 1200, 1200)])
        self.out = dense(1200, math.prod(self.shape), rngs=rngs)

    def __call__(self, z: jax.Array) -> jax.Array:
        h = z
        for layer in self.hidden:
            h = jnp.tanh(layer(h))
        return self.out(h).reshape(z.shape[0], *self.shape)


ARCHITECTURES: dict[str, tuple[type[nnx.Module], type[nnx.Module]]] = {
    "conv": (ConvEncoder, DeconvDecoder),
    "fc": (FCEncoder, FCDecoder),
}


def make_encoder_decoder(architecture: str, channels: int, num_latents: int = 10, *,
                         formulation: str = DEFAULT_FORMULATION, rngs: nnx.Rngs) -> tuple[nnx.Module, nnx.Module]:
    """The (encoder, decoder) pair registered under `architecture`."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}")
    enc_cls, dec_cls = ARCHITECTURES[architecture]
    return (enc_cls(channels, num_latents, formulation=formulation, rngs=rngs),
            dec_cls(channels, num_latents, formulation=formulation, rngs=rngs))
