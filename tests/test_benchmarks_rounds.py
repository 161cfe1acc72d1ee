"""benchmarks/rounds.py: the summary's ratios, ``plain-f32`` giving kerasimg's pixels, and a tiny
run printing every round and contender. No timing is asserted: the figures depend on the machine."""

from __future__ import annotations

import re

import benchmark_scripts
import numpy as np
import pytest


def test_summary_gives_median_cpu_and_the_spread_of_per_round_ratios():
    bench = benchmark_scripts.load("rounds")
    rounds = [{"kerasimg": k, "plain": 2.0} for k in (1.0, 2.0, 4.0, 2.0, 2.5)]
    got = bench.summary(rounds)
    # kerasimg's ratios plain / kerasimg: 2, 1, 0.5, 1, 0.8 -> sorted 0.5, 0.8, 1, 1, 2
    assert got["kerasimg"] == pytest.approx((2.0, 1.0, 0.5, 0.5))
    assert got["plain"] == pytest.approx((2.0, 1.0, 1.0, 1.0))


def test_plain_f32_decodes_the_pixels_kerasimg_gives(tmp_path):
    bench = benchmark_scripts.load("rounds")
    folder = bench.pipeline.make_format_corpus(tmp_path, "png", 6)
    made = bench.contenders(folder, "png")
    assert list(made) == ["kerasimg", "plain", "plain-f32"]

    def images(ds) -> list[np.ndarray]:  # in an order that does not depend on the shuffle
        batches = [b[0] if isinstance(b, tuple) else b for b in ds]
        every = np.concatenate([np.asarray(b) for b in batches])
        return sorted(every, key=lambda image: image.tobytes())

    ours, f32, plain = (images(made[name]()) for name in ("kerasimg", "plain-f32", "plain"))
    assert len(ours) == len(f32) == 6
    assert all(np.array_equal(a, b) for a, b in zip(ours, f32, strict=True))
    # the plain pipeline truncates where kerasimg rounds: not the same pixels
    assert not all(np.array_equal(a, b) for a, b in zip(plain, ours, strict=True))


@pytest.mark.nightly  # imports TensorFlow in a child and runs 2 rounds (~30 s)
def test_tiny_run_prints_every_round_and_contender(tmp_path):
    done = benchmark_scripts.run(
        "rounds", "--format", "png", "--rounds", "2", "--n", "6", "--dir", str(tmp_path),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = re.findall(r"^  round +(\d+) [\d:]+  kerasimg ([\d.]+)  plain ([\d.]+)  plain-f32 ([\d.]+)$", done.stdout, re.M)
    assert [r[0] for r in rounds] == ["1", "2"] and all(float(v) > 0 for r in rounds for v in r[1:])
    rows = re.findall(r"^  (\S+) +([\d.]+) ms +([\d.]+)x +([\d.]+)x +([\d.]+)x$", done.stdout, re.M)
    assert [r[0] for r in rows] == ["kerasimg", "plain", "plain-f32"]
    assert all(float(low) <= float(tenth) <= float(median) for _, _, median, tenth, low in rows)


def test_unknown_format_is_refused_by_name(tmp_path):
    done = benchmark_scripts.run("rounds", "--format", "tiff", "--dir", str(tmp_path))
    assert done.returncode == 2 and "--format" in done.stderr and "'tiff'" in done.stderr
