"""benchmarks/instructions.py: callgrind's total is parsed, per-image counts are the difference
of two runs, and the child (what runs under valgrind) runs its epochs. Valgrind itself is not
run here (importing TensorFlow under it takes minutes): `python benchmarks/instructions.py` is
the real run."""

from __future__ import annotations

import os
import subprocess
import sys

import benchmark_scripts
import pytest

bench = benchmark_scripts.load("instructions")

LOG = """==2977== Events    : Ir
==2977== Collected : 30156428569
==2977==
==2977== I   refs:      30,156,428,569
"""


def test_count_instructions_reads_callgrind_summary():
    assert bench.count_instructions(LOG) == 30_156_428_569


def test_count_instructions_refuses_output_without_a_summary():
    with pytest.raises(ValueError, match="no 'I refs' line"):
        bench.count_instructions("==1== valgrind: failed to start tool 'callgrind'\n")


def test_per_image_is_the_difference_over_the_extra_images():
    # 4 more epochs of 128 images cost 9,259,724,492 more instructions: 18.1 M per image
    assert bench.per_image(30_156_428_569, 39_416_153_061, (2, 6), 128) == pytest.approx(18_085_399.4, rel=1e-9)
    assert bench.per_image(100, 100, (2, 6), 10) == 0


def test_child_runs_its_epochs_over_the_corpus(tmp_path):
    folder = benchmark_scripts.load("pipeline").make_format_corpus(tmp_path, "gif", 4)
    done = subprocess.run(
        [sys.executable, str(benchmark_scripts.BENCHMARKS / "instructions.py"), "--child", str(folder), "gif",
         "kerasimg", "1"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "images 4"


def test_main_says_when_valgrind_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(bench.shutil, "which", lambda name: None)
    monkeypatch.setattr(sys, "argv", ["instructions.py"])
    with pytest.raises(SystemExit, match="valgrind is not on the PATH"):
        bench.main()
