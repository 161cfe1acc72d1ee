"""Fast paths shared by the layers: the same values, fewer memory passes.

Which formulation is fastest depends on who runs the ops:

* **XLA** (JAX, or TensorFlow inside ``tf.function(jit_compile=True)``) fuses elementwise
  work into one loop, so a formulation only has to avoid ops XLA lowers badly: on CPU,
  TF's ``ResizeBilinear`` and JAX's ``image.resize`` (a dense matmul) are an order of
  magnitude slower than two gathers and a lerp per axis, computed here.
* **TensorFlow without XLA** (a plain ``tf.function``, ``tf.data``, eager) runs one kernel
  per op, each a full pass over memory. Some are slow at image shapes: a select that
  broadcasts a per-image coin (``SelectV2``), any op that broadcasts a per-channel value
  over an innermost axis of 3, and a mean over ``H, W`` with 3 channels innermost. So
  flips copy only the images that flip, per-channel operands are tiled along ``W * C``,
  and means sum rows of ``k * C`` values, all of which Eigen vectorises.

Everything else (PyTorch) takes the plain ``keras.ops`` formulation. Every fast path is
checked against a NumPy reference and against the other path by
``tests/layers/test_fast_paths.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import numpy as np

from kerasimg import _compat


def under_xla(backend: Any) -> bool:
    """Whether ops built now with ``backend`` run under XLA.

    Always under JAX; under TensorFlow while tracing a ``jit_compile=True`` function
    (Keras ``compile(jit_compile=True)`` included), as told by TensorFlow's private helper
    behind :func:`kerasimg._compat.tf_graph_in_xla_context` (if it moves, this says False:
    the native path is slower under XLA, never wrong).
    """
    if backend.name == "jax":
        return True
    if backend.name != "tensorflow":
        return False
    return _compat.tf_graph_in_xla_context()


def native_tf(backend: Any) -> bool:
    """Whether ops built now run as TensorFlow kernels one by one (no XLA)."""
    return backend.name == "tensorflow" and not under_xla(backend)


def per_channel(backend: Any, op: Callable, images: Any, value: Any, data_format: str) -> Any:
    """``op(images, value)`` for ``value`` of shape ``[B or 1, 1, 1, C]`` (channels last).

    Without XLA, TensorFlow broadcasts an innermost axis of 3 element by element; the same
    values tiled to ``[B or 1, 1, W * C]`` against ``images`` seen as ``[B, H, W * C]``
    take its vectorised path (about 3x faster). Elsewhere ``op`` broadcasts as usual.
    """
    if data_format != "channels_last" or not native_tf(backend):
        return op(images, value)
    width, channels = images.shape[2], images.shape[3]
    if width is None or channels is None or channels == 1 or value.shape[-1] != channels:
        return op(images, value)
    import tensorflow as tf

    rows = tf.reshape(images, [tf.shape(images)[0], -1, width * channels])
    tiled = tf.tile(tf.reshape(value, [-1, 1, channels]), [1, 1, width])
    return tf.reshape(op(rows, tiled), tf.shape(images))


def spatial_mean(backend: Any, images: Any, data_format: str) -> Any:
    """Mean of each image and channel of a rank-4 batch, keeping dims (``[B, 1, 1, C]``).

    Channels last, a reduction over ``H, W`` with 3 channels innermost does not vectorise
    (TensorFlow, XLA): the batch is seen as ``[B, H * W / k, k * C]`` rows, summed over
    rows, then over the ``k`` pixel groups (about 2.5x faster). 16-bit floats are summed
    in float32, as ``keras.ops.mean`` does.
    """
    ops = backend.numpy
    dtype = images.dtype
    if keras.backend.standardize_dtype(dtype) in ("float16", "bfloat16"):
        images = backend.cast(images, "float32")
    if data_format != "channels_last" or None in images.shape[1:]:
        axes = (1, 2) if data_format == "channels_last" else (2, 3)
        return backend.cast(ops.mean(images, axis=axes, keepdims=True), dtype)
    _, height, width, channels = images.shape
    group = int(np.gcd(height * width, 128))
    rows = ops.reshape(images, (-1, height * width // group, group * channels))
    sums = ops.sum(ops.reshape(ops.sum(rows, axis=1), (-1, group, channels)), axis=1)
    mean = ops.reshape(sums, (-1, 1, 1, channels)) / float(height * width)
    return backend.cast(mean, dtype)


def flip_where(backend: Any, images: Any, coin: Any, axis: int) -> Any:
    """Reverse ``images`` (rank 4) along ``axis`` where ``coin`` (shape ``[B]``, bool) is set.

    Without XLA, TensorFlow gathers the images that flip, reverses them and scatters them
    back: about half the data moves, and no broadcasting select runs. Elsewhere a
    ``where`` that XLA fuses into the next op.
    """
    if native_tf(backend):
        import tensorflow as tf

        index = tf.where(tf.broadcast_to(coin, tf.shape(images)[:1]))
        flipped = tf.reverse(tf.gather_nd(images, index), [axis])
        return tf.tensor_scatter_nd_update(images, index, flipped)
    ops = backend.numpy
    coin = ops.reshape(coin, (-1, 1, 1, 1))
    return ops.where(coin, ops.flip(images, axis=axis), images)


def bilinear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices (lower, upper) and weights of half-pixel bilinear resizing.

    Computed in float32 exactly as TensorFlow's ``ResizeBilinear`` kernel does, so the
    two paths agree to the last bits of a lerp.

    Example:

    >>> lower, upper, weight = bilinear_taps(4, 2)
    >>> lower.tolist(), upper.tolist(), weight.tolist()
    ([0, 2], [1, 3], [0.5, 0.5])
    """
    scale = np.float32(n_in) / np.float32(n_out)
    src = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    floor = np.floor(src)
    lower = np.maximum(floor, 0).astype("int32")
    upper = np.minimum(np.ceil(src), n_in - 1).astype("int32")
    return lower, upper, (src - floor).astype("float32")


