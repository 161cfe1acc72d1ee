"""The pixel path of :class:`kerasimg.data.ImageDecoder` (private): each format's TF decoder,
then crop, resize and dtype conversion, written once.

Every decoded image goes through :meth:`PixelPath._finish`, and so do raw uint8 images
(``ImageDecoder.resize_images``, what an export's ``serving_default`` runs): the dataset, the
``serving_bytes`` and the ``serving_default`` signatures share the same ops and rounding. The
guard (``_guard``) runs before any of this; nothing here checks bytes.
"""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from kerasimg.data import _exif, _guard

_DTYPES = {"uint8": tf.uint8, "uint16": tf.uint16, "float32": tf.float32}
_RATIOS = (1, 2, 4, 8)  # JPEG DCT scale denominators supported by libjpeg through TF
#: interpolations whose output stays within the input's range (a weighted mean, or a copy)
_IN_RANGE = ("bilinear", "nearest", "area")


class PixelPath:
    """Decode, crop, resize and convert, for the settings of an ``ImageDecoder`` (a mixin: it
    reads ``image_size``, ``channels``, ``crop_to_aspect_ratio``, ``dtype``, ``interpolation``
    and ``exif_orientation`` from ``self``)."""

    image_size: tuple[int, int] | None
    channels: int
    crop_to_aspect_ratio: bool
    dtype: str
    interpolation: str
    exif_orientation: bool

    def _blank(self, batch: Any = None) -> tf.Tensor:
        """Zeros of the output shape (0x0 without ``image_size``), ``[batch, ...]`` if given."""
        height, width = self.image_size or (0, 0)
        shape = [height, width, self.channels] if batch is None else [batch, height, width, self.channels]
        return tf.zeros(shape, _DTYPES[self.dtype])

    def _decode_jpeg(self, contents: tf.Tensor, header: Any, box: Any = None) -> tf.Tensor:
        if not self.exif_orientation:
            image = self._jpeg_upright(contents, header, box, None)
        else:
            # Most JPEGs carry no EXIF block: their branch holds no orientation op at all (the
            # window mapping, the turn and its switch cost ~80 CPU us per image in a tf.data map).
            tagged = _exif.tagged(contents)

            def turned() -> tf.Tensor:
                return self._jpeg_upright(contents, header, box, _exif.orientation(contents))

            if self.image_size is None:
                image = tf.cond(tagged, turned, lambda: self._jpeg_upright(contents, header, box, None))
            else:
                # One switch for both choices (a branch op costs ~27 CPU us per image in a
                # tf.data map, whatever it runs): the DCT scales of an upright JPEG, or the EXIF path.
                index, branches = self._jpeg_branches(contents, header, box, None)
                image = tf.switch_case(tf.where(tagged, len(branches), index), [*branches, turned])
        return self._finish(image, False, crop=False)

    def _jpeg_upright(self, contents: tf.Tensor, header: Any, box: Any, orientation: Any) -> tf.Tensor:
        """The decoded pixels (the window, at the DCT scale chosen), turned upright."""
        if self.image_size is None:
            return self._upright(self._jpeg(contents, tf.equal(header.extra, 4), 1, None), orientation)
        index, branches = self._jpeg_branches(contents, header, box, orientation)
        return tf.switch_case(index, branches)

    def _jpeg_branches(self, contents: tf.Tensor, header: Any, box: Any, orientation: Any) -> tuple:
        """``(index, branches)``: one decode per DCT ratio of ``_RATIOS`` (each a function
        returning the upright pixels, not resized), and the index of the largest ratio whose
        output still covers ``image_size`` in the window decoded (the box, the aspect crop or
        the whole image)."""
        cmyk = tf.equal(header.extra, 4)  # libjpeg cannot turn CMYK into grey directly
        h, w = header.height, header.width
        th, tw = self.image_size
        # Windows are chosen on the upright image (what a viewer shows), then mapped back to
        # the stored pixels, which libjpeg decodes (a 90-degree turn swaps height and width).
        swap = _exif.swaps_axes(orientation) if orientation is not None else None
        uh, uw = (tf.where(swap, w, h), tf.where(swap, h, w)) if swap is not None else (h, w)
        windowed = box is not None or self.crop_to_aspect_ratio
        if box is not None:  # decode-time crop: the box drawn from the (upright) header size
            window = [tf.cast(v, tf.int64) for v in box(uh, uw)]
        elif self.crop_to_aspect_ratio:
            window = list(crop_window(uh, uw, th, tw))
        else:
            window = [tf.constant(0, tf.int64), tf.constant(0, tf.int64), uh, uw]
        y0, x0, ch, cw = _stored_window(orientation, h, w, *window) if orientation is not None else window
        th, tw = tf.constant(th, tf.int64), tf.constant(tw, tf.int64)
        if swap is not None:
            th, tw = tf.where(swap, tw, th), tf.where(swap, th, tw)  # the target, in stored orientation
        # Largest DCT ratio whose (conservatively floored) output still covers the target:
        # ch // r >= th and cw // r >= tw  <=>  r <= min(ch // th, cw // tw) (r is whole).
        most = tf.minimum(ch // th, cw // tw)
        index = tf.reduce_sum(tf.cast(most >= tf.constant(_RATIOS[1:], tf.int64), tf.int32))

        # One decoder per ratio in a switch: only the chosen one runs (a decode has a fixed
        # cost of its own, far above the branch's: running the others on a tiny JPEG cost
        # 0.8 CPU ms per ImageNet-sized image).
        def at(ratio: int):
            def run() -> tf.Tensor:
                if not windowed:
                    image = self._jpeg(contents, cmyk, ratio, None)
                elif ratio == 1:  # the window as it is (it lies within the image): no arithmetic
                    image = self._jpeg(contents, cmyk, 1, tf.cast(tf.stack([y0, x0, ch, cw]), tf.int32))
                else:  # libjpeg crops in the scaled image: cover the full-size window, rounding out
                    ys, xs = y0 // ratio, x0 // ratio
                    ye = tf.minimum(-(-(y0 + ch) // ratio), -(-h // ratio))
                    xe = tf.minimum(-(-(x0 + cw) // ratio), -(-w // ratio))
                    window = tf.cast(tf.stack([ys, xs, ye - ys, xe - xs]), tf.int32)
                    image = self._jpeg(contents, cmyk, ratio, window)
                return self._upright(image, orientation)

            return run

        return index, [at(ratio) for ratio in _RATIOS]

    def _upright(self, image: tf.Tensor, orientation: tf.Tensor | None) -> tf.Tensor:
        """The decoded JPEG turned as its EXIF Orientation says (as a photo viewer shows it)."""
        if orientation is None:
            return image
        return tf.ensure_shape(_exif.apply(image, orientation), [None, None, self.channels])

    def _jpeg(self, contents, cmyk, ratio: int, window) -> tf.Tensor:
        def run(channels: int) -> tf.Tensor:
            if window is None:
                return tf.io.decode_jpeg(contents, channels=channels, ratio=ratio)
            return tf.io.decode_and_crop_jpeg(contents, window, channels=channels, ratio=ratio)

        if self.channels == 1:
            return tf.cond(cmyk, lambda: luma(run(3)), lambda: run(1))
        return to_channels(run(3), self.channels)

    def _decode_png(self, contents: tf.Tensor, header: Any, box: Any = None) -> tf.Tensor:
        def run(dtype: tf.DType) -> tf.Tensor:
            image = tf.io.decode_png(contents, channels=self.channels, dtype=dtype)
            return self._finish(image, dtype == tf.uint16, box=box)

        # 16-bit PNGs at 16 bits (rounded, never truncated to the high byte); 8-bit ones at 8
        # (a 16-bit decode of every PNG cost ~0.4 CPU ms on a 400x300 image).
        sixteen = tf.equal(header.extra, 16)
        if self.image_size is None:
            return tf.cond(sixteen, lambda: run(tf.uint16), lambda: run(tf.uint8))
        # The window comes from IHDR's size (what TF's decoder produces), outside the branch.
        h, w = tf.cast(header.height, tf.int64), tf.cast(header.width, tf.int64)
        window = box(h, w) if box is not None else None
        if window is None and self.crop_to_aspect_ratio:
            window = crop_window(h, w, *self.image_size)

        def pixels(dtype: tf.DType) -> tf.Tensor:  # the branch holds the decode and resize
            image = tf.io.decode_png(contents, channels=self.channels, dtype=dtype)
            return self._resized(image, dtype == tf.uint16, window)

        return self._converted(tf.cond(sixteen, lambda: pixels(tf.uint16), lambda: pixels(tf.uint8)))

    def _decode_gif(self, contents: tf.Tensor, header: Any, box: Any = None) -> tf.Tensor:
        # giflib reads every frame of a file, whichever TF op asks for the first: it is given
        # the file up to the first frame's end and a trailer, one frame, which DecodeGif
        # returns as [1, H, W, 3] (the same pixels as DecodeImage's: on GIF89a with a
        # transparent colour DecodeImage took ~9 % more CPU per image, 1631 against 1498 us
        # in a tf.data map; on GIFs without one the two were equal).
        frames = tf.io.decode_gif(_guard.first_frame(contents, header.extra))
        return self._finish(to_channels(frames[0], self.channels), box=box)

    def _decode_bmp(self, contents: tf.Tensor, header: Any, box: Any = None) -> tf.Tensor:
        image = tf.io.decode_bmp(contents, channels=4 if self.channels == 4 else 3)
        return self._finish(luma(image) if self.channels == 1 else image, box=box)

    def _decode_webp(self, contents: tf.Tensor, header: Any, box: Any = None) -> tf.Tensor:
        # DecodeWebP gives the file's own channel count (3 or 4): converted without a branch.
        image = tf.io.decode_webp(contents, channels=0)[0]
        if self.channels == 4:  # opaque alpha where the file has none
            image = tf.pad(image, [[0, 0], [0, 0], [0, 4 - tf.shape(image)[2]]], constant_values=255)
        else:
            image = image[..., :3]
            image = luma(image) if self.channels == 1 else image
        return self._finish(tf.ensure_shape(image, [None, None, self.channels]), box=box)

    def _finish(self, image: tf.Tensor, sixteen_bit: bool = False, crop: bool = True, box: Any = None) -> tf.Tensor:
        """Crop (when asked), resize to ``image_size`` and convert to ``dtype``; rank 3 or 4."""
        if self.image_size is None:
            dtype = _DTYPES[self.dtype]
            if self.dtype == "uint8" and sixteen_bit:
                return tf.cast((tf.cast(image, tf.int32) + 128) // 257, tf.uint8)
            if self.dtype == "uint16" and not sixteen_bit:
                return tf.cast(image, tf.uint16) * 257
            if self.dtype == "float32":
                return tf.cast(image, tf.float32) / (257.0 if sixteen_bit else 1.0)
            return tf.cast(image, dtype)
        window = None
        if crop and box is not None:  # rank 3 only: one image's box
            shape = tf.shape(image, out_type=tf.int64)
            window = box(shape[0], shape[1])
        elif crop and self.crop_to_aspect_ratio:
            shape = tf.shape(image, out_type=tf.int64)
            window = crop_window(shape[-3], shape[-2], *self.image_size)
        return self._converted(self._resized(image, sixteen_bit, window))

    def _resized(self, image: tf.Tensor, sixteen_bit: bool = False, window: Any = None) -> tf.Tensor:
        """``image`` cropped to ``window`` ``(y, x, height, width)`` (when given) and resized to
        ``image_size``, as float32.

        The pixels go to float32 before the resize: ``tf.image.resize`` also reads uint8
        directly (bit-identical), but its uint8 kernel is slower when it enlarges (measured:
        32x32 to 224x224, 853 against 638 us), and only wins on inputs several times the
        target's area, which the JPEG DCT scale already avoids.
        """
        if window is not None:
            y0, x0, ch, cw = (tf.cast(v, tf.int64) for v in window)
            image = image[..., y0 : y0 + ch, x0 : x0 + cw, :]
        pixels = tf.cast(image, tf.float32)
        if sixteen_bit:
            pixels = pixels / 257.0
        return tf.image.resize(pixels, self.image_size, method=self.interpolation)

    def _converted(self, pixels: tf.Tensor) -> tf.Tensor:
        """Resized pixels (from :meth:`_resized`) in ``dtype``: rounded, never truncated.

        Bilinear, nearest and area interpolation never leave the input's range, so a rounded
        value casts without a clip; the other methods overshoot, and saturate.
        """
        dtype = _DTYPES[self.dtype]
        if self.dtype == "float32":
            return tf.clip_by_value(pixels, 0.0, 255.0)
        rounded = tf.round(pixels * 257.0 if self.dtype == "uint16" else pixels)
        if self.interpolation in _IN_RANGE:
            return tf.cast(rounded, dtype)
        return tf.saturate_cast(rounded, dtype)


def _stored_window(orientation, h, w, y, x, bh, bw) -> list[tf.Tensor]:
    """A window ``(y, x, bh, bw)`` of the upright image, in the stored image's coordinates
    (``h x w`` as stored), for each EXIF orientation (Pillow's ``exif_transpose`` meaning)."""
    k = tf.clip_by_value(orientation, 1, 8) - 1
    down, right = h - y - bh, w - x - bw  # the window's distance to the bottom / right edge
    up, left = h - x - bw, w - y - bh  # the same after a quarter turn
    ys = tf.stack([y, y, down, down, x, up, up, x])
    xs = tf.stack([x, right, right, x, y, y, left, left])
    swap = _exif.swaps_axes(orientation)
    return [tf.gather(ys, k), tf.gather(xs, k), tf.where(swap, bw, bh), tf.where(swap, bh, bw)]


def crop_window(h, w, th: int, tw: int):
    """The centred crop of aspect ``th:tw``, as ``keras.ops.image.resize`` computes it."""
    ch = tf.clip_by_value(w * th // tw, 1, tf.maximum(h, 1))
    cw = tf.clip_by_value(h * tw // th, 1, tf.maximum(w, 1))
    return (h - ch) // 2, (w - cw) // 2, ch, cw


def to_channels(image: tf.Tensor, channels: int) -> tf.Tensor:
    """Converts an image with 1, 2, 3 or 4 channels to ``channels`` (1, 3 or 4).

    Grey is replicated, alpha dropped or kept, an opaque alpha added; RGB to grey is luma.
    When the source channel count is only known at run time, one branch per count.
    """
    have = image.shape[-1]
    if have is None:
        branches = [
            (lambda k=k: to_channels(tf.ensure_shape(image, [None, None, k]), channels))
            for k in (1, 2, 3, 4)
        ]
        return tf.switch_case(tf.clip_by_value(tf.shape(image)[-1] - 1, 0, 3), branches)
    if have == channels:
        return image
    colour = image[..., :3] if have >= 3 else tf.tile(image[..., :1], [1, 1, 3])
    if channels == 1:
        return luma(colour) if have >= 3 else image[..., :1]
    if channels == 3:
        return colour
    if have in (2, 4):
        return tf.concat([colour, image[..., -1:]], axis=-1)
    opaque = tf.fill(tf.concat([tf.shape(image)[:2], [1]], 0), tf.cast(image.dtype.max, image.dtype))
    return tf.concat([colour, opaque], axis=-1)


def luma(rgb: tf.Tensor) -> tf.Tensor:
    """ITU-R 601 luma, rounded, in the input dtype (grey in, the same grey out)."""
    weights = tf.constant([0.299, 0.587, 0.114], tf.float32)
    value = tf.tensordot(tf.cast(rgb, tf.float32), weights, axes=[[2], [0]])[..., None]
    return tf.saturate_cast(tf.round(value), rgb.dtype)
