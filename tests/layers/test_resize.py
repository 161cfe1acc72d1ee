"""Resize: output size, agreement with keras.ops.image.resize, shape inference."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasimg.layers import Resize


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos3"])
@pytest.mark.parametrize("crop,pad", [(False, False), (True, False), (False, True)])
def test_matches_keras_resize_on_float_input(interpolation, crop, pad):
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
