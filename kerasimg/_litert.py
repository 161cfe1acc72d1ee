"""LiteRT (TFLite) export with built-in preprocessing: ``kerasimg.export(..., format="litert")``.

The ``.tflite`` file has one signature, ``serving_default``, that takes uint8 images
``[N, H, W, C]`` at the model's input size and runs ``model(images, training=False)``: the
kerasimg ``Resize`` / ``Normalize`` / crop layers of the model run inside the file, its random
layers (and Dropout) are the identity at inference and leave no op behind.

Design notes:

* **Built-in ops only.** The converter is restricted to LiteRT's built-in operators
  (``TFLITE_BUILTINS``), so the file runs with the plain LiteRT runtime (the ``ai-edge-litert``
  Python package, the Android/iOS LiteRT libraries, microcontrollers with the ops linked in), and
  stays small. Select TF ops would need the Flex delegate, which adds several MB to an app and
  is missing from most runtimes. What this rules out: encoded-image decoding (no decode op
  among the built-ins: decode on the device with the platform's image API, resize to the input
  size, and pass the uint8 pixels) and ``Resize(interpolation="bicubic" | "lanczos3" |
  "lanczos5")`` or ``Resize(antialias=True)`` (``ResizeBicubic`` / ``ScaleAndTranslate``).
  A model that needs such ops is refused with a ``ValueError`` naming them, not converted into
  a file that fails on the phone.
* **Fixed size, any batch.** The input's height, width and channels are fixed (the model's
  input shape, or ``decoder.image_size`` for a model that takes any size); the batch
  dimension is dynamic (``shape_signature`` ``[-1, H, W, C]``, 1 by default; call
  ``resize_tensor_input`` for more).
* **Same pixels as training.** The uint8 input is converted as the training decoder
  converted pixels (``uint16`` decoders: ``x * 257``), then cast to the model's input dtype.
* **Mixed precision.** A model under a ``mixed_float16`` / ``mixed_bfloat16`` policy is
  exported as a float32 copy with the same (float32) weights: LiteRT's built-in kernels compute
  in float32.
* **Outputs** are named as in the SavedModel export: ``outputs`` for one output, the model's
  output names (or dict keys) for several; half-precision outputs are cast to float32.
"""

from __future__ import annotations

import os
import re
from typing import Any

import keras
import tensorflow as tf

from kerasimg.data.decode import ImageDecoder

_HALF = (tf.float16, tf.bfloat16)
_NOT_BUILTIN = re.compile(r"(?:TF Select ops|Custom ops|Flex ops): ([^\n]+)")


