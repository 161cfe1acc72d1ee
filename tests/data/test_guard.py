"""The lean guard (``kerasimg/data/_guard.py``): a small decode graph per format, and the
bombs it refuses before any pixel is decoded, in the decoder, the adapter and serving."""

from __future__ import annotations

import io
import os
import time
import warnings
from pathlib import Path
from typing import Any

import benchmark_scripts
import numpy as np
import pytest
import tensorflow as tf
from corpus import gif_bytes, jpeg_bytes, png_bytes, smooth_image
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import kerasimg.data as kd
from kerasimg.data import _guard

RNG = np.random.default_rng(11)
IMAGE = smooth_image(RNG, 48, 64)

#: Nodes of the traced decode function (graph + its function library) per allowed format.
#: Before the lean guard (8a13643): png 337, jpeg 658, bmp 331, webp 375 (and a function call to a
#: While-loop inspector for every non-whole JPEG). Keep it lean: raise a
#: budget only with a measurement showing the added cost is worth it.
#: After this stop's rewrite (fields read by one matrix product, one-format magic test): png 111,
#: jpeg 353, gif 369, bmp 200, webp 150.
#: Then (issue 9, stop 11): the JPEG scan count and the EXIF search by the raw StringSplitV2
#: op (tf.strings.split on a scalar adds ragged plumbing: +117 us per image against +36 us), the
#: EXIF walk behind that search, and one GIF walk step per loop iteration: png 113, jpeg 317,
#: gif 258, bmp 195, webp 145. Stop 12: a GIF walk step reads a block and its whole chain
#: (one loop iteration per frame instead of 3-5: the guard 690 -> 480 CPU us per 300-500 px
#: GIF in a tf.data map; the step also reads the chain's terminator, 480 -> 370 us), gif 282;
#: JPEGs without ``Exif\0\0`` take a branch with no orientation op (~180 -> ~55 CPU us per image
#: for EXIF handling on the crop path; the other branch duplicates the decode), jpeg 368.
#: Stop 13: one ``switch_case`` picks the DCT scale of an upright JPEG or the EXIF path (the
#: ``tf.cond`` around a switch was two branch ops per image, ~27 CPU us each: 35-50 us less per
#: image measured, at 23 more nodes): jpeg 391. The GIF walk's first step inline, the loop in a
#: branch only a multi-block GIF enters, and the file read zero-padded in one op: the step's
#: nodes twice (the loop's are instantiated only when it runs), the guard 374 -> 321 CPU us per
#: image, GIF 0.92x -> 0.95-0.97x plain tf.data: gif 430.
#: Stop 14: the BMP fields signed and the (depth, compression) pair read by the one product,
#: the 8-bit colour table read in a branch only 8-bit BMPs take (inline it cost every BMP
#: ~60 CPU us per image, the branch ~35): the BMP guard 129 -> 75-86 us, 0.89x -> 0.99x plain
#: tf.data by CPU time: bmp 191 (of which 36 in the branch functions). The GIF walk's inline
#: first step without the ops its constant state would cost and with the colour tables'
#: sizes looked up (gif 430 -> 383: the guard ~300 -> ~260 us), and a graphic control
#: extension before the first frame passed over inline (13 nodes, +15-30 us on a GIF87a; a
#: one-frame GIF89a no longer enters the loop: -126 us): gif 396.
#: Stop 15: the GIF walk ends with the first frame's chain, which is all the decoder is given
#: (no byte after a chain read, no frame count or area summed), and an animation's loop-count
#: extension is passed over inline like the control extension: gif 379 (adapter 334); the
#: walk carrying whether it saw the frame as a bool, not a count: gif 373 (adapter 328).
#: Stop 16: the GIF walk's first step specialised to what most GIFs hold (both leading
#: extensions checked by one gather, the descriptor read at its four possible places by one
#: product, the chain's first short sub-block found by one argmax: ~45 ops against ~75), and
#: the loop behind a branch TF calls as a function, not a lowered cond whose ~60 dead nodes
#: every GIF ran: the guard alone 130 -> 93 CPU us per image in a tf.data map, the adapter
#: 0.91x -> 0.93x plain tf.data on GIF89a by CPU: gif 342 (adapter 297, 165 of them in the
#: map function itself).
#: Stop 17: the quick step as one product over the window and its squares (the distance to each
#: layout, the edges, the chain's offset) read from the file's zero-padded copy, with 44 more
#: layouts (a comment of up to 26 bytes first, alone or before a control extension), the
#: walk's start past the leading extensions moved into the loop's branch: the guard alone
#: 92 -> 84 CPU us per GIF89a, 164 -> 90 per GIF with a comment first, in a tf.data map:
#: gif 347 (adapter 302).
#: Stop 23: the GIF magic read by the screen's product (the adapter's one-format GIF graph has no
#: head_of and no is_format: -6 nodes), the walk's branch with two outputs (whether the file
#: passes, where the cut goes), the area as one int64 product, the chain's terminator read at
#: its end (one gather, no product of length and byte) and the chain's lengths with an int64
#: stride: the adapter's map function 84 -> 70 computing nodes per GIF, gif 342 (adapter 279).
#: Stop 24: the cut decoded by DecodeGif and its frame sliced instead of DecodeImage, the same
#: pixels: DecodeImage took ~9 % more CPU per transparent GIF89a in a tf.data map (1631
#: against 1498 us), and kerasimg read 0.92-0.93x plain tf.data (which uses DecodeGif) on those
#: in two benchmark runs. The slice's 4 nodes replace DecodeImage's EnsureShape (DecodeGif's
#: frames have a static channel count): gif 346 (adapter 283), then 345 (282).
OP_BUDGET = {"png": 120, "jpeg": 395, "gif": 345, "bmp": 195, "webp": 155}
#: The datasets' own decode graph (``_decode(exact=False)``: no reason strings, the format's own
#: magic only), what every image of a one-format folder runs: png 66, jpeg 308, gif 317, bmp 122,
#: webp 105; at stop 11 png 68, jpeg 272, gif 206, bmp 117, webp 100; stop 12 gif 230, jpeg 323
#: (above); stop 13 jpeg 346, gif 378; stop 14 bmp 110, gif 344; stop 15 gif 334, then 328;
#: stop 16 gif 297; stop 23 gif 279; stop 24 gif 283, then 282.
#: In a tf.data map each op costs ~2 us per image whatever it does, and each node is
#: instantiated again for every epoch's iterator (since stop 12 without Grappler).
ADAPTER_OP_BUDGET = {"png": 72, "jpeg": 350, "gif": 282, "bmp": 115, "webp": 108}


