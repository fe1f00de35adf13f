"""The training objectives against hand computations written here in float64 numpy (and scipy), plus shared properties.

The numpy references deliberately use different formulas from the library: the cross-entropy as
-[x log s + (1 - x) log(1 - s)], densities from scipy.stats.norm, covariances from np.cov and explicit loops.
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from factorbench.models import objectives
from factorbench.models.objectives import OBJECTIVES, STUDY_VALUES, ObjectiveSpec
from factorbench.models.objectives.annealed_vae import capacity
from factorbench.models.objectives.beta_tc_vae import total_correlation

B, H, W, C, D = 5, 4, 3, 2, 3
RTOL = 2e-5
jitted_tc = jax.jit(total_correlation)


# ----------------------------------------------------------------------------------------------------------------------
# Inputs and numpy references


@pytest.fixture(scope="module")
def batch() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    mean = rng.normal(0.0, 0.8, (B, D)).astype(np.float32)
    logvar = rng.normal(-0.5, 0.4, (B, D)).astype(np.float32)
    eps = rng.normal(size=(B, D)).astype(np.float32)
    z_continuous = rng.normal(0.0, 0.4, (B, D)).astype(np.float32)
    return {
        "x": rng.uniform(0.0, 1.0, (B, H, W, C)).astype(np.float32),
        "logits": rng.normal(0.0, 2.0, (B, H, W, C)).astype(np.float32),
        "mean": mean,
        "logvar": logvar,
        "z": (mean + np.exp(logvar / 2) * eps).astype(np.float32),
        "discriminator_logits": rng.normal(0.0, 1.5, (B, 2)).astype(np.float32),
        "z_continuous": z_continuous,
        "z_quantized": np.round(z_continuous * 4).astype(np.float32) / 4,
    }


def np_reconstruction(x, logits):
    x, s = np.float64(x), 1.0 / (1.0 + np.exp(-np.float64(logits)))
    per_pixel = -(x * np.log(s) + (1.0 - x) * np.log(1.0 - s))
    return float(np.mean([per_pixel[b].sum() for b in range(len(x))]))


def np_kl(mean, logvar):
    mean, logvar = np.float64(mean), np.float64(logvar)
    per_image = [-0.5 * np.sum(1.0 + logvar[b] - mean[b] ** 2 - np.exp(logvar[b])) for b in range(len(mean))]
    return float(np.mean(per_image))


def np_tc(z, mean, logvar):
    """Chen et al.'s minibatch weighted sampling, constants dropped as in dlib, with explicit loops over j and i."""
    z, mean, sd = np.float64(z), np.float64(mean), np.exp(np.float64(logvar) / 2)
    n = len(z)
    total = 0.0
    for j in range(n):
        dens = np.array([stats.norm.pdf(z[j], loc=mean[i], scale=sd[i]) for i in range(n)])  # (i, d)
        log_q_joint = np.log(np.sum(np.prod(dens, axis=1)))
        log_q_marginals = np.sum(np.log(np.sum(dens, axis=0)))
        total += log_q_joint - log_q_marginals
    return total / n


def np_dip_penalty(cov, lambda_od, lambda_d):
    off = sum(cov[i, j] ** 2 for i in range(len(cov)) for j in range(len(cov)) if i != j)
    diag = sum((cov[i, i] - 1.0) ** 2 for i in range(len(cov)))
    return lambda_od * off + lambda_d * diag, off, diag


@functools.cache
def compiled(name):
    """One jitted value-and-grad per objective, shared by all tests; hyperparameters and step are traced arguments, so
    new values do not recompile. Gradients are taken with respect to every input but the images."""
    spec = OBJECTIVES[name]

    def loss(diff, x, step, hp):
        return spec.loss(x, diff["logits"], diff["mean"], diff["logvar"], diff["z"], step,
                         **{k: diff[k] for k in spec.inputs}, **hp)  # fmt: skip

    return jax.jit(jax.value_and_grad(loss, has_aux=True))


def call_with_grads(name, batch, step=0, **hparams):
    spec = OBJECTIVES[name]
    diff = {k: jnp.asarray(batch[k]) for k in ("logits", "mean", "logvar", "z", *spec.inputs)}
    hp = {k: jnp.asarray(v, jnp.float32) for k, v in spec.hparams(**hparams).items()}
    return compiled(name)(diff, jnp.asarray(batch["x"]), jnp.int32(step), hp)


