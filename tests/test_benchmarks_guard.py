"""benchmarks/guard.py: the summary's medians, the contenders' pixels, and an unknown format
refused by name. No timing is asserted: the figures depend on the machine."""

from __future__ import annotations

import benchmark_scripts
import numpy as np
import pytest


def test_summary_gives_each_contenders_median_and_the_median_difference():
    bench = benchmark_scripts.load("guard")
    rounds = [{"bytes": 1.0, "plain": p, "kerasimg": k} for p, k in ((10, 11), (10, 30), (20, 21), (12, 14), (10, 13))]
    got = bench.summary(rounds)
    # differences 1, 20, 1, 2, 3 -> median 2 (not the difference of the medians, 14 - 10 = 4)
    assert got == pytest.approx({"bytes": 1.0, "plain": 10.0, "kerasimg": 14.0, "added": 2.0})


@pytest.mark.parametrize("fmt", ["gif89", "bmp"])
def test_contenders_map_the_same_files_to_images(tmp_path, fmt):
    bench = benchmark_scripts.load("guard")
    folder = bench.pipeline.make_format_corpus(tmp_path, fmt, 3)
    made = bench.contenders(folder, fmt)
    assert list(made) == ["bytes", "plain", "kerasimg"]
    lengths = np.concatenate([b.numpy() for b in made["bytes"]])
    assert sorted(lengths) == sorted(f.stat().st_size for f in folder.glob("*/*"))
    plain, ours = (np.concatenate([b.numpy() for b in made[name]]) for name in ("plain", "kerasimg"))
    assert plain.shape == ours.shape == (3, *bench.pipeline.SIZE, 3)
    # plain truncates where kerasimg rounds: within one level of each other
    assert np.abs(plain.astype(int) - ours.astype(int)).max() <= 1
    assert bench.cpu_us_per_file(made["bytes"], 3) > 0


def test_unknown_format_is_refused_by_name(tmp_path):
    done = benchmark_scripts.run("guard", "--formats", "png,tiff", "--dir", str(tmp_path))
    assert done.returncode == 2 and "--formats" in done.stderr and "'tiff'" in done.stderr
