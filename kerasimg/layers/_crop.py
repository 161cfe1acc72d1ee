"""Machinery shared by the crop layers: a per-image box, cropped and resized in one pass.

A crop layer's transformation is a box per image, four int32 tensors of shape ``[B]``:
``top``, ``left``, ``box_height``, ``box_width`` (pixels). ``crop_and_resize`` cuts each
image's box and resizes it to the layer's ``(height, width)`` with half-pixel bilinear
sampling — the samples ``Resize`` (and TensorFlow's ``ResizeBilinear``) takes on the
cropped image, positions in exact integer arithmetic — as two gathers and a lerp per
axis, vectorised over the batch: no per-image loop, no ``map_fn``. A box of the target
size is an exact crop (every lerp weight is 0). Integer images are gathered in their own
dtype and cast before the lerp, so they never wrap around. Positions are int32: boxes
and outputs up to 32,767 pixels a side.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from kerasimg._validate import check_positive_int
from kerasimg.layers.base import BaseImageLayer, sized_shape

BOX_KEYS = ("top", "left", "box_height", "box_width")


def fit_window(backend: Any, image_h: Any, image_w: Any, height: int, width: int, largest: bool) -> tuple:
    """Size of the window cut from an ``image_h x image_w`` image for a ``height x width`` output.

    ``largest=False`` (CenterCrop, RandomCrop): ``(height, width)`` when the image holds it,
    else the largest window of the target aspect ratio (Keras' ``crop_to_aspect_ratio``
    rule, later resized up). ``largest=True`` (RandomResizedCrop at inference): always the
    largest window of the target aspect ratio. Returns two int32 scalar tensors.
    """
    ops = backend.numpy
    image_h = backend.cast(image_h, "int32")
    image_w = backend.cast(image_w, "int32")
    aspect_h = ops.maximum(ops.minimum(ops.floor_divide(image_w * height, width), image_h), 1)
    aspect_w = ops.maximum(ops.minimum(ops.floor_divide(image_h * width, height), image_w), 1)
    if largest:
        return aspect_h, aspect_w
    fits = ops.logical_and(image_h >= height, image_w >= width)
    box_h = ops.where(fits, ops.full_like(aspect_h, height), aspect_h)
    box_w = ops.where(fits, ops.full_like(aspect_w, width), aspect_w)
    return box_h, box_w


def _axis_taps(backend: Any, start: Any, length: Any, n_in: Any, n_out: int, nearest: bool) -> tuple:
    """Per-image source rows (lower, upper, ``[B, n_out]`` int32) and weights of one axis.

    The half-pixel sample of output ``i`` in a box of ``L`` pixels is
    ``(i + 0.5) * L / n_out - 0.5`` = ``((2i + 1) L - n_out) / (2 n_out)``: computed in
    integers, so a box of the output's size samples whole pixels exactly (weight 0) under
    every backend and graph rewrite (float ``L / n_out`` becomes ``L * (1 / n_out)`` in a
    TensorFlow graph). Nearest: ``floor((2i + 1) L / (2 n_out))``, weight 0.
    """
    ops = backend.numpy
    length = ops.reshape(backend.cast(length, "int32"), (-1, 1))
    start = ops.reshape(backend.cast(start, "int32"), (-1, 1))
    odd = ops.arange(1, 2 * n_out, 2, dtype="int32")[None, :]  # 2i + 1
    if nearest:
        lower = upper = ops.minimum(ops.floor_divide(odd * length, 2 * n_out), length - 1)
        weight = ops.zeros_like(backend.cast(lower, "float32"))
    else:
        numerator = odd * length - n_out
        floor = ops.floor_divide(numerator, 2 * n_out)
        remainder = numerator - floor * (2 * n_out)  # in [0, 2 n_out)
        lower = ops.maximum(floor, 0)
        upper = ops.minimum(floor + backend.cast(remainder > 0, "int32"), length - 1)
        # times the reciprocal, as a TensorFlow graph rewrites a division: eager == graph
        weight = backend.cast(remainder, "float32") * np.float32(1.0 / (2 * n_out))
    last = backend.cast(n_in, "int32") - 1
    # an injected box reaching outside the image is clamped to its border
    lower = ops.minimum(ops.maximum(start + lower, 0), last)
    upper = ops.minimum(ops.maximum(start + upper, 0), last)
    return lower, upper, weight


def _gather(backend: Any, images: Any, index: Any, axis: int) -> Any:
    """``images[b, ..., index[b, k], ...]`` along ``axis`` (1, 2 or 3) for each image ``b``."""
    if backend.name == "tensorflow":
        import tensorflow as tf

        return tf.gather(images, index, axis=axis, batch_dims=1)
    shape = [-1, 1, 1, 1]
    shape[axis] = index.shape[1]
    return backend.numpy.take_along_axis(images, backend.numpy.reshape(index, shape), axis=axis)


def crop_and_resize(
    backend: Any, images: Any, box: dict, size: tuple[int, int], axes: tuple[int, int],
    interpolation: str = "bilinear",
) -> Any:
    """Cut ``box`` out of each image of a rank-4 batch and resize it to ``size``.

    Args:
        backend: the layer's backend (``keras.ops``-like).
        images: ``[B, H, W, C]`` or ``[B, C, H, W]``, any dtype.
        box: ``top``, ``left``, ``box_height``, ``box_width``: ``[B]`` (or ``[1]``) integers.
        size: ``(height, width)`` of the output.
        axes: (height axis, width axis) of ``images``.
        interpolation: ``"bilinear"`` (half-pixel, as ``Resize``) or ``"nearest"``.

    Returns:
        The crops, float32 (float64 for float64 input), of spatial size ``size``.
    """
    ops = backend.numpy
    shape = backend.core.shape(images)
    work = "float64" if keras.backend.standardize_dtype(images.dtype) == "float64" else "float32"
    batch = shape[0]
    for axis, start_key, length_key, n_out in (
        (axes[0], "top", "box_height", size[0]),
        (axes[1], "left", "box_width", size[1]),
    ):
        start = ops.broadcast_to(ops.reshape(backend.cast(box[start_key], "int32"), (-1,)), (batch,))
        length = ops.broadcast_to(ops.reshape(backend.cast(box[length_key], "int32"), (-1,)), (batch,))
        lower, upper, weight = _axis_taps(
            backend, start, ops.maximum(length, 1), shape[axis], n_out, interpolation == "nearest"
        )
        low = backend.cast(_gather(backend, images, lower, axis), work)
        if interpolation == "nearest":
            images = low
            continue
        high = backend.cast(_gather(backend, images, upper, axis), work)
        wshape = [-1, 1, 1, 1]
        wshape[axis] = n_out
        weight = ops.reshape(backend.cast(weight, work), wshape)
        images = low + (high - low) * weight
    return images


class CropLayer(BaseImageLayer):
    """Base of the crop layers (not public): a box per image, cut and resized to ``(height, width)``.

    Subclasses set ``random``, implement ``_draw_box(batch_size, image_h, image_w, seed)``
    (random layers) and ``_inference_box(image_h, image_w)``; both return a dict of
    ``BOX_KEYS``. ``transform_images`` with ``training=False`` or no transformation uses
    the inference box. ``__init__`` checks the arguments every crop layer shares
    (``height``, ``width``; ``seed`` and ``data_format`` in ``BaseImageLayer``).
    """

    def __init__(self, height: int, width: int, data_format: str | None = None, seed: int | None = None,
                 **kwargs: Any):
        height, width = check_positive_int("height", height), check_positive_int("width", width)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.height = height
        self.width = width

    def _image_size(self, images: Any) -> tuple[Any, Any]:
        shape = self.backend.core.shape(images)
        offset = len(images.shape) - 3
        h_axis, w_axis = (0, 1) if self.data_format == "channels_last" else (1, 2)
        return shape[h_axis + offset], shape[w_axis + offset]

    def get_random_transformation(self, images: Any, training: bool = True, seed: Any = None) -> dict | None:
        """Draw one box per image: ``top``, ``left``, ``box_height``, ``box_width`` (int32 ``[B]``).

        Args:
            images: an image (rank 3) or a batch (rank 4); only its shape is used.
            training: when False (or for ``CenterCrop``), returns ``None``: the
                inference box is used.
            seed: ``None`` (the layer's seed generator) or an integer / shape-``[2]``
                integer tensor for a stateless draw.

        Returns:
            A dict of four int32 tensors of shape ``[B]`` (``[1]`` for one image), or ``None``.
        """
        if not self.random or not training:
            return None
        with self._tf_data_backend(images):
            images = self.backend.convert_to_tensor(images)
            shape = self.backend.core.shape(images)
            batch_size = 1 if len(images.shape) == 3 else shape[0]
            image_h, image_w = self._image_size(images)
            return self._draw_box(batch_size, image_h, image_w, seed)

    def get_box(self, height: Any, width: Any, seed: Any = None, training: bool = True) -> tuple:
        """The box this layer cuts from one ``height x width`` image, from the size alone.

        What ``kerasimg.data`` needs to crop while decoding (the size read from the header):
        the same draw as ``get_random_transformation`` on one image with the same ``seed``
        (``training=True``), or the inference box (``training=False``, and always for
        ``CenterCrop``).

        Args:
            height: image height, an int or a scalar integer tensor (inside ``tf.data`` too).
            width: image width, likewise.
            seed: ``None`` (the layer's seed generator) or an int / shape-``[2]`` integer
                tensor (a stateless draw).
            training: False gives the inference box.

        Returns:
            ``(top, left, box_height, box_width)``, int32 scalar tensors.

        Example:

        >>> import kerasimg
        >>> [int(v) for v in kerasimg.layers.RandomCrop(2, 3).get_box(4, 4, training=False)]
        [1, 0, 2, 3]
        """
        with self._tf_data_backend(height):
            if training and self.random:
                box = self._draw_box(1, height, width, seed)
            else:
                box = self._inference_box(height, width)
            return tuple(self.backend.numpy.squeeze(box[key], axis=0) for key in BOX_KEYS)

    def transform_images(self, images: Any, transformation: dict | None = None, training: bool = True) -> Any:
        """Cut each image's box and resize it to ``(height, width)``: pure, no randomness.

        Args:
            images: rank 3 or rank 4, any integer or floating dtype.
            transformation: boxes as returned by ``get_random_transformation``; ``None``
                or ``training=False`` uses the inference box.
            training: when False, the inference box is used.

        Returns:
            The crops in the layer's compute dtype.
        """
        with self._tf_data_backend(images):
            images = self.backend.convert_to_tensor(images)
            rank = self._check_rank(images)
            images = self._check_not_empty(images)
            image_h, image_w = self._image_size(images)
            if rank == 3:
                images = self.backend.numpy.expand_dims(images, 0)
            self._check_channels(images)
            if transformation is None or not training:
                box = self._inference_box(image_h, image_w)
            else:
                box = {key: transformation[key] for key in BOX_KEYS}
            outputs = crop_and_resize(
                self.backend, images, box, (self.height, self.width), self._spatial_axes,
                getattr(self, "interpolation", "bilinear"),
            )
            outputs = self._to_compute(outputs)
            if rank == 3:
                outputs = self.backend.numpy.squeeze(outputs, axis=0)
            return outputs

    def _centred_box(self, image_h: Any, image_w: Any, largest: bool) -> dict:
        backend = self.backend
        box_h, box_w = fit_window(backend, image_h, image_w, self.height, self.width, largest)
        top = backend.numpy.floor_divide(backend.cast(image_h, "int32") - box_h, 2)
        left = backend.numpy.floor_divide(backend.cast(image_w, "int32") - box_w, 2)
        return {key: backend.numpy.reshape(value, (1,))
                for key, value in zip(BOX_KEYS, (top, left, box_h, box_w), strict=True)}

    def _inference_box(self, image_h: Any, image_w: Any) -> dict:
        return self._centred_box(image_h, image_w, largest=False)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return sized_shape(input_shape, self.data_format, self.height, self.width)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(height=self.height, width=self.width)
        return config
