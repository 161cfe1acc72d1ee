"""Tests of ``kerasimg.export(..., format="litert")``: conversion, parity, built-in ops only.

Layers covered by the converted models: every kerasimg layer in one Functional model
(RandomResizedCrop, RandomCrop, CenterCrop where the package has them; Resize, RandomFlip,
RandomBrightness, RandomContrast, Normalize always); the random layers alone; the demo's CNN
(RandomBrightness, RandomContrast, Normalize, Conv2D, Dropout); a model of any input size sized
by a decoder; a float-input two-output model; a mixed_float16 model.

Parity: the LiteRT interpreter (``ai_edge_litert``, else ``tf.lite.Interpreter``) against
``model(x, training=False)`` on images the models never saw, max |Δ| bounded by PARITY_ATOL;
``examples/export_litert.py`` does the same for the trained demo CNN on its validation images
(measured: max |Δ| = 1.0e-6 on softmax outputs, 1,078,112-byte file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from corpus import smooth_image  # noqa: E402

from kerasimg import layers  # noqa: E402
from kerasimg.data import ImageDecoder  # noqa: E402
from kerasimg.demo import build_model  # noqa: E402
from kerasimg.export import export  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(1914)
#: Bound on max |LiteRT - Keras| for float32 models (measured: ~1e-6 on logits of order 1).
PARITY_ATOL = 1e-4


def _interpreter(path: str):
    """The LiteRT interpreter of the ``ai-edge-litert`` package, else TensorFlow's (deprecated)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - ai-edge-litert is in the test extra
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=path)
    return Interpreter(model_path=path)


def _run(path: str, images: np.ndarray) -> dict[str, np.ndarray]:
    runner = _interpreter(path).get_signature_runner("serving_default")
    return runner(images=images)


def _op_names(path: str) -> set[str]:
    # _get_ops_details is the interpreter's only listing of a model's ops (tests only).
    interpreter = _interpreter(path)
    interpreter.allocate_tensors()
    return {op["op_name"] for op in interpreter._get_ops_details()}


def _images(n: int, height: int, width: int, channels: int = 3) -> np.ndarray:
    return np.stack([smooth_image(RNG, height, width, channels) for _ in range(n)])


def _every_layer_model() -> tuple[keras.Model, list[str]]:
    """One model with every kerasimg layer the package has; returns it and the layer names."""
    inputs = keras.Input((48, 40, 3), dtype="uint8", name="images")
    x, used = inputs, []
    for name, args in (("RandomResizedCrop", (40, 40)), ("RandomCrop", (36, 36)), ("CenterCrop", (34, 34))):
        cls = getattr(layers, name, None)
        if cls is not None:  # the crop layers land separately
            x = cls(*args, **({"seed": 1} if name.startswith("Random") else {}))(x)
            used.append(name)
    x = layers.Resize(32, 32)(x)
    x = layers.RandomFlip("horizontal_and_vertical", seed=2)(x)
    x = layers.RandomBrightness(0.2, seed=3)(x)
    x = layers.RandomContrast(0.3, seed=4)(x)
    x = layers.Normalize(mean=[120.0, 110.0, 100.0], std=[60.0, 55.0, 50.0])(x)
    used += ["Resize", "RandomFlip", "RandomBrightness", "RandomContrast", "Normalize"]
    x = keras.layers.Conv2D(8, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5)(x)
    return keras.Model(inputs, outputs, name="every_layer"), used


def test_every_layer_converts_with_builtin_ops_and_matches_keras(tmp_path):
    model, used = _every_layer_model()
    path = export(model, tmp_path / "every.tflite", format="litert")
    assert path == str(tmp_path / "every.tflite")
    detail = _interpreter(path).get_input_details()[0]
    assert detail["dtype"] == np.uint8
    assert detail["shape_signature"].tolist() == [-1, 48, 40, 3]
    ops = _op_names(path)
    assert not {op for op in ops if "FLEX" in op or "CUSTOM" in op}, ops
    assert not {op for op in ops if "RANDOM" in op or "MULTINOMIAL" in op}, ops
    images = _images(6, 48, 40)  # unseen: the weights are random, the images new
    got = _run(path, images)["outputs"]
    want = keras.ops.convert_to_numpy(model(images, training=False))
    assert got.shape == want.shape == (6, 5)
    assert np.abs(got - want).max() <= PARITY_ATOL, (used, np.abs(got - want).max())


def test_random_layers_leave_no_op_behind(tmp_path):
    inputs = keras.Input((16, 16, 3), dtype="uint8")
    x = layers.RandomFlip(seed=1)(inputs)
    x = layers.RandomBrightness(0.5, seed=2)(x)
    outputs = layers.RandomContrast(0.5, seed=3)(x)
    path = export(keras.Model(inputs, outputs), tmp_path / "random.tflite", format="litert")
    assert _op_names(path) == {"CAST"}  # uint8 -> float32, nothing else
    images = _images(3, 16, 16)
    np.testing.assert_array_equal(_run(path, images)["outputs"], images.astype("float32"))


