"""RandomResizedCrop: a box of random area and aspect ratio per image, resized (the "Inception crop").

The box sampling is one pure function, ``sample_resized_crop_box``, shared by the layer (on
a batch) and by ``kerasimg.data`` (on the size read from an image's header, to decode only
the box): the same seed and image size give the same box in both.
"""

from __future__ import annotations

import math
import types
from typing import Any

import keras
import numpy as np

from kerasimg._validate import check_pair, invalid
from kerasimg.layers._crop import BOX_KEYS, CropLayer
from kerasimg.layers.base import BaseImageLayer, backend_for

_ATTEMPTS = 10  # torchvision's
_DRAWS = 2 * _ATTEMPTS + 2  # an area and a log-aspect per attempt, then top and left
_INTERPOLATIONS = ("bilinear", "nearest")


def check_scale(scale: Any) -> tuple[float, float]:
    """``(low, high)`` area fractions with ``0 < low <= high <= 1``."""
    return check_pair("scale", scale, "a pair (low, high) with 0 < low <= high <= 1",
                      lambda low, high: 0.0 < low <= high <= 1.0)


def check_ratio(ratio: Any) -> tuple[float, float]:
    """``(low, high)`` width / height aspect ratios with ``0 < low <= high`` (finite)."""
    return check_pair("ratio", ratio, "a pair (low, high) of finite numbers with 0 < low <= high",
                      lambda low, high: 0.0 < low <= high)


def _boxes(backend: Any, uniforms: Any, image_h: Any, image_w: Any, scale: tuple, ratio: tuple) -> tuple:
    """torchvision's RandomResizedCrop box, vectorised: ``uniforms [..., 22]`` in [0, 1).

    All ten attempts are computed at once; the first valid one wins, else the fallback
    (the centred box, its aspect ratio clamped to ``ratio``). Returns int32
    ``(top, left, box_height, box_width)`` of shape ``uniforms.shape[:-1]``. Under the
    TensorFlow backend the same arithmetic in fewer graph nodes (``_boxes_tf``).
    """
    if backend.name == "tensorflow":
        return _boxes_tf(uniforms, image_h, image_w, scale, ratio)
    return _boxes_ops(backend, uniforms, image_h, image_w, scale, ratio)


def _boxes_tf(uniforms: Any, image_h: Any, image_w: Any, scale: tuple, ratio: tuple) -> tuple:
    """``_boxes_ops`` in raw TensorFlow, bit for bit (the same float operations in the same
    order; ``tests/layers/test_random_resized_crop.py`` checks it): what ``kerasimg.data``
    runs per image to crop while decoding, where every graph node costs ~1-2 CPU us
    (135 nodes through ``keras.ops``, 51 of them constants; 76 here). The first
    valid attempt is gathered (``argmax``) instead of summed out of a one-hot mask, and the
    two axes go as ``[..., 2]`` pairs (height, width)."""
    import tensorflow as tf

    f32 = tf.float32
    height, width = tf.cast(image_h, f32), tf.cast(image_w, f32)
    sides = tf.stack([height, width])  # [2]
    area_u, aspect_u, corner_u = tf.split(uniforms, [_ATTEMPTS, _ATTEMPTS, 2], axis=-1)
    log_lo, log_hi = np.float32(math.log(ratio[0])), np.float32(math.log(ratio[1]))
    target = height * width * (scale[0] + (scale[1] - scale[0]) * area_u)
    aspect = tf.exp(log_lo + (log_hi - log_lo) * aspect_u)
    w = tf.round(tf.sqrt(target * aspect))
    h = tf.round(tf.sqrt(target / aspect))
    valid = (tf.minimum(w, h) > 0.0) & (w <= width) & (h <= height)
    found = tf.reduce_any(valid, axis=-1, keepdims=True)
    first = tf.argmax(tf.cast(valid, tf.int8), axis=-1, output_type=tf.int32)
    drawn = tf.stack([tf.gather(h, first, batch_dims=first.shape.rank),
                      tf.gather(w, first, batch_dims=first.shape.rank)], axis=-1)
    # fallback: the whole image, its aspect ratio clamped to ratio, centred
    in_ratio = width / height
    clamped = tf.round(tf.stack([width / ratio[0], height * ratio[1]]))
    fallback = tf.where(tf.stack([in_ratio < ratio[0], in_ratio > ratio[1]]), clamped, sides)
    fallback = tf.minimum(tf.maximum(fallback, 1.0), sides)
    box = tf.where(found, drawn, fallback)  # [..., 2]: height, width
    room = sides - box
    corner = tf.where(found, tf.minimum(tf.floor(corner_u * (room + 1.0)), room), tf.floor(room / 2.0))
    return tuple(tf.unstack(tf.cast(tf.concat([corner, box], axis=-1), tf.int32), num=4, axis=-1))


