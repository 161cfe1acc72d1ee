"""RandomContrast: scale each image's deviation from its mean by a random factor."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg._validate import as_real, as_real_pair, invalid
from kerasimg.layers._fast import per_channel, spatial_mean
from kerasimg.layers.base import BaseImageLayer, check_value_range, plain


def _contrast_range(factor: Any) -> tuple[float, float]:
    """``f`` -> ``(1 - f, 1 + f)``; ``(lower, upper)`` -> ``(1 - lower, 1 + upper)``, each in [0, 1]."""
    expected = "a float in [0, 1] or a pair (lower, upper) of floats in [0, 1]"
    single = as_real(factor)
    pair = (single, single) if single is not None else as_real_pair(factor)
    if pair is None or not (0.0 <= pair[0] <= 1.0 and 0.0 <= pair[1] <= 1.0):
        raise invalid("factor", factor, expected)
    return 1.0 - pair[0], 1.0 + pair[1]


def _add(x: Any, y: Any) -> Any:
    return x + y


@keras.saving.register_keras_serializable(package="kerasimg")
class RandomContrast(BaseImageLayer):
    """Randomly change the contrast of each image of a batch, independently.

    Each image gets ``c ~ U(1 - lo, 1 + hi)`` and becomes
    ``clip((x - mean) * c + mean, low, high)`` where ``mean`` is the image's mean per
    channel and ``(low, high) = value_range``. When nothing is clipped the per-channel
    mean is kept. Integer input is cast to the compute dtype first (no wrap-around).

    Args:
        factor: a float ``f`` in [0, 1] (``c ~ U(1 - f, 1 + f)``) or a pair
            ``(lo, hi)`` in [0, 1] (``c ~ U(1 - lo, 1 + hi)``).
        value_range: ``(low, high)`` of the input values (default ``(0, 255)``).
        seed: integer seed for reproducible draws, or ``None`` (default).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default);
            tells which axis holds the channels for the per-channel mean.
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]``, any integer or floating dtype.
    Output shape: the same, in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> layer = kerasimg.layers.RandomContrast(0.5)
    >>> x = np.array([[[[100], [200]]]], "uint8")  # one 1x2 grayscale image
    >>> np.asarray(layer.transform_images(x, {"contrast": np.array([0.5])})).ravel().tolist()
    [125.0, 175.0]
    """

    random = True

    def __init__(
        self,
        factor: float | tuple[float, float],
        value_range: tuple[float, float] = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ):
        self._range = _contrast_range(factor)
        self._value_range = check_value_range(value_range)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = plain(factor)
        self.value_range = plain(value_range)

    def _draw(self, batch_size: Any, seed: Any) -> dict:
        return {"contrast": self._uniform((batch_size,), *self._range, seed=seed)}

    def _transform(self, images: Any, transformation: dict) -> Any:
        self._check_channels(images)
        ops = self.backend.numpy
        low, high = self._value_range
        images = self._to_compute(images)
        mean = spatial_mean(self.backend, images, self.data_format)  # one reduction
        c = ops.reshape(self.backend.cast(transformation["contrast"], self.compute_dtype), (-1, 1, 1, 1))
        # (x - mean) * c + mean as x * c + mean * (1 - c): one pass fewer without XLA.
        # `+`, not ops.add: Keras 3.15's TF add takes a [B, 1, 1, 1] operand for a bias
        # when B equals the height or the channels, and broadcasts it on the wrong axis.
        images = per_channel(self.backend, _add, images * c, mean * (1 - c), self.data_format)
        return ops.clip(images, low, high)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(factor=self.factor, value_range=self.value_range)
        return config
