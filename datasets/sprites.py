"""`sprites`: a twin of the dSprites factor grid, rendered by factorbench.

This is **not dSprites**. It has dSprites' factors, sizes and order (shape 3 x scale 6 x
orientation 40 x posX 32 x posY 32 = 737,280 binary 64x64 images, posY fastest), but
dSprites' exact geometry was never published, so the pixels differ and scores are **not
comparable** with published dSprites numbers. Load the real file as `dsprites` for that.

Geometry (all in pixels of the 64x64 frame; x to the right, y down):

* A sprite is drawn on a 32x32 canvas whose centre (16, 16) lies on a pixel corner. A pixel is
  on when its centre falls inside the shape (binary, no antialiasing, like dSprites).
* shape 0 = square of side ``20 * scale``; 1 = ellipse with semi-axes ``10 * scale`` (along the
  sprite's x) and ``6 * scale``; 2 = heart, the curve ``(u^2 + v^2 - 1)^3 <= u^2 v^3`` (v up),
  shifted down by 0.1 so its bounding box is centred, and scaled by ``9.5 * scale``.
* scale = linspace(0.5, 1, 6); orientation = linspace(0, 2*pi, 40), both ends included as in
  dSprites (index 0 and 39 are the same angle), a counter-clockwise rotation on screen.
* posX, posY = linspace(0, 1, 32): position index i puts the canvas' top-left corner at pixel i,
  so the sprite centre moves one pixel per step, from pixel 16 to 47 (of 0..63). At scale 1 the
  largest half-extent is 14.1 px (the square's half-diagonal), so no sprite pixel ever leaves
  the frame; the canvas border stays empty, which a test checks.

Variants (64x64x3, the same five factors; the randomness is drawn per observation from the
caller's generator, as dlib does):

* `sprites_color`: the sprite tinted with one colour drawn from U(0.5, 1)^3, black background.
* `sprites_noisy`: a white sprite on uniform per-pixel, per-channel noise.
* `sprites_textured`: a random 64x64 crop of a procedural texture averaged with a random
  colour U(0, 1)^3, and sprite pixels set to 1 - background: the stand-in for dlib's
  Scream dSprites (which needs a copy of Munch's painting).
* `sprites_noshape`: binary, with shape a nuisance factor redrawn for every image (dlib's
  `dsprites_noshape`).
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from factorbench.datasets._base import DatasetInfo, GroundTruthDataset

CANVAS = 32
FRAME = 64
SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2.0 * np.pi, 40)
NUM_POSITIONS = 32
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, NUM_POSITIONS, NUM_POSITIONS)

_NOT_DSPRITES = "Twin of the dSprites grid, not dSprites: scores are not comparable with published dSprites numbers."


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Membership in the unscaled shape; u to the right, v up, unit = one pixel at scale 1."""
    if shape == 0:
        return (np.abs(u) <= 10.0) & (np.abs(v) <= 10.0)
    if shape == 1:
        return (u / 10.0) ** 2 + (v / 6.0) ** 2 <= 1.0
    # heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, spans y in [-1, 1.2]; centre its box on the origin
    x = u / 9.5
    y = v / 9.5 + 0.1
    return (x * x + y * y - 1.0) ** 3 - x * x * y**3 <= 0.0


@functools.cache
def base_sprites() -> np.ndarray:
    """All 3 x 6 x 40 centred sprites, uint8 {0, 255}, shape (3, 6, 40, 32, 32)."""
    centres = np.arange(CANVAS, dtype=np.float64) + 0.5 - CANVAS / 2
    px = centres[None, :]  # x grows to the right
    py = -centres[:, None]  # screen y grows down; shape coordinates grow up
    out = np.zeros((3, len(SCALES), len(ORIENTATIONS), CANVAS, CANVAS), dtype=np.uint8)
    for shape in range(3):
        for si, scale in enumerate(SCALES):
            for oi, theta in enumerate(ORIENTATIONS):
                c, s = np.cos(theta), np.sin(theta)
                # inverse rotation of the pixel centre, then undo the scale
                u = (c * px + s * py) / scale
                v = (-s * px + c * py) / scale
                out[shape, si, oi] = np.where(_inside(shape, u, v), 255, 0)
    out.setflags(write=False)
    return out


