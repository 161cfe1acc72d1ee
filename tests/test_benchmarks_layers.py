"""benchmarks/layers.py: the quick run prints every row; the bandwidth limit is computed right.

No timing is asserted: the figures depend on the machine. The GPU code path (the memory-bandwidth
rows) is exercised on the CPU with fake device names and with ``--bandwidth-gbs``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import benchmark_scripts
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "layers.py"


bench = benchmark_scripts.load("layers")


def _rows(output: str) -> list[list[str]]:
    """The cells of the main table's body rows."""
    lines = [line for line in output.splitlines() if line.startswith("| ")]
    header = lines.index("| implementation | mode | input | images/s | vs keras.layers | vs one-pass limit |")
    body = []
    for line in lines[header + 1 :]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) != 6:
            break
        body.append(cells)
    return body


def test_quick_run_prints_every_row():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--bandwidth-gbs", "50"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    rows = _rows(done.stdout)
    expected = [(impl, mode, dtype) for impl in bench.IMPLEMENTATIONS
                for mode in ("tf.function", "XLA") for dtype in bench.DTYPES]
    assert [tuple(row[:3]) for row in rows] == expected
    for impl, mode, dtype, rate, vs_keras, vs_limit in rows:
        if impl == "keras_cv" and rate == "skipped":
            continue
        assert float(rate.replace(",", "")) > 0, (impl, mode, dtype)
        assert vs_limit.endswith("%")
        if impl != "one-pass limit":
            assert vs_keras.endswith("x")
    skipped = {row[0] for row in rows if row[3] == "skipped"}
    assert skipped <= {"keras_cv"}
    if skipped:
        assert "note: keras_cv skipped:" in done.stdout
    # --bandwidth-gbs puts the memory-bandwidth rows on a CPU too
    assert "Memory-bandwidth limit on" in done.stdout and "(50 GB/s, from --bandwidth-gbs)" in done.stdout
    assert "| kerasimg (uint8) |" in done.stdout and "| kerasimg (float32) |" in done.stdout


@pytest.mark.parametrize(
    "device,key,gbs",
    [
        ("NVIDIA H100 80GB HBM3", "H100", 3350.0),
        ("NVIDIA H100 PCIe", "H100 PCIe", 2000.0),
        ("NVIDIA H200", "H200", 4800.0),
        ("NVIDIA A100-SXM4-80GB", "A100-SXM4-80GB", 2039.0),
        ("Tesla T4", "T4", 320.0),
    ],
)
def test_bandwidth_limit_by_device_name(device, key, gbs):
    assert bench.bandwidth_limit(device) == (key, gbs)


def test_bandwidth_limit_override_and_unknown_device():
    assert bench.bandwidth_limit("NVIDIA H100 PCIe", 1000) == ("--bandwidth-gbs", 1000.0)
    assert bench.bandwidth_limit("Some Future GPU") is None
    rows = bench.bandwidth_rows("Some Future GPU", {"uint8": 10.0}, 256, 224)
    assert rows == ["No peak bandwidth known for 'Some Future GPU': pass --bandwidth-gbs."]


def test_bandwidth_rows_divide_bytes_per_image_by_bandwidth():
    # per image: the 256x256x3 input read once (1 or 4 bytes a value), the 224x224x3 float32
    # output written once
    in_u8, in_f32, out = 256 * 256 * 3, 256 * 256 * 3 * 4, 224 * 224 * 3 * 4
    assert bench.bytes_per_image(256, 224, "uint8") == in_u8 + out
    assert bench.bytes_per_image(256, 224, "float32") == in_f32 + out
    rows = bench.bandwidth_rows("NVIDIA H100 80GB HBM3", {"uint8": 2e6, "float32": 1e5}, 256, 224)
    assert rows[0] == "Memory-bandwidth limit on NVIDIA H100 80GB HBM3 (3,350 GB/s, from H100):"
    cells = {row.split(" | ")[0]: row.strip("|").split("|") for row in rows[3:]}
    u8 = [c.strip() for c in cells["| kerasimg (uint8)"]]
    limit_u8 = 3350e9 / (in_u8 + out)
    assert u8 == ["kerasimg (uint8)", "2,000,000", f"{limit_u8:,.0f}", f"{in_u8 + out:,}",
                  f"{2e6 / limit_u8:.1%}"]
    f32 = [c.strip() for c in cells["| kerasimg (float32)"]]
    assert float(f32[2].replace(",", "")) == pytest.approx(3350e9 / (in_f32 + out), abs=1)


