"""The tf.data adapter: ``from_directory``, ``from_csv`` and ``from_files``.

The functions validate every argument up front, list the files (``kerasimg.data.listing``),
split and shard the listing, then build the pipeline (``kerasimg.data._pipeline``, where the
design notes on epochs, bad files and the cache live).
"""

from __future__ import annotations

import inspect
import numbers
import os
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from kerasimg.data import _pipeline
from kerasimg.data import listing as _listing
from kerasimg.data._pipeline import SkippedFileWarning
from kerasimg.data.decode import MAX_FILE_BYTES, ImageDecoder

__all__ = ["SkippedFileWarning", "from_csv", "from_directory", "from_files"]

_LABEL_MODES = ("int", "categorical", "binary", None)
_SUBSETS = ("training", "validation", "both")


def from_directory(
    directory: str | os.PathLike,
    *,
    image_size: tuple[int, int] | None = (224, 224),
    channels: int = 3,
    crop_to_aspect_ratio: bool = False,
    batch_size: int | None = 32,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    formats: Sequence[str] = tuple(_listing.EXTENSIONS),
    on_error: str = "skip",
    max_pixels: int = 50_000_000,
    max_file_bytes: int = MAX_FILE_BYTES,
    exif_orientation: bool = True,
    cache: bool | str | os.PathLike = False,
    augment: Sequence[Any] | None = None,
    input_context: tf.distribute.InputContext | None = None,
    service: str | None = None,
    interpolation: str = "bilinear",
) -> tf.data.Dataset | tuple[tf.data.Dataset, tf.data.Dataset]:
    """A dataset of ``(images, labels)`` from ``directory/<class>/...`` image files.

    Classes are the first-level sub-folders (sorted); their images may sit at any depth. Files
    are listed with ``os.scandir`` (a transient progress bar appears on stderr when that takes
    over a second), matched by extension and sorted; the decoder reads the real format from
    the bytes.

    Args:
        directory: the root folder.
        image_size: ``(height, width)`` every image is resized to; None keeps the native size
            and yields single images (``batch_size`` is then not used). Defaults to (224, 224).
        channels: 1, 3 or 4. Defaults to 3.
        crop_to_aspect_ratio: crop the centred window of the target aspect ratio before
            resizing. Defaults to False.
        batch_size: images per batch (the global batch with ``input_context``), or None for
            single images. Defaults to 32.
        shuffle: reshuffle the whole file order every epoch; False keeps the sorted order.
        seed: makes the split, the order and the augmentation reproducible across processes.
            Each iteration of the dataset (``iter(ds)``: one epoch of ``model.fit``) draws the
            next key of a sequence fixed by ``seed``; the order and the augmentation of an
            epoch follow from its key, so a peek (``next(iter(ds))``) uses up a key too.
            Required with ``validation_split``. Defaults to None (random).
        validation_split: fraction in (0, 1) held out for validation. Defaults to None.
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns ``(train, val)``).
        label_mode: ``"int"`` (int32), ``"categorical"`` (one-hot float32), ``"binary"``
            (float32 ``[B, 1]``, two classes) or None (images only). Defaults to "int".
        class_names: the classes to read, in label order. Defaults to all sub-folders, sorted.
        formats: accepted image formats. Defaults to jpeg, png, gif, bmp and webp.
        on_error: ``"skip"`` (default) records bad files in ``ds.skipped`` and warns once
            (``SkippedFileWarning``); ``"raise"`` stops at the first with an error naming it.
        max_pixels: larger images are refused from their header. Defaults to 50,000,000.
        max_file_bytes: larger files are refused from ``os.stat``, before they are read.
            Defaults to 256 MiB. Only regular files are read (a symlink is judged by its
            target; FIFOs, devices and sockets are skipped with their reason, never opened).
        exif_orientation: JPEGs turned upright as their EXIF Orientation tag says (what a
            photo viewer shows). Defaults to True.
        cache: False (default), True (decoded images kept in memory) or a path prefix (cache
            files ``<path>.<fingerprint>.*``, reused by later runs over the same files, with the
            same sizes and modification times, and settings; a cache left unfinished by a
            killed run is removed with a warning and filled again). Images are cached before augmentation, so each file is decoded once
            while the order and the augmentation still change every epoch (the cached images
            are reshuffled through a buffer: the whole epoch in memory, which only holds
            references; up to 1 GiB of images with a cache path).
        augment: kerasimg layers applied to each image with stateless seeds from (seed,
            epoch, file index); the results are rounded back to uint8. Defaults to None.
        input_context: a ``tf.distribute.InputContext``: this pipeline reads its share of the
            files only, and batches of ``get_per_replica_batch_size(batch_size)``.
        service: ``"grpc://HOST:PORT"`` of a tf.data service dispatcher: reading, decoding and
            augmentation run on its workers (see ``kerasimg.data.service``). No cache then.
        interpolation: resize method. Defaults to "bilinear".

    Returns:
        A ``tf.data.Dataset`` of ``(images, labels)``, images uint8 ``[B, H, W, C]``, or of
        images alone with ``label_mode=None``; a pair with ``subset="both"``. It carries
        ``class_names``, ``file_paths`` (the files it reads), ``decoder`` (the
        ``ImageDecoder``) and ``skipped`` (a live list of ``(path, reason)``, filled as bad
        files are met). These attributes are plain Python attributes: a derived dataset
        (``ds.map(...)``) does not have them.

    Raises:
        ValueError: an invalid argument (named, with the value received), a missing folder,
            no images, ``"binary"`` without two classes; with ``on_error="raise"``, an entry
            that is a directory.

    Example:

    >>> train, val = from_directory("photos/", image_size=(128, 128), validation_split=0.2,
    ...                             subset="both", seed=7)
    >>> train.class_names
    ['cat', 'dog']
    """
    cfg = _Config(locals())
    return cfg.build(
        lambda: _listing.list_directory(
            directory, cfg.decoder.formats, label_mode is not None, class_names,
            max_file_bytes=cfg.decoder.max_file_bytes,
        )
    )


