"""Tests of kerasimg.data.ImageDecoder: formats, bad files, bombs, DCT scaling, oddities, graphs."""

from __future__ import annotations

import functools
import inspect
import io
import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from corpus import (
    DECODE_ONLY,
    REASONS,
    bmp_bytes,
    gif_bytes,
    jpeg_bomb,
    jpeg_bytes,
    make_bad_files,
    make_corpus,
    make_unreadable,
    png_bomb,
    png_bytes,
    png_chunk,
    smooth_image,
    webp_bytes,
)
from PIL import Image
from sklearn.datasets import load_sample_images

from kerasimg.data import ImageDecoder

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RNG = np.random.default_rng(1234)
IMAGE = smooth_image(RNG, 36, 52)  # RGB uint8
GREY = smooth_image(RNG, 36, 52, channels=1)[..., 0]
RGBA = np.concatenate([IMAGE, RNG.integers(0, 256, (36, 52, 1), dtype=np.uint8)], axis=-1)


@functools.cache
def _decoder(**kwargs) -> ImageDecoder:
    """One decoder per configuration for the whole module (each traces its graph once)."""
    return ImageDecoder(**kwargs)


@pytest.fixture(scope="module")
def native():
    return _decoder(image_size=None)


@pytest.fixture(scope="module")
def photo():
    return load_sample_images().images[0]  # china.jpg, 427 x 640


def _mad(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


def _error(decoder: ImageDecoder, data: bytes) -> str:
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        decoder.decode(data)
    return info.value.message


# ---------------------------------------------------------------- construction


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"image_size": (0, 10)}, "image_size=(0, 10)"),
        ({"image_size": (10,)}, "image_size=(10,)"),
        ({"image_size": (10, 10, 3)}, "image_size=(10, 10, 3)"),
        ({"image_size": (10.5, 10)}, "image_size=(10.5, 10)"),
        ({"image_size": "224"}, "image_size='224'"),
        ({"channels": 2}, "Invalid value for argument `channels`: expected 1, 3 or 4. Received: channels=2"),
        ({"channels": True}, "channels=True"),
        ({"formats": ("jpeg", "tiff")}, "formats=('jpeg', 'tiff')"),
        ({"formats": ()}, "formats=()"),
        ({"max_pixels": 0}, "max_pixels=0"),
        ({"max_pixels": -5}, "max_pixels=-5"),
        ({"dtype": "int8"}, "dtype='int8'"),
        ({"interpolation": "cubic"}, "interpolation='cubic'"),
        ({"crop_to_aspect_ratio": 1}, "crop_to_aspect_ratio=1"),
        ({"image_size": None, "crop_to_aspect_ratio": True}, "image_size=None"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, text):
    with pytest.raises(ValueError) as info:
        ImageDecoder(**kwargs)
    assert text in str(info.value)
    assert next(iter(kwargs)) in str(info.value)


def test_config_round_trip_keeps_arguments_and_behaviour():
    decoder = ImageDecoder(
        image_size=(20, 30), channels=1, crop_to_aspect_ratio=True, formats=("png", "jpeg"),
        max_pixels=10_000, dtype="float32", interpolation="area",
    )  # fmt: skip
    config = decoder.get_config()
    assert set(config) == set(inspect.signature(ImageDecoder.__init__).parameters) - {"self"}
    clone = ImageDecoder.from_config(json.loads(json.dumps(config)))
    assert clone.get_config() == config
    data = png_bytes(IMAGE)
    np.testing.assert_array_equal(clone.decode(data).numpy(), decoder.decode(data).numpy())
    assert clone.output_shape == decoder.output_shape == (20, 30, 1)
    assert ImageDecoder(image_size=None, channels=4).output_shape == (None, None, 4)
    copy = pickle.loads(pickle.dumps(decoder))  # after use (it holds traced functions)
    np.testing.assert_array_equal(copy.decode(data).numpy(), decoder.decode(data).numpy())
    assert "ImageDecoder(image_size=[20, 30]" in repr(decoder)


# ---------------------------------------------------------------- good formats


