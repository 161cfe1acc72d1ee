"""Sources of image files for ``kerasimg.data``: folders, CSV files and lists; labels; splits.

A :class:`Listing` is the sorted list of files a dataset will read, with their labels and the
problems already found while listing (a missing file, a directory named like an image). Splits
and shards are taken over the whole listing, so every entry lands in exactly one subset.

Example:

>>> listing = list_directory("photos/")           # photos/cat/*.jpg, photos/dog/*.png ...
>>> listing.class_names
['cat', 'dog']
>>> train, val = listing.split(0.2, seed=7)
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kerasimg.data import _csv, _files
from kerasimg.data._files import file_problem

#: File extensions listed for each format (lower case; the decoder reads the real format from
#: the magic bytes, so a PNG named ``.jpg`` is still decoded).
EXTENSIONS = {
    "jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "png": (".png",),
    "gif": (".gif",),
    "bmp": (".bmp",),
    "webp": (".webp",),
}
_INT = re.compile(r"[+-]?\d+")
#: Integer labels without ``class_names`` are class indices below this bound (their class
#: names ``"0"``, ``"1"``, ... are made for every index up to the largest one).
MAX_INTEGER_LABELS = 100_000


@dataclass
class Listing:
    """Files to read, in a stable (sorted) order, with integer labels and listing problems.

    Attributes:
        paths: every entry, as a string path.
        labels: an integer class index per entry, or None (unlabeled).
        class_names: the names of the label indices, or None (unlabeled).
        problems: per entry, None, or why the entry cannot be read (``"is a directory"``,
            ``"no such file"``); such entries are never decoded.

    Example:

    >>> listing = list_files(["a.png", "b.png"], labels=["cat", "dog"])
    >>> listing.labels, listing.class_names
    ([0, 1], ['cat', 'dog'])
    """

    paths: list[str]
    labels: list[int] | None = None
    class_names: list[str] | None = None
    problems: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.problems:
            self.problems = [None] * len(self.paths)

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: Sequence[int]) -> Listing:
        """The entries at ``indices``, in that order."""
        return Listing(
            [self.paths[i] for i in indices],
            None if self.labels is None else [self.labels[i] for i in indices],
            self.class_names,
            [self.problems[i] for i in indices],
        )

    def split(self, validation_split: float, seed: int) -> tuple[Listing, Listing]:
        """``(training, validation)``: disjoint, and the same for the same seed in any process.

        The entries are permuted with ``numpy.random.default_rng(seed)``; the last
        ``int(validation_split * len(self))`` of the permutation are the validation subset.
        Each subset keeps the sorted order of the listing.

        Raises:
            ValueError: when a subset would be empty.
        """
        n = len(self)
        n_val = int(validation_split * n)
        if n_val == 0 or n_val == n:
            raise ValueError(
                f"validation_split={validation_split!r} leaves an empty subset of {n} files "
                f"({n - n_val} training, {n_val} validation)"
            )
        perm = np.random.default_rng(seed).permutation(n)
        return self.take(sorted(perm[: n - n_val])), self.take(sorted(perm[n - n_val :]))

    def shard(self, num_shards: int, index: int) -> Listing:
        """Every ``num_shards``-th entry starting at ``index`` (one input pipeline's share)."""
        return self.take(range(index, len(self), num_shards))


def list_directory(
    directory: str | os.PathLike,
    formats: Sequence[str] = tuple(EXTENSIONS),
    labeled: bool = True,
    class_names: Sequence[str] | None = None,
    max_file_bytes: int | None = None,
) -> Listing:
    """Lists the image files under ``directory`` with ``os.scandir`` (one pass, recursive).

    Labeled, each first-level sub-folder is a class (sorted by name, or ordered as
    ``class_names``, which may name a subset of them) and holds its images at any depth; files
    directly in ``directory`` are ignored. Unlabeled, every image under ``directory`` is listed.
    Files are matched by extension (``EXTENSIONS`` of ``formats``, any case) and sorted; hidden
    entries (``.name``) are ignored. A
    directory named like an image becomes an entry with the problem ``"is a directory"``. A
    transient progress bar (stderr) appears when listing takes more than a second.

    Args:
        directory: the root folder.
        formats: formats whose extensions are listed. Defaults to all five.
        labeled: infer labels from the sub-folders. Defaults to True.
        class_names: explicit class order (sub-folder names). Defaults to sorted sub-folders.

    Returns:
        A :class:`Listing`.

    Raises:
        ValueError: missing directory, no class sub-folder, unknown class name or no image.

    Example:

    >>> list_directory("photos/").class_names
    ['cat', 'dog']
    """
    root = os.fspath(directory)
    if not os.path.isdir(root):
        raise ValueError(f"directory={root!r} is not an existing directory")
    exts = tuple(e for f in formats for e in EXTENSIONS[f])
    with _files.Progress(f"Listing {root}") as progress:
        if not labeled:
            found = _scan(root, exts, progress, max_file_bytes)
            found.sort()
            return Listing([p for p, _ in found], problems=[r or _files.name_problem(p) for p, r in found])
        folders = _subfolders(root)
        if class_names is None:
            class_names = folders
            if not folders:
                raise ValueError(
                    f"directory={root!r} has no class sub-folders; pass label_mode=None to read "
                    "the images directly under it"
                )
        else:
            missing = [c for c in class_names if c not in folders]
            if missing:
                raise ValueError(
                    f"class_names={list(class_names)!r}: no sub-folder {missing!r} in {root!r} "
                    f"(sub-folders: {folders!r})"
                )
        entries: list[tuple[str, str | None, int]] = []
        for label, name in enumerate(class_names):
            found = _scan(os.path.join(root, name), exts, progress, max_file_bytes)
            entries.extend((p, r, label) for p, r in sorted(found))
    if not entries:
        raise ValueError(f"directory={root!r}: no image files with extensions {exts} found")
    return Listing(
        [p for p, _, _ in entries], [lab for _, _, lab in entries], list(class_names),
        [r or _files.name_problem(p) for p, r, _ in entries],
    )  # fmt: skip


def list_csv(
    csv_path: str | os.PathLike,
    image_dir: str | os.PathLike | None = None,
    labeled: bool = True,
    class_names: Sequence[str] | None = None,
    header: bool | None = None,
    encoding: str = "utf-8-sig",
    max_file_bytes: int | None = None,
) -> Listing:
    """Lists the files of a CSV whose rows are ``image_name,label`` (or ``image_name`` alone).

    A row holds exactly ``image_name,label`` (labeled) or ``image_name`` with an optional
    ignored label (unlabeled); trailing empty cells are ignored. A row with more columns is an
    error naming its line: quote a file name that holds a comma (``"a,b.png",cat``).
    Relative names are read under ``image_dir``; an absolute name (``/data/x.png``) is read
    where it is, whatever ``image_dir`` says. A file listed twice with different labels is
    read once per row and a ``UserWarning`` names the file and the lines.

    Args:
        csv_path: the CSV file.
        image_dir: folder of relative image names. Defaults to the CSV's folder.
        labeled: read the second column as the label. Defaults to True.
        class_names: the class order. Labels are class names, or integer indices into
            ``class_names``; without it, names are sorted, and integer labels ``0..max`` are
            class indices naming themselves (``max`` below ``MAX_INTEGER_LABELS``; pass
            ``class_names`` for more classes).
        header: whether the first row is a header; None (default) detects one: a first row
            whose image name is not a file and which holds a usual column name
            (``image_name``, ``filename``, ``label``, ``class`` ...).
        encoding: the CSV's text encoding. Defaults to "utf-8-sig" (UTF-8, with or without
            a byte-order mark).

    Returns:
        A :class:`Listing` in the CSV's row order; a missing file, a directory or a file name
        that is not valid UTF-8 is an entry with a problem naming its CSV line.

    Raises:
        ValueError: missing CSV, text not in ``encoding``, a row without a label or with too
            many columns, an unknown class name or a bad index (each names the line).

    Example:

    >>> list_csv("labels.csv", image_dir="scans/").class_names
    ['benign', 'malignant']
    """
    csv_path = os.fspath(csv_path)
    if not os.path.isfile(csv_path):
        raise ValueError(f"csv_path={csv_path!r} is not an existing file")
    base = os.fspath(image_dir) if image_dir is not None else os.path.dirname(csv_path)
    if not os.path.isdir(base or "."):
        raise ValueError(f"image_dir={base!r} is not an existing directory")
    rows = _csv.read_rows(csv_path, base, labeled, header, encoding)
    paths = [os.path.join(base, row[0]) for _, row in rows]
    where = [f"{csv_path}, line {line}" for line, _ in rows]
    labels, names = (None, None)
    if labeled:
        values = [row[1] for _, row in rows]
        labels, names = _encode_labels(values, class_names, where)
        _csv.warn_conflicts(csv_path, paths, values, [line for line, _ in rows])
    with _files.Progress(f"Checking files of {csv_path}") as progress:
        problems = [
            _files.name_problem(p, w) or _files.problem_at(p, w, progress, max_file_bytes)
            for p, w in zip(paths, where, strict=True)
        ]
    return Listing(paths, labels, names, problems)


def list_files(
    paths: Sequence[str | os.PathLike],
    labels: Sequence[int | str] | None = None,
    class_names: Sequence[str] | None = None,
    max_file_bytes: int | None = None,
) -> Listing:
    """Lists explicit ``paths`` (kept in the given order) with optional ``labels``.

    Args:
        paths: image files.
        labels: one label per path (class names or integer indices, as in :func:`list_csv`),
            or None.
        class_names: the class order (see :func:`list_csv`).

    Returns:
        A :class:`Listing`; a missing file or a directory is an entry with a problem.

    Raises:
        ValueError: empty ``paths``, ``labels`` of another length, unknown class names.

    Example:

    >>> list_files(["a.png", "b.png"], labels=[1, 0]).class_names
    ['0', '1']
    """
    if isinstance(paths, (str, bytes, os.PathLike)) or not len(paths):
        raise ValueError(f"paths must be a non-empty sequence of file paths, received {paths!r}")
    paths = [os.fsdecode(p) for p in paths]
    names = None
    if labels is not None:
        if isinstance(labels, (str, bytes)) or len(labels) != len(paths):
            raise ValueError(
                f"labels must hold one label per path ({len(paths)}), received {labels!r}"
            )
        where = [f"labels[{i}]" for i in range(len(paths))]
        labels, names = _encode_labels([str(v).strip() for v in labels], class_names, where)
    with _files.Progress("Checking files") as progress:
        problems = [_files.name_problem(p) or _files.problem_at(p, None, progress, max_file_bytes) for p in paths]
    return Listing(paths, labels, names, problems)


# ---------------------------------------------------------------------- helpers


def _subfolders(root: str) -> list[str]:
    with os.scandir(root) as it:
        return sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))


