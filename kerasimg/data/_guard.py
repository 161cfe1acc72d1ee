"""The lean guard on the decode hot path (private to :mod:`kerasimg.data.decode`).

One small branch per format, chosen by the magic bytes: each reads the real size where the
format keeps it (JPEG: libjpeg's own header reader; PNG IHDR; GIF: the logical screen and
the first frame's image descriptor, found by a walk over the blocks before it; BMP info
header; WebP VP8/VP8L/VP8X) and the format's own bounds (JPEG scan count, GIF blocks before
the first frame and that frame within the screen, BMP depth and palette, animated WebP), then
hands the bytes to TensorFlow's decoder (a GIF cut after its first frame). Truncation and
corrupt data are left to TF's decoders, which refuse both with ``InvalidArgumentError``; the detailed
structural inspector (``_headers.inspect_header``) is not on this path: it only explains failures.

Every function here builds graph ops, never raises on any input, and keeps its op count small:
``tests/data/test_guard.py`` pins a budget per format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from kerasimg._compat import unlowered
from kerasimg.data import _headers
from kerasimg.data._headers import FORMATS, too_big_reason

HEAD = 40  # bytes read at fixed offsets (zero-padded): every size field lies within them
#: Most scans (SOS markers) accepted in a JPEG. A baseline JPEG has 1 scan, a progressive
#: one about 10 (libjpeg's default script), a few hundred at most in odd encoders. Each
#: scan of a progressive JPEG re-reads every coefficient of the image: 5,000 scans turn a
#: 118 KB file into 42 s of CPU, which is why libjpeg-turbo's tools carry a scan limit too.
MAX_JPEG_SCANS = 256
#: Most steps of the GIF walk (one per image descriptor or extension with its sub-block chain,
#: one more per MiB of a chain) before the file is refused: bounds the walk's work. The walk
#: ends with the first frame's chain (no other frame is decoded), so only blocks before it
#: count: a GIF of any number of frames passes. A step costs ~120-300 CPU us, so a 325 KB GIF
#: of 65,000 one-byte comments took 8 s under the earlier bound of 65,536 (and 85 s to explain
#: in the skip report, which walks it twice more); 1,024 steps refuse it within a second.
MAX_GIF_STEPS = 1024
#: Most full 255-byte sub-blocks skipped by one step of the GIF walk (1 MiB of image data:
#: one step per frame for all but huge frames). A step reads every 256th byte of that span.
_GIF_RUN = 4096
#: Extensions of fixed size often met before the first frame, passed over before the walk's
#: first step, in this order: (offsets, the bytes there, the extension's size). The animation's
#: loop count (21 FF 0B "NETSCAPE2.0" 03 01, 2 free bytes, 00) and a graphic control extension
#: (21 F9 04, 4 free bytes, 00).
_GIF_LEADERS = (
    ([*range(16), 18], [0x21, 0xFF, 0x0B, *b"NETSCAPE2.0", 0x03, 0x01, 0x00], 19),
    ([0, 1, 2, 7], [0x21, 0xF9, 0x04, 0x00], 8),
)
#: bytes of the colour table a GIF's packed flags byte announces (bit 7: present; bits 0-2: size)
_GIF_TABLE = np.array([3 * (2 << (f % 8)) if f >= 128 else 0 for f in range(256)], np.int64)
_MAGICS = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"RIFF", b"WEBP")
_MAGIC_POS = (0, 0, 0, 0, 0, 0, 8)
#: format index (1 + FORMATS.index) contributed by each magic match
_MAGIC_FMT = (1, 2, 3, 3, 4, 0, 0)


class Verdict(NamedTuple):
    """What a format branch learnt from the header (scalars)."""

    ok: tf.Tensor  # bool: within every bound
    reason: Callable[[], tf.Tensor]  # builds the string of why not: called only on refusal
    height: tf.Tensor  # int64
    width: tf.Tensor  # int64
    extra: tf.Tensor  # JPEG component count, PNG bit depth (int32); GIF: its first frame's end (int64); else 0


def fmt_index(head: tf.Tensor) -> tf.Tensor:
    """0 unknown, else 1 + ``FORMATS.index`` (int32), from the zero-padded first bytes."""
    starts = tf.strings.substr(head, _MAGIC_POS, [len(m) for m in _MAGICS])
    hits = tf.cast(tf.equal(starts, _MAGICS), tf.int32)
    return tf.reduce_sum(hits * _MAGIC_FMT) + 5 * hits[5] * hits[6]


def head_of(contents: tf.Tensor) -> tf.Tensor:
    """The first :data:`HEAD` bytes, zero-padded to exactly that length (the file itself is
    not copied: only its first bytes are padded)."""
    return tf.strings.substr(tf.strings.substr(contents, 0, HEAD) + b"\x00" * HEAD, 0, HEAD)


def is_format(head: tf.Tensor, name: str) -> tf.Tensor:
    """Whether the zero-padded first bytes carry the magic of format ``name`` (the same test
    as :func:`fmt_index`, for one format: a graph of one format needs no more)."""
    fmt = 1 + FORMATS.index(name)
    picks = [i for i, f in enumerate(_MAGIC_FMT) if f == fmt] or [5, 6]  # WebP: RIFF and WEBP
    if len(picks) == 1:
        (i,) = picks
        return tf.equal(tf.strings.substr(head, _MAGIC_POS[i], len(_MAGICS[i])), _MAGICS[i])
    starts = tf.strings.substr(head, [_MAGIC_POS[i] for i in picks], [len(_MAGICS[i]) for i in picks])
    hits = tf.equal(starts, [_MAGICS[i] for i in picks])
    return tf.reduce_all(hits) if name == "webp" else tf.reduce_any(hits)


def _fields(head: tf.Tensor, layout: list) -> tf.Tensor:
    """Unsigned integers at fixed offsets of ``head``, all read by one matrix product.

    ``layout`` lists ``(offset, bytes, little_endian)``, or a tuple of ``(offset, bytes,
    little_endian, scale)`` parts summed into one value; the result is float64
    ``[len(layout)]`` (exact below 2^53: every field is at most 4 bytes). In a tf.data map
    each op costs ~2 us per image whatever it does, so the header is read with four ops,
    not four per field.
    """
    weights = np.zeros((HEAD, len(layout)))
    for k, entry in enumerate(layout):
        for pos, size, little, *scale in entry if isinstance(entry[0], tuple) else [entry]:
            order = range(size) if little else reversed(range(size))
            for j, byte in enumerate(order):
                weights[pos + byte, k] += 256.0**j * (scale[0] if scale else 1.0)
    head_bytes = tf.cast(tf.io.decode_raw(head, tf.uint8), tf.float64)
    return tf.matmul(head_bytes[None], tf.constant(weights, tf.float64))[0]


def _sized(height, width, max_pixels: int, extra=0, more_ok=None, more_reason=None, small=None) -> Verdict:
    """The verdict on ``height x width`` and an optional format bound (``more_reason`` is a
    function: building strings costs more than the rest of the guard, so only on refusal).
    ``small``: whether ``height x width`` is within ``max_pixels``, where the branch has it."""
    if small is None:
        small = tf.cast(height, tf.float64) * tf.cast(width, tf.float64) <= max_pixels

    def reason() -> tf.Tensor:
        too_big = too_big_reason(tf.cast(width, tf.int64), tf.cast(height, tf.int64), max_pixels)
        return too_big if more_reason is None else tf.where(small, more_reason(), too_big)

    ok = small if more_ok is None else small & more_ok
    return Verdict(ok, reason, height, width, extra)


def jpeg(contents: tf.Tensor, head: tf.Tensor, max_pixels: int, shape: tf.Tensor | None = None) -> Verdict:
    """libjpeg's header reader (the size ``decode_jpeg`` will allocate) and the scan count.

    ``extract_jpeg_shape`` fails with TF's own error on a header libjpeg cannot read. Inside
    entropy-coded data a 0xFF byte is always followed by 0x00 or a restart marker, so every
    ``FF DA`` is a start-of-scan marker (or one in an embedded thumbnail: counted too).
    """
    if shape is None:  # else the size is known (the inspector's), and libjpeg is not asked
        shape = tf.io.extract_jpeg_shape(contents)
    scans = _headers.pieces(contents, b"\xff\xda", MAX_JPEG_SCANS + 1) - 1
    few = scans <= MAX_JPEG_SCANS

    def why() -> tf.Tensor:
        return tf.constant(f"JPEG has over {MAX_JPEG_SCANS} scans (progressive scan bomb): refused before decoding")

    shape = tf.cast(shape, tf.int64)
    return _sized(shape[0], shape[1], max_pixels, shape[2], few, why)


def png(contents: tf.Tensor, head: tf.Tensor, max_pixels: int, shape: tf.Tensor | None = None) -> Verdict:
    """IHDR: width and height (big-endian) at bytes 16-23, bit depth at 24."""
    width, height, depth = tf.unstack(_fields(head, [(16, 4, False), (20, 4, False), (24, 1, False)]), num=3)
    return _sized(height, width, max_pixels, depth)


#: BMP bits per pixel and compression TF reads: 8, 24 or 32 bits, uncompressed or BI_BITFIELDS
_BMP_MODES = [bpp * 2.0**32 + compression for bpp in (8, 24, 32) for compression in (0, 3)]
#: The BMP fields, by one product: info header size, width, height, bits per pixel, mode
#: (bits per pixel * 2^32 + compression: one number per pair, exact in float64), pixel offset
_BMP_LAYOUT = [
    (14, 4, True), (18, 4, True), (22, 4, True), (28, 2, True),
    ((28, 2, True, 2.0**32), (30, 4, True, 1.0)), (10, 4, True),
]  # fmt: skip
#: where a BMP field turns negative (signed 32-bit: the header size, width and height)
_BMP_SIGN = [2.0**31, 2.0**31, 2.0**31, np.inf, np.inf, np.inf]
#: the grey ramp of an 8-bit BMP's colour table (B, G, R as a 24-bit number per entry)
_GREY = np.arange(256, dtype=np.int32) * 0x010101


def bmp(contents: tf.Tensor, head: tf.Tensor, max_pixels: int, shape: tf.Tensor | None = None) -> Verdict:
    """BITMAPINFOHEADER: width, height (signed: < 0 means top-down), bits per pixel,
    compression. TF checks the file size against them; an 8-bit BMP with a colour palette is
    refused here (TF would return palette indices as grey levels), as are compressions TF
    cannot read (it would misread RLE as raw rows)."""
    fields = _fields(head, _BMP_LAYOUT)
    fields = fields - 2.0**32 * tf.cast(fields >= _BMP_SIGN, tf.float64)  # signed ones, in 4 ops
    dib, width, height, bpp, mode, offset = tf.unstack(fields, num=6)
    # TF reads the fields at fixed offsets whatever the header says it is: a header size below
    # BITMAPINFOHEADER's 40 bytes (or of 2^31 and more, negative here), or a depth TF does not
    # read, is refused here (as check() does).
    sized = dib >= 40
    header_ok = sized & tf.reduce_any(tf.equal(mode, _BMP_MODES))

    def grey() -> tf.Tensor:
        # TF reads 8-bit BMPs as grey levels and ignores the colour table: refuse a colour one.
        # (a TF string op that fails puts raw bytes in its message: positions stay in the string)
        n = tf.cast(tf.strings.length(contents), tf.float64)
        start = tf.minimum(14 + dib, n)
        length = tf.clip_by_value(tf.minimum(offset - start, n - start), 0, 1024)
        table = tf.strings.substr(contents, tf.cast(start, tf.int32), tf.cast(length, tf.int32) // 4 * 4)
        entries = tf.bitwise.bitwise_and(tf.io.decode_raw(table, tf.int32), 0xFFFFFF)
        return tf.reduce_all(tf.equal(entries, tf.constant(_GREY)[: tf.size(entries)]))

    # In a branch only 8-bit BMPs take: inline, the table read cost every BMP ~60 CPU us per
    # image in a tf.data map, the branch ~35 us.
    grey_ok = tf.cond(sized & tf.equal(bpp, 8), grey, lambda: tf.constant(True))

    def why() -> tf.Tensor:
        unsigned = tf.where(dib < 0, dib + 2.0**32, dib)
        dib_i, bpp_i, comp_i = (tf.cast(v, tf.int64) for v in (unsigned, bpp, mode - bpp * 2.0**32))
        return tf.where(
            ~(sized & tf.reduce_any(tf.equal(bpp, [8.0, 24.0, 32.0]))),
            tf.strings.join(["unsupported BMP (", tf.strings.as_string(dib_i), "-byte header, ",
                             tf.strings.as_string(bpp_i), " bits per pixel)"]),  # fmt: skip
            tf.where(
                tf.equal(comp_i, 0) | tf.equal(comp_i, 3),
                "unsupported BMP (8-bit colour palette)",
                tf.strings.join(["unsupported BMP (compression ", tf.strings.as_string(comp_i), ")"]),
            ),
        )

    return _sized(tf.abs(height), tf.maximum(width, 0), max_pixels, 0, header_ok & grey_ok, why)


def webp(contents: tf.Tensor, head: tf.Tensor, max_pixels: int, shape: tf.Tensor | None = None) -> Verdict:
    """The canvas size of a lossy (VP8), lossless (VP8L) or extended (VP8X) WebP. Animated
    WebP is refused: TF 2.21's animation path corrupts the heap."""
    chunk = tf.strings.substr(head, 12, 4)
    lossy, lossless = tf.equal(chunk, b"VP8 "), tf.equal(chunk, b"VP8L")
    # lossy: 14-bit sizes at 26 and 28; lossless: two 14-bit sizes minus one packed from 21;
    # extended: flags at 20, then 24-bit sizes minus one at 24 and 27
    layout = [(26, 2, True), (28, 2, True), (21, 4, True), (24, 3, True), (27, 3, True), (20, 1, True)]
    lossy_w, lossy_h, bits, canvas_w, canvas_h, flags = tf.unstack(_fields(head, layout), num=6)
    height = tf.where(lossy, tf.math.floormod(lossy_h, 16384),
                      tf.where(lossless, tf.math.floormod(tf.floor(bits / 16384), 16384), canvas_h) + 1)  # fmt: skip
    width = tf.where(lossy, tf.math.floormod(lossy_w, 16384),
                     tf.where(lossless, tf.math.floormod(bits, 16384), canvas_w) + 1)  # fmt: skip
    still = ~(tf.equal(chunk, b"VP8X") & tf.equal(tf.math.floormod(tf.floor(flags / 2), 2), 1))

    def why() -> tf.Tensor:
        return tf.constant("animated WebP not supported (TensorFlow's WebP decoder is unsafe on it)")

    return _sized(height, width, max_pixels, 0, still, why)


