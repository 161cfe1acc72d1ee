"""Resize: any H x W to a fixed height x width, inside the model."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg.layers._fast import resize_bilinear, under_xla
from kerasimg.layers.base import BaseImageLayer, _invalid

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


@keras.saving.register_keras_serializable(package="kerasimg")
class Resize(BaseImageLayer):
    """Resize images of any height and width to ``(height, width)``.

    The input is cast to the compute dtype before resizing, so integer input never
    wraps around. Bilinear resizing without antialias keeps values inside the
    input's range; bicubic and lanczos may overshoot it slightly (as in TF/JAX).

    Under XLA (JAX, or TensorFlow inside ``jit_compile=True``), plain bilinear resizing
    (no antialias, crop or pad) runs as two gathers and a lerp per axis, at TensorFlow's
    float32 sample positions: on CPU the backends' own resize ops lower to code about 10x
    slower. The values agree to float32 rounding.

    Args:
        height: output height, a positive integer.
        width: output width, a positive integer.
        interpolation: one of ``"nearest"``, ``"bilinear"`` (default), ``"bicubic"``,
            ``"lanczos3"``, ``"lanczos5"`` (the methods every backend has).
        antialias: antialias when downsampling (default False).
        crop_to_aspect_ratio: centre-crop to the target aspect ratio first
            (default False).
        pad_to_aspect_ratio: pad to the target aspect ratio with ``fill_value``
            first (default False). Exclusive with ``crop_to_aspect_ratio``.
        fill_value: value of the padding (default 0.0).
        data_format: ``"channels_last"``, ``"channels_first"`` or ``None`` (default).
        **kwargs: base ``keras.layers.Layer`` arguments.

    Input shape: ``[H, W, C]`` or ``[B, H, W, C]`` (``H``, ``W`` may be unknown),
    any integer or floating dtype.
    Output shape: ``[height, width, C]`` or ``[B, height, width, C]`` in the compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> layer = kerasimg.layers.Resize(2, 3)
    >>> tuple(layer(np.zeros((5, 7, 3), "uint8")).shape)
    (2, 3, 3)
    """

    def __init__(
        self,
        height: int,
        width: int,
        interpolation: str = "bilinear",
        antialias: bool = False,
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        fill_value: float = 0.0,
        data_format: str | None = None,
        **kwargs: Any,
    ):
        for name, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise _invalid(name, value, "a positive integer")
        if interpolation not in _INTERPOLATIONS:
            raise _invalid("interpolation", interpolation, f"one of {_INTERPOLATIONS}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise _invalid(
                "pad_to_aspect_ratio", pad_to_aspect_ratio, "False when crop_to_aspect_ratio=True"
            )
        super().__init__(data_format=data_format, **kwargs)
        self.height = height
        self.width = width
        self.interpolation = interpolation
        self.antialias = bool(antialias)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        self.fill_value = float(fill_value)

    def _transform(self, images: Any, transformation: Any) -> Any:
        self._check_channels(images)
        images = self._to_compute(images)
        h_axis, w_axis = self._spatial_axes
        if images.shape[h_axis] == self.height and images.shape[w_axis] == self.width:
            return images
        if self._lerp_path(images):
            dtype = keras.backend.standardize_dtype(images.dtype)
            work = "float64" if dtype == "float64" else "float32"  # 16-bit policies lerp in float32
            images = self.backend.cast(images, work)
            return resize_bilinear(self.backend, images, (self.height, self.width), (h_axis, w_axis))
        return self.backend.image.resize(
            images,
            (self.height, self.width),
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
            data_format=self.data_format,
        )

    def _lerp_path(self, images: Any) -> bool:
        """Plain bilinear under XLA: gathers + lerps beat the backend's resize op."""
        return (
            self.interpolation == "bilinear"
            and not (self.antialias or self.crop_to_aspect_ratio or self.pad_to_aspect_ratio)
            and under_xla(self.backend)
        )

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        shape = list(input_shape)
        offset = len(shape) - 3
        h_axis, w_axis = (0, 1) if self.data_format == "channels_last" else (1, 2)
        shape[h_axis + offset] = self.height
        shape[w_axis + offset] = self.width
        return tuple(shape)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            height=self.height,
            width=self.width,
            interpolation=self.interpolation,
            antialias=self.antialias,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio,
            pad_to_aspect_ratio=self.pad_to_aspect_ratio,
            fill_value=self.fill_value,
        )
        return config
