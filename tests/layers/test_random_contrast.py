"""RandomContrast: exact values against NumPy, per-channel means."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasimg.layers import RandomContrast


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def reference(x, c, value_range):
    mean = x.astype("float64").mean(axis=(1, 2), keepdims=True)
    c = np.asarray(c, "float64").reshape(-1, 1, 1, 1)
    return np.clip((x - mean) * c + mean, *value_range).astype("float32")


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_exact_values_with_injected_transformation(dtype):
    x = np.random.default_rng(0).integers(0, 256, (3, 4, 6, 3)).astype(dtype)
    c = np.array([0.5, 1.0, 1.8], "float32")
    y = RandomContrast(0.9).transform_images(x, {"contrast": c})
    np.testing.assert_allclose(to_np(y), reference(x, c, (0, 255)), rtol=1e-5, atol=1e-3)


def test_mean_is_per_image_and_channel():
    x = np.zeros((2, 2, 2, 3), "float32")
    x[0, ..., 0] = [[0, 100], [100, 0]]  # channel 0 mean 50
    x[1, ..., 2] = 200  # a constant channel stays constant
    y = to_np(RandomContrast(1.0).transform_images(x, {"contrast": np.array([2.0, 0.0])}))
    np.testing.assert_allclose(y[0, ..., 0], [[0, 150], [150, 0]])
    np.testing.assert_allclose(y[1, ..., 2], 200)


@pytest.mark.parametrize("factor,bounds", [(0.3, (0.7, 1.3)), ((0.1, 0.5), (0.9, 1.5)), (1.0, (0.0, 2.0))])
def test_factor_bounds_the_draws(factor, bounds):
    t = RandomContrast(factor, seed=0).get_random_transformation(np.zeros((500, 1, 1, 3)))
    c = to_np(t["contrast"])
    assert bounds[0] <= c.min() and c.max() <= bounds[1]
    assert c.max() - c.min() > 0.8 * (bounds[1] - bounds[0])


@pytest.mark.parametrize("shape", [(2, 2, 1, 1), (3, 3, 5, 3), (3, 4, 3, 3)])
def test_batch_size_equal_to_height_or_channels(shape):
    """Pinned (found by Hypothesis): Keras 3.15's ``ops.add`` under TensorFlow takes a
    ``[B, 1, 1, 1]`` operand for a bias when B equals the height or the channel count and
    broadcasts it along that axis; the layer must not go through it."""
    x = np.random.default_rng(1).integers(0, 256, shape).astype("uint8")
    c = np.linspace(0.0, 1.5, shape[0]).astype("float32")
    y = RandomContrast(1.0).transform_images(x, {"contrast": c})
    np.testing.assert_allclose(to_np(y), reference(x, c, (0, 255)), rtol=1e-5, atol=1e-3)
