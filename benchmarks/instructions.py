"""Instructions per image of ``from_directory`` and of the plain tf.data pipeline, per format,
counted by valgrind's callgrind: a measure that does not move with the machine's spells.

On a shared 2-core machine a wall-clock ratio moves by ±0.1 from run to run, and the same
pipeline timed twice in one run (``benchmarks/pipeline.py``'s A/A control) can read 0.90x
itself: a 5% difference cannot be told from the noise in one run. An instruction count can:
the same binary on the same input executes the same instructions, whatever else the machine
is doing. It is not a time (a copy and an LZW decode of the same count differ, thread wake-ups
and kernel time are not counted), so it complements the timed benchmark; it does not replace it.

For each format and each contender (``benchmarks/pipeline.py``'s ``format_contenders``), a
child process runs under callgrind twice, with ``A`` and ``B`` epochs after a warm-up epoch
over the same ``--n`` files; the difference of the two totals over ``(B - A) * n`` is the
instructions per image of an epoch (import, tracing and the warm-up cancel out; the per-epoch
costs, such as instantiating the functions for a new iterator, are included, spread over ``n``
images). A contender's two runs go side by side (one process per core).

Run: ``python benchmarks/instructions.py`` (``--formats gif,gif89,png``: about 10 minutes per
format on 2 cores; valgrind runs the programs ~50x slower, and importing TensorFlow under it
takes ~3 minutes). Needs ``valgrind`` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
EPOCHS = (2, 6)  # the two runs' epochs after the warm-up: 4 epochs apart


def count_instructions(log: str) -> int:
    """The total of callgrind's summary line (``==PID== I   refs:      30,156,428,569``)."""
    found = re.findall(r"^==\d+== I\s+refs:\s+([\d,]+)\s*$", log, re.M)
    if not found:
        raise ValueError(f"no 'I refs' line in callgrind's output: {log[-500:]!r}")
    return int(found[-1].replace(",", ""))


def per_image(low: int, high: int, epochs: tuple[int, int], images: int) -> float:
    """Instructions per image from two totals ``epochs`` apart over ``images`` files."""
    return (high - low) / ((epochs[1] - epochs[0]) * images)


def _pipeline():
    """``benchmarks/pipeline.py``, whose corpora and contenders are counted here."""
    sys.path.insert(0, str(HERE))
    import pipeline

    return pipeline


def child(folder: Path, fmt: str, who: str, epochs: int) -> int:
    """A warm-up epoch, then ``epochs`` more, of one contender; returns the images per epoch."""
    pipeline = _pipeline()
    ds = pipeline.format_contenders(folder, fmt)[who]()
    images = pipeline.count_images(ds)
    for _ in range(epochs):
        got = pipeline.count_images(ds)
        if got != images:
            raise RuntimeError(f"{who} on {folder}: {got} images in an epoch, {images} in the first")
    return images


def under_callgrind(folder: Path, fmt: str, who: str, epochs: int, out: Path) -> int:
    """The instructions of one child process (``epochs`` epochs after the warm-up)."""
    command = [
        "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
        sys.executable, str(Path(__file__).resolve()), "--child", str(folder), fmt, who, str(epochs),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{who} on {fmt}, {epochs} epochs: exit {done.returncode}: {done.stderr[-2000:]}")
    return count_instructions(done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--formats", default="gif,gif89,png", help="comma list (benchmarks/pipeline.py's formats)")
    parser.add_argument("--n", type=int, default=128, help="files per format (default 128)")
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "kerasimg-instructions")
    parser.add_argument("--child", nargs=4, metavar=("FOLDER", "FORMAT", "WHO", "EPOCHS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        folder, fmt, who, epochs = args.child
        print("images", child(Path(folder), fmt, who, int(epochs)))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on the PATH (Debian: apt-get install valgrind)")
    pipeline = _pipeline()
    print(f"instructions per image (callgrind), {args.n} files per format, epochs {EPOCHS[0]} and {EPOCHS[1]} "
          "after a warm-up; 224x224, batch 64")  # fmt: skip
    print(f"  {'format':8s} {'kerasimg':>12s} {'plain':>12s}  kerasimg / plain")
    for fmt in filter(None, args.formats.split(",")):
        folder = pipeline.make_format_corpus(args.dir, fmt, args.n)
        counts = {}
        with ThreadPoolExecutor(2) as pool:  # one process per core: a contender's two runs side by side
            for who in ("kerasimg", "plain"):
                runs = [pool.submit(under_callgrind, folder, fmt, who, e, args.dir / f"{fmt}-{who}-{e}.cg")
                        for e in EPOCHS]  # fmt: skip
                counts[who] = per_image(runs[0].result(), runs[1].result(), EPOCHS, args.n)
        ours, plain = counts["kerasimg"], counts["plain"]
        print(f"  {fmt:8s} {ours / 1e6:10.3f} M {plain / 1e6:10.3f} M  {ours / plain:6.3f}x "
              f"({(ours - plain) / 1e3:+.0f} k instructions per image)", flush=True)


if __name__ == "__main__":
    main()