def _lean(decoder: kd.ImageDecoder) -> Any:
    """The adapter's decode graph (``_decode(exact=False)``) as a ``tf.function``."""
    return tf.function(lambda c: decoder._decode(c, exact=False), autograph=False)


def _lean_ops(decoder: kd.ImageDecoder) -> list[str]:
    """The op of every node of :func:`_lean`'s graph for one scalar string."""
    graph = _lean(decoder).get_concrete_function(tf.TensorSpec([], tf.string)).graph.as_graph_def()
    return [n.op for n in graph.node]


def _count_nodes(decoder: kd.ImageDecoder, exact: bool = True) -> int:
    def decode(contents: tf.Tensor) -> tf.Tensor:
        return decoder.decode(contents) if exact else decoder._decode(contents, exact=False)

    fn = tf.function(decode, input_signature=[tf.TensorSpec([], tf.string)], autograph=False)
    graph = fn.get_concrete_function().graph.as_graph_def()
    return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)


@pytest.mark.parametrize("fmt", sorted(OP_BUDGET))
def test_decode_graph_stays_within_its_op_budget(fmt: str) -> None:
    nodes = _count_nodes(kd.ImageDecoder(image_size=(32, 32), formats=(fmt,)))
    assert nodes <= OP_BUDGET[fmt], f"{fmt}: {nodes} nodes, budget {OP_BUDGET[fmt]}"


@pytest.mark.parametrize("fmt", sorted(ADAPTER_OP_BUDGET))
def test_dataset_decode_graph_stays_within_its_op_budget(fmt: str) -> None:
    nodes = _count_nodes(kd.ImageDecoder(image_size=(32, 32), formats=(fmt,)), exact=False)
    assert nodes <= ADAPTER_OP_BUDGET[fmt], f"{fmt}: {nodes} nodes, budget {ADAPTER_OP_BUDGET[fmt]}"


def test_png_path_holds_no_inspector() -> None:
    """The detailed inspector (a JPEG marker walk: While + hundreds of nodes) is off the hot path."""
    fn = tf.function(kd.ImageDecoder(image_size=(32, 32)).decode, input_signature=[tf.TensorSpec([], tf.string)])
    graph = fn.get_concrete_function().graph.as_graph_def()
    ops = [n.op for f in graph.library.function for n in f.node_def] + [n.op for n in graph.node]
    assert ops.count("DecodeRaw") < 20  # the inspector alone read ~40 fields
    assert "DecodePng" in ops and "ExtractJpegShape" in ops


# ---------------------------------------------------------------------- bombs


_BOMBS = benchmark_scripts.load("bombs")  # one builder for the tests and the benchmark
gif_frame_bomb = _BOMBS.gif_frame_bomb  # a 1x1 screen, one 6000x6000 frame
jpeg_scan_bomb = _BOMBS.jpeg_scan_bomb  # 4000x4000 progressive, the last scan 5,000 times