def _boxes_ops(backend: Any, uniforms: Any, image_h: Any, image_w: Any, scale: tuple, ratio: tuple) -> tuple:
    """``_boxes`` in ``keras.ops`` (every backend)."""
    ops = backend.numpy
    f32 = "float32"
    height = backend.cast(image_h, f32)
    width = backend.cast(image_w, f32)
    log_lo, log_hi = np.float32(math.log(ratio[0])), np.float32(math.log(ratio[1]))
    target = height * width * (scale[0] + (scale[1] - scale[0]) * uniforms[..., :_ATTEMPTS])
    aspect = ops.exp(log_lo + (log_hi - log_lo) * uniforms[..., _ATTEMPTS : 2 * _ATTEMPTS])
    w = ops.round(ops.sqrt(target * aspect))
    h = ops.round(ops.sqrt(target / aspect))
    valid = ops.logical_and(
        ops.logical_and(w > 0.0, w <= width), ops.logical_and(h > 0.0, h <= height)
    )
    # one-hot on the first valid attempt (all False if none): valid, and no valid one before
    chosen = ops.logical_and(valid, ops.cumsum(backend.cast(valid, "int32"), axis=-1) == 1)
    found = ops.any(valid, axis=-1)
    # fallback: the whole image, its aspect ratio clamped to ratio, centred
    in_ratio = width / height
    fall_w = ops.where(in_ratio > ratio[1], ops.round(height * ratio[1]), width)
    fall_h = ops.where(in_ratio < ratio[0], ops.round(width / ratio[0]), height)
    fall_w = ops.minimum(ops.maximum(fall_w, 1.0), width)
    fall_h = ops.minimum(ops.maximum(fall_h, 1.0), height)
    box_w = ops.where(found, ops.sum(ops.where(chosen, w, 0.0), axis=-1), fall_w)
    box_h = ops.where(found, ops.sum(ops.where(chosen, h, 0.0), axis=-1), fall_h)
    corners = []
    for side, box, u in ((height, box_h, uniforms[..., -2]), (width, box_w, uniforms[..., -1])):
        room = side - box
        drawn = ops.minimum(ops.floor(u * (room + 1.0)), room)
        corners.append(ops.where(found, drawn, ops.floor(room / 2.0)))
    return tuple(backend.cast(v, "int32") for v in (*corners, box_h, box_w))


def _stateless_uniform(backend: Any, shape: tuple, seed: Any) -> Any:
    """The layers' own stateless U(0, 1) draw (``BaseImageLayer._uniform``), outside a layer."""
    return BaseImageLayer._uniform(types.SimpleNamespace(backend=backend), shape, 0.0, 1.0, seed=seed)


