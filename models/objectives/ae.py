"""Deterministic autoencoder objective: reconstruction only.

References:
    Hinton and Salakhutdinov, "Reducing the Dimensionality of Data with Neural Networks", Science 2006; the AE
    baseline of Hsu et al., "Disentanglement via Latent Quantization", NeurIPS 2023 (https://arxiv.org/abs/2305.18378).

Differs from disentanglement_lib: dlib has no plain autoencoder. The decoder is fed the encoder mean (z = mean). The
"kl" that aux reports is a diagnostic outside the loss: KL(N(mean, I) || N(0, I)) = 0.5 * |mean|^2 summed over
dimensions, batch mean. It ignores `logvar`, which a deterministic encoder never trains.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from factorbench.models.objectives._common import finish, vae_terms


def ae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
) -> tuple[jax.Array, dict]:
    """Autoencoder loss: batch mean of the summed sigmoid cross-entropy. Returns (loss, aux)."""
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, jnp.zeros_like(logvar))
    return finish(reconstruction, reconstruction, jax.lax.stop_gradient(kl))
