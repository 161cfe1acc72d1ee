"""kerasimg.layers with Keras and JAX alone: a child process in which ``import tensorflow`` fails.

The machine a JAX or PyTorch user trains on (and the GPU machine benchmarks/gpu.sh targets)
may have no TensorFlow at all. The child imports kerasimg and its layers, runs every layer of
the contract table as one stack under ``jax.jit`` in training and inference mode, adapts a
``Normalize``, trains a step with ``jit_compile=True``, saves and reloads a ``.keras`` file,
and checks that TensorFlow was never imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from without_tensorflow import env_without_tensorflow

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

CHILD = r"""
import sys
import jax
import keras
import numpy as np

import kerasimg
from kerasimg import layers
from strategies import CONTRACT

assert keras.backend.backend() == "jax", keras.backend.backend()
assert "tensorflow" not in sys.modules
try:
    import tensorflow  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("the blocker did not block tensorflow")

# every layer of the contract table, Normalize last (it maps 0..255 to about -2..2)
rows = sorted(CONTRACT, key=lambda row: row[0] == "normalize")
stack = [cls(**kwargs) for _, cls, kwargs in rows]
normalize = next(layer for layer in stack if isinstance(layer, layers.Normalize))
x = np.random.default_rng(0).integers(0, 256, (4, 20, 24, 3)).astype("uint8")
normalize.adapt(x.astype("float32") / 2.0)
assert normalize.built

inputs = keras.Input((20, 24, 3), dtype="uint8")
y = inputs
for layer in stack:
    y = layer(y)
features = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(y))
model = keras.Model(inputs, features)
head = keras.Model(inputs, y)

trainable = [v.value for v in head.trainable_variables]
state = [v.value for v in head.non_trainable_variables]
train_step = jax.jit(lambda s, a: head.stateless_call(trainable, s, a, training=True))
infer_step = jax.jit(lambda s, a: head.stateless_call(trainable, s, a, training=False))
first, state = train_step(state, x)
second, state = train_step(state, x)
assert np.all(np.isfinite(np.asarray(first))) and np.all(np.isfinite(np.asarray(second)))
assert not np.array_equal(np.asarray(first), np.asarray(second)), "training draws moved on"
inferred, _ = infer_step(state, x)
again, _ = infer_step(state, x)
np.testing.assert_array_equal(np.asarray(inferred), np.asarray(again))

seeded = layers.apply_layers(stack[:3], x, seed=5)
np.testing.assert_array_equal(np.asarray(seeded), np.asarray(layers.apply_layers(stack[:3], x, seed=5)))

model.compile(optimizer="sgd", loss="mse", jit_compile=True)
loss = float(model.train_on_batch(x, np.zeros((4, 2), "float32")))
assert np.isfinite(loss)

path = sys.argv[1] + "/model.keras"
model.save(path)
reloaded = keras.saving.load_model(path, safe_mode=True)
np.testing.assert_array_equal(
    np.asarray(model.predict(x, verbose=0)), np.asarray(reloaded.predict(x, verbose=0)))
assert "tensorflow" not in sys.modules, sorted(m for m in sys.modules if m.startswith("tensorflow"))
print("layers without tensorflow: ok", [type(layer).__name__ for layer in stack])
"""


@pytest.mark.slow
def test_layers_run_save_and_reload_without_tensorflow(tmp_path):
    env = env_without_tensorflow(tmp_path)
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{TESTS}:{ROOT}"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path, env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "layers without tensorflow: ok" in done.stdout


def test_import_kerasimg_does_not_import_tensorflow(tmp_path):
    """``import kerasimg`` (layers included) leaves TensorFlow alone until data or export is used."""
    code = (
        "import sys, kerasimg, kerasimg.layers\n"
        "assert 'tensorflow' not in sys.modules, 'imported by kerasimg'\n"
        "assert callable(kerasimg.export)\n"
    )
    env = env_without_tensorflow(tmp_path)
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{ROOT}"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    # with TensorFlow installed: imported on first use of kerasimg.data, and export stays a function
    code += (
        "assert kerasimg.data.from_files and 'tensorflow' in sys.modules\n"
        "import kerasimg.export\n"
        "assert callable(kerasimg.export) and kerasimg.export.__module__ == 'kerasimg'\n"
    )
    env = {**env, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
