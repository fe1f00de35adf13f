"""AnnealedVAE objective: reconstruction + gamma * |KL - C(step)|, with the capacity C raised linearly to c_max.

References:
    Burgess et al., "Understanding disentangling in beta-VAE", NIPS 2017 workshop (https://arxiv.org/abs/1804.03599),
    Eq. 8.

Differs from disentanglement_lib: same loss and schedule, C(t) = min(c_max, c_max * t / iteration_threshold). dlib's t
is the TF global step read when the loss is built, i.e. the number of updates already applied; ours is `step`, the
0-based count of real updates, so both reach c_max after `iteration_threshold` updates. dlib has no defaults (gin
REQUIRED); ours are the study's gamma = 1000 and iteration_threshold = 100000, and c_max = 25 from its grid
5, 10, 25, 50, 75, 100.
"""

from __future__ import annotations

from typing import Annotated

import jax
import jax.numpy as jnp

from factorbench.models.objectives._common import finish, vae_terms
from factorbench.models.objectives._domain import WEIGHT, Interval


def capacity(step: jax.Array, *, c_max: float = 25.0, iteration_threshold: int = 100_000) -> jax.Array:
    """The annealed capacity C(step) = min(c_max, c_max * step / iteration_threshold), float32."""
    t = jnp.asarray(step, jnp.float32)
    c_max = jnp.asarray(c_max, jnp.float32)
    return jnp.minimum(c_max, c_max * t / jnp.asarray(iteration_threshold, jnp.float32))


def annealed_vae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    c_max: Annotated[float, Interval(0.0, 1e4)] = 25.0,
    gamma: Annotated[float, WEIGHT] = 1000.0,
    iteration_threshold: Annotated[int, Interval(1, 1e9, integer=True)] = 100_000,
) -> tuple[jax.Array, dict]:
    """AnnealedVAE loss: reconstruction + gamma * |KL - C(step)| (KL and reconstruction are batch means).

    Args:
        x, logits, mean, logvar, z, step: as in `beta_vae`; z is unused, step sets the capacity.
        c_max: final capacity, in nats.
        gamma: weight of the capacity penalty.
        iteration_threshold: number of updates after which the capacity stays at c_max.

    Returns:
        (loss, aux); aux adds "capacity" (C(step)).
    """
    del z
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    c = capacity(step, c_max=c_max, iteration_threshold=iteration_threshold)
    return finish(reconstruction + gamma * jnp.abs(kl - c), reconstruction, kl, capacity=c)