def gif(contents: tf.Tensor, head: tf.Tensor, max_pixels: int, shape: tf.Tensor | None = None) -> Verdict:
    """The magic, the logical screen and the first frame's image descriptor; the first frame's end.

    TF's GIF decoder (giflib's ``DGifSlurp``) reads and decompresses *every* frame, each at the
    size its own descriptor gives, whatever the screen says, even when only the first is
    returned: a 27 KB file with a 1x1 screen and a 6000x6000 frame costs hundreds of MiB, and a
    10-frame GIF decodes 10 frames for the one a model sees. So the blocks are walked (image
    descriptors, extensions, and their sub-block chains, skipping runs of full 255-byte
    sub-blocks :data:`_GIF_RUN` at a time) up to the end of the first frame's chain, and the
    decoder is given the file up to there and a trailer (``extra``: that end; the same pixels,
    and no other frame is read: :func:`first_frame`). A first frame that reaches outside the
    logical screen is refused (the GIF specification forbids it; TF would crop it anyway), so
    it is no larger than the screen, which ``max_pixels`` bounds.

    The verdict includes the magic (``GIF87a`` or ``GIF89a``), read by the same product as the
    screen (:data:`OWN_MAGIC`): the adapter's one-format graph needs no other magic test.
    """
    length = tf.strings.length(contents)
    n = tf.cast(length, tf.int64)
    # The file as uint8 (one copy), with zeros past its end: a chain that runs past the end
    # meets a zero length (the padding is longer than a sub-block) and ends there, and every
    # read of the quick step (at most 13 + 768 + _GIF_WINDOW bytes in) stays inside.
    data = tf.io.decode_raw(contents, tf.uint8, fixed_length=length + _GIF_PAD)
    screen = tf.matmul(tf.cast(data[None, :16], tf.float64), _GIF_SCREEN)  # [1, 4]: width, height, flags, magic
    width, height, flags, magic = tf.unstack(tf.cast(screen[0], tf.int64), num=4)
    first = tf.gather(_GIF_FIRST, flags)  # the first block, after the global colour table

    if tf.executing_eagerly():  # the skip report: no TF loop to run op by op, nothing to trace
        done, framed, outside, end = _gif_walk_eager(data.numpy(), int(n), int(first), int(width), int(height))
        fine, end = tf.constant(done and not outside), tf.constant((end if framed else int(n)) if done else -1, tf.int64)
    else:
        quick, end, inside = _gif_first_step(data, n, first, screen)
        fine, end = _gif_walk(data, n, first, width, height, quick, end, inside)

    def why() -> tf.Tensor:
        over = tf.constant("GIF frame larger than its logical screen (refused before decoding)")
        return tf.where(end < 0, f"GIF has over {MAX_GIF_STEPS} blocks: refused before decoding", over)

    # (int64: a screen is at most 65535 x 65535)
    small = width * height <= max_pixels
    is_gif = tf.reduce_any(tf.equal(magic, _GIF_MAGICS))
    return _sized(height, width, max_pixels, end, is_gif & fine, why, small=small)


