"""Shared terms of the objectives: reconstruction, Gaussian KL, Gaussian log-density, DIP covariances.

Every objective builds its loss from these functions so that the reported "reconstruction" and "kl" mean the same thing
for every model. Functions return per-element values and leave the reduction to the caller, except `vae_terms` and
`finish`, which produce the batch means and the aux dict that the objective contract asks for.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_LOG_2PI = math.log(2.0 * math.pi)


def sigmoid_cross_entropy(logits: jax.Array, targets: jax.Array) -> jax.Array:
    """Elementwise sigmoid cross-entropy with continuous targets in [0, 1] (dlib's `bernoulli_loss` on logits).

    Written in the overflow-free form max(l, 0) - l * x + log(1 + exp(-|l|)).
    """
    logits = jnp.asarray(logits, jnp.float32)
    targets = jnp.asarray(targets, jnp.float32)
    return jnp.maximum(logits, 0.0) - logits * targets + jnp.log1p(jnp.exp(-jnp.abs(logits)))


def reconstruction_per_image(x: jax.Array, logits: jax.Array) -> jax.Array:
    """Sigmoid cross-entropy summed over all pixels and channels of each image: (B, H, W, C) -> (B,)."""
    if x.shape != logits.shape:
        raise ValueError(f"images {x.shape} and decoder logits {logits.shape} must have the same shape")
    nll = sigmoid_cross_entropy(logits, x)
    return jnp.sum(nll.reshape(nll.shape[0], -1), axis=1)


def gaussian_kl_per_dim(mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """KL(N(mean, exp(logvar)) || N(0, 1)) per latent dimension: (B, D) -> (B, D)."""
    return 0.5 * (jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0)


def gaussian_log_density(samples: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Elementwise log N(samples; mean, exp(logvar)), broadcasting its three arguments."""
    diff = samples - mean
    return -0.5 * (diff * diff * jnp.exp(-logvar) + logvar + _LOG_2PI)


def vae_terms(x: jax.Array, logits: jax.Array, mean: jax.Array, logvar: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Batch means of the per-image reconstruction and of the per-image summed KL: the two terms of the ELBO."""
    reconstruction = jnp.mean(reconstruction_per_image(x, logits))
    kl = jnp.mean(jnp.sum(gaussian_kl_per_dim(mean, logvar), axis=1))
    return reconstruction, kl


def mean_covariance(mean: jax.Array) -> jax.Array:
    """Biased covariance of the encoder means over the batch, E[mu mu^T] - E[mu] E[mu]^T: (B, D) -> (D, D)."""
    second_moment = jnp.mean(mean[:, :, None] * mean[:, None, :], axis=0)
    first_moment = jnp.mean(mean, axis=0)
    return second_moment - first_moment[:, None] * first_moment[None, :]


def dip_penalty_terms(covariance: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Unweighted DIP penalties of a (D, D) matrix: (sum of squared off-diagonal entries, sum of (diag - 1)^2)."""
    diagonal = jnp.diagonal(covariance)
    off_diagonal = covariance - jnp.diag(diagonal)
    return jnp.sum(jnp.square(off_diagonal)), jnp.sum(jnp.square(diagonal - 1.0))


def finish(loss: jax.Array, reconstruction: jax.Array, kl: jax.Array, **terms: jax.Array) -> tuple[jax.Array, dict]:
    """Package an objective's result: (loss, aux) where aux holds float32 scalars.

    aux always has "loss", "reconstruction", "kl", "elbo" (= -(reconstruction + kl), as dlib reports it) and
    "regularizer" (= loss - reconstruction), plus the objective's own terms.
    """
    loss = jnp.asarray(loss, jnp.float32)
    aux = {
        "loss": loss,
        "reconstruction": jnp.asarray(reconstruction, jnp.float32),
        "kl": jnp.asarray(kl, jnp.float32),
        "elbo": -jnp.asarray(reconstruction + kl, jnp.float32),
        "regularizer": jnp.asarray(loss - reconstruction, jnp.float32),
    }
    for name, value in terms.items():
        aux[name] = jnp.asarray(value, jnp.float32)
    return loss, aux
