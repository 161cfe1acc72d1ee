"""Crops at decode time (issue 13): a crop layer that starts ``augment`` runs inside the decode,
with the box the layer itself would draw (from the header size), decoded while cropping."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from corpus import jpeg_bytes, png_bytes, smooth_image

import kerasimg
import kerasimg.data as kd
from kerasimg._seeds import layer_seed

L = kerasimg.layers
RNG = np.random.default_rng(5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("crops")
    for i in range(8):
        path = root / "ab"[i % 2] / f"{i}.{'png' if i < 4 else 'jpg'}"
        path.parent.mkdir(exist_ok=True)
        image = smooth_image(RNG, 96 + 8 * i, 160 - 4 * i)
        path.write_bytes(png_bytes(image) if i < 4 else jpeg_bytes(image, quality=95))
    return root


def _reference(ds, layer, paths) -> list[np.ndarray]:
    """Each file decoded whole, then the layer applied with the seed the pipeline gives it."""
    pipeline = ds._kerasimg_pipeline
    native = kd.ImageDecoder(image_size=None)
    key = tf.constant(pipeline.epoch_key(0), tf.int64)
    out = []
    for index, path in enumerate(paths):
        seed = layer_seed(pipeline.image_seed(key, tf.constant(index, tf.int64)), 0)
        image = native.decode_file(path)
        out.append(np.asarray(layer.apply_with_seed(image, seed, training=True)))
    return out


@pytest.mark.parametrize("make", [lambda: L.RandomResizedCrop(24, 32, seed=1), lambda: L.RandomCrop(40, 48),
                                  lambda: L.CenterCrop(40, 48)])  # fmt: skip
def test_decode_time_crop_is_the_layers_box(folder: Path, make) -> None:
    layer = make()
    paths = sorted(str(p) for p in folder.glob("*/*"))
    ds = kd.from_files(paths, image_size=None, batch_size=None, shuffle=False, seed=2, augment=[layer])
    got = [x.numpy() for x in ds]
    want = _reference(ds, layer, paths)
    for path, g, w in zip(paths, got, want, strict=True):
        assert g.shape == w.shape == (layer.height, layer.width, 3)
        diff = np.abs(g.astype(int) - np.round(w).astype(int))
        if path.endswith(".png"):  # the same box, the same pixels up to resize rounding
            assert diff.max() <= 2, (path, diff.max())
        else:  # libjpeg decodes the window (at a DCT scale when the box allows it)
            assert diff.mean() <= 4.0, (path, diff.mean())  # measured: up to 3.0


def test_decode_time_crop_is_seeded_and_varies_per_epoch(folder: Path) -> None:
    def make():
        return kd.from_directory(folder, image_size=None, batch_size=8, seed=9,
                                 augment=[L.RandomResizedCrop(16, 16), L.RandomFlip()])  # fmt: skip

    ds = make()
    first, second = (np.concatenate([x.numpy() for x, _ in ds]) for _ in range(2))
    again = np.concatenate([x.numpy() for x, _ in make()])
    np.testing.assert_array_equal(first, again)  # same seed, same first epoch
    assert not np.array_equal(first, second)  # every epoch draws new boxes
    assert ds.decoder.image_size == (16, 16)


def test_crop_size_and_image_size_must_agree(folder: Path) -> None:
    with pytest.raises(ValueError, match=r"image_size=\(64, 64\) does not match .*RandomCrop\(40, 48\)"):
        kd.from_directory(folder, image_size=(64, 64), augment=[L.RandomCrop(40, 48)])
    with pytest.raises(ValueError, match="crop_to_aspect_ratio=True"):
        kd.from_directory(folder, image_size=(40, 48), crop_to_aspect_ratio=True, augment=[L.RandomCrop(40, 48)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = kd.from_directory(folder, image_size=(40, 48), augment=[L.CenterCrop(40, 48)], batch_size=8)
        assert next(iter(ds))[0].shape == (8, 40, 48, 3)