def test_gif_frame_larger_than_its_screen_is_refused() -> None:
    decoder = kd.ImageDecoder(image_size=None)
    start = time.perf_counter()
    assert decoder.why_bad(gif_frame_bomb()) == "GIF frame larger than its logical screen (refused before decoding)"
    assert time.perf_counter() - start < 30  # includes tracing; the refusal itself is cheap
    # a real animated GIF still decodes (first frame), frames within the screen
    frames = [smooth_image(RNG, 48, 64) for _ in range(3)]
    assert decoder.decode(gif_bytes(IMAGE, frames)).shape == (48, 64, 3)


def test_gif_with_too_many_blocks_is_refused() -> None:
    """Each block is a step of the walk (~120 CPU us): 65,000 one-byte comments (325 KB) are
    refused at MAX_GIF_STEPS, and a GIF just under it still decodes."""
    reason = f"GIF has over {_guard.MAX_GIF_STEPS} blocks: refused before decoding"
    decoder = kd.ImageDecoder(image_size=(8, 8))
    assert decoder.why_bad(_BOMBS.gif_block_bomb()) == reason
    with pytest.raises(tf.errors.InvalidArgumentError, match="kerasimg"):
        decoder.decode(_BOMBS.gif_block_bomb())
    assert decoder.why_bad(_BOMBS.gif_block_bomb(_guard.MAX_GIF_STEPS - 2)) is None  # the frame is a step


def test_skip_report_explains_a_refusal_without_decoding_again(tmp_path: Path, monkeypatch) -> None:
    """The skip report (``_try_decode(traced=False)``) gives the guard's reason for a file the
    dataset dropped without running the decode a second time (for the comment bomb that second
    walk was most of the report's time); a file with a sound header is still decoded again, for
    TensorFlow's message."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "bomb.gif").write_bytes(_BOMBS.gif_block_bomb())
    (tmp_path / "a" / "cut.gif").write_bytes(gif_bytes(IMAGE)[:-40])
    (tmp_path / "a" / "good.gif").write_bytes(gif_bytes(IMAGE))
    ds = kd.from_directory(tmp_path, image_size=(8, 8), batch_size=None, seed=0)
    calls = []
    original = kd.ImageDecoder._decode
    monkeypatch.setattr(kd.ImageDecoder, "_decode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(list(ds)) == 1
    reasons = {Path(path).name: reason for path, reason in ds.skipped}
    assert reasons["bomb.gif"] == f"GIF has over {_guard.MAX_GIF_STEPS} blocks: refused before decoding"
    assert reasons["cut.gif"].startswith("corrupt image data")
    assert len(calls) == 1  # cut.gif only


def _animated(frames: int, size: tuple[int, int] = (48, 64), loop: bool = True) -> bytes:
    """An animated GIF89a (Pillow: a NETSCAPE2.0 loop extension when ``loop``, and a graphic
    control extension before each frame), every frame different."""
    images = [Image.fromarray(np.roll(smooth_image(RNG, *size), 5 * i, axis=1)).convert("P") for i in range(frames)]
    out = io.BytesIO()
    extra = {"loop": 0} if loop else {}
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=40, disposal=1, **extra)
    return out.getvalue()


@pytest.mark.parametrize("loop", [True, False])
def test_gif_decodes_its_first_frame_only(loop: bool) -> None:
    """TF's GIF decoder reads every frame; the guard hands it the file up to the first frame's
    end: the same pixels as the whole file's first frame, in ``decode``, the adapter's graph
    and eagerly, with ``max_pixels`` bounding one frame, not their total."""
    data = _animated(6, loop=loop)
    first = tf.io.decode_gif(data)[0].numpy()
    assert tf.io.decode_gif(data).shape[0] == 6
    decoder = kd.ImageDecoder(image_size=None, max_pixels=48 * 64)  # one frame, not six
    graph = _lean(decoder)
    np.testing.assert_array_equal(decoder.decode(data).numpy(), first)
    np.testing.assert_array_equal(graph(tf.constant(data)).numpy(), first)
    np.testing.assert_array_equal(decoder._decode(tf.constant(data)).numpy(), first)  # eager walk
    contents = tf.constant(data)
    verdict = _guard.gif(contents, _guard.head_of(contents), 48 * 64)
    cut = _guard.first_frame(contents, verdict.extra)
    assert tf.io.decode_gif(cut).shape[0] == 1 and len(cut.numpy()) < len(data) / 4
    assert kd.ImageDecoder(image_size=None, max_pixels=48 * 64 - 1).why_bad(data).endswith("over max_pixels=3071")


def _pillow_gif(kind: str) -> bytes:
    out = io.BytesIO()
    image = Image.fromarray(smooth_image(RNG, 300, 400))  # a chain of ~100 full sub-blocks
    if kind == "gif89a":  # a transparent colour: a graphic control extension before the frame
        image.save(out, "GIF", transparency=0)
    elif kind == "gif87a":
        image.save(out, "GIF")
    elif kind == "comment":  # a comment extension before the frame, as GIMP writes one
        image.save(out, "GIF", comment=b"Created with GIMP")
    else:
        return _animated(3, (300, 400), loop=kind == "looping")
    return out.getvalue()


@pytest.mark.parametrize("kind", ["gif87a", "gif89a", "looping", "animated", "comment"])
def test_common_gifs_take_the_first_step_without_the_loop(kind: str) -> None:
    """What Pillow writes (no extension, a control extension, a loop extension and a control
    extension, a comment) is read by the quick first step, which ends where the walk ends: the
    loop is the fallback for other layouts, and a slip in the step that only sends a common GIF
    to the loop (same answers, slower) fails here, not only in the benchmark."""
    data = _pillow_gif(kind)
    assert data[:6] == (b"GIF87a" if kind == "gif87a" else b"GIF89a")
    contents = tf.constant(data)
    n = tf.constant(len(data), tf.int64)
    padded = tf.io.decode_raw(contents, tf.uint8, fixed_length=len(data) + _guard._GIF_PAD)
    first = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)
    screen = tf.constant([[400.0, 300.0, data[10], int.from_bytes(data[:6], "little")]], tf.float64)
    quick, end, inside = _guard._gif_first_step(padded, n, tf.constant(first, tf.int64), screen)
    walked = _guard._gif_walk_eager(padded.numpy(), len(data), first, 400, 300)
    assert bool(quick) and bool(inside)
    assert walked == (True, True, False, int(end))
    assert (data[int(end)] == 0x3B) == (kind in ("gif87a", "gif89a", "comment"))  # one frame: the trailer next


@pytest.mark.parametrize("kind", ["gif87a", "gif89a", "looping", "animated", "comment"])
def test_gif_cut_goes_to_decode_gif_with_the_whole_files_pixels(kind: str) -> None:
    """The cut is decoded by DecodeGif, not DecodeImage (the same pixels; DecodeImage took ~9 %
    more CPU per GIF89a with a transparent colour): every layout Pillow writes, transparency
    included, gives exactly what DecodeImage and DecodeGif give for the whole file's first frame."""
    data = _pillow_gif(kind)
    whole = tf.io.decode_image(data, channels=3, expand_animations=False).numpy()
    np.testing.assert_array_equal(tf.io.decode_gif(data)[0].numpy(), whole)
    decoder = kd.ImageDecoder(image_size=None, formats=("gif",))
    lean = _lean(decoder)
    np.testing.assert_array_equal(lean(tf.constant(data)).numpy(), whole)
    np.testing.assert_array_equal(decoder.decode(data).numpy(), whole)
    ops = _lean_ops(decoder)
    assert ops.count("DecodeGif") == 1 and "DecodeImage" not in ops


