"""Data the examples make for themselves: real photos shipped inside scikit-learn, cropped."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import numpy as np


def make_photo_folder(root: str | Path | None = None, per_class: int = 24, seed: int = 0) -> Path:
    """Write random crops of scikit-learn's two sample photos as JPEG/PNG files in class folders.

    Class ``china`` holds crops of china.jpg, class ``flower`` crops of flower.jpg.
    """
    from PIL import Image
    from sklearn.datasets import load_sample_images

    root = Path(root or tempfile.mkdtemp(prefix="kerasimg-example-"))
    rng = np.random.default_rng(seed)
    photos = load_sample_images()
    for name, photo in zip(("china", "flower"), photos.images, strict=True):
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            h, w = rng.integers(120, 300), rng.integers(120, 300)
            top, left = rng.integers(0, photo.shape[0] - h), rng.integers(0, photo.shape[1] - w)
            crop = Image.fromarray(photo[top : top + h, left : left + w])
            if i % 4 == 3:
                crop.save(folder / f"{name}_{i:03d}.png")
            else:
                crop.save(folder / f"{name}_{i:03d}.jpg", quality=int(rng.integers(75, 95)))
    return root


def write_labels_csv(folder: Path, path: Path, header: bool = True) -> Path:
    """Write ``image_name,label`` rows for every file under ``folder`` (label = its class folder)."""
    rows = sorted((str(p.relative_to(folder)), p.parent.name) for p in folder.rglob("*.*"))
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        if header:
            writer.writerow(["image_name", "label"])
        writer.writerows(rows)
    return path
