"""Pairs of observations for weak supervision: the second shares all factors of the first but a few resampled ones.

`resample_factors(key, factors, factor_sizes, k)` is dlib's `simple_dynamics` (methods/weak/train_weak_lib.py) for a
whole batch at once, as a pure function of an explicit JAX key, so a training program draws its pairs on the device
from (member key, update) exactly as it draws single batches (models/step.py). Per pair:

1. the count: `k` when k >= 1 (at most K, the number of factors), else (dlib's k = -1) uniform in [1, K - 1]
   (a dataset with one factor: 1);
2. the number of factors resampled: 1 or that count, each with probability 1/2 (dlib's `choice([1, k_observed])`,
   so with k = 3 a pair changes 1 or 3 factors, never 2);
3. which factors: that many distinct ones, uniformly; the label is the last of them in a uniformly random order
   (dlib's `idx`, the last index of its `choice(..., replace=False)`), i.e. a uniform choice among the resampled;
4. their new values: uniform over each factor's whole range, so **a resampled value may repeat the old one** (as in
   dlib), and a pair may then differ in fewer factors than were resampled (with k = 1, in none).

Differences from dlib: dlib draws the new values from numpy's global RNG (`np.random.choice`), outside its seeded
`random_state`, so its pairs are not reproducible; here every draw comes from `key`. dlib draws all pairs of a
batch one by one on the host; here a batch is one vectorised draw. `k` may be a traced value (an ensemble's
members may differ in it); values below 1 all mean "draw the count" (dlib knows only -1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def resample_factors(key: jax.Array, factors: jax.Array, factor_sizes, k) -> tuple[jax.Array, jax.Array]:
    """(second factors (B, K) int32, label (B,) int32): `factors` with 1 or k of its factors resampled per row.

    Args:
        key: a JAX PRNG key; the result is a pure function of (key, factors, k).
        factors: (B, K) integer factor rows of the first observations.
        factor_sizes: the K factor sizes.
        k: factors resampled (see the module docstring); below 1: drawn per pair in [1, K - 1].

    Returns:
        The second observations' factors and, per pair, the index of the last resampled factor.
    """
    factors = jnp.asarray(factors, jnp.int32)
    sizes = jnp.asarray(factor_sizes, jnp.int32)
    batch, num = factors.shape
    k_count, k_coin, k_order, k_values = jax.random.split(key, 4)
    drawn = jax.random.randint(k_count, (batch,), 1, max(num - 1, 1) + 1)
    k = jnp.asarray(k, jnp.int32)
    count = jnp.where(k >= 1, jnp.minimum(k, num), drawn)
    changed = jnp.where(jax.random.bernoulli(k_coin, 0.5, (batch,)), count, 1)
    # A uniform random order of the factors per row; the first `changed` of it are resampled, the last of those
    # is the label.
    order = jnp.argsort(jax.random.uniform(k_order, (batch, num)), axis=1)
    rank = jnp.argsort(order, axis=1)  # rank[b, f]: position of factor f in row b's order
    resampled = rank < changed[:, None]
    label = jnp.take_along_axis(order, (changed - 1)[:, None], axis=1)[:, 0]
    values = jax.random.randint(k_values, (batch, num), 0, sizes)
    return jnp.where(resampled, values, factors), label.astype(jnp.int32)
