"""Loads a script of ``benchmarks/`` as a module, for the tests that check it (the scripts are
not a package: they run as ``python benchmarks/<name>.py``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as the module ``bench_<name>`` (registered in ``sys.modules``
    while it executes: dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run(name: str, *args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """``python benchmarks/<name>.py ARGS`` in a child process, its output captured as text and
    TensorFlow's C++ log lines off (``kwargs``: more of ``subprocess.run``'s)."""
    command = [sys.executable, str(BENCHMARKS / f"{name}.py"), *args]
    kwargs.setdefault("env", {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
