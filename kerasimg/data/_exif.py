"""Private helpers of :mod:`kerasimg.data.decode`: the EXIF orientation of a JPEG, in TF ops.

:func:`orientation` reads the Orientation tag (0x0112) of a JPEG's APP1 ``Exif\\0\\0`` segment;
:func:`apply` turns decoded pixels upright the way Pillow's ``ImageOps.exif_transpose`` does;
:func:`swaps_axes` says whether that turn swaps height and width.

Everything here is built for the per-image path of a ``tf.data`` map and of an exported
SavedModel: TF ops only (no ``tf.py_function``, no Python-side byte access), and nothing can
raise on any input. :func:`orientation` is branch-free (no ``tf.cond``/``tf.while_loop``: about
70 plain ops); :func:`apply` has one ``tf.switch_case``, on decoded pixels, to avoid a copy. Every byte read is a
``tf.strings.substr`` whose position is clamped into the string (a failing string op would embed
raw bytes in its message) followed by a ``decode_raw`` whose ``fixed_length`` zero-pads short
reads, so reading at the end of the data yields zeros, which never match anything.

How :func:`orientation` finds the tag, in a fixed number of steps:

1. Only the first ``_WINDOW`` (64 KiB) bytes are looked at; they must start with SOI (FF D8).
2. The marker segments after SOI are walked by their lengths, ``_SEGMENTS`` of them, unrolled
   (each step: clamp, read the 2-byte length, add). A segment whose payload starts with
   ``Exif\\0\\0`` and then a TIFF header (``II*\\0`` little-endian or ``MM\\0*`` big-endian) is
   the EXIF block; the first one wins. Past the first scan or a broken length the walk reads
   garbage or zeros, which cannot look like an EXIF block by accident (10 fixed bytes).
3. IFD0's offset is read from the TIFF header; IFD0's entry count and its first ``_ENTRIES``
   entries are read at once as a [rows, 6] table of 16-bit words in the block's byte order;
   the Orientation entry's value (a SHORT, in the first 2 bytes of the value field) is taken.
4. Values outside 1..8, like a missing or malformed block, give 1.
"""

from __future__ import annotations

import sys

import numpy as np
import tensorflow as tf

from kerasimg.data import _headers

_WINDOW = 65536  # bytes of the file looked at
_SEGMENTS = 6  # marker segments after SOI searched for the EXIF block (it is normally 1st or 2nd)
_ENTRIES = 64  # IFD0 entries read (12 bytes each)
_BIG = 1 << 24  # a position past any window: clamps to the end, where reads yield zeros
_TAG = 0x0112  # Orientation
# APP1 identifier + TIFF header, little-endian then big-endian (a column, to compare at once).
_IDENTS = np.array([[b"Exif\0\0II*\0"], [b"Exif\0\0MM\0*"]], object)
_ROWS = _ENTRIES + 1  # the IFD block is read 10 bytes early: row 0 ends with the entry count
# Row numbers compared with the entry count: row 0 (not an entry) is never <= a valid count.
_ROW_NUMBERS = np.array([0xFFFF, *range(1, _ROWS)], np.uint16)
# orientation value (clamped to 9) -> result: 1..8 stay, 0 (none) and 9+ (invalid) give 1.
_RESULT = np.array([1, 1, 2, 3, 4, 5, 6, 7, 8, 1], np.int32)

# For apply(): per orientation (index 0 and 9 = invalid: identity), the axes permutation and
# then which flip of the permuted image (0 none, 1 columns, 2 both, 3 rows). Pillow's
# exif_transpose methods: 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE,
# 6 ROTATE_270 (90° clockwise), 7 TRANSVERSE, 8 ROTATE_90 (90° counter-clockwise).
_SWAP = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0], bool)
_PERMS = np.array([[1, 0, 2] if swap else [0, 1, 2] for swap in _SWAP], np.int32)
_FLIPS = np.array([0, 0, 1, 2, 3, 0, 1, 2, 3, 0], np.int32)


def _u16_be(raw: tf.Tensor, pad4: tf.Tensor) -> tf.Tensor:
    """A big-endian 16-bit word from a scalar string of at most 2 bytes, as a scalar int32.

    ``decode_raw`` zero-pads the read to 4 bytes: words ``[w, 0]`` in host order, which a
    bitcast turns into the scalar ``w`` on a little-endian host (one op, no reshape).
    """
    words = tf.io.decode_raw(raw, tf.uint16, little_endian=False, fixed_length=pad4)
    if sys.byteorder == "little":
        return tf.bitcast(words, tf.int32)
    return tf.reduce_sum(tf.cast(words, tf.int32))  # pragma: no cover - big-endian hosts


