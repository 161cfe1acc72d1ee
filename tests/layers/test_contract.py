"""Cross-cutting contract of every layer, driven by the CONTRACT table.

Runs under whatever KERAS_BACKEND is set (`make test` runs it under TensorFlow and JAX).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from strategies import (
    CONTRACT,
    CONTRACT_IDS,
    CROPS,
    RANDOM_CONTRACT,
    RANDOM_IDS,
    SHAPE_KEEPING,
    xla,
)

import kerasimg

BACKEND = keras.backend.backend()


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def batch(shape=(4, 9, 11, 3), dtype="uint8", seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, shape).astype(dtype)


@pytest.fixture
def policy():
    """Set a global dtype policy for one test and restore float32 after."""
    yield keras.mixed_precision.set_global_policy
    keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
@pytest.mark.parametrize("dtype", ["uint8", "int32", "uint16", "float16", "float32", "float64"])
@pytest.mark.parametrize("rank", [3, 4])
def test_dtypes_and_ranks(name, cls, kwargs, dtype, rank):
    x = batch(dtype=dtype)
    if rank == 3:
        x = x[0]
    y = cls(**kwargs)(x, training=True)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    expected = cls(**kwargs).compute_output_shape(x.shape)
    assert tuple(y.shape) == tuple(expected)
    assert np.all(np.isfinite(to_np(y)))


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_channels_first_matches_channels_last(name, cls, kwargs, channels):
    kwargs = dict(kwargs)
    if name == "normalize":
        kwargs.update(mean=[7.0] * channels, std=[3.0] * channels)
    x = batch((3, 6, 8, channels))
    last = cls(**kwargs, data_format="channels_last")
    first = cls(**kwargs, data_format="channels_first")
    t = last.get_random_transformation(x, seed=11)
    y_last = to_np(last.transform_images(x, t))
    y_first = to_np(first.transform_images(np.moveaxis(x, -1, 1), t))
    np.testing.assert_allclose(np.moveaxis(y_first, 1, -1), y_last, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_wrong_channel_count_is_refused(name, cls, kwargs):
    with pytest.raises(ValueError, match="channel"):
        cls(**kwargs)(batch((2, 4, 4, 2)))


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
@pytest.mark.parametrize("mixed", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision(name, cls, kwargs, mixed, policy):
    policy(mixed)
    layer = cls(**kwargs)
    for x in (batch(), batch().astype("float32")):
        y = layer(x, training=True)
        assert keras.backend.standardize_dtype(y.dtype) == mixed.split("_")[1]
        assert np.all(np.isfinite(to_np(keras.ops.cast(y, "float32"))))
    # inside a model with a uint8 input
    inputs = keras.Input((9, 11, 3), dtype="uint8")
    model = keras.Model(inputs, cls(**kwargs)(inputs))
    assert keras.backend.standardize_dtype(model(batch()).dtype) == mixed.split("_")[1]


@pytest.mark.parametrize("name,cls,kwargs", RANDOM_CONTRACT, ids=RANDOM_IDS)
def test_independent_values_per_image(name, cls, kwargs):
    x = np.repeat(batch((1, 6, 6, 3)), 64, axis=0)  # 64 copies of one image
    layer = cls(**kwargs)
    t = layer.get_random_transformation(x)
    for value in t.values():
        assert tuple(value.shape) == (64,)
    y = to_np(layer(x)).reshape(64, -1)
    distinct = {row.tobytes() for row in y}
    if name in CROPS:  # each image its own box; a 6x6 image has few boxes, so they repeat
        boxes = {tuple(int(to_np(t[k])[i]) for k in sorted(t)) for i in range(64)}
        crops = {row.tobytes() for row in to_np(layer.transform_images(x, t)).reshape(64, -1)}
        assert len(crops) == len(boxes) >= 6 and len(distinct) >= 6
        return
    # brightness/contrast: every image its own draw; flip: the 4 coin patterns
    assert len(distinct) == (4 if name == "flip" else 64)


@pytest.mark.parametrize("name,cls,kwargs", SHAPE_KEEPING, ids=[row[0] for row in SHAPE_KEEPING])
def test_identity_at_inference(name, cls, kwargs):
    x = batch()
    np.testing.assert_array_equal(to_np(cls(**kwargs)(x, training=False)), x.astype("float32"))


@pytest.mark.parametrize("name,cls,kwargs", RANDOM_CONTRACT, ids=RANDOM_IDS)
def test_seeded_layers_reproduce_unseeded_vary(name, cls, kwargs):
    x = batch()
    a, b = cls(**kwargs), cls(**kwargs)
    np.testing.assert_array_equal(to_np(a(x)), to_np(b(x)))
    other = cls(**{**kwargs, "seed": kwargs["seed"] + 1000})
    assert not np.array_equal(to_np(cls(**kwargs)(x)), to_np(other(x)))
    unseeded = cls(**{**kwargs, "seed": None})
    # two calls of an unseeded flip repeat by chance 1 time in 256 (8 coins for 4 images): of
    # four calls, one must differ from the first (a false failure: 1 in 2^32)
    calls = [to_np(unseeded(x)) for _ in range(4)]
    assert any(not np.array_equal(calls[0], other_call) for other_call in calls[1:])
    # stateless draws: the same seed gives the same transformation
    t1 = to_np(a.get_random_transformation(x, seed=5)[next(iter(a.get_random_transformation(x, seed=5)))])
    t2 = to_np(b.get_random_transformation(x, seed=5)[next(iter(b.get_random_transformation(x, seed=5)))])
    np.testing.assert_array_equal(t1, t2)


_CHILD = """
import json, sys, numpy as np, keras
from kerasimg import layers
x = np.random.default_rng(0).integers(0, 256, (8, 6, 6, 3)).astype("uint8")
out = {}
for name, kwargs in json.loads(sys.argv[1]).items():
    layer = getattr(layers, name)(**kwargs)
    out[name] = [np.asarray(keras.ops.convert_to_numpy(layer(x))).tolist() for _ in range(2)]
