"""RandomCrop: boxes inside the image, exact windows, uniform positions, centre at inference."""

from __future__ import annotations

import keras
import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from strategies import images, np_crop_resize, seeds

from kerasimg import layers


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def box_np(t):
    return {k: to_np(v).astype("int64") for k, v in t.items()}


@given(images(rank=4, low=-1000, high=1000, max_side=10), st.integers(1, 10), st.integers(1, 10), seeds)
def test_box_inside_the_image_and_output_the_window(x, height, width, seed):
    layer = layers.RandomCrop(height, width, data_format="channels_last")
    t = layer.get_random_transformation(x, seed=seed)
    box = box_np(t)
    image_h, image_w = x.shape[1:3]
    assert set(box) == {"top", "left", "box_height", "box_width"}
    assert all(v.shape == (x.shape[0],) for v in box.values())
    assert np.all(box["top"] >= 0) and np.all(box["top"] + box["box_height"] <= image_h)
    assert np.all(box["left"] >= 0) and np.all(box["left"] + box["box_width"] <= image_w)
    if image_h >= height and image_w >= width:
        assert np.all(box["box_height"] == height) and np.all(box["box_width"] == width)
    else:  # the largest window of the target aspect ratio (Keras' rule), resized up
        assert np.all(box["box_height"] == max(1, min(image_h, image_w * height // width)))
        assert np.all(box["box_width"] == max(1, min(image_w, image_h * width // height)))
    y = to_np(layer.transform_images(x, t))
    assert y.shape == (x.shape[0], height, width, x.shape[3])
    x64 = x.astype("float32").astype("float64")
    np.testing.assert_allclose(y, np_crop_resize(x64, box, (height, width)), rtol=1e-5, atol=1e-3)
    if image_h >= height and image_w >= width:  # a plain window: exact
        np.testing.assert_array_equal(y, np_crop_resize(x64, box, (height, width)).astype("float32"))


@given(images(max_side=8), seeds)
def test_crop_of_the_whole_image_is_the_identity(x, seed):
    h_axis = x.ndim - 3
    layer = layers.RandomCrop(x.shape[h_axis], x.shape[h_axis + 1], seed=seed, data_format="channels_last")
    np.testing.assert_array_equal(to_np(layer(x)), x.astype("float32"))


@given(images(rank=4, max_side=10), st.integers(1, 10), st.integers(1, 10))
def test_inference_is_center_crop(x, height, width):
    crop = layers.RandomCrop(height, width, seed=1, data_format="channels_last")
    centre = layers.CenterCrop(height, width, data_format="channels_last")
    np.testing.assert_array_equal(to_np(crop(x, training=False)), to_np(centre(x)))


def test_every_position_is_drawn_about_equally_often():
    layer = layers.RandomCrop(2, 3, seed=0)
    t = box_np(layer.get_random_transformation(np.zeros((4000, 4, 5, 1), "uint8")))
    counts = np.zeros((3, 3))
    np.add.at(counts, (t["top"], t["left"]), 1)
    assert counts.min() > 4000 / 9 * 0.8 and counts.max() < 4000 / 9 * 1.2


def test_injected_box_gives_exact_values_channels_first():
    x = np.arange(2 * 1 * 4 * 5, dtype="uint8").reshape(2, 1, 4, 5)
    box = {"top": np.array([0, 2]), "left": np.array([3, 0]),
           "box_height": np.array([2, 2]), "box_width": np.array([2, 2])}
    y = to_np(layers.RandomCrop(2, 2, data_format="channels_first").transform_images(x, box))
    np.testing.assert_array_equal(y[0, 0], x[0, 0, 0:2, 3:5])
    np.testing.assert_array_equal(y[1, 0], x[1, 0, 2:4, 0:2])


def test_pinned_max_uint8_never_wraps():
    """Pinned: 255 stays 255 through the crop (the gather runs before the cast)."""
    x = np.full((2, 6, 6, 3), 255, "uint8")
    np.testing.assert_array_equal(to_np(layers.RandomCrop(3, 8, seed=2)(x)), np.full((2, 3, 8, 3), 255.0))


LAYERS = [
    layers.CenterCrop(3, 4),
    layers.RandomCrop(3, 4, seed=5),
    layers.RandomResizedCrop(3, 4, scale=(0.1, 0.9), seed=6),
]


@given(st.sampled_from(LAYERS), st.integers(1, 40), st.integers(1, 40), seeds)
def test_get_box_is_the_transformations_box_from_the_size_alone(layer, height, width, seed):
    box = [int(to_np(v)) for v in layer.get_box(height, width, seed=seed)]
    t = layer.get_random_transformation(np.zeros((height, width, 1), "uint8"), seed=seed)
    if t is not None:
        assert box == [int(to_np(t[k])[0]) for k in ("top", "left", "box_height", "box_width")]
    # the inference box is the one transform_images uses without a transformation
    top, left, bh, bw = (int(to_np(v)) for v in layer.get_box(height, width, training=False))
    x = np.random.default_rng(seed).integers(0, 256, (1, height, width, 1)).astype("uint8")
    expected = np_crop_resize(x, {"top": [top], "left": [left], "box_height": [bh], "box_width": [bw]}, (3, 4))
    np.testing.assert_allclose(to_np(layer(x, training=False)), expected, rtol=1e-5, atol=1e-3)


def test_get_box_inside_tf_data_with_header_sizes():
    import tensorflow as tf

    layer = layers.RandomCrop(16, 16)

    def box(i):
        h, w = tf.cast(i, tf.int32) * 5 + 10, tf.constant(40)
        return tf.stack(layer.get_box(h, w, seed=tf.stack([i, tf.constant(1, tf.int64)]))), h

    runs = [[tuple(e.numpy().tolist() for e in row) for row in
             tf.data.Dataset.range(8).map(box, num_parallel_calls=4)] for _ in range(2)]
    assert runs[0] == runs[1]
    for (top, left, bh, bw), h in runs[0]:
        assert 0 <= top <= h - bh and 0 <= left <= 40 - bw
        assert (bh, bw) == ((16, 16) if h >= 16 else (h, h))  # smaller: the largest square
