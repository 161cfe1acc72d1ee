"""Shared machinery of kerasimg's image layers.

Every layer splits its work in two (as Keras' own image preprocessing layers do):

* ``get_random_transformation(images, training=True, seed=None)`` draws the random
  parameters — one per image of the batch — and returns them as a dict of tensors;
* ``transform_images(images, transformation, training=True)`` applies them, with no
  randomness at all, so tests can inject a transformation and check exact values.

``call()`` wires the two. The layers are written against ``self.backend``, a
``DynamicBackend`` that is the Keras backend in a model and TensorFlow inside a
``tf.data`` pipeline, whatever ``KERAS_BACKEND`` is — the mechanism Keras' own
preprocessing layers use (a private Keras API, reached through ``kerasimg._compat``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np

from kerasimg import _compat
from kerasimg._seeds import layer_seed
from kerasimg._validate import check_pair, check_seed, invalid
from kerasimg.layers._fast import native_tf

_CHANNELS = (1, 3, 4)


def check_value_range(value_range: Any, name: str = "value_range") -> tuple[float, float]:
    """Validate a ``(low, high)`` pair with ``low < high`` and return it as floats."""
    return check_pair(name, value_range, "a pair (low, high) of finite numbers with low < high",
                      lambda low, high: low < high)


def plain(value: Any) -> Any:
    """A JSON-safe copy of a validated argument for ``get_config``: NumPy scalars become Python
    numbers, NumPy arrays lists; lists and tuples keep their type."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return type(value)(plain(item) for item in value)
    return value


def sized_shape(input_shape: tuple, data_format: str, height: int, width: int) -> tuple:
    """``input_shape`` (rank 3 or 4) with its height and width set to ``height`` and ``width``:
    the output shape of the layers with a fixed output size (``Resize`` and the crops).

    Example:

    >>> sized_shape((None, 7, 9, 3), "channels_last", 2, 4)
    (None, 2, 4, 3)
    >>> sized_shape((3, 7, 9), "channels_first", 2, 4)
    (3, 2, 4)
    """
    shape = list(input_shape)
    offset = len(shape) - 3
    h_axis, w_axis = (0, 1) if data_format == "channels_last" else (1, 2)
    shape[h_axis + offset] = height
    shape[w_axis + offset] = width
    return tuple(shape)


def check_data_format(data_format: str | None) -> str:
    """Resolve ``None`` to ``keras.config.image_data_format()`` and validate."""
    if data_format is None:
        return keras.config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise invalid("data_format", data_format, "'channels_last', 'channels_first' or None")
    return data_format