def from_csv(
    csv_path: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    header: bool | None = None,
    encoding: str = "utf-8-sig",
    **kwargs: Any,
) -> tf.data.Dataset | tuple[tf.data.Dataset, tf.data.Dataset]:
    """A dataset from a CSV of ``image_name,label`` rows (the header row is optional).

    Labels are class names, or integer indices into ``class_names`` (without it, integer
    labels are indices below ``kerasimg.data.listing.MAX_INTEGER_LABELS``). A row naming a
    missing file is skipped (listed in ``ds.skipped``) or, with ``on_error="raise"``, a
    ``ValueError`` naming its line. With ``label_mode=None`` only the first column is read. A
    row with more than two columns is a ``ValueError`` naming its line (quote file names that
    hold a comma); a file listed with two different labels gives a ``UserWarning`` naming the
    lines. Relative names are read under ``image_dir``; absolute names are read as they are.

    Args:
        csv_path: the CSV file.
        image_dir: folder of relative image names. Defaults to the CSV's folder.
        header: whether the first row is a header; None (default) detects one.
        encoding: the CSV's text encoding. Defaults to "utf-8-sig" (UTF-8, BOM or not).
        **kwargs: the keyword arguments of :func:`from_directory`.

    Returns:
        As :func:`from_directory`; the files keep the CSV's row order (``shuffle=False``).

    Example:

    >>> ds = from_csv("labels.csv", image_dir="scans/", image_size=(256, 256), seed=1)
    """
    cfg = _Config(kwargs)
    labeled = cfg.label_mode is not None
    return cfg.build(
        lambda: _listing.list_csv(
            csv_path, image_dir, labeled, cfg.class_names, header, encoding,
            max_file_bytes=cfg.decoder.max_file_bytes,
        )
    )


def from_files(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[int | str] | None = None,
    **kwargs: Any,
) -> tf.data.Dataset | tuple[tf.data.Dataset, tf.data.Dataset]:
    """A dataset from explicit ``paths`` and optional ``labels`` (names or integer indices).

    Args:
        paths: image files (order kept with ``shuffle=False``).
        labels: one label per path, or None for images alone.
        **kwargs: the keyword arguments of :func:`from_directory`.

    Returns:
        As :func:`from_directory`.

    Example:

    >>> ds = from_files(["a.jpg", "b.png"], labels=["cat", "dog"], batch_size=2)
    """
    cfg = _Config(kwargs)
    if labels is None:
        if cfg.class_names is not None:
            raise ValueError(f"class_names={cfg.class_names!r} needs labels; received labels=None")
        cfg.label_mode = None
    return cfg.build(
        lambda: _listing.list_files(
            paths, labels if cfg.label_mode else None, cfg.class_names,
            max_file_bytes=cfg.decoder.max_file_bytes,
        )
    )


# ---------------------------------------------------------------------- configuration

_DEFAULTS = {
    k: v.default
    for k, v in inspect.signature(from_directory).parameters.items()
    if v.kind == v.KEYWORD_ONLY
}