def place_sprites(canvases: np.ndarray, pos_x: np.ndarray, pos_y: np.ndarray) -> np.ndarray:
    """Paste (N, 32, 32) canvases into empty 64x64 frames at top-left (pos_y, pos_x)."""
    n = len(canvases)
    out = np.zeros((n, FRAME, FRAME), dtype=np.uint8)
    offsets = pos_y.astype(np.int64) * NUM_POSITIONS + pos_x.astype(np.int64)
    order = np.argsort(offsets, kind="stable")
    sorted_offsets = offsets[order]
    starts = np.flatnonzero(np.r_[True, sorted_offsets[1:] != sorted_offsets[:-1]])
    # one vectorised copy per distinct position (at most 32 * 32), not one per image
    for begin, end in zip(starts, np.r_[starts[1:], n]):
        rows = order[begin:end]
        y, x = divmod(int(sorted_offsets[begin]), NUM_POSITIONS)
        out[rows, y : y + CANVAS, x : x + CANVAS] = canvases[rows]
    return out


def render_binary(all_factors: np.ndarray) -> np.ndarray:
    """Binary sprites (N, 64, 64) uint8 {0, 255} from (N, 5) factor rows."""
    shape, scale, orientation, pos_x, pos_y = all_factors.T
    return place_sprites(base_sprites()[shape, scale, orientation], pos_x, pos_y)


