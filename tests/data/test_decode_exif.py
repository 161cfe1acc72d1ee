"""EXIF orientation in the decoder (issue 14): JPEGs come out as a photo viewer shows them, in
``decode``, the datasets and ``serving_bytes`` alike; sizes and crops apply to the upright image."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from corpus import smooth_image
from PIL import Image

import kerasimg.data as kd

RNG = np.random.default_rng(8)
STORED = smooth_image(RNG, 60, 84)  # not square, not symmetric: every turn shows
#: what Pillow's ImageOps.exif_transpose applies for each orientation
PIL_METHOD = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}  # fmt: skip


def oriented_jpeg(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(STORED).save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def upright(stored: np.ndarray, orientation: int) -> np.ndarray:
    """Pillow's turn of the same decoded pixels."""
    if orientation == 1:
        return stored
    return np.asarray(Image.fromarray(stored).transpose(PIL_METHOD[orientation]))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_pillows_at_full_size(orientation: int) -> None:
    data = oriented_jpeg(orientation)
    stored = tf.io.decode_jpeg(data, channels=3).numpy()
    got = kd.ImageDecoder(image_size=None).decode(data).numpy()
    np.testing.assert_array_equal(got, upright(stored, orientation))  # pixel-exact
    kept = kd.ImageDecoder(image_size=None, exif_orientation=False).decode(data).numpy()
    np.testing.assert_array_equal(kept, stored)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_sizes_and_centre_crops_apply_to_the_upright_image(orientation: int) -> None:
    data = oriented_jpeg(orientation)
    reference = upright(tf.io.decode_jpeg(data, channels=3).numpy(), orientation)
    for decoder in (kd.ImageDecoder(image_size=(21, 30)), kd.ImageDecoder(image_size=(20, 20), crop_to_aspect_ratio=True)):
        want = kd.ImageDecoder(image_size=decoder.image_size, crop_to_aspect_ratio=decoder.crop_to_aspect_ratio,
                               exif_orientation=False).resize_images(reference)  # fmt: skip
        got = decoder.decode(data).numpy().astype(int)
        assert got.shape == (*decoder.image_size, 3)
        # the stored JPEG is decoded at a DCT scale when its window allows (a few levels off a
        # full decode): no further off than the same decoder on the unturned JPEG
        plain = oriented_jpeg(1)
        baseline = np.abs(decoder.decode(plain).numpy().astype(int) - decoder.resize_images(
            tf.io.decode_jpeg(plain, channels=3)).numpy().astype(int)).mean()  # fmt: skip
        assert np.abs(got - want.numpy().astype(int)).mean() <= baseline + 1.0
        wrong = upright(reference, 3)  # the same pixels turned another way: far off
        wrong = decoder.resize_images(wrong if wrong.shape == reference.shape else reference[::-1]).numpy()
        assert np.abs(got - wrong.astype(int)).mean() > 10.0


def test_datasets_and_serving_give_the_upright_image(tmp_path: Path) -> None:
    paths = []
    for orientation in (1, 6, 8):
        path = tmp_path / f"o{orientation}.jpg"
        path.write_bytes(oriented_jpeg(orientation))
        paths.append(str(path))
    decoder = kd.ImageDecoder(image_size=(30, 24))
    want = np.stack([decoder.decode(Path(p).read_bytes()).numpy() for p in paths])
    ds = kd.from_files(paths, image_size=(30, 24), batch_size=None, shuffle=False)
    np.testing.assert_array_equal(np.stack([x.numpy() for x in ds]), want)
    served = decoder.decode_batch(tf.constant([Path(p).read_bytes() for p in paths])).numpy()
    np.testing.assert_array_equal(served, want)  # what serving_bytes runs


def test_decode_time_crop_draws_on_the_upright_size(tmp_path: Path) -> None:
    import kerasimg

    path = tmp_path / "turned.jpg"
    path.write_bytes(oriented_jpeg(6))  # stored 60x84, upright 84x60
    ds = kd.from_files([str(path)], image_size=None, batch_size=None, shuffle=False,
                       augment=[kerasimg.layers.CenterCrop(80, 50)])  # fmt: skip
    got = next(iter(ds)).numpy()
    reference = upright(tf.io.decode_jpeg(path.read_bytes(), channels=3).numpy(), 6)
    want = reference[2:82, 5:55]  # the centred 80x50 window of the upright 84x60 image
    assert got.shape == (80, 50, 3)
    assert np.abs(got.astype(int) - want.astype(int)).mean() <= 1.0