def test_report_on_a_gpu_device_adds_the_bandwidth_rows():
    """The branch a JAX GPU run takes, fed with made-up timings."""
    configs = []
    for impl in bench.IMPLEMENTATIONS:
        for dtype, seconds in (("uint8", 0.001), ("float32", 0.002)):
            config = bench.Config(impl, "jax.jit", dtype)
            if impl == "keras_cv":
                config.skipped = "ModuleNotFoundError: No module named 'keras_cv'"
            else:
                config.times = [seconds * (2 if impl == "keras.layers" else 1)] * 3
            configs.append(config)
    text = bench.report(configs, 64, "gpu:NVIDIA H200", 256, 224)
    assert "| kerasimg | jax.jit | uint8 | 64,000 | 2.00x | 100.0% |" in text
    assert "| keras_cv | jax.jit | float32 | skipped | | |" in text
    assert "note: keras_cv skipped: ModuleNotFoundError" in text
    assert "Memory-bandwidth limit on NVIDIA H200 (4,800 GB/s, from H200):" in text
    limit = 4800e9 / bench.bytes_per_image(256, 224, "uint8")
    assert f"| kerasimg (uint8) | 64,000 | {limit:,.0f} |" in text
    assert "Memory-bandwidth limit" not in bench.report(configs, 64, "cpu:cpu", 256, 224)


def test_bad_flags_are_refused():
    with pytest.raises(SystemExit):
        bench.main(["--batch", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--bandwidth-gbs", "-1"])


def _without_tf(tmp_path, **extra):
    from without_tensorflow import env_without_tensorflow

    return env_without_tensorflow(tmp_path, **extra)


def test_quick_run_under_jax_without_tensorflow(tmp_path):
    """The GPU machine has JAX and no TensorFlow: keras_cv is skipped, everything else runs."""
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--without-resize"], capture_output=True, text=True,
        timeout=300, cwd=ROOT, env=_without_tf(tmp_path),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "input=16x16x3 -> 16x16x3" in done.stdout and "stack=flip+brightness+contrast" in done.stdout
    rows = _rows(done.stdout)
    assert [tuple(row[:3]) for row in rows] == [(impl, "jax.jit", dtype) for impl in bench.IMPLEMENTATIONS
                                                for dtype in bench.DTYPES]
    assert {row[0] for row in rows if row[3] == "skipped"} == {"keras_cv"}
    assert "note: keras_cv skipped: ModuleNotFoundError" in done.stdout


def _wheel(folder: Path) -> Path:
    """A minimal pure-Python wheel (one module), built by hand: no build tools, no network."""
    import base64
    import hashlib
    import zipfile

    files = {
        "kerasimg_gpu_probe/__init__.py": "VALUE = 1\n",
        "kerasimg_gpu_probe-0.1.dist-info/METADATA": "Metadata-Version: 2.1\nName: kerasimg-gpu-probe\nVersion: 0.1\n",
        "kerasimg_gpu_probe-0.1.dist-info/WHEEL": ("Wheel-Version: 1.0\nGenerator: kerasimg-tests\n"
                                                   "Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append("kerasimg_gpu_probe-0.1.dist-info/RECORD,,")
    files["kerasimg_gpu_probe-0.1.dist-info/RECORD"] = "\n".join(record) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kerasimg_gpu_probe-0.1-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


GPU_SH = ROOT / "benchmarks" / "gpu.sh"


def test_gpu_script_installs_wheels_and_runs_under_jax_without_tensorflow(tmp_path):
    """benchmarks/gpu.sh on this CPU, tiny sizes: wheels from a folder, JAX, no TensorFlow."""
    _wheel(tmp_path / "wheels")
    site = tmp_path / "site"
    env = _without_tf(tmp_path, PYTHON=sys.executable, KERASIMG_GPU_SITE=str(site))
    done = subprocess.run(
        ["bash", str(GPU_SH), str(tmp_path / "wheels"), "--", "--quick", "--bandwidth-gbs", "50"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "installing 1 wheel(s)" in done.stdout
    assert (site / "kerasimg_gpu_probe" / "__init__.py").is_file()
    assert "tensorflow not importable" in done.stdout
    rows = _rows(done.stdout)
    kerasimg_rows = [row for row in rows if row[0] == "kerasimg"]
    assert [row[1:3] for row in kerasimg_rows] == [["jax.jit", "uint8"], ["jax.jit", "float32"]]
    assert all(float(row[3].replace(",", "")) > 0 for row in kerasimg_rows)
    assert "(50 GB/s, from --bandwidth-gbs)" in done.stdout and "| kerasimg (uint8) |" in done.stdout


@pytest.mark.parametrize("case", ["no python", "no wheel", "missing folder"])
def test_gpu_script_refuses_what_it_cannot_use(case, tmp_path):
    env = _without_tf(tmp_path, PYTHON=sys.executable)
    args = ["bash", str(GPU_SH)]
    if case == "no python":
        env["PYTHON"] = str(tmp_path / "no-such-python")
    elif case == "no wheel":
        (tmp_path / "empty").mkdir()
        args.append(str(tmp_path / "empty"))
    else:
        args.append(str(tmp_path / "missing"))
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 2
    assert done.stderr.startswith("benchmarks/gpu.sh: ")
