"""Images of zero height or width: every layer refuses them, the same way every time.

Before, the answer depended on the layer, the backend and the random draw: RandomFlip failed
only when its coin said flip, Resize failed with an IndexError under JAX, RandomContrast with
a ZeroDivisionError. An empty batch (``B = 0``) is not an empty image: it passes through.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from strategies import CONTRACT, CONTRACT_IDS

from kerasimg.layers import RandomFlip

EMPTY = [(0, 4, 3), (4, 0, 3), (2, 0, 4, 3), (2, 4, 0, 3), (2, 0, 0, 3)]


def _first(shape):
    """The same shape channels first."""
    return (*shape[:-3], shape[-1], *shape[-3:-1])


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_empty_images_are_refused_every_time(name, cls, kwargs, data_format):
    layer = cls(**kwargs, data_format=data_format)
    for shape in EMPTY:
        shape = shape if data_format == "channels_last" else _first(shape)
        x = np.zeros(shape, "uint8")
        for training in (True, False, True, True, True):  # several draws of the random layers
            with pytest.raises(ValueError, match="empty image"):
                layer(x, training=training)
        with pytest.raises(ValueError, match="empty image"):
            layer.apply_with_seed(x, seed=1)


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_empty_images_are_refused_inside_tf_data(name, cls, kwargs):
    """Sizes unknown while tracing: a runtime assertion with the same message."""
    layer = cls(**kwargs)
    images = [np.zeros((5, 6, 3), "uint8"), np.zeros((0, 6, 3), "uint8")]
    ds = tf.data.Dataset.from_generator(
        lambda: iter(images), output_signature=tf.TensorSpec((None, None, 3), tf.uint8)
    ).map(lambda a: layer(a, training=True))
    iterator = iter(ds)
    assert np.all(np.isfinite(next(iterator).numpy()))
    with pytest.raises(tf.errors.InvalidArgumentError, match="empty image"):
        next(iterator)


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_an_empty_batch_passes_through(name, cls, kwargs):
    layer = cls(**kwargs)
    x = np.zeros((0, 9, 11, 3), "uint8")
    y = layer(x, training=True)
    assert tuple(y.shape) == tuple(layer.compute_output_shape(x.shape))


@pytest.mark.parametrize("coin", [True, False])
def test_random_flip_refuses_an_empty_image_whatever_its_coin(coin):
    layer = RandomFlip("horizontal_and_vertical")
    t = {"flip_horizontal": np.array([coin]), "flip_vertical": np.array([coin])}
    for shape in [(1, 0, 4, 3), (1, 4, 0, 3)]:
        with pytest.raises(ValueError, match="RandomFlip received an empty image"):
            layer.transform_images(np.zeros(shape, "uint8"), t)


def test_keras_model_refuses_an_empty_image():
    inputs = keras.Input((None, None, 3), dtype="uint8")
    model = keras.Model(inputs, RandomFlip()(inputs))
    with pytest.raises(ValueError, match="empty image"):
        model(np.zeros((2, 0, 5, 3), "uint8"), training=True)
