"""Latent quantization (Hsu et al., NeurIPS 2023), shared by qlae and qlvae: the quantizer module and its two losses.

A continuous code z_c (B, D) is snapped, dimension by dimension, to the nearest value of that dimension's own scalar
codebook v_d (V values, learnable, initialised to linspace(-0.5, 0.5, V)). The decoder sees the straight-through
estimate z_c + stop_gradient(z_q - z_c): the forward value is z_q, the gradient goes to z_c unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

# Optimizer settings of Hsu et al. that the loss cannot express: AdamW weight decay 0.1 on every weight except biases
# and the codebooks (their code labels those "unregularized"); they also train with lr 1e-3, batch 128 and global-norm
# clipping at 1. factorbench keeps the study's Adam(1e-4) and batch 64 unless told otherwise, but should apply the
# weight decay: without it the decoder can undo the quantization's structure (Hsu et al. Sec. 4).
QUANTIZED_OPTIMIZER = {"weight_decay": 0.1}


class Codebook(nnx.Param):
    """The quantizer's values: a Param subtype, so an optimizer can exclude it from weight decay."""


class Quantized(NamedTuple):
    """Output of `LatentQuantizer`: z (straight-through, feed the decoder), quantized (z_q), indices (int32)."""

    z: jax.Array
    quantized: jax.Array
    indices: jax.Array


class LatentQuantizer(nnx.Module):
    """Per-dimension scalar codebooks with nearest-value quantization and a straight-through gradient.

    Args:
        num_latents: D, the code size.
        num_values: V, values per dimension (Hsu et al. use 10).
        low, high: the initial values are linspace(low, high, V) in every dimension.
        learnable: if False the values stay fixed (their gradient is stopped).
    """

    def __init__(
        self, num_latents: int, num_values: int = 10, *, low: float = -0.5, high: float = 0.5, learnable: bool = True
    ) -> None:
        values = jnp.linspace(low, high, num_values, dtype=jnp.float32)
        self.values = Codebook(jnp.tile(values[None, :], (num_latents, 1)))
        self.learnable = learnable

    def __call__(self, z_continuous: jax.Array) -> Quantized:
        """Quantize z_continuous (B, D)."""
        values = self.values[...]
        if not self.learnable:
            values = jax.lax.stop_gradient(values)
        distances = jnp.abs(z_continuous[:, :, None] - values[None, :, :])  # (B, D, V)
        indices = jnp.argmin(distances, axis=-1).astype(jnp.int32)
        quantized = jnp.take_along_axis(values[None, :, :], indices[:, :, None], axis=-1)[:, :, 0]
        z = z_continuous + jax.lax.stop_gradient(quantized - z_continuous)
        return Quantized(z=z, quantized=quantized, indices=indices)


def quantization_terms(z_continuous: jax.Array, z_quantized: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(quantization loss, commitment loss), each a mean over batch and dimensions of a squared distance.

    quantization = mean (stop_gradient(z_c) - z_q)^2 moves the codebook values to the codes;
    commitment = mean (z_c - stop_gradient(z_q))^2 moves the codes to the values.
    """
    quantization = jnp.mean(jnp.square(jax.lax.stop_gradient(z_continuous) - z_quantized))
    commitment = jnp.mean(jnp.square(z_continuous - jax.lax.stop_gradient(z_quantized)))
    return quantization, commitment