def orientation(contents: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation (1..8) of an encoded JPEG, or 1 without a valid one.

    Graph-safe and branch-free (a fixed set of about 70 ops); never raises, on any input: absent,
    truncated or malformed EXIF data, other formats and random bytes all give 1.

    Args:
        contents: a scalar string tensor, the encoded file.

    Returns:
        A scalar int32 tensor: the Orientation tag (0x0112) of IFD0 when it is 1..8, else 1.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> exif = Image.Exif()
        >>> exif[0x0112] = 6
        >>> buf = io.BytesIO()
        >>> Image.new("RGB", (4, 2)).save(buf, "JPEG", exif=exif.tobytes())
        >>> int(orientation(tf.constant(buf.getvalue())))
        6
        >>> int(orientation(tf.constant(b"not a jpeg")))
        1
    """
    contents = tf.convert_to_tensor(contents, tf.string)
    # Shared constants (each Python literal would otherwise be a node of its own).
    zero, one, two, four, big = (tf.constant(v) for v in (0, 1, 2, 4, _BIG))

    head = tf.strings.substr(contents, zero, tf.constant(_WINDOW))
    n = tf.strings.length(head)
    soi = tf.equal(tf.strings.substr(head, zero, two), b"\xff\xd8")

    # Walk the segments: q is the clamped position of a segment's length field (the marker is
    # the 2 bytes before it); the next one is 2 bytes past its end. Without SOI the walk
    # starts past the end and reads nothing.
    q = tf.minimum(tf.where(soi, four, big), n)
    positions = [q]
    for _ in range(_SEGMENTS - 1):
        length = _u16_be(tf.strings.substr(head, q, two), four)
        q = tf.minimum(tf.math.add_n([q, length, two]), n)
        positions.append(q)
    q = tf.stack(positions)

    # The first segment whose payload is "Exif\0\0" + a TIFF header, in either byte order:
    # one [2, segments] comparison, the first match of each row (_BIG if none).
    ident = tf.strings.substr(head, tf.minimum(q + two, n), tf.constant([10] * _SEGMENTS))
    first = tf.reduce_min(tf.where(tf.equal(ident, _IDENTS), q, big), axis=one)
    at_le, at_be = tf.unstack(first)
    at = tf.minimum(at_le, at_be)  # the EXIF segment's length field; _BIG if none
    little = tf.less(at_le, at_be)

    # IFD0's offset from the TIFF header (at + 8), a u32; as int32 it may be negative or
    # overflow below, which the clamp turns into a harmless read.
    off_pos = at + tf.constant(12)
    raw = tf.strings.substr(head, tf.minimum(off_pos, n), four)
    offset = tf.where(
        little,
        tf.io.decode_raw(raw, tf.int32, little_endian=True, fixed_length=four),
        tf.io.decode_raw(raw, tf.int32, little_endian=False, fixed_length=four),
    )
    # The block starts 10 bytes before IFD0 (TIFF start + offset), so that its rows of 12 bytes
    # are: row 0 = [10 bytes, entry count], rows 1.. = entries [tag, type, count x2, value, pad].
    start = tf.clip_by_value(offset + (at - two), zero, n)
    block = tf.strings.substr(head, start, tf.constant([_ROWS * 12]))
    size = tf.constant(_ROWS * 12)
    words = tf.where(
        little,
        tf.io.decode_raw(block, tf.uint16, little_endian=True, fixed_length=size),
        tf.io.decode_raw(block, tf.uint16, little_endian=False, fixed_length=size),
    )
    tag, _, _, _, value, count = tf.unstack(tf.reshape(words, [_ROWS, 6]), axis=1)
    hit = tf.logical_and(
        tf.equal(tag, tf.constant(_TAG, tf.uint16)),
        tf.less_equal(tf.constant(_ROW_NUMBERS), tf.gather(count, zero, axis=zero)),
    )
    found = tf.reduce_max(tf.where(hit, value, tf.constant(0, tf.uint16)), axis=zero)
    found = tf.cast(tf.minimum(found, tf.constant(9, tf.uint16)), tf.int32)
    return tf.gather(tf.constant(_RESULT), found, axis=zero)


def tagged(contents: tf.Tensor) -> tf.Tensor:
    """Whether ``Exif\\0\\0`` occurs in the first ``_WINDOW`` bytes: without it there is no
    EXIF block for :func:`orientation` to find (it answers 1), so the decoder takes a branch
    with no orientation op. One substring search instead of the ~70-op walk.

    Example:
        >>> bool(tagged(tf.constant(b"\\xff\\xd8\\xff\\xe1\\x00\\x10Exif\\x00\\x00"))), bool(tagged(tf.constant(b"\\xff\\xd8")))
        (True, False)
    """
    head = tf.strings.substr(tf.convert_to_tensor(contents, tf.string), 0, _WINDOW)
    return _headers.pieces(head, b"Exif\0\0", 1) > 1


def swaps_axes(orientation: tf.Tensor) -> tf.Tensor:
    """Whether the orientation turns the image by 90° (5..8), swapping height and width.

    Args:
        orientation: a scalar int tensor (values outside 1..8 mean no turn).

    Returns:
        A scalar bool tensor.

    Example:
        >>> [bool(swaps_axes(tf.constant(k))) for k in (1, 3, 6, 8)]
        [False, False, True, True]
    """
    k = tf.cast(orientation, tf.int32)
    return tf.logical_and(k >= 5, k <= 8)


def apply(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Turns an image upright for its EXIF orientation, as Pillow's ``exif_transpose`` does.

    One ``Transpose`` whose permutation is a tensor (it forwards the input for orientations
    1..4: no copy) and one ``tf.switch_case`` over the four flips (none, columns, both, rows):
    a branch-free ``ReverseV2`` would copy the whole image even when nothing is reversed,
    which costs more than the switch for any image over a few thousand pixels.

    Args:
        image: a [height, width, channels] tensor of any dtype.
        orientation: a scalar int tensor, 1..8 (anything else leaves the image as is).

    Returns:
        The upright image, same dtype and channels; height and width swapped for 5..8.

    Example:
        >>> image = tf.reshape(tf.range(6), [2, 3, 1])
        >>> apply(image, tf.constant(6))[..., 0].numpy().tolist()  # 90° clockwise
        [[3, 0], [4, 1], [5, 2]]
    """
    k = tf.clip_by_value(tf.cast(orientation, tf.int32), 0, 9)
    image = tf.transpose(image, tf.gather(tf.constant(_PERMS), k))
    return tf.switch_case(
        tf.gather(tf.constant(_FLIPS), k),
        [
            lambda: image,
            lambda: tf.reverse(image, [1]),
            lambda: tf.reverse(image, [0, 1]),
            lambda: tf.reverse(image, [0]),
        ],
    )
