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


def _one_line(err: str, fragment: str) -> None:
    assert err.count("\n") == 1 and err.startswith("kerasimg: "), err
    assert fragment in err and "Traceback" not in err, err


def test_bench_on_a_folder_of_bad_files_is_one_line(tmp_path, capsys):
    """Regression: every file bad gave a TypeError traceback."""
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "a.jpg").write_bytes(b"")
    (tmp_path / "cats" / "b.png").write_text("not an image")
    assert main(["bench", str(tmp_path), "--image-size", "8", "--batches", "2"]) == 2
    _one_line(capsys.readouterr().err, "none of the 2 image files could be decoded")


def test_preview_checks_out_before_rendering(folder, tmp_path, capsys, monkeypatch):
    """Regression: --out at a directory, under a file or in an unwritable place gave a
    traceback after the sheet was rendered."""
    import kerasimg._preview

    def not_now(*args, **kwargs):
        raise AssertionError("rendered before --out was checked")

    monkeypatch.setattr(kerasimg._preview, "contact_sheet", not_now)
    (tmp_path / "file.txt").write_text("x")
    cases = [(tmp_path, "is a directory"), (tmp_path / "file.txt" / "grid.png", "is a file, not a folder")]
    if sys.platform.startswith("linux"):
        cases.append((Path("/proc/kerasimg-test/grid.png"), "cannot write there"))
    for out, fragment in cases:
        assert main(["preview", str(folder), "--out", str(out)]) == 2
        _one_line(capsys.readouterr().err, fragment)


def test_ctrl_c_is_one_line_and_exit_130(folder, capsys, monkeypatch):
    """Regression: Ctrl-C printed nothing (or a KeyboardInterrupt traceback)."""
    import kerasimg._scan

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kerasimg._scan, "scan_directory", interrupted)
    assert main(["scan", str(folder)]) == 130
    assert capsys.readouterr().err == "kerasimg: interrupted\n"


def test_usage_errors_before_the_heavy_imports(capsys, monkeypatch):
    """`scan` of a missing path is refused before kerasimg._scan (and TensorFlow's data
    pipeline) is imported; argparse's errors are one kerasimg: line too."""
    monkeypatch.delitem(sys.modules, "kerasimg._scan", raising=False)
    assert main(["scan", "/no/such/folder"]) == 2
    assert "kerasimg._scan" not in sys.modules
    _one_line(capsys.readouterr().err, "/no/such/folder: no such directory")
    assert main(["bench", ".", "--batches", "0"]) == 2
    _one_line(capsys.readouterr().err, "--batches must be positive, received 0")
    with pytest.raises(SystemExit) as info:
        main(["scan"])
    assert info.value.code == 2
    _one_line(capsys.readouterr().err, "scan: the following arguments are required: directory")


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file systems refuse non-UTF-8 names")
def test_scan_lists_a_non_utf8_name_as_bad(folder, tmp_path, capsys):
    """Regression: one non-UTF-8 file name failed `kerasimg scan` ("Error converting unicode string")."""
    root = tmp_path / "odd"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "ok.png").write_bytes((folder / "cats" / "cats_0.png").read_bytes())
    with open(os.fsencode(root / "cats") + b"/caf\xe9.png", "wb") as f:
        f.write((folder / "cats" / "cats_0.png").read_bytes())
    assert main(["scan", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["reason"] for row in report["bad"]] == [
        "file name is not valid UTF-8: " + repr(os.fsencode(root / "cats") + b"/caf\xe9.png")
    ]
    from kerasimg._scan import print_report

    print_report(report)  # the table (no second decode pass)
    assert "caf\\xe9.png" in capsys.readouterr().out


def test_worker_without_dispatcher_waits_visibly_then_fails(capsys):
    """Regression: `data-service worker --dispatcher 127.0.0.1:1` printed nothing, forever."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    argv = ["data-service", "worker", "--dispatcher", f"127.0.0.1:{port}", "--connect-timeout", "0.6"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"kerasimg data-service worker: waiting for the dispatcher at grpc://127.0.0.1:{port}")
    assert lines[-1].startswith(f"kerasimg: no tf.data service dispatcher answered at grpc://127.0.0.1:{port} within 0.6 s")
