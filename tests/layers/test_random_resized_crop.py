"""RandomResizedCrop and sample_resized_crop_box: torchvision's box algorithm, vectorised.

Properties: boxes inside the image, area and aspect within scale / ratio (up to the rounding to
whole pixels) or the documented fallback, the vectorised draw equal to torchvision's loop on the
same uniforms, the layer and the adapter's function drawing the same box from the same seed.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from strategies import images, np_crop_resize, seeds, xla

from kerasimg import layers
from kerasimg.layers.random_resized_crop import _DRAWS, _boxes, _boxes_ops, _boxes_tf

BACKEND = keras.backend.backend()
sides = st.integers(1, 64)


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@st.composite
def scales(draw):
    low = draw(st.floats(0.01, 1.0))
    return (low, draw(st.floats(low, 1.0)))


@st.composite
def ratios(draw):
    low = draw(st.floats(0.2, 3.0))
    return (low, draw(st.floats(low, 4.0)))


def fallback(image_h, image_w, ratio):
    """torchvision's fallback box (top, left, h, w), with h and w kept >= 1."""
    in_ratio = image_w / image_h
    w, h = image_w, image_h
    if in_ratio < ratio[0]:
        h = round(image_w / ratio[0])
    elif in_ratio > ratio[1]:
        w = round(image_h * ratio[1])
    h, w = min(max(h, 1), image_h), min(max(w, 1), image_w)
    return (image_h - h) // 2, (image_w - w) // 2, h, w


def torchvision_box(u, image_h, image_w, scale, ratio):
    """torchvision.transforms.RandomResizedCrop.get_params as a loop over given uniforms."""
    area = image_h * image_w
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for k in range(10):
        target = area * (scale[0] + (scale[1] - scale[0]) * u[k])
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * u[10 + k])
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= image_w and 0 < h <= image_h:
            top = min(math.floor(u[20] * (image_h - h + 1)), image_h - h)
            left = min(math.floor(u[21] * (image_w - w + 1)), image_w - w)
            return top, left, h, w
    return fallback(image_h, image_w, ratio)


def near_a_tie(u, image_h, image_w, scale, ratio):
    """Whether float32 and float64 could round some attempt differently (x.5, or a bound)."""
    area = image_h * image_w
    for k in range(10):
        target = area * (scale[0] + (scale[1] - scale[0]) * u[k])
        aspect = math.exp(math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[10 + k])
        for v in (math.sqrt(target * aspect), math.sqrt(target / aspect)):
            if abs(v - math.floor(v) - 0.5) < 1e-3 * max(1.0, v):
                return True
    for side in (image_h, image_w):
        for uu in (u[20], u[21]):
            for span in range(1, side + 1):
                if abs(uu * span - round(uu * span)) < 1e-4 * span and round(uu * span) > 0:
                    return True
    return False


@given(
    st.lists(st.floats(0.0, 0.999999), min_size=_DRAWS, max_size=_DRAWS),
    sides, sides, scales(), ratios(),
)
def test_vectorised_draw_equals_torchvision_loop(u, image_h, image_w, scale, ratio):
    assume(not near_a_tie(u, image_h, image_w, scale, ratio))
    backend = layers.RandomResizedCrop(1, 1).backend  # the Keras backend, as the layer uses it
    uniforms = keras.ops.convert_to_tensor(np.array([u], "float32"))
    got = tuple(int(to_np(v)[0]) for v in _boxes(backend, uniforms, image_h, image_w, scale, ratio))
    assert got == torchvision_box(np.float32(u).astype("float64"), image_h, image_w, scale, ratio)


@given(
    st.lists(st.lists(st.floats(0.0, 0.999999), min_size=_DRAWS, max_size=_DRAWS), min_size=1, max_size=8),
    st.integers(1, 5000), st.integers(1, 5000), scales(), ratios(),
)
def test_tensorflow_box_graph_is_the_keras_ops_draw_bit_for_bit(u, image_h, image_w, scale, ratio):
    """``_boxes_tf`` (what the TensorFlow backend and kerasimg.data run, ~half the graph nodes)
    gives exactly ``_boxes_ops``'s boxes, fallbacks included, eagerly and in a graph."""
    tf = pytest.importorskip("tensorflow")
    from kerasimg.layers.base import backend_for

    uniforms = tf.constant(np.array(u, "float32"))
    size = (tf.constant(image_h, tf.int64), tf.constant(image_w, tf.int64))
    want = np.stack([to_np(v) for v in _boxes_ops(backend_for(uniforms), uniforms, *size, scale, ratio)])
    got = np.stack([v.numpy() for v in _boxes_tf(uniforms, *size, scale, ratio)])
    np.testing.assert_array_equal(got, want)
    graph = tf.function(lambda x, h, w: tf.stack(_boxes_tf(x, h, w, scale, ratio)), autograph=False)
    np.testing.assert_array_equal(graph(uniforms, *size).numpy(), want)


