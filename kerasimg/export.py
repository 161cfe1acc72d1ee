"""SavedModel export with built-in preprocessing (``kerasimg.export``).

One call writes a TensorFlow SavedModel that serves raw uint8 images of any size
(``serving_default``) and encoded image bytes (``serving_bytes``), decoding and resizing them
exactly as the training pipeline's :class:`~kerasimg.data.ImageDecoder` did, then running the
model in inference mode. The SavedModel holds TensorFlow ops only (no ``tf.py_function``, no
Python callbacks), so it loads with ``tf.saved_model.load``, ``saved_model_cli`` or TF Serving
where kerasimg (or Keras) is not installed.

Design notes:

* **Writer.** ``tf.saved_model.save`` of a ``tf.Module`` that holds the model's variables and
  the two signatures as concrete functions, each traced once: it decodes / resizes, calls
  ``model(images, training=False)`` and names the outputs. The Keras object graph is not
  saved, so nothing Keras- or kerasimg-specific is needed to load it. (``keras.export.
  ExportArchive`` gives the same artifact but traces every signature twice, ~2x slower.)
* **Backend.** The decoder is TensorFlow ops, so the model must run in the same TensorFlow
  graph: ``export`` needs ``KERAS_BACKEND=tensorflow`` and raises ``RuntimeError`` otherwise.
  A model trained under JAX or PyTorch is exported by saving it (``model.save("m.keras")``)
  and loading that file in a TensorFlow-backend process (a ``.keras`` file is backend-neutral).
* **Raw images.** ``serving_default`` crops / resizes / rounds a uint8 batch through the same
  TensorFlow ops, in the same order, as ``ImageDecoder`` applies after decoding (tested bit for
  bit against ``ImageDecoder.decode`` of the lossless PNG of the same pixels).
* **Bytes.** Each image's header is checked (format, size, ``max_pixels``, truncation) before
  any pixel is decoded; a refusal stops the request with ``InvalidArgumentError`` whose message
  holds ``kerasimg: image_bytes[i]: <reason>``. Corrupt pixel data that passes the header check
  (a bad PNG CRC, a broken JPEG scan) is caught by decoding inside a one-element ``tf.data``
  pipeline with ``ignore_errors`` and reported the same way (``corrupt image data``).
* **Outputs.** Half-precision outputs (``mixed_float16`` / ``mixed_bfloat16`` policies) are
  cast to float32 (exact), so clients always receive float32 scores. One output is named
  ``outputs``; several keep the model's output names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf

from kerasimg.data.decode import ImageDecoder

__all__ = ["export"]

_DECODER_FILE = "kerasimg_decoder.json"  # under <path>/assets.extra/

_HALF = (tf.float16, tf.bfloat16)


def export(
    model: keras.Model,
    path: str | os.PathLike,
    decoder: ImageDecoder | None = None,
    format: str = "tf_saved_model",
) -> str:
    """Writes a SavedModel serving raw images and image bytes, with the training decode built in.

    Signatures (both run ``model(images, training=False)``: random layers and dropout are
    inactive, so repeated calls give identical outputs):

    * ``serving_default(images)``: uint8 ``[N, H, W, C]``, any ``N``, ``H`` and ``W``; resized
      (and cropped, with ``crop_to_aspect_ratio``) to ``decoder.image_size`` with the decoder's
      interpolation and rounding, unless the decoder keeps the native size.
    * ``serving_bytes(image_bytes)``: string ``[N]`` of encoded JPEG / PNG / GIF / BMP / WebP
      images (TF Serving's REST ``{"b64": "..."}`` lands here), decoded by ``decoder``. With a
      native-size decoder (``image_size=None``) each image runs through the model alone, since
      sizes differ; the model's outputs must then have the same shape for every image.

    Outputs: a dict with one tensor ``outputs`` for a single-output model, one entry per output
    name for a multi-output model (a model returning a dict keeps its keys). Floating outputs in
    float16 / bfloat16 (mixed precision) are cast to float32 (exactly); others keep their dtype.

    The decoder's settings are also written to ``<path>/assets.extra/kerasimg_decoder.json``
    (its ``get_config()``; TF Serving ignores ``assets.extra``), so the same decoder can be
    rebuilt with ``ImageDecoder.from_config`` to export a retrained model.

    Bad bytes fail the request with ``tf.errors.InvalidArgumentError`` whose message contains
    ``kerasimg: image_bytes[<i>]: <reason>`` (TensorFlow prefixes ``assertion failed: [``):
    empty, unsupported or disallowed format, truncated header or data, corrupt pixel data, or
    more than ``decoder.max_pixels`` pixels (refused from the header, before decoding).

    Args:
        model: a built Keras model with one image input, channels last (``[B, H, W, C]``).
        path: the SavedModel folder to write (created; files in it are overwritten).
        decoder: the ``ImageDecoder`` the training data went through (``ds.decoder`` of a
            ``kerasimg.data`` dataset). Defaults to None: one built from the model's input
            shape, ``ImageDecoder(image_size=(H, W), channels=C)``, with ``image_size=None``
            (no resize) when the model accepts any height and width.
        format: ``"tf_saved_model"`` (default) or ``"litert"``: a LiteRT ``.tflite`` file at
            ``path`` (ending in ``.tflite``) whose ``serving_default`` signature takes uint8
            ``images`` ``[N, H, W, C]`` at the model's input size (``decoder.image_size`` for a
            model of any size) and runs the model in inference mode, random layers gone;
            LiteRT built-in ops only (no image-bytes input: LiteRT has no decode op). See
            ``kerasimg._litert``.

    Returns:
        ``path``, as a string.

    Raises:
        RuntimeError: the Keras backend is not TensorFlow.
        ValueError: ``format`` is not ``"tf_saved_model"`` or ``"litert"``; with ``"litert"``,
            a model that needs TensorFlow ops LiteRT lacks (bicubic/lanczos/antialias resize).
        TypeError: ``model`` is not a Keras model, or ``decoder`` not an ``ImageDecoder``.
        ValueError: the model is not built, has several inputs or no usable input shape, or its
            input disagrees with ``decoder`` (channels, or a fixed size that differs).

    Typical use, with the training dataset's decoder::

        train = kerasimg.data.from_directory("photos/", image_size=(128, 128))
        model.fit(train, epochs=5)
        kerasimg.export(model, "exported/", decoder=train.decoder)

    Example:

    >>> import tempfile, keras, tensorflow as tf
    >>> from kerasimg.export import export
    >>> from kerasimg.layers import Normalize
    >>> model = keras.Sequential([keras.Input((32, 32, 3), dtype="uint8"), Normalize(),
    ...                           keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> path = export(model, tempfile.mkdtemp() + "/model")  # decoder: resize to 32x32
    >>> served = tf.saved_model.load(path)
    >>> raw = tf.zeros([4, 50, 60, 3], tf.uint8)  # any size
    >>> served.signatures["serving_default"](images=raw)["outputs"].shape
    TensorShape([4, 2])
    >>> png = tf.io.encode_png(tf.zeros([40, 30, 3], tf.uint8))
    >>> served.signatures["serving_bytes"](image_bytes=tf.stack([png]))["outputs"].shape
    TensorShape([1, 2])
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise RuntimeError(
            "kerasimg.export needs the TensorFlow Keras backend: the serving signatures run the "
            "TensorFlow image decoder and the model in one TensorFlow graph. Received backend "
            f"{backend!r}. Save the model (model.save('model.keras')), then load it and export "
            "it in a process started with KERAS_BACKEND=tensorflow."
        )
    if not isinstance(model, keras.Model):
        raise TypeError(f"model must be a keras.Model, received {type(model).__name__}: {model!r}")
    if decoder is not None and not isinstance(decoder, ImageDecoder):
        raise TypeError(
            "decoder must be a kerasimg.data.ImageDecoder (ds.decoder of a kerasimg dataset) "
            f"or None, received {type(decoder).__name__}: {decoder!r}"
        )
    if format not in ("tf_saved_model", "litert"):
        raise ValueError(
            "Invalid value for argument `format`: expected 'tf_saved_model' or 'litert'. "
            f"Received: format={format!r}"
        )
    if format == "litert":
        from kerasimg._litert import export_litert

        return export_litert(model, path, decoder)
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a non-empty str or os.PathLike, received path={path!r}")
    path = os.fspath(path)
    if os.path.isfile(path):
        raise ValueError(f"path must be a folder for the SavedModel, received the file path={path!r}")
    if not model.built:
        raise ValueError(
            f"model {model.name!r} is not built: give it a keras.Input or call it on a batch "
            "before exporting"
        )
    serving = _Serving(model, _decoder_for(model, decoder))
    channels = serving.decoder.channels
    signatures = {}
    for name, fn, spec in (
        ("serving_default", serving.serving_default,
         tf.TensorSpec([None, None, None, channels], tf.uint8, name="images")),
        ("serving_bytes", serving.serving_bytes, tf.TensorSpec([None], tf.string, name="image_bytes")),
    ):  # fmt: skip
        # Concrete functions: traced once here, not again by tf.saved_model.save.
        signatures[name] = tf.function(fn, input_signature=[spec], autograph=False).get_concrete_function()
    root = tf.Module()
    # The TF variables the signatures read (what ExportArchive tracks too): all the SavedModel
    # keeps of the model. Tracking Keras' own variable objects instead breaks TF1-style loaders
    # (saved_model_cli run, TF Serving's session): "Could not find variable".
    captured = {id(v): v for fn in signatures.values() for v in fn.variables}
    root.model_variables = list(captured.values())
    for name, function in signatures.items():
        setattr(root, name, function)
    tf.saved_model.save(root, path, signatures=signatures)
    extra = os.path.join(path, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, _DECODER_FILE), "w", encoding="utf-8") as f:
        json.dump(serving.decoder.get_config(), f, indent=2)
    return path


class _Serving:
    """The two signature functions of one export."""

    def __init__(self, model: keras.Model, decoder: ImageDecoder) -> None:
        self.model, self.decoder = model, decoder
        self.names = _output_names(model)
        probe = keras.KerasTensor((None, *decoder.output_shape), dtype=decoder.dtype)
        outputs = _as_dict(model.compute_output_spec(probe), self.names)
        #: per-image shape and served dtype of each output
        self.spec = {
            k: tf.TensorSpec(v.shape[1:], _float32_if_half(v.dtype)) for k, v in outputs.items()
        }

    def serving_default(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        # The same bounds as the bytes path: no empty image, nothing over max_pixels (a
        # 10000x10000 request would otherwise cost gigabytes in the resize).
        shape = tf.shape(images, out_type=tf.int64)
        height, width = shape[1], shape[2]
        size = tf.strings.join([tf.strings.as_string(width), "x", tf.strings.as_string(height)])
        checks = [
            tf.debugging.Assert((height > 0) & (width > 0), [tf.strings.join(
                ["kerasimg: images: empty image (", size, "): height and width must be positive"])]),
            tf.debugging.Assert(height * width <= self.decoder.max_pixels, [tf.strings.join([
                "kerasimg: images: image is ", size, " = ", tf.strings.as_string(height * width),
                f" pixels, over max_pixels={self.decoder.max_pixels}"])]),
        ]  # fmt: skip
        with tf.control_dependencies(checks):
            images = tf.identity(images)
        return self._run(self.decoder.resize_images(images))

    def serving_bytes(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        if self.decoder.image_size is None:
            return self._run_one_by_one(image_bytes)
        return self._run(self.decoder.decode_batch(image_bytes))

    def _run(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        """The model in inference mode; an empty batch gives empty outputs (Keras layers such
        as Conv2D fail on a batch of zero images)."""

        def empty() -> dict[str, tf.Tensor]:
            return {
                k: tf.zeros([0, *(d or 0 for d in s.shape)], s.dtype) for k, s in self.spec.items()
            }

        def run() -> dict[str, tf.Tensor]:
            return _named(self.model(images, training=False), self.names)

        return tf.cond(tf.shape(images)[0] > 0, run, empty)

    def _run_one_by_one(self, image_bytes: tf.Tensor) -> dict[str, tf.Tensor]:
        """Native-size decoder: decode and run each image alone (sizes differ), stack outputs."""

        def one(args: tuple[tf.Tensor, tf.Tensor]) -> dict[str, tf.Tensor]:
            image = self.decoder.decode_batch(args[0][None], indices=args[1][None])
            outputs = _named(self.model(image, training=False), self.names)
            return {k: v[0] for k, v in outputs.items()}

        indices = tf.range(tf.shape(image_bytes, out_type=tf.int64)[0])
        return tf.map_fn(one, (image_bytes, indices), fn_output_signature=self.spec)


def _decoder_for(model: keras.Model, decoder: ImageDecoder | None) -> ImageDecoder:
    """The decoder given, checked against the model's input, or one built from that input."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) > 1:
        raise ValueError(
            f"model {model.name!r} has {len(inputs)} inputs; kerasimg.export serves models with "
            "one image input"
        )
    shape = tuple(inputs[0].shape) if inputs else None
    if shape is not None and len(shape) != 4:
        raise ValueError(
            f"model {model.name!r} has input shape {shape}; kerasimg.export needs a batch of "
            "images [batch, height, width, channels]"
        )
    if decoder is None:
        if shape is None:
            raise ValueError(
                f"model {model.name!r} has no known input shape: pass decoder=ds.decoder or "
                "build the model from a keras.Input"
            )
        height, width, channels = shape[1:]
        if channels not in (1, 3, 4):
            raise ValueError(
                f"model {model.name!r} has input shape {shape}: the last axis must be 1, 3 or 4 "
                "channels (channels last); pass decoder= to say how images are decoded"
            )
        size = None if height is None or width is None else (height, width)
        return ImageDecoder(image_size=size, channels=channels)
    if shape is not None:
        height, width, channels = shape[1:]
        if channels is not None and channels != decoder.channels:
            raise ValueError(
                f"decoder.channels={decoder.channels} does not match the model input shape "
                f"{shape} (channels last)"
            )
        size = decoder.image_size
        if size is not None and (height not in (None, size[0]) or width not in (None, size[1])):
            raise ValueError(
                f"decoder.image_size={size} does not match the model input shape {shape}"
            )
    return decoder


def _output_names(model: keras.Model) -> list[str] | None:
    """None for one output (served as ``outputs``), else the name of each output in order."""
    outputs = getattr(model, "outputs", None)
    if outputs is None or len(outputs) <= 1:
        return None
    names = list(getattr(model, "output_names", None) or [])
    if len(names) != len(outputs) or len(set(names)) != len(names):
        names = [f"output_{i}" for i in range(len(outputs))]
    return names


def _as_dict(outputs: Any, names: list[str] | None) -> dict[str, Any]:
    """The model's outputs (one, a list or a dict) as a dict of signature outputs."""
    if isinstance(outputs, Mapping):
        return dict(outputs)
    if isinstance(outputs, (list, tuple)):
        if len(outputs) == 1:
            return {"outputs": outputs[0]}
        if names is None or len(names) != len(outputs):
            names = [f"output_{i}" for i in range(len(outputs))]
        return dict(zip(names, outputs, strict=True))
    return {"outputs": outputs}


def _float32_if_half(dtype: Any) -> tf.DType:
    dtype = tf.as_dtype(keras.backend.standardize_dtype(dtype))
    return tf.float32 if dtype in _HALF else dtype


def _named(outputs: Any, names: list[str] | None) -> dict[str, tf.Tensor]:
    """The model's outputs as a signature dict, half precision cast to float32 (exact)."""
    return {k: tf.cast(v, _float32_if_half(v.dtype)) for k, v in _as_dict(outputs, names).items()}