@pytest.mark.parametrize(
    "fmt, data, exact",
    [
        ("jpeg", jpeg_bytes(IMAGE, quality=95), False),
        ("png", png_bytes(IMAGE), True),
        ("gif", gif_bytes(IMAGE // 64 * 64), True),  # few colours: the palette is exact
        ("bmp", bmp_bytes(IMAGE), True),
        ("webp", webp_bytes(IMAGE, lossless=True), True),
        ("webp", webp_bytes(IMAGE, quality=95), False),
    ],
)
def test_each_format_decodes_at_native_size(native, fmt, data, exact):
    ok, reason = native.check(data)
    assert bool(ok) and reason.numpy() == b""
    assert native.format_of(data).numpy() == fmt.encode()
    assert native.why_bad(data) is None
    image = native.decode(data)
    assert image.dtype == tf.uint8 and image.shape == (36, 52, 3)
    expected = IMAGE // 64 * 64 if fmt == "gif" else IMAGE
    if exact:
        np.testing.assert_array_equal(image.numpy(), expected)
    else:  # lossy: as Pillow decodes the same bytes (TF's JPEG IDCT is the fast integer one)
        assert _mad(image, np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))) < 1.5


@pytest.mark.parametrize("fmt", ["jpeg", "png", "gif", "bmp", "webp"])
def test_image_size_gives_exact_shape_for_every_format(fmt):
    data = {"jpeg": jpeg_bytes, "png": png_bytes, "gif": gif_bytes, "bmp": bmp_bytes,
            "webp": webp_bytes}[fmt](IMAGE)  # fmt: skip
    for size in [(17, 90), (36, 52)]:
        image = _decoder(image_size=size).decode(data)
        assert image.shape == (*size, 3) and image.dtype == tf.uint8


def test_format_of_uses_magic_bytes_only(native):
    assert native.format_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ").numpy() == b"webp"
    assert native.format_of(b"GIF87a").numpy() == b"gif"
    assert native.format_of(b"BM").numpy() == b"bmp"
    assert native.format_of(b"RIFF\x00\x00\x00\x00WAVE").numpy() == b""
    assert native.format_of(b"").numpy() == b""


def test_disallowed_format_is_refused_by_name():
    decoder = _decoder(formats=("jpeg", "png"))
    ok, reason = decoder.check(bmp_bytes(IMAGE))
    assert not bool(ok)
    assert reason.numpy().decode() == "format bmp not allowed (formats=jpeg, png)"
    assert "kerasimg: format bmp not allowed" in _error(decoder, bmp_bytes(IMAGE))


# ---------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return make_bad_files(tmp_path_factory.mktemp("bad"))


def test_every_bad_file_kind_is_refused_with_its_reason(native, bad_files):
    assert len(bad_files) == len(REASONS)
    for path, keyword in bad_files.items():
        data = path.read_bytes()
        reason = native.why_bad(data)
        assert reason is not None and keyword in reason, (path.name, reason)
        ok, check_reason = native.check(data)
        message = _error(native, data)
        if keyword in {REASONS[k] for k in DECODE_ONLY}:
            # The header is fine: TF's decoder finds the corrupt chunk, with its own message.
            assert bool(ok) and check_reason.numpy() == b""
            assert "kerasimg:" not in message and "PNG" in message
        else:
            assert not bool(ok) and check_reason.numpy().decode() == reason
            if keyword in LEAN_REFUSALS:  # the lean guard refuses before decoding, in its words
                assert "kerasimg: " in message and keyword in message, (path.name, message)
            else:  # truncation: TF's decoder refuses it (the guard does not re-check it)
                assert "kerasimg:" not in message, (path.name, message)


#: reason keywords the lean guard itself gives (format, emptiness and size); every other bad
#: kind is refused by TensorFlow's decoder, and explained by ``why_bad``.
LEAN_REFUSALS = {"empty file", "unsupported format", "pixels, over max_pixels="}


def test_bomb_reasons_are_exact(native):
    assert native.why_bad(png_bomb()) == (
        "image is 20000x20000 = 400000000 pixels, over max_pixels=50000000"
    )
    assert "kerasimg: image is 20000x20000 = 400000000 pixels, over max_pixels=50000000" in (
        _error(native, png_bomb())
    )
    assert native.why_bad(jpeg_bomb(width=12_000, height=9_000)) == (
        "image is 12000x9000 = 108000000 pixels, over max_pixels=50000000"
    )


