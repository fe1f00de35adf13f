"""The one interface every ground-truth dataset presents.

A dataset is a finite, fully crossed grid of integer factors (0 .. size-1 each) and a renderer
that turns factor indices into uint8 images of shape (64, 64, C). Factors are indices, never
physical values, as in disentanglement_lib. Observations are numbered in mixed radix with the
last factor varying fastest (the dSprites file order).

Some datasets have *nuisance* factors: they change the image but are not exposed. Every call
to `images` redraws them, one independent uniform draw per observation (dlib's
`SplitDiscreteStateSpace`). Per-observation randomness that is not a factor at all (a random
colour, background noise) is drawn the same way, from the caller's generator.

Randomness is explicit: every method that draws takes `rng`, a `numpy.random.Generator` or an
integer seed. The same seed gives the same bytes on any machine.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

Rng = np.random.Generator | int | None


class DatasetError(ValueError):
    """A user-facing problem with a dataset name, option, file or factors array."""


def as_generator(rng: Rng) -> np.random.Generator:
    """A numpy Generator from a Generator, an integer seed, or None (seed 0)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, (int, np.integer)):
        return np.random.default_rng(int(rng))
    raise DatasetError(f"rng must be a numpy.random.Generator or an int seed, got {type(rng).__name__}")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a dataset is, where it comes from, and how to cite it."""

    name: str
    version: str
    description: str
    source: str = "procedural (rendered by factorbench, no download)"
    citation: str = ""
    comparable_to: str = ""  # the published dataset whose numbers this one's scores may be compared with


class GroundTruthDataset:
    """Base class: a factor grid plus a renderer.

    Subclasses set `info`, `factor_names`, `factor_sizes`, `observation_shape` and implement
    `_render(all_factors, rng)`; datasets with nuisance factors also set `nuisance_names` and
    `nuisance_sizes` (appended after the exposed factors in `all_factors`).
    """

    info: DatasetInfo
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    observation_shape: tuple[int, int, int]
    nuisance_names: tuple[str, ...] = ()
    nuisance_sizes: tuple[int, ...] = ()
    #: True when the image is a deterministic function of the exposed factors alone.
    deterministic: bool = True

    # ------------------------------------------------------------------ grid
    @property
    def name(self) -> str:
        return self.info.name

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    @property
    def num_observations(self) -> int:
        return math.prod(self.factor_sizes)

    @property
    def num_channels(self) -> int:
        return self.observation_shape[-1]

    def _bases(self) -> np.ndarray:
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def check_factors(self, factors: np.ndarray) -> np.ndarray:
        """Validate an integer factors array of shape (N, num_factors); return it as int64."""
        arr = np.asarray(factors)
        if arr.ndim != 2 or arr.shape[1] != self.num_factors:
            raise DatasetError(
                f"{self.name}: factors must have shape (N, {self.num_factors}) for factors "
                f"{list(self.factor_names)}, got shape {arr.shape}"
            )
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and arr.size and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            elif arr.size:
                raise DatasetError(
                    f"{self.name}: factors must be integer indices, got dtype {arr.dtype}"
                )
        arr = arr.astype(np.int64, copy=False)
        for k, (name, size) in enumerate(zip(self.factor_names, self.factor_sizes)):
            column = arr[:, k]
            bad = (column < 0) | (column >= size)
            if np.any(bad):
                value = int(column[np.argmax(bad)])
                raise DatasetError(
                    f"{self.name}: factor '{name}' has {size} values (0..{size - 1}), got {value}"
                )
        return arr

    def factors_to_index(self, factors: np.ndarray) -> np.ndarray:
        """Observation index of each factor row (mixed radix, last factor fastest)."""
        return self.check_factors(factors) @ self._bases()

    def index_to_factors(self, index: np.ndarray | int) -> np.ndarray:
        """Factor rows (N, K) for observation indices (N,)."""
        idx = np.atleast_1d(np.asarray(index))
        if idx.dtype.kind not in "iu":
            raise DatasetError(f"{self.name}: indices must be integers, got dtype {idx.dtype}")
        idx = idx.astype(np.int64)
        if idx.ndim != 1:
            raise DatasetError(f"{self.name}: indices must be a 1-D array, got shape {idx.shape}")
        if idx.size and (idx.min() < 0 or idx.max() >= self.num_observations):
            raise DatasetError(
                f"{self.name}: index out of range 0..{self.num_observations - 1}: "
                f"{int(idx[(idx < 0) | (idx >= self.num_observations)][0])}"
            )
        return (idx[:, None] // self._bases()[None, :]) % np.asarray(self.factor_sizes, np.int64)

    # -------------------------------------------------------------- sampling
    def sample_factors(self, n: int, rng: Rng = None) -> np.ndarray:
        """n factor rows, each factor drawn independently and uniformly (int64, (n, K))."""
        gen = as_generator(rng)
        return np.stack([gen.integers(0, s, size=n) for s in self.factor_sizes], axis=1).astype(np.int64)

    def sample_fixed_factor(self, factor: int, batch_size: int, rng: Rng = None) -> np.ndarray:
        """A batch of factor rows that all share one random value of `factor`; the rest is random.

        This is the draw the BetaVAE, FactorVAE and IRS metrics are built on.
        """
        if not 0 <= factor < self.num_factors:
            raise DatasetError(f"{self.name}: factor must be in 0..{self.num_factors - 1}, got {factor}")
        gen = as_generator(rng)
        rows = self.sample_factors(batch_size, gen)
        rows[:, factor] = rows[0, factor]
        return rows

    def sample_pairs_sharing_factor(
        self, factor: int, n: int, rng: Rng = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Two factor batches of n rows that agree on `factor` row by row (dlib's BetaVAE draw)."""
        gen = as_generator(rng)
        first = self.sample_factors(n, gen)
        second = self.sample_factors(n, gen)
        second[:, factor] = first[:, factor]
        return first, second

    def sample(self, n: int, rng: Rng = None) -> tuple[np.ndarray, np.ndarray]:
        """n random (factors, images) pairs."""
        gen = as_generator(rng)
        factors = self.sample_factors(n, gen)
        return factors, self.images(factors, gen)

    # ------------------------------------------------------------- rendering
    def images(self, factors: np.ndarray, rng: Rng = None) -> np.ndarray:
        """uint8 images (N, 64, 64, C) for factor rows (N, K); nuisances drawn from `rng`."""
        arr = self.check_factors(factors)
        gen = as_generator(rng)
        if self.nuisance_sizes:
            nuisance = np.stack(
                [gen.integers(0, s, size=len(arr)) for s in self.nuisance_sizes], axis=1
            ).astype(np.int64)
            arr = np.concatenate([arr, nuisance.reshape(len(arr), -1)], axis=1)
        out = self._render(arr, gen)
        assert out.dtype == np.uint8 and out.shape[1:] == self.observation_shape, (out.dtype, out.shape)
        return out

    def images_float(self, factors: np.ndarray, rng: Rng = None) -> np.ndarray:
        """float32 images in [0, 1], what dlib's `sample_observations_from_factors` returns."""
        return self.images(factors, rng).astype(np.float32) / np.float32(255.0)

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def check_available(self) -> None:
        """Raise DatasetError (naming what is missing) when images cannot be read on this machine; cheap.

        Procedural datasets are always available; loaders of user files override this to look for them.
        """

    def device_renderer(self) -> Callable:
        """A pure, jit-able `render(factors, key) -> uint8 images` for training on an accelerator.

        The default holds every image of the grid on the device (fine for small grids);
        procedural datasets override it to render from compact constants instead.
        """
        import jax.numpy as jnp

        if self.nuisance_sizes or not self.deterministic:
            raise NotImplementedError(f"{self.name} has no device renderer")
        if self.num_observations > 200_000:
            raise NotImplementedError(f"{self.name} is too large to hold on the device")
        table = jnp.asarray(self.images(self.index_to_factors(np.arange(self.num_observations))))
        bases = jnp.asarray(self._bases(), dtype=jnp.int32)

        def render(factors, key=None):
            del key  # deterministic
            return table[jnp.asarray(factors, jnp.int32) @ bases]

        return render

    def __repr__(self) -> str:
        factors = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"<{type(self).__name__} {self.name}: {factors}; {self.num_observations:,} observations>"
