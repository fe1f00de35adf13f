"""`arm3d`: a twin of the MPI3D factor grid, ray-marched in JAX by factorbench.

This is **not MPI3D** (Gondal et al. 2019: photographs and CAD renders of a real robot arm): it
has MPI3D's factors, sizes and order (mpi3d_real / the full toy and realistic sets), so the same
metrics and sampling apply, but the pixels differ and scores are **not comparable** with
published MPI3D numbers. Load the real files as `mpi3d_toy`, `mpi3d_realistic`, `mpi3d_real`.

Factors (index order, last fastest: 6 x 6 x 2 x 3 x 3 x 40 x 40 = 1,036,800 images, 64x64x3):

* ``object_color``: white, green, red, blue, brown, olive (MPI3D's order);
* ``object_shape``: cone, cube, cylinder, hexagonal prism, pyramid, sphere (MPI3D's order);
* ``object_size``: small, large (half-height 0.17 or 0.27 world units);
* ``camera_height``: top, center, bottom (eye 3.0, 1.9, 0.9 units above the floor);
* ``background_color``: purple, sea green, salmon (the back wall and the floor beyond the platform);
* ``horizontal_axis``: the first joint turns the whole arm about the vertical axis, linspace(-50, 50, 40)
  degrees, seen from 55 degrees to the side;
* ``vertical_axis``: the second joint (elbow) tilts the forearm, linspace(-40, 40, 40) degrees from horizontal.

Scene: a grey round platform on the floor, a back wall, a two-link grey arm on a column at the
back of the platform, and the object held upright at the tip of the forearm. One directional
light, Lambert shading, soft shadows of arm and object, no supersampling.

Unlike `scenes3d`, the geometry has 57,600 configurations (too many to precompute), so every
batch is ray-marched (`render`), in four passes over the pixels that XLA:CPU runs as one fused
loop each; see `render` for how the code keeps them so.

Version 1.1.0 (2026-11-29) starts shadow rays a little back along the view ray instead of off the
surface normal and normalises normals by Newton steps: 1.2% of pixels differ from 1.0.0, at
shadow edges and silhouettes (mean change < 0.1 levels); rendering got 2.2x faster.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from factorbench.datasets import raymarch as rm
from factorbench.datasets._base import DatasetInfo, GroundTruthDataset

FACTOR_NAMES = (
    "object_color", "object_shape", "object_size", "camera_height", "background_color",
    "horizontal_axis", "vertical_axis",
)
FACTOR_SIZES = (6, 6, 2, 3, 3, 40, 40)
OBJECT_COLORS = ("white", "green", "red", "blue", "brown", "olive")
OBJECT_RGB = np.array([[0.92, 0.92, 0.9], [0.2, 0.65, 0.25], [0.85, 0.15, 0.12], [0.15, 0.3, 0.85],
                       [0.5, 0.3, 0.15], [0.55, 0.55, 0.12]], np.float32)
SHAPES = ("cone", "cube", "cylinder", "hexagonal_prism", "pyramid", "sphere")
SIZES = (0.17, 0.27)
CAMERA_HEIGHTS = (3.0, 1.9, 0.9)
BACKGROUNDS = ("purple", "sea_green", "salmon")
BACKGROUND_RGB = np.array([[0.5, 0.32, 0.62], [0.22, 0.6, 0.48], [0.96, 0.55, 0.45]], np.float32)
HORIZONTAL_DEG = np.linspace(-50.0, 50.0, 40)
VERTICAL_DEG = np.linspace(-40.0, 40.0, 40)

SIZE = 64
BASE = (0.0, 0.0, -0.7)  # foot of the arm's column
SHOULDER_HEIGHT, UPPER_ARM, FOREARM = 0.85, 0.75, 0.65
COLUMN_R, UPPER_R, FORE_R, JOINT_R = 0.09, 0.06, 0.05, 0.09
PLATFORM_RADIUS = 1.6
WALL_Z = -2.4
CAMERA_DISTANCE, CAMERA_AZIMUTH_DEG, FOV_DEGREES = 4.3, 55.0, 42.0
TARGET = (0.0, 0.75, 0.0)
LIGHT = (0.75, 1.0, 0.35)
AMBIENT = 0.3
ARM_GREY, PLATFORM_GREY = 0.62, 0.55
MARCH_STEPS, SHADOW_STEPS = 18, 8
SHADOW_BACKOFF = 4e-3  # shadow rays start this far back along the view ray from the surface


def _object(shape, half):
    """SDF of one of the six shapes (per image, (N, 1)) with half-height `half`, centred on the origin.

    One parametric bound instead of six SDFs and a select (the object costs a third as much per
    march step): every shape but the sphere is ``max(side, |y| - height)`` where ``side`` is a
    cross-section norm (circle, square or hexagon) against a radius, slanted towards the apex for the
    cone and the pyramid (the plane through the apex and the base rim).
    """
    circle = (shape == 0) | (shape == 2)
    square = (shape == 1) | (shape == 4)
    tapered = (shape == 0) | (shape == 4)
    radius = jnp.where(tapered, half, 0.85 * half)
    height = jnp.where(shape == 1, 0.85 * half, half)
    norm = jnp.sqrt(radius * radius + 4.0 * half * half)
    cos_b = jnp.where(tapered, 2.0 * half / norm, 1.0)
    sin_b = jnp.where(tapered, radius / norm, 0.0)
    offset = jnp.where(tapered, 0.0, radius)

    def sdf(q):
        ax, az = jnp.abs(q[0]), jnp.abs(q[2])
        rho = jnp.where(circle, jnp.sqrt(q[0] * q[0] + q[2] * q[2]),
                        jnp.where(square, jnp.maximum(ax, az), jnp.maximum(az, ax * 0.8660254 + az * 0.5)))
        body = jnp.maximum(rho * cos_b + (q[1] - half) * sin_b - offset, jnp.abs(q[1]) - height)
        return jnp.where(shape == 5, rm.length(q) - half, body)

    return sdf


def _pose(horizontal, vertical):
    """Shoulder, elbow and tip positions (components (N, 1)) for joint angles in radians ((N, 1))."""
    shoulder = (jnp.full_like(horizontal, BASE[0]), jnp.full_like(horizontal, SHOULDER_HEIGHT),
                jnp.full_like(horizontal, BASE[2]))
    d1 = (jnp.sin(horizontal), jnp.zeros_like(horizontal), jnp.cos(horizontal))
    elbow = rm.along(shoulder, d1, UPPER_ARM)
    d2 = (jnp.cos(vertical) * d1[0], jnp.sin(vertical), jnp.cos(vertical) * d1[2])
    tip = rm.along(elbow, d2, FOREARM)
    return shoulder, elbow, tip, d2


def _scene(f: jax.Array):
    """Rays and SDFs of N images from factor rows (N, 7): origin, direction, arm, object, room."""
    n = f.shape[0]
    half = jnp.asarray(SIZES, jnp.float32)[f[:, 2]][:, None]
    horizontal = jnp.deg2rad(jnp.asarray(HORIZONTAL_DEG, jnp.float32)[f[:, 5]])[:, None]
    vertical = jnp.deg2rad(jnp.asarray(VERTICAL_DEG, jnp.float32)[f[:, 6]])[:, None]
    shoulder, elbow, tip, d2 = _pose(horizontal, vertical)
    centre = rm.along(tip, d2, half * 0.9)  # the object sits at the end of the forearm
    shape_sdf = _object(f[:, 1:2], half)

    azimuth = np.deg2rad(CAMERA_AZIMUTH_DEG)
    eye = jnp.stack([jnp.full((n,), CAMERA_DISTANCE * np.sin(azimuth)),
                     jnp.asarray(CAMERA_HEIGHTS, jnp.float32)[f[:, 3]],
                     jnp.full((n,), CAMERA_DISTANCE * np.cos(azimuth))], axis=1)
    target = jnp.broadcast_to(jnp.asarray(TARGET, jnp.float32), (n, 3))
    origin, direction = rm.camera_rays(eye, target, SIZE, FOV_DEGREES)
    base_top = (BASE[0], SHOULDER_HEIGHT / 2, BASE[2])

    def arm(p):
        column = rm.sd_cylinder(rm.sub(p, base_top), COLUMN_R, SHOULDER_HEIGHT / 2)
        upper = rm.sd_segment(p, shoulder, elbow, UPPER_R)
        fore = rm.sd_segment(p, elbow, tip, FORE_R)
        joints = jnp.minimum(rm.sd_sphere(rm.sub(p, shoulder), JOINT_R), rm.sd_sphere(rm.sub(p, elbow), JOINT_R))
        return jnp.minimum(jnp.minimum(column, upper), jnp.minimum(fore, joints))

    def obj(p):
        return shape_sdf(rm.sub(p, centre))

    def room():
        """Distance to the floor or the back wall (at most 50), and whether it is the floor."""
        t_floor = rm.plane_hit(origin, direction, (0.0, 1.0, 0.0), 0.0)
        t_wall = rm.plane_hit(origin, direction, (0.0, 0.0, 1.0), WALL_Z)
        return jnp.minimum(jnp.minimum(t_floor, t_wall), 50.0), t_floor <= t_wall

    return origin, direction, shoulder, arm, obj, room


def render(factors: jax.Array, object_rgb: jax.Array, background_rgb: jax.Array) -> jax.Array:
    """uint8 images (N, 64, 64, 3) of factor rows (N, 7), with (N, 3) object and background colours.

    Four passes over the pixels. XLA:CPU fuses an elementwise graph into one loop only while no
    square root or division in it is read by consumers that end up in different fusions; otherwise
    it materialises each such value as a pass over memory of its own (the first version of this
    renderer ran ~60 such passes, 35-47 ms a batch of 64). So each pass has exactly one output:

    1. march: `MARCH_STEPS` sphere-tracing steps from the arm's bounding sphere to the room;
    2. surface: one float a pixel, the distance along the ray to what the pixel shows, negated when
       that is the object (a hit on arm or object is a distance short of the room's);
    3. shadow: `SHADOW_STEPS` soft-shadow steps towards the light (`rm.soft_shadow`, one carry);
    4. shade: normal (Newton-normalised), Lambert, highlight and colours, packed into one uint32 a
       pixel (`rm.pack_rgb`), inside a conditional: XLA does not fuse across one, and without it,
       it fused the unpacking into the shading and shaded every pixel once per channel. The
       condition (every factor of every row inside the grid) is also a guard: a batch with a row
       outside it renders all black, where the gathers would otherwise clamp the row silently.

    17-23 ms a batch of 64 on 2 CPU cores (tests/perf/render_throughput.py).
    """
    f = jnp.asarray(factors, jnp.int32)
    n = f.shape[0]
    origin, direction, shoulder, arm, obj, room = _scene(f)

    def scene(p):
        return jnp.minimum(arm(p), obj(p))

    # 1. march only inside a sphere around the shoulder that holds the arm and the object
    t_room, _ = room()
    reach = UPPER_ARM + FOREARM + 2.0 * SIZES[1] + 0.1
    oc = rm.sub(origin, shoulder)
    b = rm.dot(oc, direction)
    disc = b * b - (rm.dot(oc, oc) - reach * reach)
    t_enter = jnp.where(disc > 0.0, jnp.maximum(-b - jnp.sqrt(jnp.maximum(disc, 0.0)), 0.0), t_room)
    t = rm.march(scene, origin, direction, jnp.minimum(t_enter, t_room), t_room, MARCH_STEPS)

    # 2. what each pixel shows
    p_hit = rm.along(origin, direction, t)
    d_object, d_arm = obj(p_hit), arm(p_hit)
    hit = (jnp.minimum(d_object, d_arm) < 2e-3 + 1e-3 * t) & (t < t_room - 1e-3)
    surface = jnp.where(hit, jnp.where(d_object <= d_arm, -t, t), t_room)

    # 3. shadow rays start a little back along the view ray, off the surface
    light = rm.normalize(tuple(jnp.full((1, 1), c, jnp.float32) for c in LIGHT))
    start = rm.along(origin, direction, jnp.abs(surface) - SHADOW_BACKOFF)
    visibility = rm.soft_shadow(scene, start, light, SHADOW_STEPS, k=8.0)

    # 4. shading
    def shade(surface, visibility):
        t_surface = jnp.abs(surface)
        t_room, on_floor = room()  # recomputed: as a second output of pass 2 it would split that pass in two
        hit, hit_object = t_surface < t_room - 1e-3, surface < 0.0
        p = rm.along(origin, direction, t_surface)
        obj_normal = rm.sdf_normal(scene, p, newton_steps=4)
        normal = (jnp.where(hit, obj_normal[0], 0.0), jnp.where(hit, obj_normal[1], jnp.where(on_floor, 1.0, 0.0)),
                  jnp.where(hit, obj_normal[2], jnp.where(on_floor, 0.0, 1.0)))
        intensity = AMBIENT + (1.0 - AMBIENT) * jnp.maximum(rm.dot(normal, light), 0.0) * visibility
        half_vector = rm.normalize(tuple(light[i] - direction[i] for i in range(3)))
        specular = jnp.where(hit, 0.3 * jnp.maximum(rm.dot(normal, half_vector), 0.0) ** 30 * visibility, 0.0)
        radial = jnp.sqrt(p[0] * p[0] + (p[2] - BASE[2] - 0.5) ** 2)
        on_platform = ~hit & on_floor & (radial < PLATFORM_RADIUS)
        background = ~hit & ~on_platform
        grey = (jnp.where(hit & ~hit_object, ARM_GREY * intensity, 0.0)
                + jnp.where(on_platform, PLATFORM_GREY * intensity, 0.0) + specular)
        on_object = jnp.where(hit_object, intensity, 0.0)
        # the room beyond the platform is a little darker on the floor than on the wall
        on_room = jnp.where(background, jnp.where(on_floor, 0.8, 1.0) * intensity, 0.0)
        return rm.pack_rgb(*(on_object * object_rgb[:, c : c + 1] + on_room * background_rgb[:, c : c + 1] + grey
                             for c in range(3)))

    def black(surface, visibility):
        return jnp.zeros(surface.shape, jnp.uint32)

    inside = jnp.all((f >= 0) & (f < jnp.asarray(FACTOR_SIZES, jnp.int32)))
    code = jax.lax.cond(inside, shade, black, surface, visibility)
    return rm.unpack_rgb(code).reshape(n, SIZE, SIZE, 3)


class Arm3D(GroundTruthDataset):
    """MPI3D-grid twin: a two-joint arm holding an object over a platform."""

    info = DatasetInfo(
        name="arm3d",
        version="1.1.0",
        description="MPI3D factor grid (object colour, shape, size, camera height, background, two arm joints), "
        "ray-marched two-link arm holding an object, 64x64x3. Twin of the grid, not MPI3D: scores are not "
        "comparable with published MPI3D numbers.",
        citation="Gondal et al. 2019, On the Transfer of Inductive Bias from Simulation to the Real World (the grid "
        "only).",
    )
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (SIZE, SIZE, 3)

    def device_renderer(self):
        """Pure `render(factors (N, 7) int, key) -> uint8 (N, 64, 64, 3)`, ray-marched per batch."""
        object_rgb = jnp.asarray(OBJECT_RGB)
        background_rgb = jnp.asarray(BACKGROUND_RGB)

        def render_batch(factors, key=None):
            del key  # deterministic
            f = jnp.asarray(factors, jnp.int32)
            return render(f, object_rgb[f[:, 0]], background_rgb[f[:, 4]])

        return render_batch

    @functools.cached_property
    def _jitted(self):
        return jax.jit(self.device_renderer())

    def _render(self, all_factors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if len(all_factors) == 0:
            return np.zeros((0, *self.observation_shape), np.uint8)
        return rm.render_in_batches(self._jitted, all_factors)
