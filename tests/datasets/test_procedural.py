"""The dataset layer: index round trips, determinism, factor effects, the pinned sprites hash, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from factorbench import datasets
from factorbench.datasets.sprites import base_sprites, full_grid_sha256

PROCEDURAL = [
    "sprites",
    "sprites_color",
    "sprites_noisy",
    "sprites_textured",
    "sprites_noshape",
    "xysquares",
    "identity",
]
# sha256 of the whole `sprites` grid (737,280 x 64 x 64 uint8, index order). A change to the geometry must
# change this number on purpose, together with the dataset's version.
SPRITES_SHA256 = "6d566664746f017f29f0ad588ddd9fe72fedad1da18254363b4171872fc6c51d"


@pytest.fixture(scope="module", params=PROCEDURAL)
def dataset(request):
    return datasets.load(request.param)


def test_registry_lists_every_procedural_dataset():
    assert set(PROCEDURAL) <= set(datasets.names())


def test_index_round_trip(dataset):
    rng = np.random.default_rng(1)
    factors = dataset.sample_factors(500, rng)
    index = dataset.factors_to_index(factors)
    assert index.min() >= 0 and index.max() < dataset.num_observations
    np.testing.assert_array_equal(dataset.index_to_factors(index), factors)
    ends = np.array([0, dataset.num_observations - 1])
    np.testing.assert_array_equal(dataset.factors_to_index(dataset.index_to_factors(ends)), ends)
    np.testing.assert_array_equal(dataset.index_to_factors(0)[0], np.zeros(dataset.num_factors))
    np.testing.assert_array_equal(dataset.index_to_factors(dataset.num_observations - 1)[0],
                                  np.asarray(dataset.factor_sizes) - 1)


def test_last_factor_varies_fastest(dataset):
    factors = dataset.index_to_factors(np.arange(2))
    assert factors[1, -1] - factors[0, -1] == 1 or dataset.factor_sizes[-1] == 1


def test_images_shape_dtype_and_determinism(dataset):
    factors = dataset.sample_factors(16, 3)
    first = dataset.images(factors, np.random.default_rng(7))
    again = dataset.images(factors, np.random.default_rng(7))
    assert first.dtype == np.uint8 and first.shape == (16, *dataset.observation_shape)
    np.testing.assert_array_equal(first, again)
    f1, i1 = dataset.sample(8, 11)
    f2, i2 = dataset.sample(8, 11)
    np.testing.assert_array_equal(f1, f2)
    np.testing.assert_array_equal(i1, i2)
    floats = dataset.images_float(factors, np.random.default_rng(7))
    assert floats.dtype == np.float32 and 0.0 <= floats.min() and floats.max() <= 1.0


def test_each_factor_changes_the_image(dataset):
    base = (np.asarray(dataset.factor_sizes) // 2)[None, :]
    for k, size in enumerate(dataset.factor_sizes):
        if size == 1:
            continue
        moved = base.copy()
        moved[0, k] = (base[0, k] + 1) % size
        a = dataset.images(base, 5).astype(int)
        b = dataset.images(moved, 5).astype(int)  # same seed: the per-image randomness is identical
        assert np.abs(a - b).sum() > 0, f"{dataset.name}: factor {dataset.factor_names[k]} does not change the image"


@pytest.mark.parametrize("name", ["sprites", "xysquares", "identity"])
def test_only_factors_change_binary_images(name):
    dataset = datasets.load(name)
    assert dataset.deterministic
    factors = dataset.sample_factors(32, 2)
    np.testing.assert_array_equal(dataset.images(factors, 1), dataset.images(factors, 99))


def test_nuisance_factor_is_redrawn_per_observation():
    ds = datasets.load("sprites_noshape")
    assert ds.nuisance_names == ("shape",)
    factors = np.repeat(ds.sample_factors(1, 0), 64, axis=0)
    images = ds.images(factors, 3)
    distinct = {img.tobytes() for img in images}
    assert 2 <= len(distinct) <= 3  # three shapes at most, and they do vary


def test_fixed_factor_batches_share_exactly_that_factor():
    ds = datasets.load("sprites")
    for k in range(ds.num_factors):
        rows = ds.sample_fixed_factor(k, 64, k)
        assert len(np.unique(rows[:, k])) == 1
        others = np.delete(rows, k, axis=1)
        assert len({tuple(r) for r in others}) > 1
        first, second = ds.sample_pairs_sharing_factor(k, 64, k)
        np.testing.assert_array_equal(first[:, k], second[:, k])


def test_sprites_canvas_border_stays_empty():
    sprites = base_sprites()
    assert sprites[..., 0, :].max() == 0 and sprites[..., -1, :].max() == 0
    assert sprites[..., :, 0].max() == 0 and sprites[..., :, -1].max() == 0
    # bigger scale, more pixels, for every shape (orientation 0)
    pixels = (sprites[:, :, 0] > 0).sum(axis=(-1, -2))
    assert np.all(np.diff(pixels, axis=1) > 0)


def test_sprites_orientation_ends_coincide_like_dsprites():
    sprites = base_sprites()
    np.testing.assert_array_equal(sprites[:, :, 0], sprites[:, :, 39])


def test_identity_reads_back_its_factors():
    ds = datasets.load("identity", factor_sizes=(3, 5, 7))
    factors = ds.sample_factors(50, 0)
    codes = ds.read_factors(ds.images(factors))
    expected = factors / (np.asarray(ds.factor_sizes) - 1)
    np.testing.assert_allclose(codes, expected, atol=1 / 255)


@pytest.mark.parametrize("name", ["sprites", "sprites_color", "sprites_noisy", "sprites_textured", "identity"])
def test_device_renderer_matches_numpy_for_deterministic_parts(name):
    import jax

    ds = datasets.load(name)
    render = jax.jit(ds.device_renderer())
    factors = ds.sample_factors(24, 4)
    on_device = np.asarray(render(factors.astype(np.int32), jax.random.key(0)))
    assert on_device.shape == (24, *ds.observation_shape) and on_device.dtype == np.uint8
    if ds.deterministic:
        np.testing.assert_array_equal(on_device, ds.images(factors))
    else:
        # the sprite's silhouette is the same; the randomness comes from another generator
        silhouette = datasets.load("sprites").images(factors)[..., 0] > 0
        if name == "sprites_color":
            np.testing.assert_array_equal(on_device.max(axis=-1) > 0, silhouette)
        if name == "sprites_noisy":
            assert np.all(on_device[silhouette] == 255)


def test_full_sprites_grid_hash_is_pinned():
    digest = full_grid_sha256(datasets.load("sprites"))
    assert digest == SPRITES_SHA256, f"the sprites grid changed: sha256 {digest}"


# ---------------------------------------------------------------------------------------------- bad input
def test_unknown_name_lists_known_names():
    with pytest.raises(datasets.DatasetError, match="Did you mean 'sprites'.*Known datasets: .*xysquares"):
        datasets.load("sprite")


def test_unknown_option_is_named():
    with pytest.raises(datasets.DatasetError, match="no option"):
        datasets.load("sprites", colour="red")


def test_factor_out_of_range_names_factor_and_size():
    ds = datasets.load("sprites")
    with pytest.raises(datasets.DatasetError, match=r"factor 'orientation' has 40 values \(0..39\), got 40"):
        ds.images(np.array([[0, 0, 40, 0, 0]]))
    with pytest.raises(datasets.DatasetError, match="factor 'shape'"):
        ds.factors_to_index(np.array([[-1, 0, 0, 0, 0]]))
    with pytest.raises(datasets.DatasetError, match="index out of range"):
        ds.index_to_factors(np.array([ds.num_observations]))


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((3, 4), np.int64), r"shape \(N, 5\).*got shape \(3, 4\)"),
        (np.zeros(5, np.int64), r"got shape \(5,\)"),
        (np.full((2, 5), 0.5), "integer indices, got dtype float64"),
        (np.array([["a"] * 5]), "integer indices"),
    ],
)
def test_wrong_factors_array_says_what_was_expected(bad, message):
    with pytest.raises(datasets.DatasetError, match=message):
        datasets.load("sprites").images(bad)


def test_bad_identity_sizes():
    with pytest.raises(datasets.DatasetError, match="factor_sizes"):
        datasets.load("identity", factor_sizes=(0, 3))
