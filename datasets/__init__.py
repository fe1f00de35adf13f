"""factorbench.datasets: ground-truth factor datasets behind one interface.

>>> from factorbench import datasets
>>> ds = datasets.load("sprites")
>>> ds.factor_sizes
(3, 6, 40, 32, 32)
"""

from factorbench.datasets._base import DatasetError, DatasetInfo, GroundTruthDataset, as_generator
from factorbench.datasets._registry import load, names, register
from factorbench.datasets.identity import Identity
from factorbench.datasets.sprites import Sprites, SpritesColor, SpritesNoisy, SpritesNoShape, SpritesTextured
from factorbench.datasets.xysquares import XYSquares

for _cls in (Sprites, SpritesColor, SpritesNoisy, SpritesTextured, SpritesNoShape, XYSquares):
    register(_cls.info.name, _cls)
register("identity", Identity)

# 3D twins (ray-marched in JAX, imported on first load) and the canonical datasets from the user's files (issue 9)
import functools  # noqa: E402

from factorbench.datasets import canonical as _canonical  # noqa: E402


def _scenes3d():
    from factorbench.datasets.scenes3d import Scenes3D

    return Scenes3D()


def _arm3d():
    from factorbench.datasets.arm3d import Arm3D

    return Arm3D()


register("scenes3d", _scenes3d)
register("arm3d", _arm3d)
register("dsprites", _canonical.dsprites)
register("shapes3d", _canonical.shapes3d)
register("smallnorb", _canonical.smallnorb)
for _subset in ("toy", "realistic", "real"):
    register(f"mpi3d_{_subset}", functools.partial(_canonical.MPI3D, _subset))
register("cars3d", _canonical.Cars3D)

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "GroundTruthDataset",
    "as_generator",
    "load",
    "names",
    "register",
]
