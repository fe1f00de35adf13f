"""The metrics driver (contract 1): one sample, one encode, every metric, both protocols."""

import json
import math

import numpy as np
import pytest

from factorbench import datasets
from factorbench.metrics import available, evaluate

SIZES = {"train": 300, "test": 200, "beta_vae_train": 120, "beta_vae_eval": 60, "factor_vae_train": 120,
         "factor_vae_eval": 60, "factor_vae_variance": 300, "batch_size": 16}


@pytest.fixture(scope="module")
def ds():
    return datasets.load("identity", factor_sizes=(3, 4, 5))


class CountingEncoder:
    def __init__(self, ds):
        self.ds, self.images = ds, 0

    def __call__(self, images):
        assert images.dtype == np.float32 and images.min() >= 0 and images.max() <= 1
        self.images += len(images)
        x = self.ds.read_factors(images)
        return np.concatenate([x * [1.0, 2.0, -1.0], np.full((len(x), 1), 0.5)], axis=1)  # a dead (constant) code


@pytest.fixture(scope="module")
def fast_result(ds):
    enc = CountingEncoder(ds)
    return evaluate(ds, enc, protocol="fast", seed=3, progress=False, sizes=SIZES), enc


def test_fast_protocol_contract_details_scores_and_encode_count(fast_result):
    # one test, so the fixture runs once under pytest-xdist
    result, _ = fast_result
    assert set(result) >= {"scores", "details", "protocol", "seed", "sample_sizes", "versions", "seconds"}
    assert result["protocol"] == "fast" and result["seed"] == 3
    assert list(result["scores"]) == available()
    assert set(available()) == {"beta_vae", "factor_vae", "mig", "mig_sup", "dcimig", "sap", "dci",
                                "modularity_explicitness", "irs", "unsupervised", "infomec", "downstream"}
    for metric, scores in result["scores"].items():
        assert scores and all(isinstance(v, float) and math.isfinite(v) for v in scores.values()), metric
        assert result["seconds"][metric] >= 0
    assert result["sample_sizes"]["train"] == 300 and result["sample_sizes"]["test"] == 200
    assert {"numpy", "scikit-learn", "jax", "factorbench"} <= set(result["versions"])
    assert result["versions"]["protocol"] == "fast/2" and result["versions"]["probe"] == "logistic/2"
    json.dumps(result)  # everything is plain JSON (the results store keeps it)

    # details
    d = result["details"]
    assert np.asarray(d["mig"]["mi_matrix"]).shape == (3, 4)  # K factors x D codes
    assert np.asarray(d["dci"]["importance_matrix"]).shape == (4, 3)  # D codes x K factors
    assert len(d["mig"]["per_factor_gap"]) == 3
    assert len(d["dataset"]["factor_names"]) == 3 == len(d["dataset"]["factor_sizes"])  # labels the matrices' rows

    # an identity-like encoder scores high
    s = result["scores"]
    assert s["mig"]["mig"] > 0.9 and s["irs"]["irs"] > 0.9
    assert s["beta_vae"]["eval_accuracy"] > 0.9 and s["factor_vae"]["eval_accuracy"] > 0.9
    assert s["dci"]["disentanglement"] > 0.8 and s["dci"]["informativeness_test"] > 0.9
    assert s["modularity_explicitness"]["explicitness_test"] > 0.9
    assert s["downstream"]["100:mean_test_accuracy"] > 0.8
    assert s["factor_vae"]["num_active_dims"] == 3 and s["irs"]["num_active_dims"] == 3  # the dead code is pruned

    # each image is encoded exactly once
    enc = fast_result[1]
    n = SIZES
    expected = (n["train"] + n["test"] + 2 * n["batch_size"] * (n["beta_vae_train"] + n["beta_vae_eval"])
                + n["batch_size"] * (n["factor_vae_train"] + n["factor_vae_eval"]))  # variance reuses the train codes
    assert enc.images == expected


def test_dlib_protocol_same_samples_and_deterministic_scores(ds):
    names = ["mig", "sap", "irs", "dci"]
    result = evaluate(ds, CountingEncoder(ds), names, protocol="dlib", seed=3, progress=False, sizes=SIZES)
    assert result["protocol"] == "dlib" and list(result["scores"]) == names
    fast = evaluate(ds, CountingEncoder(ds), names[:3], protocol="fast", seed=3, progress=False, sizes=SIZES)
    for name in ("mig", "sap", "irs"):
        assert result["scores"][name] == fast["scores"][name]
    assert result["scores"]["dci"]["disentanglement"] > 0.9  # GBT probe


def test_bad_arguments(ds):
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate(ds, ds.read_factors, ["mig", "nope"], progress=False)
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(ds, ds.read_factors, ["mig"], protocol="quick", progress=False)

    def nan_encoder(images):
        out = ds.read_factors(images)
        out[0, 0] = np.nan
        return out

    with pytest.raises(ValueError, match="non-finite"):
        evaluate(ds, nan_encoder, ["mig"], progress=False, sizes={"train": 50})
