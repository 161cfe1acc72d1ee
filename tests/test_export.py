"""Tests of kerasimg.export: signatures, bit-for-bit parity, bad bytes, isolation, memory.

Layers covered by the exported models: all five kerasimg layers (Resize, RandomFlip,
RandomBrightness, RandomContrast, Normalize) in one Functional model with unknown input size;
Normalize in a Sequential grey model with a fixed size; Resize, RandomFlip and Normalize under
the mixed_float16 and mixed_bfloat16 policies; a two-output Functional model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent / "data"))
from corpus import (  # noqa: E402
    gif_bytes,
    jpeg_bytes,
    make_bad_files,
    png_bomb,
    png_bytes,
    smooth_image,
    webp_bytes,
)

import kerasimg  # noqa: E402
from kerasimg import layers  # noqa: E402
from kerasimg.data import ImageDecoder  # noqa: E402
from kerasimg.export import export  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(2024)
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

# Prepended to scripts run in a fresh `python -I` process: kerasimg (installed in editable
# mode in the venv) cannot be imported there, as on a serving host without kerasimg.
NO_KERASIMG = '''
import importlib.abc, sys

class _NoKerasimg(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "kerasimg":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
        return None

sys.meta_path.insert(0, _NoKerasimg())
try:
    import kerasimg
except ImportError:
    pass
else:
    raise SystemExit("kerasimg is importable in the isolated process")
'''


@dataclass
class Exported:
    model: keras.Model
    decoder: ImageDecoder
    path: str
    served: object

    def default(self, images) -> dict[str, np.ndarray]:
        out = self.served.signatures["serving_default"](images=tf.constant(images, tf.uint8))
        return {k: v.numpy() for k, v in out.items()}

    def bytes(self, blobs) -> dict[str, np.ndarray]:
        out = self.served.signatures["serving_bytes"](image_bytes=tf.constant(blobs, tf.string))
        return {k: v.numpy() for k, v in out.items()}


def _export(model, path, decoder=None) -> Exported:
    written = export(model, path, decoder=decoder)
    assert written == os.fspath(path)
    used = decoder or ImageDecoder(image_size=None, channels=3)  # only the native-size model
    return Exported(model, used, written, tf.saved_model.load(written))


def _delta(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max()) if a.size else 0.0


def _predict(model, images) -> np.ndarray:
    return np.asarray(model(images, training=False), np.float32)


def _decoded(decoder: ImageDecoder, images: np.ndarray) -> np.ndarray:
    """What the decoder itself gives for each image (through a lossless PNG)."""
    return np.stack([decoder.decode(png_bytes(image)).numpy() for image in images])


def _batch(n: int, h: int, w: int, c: int = 3) -> np.ndarray:
    return RNG.integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _run(script: str, *args: str, cwd: Path, env=None, isolated=True) -> subprocess.CompletedProcess:
    path = cwd / "script.py"
    path.write_text((NO_KERASIMG if isolated else "") + script)
    command = [sys.executable, *(["-I"] if isolated else []), str(path), *args]
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, env=env or ENV, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result


# ---------------------------------------------------------------------- exported models


@pytest.fixture(scope="module")
def five_layers(tmp_path_factory) -> Exported:
    """Functional, any input size, every kerasimg layer; exported with decoder=None (native)."""
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = layers.Resize(24, 24)(inputs)
    x = layers.RandomFlip("horizontal_and_vertical", seed=1)(x)
    x = layers.RandomBrightness(0.3, seed=2)(x)
    x = layers.RandomContrast(0.5, seed=3)(x)
    x = layers.Normalize(mean=[120.0, 110.0, 100.0], std=[60.0, 50.0, 40.0])(x)
    x = keras.layers.Conv2D(6, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(4)(x), name="five_layers")
    return _export(model, tmp_path_factory.mktemp("five") / "saved")


@pytest.fixture(scope="module")
def grey(tmp_path_factory) -> Exported:
    """Sequential, fixed 32x32 grey input; the decoder resizes (and refuses WebP)."""
    model = keras.Sequential([
        keras.Input((32, 32, 1), dtype="uint8"), layers.Normalize(),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Flatten(), keras.layers.Dense(3),
    ], name="grey")  # fmt: skip
    decoder = ImageDecoder(image_size=(32, 32), channels=1, formats=("jpeg", "png", "gif", "bmp"))
    return _export(model, tmp_path_factory.mktemp("grey") / "saved", decoder)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[Path, str]:
    return make_bad_files(tmp_path_factory.mktemp("bad"))


# ---------------------------------------------------------------------- signatures, parity


def test_signatures_take_any_size_uint8_and_a_string_batch(five_layers, grey):
    for exported, channels, classes in ((five_layers, 3, 4), (grey, 1, 3)):
        signatures = exported.served.signatures
        assert set(signatures) == {"serving_default", "serving_bytes"}
        default = signatures["serving_default"]
        spec = default.structured_input_signature[1]["images"]
        assert (spec.shape.as_list(), spec.dtype) == ([None, None, None, channels], tf.uint8)
        spec = signatures["serving_bytes"].structured_input_signature[1]["image_bytes"]
        assert (spec.shape.as_list(), spec.dtype) == ([None], tf.string)
        for fn in signatures.values():
            (name, out), = fn.structured_outputs.items()
            assert (name, out.shape.as_list(), out.dtype) == ("outputs", [None, classes], tf.float32)


@pytest.mark.parametrize("shape", [(1, 17, 23), (3, 40, 31), (6, 64, 48)])
def test_serving_default_equals_the_model_when_the_model_resizes(five_layers, shape):
    batch = _batch(*shape)
    served = five_layers.default(batch)["outputs"]
    assert _delta(served, _predict(five_layers.model, batch)) == 0.0
    assert _delta(five_layers.default(batch)["outputs"], served) == 0.0  # repeated: identical
    # The comparison is not vacuous: in training the random layers do change the output.
    assert _delta(np.asarray(five_layers.model(batch, training=True)), served) > 0.0


@pytest.mark.parametrize("shape", [(2, 50, 70), (1, 32, 32), (5, 17, 90)])
def test_serving_default_resizes_exactly_like_the_decoder(grey, shape):
    batch = _batch(*shape, c=1)
    served = grey.default(batch)["outputs"]
    assert _delta(served, _predict(grey.model, _decoded(grey.decoder, batch))) == 0.0
    blobs = [png_bytes(image) for image in batch]
    assert _delta(grey.bytes(blobs)["outputs"], served) == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"image_size": (32, 40)},
        {"image_size": (32, 40), "crop_to_aspect_ratio": True},
        {"image_size": (21, 13), "crop_to_aspect_ratio": True, "channels": 1},
        {"image_size": (20, 20), "interpolation": "bicubic", "dtype": "float32"},
        {"image_size": (20, 20), "interpolation": "area", "dtype": "uint16", "channels": 4},
        {"image_size": (33, 17), "interpolation": "nearest"},
        {"image_size": None, "dtype": "uint16"},
    ],
)
def test_raw_images_follow_the_decoders_resize_and_rounding(kwargs):
    decoder = ImageDecoder(**kwargs)
    for shape in ((3, 50, 70), (2, 17, 90), (1, 32, 40)):
        batch = _batch(*shape, c=decoder.channels)
        ours = decoder.resize_images(tf.constant(batch)).numpy()
        reference = _decoded(decoder, batch)
        assert ours.dtype == reference.dtype
        assert _delta(ours, reference) == 0.0


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[str]:
    folder = tmp_path_factory.mktemp("files")
    rgb = lambda h, w: smooth_image(RNG, h, w)  # noqa: E731
    files = {
        "large.jpg": jpeg_bytes(rgb(800, 1000)),  # 1000x800: decoded at DCT scale 1/2 for 224
        "small.jpg": jpeg_bytes(rgb(300, 260)),
        "photo.png": png_bytes(rgb(150, 90)),
        "lossy.webp": webp_bytes(rgb(240, 320)),
        "lossless.webp": webp_bytes(rgb(100, 120), lossless=True),
        "anim.gif": gif_bytes(rgb(64, 80)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [str(folder / name) for name in files]


@pytest.mark.parametrize("crop", [False, True], ids=["resize", "crop_to_aspect_ratio"])
def test_serving_bytes_equals_the_model_on_from_files(image_files, tmp_path, crop):
    def dataset(batch_size):
        return kerasimg.data.from_files(
            image_files, image_size=(224, 224), crop_to_aspect_ratio=crop,
            batch_size=batch_size, shuffle=False,
        )  # fmt: skip

    ds = dataset(len(image_files))
    inputs = keras.Input((224, 224, 3), dtype="uint8")
    x = keras.layers.Conv2D(4, 5, strides=4, activation="relu")(layers.Normalize()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(x)))
    exported = _export(model, tmp_path / "saved", decoder=ds.decoder)
    blobs = [Path(p).read_bytes() for p in image_files]
    # The same batches on both sides (float kernels may round differently for another batch size).
    assert _delta(exported.bytes(blobs)["outputs"], _predict(model, next(iter(ds)))) == 0.0
    for blob, one in zip(blobs, dataset(1), strict=True):  # one file per request
        assert _delta(exported.bytes([blob])["outputs"], _predict(model, one)) == 0.0
    # The large JPEG really was decoded at a reduced DCT scale (not full size, then resized).
    full = ImageDecoder(image_size=None).decode(blobs[0]).numpy()
    assert full.shape == (800, 1000, 3)
    via_full = ds.decoder.resize_images(tf.constant(full[None])).numpy()[0]
    assert _delta(via_full, ds.decoder.decode(blobs[0]).numpy()) > 0


# ---------------------------------------------------------------------- bad bytes


@pytest.mark.parametrize("which", ["five_layers", "grey"])
def test_bad_bytes_are_refused_with_kerasimg_and_the_reason(which, bad_files, request):
    exported = request.getfixturevalue(which)
    good = png_bytes(smooth_image(RNG, 30, 40, exported.decoder.channels))
    assert len(bad_files) == 13  # empty, text, HTML, TIFF, magic-only x2, truncated x4, CRC, bombs x2
    for path, reason in bad_files.items():
        with pytest.raises(tf.errors.InvalidArgumentError) as info:
            exported.bytes([good, path.read_bytes()])
        pattern = r"kerasimg: image_bytes\[1\]: [^\]\n]*" + re.escape(reason)
        assert re.search(pattern, info.value.message), (path.name, info.value.message)


def test_the_first_bad_image_is_named_and_disallowed_formats_refused(grey):
    good = png_bytes(smooth_image(RNG, 30, 40, 1))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"kerasimg: image_bytes\[2\]: empty file"):
        grey.bytes([good, good, b"", b"text"])
    webp = webp_bytes(smooth_image(RNG, 30, 40))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"\[0\]: format webp not allowed"):
        grey.bytes([webp])


def test_empty_requests_give_empty_outputs(five_layers, grey):
    for exported, channels, classes in ((five_layers, 3, 4), (grey, 1, 3)):
        assert exported.default(np.zeros((0, 9, 9, channels), np.uint8))["outputs"].shape == (0, classes)
        assert exported.bytes(np.zeros((0,), object))["outputs"].shape == (0, classes)


# ---------------------------------------------------------------------- model kinds


def test_two_outputs_keep_their_names(tmp_path):
    inputs = keras.Input((20, 20, 3), dtype="uint8")
    x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(layers.Normalize()(inputs)))
    label = keras.layers.Dense(3, activation="softmax", name="label")(x)
    score = keras.layers.Dense(1, activation="sigmoid", name="score")(x)
    model = keras.Model(inputs, [label, score])
    exported = _export(model, tmp_path / "saved")  # decoder from the input: resize to 20x20
    batch = _batch(4, 35, 27)
    decoded = _decoded(ImageDecoder(image_size=(20, 20)), batch)
    served = exported.default(batch)
    by_bytes = exported.bytes([png_bytes(image) for image in batch])
    assert set(served) == set(by_bytes) == {"label", "score"}
    # Exact against the model run as a TF graph. Eager differs by an ulp at most on "score":
    # Grappler fuses MatMul+BiasAdd+Sigmoid in any graph (tf.function too), eager does not.
    as_graph = tf.function(lambda x: model(x, training=False))(decoded)
    eager = model(decoded, training=False)
    for name, graph, value in zip(("label", "score"), as_graph, eager, strict=True):
        assert _delta(served[name], graph) == 0.0
        assert _delta(by_bytes[name], graph) == 0.0
        assert _delta(served[name], value) <= 1.2e-7


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_outputs_are_float32_and_exact(tmp_path, policy):
    keras.config.set_dtype_policy(policy)
    try:
        model = keras.Sequential([
            keras.Input((None, None, 3), dtype="uint8"), layers.Resize(16, 16),
            layers.RandomFlip(seed=1), layers.Normalize(),
            keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ])  # fmt: skip
    finally:
        keras.config.set_dtype_policy("float32")
    assert model.outputs[0].dtype == policy.removeprefix("mixed_")  # the model's own dtype
    exported = _export(model, tmp_path / "saved")
    batch = _batch(3, 21, 30)
    served = exported.default(batch)["outputs"]
    assert served.dtype == np.float32
    assert _delta(served, _predict(model, batch)) == 0.0
    by_bytes = exported.bytes([png_bytes(image) for image in batch])["outputs"]
    for i, image in enumerate(batch):  # native size: each image runs alone
        assert _delta(by_bytes[i : i + 1], _predict(model, image[None])) == 0.0


def test_reexport_after_a_keras_file_round_trip_is_identical(grey, five_layers, tmp_path):
    # The decoder's settings travel with the SavedModel (assets.extra/, ignored by TF Serving).
    config = json.loads((Path(grey.path) / "assets.extra" / "kerasimg_decoder.json").read_text())
    assert ImageDecoder.from_config(config).get_config() == grey.decoder.get_config()
    five_layers.model.save(tmp_path / "model.keras")
    reloaded = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    again = _export(reloaded, tmp_path / "again")
    tf.saved_model.save(five_layers.served, tmp_path / "resaved", signatures=dict(five_layers.served.signatures))
    resaved = Exported(None, None, "", tf.saved_model.load(str(tmp_path / "resaved")))
    batch = _batch(2, 45, 33)
    blobs = [png_bytes(image) for image in batch]
    first = (five_layers.default(batch)["outputs"], five_layers.bytes(blobs)["outputs"])
    for other in (again, resaved):
        assert _delta(other.default(batch)["outputs"], first[0]) == 0.0
        assert _delta(other.bytes(blobs)["outputs"], first[1]) == 0.0


# ---------------------------------------------------------------------- other processes

SERVE_AND_CLI = r"""
import json, runpy, sys
import numpy as np
import tensorflow as tf