def test_tensorflow_box_graph_takes_the_fallback_and_batches():
    tf = pytest.importorskip("tensorflow")
    # a 1 x 1000 strip: no attempt of area >= 8 % with aspect in [3/4, 4/3] fits
    uniforms = tf.constant(np.full((3, _DRAWS), 0.5, "float32"))
    got = np.stack([v.numpy() for v in _boxes_tf(uniforms, tf.constant(1), tf.constant(1000), (0.08, 1.0), (3 / 4, 4 / 3))])
    assert got.shape == (4, 3)
    assert [tuple(col) for col in got.T] == [fallback(1, 1000, (3 / 4, 4 / 3))] * 3


def check_box(box, image_h, image_w, scale, ratio):
    """Inside the image; area and aspect in scale / ratio up to rounding, or the fallback."""
    top, left, h, w = box
    assert 1 <= h and 0 <= top and top + h <= image_h
    assert 1 <= w and 0 <= left and left + w <= image_w
    if (top, left, h, w) == fallback(image_h, image_w, ratio):
        return
    area, eps = image_h * image_w, 1e-4
    # w = round(sqrt(T * r)) and h = round(sqrt(T / r)) for some T in scale * area, r in ratio
    assert (w - 0.5) * (h - 0.5) <= scale[1] * area * (1 + eps)
    assert (w + 0.5) * (h + 0.5) >= scale[0] * area * (1 - eps)
    assert (w - 0.5) / (h + 0.5) <= ratio[1] * (1 + eps)
    assert (w + 0.5) / (h - 0.5) >= ratio[0] * (1 - eps)


@given(sides, sides, scales(), ratios(), seeds)
def test_boxes_inside_the_image_with_area_and_aspect_in_range(image_h, image_w, scale, ratio, seed):
    layer = layers.RandomResizedCrop(4, 4, scale=scale, ratio=ratio, data_format="channels_last")
    t = layer.get_random_transformation(np.zeros((8, image_h, image_w, 1), "uint8"), seed=seed)
    boxes = np.stack([to_np(t[k]) for k in ("top", "left", "box_height", "box_width")], axis=1)
    for box in boxes:
        check_box(tuple(int(v) for v in box), image_h, image_w, scale, ratio)


@given(images(rank=4, low=-1000, high=1000, max_side=10), st.integers(1, 9), st.integers(1, 9), seeds,
       st.sampled_from(["bilinear", "nearest"]))
def test_output_is_the_box_resized_within_the_input_range(x, height, width, seed, interpolation):
    layer = layers.RandomResizedCrop(height, width, interpolation=interpolation, data_format="channels_last")
    t = layer.get_random_transformation(x, seed=seed)
    y = to_np(layer.transform_images(x, t))
    assert y.shape == (x.shape[0], height, width, x.shape[3]) and y.dtype == np.float32
    x32 = x.astype("float32")
    box = {k: to_np(v) for k, v in t.items()}
    np.testing.assert_allclose(y, np_crop_resize(x32, box, (height, width), interpolation), rtol=1e-5, atol=1e-3)
    slack = 1e-3 * max(1.0, float(np.abs(x32).max()))
    assert y.min() >= x32.min() - slack and y.max() <= x32.max() + slack


@given(images(max_side=8), seeds)
def test_whole_image_box_is_the_identity(x, seed):
    h_axis = x.ndim - 3
    image_h, image_w = x.shape[h_axis], x.shape[h_axis + 1]
    aspect = image_w / image_h
    layer = layers.RandomResizedCrop(image_h, image_w, scale=(1.0, 1.0), ratio=(aspect, aspect), seed=seed,
                                     data_format="channels_last")
    np.testing.assert_array_equal(to_np(layer(x)), x.astype("float32"))


@given(images(rank=4, max_side=10), st.integers(1, 9), st.integers(1, 9))
def test_inference_is_the_centred_aspect_window_resized(x, height, width):
    layer = layers.RandomResizedCrop(height, width, seed=3, data_format="channels_last")
    expected = to_np(layers.Resize(height, width, crop_to_aspect_ratio=True)(x))
    np.testing.assert_allclose(to_np(layer(x, training=False)), expected, rtol=1e-5, atol=1e-3)


def test_box_distribution_on_a_large_image():
    layer = layers.RandomResizedCrop(8, 8, seed=0)
    t = layer.get_random_transformation(np.zeros((4000, 250, 250, 1), "uint8"))
    h, w = to_np(t["box_height"]).astype("float64"), to_np(t["box_width"]).astype("float64")
    area, aspect = h * w / 62500.0, w / h
    assert 0.08 * 0.98 <= area.min() and area.max() <= 1.0
    assert 0.35 < area.mean() < 0.6  # U(0.08, 1) less the draws that do not fit
    assert aspect.min() < 0.76 and aspect.max() > 1.32  # the ratio range is covered...
    assert np.all((aspect > 0.74) & (aspect < 1.345))  # ...and not left (up to rounding)
    assert abs(np.median(np.log(aspect))) < 0.03  # log-uniform, symmetric on a square image


