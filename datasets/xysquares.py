"""`xysquares`: three coloured squares on a grid, the adversarial set for pixel-wise reconstruction.

After disent's XYSquares (Michlo et al. 2023, "Overlooked implicit assumptions in disentanglement
benchmarks"): a red, a green and a blue square, each 8x8 pixels, each moving on an 8 x 8 grid of
positions with spacing 8, so squares never overlap partially within one channel and neighbouring
positions share no pixels. Pixel-wise reconstruction losses see every position as equally far from
every other, so VAEs find no smooth structure to exploit. Factors (last fastest): x_R, y_R, x_G,
y_G, x_B, y_B, each with 8 values; 262,144 images, 64x64x3.
"""

from __future__ import annotations

import numpy as np

from factorbench.datasets._base import DatasetInfo, GroundTruthDataset

SQUARE = 8
POSITIONS = 8


class XYSquares(GroundTruthDataset):
    info = DatasetInfo(
        name="xysquares",
        version="1.0.0",
        description="three 8x8 squares (R, G, B channels) on an 8x8 position grid; adversarial for pixel losses",
        citation="Michlo, Klein, James 2023, Overlooked Implicit Assumptions in Disentanglement Benchmarks (disent).",
    )
    factor_names = ("x_R", "y_R", "x_G", "y_G", "x_B", "y_B")
    factor_sizes = (POSITIONS,) * 6
    observation_shape = (64, 64, 3)

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(all_factors)
        # a square covers the cells whose index equals the factor value, on each axis
        cell = np.arange(64) // SQUARE
        out = np.empty((n, 64, 64, 3), dtype=np.uint8)
        for c in range(3):
            xs = all_factors[:, 2 * c, None] == cell[None, :]  # (n, 64) columns covered
            ys = all_factors[:, 2 * c + 1, None] == cell[None, :]  # (n, 64) rows covered
            out[..., c] = (ys[:, :, None] & xs[:, None, :]) * np.uint8(255)
        return out
