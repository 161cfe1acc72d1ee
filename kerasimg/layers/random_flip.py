"""RandomFlip: flip each image of a batch with its own coin(s)."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg._validate import invalid
from kerasimg.layers._fast import flip_where
from kerasimg.layers.base import BaseImageLayer

_MODES = ("horizontal", "vertical", "horizontal_and_vertical")


@keras.saving.register_keras_serializable(package="kerasimg")
class RandomFlip(BaseImageLayer):
    """Randomly flip each image of a batch, independently.

    Each image gets its own coin; in ``"horizontal_and_vertical"`` mode each axis
    gets its own coin too (Keras' ``RandomFlip`` flips both axes or neither). At
    ``training=False`` the layer is the identity (apart from the cast to the compute
    dtype). Integer input is flipped before the cast, so it never wraps around (and a
    uint8 batch moves a quarter of the bytes). Without XLA, TensorFlow copies only the
    images that flip; under XLA the flip fuses into the next op.

    Args:
        mode: ``"horizontal"`` (left-right, default), ``"vertical"`` (up-down) or
            ``"horizontal_and_vertical"``.
        seed: integer seed for reproducible draws, or ``None`` (default).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None``
            (default: ``keras.config.image_data_format()``).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]`` (channels first: ``[B, C, H, W]``),
    any integer or floating dtype, ``C`` in 1, 3, 4.
    Output shape: the same, in the layer's compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> x = np.arange(6, dtype="uint8").reshape(1, 1, 2, 3)
    >>> flip = kerasimg.layers.RandomFlip("horizontal")
    >>> t = {"flip_horizontal": np.array([True]), "flip_vertical": np.array([False])}
    >>> np.asarray(flip.transform_images(x, t))[0, 0].tolist()
    [[3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]
    """

    random = True

    def __init__(
        self,
        mode: str = "horizontal",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ):
        if mode not in _MODES:
            raise invalid("mode", mode, f"one of {_MODES}")
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.mode = mode

    def _draw(self, batch_size: Any, seed: Any) -> dict:
        coins = self._uniform((batch_size, 2), 0.0, 1.0, seed=seed) < 0.5
        never = self.backend.numpy.zeros_like(coins[:, 0])
        horizontal = never if self.mode == "vertical" else coins[:, 0]
        vertical = never if self.mode == "horizontal" else coins[:, 1]
        return {"flip_horizontal": horizontal, "flip_vertical": vertical}

    def _transform(self, images: Any, transformation: dict) -> Any:
        self._check_channels(images)
        h_axis, w_axis = self._spatial_axes
        for key, axis in (("flip_horizontal", w_axis), ("flip_vertical", h_axis)):
            if key == "flip_horizontal" and self.mode == "vertical":
                continue
            if key == "flip_vertical" and self.mode == "horizontal":
                continue
            coin = self.backend.numpy.reshape(
                self.backend.convert_to_tensor(transformation[key], "bool"), (-1,)
            )
            # on the input dtype (uint8: a quarter of the bytes of float32), before the cast
            images = flip_where(self.backend, images, coin, axis)
        return self._to_compute(images)

    def _move_one(self, image: Any, transformation: dict) -> Any:
        """One ``[H, W, C]`` TensorFlow image flipped as ``transformation`` says, in its own
        dtype (the values ``transform_images`` gives, before the cast): what ``kerasimg.data``
        runs on uint8 pixels. One branch around one ``ReverseV2`` (vertical flips axis 0,
        horizontal axis 1): an image that keeps its side is not copied (a ``ReverseV2`` over
        no axis still copies, at twice the cost of a flip), where the batch path's gather and
        scatter copy every image twice."""
        import tensorflow as tf

        if self.mode != "horizontal_and_vertical":  # one coin, one axis
            key, axis = ("flip_horizontal", 1) if self.mode == "horizontal" else ("flip_vertical", 0)
            coin = tf.reshape(tf.cast(transformation[key], tf.bool), [])
            return tf.cond(coin, lambda: tf.reverse(image, [axis]), lambda: image)
        flip_h = tf.cast(tf.reshape(transformation["flip_horizontal"], [-1])[0], tf.int32)
        flip_v = tf.cast(tf.reshape(transformation["flip_vertical"], [-1])[0], tf.int32)
        axes = tf.range(1 - flip_v, 1 + flip_h)  # [], [0], [1] or [0, 1]
        return tf.cond(tf.size(axes) > 0, lambda: tf.reverse(image, axes), lambda: image)

    def get_config(self) -> dict:
        config = super().get_config()
        config["mode"] = self.mode
        return config
