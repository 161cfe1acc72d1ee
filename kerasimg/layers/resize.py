"""Resize: any H x W to a fixed height x width, inside the model."""

from __future__ import annotations

from typing import Any

import keras

from kerasimg._validate import as_real, check_positive_int, invalid
from kerasimg.layers._fast import resize_bilinear, under_xla
from kerasimg.layers.base import BaseImageLayer, sized_shape

_INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos3", "lanczos5")


def _xla_on_tf(interpolation: str, antialias: bool) -> bool:
    """Whether TensorFlow can compile this resize with XLA (its ScaleAndTranslate op cannot)."""
    return interpolation == "nearest" or (interpolation == "bilinear" and not antialias)


@keras.saving.register_keras_serializable(package="kerasimg")
class Resize(BaseImageLayer):
    """Resize images of any height and width to ``(height, width)``.

    The input is cast to the compute dtype before resizing, so integer input never
    wraps around. Bilinear resizing without antialias keeps values inside the
    input's range; bicubic and lanczos may overshoot it slightly (as in TF/JAX).

    ``crop_to_aspect_ratio`` and ``pad_to_aspect_ratio`` crop or pad first (as Keras'
    ``Resizing`` does: the centred largest window of the target aspect ratio, or
    ``fill_value`` added equally on both sides), then resize the result like any image.

    Under XLA (JAX, or TensorFlow inside ``jit_compile=True``), bilinear resizing without
    antialias runs as two gathers and a lerp per axis, at TensorFlow's float32 sample
    positions: on CPU the backends' own resize ops lower to code about 10x slower (and
    TensorFlow's bilinear op gives wrong values under XLA on CPU when upscaling by a
    non-integer factor). The values agree with the eager result to float32 rounding.

    On the TensorFlow backend, ``"bicubic"``, ``"lanczos3"``, ``"lanczos5"`` and
    ``antialias=True`` (with ``"bilinear"``) cannot compile with XLA (TensorFlow's
    ``ScaleAndTranslate`` op has no XLA kernel): such a layer says so
    (``supports_jit`` is False, so Keras' ``jit_compile=True`` falls back to a plain
    ``tf.function`` with a warning), and inside ``tf.function(jit_compile=True)`` it raises a
    ``ValueError`` naming the option. JAX compiles every option.

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
        height = check_positive_int("height", height)
        width = check_positive_int("width", width)
        if as_real(fill_value) is None:
            raise invalid("fill_value", fill_value, "a number")
        if interpolation not in _INTERPOLATIONS:
            raise invalid("interpolation", interpolation, f"one of {_INTERPOLATIONS}")
        if crop_to_aspect_ratio and pad_to_aspect_ratio:
            raise invalid(
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
        if keras.backend.backend() == "tensorflow" and not _xla_on_tf(interpolation, self.antialias):
            self.supports_jit = False

    def _transform(self, images: Any, transformation: Any) -> Any:
        self._check_channels(images)
        images = self._to_compute(images)
        if self.crop_to_aspect_ratio:
            images = self._crop(images)
        elif self.pad_to_aspect_ratio:
            images = self._pad(images)
        h_axis, w_axis = self._spatial_axes
        if images.shape[h_axis] == self.height and images.shape[w_axis] == self.width:
            return images
        xla = under_xla(self.backend)
        if xla and self.interpolation == "bilinear" and not self.antialias:
            # gathers + lerps: faster than the backends' ops, and right where TF's is not
            dtype = keras.backend.standardize_dtype(images.dtype)
            work = "float64" if dtype == "float64" else "float32"  # 16-bit policies lerp in float32
            images = self.backend.cast(images, work)
            return resize_bilinear(self.backend, images, (self.height, self.width), (h_axis, w_axis))
        if xla and self.backend.name == "tensorflow" and not _xla_on_tf(self.interpolation, self.antialias):
            option = "antialias=True" if self.antialias else f"interpolation={self.interpolation!r}"
            raise ValueError(
                f"Resize({option}) cannot run under XLA on the TensorFlow backend (TensorFlow's "
                "ScaleAndTranslate op has no XLA kernel). Use interpolation='bilinear' or "
                "'nearest' without antialias, run it outside jit_compile=True (e.g. in tf.data), "
                "or use the JAX backend."
            )
        return self.backend.image.resize(
            images,
            (self.height, self.width),
            interpolation=self.interpolation,
            antialias=self.antialias,
            data_format=self.data_format,
        )

    def _window(self, height: Any, width: Any, pad: bool) -> tuple[Any, Any]:
        """The (height, width) of the target aspect ratio cut from or padded around the image.

        Integer arithmetic (``w * height // width``), on Python ints or int32 tensors alike.
        """
        fit_h = width * self.height // self.width
        fit_w = height * self.width // self.height
        ops = self.backend.numpy
        if pad:
            return _maximum(ops, fit_h, height), _maximum(ops, fit_w, width)
        return _maximum(ops, _minimum(ops, fit_h, height), 1), _maximum(ops, _minimum(ops, fit_w, width), 1)

    def _sizes(self, images: Any) -> tuple[Any, Any]:
        """Height and width: Python ints where known, int32 scalars while tracing unknown sizes."""
        h_axis, w_axis = self._spatial_axes
        height, width = images.shape[h_axis], images.shape[w_axis]
        if height is None or width is None:
            shape = self.backend.core.shape(images)
            height = self.backend.cast(shape[h_axis], "int32") if height is None else height
            width = self.backend.cast(shape[w_axis], "int32") if width is None else width
        return height, width

    def _crop(self, images: Any) -> Any:
        """The centred window of the target aspect ratio (Keras' ``crop_to_aspect_ratio``)."""
        height, width = self._sizes(images)
        crop_h, crop_w = self._window(height, width, pad=False)
        top, left = (height - crop_h) // 2, (width - crop_w) // 2
        h_axis, w_axis = self._spatial_axes
        if all(isinstance(v, int) for v in (top, left, crop_h, crop_w)):
            index = [slice(None)] * 4
            index[h_axis] = slice(top, top + crop_h)
            index[w_axis] = slice(left, left + crop_w)
            return images[tuple(index)]
        start = [0, 0, 0, 0]
        size = list(self.backend.core.shape(images))
        start[h_axis], start[w_axis] = top, left
        size[h_axis], size[w_axis] = crop_h, crop_w
        return self.backend.core.slice(images, _stack(self.backend, start), _stack(self.backend, size))

    def _pad(self, images: Any) -> Any:
        """``fill_value`` on both sides up to the target aspect ratio (Keras' ``pad_to_aspect_ratio``:
        ``(padded - size) // 2`` on each side, so an odd difference loses one row or column)."""
        height, width = self._sizes(images)
        pad_h, pad_w = self._window(height, width, pad=True)
        top, left = (pad_h - height) // 2, (pad_w - width) // 2
        h_axis, w_axis = self._spatial_axes
        widths: list[Any] = [[0, 0] for _ in range(4)]
        widths[h_axis], widths[w_axis] = [top, top], [left, left]
        if not all(isinstance(v, int) for v in (top, left)):
            widths = _stack(self.backend, [_stack(self.backend, pair) for pair in widths])
        return self.backend.numpy.pad(images, widths, constant_values=self.fill_value)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return sized_shape(input_shape, self.data_format, self.height, self.width)

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


def _maximum(ops: Any, a: Any, b: Any) -> Any:
    return max(a, b) if isinstance(a, int) and isinstance(b, int) else ops.maximum(a, b)


def _minimum(ops: Any, a: Any, b: Any) -> Any:
    return min(a, b) if isinstance(a, int) and isinstance(b, int) else ops.minimum(a, b)


def _stack(backend: Any, values: list) -> Any:
    """A 1-D int32 tensor of Python ints and int32 scalar tensors."""
    return backend.numpy.stack([backend.cast(backend.convert_to_tensor(v), "int32") for v in values])
