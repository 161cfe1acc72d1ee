"""The lean guard (``kerasimg/data/_guard.py``): a small decode graph per format, and the
bombs it refuses before any pixel is decoded, in the decoder, the adapter and serving."""

from __future__ import annotations

import io
import os
import time
import warnings
from pathlib import Path

import benchmark_scripts
import numpy as np
import pytest
import tensorflow as tf
from corpus import gif_bytes, jpeg_bytes, png_bytes, smooth_image
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
#: gif 258, bmp 195, webp 145.
OP_BUDGET = {"png": 120, "jpeg": 330, "gif": 270, "bmp": 205, "webp": 155}
#: The datasets' own decode graph (``_decode(exact=False)``: no reason strings, the format's own
#: magic only), what every image of a one-format folder runs: png 66, jpeg 308, gif 317, bmp 122,
#: webp 105; at stop 11 png 68, jpeg 272, gif 206, bmp 117, webp 100. In a tf.data map each op
#: costs ~2 us per image whatever it does, and each node is instantiated again (with Grappler)
#: for every epoch's iterator.
ADAPTER_OP_BUDGET = {"png": 72, "jpeg": 285, "gif": 215, "bmp": 125, "webp": 108}


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


def test_gif_frames_total_is_bounded_by_max_pixels() -> None:
    frames = [smooth_image(RNG, 48, 64) for _ in range(4)]
    data = gif_bytes(IMAGE, frames)  # 5 frames of 3,072 pixels
    assert kd.ImageDecoder(image_size=None, max_pixels=5 * 3072).why_bad(data) is None
    reason = kd.ImageDecoder(image_size=None, max_pixels=5 * 3072 - 1).why_bad(data)
    assert reason == "GIF frames total 15360 pixels in 5 frames, over max_pixels=15359"


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
