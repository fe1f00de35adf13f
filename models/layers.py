"""Convolution layers with TF1 `tf.layers` semantics, and faster formulations of the same maths.

disentanglement_lib builds its models with `tf.layers.conv2d` / `conv2d_transpose` (padding "same",
Glorot-uniform kernels, zero biases). Here a layer is a small NNX module that holds the kernel in
TF's layout and computes its output with one of several *formulations* that give the same numbers
up to float rounding (a test checks each against the reference):

* ``"lax"``: the reference. `lax.conv_general_dilated` for strided convolutions, and the transposed
  convolution as the input-gradient of the strided convolution (TF's definition of
  `conv2d_transpose`), which XLA lowers to an lhs-dilated convolution.
* ``"subpixel"``: A stride-2 "same" convolution becomes
  space-to-depth followed by a stride-1 "valid" convolution (a 2x2 kernel, or a matmul for 2x2
  kernels); a stride-2 transposed convolution becomes one stride-1 3x3 convolution producing the four
  output phases as channels, followed by depth-to-space. No strided or dilated convolution is left in
  the forward or backward pass; XLA:CPU runs those pathologically slowly (shared/reference/stack.md:
  the transposed convolutions' backward pass was 1.2 s of a 1.5 s step).
* ``"matmul"`` (the default, fastest on CPU): as "subpixel", with each stride-1 convolution written as
  static slices (im2col) and one matrix product, so XLA:CPU stays on its matmul path forward and backward;
  except a transposed convolution to at most LAX_TRANSPOSED_MAX_OUT channels (the decoder's image
  layer), which stays on lax: a matrix product with so few output columns is XLA:CPU's slow case.

`tests/perf/train_throughput.py` times every formulation; the table is in the module docstring there.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx
from jax import lax

FORMULATIONS = ("lax", "subpixel", "matmul")
DEFAULT_FORMULATION = "matmul"
# Under "matmul", transposed convolutions to at most this many channels stay on lax (see ConvTranspose).
LAX_TRANSPOSED_MAX_OUT = 4

_DN = ("NHWC", "HWIO", "NHWC")
glorot_uniform = jax.nn.initializers.glorot_uniform()  # TF1's default kernel initializer


def _check_formulation(formulation: str) -> str:
    if formulation not in FORMULATIONS:
        raise ValueError(f"unknown layer formulation {formulation!r}; choose one of {', '.join(FORMULATIONS)}")
    return formulation


# ----------------------------------------------------------------------------------- pure functions
def conv_valid_s1(x: jax.Array, kernel: jax.Array, padding: int = 0, *, matmul: bool = False) -> jax.Array:
    """Stride-1 convolution with `padding` zeros on each side; with `matmul`, as slices + one matrix product.

    The matmul form (im2col by static slices, then a single dot) keeps XLA:CPU on its matrix-multiply
    path in the forward and both backward products; its convolution kernels are much slower there.
    """
    if padding:
        x = jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    kh, kw, cin, cout = kernel.shape
    if not matmul:
        return lax.conv_general_dilated(x, kernel, (1, 1), "VALID", dimension_numbers=_DN)
    h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    if kh == kw == 1:
        patches = x
    else:
        patches = jnp.concatenate([x[:, i:i + h, j:j + w, :] for i in range(kh) for j in range(kw)], axis=-1)
    return jnp.einsum("bhwk,ko->bhwo", patches, kernel.reshape(kh * kw * cin, cout))


def space_to_depth(x: jax.Array) -> jax.Array:
    """(B, 2H, 2W, C) -> (B, H, W, 4C), channel order (row phase, column phase, channel)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // 2, w // 2, 4 * c)


def depth_to_space(x: jax.Array) -> jax.Array:
    """(B, H, W, 4C) -> (B, 2H, 2W, C), the inverse of `space_to_depth`."""
    b, h, w, c4 = x.shape
    c = c4 // 4
    x = x.reshape(b, h, w, 2, 2, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, 2 * h, 2 * w, c)


