"""QLVAE objective: a VAE whose posterior mean is quantized (latent quantization with a Gaussian posterior).

References:
    Hsu, Dorrell, Whittington, Wu and Finn, "Disentanglement via Latent Quantization", NeurIPS 2023
    (https://arxiv.org/abs/2305.18378): latent quantization applied to a VAE.

Wiring (done by the training engine): the encoder gives (mean, logvar); `LatentQuantizer(D)(mean)` gives
(z_hat, z_q, indices); the decoder is fed z = z_hat + exp(logvar / 2) * eps, a sample around the straight-through
quantized mean; pass z_continuous = mean and z_quantized = z_q. The KL is that of the continuous posterior
N(mean, exp(logvar)). Weight decay belongs to the optimizer: see `QUANTIZED_OPTIMIZER`.

Differs from disentanglement_lib and from Hsu et al.: dlib has no QLVAE, and Hsu et al.'s public code has no VAE
variant with quantization, so this wiring is ours. Like `qlae`, the cross-entropy is summed over the P pixels and the
latent terms are multiplied by P (Hsu et al.'s per-pixel units); the KL is summed over dimensions, which matches
their VAE (they rescale a per-dimension mean KL by D / P against a per-pixel mean cross-entropy).
"""

from __future__ import annotations

import math
from typing import Annotated

import jax

from factorbench.models.objectives._common import finish, vae_terms
from factorbench.models.objectives._domain import WEIGHT
from factorbench.models.objectives._quantization import (
    QUANTIZED_OPTIMIZER,
    Codebook,
    LatentQuantizer,
    Quantized,
    quantization_terms,
)

__all__ = ["QUANTIZED_OPTIMIZER", "Codebook", "LatentQuantizer", "Quantized", "qlvae"]


def qlvae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    z_continuous: jax.Array,
    z_quantized: jax.Array,
    beta: Annotated[float, WEIGHT] = 1.0,
    quantization_weight: Annotated[float, WEIGHT] = 0.01,
    commitment_weight: Annotated[float, WEIGHT] = 0.01,
) -> tuple[jax.Array, dict]:
    """QLVAE loss: reconstruction + beta * KL + P * (w_q * quantization + w_c * commitment).

    w_q = quantization_weight, w_c = commitment_weight. Arguments as in `qlae`, plus beta, the weight of the KL of
    N(mean, exp(logvar)) to N(0, I). Returns (loss, aux); aux adds "quantization" and "commitment".
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    quantization, commitment = quantization_terms(z_continuous, z_quantized)
    pixels = math.prod(x.shape[1:])
    latent = pixels * (quantization_weight * quantization + commitment_weight * commitment)
    return finish(
        reconstruction + beta * kl + latent,
        reconstruction,
        kl,
        quantization=quantization,
        commitment=commitment,
    )
