"""Weak supervision: pair data (dlib's simple_dynamics with explicit keys) and the four pair objectives' aggregation."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from factorbench import datasets
from factorbench.datasets.pairs import resample_factors
from factorbench.models.objectives import OBJECTIVES, _weak, get

SIZES = (3, 6, 40, 32, 32)
N = 4000

resample = jax.jit(resample_factors, static_argnums=2)


@pytest.fixture(scope="module")
def first():
    rng = np.random.default_rng(0)
    return np.stack([rng.integers(0, s, N) for s in SIZES], axis=1).astype(np.int32)


def _check_pairs(first, second, label, counts_allowed):
    differ = first != second
    # the label is a factor of the pair; whatever differs, the count of differing factors is allowed
    assert set(differ.sum(axis=1)) <= set(range(max(counts_allowed) + 1))
    assert np.all((0 <= label) & (label < len(SIZES)))
    assert np.all(second >= 0) and np.all(second < np.asarray(SIZES))


@pytest.mark.parametrize("k", [1, 3])
def test_pairs_differ_only_in_1_or_k_resampled_factors_and_values_may_repeat(first, k):
    second, label = map(np.asarray, resample(jax.random.PRNGKey(1), first, SIZES, k))
    differ = first != second
    counts = differ.sum(axis=1)
    _check_pairs(first, second, label, {1, k})
    # the labelled factor is one that was resampled: every other differing factor is in the resampled set, and
    # the labelled one differs unless its new value repeated the old (probability 1/size)
    labelled_same = first[np.arange(N), label] == second[np.arange(N), label]
    sizes = np.asarray(SIZES)[label]
    assert abs(labelled_same.mean() - np.mean(1.0 / sizes)) < 0.02
    assert labelled_same.any()  # a resampled value may repeat (as in dlib), so a pair may not differ at all
    if k == 1:
        assert counts.max() == 1 and np.array_equal(counts, differ[np.arange(N), label])  # only the label
    else:  # 1 or 3 resampled, each half the time (dlib's choice([1, k])): two or three differ only if three
        # were resampled, so at most half the time, and nearly half (a repeat is likely only for sizes 3 and 6)
        assert np.all(counts <= 3)
        assert 0.4 < (counts >= 2).mean() < 0.52 and (counts == 3).mean() > 0.3
    # the label is uniform over the factors
    assert np.all(np.abs(np.bincount(label, minlength=5) / N - 0.2) < 0.03)


def test_random_k_draws_the_count_in_1_to_K_minus_1_and_is_a_pure_function_of_the_key(first):
    key = jax.random.PRNGKey(7)
    second, label = map(np.asarray, resample(key, first, SIZES, -1))
    counts = (first != second).sum(axis=1)
    assert counts.max() == 4 and counts.min() == 0  # K - 1 = 4 at most, never all five factors
    assert (counts == 1).mean() > 0.5  # one factor half the time, plus the draws of 1 and repeated values
    again = resample(key, first, SIZES, -1)
    np.testing.assert_array_equal(np.asarray(again[0]), second)
    np.testing.assert_array_equal(np.asarray(again[1]), label)
    other = np.asarray(resample(jax.random.PRNGKey(8), first, SIZES, -1)[0])
    assert not np.array_equal(other, second)
    # k traced (ensemble members may differ in it) gives the same pairs as k static
    traced = jax.jit(lambda k: resample_factors(key, first, SIZES, k))(jnp.int32(-1))
    np.testing.assert_array_equal(np.asarray(traced[0]), second)


def test_pair_batches_render_both_observations_from_the_dataset():
    from factorbench.models.step import Feed

    ds = datasets.load("identity", factor_sizes=(3, 4, 5))
    feeds = {"rendered": Feed(ds, 6, batches="pairs")}
    whole = datasets.load("identity", factor_sizes=(3, 4, 5))

    def no_renderer():
        raise NotImplementedError("no renderer")

    whole.device_renderer = no_renderer
    feeds["whole"] = Feed(whole, 6, batches="pairs")
    assert feeds["whole"].description.startswith("the whole dataset")
    key = jax.random.PRNGKey(3)
    k_factors, k_pairs, _ = jax.random.split(key, 3)
    f1 = jax.random.randint(k_factors, (6, 3), 0, jnp.asarray(ds.factor_sizes))
    f2, label = resample_factors(k_pairs, f1, ds.factor_sizes, 2)
    expected = ds.images(np.concatenate([np.asarray(f1), np.asarray(f2)])).astype(np.float32) / 255
    for feed in feeds.values():
        batch = jax.jit(feed.sample)(key, feed.data(0), jnp.int32(2))
        assert batch["x"].shape == (12, 64, 64, 1)
        np.testing.assert_allclose(np.asarray(batch["x"]), expected, atol=1e-6)
        np.testing.assert_array_equal(np.asarray(batch["label"]), np.asarray(label))


def test_pooled_datasets_serve_pairs_drawn_on_the_host_with_the_members_shared_k(monkeypatch):
    from factorbench.models import step
    from factorbench.models.step import Feed

    monkeypatch.setattr(step, "whole_bytes", lambda: 0)  # too big to hold whole: pools
    ds = datasets.load("identity", factor_sizes=(3, 4, 5))

    def no_renderer():
        raise NotImplementedError("no renderer")

    ds.device_renderer = no_renderer
    with pytest.raises(ValueError, match=r"members must share it \(got k = \[-1, 1\]\)"):
        Feed(ds, 4, pool_size=8, batches="pairs", batch_hparams={"k": [1, -1]})
    feed = Feed(ds, 4, pool_size=8, batches="pairs", batch_hparams={"k": [1, 1]})
    assert feed.refresh_steps == 2
    pool = feed.data(0)
    images, label = np.asarray(pool["x"]), np.asarray(pool["label"])
    assert images.shape == (16, 64, 64, 1) and label.shape == (8,)
    # the pool's pairs follow the same dynamics as on the device: partners differ in the labelled factor at most
    rng = np.random.default_rng([0, 0])
    first = ds.sample_factors(8, rng)
    second, want_label = resample_factors(jax.random.fold_in(jax.random.PRNGKey(0), 0), first, ds.factor_sizes, 1)
    np.testing.assert_array_equal(label, np.asarray(want_label))
    np.testing.assert_array_equal(images, ds.images(np.concatenate([first, np.asarray(second)])))
    differ = first != np.asarray(second)
    assert differ.sum(axis=1).max() <= 1 and np.array_equal(differ.sum(axis=1), differ[np.arange(8), label])
    # a batch is made of pool pairs, kept together
    batch = jax.jit(feed.sample)(jax.random.PRNGKey(5), pool, jnp.int32(1))
    x = np.asarray(batch["x"]) * 255
    for i in range(4):
        rows = [j for j in range(8)
                if np.abs(images[j] - x[i]).max() < 1e-3 and np.abs(images[8 + j] - x[4 + i]).max() < 1e-3]
        assert rows and label[rows[0]] == int(batch["label"][i])
    # pool 1 depends on its number only
    alone = Feed(ds, 4, pool_size=8, batches="pairs", batch_hparams={"k": [1]})
    np.testing.assert_array_equal(np.asarray(alone.data(2)["x"]), np.asarray(feed.data(3)["x"]))


# ---------------------------------------------------------------------------------------------- aggregation by hand
# Two pairs, three latent dimensions. Pair 0: dimension 2 differs a lot; pair 1: dimension 0 does.
M1 = np.array([[0.0, 1.0, 2.0], [1.0, -1.0, 0.5]], np.float32)
L1 = np.array([[0.0, 0.0, 0.0], [np.log(2.0), 0.0, 0.0]], np.float32)
M2 = np.array([[0.0, 1.0, -2.0], [-3.0, -1.0, 0.5]], np.float32)
L2 = np.array([[0.0, np.log(3.0), 0.0], [0.0, 0.0, 0.0]], np.float32)
LABEL = np.array([1, 0], np.int32)


def _by_hand(kind):
    v1, v2 = np.exp(L1.astype(np.float64)), np.exp(L2.astype(np.float64))
    if kind == "group":
        mean, var = (M1 + M2) / 2, (v1 + v2) / 2
    else:  # dlib's ML-VAE: product-of-experts mean, harmonic-mean variance
        var = 2 * v1 * v2 / (v1 + v2)
        mean = (M1 / v1 + M2 / v2) * var / 2
    return mean, np.log(var)


def _kl_by_hand():
    v1, v2 = np.exp(L1.astype(np.float64)), np.exp(L2.astype(np.float64))
    return v1 / v2 + (M2 - M1) ** 2 / v2 - 1 + np.log(v2) - np.log(v1)


@pytest.mark.parametrize("name, kind, rule", [("ada_gvae", "group", "adaptive"), ("ada_ml_vae", "ml", "adaptive"),
                                              ("gvae_labels", "group", "label"), ("ml_vae_labels", "ml", "label")])
def test_aggregation_by_hand(name, kind, rule):
    spec = OBJECTIVES[name]
    assert spec.batches == "pairs" and spec.batch_params == ("k",) and spec.defaults == {"beta": 1.0, "k": -1}
    kl = _kl_by_hand()
    # pair 0 KLs: 0, 1/3 + ln 3 - 1 = 0.432, 16: only dimension 2 in the upper bin; pair 1: 8 - ... and 0, 0
    np.testing.assert_allclose(_weak.pair_kl(M1, L1, M2, L2), kl, rtol=1e-5, atol=1e-6)
    if rule == "adaptive":
        own = np.array([[False, False, True], [True, False, False]])
    else:
        own = np.array([[False, True, False], [True, False, False]])
    shared_mean, shared_logvar = _by_hand(kind)
    mean, logvar = spec.posterior(jnp.asarray(np.concatenate([M1, M2])), jnp.asarray(np.concatenate([L1, L2])),
                                  label=jnp.asarray(LABEL))
    want_mean = np.concatenate([np.where(own, M1, shared_mean), np.where(own, M2, shared_mean)])
    want_logvar = np.concatenate([np.where(own, L1, shared_logvar), np.where(own, L2, shared_logvar)])
    np.testing.assert_allclose(np.asarray(mean), want_mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(logvar), want_logvar, rtol=1e-5, atol=1e-6)
    # the loss: mean of both reconstructions + beta * mean of both KLs of the aggregated posteriors
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (4, 2, 2, 1)).astype(np.float32)
    logits = rng.normal(0, 1, (4, 2, 2, 1)).astype(np.float32)
    loss, aux = spec.loss(x, logits, mean, logvar, mean, jnp.int32(0), beta=3.0, k=-1)
    s = 1 / (1 + np.exp(-logits.astype(np.float64)))
    rec = -(x * np.log(s) + (1 - x) * np.log(1 - s)).reshape(4, -1).sum(1)
    kls = 0.5 * (want_mean ** 2 + np.exp(want_logvar) - want_logvar - 1).sum(1)
    want = 0.5 * (rec[:2].mean() + rec[2:].mean()) + 3.0 * 0.5 * (kls[:2].mean() + kls[2:].mean())
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    np.testing.assert_allclose(float(aux["kl"]), kls.mean(), rtol=1e-5)


def test_labels_past_the_last_latent_leave_every_dimension_unshared_as_in_dlib():
    own = _weak.labelled_unshared(jnp.zeros((2, 3)), jnp.asarray([5, 1]))
    np.testing.assert_array_equal(np.asarray(own), [[True, True, True], [False, True, False]])
    # equal KLs everywhere: no dimension in the upper bin
    assert not np.asarray(_weak.adaptive_unshared(jnp.ones((1, 4)), None)).any()


@pytest.mark.parametrize("changed", [[3], [0, 7], [1, 4, 9]])
def test_adaptive_variants_select_exactly_the_changed_dimensions_when_the_kl_gap_is_clear(changed):
    rng = np.random.default_rng(len(changed))
    b, d = 16, 10
    m1 = rng.normal(0, 1, (b, d)).astype(np.float32)
    l1 = rng.normal(-1, 0.1, (b, d)).astype(np.float32)
    m2 = m1 + rng.normal(0, 0.01, (b, d)).astype(np.float32)  # shared dimensions: nearly equal posteriors
    m2[:, changed] += rng.choice([-1, 1], (b, len(changed))) * rng.uniform(2, 3, (b, len(changed)))
    l2 = l1 + rng.normal(0, 0.01, (b, d)).astype(np.float32)
    want = np.zeros((b, d), bool)
    want[:, changed] = True
    for name in ("ada_gvae", "ada_ml_vae"):
        mean, _ = get(name).posterior(jnp.asarray(np.concatenate([m1, m2])), jnp.asarray(np.concatenate([l1, l2])),
                                      label=jnp.zeros(b, jnp.int32))
        mean = np.asarray(mean)
        kept = (mean[:b] == m1) & (mean[b:] == m2)  # unshared: each image keeps its own posterior
        np.testing.assert_array_equal(kept, want)
        np.testing.assert_array_equal(mean[:b][~want], mean[b:][~want])  # shared: one posterior for both


def test_dlib_names_are_aliases():
    assert [get(a).name for a in ("group_vae_argmax", "mlvae_argmax", "group_vae_labels", "mlvae_labels")] == [
        "ada_gvae", "ada_ml_vae", "gvae_labels", "ml_vae_labels"]
    with pytest.raises(ValueError, match="domain"):
        get("ada_gvae").hparams(k=-2)
