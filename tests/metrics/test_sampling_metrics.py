"""Metrics that sample their own observations (BetaVAE, FactorVAE, UDR) and DCI-ES explicitness."""

import numpy as np
import pytest
from conftest import identity_codes, make_factors

from factorbench import datasets
from factorbench.metrics import beta_vae_score, dci_es_explicitness, factor_vae_score, udr_score
from factorbench.metrics.udr import udr


@pytest.fixture(scope="module")
def ds():
    return datasets.load("identity", factor_sizes=(3, 4, 5))


def noise_encoder(images):
    rng = np.random.default_rng(int(images.sum() * 1000) % 2**32)
    return rng.normal(size=(len(images), 3))


def test_beta_vae_identity_vs_noise(ds):
    good = beta_vae_score(ds, ds.read_factors, seed=0, batch_size=16, num_train=150, num_eval=60)
    bad = beta_vae_score(ds, noise_encoder, seed=0, batch_size=16, num_train=150, num_eval=60)
    assert good["eval_accuracy"] > 0.9
    assert bad["eval_accuracy"] < 0.6
    assert beta_vae_score(ds, ds.read_factors, 0, 16, 150, 60) == good  # seeded


def test_factor_vae_identity_vs_noise_and_pruning(ds):
    good = factor_vae_score(ds, ds.read_factors, seed=0, batch_size=16, num_train=150, num_eval=60,
                            num_variance_estimate=300)
    assert good["eval_accuracy"] > 0.9 and good["num_active_dims"] == 3
    bad = factor_vae_score(ds, noise_encoder, seed=0, batch_size=16, num_train=150, num_eval=60,
                           num_variance_estimate=300)
    assert bad["eval_accuracy"] < 0.6
    dead = factor_vae_score(ds, lambda x: 0.001 * ds.read_factors(x), seed=0, batch_size=16, num_train=20,
                            num_eval=10, num_variance_estimate=100)
    assert dead == {"train_accuracy": 0.0, "eval_accuracy": 0.0, "num_active_dims": 0.0}


def test_udr_consistent_models_score_high_and_random_ones_low():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(500, 4))
    same = [base, -2 * base[:, [2, 0, 3, 1]] + 1, base[:, [1, 0, 2, 3]]]
    mixed = [base, base @ rng.normal(size=(4, 4)), base @ rng.normal(size=(4, 4))]
    assert udr(same)["mean"] > 0.85  # Lasso(alpha=0.1) shrinks unit coefficients to 0.9, and max^2/sum keeps it
    assert udr(mixed)["mean"] < udr(same)["mean"] - 0.2
    assert udr(same, correlation="spearman")["mean"] > 0.85
    kl = [np.array([1.0, 1.0, 1.0, 0.0])] * 3  # a collapsed dim is filtered out
    assert 0 <= udr(same, kl=kl)["model_0"] <= 1
    with pytest.raises(ValueError, match="at least 2"):
        udr([base])


def test_udr_score_samples_once(ds):
    scores = udr_score(ds, [ds.read_factors, lambda x: 3 * ds.read_factors(x)[:, ::-1]], seed=0, num_data_points=200)
    assert scores["mean"] > 0.8


def test_dci_es_explicitness_identity_vs_noise():
    f = make_factors(600)
    good = dci_es_explicitness(*_split(identity_codes(f), f))
    bad = dci_es_explicitness(*_split(np.random.default_rng(0).uniform(size=(600, 3)), f))
    assert good["explicitness"] > 0.4  # depth-1 trees cannot split 8 classes: the ladder needs depth 3
    assert bad["explicitness"] < 0.0
    assert good["size"] == 1.0


def _split(z, f):
    return z[:400], f[:400], z[400:], f[400:]