print(json.dumps(out))
"""


def test_seed_reproducible_across_processes():
    spec = json.dumps({cls.__name__: kwargs for _, cls, kwargs in RANDOM_CONTRACT})
    runs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, spec], capture_output=True, text=True, check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert runs[0] == runs[1]
    for first_call, second_call in runs[0].values():
        assert first_call != second_call  # a seeded layer still moves on between calls


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_in_tf_data_map(name, cls, kwargs):
    layer = cls(**kwargs)
    ds = tf.data.Dataset.from_tensor_slices(batch((8, 9, 11, 3))).batch(4)
    ds = ds.map(lambda x: layer(x, training=True), num_parallel_calls=2)
    outs = [o.numpy() for o in ds]
    assert [o.shape for o in outs] == [tuple(layer.compute_output_shape((4, 9, 11, 3)))] * 2
    assert all(o.dtype == np.float32 and np.all(np.isfinite(o)) for o in outs)
    # transform_images in tf.data with an injected transformation gives the eager result
    x = batch((4, 9, 11, 3))
    t = layer.get_random_transformation(x, seed=1)
    eager = to_np(layer.transform_images(x, t))
    t_np = None if t is None else {k: to_np(v) for k, v in t.items()}
    mapped = tf.data.Dataset.from_tensors(x).map(lambda b: layer.transform_images(b, t_np))
    np.testing.assert_allclose(next(iter(mapped)).numpy(), eager, rtol=1e-6, atol=1e-4)
    # stateless seeded draws inside a parallel map are reproducible
    seeded = tf.data.Dataset.from_tensors(x).repeat(4).map(
        lambda b: layer.apply_with_seed(b, seed=[1, 0]), num_parallel_calls=4)
    results = [o.numpy() for o in seeded]
    for other in results[1:]:
        np.testing.assert_array_equal(other, results[0])


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_xla_matches_eager(name, cls, kwargs):
    layer = cls(**kwargs)
    x = batch()
    t = layer.get_random_transformation(x, seed=2)
    eager = to_np(layer.transform_images(x, t))
    compiled = to_np(xla(lambda images, tr: layer.transform_images(images, tr))(x, t))
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-3)


def _stack(**overrides):
    inputs = keras.Input((None, None, 3), dtype="uint8")
    x = kerasimg.layers.Resize(16, 16)(inputs)
    x = kerasimg.layers.RandomFlip("horizontal_and_vertical", seed=1)(x)
    x = kerasimg.layers.RandomBrightness(0.2, seed=2)(x)
    x = kerasimg.layers.RandomContrast((0.1, 0.3), seed=3)(x)
    x = kerasimg.layers.Normalize(mean=[120.0, 110.0, 100.0], std=[60.0, 61.0, 62.0])(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2)(x))


def test_model_trains_under_jit_compile():
    model = _stack()
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x, y = batch((8, 20, 24, 3)), np.zeros((8, 2), "float32")
    losses = [float(model.train_on_batch(x, y)) for _ in range(3)]
    assert all(np.isfinite(losses))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_file_reloads_safely_with_identical_output(tmp_path):
    model = _stack()
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path, safe_mode=True)  # no custom_objects
    x = batch((3, 20, 24, 3))
    np.testing.assert_array_equal(to_np(model(x, training=False)), to_np(reloaded(x, training=False)))
    assert [type(layer).__name__ for layer in reloaded.layers[1:6]] == [
        "Resize", "RandomFlip", "RandomBrightness", "RandomContrast", "Normalize"]


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_get_config_holds_every_init_argument(name, cls, kwargs):
    layer = cls(**kwargs)
    config = layer.get_config()
    params = [p for p in inspect.signature(cls.__init__).parameters.values()
              if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    assert params, cls
    for param in params:
        assert param.name in config, f"{cls.__name__}.get_config() lacks {param.name}"
    for key, value in kwargs.items():
        assert config[key] == value
    clone = cls.from_config(config)
    assert clone.get_config() == config
    x = batch()
    np.testing.assert_array_equal(to_np(layer(x)), to_np(clone(x)))


@pytest.mark.parametrize("name,cls,kwargs", CONTRACT, ids=CONTRACT_IDS)
def test_registered_serializable(name, cls, kwargs):
    assert keras.saving.get_registered_name(cls) == f"kerasimg>{cls.__name__}"
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(cls(**kwargs)))
    assert type(restored) is cls


@pytest.mark.parametrize(
    "cls,kwargs,argument",
    [
        (kerasimg.layers.RandomBrightness, {"factor": 2}, "factor"),
        (kerasimg.layers.RandomBrightness, {"factor": (0.5, -0.5)}, "factor"),
        (kerasimg.layers.RandomContrast, {"factor": 2}, "factor"),
        (kerasimg.layers.RandomContrast, {"factor": -0.1}, "factor"),
        (kerasimg.layers.RandomBrightness, {"factor": 0.1, "value_range": (255, 0)}, "value_range"),
        (kerasimg.layers.RandomContrast, {"factor": 0.1, "value_range": (1, 1)}, "value_range"),
        (kerasimg.layers.Normalize, {"value_range": (255, 0)}, "value_range"),
        (kerasimg.layers.RandomFlip, {"mode": "diagonal"}, "mode"),
        (kerasimg.layers.Resize, {"height": 0, "width": 4}, "height"),
        (kerasimg.layers.Resize, {"height": 4, "width": -1}, "width"),
        (kerasimg.layers.Resize, {"height": 4, "width": 4, "interpolation": "cubic"}, "interpolation"),
        (kerasimg.layers.Normalize, {"std": [1.0, 0.0, 1.0]}, "std"),
        (kerasimg.layers.Normalize, {"mean": [1.0, 2.0]}, "mean"),
        (kerasimg.layers.Normalize, {"mean": [1.0, 2.0, 3.0], "std": [1.0, 2.0, 3.0, 4.0]}, "std"),
        (kerasimg.layers.RandomFlip, {"seed": -1}, "seed"),
        (kerasimg.layers.RandomFlip, {"data_format": "NHWC"}, "data_format"),
        (kerasimg.layers.CenterCrop, {"height": 0, "width": 4}, "height"),
        (kerasimg.layers.RandomCrop, {"height": 4, "width": 2.5}, "width"),
        (kerasimg.layers.RandomCrop, {"height": 4, "width": 4, "seed": "x"}, "seed"),
        (kerasimg.layers.RandomResizedCrop, {"height": 4, "width": 4, "scale": (0.5, 0.1)}, "scale"),
        (kerasimg.layers.RandomResizedCrop, {"height": 4, "width": 4, "scale": (0.0, 1.0)}, "scale"),
        (kerasimg.layers.RandomResizedCrop, {"height": 4, "width": 4, "ratio": (2.0, 1.0)}, "ratio"),
        (kerasimg.layers.RandomResizedCrop, {"height": 4, "width": 4, "ratio": 1.0}, "ratio"),
        (kerasimg.layers.RandomResizedCrop, {"height": 4, "width": 4, "interpolation": "area"}, "interpolation"),
    ],
)
def test_bad_arguments_fail_at_construction(cls, kwargs, argument):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert f"`{argument}`" in message
    assert f"{argument}={kwargs[argument]!r}" in message


@pytest.mark.parametrize("minval, maxval", [(0.0, 1.0), (-0.3, 0.3)])
@pytest.mark.parametrize("shape", [(4,), (3, 22)])
def test_tensorflow_stateless_draw_is_tf_random_stateless_uniform(minval, maxval, shape):
    """The layers' stateless TensorFlow draw (``_uniform``, raw ops for U(0, 1)) gives exactly
    ``tf.random.stateless_uniform``'s values, eagerly and in a graph."""
    import types

    from kerasimg.layers.base import BaseImageLayer, backend_for

    seed = tf.constant([12, 34], tf.int64)
    owner = types.SimpleNamespace(backend=backend_for(seed))
    want = tf.random.stateless_uniform(shape, seed=seed, minval=minval, maxval=maxval).numpy()
    got = BaseImageLayer._uniform(owner, shape, minval, maxval, seed=seed)
    np.testing.assert_array_equal(np.asarray(got), want)
    graph = tf.function(lambda s: BaseImageLayer._uniform(owner, shape, minval, maxval, seed=s), autograph=False)
    np.testing.assert_array_equal(graph(seed).numpy(), want)
