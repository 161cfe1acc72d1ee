"""`kerasimg demo`, the main job behind `make demo`, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from kerasimg.demo import BROKEN_FILES, write_broken_files, write_digits


def test_write_digits_and_broken_files(tmp_path):
    counts = write_digits(tmp_path, limit=30)
    assert sum(counts.values()) == 30 and set(counts) <= {str(d) for d in range(10)}
    broken = write_broken_files(tmp_path)
    assert len(broken) == len(BROKEN_FILES)
    truncated = tmp_path / "2" / "truncated.png"
    assert 0 < truncated.stat().st_size < (next((tmp_path / "2").glob("digit_*.png"))).stat().st_size


@pytest.mark.slow
@pytest.mark.nightly  # `make demo` runs it; CI time
def test_demo_trains_exports_and_serves_bytes(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "kerasimg", "demo", "--out", str(out)], capture_output=True, text=True,
        timeout=600, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["val_accuracy"] >= 0.95
    reasons = {os.path.basename(p): r for p, r in summary["skipped"]}
    assert reasons == {
        "empty.png": "empty file",
        "notes.png": "unsupported format (not JPEG, PNG, GIF, BMP or WebP)",
        "truncated.png": "truncated PNG (no IEND chunk)",
    }
    assert sorted(row["true"] for row in summary["predictions"]) == [str(d) for d in range(10)]
    correct = sum(row["predicted"] == row["true"] for row in summary["predictions"])
    assert correct >= 9
    assert "ran out of data" not in done.stderr and "SkippedFileWarning" not in done.stderr
    assert (out / "saved_model" / "saved_model.pb").exists()
    for row in summary["predictions"]:
        assert f"-> {row['predicted']}" in done.stdout
