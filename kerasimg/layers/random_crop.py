"""RandomCrop: a height x width window at a random position, drawn per image."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg.layers._crop import BOX_KEYS, CropLayer, fit_window


@keras.saving.register_keras_serializable(package="kerasimg")
class RandomCrop(CropLayer):
    """Crop a ``height x width`` window at a random position, independently per image.

    Each image of a batch gets its own window, uniform over every position inside the
    image (``top`` in ``0 .. H - height``, ``left`` in ``0 .. W - width``), drawn at once
    for the whole batch. At inference (``training=False``, and so in ``kerasimg.export``)
    the window is the centred one — Keras' ``RandomCrop`` convention — exactly
    ``CenterCrop(height, width)``. An image smaller than the window on either side gives
    the largest window of the target aspect ratio (at a random position in training, centred
    at inference), resized (bilinear) to ``height x width``, so the output size never
    depends on the input size. Integer input never wraps around.

    The transformation is a box per image: ``top``, ``left``, ``box_height``,
    ``box_width``, int32 tensors of shape ``[B]``.

    Args:
        height: output height, a positive integer.
        width: output width, a positive integer.
        seed: integer seed for reproducible draws, or ``None`` (default).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default:
            ``keras.config.image_data_format()``).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]`` (channels first: ``[B, C, H, W]``),
    ``H`` and ``W`` possibly unknown, any integer or floating dtype, ``C`` in 1, 3, 4.
    Output shape: ``[height, width, C]`` or ``[B, height, width, C]`` in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> x = np.arange(16, dtype="uint8").reshape(1, 4, 4, 1)
    >>> crop = kerasimg.layers.RandomCrop(2, 2)
    >>> box = {"top": np.array([1]), "left": np.array([2]),
    ...        "box_height": np.array([2]), "box_width": np.array([2])}
    >>> np.asarray(crop.transform_images(x, box))[0, ..., 0].tolist()
    [[6.0, 7.0], [10.0, 11.0]]
    >>> np.asarray(crop(x, training=False))[0, ..., 0].tolist()  # the centre
    [[5.0, 6.0], [9.0, 10.0]]
    """

    random = True

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(height, width, data_format=data_format, seed=seed, **kwargs)

    def _draw_box(self, batch_size: Any, image_h: Any, image_w: Any, seed: Any) -> dict:
        backend = self.backend
        ops = backend.numpy
        box_h, box_w = fit_window(backend, image_h, image_w, self.height, self.width, largest=False)
        u = self._uniform((batch_size, 2), 0.0, 1.0, seed=seed)
        spans = []
        for column, image_side, box_side in ((0, image_h, box_h), (1, image_w, box_w)):
            room = backend.cast(image_side, "int32") - box_side  # >= 0
            start = backend.cast(ops.floor(u[:, column] * backend.cast(room + 1, "float32")), "int32")
            spans.append(ops.minimum(start, room))
        sizes = [ops.full_like(spans[0], 1) * box_h, ops.full_like(spans[1], 1) * box_w]
        return dict(zip(BOX_KEYS, (*spans, *sizes), strict=True))