#: ``GIF87a`` and ``GIF89a`` as the little-endian numbers the screen's product reads.
_GIF_MAGICS = np.array([int.from_bytes(m, "little") for m in (b"GIF87a", b"GIF89a")], np.int64)


def first_frame(contents: tf.Tensor, end: tf.Tensor) -> tf.Tensor:
    """A GIF cut after its first frame (``end``: where :func:`gif`'s walk found that frame's
    sub-block chain to end, its ``extra``) and closed with a trailer: what giflib reads then
    is the screen, the blocks before the first frame and the frame itself, and TF decodes the
    same pixels as from the whole file (a test checks it on animated GIFs).

    Example:

    >>> import io, numpy as np
    >>> from PIL import Image
    >>> frames = [Image.fromarray(np.full((4, 6), v, np.uint8)) for v in (0, 255)]
    >>> out = io.BytesIO()
    >>> frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    >>> data = tf.constant(out.getvalue())
    >>> verdict = gif(data, head_of(data), 10**6)
    >>> cut = first_frame(data, verdict.extra)
    >>> int(tf.shape(tf.io.decode_gif(data))[0]), int(tf.shape(tf.io.decode_gif(cut))[0])
    (2, 1)
    """
    return tf.strings.substr(contents, tf.zeros_like(end), end) + b"\x3b"


