"""RandomFlip: exact values against NumPy, independent coins per axis."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from kerasimg.layers import RandomFlip


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def reference(x, flip_h, flip_v):
    out = x.astype("float32").copy()
    for i in range(len(x)):
        if flip_h[i]:
            out[i] = out[i][:, ::-1]
        if flip_v[i]:
            out[i] = out[i][::-1]
    return out


@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_exact_values_with_injected_transformation(mode):
    x = np.random.default_rng(0).integers(0, 256, (4, 3, 5, 3)).astype("uint8")
    flip_h = np.array([True, False, True, False])
    flip_v = np.array([False, True, True, False])
    layer = RandomFlip(mode)
    t = {"flip_horizontal": flip_h, "flip_vertical": flip_v}
    expect = reference(x, flip_h & (mode != "vertical"), flip_v & (mode != "horizontal"))
    np.testing.assert_array_equal(to_np(layer.transform_images(x, t)), expect)


def test_horizontal_and_vertical_coins_are_independent():
    layer = RandomFlip("horizontal_and_vertical", seed=0)
    t = layer.get_random_transformation(np.zeros((256, 2, 2, 1), "uint8"))
    h, v = to_np(t["flip_horizontal"]), to_np(t["flip_vertical"])
    patterns = {(a, b) for a, b in zip(h.tolist(), v.tolist(), strict=True)}
    assert patterns == {(False, False), (False, True), (True, False), (True, True)}
    # each coin is fair-ish: 256 draws, expect 128 +- 4 sigma
    assert 96 < h.sum() < 160 and 96 < v.sum() < 160


@pytest.mark.parametrize("mode,key", [("horizontal", "flip_vertical"), ("vertical", "flip_horizontal")])
def test_single_axis_modes_never_flip_the_other_axis(mode, key):
    t = RandomFlip(mode, seed=1).get_random_transformation(np.zeros((64, 2, 2, 3)))
    assert not to_np(t[key]).any()


def test_rank3_image():
    x = np.arange(2 * 3 * 1, dtype="uint8").reshape(2, 3, 1)
    layer = RandomFlip("horizontal")
    t = {"flip_horizontal": np.array([True]), "flip_vertical": np.array([False])}
    np.testing.assert_array_equal(to_np(layer.transform_images(x, t)), x[:, ::-1].astype("float32"))


def test_channels_first():
    x = np.random.default_rng(1).integers(0, 256, (2, 3, 4, 5)).astype("uint8")
    layer = RandomFlip("horizontal", data_format="channels_first")
    t = {"flip_horizontal": np.array([True, False]), "flip_vertical": np.array([False, False])}
    y = to_np(layer.transform_images(x, t))
    np.testing.assert_array_equal(y[0], x[0][:, :, ::-1])
    np.testing.assert_array_equal(y[1], x[1])
