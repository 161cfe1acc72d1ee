"""Hypothesis strategies and the layer contract table shared by the tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kerasimg import layers

#: (name, class, kwargs) of every layer: drives the cross-cutting contract tests.
CONTRACT = [
    ("resize", layers.Resize, {"height": 5, "width": 7}),
    ("normalize", layers.Normalize, {"mean": [1.0, 2.0, 3.0], "std": [2.0, 4.0, 8.0]}),
    ("flip", layers.RandomFlip, {"mode": "horizontal_and_vertical", "seed": 3}),
    ("brightness", layers.RandomBrightness, {"factor": 0.3, "seed": 4}),
    ("contrast", layers.RandomContrast, {"factor": 0.4, "seed": 5}),
    ("center_crop", layers.CenterCrop, {"height": 5, "width": 7}),
    ("random_crop", layers.RandomCrop, {"height": 4, "width": 5, "seed": 6}),
    ("random_resized_crop", layers.RandomResizedCrop, {"height": 5, "width": 7, "seed": 7}),
]
#: layers whose output has their own size (not the input's): no identity at inference
CROPS = ("center_crop", "random_crop", "random_resized_crop")
RANDOM_CONTRACT = [row for row in CONTRACT if row[1].random]
SHAPE_KEEPING = [row for row in RANDOM_CONTRACT if row[0] not in CROPS]
CONTRACT_IDS = [row[0] for row in CONTRACT]
RANDOM_IDS = [row[0] for row in RANDOM_CONTRACT]

INT_DTYPES = ["uint8", "int8", "uint16", "int16", "int32"]
FLOAT_DTYPES = ["float16", "float32", "float64"]
DTYPES = INT_DTYPES + FLOAT_DTYPES


def _elements(dtype: str, low: float, high: float) -> st.SearchStrategy:
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return st.integers(max(info.min, int(low)), min(info.max, int(high)))
    info = np.finfo(dtype)
    low, high = max(float(info.min), low), min(float(info.max), high)
    return st.floats(
        low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False,
        width=np.dtype(dtype).itemsize * 8,
    ).map(lambda v: 0.0 if abs(v) < 1e-30 else v)  # float32 compute flushes subnormals to zero


@st.composite
def images(
    draw: st.DrawFn,
    dtypes: list[str] = DTYPES,
    channels: tuple[int, ...] = (1, 3, 4),
    max_side: int = 12,
    max_batch: int = 4,
    low: float = 0,
    high: float = 255,
    rank: int | None = None,
    data_format: str = "channels_last",
) -> np.ndarray:
    """An image ``[H, W, C]`` or batch ``[B, H, W, C]`` (or channels first) of a random dtype.

    Values lie in ``[low, high]`` intersected with the dtype's range; some examples
    are constant images (a single repeated value).
    """
    dtype = draw(st.sampled_from(dtypes))
    rank = rank or draw(st.sampled_from([3, 4]))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    c = draw(st.sampled_from(channels))
    shape = (h, w, c) if data_format == "channels_last" else (c, h, w)
    if rank == 4:
        shape = (draw(st.integers(1, max_batch)), *shape)
    elements = _elements(dtype, low, high)
    if draw(st.booleans()) and draw(st.booleans()):
        return np.full(shape, draw(elements), dtype=dtype)
    return draw(hnp.arrays(dtype, shape, elements=elements))


def value_ranges() -> st.SearchStrategy:
    """``(low, high)`` pairs with low < high: (0, 255), (0, 1), (-1, 1) or random."""
    fixed = st.sampled_from([(0.0, 255.0), (0.0, 1.0), (-1.0, 1.0)])
    # No subnormal bounds: TensorFlow's thread pools flush float32 subnormals to zero, the
    # calling thread does not, so a bound of 1e-45 held or not depending on the thread an op
    # ran on (a flaky failure, x=0 clipped to [1.4e-45, 1] gave 0.0 in a full run).
    low = st.floats(-1000, 1000, allow_subnormal=False, width=32)
    free = st.tuples(low, st.floats(0.5, 1000)).map(lambda t: (t[0], t[0] + t[1]))
    return st.one_of(fixed, free)


def factors(signed_pair: bool) -> st.SearchStrategy:
    """A factor in [0, 1] or a pair: (lo <= hi in [-1, 1]) for brightness, in [0, 1] for contrast."""
    single = st.floats(0.0, 1.0)
    if signed_pair:
        pair = st.tuples(st.floats(-1.0, 1.0), st.floats(-1.0, 1.0)).map(lambda t: tuple(sorted(t)))
    else:
        pair = st.tuples(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
    return st.one_of(single, pair)


seeds = st.integers(0, 2**31 - 1)


def xla(fn):
    """``fn`` compiled with XLA by the active backend (tf.function(jit_compile=True) or jax.jit)."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(fn, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(fn)
    return fn


def np_crop_resize(x, box, size, interpolation="bilinear"):
    """NumPy reference of the crop layers: cut each image's box, resize it half-pixel (float64).

    ``x`` is ``[B, H, W, C]``; ``box`` maps top/left/box_height/box_width to ``[B]`` ints.
    """
    out = []
    for i, image in enumerate(np.asarray(x, "float64")):
        top, left, bh, bw = (int(np.asarray(box[k]).reshape(-1)[i]) for k in ("top", "left", "box_height", "box_width"))
        crop = image[top : top + bh, left : left + bw]
        for axis, n_out in ((0, size[0]), (1, size[1])):
            n_in = crop.shape[axis]
            odd = np.arange(1, 2 * n_out, 2)  # half-pixel centres (2i + 1) / 2, exactly
            if interpolation == "nearest":
                crop = np.take(crop, np.minimum(odd * n_in // (2 * n_out), n_in - 1), axis=axis)
                continue
            src = (odd * n_in - n_out) / (2 * n_out)
            floor = np.floor(src)
            low = np.take(crop, np.maximum(floor, 0).astype(int), axis=axis)
            high = np.take(crop, np.minimum(np.ceil(src), n_in - 1).astype(int), axis=axis)
            shape = [1, 1, 1]
            shape[axis] = n_out
            crop = low + (high - low) * (src - floor).reshape(shape)
        out.append(crop)
    return np.stack(out)
