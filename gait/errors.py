"""The one error type for bad user input, and the warning category for recoverable problems.

Every message names *where* (file, line, column or parameter), *what was expected* and *what
was found*, so a user can fix the input without reading a traceback. The CLI prints
``GaitInputError`` messages and exits with status 2; it never shows a traceback for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Where:
    """Location of a problem: a file (with optional line / column) or a parameter."""

    file: str | Path | None = None
    line: int | None = None
    column: str | None = None
    parameter: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file is not None:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        if self.parameter is not None:
            parts.append(f"parameter {self.parameter!r}")
        return ", ".join(parts) if parts else "input"


class GaitError(Exception):
    """The root of every error the product raises on purpose: ``except gait.GaitError`` catches
    them all (and no bug).

    Two branches: `GaitInputError` (bad input: a file, a column, a value, a parameter; also a
    `ValueError`) and `DeviceError` (a sensor, a Bluetooth adapter, a recording or the run
    history that cannot do what was asked; also a `RuntimeError`): ``RecordingError``,
    ``SensorRefused``, ``BluetoothUnavailable``, ``PhyphoxError``, ``SyncError``,
    ``VoiceUnavailable`` (`gait.live`), ``PeripheralError`` (`firmware_protocol`) and
    ``HistoryUnavailable`` (`gait.history`). Each keeps its own name and message.
    """


class DeviceError(GaitError, RuntimeError):
    """A device, a recording or a store that cannot do what was asked (not bad input)."""


class GaitInputError(GaitError, ValueError):
    """Bad input: a file, a column, a value or a parameter that cannot be used.

    Parameters
    ----------
    problem
        Short statement of what is wrong.
    expected
        What the input should have been.
    found
        What it actually was.
    where
        Where the problem is (file, line, column, parameter).
    hint
        Optional advice on how to fix it.
    """

    def __init__(
        self,
        problem: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        where: Where | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.expected = expected
        self.found = found
        self.where = where or Where()
        self.hint = hint
        super().__init__(self._message())

    def _message(self) -> str:
        msg = f"{self.where}: {self.problem}"
        if self.expected is not None:
            msg += f"; expected {self.expected}"
        if self.found is not None:
            msg += f", found {self.found}"
        if self.hint:
            msg += f". {self.hint}"
        return msg

    def __reduce__(self):  # keep the structured fields across pickling (process pools)
        return (_rebuild, (self.problem, self.expected, self.found, self.where, self.hint))


def _rebuild(problem, expected, found, where, hint):  # pragma: no cover - pickling helper
    return GaitInputError(problem, expected=expected, found=found, where=where, hint=hint)


class GaitDataWarning(UserWarning):
    """A recoverable problem in the input: data were repaired, converted or left out."""


def quoted(value: Any, limit: int = 60) -> str:
    """``value`` as an error message shows what was found: its ``repr``, cut to ``limit``
    characters (``...`` marks the cut)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_positive(value: float, name: str) -> float:
    """Return ``value`` as float if it is finite and > 0, else raise `GaitInputError`."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise GaitInputError(
            "not a number", expected="a positive number", found=repr(value), where=Where(parameter=name)
        ) from None
    if not (v > 0 and v < float("inf")):
        raise GaitInputError(
            "out of range", expected="a finite number > 0", found=repr(value), where=Where(parameter=name)
        )
    return v


#: Running speeds accepted, m/s (exclusive bounds): the fastest human sprints reach about 12 m/s.
MAX_SPEED_MPS = 12.0
_KMH_PER_MPS = 3.6


def check_speed_mps(value: float, name: str = "speed_mps") -> float:
    """Return ``value`` as a running speed in m/s, 0 < v < `MAX_SPEED_MPS`, else raise `GaitInputError`.

    A value that would be a running speed in km/h gets the conversion in the message.
    """
    v = check_number(value, name, expected="a running speed in m/s")
    if 0.0 < v < MAX_SPEED_MPS:
        return v
    hint = None
    if MAX_SPEED_MPS <= v < MAX_SPEED_MPS * _KMH_PER_MPS:
        given = f"{name} {v / _KMH_PER_MPS:.3g}" if name.startswith("-") else f"{name}={v / _KMH_PER_MPS:.3g}"
        hint = f"{v:g} looks like km/h: {v:g} km/h is {v / _KMH_PER_MPS:.3g} m/s, so pass {given}"
    elif v <= 0:
        hint = "A speed is a positive number (the treadmill's or the GPS's speed)"
    raise GaitInputError(
        "running speed out of range",
        expected=f"a speed in m/s between 0 and {MAX_SPEED_MPS:g} (exclusive; 3.5 m/s is 12.6 km/h)",
        found=f"{v:g}",
        where=Where(parameter=name),
        hint=hint,
    )


def check_number(value: object, name: str, *, expected: str = "a number") -> float:
    """Return ``value`` as a finite float, else raise `GaitInputError`."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise GaitInputError(
            "not a number", expected=expected, found=repr(value), where=Where(parameter=name)
        ) from None
    if not math.isfinite(v):
        raise GaitInputError("not a finite number", expected=expected, found=repr(value), where=Where(parameter=name))
    return v


def check_choice(value: str, name: str, allowed: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise `GaitInputError`."""
    if value not in allowed:
        raise GaitInputError(
            "invalid value",
            expected="one of " + ", ".join(repr(a) for a in allowed),
            found=repr(value),
            where=Where(parameter=name),
        )
    return value