def resize_bilinear(backend: Any, images: Any, size: tuple[int, int], axes: tuple[int, int]) -> Any:
    """Half-pixel bilinear resize of a rank-4 float batch (no antialias).

    Width first, then height (the order of TensorFlow's kernel): per axis, two gathers
    and one lerp, which XLA fuses into a single loop. Sizes unknown while tracing (a
    ``None`` dimension) get their taps from the same float32 arithmetic in tensor ops,
    which XLA folds to constants once it compiles for the concrete shape.
    """
    ops = backend.numpy
    for axis, n_out in ((axes[1], size[1]), (axes[0], size[0])):
        n_in = images.shape[axis]
        if n_in == n_out:
            continue
        if n_in is None:
            lower, upper, weight = _traced_taps(backend, backend.core.shape(images)[axis], n_out)
        else:
            lower, upper, weight = bilinear_taps(n_in, n_out)
        shape = [1, 1, 1, 1]
        shape[axis] = n_out
        low = ops.take(images, lower, axis=axis)
        high = ops.take(images, upper, axis=axis)
        weight = ops.reshape(backend.cast(weight, images.dtype), shape)
        images = low + (high - low) * weight
    return images


def _traced_taps(backend: Any, n_in: Any, n_out: int) -> tuple[Any, Any, Any]:
    """``bilinear_taps`` for an input size known only as a scalar tensor."""
    ops = backend.numpy
    n_in = backend.cast(n_in, "float32")
    scale = n_in / np.float32(n_out)
    src = (ops.arange(n_out, dtype="float32") + np.float32(0.5)) * scale - np.float32(0.5)
    floor = ops.floor(src)
    lower = backend.cast(ops.maximum(floor, 0.0), "int32")
    upper = backend.cast(ops.minimum(ops.ceil(src), n_in - 1.0), "int32")
    return lower, upper, src - floor
