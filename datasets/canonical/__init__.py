"""Canonical datasets read from the user's copies of the original files (nothing is downloaded).

`dsprites`, `shapes3d`, `smallnorb` go through factorbench's own TFDS builders (array_record, no
TensorFlow); `mpi3d_toy`, `mpi3d_realistic`, `mpi3d_real` (npz) and `cars3d` (.mat) are read directly.
Files live under the data root: ``data_dir=`` / ``$FACTORBENCH_DATA`` / ``~/factorbench_data``.
Constructing a dataset opens nothing; the first `images` call finds, checks and (for the TFDS ones)
prepares the files, or raises one DatasetError naming the missing file, its size, hash and place.
"""

from factorbench.datasets.canonical.cars3d import Cars3D
from factorbench.datasets.canonical.mpi3d import MPI3D
from factorbench.datasets.canonical.tfds_sets import CanonicalDataset, CanonicalSpec, dsprites, shapes3d, smallnorb

__all__ = ["CanonicalDataset", "CanonicalSpec", "Cars3D", "MPI3D", "dsprites", "shapes3d", "smallnorb"]