def _gif_walk(data: tf.Tensor, n: tf.Tensor, first: tf.Tensor, screen_w: tf.Tensor, screen_h: tf.Tensor,
              quick: tf.Tensor, quick_end: tf.Tensor, quick_inside: tf.Tensor) -> tuple:  # fmt: skip
    """The GIF block walk from ``first`` (the first block, after the colour table) over
    ``data`` (the file as uint8, ``n`` bytes, zero-padded) to the end of the first frame's
    chain. Returns whether the file passes (the walk got there, or to the end of the blocks,
    within :data:`MAX_GIF_STEPS`, and a frame it saw lies within the screen) and where the
    decoder's input ends: just after the frame's chain when the walk saw one, else ``n`` (the
    whole file), and -1 when the walk ran out of steps.

    Most GIFs are read by :func:`_gif_first_step` (``quick``, with its end and answer); the
    loop runs only when that step does not end the walk (extensions before the frame in a
    layout it does not know, a chain of short sub-blocks or over 1 MiB), in a branch TF runs
    as a function call. It
    passes over the leading extensions the step knows (as the eager walk does), then takes a
    block and its chain per step.
    """

    def step(p, chain, done, framed, outside):
        # At a block introducer (unless inside a chain): image descriptor (0x2C), extension
        # (0x21), or anything else, which ends the walk (the trailer 0x3B, or a byte giflib refuses).
        at = tf.minimum(p, n)
        kind, left, top, fw, fh, flags = tf.unstack(tf.cast(_GIF_BLOCK(tf.slice(data, [at], [10])), tf.int64), num=6)
        local = tf.gather(tf.constant(_GIF_TABLE), flags)  # the local colour table's size
        image, extension = tf.equal(kind, 0x2C), tf.equal(kind, 0x21)
        live = ~done & (p < n)
        walks = live & (chain | image | extension)
        new_frame = live & ~chain & image
        # The block's sub-block chain (or the rest of one): skip the leading full 255-byte
        # sub-blocks in bulk (each next length byte is 256 bytes on), then one short one.
        start = tf.minimum(tf.where(chain, p, tf.where(image, p + 11 + local, p + 2)), n)
        lengths = data[start : start + 256 * _GIF_RUN + 1 : 256]
        # (the padding ends a run within 272 bytes: a 0 is sampled before the slice's end)
        skipped = tf.minimum(tf.reduce_sum(tf.math.cumprod(tf.cast(tf.equal(lengths, 255), tf.int64))), _GIF_RUN)
        size = tf.cast(tf.gather(lengths, skipped), tf.int64)
        short = skipped < _GIF_RUN
        end = start + 256 * skipped + (1 + size) * tf.cast(short, tf.int64)
        # A short sub-block is usually the chain's last: its terminator (0) is read here too.
        closes = short & (size > 0) & tf.equal(tf.gather(data, tf.minimum(end, n)), 0)
        ended = short & tf.equal(size, 0) | closes
        end = end + tf.cast(closes, tf.int64)
        reaches = new_frame & ((left + fw > screen_w) | (top + fh > screen_h))
        # A chain inside the first frame (the only frame the walk enters) ends the walk.
        framed = framed | new_frame
        return tf.where(walks, end, p), tf.where(walks, ~ended, chain), done | ~walks | ended & framed, framed, outside | reaches

    def walked() -> tuple:
        # past the loop and control extensions, as the eager walk does before its first step
        window = tf.slice(data, tf.reshape(tf.minimum(first, n), [1]), [_GIF_WINDOW])
        leads = tf.reduce_all(tf.equal(tf.gather(window, _GIF_LEAD_AT), _GIF_LEAD_IS), axis=1)
        place = tf.gather(_GIF_PLACE, tf.reduce_sum(tf.cast(leads, tf.int32) * [4, 2, 1]))
        p = first + tf.gather(tf.constant(_GIF_SKIPS, tf.int64), place)
        state = (p, tf.constant(False), tf.constant(False), tf.constant(False), tf.constant(False))
        stop, _, done, framed, reaches = tf.while_loop(
            lambda p, chain, done, *_: ~done, step, state, maximum_iterations=MAX_GIF_STEPS
        )
        return done & ~reaches, tf.where(done, tf.where(framed, stop, n), -1)

    # A branch function, not a lowered cond: the loop's ~60 nodes stay out of the hot path
    # (lowered, they run dead for every GIF: +17 CPU us per image). Two outputs: each is a
    # node (an Identity) every GIF runs.
    return unlowered(lambda: tf.cond(quick, lambda: (quick_inside, quick_end), walked))


