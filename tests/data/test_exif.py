"""Tests of :mod:`kerasimg.data._exif`: EXIF orientation parsing and the upright transform."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from kerasimg.data import _exif

ORIENTATION = tf.function(_exif.orientation, input_signature=[tf.TensorSpec([], tf.string)])
NODE_BUDGET = 90  # nodes (consts included) of the orientation graph; 86 with 6 segments
CONTROL_FLOW = {"While", "StatelessWhile", "If", "StatelessIf", "Case", "PyFunc", "EagerPyFunc"}


def _jpeg(width=24, height=16, exif: bytes | None = None, seed=0) -> bytes:
    """A JPEG of an asymmetric image (random pixels), with Pillow's own EXIF block if given."""
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    buf = io.BytesIO()
    kwargs = {} if exif is None else {"exif": exif}
    Image.fromarray(pixels).save(buf, "JPEG", quality=95, **kwargs)
    return buf.getvalue()


def _pillow_exif(k: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = k
    return exif.tobytes()


def _tiff(k: int | None, order="<", offset=8, before=(), after=(), count=None) -> bytes:
    """A TIFF block: header, IFD0 at ``offset`` with entries ``before``, Orientation (a SHORT
    ``k``, none if None), ``after`` (``(tag, value)`` SHORT entries); next-IFD 0."""
    entries = [*before, *([] if k is None else [(0x0112, k)]), *after]
    head = (b"II*\0" if order == "<" else b"MM\0*") + struct.pack(order + "I", offset)
    ifd = struct.pack(order + "H", len(entries) if count is None else count)
    for tag, value in entries:
        ifd += struct.pack(order + "HHIHH", tag, 3, 1, value, 0)
    return head + b"\0" * (offset - 8) + ifd + b"\0\0\0\0"


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _with_segments(jpeg: bytes, *segments: bytes, after_app0=False) -> bytes:
    """``jpeg`` (which starts with SOI + a JFIF APP0) with ``segments`` inserted after SOI, or
    after the APP0; with ``after_app0=None`` the APP0 is dropped."""
    assert jpeg[:4] == b"\xff\xd8\xff\xe0"
    app0_end = 4 + struct.unpack(">H", jpeg[4:6])[0]
    app0, rest = jpeg[2:app0_end], jpeg[app0_end:]
    inserted = b"".join(segments)
    if after_app0 is None:
        return b"\xff\xd8" + inserted + rest
    if after_app0:
        return b"\xff\xd8" + app0 + inserted + rest
    return b"\xff\xd8" + inserted + app0 + rest


def _app1(tiff: bytes) -> bytes:
    return _segment(0xFFE1, b"Exif\0\0" + tiff)


def _orientation(data: bytes) -> int:
    return int(ORIENTATION(tf.constant(data)))


def _pillow_orientation(data: bytes) -> int:
    value = Image.open(io.BytesIO(data)).getexif().get(0x0112, 1)
    return value if value in range(1, 9) else 1


# --- orientation: valid files --------------------------------------------------------------


@pytest.mark.parametrize("k", range(1, 9))
def test_pillow_written_orientation(k):
    data = _jpeg(exif=_pillow_exif(k))
    assert _orientation(data) == k == _pillow_orientation(data)


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("k", range(1, 9))
@pytest.mark.parametrize("after_app0", [False, True, None])
def test_crafted_byte_orders_and_positions(order, k, after_app0):
    tiff = _tiff(k, order, before=[(0x0100, 24), (0x0101, 16)], after=[(0x0128, 2)])
    data = _with_segments(_jpeg(), _app1(tiff), after_app0=after_app0)
    assert _orientation(data) == k == _pillow_orientation(data)


@pytest.mark.parametrize("order", ["<", ">"])
def test_ifd_offset_and_late_entry(order):
    before = [(0x0200 + i, i) for i in range(40)]  # Orientation is entry 41 of 41
    data = _with_segments(_jpeg(), _app1(_tiff(6, order, offset=100, before=before)))
    assert _orientation(data) == 6 == _pillow_orientation(data)


def test_entries_beyond_bound_are_not_read():
    before = [(0x0100, 1)] * _exif._ENTRIES  # Orientation is entry 65
    data = _with_segments(_jpeg(), _app1(_tiff(6, before=before)))
    assert _orientation(data) == 1


def test_entry_past_the_count_is_ignored():
    tiff = _tiff(6, before=[(0x0100, 1)], count=1)  # the Orientation entry follows the count
    data = _with_segments(_jpeg(), _app1(tiff))
    assert _orientation(data) == 1 == _pillow_orientation(data)


def test_segments_before_the_exif_block():
    icc = _segment(0xFFE2, b"ICC_PROFILE\0" + bytes(300))
    com = _segment(0xFFFE, b"a comment")
    xmp = _segment(0xFFE1, b"http://ns.adobe.com/xap/1.0/\0<x/>")
    segments = [icc, com, xmp, com]  # with the JFIF APP0: the EXIF block is the 6th segment
    data = _with_segments(_jpeg(), *segments, _app1(_tiff(8)), after_app0=True)
    assert _exif._SEGMENTS == 6
    assert _orientation(data) == 8 == _pillow_orientation(data)
    too_late = _with_segments(_jpeg(), *segments, com, _app1(_tiff(8)), after_app0=True)
    assert _orientation(too_late) == 1  # 7th segment: past the bound


def test_first_exif_block_wins():
    data = _with_segments(_jpeg(), _app1(_tiff(3)), _app1(_tiff(5, ">")))
    assert _orientation(data) == 3


# --- orientation: absent, invalid, malformed, other formats ---------------------------------


def test_no_exif_or_no_orientation():
    assert _orientation(_jpeg()) == 1
    other = Image.Exif()
    other[0x010F] = "Camera"
    assert _orientation(_jpeg(exif=other.tobytes())) == 1
    assert _orientation(_with_segments(_jpeg(), _app1(_tiff(None, ">", after=[(0x0128, 6)])))) == 1


@pytest.mark.parametrize("value", [0, 9, 255, 0x0106, 0xFFFF])
@pytest.mark.parametrize("order", ["<", ">"])
def test_out_of_range_values(value, order):
    assert _orientation(_with_segments(_jpeg(), _app1(_tiff(value, order)))) == 1


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff", b"\xff\xd8", b"\xff\xd8\xff", b"\xff\xd8\xff\xe1", b"\xff\xd8\xff\xe1\xff\xff",
     b"\xff\xd8\xff\xe1\x00\x10Exif\0\0II*\0", b"\xff\xd8\xff\xe1\x00\x00Exif\0\0MM\0*\xff\xff\xff\xff",
     b"\0" * 100, b"\xff" * 70000, b"GIF89a" + bytes(20), b"RIFF\0\0\0\0WEBPVP8 "],
)  # fmt: skip
def test_odd_inputs_give_1(data):
    assert _orientation(data) == 1