def call(name, batch, step=0, **hparams):
    (loss, aux), _ = call_with_grads(name, batch, step, **hparams)
    return float(loss), {k: float(v) for k, v in aux.items()}


# ----------------------------------------------------------------------------------------------------------------------
# Registry


def test_registry_names_kinds_and_study_grid():
    assert objectives.names() == ["ae", "vae", "beta_vae", "annealed_vae", "factor_vae", "beta_tc_vae", "dip_vae_i",
                                  "dip_vae_ii", "qlae", "qlvae", "ada_gvae", "ada_ml_vae", "gvae_labels",
                                  "ml_vae_labels"]  # fmt: skip
    kinds = {name: spec.kind for name, spec in OBJECTIVES.items()}
    assert kinds["ae"] == "ae" and kinds["factor_vae"] == "factor_vae"
    assert kinds["qlae"] == kinds["qlvae"] == "quantized"
    assert {kinds[n] for n in ("vae", "beta_vae", "annealed_vae", "beta_tc_vae", "dip_vae_i", "dip_vae_ii")} == {"vae"}
    sweeps = {name: spec.sweep_param for name, spec in OBJECTIVES.items() if name in STUDY_VALUES}
    assert sweeps == {
        "beta_vae": "beta",
        "factor_vae": "gamma",
        "dip_vae_i": "lambda_od",
        "dip_vae_ii": "lambda_od",
        "beta_tc_vae": "beta",
        "annealed_vae": "c_max",
    }
    assert STUDY_VALUES["beta_vae"] == [1, 2, 4, 6, 8, 16]
    assert STUDY_VALUES["factor_vae"] == [10, 20, 30, 40, 50, 100]
    assert STUDY_VALUES["dip_vae_i"] == STUDY_VALUES["dip_vae_ii"] == [1, 2, 5, 10, 20, 50]
    assert STUDY_VALUES["beta_tc_vae"] == [1, 2, 4, 6, 8, 10]
    assert STUDY_VALUES["annealed_vae"] == [5, 10, 25, 50, 75, 100]
    # The study's fixed values are the defaults.
    assert OBJECTIVES["annealed_vae"].defaults["gamma"] == 1000
    assert OBJECTIVES["annealed_vae"].defaults["iteration_threshold"] == 100_000
    assert OBJECTIVES["dip_vae_i"].defaults["lambda_d_factor"] == 10
    assert OBJECTIVES["dip_vae_ii"].defaults["lambda_d_factor"] == 1
    assert OBJECTIVES["factor_vae"].inputs == ("discriminator_logits",)
    assert OBJECTIVES["qlae"].inputs == OBJECTIVES["qlvae"].inputs == ("z_continuous", "z_quantized")
    assert not OBJECTIVES["ae"].sampled and not OBJECTIVES["qlae"].sampled and OBJECTIVES["qlvae"].sampled


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_spec_defaults_are_the_signature_defaults(name):
    spec = OBJECTIVES[name]
    assert isinstance(spec, ObjectiveSpec) and spec.name == name and spec.loss.__name__ == name
    params = inspect.signature(spec.loss).parameters
    assert list(params)[:6] == ["x", "logits", "mean", "logvar", "z", "step"]
    assert dict(spec.defaults) == {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}
    assert spec.hparams() == dict(spec.defaults)
    # The module docstring cites the paper and says how the objective differs from dlib.
    doc = inspect.getmodule(spec.loss).__doc__
    assert "References:" in doc and "Differs from disentanglement_lib" in doc


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_every_hyperparameter_declares_its_domain_beside_its_default(name):
    spec = OBJECTIVES[name]
    assert set(spec.domains) == set(spec.defaults)
    for hp, domain in spec.domains.items():
        assert domain.contains(spec.defaults[hp])
        # below the domain: a negative weight for most (-1 is a pair objective's k sentinel, "draw the count")
        for bad in (float("nan"), float("inf"), min(-1.0, domain.low - 1.0), domain.high * 10):
            with pytest.raises(ValueError, match=f"{hp}=.* is outside its domain"):
                spec.hparams(**{hp: bad})
    study = STUDY_VALUES.get(name, [])
    assert all(spec.domains[spec.sweep_param].contains(v) for v in study)  # the study grid lies inside


