"""PNG figures of a trained member: reconstructions and latent traversals."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from factorbench.models.files import atomic_path


def _grid(tiles: np.ndarray, pad: int = 2) -> np.ndarray:
    """(rows, cols, 64, 64, C) float in [0, 1] -> one uint8 image with `pad` white pixels between tiles."""
    rows, cols, h, w, c = tiles.shape
    out = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
    for r in range(rows):
        for k in range(cols):
            y, x = pad + r * (h + pad), pad + k * (w + pad)
            out[y:y + h, x:x + w] = tiles[r, k]
    img = np.floor(np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
    return img[..., 0] if c == 1 else img


def _save(img: np.ndarray, path: Path) -> Path:
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")
    return path


def save_reconstructions(images: np.ndarray, reconstructions: np.ndarray, path: Path, cols: int = 8) -> Path:
    """Rows alternate originals and their reconstructions (decoded from the means)."""
    n = (len(images) // cols) * cols
    a = images[:n].reshape(-1, cols, *images.shape[1:])
    b = reconstructions[:n].reshape(-1, cols, *images.shape[1:])
    return _save(_grid(np.stack([a, b], axis=1).reshape(-1, cols, *images.shape[1:])), path)


def save_traversals(frames: np.ndarray, path: Path) -> Path:
    """frames (D latents, V values, 64, 64, C): row d varies latent d over the values."""
    return _save(_grid(frames), path)
