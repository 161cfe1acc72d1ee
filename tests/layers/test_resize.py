"""Resize: output size, agreement with keras.ops.image.resize, shape inference."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from strategies import xla

from kerasimg.layers import Resize


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos3"])
@pytest.mark.parametrize("crop,pad", [(False, False), (True, False), (False, True)])
def test_matches_keras_resize_on_float_input(interpolation, crop, pad):
    if keras.backend.backend() == "torch" and interpolation.startswith("lanczos"):
        pytest.skip("Keras' torch backend has no lanczos resize (keras.ops.image.resize raises)")
    x = np.random.default_rng(0).integers(0, 256, (2, 13, 9, 3)).astype("uint8")
    layer = Resize(6, 8, interpolation=interpolation, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad)
    expect = keras.ops.image.resize(
        x.astype("float32"), (6, 8), interpolation=interpolation,
        crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad,
    )
    np.testing.assert_allclose(to_np(layer(x)), to_np(expect), rtol=1e-5, atol=1e-3)


def test_uint8_input_does_not_wrap():
    x = np.full((1, 4, 4, 3), 255, "uint8")
    y = to_np(Resize(3, 3, interpolation="bicubic")(x))
    assert y.min() >= 254.9  # bicubic on a constant image stays constant; no wrap to ~0


def test_same_size_is_a_cast():
    x = np.random.default_rng(0).integers(0, 256, (1, 4, 5, 1)).astype("uint8")
    np.testing.assert_array_equal(to_np(Resize(4, 5)(x)), x.astype("float32"))


def test_functional_model_with_unknown_size():
    inputs = keras.Input((None, None, 3), dtype="uint8")
    outputs = Resize(10, 12)(inputs)
    assert tuple(outputs.shape) == (None, 10, 12, 3)
    model = keras.Model(inputs, outputs)
    for h, w in [(5, 7), (30, 17)]:
        assert tuple(model(np.zeros((2, h, w, 3), "uint8")).shape) == (2, 10, 12, 3)


def test_channels_first_shape():
    layer = Resize(4, 6, data_format="channels_first")
    assert tuple(layer(np.zeros((2, 3, 9, 9), "uint8")).shape) == (2, 3, 4, 6)
    assert layer.compute_output_shape((None, 3, None, None)) == (None, 3, 4, 6)


def test_crop_and_pad_are_exclusive():
    with pytest.raises(ValueError, match="pad_to_aspect_ratio"):
        Resize(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True)


BACKEND = keras.backend.backend()
INTERPOLATIONS = ["nearest", "bilinear", "bicubic", "lanczos3", "lanczos5"]
ASPECT = [(False, False), (True, False), (False, True)]


def _tf_compiles(interpolation, antialias):
    return interpolation == "nearest" or (interpolation == "bilinear" and not antialias)


@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("crop,pad", ASPECT)
def test_compiled_matches_eager_for_every_option(interpolation, antialias, crop, pad):
    """Upscaling 5x8 to 11x17 (non-integer factors): TF's bilinear op under XLA was off by 220."""
    if keras.backend.backend() == "torch" and interpolation.startswith("lanczos"):
        pytest.skip("Keras' torch backend has no lanczos resize (keras.ops.image.resize raises)")
    x = np.random.default_rng(1).integers(0, 256, (2, 5, 8, 3)).astype("uint8")
    layer = Resize(11, 17, interpolation=interpolation, antialias=antialias,
                   crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad, fill_value=9.0)
    eager = to_np(layer(x))
    expect = keras.ops.image.resize(
        x.astype("float32"), (11, 17), interpolation=interpolation, antialias=antialias,
        crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad, fill_value=9.0,
    )
    np.testing.assert_allclose(eager, to_np(expect), rtol=1e-5, atol=1e-3)
    compiled = xla(lambda a: layer(a))
    if BACKEND == "tensorflow" and not _tf_compiles(interpolation, antialias):
        with pytest.raises(ValueError, match="cannot run under XLA on the TensorFlow backend"):
            compiled(x)
        assert layer.supports_jit is False
        return
    np.testing.assert_allclose(to_np(compiled(x)), eager, rtol=1e-5, atol=1e-3)
    assert layer.supports_jit is True


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("crop,pad", ASPECT[1:])
def test_crop_and_pad_compiled_match_eager_when_downscaling(data_format, crop, pad):
    x = np.random.default_rng(2).integers(0, 256, (2, 31, 20, 3)).astype("uint8")
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 1)
    layer = Resize(6, 9, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad, data_format=data_format)
    np.testing.assert_allclose(to_np(xla(lambda a: layer(a))(x)), to_np(layer(x)), rtol=1e-5, atol=1e-3)


def test_crop_and_pad_with_sizes_unknown_while_tracing():
    """One tf.function (plain and XLA) over Input((None, None, 3)) for many image sizes."""
    if BACKEND != "tensorflow":
        pytest.skip("only TensorFlow traces a function with unknown sizes")
    import tensorflow as tf

    for crop, pad in ASPECT[1:]:
        layer = Resize(11, 17, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad, fill_value=3.0)
        spec = [tf.TensorSpec((None, None, None, 3), tf.uint8)]
        for jit in (False, True):
            fn = tf.function(lambda a, layer=layer: layer(a), jit_compile=jit, input_signature=spec)
            for shape in [(2, 5, 8, 3), (1, 20, 9, 3), (1, 11, 17, 3), (1, 1, 1, 3)]:
                x = np.random.default_rng(3).integers(0, 256, shape).astype("uint8")
                np.testing.assert_allclose(fn(x).numpy(), to_np(layer(x)), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("crop,pad", ASPECT[1:])
def test_crop_and_pad_in_tf_data_on_images_of_many_sizes(crop, pad):
    import tensorflow as tf

    sizes = [(5, 8), (20, 9), (11, 17)]
    images = [np.random.default_rng(i).integers(0, 256, (*s, 3)).astype("uint8") for i, s in enumerate(sizes)]
    layer = Resize(11, 17, crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad)
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec((None, None, 3), tf.uint8)
    ).map(lambda a: layer(a))
    for got, image in zip(ds, images, strict=True):
        np.testing.assert_allclose(got.numpy(), to_np(layer(image)), rtol=1e-5, atol=1e-3)


def test_model_with_an_option_tf_cannot_compile_falls_back_from_jit_compile():
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    model = keras.Model(inputs, Resize(5, 5, interpolation="bicubic")(inputs))
    if BACKEND != "tensorflow":
        model.compile(jit_compile=True)
        assert model.jit_compile
        return
    with pytest.warns(UserWarning, match="jit_compile"):
        model.compile(jit_compile=True)
    assert not model.jit_compile
    assert model.predict(np.zeros((1, 8, 8, 3), "uint8"), verbose=0).shape == (1, 5, 5, 3)


def test_numpy_integer_sizes():
    layer = Resize(*np.array([224, 224]))
    assert (layer.height, layer.width) == (224, 224)
    assert type(layer.height) is int and type(layer.width) is int
    json.dumps(layer.get_config())
    assert Resize(np.int32(3), np.uint16(4)).compute_output_shape((None, 9, 9, 3)) == (None, 3, 4, 3)


@pytest.mark.parametrize("kwargs,argument", [
    ({"height": "224", "width": 224}, "height"),
    ({"height": 224.0, "width": 224}, "height"),
    ({"height": 4, "width": np.float32(4)}, "width"),
    ({"height": 4, "width": True}, "width"),
    ({"height": 4, "width": 4, "fill_value": "0"}, "fill_value"),
])
def test_non_integer_sizes_are_refused(kwargs, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        Resize(**kwargs)
