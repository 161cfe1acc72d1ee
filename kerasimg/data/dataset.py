"""The tf.data adapter: ``from_directory``, ``from_csv`` and ``from_files``.

The three functions take the same keyword arguments (same names, defaults and meaning). One
function, ``_options`` (``kerasimg.data._options``), validates them all up front, before any
file is listed, into a frozen ``_Options``; then the files are listed
(``kerasimg.data.listing``), split and sharded, and the pipeline is built from the options
(``kerasimg.data._pipeline``, where the design notes on epochs, bad files and the cache live).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from kerasimg.data import _pipeline
from kerasimg.data import listing as _listing
from kerasimg.data._options import _Options, _options
from kerasimg.data._pipeline import SkippedFileWarning
from kerasimg.data.decode import MAX_FILE_BYTES

__all__ = ["SkippedFileWarning", "from_csv", "from_directory", "from_files"]

_Datasets = tf.data.Dataset | tuple[tf.data.Dataset, tf.data.Dataset]


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
    opts = _options(
        image_size=image_size, channels=channels, crop_to_aspect_ratio=crop_to_aspect_ratio,
        batch_size=batch_size, shuffle=shuffle, seed=seed, validation_split=validation_split,
        subset=subset, label_mode=label_mode, class_names=class_names, formats=formats,
        on_error=on_error, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
        exif_orientation=exif_orientation, cache=cache, augment=augment,
        input_context=input_context, service=service, interpolation=interpolation,
    )
    return _assemble(opts, lambda: _listing.list_directory(
        directory, opts.formats, opts.label_mode is not None, opts.class_names,
        max_file_bytes=opts.max_file_bytes,
    ))  # fmt: skip


def from_csv(
    csv_path: str | os.PathLike,
    *,
    image_dir: str | os.PathLike | None = None,
    header: bool | None = None,
    encoding: str = "utf-8-sig",
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
        image_size, channels, crop_to_aspect_ratio, batch_size, shuffle, seed,
            validation_split, subset, label_mode, class_names, formats, on_error,
            max_pixels, max_file_bytes, exif_orientation, cache, augment, input_context,
            service, interpolation: as in :func:`from_directory`, with the same defaults.

    Returns:
        As :func:`from_directory`; the files keep the CSV's row order (``shuffle=False``).

    Example:

    >>> ds = from_csv("labels.csv", image_dir="scans/", image_size=(256, 256), seed=1)
    """
    opts = _options(
        image_size=image_size, channels=channels, crop_to_aspect_ratio=crop_to_aspect_ratio,
        batch_size=batch_size, shuffle=shuffle, seed=seed, validation_split=validation_split,
        subset=subset, label_mode=label_mode, class_names=class_names, formats=formats,
        on_error=on_error, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
        exif_orientation=exif_orientation, cache=cache, augment=augment,
        input_context=input_context, service=service, interpolation=interpolation,
    )
    return _assemble(opts, lambda: _listing.list_csv(
        csv_path, image_dir, opts.label_mode is not None, opts.class_names, header, encoding,
        max_file_bytes=opts.max_file_bytes,
    ))  # fmt: skip


def from_files(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[int | str] | None = None,
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
    """A dataset from explicit ``paths`` and optional ``labels`` (names or integer indices).

    Args:
        paths: image files (order kept with ``shuffle=False``).
        labels: one label per path, or None for images alone (then ``label_mode`` is None
            whatever is passed, and ``class_names`` is refused).
        image_size, channels, crop_to_aspect_ratio, batch_size, shuffle, seed,
            validation_split, subset, label_mode, class_names, formats, on_error,
            max_pixels, max_file_bytes, exif_orientation, cache, augment, input_context,
            service, interpolation: as in :func:`from_directory`, with the same defaults.

    Returns:
        As :func:`from_directory`.

    Example:

    >>> ds = from_files(["a.jpg", "b.png"], labels=["cat", "dog"], batch_size=2)
    """
    opts = _options(
        image_size=image_size, channels=channels, crop_to_aspect_ratio=crop_to_aspect_ratio,
        batch_size=batch_size, shuffle=shuffle, seed=seed, validation_split=validation_split,
        subset=subset, label_mode=label_mode, class_names=class_names, formats=formats,
        on_error=on_error, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
        exif_orientation=exif_orientation, cache=cache, augment=augment,
        input_context=input_context, service=service, interpolation=interpolation,
        labeled=labels is not None,
    )
    return _assemble(opts, lambda: _listing.list_files(
        paths, labels if opts.label_mode else None, opts.class_names,
        max_file_bytes=opts.max_file_bytes,
    ))  # fmt: skip


# ---------------------------------------------------------------------- assembly


def _assemble(opts: _Options, make_listing: Callable[[], _listing.Listing]) -> _Datasets:
    """List the files, split and shard them, and build the pipeline of each subset asked for."""
    listing = make_listing()
    if opts.label_mode == "binary" and len(listing.class_names) != 2:
        raise ValueError(
            f'label_mode="binary" needs exactly 2 classes, found {len(listing.class_names)}: '
            f"{listing.class_names!r}"
        )
    parts = {"training": listing, "validation": listing}
    if opts.validation_split is not None:
        parts["training"], parts["validation"] = listing.split(opts.validation_split, opts.seed)
    ctx = opts.input_context
    if ctx is not None:
        parts = {k: v.shard(ctx.num_input_pipelines, ctx.input_pipeline_id) for k, v in parts.items()}
    names = ("training", "validation") if opts.subset == "both" else (opts.subset or "training",)
    datasets = tuple(_pipeline.Pipeline(opts, parts[k], opts.decoder).dataset() for k in names)
    return datasets if opts.subset == "both" else datasets[0]