def test_an_objective_without_a_domain_is_refused_at_registration():
    def loose(x, logits, mean, logvar, z, step, *, weight: float = 1.0):
        return x

    with pytest.raises(TypeError, match="declares no domain"):
        objectives._spec(loose, "vae", None, "")


def test_bind_and_get_reject_unknown_names():
    with pytest.raises(ValueError, match="has no hyperparameter 'gama'"):
        OBJECTIVES["factor_vae"].bind(gama=3.0)
    with pytest.raises(ValueError, match="Did you mean 'beta_vae'"):
        objectives.get("beta_vea")
    assert objectives.get("dip_vae_ii") is OBJECTIVES["dip_vae_ii"]


# ----------------------------------------------------------------------------------------------------------------------
# Losses against the hand computations


def test_beta_vae_vae_and_ae(batch):
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    loss, aux = call("beta_vae", batch, beta=3.0)
    np.testing.assert_allclose([loss, aux["reconstruction"], aux["kl"]], [recon + 3 * kl, recon, kl], rtol=RTOL)
    np.testing.assert_allclose([aux["elbo"], aux["regularizer"]], [-(recon + kl), 3 * kl], rtol=RTOL)
    loss, aux = call("vae", batch)
    np.testing.assert_allclose([loss, aux["reconstruction"], aux["kl"]], [recon + kl, recon, kl], rtol=RTOL)
    loss, aux = call("ae", batch)
    unit_kl = np_kl(batch["mean"], np.zeros_like(batch["logvar"]))  # the diagnostic ignores the untrained logvar head
    np.testing.assert_allclose([loss, aux["reconstruction"], aux["kl"]], [recon, recon, unit_kl], rtol=RTOL)


def test_reconstruction_is_stable_for_large_logits():
    x = jnp.array([[[[0.0], [1.0], [0.3]]]])
    logits = jnp.array([[[[-200.0], [200.0], [150.0]]]])
    zeros = np.zeros((1, 1), np.float32)
    _, aux = call("vae", {"x": x, "logits": logits, "mean": zeros, "logvar": zeros, "z": zeros})
    np.testing.assert_allclose(aux["reconstruction"], 0.7 * 150.0, rtol=1e-6)


def test_annealed_vae_capacity_schedule_and_loss(batch):
    threshold = 1000
    steps = jnp.array([0, 1, 250, 999, 1000, 1001, 10**6], jnp.int32)
    c = jax.jit(jax.vmap(lambda s: capacity(s, c_max=20.0, iteration_threshold=threshold)))(steps)
    np.testing.assert_allclose(c, [0.0, 0.02, 5.0, 19.98, 20.0, 20.0, 20.0], rtol=1e-6)
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    for step in (0, 500, threshold, 3 * threshold):
        expected_c = min(20.0, 20.0 * step / threshold)
        loss, aux = call("annealed_vae", batch, step=step, c_max=20.0, gamma=7.0, iteration_threshold=threshold)
        np.testing.assert_allclose(loss, recon + 7.0 * abs(kl - expected_c), rtol=RTOL)
        np.testing.assert_allclose(aux["capacity"], expected_c, rtol=1e-6, atol=1e-7)
    # The study's schedule: capacity reaches c_max exactly at update 100000.
    spec = OBJECTIVES["annealed_vae"]
    study = jax.jit(lambda s: capacity(s, c_max=25.0, iteration_threshold=spec.defaults["iteration_threshold"]))
    at = study(jnp.array([50_000, 99_999, 100_000, 100_001], jnp.int32))
    np.testing.assert_allclose(at, [12.5, 25.0 * 99_999 / 100_000, 25.0, 25.0], rtol=1e-6)


def test_factor_vae_loss(batch):
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    d = np.float64(batch["discriminator_logits"])
    tc = np.mean(d[:, 0] - d[:, 1])
    loss, aux = call("factor_vae", batch, gamma=30.0)
    np.testing.assert_allclose([loss, aux["tc"]], [recon + kl + 30.0 * tc, tc], rtol=RTOL)