@pytest.mark.parametrize("magic", [b"GIF88a", b"GIF87b", b"gif89a", b"GIF89"])
def test_gif_graph_reads_the_magic_itself(magic: bytes) -> None:
    """The adapter's one-format GIF graph has no magic test of its own (``OWN_MAGIC``: no
    ``head_of``, no ``is_format``): the GIF verdict's product over the first 16 bytes reads it.
    giflib itself only checks "GIF", so a file a byte off the two magics must be refused here,
    as ``decode`` and ``why_bad`` refuse it."""
    good = gif_bytes(IMAGE)
    bad = magic + good[6:]  # (b"GIF89": the header one byte short)
    decoder = kd.ImageDecoder(image_size=None, formats=("gif",))
    lean = _lean(decoder)
    np.testing.assert_array_equal(lean(tf.constant(good)).numpy(), decoder.decode(good).numpy())
    with pytest.raises(tf.errors.InvalidArgumentError, match="kerasimg: not gif"):
        lean(tf.constant(bad))
    assert decoder.why_bad(bad).startswith("unsupported format"), decoder.why_bad(bad)
    assert _lean_ops(decoder).count("Substr") == 1  # the cut after the first frame only


def test_gif_frames_after_the_first_are_never_read() -> None:
    """A bomb in the second frame (a frame larger than its screen, corrupt data) is not read:
    the first frame decodes; the same bomb as the first frame is refused."""
    one = gif_bytes(IMAGE)
    start = 13 + (3 * (2 << (one[10] & 7)) if one[10] & 0x80 else 0)
    body = one[start:-1]  # the frame (descriptor, colour table, chain), without the trailer
    bomb = _BOMBS.gif_frame_bomb()
    bomb_frame = bomb[19:-1]  # after its 1x1 screen's two-entry table
    decoder = kd.ImageDecoder(image_size=None)
    np.testing.assert_array_equal(decoder.decode(one[:-1] + bomb_frame + b"\x3b").numpy(), decoder.decode(one).numpy())
    np.testing.assert_array_equal(decoder.decode(one[:-1] + b"\x2c\xff\xff" + b"\x3b").numpy(), decoder.decode(one).numpy())
    assert body.startswith(b"\x2c")
    assert decoder.why_bad(one[:start] + bomb_frame + body + b"\x3b") == (
        "GIF frame larger than its logical screen (refused before decoding)"
    )


