"""CenterCrop: the centred height x width window of each image."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg.layers._crop import CropLayer


@keras.saving.register_keras_serializable(package="kerasimg")
class CenterCrop(CropLayer):
    """Crop the centred ``height x width`` window of each image.

    The window starts at ``((H - height) // 2, (W - width) // 2)`` (Keras' rounding: an
    odd margin leaves the extra pixel at the bottom / right). An image smaller than the
    window on either side gives the largest centred window of the target aspect ratio,
    resized (bilinear) to ``height x width`` — Keras' ``CenterCrop`` rule — so the output
    size never depends on the input size. Training and inference behave alike. Integer
    input is gathered before the cast to the compute dtype, so it never wraps around.

    Args:
        height: output height, a positive integer.
        width: output width, a positive integer.
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default:
            ``keras.config.image_data_format()``).
        **kwargs: base ``keras.layers.Layer`` arguments (``name``, ``dtype``).

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]`` (channels first: ``[B, C, H, W]``),
    ``H`` and ``W`` possibly unknown, any integer or floating dtype, ``C`` in 1, 3, 4.
    Output shape: ``[height, width, C]`` or ``[B, height, width, C]`` in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> x = np.arange(16, dtype="uint8").reshape(4, 4, 1)
    >>> y = kerasimg.layers.CenterCrop(2, 3)(x)
    >>> np.asarray(y)[..., 0].tolist()
    [[4.0, 5.0, 6.0], [8.0, 9.0, 10.0]]
    """

    random = False

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any):
        super().__init__(height, width, data_format=data_format, **kwargs)