def _value_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth periodic noise: a random (cells x cells x 3) grid, bilinearly upsampled to size."""
    grid = rng.random((cells, cells, 3))
    t = np.arange(size) * (cells / size)
    i0 = np.floor(t).astype(np.int64)
    f = t - i0
    i1 = (i0 + 1) % cells
    rows = grid[i0] * (1 - f)[:, None, None] + grid[i1] * f[:, None, None]
    return rows[:, i0] * (1 - f)[None, :, None] + rows[:, i1] * f[None, :, None]


@functools.cache
def texture(size: int = 256) -> np.ndarray:
    """The fixed procedural texture behind `sprites_textured`: float64 (size, size, 3) in [0, 1].

    Octaves of value noise (only additions and multiplications, so the bytes are the same on
    every machine), contrast-stretched per channel.
    """
    rng = np.random.default_rng(20190611)
    tex = sum(_value_noise(rng, size, cells) / (k + 1) for k, cells in enumerate((4, 8, 16, 32, 64)))
    tex = (tex - tex.min(axis=(0, 1))) / (tex.max(axis=(0, 1)) - tex.min(axis=(0, 1)))
    tex.setflags(write=False)
    return tex


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


class Sprites(GroundTruthDataset):
    """Binary dSprites-grid twin, 64x64x1."""

    info = DatasetInfo(
        name="sprites",
        version="1.0.0",
        description="dSprites factor grid (shape, scale, orientation, posX, posY), binary 64x64. " + _NOT_DSPRITES,
        citation="Matthey et al. 2017, dSprites: Disentanglement testing Sprites dataset (the grid only).",
        comparable_to="",
    )
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (FRAME, FRAME, 1)

    def _binary(self, all_factors: np.ndarray) -> np.ndarray:
        return render_binary(all_factors)

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return self._binary(all_factors)[..., None]

    def device_renderer(self):
        """Render on the device from the 720 base sprites (737 KB) instead of 3 GB of images."""
        import jax
        import jax.numpy as jnp

        bases = jnp.asarray(base_sprites())
        deterministic = self.deterministic

        def render(factors, key=None):
            factors = jnp.asarray(factors, jnp.int32)
            canvases = bases[factors[:, 0], factors[:, 1], factors[:, 2]]

            def paste(canvas, x, y):
                return jax.lax.dynamic_update_slice(jnp.zeros((FRAME, FRAME), jnp.uint8), canvas, (y, x))

            binary = jax.vmap(paste)(canvases, factors[:, 3], factors[:, 4])
            if deterministic:
                return binary[..., None]
            return self._device_variant(binary, key)

        return render

    def _device_variant(self, binary, key):
        raise NotImplementedError


class SpritesColor(Sprites):
    info = DatasetInfo(
        name="sprites_color",
        version="1.0.0",
        description="sprites tinted with a random colour U(0.5, 1)^3 per image on black (dlib's color_dsprites idea). "
        + _NOT_DSPRITES,
    )
    observation_shape = (FRAME, FRAME, 3)
    deterministic = False

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sprite = self._binary(all_factors)[..., None] / 255.0
        colour = rng.uniform(0.5, 1.0, size=(len(all_factors), 1, 1, 3))
        return _to_uint8(sprite * colour)

    def _device_variant(self, binary, key):
        import jax
        import jax.numpy as jnp

        colour = jax.random.uniform(key, (binary.shape[0], 1, 1, 3), minval=0.5, maxval=1.0)
        return jnp.floor(binary[..., None] / 255.0 * colour * 255.0 + 0.5).astype(jnp.uint8)


class SpritesNoisy(Sprites):
    info = DatasetInfo(
        name="sprites_noisy",
        version="1.0.0",
        description="white sprites on uniform per-pixel noise (dlib's noisy_dsprites idea). " + _NOT_DSPRITES,
    )
    observation_shape = (FRAME, FRAME, 3)
    deterministic = False

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        sprite = self._binary(all_factors)[..., None]
        noise = rng.integers(0, 256, size=(len(all_factors), FRAME, FRAME, 3), dtype=np.uint8)
        return np.maximum(noise, sprite)

    def _device_variant(self, binary, key):
        import jax
        import jax.numpy as jnp

        noise = jax.random.randint(key, (*binary.shape, 3), 0, 256, dtype=jnp.int32).astype(jnp.uint8)
        return jnp.maximum(noise, binary[..., None])


class SpritesTextured(Sprites):
    info = DatasetInfo(
        name="sprites_textured",
        version="1.0.0",
        description="sprites cut out of a tinted procedural texture, sprite pixels inverted (stand-in for dlib's "
        "scream_dsprites). " + _NOT_DSPRITES,
    )
    observation_shape = (FRAME, FRAME, 3)
    deterministic = False

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = len(all_factors)
        tex = texture()
        corner = rng.integers(0, tex.shape[0] - FRAME, size=(n, 2))
        colour = rng.random((n, 1, 1, 3))
        rows = corner[:, 0, None] + np.arange(FRAME)[None, :]
        cols = corner[:, 1, None] + np.arange(FRAME)[None, :]
        background = (tex[rows[:, :, None], cols[:, None, :]] + colour) / 2.0
        sprite = self._binary(all_factors)[..., None] > 0
        return _to_uint8(np.where(sprite, 1.0 - background, background))

    def _device_variant(self, binary, key):
        import jax
        import jax.numpy as jnp

        tex = jnp.asarray(texture(), jnp.float32)
        k_corner, k_colour = jax.random.split(key)
        n = binary.shape[0]
        corner = jax.random.randint(k_corner, (n, 2), 0, tex.shape[0] - FRAME)
        colour = jax.random.uniform(k_colour, (n, 1, 1, 3))

        def crop(c):
            return jax.lax.dynamic_slice(tex, (c[0], c[1], 0), (FRAME, FRAME, 3))

        background = (jax.vmap(crop)(corner) + colour) / 2.0
        mixed = jnp.where(binary[..., None] > 0, 1.0 - background, background)
        return jnp.floor(jnp.clip(mixed, 0.0, 1.0) * 255.0 + 0.5).astype(jnp.uint8)


class SpritesNoShape(Sprites):
    info = DatasetInfo(
        name="sprites_noshape",
        version="1.0.0",
        description="sprites with shape as a nuisance factor redrawn per image (dlib's dsprites_noshape). "
        + _NOT_DSPRITES,
    )
    factor_names = FACTOR_NAMES[1:]
    factor_sizes = FACTOR_SIZES[1:]
    nuisance_names = ("shape",)
    nuisance_sizes = (3,)
    deterministic = False

    def _binary(self, all_factors: np.ndarray) -> np.ndarray:
        # all_factors = exposed (scale, orientation, posX, posY) + nuisance (shape)
        return render_binary(np.concatenate([all_factors[:, 4:5], all_factors[:, :4]], axis=1))

    def device_renderer(self):
        raise NotImplementedError("sprites_noshape has no device renderer")


def full_grid_sha256(dataset: GroundTruthDataset, chunk: int = 73_728, progress=None) -> str:
    """sha256 of the whole grid's uint8 images in index order, rendered chunk by chunk.

    Equals `sha256(dataset.images(all factors).tobytes())` without holding 3 GB at once.
    """
    digest = hashlib.sha256()
    for start in range(0, dataset.num_observations, chunk):
        stop = min(start + chunk, dataset.num_observations)
        digest.update(dataset.images(dataset.index_to_factors(np.arange(start, stop)), 0).tobytes())
        if progress is not None:
            progress(stop - start)
    return digest.hexdigest()