def _walk_reference(data: bytes, max_pixels: int) -> tuple[bool, int, bool]:
    """The GIF block walk in plain Python, to the end of the first frame's chain: (within
    bounds, where the first frame ends or the file's length without a frame, the frame
    outside a screen within ``max_pixels``). Bytes past the end read as zeros, as in the guard."""
    byte = lambda i: data[i] if i < len(data) else 0  # noqa: E731
    word = lambda i: byte(i) + 256 * byte(i + 1)  # noqa: E731
    screen_w, screen_h, flags = word(6), word(8), byte(10)
    p = 13 + (3 * (2 << (flags & 7)) if flags & 128 else 0)
    outside = False
    while p < len(data):
        image = byte(p) == 0x2C
        if image:
            left, top, width, height, local = word(p + 1), word(p + 3), word(p + 5), word(p + 7), byte(p + 9)
            outside = left + width > screen_w or top + height > screen_h
            p += 11 + (3 * (2 << (local & 7)) if local & 128 else 0)
        elif byte(p) == 0x21:
            p += 2
        else:
            break
        while byte(p) != 0:  # the sub-block chain
            p += 1 + byte(p)
        p += 1
        if image:
            screen_ok = screen_w * screen_h <= max_pixels  # else the reason is the screen's size
            return screen_ok and not outside, p, screen_ok and outside
    return screen_w * screen_h <= max_pixels, len(data), False


def _traced_walk(run: int, max_pixels: int):
    saved, _guard._GIF_RUN = _guard._GIF_RUN, run  # read when the walk is traced
    try:
        def walk(contents: tf.Tensor) -> tuple[tf.Tensor, ...]:
            verdict = _guard.gif(contents, _guard.head_of(contents), max_pixels)
            return verdict.ok, verdict.extra, verdict.reason()

        return tf.function(walk, input_signature=[tf.TensorSpec([], tf.string)]).get_concrete_function()
    finally:
        _guard._GIF_RUN = saved


_WALK_PIXELS = 1500
#: the guard as shipped, and with 2 full sub-blocks per step (chains then span many steps)
_WALKS = {run: _traced_walk(run, _WALK_PIXELS) for run in (_guard._GIF_RUN, 2)}


@st.composite
def _gif_blocks(draw) -> bytes:
    """GIF-like bytes: a screen, then image descriptors and extensions with sub-block chains
    (full 255-byte runs likely; often a loop count and a graphic control extension first, as
    animated and most GIF89a files have, or ones a byte away from them), maybe a trailer or a
    stray byte, maybe cut short."""
    screen = draw(st.tuples(st.integers(0, 60), st.integers(0, 60)))
    out = bytearray(b"GIF89a" + screen[0].to_bytes(2, "little") + screen[1].to_bytes(2, "little"))
    out += bytes([draw(st.sampled_from([0, 0x80, 0x81])), 0, 0])
    out += bytes(3 * (2 << (out[10] & 7)) if out[10] & 128 else 0)
    loop = draw(st.sampled_from([None, b"\x0bNETSCAPE2.0\x03\x01", b"\x0bNETSCAPE2.1\x03\x01", b"\x0bNETSCAPE2.0\x04\x01"]))
    if loop is not None:  # the loop count extension (21 FF, 19 bytes), passed over too, or near misses
        out += b"\x21\xff" + loop + bytes(draw(st.sampled_from([[0, 0], [0, 0x2C]])))
        out += draw(st.sampled_from([b"\x00", b"\x00", b"\x01\x00\x00", b"\x2c\x00"]))
    control = draw(st.sampled_from([None, b"\x21\xf9\x04", b"\x21\xf9\x05", b"\x21\xfe\x04"]))
    if control is not None:  # 21 F9 04, 4 bytes, 00: the walk passes over it before its first step
        out += control + bytes(draw(st.sampled_from([[0, 0, 0, 0], [1, 0x2C, 0, 0x3B], [255] * 4])))
        out += draw(st.sampled_from([b"\x00", b"\x00", b"\x01\x00\x00"]))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            left, top, w, h = (draw(st.integers(0, 40)) for _ in range(4))
            local = draw(st.sampled_from([0, 0x80]))
            out += bytes([0x2C]) + b"".join(v.to_bytes(2, "little") for v in (left, top, w, h)) + bytes([local, 2])
            out += bytes(6 if local else 0)
        else:
            out += bytes([0x21, draw(st.sampled_from([0xF9, 0xFE, 0x01]))])
        for size in draw(st.lists(st.sampled_from([255, 255, 255, 1, 7, 200]), max_size=8)):
            out += bytes([size]) + bytes([draw(st.sampled_from([0, 0x2C, 0x21, 0x3B, 255]))]) * size
        out += b"\x00"
    out += draw(st.sampled_from([b"\x3b", b"", b"\x00", b"\x2c"]))
    cut = draw(st.integers(13, len(out)))
    return bytes(out[:cut]) if draw(st.booleans()) else bytes(out)


