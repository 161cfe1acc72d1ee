"""``kerasimg scan``: look at a folder of images (classes, formats, sizes, bad files) before training on it."""

from __future__ import annotations

import os
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np


def _header_pass(paths: list[str], max_pixels: int):
    """Yield ``(format, height, width, ok, orientation)`` per file: headers only, in parallel
    (the statistics; whether a file is bad, and why, comes from decoding it). ``orientation`` is
    a JPEG's EXIF Orientation (1: as stored)."""
    import tensorflow as tf

    from kerasimg.data import _exif, _headers

    def inspect(path):
        contents = tf.io.read_file(path)
        header = _headers.inspect_header(contents, _headers.FORMATS, max_pixels)
        names = tf.constant(("",) + _headers.FORMATS)
        return tf.gather(names, header.fmt), header.height, header.width, header.ok, _exif.orientation(contents)

    def readable(path):  # directories and unreadable files are left to the decode pass
        return os.path.isfile(path) and os.access(path, os.R_OK)

    good = [p for p in paths if readable(p)]
    ds = tf.data.Dataset.from_tensor_slices(tf.constant(good or [""], tf.string)).map(
        inspect, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
    results = {}
    if good:
        for path, (fmt, h, w, ok, turn) in zip(good, ds.as_numpy_iterator(), strict=True):
            results[path] = (fmt.decode(), int(h), int(w), bool(ok), int(turn))
    for path in paths:
        yield path, results.get(path, ("", 0, 0, False, 1))


def scan_directory(directory: str | os.PathLike, max_pixels: int = 50_000_000) -> dict[str, Any]:
    """Classes, counts, formats, size statistics and every bad file (with its reason) of a folder.

    Headers are read for every file (format by magic bytes, size: the statistics), then
    every file is decoded through ``kerasimg.data.from_files`` in skip mode, so a file is
    reported bad, with the same reason, exactly when a dataset would skip it.

    Example:

    >>> report = scan_directory("photos/")  # doctest: +SKIP
    >>> report["classes"], report["bad"]  # doctest: +SKIP
    ({'cats': 120, 'dogs': 118}, [])
    """
    from rich.progress import Progress

    from kerasimg.data import SkippedFileWarning, from_files
    from kerasimg.data.listing import list_directory

    directory = Path(directory)
    listing = list_directory(directory, labeled=False)
    paths = [p for p, problem in zip(listing.paths, listing.problems, strict=True) if not problem]
    bad: dict[str, str] = {p: r for p, r in zip(listing.paths, listing.problems, strict=True) if r}
    formats: Counter = Counter()
    classes: Counter = Counter()
    heights, widths = [], []
    rotated = 0
    with Progress(transient=True, disable=len(paths) < 200) as progress:
        task = progress.add_task("reading headers", total=len(paths))
        for path, (fmt, h, w, ok, turn) in _header_pass(paths, max_pixels):
            rel = Path(path).relative_to(directory)
            classes[rel.parts[0] if len(rel.parts) > 1 else "."] += 1
            progress.advance(task)
            if ok:
                rotated += turn != 1
                formats[fmt] += 1
                heights.append(h)
                widths.append(w)
        # Bad means what a dataset skips: every file goes through the same guarded decode.
        if paths:
            task = progress.add_task("decoding", total=len(paths))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SkippedFileWarning)  # reported in the table
                decoded = from_files(paths, image_size=None, batch_size=None, shuffle=False,
                                     max_pixels=max_pixels, on_error="skip")
                for _ in decoded:
                    progress.advance(task)
            for path, reason in decoded.skipped:
                bad[str(path)] = reason

    def stats(values):
        return {"min": int(np.min(values)), "median": float(np.median(values)), "max": int(np.max(values))} if values else None

    return {
        "directory": str(directory),
        "files": len(listing.paths),
        "classes": dict(sorted(classes.items())),
        "formats": dict(sorted(formats.items())),
        "width": stats(widths),
        "height": stats(heights),
        "rotated": rotated,  # JPEGs whose EXIF Orientation turns them (decoded upright)
        "bad": [{"path": p, "reason": r} for p, r in sorted(bad.items())],
    }


def print_report(report: dict[str, Any]) -> None:
    """Print a scan report as rich tables."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"[bold]{_printable(report['directory'])}[/]: {report['files']} files, {len(report['bad'])} bad, "
                  f"{report.get('rotated', 0)} turned by their EXIF orientation")
    table = Table("class", "files")
    for name, count in report["classes"].items():
        table.add_row(_printable(name), str(count))
    console.print(table)
    table = Table("format", "files")
    for name, count in report["formats"].items():
        table.add_row(name, str(count))
    console.print(table)
    if report["width"]:
        table = Table("", "min", "median", "max")
        for key in ("width", "height"):
            s = report[key]
            table.add_row(key, str(s["min"]), f"{s['median']:g}", str(s["max"]))
        console.print(table)
    if report["bad"]:
        table = Table("reason")
        table.add_column("bad file", no_wrap=True)
        table.columns.reverse()
        root = Path(report["directory"])
        for row in report["bad"]:
            path = Path(row["path"])
            shown = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            table.add_row(_printable(shown), _printable(row["reason"]))
        console.print(table)


def _printable(text: str) -> str:
    """``text`` with the undecodable bytes of a file name (surrogate escapes) as ``\\xNN``."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
