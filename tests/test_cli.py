"""The kerasimg command: every subcommand run, and every user error is one line + exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kerasimg.cli import main, parse_augment

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kerasimg", *args], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """Two classes of small images with varied sizes, plus two bad files."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, name in enumerate(("cats", "dogs")):
        (root / name).mkdir()
        for i in range(6):
            h, w = 40 + 8 * i, 60 - 4 * i
            pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            pixels[..., c] = 255
            ext, fmt = (".jpg", "JPEG") if i % 2 else (".png", "PNG")
            Image.fromarray(pixels).save(root / name / f"{name}_{i}{ext}", format=fmt)
    (root / "cats" / "empty.jpg").write_bytes(b"")
    (root / "dogs" / "notes.png").write_text("not an image")
    return root


def test_scan_json_report(folder):
    done = _run("scan", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["classes"] == {"cats": 7, "dogs": 7}
    assert report["formats"] == {"jpeg": 6, "png": 6}
    assert report["width"] == {"min": 40, "median": 50.0, "max": 60}
    assert report["height"] == {"min": 40, "median": 60.0, "max": 80}
    reasons = {Path(row["path"]).name: row["reason"] for row in report["bad"]}
    assert set(reasons) == {"empty.jpg", "notes.png"}
    assert reasons["empty.jpg"] == "empty file"
    assert "unsupported format" in reasons["notes.png"]


def test_scan_table_and_strict(folder):
    done = _run("scan", str(folder))
    assert done.returncode == 0
    assert "empty.jpg" in done.stdout and "notes.png" in done.stdout and "cats" in done.stdout
    assert _run("scan", str(folder), "--strict").returncode == 1


def test_preview_writes_a_contact_sheet(folder, tmp_path):
    out = tmp_path / "grid.png"
    done = _run("preview", str(folder), "--out", str(out), "--rows", "3", "--copies", "2",
                "--tile", "32", "--augment", "flip=horizontal,brightness=0.4,contrast=0.4", "--seed", "1")
    assert done.returncode == 0, done.stderr
    sheet = np.asarray(Image.open(out).convert("RGB"))
    assert sheet.shape == (3 * (32 + 16), 3 * 32, 3)
    for row in range(3):
        top = row * 48 + 16
        original = sheet[top : top + 32, 0:32].astype(int)
        for j in (1, 2):
            copy = sheet[top : top + 32, 32 * j : 32 * (j + 1)].astype(int)
            assert np.abs(copy - original).mean() > 1.0  # augmented tiles differ from the original


def test_bench_prints_both_pipelines(folder):
    done = _run("bench", str(folder), "--image-size", "32", "--batch-size", "4", "--batches", "2")
    assert done.returncode == 0, done.stderr
    assert "from_directory" in done.stdout and "tutorial" in done.stdout and "ratio" in done.stdout


@pytest.mark.parametrize(
    "argv,message",
    [
        (["scan", "/no/such/folder"], "no such directory"),
        (["preview", "/no/such/folder", "--out", "x.png"], "no such directory"),
        (["bench", "/no/such/folder"], "no such directory"),
        (["scan", "{empty}"], "no image files found"),
        (["preview", "{empty}", "--out", "x.png"], "no image files found"),
        (["preview", "{folder}", "--out", "x.png", "--augment", "blur=3"], "--augment"),
        (["preview", "{folder}", "--out", "x.png", "--augment", "brightness=7"], "factor"),
        (["demo", "--epochs", "0"], "--epochs"),
    ],
)
def test_user_errors_print_one_line_and_exit_2(argv, message, folder, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(empty=empty, folder=folder) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kerasimg: ")
    assert message in err
    assert "Traceback" not in err


def test_parse_augment_builds_layers():
    flip, brightness = parse_augment("flip=vertical, brightness=0.25")
    assert flip.mode == "vertical" and brightness.factor == 0.25


def test_console_script_and_module_agree():
    done = _run("--help")
    assert done.returncode == 0
    for command in ("scan", "preview", "bench", "demo", "data-service"):
        assert command in done.stdout
