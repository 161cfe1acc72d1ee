"""What kerasimg's decode graph costs per file beside TF's own decoder, with no file reads and
no pipeline around it: CPU microseconds per file in a parallel tf.data map over the files'
bytes held in memory.

``benchmarks/pipeline.py`` times whole epochs, where a file read, the pipeline's structure and
the machine's spells (10-40 % for seconds to minutes) sit on top of the decode, and
``benchmarks/instructions.py`` counts instructions, which miss memory traffic. This one times
only the per-file graph, in the conditions of the adapter's map (two parallel calls), so a
cost of a few percent of a decode shows. Contenders, each a map over the same cached bytes:

* ``bytes``: the string's length alone, the harness's own cost per element;
* ``plain``: ``tf.io.decode_<format>`` and ``tf.image.resize`` (plain tf.data's decode,
  ``pipeline.plain_decode``), traced as a user's map is (Grappler runs at each new iterator);
* ``kerasimg``: ``ImageDecoder._decode(exact=False)``, the graph every image of a one-format
  folder runs in ``from_directory``: the lean guard, the decoder, the float resize, rounding;
  traced as the adapter traces its maps (``single_device_dataset_functions``: instantiated
  without Grappler, which would add ~60 ms to every pass of the GIF graph).

Each round maps every file once per contender, in ``pipeline.in_order``'s balanced order, each
pass with a new iterator as an epoch has (the graph's instantiation included, spread over the
files: too few files and it dominates); the
figures are medians over the rounds of CPU us per file (this process, all threads), and the
median of the per-round difference kerasimg - plain: what kerasimg's graph adds to a decode.

Run: ``python benchmarks/guard.py`` (about 3 minutes on 2 cores; ``--formats gif,gif89``).
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
    """``bytes``, ``plain`` and ``kerasimg``: maps over the bytes of ``folder``'s files."""
    import tensorflow as tf

    import kerasimg.data
    from kerasimg._compat import single_device_dataset_functions

    suffix = pipeline.SUFFIXES.get(fmt, fmt)  # also the ImageDecoder format of the corpus
    files = sorted(folder.glob(f"*/*.{suffix}"))
    data = tf.data.Dataset.from_tensor_slices(tf.constant([f.read_bytes() for f in files])).cache()
    decoder = kerasimg.data.ImageDecoder(image_size=pipeline.SIZE, formats=(suffix,))
    nc = tf.autograph.experimental.do_not_convert

    def mapped(fn):
        return data.map(nc(fn), num_parallel_calls=2).batch(pipeline.BATCH)

    made = {"bytes": mapped(lambda c: tf.strings.length(c)), "plain": mapped(lambda c: pipeline.plain_decode(c, fmt))}
    with single_device_dataset_functions():  # as the adapter traces its maps
        made["kerasimg"] = mapped(lambda c: decoder._decode(c, exact=False))
    return made


def cpu_us_per_file(ds, files: int) -> float:
    """One pass over ``ds``: CPU microseconds of this process per file."""
    start = time.process_time()
    for _ in ds:
        pass
    return 1e6 * (time.process_time() - start) / files


def summary(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Medians over the rounds: each contender's CPU us per file, and ``added``, the per-round
    difference kerasimg - plain."""
    out = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    out["added"] = statistics.median(r["kerasimg"] - r["plain"] for r in rounds)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", default="png,webp,gif,gif89,gifnote,bmp,digits",
                        help="comma list of pipeline.py's formats (default: every one-frame corpus)")  # fmt: skip
    parser.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    parser.add_argument("--n", type=int, default=300, help="files per format (default 300)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "kerasimg-bench")
    args = parser.parse_args()
    formats = [f for f in args.formats.split(",") if f]
    unknown = [f for f in formats if f not in pipeline.PLAIN_DECODERS]
    if unknown:
        parser.error(f"--formats: each one of {', '.join(pipeline.PLAIN_DECODERS)}; received {unknown[0]!r}")
    print(f"CPU us per file in a tf.data map over the bytes in memory ({args.n} files, median of {args.rounds} rounds)")
    print(f"  {'format':8s} {'bytes':>7s} {'plain':>8s} {'kerasimg':>9s} {'added':>7s}  kerasimg / plain")
    for fmt in formats:
        folder = pipeline.make_format_corpus(args.dir, fmt, args.n)
        datasets = contenders(folder, fmt)
        files = sum(int(b.shape[0]) for b in datasets["bytes"])  # also the warm-up of the cache
        for ds in datasets.values():  # warm-up: traces, instantiates
            cpu_us_per_file(ds, files)
        rounds = [{name: cpu_us_per_file(datasets[name], files) for name in pipeline.in_order(datasets, r)}
                  for r in range(args.rounds)]  # fmt: skip
        got = summary(rounds)
        print(f"  {fmt:8s} {got['bytes']:7.1f} {got['plain']:8.1f} {got['kerasimg']:9.1f} {got['added']:+7.1f}  "
              f"{got['kerasimg'] / got['plain']:.3f}x", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