def test_sample_function_gives_the_layers_box_for_one_image():
    layer = layers.RandomResizedCrop(4, 4, scale=(0.2, 0.9), ratio=(0.5, 2.0))
    for seed in (0, 1, 12345):
        t = layer.get_random_transformation(np.zeros((37, 53, 3), "uint8"), seed=seed)
        box = layers.sample_resized_crop_box(37, 53, scale=(0.2, 0.9), ratio=(0.5, 2.0), seed=seed)
        assert [int(to_np(v)) for v in box] == [int(to_np(t[k])[0]) for k in ("top", "left", "box_height", "box_width")]


def test_sample_function_in_tf_data_with_header_sizes_and_stateless_seeds():
    import tensorflow as tf

    layer = layers.RandomResizedCrop(4, 4)

    def both(i):
        h, w = tf.cast(i, tf.int32) * 7 + 30, tf.cast(i, tf.int32) * 3 + 50
        seed = tf.stack([i, tf.constant(9, tf.int64)])
        box = tf.stack(layers.sample_resized_crop_box(h, w, seed=seed))
        t = layer.get_random_transformation(tf.zeros([h, w, 1], tf.uint8), seed=seed)
        return box, tf.stack([t[k][0] for k in ("top", "left", "box_height", "box_width")]), h, w

    ds = tf.data.Dataset.range(24).map(both, num_parallel_calls=4, deterministic=True)
    runs = [[tuple(e.numpy().tolist() for e in row) for row in ds] for _ in range(2)]
    assert runs[0] == runs[1]
    for box, layer_box, h, w in runs[0]:
        assert box == layer_box
        check_box(tuple(box), h, w, (0.08, 1.0), (3 / 4, 4 / 3))
    assert len({tuple(row[0]) for row in runs[0]}) > 20


def test_sample_function_under_xla():
    fn = xla(lambda h, w, seed: keras.ops.stack(layers.sample_resized_crop_box(h, w, seed=seed)))
    eager = to_np(keras.ops.stack(layers.sample_resized_crop_box(100, 80, seed=np.array([3, 4], "int32"))))
    h, w = np.int32(100), np.int32(80)
    compiled = to_np(fn(h, w, np.array([3, 4], "int32")))
    np.testing.assert_array_equal(compiled, to_np(fn(h, w, np.array([3, 4], "int32"))))
    if BACKEND == "jax":  # TF's stateless "auto_select" algorithm differs under XLA
        np.testing.assert_array_equal(compiled, eager)
    for box in (compiled, eager):
        check_box(tuple(int(v) for v in box), 100, 80, (0.08, 1.0), (3 / 4, 4 / 3))


def test_sample_function_validates_like_the_layer():
    with pytest.raises(ValueError, match="`scale`"):
        layers.sample_resized_crop_box(10, 10, scale=(0.5, 2.0))
    with pytest.raises(ValueError, match="`ratio`"):
        layers.sample_resized_crop_box(10, 10, ratio="12")


def test_pinned_tiny_image_and_tiny_scale_falls_back_to_the_clamped_centre():
    """Pinned: on a 1x2 image an area of 1% rounds to nothing: every attempt fails."""
    box = [int(to_np(v)) for v in layers.sample_resized_crop_box(1, 2, scale=(0.01, 0.01), seed=5)]
    assert box == [0, 0, 1, 1]  # aspect 2 clamped to 4/3: w = round(1 * 4/3) = 1, centred


def _crop_model():
    inputs = keras.Input((20, 24, 3), dtype="uint8")
    x = layers.RandomResizedCrop(16, 16, seed=1)(inputs)
    x = layers.RandomCrop(12, 12, seed=2)(x)
    x = layers.CenterCrop(10, 9)(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_crop_model_trains_under_jit_compile():
    model = _crop_model()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x = np.random.default_rng(0).integers(0, 256, (8, 20, 24, 3)).astype("uint8")
    losses = [float(model.train_on_batch(x, np.zeros((8, 2), "float32"))) for _ in range(3)]
    assert all(np.isfinite(losses))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_crop_model_keras_file_reloads_safely(tmp_path):
    model = _crop_model()
    model.save(tmp_path / "crops.keras")
    reloaded = keras.saving.load_model(tmp_path / "crops.keras", safe_mode=True)  # no custom_objects
    assert [type(layer).__name__ for layer in reloaded.layers[1:4]] == [
        "RandomResizedCrop", "RandomCrop", "CenterCrop"]
    assert reloaded.layers[1].get_config() == model.layers[1].get_config()
    x = np.random.default_rng(1).integers(0, 256, (3, 20, 24, 3)).astype("uint8")
    np.testing.assert_array_equal(to_np(model(x, training=False)), to_np(reloaded(x, training=False)))
