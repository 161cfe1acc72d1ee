"""Every example runs as `python examples/NAME.py` and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=EXAMPLES.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_basic_pipeline():
    out = run_example("basic_pipeline.py")
    assert "classes: ['china', 'flower']; files: 48" in out
    assert "one batch: images (16, 128, 128, 3) uint8, labels (16,)" in out
    assert "predicted on 48 images; skipped files: 0" in out


def test_labels_from_csv_reshuffles_each_epoch():
    out = run_example("labels_from_csv.py")
    assert "classes: ['china', 'flower']" in out
    epochs = [line.split(": first labels ")[1] for line in out.splitlines() if line.startswith("epoch")]
    assert len(epochs) == 2 and all(e.endswith("(24 images)") for e in epochs)
    assert epochs[0] != epochs[1]


def test_augmentation():
    out = run_example("augmentation.py")
    assert "two training passes differ: True" in out
    assert "inference pass is the identity: True" in out


@pytest.mark.slow
def test_distributed_service():
    out = run_example("distributed_service.py")
    assert "one epoch through the service: 32 images of 32 files" in out
    assert "trained 2 epochs through tf.data service" in out
