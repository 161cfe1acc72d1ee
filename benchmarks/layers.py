"""Throughput of one augmentation stack built from kerasimg, keras.layers and keras_cv layers.

The stack (the same for every implementation): random horizontal flip, random brightness
(factor 0.2), random contrast (factor 0.2), all in training mode, then a bilinear resize from
256x256 to 224x224 and a per-channel normalization. Timed on a batch of 64 (``--batch``), from
uint8 and from float32 input, under the backend ``KERAS_BACKEND`` selects:

* TensorFlow: as a plain ``tf.function`` and under XLA (``tf.function(jit_compile=True)``);
* JAX: under ``jax.jit`` (``model.stateless_call``: each call draws new random parameters),
  on whatever device JAX finds.

Beside them, the **one-pass limit**: one read of the input batch and one float32 write
(``float32(x) * 2``, a uint8 -> float32 cast for uint8 input), the fastest any stack that reads
its input could go. On a GPU (or with ``--bandwidth-gbs``) a row also gives the
memory-bandwidth limit: the bytes one image needs (uint8 or float32 in, float32 out) divided
by the device's peak bandwidth, from a table of known devices.

Every figure is the median of ``--repeats`` timed calls after warm-up, all in one process;
the calls are interleaved (each round runs every configuration once, in a shuffled order),
so a load that comes and goes on a shared machine hits every row alike and the *ratios*
stay meaningful even when the absolute figures move.

``--without-resize`` times flip, brightness and contrast alone on 224x224 input (the stack
minus resize and normalize).

Run: ``python benchmarks/layers.py`` (under a minute on 2 cores), or
``KERAS_BACKEND=jax python benchmarks/layers.py``; ``--quick`` is a tiny smoke run (CI).
keras_cv is optional (``pip install keras-cv``); without it its rows say "skipped".
Under JAX the script needs no TensorFlow (keras_cv, which does, is then skipped):
``benchmarks/gpu.sh`` runs it on a GPU machine that has JAX with CUDA and no TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import keras  # noqa: E402
import numpy as np  # noqa: E402

MEAN = (123.7, 116.3, 103.5)
STD = (58.4, 57.1, 57.4)
IMPLEMENTATIONS = ("kerasimg", "keras.layers", "keras_cv", "one-pass limit")
DTYPES = ("uint8", "float32")

#: Peak memory bandwidth in GB/s by device name (first match wins, most specific first).
GPU_BANDWIDTH_GBS = (
    ("H200", 4800.0),
    ("H100 PCIe", 2000.0),
    ("H100 NVL", 3900.0),
    ("H100", 3350.0),  # SXM5, "NVIDIA H100 80GB HBM3"
    ("GH200", 4000.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB", 2000.0),
    ("A100", 1555.0),  # 40 GB
    ("L40S", 864.0),
    ("L4", 300.0),
    ("A10G", 600.0),
    ("A10", 600.0),
    ("V100", 900.0),
    ("T4", 320.0),
    ("RTX 4090", 1008.0),
    ("RTX 3090", 936.0),
)


@dataclass
class Config:
    """One row of the table: an implementation, a mode and an input dtype."""

    impl: str
    mode: str
    dtype: str
    run: Callable[[], Any] | None = None
    skipped: str = ""
    times: list[float] = field(default_factory=list)


# ----------------------------------------------------------------------------- stacks
def _stack(impl: str, size: int) -> list:
    """The layers of ``impl``'s stack (flip, brightness, contrast, resize, normalize)."""
    if impl == "kerasimg":
        from kerasimg import layers

        return [
            layers.RandomFlip("horizontal", seed=1),
            layers.RandomBrightness(0.2, seed=2),
            layers.RandomContrast(0.2, seed=3),
            layers.Resize(size, size),
            layers.Normalize(mean=list(MEAN), std=list(STD)),
        ]
    variance = [s * s for s in STD]
    if impl == "keras.layers":
        return [
            keras.layers.RandomFlip("horizontal", seed=1),
            keras.layers.RandomBrightness(0.2, value_range=(0, 255), seed=2),
            keras.layers.RandomContrast(0.2, value_range=(0, 255), seed=3),
            keras.layers.Resizing(size, size),
            keras.layers.Normalization(mean=list(MEAN), variance=variance),
        ]
    if impl == "keras_cv":
        import keras_cv

        return [
            keras_cv.layers.RandomFlip("horizontal", seed=1),
            keras_cv.layers.RandomBrightness(0.2, value_range=(0, 255), seed=2),
            keras_cv.layers.RandomContrast(value_range=(0, 255), factor=0.2, seed=3),
            keras_cv.layers.Resizing(size, size),
            keras.layers.Normalization(mean=list(MEAN), variance=variance),  # keras_cv has none
        ]
    raise ValueError(f"unknown implementation {impl!r}")


