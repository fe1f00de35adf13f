"""`dsprites`, `shapes3d`, `smallnorb`: the original files through factorbench's own TFDS builders.

They read the same raw files as TFDS's catalog builders (same file names, sizes and sha256, see
TFDS's ``checksums.tsv``), store plain uint8 ``Tensor`` images and int64 factors in array_record
in index order, and read back with `tfds.data_source`: no TensorFlow anywhere. The first `images`
call builds the dataset (progress bars; about 2-3 minutes for dSprites on 2 cores), later ones
reuse it. Prepared data goes to ``<data root>/factorbench_<name>/<name>/<version>/``.

* dsprites: ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5``; factors shape 3, scale 6,
  orientation 40, posX 32, posY 32 (dlib's ``dsprites_full``: the constant colour is dropped);
  pixels 0/255 (dlib's 0/1 after `images_float`).
* shapes3d: ``3dshapes.h5``; factors floor_hue 10, wall_hue 10, object_hue 10, scale 8, shape 4,
  orientation 15; the float labels are turned into indices by their sorted distinct values.
* smallnorb: the six ``smallnorb-...-{dat,cat,info}.mat.gz`` files; train and test concatenated
  (dlib), first image of each stereo pair, resized 96 -> 64 with PIL's Lanczos filter; exposed
  factors category 5, elevation 9, azimuth 18 (raw azimuth / 2), lighting 6; instance 10 is a
  nuisance redrawn for every image, as in dlib.

A file in the wrong order or shape is rejected with its reason (the builder checks that records
arrive in index order and that the grid is complete).
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from factorbench.datasets import cache
from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset
from factorbench.datasets.canonical._files import RawFile, data_root, locate, verify


@dataclasses.dataclass(frozen=True)
class CanonicalSpec:
    """Everything a canonical dataset needs: names, grid, files, and a reader of its raw files."""

    name: str
    version: str
    description: str
    citation: str
    factor_names: tuple[str, ...]
    factor_sizes: tuple[int, ...]
    image_shape: tuple[int, int, int]
    files: tuple[RawFile, ...]
    # reader(paths by file name, spec) -> chunks of (all_factors (n, K+nuisance), uint8 images), in index order
    reader: Callable[[dict[str, Path], CanonicalSpec], Iterator[tuple[np.ndarray, np.ndarray]]]
    nuisance_names: tuple[str, ...] = ()
    nuisance_sizes: tuple[int, ...] = ()
    chunk: int = 4096


_BUILDERS: dict[str, type] = {}


def builder_for(name: str) -> type:
    """The TFDS builder class `factorbench_<name>`, a `FactorbenchGrid` that reads raw files."""
    if name not in _BUILDERS:
        base = cache.builder_class()

        def _grid(self):
            spec = self._source
            return cache.GridMeta(spec.factor_sizes + spec.nuisance_sizes, spec.image_shape, spec.description)

        def _chunks(self, dl_manager):
            spec = self._source
            return spec.reader(self._paths, spec)

        def __init__(self, *, paths=None, **kwargs):
            self._paths = paths or {}
            base.__init__(self, **kwargs)

        cls_name = "Factorbench" + "".join(part.capitalize() for part in name.split("_"))
        _BUILDERS[name] = type(cls_name, (base,), {"__init__": __init__, "_grid": _grid, "_chunks": _chunks,
                                                   "__module__": __name__})
    return _BUILDERS[name]


class CanonicalDataset(GroundTruthDataset):
    """A canonical dataset read from its prepared array_record copy, built from the raw files on first use."""

    def __init__(self, spec: CanonicalSpec, data_dir=None, progress: bool = True):
        self.spec = spec
        self.info = DatasetInfo(name=spec.name, version=spec.version, description=spec.description,
                                source="user file(s): " + ", ".join(f.describe() for f in spec.files),
                                citation=spec.citation, comparable_to=spec.name)
        self.factor_names = spec.factor_names
        self.factor_sizes = spec.factor_sizes
        self.nuisance_names = spec.nuisance_names
        self.nuisance_sizes = spec.nuisance_sizes
        self.deterministic = not spec.nuisance_sizes
        self.observation_shape = spec.image_shape
        self.root = data_root(data_dir)
        self.progress = progress
        self._cached: cache.CachedDataset | None = None

    def prepare(self) -> cache.CachedDataset:
        """Build the array_record copy if needed (verifying the raw files first) and open it."""
        if self._cached is None:
            spec = self.spec
            builder_cls, config, probe = self._builder()
            paths = {}
            if not probe.is_prepared():
                for raw in spec.files:
                    paths[raw.name] = locate(spec.name, self.root, raw)
                    verify(spec.name, paths[raw.name], raw)
            source = cache.prepare(builder_cls, config, self.root, progress=self.progress, source=spec, paths=paths)
            self._cached = cache.CachedDataset(
                info=self.info, factor_names=self.factor_names, factor_sizes=self.factor_sizes,
                observation_shape=self.observation_shape, source=source, nuisance_names=self.nuisance_names,
                nuisance_sizes=self.nuisance_sizes)
        return self._cached

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self.prepare()._render(all_factors, rng)

    def _builder(self):
        """(builder class, config, a builder instance that tells whether the array_record copy exists)."""
        builder_cls = builder_for(self.spec.name)
        config = cache.builder_config(self.spec.name, self.spec.version, self.spec.description)
        probe = builder_cls(data_dir=str(self.root), config=config, file_format="array_record", source=self.spec)
        return builder_cls, config, probe

    def check_available(self) -> None:
        if self._cached is None and not self._builder()[2].is_prepared():
            for raw in self.spec.files:
                locate(self.spec.name, self.root, raw)

    def device_renderer(self):
        raise NotImplementedError(f"{self.name}: read images on the host (dataset.images) and transfer them")


# ------------------------------------------------------------------------------------------ readers
def _read_dsprites(paths, spec):
    import h5py

    with h5py.File(paths[spec.files[0].name], "r") as h5:
        images, classes = h5["imgs"], h5["latents"]["classes"]
        expected = (int(np.prod(spec.factor_sizes)), *spec.image_shape[:2])
        if images.shape != expected or classes.shape != (expected[0], 6):
            raise DatasetError(f"{spec.name}: imgs has shape {images.shape} and latents/classes {classes.shape}, "
                               f"expected {expected} and ({expected[0]}, 6)")
        for start in range(0, expected[0], spec.chunk):
            block = np.asarray(images[start : start + spec.chunk], np.uint8)
            factors = np.asarray(classes[start : start + spec.chunk], np.int64)[:, 1:]
            yield factors, (block[..., None] * np.uint8(255))


def _read_shapes3d(paths, spec):
    import h5py

    with h5py.File(paths[spec.files[0].name], "r") as h5:
        images, labels = h5["images"], h5["labels"]
        n = int(np.prod(spec.factor_sizes))
        if images.shape != (n, *spec.image_shape) or labels.shape != (n, len(spec.factor_sizes)):
            raise DatasetError(f"{spec.name}: images has shape {images.shape} and labels {labels.shape}, expected "
                               f"{(n, *spec.image_shape)} and {(n, len(spec.factor_sizes))}")
        values = np.asarray(labels[:], np.float64)
        levels = [np.unique(values[:, k]) for k in range(values.shape[1])]
        for k, (level, size) in enumerate(zip(levels, spec.factor_sizes)):
            if len(level) != size:
                raise DatasetError(f"{spec.name}: label column {k} ({spec.factor_names[k]}) has {len(level)} distinct "
                                   f"values, expected {size}")
        factors = np.stack([np.searchsorted(levels[k], values[:, k]) for k in range(len(levels))], 1)
        for start in range(0, n, spec.chunk):
            yield factors[start : start + spec.chunk], np.asarray(images[start : start + spec.chunk], np.uint8)


_NORB_MAGIC = {507333717: np.dtype("uint8"), 507333716: np.dtype("<i4")}


def read_norb_matrix(path: Path) -> np.ndarray:
    """A smallNORB binary matrix (optionally gzipped): magic int32, ndim, max(3, ndim) dims, little-endian data."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as err:
            raise DatasetError(f"{path}: not a readable gzip file ({err}); the file is truncated or corrupt") from None
    header = np.frombuffer(raw, "<i4", count=2)
    if len(header) < 2 or int(header[0]) not in _NORB_MAGIC:
        raise DatasetError(f"{Path(path).name}: not a smallNORB matrix (magic {header[:1].tolist()})")
    ndim = int(header[1])
    dims = np.frombuffer(raw, "<i4", count=ndim, offset=8)
    data = np.frombuffer(raw, _NORB_MAGIC[int(header[0])], offset=8 + 4 * max(3, ndim))
    if data.size != int(np.prod(dims)):
        raise DatasetError(f"{Path(path).name}: {data.size} values for shape {tuple(dims)}")
    return data.reshape(tuple(dims))


