"""The compiled training program: data drawn on the device, one update, many updates per call, ensembles.

Everything here is a pure function of arrays. A member's *state* is {"params", "opt"[, "disc_opt"]}; an
ensemble's state is the members' states stacked on a leading axis, and its hyperparameters are arrays
of shape (members,). One call of the chunk function runs `n` updates of every member:

* ``"unrolled"`` (the CPU default): the members unrolled in the program one after the other, and the `n`
  updates unrolled too (a Python loop: no `scan`); the engine calls it with n = 2 (1 when the log interval or
  the run's updates are odd) and loops on the host.
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

from factorbench.datasets.pairs import resample_factors
from factorbench.models import vae
from factorbench.models.objectives import DISCRIMINATOR_OPTIMIZER, ObjectiveSpec

STRATEGIES = ("unrolled", "loop", "vmap")
# Datasets without a device renderer (see `Feed`): held whole on the device up to `whole_bytes()`, else in pools.
WHOLE_BYTES = 256 * 2**20
POOL_SIZE = 16_384


def whole_bytes() -> int:
    """Largest dataset (uint8 image bytes) a `Feed` holds whole: WHOLE_BYTES on the CPU, where the device is the
    host's memory and pools are cheap to read; on an accelerator a quarter of its memory (dSprites' 3.0 GB, Shapes3D's
    5.9 GB and MPI3D's 12.7 GB fit an 80 GB GPU), as host reads of ~6,000 images/s could not feed its steps."""
    device = jax.devices()[0]
    stats = device.memory_stats() if device.platform != "cpu" else None
    if stats and stats.get("bytes_limit"):
        return max(WHOLE_BYTES, int(stats["bytes_limit"]) // 4)
    return WHOLE_BYTES


def default_strategy() -> str:
    return "unrolled" if jax.default_backend() == "cpu" else "vmap"


# ------------------------------------------------------------------------------------------------ data
# A batch is a dict: "x" the images (B, 64, 64, C) float32 in [0, 1] the objective reconstructs, plus the extra
# inputs of pair objectives ("label"). Samplers are `sample(key, data, **batch_hparams) -> batch`, drawn on the device.
def batch_sampler(render: Callable | None, factor_sizes, batch_size: int, bases=None) -> Callable:
    """`sample(key, data) -> {"x": images}` of single observations (see `Feed`); `bases` is unused."""
    del bases  # single observations are drawn by index; only pairs address images by their factors
    sizes = jnp.asarray(factor_sizes, jnp.int32)

    def sample(key: jax.Array, data: jax.Array) -> dict:
        if render is not None:
            k_factors, k_render = jax.random.split(key)
            factors = jax.random.randint(k_factors, (batch_size, sizes.shape[0]), 0, sizes)
            return {"x": render(factors, k_render).astype(jnp.float32) / 255.0}
        idx = jax.random.randint(key, (batch_size,), 0, data.shape[0])
        return {"x": data[idx].astype(jnp.float32) / 255.0}

    return sample


def pair_sampler(render: Callable | None, factor_sizes, batch_size: int, bases=None) -> Callable:
    """`sample(key, data, k) -> {"x": (2B, ...) the B first observations then their B partners, "label": (B,)}`.

    The partners share all factors but 1 or k resampled ones (`factorbench.datasets.pairs`). Rendered on the device;
    or read from a dataset held whole in index order (`bases`: its mixed-radix index weights); or, with neither,
    drawn from a pool of pairs `{"x": (2P, ...) firsts then partners, "label": (P,)}` (`pair_pool`).
    """
    sizes = jnp.asarray(factor_sizes, jnp.int32)
    weights = None if bases is None else jnp.asarray(bases, jnp.int32)

    def sample(key: jax.Array, data, k: jax.Array) -> dict:
        if render is None and weights is None:  # a pool of pairs drawn on the host (with the pool's fixed k)
            idx = jax.random.randint(key, (batch_size,), 0, data["label"].shape[0])
            images = jnp.concatenate([data["x"][idx], data["x"][data["label"].shape[0] + idx]])
            return {"x": images.astype(jnp.float32) / 255.0, "label": data["label"][idx]}
        k_factors, k_pairs, k_render = jax.random.split(key, 3)
        first = jax.random.randint(k_factors, (batch_size, sizes.shape[0]), 0, sizes)
        second, label = resample_factors(k_pairs, first, sizes, k)
        factors = jnp.concatenate([first, second])
        images = render(factors, k_render) if render is not None else data[factors @ weights]
        return {"x": images.astype(jnp.float32) / 255.0, "label": label}

    return sample


def single_pool(dataset, size: int, number: int) -> np.ndarray:
    """Pool `number` of single observations: `size` uniform draws from the whole dataset (uint8 images)."""
    return dataset.sample(size, np.random.default_rng([0, number]))[1]


def pair_pool(dataset, size: int, number: int, k: int) -> dict:
    """Pool `number` of pairs: `size` uniform first observations and their partners with 1 or k factors resampled
    (the same `resample_factors` as on the device, keyed by the pool's number), rendered on the host."""
    rng = np.random.default_rng([0, number])
    first = dataset.sample_factors(size, rng)
    second, label = resample_factors(jax.random.fold_in(jax.random.PRNGKey(0), number), first,
                                     dataset.factor_sizes, k)
    images = dataset.images(np.concatenate([first, np.asarray(second, np.int64)]), rng)
    return {"x": images, "label": np.asarray(label)}


# ObjectiveSpec.batches -> (sampler factory, pool reader `read(dataset, size, number, **batch hyperparameters)`)
SAMPLERS: dict[str, tuple[Callable, Callable]] = {"single": (batch_sampler, single_pool),
                                                  "pairs": (pair_sampler, pair_pool)}


class Feed:
    """Where a training program's batches come from: `sample(key, data)` inside the compiled step, `data(step)` on
    the host.

    * A dataset with a device renderer: factors are drawn uniformly on the device and rendered there (dlib's
      i.i.d. sampling of the whole grid); `data` is an empty placeholder.
    * Otherwise (the canonical files, datasets with nuisance factors): `data` is a pool of images on the device,
      and batches are drawn from it uniformly with replacement. A dataset of at most `whole_bytes()` of images
      and without per-image randomness is held whole, read once in index order (on the CPU up to 256 MiB, e.g.
      Cars3D's 216 MB; on an accelerator up to a quarter of its memory). A larger one is covered by pools of
      `pool_size` images, each drawn uniformly from the whole dataset: pool k serves updates
      [k * refresh, (k + 1) * refresh), with refresh the smallest multiple of `call_steps` (the updates of one
      compiled call) that is at least pool_size / batch_size, so a member uses each pool image about once. Pool
      k + 1 is read on a background thread while pool k trains (unless the run's `updates` end first). A pool
      depends on (dataset, k) only, so a resumed run and an ensemble member see the pools of the uninterrupted
      run and of the member alone. (dlib draws every batch from the whole dataset. Here too every image of a
      batch is a uniform draw from the whole dataset; within one pool's updates an image may come back.)

    `batches` is the objective's `ObjectiveSpec.batches`: "single" observations, or "pairs" (`pair_sampler`). Pairs
    from a renderer or a dataset held whole are drawn on the device with each member's k; pools hold pairs drawn
    on the host (`pair_pool`), so there the members' `batch_hparams` ({"k": [one value per member]}) must agree.
    """

    def __init__(self, dataset, batch_size: int, *, call_steps: int = 1, pool_size: int | None = None,
                 updates: int | None = None, progress: bool = False, batches: str = "single",
                 batch_hparams: dict | None = None):
        import threading

        self.dataset, self.batch_size = dataset, int(batch_size)
        self._pool_size = int(POOL_SIZE if pool_size is None else pool_size)
        self._updates = updates  # no pool is read ahead for updates past these
        self._progress = progress  # a bar while a dataset held whole is read (minutes for dSprites through TFDS)
        self._lock = threading.Lock()  # dataset readers (h5py, TFDS) are not known to be thread-safe
        self._current: tuple[int, jax.Array] | None = None
        self._next = None
        try:
            render = dataset.device_renderer()
        except NotImplementedError:
            render = None
        if batches not in SAMPLERS:
            raise ValueError(f"unknown batch kind {batches!r}; choose one of {', '.join(SAMPLERS)}")
        factory, self._pool_reader = SAMPLERS[batches]
        self.renders = render is not None
        self._placeholder = jnp.zeros((0,), jnp.uint8)
        image_bytes = dataset.num_observations * int(np.prod(dataset.observation_shape))
        if self.renders:
            self.refresh_steps, self.description = None, "device renderer"
        elif image_bytes <= whole_bytes() and dataset.deterministic and not dataset.nuisance_sizes:
            self.refresh_steps = None
            self.description = f"the whole dataset on the device ({dataset.num_observations:,} images)"
        else:
            per_pool = -(-self._pool_size // self.batch_size)
            self.refresh_steps = -(-per_pool // call_steps) * call_steps
            self.description = (f"device pools of {self._pool_size:,} images drawn from the whole dataset, a new one "
                                f"every {self.refresh_steps:,} updates")
            self._pool_hparams = {}
            for name, values in (batch_hparams or {}).items():
                if len(set(values)) != 1:
                    raise ValueError(f"{dataset.name} is read in pools, which hold {batches} drawn on the host with "
                                     f"one {name}: the members must share it (got {name} = {sorted(set(values))}); "
                                     f"train each {name} separately")
                self._pool_hparams[name] = values[0]
        whole = self.refresh_steps is None and not self.renders
        self.sample = factory(render, dataset.factor_sizes, self.batch_size, dataset._bases() if whole else None)

    def data(self, step: int) -> jax.Array:
        """The `data` argument of a compiled call whose first update is `step`."""
        if self.renders:
            return self._placeholder
        number = 0 if self.refresh_steps is None else int(step) // self.refresh_steps
        if self._current is None or self._current[0] != number:
            ready = self._next
            if ready is not None and ready[0] == number:
                pool = ready[1].result()
            else:
                pool = self._read(number)
            self._current = (number, jax.device_put(pool))
            self._next = None
            ahead = self.refresh_steps is not None and (self._updates is None
                                                         or (number + 1) * self.refresh_steps < self._updates)
            if ahead:  # read the next pool while this one trains
                from concurrent.futures import ThreadPoolExecutor

                executor = ThreadPoolExecutor(1, thread_name_prefix="factorbench-pool")
                self._next = (number + 1, executor.submit(self._read, number + 1))
                executor.shutdown(wait=False)
        return self._current[1]

    def _read(self, number: int) -> np.ndarray:
        """Pool `number` as uint8 images on the host (the whole dataset when it is held whole)."""
        with self._lock:
            if self.refresh_steps is None:
                return self._read_whole()
            return self._pool_reader(self.dataset, self._pool_size, number, **self._pool_hparams)

    def _read_whole(self) -> np.ndarray:
        ds = self.dataset
        images = np.empty((ds.num_observations, *ds.observation_shape), np.uint8)
        starts = range(0, ds.num_observations, self._pool_size)
        if self._progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc=f"{ds.name} into device memory", unit="chunk", dynamic_ncols=True)
        for start in starts:
            stop = min(start + self._pool_size, ds.num_observations)
            images[start:stop] = ds.images(ds.index_to_factors(np.arange(start, stop)), np.random.default_rng(0))
        return images


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

    def loss(self, model_params, other_params, batch, step, key, hparams):
        params = {**other_params, "model": model_params}
        x = batch["x"]
        extras = {name: value for name, value in batch.items() if name != "x"}
        posterior = self.spec.posterior and functools.partial(self.spec.posterior, **extras)
        out = vae.forward(self.mdef, self.graphs, params, x, key, posterior=posterior)
        loss, aux = self.spec.loss(x, out["logits"], out["mean"], out["logvar"], out["z"], step,
                                   **out["inputs"], **hparams, **self.static_hparams)
        return loss, (aux, out["z"])

    def draw(self, key: jax.Array, data: jax.Array, hparams: dict) -> dict:
        """One batch for a member with hyperparameters `hparams` (pairs take theirs, e.g. k, from it)."""
        every = {**hparams, **self.static_hparams}
        return self.sample(key, data, **{name: every[name] for name in self.spec.batch_params})

    def update(self, state: dict, member_key: jax.Array, hparams: dict, step: jax.Array,
               data: jax.Array) -> tuple[dict, dict]:
        """One real update of one member at 0-based update `step`: (new state, aux scalars)."""
        k_data, k_eps, k_perm = self.keys(member_key, step)
        batch = self.draw(k_data, data, hparams)
        params = state["params"]
        others = {k: v for k, v in params.items() if k != "model"}
        grads, (aux, z) = jax.grad(self.loss, has_aux=True)(params["model"], others, batch, step, k_eps, hparams)
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
        """jit-compiled `(state, keys, hparams, start, data) -> (state, aux (members, n))` running n updates.

        `data` is what `Feed.data(start)` returns (the device pool, or an empty placeholder).
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown ensemble strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        cache_key = (n, strategy)
        if cache_key not in self._chunks:
            self._chunks[cache_key] = jax.jit(functools.partial(self._run, n=n, strategy=strategy), donate_argnums=0)
        return self._chunks[cache_key]

    def _run(self, state, keys, hparams, start, data, *, n: int, strategy: str):
        steps = start + jnp.arange(n, dtype=jnp.int32)
        if strategy == "unrolled":
            # A Python loop, not `scan(unroll=True)`: a scan of length 1 has unroll=1, which is a while loop, and
            # XLA:CPU ran the step about 1.5x slower inside it (tests/perf/train_throughput.py docstring).
            outs = []
            for i in range(keys.shape[0]):
                st, key, hp = jax.tree.map(lambda a, i=i: a[i], (state, keys, hparams))
                auxes = []
                for t in range(n):
                    st, aux = self.update(st, key, hp, steps[t], data)
                    auxes.append(aux)
                outs.append((st, jax.tree.map(lambda *xs: jnp.stack(xs), *auxes)))
            return jax.tree.map(lambda *xs: jnp.stack(xs), *outs)
        if strategy == "loop":
            def member(args):
                st, key, hp = args

                def body(carry, step):
                    return self.update(carry, key, hp, step, data)

                return jax.lax.scan(body, st, steps)

            return jax.lax.map(member, (state, keys, hparams))

        batched = jax.vmap(self.update, in_axes=(0, 0, 0, None, None))

        def body(carry, step):
            return batched(carry, keys, hparams, step, data)

        state, aux = jax.lax.scan(body, state, steps)
        return state, jax.tree.map(lambda a: jnp.swapaxes(a, 0, 1), aux)

    # -- evaluation after training
    def evaluate(self, params: dict, key: jax.Array, hparams: dict, step: jax.Array, data: jax.Array,
                 batches: int) -> dict:
        """Objective terms averaged over `batches` fresh batches (dlib's post-training evaluation, shortened)."""
        def one(k):
            k_data, k_eps = jax.random.split(k)
            batch = self.draw(k_data, data, hparams)
            others = {k2: v for k2, v in params.items() if k2 != "model"}
            _, (aux, _) = self.loss(params["model"], others, batch, step, k_eps, hparams)
            return aux

        aux = jax.lax.map(one, jax.random.split(key, batches))
        return jax.tree.map(jnp.mean, aux)