def _model(impl: str, sample: np.ndarray, size: int, resize: bool = True) -> keras.Sequential:
    """A Sequential of ``impl``'s stack on an ``Input`` of the sample's shape and dtype.

    ``resize=False``: flip, brightness and contrast alone (``--without-resize``).

    kerasimg takes the batch as it is (an ``Input`` without a dtype would cast uint8 to
    float32 at the model's door). keras.layers and keras_cv get float32: Keras'
    ``RandomBrightness`` adds in uint8 under TensorFlow and wraps around, so a correct
    uint8 pipeline casts first (the cast is timed).
    """
    dtype = str(sample.dtype) if impl == "kerasimg" else "float32"
    layers = _stack(impl, size) if resize else _stack(impl, size)[:3]
    model = keras.Sequential([keras.Input(sample.shape[1:], dtype=dtype), *layers])
    model(sample[:1].astype(dtype), training=True)
    return model


def _one_pass(x: Any) -> Any:
    return keras.ops.cast(x, "float32") * 2.0


# ----------------------------------------------------------------------------- runners
def _tf_runner(impl: str, jit: bool, data: Any, sample: np.ndarray, size: int, resize: bool = True) -> Callable:
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # one tf.function per row is not retracing

    if impl == "one-pass limit":
        fn = _one_pass
    else:
        model = _model(impl, sample, size, resize)
        cast = impl != "kerasimg"

        def fn(x):
            return model(tf.cast(x, tf.float32) if cast else x, training=True)

    compiled = tf.function(fn, jit_compile=jit)
    return lambda: compiled(data)  # CPU execution is synchronous: the call is the work


def _jax_runner(impl: str, data: Any, sample: np.ndarray, size: int, resize: bool = True) -> Callable:
    import jax

    if impl == "one-pass limit":
        compiled = jax.jit(_one_pass)
        return lambda: compiled(data).block_until_ready()
    model = _model(impl, sample, size, resize)
    cast = impl != "kerasimg"
    trainable = [v.value for v in model.trainable_variables]
    state = {"vars": [v.value for v in model.non_trainable_variables]}

    @jax.jit
    def step(non_trainable, x):
        if cast:
            x = x.astype("float32")
        return model.stateless_call(trainable, non_trainable, x, training=True)

    def run():
        y, state["vars"] = step(state["vars"], data)
        return y.block_until_ready()

    return run


def build(batch: int, in_size: int, out_size: int, resize: bool = True) -> list[Config]:
    """Every configuration of this backend, built and warmed up (compiled).

    ``resize=False`` times flip, brightness and contrast alone (``out_size`` unused).
    """
    backend = keras.backend.backend()
    if backend not in ("tensorflow", "jax"):
        raise SystemExit(f"benchmarks/layers.py runs under tensorflow or jax, not {backend!r}")
    modes = ("tf.function", "XLA") if backend == "tensorflow" else ("jax.jit",)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (batch, in_size, in_size, 3)).astype("uint8")
    configs = []
    for impl in IMPLEMENTATIONS:
        for mode in modes:
            for dtype in DTYPES:
                config = Config(impl, mode, dtype)
                configs.append(config)
                sample = images.astype(dtype)
                try:
                    data = keras.ops.convert_to_tensor(sample)
                    if backend == "tensorflow":
                        config.run = _tf_runner(impl, mode == "XLA", data, sample, out_size, resize)
                    else:
                        config.run = _jax_runner(impl, data, sample, out_size, resize)
                    for _ in range(2):
                        config.run()
                except Exception as error:  # keras_cv missing or failing under this backend
                    config.run = None
                    config.skipped = _why(error)
    return configs


