"""Argument checks shared by the whole package: one error template, one wording.

Every invalid argument, in a layer or in ``kerasimg.data``, fails with the same
``ValueError`` (Keras' wording), which names the argument and echoes the value received::

    Invalid value for argument `<name>`: expected <expected>. Received: <name>=<value!r>

The checks take the argument's name first and return the validated value in a plain Python
type (an ``int`` for any integral type, floats for real numbers). Numbers are numbers of any
Python or NumPy type; booleans and strings never are. No TensorFlow or Keras import here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = [
    "SEED_LIMIT",
    "as_real",
    "as_real_pair",
    "check_pair",
    "check_positive_int",
    "check_seed",
    "invalid",
    "is_int",
    "require",
]

#: Seeds are integers in ``[0, SEED_LIMIT)``: they fit in an int64.
SEED_LIMIT = 2**63


def invalid(name: str, value: Any, expected: str) -> ValueError:
    """The error for argument ``name`` received as ``value`` when ``expected`` was wanted.

    Returns the exception (the caller raises it), so that ``raise invalid(...)`` reads as
    what it does.

    Example:

    >>> print(invalid("channels", 2, "1, 3 or 4"))
    Invalid value for argument `channels`: expected 1, 3 or 4. Received: channels=2
    """
    return ValueError(f"Invalid value for argument `{name}`: expected {expected}. Received: {name}={value!r}")


def require(ok: Any, name: str, value: Any, expected: str) -> None:
    """Raise :func:`invalid` ``(name, value, expected)`` unless ``ok``.

    Example:

    >>> require(True, "channels", 3, "1, 3 or 4")
    >>> require(False, "channels", 2, "1, 3 or 4")
    Traceback (most recent call last):
    ValueError: Invalid value for argument `channels`: expected 1, 3 or 4. Received: channels=2
    """
    if not ok:
        raise invalid(name, value, expected)


def is_int(value: Any) -> bool:
    """Whether ``value`` is an integer of any integral type (``int``, ``np.int64``...), not a bool.

    Example:

    >>> import numpy as np
    >>> [is_int(v) for v in (3, np.uint8(3), True, np.bool_(True), 3.0, "3")]
    [True, True, False, False, False, False]
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_positive_int(name: str, value: Any) -> int:
    """A positive integer of any integral type, as an ``int``.

    Example:

    >>> import numpy as np
    >>> check_positive_int("height", np.int64(224))
    224
    >>> check_positive_int("height", 0)
    Traceback (most recent call last):
    ValueError: Invalid value for argument `height`: expected a positive integer. Received: height=0
    """
    require(is_int(value) and value > 0, name, value, "a positive integer")
    return int(value)


def check_seed(name: str, value: Any) -> int | None:
    """A seed: None (unseeded) or an integer ``0 <= seed < 2**63``, as an ``int``.

    The one seed rule of the package: the layers and ``kerasimg.data`` accept the same
    seeds. (Before, layers accepted any integer ``>= 0`` and ``kerasimg.data`` those below
    ``2**63``; now both take the seeds that fit in an int64.)

    Example:

    >>> import numpy as np
    >>> check_seed("seed", np.int64(7)), check_seed("seed", None)
    (7, None)
    >>> check_seed("seed", 2**63)
    Traceback (most recent call last):
    ValueError: Invalid value for argument `seed`: expected an integer 0 <= seed < 2**63, or None. Received: seed=9223372036854775808
    """
    if value is None:
        return None
    require(is_int(value) and 0 <= value < SEED_LIMIT, name, value, f"an integer 0 <= {name} < 2**63, or None")
    return int(value)


def as_real(value: Any) -> float | None:
    """``value`` as a float when it is a real number (Python or NumPy, any width), else None.

    Booleans and strings are not numbers here: ``"1"`` and ``True`` give None.

    Example:

    >>> import numpy as np
    >>> as_real(np.float32(0.5)), as_real(np.array(2)), as_real(True), as_real("1")
    (0.5, 2.0, None, None)
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf":
        return float(value)
    return None


def as_real_pair(value: Any) -> tuple[float, float] | None:
    """``value`` as ``(float, float)`` when it is a sequence of two real numbers, else None.

    A string is not a sequence of numbers: ``"01"`` gives None, not ``(0.0, 1.0)``.

    Example:

    >>> import numpy as np
    >>> as_real_pair(np.array([0, 255])), as_real_pair("01"), as_real_pair((1, 2, 3))
    ((0.0, 255.0), None, None)
    """
    if isinstance(value, (str, bytes)) or as_real(value) is not None:
        return None
    try:
        items = list(value)
    except TypeError:
        return None
    pair = tuple(as_real(item) for item in items)
    if len(pair) != 2 or None in pair:
        return None
    return pair  # type: ignore[return-value]


def check_pair(
    name: str, value: Any, expected: str, ok: Callable[[float, float], bool] = lambda low, high: True
) -> tuple[float, float]:
    """Two finite real numbers ``(low, high)`` (not a string) passing ``ok(low, high)``.

    Not a pair of numbers: "expected a pair (low, high) of numbers"; not finite or not
    ``ok``: ``expected``.

    Example:

    >>> check_pair("value_range", [0, 255], "low < high", lambda low, high: low < high)
    (0.0, 255.0)
    >>> check_pair("value_range", (1, 0), "low < high", lambda low, high: low < high)
    Traceback (most recent call last):
    ValueError: Invalid value for argument `value_range`: expected low < high. Received: value_range=(1, 0)
    """
    pair = as_real_pair(value)
    require(pair is not None, name, value, "a pair (low, high) of numbers")
    low, high = pair  # type: ignore[misc]
    require(math.isfinite(low) and math.isfinite(high) and ok(low, high), name, value, expected)
    return low, high
