"""Backs the README's comparison table: what plain TF / Keras do with the files kerasimg refuses."""

from __future__ import annotations

import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).parent / "data"))
from corpus import jpeg_bytes  # noqa: E402


def _photo(h: int = 64, w: int = 96) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=-1).astype("uint8")


def test_one_bad_file_fails_an_image_dataset_from_directory_epoch(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        for i in range(3):
            (tmp_path / name / f"{i}.jpg").write_bytes(jpeg_bytes(_photo(), quality=90))
    (tmp_path / "a" / "empty.jpg").write_bytes(b"")
    ds = keras.utils.image_dataset_from_directory(tmp_path, image_size=(32, 32), batch_size=2)
    with pytest.raises(tf.errors.InvalidArgumentError):
        for _ in ds:
            pass