@given(_gif_blocks())
def test_gif_walk_matches_a_plain_python_walk(data: bytes) -> None:
    """The graph walk (a block and its chain per step, runs of full sub-blocks skipped in bulk)
    finds the first frame, its end, size and position that a byte-by-byte Python walk finds."""
    ok, end, outside = _walk_reference(data, _WALK_PIXELS)
    for run, walk in _WALKS.items():
        got_ok, got_end, reason = (v.numpy() for v in walk(tf.constant(data)))
        # (an end past the file's end cuts nothing: the whole file goes to the decoder)
        assert (bool(got_ok), min(int(got_end), len(data))) == (ok, min(end, len(data))), (run, data)
        if outside:
            assert reason == b"GIF frame larger than its logical screen (refused before decoding)", (run, reason)
        # the eager walk (Python, what the skip report runs) answers as the graph walk does
        assert _eager_walk(run, data) == (bool(got_ok), int(got_end), reason), (run, data)


def _eager_walk(run: int, data: bytes) -> tuple[bool, int, bytes]:
    saved, _guard._GIF_RUN = _guard._GIF_RUN, run
    try:
        contents = tf.constant(data)
        verdict = _guard.gif(contents, _guard.head_of(contents), _WALK_PIXELS)
        return bool(verdict.ok), int(verdict.extra), verdict.reason().numpy()
    finally:
        _guard._GIF_RUN = saved


def test_eager_and_graph_walks_share_the_step_bound() -> None:
    """The Python walk of eager callers stops at MAX_GIF_STEPS as the graph walk does: the
    comment bomb is refused with the same reason, one block fewer than the bound passes."""
    for blocks, refused in ((_guard.MAX_GIF_STEPS, True), (_guard.MAX_GIF_STEPS - 2, False)):
        data = _BOMBS.gif_block_bomb(blocks)
        graph = tf.function(lambda c: _guard.gif(c, _guard.head_of(c), 10**8).ok, autograph=False)
        eager = _guard.gif(tf.constant(data), _guard.head_of(tf.constant(data)), 10**8)
        assert bool(eager.ok) == bool(graph(tf.constant(data))) == (not refused), blocks
    bomb = tf.constant(_BOMBS.gif_block_bomb())
    verdict = _guard.gif(bomb, _guard.head_of(bomb), 10**8)
    assert verdict.reason().numpy().decode() == f"GIF has over {_guard.MAX_GIF_STEPS} blocks: refused before decoding"


