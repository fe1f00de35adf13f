"""`identity`: a tiny dataset whose images spell out their factors, for testing metrics and models.

Factor k is drawn as a horizontal band of the image whose grey level is ``value / (size - 1)``
(bands split the 64 rows evenly; a factor with one value is mid-grey). A representation that reads
back the band means is the identity representation, which scores ~1 on every disentanglement metric.
Sizes are an option: ``load("identity", factor_sizes=(4, 5, 6))``. Like dlib's
`IdentityObservationsData`, but with 64x64 images so it goes through the same encoders as real data.
"""

from __future__ import annotations

import numpy as np

from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset


class Identity(GroundTruthDataset):
    observation_shape = (64, 64, 1)

    def __init__(self, factor_sizes: tuple[int, ...] = (3, 4, 5, 6)):
        sizes = tuple(int(s) for s in factor_sizes)
        if not 1 <= len(sizes) <= 16 or min(sizes) < 1 or max(sizes) > 256:
            raise DatasetError(f"identity: factor_sizes must be 1..16 sizes, each 1..256, got {factor_sizes}")
        self.factor_sizes = sizes
        self.factor_names = tuple(f"factor{k}" for k in range(len(sizes)))
        self.info = DatasetInfo(
            name="identity",
            version="1.0.0",
            description=f"test dataset: {len(sizes)} factors drawn as grey bands, sizes {list(sizes)}",
        )
        self.band_edges = np.linspace(0, 64, len(sizes) + 1).round().astype(int)

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sizes = np.asarray(self.factor_sizes)
        levels = np.where(sizes > 1, all_factors / np.maximum(sizes - 1, 1), 0.5)
        grey = np.floor(levels * 255 + 0.5).astype(np.uint8)  # (n, K)
        row_owner = np.searchsorted(self.band_edges[1:], np.arange(64), side="right")
        column = grey[:, row_owner]  # (n, 64)
        return np.broadcast_to(column[:, :, None, None], (len(all_factors), 64, 64, 1)).copy()

    def read_factors(self, images: np.ndarray) -> np.ndarray:
        """The identity representation: the band means of each image, scaled to [0, 1] (float32, (N, K))."""
        imgs = np.asarray(images, dtype=np.float32)
        if imgs.max(initial=0) > 1.0:
            imgs = imgs / 255.0
        bands = [imgs[:, a:b].mean(axis=(1, 2, 3)) for a, b in zip(self.band_edges[:-1], self.band_edges[1:])]
        return np.stack(bands, axis=1).astype(np.float32)
