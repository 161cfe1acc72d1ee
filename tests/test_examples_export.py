"""Runs examples/train_and_export.py end to end and checks the predictions it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "train_and_export.py"
CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
LINE = re.compile(r"^prediction (?P<path>\S+) -> (?P<name>\w+) \((?P<p>[0-9.]+)\)$")


def test_train_and_export_example_predicts_held_out_digits(tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "saved_model" / "saved_model.pb").is_file()
    predictions = [m for m in map(LINE.match, result.stdout.splitlines()) if m]
    # One held-out file per class, each classified by the fresh serving process.
    truths = [Path(m["path"]).parent.name for m in predictions]
    assert sorted(truths) == sorted(CLASS_NAMES), result.stdout
    for m in predictions:
        assert Path(m["path"]).is_file()
        assert m["name"] in CLASS_NAMES
        assert 0.0 <= float(m["p"]) <= 1.0
    correct = sum(m["name"] == truth for m, truth in zip(predictions, truths, strict=True))
    # A few epochs reach ~95% validation accuracy on the digits; 8 of 10 leaves room.
    assert correct >= 8, result.stdout
    accuracy = float(re.search(r"validation accuracy after \d+ epochs: ([0-9.]+)", result.stdout)[1])
    assert accuracy > 0.8, result.stdout
