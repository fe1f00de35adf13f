"""`cars3d`: the Cars3D .mat files (Reed et al. 2015) from the data root.

Files: the 183 ``*.mat`` files of ``nips2015-analogy-data.tar.gz`` (folder ``data/cars``), each holding
``im``: (128, 128, 3, 24, 4) = height, width, RGB, 24 azimuths, 4 elevations. They are looked for in
``<root>/cars`` (disentanglement_lib's layout). **Sorted by file name**, so object ids are stable
(dlib takes the directory listing order, which depends on the file system). Factors: elevation 4,
azimuth 24, object_type 183 (object fastest). Images are resized 128 -> 64 with PIL's Lanczos
filter (dlib uses PIL's thumbnail with ANTIALIAS, the same filter) and held in memory (216 MB).
The archive's size and sha256 are **not known offline**, so the count and shape of every file are
checked instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset
from factorbench.datasets.canonical._files import UNKNOWN_HASH, data_root

URL = "http://www.scottreed.info/files/nips2015-analogy-data.tar.gz"
NUM_OBJECTS = 183


class Cars3D(GroundTruthDataset):
    factor_names = ("elevation", "azimuth", "object_type")
    observation_shape = (64, 64, 3)

    def __init__(self, data_dir=None, num_objects: int = NUM_OBJECTS):
        self.factor_sizes = (4, 24, int(num_objects))
        self.info = DatasetInfo(
            name="cars3d", version="1.0.0",
            description="Cars3D (the original .mat files, sorted by name): elevation, azimuth, object type; 64x64x3.",
            source=f"user files: cars/*.mat from {URL} ({self.factor_sizes[2]} files; sha256 {UNKNOWN_HASH})",
            citation="Reed, Zhang, Zhang & Lee 2015, Deep Visual Analogy-Making.", comparable_to="cars3d")
        self.root = data_root(data_dir)
        self._images: np.ndarray | None = None

    def folder(self) -> Path:
        for place in (self.root / "cars", self.root / "data" / "cars", self.root / "downloads" / "manual" / "cars"):
            if place.is_dir():
                return place
        raise DatasetError(
            f"cars3d: missing folder cars/ with {self.factor_sizes[2]} .mat files (unpacked from "
            f"nips2015-analogy-data.tar.gz, data/cars; size and sha256 {UNKNOWN_HASH}); put it at "
            f"{self.root / 'cars'} or point data_dir= / $FACTORBENCH_DATA at its parent ({URL})")

    def check_available(self) -> None:
        if self._images is None:
            self.folder()

    def array(self, progress: bool = True) -> np.ndarray:
        """All images, (4, 24, objects, 64, 64, 3) uint8, loaded once."""
        if self._images is None:
            import scipy.io
            from PIL import Image
            from tqdm.auto import tqdm

            files = sorted(self.folder().glob("*.mat"))
            if len(files) != self.factor_sizes[2]:
                raise DatasetError(f"cars3d: {self.folder()} holds {len(files)} .mat files, expected "
                                   f"{self.factor_sizes[2]}")
            out = np.empty((4, 24, len(files), 64, 64, 3), np.uint8)
            for obj, path in enumerate(tqdm(files, desc="loading cars3d", unit="file", disable=not progress)):
                try:
                    im = scipy.io.loadmat(path)["im"]
                except (ValueError, KeyError, OSError) as err:
                    raise DatasetError(f"cars3d: cannot read {path.name}: {err}") from err
                if im.shape != (128, 128, 3, 24, 4):
                    raise DatasetError(f"cars3d: {path.name} has im of shape {im.shape}, expected (128, 128, 3, 24, 4)")
                if im.dtype != np.uint8:
                    im = np.clip(np.asarray(im, np.float64) * (255.0 if im.max() <= 1.0 else 1.0), 0, 255)
                    im = np.floor(im + 0.5).astype(np.uint8)
                for az in range(24):
                    for el in range(4):
                        img = Image.fromarray(np.ascontiguousarray(im[:, :, :, az, el]))
                        out[el, az, obj] = np.asarray(img.resize((64, 64), Image.Resampling.LANCZOS))
            self._images = out
        return self._images

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = self.array()
        return images[all_factors[:, 0], all_factors[:, 1], all_factors[:, 2]]