#: The quick first step (:func:`_gif_first_step`) reads this many bytes from the first block:
#: the leading extensions and the image descriptor (10 of its 11 bytes).
_GIF_WINDOW = 40
#: Zero bytes after the file in the GIF guard's copy: past the farthest read of the quick
#: step (13 + 768 + _GIF_WINDOW bytes in) and longer than a sub-block.
_GIF_PAD = 1024
#: The first block's offset for each value of the screen's flags byte (after the global table).
_GIF_FIRST = 13 + _GIF_TABLE
#: The logical screen's width, height and flags (bytes 6-10) and the magic (bytes 0-5, as a
#: little-endian number: exact in float64) from the first 16 bytes.
_GIF_SCREEN = np.zeros((16, 4))
_GIF_SCREEN[[6, 7, 8, 9, 10], [0, 0, 1, 1, 2]] = [1, 256, 1, 256, 1]
_GIF_SCREEN[:6, 3] = 256.0 ** np.arange(6)


def _gif_layouts() -> list:
    """The layouts the quick step reads, as ``(bytes the layout fixes, by offset from the first
    block; the image descriptor's offset)``: the descriptor after no extension, the control
    extension, the loop extension, or both (what Pillow writes), and after an extension with a
    chain of one sub-block of ``length`` bytes (any label: a comment, as GIMP and Pillow write
    one), alone or followed by a control extension, for every length the window holds."""
    (loop, looped), (control, controlled) = ((dict(zip(at, what, strict=True)), size) for at, what, size in _GIF_LEADERS)
    shifted = lambda layout, by: {by + k: v for k, v in layout.items()}  # noqa: E731
    layouts = [({}, 0), (control, controlled), (loop, looped)]
    layouts.append(({**loop, **shifted(control, looped)}, looped + controlled))
    for length in range(1, _GIF_WINDOW - 13):  # 21, label, length, the bytes, 0
        one = {0: 0x21, 2: length, 3 + length: 0}
        layouts.append((one, 4 + length))
        if 4 + length + controlled + 10 <= _GIF_WINDOW:
            layouts.append(({**one, **shifted(control, 4 + length)}, 4 + length + controlled))
    return layouts