export_dir, cli, blobs_json, images_literal, bytes_literal = sys.argv[1:6]
served = tf.saved_model.load(export_dir)
images = np.load("images.npy")
blobs = [open(p, "rb").read() for p in json.loads(blobs_json)]
np.savez("loaded.npz", default=served.serving_default(tf.constant(images))["outputs"].numpy(),
         bytes=served.signatures["serving_bytes"](image_bytes=tf.constant(blobs))["outputs"].numpy())
for args in (["show", "--dir", export_dir, "--all"],
             ["run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", "serving_default",
              "--input_exprs", "images=" + images_literal, "--outdir", "cli_default"],
             ["run", "--dir", export_dir, "--tag_set", "serve", "--signature_def", "serving_bytes",
              "--input_exprs", "image_bytes=" + bytes_literal, "--outdir", "cli_bytes"]):
    print("=== saved_model_cli", args[0], flush=True)
    sys.argv = [cli, *args]
    try:
        runpy.run_path(cli, run_name="__main__")
    except SystemExit as exit:
        assert not exit.code, exit.code
assert not [m for m in sys.modules if m.split(".")[0] == "kerasimg"]
"""


def test_saved_model_serves_in_a_process_without_kerasimg(grey, tmp_path):
    images = _batch(2, 9, 7, c=1)
    np.save(tmp_path / "images.npy", images)
    small = png_bytes(smooth_image(RNG, 12, 10, 1))
    blob_paths = [tmp_path / "a.png", tmp_path / "b.jpg"]
    blob_paths[0].write_bytes(small)
    blob_paths[1].write_bytes(jpeg_bytes(smooth_image(RNG, 60, 50)))
    cli = str(REPO / ".venv" / "bin" / "saved_model_cli")
    if not os.path.exists(cli):
        cli = str(Path(sys.executable).parent / "saved_model_cli")
    result = _run(
        SERVE_AND_CLI, grey.path, cli, json.dumps([str(p) for p in blob_paths]),
        # saved_model_cli splits --input_exprs at ";": escape it inside the bytes literal.
        repr(images.tolist()), repr([small]).replace(";", "\\x3b"), cwd=tmp_path,
    )  # fmt: skip
    loaded = np.load(tmp_path / "loaded.npz")
    assert _delta(loaded["default"], grey.default(images)["outputs"]) == 0.0
    assert _delta(loaded["bytes"], grey.bytes([p.read_bytes() for p in blob_paths])["outputs"]) == 0.0
    assert _delta(np.load(tmp_path / "cli_default" / "outputs.npy"), loaded["default"]) == 0.0
    # (the same batch as in-process: batch 1 and batch 2 may differ in the last float bits)
    assert _delta(np.load(tmp_path / "cli_bytes" / "outputs.npy"), grey.bytes([small])["outputs"]) == 0.0
    show = result.stdout.split("=== saved_model_cli show")[1].split("=== saved_model_cli run")[0]
    for text in ("signature_def['serving_default']", "inputs['images']", "DT_UINT8",
                 "shape: (-1, -1, -1, 1)", "signature_def['serving_bytes']",
                 "inputs['image_bytes']", "DT_STRING", "outputs['outputs']"):  # fmt: skip
        assert text in show, show


BOMB = r"""
import json, re, resource, sys
import tensorflow as tf

