"""Shared parts of the weakly-supervised pair objectives (Locatello et al., ICML 2020, arXiv 2002.02886, Sec. 4).

A pair batch stacks B first observations and their B partners ("x": (2B, H, W, C), `factorbench.models.step.
pair_sampler`); the encoder's posteriors (2B, D) are split into the two halves, the dimensions judged *shared* are
replaced by a combination of the two posteriors, the *unshared* ones keep each image's own, and z is drawn from
the result (`pair_posterior`, run by the model's forward pass before sampling). The loss is then beta-VAE's on the
2B aggregated posteriors: the mean of both reconstructions plus beta times the mean of both KLs to N(0, I)
(dlib `methods/weak/weak_vae.py`, `GroupVAEBase.model_fn`).

Differs from disentanglement_lib: the same formulas, written in an overflow-free form (log of the mean variance as
`logaddexp(l1, l2) - log 2`; the ML-VAE mean as a sigmoid-weighted average), equal to dlib's in exact arithmetic.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from factorbench.models.objectives._common import finish, vae_terms

_LOG_2 = math.log(2.0)


def pair_kl(mean_1: jax.Array, logvar_1: jax.Array, mean_2: jax.Array, logvar_2: jax.Array) -> jax.Array:
    """dlib's `compute_kl`: 2 KL(N(mean_1, var_1) || N(mean_2, var_2)) per dimension (only its ranking matters)."""
    return (jnp.exp(logvar_1 - logvar_2) + jnp.square(mean_2 - mean_1) * jnp.exp(-logvar_2) - 1.0
            + logvar_2 - logvar_1)


def group_average(mean_1, logvar_1, mean_2, logvar_2) -> tuple[jax.Array, jax.Array]:
    """Group-VAE (Hosoya 2019): the mean of the means, the log of the mean of the variances."""
    return 0.5 * mean_1 + 0.5 * mean_2, jnp.logaddexp(logvar_1, logvar_2) - _LOG_2


def product_of_experts(mean_1, logvar_1, mean_2, logvar_2) -> tuple[jax.Array, jax.Array]:
    """ML-VAE (Bouchacourt et al. 2018) as dlib writes it: the product of the two Gaussians' mean
    (m1 / v1 + m2 / v2) / (1 / v1 + 1 / v2), and variance 2 v1 v2 / (v1 + v2), the harmonic mean of the two
    (twice the product's variance v1 v2 / (v1 + v2); dlib's `MLVae.model_fn`, kept so that results match it)."""
    mean = mean_1 * jax.nn.sigmoid(logvar_2 - logvar_1) + mean_2 * jax.nn.sigmoid(logvar_1 - logvar_2)
    return mean, _LOG_2 + logvar_1 + logvar_2 - jnp.logaddexp(logvar_1, logvar_2)


def adaptive_unshared(kl: jax.Array, label: jax.Array) -> jax.Array:
    """dlib's `aggregate_argmax`: per pair, the dimensions whose KL falls in the upper of two equal-width bins
    spanning [min, max] of that pair's KLs (`tf.histogram_fixed_width_bins(..., nbins=2)`); the label is unused.
    A pair whose KLs are all equal has no unshared dimension (dlib's bins are then NaN, which is not bin 1)."""
    del label
    low, high = jnp.min(kl, axis=1, keepdims=True), jnp.max(kl, axis=1, keepdims=True)
    width = high - low
    scaled = (kl - low) / jnp.where(width > 0, width, 1.0)
    return (width > 0) & (jnp.clip(jnp.floor(2.0 * scaled), 0.0, 1.0) == 1.0)


def labelled_unshared(kl: jax.Array, label: jax.Array) -> jax.Array:
    """dlib's `aggregate_labels`: only latent dimension `label` (the index of a resampled factor) is unshared.
    As in dlib, a label past the last latent dimension (more factors than latents) leaves every dimension unshared
    (its one-hot row is all zeros, which equals the row's maximum everywhere)."""
    one_hot = jax.nn.one_hot(label, kl.shape[1], dtype=kl.dtype)
    return one_hot == jnp.max(one_hot, axis=1, keepdims=True)


def pair_posterior(mean: jax.Array, logvar: jax.Array, label: jax.Array, *, combine, unshared
                   ) -> tuple[jax.Array, jax.Array]:
    """The aggregated posteriors (2B, D) of a pair batch: `combine` on the shared dimensions, each image's own on
    the `unshared(kl (B, D), label (B,)) -> bool (B, D)` ones."""
    mean_1, mean_2 = jnp.split(mean, 2)
    logvar_1, logvar_2 = jnp.split(logvar, 2)
    shared_mean, shared_logvar = combine(mean_1, logvar_1, mean_2, logvar_2)
    own = unshared(pair_kl(mean_1, logvar_1, mean_2, logvar_2), label)
    means = [jnp.where(own, m, shared_mean) for m in (mean_1, mean_2)]
    logvars = [jnp.where(own, lv, shared_logvar) for lv in (logvar_1, logvar_2)]
    return jnp.concatenate(means), jnp.concatenate(logvars)


def pair_loss(x: jax.Array, logits: jax.Array, mean: jax.Array, logvar: jax.Array, beta) -> tuple[jax.Array, dict]:
    """Mean of both reconstructions + beta * mean of both KLs of the aggregated posteriors (2B rows, so the batch
    means are the means of the two images' terms)."""
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    return finish(reconstruction + beta * kl, reconstruction, kl)
