"""``kerasimg preview``: a PNG contact sheet of originals and augmented copies."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


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

    Returns:
        The path of the PNG written: ``(rows * (tile + 16))`` high and
        ``((copies + 1) * tile)`` wide, in RGB.
    """
    from PIL import Image, ImageDraw

    from kerasimg.data import ImageDecoder
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
    out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(out, format="PNG")
    return out