def test_beta_tc_vae_estimator_and_loss(batch):
    tc = np_tc(batch["z"], batch["mean"], batch["logvar"])
    got = jitted_tc(jnp.asarray(batch["z"]), jnp.asarray(batch["mean"]), jnp.asarray(batch["logvar"]))
    np.testing.assert_allclose(got, tc, rtol=1e-4)
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    loss, aux = call("beta_tc_vae", batch, beta=6.0)
    np.testing.assert_allclose([loss, aux["tc"]], [recon + kl + 5.0 * tc, tc], rtol=1e-4)
    # beta = 1 is the plain VAE.
    np.testing.assert_allclose(call("beta_tc_vae", batch, beta=1.0)[0], recon + kl, rtol=RTOL)


def test_beta_tc_vae_estimator_edge_cases():
    # One sample: q(z) and prod_d q(z_d) are the same Gaussian, so the estimate is exactly 0.
    z, m, lv = jnp.array([[0.3, -1.0]]), jnp.array([[0.1, -0.8]]), jnp.array([[-0.2, 0.4]])
    np.testing.assert_allclose(jitted_tc(z, m, lv), 0.0, atol=1e-6)
    # Far-apart posteriors with perfectly correlated dims: each z_j is explained by its own x_j only, the marginals
    # also pick x_j, so the estimate is 0 up to float error; the (D - 1) log(B N) constant is absent.
    m = jnp.array([[-20.0, -20.0], [0.0, 0.0], [20.0, 20.0]])
    np.testing.assert_allclose(jitted_tc(m, m, jnp.full_like(m, -2.0)), 0.0, atol=1e-5)


def test_dip_vae_i_and_ii(batch):
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    cov_mean = np.cov(np.float64(batch["mean"]), rowvar=False, bias=True)
    penalty, off, diag = np_dip_penalty(cov_mean, 2.0, 20.0)
    loss, aux = call("dip_vae_i", batch, lambda_od=2.0)
    np.testing.assert_allclose(
        [loss, aux["dip_off_diagonal"], aux["dip_diagonal"], aux["dip_penalty"]],
        [recon + kl + penalty, off, diag, penalty],
        rtol=RTOL,
    )
    cov_z = cov_mean + np.diag(np.exp(np.float64(batch["logvar"])).mean(axis=0))
    penalty, off, diag = np_dip_penalty(cov_z, 5.0, 5.0)
    loss, aux = call("dip_vae_ii", batch, lambda_od=5.0)
    np.testing.assert_allclose(
        [loss, aux["dip_off_diagonal"], aux["dip_diagonal"]], [recon + kl + penalty, off, diag], rtol=RTOL
    )
    penalty, _, _ = np_dip_penalty(cov_z, 5.0, 15.0)
    np.testing.assert_allclose(call("dip_vae_ii", batch, lambda_od=5.0, lambda_d_factor=3.0)[0], recon + kl + penalty,
                               rtol=RTOL)  # fmt: skip


def test_dip_penalty_vanishes_when_the_covariance_is_the_identity():
    # Means whose batch covariance is exactly I: the DIP-I penalty is 0. For DIP-II the aggregate covariance adds
    # E[diag(exp(logvar))]: means scaled by sqrt(1/2) with posterior variance 1/2 give I again.
    q, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(8, 3)))
    centred = q - q.mean(axis=0)
    white = (centred @ np.linalg.inv(np.linalg.cholesky(np.cov(centred, rowvar=False, bias=True))).T).astype(np.float32)
    x = np.full((8, 2, 2, 1), 0.5, np.float32)
    half = np.full_like(white, np.log(0.5))
    for name, m, lv in (("dip_vae_i", white, np.zeros_like(white)), ("dip_vae_ii", white * np.sqrt(0.5), half)):
        _, aux = call(name, {"x": x, "logits": np.zeros_like(x), "mean": m, "logvar": lv, "z": m})
        np.testing.assert_allclose([aux["dip_off_diagonal"], aux["dip_diagonal"]], [0.0, 0.0], atol=1e-9)
    # With unit posterior variances DIP-II sees 2I: diagonal term 3 * (2 - 1)^2.
    _, aux = call("dip_vae_ii", {"x": x, "logits": np.zeros_like(x), "mean": white, "logvar": 0 * white, "z": white})
    np.testing.assert_allclose(aux["dip_diagonal"], 3.0, rtol=1e-5)