serve = tf.saved_model.load(sys.argv[1]).signatures["serving_bytes"]

def maxrss():  # ru_maxrss, bytes; it also keeps the peaks of exited threads and cannot be reset
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

def hwm():  # the address space's peak RSS (VmHWM), bytes; reset by reset_hwm()
    with open("/proc/self/status") as f:
        return int(re.search(r"VmHWM:\s+(\d+) kB", f.read())[1]) * 1024

def reset_hwm():  # Linux >= 4.0: the peak restarts at the current RSS
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")

def send(name):
    try:
        serve(image_bytes=tf.constant([open(name, "rb").read()]))
        return ""
    except tf.errors.InvalidArgumentError as err:
        return err.message

def measure(name):
    reset_hwm()
    before, before_maxrss = hwm(), maxrss()
    message = send(name)
    return message, hwm() - before, maxrss() - before_maxrss

send("small.png"), send("small.png")  # warm up
bomb, bomb_growth, bomb_maxrss_growth = measure("bomb.png")
control, control_growth, _ = measure("control.png")  # a legal 6000x6000 image: it is decoded
print(json.dumps({"bomb": bomb, "bomb_growth": bomb_growth, "bomb_maxrss_growth": bomb_maxrss_growth,
                  "control": control, "control_growth": control_growth}))
