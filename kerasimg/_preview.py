"""``kerasimg preview``: a PNG contact sheet of originals and augmented copies."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


def check_output(out: str | os.PathLike) -> Path:
    """``out`` as a Path, once it is known that a PNG can be written there (before any image
    is read): not a directory, its folder exists or can be created, and a file can be made in
    it. Raises ValueError (``kerasimg: --out ...``) otherwise.

    Example:

    >>> check_output("sheets/grid.png")  # doctest: +SKIP
    PosixPath('sheets/grid.png')
    """
    out = Path(out)
    where = f"kerasimg: --out {out}"
    if out.is_dir():
        raise ValueError(f"{where}: is a directory; expected the path of a PNG file to write")
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise ValueError(f"{where}: {ancestor} is a file, not a folder")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out.parent, prefix=".kerasimg-", suffix=".tmp"):
            pass
        if out.exists() and not os.access(out, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as err:
        raise ValueError(f"{where}: cannot write there ({err.strerror or err})") from None
    return out


def contact_sheet(
    directory: str | os.PathLike,
    out: str | os.PathLike,
    layers: list,
    seed: int = 0,
    rows: int = 6,
    copies: int = 4,
    tile: int = 128,
) -> Path:
    """Write a grid: each row one image (file name and class above it) and ``copies`` augmented versions.

    Images are picked evenly across the sorted file list (so across classes) and decoded
    with the same guarded decoder as the datasets, centre-cropped to ``tile`` x ``tile``;
    bad files are passed over. Copy ``j`` of row ``i`` uses the stateless seed
    ``(seed, i * copies + j)``, so the sheet is reproducible.

    Raises:
        ValueError: no decodable image, or ``out`` cannot be written (see :func:`check_output`).

    Returns:
        The path of the PNG written: ``(rows * (tile + 16))`` high and
        ``((copies + 1) * tile)`` wide, in RGB.
    """
    from PIL import Image, ImageDraw

    from kerasimg.data import ImageDecoder

    check_output(out)
    from kerasimg.data.listing import list_directory
    from kerasimg.layers import apply_layers

    directory = Path(directory)
    paths = [Path(p) for p in list_directory(directory, labeled=False).paths]
    if not paths:
        raise ValueError(f"kerasimg: {directory}: no image files found")
    decoder = ImageDecoder(image_size=(tile, tile), channels=3, crop_to_aspect_ratio=True)
    picked: list[tuple[Path, np.ndarray]] = []
    for index in np.linspace(0, len(paths) - 1, num=min(len(paths), rows * 3)).astype(int):
        if len(picked) == rows:
            break
        try:
            picked.append((paths[index], decoder.decode_file(paths[index])))
        except ValueError:
            continue
    if not picked:
        raise ValueError(f"kerasimg: {directory}: no decodable images")

    label_h = 16
    sheet = Image.new("RGB", ((copies + 1) * tile, len(picked) * (tile + label_h)), "white")
    draw = ImageDraw.Draw(sheet)
    for i, (path, image) in enumerate(picked):
        top = i * (tile + label_h)
        rel = path.relative_to(directory)
        label = f"{rel.name}  [{rel.parts[0] if len(rel.parts) > 1 else '-'}]"
        draw.text((2, top + 2), label, fill="black")
        tiles = [image]
        for j in range(copies):
            out_image = apply_layers(layers, image, seed=np.array([seed, i * copies + j], "int32"))
            tiles.append(np.clip(np.round(np.asarray(out_image)), 0, 255).astype("uint8"))
        for j, pixels in enumerate(tiles):
            sheet.paste(Image.fromarray(pixels), (j * tile, top + label_h))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        sheet.save(out, format="PNG")
    except OSError as err:
        raise ValueError(f"kerasimg: --out {out}: cannot write there ({err.strerror or err})") from None
    return out