def sample_resized_crop_box(
    height: Any,
    width: Any,
    scale: tuple[float, float] = (0.08, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
    seed: Any = 0,
) -> tuple[Any, Any, Any, Any]:
    """Draw one RandomResizedCrop box for an image of ``height x width``, statelessly.

    torchvision's algorithm: up to ten attempts of an area ``U(scale) * height * width``
    and an aspect ratio (width / height) log-uniform in ``ratio``, rounded to whole
    pixels; the first attempt that fits the image wins, at a uniform position. If none
    fits, the fallback is the centred box of the whole image with its aspect ratio clamped
    to ``ratio``. The ten attempts are drawn at once (no loop, no control flow), so it runs
    inside ``tf.data`` and under XLA. ``RandomResizedCrop.get_random_transformation`` on
    one image with the same ``seed`` gives the same box.

    Args:
        height: image height: a Python int or a scalar integer tensor (e.g. read from
            the image header inside ``tf.data``).
        width: image width, likewise.
        scale: ``(low, high)`` range of the box area as a fraction of the image area.
        ratio: ``(low, high)`` range of the box aspect ratio (width / height).
        seed: an int, or a shape-``[2]`` integer tensor (a TensorFlow stateless seed,
            int32 or int64).

    Returns:
        ``(top, left, box_height, box_width)``: int32 scalar tensors, TensorFlow ones inside
        a TensorFlow graph (``tf.data``, ``tf.function``) or for TensorFlow inputs, else the
        Keras backend's.

    Example:

    >>> from kerasimg.layers import sample_resized_crop_box
    >>> top, left, h, w = sample_resized_crop_box(480, 640, seed=7)
    >>> bool(0 <= int(top) <= 480 - int(h) and 0 <= int(left) <= 640 - int(w))
    True
    >>> [int(v) for v in sample_resized_crop_box(3, 4, scale=(1.0, 1.0), ratio=(4 / 3, 4 / 3))]
    [0, 0, 3, 4]
    """
    scale, ratio = check_scale(scale), check_ratio(ratio)
    backend = backend_for(height, width, seed)
    uniforms = _stateless_uniform(backend, (1, _DRAWS), seed)
    return tuple(v[0] for v in _boxes(backend, uniforms, height, width, scale, ratio))


@keras.saving.register_keras_serializable(package="kerasimg")
class RandomResizedCrop(CropLayer):
    """Crop a box of random area and aspect ratio from each image and resize it (Inception crop).

    In training each image of a batch gets its own box, drawn by
    ``sample_resized_crop_box`` (torchvision's ``RandomResizedCrop`` algorithm: ten
    attempts of an area in ``scale`` times the image's and a log-uniform aspect ratio in
    ``ratio``, the first that fits wins, else the centred box with its aspect ratio clamped
    to ``ratio``), all images and attempts at once. The box is then resized to
    ``height x width``. At inference (``training=False``, and so in ``kerasimg.export``)
    the box is the largest centred window with the target's aspect ratio, resized to
    ``height x width`` (``Resize(height, width, crop_to_aspect_ratio=True)``): the output
    has the target size, nothing is distorted, and nothing random happens. (torchvision's
    evaluation recipe, resize then centre-crop 87.5 %, zooms in further; put a
    ``CenterCrop`` after a larger ``Resize`` for it.) Integer input never wraps around.

    The transformation is a box per image: ``top``, ``left``, ``box_height``,
    ``box_width``, int32 tensors of shape ``[B]``.

    Args:
        height: output height, a positive integer.
        width: output width, a positive integer.
        scale: ``(low, high)`` range of the box area as a fraction of the image area,
            ``0 < low <= high <= 1`` (default ``(0.08, 1.0)``).
        ratio: ``(low, high)`` range of the box aspect ratio (width / height),
            ``0 < low <= high`` (default ``(3/4, 4/3)``).
        interpolation: ``"bilinear"`` (default, half-pixel as ``Resize``) or ``"nearest"``.
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
    >>> layer = kerasimg.layers.RandomResizedCrop(2, 2)
    >>> box = {"top": np.array([0]), "left": np.array([1]),
    ...        "box_height": np.array([4]), "box_width": np.array([2])}
    >>> np.asarray(layer.transform_images(x, box))[0, ..., 0].tolist()
    [[3.0, 4.0], [11.0, 12.0]]
    """

    random = True

    def __init__(
        self,
        height: int,
        width: int,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        interpolation: str = "bilinear",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ):
        scale, ratio = check_scale(scale), check_ratio(ratio)
        if interpolation not in _INTERPOLATIONS:
            raise invalid("interpolation", interpolation, f"one of {_INTERPOLATIONS}")
        super().__init__(height, width, data_format=data_format, seed=seed, **kwargs)
        self.scale = scale
        self.ratio = ratio
        self.interpolation = interpolation

    def _draw_box(self, batch_size: Any, image_h: Any, image_w: Any, seed: Any) -> dict:
        uniforms = self._uniform((batch_size, _DRAWS), 0.0, 1.0, seed=seed)
        boxes = _boxes(self.backend, uniforms, image_h, image_w, self.scale, self.ratio)
        return dict(zip(BOX_KEYS, boxes, strict=True))

    def _inference_box(self, image_h: Any, image_w: Any) -> dict:
        return self._centred_box(image_h, image_w, largest=True)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(scale=self.scale, ratio=self.ratio, interpolation=self.interpolation)
        return config
