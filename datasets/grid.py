"""Traversal grids: one row per factor, that factor moving across its range, the others fixed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factorbench.datasets._base import DatasetError, GroundTruthDataset, as_generator

#: Columns of a traversal grid: 64 images of 64 px make a 4,200 px wide PNG, already past any screen.
MIN_COLUMNS, MAX_COLUMNS = 2, 64


def traversal_factors(dataset: GroundTruthDataset, columns: int = 10) -> np.ndarray:
    """Factor rows (K * columns, K): row block k sweeps factor k evenly, the rest at their middle value."""
    if not MIN_COLUMNS <= columns <= MAX_COLUMNS:
        raise DatasetError(f"a traversal grid has {MIN_COLUMNS} to {MAX_COLUMNS} columns (--columns), got {columns}")
    base = np.asarray(dataset.factor_sizes) // 2
    rows = []
    for k, size in enumerate(dataset.factor_sizes):
        block = np.repeat(base[None, :], columns, axis=0)
        block[:, k] = np.round(np.linspace(0, size - 1, columns)).astype(np.int64)
        rows.append(block)
    return np.concatenate(rows).astype(np.int64)


def tile(images: np.ndarray, rows: int, columns: int, pad: int = 2, fill: int = 128) -> np.ndarray:
    """Tile uint8 (rows*columns, H, W, C) images into one (H', W', C) picture with `pad` borders."""
    n, h, w, c = images.shape
    if n != rows * columns:
        raise DatasetError(f"tile: {n} images do not fill {rows} x {columns}")
    out = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad, c), fill, dtype=np.uint8)
    for i in range(n):
        r, col = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        out[top : top + h, left : left + w] = images[i]
    return out


def save_traversal_grid(dataset: GroundTruthDataset, path: str | Path, columns: int = 10, seed: int = 0,
                        scale: int = 2) -> Path:
    """Write the traversal grid of `dataset` as a PNG with the factor names on the left; returns the path."""
    from PIL import Image, ImageDraw

    factors = traversal_factors(dataset, columns)
    # every tile gets the same per-image randomness (colour, noise, texture crop), so only the factor moves
    images = np.concatenate([dataset.images(row[None, :], as_generator(seed)) for row in factors])
    picture = tile(images, dataset.num_factors, columns)
    if picture.shape[-1] == 1:
        picture = np.repeat(picture, 3, axis=-1)
    picture = picture.repeat(scale, axis=0).repeat(scale, axis=1)
    label_width = 110
    canvas = Image.new("RGB", (picture.shape[1] + label_width, picture.shape[0]), (255, 255, 255))
    canvas.paste(Image.fromarray(picture), (label_width, 0))
    draw = ImageDraw.Draw(canvas)
    row_height = picture.shape[0] / dataset.num_factors
    for k, (name, size) in enumerate(zip(dataset.factor_names, dataset.factor_sizes)):
        draw.text((6, int(k * row_height + row_height / 2 - 6)), f"{name} ({size})", fill=(0, 0, 0))
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DatasetError(f"the grid is written as PNG; give a path ending in .png, got {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
