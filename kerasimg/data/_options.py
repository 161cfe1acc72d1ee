"""The shared keyword arguments of ``kerasimg.data.from_*``, validated (private).

``from_directory``, ``from_csv`` and ``from_files`` take the same keyword arguments (same
names, defaults and meaning). :func:`_options` validates them all, before any file is listed,
into one frozen :class:`_Options` (which also holds the ``ImageDecoder``); the pipeline
(``kerasimg.data._pipeline.Pipeline``) is built from it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import tensorflow as tf

from kerasimg._validate import check_seed, invalid, is_int, require
from kerasimg.data.decode import ImageDecoder

_LABEL_MODES = ("int", "categorical", "binary", None)
_SUBSETS = ("training", "validation", "both")


@dataclasses.dataclass(frozen=True)
class _Options:
    """The shared keyword arguments of the three functions, validated, plus the decoder.

    Built by :func:`_options` only. Values are normalised: integers are ``int``,
    ``class_names``, ``formats`` and ``augment`` tuples, ``image_size`` and ``formats`` those of
    ``decoder`` (``image_size`` is the crop's size when a crop layer starts ``augment`` and
    ``image_size=None``), ``service`` the checked address.
    """

    image_size: tuple[int, int] | None
    channels: int
    crop_to_aspect_ratio: bool
    batch_size: int | None
    shuffle: bool
    seed: int | None
    validation_split: float | None
    subset: str | None
    label_mode: str | None
    class_names: tuple[str, ...] | None
    formats: tuple[str, ...]
    on_error: str
    max_pixels: int
    max_file_bytes: int
    exif_orientation: bool
    cache: bool | str | os.PathLike
    augment: tuple[Any, ...] | None
    input_context: tf.distribute.InputContext | None
    service: str | None
    interpolation: str
    decoder: ImageDecoder


def _options(
    *, image_size: Any, channels: Any, crop_to_aspect_ratio: Any, batch_size: Any, shuffle: Any,
    seed: Any, validation_split: Any, subset: Any, label_mode: Any, class_names: Any, formats: Any,
    on_error: Any, max_pixels: Any, max_file_bytes: Any, exif_orientation: Any, cache: Any,
    augment: Any, input_context: Any, service: Any, interpolation: Any, labeled: bool = True,
) -> _Options:
    """Validate every shared keyword argument, in this order, and return them frozen.

    ``labeled=False`` (``from_files`` without labels): ``class_names`` is refused after the
    other checks, and ``label_mode`` becomes None. Raises ``ValueError`` naming the argument
    and the value received (``kerasimg._validate``'s template), or the two arguments that
    disagree.
    """
    decoder_args = dict(
        channels=channels, crop_to_aspect_ratio=crop_to_aspect_ratio, formats=formats,
        max_pixels=max_pixels, interpolation=interpolation, max_file_bytes=max_file_bytes,
        exif_orientation=exif_orientation,
    )  # fmt: skip
    decoder = ImageDecoder(image_size=image_size, **decoder_args)
    require(batch_size is None or (is_int(batch_size) and batch_size > 0), "batch_size", batch_size,
            "a positive integer or None")  # fmt: skip
    require(isinstance(shuffle, bool), "shuffle", shuffle, "True or False")
    seed = check_seed("seed", seed)
    vs = validation_split
    require(vs is None or (not isinstance(vs, bool) and isinstance(vs, (int, float)) and 0 < vs < 1),
            "validation_split", vs, "a fraction strictly between 0 and 1, or None")  # fmt: skip
    require(subset in (None, *_SUBSETS), "subset", subset, f"one of {_SUBSETS} or None")
    if (vs is None) != (subset is None):
        raise ValueError(f"validation_split and subset go together: received validation_split={vs!r}, subset={subset!r}")
    if vs is not None and seed is None:
        raise ValueError(
            f"validation_split={vs!r} needs a seed, so that the training and validation "
            "calls split the files identically; received seed=None"
        )
    require(label_mode in _LABEL_MODES, "label_mode", label_mode, f"one of {_LABEL_MODES}")
    if class_names is not None:
        require(not isinstance(class_names, str) and all(isinstance(c, str) for c in class_names),
                "class_names", class_names, "a list of strings")  # fmt: skip
        require(class_names and len(set(class_names)) == len(class_names), "class_names", class_names,
                "a non-empty list of distinct names")  # fmt: skip
        if label_mode is None:
            raise ValueError(f"class_names={list(class_names)!r} needs labels; received label_mode=None")
    require(on_error in ("skip", "raise"), "on_error", on_error, "'skip' or 'raise'")
    _check_cache(cache)
    if augment is not None:
        from kerasimg.layers import BaseImageLayer

        require(not isinstance(augment, BaseImageLayer) and all(isinstance(a, BaseImageLayer) for a in augment),
                "augment", augment, "a list of kerasimg layers, or None")  # fmt: skip
        augment = tuple(augment)
        size = _decode_time_crop_size(augment, crop_to_aspect_ratio, decoder.image_size)
        if size != decoder.image_size:
            decoder = ImageDecoder(image_size=size, **decoder_args)
    require(input_context is None or isinstance(input_context, tf.distribute.InputContext),
            "input_context", input_context, "a tf.distribute.InputContext or None")  # fmt: skip
    if service is not None:
        from kerasimg.data import service as _service

        service = _service.check_address(service, "service")
        if cache is not False:
            raise ValueError(f"cache={cache!r} cannot be used with service={service!r}")
    if not labeled:
        if class_names is not None:
            raise ValueError(f"class_names={class_names!r} needs labels; received labels=None")
        label_mode = None
    return _Options(
        image_size=decoder.image_size, channels=decoder.channels, crop_to_aspect_ratio=crop_to_aspect_ratio,
        batch_size=None if batch_size is None else int(batch_size), shuffle=shuffle, seed=seed,
        validation_split=vs, subset=subset, label_mode=label_mode,
        class_names=None if class_names is None else tuple(class_names), formats=decoder.formats,
        on_error=on_error, max_pixels=decoder.max_pixels, max_file_bytes=decoder.max_file_bytes,
        exif_orientation=exif_orientation, cache=cache, augment=augment, input_context=input_context,
        service=service, interpolation=interpolation, decoder=decoder,
    )  # fmt: skip


def _decode_time_crop_size(
    augment: tuple[Any, ...], crop_to_aspect_ratio: bool, image_size: tuple[int, int] | None
) -> tuple[int, int] | None:
    """The output size when a crop layer starts ``augment``: it runs inside the decode (issue
    13), so ``image_size`` must be its size, or None to let the crop decide. Else ``image_size``."""
    from kerasimg.layers._crop import CropLayer

    if not augment or not isinstance(augment[0], CropLayer):
        return image_size
    crop = augment[0]
    size = (int(crop.height), int(crop.width))
    if crop_to_aspect_ratio:
        raise ValueError(
            f"crop_to_aspect_ratio=True and augment starting with {type(crop).__name__}{size}: the "
            "crop layer decides the window; set crop_to_aspect_ratio=False"
        )
    if image_size is not None and tuple(image_size) != size:
        raise ValueError(
            f"image_size={tuple(image_size)} does not match the crop that starts augment, "
            f"{type(crop).__name__}{size}: the crop runs inside the decode and gives the output "
            "size; pass image_size=None (the crop decides) or the same size"
        )
    return size


def _check_cache(cache: Any) -> None:
    """``cache`` is a bool, or a non-empty path prefix in an existing folder."""
    if isinstance(cache, bool):
        return
    if not isinstance(cache, (str, os.PathLike)) or not os.fspath(cache):
        raise invalid("cache", cache, "True, False or a file path prefix")
    folder = os.path.dirname(os.path.abspath(os.fspath(cache)))
    if not os.path.isdir(folder):
        raise invalid("cache", cache, f"a path in an existing folder ({folder!r} does not exist)")
