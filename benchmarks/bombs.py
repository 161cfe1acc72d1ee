"""Time and memory of each resource bomb, refused in the adapter and in ``serving_bytes``.

The four bombs of issue 9:

* ``gif-frame``: a 27-byte-screen GIF (1x1) whose one frame says 6000x6000 (giflib would
  allocate the frame whatever the screen says);
* ``jpeg-scans``: a 4000x4000 progressive JPEG of 249 KB whose last scan is repeated 5,000
  times (every scan walks every coefficient of the image: 42 s of CPU in libjpeg);
* ``fifo``: a FIFO named ``x.jpg`` in the folder (a read would block forever);
* ``dev-zero``: a symlink named ``x.jpg`` to ``/dev/zero`` (a read never ends, memory grows).

Two controls, a truncated GIF and a truncated JPEG in the same folder, give what any skipped
file of that format costs the first time (building the dataset's graph of two formats, and
tracing ``why_bad``'s functions once per process): the bomb's own cost is the difference.
Each case runs in a fresh process, after a warm-up on one good image, so the figures are the
bomb's own: wall seconds from the call to the verdict, and growth of the peak resident memory
(``ru_maxrss``) during it. In the adapter, ``next epoch`` is the seconds of a second epoch over
the same dataset (the file skipped again: what every later epoch pays for it).
``serving_bytes`` takes bytes, so only the two byte bombs apply there.

Run: ``python benchmarks/bombs.py`` (about a minute). Targets (issue 9): under 1 s and under
64 MiB of growth each, refused or skipped with a reason.
"""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def gif_frame_bomb(side: int = 6000) -> bytes:
    """A GIF whose logical screen is 1x1 and whose one frame says ``side x side``."""
    header = b"GIF89a" + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, side, side, 0) + b"\x02"
    return header + frame + b"\x02\x4c\x01\x00" + b"\x3b"


def gif_block_bomb(blocks: int = 65000) -> bytes:
    """A 10x10 GIF with ``blocks`` one-byte comment extensions before its frame (325 KB for
    65,000): each block is a step of any walk over the file's blocks."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((10, 10, 3), 90, np.uint8)).save(buffer, "GIF")
    data = buffer.getvalue()
    start = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)  # after the colour table
    return data[:start] + b"\x21\xfe\x01x\x00" * blocks + data[start:]


def jpeg_scan_bomb(scans: int = 5000) -> bytes:
    """A small progressive JPEG of 4000x4000 pixels whose last scan (31 bytes) is repeated
    ``scans`` times: 5,000 scans make 249 KB, and every scan walks every coefficient of the image
    (the issue's bomb: 42 s of CPU in libjpeg; what libjpeg-turbo's scan limit guards against)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.zeros((4000, 4000, 3), np.uint8)).save(buffer, "JPEG", progressive=True, quality=90)
    data = buffer.getvalue()
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * scans + b"\xff\xd9"


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _good_png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def run_adapter(case: str, folder: Path) -> dict:
    """One epoch of ``from_directory`` over a folder holding a good PNG and the bomb."""
    import warnings

    import kerasimg.data

    (folder / "a").mkdir(parents=True)
    (folder / "a" / "good.png").write_bytes(_good_png())
    warm = kerasimg.data.from_directory(folder, image_size=(32, 32), batch_size=4, seed=0)
    for _ in warm:
        pass
    bomb = folder / "a" / ("x.gif" if "gif" in case else "x.jpg")
    if case == "gif-frame":
        bomb.write_bytes(gif_frame_bomb())
    elif case == "gif-blocks":
        bomb.write_bytes(gif_block_bomb())
    elif case == "jpeg-scans":
        bomb.write_bytes(jpeg_scan_bomb())
    elif case == "control-gif":  # a harmless bad file of the same format: the skip's own cost
        bomb.write_bytes(gif_frame_bomb()[:20])
    elif case == "control-jpeg":
        bomb.write_bytes(jpeg_scan_bomb(2)[:600])
    elif case == "fifo":
        os.mkfifo(bomb)
    else:
        os.symlink("/dev/zero", bomb)
    def epoch(ds: Any) -> int:  # images of one epoch, the skip warnings silenced
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return sum(int(batch[0].shape[0]) for batch in ds)

    before, start = _peak_mib(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = kerasimg.data.from_directory(folder, image_size=(32, 32), batch_size=4, seed=0)
    images = epoch(ds)
    seconds = time.perf_counter() - start
    mib = _peak_mib() - before
    reasons = [reason for path, reason in ds.skipped if Path(path).name == bomb.name]
    start = time.perf_counter()  # a later epoch: the file is skipped again, explained once
    epoch(ds)
    return {"seconds": seconds, "mib": mib, "images": images, "next": time.perf_counter() - start,
            "reason": reasons[0] if reasons else "NOT SKIPPED"}  # fmt: skip


def run_serving(case: str, folder: Path) -> dict:
    """``serving_bytes`` of an exported two-layer model on the bomb's bytes."""
    import keras
    import tensorflow as tf

    import kerasimg
    from kerasimg.data import ImageDecoder

    model = keras.Sequential([keras.Input((32, 32, 3), dtype="uint8"), keras.layers.Rescaling(1 / 255),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])  # fmt: skip
    kerasimg.export(model, folder / "export", decoder=ImageDecoder(image_size=(32, 32)))
    serve = tf.saved_model.load(str(folder / "export")).signatures["serving_bytes"]
    serve(image_bytes=tf.constant([_good_png()]))
    data = {"gif-frame": gif_frame_bomb, "gif-blocks": gif_block_bomb}.get(case, jpeg_scan_bomb)()
    before, start = _peak_mib(), time.perf_counter()
    try:
        serve(image_bytes=tf.constant([data]))
        reason = "NOT REFUSED"
    except tf.errors.InvalidArgumentError as err:
        reason = next((line for line in err.message.splitlines() if "kerasimg:" in line), err.message)
        reason = reason[reason.index("kerasimg:"):] if "kerasimg:" in reason else reason
    return {"seconds": time.perf_counter() - start, "mib": _peak_mib() - before, "reason": reason[:120].rstrip("]")}


def main() -> None:
    if len(sys.argv) == 3:  # child: one case
        where, case = sys.argv[1], sys.argv[2]
        with tempfile.TemporaryDirectory() as tmp:
            run = run_adapter if where == "adapter" else run_serving
            print(json.dumps(run(case, Path(tmp))))
        return
    cases = [("adapter", c) for c in ("gif-frame", "gif-blocks", "control-gif", "jpeg-scans", "control-jpeg", "fifo", "dev-zero")]
    cases += [("serving", c) for c in ("gif-frame", "gif-blocks", "jpeg-scans")]
    print("| where | bomb | seconds | peak memory growth | reason | next epoch |")
    print("|---|---|---:|---:|---|---:|")
    for where, case in cases:
        out = subprocess.run([sys.executable, __file__, where, case], capture_output=True, text=True, timeout=300)
        lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
        if not lines:
            print(f"| {where} | {case} | failed | | {out.stderr.strip().splitlines()[-1:]} | |")
            continue
        result = json.loads(lines[-1])
        later = f"{result['next']:.2f}" if "next" in result else ""
        print(f"| {where} | {case} | {result['seconds']:.2f} | {result['mib']:.0f} MiB | {result['reason']} | {later} |")


if __name__ == "__main__":
    main()
