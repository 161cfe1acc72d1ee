"""File-cache helpers of the tf.data pipeline (private): the identities that key a cache file,
and the cleanup of a cache left unfinished by a run that died while filling it."""

from __future__ import annotations

import os
import warnings
from typing import Any

_CACHE_LOCKS: dict[str, int] = {}  # cache prefix -> lock file descriptor, held while the process lives


def _file_identities(paths: list[str]) -> list[Any]:
    """``[path, size, mtime_ns]`` of each file (``[path, None, None]`` when it cannot be stat'ed)."""
    out: list[Any] = []
    for path in paths:
        try:
            st = os.stat(path)
            out.append([path, st.st_size, st.st_mtime_ns])
        except OSError:
            out.append([path, None, None])
    return out


def _clear_unfinished_cache(prefix: str) -> None:
    """Removes what a run killed while filling the cache ``prefix`` left behind.

    TensorFlow writes ``<prefix>_<n>.lockfile`` and ``<prefix>_<n>.*`` while filling a file
    cache and ``<prefix>.index`` when it is complete; a run killed in between leaves the
    lockfile, and every later run would fail with ``AlreadyExistsError``. Each process that
    uses an unfinished cache holds an advisory lock (``<prefix>.kerasimg-lock``, ``flock``)
    for as long as it lives, and the kernel drops it when the process dies: whoever gets the
    lock knows that nobody is filling the cache, removes the leftovers with a warning and
    fills it again. A cache held by a live process is left alone.
    """
    import glob

    if os.path.exists(prefix + ".index") or prefix in _CACHE_LOCKS:
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, leftovers stay
        return
    lock = os.open(prefix + ".kerasimg-lock", os.O_RDWR | os.O_CREAT, 0o644)  # held while we live
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(lock)  # another live process is filling this cache: TensorFlow decides
        return
    _CACHE_LOCKS[prefix] = lock
    leftovers = sorted(glob.glob(glob.escape(prefix) + "_*"))
    for path in leftovers:
        try:
            os.remove(path)
        except OSError:
            pass
    if any(path.endswith(".lockfile") for path in leftovers):
        warnings.warn(
            f"kerasimg: cache={prefix!r} was left unfinished by a run that stopped while "
            f"filling it; removed {len(leftovers)} leftover file(s) and filling it again",
            UserWarning, stacklevel=4,
        )  # fmt: skip
