"""Round by round, in one process: CPU time per image of ``from_directory`` beside the plain
tf.data pipeline for one format, and the plain pipeline with kerasimg's float32 resize.

``benchmarks/pipeline.py`` gives each contender's best epoch and the median of the rounds'
ratios. This script shows the rounds themselves, which is how the development machine's spells
were told apart from a cost of kerasimg's: an epoch of any pipeline can take 20-40 % more CPU
time in a spell of seconds to minutes, and a ratio over one round then says more about the spell
than about the code. Each round times one epoch of every contender (a new iterator each, the
order balanced by ``pipeline.in_order``), and prints their CPU ms per image (this process, all
threads). At the end, per contender: the median CPU ms per image, and the per-round ratio
plain / contender (above 1: the contender took less CPU than plain in that round): its median,
its 10th percentile and its minimum.

Contenders (``benchmarks/pipeline.py``'s ``format_contenders``, plus one):

* ``kerasimg``: ``kerasimg.data.from_directory``;
* ``plain``: list, read, ``decode_<format>``, ``tf.image.resize`` on the uint8 image, cast;
* ``plain-f32``: the same, resizing as kerasimg does (the pixels cast to float32 first, then
  rounded): what the guard and the adapter add to kerasimg's pixel path is kerasimg against
  this one.

Run: ``python benchmarks/rounds.py --format webp --rounds 50`` (about 3 minutes on 2 cores,
after the corpus of ``benchmarks/pipeline.py`` is made or reused in ``--dir``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pipeline  # noqa: E402


def contenders(folder: Path, fmt: str) -> dict:
    """``kerasimg`` and ``plain`` of ``pipeline.format_contenders``, and ``plain-f32``."""
    made = pipeline.format_contenders(folder, fmt)
    return {"kerasimg": made["kerasimg"], "plain": made["plain"],
            "plain-f32": lambda: pipeline.plain_pipeline(folder, fmt, float_resize=True)}  # fmt: skip


def summary(rounds: list[dict[str, float]]) -> dict[str, tuple[float, float, float, float]]:
    """Per contender: (median CPU ms per image, and the median, 10th percentile and minimum of
    the per-round ratio plain / contender), from each round's CPU ms per image."""
    out = {}
    for name in rounds[0]:
        ratios = sorted(r["plain"] / r[name] for r in rounds)
        tenth = ratios[int(0.1 * (len(ratios) - 1))]
        out[name] = (statistics.median(r[name] for r in rounds), statistics.median(ratios), tenth, ratios[0])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", default="webp", help="one of pipeline.py's formats (default webp)")
    parser.add_argument("--rounds", type=int, default=50, help="rounds (default 50)")
    parser.add_argument("--n", type=int, default=600, help="files of the corpus (default 600)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "kerasimg-bench")
    args = parser.parse_args()
    if args.format not in pipeline.PLAIN_DECODERS:
        parser.error(f"--format: one of {', '.join(pipeline.PLAIN_DECODERS)}; received {args.format!r}")
    folder = pipeline.make_format_corpus(args.dir, args.format, args.n)
    datasets = {name: make() for name, make in contenders(folder, args.format).items()}
    images = {name: pipeline.count_images(ds) for name, ds in datasets.items()}  # warm-up epoch
    print(f"format {args.format}: {args.n} files ({folder}); CPU ms per image, round by round")
    rounds = []
    for r in range(args.rounds):
        got = {}
        for name in pipeline.in_order(datasets, r):
            got[name] = 1000 * pipeline.time_epoch(datasets[name])[1] / images[name]
        rounds.append({name: got[name] for name in datasets})
        print(f"  round {r + 1:3d} {time.strftime('%H:%M:%S')}  " + "  ".join(f"{k} {v:.3f}" for k, v in rounds[-1].items()))
    print(f"over {len(rounds)} rounds: median CPU ms per image; per-round plain / contender: median, 10th percentile, min")
    for name, (cpu, median, tenth, low) in summary(rounds).items():
        print(f"  {name:10s} {cpu:6.3f} ms  {median:5.3f}x  {tenth:5.3f}x  {low:5.3f}x")


if __name__ == "__main__":
    main()
