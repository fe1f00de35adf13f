"""The compiled training program: data drawn on the device, one update, many updates per call, ensembles.

Everything here is a pure function of arrays. A member's *state* is {"params", "opt"[, "disc_opt"]}; an
ensemble's state is the members' states stacked on a leading axis, and its hyperparameters are arrays
of shape (members,). One call of the chunk function runs `n` updates of every member:

* ``"unrolled"`` (the CPU default): the members unrolled in the program one after the other, and the `n`
  updates unrolled too (a Python loop: no `scan`); the engine calls it with n = 1 and loops on the host.
  XLA:CPU runs a convolution step about 10x slower inside a while loop (`lax.scan`, `lax.map`) than
  outside one (tests/perf/train_throughput.py: 4772 vs 456 ms per batch-32 step), and runs batched (grouped)
  convolutions slower than one model at a time (shared/reference/stack.md), so neither loops nor vmap.
* ``"loop"``: `lax.map` over members, each running `lax.scan` over its `n` updates: one program, members
  one after the other, no host round trip.
* ``"vmap"``: `lax.scan` over updates of `vmap` over members: one batched step for all members, the
  accelerator default.

Either way a member computes exactly what it computes alone: its batch, noise and permutation keys
come from `fold_in(member_key, update)`, never from the ensemble's size or its position in it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from factorbench.models import vae
from factorbench.models.objectives import DISCRIMINATOR_OPTIMIZER, ObjectiveSpec

STRATEGIES = ("unrolled", "loop", "vmap")
# Number of host-rendered images held on the device for datasets without a device renderer.
FALLBACK_POOL = 16_384


def default_strategy() -> str:
    return "unrolled" if jax.default_backend() == "cpu" else "vmap"


# ------------------------------------------------------------------------------------------------ data
def make_sampler(dataset, batch_size: int) -> tuple[Callable[[jax.Array], jax.Array], str]:
    """`sample(key) -> images (B, 64, 64, C) float32 in [0, 1]`, drawn on the device, and how it draws.

    Factors are drawn uniformly on the device and rendered by `dataset.device_renderer()`. A dataset
    without one (e.g. nuisance factors not renderable on the device) falls back to a fixed pool of
    FALLBACK_POOL images rendered once on the host (seed 0) and sampled with replacement on the device.
    """
    sizes = jnp.asarray(dataset.factor_sizes, jnp.int32)
    try:
        render = dataset.device_renderer()
    except NotImplementedError:
        pool_size = min(FALLBACK_POOL, dataset.num_observations * 4)
        _, images = dataset.sample(pool_size, np.random.default_rng(0))
        pool = jnp.asarray(images)

        def sample_pool(key):
            idx = jax.random.randint(key, (batch_size,), 0, pool_size)
            return pool[idx].astype(jnp.float32) / 255.0

        return sample_pool, f"host pool of {pool_size} images (no device renderer)"

    def sample(key):
        k_factors, k_render = jax.random.split(key)
        factors = jax.random.randint(k_factors, (batch_size, sizes.shape[0]), 0, sizes)
        return render(factors, k_render).astype(jnp.float32) / 255.0

    return sample, "device renderer"


# ------------------------------------------------------------------------------------------ optimizers
def _decay_mask(params: Any) -> Any:
    """True for kernels (weight decay applies); False for biases and codebooks (Hsu et al.'s "unregularized")."""
    def is_kernel(path, _):
        return any(getattr(p, "key", None) == "kernel" for p in path)

    return jax.tree_util.tree_map_with_path(is_kernel, params)


def optimizer(spec: ObjectiveSpec, learning_rate: float) -> optax.GradientTransformation:
    """The study's Adam(lr, 0.9, 0.999, 1e-8); AdamW when the objective asks for weight decay (qlae, qlvae)."""
    decay = spec.optimizer.get("weight_decay")
    if decay:
        return optax.adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=decay, mask=_decay_mask)
    return optax.adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8)


def discriminator_optimizer() -> optax.GradientTransformation:
    o = DISCRIMINATOR_OPTIMIZER
    return optax.adam(o["learning_rate"], b1=o["b1"], b2=o["b2"], eps=o["eps"])