def test_png_and_tiff_with_orientation_give_1():
    pixels = np.zeros((8, 12, 3), np.uint8)
    for fmt in ("PNG", "TIFF", "WEBP"):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, fmt, exif=_pillow_exif(6))
        assert _orientation(buf.getvalue()) == 1, fmt


@pytest.mark.parametrize("order", ["<", ">"])
def test_every_truncation(order):
    data = _with_segments(_jpeg(), _app1(_tiff(6, order, before=[(0x0100, 24)])))
    # Where the Orientation value (the 2nd entry's bytes 8..9) ends; bytes past the end read as
    # zeros, so a little-endian 6 is whole once its low byte is there.
    value_end = data.index(b"Exif") + 6 + 8 + 2 + 12 + 10 - (order == "<")
    results = [_orientation(data[:size]) for size in range(0, value_end + 40)]
    assert results[:value_end] == [1] * value_end
    assert results[value_end:] == [6] * 40


def test_huge_offsets_and_lengths():
    for offset in (0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 65536, 4, 0):
        for order in "<>":
            tiff = (b"II*\0" if order == "<" else b"MM\0*") + struct.pack(order + "I", offset)
            tiff += _tiff(6, order)[8:]
            assert _orientation(_with_segments(_jpeg(), _app1(tiff))) in (1, 6)
    bad_length = b"\xff\xd8\xff\xe0\xff\xff" + bytes(100)
    assert _orientation(bad_length) == 1


@given(payload=st.binary(max_size=400), header=st.sampled_from([b"", b"II*\0", b"MM\0*"]))
def test_fuzzed_exif_payload(payload, header):
    data = _with_segments(_jpeg(), _segment(0xFFE1, b"Exif\0\0" + header + payload))
    assert _orientation(data) in range(1, 9)


@given(data=st.binary(max_size=300))
def test_fuzzed_bytes(data):
    assert _orientation(data) == 1
    assert _orientation(b"\xff\xd8" + data) in range(1, 9)


