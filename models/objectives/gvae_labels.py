"""Group-VAE with labels (dlib `group_vae_labels`): a beta-VAE on pairs of images that share all but a few factors.

Group-VAE averaging on every dimension but the labelled one (the index of a resampled factor), which keeps
each image's posterior.
The loss is the mean of both reconstructions plus beta times the mean of both KLs (`_weak.pair_loss`); it
trains on pair batches (`batches="pairs"`, `factorbench.datasets.pairs`).

References:
    Locatello et al., "Weakly-Supervised Disentanglement Without Compromises", ICML 2020 (arXiv 2002.02886),
    the variants told which factor changed (dlib's `*_labels` models).

Differs from disentanglement_lib: same aggregation and loss (`_weak` module docstring for the stable rewriting);
dlib has no default for beta (gin REQUIRED), ours is 1, the smallest value of the study grid; `k` is dlib's
`dynamics.k` (-1: the number of resampled factors is drawn per pair), a hyperparameter of the data, read by the
pair sampler and unused by the loss.
"""

from __future__ import annotations

import functools
from typing import Annotated

import jax

from factorbench.models.objectives._domain import FACTORS_CHANGED, WEIGHT
from factorbench.models.objectives._weak import group_average, labelled_unshared, pair_loss, pair_posterior

#: The posterior the decoder samples from: `posterior(mean, logvar, label)` on a pair batch's (2B, D) posteriors.
posterior = functools.partial(pair_posterior, combine=group_average, unshared=labelled_unshared)


def gvae_labels(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    beta: Annotated[float, WEIGHT] = 1.0,
    k: Annotated[int, FACTORS_CHANGED] = -1,
) -> tuple[jax.Array, dict]:
    """Group-VAE with labels loss on a pair batch: x, logits (2B, H, W, C) and the aggregated mean, logvar (2B, D).

    Args:
        x: the B first images then their B partners, float32 in [0, 1].
        logits: decoder logits of both.
        mean, logvar: the aggregated posteriors (`posterior`), first images then partners.
        z: the decoder input; unused.
        step: 0-based update count; unused.
        beta: weight of the KL term.
        k: factors resampled per pair (-1: drawn per pair); used by the pair sampler, not here.

    Returns:
        (loss, aux) with aux keys loss, reconstruction, kl, elbo, regularizer.
    """
    del z, step, k
    return pair_loss(x, logits, mean, logvar, beta)
