"""Normalize: per-channel ``(x - mean) / std``, with a streaming ``adapt``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import numpy as np

from kerasimg._validate import as_real, invalid, is_int, require
from kerasimg.layers._fast import per_channel
from kerasimg.layers.base import BaseImageLayer, check_value_range, plain

_EPSILON = 1e-7


def _as_stats(name: str, value: Any, positive: bool) -> list[float] | None:
    if value is None:
        return None
    single = as_real(value)
    values: list[float | None] | None = [single] if single is not None else None
    if values is None and not isinstance(value, (str, bytes)):
        try:
            values = [as_real(item) for item in value]
        except TypeError:
            values = None
    if values is None or None in values or len(values) not in (1, 3, 4):
        raise invalid(name, value, "a finite number or a list of 1, 3 or 4 finite numbers (one per channel)")
    array = np.array(values, dtype="float64")
    if not np.all(np.isfinite(array)):
        raise invalid(name, value, "a finite number or a list of 1, 3 or 4 finite numbers (one per channel)")
    if positive and np.any(array <= 0):
        raise invalid(name, value, "values > 0 (a standard deviation of 0 would divide by zero)")
    return array.tolist()


@keras.saving.register_keras_serializable(package="kerasimg")
class Normalize(BaseImageLayer):
    """Normalize images per channel: ``(x - mean) / std``.

    With neither ``mean`` nor ``std`` given and before ``adapt``, maps
    ``value_range`` to [0, 1]: ``(x - low) / (high - low)``. With only one of them
    given, the other defaults to 0 (mean) or 1 (std). ``adapt(data)`` computes the
    per-channel mean and standard deviation in one numerically stable streaming pass
    (Chan et al.'s parallel update, in float64) and stores them in the layer's
    config, so a saved model keeps them. Adapt before compiling a model that uses
    the layer: the statistics are constants of the traced computation.

    ``adapt`` builds the layer (``built`` is True after it); on a layer already built
    for ``C`` channels, data with another channel count is refused in ``adapt``, not at
    the next call. Data with NaN or infinite values is refused (``ValueError``) and the
    layer is left as it was. Like ``keras.layers.Normalization`` the layer is elementwise
    and passes a Keras mask through (``supports_masking`` is True).

    Args:
        mean: a number or one number per channel, or ``None`` (default).
        std: a positive number or one per channel, or ``None`` (default).
        value_range: ``(low, high)`` of the input, used when neither ``mean`` nor
            ``std`` is set (default ``(0, 255)``).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]``, any integer or floating dtype.
    Output shape: the same, in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> layer = kerasimg.layers.Normalize(mean=[10.0, 20.0, 30.0], std=2.0)
    >>> np.asarray(layer(np.full((1, 1, 3), 30, "uint8"))).ravel().tolist()
    [10.0, 5.0, 0.0]
    >>> layer = kerasimg.layers.Normalize()
    >>> layer.adapt(np.random.default_rng(0).normal(5, 2, (8, 4, 4, 3)))
    >>> [round(m) for m in layer.mean], [round(s) for s in layer.std]
    ([5, 5, 5], [2, 2, 2])
    """

    def __init__(
        self,
        mean: float | list[float] | None = None,
        std: float | list[float] | None = None,
        value_range: tuple[float, float] = (0, 255),
        data_format: str | None = None,
        **kwargs: Any,
    ):
        mean_ = _as_stats("mean", mean, positive=False)
        std_ = _as_stats("std", std, positive=True)
        if mean_ and std_ and len(mean_) != len(std_) and 1 not in (len(mean_), len(std_)):
            raise invalid("std", std, f"as many values as mean ({len(mean_)}), or one")
        low, high = check_value_range(value_range)
        super().__init__(data_format=data_format, **kwargs)
        self.mean, self.std, self.value_range = mean_, std_, plain(value_range)
        self._low, self._high = low, high
        self._input_channels: int | None = None
        self.supports_masking = True  # elementwise, as keras.layers.Normalization

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None and self.std is None:
            return np.array([self._low]), np.array([self._high - self._low])
        mean = np.array(self.mean if self.mean is not None else [0.0])
        std = np.array(self.std if self.std is not None else [1.0])
        return mean, std

    def _channels_of(self, input_shape: tuple | None) -> int | None:
        """The channel count of an image or batch shape (None when unknown or of another rank)."""
        if input_shape is None or len(input_shape) not in (3, 4):
            return None
        channels = input_shape[self._channel_axis]
        return None if channels is None else int(channels)

    def _check_stats(self, input_shape: tuple | None) -> None:
        channels = self._channels_of(input_shape)
        for name, values in (("mean", self.mean), ("std", self.std)):
            if channels is not None and values is not None and len(values) not in (1, channels):
                raise invalid(
                    name, values, f"1 or {channels} values (one per channel) for input of shape {tuple(input_shape)}"
                )

    def build(self, input_shape: tuple | None) -> None:
        self._check_stats(input_shape)
        self._input_channels = self._channels_of(input_shape)
        super().build(input_shape)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def _transform(self, images: Any, transformation: Any) -> Any:
        self._check_channels(images)
        self._check_stats(tuple(images.shape))
        mean, std = self._stats()
        shape = (1, 1, 1, -1) if self.data_format == "channels_last" else (1, -1, 1, 1)
        dtype = self.compute_dtype
        mean = self.backend.convert_to_tensor(mean.reshape(shape), dtype)
        inv_std = self.backend.convert_to_tensor((1.0 / std).reshape(shape), dtype)
        # (x - mean) * (1 / std): exact for integer-valued x near the mean, where
        # x * scale + offset would cancel; XLA fuses the two ops into one pass.
        images = self._to_compute(images)
        fmt = self.data_format
        images = per_channel(self.backend, lambda x, m: x - m, images, mean, fmt)
        return per_channel(self.backend, lambda x, s: x * s, images, inv_std, fmt)

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Compute per-channel mean and std of ``data`` in one streaming pass.

        Args:
            data: a NumPy array or tensor of images (rank 3 or 4), a ``tf.data``
                dataset (or any iterable) of image batches or of ``(images, labels)``.
            steps: for a dataset or iterable, the number of batches to read
                (default: all of it).

        Example:

        >>> import numpy as np, kerasimg
        >>> layer = kerasimg.layers.Normalize()
        >>> layer.adapt(np.stack([np.zeros((2, 2, 1)), np.full((2, 2, 1), 2.0)]))
        >>> layer.mean, layer.std
        ([1.0], [1.0])
        """
        require(steps is None or (is_int(steps) and steps > 0), "steps", steps, "a positive integer or None")
        count, mean, m2 = 0, None, None
        for i, batch in enumerate(_batches(data)):
            if steps is not None and i >= steps:
                break
            x = np.asarray(keras.ops.convert_to_numpy(batch), dtype="float64")
            if x.ndim == 3:
                x = x[None]
            if x.ndim != 4:
                raise invalid("data", f"<batch of shape {x.shape}>", "images of rank 3 or 4")
            if self.data_format == "channels_first":
                x = np.moveaxis(x, 1, -1)
            if self._input_channels is not None and x.shape[-1] != self._input_channels:
                raise invalid(
                    "data", f"<batch of shape {batch.shape}>",
                    f"{self._input_channels} channels, as the layer was built for ({self.data_format})",
                )
            if not np.all(np.isfinite(x)):
                raise invalid(
                    "data", f"<batch {i} with {int(np.sum(~np.isfinite(x)))} NaN or infinite values>",
                    "finite values (NaN or inf would make the mean and std NaN)",
                )
            x = x.reshape(-1, x.shape[-1])
            n = x.shape[0]
            if n == 0:
                continue
            with np.errstate(over="ignore", invalid="ignore"):  # overflow: refused below
                batch_mean = x.mean(axis=0)
                batch_m2 = ((x - batch_mean) ** 2).sum(axis=0)
            if mean is None:
                count, mean, m2 = n, batch_mean, batch_m2
                continue
            if batch_mean.shape != mean.shape:
                raise invalid("data", f"<batch with {batch_mean.size} channels>", f"{mean.size} channels")
            delta = batch_mean - mean
            total = count + n
            with np.errstate(over="ignore", invalid="ignore"):
                mean = mean + delta * (n / total)
                m2 = m2 + batch_m2 + delta**2 * (count * n / total)
            count = total
        if mean is None:
            raise invalid("data", data, "at least one image")
        std = np.sqrt(np.maximum(m2 / count, _EPSILON**2))
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise invalid("data", f"<mean {mean.tolist()}, std {std.tolist()}>", "values whose mean and std fit in float64")
        self.mean = mean.tolist()
        self.std = std.tolist()
        if not self.built:
            channels = len(self.mean)
            shape = (None, None, None, channels) if self.data_format == "channels_last" else (None, channels, None, None)
            self.build(shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(mean=self.mean, std=self.std, value_range=self.value_range)
        return config


def _batches(data: Any, chunk: int = 64) -> Iterable[Any]:
    """Yield image batches from an array/tensor (in chunks) or a dataset/iterable."""
    if hasattr(data, "shape") and hasattr(data, "dtype"):
        array = keras.ops.convert_to_numpy(data)
        if array.ndim == 3:
            yield array
            return
        for start in range(0, len(array), chunk):
            yield array[start : start + chunk]
        return
    try:
        iterator = iter(data)
    except TypeError:
        raise invalid("data", data, "an array, a tensor, a tf.data.Dataset or an iterable of batches") from None
    for element in iterator:
        if isinstance(element, (tuple, list)):
            element = element[0]
        yield element