def test_huge_header_sizes_do_not_overflow(native):
    ihdr = (2**32 - 1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    assert native.why_bad(data) == "invalid image size 4294967295x4294967295 in header"
    ihdr = (2**31 - 1).to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IEND", b"")
    assert native.why_bad(data) == (
        "image is 2147483647x2147483647 = 4611686014132420609 pixels, over max_pixels=50000000"
    )


def test_max_pixels_boundary_is_inclusive():
    data = png_bytes(IMAGE)  # 52 x 36 = 1872 pixels
    assert _decoder(max_pixels=1872).why_bad(data) is None
    assert _decoder(max_pixels=1871).why_bad(data) == (
        "image is 52x36 = 1872 pixels, over max_pixels=1871"
    )


def test_bomb_is_refused_before_any_pixel_is_allocated():
    script = textwrap.dedent(
        """
        import json, resource, sys
        sys.path.insert(0, sys.argv[1])
        import numpy as np, tensorflow as tf
        from corpus import png_bomb, png_bytes
        from kerasimg.data import ImageDecoder
        decoder = ImageDecoder(image_size=None)
        decoder.decode(png_bytes(np.zeros((8, 8, 3), np.uint8)))  # trace once
        bomb = png_bomb()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            decoder.decode(bomb)
            message = "decoded"
        except tf.errors.InvalidArgumentError as err:
            message = err.message
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"grew_kib": after - before, "message": message}))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(HERE)], capture_output=True, text=True, timeout=300,
        cwd=REPO, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "kerasimg: image is 20000x20000 = 400000000 pixels" in result["message"]
    # Decoding would allocate 1.2 GB (20000 x 20000 x 3); the refusal must stay tiny.
    assert result["grew_kib"] < 64 * 1024, result


def test_truncation_is_detected_without_decoding(native):
    jpeg = jpeg_bytes(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    png = png_bytes(IMAGE)
    for cut in (len(jpeg) - 1, len(jpeg) - 2, len(jpeg) * 2 // 3):
        assert native.why_bad(jpeg[:cut]) == "truncated JPEG (no end-of-image marker)"
    for cut in (len(png) - 1, len(png) - 12, len(png) // 2):
        assert native.why_bad(png[:cut]) == "truncated PNG (no IEND chunk)"
    assert native.why_bad(png[:20]) == "truncated header (incomplete PNG IHDR chunk)"
    webp = webp_bytes(IMAGE)
    assert native.why_bad(webp[:-10]) == f"truncated WebP ({len(webp) - 10} bytes, RIFF header says {len(webp)})"
    assert native.why_bad(webp[:20]) == "truncated header (incomplete WebP header)"
    assert native.why_bad(gif_bytes(IMAGE)[:12]) == "truncated header (incomplete GIF screen descriptor)"
    assert native.why_bad(bmp_bytes(IMAGE)[:30]) == "truncated header (incomplete BMP info header)"
    assert native.why_bad(jpeg[:8]) == "truncated header (no size in JPEG header)"
    # The SOF is found by walking the markers by their lengths: an APPn segment full of
    # fake SOF markers (FF C0) does not fool it.
    fake = b"\xff\xc0\x00\x11\x08\x4e\x20\x4e\x20\x03" * 10
    tricky = jpeg[:2] + b"\xff\xe1" + (len(fake) + 2).to_bytes(2, "big") + fake + jpeg[2:]
    assert native.why_bad(tricky) is None
    assert native.decode(tricky).shape == (64, 64, 3)


def _segments(jpeg: bytes) -> tuple[bytes, list[bytes], bytes]:
    """(SOI, the marker segments before the scan, the scan to the end)."""
    pos, segments = 2, []
    while jpeg[pos + 1] != 0xDA:
        end = pos + 2 + int.from_bytes(jpeg[pos + 2 : pos + 4], "big")
        segments.append(jpeg[pos:end])
        pos = end
    return jpeg[:2], segments, jpeg[pos:]


def test_jpeg_size_comes_from_the_frame_header_only():
    """Tables before the frame header, and DHT/JPG/DAC segments shaped like one, are skipped."""
    soi, segments, scan = _segments(jpeg_bytes(IMAGE, quality=90))
    assert [s[1] for s in segments].count(0xC0) == 1
    tables = [s for s in segments if s[1] == 0xC4]
    others = [s for s in segments if s[1] != 0xC4]
    payload = b"\x08\x4e\x20\x4e\x20\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"  # "20000x20000"
    decoys = [b"\xff" + bytes([m]) + (len(payload) + 2).to_bytes(2, "big") + payload for m in (0xC8, 0xCC)]
    jpeg = soi + b"".join(tables + decoys[:1] + others[:1] + decoys[1:] + others[1:]) + scan
    refuse_all = _decoder(image_size=None, max_pixels=1)
    assert refuse_all.why_bad(jpeg).startswith("image is 52x36 = 1872 pixels")
    progressive = io.BytesIO()
    Image.fromarray(IMAGE).save(progressive, "JPEG", progressive=True)  # SOF2
    assert refuse_all.why_bad(progressive.getvalue()).startswith("image is 52x36 = 1872 pixels")
    pillow = np.asarray(Image.open(io.BytesIO(progressive.getvalue())).convert("RGB"))
    assert _mad(_decoder(image_size=None).decode(progressive.getvalue()), pillow) < 1.5


def test_unreadable_file_helper(tmp_path, native):
    path = tmp_path / "locked.png"
    path.write_bytes(png_bytes(IMAGE))
    if make_unreadable(path):
        with pytest.raises(ValueError, match="locked.png: cannot read file"):
            native.decode_file(path)
    else:  # root reads anything: the helper says it could not lock the file
        assert os.geteuid() == 0
        np.testing.assert_array_equal(native.decode_file(path), IMAGE)


def test_why_bad_and_decode_file_report_paths(tmp_path, native):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(ValueError, match=re.escape(f"kerasimg: {bad}: truncated header")):
        native.decode_file(bad)
    folder = tmp_path / "dir.jpg"
    folder.mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        native.decode_file(folder)
    with pytest.raises(ValueError, match="cannot read file"):
        native.decode_file(tmp_path / "missing.jpg")
    corrupt = bytearray(png_bytes(RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8)))
    corrupt[corrupt.index(b"IDAT") + 50] ^= 0xFF
    (tmp_path / "crc.png").write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match="crc.png: corrupt image data: Invalid PNG data"):
        native.decode_file(tmp_path / "crc.png")


def test_non_scalar_contents_is_a_clear_error(native):
    with pytest.raises(ValueError, match="scalar"):
        native.decode(tf.constant([b"a", b"b"]))


# ---------------------------------------------------------------- DCT scaling and crop


@pytest.mark.parametrize(
    "size, ratio",
    [((53, 80), 8), ((54, 80), 4), ((100, 100), 4), ((200, 300), 2), ((220, 330), 1)],
)
def test_jpeg_uses_the_largest_dct_ratio_that_covers_the_target(photo, size, ratio):
    data = jpeg_bytes(photo, quality=92)  # 427 x 640
    out = _decoder(image_size=size).decode(data)
    assert out.shape == (*size, 3)
    scaled = tf.cast(tf.io.decode_jpeg(data, channels=3, ratio=ratio), tf.float32)
    expected = tf.saturate_cast(tf.round(tf.image.resize(scaled, size)), tf.uint8)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    # As faithful as full decode + resize: compare both with an antialiased full-size resize.
    full = tf.cast(tf.io.decode_jpeg(data, channels=3), tf.float32)
    reference = tf.image.resize(full, size, antialias=True)
    plain = tf.image.resize(full, size)
    assert _mad(out, reference) <= 1.25 * _mad(plain, reference) + 0.5
    smooth = jpeg_bytes(smooth_image(np.random.default_rng(5), 427, 640), quality=95)
    smooth_full = tf.cast(tf.io.decode_jpeg(smooth, channels=3), tf.float32)
    assert _mad(_decoder(image_size=size).decode(smooth), tf.image.resize(smooth_full, size)) < 4


def _keras_crop_resize(image, size, **kwargs):
    image = tf.cast(image, tf.float32)[None]
    out = keras.ops.image.resize(image, size, crop_to_aspect_ratio=True, data_format="channels_last", **kwargs)
    return keras.ops.convert_to_numpy(out)[0]


@pytest.mark.parametrize(
    "size, ratio", [((64, 64), 4), ((30, 90), 8), ((90, 30), 8), ((213, 100), 2), ((400, 200), 1)]
)
def test_crop_to_aspect_ratio_matches_keras(photo, size, ratio):
    decoder = _decoder(image_size=size, crop_to_aspect_ratio=True)
    png = png_bytes(photo)
    np.testing.assert_allclose(
        decoder.decode(png).numpy(), np.clip(np.round(_keras_crop_resize(photo, size)), 0, 255), atol=1
    )
    data = jpeg_bytes(photo, quality=92)
    full = tf.io.decode_jpeg(data, channels=3)
    out = decoder.decode(data)
    assert out.shape == (*size, 3)
    plain = _keras_crop_resize(full, size)
    if ratio == 1:  # cropped while decoding, at full scale: the same pixels as keras
        assert _mad(out, plain) < 0.5
    reference = _keras_crop_resize(full, size, antialias=True)
    assert _mad(out, reference) <= 1.25 * _mad(plain, reference) + 0.5
    smooth = smooth_image(np.random.default_rng(6), 427, 640)
    smooth_jpeg = tf.io.decode_jpeg(jpeg_bytes(smooth, quality=95), channels=3)
    assert _mad(decoder.decode(jpeg_bytes(smooth, quality=95)), _keras_crop_resize(smooth_jpeg, size)) < 4


def test_crop_window_follows_keras_for_many_shapes():
    rng = np.random.default_rng(0)
    for size in [(7, 31), (16, 16), (33, 5)]:
        decoder = _decoder(image_size=size, crop_to_aspect_ratio=True, interpolation="nearest")
        for _ in range(8):
            h, w = (int(v) for v in rng.integers(5, 90, 2))
            image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            expected = _keras_crop_resize(image, size, interpolation="nearest")
            np.testing.assert_array_equal(decoder.decode(png_bytes(image)).numpy(), expected)


# ---------------------------------------------------------------- oddities


def test_cmyk_jpeg_becomes_rgb_and_grey():
    buffer = io.BytesIO()
    Image.fromarray(IMAGE).convert("CMYK").save(buffer, "JPEG", quality=95)
    data = buffer.getvalue()
    assert native_components(data) == 4
    rgb = _decoder(image_size=None).decode(data)
    assert rgb.shape == (36, 52, 3)
    assert _mad(rgb, IMAGE) < 3
    grey = _decoder(image_size=None, channels=1).decode(data)
    assert grey.shape == (36, 52, 1)
    assert _mad(grey[..., 0], _luma(IMAGE)) < 3
    assert _decoder(image_size=(10, 12), channels=1).decode(data).shape == (10, 12, 1)


def native_components(jpeg: bytes) -> int:
    """The component count of a JPEG's frame header (4: CMYK/YCCK)."""
    from corpus import jpeg_marker_offset

    return jpeg[jpeg_marker_offset(jpeg, lambda m: m == 0xC0) + 9]


def _luma(rgb):
    return np.asarray(rgb, np.float64) @ [0.299, 0.587, 0.114]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "bmp", "gif"])
