"""`mpi3d_toy`, `mpi3d_realistic`, `mpi3d_real`: the MPI3D npz files from the data root.

Files (Gondal et al. 2019, CC BY 4.0): ``mpi3d_toy.npz``, ``mpi3d_realistic.npz``, ``mpi3d_real.npz``
(looked for as ``<root>/<name>``, ``<root>/<subset>/<name>`` as disentanglement_lib lays them out, or the
TFDS manual dir), key ``images``, uint8 (1036800, 64, 64, 3) in dlib's factor order with the last factor
fastest: object_color 6, object_shape 6, object_size 2, camera_height 3, background_color 3,
horizontal_axis 40, vertical_axis 40. Their sizes and sha256 are **not known offline** (the hosts moved
twice), so factorbench checks the array's shape and dtype instead and says so. dlib's early
``mpi3d_toy`` (460,800 images, 4 colours x 4 shapes) is a different release and is rejected.

An uncompressed npz member (``np.savez``) is memory-mapped, so the 12.7 GB array is never read whole;
a compressed one is loaded into memory once.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset
from factorbench.datasets.canonical._files import RawFile, data_root, locate, verify

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height", "background_color",
                "horizontal_axis", "vertical_axis")
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
URL = "https://github.com/rr-learning/disentanglement_dataset (now Hugging Face waleedgondal/mpi3d)"


def open_npz_array(path: Path, key: str) -> np.ndarray:
    """`key` of an npz file: memory-mapped when stored uncompressed, else loaded. A file that is not a readable
    npz, or too short for the array its header declares, raises DatasetError naming it."""
    try:
        return _open_npz_array(path, key)
    except DatasetError:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise DatasetError(f"{path}: not a readable npz file ({type(err).__name__}: {err}); the file is truncated, "
                           "corrupt or of another format: download it again") from None


def _open_npz_array(path: Path, key: str) -> np.ndarray:
    member = f"{key}.npy"
    with zipfile.ZipFile(path) as archive:
        if member not in archive.namelist():
            raise DatasetError(f"{path.name}: no array {key!r} in the npz (it has {archive.namelist()})")
        info = archive.getinfo(member)
        if info.compress_type == zipfile.ZIP_STORED:
            with open(path, "rb") as handle:
                handle.seek(info.header_offset)
                local = handle.read(30)
                name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
                handle.seek(info.header_offset + 30 + name_len + extra_len)
                version = np.lib.format.read_magic(handle)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                shape, fortran, dtype = read_header(handle)
                offset = handle.tell()
            needed = offset + int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            size = path.stat().st_size
            if needed > size:
                raise DatasetError(f"{path} is truncated: its array {key!r} {dtype}{shape} needs {needed:,} bytes, "
                                   f"the file has {size:,}; download it again")
            return np.memmap(path, dtype=dtype, mode="r", shape=shape, offset=offset, order="F" if fortran else "C")
    with np.load(path) as npz:
        return npz[key]


class MPI3D(GroundTruthDataset):
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (64, 64, 3)

    def __init__(self, subset: str = "toy", data_dir=None, factor_sizes: tuple[int, ...] = FACTOR_SIZES):
        if subset not in ("toy", "realistic", "real"):
            raise DatasetError(f"mpi3d: subset must be toy, realistic or real, got {subset!r}")
        self.factor_sizes = tuple(factor_sizes)
        self.raw = RawFile(f"mpi3d_{subset}.npz", None, None, URL, f"mpi3d_{subset}")
        self.info = DatasetInfo(
            name=f"mpi3d_{subset}", version="1.0.0",
            description=f"MPI3D {subset} (the original npz): object colour, shape, size, camera height, background, "
            "two arm axes; 64x64x3.",
            source="user file: " + self.raw.describe(),
            citation="Gondal et al. 2019, On the Transfer of Inductive Bias from Simulation to the Real World.",
            comparable_to=f"mpi3d_{subset}")
        self.root = data_root(data_dir)
        self._images: np.ndarray | None = None

    def array(self) -> np.ndarray:
        if self._images is None:
            path = locate(self.name, self.root, self.raw)
            verify(self.name, path, self.raw)
            images = open_npz_array(path, "images")
            expected = (self.num_observations, *self.observation_shape)
            if images.shape != expected or images.dtype != np.uint8:
                hint = " (dlib's early 460,800-image toy release is not supported)" if len(images) == 460_800 else ""
                raise DatasetError(f"{self.name}: {path} holds images {images.dtype}{images.shape}, expected "
                                   f"uint8{expected}{hint}")
            self._images = images
        return self._images

    def check_available(self) -> None:
        if self._images is None:
            locate(self.name, self.root, self.raw)

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        index = all_factors @ self._bases()
        order = np.argsort(index)
        out = np.empty((len(index), *self.observation_shape), np.uint8)
        out[order] = self.array()[index[order]]  # sorted reads are kinder to a memory map
        return out

    def device_renderer(self):
        raise NotImplementedError(f"{self.name}: read images on the host (dataset.images) and transfer them")