# ------------------------------------------------------------------------------------------- the step
class Program:
    """The pure functions of one (dataset, objective, model definition, batch size) training set-up."""

    def __init__(self, spec: ObjectiveSpec, mdef: vae.ModelDef, graphs: vae.Graphs, sample: Callable,
                 static_hparams: dict, learning_rate: float):
        self.spec, self.mdef, self.graphs, self.sample = spec, mdef, graphs, sample
        self.static_hparams = dict(static_hparams)
        self.tx = optimizer(spec, learning_rate)
        self.disc_tx = discriminator_optimizer() if mdef.kind == "factor_vae" else None
        self._chunks: dict[tuple[int, str], Callable] = {}

    # -- state
    def init_state(self, params: dict) -> dict:
        state = {"params": params, "opt": self.tx.init(params["model"])}
        if self.disc_tx is not None:
            state["disc_opt"] = self.disc_tx.init(params["disc"])
        return state

    # -- one update
    def keys(self, member_key: jax.Array, step: jax.Array) -> tuple[jax.Array, ...]:
        return tuple(jax.random.split(jax.random.fold_in(member_key, step), 3))

    def loss(self, model_params, other_params, x, step, key, hparams):
        params = {**other_params, "model": model_params}
        out = vae.forward(self.mdef, self.graphs, params, x, key)
        loss, aux = self.spec.loss(x, out["logits"], out["mean"], out["logvar"], out["z"], step,
                                   **out["inputs"], **hparams, **self.static_hparams)
        return loss, (aux, out["z"])

    def update(self, state: dict, member_key: jax.Array, hparams: dict, step: jax.Array) -> tuple[dict, dict]:
        """One real update of one member at 0-based update `step`: (new state, aux scalars)."""
        k_data, k_eps, k_perm = self.keys(member_key, step)
        x = self.sample(k_data)
        params = state["params"]
        others = {k: v for k, v in params.items() if k != "model"}
        grads, (aux, z) = jax.grad(self.loss, has_aux=True)(params["model"], others, x, step, k_eps, hparams)
        updates, opt = self.tx.update(grads, state["opt"], params["model"])
        new_params = {**params, "model": optax.apply_updates(params["model"], updates)}
        new_state = {**state, "opt": opt}
        if self.disc_tx is not None:
            from factorbench.models.objectives.factor_vae import discriminator_loss, permute_dims

            z = jax.lax.stop_gradient(z)
            z_perm = permute_dims(z, k_perm)

            def disc_loss(dp):
                real = vae.discriminate(self.graphs, dp, z)
                return discriminator_loss(real, vae.discriminate(self.graphs, dp, z_perm))

            d_loss, d_grads = jax.value_and_grad(disc_loss)(params["disc"])
            d_updates, d_opt = self.disc_tx.update(d_grads, state["disc_opt"], params["disc"])
            new_params["disc"] = optax.apply_updates(params["disc"], d_updates)
            new_state["disc_opt"] = d_opt
            aux = {**aux, "discriminator_loss": d_loss}
        new_state["params"] = new_params
        return new_state, aux

    # -- many updates of many members
    def chunk(self, n: int, strategy: str) -> Callable:
        """jit-compiled `(state, keys, hparams, start) -> (state, aux (members, n))` running n updates."""
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown ensemble strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        cache_key = (n, strategy)
        if cache_key not in self._chunks:
            self._chunks[cache_key] = jax.jit(functools.partial(self._run, n=n, strategy=strategy), donate_argnums=0)
        return self._chunks[cache_key]

    def _run(self, state, keys, hparams, start, *, n: int, strategy: str):
        steps = start + jnp.arange(n, dtype=jnp.int32)
        if strategy == "unrolled":
            # A Python loop, not `scan(unroll=True)`: a scan of length 1 has unroll=1, which is a while loop, and
            # XLA:CPU ran the step about 1.5x slower inside it (tests/perf/train_throughput.py docstring).
            outs = []
            for i in range(keys.shape[0]):
                st, key, hp = jax.tree.map(lambda a, i=i: a[i], (state, keys, hparams))
                auxes = []
                for t in range(n):
                    st, aux = self.update(st, key, hp, steps[t])
                    auxes.append(aux)
                outs.append((st, jax.tree.map(lambda *xs: jnp.stack(xs), *auxes)))
            return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)
        if strategy == "loop":
            def member(args):
                st, key, hp = args

                def body(carry, step):
                    return self.update(carry, key, hp, step)

                return jax.lax.scan(body, st, steps)

            return jax.lax.map(member, (state, keys, hparams))

        batched = jax.vmap(self.update, in_axes=(0, 0, 0, None))

        def body(carry, step):
            return batched(carry, keys, hparams, step)

        state, aux = jax.lax.scan(body, state, steps)
        return state, jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), aux)

    # -- evaluation after training
    def evaluate(self, params: dict, key: jax.Array, hparams: dict, step: jax.Array, batches: int) -> dict:
        """Objective terms averaged over `batches` fresh batches (dlib's post-training evaluation, shortened)."""
        def one(k):
            k_data, k_eps = jax.random.split(k)
            x = self.sample(k_data)
            others = {k2: v for k2, v in params.items() if k2 != "model"}
            _, (aux, _) = self.loss(params["model"], others, x, step, k_eps, hparams)
            return aux

        aux = jax.lax.map(one, jax.random.split(key, batches))
        return jax.tree.map(jnp.mean, aux)