def test_grey_is_replicated_and_rgb_becomes_luma(fmt):
    encoder = {"png": png_bytes, "jpeg": lambda a: jpeg_bytes(a, quality=98), "bmp": bmp_bytes,
               "gif": gif_bytes}[fmt]  # fmt: skip
    tolerance = 0 if fmt in ("png", "bmp") else 2
    three = _decoder(image_size=None).decode(encoder(GREY)).numpy()
    assert three.shape == (36, 52, 3)
    np.testing.assert_array_equal(three[..., 0], three[..., 1])
    np.testing.assert_array_equal(three[..., 0], three[..., 2])
    assert _mad(three[..., 0], GREY) <= tolerance
    one = _decoder(image_size=None, channels=1).decode(encoder(IMAGE)).numpy()
    assert one.shape == (36, 52, 1)
    assert np.abs(one[..., 0] - _luma(IMAGE)).mean() < 1 + tolerance


def test_rgba_alpha_is_dropped_or_kept():
    for data in (png_bytes(RGBA), bmp_bytes(RGBA), webp_bytes(RGBA, lossless=True, exact=True)):
        np.testing.assert_array_equal(_decoder(image_size=None).decode(data).numpy(), IMAGE)
        np.testing.assert_array_equal(_decoder(image_size=None, channels=4).decode(data).numpy(), RGBA)
    four = _decoder(image_size=None, channels=4).decode(jpeg_bytes(IMAGE)).numpy()
    assert four.shape == (36, 52, 4) and (four[..., 3] == 255).all()
    grey_alpha = np.stack([GREY, RGBA[..., 3]], axis=-1)
    four = _decoder(image_size=None, channels=4).decode(png_bytes(grey_alpha)).numpy()
    np.testing.assert_array_equal(four, np.stack([GREY, GREY, GREY, RGBA[..., 3]], axis=-1))


