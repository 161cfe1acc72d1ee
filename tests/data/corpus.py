"""Test corpus generator: good images and every kind of bad file, made at run time.

Nothing is committed: NumPy draws the pixels, Pillow (and zlib, for the bombs) encodes them.
Used by the decoder tests and by the dataset adapter's skip/raise and memory tests::

    from corpus import make_corpus

    corpus = make_corpus(tmp_path, n_good=200)
    corpus.good            # [Path] decodable images in tmp_path/<class>/
    corpus.bad             # {Path: reason keyword}, a substring of ImageDecoder.why_bad()
    corpus.decode_only     # the bad files check() accepts (only a real decode finds them)
    corpus.decoy_dirs      # directories named like images ("dir.jpg/")
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

#: Keyword of the reason for each bad-file kind (a substring of the decoder's reason).
REASONS = {
    "empty": "empty file",
    "text": "unsupported format",
    "html": "unsupported format",
    "tiff": "unsupported format",
    "jpeg_magic_only": "truncated header",
    "png_magic_only": "truncated header",
    "jpeg_header_only": "no start-of-scan marker",
    "jpeg_half": "no end-of-image marker",
    "jpeg_no_eoi": "no end-of-image marker",
    "png_half": "no IEND chunk",
    "png_bad_crc": "corrupt image data",
    "png_bomb": "pixels, over max_pixels=",
    "jpeg_bomb": "pixels, over max_pixels=",
}
#: Bad kinds that pass ``check()`` (the header is fine): only decoding finds them.
DECODE_ONLY = frozenset({"png_bad_crc"})

_SUFFIX = {"jpeg": ".jpg", "png": ".png", "gif": ".gif", "bmp": ".bmp", "webp": ".webp"}


@dataclass
class Corpus:
    """What :func:`make_corpus` wrote. Class of a file: ``path.parent.name``."""

    root: Path
    classes: tuple[str, ...]
    good: list[Path] = field(default_factory=list)
    bad: dict[Path, str] = field(default_factory=dict)
    decode_only: set[Path] = field(default_factory=set)
    decoy_dirs: list[Path] = field(default_factory=list)


def encode(array: np.ndarray, fmt: str, **options) -> bytes:
    """Encodes a uint8/uint16 array ``[H, W]`` or ``[H, W, C]`` with Pillow (``fmt`` e.g. "PNG")."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(array: np.ndarray, quality: int = 90, **options) -> bytes:
    """JPEG bytes of an RGB or grey uint8 array."""
    return encode(array, "JPEG", quality=quality, **options)


def png_bytes(array: np.ndarray, **options) -> bytes:
    """PNG bytes (grey, grey+alpha, RGB, RGBA; a 2-D uint16 array gives a 16-bit PNG)."""
    return encode(array, "PNG", **options)


def gif_bytes(array: np.ndarray, frames: Sequence[np.ndarray] = ()) -> bytes:
    """GIF bytes; extra ``frames`` make it animated."""
    buffer = io.BytesIO()
    first, *rest = [Image.fromarray(np.asarray(a)) for a in (array, *frames)]
    first.save(buffer, "GIF", save_all=bool(rest), append_images=rest)
    return buffer.getvalue()


def bmp_bytes(array: np.ndarray) -> bytes:
    """BMP bytes (grey: 8-bit, RGB: 24-bit, RGBA: 32-bit)."""
    return encode(array, "BMP")


def webp_bytes(array: np.ndarray, lossless: bool = False, quality: int = 90, **options) -> bytes:
    """WebP bytes of an RGB or RGBA uint8 array (``exact=True`` keeps RGB under alpha 0)."""
    return encode(array, "WEBP", lossless=lossless, quality=quality, **options)


def smooth_image(rng: np.random.Generator, height: int, width: int, channels: int = 3) -> np.ndarray:
    """A photo-like uint8 image: gradients, a few rectangles and mild noise."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    planes = []
    for _ in range(channels):
        a, b, c = rng.uniform(-1.5, 1.5, 3)
        planes.append(128 + a * x * 100 / width + b * y * 100 / height + c * np.sin(x / 7 + y / 11) * 30)
    image = np.stack(planes, axis=-1)
    for _ in range(3):
        y0, x0 = rng.integers(0, height), rng.integers(0, width)
        image[y0 : y0 + height // 4, x0 : x0 + width // 4] = rng.uniform(0, 255, channels)
    image += rng.normal(0, 4, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk (length, type, data, CRC)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid 1-bit grey PNG of ``width x height`` zeros, streamed row by row (about 50 KB).

    Neither the generator nor the decoder (which refuses it from the header) holds the pixels.
    """
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = bytearray()
    for _ in range(height):
        idat += compressor.compress(row)
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", bytes(idat)) + png_chunk(b"IEND", b"")


def jpeg_marker_offset(data: bytes, predicate) -> int:
    """Offset of the first JPEG marker (before the scan) whose code satisfies ``predicate``."""
    pos = 2
    while pos + 4 <= len(data):
        marker = data[pos + 1]
        if predicate(marker):
            return pos
        if marker == 0xDA:
            break
        pos += 2 + struct.unpack(">H", data[pos + 2 : pos + 4])[0]
    raise ValueError("marker not found")