class BaseImageLayer(keras.layers.Layer):
    """Base class of kerasimg's image layers (not used directly).

    Subclasses set ``random`` (class attribute), implement ``_draw(batch_size,
    seed)`` (random layers) and ``_transform(images, transformation)`` (on a
    rank-4 batch in the layer's ``data_format``), and list their constructor
    arguments in ``get_config``.

    Images of zero height or width are refused with a ``ValueError`` by every layer, in
    training and inference alike (an empty batch, ``B = 0``, passes through). Masks: like
    Keras' image preprocessing layers, the layers do not propagate a Keras mask
    (``supports_masking`` is False) — except ``Normalize``, elementwise like
    ``keras.layers.Normalization``, which passes it through unchanged.

    Args:
        data_format: ``"channels_last"`` (``[B, H, W, C]``), ``"channels_first"``
            (``[B, C, H, W]``) or ``None`` for ``keras.config.image_data_format()``.
        seed: integer seed of a random layer, or ``None`` (unseeded: varies per call).

    Example:

    >>> import numpy as np, kerasimg
    >>> layer = kerasimg.layers.RandomFlip(seed=1)
    >>> t = layer.get_random_transformation(np.zeros((2, 4, 4, 3), "uint8"))
    >>> sorted(t)
    ['flip_horizontal', 'flip_vertical']
    """

    random: bool = False

    def __init__(self, data_format: str | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.backend = _compat.dynamic_backend()
        _compat.allow_non_tensor_positional_args(self)
        self.data_format = check_data_format(data_format)
        self.seed = check_seed("seed", seed)
        if self.random:
            self.generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = False

    # ------------------------------------------------------------------ dispatch
    @contextlib.contextmanager
    def _tf_data_backend(self, sample: Any = None) -> Iterator[bool]:
        """Use TensorFlow ops while tracing a TF graph (tf.data) under another backend.

        Re-entrant: only the outermost scope switches and resets. Yields whether the
        backend was switched here.
        """
        switch = (
            not isinstance(sample, keras.KerasTensor)
            and keras.backend.backend() != "tensorflow"
            and self.backend.name != "tensorflow"
            and _compat.in_tf_graph()
        )
        if switch:
            self.backend.set_backend("tensorflow")
        try:
            yield switch
        finally:
            if switch:
                self.backend.reset()

    def __call__(self, inputs: Any, **kwargs: Any) -> Any:
        with self._tf_data_backend(inputs) as switched:
            if not switched:
                return super().__call__(inputs, **kwargs)
            with _compat.input_conversion_off(self):  # TF tensors stay TF tensors in tf.data
                return super().__call__(self.backend.convert_to_tensor(inputs), **kwargs)

    def _seed_generator(self) -> keras.random.SeedGenerator:
        """The seed generator of the backend in use (a TF one inside tf.data under JAX/torch)."""
        if self.backend.name == keras.backend.backend():
            return self.generator
        generators = self.__dict__.setdefault("_kerasimg_generators", {})
        if self.backend.name not in generators:
            generators[self.backend.name] = keras.random.SeedGenerator(self.seed, backend=self.backend)
        return generators[self.backend.name]

    # ------------------------------------------------------------------ helpers
    @property
    def _channel_axis(self) -> int:
        """The channel axis of an image (rank 3) and of a batch (rank 4) alike."""
        return -1 if self.data_format == "channels_last" else -3

    @property
    def _spatial_axes(self) -> tuple[int, int]:
        """(height axis, width axis) of a rank-4 batch."""
        return (1, 2) if self.data_format == "channels_last" else (2, 3)

    def _to_compute(self, images: Any) -> Any:
        """Cast to the compute dtype: the first arithmetic, so integers never wrap."""
        images = self.backend.convert_to_tensor(images)
        if keras.backend.standardize_dtype(images.dtype) != self.compute_dtype:
            images = self.backend.cast(images, self.compute_dtype)
        return images

    def _uniform(self, shape: tuple, minval: float, maxval: float, seed: Any = None) -> Any:
        """U(minval, maxval) of ``shape`` in the compute dtype.

        ``seed=None`` draws from the layer's seed generator; otherwise ``seed`` is
        an integer or a shape-[2] integer tensor and the draw is stateless.
        """
        backend = self.backend
        if seed is None:
            return backend.random.uniform(
                shape, minval=minval, maxval=maxval, dtype="float32", seed=self._seed_generator()
            )
        if isinstance(seed, (int, np.integer)):
            seed = np.array([int(seed) & 0x7FFFFFFF, 0], dtype="int32")
        if backend.name == "tensorflow":
            import tensorflow as tf

            seed = tf.cast(tf.convert_to_tensor(seed), tf.int64)
            if minval == 0.0 and maxval == 1.0:
                # tf.random.stateless_uniform's own two ops, without its "* (max - min) + min"
                # (three more graph nodes per draw, ~1-2 us each per image in tf.data)
                key, counter = tf.raw_ops.StatelessRandomGetKeyCounter(seed=seed)
                return tf.raw_ops.StatelessRandomUniformV2(
                    shape=shape, key=key, counter=counter, alg=tf.random.Algorithm.AUTO_SELECT.value
                )
            return tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval)
        if backend.name == "jax":
            import jax
            import jax.numpy as jnp

            key = jnp.asarray(seed).astype("uint32")
            return jax.random.uniform(key, shape, minval=minval, maxval=maxval, dtype="float32")
        seed = np.asarray(keras.ops.convert_to_numpy(seed)).astype("int64")
        rng = np.random.default_rng(seed.tolist())
        draw = rng.uniform(minval, maxval, size=shape).astype("float32")
        return backend.convert_to_tensor(draw)

    # ------------------------------------------------------------------ the two halves
    def get_random_transformation(self, images: Any, training: bool = True, seed: Any = None) -> dict | None:
        """Draw the random parameters for ``images`` (rank 3, or rank 4: one per image).

        Args:
            images: an image ``[H, W, C]`` or a batch ``[B, H, W, C]`` (channels first
                when ``data_format="channels_first"``).
            training: when False, random layers return ``None`` (the identity).
            seed: ``None`` to draw from the layer's seed generator, or an integer /
                shape-``[2]`` integer tensor for a stateless, reproducible draw.

        Returns:
            A dict of tensors whose first dimension is the batch size, or ``None``
            for a layer that is not random.
        """
        if not self.random or not training:
            return None
        with self._tf_data_backend(images):
            shape = self.backend.core.shape(images)
            batch_size = 1 if len(shape) == 3 else shape[0]
            return self._draw(batch_size, seed)

    def transform_images(self, images: Any, transformation: dict | None = None, training: bool = True) -> Any:
        """Apply ``transformation`` to ``images``: pure, no randomness.

        Args:
            images: rank 3 or rank 4, any integer or floating dtype.
            transformation: as returned by ``get_random_transformation`` (``None``
                or ``training=False`` makes a random layer the identity).
            training: when False, random layers are the identity.

        Returns:
            The transformed images in the layer's compute dtype.
        """
        with self._tf_data_backend(images):
            return self._transform_images(images, transformation, training)

    def _transform_images(self, images: Any, transformation: dict | None, training: bool) -> Any:
        images = self.backend.convert_to_tensor(images)
        rank = self._check_rank(images)
        images = self._check_not_empty(images)
        if self.random and (not training or transformation is None):
            return self._to_compute(images)
        if rank == 3:
            images = self.backend.numpy.expand_dims(images, 0)
        outputs = self._to_compute(self._transform(images, transformation))
        if rank == 3:
            outputs = self.backend.numpy.squeeze(outputs, axis=0)
        return outputs

    def call(self, images: Any, training: bool = True) -> Any:
        if len(images.shape) in (3, 4):  # before the draw, which may read the size
            images = self._check_not_empty(self.backend.convert_to_tensor(images))
        transformation = self.get_random_transformation(images, training=training)
        return self.transform_images(images, transformation, training=training)

    def apply_with_seed(self, images: Any, seed: Any, training: bool = True) -> Any:
        """Apply the layer with a stateless ``seed`` (int or shape-[2] tensor).

        The same images and seed give the same output, in any process — what
        ``kerasimg.data`` uses to make augmentation in a parallel ``tf.data`` map
        reproducible.

        Example:

        >>> import numpy as np, kerasimg
        >>> flip = kerasimg.layers.RandomFlip()
        >>> x = np.arange(12, dtype="uint8").reshape(1, 2, 2, 3)
        >>> a = flip.apply_with_seed(x, seed=3)
        >>> b = flip.apply_with_seed(x, seed=3)
        >>> bool((np.asarray(a) == np.asarray(b)).all())
        True
        """
        with self._tf_data_backend(images):
            images = self.backend.convert_to_tensor(images)
            if len(images.shape) in (3, 4):  # before the draw, which may read the size
                images = self._check_not_empty(images)
            transformation = self.get_random_transformation(images, training=training, seed=seed)
            return self.transform_images(images, transformation, training=training)

    # ------------------------------------------------------------------ Keras plumbing
    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return tuple(input_shape)

    def compute_output_spec(self, images: Any, training: bool = True) -> keras.KerasTensor:
        return keras.KerasTensor(self.compute_output_shape(images.shape), dtype=self.compute_dtype)

    def _check_rank(self, images: Any) -> int:
        """The rank of ``images``: 3 (an image) or 4 (a batch), else a ``ValueError``."""
        rank = len(images.shape)
        if rank not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expects an image of rank 3 or a batch of rank 4; "
                f"received shape {tuple(images.shape)}"
            )
        return rank

    def _check_channels(self, images: Any) -> None:
        channels = images.shape[self._channel_axis]
        if channels is not None and channels not in _CHANNELS:
            raise ValueError(
                f"{type(self).__name__} expects 1, 3 or 4 channels on axis {self._channel_axis} "
                f"({self.data_format}); received shape {tuple(images.shape)}"
            )

    def _check_not_empty(self, images: Any) -> Any:
        """Refuse images of zero height or width, in every mode, whatever the random draw.

        A known size is checked at once (``ValueError``). A size unknown while tracing a
        TensorFlow graph (``tf.data``, a ``tf.function`` over ``None`` dimensions) gets a
        runtime assertion with the same message; under XLA sizes are always known.
        """
        rank = len(images.shape)
        axes = (rank - 3, rank - 2) if self.data_format == "channels_last" else (rank - 2, rank - 1)
        sizes = [images.shape[axis] for axis in axes]
        message = (
            f"{type(self).__name__} received an empty image: height and width must be at "
            f"least 1 ({self.data_format}); received shape {tuple(images.shape)}"
        )
        if any(size == 0 for size in sizes):
            raise ValueError(message)
        if None in sizes and native_tf(self.backend):
            import tensorflow as tf

            shape = tf.shape(images)
            check = tf.debugging.assert_positive(tf.gather(shape, list(axes)), message=message)
            with tf.control_dependencies([check]):
                images = tf.identity(images)
        return images

    def get_config(self) -> dict:
        config = super().get_config()
        config["data_format"] = self.data_format
        if self.random:
            config["seed"] = self.seed
        return config


