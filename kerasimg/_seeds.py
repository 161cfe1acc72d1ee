"""The stateless seeds kerasimg derives for a stack of layers (private).

One function, shared by ``kerasimg.layers.apply_layers`` and the data pipeline's
``augment=`` map (``kerasimg/data/_pipeline.py``), so that both give layer ``i`` of a stack
the same seed: an image augmented in a dataset equals ``apply_layers`` on that image with
the pipeline's per-image seed. It lives below both ``kerasimg.layers`` and
``kerasimg.data`` (layers never import data) and imports TensorFlow only for a tensor seed,
so integer seeds work without TensorFlow (JAX, PyTorch). ``fold_in`` is the fold the data
pipeline uses to derive its epoch and per-image seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def layer_seed(seed: Any, i: int) -> Any:
    """The stateless seed of the layer at position ``i`` of a stack seeded with ``seed``.

    Args:
        seed: an integer (Python or NumPy), or a shape-``[2]`` integer tensor or array.
        i: the layer's position in the stack (0 for the first).

    Returns:
        For an integer ``seed``, the int32 NumPy pair ``[seed & 0x7FFFFFFF, 7919 * (i + 1)]``
        (no TensorFlow needed); otherwise the int32 TensorFlow pair
        ``tf.random.experimental.stateless_fold_in(seed, i + 1)``.

    Example:

    >>> layer_seed(5, 0).tolist(), layer_seed(5, 1).tolist()
    ([5, 7919], [5, 15838])
    """
    if isinstance(seed, (int, np.integer)):
        return np.array([int(seed) & 0x7FFFFFFF, 7919 * (i + 1)], dtype="int32")
    import tensorflow as tf

    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    return tf.random.experimental.stateless_fold_in(seed, i + 1)


def layer_seeds(seed: Any, count: int) -> list:
    """``[layer_seed(seed, i) for i in range(count)]``, with one random draw for a tensor seed.

    ``stateless_fold_in(seed, data)`` is ``[draw(seed), data]``: the first word does not
    depend on ``data``, so every layer's seed shares it (what ``kerasimg.data`` computes per
    image: each draw is ~4 graph nodes).

    Example:

    >>> import tensorflow as tf
    >>> seed = tf.constant([5, 0], tf.int64)
    >>> [bool(tf.reduce_all(s == layer_seed(seed, i))) for i, s in enumerate(layer_seeds(seed, 3))]
    [True, True, True]
    """
    if isinstance(seed, (int, np.integer)):
        return [layer_seed(seed, i) for i in range(count)]
    import tensorflow as tf

    seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
    word = tf.random.stateless_uniform([], seed=seed, dtype=tf.int32, minval=None, maxval=None)
    return [tf.stack([word, tf.constant(i + 1, tf.int32)]) for i in range(count)]


def fold_in(seed: Any, data: Any) -> Any:
    """A new shape-``[2]`` int64 TensorFlow seed from ``seed`` and ``data``.

    ``tf.random.experimental.stateless_fold_in`` with ``data`` always cast to int64 first, so
    that an int32 and an int64 ``data`` give the same seed. Imports TensorFlow.

    Args:
        seed: a shape-``[2]`` int64 tensor (or anything TensorFlow converts to one).
        data: an integer scalar (Python, NumPy or a tensor of any integer dtype).

    Returns:
        The folded seed, a shape-``[2]`` int64 tensor.

    Example:

    >>> import tensorflow as tf
    >>> seed = tf.constant([5, 0], tf.int64)
    >>> folded = fold_in(seed, 3)
    >>> folded.shape.as_list(), folded.dtype.name
    ([2], 'int64')
    >>> bool(tf.reduce_all(folded == fold_in(seed, tf.constant(3, tf.int32))))
    True
    """
    import tensorflow as tf

    return tf.random.experimental.stateless_fold_in(seed, tf.cast(data, tf.int64))
