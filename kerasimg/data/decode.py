"""Guarded, fast image decoding in pure TensorFlow ops (``kerasimg.data.ImageDecoder``)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from kerasimg._compat import single_device_dataset_functions
from kerasimg._validate import is_int as _is_int
from kerasimg._validate import require as _require
from kerasimg.data import _headers
from kerasimg.data._guard import GuardedDecode
from kerasimg.data._headers import FORMATS
from kerasimg.data._pixels import _DTYPES, PixelPath

_no_autograph = tf.autograph.experimental.do_not_convert
_INTERPOLATIONS = (
    "bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic",
)  # fmt: skip
#: Default bound on the bytes of one encoded image (a file's size, from ``stat``, before it is read).
MAX_FILE_BYTES = 256 * 2**20


class ImageDecoder(GuardedDecode, PixelPath):
    """Decodes encoded image bytes safely and quickly, in graph mode, with pure TF ops.

    The same object serves the tf.data adapter (``decode`` inside ``Dataset.map``), Python
    callers (``decode_file``, ``why_bad``) and the exported SavedModel: the decode graph holds
    TensorFlow ops only (no ``tf.py_function``), so it runs where kerasimg is not installed.

    Before a pixel is decoded, a lean guard (``kerasimg/data/_guard.py``: a few ops per format)
    reads the format from the magic bytes (never the extension) and the size where the format
    keeps it (JPEG: libjpeg's own header reader, the very size the decoder will allocate; PNG
    IHDR; GIF: the screen and the first frame's descriptor; BMP info header; WebP VP8/VP8L/VP8X),
    refuses images over ``max_pixels`` and ``max_file_bytes`` and the format's own bombs (a JPEG
    with over 256 scans, a GIF frame outside its screen, animated WebP), then calls TF's
    decoder, which refuses truncated and corrupt data itself. Every refusal is a
    ``tf.errors.InvalidArgumentError``: ``kerasimg: <reason>`` from the guard, or TF's own
    message from the decoder.

    ``check`` is the detailed header inspector (marker walk, truncation, chunk sizes). It is not
    on the decode path: it explains failures (``why_bad``, the datasets' skip list, ``kerasimg
    scan``, ``serving_bytes`` messages) and can be stricter than ``decode`` (libjpeg skips stray
    bytes between markers; ``check`` refuses them). A file is bad exactly when ``decode`` fails.

    With ``image_size`` set, JPEGs are decoded at the largest DCT scale (1/8, 1/4, 1/2)
    whose output still covers the target in both dimensions, and cropped while decoding when
    ``crop_to_aspect_ratio`` is set (the centred window of
    ``keras.utils.image_dataset_from_directory``); every image is then resized to exactly
    ``image_size`` with ``interpolation`` (``tf.image.resize``, no antialiasing, as Keras).

    Outcomes of the odd cases (each is tested):

    * grey into 3 channels: replicated; 3 into 1: luma (ITU-R 601: the JPEG/PNG decoder's
      own, else ``round(0.299 R + 0.587 G + 0.114 B)``); into 4: opaque alpha (255) added.
    * RGBA / grey+alpha into 3 or 1 channels: alpha dropped (not composited on a background).
    * CMYK / YCCK JPEG: TF converts to RGB itself (naive formula, Adobe inversion honoured,
      no ICC colour management); with ``channels=1`` it is decoded as RGB, then luma.
    * 16-bit PNG: ``dtype="uint16"`` keeps the 16-bit values; ``"uint8"`` gives
      ``round(v / 257)`` (never truncated to the high byte); ``"float32"`` gives ``v / 257``.
      8-bit images as ``"uint16"`` are scaled by 257, so 65535 is white for every source.
    * ``dtype="float32"``: values in [0, 255], not divided (clipped after bicubic/lanczos).
    * animated GIF: the first frame only (GIF transparency is ignored by TF). TF's GIF
      decoder reads every frame of what it is given, so it is given the file up to the first
      frame's end (the same pixels; a 6-frame GIF decodes ~4x faster than ``decode_gif``):
      ``max_pixels`` applies to the logical screen (the frame must lie within it), frames
      after the first are never read, and a GIF with over 1,024 blocks before its first
      frame's end is refused.
    * animated WebP: refused ("animated WebP not supported") because TF 2.21's WebP
      animation path corrupts the heap; still WebP (lossy, lossless, with alpha) decodes.
    * BMP: 8, 24 and 32 bits per pixel, uncompressed or BI_BITFIELDS, exact file size (TF's
      limits, checked up front); an 8-bit BMP with a colour palette is refused (TF would
      return palette indices as grey levels).
    * a PNG named ``.jpg`` decodes as PNG; a JPEG with bytes after its end marker decodes.
    * JPEG markers are walked strictly by their lengths: stray bytes between markers (which
      libjpeg skips with a warning) give "corrupt JPEG header (invalid marker at byte N)".
    * ``image_size=None``: native size, every format, shape ``[None, None, channels]``.

    Args:
        image_size: ``(height, width)`` of every output, or None for the native size.
            Defaults to ``(224, 224)``.
        channels: 1, 3 or 4. Defaults to 3.
        crop_to_aspect_ratio: crop the centred window of the target aspect ratio before
            resizing (needs ``image_size``). Defaults to False.
        formats: accepted formats, from ``("jpeg", "png", "gif", "bmp", "webp")`` (all).
        max_pixels: largest ``width * height`` accepted. Defaults to 50,000,000.
        max_file_bytes: longest encoded image accepted, in bytes (the adapter also refuses
            larger files from ``os.stat``, before reading them). Defaults to 256 MiB.
        exif_orientation: turn JPEGs as their EXIF Orientation tag says (1-8), so the model
            gets what a photo viewer shows; ``image_size``, ``crop_to_aspect_ratio`` and
            decode-time crops apply to the upright image. The tag is read from the first
            64 KiB (APP1), in TF ops; a missing or malformed EXIF block means "as stored".
            Other formats' EXIF (PNG ``eXIf``, WebP) is not read. Defaults to True.
        dtype: ``"uint8"`` (default), ``"uint16"`` or ``"float32"`` (0..255).
        interpolation: a ``tf.image.resize`` method. Defaults to ``"bilinear"``.

    Example:

    >>> decoder = ImageDecoder(image_size=(64, 64))
    >>> image = decoder.decode(tf.io.read_file("cat.jpg"))  # doctest: +SKIP
    >>> ok, reason = decoder.check(tf.constant(b"not an image"))
    >>> reason.numpy()
    b'unsupported format (not JPEG, PNG, GIF, BMP or WebP)'
    """

    def __init__(
        self,
        image_size: tuple[int, int] | None = (224, 224),
        channels: int = 3,
        crop_to_aspect_ratio: bool = False,
        formats: Sequence[str] = FORMATS,
        max_pixels: int = 50_000_000,
        dtype: str = "uint8",
        interpolation: str = "bilinear",
        max_file_bytes: int = MAX_FILE_BYTES,
        exif_orientation: bool = True,
    ) -> None:
        pair = isinstance(image_size, Sequence) and not isinstance(image_size, (str, bytes))
        pair = pair and len(image_size) == 2 and all(_is_int(v) and v > 0 for v in image_size)
        _require(image_size is None or pair, "image_size", image_size,
                 "None or a (height, width) pair of positive integers")  # fmt: skip
        _require(_is_int(channels) and channels in (1, 3, 4), "channels", channels, "1, 3 or 4")
        _require(isinstance(crop_to_aspect_ratio, bool), "crop_to_aspect_ratio", crop_to_aspect_ratio, "a bool")
        _require(not (crop_to_aspect_ratio and image_size is None), "image_size", image_size,
                 "set when crop_to_aspect_ratio=True")  # fmt: skip
        formats = (formats,) if isinstance(formats, str) else tuple(formats)
        _require(bool(formats) and all(f in FORMATS for f in formats), "formats", formats,
                 f"a non-empty subset of {FORMATS}")  # fmt: skip
        _require(_is_int(max_pixels) and max_pixels > 0, "max_pixels", max_pixels, "a positive integer")
        _require(_is_int(max_file_bytes) and 0 < max_file_bytes < 2**31, "max_file_bytes", max_file_bytes,
                 "a positive integer below 2**31 (TensorFlow strings are int32-indexed)")  # fmt: skip
        _require(isinstance(dtype, str) and dtype in _DTYPES, "dtype", dtype, f"one of {tuple(_DTYPES)}")
        _require(isinstance(interpolation, str) and interpolation in _INTERPOLATIONS, "interpolation",
                 interpolation, f"one of {_INTERPOLATIONS}")  # fmt: skip
        image_size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
        self.image_size = image_size
        self.channels = int(channels)
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.formats = tuple(dict.fromkeys(formats))
        self.max_pixels = int(max_pixels)
        self.dtype = dtype
        self.interpolation = interpolation
        self.max_file_bytes = int(max_file_bytes)
        _require(isinstance(exif_orientation, bool), "exif_orientation", exif_orientation, "True or False")
        self.exif_orientation = exif_orientation
        self._allowed = [f for f in FORMATS if f in self.formats]
        # format index (0 unknown, 1 + FORMATS.index) -> switch branch (0 refuse, 1 + allowed.index)
        self._branch_of_fmt = [0] + [self._allowed.index(f) + 1 if f in self._allowed else 0 for f in FORMATS]
        self._decoders = {
            "jpeg": self._decode_jpeg, "png": self._decode_png, "gif": self._decode_gif,
            "bmp": self._decode_bmp, "webp": self._decode_webp,
        }  # fmt: skip
        self._eager_fns: dict[str, Any] = {}

    # ------------------------------------------------------------------ public API

    @property
    def output_shape(self) -> tuple[int | None, int | None, int]:
        """``(height, width, channels)``; height and width are None without ``image_size``."""
        height, width = self.image_size or (None, None)
        return (height, width, self.channels)

    @_no_autograph  # plain TF ops, built as written (also inside a user's tf.function)
    def format_of(self, contents: tf.Tensor) -> tf.Tensor:
        """The format read from the magic bytes: a string scalar, ``b""`` when unknown.

        Example:

        >>> ImageDecoder().format_of(tf.constant(b"GIF89a...")).numpy()
        b'gif'
        """
        contents = _scalar(contents)
        fmt = _headers.detect(contents, tf.strings.length(contents))[0]
        return tf.gather(tf.constant(("",) + FORMATS), fmt)

    @_no_autograph  # plain TF ops, built as written (also inside a user's tf.function)
    def check(self, contents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Validates the header without decoding pixels; graph-safe and never raises.

        Stricter than ``decode`` on whole JPEGs (see the class notes): ``decode`` may accept
        a JPEG that ``check`` refuses (stray bytes between markers, which libjpeg skips).

        Returns:
            ``(ok, reason)``: a bool scalar and a string scalar (``b""`` when ok).

        Example:

        >>> ok, reason = ImageDecoder().check(tf.constant(b""))
        >>> bool(ok), reason.numpy()
        (False, b'empty file')
        """
        contents = _scalar(contents)
        if tf.executing_eagerly():
            return self._eager("_check")(contents)
        return self._check(contents)

    @_no_autograph  # plain TF ops, built as written (also inside a user's tf.function)
    def decode(self, contents: tf.Tensor) -> tf.Tensor:
        """Decodes one encoded image (a scalar string) into ``[H, W, channels]`` of ``dtype``.

        Raises:
            tf.errors.InvalidArgumentError: the message contains ``kerasimg: <reason>`` when
                ``check`` refuses the bytes, or TF's decoder message for corrupt data.

        Example:

        >>> ds = tf.data.Dataset.list_files("photos/*.jpg").map(tf.io.read_file)  # doctest: +SKIP
        >>> ds = ds.map(ImageDecoder(image_size=(128, 128)).decode)  # doctest: +SKIP
        """
        contents = _scalar(contents)
        if tf.executing_eagerly():
            return self._eager("_decode")(contents)
        return self._decode(contents)

    @_no_autograph  # plain TF ops, built as written (also inside a user's tf.function)
    def decode_batch(self, image_bytes: tf.Tensor, indices: tf.Tensor | None = None) -> tf.Tensor:
        """Decodes a string batch ``[N]`` into ``[N, height, width, channels]``, all or nothing.

        What ``kerasimg.export``'s ``serving_bytes`` runs. The verdict is ``decode``'s on each
        image; the first refused image stops the call with ``InvalidArgumentError`` whose
        message is ``kerasimg: image_bytes[<i>]: <reason>``, the reason ``why_bad`` gives.
        Without an ``image_size`` (native sizes, which do not stack) it takes one image.

        Example:

        >>> decoder = ImageDecoder(image_size=(8, 8))
        >>> png = tf.io.encode_png(tf.zeros([20, 30, 3], tf.uint8))
        >>> decoder.decode_batch(tf.stack([png, png])).shape
        TensorShape([2, 8, 8, 3])
        """
        # The one-call pipeline below is instantiated at every call: single-device functions,
        # without Grappler (what most of serving_bytes' cost over a bare decode was).
        with single_device_dataset_functions():
            return self._decode_batch(image_bytes, indices)

    def _decode_batch(self, image_bytes: tf.Tensor, indices: tf.Tensor | None) -> tf.Tensor:
        image_bytes = tf.convert_to_tensor(image_bytes, tf.string)
        count = tf.shape(image_bytes, out_type=tf.int64)[0]
        if indices is None:
            indices = tf.range(count)
        blank = self._blank()
        if self.image_size is None:  # one image of its own size: no batch to stack
            image, ok = (
                tf.data.Dataset.from_tensors(image_bytes[0]).map(lambda c: (self.decode(c), True)).ignore_errors()
                .concatenate(tf.data.Dataset.from_tensors((blank, False))).take(1).get_single_element()
            )  # fmt: skip

            def refuse_one() -> tf.Tensor:
                index = tf.strings.as_string(indices[0])
                message = tf.strings.join(["kerasimg: image_bytes[", index, "]: ", self._explain(image_bytes[0])])
                with tf.control_dependencies([tf.debugging.Assert(False, [message], name="kerasimg_check")]):
                    return tf.identity(image)

            return tf.cond(ok, lambda: image, refuse_one)[None]
        # TF's decoders fail inside their op; a tf.data pipeline with ignore_errors turns a
        # failure into a missing element, found by its index (a sentinel closes the batch).
        images = tf.data.Dataset.from_tensor_slices((tf.range(count), image_bytes)).map(
            lambda i, contents: (i, self.decode(contents))
        )
        images = images.ignore_errors().concatenate(tf.data.Dataset.from_tensors((count, blank)))
        got, decoded = images.batch(count + 1).get_single_element()
        first = tf.argmin(tf.cast(tf.equal(got, tf.range(tf.size(got, out_type=tf.int64))), tf.int32))

        def refuse() -> tf.Tensor:
            contents = image_bytes[tf.minimum(first, count - 1)]
            index = tf.strings.as_string(tf.gather(indices, tf.minimum(first, count - 1)))
            message = tf.strings.join(["kerasimg: image_bytes[", index, "]: ", self._explain(contents)])
            with tf.control_dependencies([tf.debugging.Assert(False, [message], name="kerasimg_check")]):
                return tf.identity(decoded[:-1])

        return tf.cond(tf.equal(tf.size(got, out_type=tf.int64), count + 1), lambda: decoded[:-1], refuse)

    @_no_autograph  # plain TF ops, built as written (also inside a user's tf.function)
    def resize_images(self, images: tf.Tensor) -> tf.Tensor:
        """Crops, resizes and converts decoded uint8 images as ``decode`` does after decoding.

        Rank 3 ``[H, W, C]`` or 4 ``[N, H, W, C]``; what ``serving_default`` of an export runs,
        so raw pixels and encoded bytes reach the model through the same ops and rounding.

        Example:

        >>> ImageDecoder(image_size=(8, 8)).resize_images(tf.zeros([2, 30, 40, 3], tf.uint8)).shape
        TensorShape([2, 8, 8, 3])
        """
        images = tf.convert_to_tensor(images)
        if images.dtype != tf.uint8:
            raise ValueError(f"images must be uint8, received dtype {images.dtype.name}")
        return self._finish(images)

    def why_bad(self, contents: bytes) -> str | None:
        """Why ``decode`` fails on ``contents`` (really decoded, then explained), or None.

        The reason is ``check``'s when it refuses the header, else TF's decoder message.

        Example:

        >>> ImageDecoder().why_bad(b"\\xff\\xd8\\xff")
        'truncated header (no size in JPEG header)'
        """
        return self._try_decode(contents)[1]

    def decode_file(self, path: str | os.PathLike) -> np.ndarray:
        """Reads and decodes one file (eager), returning a NumPy array.

        Raises:
            ValueError: ``"kerasimg: <path>: <reason>"`` for a bad, unreadable or missing file
                or a directory.

        Example:

        >>> ImageDecoder(image_size=None).decode_file("cat.png").shape  # doctest: +SKIP
        (480, 640, 3)
        """
        from kerasimg.data.listing import file_problem

        path = os.fspath(path)
        if os.path.isdir(path):
            raise ValueError(f"kerasimg: {path}: is a directory, not an image file")
        problem = file_problem(path, self.max_file_bytes) if os.path.exists(path) else None
        if problem is not None:
            raise ValueError(f"kerasimg: {path}: {problem}")
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise ValueError(f"kerasimg: {path}: cannot read file ({err.strerror or err})") from err
        image, reason = self._try_decode(data)
        if reason is not None:
            raise ValueError(f"kerasimg: {path}: {reason}")
        return image

    def get_config(self) -> dict[str, Any]:
        """Every ``__init__`` argument, JSON-friendly; ``from_config`` rebuilds the decoder."""
        return {
            "image_size": None if self.image_size is None else list(self.image_size),
            "channels": self.channels,
            "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
            "formats": list(self.formats),
            "max_pixels": self.max_pixels,
            "dtype": self.dtype,
            "interpolation": self.interpolation,
            "max_file_bytes": self.max_file_bytes,
            "exif_orientation": self.exif_orientation,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ImageDecoder:
        """Rebuilds a decoder from ``get_config()``.

        Example:

        >>> clone = ImageDecoder.from_config(ImageDecoder(channels=1).get_config())
        """
        return cls(**config)

    def __getstate__(self) -> dict[str, Any]:  # picklable and deep-copyable after use
        return {**self.__dict__, "_eager_fns": {}}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"ImageDecoder({args})"

    # ------------------------------------------------------------------ internals

    def _eager(self, name: str):
        """A traced-once ``tf.function`` of a graph method, for fast eager calls."""
        if name not in self._eager_fns:
            spec = [tf.TensorSpec([], tf.string)]
            self._eager_fns[name] = tf.function(
                getattr(self, name), input_signature=spec, autograph=False
            )
        return self._eager_fns[name]

    def _try_decode(self, contents: bytes, traced: bool = True) -> tuple[np.ndarray | None, str | None]:
        """Decode first (bad means exactly: ``decode`` fails), then explain a failure
        (``traced=False``: explain first, see below).

        The explanation is the detailed inspector's (``check``) when it refuses the bytes,
        else the lean guard's (GIF frame, JPEG scans, file bytes: bounds the inspector does
        not know), else TF's decoder message. ``traced=False`` runs the same ops eagerly, one
        by one: ~0.1 s a call instead of ~3 s of tracing on a process's first call, for callers
        that explain a few files (the datasets' skip report), not thousands, and which already
        know the file failed: the guard's refusal is then given without decoding the file.
        """
        contents = tf.constant(contents, tf.string)
        if not traced:
            # The skip report: the file already failed in a dataset. A refusal by the guard is
            # explained without decoding the file again (a second GIF block walk or JPEG scan
            # count: ~0.25 s of the ~0.35 s the 65,000-comment GIF took); only a file whose
            # header is sound is decoded again, for TensorFlow's own message.
            reason = self._explain(contents).numpy().decode()
            if not reason.startswith("corrupt image data"):
                return None, reason
        try:
            return (self.decode(contents) if traced else self._decode(contents)).numpy(), None
        except tf.errors.InvalidArgumentError as err:
            message = _first_line(err.message)
        except UnicodeDecodeError:  # TF put raw bytes in its message
            message = "(TensorFlow's error message is not text)"
        if traced:
            reason = self._eager("_explain")(contents).numpy().decode()
        if reason.startswith("corrupt image data"):
            return None, f"corrupt image data: {message}"
        return None, reason

    def _check(self, contents: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        header = _headers.inspect_header(contents, self.formats, self.max_pixels)
        return header.ok, header.reason


def _scalar(contents: Any) -> tf.Tensor:
    contents = tf.convert_to_tensor(contents, dtype=tf.string)
    if contents.shape.rank not in (0, None):
        raise ValueError(
            f"contents must be a scalar string tensor (one encoded image), received shape {contents.shape}"
        )
    return contents


def _first_line(message: str) -> str:
    """TF's error message without node/op decorations, printable ASCII, one line."""
    lines = [line for line in message.splitlines() if line.strip() and not line.strip().startswith("[[")]
    line = lines[-1] if lines else message
    line = re.sub(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\]", "", line).strip()
    return re.sub(r"[^\x20-\x7e]", "?", line)[:200]
