"""DIP-VAE-I objective: reconstruction + KL + a penalty pushing the covariance of the encoder means to the identity.

References:
    Kumar et al., "Variational Inference of Disentangled Latent Concepts from Unlabeled Observations", ICLR 2018
    (https://openreview.net/forum?id=H1kG7GZAW), Eq. 6.

Differs from disentanglement_lib: same loss. C = Cov_batch[mu] = E[mu mu^T] - E[mu] E[mu]^T (biased, over the batch),
penalty = lambda_od * sum_{i != j} C_ij^2 + lambda_d * sum_i (C_ii - 1)^2 with lambda_d = lambda_d_factor * lambda_od.
dlib has no default lambda_od (gin REQUIRED); ours is 10, a value of the study grid 1, 2, 5, 10, 20, 50, and
lambda_d_factor = 10 is the study's value for DIP-VAE-I.
"""

from __future__ import annotations

from typing import Annotated

import jax

from factorbench.models.objectives._common import dip_penalty_terms, finish, mean_covariance, vae_terms
from factorbench.models.objectives._domain import WEIGHT


def dip_vae_i(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    lambda_od: Annotated[float, WEIGHT] = 10.0,
    lambda_d_factor: Annotated[float, WEIGHT] = 10.0,
) -> tuple[jax.Array, dict]:
    """DIP-VAE-I loss on Cov_batch[mean]. Returns (loss, aux).

    aux adds "dip_off_diagonal" (sum of squared off-diagonal entries), "dip_diagonal" (sum of (C_ii - 1)^2) and
    "dip_penalty" (their weighted sum). z and step are unused.
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    off_diagonal, diagonal = dip_penalty_terms(mean_covariance(mean))
    penalty = lambda_od * off_diagonal + lambda_d_factor * lambda_od * diagonal
    return finish(
        reconstruction + kl + penalty,
        reconstruction,
        kl,
        dip_off_diagonal=off_diagonal,
        dip_diagonal=diagonal,
        dip_penalty=penalty,
    )