@tf.function(autograph=False)
def searched(contents):  # as the decoder branches: the walk only where tagged
    return tf.cond(_exif.tagged(contents), lambda: _exif.orientation(contents), lambda: tf.constant(1, tf.int32))


@given(
    payload=st.binary(max_size=300),
    k=st.integers(0, 9),
    order=st.sampled_from(["<", ">"]),
    tagged=st.booleans(),
)
def test_the_identifier_search_gives_the_walks_answer(payload, k, order, tagged):
    # the decoder skips the walk (and every orientation op) only where "Exif\0\0" is absent
    data = _with_segments(_jpeg(), _app1(_tiff(k, order))) + payload if tagged else _jpeg() + payload
    assert int(searched(tf.constant(data))) == _orientation(data)
    assert int(searched(tf.constant(payload))) == _orientation(payload)


# --- graph: budget, tf.data, SavedModel ------------------------------------------------------


def test_node_budget():
    graph = ORIENTATION.get_concrete_function().graph.as_graph_def()
    nodes = len(graph.node) + sum(len(f.node_def) for f in graph.library.function)
    ops = {node.op for node in graph.node}
    assert nodes <= NODE_BUDGET
    assert not ops & CONTROL_FLOW


def test_in_dataset_map():
    files = [_jpeg(exif=_pillow_exif(k), seed=k) for k in range(1, 9)] + [b"", b"junk"]
    dataset = tf.data.Dataset.from_tensor_slices(files).map(_exif.orientation)
    assert [int(x) for x in dataset] == [*range(1, 9), 1, 1]


def test_saved_model_round_trip(tmp_path):
    module = tf.Module()
    module.orientation = ORIENTATION
    tf.saved_model.save(module, str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    for k in (1, 6, 8):
        assert int(loaded.orientation(tf.constant(_jpeg(exif=_pillow_exif(k))))) == k
    assert int(loaded.orientation(tf.constant(b""))) == 1


# --- apply and swaps_axes --------------------------------------------------------------------


def _numpy_upright(image: np.ndarray, k: int) -> np.ndarray:
    """exif_transpose's methods written with NumPy."""
    return {
        1: lambda a: a,
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: a.transpose(1, 0, 2),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
        8: lambda a: np.rot90(a, 1),
    }.get(k, lambda a: a)(image)


@pytest.mark.parametrize("k", range(1, 9))
def test_apply_matches_pillow_exif_transpose_exactly(k):
    pixels = np.random.default_rng(k).integers(0, 256, (5, 7, 3), np.uint8)
    image = Image.fromarray(pixels)
    image.getexif()[0x0112] = k
    expected = np.asarray(ImageOps.exif_transpose(image))
    np.testing.assert_array_equal(_exif.apply(tf.constant(pixels), tf.constant(k)), expected)
    np.testing.assert_array_equal(_numpy_upright(pixels, k), expected)


@pytest.mark.parametrize("k", range(1, 9))
def test_apply_on_decoded_jpeg_matches_pillow(k):
    """TF decode + orientation + apply against Pillow open + exif_transpose, same file
    (greyscale: no chroma upsampling, where the two libjpeg set-ups differ)."""
    pixels = np.random.default_rng(k).integers(0, 256, (24, 40), np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90, exif=_pillow_exif(k))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(buf)))
    contents = tf.constant(buf.getvalue())
    image = tf.io.decode_jpeg(contents, channels=1, dct_method="INTEGER_ACCURATE")
    got = _exif.apply(image, _exif.orientation(contents))
    np.testing.assert_array_equal(got[..., 0], expected)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.int64, np.bool_])
@pytest.mark.parametrize("channels", [1, 4])
def test_apply_any_dtype_and_channels(dtype, channels):
    image = (np.arange(3 * 5 * channels).reshape(3, 5, channels) % 7).astype(dtype)
    for k in range(-1, 11):
        got = _exif.apply(tf.constant(image), tf.constant(k))
        assert got.dtype == tf.as_dtype(dtype)
        np.testing.assert_array_equal(got, _numpy_upright(image, k))
        assert bool(_exif.swaps_axes(tf.constant(k))) == (k in range(5, 9))


def test_apply_in_graph_with_unknown_shape():
    fn = tf.function(
        _exif.apply,
        input_signature=[tf.TensorSpec([None, None, 3], tf.uint8), tf.TensorSpec([], tf.int32)],
    )
    image = np.random.default_rng(0).integers(0, 256, (4, 6, 3), np.uint8)
    for k in range(1, 9):
        np.testing.assert_array_equal(fn(image, k), _numpy_upright(image, k))