"""


def test_png_bomb_is_refused_before_decoding(grey, tmp_path):
    (tmp_path / "small.png").write_bytes(png_bytes(smooth_image(RNG, 40, 40, 1)))
    (tmp_path / "bomb.png").write_bytes(png_bomb(20_000, 20_000))
    # a 16-bit control: a legal 36-Mpixel grey decode that allocates well over 64 MiB (72 MB at
    # 16 bits, then 144 MB of float32), so the probe is shown to see a real decode
    (tmp_path / "control.png").write_bytes(png_bytes(np.zeros((6000, 6000), np.uint16)))
    result = _run(BOMB, grey.path, cwd=tmp_path)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert "kerasimg: image_bytes[0]: image is 20000x20000 = 400000000 pixels" in figures["bomb"]
    assert figures["bomb_growth"] < 64 * 2**20, figures
    assert figures["bomb_maxrss_growth"] < 64 * 2**20, figures
    assert figures["control"] == ""
    assert figures["control_growth"] > 64 * 2**20, figures  # the probe does see a real decode


JAX_EXPORT = r"""
import keras, numpy as np
from kerasimg import layers
from kerasimg.export import export

assert keras.backend.backend() == "jax"
model = keras.Sequential([keras.Input((None, None, 3), dtype="uint8"), layers.Resize(16, 16),
                          layers.Normalize(), keras.layers.Conv2D(4, 3), keras.layers.Flatten(),
                          keras.layers.Dense(3)])
