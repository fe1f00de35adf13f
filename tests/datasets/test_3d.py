"""The ray-marched 3D twins: interface, determinism, every factor moves the image where it should."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from factorbench import datasets
from factorbench.datasets import raymarch as rm


@pytest.fixture(scope="module")
def scenes():
    return datasets.load("scenes3d")


@pytest.fixture(scope="module")
def arm():
    return datasets.load("arm3d")


def one_factor_rows(ds, base):
    """Base row, then one row per factor with only that factor moved to its far value."""
    rows = [np.asarray(base)]
    for k, size in enumerate(ds.factor_sizes):
        row = np.array(base)
        row[k] = size - 1 if base[k] != size - 1 else 0
        rows.append(row)
    return np.stack(rows).astype(np.int64)


def test_primitives_and_march_hit_a_sphere_at_the_right_distance():
    p = (jnp.array([2.0]), jnp.array([0.0]), jnp.array([0.0]))
    assert float(rm.sd_sphere(p, 1.0)[0]) == pytest.approx(1.0)
    assert float(rm.sd_box_exact(p, 0.5, 0.5, 0.5)[0]) == pytest.approx(1.5)
    assert float(rm.sd_cylinder(p, 1.0, 1.0)[0]) == pytest.approx(1.0)
    origin, direction = rm.camera_rays(jnp.array([[0.0, 0.0, 5.0]]), jnp.zeros((1, 3)), 3, 30.0)
    t = rm.march(lambda q: rm.sd_sphere(q, 1.0), origin, direction, 0.0, 50.0, 32)
    assert float(t[0, 4]) == pytest.approx(4.0, abs=1e-3)  # the centre pixel looks straight at the sphere
    floor = rm.plane_hit(origin, direction, (0.0, 1.0, 0.0), -1.0)
    assert np.isinf(float(floor[0, 1])) and np.isfinite(float(floor[0, 7]))  # top row misses, bottom row hits


def test_scenes3d_interface_and_determinism(scenes, monkeypatch):
    assert scenes.factor_sizes == (10, 10, 10, 8, 4, 15) and scenes.num_observations == 480_000
    factors = scenes.sample_factors(5, 0)
    a, b = scenes.images(factors, 0), scenes.images(factors, 1)
    assert a.dtype == np.uint8 and a.shape == (5, 64, 64, 3)
    np.testing.assert_array_equal(a, b)
    # the device path gathers from the full table; fill only the entries needed (the full build takes ~7 s)
    from factorbench.datasets import scenes3d as s3

    table = np.zeros((8, 4, 15, 64, 64, s3.NUM_SLOTS), np.float32)
    for config, weights in scenes._host[2].items():
        table[config] = weights
    monkeypatch.setattr(s3, "light_weight_table", lambda: jnp.asarray(table))
    device = np.asarray(jax.jit(scenes.device_renderer())(jnp.asarray(factors, jnp.int32), None))
    np.testing.assert_array_equal(device, a)


def test_scenes3d_each_factor_moves_its_region(scenes):
    rows = one_factor_rows(scenes, [5, 5, 5, 4, 0, 7])
    imgs = scenes.images(rows).astype(np.int32)
    changed = [np.abs(imgs[k + 1] - imgs[0]).sum(-1) > 0 for k in range(scenes.num_factors)]
    for k, mask in enumerate(changed):
        assert mask.mean() > 0.01, scenes.factor_names[k]
    floor, wall, obj = changed[0], changed[1], changed[2]
    assert floor[48:].mean() > 0.5 and floor[:10].mean() == 0  # the floor is the bottom of the picture
    assert wall[:10].mean() > 0.9 and wall[56:].mean() == 0  # the walls are the top
    assert 0 < obj.mean() < 0.2 and obj[20:50, 16:48].mean() > obj.mean()  # the object sits in the middle
    assert not (obj & floor).any() or (obj & floor).mean() < 0.01
    # bigger scale covers more object pixels; shapes differ from each other
    sizes = scenes.images(np.array([[5, 5, 0, s, 2, 7] for s in (0, 7)]))
    assert (sizes[1, ..., 0] > 200).sum() > (sizes[0, ..., 0] > 200).sum()


def test_arm3d_every_factor_moves_the_image(arm):
    assert arm.factor_sizes == (6, 6, 2, 3, 3, 40, 40) and arm.num_observations == 1_036_800
    rows = one_factor_rows(arm, [2, 1, 1, 1, 1, 20, 20])  # 8 rows: one compile
    imgs = arm.images(rows).astype(np.int32)
    assert imgs.shape == (8, 64, 64, 3)
    changed = [np.abs(imgs[k + 1] - imgs[0]).sum(-1) > 0 for k in range(arm.num_factors)]
    for k, mask in enumerate(changed):
        assert mask.mean() > 0.003, arm.factor_names[k]
    assert changed[4].mean() > 0.3  # the background colour fills the room
    assert changed[0].mean() < 0.1  # the object colour only the object
    np.testing.assert_array_equal(arm.images(rows), imgs.astype(np.uint8))  # deterministic


def test_pack_rgb_round_trips_to_uint8_and_newton_normals_match_exact_ones():
    rng = np.random.default_rng(0)
    channels = [jnp.asarray(rng.uniform(-0.1, 1.1, (4, 9)), jnp.float32) for _ in range(3)]
    expected = np.stack([np.asarray(rm.to_uint8(c)) for c in channels], axis=-1)
    np.testing.assert_array_equal(np.asarray(rm.unpack_rgb(rm.pack_rgb(*channels))), expected)
    # points just off a unit sphere, and outside a box: the Newton-normalised normal is the exact one
    points = tuple(jnp.asarray(c, jnp.float32) for c in rng.normal(size=(3, 200)))
    points = tuple(c / rm.length(points) * 1.001 for c in points)
    for sdf in (lambda q: rm.sd_sphere(q, 1.0), lambda q: rm.sd_box_exact(q, 0.6, 0.6, 0.6)):
        exact = np.stack(rm.sdf_normal(sdf, points))
        newton = np.stack(rm.sdf_normal(sdf, points, newton_steps=4))
        assert np.abs(np.linalg.norm(exact, axis=0) - 1).max() < 1e-5
        np.testing.assert_allclose(newton, exact, atol=2e-3)


def test_arm3d_renders_in_single_fused_passes(arm):
    """The renderer's speed rests on each pass being one fused loop (datasets/arm3d.py `render`, 2.2x): check the
    compiled program's march and shadow loop bodies and its shading branch each hold one per-pixel fusion."""
    import re

    factors = jnp.asarray(arm.sample_factors(8, 0), jnp.int32)
    hlo = jax.jit(arm.device_renderer()).lower(factors, None).compile().as_text()
    computations = {c.split(" ", 1)[0]: c for c in re.split(r"\n(?=%|ENTRY)", hlo)}
    branches = re.findall(r"conditional\(.*?branch_computations=\{([^}]*)\}", hlo)
    assert len(branches) == 1, "the shading pass is no longer behind a conditional"

    def per_pixel_fusions(names):
        return [len(re.findall(r"\[8,4096\]\{[\d,]*\} fusion\(", computations[name.strip()])) for name in names]

    loops = per_pixel_fusions(re.findall(r"body=(%[\w.\-]+)", hlo))
    shading = max(per_pixel_fusions(branches[0].split(",")))
    assert loops == [1, 1] and shading == 1, f"per-pixel fusions: march and shadow loops {loops}, shading {shading}"


def test_arm3d_batch_with_a_row_outside_the_grid_renders_black(arm):
    render = jax.jit(arm.device_renderer())
    rows = np.array([[2, 1, 1, 1, 1, 20, 20], [2, 1, 1, 1, 1, 20, 40]], np.int32)  # 40 is outside 0..39
    assert int(np.asarray(render(rows[:1], None)).max()) > 0
    assert int(np.asarray(render(rows, None)).max()) == 0
