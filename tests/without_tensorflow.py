"""A child-process environment in which ``import tensorflow`` fails, as on a JAX-only GPU machine.

``env_without_tensorflow(tmp_path)`` writes a ``sitecustomize.py`` that puts an import
blocker first on ``sys.meta_path`` (every ``tensorflow`` / ``tensorflow.*`` import raises
``ModuleNotFoundError``) and returns an environment whose ``PYTHONPATH`` starts with it,
with ``KERAS_BACKEND=jax``. Python imports ``sitecustomize`` at start-up, so the blocker is
in place before any line of the child runs.
"""

from __future__ import annotations

import os
from pathlib import Path

BLOCKER = '''
import importlib.abc
import sys


class _NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by kerasimg's tests)")
        return None


sys.meta_path.insert(0, _NoTensorFlow())
'''


def env_without_tensorflow(tmp_path: Path, **extra: str) -> dict[str, str]:
    """``os.environ`` plus ``KERAS_BACKEND=jax`` and the blocker first on ``PYTHONPATH``."""
    site = Path(tmp_path) / "no_tensorflow"
    site.mkdir(parents=True, exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", **extra}
