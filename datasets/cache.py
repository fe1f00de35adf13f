"""Cache a whole factor grid as a TFDS dataset (array_record) and read it back with random access.

Everything here runs without TensorFlow (see shared/reference/stack.md sec 2): images are plain
uint8 ``Tensor`` features (ZLIB-encoded), the factors an int64 ``Tensor``, the file format is
array_record, and reading goes through `tfds.data_source`, which returns numpy. Records are
written with shuffling disabled, in observation-index order, so record i holds observation i and a
read is a gather by index.

* `FactorbenchGrid` is the TFDS builder (name ``factorbench_grid``, one builder config per dataset
  name and version). Subclasses (the canonical loaders in `factorbench.datasets.canonical`) only
  override `_grid` and `_chunks`.
* `cache_dataset(dataset, data_dir)` builds the cache of a deterministic dataset (with progress
  bars) unless it is already there, and returns a `CachedDataset` that presents the same interface
  with the same name and version, reading images from disk (its `device_renderer` is still the
  procedural one, which gives the same bytes).

Layout on disk: ``<data_dir>/factorbench_grid/<dataset name>/<version>/`` (TFDS's own layout).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset


@dataclasses.dataclass(frozen=True)
class GridMeta:
    """What a cached grid holds: factor sizes of every record (exposed then nuisance) and the image shape."""

    sizes: tuple[int, ...]
    image_shape: tuple[int, int, int]
    description: str = ""


def _tfds():
    import tensorflow_datasets as tfds

    return tfds


def _builder_base():
    tfds = _tfds()

    class FactorbenchGrid(tfds.core.GeneratorBasedBuilder):
        """A fully crossed factor grid in index order: features ``image`` (uint8) and ``factors`` (int64)."""

        VERSION = tfds.core.Version("1.0.0")

        @tfds.core.utils.classproperty
        @classmethod
        def code_path(cls):
            # TFDS looks for checksums.tsv next to the builder's package; `factorbench` is a
            # package_dir mapping that importlib.resources cannot walk, and we need no checksums.tsv.
            return None

        def __init__(self, *, source=None, chunk: int = 512, progress: bool = True, **kwargs):
            self._source = source
            self._chunk = chunk
            self._progress = progress
            super().__init__(**kwargs)

        # -- what subclasses override
        def _grid(self) -> GridMeta:
            ds = self._source
            if ds is None:
                raise DatasetError("factorbench_grid needs the dataset it caches (source=...)")
            return GridMeta(tuple(ds.factor_sizes) + tuple(ds.nuisance_sizes), tuple(ds.observation_shape),
                            ds.info.description)

        def _chunks(self, dl_manager) -> Iterator[tuple[np.ndarray, np.ndarray]]:
            ds = self._source
            for start in range(0, ds.num_observations, self._chunk):
                factors = ds.index_to_factors(np.arange(start, min(start + self._chunk, ds.num_observations)))
                yield factors, ds.images(factors, 0)

        # -- TFDS plumbing
        def _info(self):
            meta = self._grid()
            features = tfds.features.FeaturesDict({
                "image": tfds.features.Tensor(shape=meta.image_shape, dtype=np.uint8,
                                              encoding=tfds.features.Encoding.ZLIB),
                "factors": tfds.features.Tensor(shape=(len(meta.sizes),), dtype=np.int64),
            })
            return tfds.core.DatasetInfo(builder=self, description=meta.description, features=features,
                                         disable_shuffling=True)

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(dl_manager)}

        def _generate_examples(self, dl_manager):
            from tqdm.auto import tqdm

            meta = self._grid()
            total = math.prod(meta.sizes)
            bases = _bases(meta.sizes)
            index = 0
            with tqdm(total=total, desc=f"rendering {self.builder_config.name}", unit="img",
                      disable=not self._progress) as bar:
                for factors, images in self._chunks(dl_manager):
                    expected = np.arange(index, index + len(factors))
                    if not np.array_equal(np.asarray(factors, np.int64) @ bases, expected):
                        raise DatasetError(f"{self.builder_config.name}: records must come in index order "
                                           f"(chunk starting at {index} is not)")
                    for i in range(len(factors)):
                        yield index + i, {"image": images[i], "factors": np.asarray(factors[i], np.int64)}
                    index += len(factors)
                    bar.update(len(factors))
            if index != total:
                raise DatasetError(f"{self.builder_config.name}: wrote {index} records, the grid has {total}")

    return FactorbenchGrid


_BUILDERS: dict[str, type] = {}


def builder_class():
    """The `FactorbenchGrid` TFDS builder class (defined on first use, so importing datasets stays cheap)."""
    if "grid" not in _BUILDERS:
        _BUILDERS["grid"] = _builder_base()
    return _BUILDERS["grid"]


def _bases(sizes) -> np.ndarray:
    sizes = np.asarray(sizes, dtype=np.int64)
    return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)


def builder_config(name: str, version: str, description: str = ""):
    return _tfds().core.BuilderConfig(name=name, version=version, description=description)


def prepare(builder_cls, config, data_dir: str | Path, *, progress: bool = True, manual_dir=None, **kwargs):
    """Build (if needed) and open the array_record dataset; returns the `tfds.data_source` of split train."""
    tfds = _tfds()
    data_dir = Path(data_dir).expanduser()
    builder_kwargs = dict(config=config, file_format="array_record", progress=progress, **kwargs)
    builder = builder_cls(data_dir=str(data_dir), **builder_kwargs)
    if not builder.is_prepared():
        download_config = tfds.download.DownloadConfig(manual_dir=str(manual_dir) if manual_dir else None)
        builder.download_and_prepare(download_config=download_config)
    return tfds.data_source(builder.name, data_dir=str(data_dir), split="train", download=False,
                            builder_kwargs=builder_kwargs)


class CachedDataset(GroundTruthDataset):
    """A dataset whose images are read from an array_record TFDS dataset by observation index.

    `sizes` of the records are ``factor_sizes + nuisance_sizes``; `all_factors` rows index them.
    """

    def __init__(self, *, info: DatasetInfo, factor_names, factor_sizes, observation_shape, source,
                 nuisance_names=(), nuisance_sizes=(), renderer=None):
        self.info = info
        self.factor_names = tuple(factor_names)
        self.factor_sizes = tuple(factor_sizes)
        self.observation_shape = tuple(observation_shape)
        self.nuisance_names = tuple(nuisance_names)
        self.nuisance_sizes = tuple(nuisance_sizes)
        self.deterministic = not self.nuisance_sizes
        self._source = source
        self._renderer = renderer
        expected = math.prod(self.factor_sizes) * math.prod(self.nuisance_sizes)
        if len(source) != expected:
            raise DatasetError(f"{info.name}: the cache holds {len(source)} records, the grid has {expected}; "
                               "delete the cache folder and build it again")

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return read_records(self._source, all_factors @ _bases(self.factor_sizes + self.nuisance_sizes),
                            self.observation_shape)

    def device_renderer(self):
        if self._renderer is not None:
            return self._renderer()
        return super().device_renderer()


def read_records(source, indices: np.ndarray, image_shape) -> np.ndarray:
    """uint8 images (N, H, W, C) of the records at `indices` (read in sorted order, returned in request order)."""
    indices = np.asarray(indices, np.int64)
    if len(indices) == 0:
        return np.zeros((0, *image_shape), np.uint8)
    unique, inverse = np.unique(indices, return_inverse=True)
    records = source.__getitems__([int(i) for i in unique])
    return np.stack([r["image"] for r in records])[inverse]


def cache_dataset(dataset: GroundTruthDataset, data_dir: str | Path, *, chunk: int = 512,
                  progress: bool = True) -> CachedDataset:
    """Cache every image of a deterministic dataset as array_record under `data_dir` and return the cached view."""
    if dataset.nuisance_sizes or not dataset.deterministic:
        raise DatasetError(f"{dataset.name}: only deterministic datasets can be cached (its images have per-image "
                           "randomness)")
    config = builder_config(dataset.name, dataset.info.version, dataset.info.description)
    source = prepare(builder_class(), config, data_dir, progress=progress, source=dataset, chunk=chunk)
    return CachedDataset(info=dataset.info, factor_names=dataset.factor_names, factor_sizes=dataset.factor_sizes,
                         observation_shape=dataset.observation_shape, source=source,
                         renderer=dataset.device_renderer)
