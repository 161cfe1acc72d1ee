"""kerasimg._validate: one error template, one seed rule, numbers of any NumPy type."""

from __future__ import annotations

import re

import numpy as np
import pytest

from kerasimg import _validate as v

TEMPLATE = re.compile(r"Invalid value for argument `(\w+)`: expected (.+)\. Received: \1=(.+)")


def test_invalid_names_the_argument_and_echoes_the_value():
    error = v.invalid("mode", "diagonal", "one of ('horizontal', 'vertical')")
    assert isinstance(error, ValueError)
    match = TEMPLATE.fullmatch(str(error))
    assert match and match.groups() == ("mode", "one of ('horizontal', 'vertical')", "'diagonal'")


def test_require_raises_only_when_not_ok():
    v.require(True, "x", 1, "anything")
    with pytest.raises(ValueError, match=r"^Invalid value for argument `x`: expected y\. Received: x=\[1\]$"):
        v.require(False, "x", [1], "y")


@pytest.mark.parametrize("value", [0, 3, -2, np.int8(1), np.uint64(2**64 - 1), 2**70])
def test_is_int_accepts_integers_of_any_type(value):
    assert v.is_int(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), 1.0, np.float32(1), "1", b"1", None, np.array(1), [1]])
def test_is_int_refuses_the_rest(value):
    assert not v.is_int(value)


@pytest.mark.parametrize("value, expected", [(None, None), (0, 0), (np.uint32(7), 7), (2**63 - 1, 2**63 - 1)])
def test_check_seed_accepts_none_and_int64_seeds(value, expected):
    seed = v.check_seed("seed", value)
    assert seed == expected and (seed is None or type(seed) is int)


@pytest.mark.parametrize("value", [-1, 2**63, np.uint64(2**63), True, 1.0, "3", np.array(1)])
def test_check_seed_refuses_the_rest(value):
    with pytest.raises(ValueError) as info:
        v.check_seed("seed", value)
    assert TEMPLATE.fullmatch(str(info.value)) and f"seed={value!r}" in str(info.value)
    assert "2**63" in str(info.value)


def test_check_positive_int():
    assert v.check_positive_int("height", np.int16(5)) == 5
    for bad in (0, -1, 2.0, True, "5", None):
        with pytest.raises(ValueError, match="`height`"):
            v.check_positive_int("height", bad)


def test_real_numbers_and_pairs():
    assert v.as_real(np.float16(0.5)) == 0.5 and v.as_real(np.array(3, "uint8")) == 3.0
    assert v.as_real(np.bool_(True)) is None and v.as_real("1") is None and v.as_real([1]) is None
    assert v.as_real_pair([np.int64(1), 2.5]) == (1.0, 2.5)
    for bad in ("01", b"01", 1, (1,), (1, 2, 3), ("0", "1"), (True, False), None):
        assert v.as_real_pair(bad) is None


def test_check_pair_messages():
    ok = lambda low, high: low <= high  # noqa: E731
    assert v.check_pair("scale", (0.1, 1), "low <= high", ok) == (0.1, 1.0)
    with pytest.raises(ValueError, match=r"expected a pair \(low, high\) of numbers\. Received: scale='01'"):
        v.check_pair("scale", "01", "low <= high", ok)
    for bad in ((1, 0), (0, float("inf")), (float("nan"), 1)):
        with pytest.raises(ValueError, match=r"expected low <= high\. Received: scale="):
            v.check_pair("scale", bad, "low <= high", ok)