_GIF_LAYOUTS = _gif_layouts()
#: Where the walk's loop starts (:func:`_gif_walk`): after no leading extension, the control
#: extension, the loop extension, or both (the first four layouts').
_GIF_SKIPS = tuple(skip for _, skip in _GIF_LAYOUTS[:4])


def _gif_window_tables() -> tuple:
    """The constants of the walk's start (:func:`_gif_walk`) and of :func:`_gif_first_step`.

    The walk: the leading extensions' checks as one gather (rows: the loop extension at 0,
    the control extension at 0 and at 19, each padded to 17 checks by repeating its first)
    and the descriptor's place for each outcome.

    The quick step: one matrix product over the window ``w`` (float64), its squares, the
    screen's width, height and flags (and the magic, with no weight) and a 1, giving for each
    layout of :data:`_GIF_LAYOUTS` the squared distance of the window to it (sum of
    ``(w[i] - byte)**2`` over the bytes the layout fixes, the descriptor's 0x2C included: 0
    exactly when it matches), the frame's right and bottom edges minus the screen's, and
    ``flags + 256 * layout`` (the row of :data:`_GIF_CHAIN`). Layouts that match together read
    the same blocks the same way (each fixes every byte that decides where its blocks end), so
    they agree on the descriptor.
    """
    looped = _GIF_LEADERS[0][2]  # a control extension is checked after a loop extension too
    rows = [(0, *_GIF_LEADERS[0][:2]), (0, *_GIF_LEADERS[1][:2]), (looped, *_GIF_LEADERS[1][:2])]
    where = np.array([[base + a for a in at] + [base + at[0]] * (17 - len(at)) for base, at, _ in rows], np.int32)
    what = np.array([list(pat) + [pat[0]] * (17 - len(pat)) for _, _, pat in rows], np.uint8)
    # outcome 4 * loop + 2 * control at 0 + control at 19 -> index into _GIF_SKIPS: a control
    # extension counts at 19 only after a loop extension, and at 0 only without one
    place = np.array([0, 0, 1, 1, 2, 3, 2, 3], np.int32)
    square, screen, one = _GIF_WINDOW, 2 * _GIF_WINDOW, 2 * _GIF_WINDOW + _GIF_SCREEN.shape[1]
    weights = np.zeros((one + 1, 4 * len(_GIF_LAYOUTS)))
    for j, (layout, skip) in enumerate(_GIF_LAYOUTS):
        for pos, byte in {**layout, skip: 0x2C}.items():  # (w - byte)^2 = w^2 - 2 byte w + byte^2
            weights[square + pos, 4 * j] += 1
            weights[pos, 4 * j] -= 2 * byte
            weights[one, 4 * j] += byte * byte
        for col, (at, size, edge) in ((1, (1, 5, 0)), (2, (3, 7, 1))):  # offset + size - screen's
            for pos in (at, size):
                weights[skip + pos, 4 * j + col] += 1
                weights[skip + pos + 1, 4 * j + col] += 256
            weights[screen + edge, 4 * j + col] = -1
        weights[skip + 9, 4 * j + 3] = 1  # the descriptor's flags
        weights[one, 4 * j + 3] = 256 * j
    return where, what, place, weights


_GIF_LEAD_AT, _GIF_LEAD_IS, _GIF_PLACE, _GIF_FIELDS = _gif_window_tables()
#: From the first block to the first frame's chain, by ``flags + 256 * layout``: the
#: leading extensions, the descriptor's 11 bytes (with the code size) and the local table.
_GIF_CHAIN = np.array([skip + 11 + size for _, skip in _GIF_LAYOUTS for size in _GIF_TABLE], np.int64)
#: Bytes from a chain's short sub-block's length to its end, by that length: the length, its
#: bytes, then the terminator too when that sub-block is not itself the terminator.
_GIF_CLOSE = np.array([1] + [size + 2 for size in range(1, 256)], np.int64)
#: A sub-block chain's length bytes, one per 256 bytes where its sub-blocks are full.
_GIF_STRIDE = np.array([256], np.int64)


