"""Constructor arguments: numbers of any NumPy type are numbers, strings are not sequences.

Contract point 7: invalid arguments fail at construction with a ValueError naming the
argument and echoing the value. ``"01"`` is a string, not the pair (0, 1); ``np.float32(0.3)``
is a real number like ``0.3``; ``np.int64(224)`` an integer like ``224``.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kerasimg import layers


def to_np(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize(
    "cls,kwargs,argument",
    [
        (layers.RandomBrightness, {"factor": "01"}, "factor"),
        (layers.RandomBrightness, {"factor": "0.1"}, "factor"),
        (layers.RandomBrightness, {"factor": b"01"}, "factor"),
        (layers.RandomBrightness, {"factor": ("0", "1")}, "factor"),
        (layers.RandomBrightness, {"factor": (0.1, 0.2, 0.3)}, "factor"),
        (layers.RandomBrightness, {"factor": (True, False)}, "factor"),
        (layers.RandomBrightness, {"factor": np.nan}, "factor"),
        (layers.RandomBrightness, {"factor": 0.1, "value_range": "09"}, "value_range"),
        (layers.RandomContrast, {"factor": "01"}, "factor"),
        (layers.RandomContrast, {"factor": 0.1, "value_range": "09"}, "value_range"),
        (layers.RandomContrast, {"factor": 0.1, "value_range": ("0", "9")}, "value_range"),
        (layers.RandomContrast, {"factor": np.bool_(True)}, "factor"),
        (layers.Normalize, {"value_range": "09"}, "value_range"),
        (layers.RandomFlip, {"seed": "1"}, "seed"),
    ],
)
def test_strings_and_non_numbers_are_refused(cls, kwargs, argument):
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    message = str(info.value)
    assert f"`{argument}`" in message
    assert f"{argument}={kwargs[argument]!r}" in message


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (layers.RandomBrightness, {"factor": np.float32(0.3)}),
        (layers.RandomBrightness, {"factor": np.float16(0.5), "value_range": (np.int64(0), np.uint8(255))}),
        (layers.RandomBrightness, {"factor": (np.float32(-0.1), np.float64(0.2))}),
        (layers.RandomBrightness, {"factor": np.array([-0.2, 0.1]), "value_range": np.array([0.0, 1.0])}),
        (layers.RandomBrightness, {"factor": np.array(0.25)}),
        (layers.RandomContrast, {"factor": np.float32(0.3)}),
        (layers.RandomContrast, {"factor": np.array([0.1, 0.4], "float32")}),
        (layers.RandomContrast, {"factor": 1, "value_range": [np.int32(-1), np.int16(1)]}),
        (layers.RandomFlip, {"seed": np.int64(3)}),
    ],
)
def test_numpy_numbers_are_accepted_and_serialize(cls, kwargs):
    layer = cls(seed=1, **kwargs) if "seed" not in kwargs else cls(**kwargs)
    config = json.loads(json.dumps(layer.get_config()))  # plain Python numbers in the config
    clone = cls.from_config(config)
    x = np.random.default_rng(0).integers(0, 256, (3, 4, 5, 3)).astype("uint8")
    if "value_range" in kwargs and float(np.max(kwargs["value_range"])) <= 1:
        x = (x / 255.0).astype("float32")
    np.testing.assert_array_equal(to_np(layer(x)), to_np(clone(x)))


def test_numpy_factor_gives_the_float_factor_draws():
    x = np.random.default_rng(0).integers(0, 256, (8, 4, 4, 3)).astype("uint8")
    for cls in (layers.RandomBrightness, layers.RandomContrast):
        a = cls(np.float32(0.25), seed=7).get_random_transformation(x, seed=3)
        b = cls(0.25, seed=7).get_random_transformation(x, seed=3)
        for key in a:
            np.testing.assert_array_equal(to_np(a[key]), to_np(b[key]))


RANDOM_LAYERS = [
    (layers.RandomFlip, {}),
    (layers.RandomBrightness, {"factor": 0.1}),
    (layers.RandomContrast, {"factor": 0.1}),
    (layers.RandomCrop, {"height": 2, "width": 2}),
    (layers.RandomResizedCrop, {"height": 2, "width": 2}),
]


@pytest.mark.parametrize("cls,kwargs", RANDOM_LAYERS)
@pytest.mark.parametrize("seed", [-1, 2**63, np.uint64(2**63), True, 1.5])
def test_one_seed_rule_for_every_random_layer(cls, kwargs, seed):
    """The seed rule of kerasimg.data too: None or an integer 0 <= seed < 2**63."""
    with pytest.raises(ValueError) as info:
        cls(seed=seed, **kwargs)
    message = str(info.value)
    assert message.startswith("Invalid value for argument `seed`: expected an integer 0 <= seed < 2**63")
    assert message.endswith(f"seed={seed!r}")


@pytest.mark.parametrize("cls", [layers.CenterCrop, layers.RandomCrop, layers.RandomResizedCrop, layers.Resize])
@pytest.mark.parametrize("argument", ["height", "width"])
@pytest.mark.parametrize("value", [0, -3, 2.0, True, "8", None])
def test_sizes_are_positive_integers_in_every_sized_layer(cls, argument, value):
    kwargs = {"height": 4, "width": 4, argument: value}
    with pytest.raises(ValueError) as info:
        cls(**kwargs)
    assert str(info.value) == (
        f"Invalid value for argument `{argument}`: expected a positive integer. Received: {argument}={value!r}"
    )
