"""beta-TCVAE objective: reconstruction + KL + (beta - 1) * TC, TC from the minibatch-weighted-sampling estimator.

References:
    Chen et al., "Isolating Sources of Disentanglement in Variational Autoencoders", NeurIPS 2018
    (https://arxiv.org/abs/1802.04942), Eq. 4 with alpha = gamma = 1 and the estimator of Sec. 3 (MWS).

Differs from disentanglement_lib: same estimator, computed as dlib does. log q(z_j | x_i) for all pairs (B, B, D);
log q(z_j) ~ logsumexp_i sum_d; log prod_d q(z_jd) ~ sum_d logsumexp_i; TC = mean_j of their difference. The
constants log(B * N) are dropped as in dlib, so the reported "tc" is offset by (D - 1) * log(B * N) from Chen et al.'s
value (N the dataset size) and can be negative; the gradients are unaffected. dlib has no default beta (gin REQUIRED);
ours is 6, a value of the study grid 1, 2, 4, 6, 8, 10.
"""

from __future__ import annotations

from typing import Annotated

import jax
import jax.numpy as jnp

from factorbench.models.objectives._common import finish, gaussian_log_density, vae_terms
from factorbench.models.objectives._domain import WEIGHT


def total_correlation(z: jax.Array, mean: jax.Array, logvar: jax.Array) -> jax.Array:
    """Minibatch-weighted-sampling estimate of the total correlation of q(z), without the log(B * N) constants.

    Args:
        z: samples (B, D), z[j] drawn from q(z | x_j).
        mean, logvar: the posteriors q(z | x_i), (B, D).

    Returns:
        Scalar: mean over j of [logsumexp_i sum_d log q(z_jd | x_i) - sum_d logsumexp_i log q(z_jd | x_i)].
    """
    log_q_pairs = gaussian_log_density(z[:, None, :], mean[None, :, :], logvar[None, :, :])  # [j, i, d]
    log_qz = jax.nn.logsumexp(jnp.sum(log_q_pairs, axis=2), axis=1)
    log_qz_product = jnp.sum(jax.nn.logsumexp(log_q_pairs, axis=1), axis=1)
    return jnp.mean(log_qz - log_qz_product)


def beta_tc_vae(
    x: jax.Array,
    logits: jax.Array,
    mean: jax.Array,
    logvar: jax.Array,
    z: jax.Array,
    step: jax.Array,
    *,
    beta: Annotated[float, WEIGHT] = 6.0,
) -> tuple[jax.Array, dict]:
    """beta-TCVAE loss: reconstruction + KL + (beta - 1) * TC. Returns (loss, aux); aux adds "tc".

    Args as in `beta_vae`; z is the reparameterised sample the TC is estimated on; step is unused.
    """
    del step
    reconstruction, kl = vae_terms(x, logits, mean, logvar)
    tc = total_correlation(z, mean, logvar)
    return finish(reconstruction + kl + (beta - 1.0) * tc, reconstruction, kl, tc=tc)