def apply_layers(layers: Sequence[BaseImageLayer], images: Any, seed: Any, training: bool = True) -> Any:
    """Apply kerasimg ``layers`` in order to ``images`` with stateless seeds.

    Each layer gets its own seed, derived from ``seed`` and its position, so two
    layers never share random draws: the seeds ``kerasimg.data`` gives the layers of
    ``augment=`` (both call ``kerasimg._seeds.layer_seed``). An integer ``seed`` needs no
    TensorFlow; a tensor seed is folded with TensorFlow.

    Args:
        layers: kerasimg layers.
        images: an image or a batch (any dtype).
        seed: an integer or a shape-[2] integer tensor.
        training: passed to each layer (False: random layers are the identity).

    Returns:
        The images after the last layer, in its compute dtype.

    Example:

    >>> import numpy as np, kerasimg
    >>> x = np.full((4, 4, 3), 100, "uint8")
    >>> y = kerasimg.layers.apply_layers([kerasimg.layers.RandomBrightness(0.2)], x, seed=0)
    >>> tuple(y.shape)
    (4, 4, 3)
    """
    for i, layer in enumerate(layers):
        if not isinstance(layer, BaseImageLayer):
            raise invalid("layers", layer, "kerasimg layers")
        images = layer.apply_with_seed(images, layer_seed(seed, i), training=training)
    return images


def backend_for(*values: Any) -> Any:
    """The backend for a function outside a layer (``sample_resized_crop_box``), chosen as the
    layers choose theirs: TensorFlow while tracing a TensorFlow graph (``tf.data``) or for
    TensorFlow ``values``, else the Keras backend. Never imports TensorFlow.

    Example:

    >>> import keras
    >>> from kerasimg.layers.base import backend_for
    >>> backend_for(1, 2).name == keras.backend.backend()
    True
    """
    backend = _compat.dynamic_backend()
    if keras.backend.backend() != "tensorflow" and (
        _compat.in_tf_graph() or any(type(v).__module__.startswith("tensorflow") for v in values)
    ):
        backend.set_backend("tensorflow")
    return backend