def export_litert(model: keras.Model, path: str | os.PathLike, decoder: ImageDecoder | None = None) -> str:
    """Writes ``model`` as a LiteRT ``.tflite`` file taking uint8 images at its input size.

    Called by ``kerasimg.export(model, path, decoder, format="litert")``, which checks the
    backend and the argument types first.

    Args:
        model: a built Keras model with one image input, channels last (``[B, H, W, C]``).
        path: the file to write; must end with ``.tflite`` (its folder is created).
        decoder: the training dataset's ``ImageDecoder`` (``ds.decoder``), or None. Gives the
            input size when the model takes any height and width, and the pixel conversion.

    Returns:
        ``path``, as a string.

    Raises:
        ValueError: ``path`` does not end with ``.tflite`` or is a folder; the model has several
            inputs, no fixed input size (and no ``decoder.image_size``), or an input that
            disagrees with ``decoder``; or it needs TensorFlow ops that are not LiteRT built-ins.

    Example:

    >>> import os, tempfile, keras, numpy as np
    >>> from kerasimg._litert import export_litert
    >>> from kerasimg.layers import Normalize, RandomFlip
    >>> model = keras.Sequential([keras.Input((8, 8, 3), dtype="uint8"), RandomFlip(),
    ...                           Normalize(), keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> path = export_litert(model, os.path.join(tempfile.mkdtemp(), "model.tflite"))
    >>> from ai_edge_litert.interpreter import Interpreter
    >>> runner = Interpreter(model_path=path).get_signature_runner("serving_default")
    >>> runner(images=np.zeros((1, 8, 8, 3), "uint8"))["outputs"].shape
    (1, 2)
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"path must be a non-empty str or os.PathLike, received path={path!r}")
    path = os.fspath(path)
    if not path.endswith(".tflite") or os.path.isdir(path):
        raise ValueError(
            f"Invalid value for argument `path`: expected a .tflite file path with "
            f"format='litert'. Received: path={path!r}"
        )
    if not model.built:
        raise ValueError(
            f"model {model.name!r} is not built: give it a keras.Input or call it on a batch "
            "before exporting"
        )
    height, width, channels, input_dtype = _input_spec(model, decoder)
    model = _in_float32(model)
    scale = 257 if decoder is not None and decoder.dtype == "uint16" else 1

    def serve(images: tf.Tensor) -> dict[str, tf.Tensor]:
        pixels = images
        if scale != 1:  # as ImageDecoder widens 8-bit pixels to uint16
            pixels = tf.cast(images, tf.int32) * scale
        if pixels.dtype != input_dtype:
            pixels = tf.cast(pixels, input_dtype)
        return _named(model, model(pixels, training=False))

    spec = tf.TensorSpec([None, height, width, channels], tf.uint8, name="images")
    function = tf.function(serve, input_signature=[spec], autograph=False).get_concrete_function()
    holder = tf.Module()
    holder.model_variables = list(function.variables)  # what the converter freezes
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], holder)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        content = converter.convert()
    except Exception as error:  # tf.lite's ConverterError (module path varies across TF releases)
        ops = sorted({op.strip() for found in _NOT_BUILTIN.findall(str(error)) for op in found.split(",")})
        if not ops:
            raise
        raise ValueError(
            f"kerasimg: model {model.name!r} needs TensorFlow ops that are not LiteRT built-in "
            f"ops: {', '.join(ops)}. kerasimg writes built-in ops only, so the file runs with "
            "the plain LiteRT runtime. Resize(interpolation='bicubic'/'lanczos3'/'lanczos5') "
            "and Resize(antialias=True) need such ops: use 'bilinear' or 'nearest' without "
            "antialias, or convert with tf.lite.TFLiteConverter and SELECT_TF_OPS yourself "
            "(the app then needs the Flex delegate)."
        ) from None
    folder = os.path.dirname(path)
    if folder:
        os.makedirs(folder, exist_ok=True)
    with open(path, "wb") as f:
        f.write(content)
    return path


def _input_spec(model: keras.Model, decoder: ImageDecoder | None) -> tuple[int, int, int, tf.DType]:
    """(height, width, channels, dtype) of the model's one image input, fixed by ``decoder``
    where the model leaves them open."""
    inputs = getattr(model, "inputs", None) or []
    if len(inputs) != 1 or len(inputs[0].shape) != 4:
        shapes = [tuple(i.shape) for i in inputs]
        raise ValueError(
            f"model {model.name!r} has inputs {shapes}; format='litert' needs one image input "
            "[batch, height, width, channels]"
        )
    _, height, width, channels = inputs[0].shape
    dtype = tf.as_dtype(keras.backend.standardize_dtype(inputs[0].dtype))
    if decoder is not None:
        if channels is not None and channels != decoder.channels:
            raise ValueError(
                f"model {model.name!r} takes {channels} channels but the decoder gives "
                f"{decoder.channels} (decoder.channels)"
            )
        channels = decoder.channels
        if decoder.image_size is not None:
            if (height, width) != (None, None) and (height, width) != tuple(decoder.image_size):
                raise ValueError(
                    f"model {model.name!r} takes {height}x{width} images but the decoder "
                    f"resizes to {decoder.image_size} (decoder.image_size)"
                )
            height, width = decoder.image_size
    if height is None or width is None or channels is None:
        raise ValueError(
            f"model {model.name!r} takes images of shape {tuple(inputs[0].shape)}; a LiteRT file "
            "needs a fixed height, width and channels: give the model a keras.Input of fixed "
            "size, or pass decoder=ds.decoder (its image_size and channels are used)"
        )
    return int(height), int(width), int(channels), dtype


def _in_float32(model: keras.Model) -> keras.Model:
    """The model itself, or for a mixed-precision model a float32 copy with the same weights.

    LiteRT's built-in kernels compute in float32 (float16 / bfloat16 ``MatMul``, ``Mul``, ...
    are not built-ins). Mixed policies keep the variables in float32, so the copy holds the
    very same weights and computes what the model computes, without half-precision rounding.
    """
    half = ("float16", "bfloat16")
    if not any(getattr(layer, "compute_dtype", None) in half for layer in [model, *model.layers]):
        return model

    def float32_layer(layer: keras.layers.Layer) -> keras.layers.Layer:
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    try:
        clone = keras.models.clone_model(model, clone_function=float32_layer)
    except Exception as error:  # subclassed models, layers without a usable config
        raise ValueError(
            f"kerasimg: model {model.name!r} computes in half precision, which LiteRT's "
            "built-in ops do not, and it could not be rebuilt in float32 "
            f"({type(error).__name__}: {error}). Build it under the float32 policy and copy the "
            "weights (model.get_weights()) before exporting with format='litert'."
        ) from None
    clone.set_weights(model.get_weights())
    return clone


def _named(model: keras.Model, result: Any) -> dict[str, tf.Tensor]:
    """The model's output(s) as a dict of tensors: ``outputs`` for one, the output names (or
    dict keys) for several; half precision cast to float32 (exact)."""
    if isinstance(result, dict):
        outputs = dict(result)
    elif isinstance(result, (list, tuple)) and len(result) != 1:
        names = list(getattr(model, "output_names", None) or [])
        if len(names) != len(result) or len(set(names)) != len(names):
            names = [f"output_{i}" for i in range(len(result))]
        outputs = dict(zip(names, result, strict=True))
    else:
        outputs = {"outputs": result[0] if isinstance(result, (list, tuple)) else result}
    return {
        k: tf.cast(v, tf.float32) if tf.as_dtype(v.dtype) in _HALF else v for k, v in outputs.items()
    }