images = np.random.default_rng(0).integers(0, 256, (2, 20, 30, 3), dtype=np.uint8)
np.save("images.npy", images)
np.save("expected.npy", np.asarray(model(images, training=False)))
model.save("model.keras")
try:
    export(model, "saved")
except RuntimeError as err:
    print("RuntimeError:", err)
"""


def test_other_backends_are_refused_and_a_keras_file_exports_under_tensorflow(tmp_path):
    result = _run(JAX_EXPORT, cwd=tmp_path, env={**ENV, "KERAS_BACKEND": "jax"}, isolated=False)
    assert "RuntimeError: kerasimg.export needs the TensorFlow Keras backend" in result.stdout
    assert "KERAS_BACKEND=tensorflow" in result.stdout and not (tmp_path / "saved").exists()
    model = keras.saving.load_model(tmp_path / "model.keras", safe_mode=True)
    exported = _export(model, tmp_path / "saved")
    served = exported.default(np.load(tmp_path / "images.npy"))["outputs"]
    np.testing.assert_allclose(served, np.load(tmp_path / "expected.npy"), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------- invalid arguments


def _model(shape, n_inputs=1) -> keras.Model:
    inputs = [keras.Input(shape, dtype="uint8") for _ in range(n_inputs)]
    x = inputs[0] if n_inputs == 1 else keras.layers.Concatenate()(inputs)
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(x)))


@pytest.mark.parametrize(
    "make, error, text",
    [
        (lambda p: export("model", p), TypeError, "model must be a keras.Model, received str"),
        (lambda p: export(_model((8, 8, 3)), p, decoder={"image_size": 8}), TypeError,
         "decoder must be a kerasimg.data.ImageDecoder"),
        (lambda p: export(_model((8, 8, 3)), ""), TypeError, "path must be a non-empty"),
        (lambda p: export(_model((8, 8, 3)), Path(__file__)), ValueError, "received the file"),
        (lambda p: export(keras.Sequential([keras.layers.Dense(2)]), p), ValueError, "is not built"),
        (lambda p: export(_model((8, 8, 3), n_inputs=2), p), ValueError, "has 2 inputs"),
        (lambda p: export(_model((10,)), p), ValueError, "[batch, height, width, channels]"),
        (lambda p: export(_model((8, 8, 2)), p), ValueError, "must be 1, 3 or 4 channels"),
        (lambda p: export(_model((8, 8, 3)), p, ImageDecoder(image_size=(8, 8), channels=1)),
         ValueError, "decoder.channels=1 does not match the model input shape (None, 8, 8, 3)"),
        (lambda p: export(_model((8, 8, 3)), p, ImageDecoder(image_size=(16, 16))), ValueError,
         "decoder.image_size=(16, 16) does not match the model input shape (None, 8, 8, 3)"),
    ],
)  # fmt: skip
def test_invalid_arguments_are_named(make, error, text, tmp_path):
    with pytest.raises(error) as info:
        make(tmp_path / "saved")
    assert text in str(info.value)
    assert not (tmp_path / "saved").exists()


def test_serving_default_refuses_empty_and_oversized_images(tmp_path):
    """Issue 10: the raw-pixel signature has the bytes path's bounds, with a kerasimg: message."""
    inputs = keras.Input((8, 8, 3), dtype="uint8")
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(layers.Normalize()(inputs)))
    decoder = ImageDecoder(image_size=(8, 8), max_pixels=400)
    exported = _export(model, tmp_path / "bounded", decoder=decoder)
    assert exported.default(np.zeros((2, 20, 20, 3), np.uint8))["outputs"].shape == (2, 3)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"kerasimg: images: empty image \(0x5\)"):
        exported.default(np.zeros((1, 5, 0, 3), np.uint8))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"kerasimg: images: image is 21x20 = 420 pixels, over max_pixels=400"):
        exported.default(np.zeros((1, 20, 21, 3), np.uint8))
