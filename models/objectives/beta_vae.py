"""beta-VAE objective: reconstruction + beta * KL.

References:
    Higgins et al., "beta-VAE: Learning Basic Visual Concepts with a Constrained Variational Framework", ICLR 2017
    (https://openreview.net/forum?id=Sy2fzU9gl), Eq. 4.

Differs from disentanglement_lib: same loss (dlib `vae` with gin `vae.beta`). dlib has no default for beta (gin
REQUIRED); ours is 4, a value of the study grid 1, 2, 4, 6, 8, 16.
"""

from __future__ import annotations

from typing import Annotated

import jax

from factorbench.models.objectives._common import finish, vae_terms
from factorbench.models.objectives._domain import WEIGHT


def beta_vae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    beta: Annotated[float, WEIGHT] = 4.0,
) -> tuple[jax.Array, dict]:
    """beta-VAE loss: mean over the batch of (summed sigmoid cross-entropy + beta * summed KL to N(0, I)).

    Args:
        x: target images (B, H, W, C), float32 in [0, 1].
        logits: decoder logits (B, H, W, C).
        mean, logvar: Gaussian posterior parameters (B, D).
        z: reparameterised sample (B, D); unused.
        step: 0-based update count; unused.
        beta: weight of the KL term (1 gives the plain VAE).

    Returns:
        (loss, aux) with aux keys loss, reconstruction, kl, elbo, regularizer.
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    return finish(reconstruction + beta * kl, reconstruction, kl)