def test_qlae_and_qlvae(batch):
    recon = np_reconstruction(batch["x"], batch["logits"])
    kl = np_kl(batch["mean"], batch["logvar"])
    zc, zq = np.float64(batch["z_continuous"]), np.float64(batch["z_quantized"])
    msd = np.mean([(zc[b, d] - zq[b, d]) ** 2 for b in range(B) for d in range(D)])
    pixels = H * W * C
    loss, aux = call("qlae", batch, quantization_weight=0.02, commitment_weight=0.5)
    unit_kl = np_kl(batch["mean"], np.zeros_like(batch["logvar"]))
    np.testing.assert_allclose(
        [loss, aux["quantization"], aux["commitment"], aux["reconstruction"], aux["kl"]],
        [recon + pixels * 0.52 * msd, msd, msd, recon, unit_kl],
        rtol=RTOL,
    )
    loss, aux = call("qlvae", batch, beta=2.0)
    np.testing.assert_allclose([loss, aux["kl"]], [recon + 2.0 * kl + pixels * 0.02 * msd, kl], rtol=RTOL)


# ----------------------------------------------------------------------------------------------------------------------
# Shared properties of every objective


@pytest.mark.parametrize("name", list(OBJECTIVES))
def test_jitted_value_and_grad_is_finite_and_keeps_the_aux_contract(name, batch):
    spec = OBJECTIVES[name]
    (loss, aux), grads = call_with_grads(name, batch, step=3)
    assert loss.dtype == jnp.float32 and loss.shape == ()
    assert {"loss", "reconstruction", "kl", "elbo", "regularizer"} <= set(aux)
    assert all(v.shape == () and v.dtype == jnp.float32 for v in aux.values())
    np.testing.assert_allclose(aux["loss"], loss, rtol=1e-6)
    np.testing.assert_allclose(aux["regularizer"], loss - aux["reconstruction"], rtol=1e-5, atol=1e-5)
    for key, g in grads.items():
        assert g.shape == batch[key].shape and np.all(np.isfinite(g)), f"{name}: bad gradient for {key}"
    assert np.any(grads["logits"] != 0)
    if spec.kind in ("vae", "factor_vae") or name == "qlvae":
        assert np.any(grads["mean"] != 0) and np.any(grads["logvar"] != 0)
    else:  # deterministic models: the KL is a diagnostic only
        assert np.all(grads["logvar"] == 0)
    if name == "beta_tc_vae":  # the estimator differentiates through the sample
        assert np.any(grads["z"] != 0)
    if name == "factor_vae":  # the TC term reaches the encoder through the discriminator's logits
        np.testing.assert_allclose(grads["discriminator_logits"][:, 0], spec.defaults["gamma"] / B, rtol=1e-6)
        np.testing.assert_allclose(grads["discriminator_logits"][:, 1], -spec.defaults["gamma"] / B, rtol=1e-6)
    if spec.kind == "quantized":  # quantization loss moves the codebook, commitment moves the encoder
        zc, zq = batch["z_continuous"], batch["z_quantized"]
        np.testing.assert_allclose(grads["z_quantized"], 2 * H * W * C * 0.01 * (zq - zc) / (B * D), rtol=1e-4)
        np.testing.assert_allclose(grads["z_continuous"], 2 * H * W * C * 0.01 * (zc - zq) / (B * D), rtol=1e-4)


@pytest.mark.parametrize("name", sorted(STUDY_VALUES))
def test_vmap_over_the_study_grid_matches_single_calls(name, batch):
    """An ensemble trains several hyperparameter values in one program: the losses must accept traced values."""
    spec = OBJECTIVES[name]
    values = jnp.asarray(STUDY_VALUES[name], jnp.float32)
    args = [jnp.asarray(batch[k]) for k in ("x", "logits", "mean", "logvar", "z")]
    extra = {k: jnp.asarray(batch[k]) for k in spec.inputs}

    def one(value):
        return spec.loss(*args, jnp.int32(40_000), **extra, **{spec.sweep_param: value})[0]

    batched = jax.jit(jax.vmap(one))(values)
    single = [call(name, batch, step=40_000, **{spec.sweep_param: float(v)})[0] for v in STUDY_VALUES[name]]
    np.testing.assert_allclose(batched, single, rtol=1e-5, atol=1e-4)
    assert len(set(np.round(single, 3))) == 6  # the swept value matters
