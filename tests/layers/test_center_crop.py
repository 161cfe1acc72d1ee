"""CenterCrop: exact centred windows, the smaller-image rule, dynamic shapes (Hypothesis + pinned)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import images

from kerasimg import layers


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@given(images(rank=4, low=-1000, high=1000, max_side=10), st.integers(1, 10), st.integers(1, 10))
def test_crop_is_the_centred_window_or_the_aspect_window_resized(x, height, width):
    y = to_np(layers.CenterCrop(height, width, data_format="channels_last")(x))
    assert y.shape == (x.shape[0], height, width, x.shape[3]) and y.dtype == np.float32
    x32 = x.astype("float32")
    image_h, image_w = x.shape[1:3]
    if image_h >= height and image_w >= width:
        top, left = (image_h - height) // 2, (image_w - width) // 2
        np.testing.assert_array_equal(y, x32[:, top : top + height, left : left + width])
    else:  # Keras' rule: the largest centred window of the target aspect ratio, resized
        expected = to_np(layers.Resize(height, width, crop_to_aspect_ratio=True)(x32))
        np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-3)
    slack = 1e-3 * max(1.0, float(np.abs(x32).max()))
    assert y.min() >= x32.min() - slack and y.max() <= x32.max() + slack


@given(images(max_side=8))
def test_crop_of_the_whole_image_is_the_identity(x):
    h_axis = x.ndim - 3
    layer = layers.CenterCrop(x.shape[h_axis], x.shape[h_axis + 1], data_format="channels_last")
    np.testing.assert_array_equal(to_np(layer(x)), x.astype("float32"))


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_rank_3_and_channels_first(data_format):
    x = np.arange(5 * 6, dtype="uint8").reshape(5, 6, 1)
    expected = x[1:4, 2:4, 0].astype("float32")  # (5 - 3) // 2 = 1, (6 - 2) // 2 = 2
    if data_format == "channels_first":
        x = np.moveaxis(x, -1, 0)
    y = to_np(layers.CenterCrop(3, 2, data_format=data_format)(x))
    np.testing.assert_array_equal(y.reshape(3, 2), expected)


def test_unknown_input_size_in_a_model_and_under_tf_function():
    import tensorflow as tf

    inputs = keras.Input((None, None, 3), dtype="uint8")
    model = keras.Model(inputs, layers.CenterCrop(4, 4)(inputs))
    assert tuple(model.output.shape) == (None, 4, 4, 3)
    x = np.random.default_rng(0).integers(0, 256, (2, 7, 9, 3)).astype("uint8")
    expected = x[:, 1:5, 2:6].astype("float32")
    np.testing.assert_array_equal(to_np(model(x)), expected)
    if keras.backend.backend() == "tensorflow":
        fn = tf.function(layers.CenterCrop(4, 4), input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
        np.testing.assert_array_equal(fn(x).numpy(), expected)


def test_center_crop_ignores_training_and_has_no_random_transformation():
    layer = layers.CenterCrop(2, 2)
    x = np.arange(16, dtype="uint8").reshape(1, 4, 4, 1)
    assert layer.get_random_transformation(x) is None
    np.testing.assert_array_equal(to_np(layer(x, training=True)), to_np(layer(x, training=False)))
    assert "seed" not in layer.get_config()


def test_pinned_one_pixel_image_to_a_larger_window():
    """Pinned: a 1x1 image fills the whole output (upsampled), in its own dtype's range."""
    x = np.full((1, 1, 1, 3), 200, "uint8")
    np.testing.assert_array_equal(to_np(layers.CenterCrop(3, 5)(x)), np.full((1, 3, 5, 3), 200.0))
