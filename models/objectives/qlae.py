"""QLAE objective: a deterministic autoencoder whose latents are quantized (latent quantization).

References:
    Hsu, Dorrell, Whittington, Wu and Finn, "Disentanglement via Latent Quantization", NeurIPS 2023
    (https://arxiv.org/abs/2305.18378), Sec. 4.

Wiring (done by the training engine): z_c = encoder mean; `LatentQuantizer(D)(z_c)` gives (z, z_q, indices); the
decoder is fed z (straight-through); pass z_continuous = z_c and z_quantized = z_q. Weight decay belongs to the
optimizer, not the loss: see `QUANTIZED_OPTIMIZER` (AdamW 0.1 on all weights but biases and the `Codebook`).

Differs from disentanglement_lib and from Hsu et al.: dlib has no QLAE. Hsu et al. average the cross-entropy over
pixels (weight 1) and add 0.01 x quantization + 0.01 x commitment (each a mean over dimensions). For one reconstruction
term across factorbench, ours sums the cross-entropy over the P = H * W * C pixels and multiplies the two latent terms
by P, i.e. our loss is P times theirs: the same minimiser, and under Adam the same updates up to eps. Hsu et al. use
2 x (number of factors) latents and lr 1e-3 / batch 128; factorbench keeps the study's 10 latents, Adam 1e-4 and
batch 64 unless told otherwise.
"""

from __future__ import annotations

import math
from typing import Annotated

import jax
import jax.numpy as jnp

from factorbench.models.objectives._common import finish, vae_terms
from factorbench.models.objectives._domain import WEIGHT
from factorbench.models.objectives._quantization import (
    QUANTIZED_OPTIMIZER,
    Codebook,
    LatentQuantizer,
    Quantized,
    quantization_terms,
)

__all__ = ["QUANTIZED_OPTIMIZER", "Codebook", "LatentQuantizer", "Quantized", "qlae"]


def qlae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    z_continuous: jax.Array,
    z_quantized: jax.Array,
    quantization_weight: Annotated[float, WEIGHT] = 0.01,
    commitment_weight: Annotated[float, WEIGHT] = 0.01,
) -> tuple[jax.Array, dict]:
    """QLAE loss: reconstruction + P * (quantization_weight * quantization + commitment_weight * commitment).

    Args:
        x, logits: targets and decoder logits (B, H, W, C); P = H * W * C.
        mean, logvar: encoder outputs (B, D); outside the loss. aux["kl"] is the diagnostic 0.5 * |mean|^2 (the KL of
            N(mean, I) to N(0, I)), as for `ae`; logvar is ignored.
        z, step: unused.
        z_continuous: the encoder's continuous code (B, D).
        z_quantized: its quantized value from `LatentQuantizer` (B, D), with gradients to the codebook.
        quantization_weight, commitment_weight: weights relative to the per-pixel mean cross-entropy (Hsu et al.).

    Returns:
        (loss, aux); aux adds "quantization" and "commitment" (unweighted means).
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, jnp.zeros_like(logvar))
    quantization, commitment = quantization_terms(z_continuous, z_quantized)
    pixels = math.prod(x.shape[1:])
    latent = pixels * (quantization_weight * quantization + commitment_weight * commitment)
    return finish(
        reconstruction + latent,
        reconstruction,
        jax.lax.stop_gradient(kl),
        quantization=quantization,
        commitment=commitment,
    )
