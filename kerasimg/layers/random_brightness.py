"""RandomBrightness: add a per-image random offset, clipped to the value range."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg._validate import as_real, as_real_pair, invalid
from kerasimg.layers.base import BaseImageLayer, check_value_range, plain


def _brightness_range(factor: Any, name: str = "factor") -> tuple[float, float]:
    """A real ``f`` in [0, 1] means ``(-f, f)``; a pair ``(lo, hi)`` needs ``-1 <= lo <= hi <= 1``."""
    expected = "a float in [0, 1] or a pair (lo, hi) with -1 <= lo <= hi <= 1"
    single = as_real(factor)
    if single is not None:
        if not 0.0 <= single <= 1.0:
            raise invalid(name, factor, expected)
        return -single, single
    pair = as_real_pair(factor)
    if pair is None or not -1.0 <= pair[0] <= pair[1] <= 1.0:
        raise invalid(name, factor, expected)
    return pair


@keras.saving.register_keras_serializable(package="kerasimg")
class RandomBrightness(BaseImageLayer):
    """Randomly brighten or darken each image of a batch, independently.

    Each image gets ``delta ~ U(lo, hi)`` and becomes
    ``clip(x + delta * (high - low), low, high)`` where ``(low, high) = value_range``.
    The same delta applies to every channel of an image. Integer input is cast to the
    compute dtype first: a uint8 pixel of 50 darkened by 76.5 gives 0, never 230.

    Args:
        factor: a float ``f`` in [0, 1] (``delta ~ U(-f, f)``) or a pair ``(lo, hi)``
            with ``-1 <= lo <= hi <= 1``.
        value_range: ``(low, high)`` of the input values (default ``(0, 255)``); the
            output is clipped to it.
        seed: integer seed for reproducible draws, or ``None`` (default).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]``, any integer or floating dtype.
    Output shape: the same, in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> layer = kerasimg.layers.RandomBrightness(0.5)
    >>> x = np.full((1, 2, 2, 3), 50, "uint8")
    >>> float(np.asarray(layer.transform_images(x, {"delta": np.array([-0.3])})).max())
    0.0
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
        self._factor = _brightness_range(factor)
        self._value_range = check_value_range(value_range)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.factor = plain(factor)
        self.value_range = plain(value_range)

    def _draw(self, batch_size: Any, seed: Any) -> dict:
        lo, hi = self._factor
        return {"delta": self._uniform((batch_size,), lo, hi, seed=seed)}

    def _transform(self, images: Any, transformation: dict) -> Any:
        self._check_channels(images)
        low, high = self._value_range
        images = self._to_compute(images)
        delta = self.backend.cast(transformation["delta"], self.compute_dtype)
        offset = self.backend.numpy.reshape(delta * (high - low), (-1, 1, 1, 1))
        return self.backend.numpy.clip(images + offset, low, high)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(factor=self.factor, value_range=self.value_range)
        return config
