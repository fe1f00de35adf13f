"""FactorVAE objective: reconstruction + KL + gamma * TC, TC estimated by a discriminator (density-ratio trick).

References:
    Kim and Mnih, "Disentangling by Factorising", ICML 2018 (https://arxiv.org/abs/1802.05983), Eq. 2 and Alg. 1.

This file provides the VAE loss `factor_vae`, the `Discriminator` (6 x [dense 1000, leaky ReLU 0.2] -> 2 logits,
Glorot-uniform kernels, zero biases), its loss `discriminator_loss`, `permute_dims` (the "fake" samples) and
`DISCRIMINATOR_OPTIMIZER` (Adam lr 1e-4, b1 0.5, b2 0.9, eps 1e-8). One training iteration, as in dlib:

    logits_real = D(z)                      # z: the reparameterised sample of this batch
    vae_loss = factor_vae(..., discriminator_logits=logits_real, gamma=g)     # update encoder + decoder only
    logits_perm = D(permute_dims(stop_gradient(z), key))
    d_loss = discriminator_loss(D(stop_gradient(z)), logits_perm)             # update D only, its own Adam

Differs from disentanglement_lib: same losses. The fake samples are the same batch with each latent dimension permuted
independently across the batch (dlib's `shuffle_codes`), not a second batch as in the paper. dlib's discriminator loss
clips the softmax probabilities to [1e-6, 1 - 1e-6] before the log; ours does the same. dlib advanced its global step
twice per iteration (once per optimizer), so "300k steps" were about 150k updates; the loss here has no step
dependence, and the training engine decides how many updates to run. dlib has no default gamma (gin REQUIRED); ours is
10, the first value of the study grid 10, 20, 30, 40, 50, 100.
"""

from __future__ import annotations

from typing import Annotated

import jax
import jax.numpy as jnp
from flax import nnx

from factorbench.models.objectives._common import finish, vae_terms
from factorbench.models.objectives._domain import WEIGHT

# The discriminator's optimizer in dlib's study (shared.gin): Adam with these settings; the VAE keeps Adam(1e-4).
DISCRIMINATOR_OPTIMIZER = {"learning_rate": 1e-4, "b1": 0.5, "b2": 0.9, "eps": 1e-8}
_PROBABILITY_CLIP = 1e-6


class Discriminator(nnx.Module):
    """FactorVAE's discriminator: `depth` x [dense `width`, leaky ReLU] then a dense layer with 2 logits.

    Logit 0 scores "a sample of q(z)" (real), logit 1 "a sample of prod_d q(z_d)" (permuted).
    """

    def __init__(
        self,
        num_latents: int,
        *,
        width: int = 1000,
        depth: int = 6,
        negative_slope: float = 0.2,
        rngs: nnx.Rngs,
    ) -> None:
        init = nnx.initializers.glorot_uniform()
        sizes = [num_latents] + [width] * depth
        self.hidden = nnx.List(
            [nnx.Linear(a, b, kernel_init=init, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:], strict=True)]
        )
        self.out = nnx.Linear(sizes[-1], 2, kernel_init=init, rngs=rngs)
        self.negative_slope = negative_slope

    def __call__(self, z: jax.Array) -> jax.Array:
        """Logits (B, 2) of z (B, D)."""
        h = z.reshape(z.shape[0], -1)
        for layer in self.hidden:
            h = jax.nn.leaky_relu(layer(h), self.negative_slope)
        return self.out(h)


def permute_dims(z: jax.Array, key: jax.Array) -> jax.Array:
    """Permute each latent dimension independently across the batch: samples of prod_d q(z_d).

    Column d of the result is a permutation of column d of z, drawn independently for every d.
    """
    order = jnp.argsort(jax.random.uniform(key, z.shape), axis=0)
    return jnp.take_along_axis(z, order, axis=0)


def _clipped_log_probabilities(logits: jax.Array) -> jax.Array:
    probabilities = jax.nn.softmax(jnp.asarray(logits, jnp.float32), axis=-1)
    return jnp.log(jnp.clip(probabilities, _PROBABILITY_CLIP, 1.0 - _PROBABILITY_CLIP))


def discriminator_loss(logits_real: jax.Array, logits_permuted: jax.Array) -> jax.Array:
    """The discriminator's loss (to minimise): -(0.5 E[log p_0(z)] + 0.5 E[log p_1(z_permuted)]).

    Args:
        logits_real: discriminator logits (B, 2) on the batch's samples z.
        logits_permuted: discriminator logits (B, 2) on `permute_dims(z)`.

    Returns:
        Scalar; log(2) ~ 0.693 for a discriminator that cannot tell the two apart, 0 for a perfect one.
    """
    log_p_real = _clipped_log_probabilities(logits_real)[:, 0]
    log_p_permuted = _clipped_log_probabilities(logits_permuted)[:, 1]
    return -(0.5 * jnp.mean(log_p_real) + 0.5 * jnp.mean(log_p_permuted))


def factor_vae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    discriminator_logits: jax.Array,
    gamma: Annotated[float, WEIGHT] = 10.0,
) -> tuple[jax.Array, dict]:
    """FactorVAE loss for the encoder and decoder: reconstruction + KL + gamma * TC.

    Args:
        x, logits, mean, logvar, z, step: as in `beta_vae`; z and step are unused here (the discriminator saw z).
        discriminator_logits: the discriminator's logits (B, 2) on z, computed so that gradients flow into z.
        gamma: weight of the total-correlation term.

    Returns:
        (loss, aux); aux adds "tc", the batch mean of logit_0 - logit_1 (the density-ratio estimate of TC).
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    tc = jnp.mean(discriminator_logits[:, 0] - discriminator_logits[:, 1])
    return finish(reconstruction + kl + gamma * tc, reconstruction, kl, tc=tc)