def _read_smallnorb(paths, spec):
    from PIL import Image

    images, features = [], []
    for part in ("training", "testing"):
        files = {kind: next(paths[f.name] for f in spec.files if f"-{part}-{kind}" in f.name)
                 for kind in ("dat", "cat", "info")}
        dat, cat, info = (read_norb_matrix(files[k]) for k in ("dat", "cat", "info"))
        if dat.ndim != 4 or dat.shape[1] != 2 or len(cat) != len(dat) or info.shape != (len(dat), 4):
            raise DatasetError(f"{spec.name}: {part} files have shapes dat {dat.shape}, cat {cat.shape}, info "
                               f"{info.shape}; expected (n, 2, 96, 96), (n,), (n, 4)")
        side = spec.image_shape[0]
        images.append(np.stack([np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.LANCZOS))
                                for im in dat[:, 0]]))
        # exposed (category, elevation, azimuth / 2, lighting) then nuisance instance
        features.append(np.stack([cat, info[:, 1], info[:, 2] // 2, info[:, 3], info[:, 0]], 1).astype(np.int64))
    images_all, factors = np.concatenate(images), np.concatenate(features)
    sizes = spec.factor_sizes + spec.nuisance_sizes
    order = np.argsort(factors @ cache._bases(sizes), kind="stable")
    if len(order) != int(np.prod(sizes)):
        raise DatasetError(f"{spec.name}: {len(order)} images, the grid {list(sizes)} has {int(np.prod(sizes))}")
    for start in range(0, len(order), spec.chunk):
        rows = order[start : start + spec.chunk]
        yield factors[rows], images_all[rows][..., None]


# ------------------------------------------------------------------------------------------ specs
_NORB_URL = "https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/"
_NORB_FILES = (
    ("smallnorb-5x46789x9x18x6x2x96x96-training-dat.mat.gz", 131896188,
     "5ffd6272a07d32695ee1082a26a41a93a37aab8c28da047f8c34ed348d214873"),
    ("smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat.gz", 348,
     "2784e542c1922060691090952b6cd6278879a216c90f81476f0f00256d42cdaa"),
    ("smallnorb-5x46789x9x18x6x2x96x96-training-info.mat.gz", 71052,
     "de7eb932ebe7a4ee16217fead60660d0eb3d23632c2f4d1c51f88c501c17bf32"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-dat.mat.gz", 130799817,
     "cf7104eed3e51174d2f65b66d1e5878b9da233b886f161b0d88f4510ba2c7474"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-cat.mat.gz", 347,
     "ecaf6d5bb8c3bc5eab9cf0258f6d2198dd474e016e374836fc097f2e5ff509ff"),
    ("smallnorb-5x01235x9x18x6x2x96x96-testing-info.mat.gz", 10428,
     "16adf314226327ee006d1a44db8cfef52773c06c829951d5653a9f6f310248a2"),
)

DSPRITES = CanonicalSpec(
    name="dsprites", version="1.0.0",
    description="dSprites (the original file): shape, scale, orientation, posX, posY; binary 64x64.",
    citation="Matthey et al. 2017, dSprites: Disentanglement testing Sprites dataset.",
    factor_names=("shape", "scale", "orientation", "posX", "posY"), factor_sizes=(3, 6, 40, 32, 32),
    image_shape=(64, 64, 1), reader=_read_dsprites,
    files=(RawFile("dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5", 28024106,
                   "729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb",
                   "https://github.com/deepmind/dsprites-dataset", "dsprites"),),
)
SHAPES3D = CanonicalSpec(
    name="shapes3d", version="1.0.0",
    description="3D Shapes (the original file): floor/wall/object hue, scale, shape, orientation; 64x64x3.",
    citation="Burgess & Kim 2018, 3D Shapes Dataset.",
    factor_names=("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation"),
    factor_sizes=(10, 10, 10, 8, 4, 15), image_shape=(64, 64, 3), reader=_read_shapes3d,
    files=(RawFile("3dshapes.h5", 267573662, "0a0f6ed98baff276a50f3a081a7434d788da63cb135a98189b2a5b5769be1785",
                   "https://storage.googleapis.com/3d-shapes/3dshapes.h5", "3dshapes"),),
)
SMALLNORB = CanonicalSpec(
    name="smallnorb", version="1.0.0",
    description="smallNORB (the original files), train+test, first stereo image resized to 64x64; instance is a "
    "nuisance.",
    citation="LeCun, Huang & Bottou 2004, Learning methods for generic object recognition with invariance to pose "
    "and lighting.",
    factor_names=("category", "elevation", "azimuth", "lighting"), factor_sizes=(5, 9, 18, 6),
    nuisance_names=("instance",), nuisance_sizes=(10,), image_shape=(64, 64, 1), reader=_read_smallnorb,
    files=tuple(RawFile(name, size, digest, _NORB_URL + name, "small_norb") for name, size, digest in _NORB_FILES),
)


def dsprites(data_dir=None) -> CanonicalDataset:
    return CanonicalDataset(DSPRITES, data_dir)


def shapes3d(data_dir=None) -> CanonicalDataset:
    return CanonicalDataset(SHAPES3D, data_dir)


def smallnorb(data_dir=None) -> CanonicalDataset:
    return CanonicalDataset(SMALLNORB, data_dir)
