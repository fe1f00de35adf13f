"""VAE objective: the negative ELBO, reconstruction + KL (beta-VAE with beta = 1).

References:
    Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (https://arxiv.org/abs/1312.6114).

Differs from disentanglement_lib: dlib has no separate `vae` objective; its gin name `vae` is the beta-VAE. Ours is
the beta = 1 case (the beta_vae grid point 1), kept as its own name so that a plain VAE has no hyperparameter.
"""

from __future__ import annotations

import jax

from factorbench.models.objectives._common import finish, vae_terms


def vae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
) -> tuple[jax.Array, dict]:
    """Negative ELBO: mean over the batch of (summed sigmoid cross-entropy + summed KL to N(0, I)).

    Arguments as in `beta_vae`; z and step are unused. Returns (loss, aux).
    """
    del z, step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    return finish(reconstruction + kl, reconstruction, kl)