def _bmp_reference(data: bytes, max_pixels: int) -> tuple[bool, int, int]:
    """The BMP verdict read field by field in Python: (ok, height, width)."""
    head = data[:40].ljust(40, b"\x00")
    u32 = lambda at: int.from_bytes(head[at : at + 4], "little")  # noqa: E731
    s32 = lambda at: int.from_bytes(head[at : at + 4], "little", signed=True)  # noqa: E731
    offset, dib, width, height = u32(10), u32(14), s32(18), abs(s32(22))
    bpp, compression = int.from_bytes(head[28:30], "little"), u32(30)
    header_ok = 40 <= dib < 2**31 and bpp in (8, 24, 32) and compression in (0, 3)
    grey = True
    if 40 <= dib < 2**31 and bpp == 8:  # the colour table, up to the pixels (at most 256 entries)
        start = min(14 + dib, len(data))
        length = max(0, min(offset - start, len(data) - start, 1024)) // 4 * 4
        table = data[start : start + length]
        grey = all(table[i : i + 3] == bytes([i // 4] * 3) for i in range(0, length, 4))
    return header_ok and grey and height * max(width, 0) <= max_pixels, height, max(width, 0)


@st.composite
def _bmp_heads(draw) -> bytes:
    """BMP headers with edge values in every field the guard reads, and a colour table."""
    # mostly values a BMP has (so that the other fields decide), sometimes any 32-bit value
    field = lambda *v: st.one_of(st.sampled_from(v), st.sampled_from(v), st.integers(0, 2**32 - 1))  # noqa: E731
    dib = draw(field(40, 40, 108, 124, 12, 39, 2**31 - 1, 2**31, 2**31 + 40, 2**32 - 1))
    width, height = draw(field(1, 10, 4000, 0, 2**31 - 1, 2**31, 2**32 - 5)), draw(field(3, 30, 2**31, 2**32 - 3))
    bpp = draw(st.one_of(st.sampled_from([8, 8, 24, 32, 1, 4, 16]), st.integers(0, 2**16 - 1)))
    compression = draw(field(0, 3, 0, 1, 2, 2**32 - 1))
    entries = draw(st.integers(0, 260))
    colour = draw(st.one_of(st.none(), st.integers(0, max(entries - 1, 0))))
    table = b"".join(
        bytes([i % 256, i % 256, (i + (i == colour)) % 256, draw(st.sampled_from([0, 255]))]) for i in range(entries)
    )
    start = 14 + (dib if dib < 400 else 40)
    offset = draw(st.one_of(st.just(start + len(table)), st.integers(0, 2**32 - 1)))
    header = b"BM" + bytes(8) + b"".join(v.to_bytes(4, "little") for v in (offset, dib, width, height))
    header += (1).to_bytes(2, "little") + bpp.to_bytes(2, "little") + compression.to_bytes(4, "little")
    header = header.ljust(start, b"\x00")
    return header + table + bytes(draw(st.integers(0, 16)))


_BMP_GRAPHS: dict = {}  # one traced verdict per max_pixels


@given(_bmp_heads(), st.sampled_from([10**4, 10**8]))
def test_bmp_verdict_matches_a_plain_python_reading(data: bytes, max_pixels: int) -> None:
    """The BMP guard (signed fields, the depth and compression pair and the colour table read
    by one product and a branch) says what a field-by-field Python reading says, in eager and
    graph mode, and never raises."""
    ok, height, width = _bmp_reference(data, max_pixels)
    graph = _BMP_GRAPHS.setdefault(max_pixels, tf.function(
        lambda c: tuple(_guard.bmp(c, _guard.head_of(c), max_pixels)[i] for i in (0, 2, 3)),
        input_signature=[tf.TensorSpec([], tf.string)], autograph=False,
    ))  # fmt: skip
    contents = tf.constant(data)
    eager = _guard.bmp(contents, _guard.head_of(contents), max_pixels)
    for got in ((eager.ok, eager.height, eager.width), graph(contents)):
        assert (bool(got[0]), int(got[1]), int(got[2])) == (ok, height, width), data[:40]


def _bmp_file(rows: np.ndarray, dib: int = 40, palette: bytes | None = None, top_down: bool = False) -> bytes:
    """An uncompressed BMP of ``rows`` (H x W x 3 uint8 at 24 bits, H x W at 8 bits with
    ``palette``) with a ``dib``-byte info header."""
    height, width = rows.shape[:2]
    bpp = 8 if rows.ndim == 2 else 24
    stride = (width * bpp // 8 + 3) // 4 * 4
    order = rows if top_down else rows[::-1]
    pixels = order if bpp == 8 else order[..., ::-1]  # BGR
    body = b"".join(bytes(r.tobytes()).ljust(stride, b"\x00") for r in pixels)
    table = palette or b""
    offset = 14 + dib + len(table)
    info = b"".join(v.to_bytes(4, "little", signed=True) for v in (dib, width, -height if top_down else height))
    info += (1).to_bytes(2, "little") + bpp.to_bytes(2, "little") + bytes(4) + len(body).to_bytes(4, "little")
    info = info.ljust(dib, b"\x00")
    return b"BM" + (offset + len(body)).to_bytes(4, "little") + bytes(4) + offset.to_bytes(4, "little") + info + table + body


def test_bmp_headers_and_tables_in_the_adapter_graph() -> None:
    """V4/V5 headers (the colour table after 108 or 124 bytes), top-down rows, short grey
    tables decode in the datasets' decode graph; a colour table is refused there, and by
    ``decode`` with the reason."""
    grey = RNG.integers(0, 16, (6, 10), dtype=np.uint8)
    ramp = b"".join(bytes([i, i, i, 0]) for i in range(16))
    decoder = kd.ImageDecoder(image_size=None, channels=3, formats=("bmp",))
    lean = _lean(decoder)
    for dib in (40, 108, 124):
        for top_down in (False, True):
            data = _bmp_file(grey, dib, ramp, top_down)
            np.testing.assert_array_equal(lean(tf.constant(data)).numpy(), np.repeat(grey[..., None], 3, -1))
            rgb = _bmp_file(IMAGE, dib, top_down=top_down)
            np.testing.assert_array_equal(lean(tf.constant(rgb)).numpy(), IMAGE)
        colour = _bmp_file(grey, dib, ramp[:20] + b"\x00\x00\x01\x00" + ramp[24:])
        with pytest.raises(tf.errors.InvalidArgumentError, match="kerasimg: not bmp, or over max_pixels"):
            lean(tf.constant(colour))
        with pytest.raises(tf.errors.InvalidArgumentError, match=r"unsupported BMP \(8-bit colour palette\)"):
            decoder.decode(colour)
    huge = bytearray(_bmp_file(IMAGE))
    huge[14:18] = (2**31 + 40).to_bytes(4, "little")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"unsupported BMP \(2147483688-byte header, 24 bits"):
        decoder.decode(bytes(huge))


def test_progressive_jpeg_scan_bomb_is_refused_quickly() -> None:
    decoder = kd.ImageDecoder(image_size=(32, 32))
    bomb = jpeg_scan_bomb()
    decoder.decode(jpeg_bytes(IMAGE))  # trace first
    start = time.perf_counter()
    with pytest.raises(tf.errors.InvalidArgumentError, match="kerasimg: JPEG has over 256 scans"):
        decoder.decode(bomb)
    elapsed = time.perf_counter() - start
    assert elapsed < 5, elapsed  # decoding it would take minutes
    reason = decoder.why_bad(bomb)
    assert reason == f"JPEG has over {_guard.MAX_JPEG_SCANS} scans (progressive scan bomb): refused before decoding"
    # a normal progressive JPEG (about 10 scans) decodes
    buffer = io.BytesIO()
    Image.fromarray(IMAGE).save(buffer, "JPEG", progressive=True)
    assert decoder.decode(buffer.getvalue()).shape == (32, 32, 3)


def test_max_file_bytes_bounds_the_bytes_and_the_files(tmp_path: Path) -> None:
    data = png_bytes(IMAGE)
    decoder = kd.ImageDecoder(image_size=(8, 8), max_file_bytes=len(data) - 1)
    assert decoder.why_bad(data) == f"{len(data)} bytes, over max_file_bytes={len(data) - 1}"
    path = tmp_path / "a" / "big.png"
    path.parent.mkdir()
    path.write_bytes(data)
    (tmp_path / "a" / "ok.png").write_bytes(png_bytes(IMAGE[:8, :8]))
    with pytest.warns(kd.SkippedFileWarning, match="over max_file_bytes"):
        ds = kd.from_directory(tmp_path, image_size=(8, 8), max_file_bytes=len(data) - 1)
    assert dict(ds.skipped)[str(path)] == f"{len(data)} bytes, over max_file_bytes={len(data) - 1}"
    with pytest.raises(ValueError, match="max_file_bytes"):
        kd.ImageDecoder(max_file_bytes=0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_in_a_folder_are_skipped_never_opened(tmp_path: Path) -> None:
    """A FIFO named x.jpg (a read blocks forever) and a symlink to /dev/zero (a read never
    ends) are skipped from stat, with their reason; the epoch completes."""
    folder = tmp_path / "cls"
    folder.mkdir()
    (folder / "good.png").write_bytes(png_bytes(IMAGE))
    os.mkfifo(folder / "fifo.jpg")
    os.symlink("/dev/zero", folder / "zero.jpg")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = kd.from_directory(tmp_path, image_size=(8, 8), batch_size=4)
        images = [x for x, _ in ds]
    assert sum(len(x) for x in images) == 1
    skipped = dict(ds.skipped)
    assert skipped[str(folder / "fifo.jpg")] == "not a regular file (FIFO): never opened"
    assert skipped[str(folder / "zero.jpg")] == "not a regular file (character device): never opened"
    assert len([w for w in caught if w.category is kd.SkippedFileWarning]) == 2
    with pytest.raises(ValueError, match=r"fifo\.jpg: not a regular file \(FIFO\)"):
        kd.ImageDecoder().decode_file(folder / "fifo.jpg")


def test_serving_and_training_give_the_same_verdict_on_odd_files(tmp_path: Path) -> None:
    """One decode path: files that libjpeg accepts but the strict inspector would refuse
    (stray bytes before DQT, 1,100 COM segments) decode in from_files and in decode_batch, with
    the same pixels; the bombs are refused by both, with the same reason."""
    data = jpeg_bytes(IMAGE)
    cut = 4 + int.from_bytes(data[4:6], "big")
    odd = {
        "stray.jpg": data[:cut] + b"\x00\x17" + data[cut:],
        "comments.jpg": data[:2] + (b"\xff\xfe\x00\x04hi") * 1100 + data[2:],
    }
    bad = {"gif_bomb.gif": gif_frame_bomb(), "scan_bomb.jpg": jpeg_scan_bomb(400)}
    for name, content in {**odd, **bad}.items():
        (tmp_path / name).write_bytes(content)
    decoder = kd.ImageDecoder(image_size=(16, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kd.SkippedFileWarning)
        ds = kd.from_files([str(tmp_path / n) for n in [*odd, *bad]], image_size=(16, 16), shuffle=False, batch_size=None)
        trained = [x.numpy() for x in ds]
    assert len(trained) == len(odd)
    served = decoder.decode_batch(tf.constant(list(odd.values()))).numpy()
    np.testing.assert_array_equal(np.stack(trained), served)
    for name, content in bad.items():
        reason = dict(ds.skipped)[str(tmp_path / name)]
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            decoder.decode_batch(tf.constant([list(odd.values())[0], content]))
        assert f"kerasimg: image_bytes[1]: {reason}" in info.value.message, (name, info.value.message)
