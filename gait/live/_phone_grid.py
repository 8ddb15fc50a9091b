"""A phone's sensor buffers (phyphox) onto one uniform grid; pure, no I/O.

Accelerometer and gyroscope samples arrive with their own, irregular time stamps (Android and
iOS deliver sensor events at the rate they choose). They are interpolated linearly onto one
uniform grid of the phone's timeline at ``rate_hz`` (the highest of 400, 200, 100 Hz that both
sensors reach, unless given), as `gait.io` does with jittered files; a grid point is written
only when both sensors have samples around it no further apart than ``max_hole_s`` (otherwise it
is part of a declared gap, never invented). Grid points only move forward: nothing is written
twice. The acceleration must include gravity (phyphox's "Acceleration with g", or a "simple
experiment" with the accelerometer), in m/s^2; the gyroscope is in rad/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from firmware_protocol.samples import DecodedSamples

from ..errors import DeviceError

__all__ = ["GRID_RATES_HZ", "PhoneBuffers", "PhoneGrid", "PhyphoxError", "phone_buffers"]

#: Grid rates tried, highest first, when none is asked for.
GRID_RATES_HZ = (400.0, 200.0, 100.0)


class PhyphoxError(DeviceError):
    """The phone answered, but cannot be recorded from (no accelerometer with g, refused start)."""


@dataclass(frozen=True)
class PhoneBuffers:
    """The phyphox buffer names of the accelerometer (with g) and the gyroscope."""

    acc: tuple[str, str, str]
    acc_t: str
    gyr: tuple[str, str, str] | None
    gyr_t: str | None


def phone_buffers(config: dict[str, Any]) -> PhoneBuffers:
    """The buffers to poll, from phyphox's ``/config``.

    Raises
    ------
    PhyphoxError
        When the experiment has no accelerometer input with x, y, z and t (for example
        "Acceleration (without g)", whose gravity-free values cannot give the body frame).
    """
    found: dict[str, dict[str, str]] = {}
    for inp in config.get("inputs") or []:
        if not isinstance(inp, dict) or not isinstance(inp.get("source"), str):
            continue
        outs: dict[str, str] = {}
        for o in inp.get("outputs") or []:
            if isinstance(o, dict):
                outs.update({str(k): str(v) for k, v in o.items()})
        found.setdefault(inp["source"], outs)
    acc = found.get("accelerometer", {})
    if not all(k in acc for k in "xyzt"):
        sources = ", ".join(sorted(found)) or "none"
        raise PhyphoxError(
            f"the experiment open in phyphox has no accelerometer with gravity (its inputs: {sources}). "
            "Open 'Acceleration with g', or better a new simple experiment with the accelerometer and the "
            "gyroscope (phyphox: + > New experiment for simple sensors), then try again"
        )
    gyr = found.get("gyroscope", {})
    has_gyr = all(k in gyr for k in "xyzt")
    return PhoneBuffers(
        acc=(acc["x"], acc["y"], acc["z"]),
        acc_t=acc["t"],
        gyr=(gyr["x"], gyr["y"], gyr["z"]) if has_gyr else None,
        gyr_t=gyr["t"] if has_gyr else None,
    )


class PhoneGrid:
    """Irregular accelerometer (and gyroscope) samples onto one uniform grid; pure, no I/O.

    Times are on the phone's timeline (seconds; see the module docstring). `add` takes new
    samples of either sensor (in time order, each after the previous one); `take` returns the
    grid points that both sensors now cover, as a `DecodedSamples` block whose device times are
    ``k / rate_hz`` with the holes marked. ``mark_gap_cause(start, end, cause)`` names the
    cause of any hole overlapping that interval (default ``"loss"``).
    """

    def __init__(self, *, rate_hz: float, has_gyro: bool, max_hole_s: float) -> None:
        self.rate_hz = float(rate_hz)
        self.has_gyro = has_gyro
        self.max_hole_s = float(max_hole_s)
        self._t = {"acc": np.zeros(0), "gyr": np.zeros(0)}
        self._v = {"acc": np.zeros((0, 3)), "gyr": np.zeros((0, 3))}
        self._next_k: int | None = None  # next grid index that may be written
        self._last_k: int | None = None  # last grid index written
        self.first_k: int | None = None  # first grid index written (the file's t = 0)
        self._causes: list[tuple[float, float, str]] = []
        self._new_epoch = False

    def add(self, kind: str, t: np.ndarray, v: np.ndarray) -> None:
        t = np.asarray(t, dtype=float)
        if t.size == 0:
            return
        self._t[kind] = np.concatenate([self._t[kind], t])
        self._v[kind] = np.concatenate([self._v[kind], np.asarray(v, dtype=float).reshape(-1, 3)])

    def mark_gap_cause(self, start_s: float, end_s: float, cause: str) -> None:
        self._causes.append((start_s, end_s, cause))
        del self._causes[:-64]  # only recent causes can still matter

    def new_epoch(self) -> None:
        """The phone's data were cleared: keep nothing held, mark the next block."""
        self._t = {"acc": np.zeros(0), "gyr": np.zeros(0)}
        self._v = {"acc": np.zeros((0, 3)), "gyr": np.zeros((0, 3))}
        self._new_epoch = True

    def _interp(self, kind: str, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t, v = self._t[kind], self._v[kind]
        j = np.searchsorted(t, g, side="right") - 1
        inside = (j >= 0) & (j + 1 < t.size)
        jj = np.clip(j, 0, max(t.size - 2, 0))
        exact = (j >= 0) & (j < t.size) & (t[np.clip(j, 0, t.size - 1)] == g)
        dt = t[jj + 1] - t[jj] if t.size > 1 else np.full(g.size, np.inf)
        ok = exact | (inside & (dt <= self.max_hole_s))
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(dt > 0, (g - t[jj]) / dt, 0.0)[:, None]
        out = v[jj] + w * (v[np.minimum(jj + 1, t.size - 1)] - v[jj]) if t.size > 1 else np.repeat(v[:1], g.size, 0)
        return ok, out

    def take(self) -> DecodedSamples:
        kinds = ("acc", "gyr") if self.has_gyro else ("acc",)
        if any(self._t[k].size == 0 for k in kinds):
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        f = self.rate_hz
        end = min(float(self._t[k][-1]) for k in kinds)
        start = max(float(self._t[k][0]) for k in kinds)
        k0 = math.ceil(start * f - 1e-9)
        if self._next_k is not None:
            k0 = max(k0, self._next_k)
        k1 = math.floor(end * f + 1e-9)
        if k1 < k0:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        ks = np.arange(k0, k1 + 1)
        g = ks / f
        ok = np.ones(ks.size, dtype=bool)
        vals = {}
        for k in kinds:
            ok_k, vals[k] = self._interp(k, g)
            ok &= ok_k
        self._next_k = int(k1) + 1
        # keep only what the next grid points can still need (the sample before them)
        for k in kinds:
            keep = max(int(np.searchsorted(self._t[k], self._next_k / f, side="right")) - 1, 0)
            self._t[k], self._v[k] = self._t[k][keep:], self._v[k][keep:]
        ks, g = ks[ok], g[ok]
        if ks.size == 0:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        prev = np.concatenate([[ks[0] - 1 if self._last_k is None else self._last_k], ks[:-1]])
        jump = ks - prev
        gap_before = jump > 1
        lost = tuple(int(x - 1) for x in jump[gap_before])
        reasons = tuple(self._cause((int(p) + 1) / f, int(k) / f) for p, k in zip(prev[gap_before], ks[gap_before]))
        self._last_k = int(ks[-1])
        if self.first_k is None:
            self.first_k = int(ks[0])
        new_epoch, self._new_epoch = self._new_epoch, False
        return DecodedSamples.with_holes(
            g,
            vals["acc"][ok],
            vals["gyr"][ok] if self.has_gyro else None,
            gap_before,
            lost,
            reasons,
            new_epoch=new_epoch,
        )

    def _cause(self, a: float, b: float) -> str:
        for s, e, cause in reversed(self._causes):
            if s < b and e > a - 1.0 / self.rate_hz:
                return cause
        return "loss"


def pick_grid_rate(median_dt: list[float]) -> float:
    slowest = 1.0 / max(median_dt)
    for r in GRID_RATES_HZ:
        if slowest >= 0.97 * r:
            return r
    return float(round(slowest))
