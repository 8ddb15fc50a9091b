"""Input checks shared by the public stage functions, with one wording for each problem.

Every check raises `gait.errors.GaitInputError` naming the parameter, what was expected and
what was found (``parameter 'f_v': not a 1-D signal; expected a 1-D array (one value per
sample), found an array of shape (500, 3)``), and returns the input as a float array, so a
stage function starts with its checks and then works on what they return.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import GaitInputError, Where
from .session import Session

__all__ = [
    "check_rate",
    "check_signal",
    "check_vectors",
    "check_same_length",
    "check_rotation",
    "check_session",
    "check_mask",
]


def check_rate(value: Any, name: str = "sampling_rate_hz") -> float:
    """Return a sampling rate as a float if it is a finite number of Hz > 0, else raise."""
    where = Where(parameter=name)
    expected = "a sampling rate in Hz, finite and > 0"
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise GaitInputError(
            "sampling rate is not a number", expected=expected, found=repr(value), where=where
        ) from None
    if not (math.isfinite(v) and v > 0):
        raise GaitInputError("sampling rate out of range", expected=expected, found=f"{v:g}", where=where)
    return v


def _as_float(x: Any, name: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise GaitInputError(
            "not numeric",
            expected="an array of numbers",
            found=f"{type(x).__name__}",
            where=Where(parameter=name),
        ) from None
    return a


def _finite(a: np.ndarray, name: str, *, allow_nan_columns: bool = False) -> None:
    bad = ~np.isfinite(a)
    if allow_nan_columns and a.ndim == 2:
        bad &= ~np.isnan(a).all(axis=0)  # an axis the sensor does not have is NaN throughout
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(a.shape[0], -1).any(axis=1))[0])
        raise GaitInputError(
            "non-finite values",
            expected="finite values",
            found=f"{int(bad.sum())} NaN or infinite values, the first at sample {first}",
            where=Where(parameter=name),
        )


def check_signal(x: Any, name: str, *, finite: bool = False) -> np.ndarray:
    """Return ``x`` as a 1-D float array (one value per sample), else raise.

    ``finite`` also refuses NaN and infinite values.
    """
    a = _as_float(x, name)
    if a.ndim != 1:
        hint = "Pick one axis (e.g. acc[:, 0])" if a.ndim == 2 and a.shape[1] == 3 else None
        raise GaitInputError(
            "not a 1-D signal",
            expected="a 1-D array (one value per sample)",
            found=f"an array of shape {a.shape}",
            where=Where(parameter=name),
            hint=hint,
        )
    if finite:
        _finite(a, name)
    return a


def check_vectors(x: Any, name: str, *, finite: bool = False, allow_nan_columns: bool = False) -> np.ndarray:
    """Return ``x`` as an ``(n, 3)`` float array (one 3-D vector per sample), else raise.

    ``finite`` also refuses NaN and infinite values; with ``allow_nan_columns`` a column that is
    NaN throughout (an axis the sensor does not have) is accepted.
    """
    a = _as_float(x, name)
    if a.ndim != 2 or a.shape[1] != 3:
        raise GaitInputError(
            "not an (n, 3) array",
            expected="an array of shape (n, 3), one 3-D vector per sample",
            found=f"an array of shape {a.shape}",
            where=Where(parameter=name),
        )
    if finite:
        _finite(a, name, allow_nan_columns=allow_nan_columns)
    return a


def check_same_length(n: int, reference: str, **arrays: Any) -> None:
    """Raise unless every array given (None is skipped) has ``n`` rows, as ``reference`` has."""
    for name, a in arrays.items():
        if a is None:
            continue
        m = int(np.shape(a)[0]) if np.ndim(a) else 1
        if m != n:
            raise GaitInputError(
                "length mismatch",
                expected=f"{n} samples, as many as {reference!r}",
                found=f"{m}",
                where=Where(parameter=name),
            )


def check_rotation(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a finite 3 x 3 float array (a rotation's matrix), else raise."""
    a = _as_float(x, name)
    if a.shape != (3, 3):
        raise GaitInputError(
            "not a 3 x 3 matrix",
            expected="a rotation matrix of shape (3, 3)",
            found=f"an array of shape {a.shape}",
            where=Where(parameter=name),
        )
    _finite(a, name)
    return a


def check_session(x: Any, name: str = "session") -> Session:
    """Return ``x`` if it is a `gait.Session`, else raise."""
    if not isinstance(x, Session):
        raise GaitInputError(
            "not a session",
            expected="a gait.Session (gait.read_session or gait.session_from_arrays)",
            found=type(x).__name__,
            where=Where(parameter=name),
        )
    return x


def check_mask(x: Any, name: str, n: int, reference: str) -> np.ndarray:
    """Return ``x`` as a 1-D boolean array of ``n`` samples (as many as ``reference``), else raise."""
    a = np.asarray(x)
    if a.ndim != 1 or a.dtype != bool:
        raise GaitInputError(
            "not a boolean mask",
            expected="a 1-D array of True / False, one per sample",
            found=f"an array of shape {a.shape} and dtype {a.dtype}",
            where=Where(parameter=name),
        )
    check_same_length(n, reference, **{name: a})
    return a
