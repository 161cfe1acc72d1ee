"""A model with kerasimg layers trains under the PyTorch backend; its ``.keras`` file reloads,
predicts the same and exports under TensorFlow.

Each backend runs in its own process (``KERAS_BACKEND`` is read once, at ``import keras``).
Skipped where torch is not installed: it is not in the ``test`` extra (a large wheel), see
``make test-torch``.

Layers covered: Resize, RandomFlip, RandomBrightness, RandomContrast, Normalize, and CenterCrop,
RandomCrop, RandomResizedCrop where the package has them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed"),
]

TRAIN_UNDER_TORCH = r"""
import json, sys
import keras, numpy as np, torch
from kerasimg import layers
assert keras.backend.backend() == "torch"
out = sys.argv[1]
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
# two classes: dark and bright images, with noise
labels = rng.integers(0, 2, 96)
images = np.clip(rng.normal(70 + 110 * labels[:, None, None, None], 30, (96, 40, 36, 3)), 0, 255)
images = images.astype("uint8")
inputs = keras.Input((40, 36, 3), dtype="uint8")
x, used = inputs, []
for name, args in (("RandomResizedCrop", (36, 36)), ("RandomCrop", (34, 34)), ("CenterCrop", (32, 32))):
    if hasattr(layers, name):
        x = getattr(layers, name)(*args, **({"seed": 1} if name.startswith("Random") else {}))(x)
        used.append(name)
x = layers.Resize(24, 24)(x)
x = layers.RandomFlip("horizontal", seed=2)(x)
x = layers.RandomBrightness(0.1, seed=3)(x)
x = layers.RandomContrast(0.2, seed=4)(x)
x = layers.Normalize()(x)
used += ["Resize", "RandomFlip", "RandomBrightness", "RandomContrast", "Normalize"]
x = keras.layers.Conv2D(4, 3, activation="relu")(x)
x = keras.layers.GlobalAveragePooling2D()(x)
outputs = keras.layers.Dense(2, activation="softmax")(x)
model = keras.Model(inputs, outputs)
model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(images, labels, batch_size=16, epochs=4, verbose=0)
# random layers are active in training: two calls on the same batch differ
brightness = next(layer for layer in model.layers if isinstance(layer, layers.RandomBrightness))
a = keras.ops.convert_to_numpy(brightness(images[:8], training=True))
b = keras.ops.convert_to_numpy(brightness(images[:8], training=True))
test = rng.integers(0, 256, (5, 40, 36, 3)).astype("uint8")
np.save(out + "/test.npy", test)
np.save(out + "/torch_pred.npy", keras.ops.convert_to_numpy(model.predict(test, verbose=0)))
model.save(out + "/model.keras")
print(json.dumps({"loss": history.history["loss"], "random_differs": bool((a != b).any()),
                  "used": used}))
"""

RELOAD_UNDER_TF = r"""
import json, sys
import keras, numpy as np, tensorflow as tf
import kerasimg
assert keras.backend.backend() == "tensorflow"
out = sys.argv[1]
model = keras.saving.load_model(out + "/model.keras", safe_mode=True)  # no custom_objects
test = np.load(out + "/test.npy")
pred = keras.ops.convert_to_numpy(model(test, training=False))
served = tf.saved_model.load(kerasimg.export(model, out + "/saved_model"))
exported = served.signatures["serving_default"](images=tf.constant(test))["outputs"].numpy()
print(json.dumps({
    "delta_torch_tf": float(np.abs(pred - np.load(out + "/torch_pred.npy")).max()),
    "delta_export": float(np.abs(exported - pred).max()),
}))
"""


def _run(script: str, backend: str, out: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, "-c", script, out], capture_output=True, text=True, timeout=600, env=env
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_trains_under_torch_and_reloads_under_tensorflow(tmp_path):
    trained = _run(TRAIN_UNDER_TORCH, "torch", str(tmp_path))
    losses = trained["loss"]
    assert all(loss == loss for loss in losses), losses  # no NaN
    assert losses[-1] < losses[0], losses
    assert trained["random_differs"]
    reloaded = _run(RELOAD_UNDER_TF, "tensorflow", str(tmp_path))
    # the same weights and layers on another backend: float32 rounding apart
    assert reloaded["delta_torch_tf"] <= 1e-5, reloaded
    assert reloaded["delta_export"] <= 1e-6, reloaded
