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

__all__ = [
    "DatasetError",
    "DatasetInfo",
    "GroundTruthDataset",
    "as_generator",
    "load",
    "names",
    "register",
]
