"""Canonical loaders on tiny fake files written in each real format (hdf5, npz, .mat v5, smallNORB binary)."""

import dataclasses
import gzip
import hashlib

import h5py
import numpy as np
import pytest
import scipy.io

from factorbench import datasets
from factorbench.datasets.canonical import MPI3D, CanonicalDataset, Cars3D
from factorbench.datasets.canonical import tfds_sets as ts
from factorbench.datasets.canonical._files import RawFile


def tiny_spec(spec, sizes, path, **extra):
    """The real spec with a tiny grid and the fake file's own size and sha256 (same reader, same builder)."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    files = tuple(dataclasses.replace(f, size=path.stat().st_size, sha256=digest) if f.name == path.name else f
                  for f in spec.files)
    return dataclasses.replace(spec, factor_sizes=sizes, files=files, chunk=5, **extra)


def grid(sizes):
    return np.stack(np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))


def test_missing_file_message_names_file_size_hash_and_place(tmp_path):
    ds = datasets.load("dsprites", data_dir=tmp_path)
    assert ds.factor_sizes == (3, 6, 40, 32, 32)  # metadata without the file
    with pytest.raises(datasets.DatasetError) as err:
        ds.images([[0, 0, 0, 0, 0]])
    message = str(err.value)
    for part in ("dsprites_ndarray_co1sh3sc6or40x32y32_64x64.hdf5", "28,024,106 bytes",
                 "729fa22e884c9c500e1f17415d580746b4c5894fbbb780a1319bbcfa39a745bb", str(tmp_path)):
        assert part in message
    assert "\n" not in message


def test_dsprites_hdf5_through_the_tfds_builder(tmp_path, monkeypatch):
    sizes = (2, 1, 3, 2, 2)
    classes = np.concatenate([np.zeros((24, 1), np.int64), grid(sizes)], 1)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 2, size=(24, 64, 64), dtype=np.uint8)
    path = tmp_path / ts.DSPRITES.files[0].name
    with h5py.File(path, "w") as h5:
        h5["imgs"] = imgs
        h5["latents/classes"] = classes
        h5["latents/values"] = classes.astype(np.float64)
    ds = CanonicalDataset(tiny_spec(ts.DSPRITES, sizes, path), data_dir=tmp_path, progress=False)
    factors = np.array([[1, 0, 2, 1, 0], [0, 0, 1, 0, 1], [1, 0, 2, 1, 1]])
    expected = imgs[ds.factors_to_index(factors)][..., None] * 255
    np.testing.assert_array_equal(ds.images(factors), expected)
    assert list(tmp_path.rglob("*.array_record*"))
    # training reads it in pools drawn from the whole file (the next one on a background thread)
    from factorbench.models import step

    monkeypatch.setattr(step, "WHOLE_BYTES", 0)
    feed = step.Feed(ds, 2, pool_size=4)
    pools = [np.asarray(feed.data(k * feed.refresh_steps)) for k in range(3)]
    every = {image.tobytes() for image in imgs[..., None] * 255}
    assert all(image.tobytes() in every for pool in pools for image in pool) and feed.refresh_steps == 2
    assert not np.array_equal(pools[0], pools[1])
    # corrupt copy: rejected by its hash before anything is built
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / path.name).write_bytes(path.read_bytes()[:-1] + b"\x00")
    with pytest.raises(datasets.DatasetError, match="sha256"):
        CanonicalDataset(tiny_spec(ts.DSPRITES, sizes, path), data_dir=bad, progress=False).images(factors)


def test_shapes3d_h5_float_labels_become_indices(tmp_path):
    sizes = (2, 2, 2, 2, 2, 3)
    idx = grid(sizes)
    values = idx * np.array([0.1, 0.1, 0.1, 0.25, 1.0, 15.0]) + np.array([0, 0, 0, 0.75, 0, -30])
    imgs = np.random.default_rng(1).integers(0, 256, size=(len(idx), 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "3dshapes.h5"
    with h5py.File(path, "w") as h5:
        h5["images"] = imgs
        h5["labels"] = values
    ds = CanonicalDataset(tiny_spec(ts.SHAPES3D, sizes, path), data_dir=tmp_path, progress=False)
    np.testing.assert_array_equal(ds.images(idx), imgs)
    # a file out of grid order is rejected with its reason
    other = tmp_path / "shuffled"
    other.mkdir()
    with h5py.File(other / path.name, "w") as h5:
        h5["images"] = imgs[::-1]
        h5["labels"] = values[::-1]
    with pytest.raises(datasets.DatasetError, match="index order"):
        CanonicalDataset(tiny_spec(ts.SHAPES3D, sizes, other / path.name), data_dir=other, progress=False).images(
            idx[:1])


def write_norb(path, array, gz=True):
    magic = 507333717 if array.dtype == np.uint8 else 507333716
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)
    header = np.array([magic, array.ndim, *dims], "<i4").tobytes()
    data = header + np.ascontiguousarray(array.astype(array.dtype.newbyteorder("<"))).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_smallnorb_binary_files_train_and_test_with_instance_nuisance(tmp_path):
    # category 2, elevation 2, azimuth 2 (raw 0, 2), lighting 2; instance 2: 1 in training, 0 in testing
    rng = np.random.default_rng(2)
    pictures = {}
    for part, instance in (("training", 1), ("testing", 0)):
        rows = grid((2, 2, 2, 2))[::-1]  # any order: the builder sorts into the grid
        dat = rng.integers(0, 256, size=(len(rows), 2, 96, 96), dtype=np.uint8)
        info = np.stack([np.full(len(rows), instance), rows[:, 1], rows[:, 2] * 2, rows[:, 3]], 1).astype(np.int32)
        for i, r in enumerate(rows):
            pictures[(r[0], r[1], r[2], r[3], instance)] = dat[i, 0]
        name = {"training": "smallnorb-5x46789x9x18x6x2x96x96-training-",
                "testing": "smallnorb-5x01235x9x18x6x2x96x96-testing-"}[part]
        write_norb(tmp_path / f"{name}dat.mat.gz", dat)
        write_norb(tmp_path / f"{name}cat.mat.gz", rows[:, 0].astype(np.int32))
        write_norb(tmp_path / f"{name}info.mat.gz", info)
    spec = ts.SMALLNORB
    for f in spec.files:
        spec = tiny_spec(spec, (2, 2, 2, 2), tmp_path / f.name, nuisance_sizes=(2,))
    ds = CanonicalDataset(spec, data_dir=tmp_path, progress=False)
    assert ts.read_norb_matrix(tmp_path / spec.files[1].name).shape == (16,)
    cached = ds.prepare()
    from PIL import Image

    for key in [(0, 1, 1, 0, 0), (1, 0, 1, 1, 1)]:
        got = cached._render(np.array([key]), None)[0, ..., 0]
        want = np.asarray(Image.fromarray(pictures[key]).resize((64, 64), Image.Resampling.LANCZOS))
        np.testing.assert_array_equal(got, want)
    assert ds.images(grid((2, 2, 2, 2)), 0).shape == (16, 64, 64, 1)


@pytest.mark.parametrize("compressed", [False, True])
def test_mpi3d_npz_memmap_and_compressed(tmp_path, compressed):
    sizes = (2, 1, 2, 1, 1, 2, 3)
    imgs = np.random.default_rng(3).integers(0, 256, size=(24, 64, 64, 3), dtype=np.uint8)
    folder = tmp_path / "mpi3d_real"
    folder.mkdir()
    (np.savez_compressed if compressed else np.savez)(folder / "mpi3d_real.npz", images=imgs)
    ds = MPI3D("real", data_dir=tmp_path, factor_sizes=sizes)
    factors = grid(sizes)[[5, 0, 23, 7]]
    np.testing.assert_array_equal(ds.images(factors), imgs[[5, 0, 23, 7]])
    assert isinstance(ds.array(), np.memmap) != compressed
    from factorbench.models.step import Feed

    feed = Feed(ds, 4)  # small enough to train from whole, in index order
    assert feed.description.startswith("the whole dataset")
    np.testing.assert_array_equal(np.asarray(feed.data(0)), imgs)
    wrong = MPI3D("real", data_dir=tmp_path)  # the full-size grid does not fit this file
    with pytest.raises(datasets.DatasetError, match="expected uint8"):
        wrong.images([[0] * 7])


def test_cars3d_mat_files_sorted_by_name(tmp_path):
    (tmp_path / "cars").mkdir()
    rng = np.random.default_rng(4)
    ims = {}
    for name in ("car_b.mat", "car_a.mat"):  # written in reverse order: ids must follow the names
        ims[name] = rng.integers(0, 256, size=(128, 128, 3, 24, 4), dtype=np.uint8)
        scipy.io.savemat(tmp_path / "cars" / name, {"im": ims[name]})
    ds = Cars3D(data_dir=tmp_path, num_objects=2)
    from PIL import Image

    got = ds.images(np.array([[3, 5, 0], [1, 23, 1]]))
    for row, (el, az, name) in enumerate([(3, 5, "car_a.mat"), (1, 23, "car_b.mat")]):
        want = np.asarray(Image.fromarray(ims[name][:, :, :, az, el]).resize((64, 64), Image.Resampling.LANCZOS))
        np.testing.assert_array_equal(got[row], want)
    scipy.io.savemat(tmp_path / "cars" / "car_c.mat", {"im": np.zeros((64, 64, 3, 24, 4), np.uint8)})
    with pytest.raises(datasets.DatasetError, match="3 .mat files"):
        Cars3D(data_dir=tmp_path, num_objects=2).images([[0, 0, 0]])
    with pytest.raises(datasets.DatasetError, match=r"shape \(64, 64, 3, 24, 4\)"):
        Cars3D(data_dir=tmp_path, num_objects=3).images([[0, 0, 0]])


def test_rawfile_describe_says_when_the_hash_is_unknown():
    assert "not known offline" in RawFile("x.npz", None, None, "u").describe()