def test_sixteen_bit_png_is_never_truncated():
    values = RNG.integers(0, 65536, (20, 30), dtype=np.uint16)
    values[0, :4] = [0, 128, 129, 65535]
    data = png_bytes(values)
    as16 = _decoder(image_size=None, dtype="uint16").decode(data)
    assert as16.dtype == tf.uint16
    np.testing.assert_array_equal(as16.numpy()[..., 0], values)
    as8 = _decoder(image_size=None).decode(data).numpy()[..., 0]
    np.testing.assert_array_equal(as8, np.round(values / 257).astype(np.uint8))
    assert list(as8[0, :4]) == [0, 0, 1, 255]
    as_float = _decoder(image_size=None, dtype="float32").decode(data).numpy()[..., 0]
    np.testing.assert_allclose(as_float, values / 257, rtol=1e-6)
    resized = _decoder(image_size=(20, 30), dtype="uint16", interpolation="nearest").decode(data)
    np.testing.assert_array_equal(resized.numpy()[..., 0], values)
    # 8-bit sources as uint16 are scaled so that 65535 is white for every source.
    np.testing.assert_array_equal(
        _decoder(image_size=None, dtype="uint16").decode(png_bytes(IMAGE)).numpy(),
        IMAGE.astype(np.uint16) * 257,
    )