def _gif_first_step(data: tf.Tensor, n: tf.Tensor, first: tf.Tensor, screen: tf.Tensor) -> tuple:
    """What most GIFs need of the walk, in ~35 ops with no loop and no branch: the first
    frame's descriptor after the extensions of one of :data:`_GIF_LAYOUTS` (the loop and
    control extensions, a short comment), which the window matches byte for byte, and its
    chain's end: its full sub-blocks skipped in bulk, and the short one after them followed
    by the terminator.

    Returns ``quick`` (the walk ends here: an image descriptor whose chain closes within
    :data:`_GIF_RUN` full sub-blocks), the chain's end and whether the frame lies within the
    screen (``screen``: [1, 4] float64, width, height, flags, magic). When ``quick``, the walk
    gives the same end and answers (a Hypothesis test walks both against each other, the
    eager walk and a byte-by-byte Python walk).
    """
    window = tf.cast(tf.gather(data, first + np.arange(_GIF_WINDOW)[None]), tf.float64)  # [1, 40]: padded
    features = tf.concat([window, tf.square(window), screen, np.ones((1, 1))], 1)
    layouts = tf.reshape(tf.matmul(features, _GIF_FIELDS), [len(_GIF_LAYOUTS), 4])
    distance, right, bottom, key = tf.unstack(tf.gather(layouts, tf.argmin(layouts[:, 0])))
    start = tf.minimum(first + tf.gather(_GIF_CHAIN, tf.cast(key, tf.int64)), n)
    # (a 0 of the padding ends it at worst; an int64 stride: data[a:b:256] casts an int32 one)
    lengths = tf.strided_slice(data, [start], [start + 256 * _GIF_RUN], _GIF_STRIDE)
    at = start + 256 * tf.argmax(lengths < 255)  # the first short sub-block (start if none)
    size = tf.cast(tf.gather(data, at), tf.int64)
    end = at + tf.gather(_GIF_CLOSE, size)
    # The chain's terminator: the byte before the end (the length itself when that is 0).
    closed = tf.equal(tf.gather(data, end - 1), 0) & (size < 255)
    quick = tf.equal(distance, 0) & closed
    return quick, end, (right <= 0) & (bottom <= 0)


def _gif_walk_eager(data: np.ndarray, n: int, first: int, screen_w: int, screen_h: int) -> tuple:
    """:func:`_gif_walk` step for step in Python, for eager callers (the skip report explains a
    bad file op by op: an eager TensorFlow loop runs each step's ~50 ops from Python, and a
    traced one cost ~0.3 s to trace in each process, more than a bomb's whole walk). The same
    steps, the same :data:`MAX_GIF_STEPS` bound and the same answers as the graph walk (a
    Hypothesis test checks both against each other); ``data`` is the zero-padded file."""
    size_of = lambda i: int(data[i]) if i < len(data) else 0  # noqa: E731 - past the padding: none
    word = lambda i: int(data[i]) + 256 * int(data[i + 1])  # noqa: E731
    for at, pattern, size in _GIF_LEADERS:  # as the graph walk does
        if [size_of(min(first, n) + i) for i in at] == pattern:
            first += size
    p, chain, done, framed, outside = first, False, False, False, False
    for _ in range(MAX_GIF_STEPS):
        at = min(p, n)
        kind = int(data[at])
        image, extension = kind == 0x2C, kind == 0x21
        walks = p < n and (chain or image or extension)
        if not walks:
            done = True
            break
        if image and not chain:
            left, top, fw, fh = word(at + 1), word(at + 3), word(at + 5), word(at + 7)
            framed = True
            outside = left + fw > screen_w or top + fh > screen_h
        local_table = int(_GIF_TABLE[data[at + 9]])
        start = min(p if chain else (p + 11 + local_table if image else p + 2), n)
        skipped = 0  # leading full sub-blocks, at most _GIF_RUN (the zero padding ends a run too)
        while skipped < _GIF_RUN and size_of(start + 256 * skipped) == 255:
            skipped += 1
        size = size_of(start + 256 * skipped)
        short = skipped < _GIF_RUN
        end = start + 256 * skipped + (1 + size) * short
        closes = short and size > 0 and int(data[min(end, n)]) == 0
        ended = (short and size == 0) or closes
        p, chain = end + closes, not ended
        if ended and framed:
            done = True
            break
    return done, framed, outside, p


def _GIF_BLOCK(block: tf.Tensor) -> tf.Tensor:  # noqa: N802 - a constant-like helper
    """A block's first 10 bytes (int64) -> kind, left, top, width, height, flags (float64)."""
    weights = np.zeros((10, 6))
    weights[0, 0] = 1
    for k, pos in enumerate((1, 3, 5, 7), start=1):
        weights[pos, k], weights[pos + 1, k] = 1, 256
    weights[9, 5] = 1
    return tf.matmul(tf.cast(block, tf.float64)[None], tf.constant(weights, tf.float64))[0]


BRANCHES = {"jpeg": jpeg, "png": png, "gif": gif, "bmp": bmp, "webp": webp}
#: Formats whose branch's verdict includes :func:`is_format`'s test, and which read no ``head``
#: (given ``None`` in the adapter's one-format graph: 6 nodes fewer per image).
OWN_MAGIC = frozenset({"gif"})


def refusal(fmt: tf.Tensor, n: tf.Tensor, allowed: list[str]) -> tf.Tensor:
    """Why bytes of an unknown or disallowed format are refused."""
    texts = ["unsupported format (not JPEG, PNG, GIF, BMP or WebP)"] + [
        f"format {name} not allowed (formats={', '.join(allowed)})" for name in FORMATS
    ]
    return tf.where(tf.equal(n, 0), "empty file", tf.gather(texts, fmt))


