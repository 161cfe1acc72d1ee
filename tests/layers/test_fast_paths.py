"""The fast paths (kerasimg/layers/_fast.py) give the values of the plain formulations.

Runs under whatever KERAS_BACKEND is set. Under TensorFlow, eager calls take the native-kernel
paths and ``jit_compile=True`` the XLA ones; under JAX every call takes the XLA ones.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from strategies import xla

import kerasimg.layers.resize as resize_module
from kerasimg.layers import Normalize, RandomContrast, RandomFlip, Resize, _fast

BACKEND = keras.backend.backend()


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def reference_resize(x, height, width):
    """Half-pixel bilinear resize in float64, width then height, NumPy only."""
    out = x.astype("float64")
    for axis, n_out in ((2, width), (1, height)):
        n_in = out.shape[axis]
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        floor = np.floor(src)
        lower = np.maximum(floor, 0).astype(int)
        upper = np.minimum(np.ceil(src), n_in - 1).astype(int)
        shape = [1, 1, 1, 1]
        shape[axis] = n_out
        weight = (src - floor).reshape(shape)
        low, high = np.take(out, lower, axis=axis), np.take(out, upper, axis=axis)
        out = low + (high - low) * weight
    return out


SIZES = [((256, 256), (224, 224)), ((13, 9), (6, 8)), ((5, 7), (11, 3)), ((1, 4), (3, 1)), ((7, 6), (7, 2))]


@pytest.mark.parametrize("size_in,size_out", SIZES)
def test_bilinear_taps_cover_the_input(size_in, size_out):
    for n_in, n_out in zip(size_in, size_out, strict=True):
        lower, upper, weight = _fast.bilinear_taps(n_in, n_out)
        assert lower.shape == upper.shape == weight.shape == (n_out,)
        assert lower.min() >= 0 and upper.max() <= n_in - 1 and np.all(lower <= upper)
        assert weight.min() >= 0.0 and weight.max() < 1.0


@pytest.mark.parametrize("size_in,size_out", SIZES)
def test_resize_bilinear_matches_reference(size_in, size_out):
    x = np.random.default_rng(0).uniform(0, 255, (2, *size_in, 3)).astype("float32")
    backend = Resize(*size_out).backend
    y = to_np(_fast.resize_bilinear(backend, keras.ops.convert_to_tensor(x), size_out, (1, 2)))
    expect = reference_resize(x, *size_out)
    # float32 taps (as TF's kernel computes them) against float64 ones: a few 1e-3 at 255
    np.testing.assert_allclose(y, expect, rtol=0, atol=1e-2)
    # keras.ops.image.resize (TF kernel or jax.image.resize) within the same float32 error
    native = to_np(keras.ops.image.resize(x, size_out, interpolation="bilinear"))
    np.testing.assert_allclose(y, native, rtol=0, atol=1e-2)
    assert y.min() >= x.min() - 1e-3 and y.max() <= x.max() + 1e-3


def test_resize_bilinear_channels_first():
    x = np.random.default_rng(1).uniform(0, 255, (2, 3, 13, 9)).astype("float32")
    backend = Resize(6, 8).backend
    y = to_np(_fast.resize_bilinear(backend, keras.ops.convert_to_tensor(x), (6, 8), (2, 3)))
    expect = np.moveaxis(reference_resize(np.moveaxis(x, 1, -1), 6, 8), -1, 1)
    np.testing.assert_allclose(y, expect, rtol=0, atol=1e-3)


def test_under_xla_detects_the_compiler():
    backend = Resize(2, 2).backend
    if BACKEND == "jax":
        assert _fast.under_xla(backend)
        return
    if BACKEND != "tensorflow":
        assert not _fast.under_xla(backend)
        return
    import tensorflow as tf

    seen = {"eager": _fast.under_xla(backend)}

    def probe(name):
        def fn(x):
            seen[name] = _fast.under_xla(backend)
            return x * 2.0
        return fn

    tf.function(probe("plain"))(tf.constant(1.0))
    tf.function(probe("xla"), jit_compile=True)(tf.constant(1.0))
    assert seen == {"eager": False, "plain": False, "xla": True}


@pytest.mark.parametrize("jit_compile", [False, True])
def test_compiled_model_resizes_with_gathers_under_xla(jit_compile, monkeypatch):
    calls = []
    original = resize_module.resize_bilinear

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(resize_module, "resize_bilinear", counting)
    inputs = keras.Input((20, 24, 3), dtype="uint8")
    model = keras.Model(inputs, Resize(16, 16)(inputs))
    model.compile(jit_compile=jit_compile)
    x = np.random.default_rng(0).integers(0, 256, (4, 20, 24, 3)).astype("uint8")
    y = model.predict(x, verbose=0)
    np.testing.assert_allclose(y, reference_resize(x, 16, 16), rtol=0, atol=1e-3)
    expect_lerp = BACKEND == "jax" or (BACKEND == "tensorflow" and jit_compile)
    assert bool(calls) == expect_lerp


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "uint16", "int32", "int64", "float16",
                                   "float32", "float64"])
def test_flip_where_on_every_dtype(dtype):
    x = np.random.default_rng(2).integers(0, 100, (5, 3, 4, 2)).astype(dtype)
    coin = np.array([True, False, True, True, False])
    backend = RandomFlip().backend
    eager = to_np(_fast.flip_where(backend, keras.ops.convert_to_tensor(x), coin, 2))
    compiled = to_np(xla(lambda images, c: _fast.flip_where(backend, images, c, 2))(x, coin))
    expect = np.where(coin[:, None, None, None], x[:, :, ::-1], x)
    for got in (eager, compiled):  # the input dtype (as the backend holds it: JAX has no 64-bit)
        assert got.dtype == to_np(keras.ops.convert_to_tensor(x)).dtype
        np.testing.assert_array_equal(got, expect)


def test_one_coin_flips_every_image_of_a_batch():
    x = np.arange(3 * 2 * 3 * 1, dtype="uint8").reshape(3, 2, 3, 1)
    t = {"flip_horizontal": np.array([True]), "flip_vertical": np.array([False])}
    y = to_np(RandomFlip("horizontal").transform_images(x, t))
    np.testing.assert_array_equal(y, x[:, :, ::-1].astype("float32"))


@pytest.mark.parametrize("shape", [(3, 9, 11, 3), (2, 16, 16, 3), (2, 16, 8, 4), (2, 5, 5, 1)])
def test_spatial_mean_matches_numpy(shape):
    x = np.random.default_rng(3).uniform(0, 255, shape).astype("float32")
    backend = RandomContrast(0.1).backend
    mean = to_np(_fast.spatial_mean(backend, keras.ops.convert_to_tensor(x), "channels_last"))
    np.testing.assert_allclose(mean, x.astype("float64").mean(axis=(1, 2), keepdims=True), rtol=1e-5)
    first = to_np(_fast.spatial_mean(backend, np.moveaxis(x, -1, 1), "channels_first"))
    np.testing.assert_allclose(np.moveaxis(first, 1, -1), mean, rtol=1e-5)


def test_spatial_mean_sums_16_bit_floats_in_float32():
    x = keras.ops.cast(np.full((1, 256, 256, 3), 200.0, "float32"), "bfloat16")
    mean = _fast.spatial_mean(RandomContrast(0.1).backend, x, "channels_last")
    assert keras.backend.standardize_dtype(mean.dtype) == "bfloat16"
    # summed in bfloat16 the total stalls near 2**16 and the mean comes out far below 200
    np.testing.assert_allclose(to_np(keras.ops.cast(mean, "float32")), 200.0, rtol=1e-2)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_normalize_and_contrast_compiled_match_eager_at_full_size(channels):
    x = np.random.default_rng(4).integers(0, 256, (4, 64, 48, channels)).astype("uint8")
    normalize = Normalize(mean=[100.0] * channels, std=[50.0] * channels)
    contrast = RandomContrast(0.5)
    c = {"contrast": np.array([0.5, 1.0, 1.5, 0.0], "float32")}
    for fn in (lambda a: normalize(a), lambda a: contrast.transform_images(a, c)):
        np.testing.assert_allclose(to_np(xla(fn)(x)), to_np(fn(x)), rtol=1e-5, atol=1e-3)


def test_resize_compiled_matches_eager_at_full_size():
    x = np.random.default_rng(5).integers(0, 256, (2, 256, 256, 3)).astype("uint8")
    layer = Resize(224, 224)
    eager, compiled = to_np(layer(x)), to_np(xla(lambda a: layer(a))(x))
    np.testing.assert_allclose(compiled, eager, rtol=0, atol=1e-2)
    np.testing.assert_allclose(compiled, reference_resize(x, 224, 224), rtol=0, atol=1e-2)


@pytest.mark.parametrize("size_in,size_out", SIZES)
def test_traced_taps_equal_numpy_taps(size_in, size_out):
    backend = Resize(*size_out).backend
    for n_in, n_out in zip(size_in, size_out, strict=True):
        traced = _fast._traced_taps(backend, keras.ops.convert_to_tensor(n_in, "int32"), n_out)
        for got, expect in zip(traced, _fast.bilinear_taps(n_in, n_out), strict=True):
            np.testing.assert_array_equal(to_np(got), expect)


def test_resize_under_xla_with_sizes_unknown_while_tracing(monkeypatch):
    """A model on ``Input((None, None, 3))`` compiled once for many image sizes."""
    if BACKEND != "tensorflow":
        pytest.skip("only TensorFlow traces a function with unknown sizes")
    import tensorflow as tf

    calls = []
    original = resize_module.resize_bilinear
    monkeypatch.setattr(resize_module, "resize_bilinear", lambda *a, **k: calls.append(1) or original(*a, **k))
    layer = Resize(16, 12)
    fn = tf.function(lambda a: layer(a), jit_compile=True,
                     input_signature=[tf.TensorSpec((None, None, None, 3), tf.uint8)])
    for shape in [(2, 13, 9, 3), (1, 40, 64, 3), (3, 16, 12, 3)]:
        x = np.random.default_rng(6).integers(0, 256, shape).astype("uint8")
        np.testing.assert_allclose(to_np(fn(x)), reference_resize(x, 16, 12), rtol=0, atol=1e-3)
    assert calls  # traced once, through the lerp path