def test_float32_output_stays_in_0_255_and_uint8_never_wraps():
    checker = np.kron(np.indices((6, 6)).sum(0) % 2, np.ones((4, 4))).astype(np.uint8) * 255
    data = png_bytes(np.stack([checker] * 3, axis=-1))
    as_float = _decoder(image_size=(40, 40), dtype="float32", interpolation="bicubic").decode(data)
    assert as_float.dtype == tf.float32
    assert float(tf.reduce_min(as_float)) == 0.0 and float(tf.reduce_max(as_float)) == 255.0
    raw = tf.image.resize(tf.cast(tf.io.decode_png(data), tf.float32), (40, 40), method="bicubic")
    assert float(tf.reduce_max(raw)) > 255.5  # bicubic overshoots here...
    as8 = _decoder(image_size=(40, 40), interpolation="bicubic").decode(data)
    np.testing.assert_array_equal(as8.numpy(), np.clip(np.round(raw.numpy()), 0, 255))  # ...saturated
    native = _decoder(image_size=None, dtype="float32").decode(jpeg_bytes(IMAGE)).numpy()
    assert native.max() > 1.0  # not divided by 255


def test_animated_gif_gives_its_first_frame():
    frames = [np.full((20, 30, 3), v, np.uint8) for v in (40, 120, 200)]
    data = gif_bytes(frames[0], frames=frames[1:])
    image = _decoder(image_size=None).decode(data)
    assert image.shape == (20, 30, 3)
    np.testing.assert_array_equal(image.numpy(), frames[0])
    assert _decoder(image_size=(8, 8), channels=4).decode(data).shape == (8, 8, 4)


def test_animated_webp_is_refused_before_tensorflow_sees_it():
    frames = [Image.fromarray(np.full((20, 30, 3), v, np.uint8)) for v in (40, 120, 200)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:])
    decoder = _decoder(image_size=None)
    assert decoder.why_bad(buffer.getvalue()).startswith("animated WebP not supported")
    assert "kerasimg: animated WebP not supported" in _error(decoder, buffer.getvalue())


def _pil_bmp(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "BMP")
    return buffer.getvalue()


