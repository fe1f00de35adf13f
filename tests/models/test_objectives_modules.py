"""FactorVAE's discriminator, its loss and permute_dims; the latent quantizer of QLAE / QLVAE."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from factorbench import models
from factorbench.models.objectives._quantization import Codebook, LatentQuantizer
from factorbench.models.objectives.factor_vae import (
    DISCRIMINATOR_OPTIMIZER,
    Discriminator,
    discriminator_loss,
    permute_dims,
)
from factorbench.models.objectives.qlae import LatentQuantizer as QLAEQuantizer
from factorbench.models.objectives.qlvae import LatentQuantizer as QLVAEQuantizer


def key(seed: int) -> jax.Array:
    """Test keys use the "rbg" PRNG: on XLA:CPU a jitted threefry draw (jax 0.10's default, partitionable) costs about
    2.5 s of compile time, rbg about 0.3 s. Nothing here depends on the key's implementation."""
    return jax.random.key(seed, impl="rbg")


# ----------------------------------------------------------------------------------------------------------------------
# FactorVAE: discriminator, discriminator_loss, permute_dims


@pytest.fixture(scope="module")
def discriminator() -> Discriminator:
    # Built inside one compiled call: initialising 6M weights op by op costs seconds on a loaded CPU.
    return nnx.jit(lambda: Discriminator(10, rngs=nnx.Rngs(key(0))))()


def test_discriminator_architecture_matches_dlib(discriminator):
    layers = [*discriminator.hidden, discriminator.out]
    shapes = [layer.kernel[...].shape for layer in layers]
    assert shapes == [(10, 1000)] + [(1000, 1000)] * 5 + [(1000, 2)]
    for layer in layers:  # TF defaults: Glorot-uniform kernels, zero biases
        fan_in, fan_out = layer.kernel[...].shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        kernel = np.asarray(layer.kernel[...])
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound
        assert np.all(np.asarray(layer.bias[...]) == 0)


def test_discriminator_forward_against_numpy(discriminator):
    z = np.random.default_rng(0).normal(size=(4, 10)).astype(np.float32)
    h = np.float64(z)
    for layer in discriminator.hidden:
        pre = h @ np.float64(layer.kernel[...]) + np.float64(layer.bias[...])
        h = np.where(pre > 0, pre, 0.2 * pre)
    expected = h @ np.float64(discriminator.out.kernel[...]) + np.float64(discriminator.out.bias[...])
    got = nnx.jit(lambda d, z: d(z))(discriminator, jnp.asarray(z))
    assert got.shape == (4, 2)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_discriminator_loss_against_hand_computation():
    real = np.array([[2.0, -1.0], [0.5, 0.5], [-3.0, 1.0]], np.float32)
    perm = np.array([[0.0, 1.0], [1.0, -2.0], [0.3, 0.2]], np.float32)

    def log_softmax(a):
        a = np.float64(a)
        return a - np.log(np.exp(a).sum(axis=1, keepdims=True))

    expected = -(0.5 * log_softmax(real)[:, 0].mean() + 0.5 * log_softmax(perm)[:, 1].mean())
    loss = jax.jit(discriminator_loss)
    np.testing.assert_allclose(loss(real, perm), expected, rtol=1e-6)
    # A discriminator that cannot tell real from permuted scores log 2.
    np.testing.assert_allclose(loss(np.zeros((5, 2)), np.zeros((5, 2))), np.log(2.0), rtol=1e-6)
    # Probabilities are clipped to [1e-6, 1 - 1e-6] as in dlib: a confidently wrong logit costs at most -log(1e-6).
    worst = loss(np.array([[-100.0, 100.0]]), np.array([[100.0, -100.0]]))
    np.testing.assert_allclose(worst, -np.log(1e-6), rtol=1e-5)
    best = loss(np.array([[100.0, -100.0]]), np.array([[-100.0, 100.0]]))
    np.testing.assert_allclose(best, 1e-6, atol=1e-7)  # -log(1 - 1e-6), in float32


def test_permute_dims_permutes_each_dimension_independently():
    batch, dims = 1024, 10
    z = jnp.tile(jnp.arange(batch, dtype=jnp.float32)[:, None], (1, dims))  # identical, perfectly correlated columns
    permute = jax.jit(permute_dims)
    out = np.asarray(permute(z, key(0)))
    assert out.shape == (batch, dims)
    for d in range(dims):  # each column holds the same values ...
        assert sorted(out[:, d]) == list(range(batch))
    assert len({tuple(out[:, d]) for d in range(dims)}) == dims  # ... in its own order
    np.testing.assert_array_equal(out, permute(z, key(0)))  # deterministic given the key
    assert not np.array_equal(out, permute(z, key(1)))
    # After permuting, the dims are close to uncorrelated (sd of a null correlation here: 1/32).
    corr = np.corrcoef(out, rowvar=False)
    assert np.abs(corr[np.triu_indices(dims, 1)]).max() < 0.15


def test_discriminator_learns_to_detect_correlated_latents():
    """Trained with discriminator_loss on z vs permute_dims(z) (dlib's discriminator Adam, lr raised to 1e-3 for a
    200-step test), a small discriminator beats chance on correlated z, and the FactorVAE TC estimate (mean of
    logit_0 - logit_1) becomes positive."""
    graphdef, params = nnx.split(Discriminator(2, width=32, depth=2, rngs=nnx.Rngs(key(1))))
    settings = DISCRIMINATOR_OPTIMIZER
    tx = optax.adam(settings["learning_rate"] * 10, b1=settings["b1"], b2=settings["b2"], eps=settings["eps"])

    def sample(key):
        k_z, k_noise, k_perm = jax.random.split(key, 3)
        a = jax.random.normal(k_z, (128, 1))
        z = jnp.concatenate([a, a + 0.1 * jax.random.normal(k_noise, (128, 1))], axis=1)
        return z, permute_dims(z, k_perm)

    def loss_fn(params, key):
        d = nnx.merge(graphdef, params)
        z, z_perm = sample(key)
        return discriminator_loss(d(z), d(z_perm)), jnp.mean(d(z) @ jnp.array([1.0, -1.0]))

    @jax.jit
    def train(params, key):
        def step(i, carry):
            params, opt_state = carry
            grads, _ = jax.grad(loss_fn, has_aux=True)(params, jax.random.fold_in(key, i))
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        params, _ = jax.lax.fori_loop(0, 200, step, (params, tx.init(params)))
        return loss_fn(params, jax.random.fold_in(key, 10_000))

    loss, tc = train(params, key(3))
    assert loss < 0.5 < np.log(2.0)
    assert tc > 0.5


# ----------------------------------------------------------------------------------------------------------------------
# Latent quantization


def test_modules_are_exported_by_the_objective_files_and_the_package():
    assert QLAEQuantizer is QLVAEQuantizer is LatentQuantizer is models.objectives.LatentQuantizer
    assert models.objectives.Discriminator is Discriminator
    assert models.objectives.permute_dims is permute_dims


def test_quantizer_snaps_each_dimension_to_its_own_codebook():
    quantizer = LatentQuantizer(3, 5)
    np.testing.assert_allclose(quantizer.values[...], np.tile(np.linspace(-0.5, 0.5, 5), (3, 1)), rtol=1e-6)
    assert isinstance(quantizer.values, Codebook) and isinstance(quantizer.values, nnx.Param)
    quantizer.values[...] = jnp.array([[-0.5, -0.25, 0.0, 0.25, 0.5], [0.0, 1.0, 2.0, 3.0, 4.0], [-4, -3, -2, -1, 0]])
    zc = jnp.array([[0.1, 2.6, -10.0], [-0.2, -5.0, 0.4], [0.49, 1.4, -1.6]])
    out = nnx.jit(lambda q, z: q(z))(quantizer, zc)
    np.testing.assert_array_equal(out.indices, [[2, 3, 0], [1, 0, 4], [4, 1, 2]])
    np.testing.assert_allclose(out.quantized, [[0.0, 3.0, -4.0], [-0.25, 0.0, 0.0], [0.5, 1.0, -2.0]])
    np.testing.assert_allclose(out.z, out.quantized, atol=1e-7)  # forward value of the straight-through code


def test_quantizer_gradients_straight_through_and_to_the_codebook():
    quantizer = LatentQuantizer(2, 4)
    zc = jnp.array([[0.1, -0.4], [0.2, 0.3], [-0.45, 0.05]])
    weights = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])

    def decoder_side(z):  # the decoder sees the straight-through code: d/dz_c is the identity
        return jnp.sum(quantizer(z).z * weights)

    np.testing.assert_allclose(jax.jit(jax.grad(decoder_side))(zc), weights)

    def quantization_loss(q):
        out = q(zc)
        return jnp.sum(out.quantized * weights)

    grad_fn = nnx.jit(nnx.grad(quantization_loss))
    g = np.asarray(grad_fn(quantizer)["values"][...])
    indices = np.asarray(nnx.jit(lambda q: q(zc).indices)(quantizer))
    expected = np.zeros((2, 4))
    for b in range(3):
        for d in range(2):
            expected[d, indices[b, d]] += weights[b, d]
    np.testing.assert_allclose(g, expected)
    frozen = LatentQuantizer(2, 4, learnable=False)
    np.testing.assert_array_equal(grad_fn(frozen)["values"][...], 0.0)
