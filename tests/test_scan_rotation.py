"""``kerasimg scan`` counts the JPEGs its datasets turn upright (EXIF orientation, issue 14)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from kerasimg._scan import scan_directory


def _jpeg(orientation: int | None) -> bytes:
    buffer = io.BytesIO()
    options = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        options["exif"] = exif.tobytes()
    Image.fromarray(np.full((12, 16, 3), 90, np.uint8)).save(buffer, "JPEG", **options)
    return buffer.getvalue()


def test_scan_reports_how_many_files_carry_a_rotation(tmp_path: Path) -> None:
    folder = tmp_path / "cls"
    folder.mkdir()
    for name, orientation in (("plain.jpg", None), ("upright.jpg", 1), ("turned.jpg", 6), ("mirrored.jpg", 2)):
        (folder / name).write_bytes(_jpeg(orientation))
    report = scan_directory(tmp_path)
    assert report["rotated"] == 2 and report["files"] == 4 and report["bad"] == []
