"""RandomBrightness: exact values, no wrap-around, factor semantics."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasimg.layers import RandomBrightness


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def reference(x, delta, value_range):
    low, high = value_range
    offset = np.asarray(delta, "float64").reshape(-1, 1, 1, 1) * (high - low)
    return np.clip(x.astype("float64") + offset, low, high).astype("float32")


@pytest.mark.parametrize("value_range", [(0, 255), (0, 1), (-1, 1)])
def test_exact_values_with_injected_transformation(value_range):
    rng = np.random.default_rng(0)
    low, high = value_range
    x = rng.uniform(low, high, (3, 4, 5, 3)).astype("float32")
    delta = np.array([-0.5, 0.0, 0.7], "float32")
    y = RandomBrightness((-1, 1), value_range=value_range).transform_images(x, {"delta": delta})
    np.testing.assert_allclose(to_np(y), reference(x, delta, value_range), rtol=1e-6, atol=1e-5)


def test_uint8_never_wraps_around():
    x = np.full((1, 2, 2, 3), 50, "uint8")
    ours = RandomBrightness(0.3).transform_images(x, {"delta": np.array([-0.3])})  # -76.5
    assert to_np(ours).max() == 0.0
    brighter = RandomBrightness(0.9).transform_images(x + 200, {"delta": np.array([0.9])})
    assert to_np(brighter).min() == 255.0


def test_keras_layer_wraps_where_ours_does_not():
    """Documents the bug this layer avoids: Keras' RandomBrightness adds in uint8 space."""
    x = np.full((1, 2, 2, 3), 50, "uint8")
    keras_layer = keras.layers.RandomBrightness(factor=(-0.3, -0.3), value_range=(0, 255))
    out = to_np(keras_layer(keras.ops.convert_to_tensor(x), training=True))
    ours = to_np(RandomBrightness((-0.3, -0.3))(x))
    assert ours.max() == 0.0
    if keras.backend.backend() == "tensorflow" and out.dtype == np.uint8:
        # Keras 3.13-3.15 under TensorFlow keep uint8 and wrap: 50 - 76.5 -> 230
        assert out.max() == 230


@pytest.mark.parametrize("factor,expected", [(0.2, (-0.2, 0.2)), ((-0.5, 0.1), (-0.5, 0.1)), (0, (0, 0))])
def test_factor_bounds_the_draws(factor, expected):
    t = RandomBrightness(factor, seed=0).get_random_transformation(np.zeros((500, 1, 1, 3)))
    delta = to_np(t["delta"])
    assert delta.min() >= expected[0] and delta.max() <= expected[1]
    if expected[0] < expected[1]:
        assert delta.max() - delta.min() > 0.8 * (expected[1] - expected[0])