def jpeg_bomb(width: int = 12_000, height: int = 12_000) -> bytes:
    """A small real JPEG whose frame header (SOF0) claims ``width x height``."""
    data = bytearray(jpeg_bytes(np.zeros((16, 16, 3), np.uint8)))
    sof = jpeg_marker_offset(bytes(data), lambda m: m == 0xC0)
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def jpeg_header_only() -> bytes:
    """SOI + APP0 (JFIF) + SOF0 (64x48, 3 components): a size, but no tables and no scan."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, 48, 64, 3)
    sof0 += b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof0


def make_bad_files(directory: Path | Sequence[Path], seed: int = 0) -> dict[Path, str]:
    """Writes one file of each bad kind (spread round-robin over ``directory``).

    Returns:
        ``{path: reason keyword}``; kinds in :data:`DECODE_ONLY` pass ``check()``.
    """
    dirs = [Path(directory)] if isinstance(directory, (str, os.PathLike)) else [Path(d) for d in directory]
    rng = np.random.default_rng(seed)
    noisy = rng.integers(0, 256, (192, 256, 3), dtype=np.uint8)  # big scan: half cuts inside it
    jpeg, png = jpeg_bytes(noisy), png_bytes(noisy)
    crc = bytearray(png)
    crc[png.index(b"IDAT") + 100] ^= 0xFF  # inside the IDAT data: its CRC no longer matches
    files = {
        "empty": ("empty.jpg", b""),
        "text": ("notes.jpg", b"this is a text file, not an image\n" * 4),
        "html": ("page.png", b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n"),
        "tiff": ("scan.tiff", encode(noisy[:32, :32], "TIFF")),
        "jpeg_magic_only": ("magic_only.jpg", b"\xff\xd8\xff"),
        "png_magic_only": ("magic_only.png", b"\x89PNG\r\n\x1a\n"),
        "jpeg_header_only": ("header_only.jpg", jpeg_header_only()),
        "jpeg_half": ("half.jpg", jpeg[: len(jpeg) // 2]),
        "jpeg_no_eoi": ("no_eoi.jpg", jpeg[:-2]),
        "png_half": ("half.png", png[: len(png) // 2]),
        "png_bad_crc": ("bad_crc.png", bytes(crc)),
        "png_bomb": ("bomb.png", png_bomb()),
        "jpeg_bomb": ("bomb.jpg", jpeg_bomb()),
    }
    out = {}
    for i, (kind, (name, data)) in enumerate(files.items()):
        folder = dirs[i % len(dirs)]
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"bad_{name}"
        path.write_bytes(data)
        out[path] = REASONS[kind]
    return out


def make_unreadable(path: Path) -> bool:
    """``chmod 000`` on ``path``; False when that cannot make it unreadable (running as root)."""
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        return False
    os.chmod(path, 0)
    return True


def make_good_image(rng: np.random.Generator, path_stem: Path, size_range=(40, 120)) -> Path:
    """Writes one random good image (format, size and mode drawn from ``rng``); returns its path."""
    fmt = rng.choice(["jpeg", "png", "gif", "bmp", "webp"], p=[0.45, 0.3, 0.09, 0.08, 0.08])
    height, width = (int(v) for v in rng.integers(size_range[0], size_range[1] + 1, 2))
    mode = rng.choice(["rgb", "grey", "rgba"], p=[0.7, 0.2, 0.1])
    channels = {"rgb": 3, "grey": 1, "rgba": 4}[mode]
    if fmt in ("jpeg", "gif") and channels == 4:
        channels = 3
    image = smooth_image(rng, height, width, channels)
    if channels == 1:
        image = image[..., 0]
    if fmt == "webp" and channels == 1:
        image = np.stack([image] * 3, axis=-1)
    data = {
        "jpeg": lambda: jpeg_bytes(image, quality=int(rng.integers(60, 96))),
        "png": lambda: png_bytes(image),
        "gif": lambda: gif_bytes(image),
        "bmp": lambda: bmp_bytes(image),
        "webp": lambda: webp_bytes(image, lossless=bool(rng.integers(0, 2))),
    }[fmt]()
    path = path_stem.with_suffix(_SUFFIX[fmt])
    path.write_bytes(data)
    return path


def make_corpus(
    root: Path,
    n_good: int = 200,
    classes: Sequence[str] = ("cats", "dogs"),
    size_range: tuple[int, int] = (40, 120),
    seed: int = 0,
    with_bad: bool = True,
) -> Corpus:
    """Writes ``n_good`` good images (mixed formats, sizes and modes) into ``root/<class>/``,
    and with ``with_bad`` one bad file of each kind plus a decoy ``dir.jpg/`` directory.

    Good files: mostly JPEG and PNG, some GIF, BMP and WebP; RGB, grey and RGBA; one PNG
    named ``.jpg``. Deterministic for a given ``seed``.
    """
    root = Path(root)
    rng = np.random.default_rng(seed)
    corpus = Corpus(root=root, classes=tuple(classes))
    folders = [root / name for name in classes]
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    for i in range(n_good - 1):
        corpus.good.append(make_good_image(rng, folders[i % len(folders)] / f"img_{i:05d}", size_range))
    if n_good:  # the last good file: a PNG named .jpg (content decides, not the extension)
        disguised = folders[0] / "png_named.jpg"
        disguised.write_bytes(png_bytes(smooth_image(rng, 50, 70)))
        corpus.good.append(disguised)
    if with_bad:
        corpus.bad = make_bad_files(folders, seed=seed)
        corpus.decode_only = {p for p, r in corpus.bad.items() if r == REASONS["png_bad_crc"]}
        decoy = folders[-1] / "dir.jpg"
        decoy.mkdir(exist_ok=True)
        corpus.decoy_dirs.append(decoy)
    return corpus
