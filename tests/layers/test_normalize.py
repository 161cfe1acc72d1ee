"""Normalize: per-channel values, default value_range mapping, streaming adapt."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasimg.layers import Normalize


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_per_channel_values():
    x = np.random.default_rng(0).integers(0, 256, (2, 3, 3, 3)).astype("uint8")
    mean, std = [10.0, 100.0, 200.0], [1.0, 2.0, 50.0]
    y = to_np(Normalize(mean=mean, std=std)(x))
    np.testing.assert_allclose(y, (x - np.array(mean)) / np.array(std), rtol=1e-5, atol=1e-5)


def test_default_maps_value_range_to_unit_interval():
    x = np.array([[[[0], [255]]]], "uint8")
    np.testing.assert_allclose(to_np(Normalize()(x)).ravel(), [0.0, 1.0])
    x = np.array([[[[-1.0], [1.0]]]], "float32")
    np.testing.assert_allclose(to_np(Normalize(value_range=(-1, 1))(x)).ravel(), [0.0, 1.0])


def test_only_mean_or_only_std():
    x = np.full((1, 1, 1, 3), 10.0, "float32")
    np.testing.assert_allclose(to_np(Normalize(mean=4.0)(x)).ravel(), [6.0] * 3)
    np.testing.assert_allclose(to_np(Normalize(std=5.0)(x)).ravel(), [2.0] * 3)


def _large_mean_data():
    rng = np.random.default_rng(0)
    base = np.array([60000.0, 30000.0, 100.0])
    spread = np.array([3.0, 0.5, 20.0])
    return (base + spread * rng.standard_normal((64, 16, 16, 3))).astype("float32")


def test_adapt_is_stable_with_a_large_mean():
    data = _large_mean_data()
    layer = Normalize()
    layer.adapt(data)
    flat = data.astype("float64").reshape(-1, 3)
    np.testing.assert_allclose(layer.mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.std, flat.std(axis=0), rtol=1e-9)


@pytest.mark.parametrize("source", ["numpy", "tensor", "dataset_images", "dataset_pairs", "unbatched"])
def test_adapt_sources(source):
    data = _large_mean_data()
    flat = data.astype("float64").reshape(-1, 3)
    if source == "numpy":
        arg = data
    elif source == "tensor":
        arg = keras.ops.convert_to_tensor(data)
    elif source == "dataset_images":
        arg = tf.data.Dataset.from_tensor_slices(data).batch(10)
    elif source == "dataset_pairs":
        arg = tf.data.Dataset.from_tensor_slices((data, np.zeros(len(data)))).batch(7)
    else:
        arg = tf.data.Dataset.from_tensor_slices(data)
    layer = Normalize()
    layer.adapt(arg)
    np.testing.assert_allclose(layer.mean, flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(layer.std, flat.std(axis=0), rtol=1e-9)


def test_adapt_steps_and_channels_first():
    data = _large_mean_data()
    layer = Normalize(data_format="channels_first")
    layer.adapt(tf.data.Dataset.from_tensor_slices(np.moveaxis(data, -1, 1)).batch(8), steps=2)
    flat = data[:16].astype("float64").reshape(-1, 3)
    np.testing.assert_allclose(layer.mean, flat.mean(axis=0), rtol=1e-12)
    y = to_np(layer(np.moveaxis(data[:16], -1, 1)))
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-2)
    np.testing.assert_allclose(y.std(axis=(0, 2, 3)), 1.0, atol=1e-2)


def test_adapted_statistics_survive_config_round_trip():
    layer = Normalize()
    layer.adapt(_large_mean_data())
    clone = Normalize.from_config(layer.get_config())
    x = _large_mean_data()[:2]
    np.testing.assert_array_equal(to_np(layer(x)), to_np(clone(x)))


def test_adapt_errors():
    with pytest.raises(ValueError, match="`data`"):
        Normalize().adapt(np.zeros((0, 4, 4, 3)))
    with pytest.raises(ValueError, match="`steps`"):
        Normalize().adapt(np.zeros((1, 4, 4, 3)), steps=0)
    with pytest.raises(ValueError, match="`data`"):
        Normalize().adapt(42)


def test_mean_channel_count_checked_against_input():
    with pytest.raises(ValueError, match="`mean`"):
        Normalize(mean=[1.0, 2.0, 3.0])(np.zeros((1, 2, 2, 4), "float32"))


def test_one_channels_first_image_with_per_channel_statistics():
    """A rank-3 (C, H, W) image: build read the channel count from axis 1 (the height)."""
    x = np.random.default_rng(1).integers(0, 256, (3, 5, 7)).astype("uint8")
    mean, std = [10.0, 100.0, 200.0], [1.0, 2.0, 50.0]
    layer = Normalize(mean=mean, std=std, data_format="channels_first")
    expect = (x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(to_np(layer(x)), expect, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="`mean`"):
        Normalize(mean=mean, data_format="channels_first")(np.zeros((4, 5, 7), "uint8"))


def test_map_before_batch_channels_first():
    data = np.random.default_rng(2).integers(0, 256, (4, 3, 6, 5)).astype("uint8")
    layer = Normalize(mean=[1.0, 2.0, 3.0], std=[2.0, 4.0, 8.0], data_format="channels_first")
    ds = tf.data.Dataset.from_tensor_slices(data).map(layer).batch(2)
    got = np.concatenate([batch.numpy() for batch in ds])
    np.testing.assert_allclose(got, to_np(layer(data)), rtol=1e-6)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_adapt_builds_the_layer(data_format):
    layer = Normalize(data_format=data_format)
    assert not layer.built
    data = _large_mean_data()[:4]
    layer.adapt(data if data_format == "channels_last" else np.moveaxis(data, -1, 1))
    assert layer.built
    model = keras.Sequential([layer])  # a built layer goes into a model as it is
    assert model(data[:1] if data_format == "channels_last" else np.moveaxis(data[:1], -1, 1)).shape[0] == 1


def test_adapt_refuses_data_for_another_channel_count_than_built():
    layer = Normalize()
    layer(np.zeros((1, 4, 4, 3), "uint8"))  # built for 3 channels
    with pytest.raises(ValueError, match="`data`.*3 channels"):
        layer.adapt(np.zeros((2, 4, 4, 4), "float32"))
    assert layer.mean is None and layer.std is None  # left as it was
    layer.adapt(np.ones((2, 4, 4, 3), "float32"))  # the built channel count is fine
    assert layer.mean == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_adapt_refuses_nan_and_inf_and_the_model_still_reloads(bad, tmp_path):
    data = _large_mean_data()[:8]
    data[5, 2, 3, 1] = bad
    layer = Normalize()
    with pytest.raises(ValueError, match="`data`.*NaN or infinite"):
        layer.adapt(data)
    with pytest.raises(ValueError, match="`data`.*NaN or infinite"):
        layer.adapt(tf.data.Dataset.from_tensor_slices(data).batch(3))
    assert layer.mean is None and layer.std is None
    model = keras.Sequential([keras.Input((16, 16, 3)), layer])
    model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    x = _large_mean_data()[:2]
    np.testing.assert_array_equal(to_np(reloaded(x)), to_np(model(x)))


def test_adapt_refuses_values_whose_variance_overflows():
    with pytest.raises(ValueError, match="`data`"):
        Normalize().adapt(np.array([1e200, -1e200, 0.0]).reshape(1, 1, 3, 1))


def test_mask_passes_through_as_in_keras_normalization():
    layer = Normalize(mean=1.0, std=2.0)
    assert layer.supports_masking
    mask = np.array([[True, False]])
    assert layer.compute_mask(np.zeros((1, 2, 3, 3)), mask) is mask


@pytest.mark.parametrize("mean,std,argument", [
    ("123", None, "mean"),
    (["1", "2", "3"], None, "mean"),
    (None, "2", "std"),
    (None, [[1.0, 2.0, 3.0]], "std"),
    (True, None, "mean"),
])
def test_strings_and_nested_statistics_are_refused(mean, std, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        Normalize(mean=mean, std=std)


def test_numpy_statistics_and_value_range():
    layer = Normalize(mean=np.float32(3.0), std=np.array([1, 2, 4], "float32"),
                      value_range=np.array([0, 255]))
    config = json.loads(json.dumps(layer.get_config()))
    x = np.full((1, 2, 2, 3), 7.0, "float32")
    np.testing.assert_allclose(to_np(Normalize.from_config(config)(x)), to_np(layer(x)))
    np.testing.assert_allclose(to_np(layer(x))[0, 0, 0], [4.0, 2.0, 1.0])
