"""Checks of single listed files, from ``os.stat`` alone (nothing is opened), and the
transient progress bar of a long listing. Private helpers of :mod:`kerasimg.data.listing`.
"""

from __future__ import annotations

import os
import stat
import time
from typing import Any

PROGRESS_AFTER_S = 1.0  # a progress bar appears when listing takes longer than this
MAX_FILE_BYTES = 256 * 2**20  # ImageDecoder's default (kerasimg.data.decode.MAX_FILE_BYTES)


def name_problem(path: str, where: str | None = None) -> str | None:
    """Why ``path`` cannot be read (a name that is not valid UTF-8: TensorFlow's file
    names are UTF-8 strings), or None."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raw = os.fsencode(path)
        suffix = f" ({where})" if where else ""
        return f"file name is not valid UTF-8: {raw!r}{suffix}"
    return None


def problem_at(path: str, where: str | None, progress: Progress, max_file_bytes: int | None = None) -> str | None:
    """``file_problem`` of ``path`` naming ``where`` it was listed; counts it on ``progress``."""
    progress.advance()
    problem = file_problem(path, max_file_bytes)
    return None if problem is None else problem + (f" ({where})" if where else "")


def file_problem(path: str, max_file_bytes: int | None = None) -> str | None:
    """Why ``path`` is not read, from ``os.stat`` alone (nothing is opened), or None.

    Only regular files are read: a symlink is judged by its target, and a FIFO (whose read
    blocks forever), a device (``/dev/zero`` reads without end) or a socket is refused. A file
    over ``max_file_bytes`` (default: ``ImageDecoder``'s, 256 MiB) is refused before it is read.

    Example:

    >>> file_problem("/dev/zero")
    'not a regular file (character device): never opened'
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file"
    except OSError as err:
        return f"cannot read file ({err.strerror or err})"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory"
    if not stat.S_ISREG(st.st_mode):
        kind = {stat.S_IFIFO: "FIFO", stat.S_IFCHR: "character device", stat.S_IFBLK: "block device",
                stat.S_IFSOCK: "socket"}.get(stat.S_IFMT(st.st_mode), "special file")  # fmt: skip
        return f"not a regular file ({kind}): never opened"
    limit = MAX_FILE_BYTES if max_file_bytes is None else max_file_bytes
    if st.st_size > limit:
        return f"{st.st_size} bytes, over max_file_bytes={limit}"
    return None


def console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


class Progress:
    """Counts items; shows a transient rich progress bar once more than a second has passed."""

    def __init__(self, description: str) -> None:
        self.description = description
        self.count = 0
        self.shown = False
        self._bar: Any = None
        self._start = time.monotonic()

    def __enter__(self) -> Progress:
        return self

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self._bar is None:
            if time.monotonic() - self._start < PROGRESS_AFTER_S:
                return
            from rich.progress import Progress as Bar
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Bar(
                SpinnerColumn(), TextColumn("{task.description}: {task.completed} entries"),
                TimeElapsedColumn(), console=console(), transient=True,
            )  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=None)
            self.shown = True
        self._bar.update(self._task, completed=self.count)

    def __exit__(self, *exc: Any) -> None:
        if self._bar is not None:
            self._bar.stop()