def _why(error: Exception) -> str:
    """One line: the error's type and the first lines of its message, without ANSI colours."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    lines = [line.strip() for line in text.splitlines() if line.strip()][:2]
    return f"{type(error).__name__}: {' '.join(lines)}"[:200]


def measure(configs: list[Config], repeats: int, seed: int = 0) -> None:
    """Time every runnable config ``repeats`` times, interleaved in shuffled rounds."""
    order = [c for c in configs if c.run is not None]
    shuffle = random.Random(seed)
    for _ in range(repeats):
        shuffle.shuffle(order)
        for config in order:
            start = time.perf_counter()
            config.run()
            config.times.append(time.perf_counter() - start)


# ----------------------------------------------------------------------------- report
def images_per_second(config: Config, batch: int) -> float | None:
    return batch / statistics.median(config.times) if config.times else None


def table(configs: list[Config], batch: int) -> str:
    """The markdown table: images/s, ratio to keras.layers (same mode and input), to the limit.

    The limit of an input dtype is the fastest one-pass figure measured for it (any mode).
    """
    rate = {(c.impl, c.mode, c.dtype): images_per_second(c, batch) for c in configs}
    limit = {
        d: max((r for (i, _, dd), r in rate.items() if i == "one-pass limit" and dd == d and r), default=None)
        for d in DTYPES
    }
    lines = [
        "| implementation | mode | input | images/s | vs keras.layers | vs one-pass limit |",
        "|---|---|---|---:|---:|---:|",
    ]
    for c in configs:
        r = rate[(c.impl, c.mode, c.dtype)]
        if r is None:
            lines.append(f"| {c.impl} | {c.mode} | {c.dtype} | skipped | | |")
            continue
        base = rate.get(("keras.layers", c.mode, c.dtype))
        vs_keras = f"{r / base:.2f}x" if base and c.impl != "one-pass limit" else ""
        vs_limit = f"{r / limit[c.dtype]:.1%}" if limit[c.dtype] else ""
        lines.append(f"| {c.impl} | {c.mode} | {c.dtype} | {r:,.0f} | {vs_keras} | {vs_limit} |")
    return "\n".join(lines)


def bandwidth_limit(device_kind: str, bandwidth_gbs: float | None = None) -> tuple[str, float] | None:
    """``(source, GB/s)``: ``--bandwidth-gbs`` if given, else the table entry matching the name.

    Example:

    >>> bandwidth_limit("NVIDIA H100 80GB HBM3")
    ('H100', 3350.0)
    >>> bandwidth_limit("cpu", 40.0)
    ('--bandwidth-gbs', 40.0)
    """
    if bandwidth_gbs:
        return "--bandwidth-gbs", float(bandwidth_gbs)
    name = device_kind.lower()
    for key, gbs in GPU_BANDWIDTH_GBS:
        if key.lower() in name:
            return key, gbs
    return None


def bytes_per_image(in_size: int, out_size: int, dtype: str, channels: int = 3) -> int:
    """Bytes one image of the stack must move at least: its input read once, output written once."""
    return in_size * in_size * channels * np.dtype(dtype).itemsize + out_size * out_size * channels * 4


def bandwidth_rows(
    device_kind: str,
    measured: dict[str, float],
    in_size: int,
    out_size: int,
    bandwidth_gbs: float | None = None,
) -> list[str]:
    """Markdown lines comparing ``measured`` kerasimg images/s (by input dtype) to the bandwidth limit.

    Example:

    >>> rows = bandwidth_rows("NVIDIA H200", {"uint8": 1e6}, 256, 224)
    >>> rows[3].split(" | ")[:3]
    ['| kerasimg (uint8)', '1,000,000', '6,009,615']
    """
    found = bandwidth_limit(device_kind, bandwidth_gbs)
    if found is None:
        return [f"No peak bandwidth known for {device_kind!r}: pass --bandwidth-gbs."]
    source, gbs = found
    lines = [
        f"Memory-bandwidth limit on {device_kind} ({gbs:,.0f} GB/s, from {source}):",
        "| stack | images/s | limit images/s | bytes/image | vs limit |",
        "|---|---:|---:|---:|---:|",
    ]
    for dtype, rate in measured.items():
        nbytes = bytes_per_image(in_size, out_size, dtype)
        limit = gbs * 1e9 / nbytes
        lines.append(f"| kerasimg ({dtype}) | {rate:,.0f} | {limit:,.0f} | {nbytes:,} | {rate / limit:.1%} |")
    return lines


def _device() -> str:
    """``platform:kind`` of the device the stacks run on (JAX: the first device JAX finds)."""
    if keras.backend.backend() == "jax":
        import jax

        device = jax.devices()[0]
        return f"{device.platform}:{device.device_kind}"
    return f"cpu:{platform.processor() or platform.machine()}"


def report(
    configs: list[Config],
    batch: int,
    device: str,
    in_size: int,
    out_size: int,
    bandwidth_gbs: float | None = None,
) -> str:
    """Everything printed after the timings: the table, notes and, on a GPU, the bandwidth limit."""
    lines = [table(configs, batch), ""]
    for c in configs:
        if c.skipped and (c.mode, c.dtype) == (configs[0].mode, "uint8"):
            lines.append(f"note: {c.impl} skipped: {c.skipped}")
    lines.append(
        "note: keras.layers and keras_cv cast uint8 input to float32 first (timed): Keras' "
        "RandomBrightness adds in uint8 under TensorFlow and wraps around; keras_cv has no "
        "normalization layer, so its stack ends with keras.layers.Normalization."
    )
    lines.append(
        "note: one-pass limit = one read of the input batch and one float32 write; "
        "'vs one-pass limit' divides by the fastest one-pass figure for that input dtype."
    )
    platform_name, _, kind = device.partition(":")
    if platform_name == "gpu" or bandwidth_gbs:
        measured: dict[str, float] = {}
        for c in configs:  # the fastest mode of the kerasimg stack, per input dtype
            if c.impl == "kerasimg" and c.times:
                measured[c.dtype] = max(measured.get(c.dtype, 0.0), images_per_second(c, batch))
        lines += ["", *bandwidth_rows(kind, measured, in_size, out_size, bandwidth_gbs)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="images per batch (default 64)")
    parser.add_argument("--repeats", type=int, default=9, help="timed calls per row (default 9)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 repeats (CI smoke)")
    parser.add_argument("--without-resize", action="store_true",
                        help="time flip, brightness and contrast alone on 224x224 input (no resize, "
                             "no normalize)")
    parser.add_argument("--bandwidth-gbs", type=float, default=None,
                        help="peak memory bandwidth (GB/s) for the limit row, overriding the table")
    args = parser.parse_args(argv)
    for name in ("batch", "repeats"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name} must be a positive integer, got {getattr(args, name)}")
    if args.bandwidth_gbs is not None and args.bandwidth_gbs <= 0:
        parser.error(f"--bandwidth-gbs must be positive, got {args.bandwidth_gbs}")
    in_size, out_size = (24, 16) if args.quick else (256, 224)
    if args.without_resize:
        in_size = out_size
    batch, repeats = (2, 2) if args.quick else (args.batch, args.repeats)

    device = _device()
    print(f"backend={keras.backend.backend()} keras={keras.__version__} device={device} "
          f"cores={os.cpu_count()} batch={batch} input={in_size}x{in_size}x3 -> "
          f"{out_size}x{out_size}x3 repeats={repeats} "
          f"stack={'flip+brightness+contrast' if args.without_resize else 'full'}", flush=True)
    configs = build(batch, in_size, out_size, resize=not args.without_resize)
    measure(configs, repeats)
    print()
    print(report(configs, batch, device, in_size, out_size, args.bandwidth_gbs))


if __name__ == "__main__":
    main()