class GuardedDecode:
    """The guard in front of the pixel path, for the settings of an ``ImageDecoder`` (a mixin:
    it reads ``formats``, ``max_pixels``, ``max_file_bytes`` and the format tables from
    ``self``): :meth:`_decode` is what every decode runs, :meth:`_explain` why one failed."""

    def _decode(self, contents: tf.Tensor, exact: bool = True, box: Any = None) -> tf.Tensor:
        """The lean guard, then TF's decoder: a few ops per format (see ``_guard``).

        One lowered ``switch_case`` on the format (0: refuse), none when one format is allowed.
        Nodes are what cost in a tf.data map, dead ones included: the PNG path is ~100 nodes,
        the BMP palette check has no branch, and in the adapter's map (``exact=False``) a
        refusal is an ``Assert`` with a constant message (an ``Assert`` with numbers is wrapped
        in a branch by TF; ``why_bad`` explains failures). The JPEG DCT scale is a small switch
        inside the JPEG branch: a decode's own fixed cost is far above a branch's.
        """
        n = tf.strings.length(contents)
        # (the adapter's one-format graph of a format that tests its own magic needs no head)
        own = not exact and len(self._allowed) == 1 and self._allowed[0] in OWN_MAGIC
        head = None if own else head_of(contents)

        def refuse() -> tf.Tensor:
            if exact:
                data = [tf.strings.join(["kerasimg: ", self._refusal(n, fmt)])]
            else:
                data = [f"kerasimg: empty, not one of formats={self.formats}, or over max_file_bytes"]
            with tf.control_dependencies([tf.debugging.Assert(False, data, name="kerasimg_check")]):
                return self._blank()

        def run(name: str):
            def branch_fn() -> tf.Tensor:
                verdict = BRANCHES[name](contents, head, self.max_pixels)
                if exact:  # the reason, as why_bad gives it (strings cost: only where read)
                    data = [tf.strings.join(["kerasimg: ", verdict.reason()])]
                else:  # in the adapter's map, where why_bad explains failures; strings only
                    data = [f"kerasimg: {name} over max_pixels or a format bound (why_bad explains)"]
                with tf.control_dependencies([tf.debugging.Assert(verdict.ok, data, name="kerasimg_check")]):
                    checked = tf.identity(contents)
                return self._decoders[name](checked, verdict, box)

            return branch_fn

        if len(self._allowed) == 1:  # one format: no branch at all
            name = self._allowed[0]
            verdict = BRANCHES[name](contents, head, self.max_pixels)
            if exact:
                fmt = fmt_index(head)
                refused = (n > self.max_file_bytes) | tf.not_equal(fmt, 1 + FORMATS.index(name))
                reason = tf.where(refused, self._refusal(n, fmt), verdict.reason())
                ok, data = ~refused & verdict.ok, [tf.strings.join(["kerasimg: ", reason])]
            else:  # strings only: an Assert with numbers is wrapped in a branch by TF (+40 us/image)
                ok = (verdict.ok if own else is_format(head, name) & verdict.ok) & (n <= self.max_file_bytes)
                data = [f"kerasimg: not {name}, or over max_pixels or a format bound (why_bad explains)"]
            with tf.control_dependencies([tf.debugging.Assert(ok, data, name="kerasimg_check")]):
                checked = tf.identity(contents)
            return tf.ensure_shape(self._decoders[name](checked, verdict, box), self.output_shape)
        fmt = fmt_index(head)
        branch = tf.where(n > self.max_file_bytes, 0, tf.gather(self._branch_of_fmt, fmt))
        image = tf.switch_case(branch, [refuse] + [run(name) for name in self._allowed])
        return tf.ensure_shape(image, self.output_shape)

    def _refusal(self, n: tf.Tensor, fmt: tf.Tensor) -> tf.Tensor:
        """Why bytes are refused before any format branch: too many, empty or unknown format."""
        return tf.where(
            n > self.max_file_bytes,
            tf.strings.join([tf.strings.as_string(n), f" bytes, over max_file_bytes={self.max_file_bytes}"]),
            refusal(fmt, n, self._allowed),
        )

    def _explain(self, contents: tf.Tensor) -> tf.Tensor:
        """Why ``decode`` refused ``contents`` (graph): the detailed inspector's reason, else
        the lean guard's, else TF's decoder refused the pixels. Never raises."""
        header = _headers.inspect_header(contents, self.formats, self.max_pixels)
        corrupt = "corrupt image data (the header is valid but TensorFlow could not decode the pixels)"

        def lean() -> tf.Tensor:  # the inspector accepted the header: its sizes are sound
            n = tf.strings.length(contents)
            head = head_of(contents)
            fmt = fmt_index(head)

            def run(name: str):
                def branch_fn() -> tf.Tensor:
                    shape = tf.stack([header.height, header.width, tf.cast(header.extra, tf.int64)])
                    verdict = BRANCHES[name](contents, head, self.max_pixels, shape=shape)
                    return tf.where(verdict.ok, corrupt, verdict.reason())

                return branch_fn

            index = tf.where(n > self.max_file_bytes, 0, tf.gather(self._branch_of_fmt, fmt))
            return tf.switch_case(index, [lambda: self._refusal(n, fmt)] + [run(f) for f in self._allowed])

        return tf.cond(header.ok, lean, lambda: header.reason)
