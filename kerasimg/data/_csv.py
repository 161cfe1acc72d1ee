"""Reading a labels CSV for :func:`kerasimg.data.listing.list_csv`: rows, header, conflicts.

Rows are ``image_name,label`` (or ``image_name``); every error names the CSV line.
"""

from __future__ import annotations

import csv
import os
import warnings

HEADER_WORDS = frozenset(
    "image image_name imagename image_id filename file_name file path image_path name id "
    "label labels class class_name classname target category".split()
)


def read_rows(
    csv_path: str, base: str, labeled: bool, header: bool | None, encoding: str
) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of the data rows of a labels CSV, checked (see ``list_csv``).

    The header row, given (``header=True``) or detected (``header=None``: see ``is_header``),
    is dropped. Every row holds ``image_name,label`` (labeled) or ``image_name`` with an
    optional ignored label.

    Raises:
        ValueError: text not in ``encoding``, no rows, a row without a label or with too
            many columns (naming the line).
    """
    rows = _read(csv_path, encoding)
    if rows and (header or (header is None and is_header(rows[0][1], base))):
        rows = rows[1:]
    if not rows:
        raise ValueError(f"csv_path={csv_path!r} has no rows")
    want = "image_name,label" if labeled else "image_name (a label column is ignored)"
    for line, row in rows:
        if not row[0] or (labeled and (len(row) < 2 or not row[1])) or len(row) > 2:
            hint = ""
            if len(row) > 2:
                hint = (f": {len(row)} columns; quote a file name that holds a comma, "
                        f'e.g. "{",".join(row[:-1])}",{row[-1]}')
            raise ValueError(f"{csv_path}, line {line}: expected {want}, found {row!r}{hint}")
    return rows


def is_header(row: list[str], base: str) -> bool:
    """Whether ``row`` looks like a header: it holds a usual column name and its image name
    is not a file under ``base``."""
    words = {c.lower() for c in row}
    return bool(words & HEADER_WORDS) and not os.path.isfile(os.path.join(base, row[0]))


def _read(csv_path: str, encoding: str) -> list[tuple[int, list[str]]]:
    """``(line, cells)`` of the non-empty rows; trailing empty cells dropped."""
    rows = []
    try:
        with open(csv_path, newline="", encoding=encoding) as f:
            for line, row in enumerate(csv.reader(f), 1):
                cells = [c.strip() for c in row]
                while cells and not cells[-1]:
                    cells.pop()
                if cells:
                    rows.append((line, cells))
    except UnicodeDecodeError as err:
        line = _line_of_byte(csv_path, err.start)
        raise ValueError(
            f"{csv_path}, line {line}: not valid {encoding} text (byte {err.object[err.start:err.start + 1]!r}"
            f" at offset {err.start}); pass the file's encoding, e.g. encoding='latin-1' or "
            "'cp1252', or save the CSV as UTF-8"
        ) from None
    except LookupError:
        raise ValueError(
            f"Invalid value for argument `encoding`: expected a Python text encoding. "
            f"Received: encoding={encoding!r}"
        ) from None
    return rows


def _line_of_byte(path: str, offset: int) -> int:
    """The 1-based line holding byte ``offset`` of the file (for decode errors)."""
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def warn_conflicts(csv_path: str, paths: list[str], values: list[str], lines: list[int]) -> None:
    """One ``UserWarning`` per file listed with different labels (naming its lines)."""
    seen: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        seen.setdefault(os.path.normpath(path), []).append(i)
    for path, rows in seen.items():
        if len(rows) > 1 and len({values[i] for i in rows}) > 1:
            found = ", ".join(f"{values[i]!r} (line {lines[i]})" for i in rows)
            warnings.warn(
                f"kerasimg: {csv_path}: {path} is listed with different labels: {found}; "
                "each row is read as its own example",
                UserWarning, stacklevel=3,
            )  # fmt: skip