def _bad(name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={value!r}")


class _Config:
    """Every shared keyword argument, validated up front (before any file is listed)."""

    def __init__(self, given: dict[str, Any]) -> None:
        unknown = sorted(set(given) - set(_DEFAULTS) - {"directory", "cfg"})
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {unknown}")
        opts = {**_DEFAULTS, **{k: v for k, v in given.items() if k in _DEFAULTS}}
        self.__dict__.update(opts)
        self.decoder = ImageDecoder(
            image_size=self.image_size, channels=self.channels,
            crop_to_aspect_ratio=self.crop_to_aspect_ratio, formats=self.formats,
            max_pixels=self.max_pixels, interpolation=self.interpolation,
            max_file_bytes=self.max_file_bytes, exif_orientation=self.exif_orientation,
        )  # fmt: skip
        if self.batch_size is not None and not (_is_int(self.batch_size) and self.batch_size > 0):
            raise _bad("batch_size", self.batch_size, "a positive integer or None")
        if not isinstance(self.shuffle, bool):
            raise _bad("shuffle", self.shuffle, "True or False")
        if self.seed is not None and not (_is_int(self.seed) and 0 <= self.seed < 2**63):
            raise _bad("seed", self.seed, "a non-negative integer or None")
        vs = self.validation_split
        if vs is not None and (isinstance(vs, bool) or not isinstance(vs, (int, float)) or not 0 < vs < 1):
            raise _bad("validation_split", vs, "a fraction strictly between 0 and 1, or None")
        if self.subset not in (None, *_SUBSETS):
            raise _bad("subset", self.subset, f"one of {_SUBSETS} or None")
        if (vs is None) != (self.subset is None):
            raise ValueError(
                "validation_split and subset go together: received "
                f"validation_split={vs!r}, subset={self.subset!r}"
            )
        if vs is not None and self.seed is None:
            raise ValueError(
                f"validation_split={vs!r} needs a seed, so that the training and validation "
                "calls split the files identically; received seed=None"
            )
        if self.label_mode not in _LABEL_MODES:
            raise _bad("label_mode", self.label_mode, f"one of {_LABEL_MODES}")
        names = self.class_names
        if names is not None:
            if isinstance(names, str) or not all(isinstance(c, str) for c in names):
                raise _bad("class_names", names, "a list of strings")
            if len(set(names)) != len(names) or not names:
                raise _bad("class_names", names, "a non-empty list of distinct names")
            if self.label_mode is None:
                raise ValueError(f"class_names={list(names)!r} needs labels; received label_mode=None")
        if self.on_error not in ("skip", "raise"):
            raise _bad("on_error", self.on_error, "'skip' or 'raise'")
        self._check_cache()
        if self.augment is not None:
            from kerasimg.layers import BaseImageLayer

            if isinstance(self.augment, BaseImageLayer) or not all(
                isinstance(layer, BaseImageLayer) for layer in self.augment
            ):
                raise _bad("augment", self.augment, "a list of kerasimg layers, or None")
            self.augment = list(self.augment)
            self._check_decode_time_crop()
        ctx = self.input_context
        if ctx is not None and not isinstance(ctx, tf.distribute.InputContext):
            raise _bad("input_context", ctx, "a tf.distribute.InputContext or None")
        if self.service is not None:
            from kerasimg.data import service as _service

            self.service = _service.check_address(self.service, "service")
            if self.cache is not False:
                raise ValueError(f"cache={self.cache!r} cannot be used with service={self.service!r}")

    def _check_decode_time_crop(self) -> None:
        """A crop layer first in ``augment`` runs inside the decode (issue 13): its size is the
        output size, so ``image_size`` must agree with it, or be None to let the crop decide."""
        from kerasimg.layers._crop import CropLayer

        if not self.augment or not isinstance(self.augment[0], CropLayer):
            return
        crop = self.augment[0]
        size = (int(crop.height), int(crop.width))
        if self.crop_to_aspect_ratio:
            raise ValueError(
                f"crop_to_aspect_ratio=True and augment starting with {type(crop).__name__}{size}: the "
                "crop layer decides the window; set crop_to_aspect_ratio=False"
            )
        if self.image_size is None:
            self.image_size = size
            self.decoder = ImageDecoder.from_config({**self.decoder.get_config(), "image_size": list(size)})
        elif tuple(self.image_size) != size:
            raise ValueError(
                f"image_size={tuple(self.image_size)} does not match the crop that starts augment, "
                f"{type(crop).__name__}{size}: the crop runs inside the decode and gives the output "
                "size; pass image_size=None (the crop decides) or the same size"
            )

    def _check_cache(self) -> None:
        cache = self.cache
        if isinstance(cache, bool):
            return
        if not isinstance(cache, (str, os.PathLike)) or not os.fspath(cache):
            raise _bad("cache", cache, "True, False or a file path prefix")
        folder = os.path.dirname(os.path.abspath(os.fspath(cache)))
        if not os.path.isdir(folder):
            raise _bad("cache", cache, f"a path in an existing folder ({folder!r} does not exist)")

    def build(self, make_listing: Any) -> tf.data.Dataset | tuple[tf.data.Dataset, tf.data.Dataset]:
        listing = make_listing()
        if self.label_mode == "binary" and len(listing.class_names) != 2:
            raise ValueError(
                f'label_mode="binary" needs exactly 2 classes, found {len(listing.class_names)}: '
                f"{listing.class_names!r}"
            )
        parts = {"training": listing, "validation": listing}
        if self.validation_split is not None:
            parts["training"], parts["validation"] = listing.split(self.validation_split, self.seed)
        ctx = self.input_context
        if ctx is not None:
            parts = {k: v.shard(ctx.num_input_pipelines, ctx.input_pipeline_id) for k, v in parts.items()}
        if self.subset == "both":
            return tuple(_pipeline.Pipeline(self, parts[k]).dataset() for k in ("training", "validation"))
        return _pipeline.Pipeline(self, parts[self.subset or "training"]).dataset()


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
