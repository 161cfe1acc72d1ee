"""benchmarks/bombs.py: the bombs are what they claim, and a full run names a reason for each.

No timing or memory figure is asserted: they depend on the machine (the benchmark prints them).
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import benchmark_scripts
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bombs.py"


def test_gif_bomb_declares_a_frame_far_larger_than_its_screen():
    data = benchmark_scripts.load("bombs").gif_frame_bomb()
    screen = struct.unpack("<HH", data[6:10])
    start = data.index(b"\x2c")
    frame = struct.unpack("<HHHH", data[start + 1 : start + 9])
    assert screen == (1, 1) and frame[2:] == (6000, 6000) and len(data) < 100


def test_gif_block_bomb_is_a_small_gif_of_many_comment_blocks():
    data = benchmark_scripts.load("bombs").gif_block_bomb()
    assert data.startswith(b"GIF8") and data.endswith(b"\x3b")
    assert data.count(b"\x21\xfe\x01x\x00") == 65000 and len(data) < 400_000


def test_jpeg_bomb_is_small_with_thousands_of_scans():
    data = benchmark_scripts.load("bombs").jpeg_scan_bomb()
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    assert data.count(b"\xff\xda") > 5000 and len(data) < 300_000


@pytest.mark.nightly
def test_full_run_refuses_every_bomb_with_its_reason():
    out = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=900, check=True)
    rows = [line for line in out.stdout.splitlines() if line.startswith("| adapter") or line.startswith("| serving")]
    assert len(rows) == 10, out.stdout
    reasons = {row.split("|")[2].strip() + "/" + row.split("|")[1].strip(): row.split("|")[5] for row in rows}
    later = [row.split("|")[6].strip() for row in rows if row.startswith("| adapter")]
    assert all(float(v) >= 0 for v in later), later  # every adapter row times a second epoch
    assert "scans" in reasons["jpeg-scans/adapter"] and "scans" in reasons["jpeg-scans/serving"]
    assert "logical screen" in reasons["gif-frame/adapter"] and "logical screen" in reasons["gif-frame/serving"]
    assert "blocks" in reasons["gif-blocks/adapter"] and "blocks" in reasons["gif-blocks/serving"]
    assert "FIFO" in reasons["fifo/adapter"] and "character device" in reasons["dev-zero/adapter"]
    seconds = [row.split("|")[3].strip() for row in rows]  # "failed" when a case's process died
    assert "failed" not in seconds and not any(reason.strip().startswith("NOT") for reason in reasons.values())