def conv_same(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """TF `conv2d(padding="same")`, no bias: the reference formulation. kernel (kh, kw, in, out)."""
    return lax.conv_general_dilated(x, kernel, (stride, stride), "SAME", dimension_numbers=_DN)


def conv_same_s2_subpixel(x: jax.Array, kernel: jax.Array, *, matmul: bool = False) -> jax.Array:
    """Stride-2 "same" convolution with an even kernel (2 or 4) as space-to-depth + stride-1 valid conv."""
    kh, kw, cin, cout = kernel.shape
    if kh != kw or kh not in (2, 4) or x.shape[1] % 2 or x.shape[2] % 2:
        raise ValueError(f"subpixel stride-2 conv needs a 2x2 or 4x4 kernel and even input, got {kernel.shape}")
    pad = (kh - 2) // 2  # TF "same" with stride 2 on an even input pads (k - 2) / 2 on each side
    if pad:
        x = jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    x = space_to_depth(x)
    taps = kh // 2
    # kernel[2*ty + a, 2*tx + b, c, o] -> k2[ty, tx, (a, b, c), o]
    k2 = kernel.reshape(taps, 2, taps, 2, cin, cout).transpose(0, 2, 1, 3, 4, 5).reshape(taps, taps, 4 * cin, cout)
    return conv_valid_s1(x, k2, matmul=matmul or taps == 1)


def conv_transpose_same(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """TF `conv2d_transpose(padding="same")`, no bias: the reference formulation.

    kernel has TF's transposed layout (kh, kw, out, in): the result is the gradient, with respect
    to its input, of `conv_same(y, kernel, stride)` for y of shape (B, stride*H, stride*W, out).
    """
    b, h, w, _ = x.shape
    out_shape = (b, stride * h, stride * w, kernel.shape[2])
    _, vjp = jax.vjp(lambda y: conv_same(y, kernel, stride), jnp.zeros(out_shape, x.dtype))
    return vjp(x)[0]


def _subpixel_transpose_kernel(kernel: jax.Array) -> jax.Array:
    """A (4, 4, out, in) transposed-conv kernel as a (3, 3, in, 4*out) stride-1 kernel over the phases.

    In one dimension, with forward taps w[0..3] and the input padded by one: output 2m is
    in[m-1] w[3] + in[m] w[1], and output 2m+1 is in[m] w[2] + in[m+1] w[0].
    """
    kh, kw, cout, cin = kernel.shape
    if (kh, kw) != (4, 4):
        raise ValueError(f"subpixel transposed conv supports 4x4 kernels, got {kernel.shape}")
    zero = jnp.zeros_like(kernel[0, 0])
    # taps[phase][t] is the 1-D tap index for window position t (input m-1, m, m+1), or None.
    taps = ((3, 1, None), (None, 2, 0))
    rows = []
    for ty in range(3):
        cols = []
        for tx in range(3):
            phases = []
            for a in range(2):
                for b in range(2):
                    i, j = taps[a][ty], taps[b][tx]
                    phases.append(zero if i is None or j is None else kernel[i, j])  # (out, in)
            cols.append(jnp.stack(phases, 0))  # (4, out, in)
        rows.append(jnp.stack(cols, 0))
    k = jnp.stack(rows, 0)  # (3, 3, 4, out, in)
    return k.transpose(0, 1, 4, 2, 3).reshape(3, 3, cin, 4 * cout)


def conv_transpose_s2_subpixel(x: jax.Array, kernel: jax.Array, *, matmul: bool = False) -> jax.Array:
    """Stride-2 "same" transposed convolution (4x4 kernel) as a stride-1 3x3 conv + depth-to-space."""
    return depth_to_space(conv_valid_s1(x, _subpixel_transpose_kernel(kernel), 1, matmul=matmul))


# ------------------------------------------------------------------------------------------ modules
class Conv(nnx.Module):
    """`tf.layers.conv2d(filters, kernel_size, strides, padding="same")`: Glorot-uniform kernel, zero bias."""

    def __init__(self, in_features: int, out_features: int, kernel_size: int, stride: int, *,
                 formulation: str = DEFAULT_FORMULATION, rngs: nnx.Rngs):
        self.kernel = nnx.Param(glorot_uniform(rngs.params(), (kernel_size, kernel_size, in_features, out_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,)))
        self.stride = stride
        self.formulation = _check_formulation(formulation)

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.kernel[...]
        if self.formulation != "lax" and self.stride == 2 and kernel.shape[0] in (2, 4):
            y = conv_same_s2_subpixel(x, kernel, matmul=self.formulation == "matmul")
        else:
            y = conv_same(x, kernel, self.stride)
        return y + self.bias[...]


class ConvTranspose(nnx.Module):
    """`tf.layers.conv2d_transpose(filters, kernel_size, strides, padding="same")`.

    The kernel keeps TF's layout (kh, kw, out, in); Glorot-uniform (its fans are symmetric in
    in/out, so the layout does not change the init), zero bias.
    """

    def __init__(self, in_features: int, out_features: int, kernel_size: int, stride: int, *,
                 formulation: str = DEFAULT_FORMULATION, rngs: nnx.Rngs):
        self.kernel = nnx.Param(glorot_uniform(rngs.params(), (kernel_size, kernel_size, out_features, in_features)))
        self.bias = nnx.Param(jnp.zeros((out_features,)))
        self.stride = stride
        self.formulation = _check_formulation(formulation)

    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.kernel[...]
        if self._subpixel(kernel):
            y = conv_transpose_s2_subpixel(x, kernel, matmul=self.formulation == "matmul")
        else:
            y = conv_transpose_same(x, kernel, self.stride)
        return y + self.bias[...]

    def _subpixel(self, kernel: jax.Array) -> bool:
        if self.formulation == "lax" or self.stride != 2 or kernel.shape[:2] != (4, 4):
            return False
        # XLA:CPU's matrix product is slow when it has few output columns: the image layer (1 or 3 channels,
        # so 4 or 12 phase columns) took 153 / 155 ms forward+backward as a matmul against 22 / 53 ms with
        # lax (batch 64, 32x32x32 -> 64x64xC); from 8 channels on the matmul wins (178 vs 197 ms).
        return not (self.formulation == "matmul" and kernel.shape[2] <= LAX_TRANSPOSED_MAX_OUT)


def dense(in_features: int, out_features: int, *, rngs: nnx.Rngs) -> nnx.Linear:
    """`tf.layers.dense`: Glorot-uniform kernel, zero bias."""
    return nnx.Linear(in_features, out_features, kernel_init=glorot_uniform,
                      bias_init=jax.nn.initializers.zeros, rngs=rngs)
