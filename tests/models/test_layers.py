"""The fast convolution formulations compute TF's conv2d / conv2d_transpose ("same"), values and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from factorbench.models import layers
from factorbench.models.architectures import ConvEncoder, DeconvDecoder, make_encoder_decoder


@pytest.mark.parametrize("kernel_size", [2, 4])
@pytest.mark.parametrize("matmul", [False, True])
def test_strided_conv_formulations_match_reference(kernel_size, matmul):
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 3))
    w = jax.random.normal(jax.random.PRNGKey(1), (kernel_size, kernel_size, 3, 5))
    ref = layers.conv_same(x, w, 2)
    fast = layers.conv_same_s2_subpixel(x, w, matmul=matmul)
    assert fast.shape == ref.shape == (2, 4, 4, 5)
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)
    g_ref = jax.grad(lambda x, w: jnp.sum(jnp.sin(layers.conv_same(x, w, 2))), (0, 1))(x, w)
    g_fast = jax.grad(lambda x, w: jnp.sum(jnp.sin(layers.conv_same_s2_subpixel(x, w, matmul=matmul))), (0, 1))(x, w)
    for a, b in zip(g_ref, g_fast):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("matmul", [False, True])
def test_transposed_conv_subpixel_matches_tf_definition(matmul):
    x = jax.random.normal(jax.random.PRNGKey(2), (2, 4, 4, 3))
    w = jax.random.normal(jax.random.PRNGKey(3), (4, 4, 5, 3))  # TF layout (kh, kw, out, in)
    ref = layers.conv_transpose_same(x, w, 2)
    fast = layers.conv_transpose_s2_subpixel(x, w, matmul=matmul)
    assert ref.shape == fast.shape == (2, 8, 8, 5)
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=1e-5)
    # TF's padding: the top-left output pixel sees only input (0, 0) through kernel tap (1, 1).
    np.testing.assert_allclose(ref[:, 0, 0, :], x[:, 0, 0, :] @ w[1, 1].T, rtol=1e-5, atol=1e-5)
    g_ref = jax.grad(lambda x, w: jnp.sum(jnp.sin(layers.conv_transpose_same(x, w, 2))), (0, 1))(x, w)
    g_fast = jax.grad(lambda x, w: jnp.sum(jnp.sin(layers.conv_transpose_s2_subpixel(x, w, matmul=matmul))),
                      (0, 1))(x, w)
    for a, b in zip(g_ref, g_fast):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("out_features, uses_lax", [(1, True), (3, True), (layers.LAX_TRANSPOSED_MAX_OUT + 1, False)])
def test_matmul_transposed_conv_keeps_narrow_outputs_on_lax(out_features, uses_lax):
    # The decoder's image layer stays on XLA's convolution under "matmul" (a narrow matmul is slow on CPU);
    # either way the module computes TF's conv2d_transpose.
    layer = layers.ConvTranspose(6, out_features, 4, 2, formulation="matmul", rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.PRNGKey(6), (2, 4, 4, 6))
    primitives = {eqn.primitive.name for eqn in jax.make_jaxpr(layer)(x).jaxpr.eqns}
    assert ("conv_general_dilated" in primitives) == uses_lax
    ref = layers.conv_transpose_same(x, layer.kernel[...], 2) + layer.bias[...]
    np.testing.assert_allclose(layer(x), ref, rtol=1e-5, atol=1e-5)


def test_space_to_depth_round_trip():
    x = jnp.arange(2 * 4 * 6 * 3, dtype=jnp.float32).reshape(2, 4, 6, 3)
    assert layers.space_to_depth(x).shape == (2, 2, 3, 12)
    np.testing.assert_array_equal(layers.depth_to_space(layers.space_to_depth(x)), x)


@pytest.mark.parametrize("channels", [1, 3])
def test_conv_pair_shapes_and_dlib_layer_list(channels):
    enc, dec = make_encoder_decoder("conv", channels, rngs=nnx.Rngs(0))
    assert isinstance(enc, ConvEncoder) and isinstance(dec, DeconvDecoder)
    kernels = [c.kernel[...].shape for c in enc.convs]
    assert kernels == [(4, 4, channels, 32), (4, 4, 32, 32), (2, 2, 32, 64), (2, 2, 64, 64)]
    assert [d.kernel[...].shape for d in dec.deconvs] == [(4, 4, 64, 64), (4, 4, 32, 64), (4, 4, 32, 32),
                                                          (4, 4, channels, 32)]
    graph, params = nnx.split((enc, dec))
    mean, logvar, logits = jax.eval_shape(lambda p, x: _run(graph, p, x), params, jnp.zeros((2, 64, 64, channels)))
    assert mean.shape == logvar.shape == (2, 10)
    assert logits.shape == (2, 64, 64, channels)
    if channels == 1:  # 4x4 kernels in layers 3-4 (a common re-implementation) would give 764,245
        n = sum(p.size for p in jax.tree.leaves(nnx.state((enc, dec), nnx.Param)))
        assert n == 690_517


def test_glorot_uniform_init_and_zero_bias():
    enc, dec = make_encoder_decoder("conv", 1, rngs=nnx.Rngs(1))
    k = np.asarray(enc.convs[1].kernel[...])  # 4x4x32x32: fan_in = fan_out = 512
    limit = np.sqrt(6.0 / (512 + 512))
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.95 * limit
    assert np.std(k) == pytest.approx(limit / np.sqrt(3.0), rel=0.05)  # uniform, not LeCun-normal
    assert not np.any(np.asarray(enc.convs[1].bias[...]))
    assert not np.any(np.asarray(dec.hidden1.bias[...]))


def _run(graph, params, x):
    enc, dec = nnx.merge(graph, params)
    mean, logvar = enc(x)
    return mean, logvar, dec(mean)


def test_formulations_agree_on_whole_model():
    x = jax.random.uniform(jax.random.PRNGKey(4), (2, 64, 64, 1))
    outs = []
    for formulation in layers.FORMULATIONS:
        graph, params = nnx.split(make_encoder_decoder("conv", 1, formulation=formulation, rngs=nnx.Rngs(5)))
        mean, _, logits = jax.jit(_run, static_argnums=0)(graph, params, x)
        outs.append((mean, logits))
    for mean, logits in outs[1:]:
        np.testing.assert_allclose(mean, outs[0][0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(logits, outs[0][1], rtol=1e-4, atol=1e-4)


def test_fc_pair_shapes():
    enc, dec = nnx.eval_shape(lambda: make_encoder_decoder("fc", 3, rngs=nnx.Rngs(0)))
    graph, params = nnx.split((enc, dec))
    mean, _, logits = jax.eval_shape(lambda p, x: _run(graph, p, x), params, jnp.zeros((2, 64, 64, 3)))
    assert mean.shape == (2, 10) and logits.shape == (2, 64, 64, 3)
    with pytest.raises(ValueError, match="unknown architecture"):
        make_encoder_decoder("resnet", 1, rngs=nnx.Rngs(0))
