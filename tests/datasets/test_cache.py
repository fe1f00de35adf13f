"""The array_record cache: built once through TFDS, read back by index through tfds.data_source."""

import numpy as np
import pytest

from factorbench import datasets
from factorbench.datasets.cache import cache_dataset


@pytest.fixture(scope="module")
def cached(tmp_path_factory):
    source = datasets.load("identity", factor_sizes=(3, 4, 5))
    return source, cache_dataset(source, tmp_path_factory.mktemp("cache"), chunk=16, progress=False)


def test_cache_reads_back_the_same_bytes_in_index_order(cached):
    source, cache = cached
    assert (cache.name, cache.info.version, cache.factor_sizes) == (source.name, source.info.version, (3, 4, 5))
    factors = source.sample_factors(25, 3)
    np.testing.assert_array_equal(cache.images(factors), source.images(factors))
    every = source.index_to_factors(np.arange(source.num_observations))
    records = cache._source.__getitems__(list(range(source.num_observations)))
    np.testing.assert_array_equal(np.stack([r["factors"] for r in records]), every)


def test_second_call_reuses_the_prepared_files(tmp_path, monkeypatch):
    source = datasets.load("identity", factor_sizes=(2, 3))
    first = cache_dataset(source, tmp_path, progress=False)
    files = sorted(p.name for p in tmp_path.rglob("*.array_record*"))
    assert files, "no array_record files written"

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(type(source), "images", no_rebuild)
    again = cache_dataset(source, tmp_path, progress=False)
    np.testing.assert_array_equal(again._render(np.array([[1, 2]]), None), first._render(np.array([[1, 2]]), None))
    assert sorted(p.name for p in tmp_path.rglob("*.array_record*")) == files


def test_random_datasets_are_not_cached(tmp_path):
    with pytest.raises(datasets.DatasetError, match="deterministic"):
        cache_dataset(datasets.load("sprites_noisy"), tmp_path)