def _scan(
    top: str, exts: tuple[str, ...], progress: _files.Progress, max_file_bytes: int | None = None
) -> list[tuple[str, str | None]]:
    """(path, problem) of every file under ``top`` with one of ``exts``; follows links once."""
    found: list[tuple[str, str | None]] = []
    seen: set[tuple[int, int]] = set()
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                continue  # a symlink loop, or the same folder reached twice
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue  # hidden: .ipynb_checkpoints/, macOS "._x.jpg" resource forks
            named = entry.name.lower().endswith(exts)
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                stack.append(entry.path)
                if named:
                    found.append((entry.path, "is a directory"))
            elif named:
                found.append((entry.path, file_problem(entry.path, max_file_bytes)))
        progress.advance(len(entries))
    return found


def _encode_labels(
    values: list[str], class_names: Sequence[str] | None, where: list[str]
) -> tuple[list[int], list[str]]:
    """Integer labels and the class names, from class names or integer indices.

    Costs memory by the number of rows and distinct labels: an integer index is checked
    against ``class_names`` (or ``MAX_INTEGER_LABELS``) before any list of names is made.
    """
    if class_names is not None:
        names = [str(c) for c in class_names]
    elif all(_INT.fullmatch(v) for v in values):
        indices = [int(v) for v in values]
        for value, index, loc in zip(values, indices, where, strict=True):
            if not 0 <= index < MAX_INTEGER_LABELS:
                raise ValueError(
                    f"{loc}: label {value!r} is not a class index in "
                    f"0..{MAX_INTEGER_LABELS - 1:,} (the bound for integer labels without "
                    "class_names); pass class_names (one name per index) for more classes"
                )
        names = [str(i) for i in range(max(indices) + 1)]
    else:
        names = sorted(set(values))
    index = {name: i for i, name in enumerate(names)}
    labels = []
    for value, loc in zip(values, where, strict=True):
        if value in index:
            labels.append(index[value])
        elif _INT.fullmatch(value) and 0 <= int(value) < len(names):
            labels.append(int(value))
        else:
            shown = names if len(names) <= 20 else [*names[:20], f"... {len(names)} classes"]
            raise ValueError(f"{loc}: label {value!r} is neither a class name nor an index of {shown!r}")
    return labels, names