def test_bmp_variants(native):
    top_down = bytearray(bmp_bytes(IMAGE))  # bottom-up rows, made top-down (negative height)
    offset = int.from_bytes(top_down[10:14], "little")
    row = (52 * 3 + 3) // 4 * 4
    rows = [top_down[offset + i * row : offset + (i + 1) * row] for i in range(36)]
    top_down[offset:] = b"".join(reversed(rows))
    top_down[22:26] = (-36).to_bytes(4, "little", signed=True)
    np.testing.assert_array_equal(native.decode(bytes(top_down)).numpy(), IMAGE)
    # 8-bit with a grey palette decodes (see the grey test); a colour palette is refused.
    colour = _pil_bmp(Image.fromarray(IMAGE).quantize(16))
    assert native.why_bad(colour) == "unsupported BMP (8-bit colour palette)"
    size = len(bmp_bytes(IMAGE))
    assert native.why_bad(bmp_bytes(IMAGE) + b"\x00") == (
        f"BMP has trailing bytes ({size + 1} bytes, {size} expected)"
    )
    assert native.why_bad(bmp_bytes(IMAGE)[:-7]) == f"truncated BMP ({size - 7} bytes, {size} expected)"
    one_bit = _pil_bmp(Image.fromarray(IMAGE).convert("1"))
    assert native.why_bad(one_bit) == "unsupported BMP (1 bits per pixel)"


def test_content_decides_not_the_extension(tmp_path, native):
    path = tmp_path / "actually_png.jpg"
    path.write_bytes(png_bytes(IMAGE))
    np.testing.assert_array_equal(native.decode_file(path), IMAGE)


def test_jpeg_with_trailing_bytes_decodes(native):
    data = jpeg_bytes(IMAGE, quality=95)
    for tail in (b"\x00" * 100, b"PK\x03\x04 zip payload", bytes(RNG.integers(0, 256, 999, np.uint8))):
        assert native.why_bad(data + tail) is None
        np.testing.assert_array_equal(native.decode(data + tail).numpy(), native.decode(data).numpy())
    png = png_bytes(IMAGE)
    assert native.why_bad(png + b"trailing") is None


def test_whole_jpeg_is_judged_by_libjpeg_and_reports_follow_decode(native):
    """A whole JPEG skips check() in decode(): libjpeg reads its header (it skips stray bytes
    between markers, which check() refuses), max_pixels still holds, and why_bad follows
    decode, so datasets and `kerasimg scan` never call a file bad that decodes."""
    data = jpeg_bytes(IMAGE, quality=90)
    cut = 4 + int.from_bytes(data[4:6], "big")  # after the first segment (APP0)
    stray = data[:cut] + b"\x00\x17\x2a" + data[cut:]  # garbage between two markers
    ok, reason = native.check(stray)
    assert not bool(ok) and reason.numpy().decode() == f"corrupt JPEG header (invalid marker at byte {cut})"
    np.testing.assert_array_equal(native.decode(stray).numpy(), native.decode(data).numpy())
    assert native.why_bad(stray) is None
    # The same bytes without their end marker: libjpeg refuses the truncation (TF's message);
    # why_bad explains with the inspector's first finding.
    assert native.why_bad(stray[:-2]) == f"corrupt JPEG header (invalid marker at byte {cut})"
    assert "kerasimg:" not in _error(native, stray[:-2])
    # max_pixels on the libjpeg path: the same refusal and message as check()'s.
    small = _decoder(image_size=None, max_pixels=36 * 52 - 1)
    assert "kerasimg: image is 52x36 = 1872 pixels, over max_pixels=1871" in _error(small, data)
    # A header libjpeg cannot read fails with TF's message; why_bad explains with check()'s.
    broken = data[:2] + b"\xff\xc0\x00\x04\x08\x00" + data[2:]  # a frame header cut short
    assert "kerasimg:" not in _error(native, broken)
    ok, reason = native.check(broken)
    assert not bool(ok) and native.why_bad(broken) == reason.numpy().decode()


# ---------------------------------------------------------------- graphs and corpus


def test_decode_and_check_in_tf_function_and_dataset(tmp_path):
    corpus = make_corpus(tmp_path, n_good=24, size_range=(20, 60))
    decoder = _decoder(image_size=(16, 16))

    @tf.function
    def both(contents):
        ok, reason = decoder.check(contents)
        return decoder.decode(contents), ok, reason

    image, ok, reason = both(tf.constant(png_bytes(IMAGE)))
    assert image.shape == (16, 16, 3) and bool(ok) and reason.numpy() == b""

    paths = [str(p) for p in corpus.good]
    good = tf.data.Dataset.from_tensor_slices(paths).map(tf.io.read_file)
    batch = next(iter(good.map(decoder.decode, num_parallel_calls=4).batch(len(paths))))
    assert batch.shape == (len(paths), 16, 16, 3) and batch.dtype == tf.uint8
    every = [str(p) for p in [*corpus.good, *corpus.bad]]
    checks = tf.data.Dataset.from_tensor_slices(every).map(tf.io.read_file).map(decoder.check)
    oks = [bool(ok) for ok, _ in checks]
    assert oks == [True] * len(paths) + [p in corpus.decode_only for p in corpus.bad]
    skipped = tf.data.Dataset.from_tensor_slices(every).map(tf.io.read_file).map(decoder.decode)
    kept = list(skipped.apply(tf.data.experimental.ignore_errors()))
    assert len(kept) == len(paths)


