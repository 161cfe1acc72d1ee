"""kerasimg.export of models holding the crop layers: they serve with their inference behaviour.

Layers covered: CenterCrop, RandomCrop (centre crop at inference) and RandomResizedCrop (the
centred window of the target aspect ratio, resized) in a Functional model of unknown input size
(serving_default and serving_bytes, native-size decoder) and in a fixed-size model whose decoder
resizes first. The reloaded SavedModel is compared bit for bit with ``model(x, training=False)``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest

pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="export needs TensorFlow")

tf = pytest.importorskip("tensorflow")
sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from corpus import png_bytes  # noqa: E402

import kerasimg  # noqa: E402
from kerasimg import layers  # noqa: E402
from kerasimg.data import ImageDecoder  # noqa: E402

RNG = np.random.default_rng(13)


def _head(x):
    x = layers.Normalize(mean=[120.0, 110.0, 100.0], std=[60.0, 50.0, 40.0])(x)
    x = keras.layers.Conv2D(5, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.layers.Dense(3)(x)


def _serve(model, path, decoder=None):
    written = kerasimg.export(model, str(path), decoder=decoder)
    return tf.saved_model.load(written)


@pytest.mark.parametrize(
    "crop",
    [
        layers.RandomResizedCrop(20, 24, seed=1),
        layers.RandomCrop(20, 24, seed=2),
        layers.CenterCrop(20, 24),
    ],
    ids=["random_resized_crop", "random_crop", "center_crop"],
)
def test_crop_model_of_any_input_size_serves_its_inference_behaviour(crop, tmp_path):
    inputs = keras.Input((None, None, 3), dtype="uint8")
    model = keras.Model(inputs, _head(crop(inputs)))
    served = _serve(model, tmp_path / "saved")
    for shape in ((2, 30, 41, 3), (1, 20, 24, 3), (3, 17, 50, 3)):  # larger, exact, smaller than the crop
        x = RNG.integers(0, 256, shape).astype("uint8")
        expected = np.asarray(model(x, training=False))
        got = served.signatures["serving_default"](images=tf.constant(x))["outputs"].numpy()
        np.testing.assert_array_equal(got, expected)
        again = served.signatures["serving_default"](images=tf.constant(x))["outputs"].numpy()
        np.testing.assert_array_equal(again, got)  # nothing random at serving time
    x = RNG.integers(0, 256, (2, 33, 29, 3)).astype("uint8")
    blobs = tf.constant([png_bytes(image) for image in x])
    got = served.signatures["serving_bytes"](image_bytes=blobs)["outputs"].numpy()
    for i in range(len(x)):  # a native-size decoder runs the model image by image
        np.testing.assert_array_equal(got[i : i + 1], np.asarray(model(x[i : i + 1], training=False)))


def test_all_three_crops_after_the_decoders_resize(tmp_path):
    inputs = keras.Input((48, 64, 3), dtype="uint8")
    x = layers.RandomResizedCrop(40, 40, scale=(0.25, 1.0), seed=3)(inputs)
    x = layers.RandomCrop(36, 36, seed=4)(x)
    x = layers.CenterCrop(32, 30)(x)
    model = keras.Model(inputs, _head(x))
    decoder = ImageDecoder(image_size=(48, 64), channels=3)
    served = _serve(model, tmp_path / "saved", decoder)
    x = RNG.integers(0, 256, (3, 48, 64, 3)).astype("uint8")  # the decoder's size: no resize
    got = served.signatures["serving_default"](images=tf.constant(x))["outputs"].numpy()
    np.testing.assert_array_equal(got, np.asarray(model(x, training=False)))
    # training differs from serving: the boxes are random then
    assert not np.array_equal(np.asarray(model(x, training=True)), got)
