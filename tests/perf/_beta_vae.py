"""What the perf scripts need to call the engine's compiled step: a conv beta-VAE (beta 4) ensemble's program and
stacked state, as `factorbench train` builds them (models/step.py). Not a pytest module."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def beta_vae_ensemble(dataset, sample, members: int = 1, formulation: str | None = None):
    """(program, state, keys, hyperparameters) for `members` beta-VAEs drawing batches from `sample(key, data)`."""
    from factorbench.models import step as S
    from factorbench.models import vae
    from factorbench.models.objectives import get

    spec = get("beta_vae")
    options = {} if formulation is None else {"formulation": formulation}
    mdef = vae.model_def(spec, "conv", dataset.num_channels, 10, **options)
    built = [vae.build(mdef, jax.random.PRNGKey(i)) for i in range(members)]
    program = S.Program(spec, mdef, built[0][0], sample, {}, 1e-4)
    state = jax.tree.map(lambda *xs: jnp.stack(xs), *[program.init_state(params) for _, params in built])
    keys = jnp.stack([jax.random.PRNGKey(100 + i) for i in range(members)])
    return program, state, keys, {"beta": jnp.full((members,), 4.0, jnp.float32)}