def test_corpus_headers_agree_with_decoded_sizes(tmp_path):
    corpus = make_corpus(tmp_path, n_good=200)
    assert len(corpus.good) == 200 and corpus.decoy_dirs[0].is_dir()
    assert {p.suffix for p in corpus.good} == {".jpg", ".png", ".gif", ".bmp", ".webp"}
    refuse_all = _decoder(image_size=None, max_pixels=1)
    native = _decoder(image_size=None)
    contents = [p.read_bytes() for p in corpus.good]
    ds = tf.data.Dataset.from_tensor_slices(contents)
    shapes = [tuple(x.shape) for x in ds.map(native.decode, num_parallel_calls=4)]
    reasons = [r.numpy().decode() for _, r in ds.map(refuse_all.check)]
    for path, shape, reason in zip(corpus.good, shapes, reasons, strict=True):
        w, h = re.match(r"image is (\d+)x(\d+) = ", reason).groups()
        assert (int(h), int(w)) == shape[:2], path


def test_graph_is_pure_tensorflow_and_loads_without_kerasimg(tmp_path):
    decoder = _decoder(image_size=(24, 24), crop_to_aspect_ratio=True)

    class Model(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.string)])
        def decode(self, contents):
            return decoder.decode(contents)

    model = Model()
    graph = model.decode.get_concrete_function().graph.as_graph_def()
    ops = {n.op for n in graph.node} | {n.op for f in graph.library.function for n in f.node_def}
    assert not ops & {"PyFunc", "EagerPyFunc", "PyFuncStateless"}
    assert {"DecodeAndCropJpeg", "DecodePng", "Assert"} <= ops and ops & {"While", "StatelessWhile"}
    tf.saved_model.save(model, str(tmp_path / "model"))
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(jpeg_bytes(IMAGE))
    bad.write_bytes(jpeg_bytes(IMAGE)[:-2])
    script = textwrap.dedent(
        """
        import sys
        sys.modules["kerasimg"] = None  # importing kerasimg now fails
        import tensorflow as tf
        model = tf.saved_model.load(sys.argv[1])
        print(model.decode(tf.io.read_file(sys.argv[2])).shape)
        try:
            model.decode(tf.io.read_file(sys.argv[3]))
        except tf.errors.InvalidArgumentError as err:
            print("refused:", "Invalid JPEG data" in err.message)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "model"), str(good), str(bad)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, check=True,
    )  # fmt: skip
    assert out.stdout.split("\n")[-3:-1] == ["(24, 24, 3)", "refused: True"], out.stdout


@pytest.mark.parametrize("image_size", [(8, 8), None])
def test_decode_batch_pipeline_functions_are_single_device(image_size) -> None:
    """``decode_batch`` (what ``serving_bytes`` runs) decodes in a one-call tf.data pipeline,
    instantiated again at every call: its function is single-device (no Grappler per call)."""
    from kerasimg._compat import INTS_ON_DEVICE

    decoder = ImageDecoder(image_size=image_size)
    fn = tf.function(decoder.decode_batch, input_signature=[tf.TensorSpec([None], tf.string)])
    library = fn.get_concrete_function().graph.as_graph_def().library.function
    maps = [f for f in library if "Dataset_map" in f.signature.name]
    assert maps and all(INTS_ON_DEVICE in f.attr and f.attr[INTS_ON_DEVICE].b for f in maps), [
        (f.signature.name, dict(f.attr)) for f in library
    ]
    png = tf.io.encode_png(tf.fill([20, 30, 3], tf.constant(7, tf.uint8)))
    assert int(tf.reduce_max(fn(tf.stack([png])))) == 7  # and it decodes