def test_demo_model_parity_and_size(tmp_path):
    model = build_model(10)
    path = Path(export(model, tmp_path / "demo.tflite", format="litert"))
    weights = sum(int(np.prod(w.shape)) for w in model.weights) * 4
    # float32 weights stored once, plus a small graph: no duplicated constants, no Flex ops
    assert weights <= path.stat().st_size <= weights + 64 * 1024
    images = _images(16, 32, 32, 1)
    got = _run(str(path), images)["outputs"]
    want = keras.ops.convert_to_numpy(model(images, training=False))
    assert np.abs(got - want).max() <= PARITY_ATOL
    assert np.array_equal(got.argmax(-1), want.argmax(-1))


def test_decoder_sets_the_size_of_a_model_of_any_size(tmp_path):
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = layers.Normalize()(layers.Resize(16, 16)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))
    decoder = ImageDecoder(image_size=(24, 20), channels=3)
    path = export(model, tmp_path / "any.tflite", decoder=decoder, format="litert")
    assert _interpreter(path).get_input_details()[0]["shape_signature"].tolist() == [-1, 24, 20, 3]
    images = _images(2, 24, 20)
    got = _run(path, images)["outputs"]
    want = keras.ops.convert_to_numpy(model(images, training=False))
    assert np.abs(got - want).max() <= PARITY_ATOL
    with pytest.raises(ValueError, match="fixed height, width"):
        export(model, tmp_path / "none.tflite", format="litert")


def test_float_input_and_several_outputs(tmp_path):
    inputs = keras.Input((12, 12, 1))  # float32 input: the uint8 images are cast to it
    x = keras.layers.Flatten()(layers.Normalize()(inputs))
    model = keras.Model(inputs, {"a": keras.layers.Dense(3)(x), "b": keras.layers.Dense(1)(x)})
    path = export(model, tmp_path / "two.tflite", format="litert")
    images = _images(2, 12, 12, 1)
    got = _run(path, images)
    want = model(images.astype("float32"), training=False)
    assert sorted(got) == ["a", "b"]
    for key in ("a", "b"):
        assert np.abs(got[key] - keras.ops.convert_to_numpy(want[key])).max() <= PARITY_ATOL


def test_mixed_float16_outputs_are_float32(tmp_path):
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((8, 8, 3), dtype="uint8")
        x = keras.layers.Flatten()(layers.Normalize()(layers.RandomFlip()(inputs)))
        model = keras.Model(inputs, keras.layers.Dense(2)(x))
    finally:
        keras.config.set_dtype_policy("float32")
    path = export(model, tmp_path / "half.tflite", format="litert")
    images = _images(2, 8, 8)
    got = _run(path, images)["outputs"]
    want = keras.ops.convert_to_numpy(keras.ops.cast(model(images, training=False), "float32"))
    assert got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-2  # the Keras model rounds to float16, LiteRT does not


@pytest.mark.parametrize(
    ("kwargs", "op"),
    [({"interpolation": "bicubic"}, "ResizeBicubic"), ({"antialias": True}, "ScaleAndTranslate")],
)
def test_ops_that_are_not_litert_builtins_are_refused(tmp_path, kwargs, op):
    inputs = keras.Input((20, 20, 3), dtype="uint8")
    model = keras.Model(inputs, layers.Resize(10, 10, **kwargs)(inputs))
    with pytest.raises(ValueError, match=f"not LiteRT built-in ops: {op}"):
        export(model, tmp_path / "m.tflite", format="litert")
    assert not (tmp_path / "m.tflite").exists()


def test_invalid_arguments(tmp_path):
    model = keras.Sequential([keras.Input((8, 8, 3), dtype="uint8"), layers.Normalize()])
    with pytest.raises(ValueError, match=r"argument `format`.*format='tflite'"):
        export(model, tmp_path / "m.tflite", format="tflite")
    with pytest.raises(ValueError, match=r"argument `path`.*\.tflite"):
        export(model, tmp_path / "m", format="litert")
    (tmp_path / "dir.tflite").mkdir()
    with pytest.raises(ValueError, match="argument `path`"):
        export(model, tmp_path / "dir.tflite", format="litert")
    with pytest.raises(ValueError, match="4 channels but the decoder gives 3"):
        grey = keras.Sequential([keras.Input((8, 8, 4), dtype="uint8"), layers.Normalize()])
        export(grey, tmp_path / "g.tflite", decoder=ImageDecoder(image_size=(8, 8)), format="litert")
    with pytest.raises(ValueError, match="decoder resizes to"):
        export(model, tmp_path / "s.tflite", decoder=ImageDecoder(image_size=(9, 8)), format="litert")


def test_example_trains_exports_and_matches(tmp_path):
    done = subprocess.run(
        [sys.executable, str(REPO / "examples" / "export_litert.py"), "--out", str(tmp_path), "--epochs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert lines["LiteRT file"].startswith("digits.tflite, ")
    assert lines["validation images"] == "359"
    assert float(lines["max |LiteRT - Keras|"]) <= PARITY_ATOL
    assert lines["same prediction"] == "359/359"
