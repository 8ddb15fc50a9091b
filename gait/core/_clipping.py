"""Clipping: samples at the sensor's full scale (or frozen there), found per channel, and
bridged by a smooth fill so that the stages after it see no flat tops (`gait.core.quality`
reports them)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constants import DEG_PER_RAD, G
from ..session import Session

#: a bound is clipped when at least this share of the samples sit exactly on it ...
CLIP_MIN_SHARE = 0.002


#: ... and at least this many samples ...
CLIP_MIN_SAMPLES = 10


#: ... in at least this many runs of two or more samples ...
CLIP_MIN_RUNS = 3


#: ... and at least this many times more samples than the band just inside the bound
CLIP_SPIKE = 3.0


#: top-of-band power below this fraction of the peak on every channel: low-pass filtered
FLOOR_RATIO = 1e-10


#: common full-scale ranges, to name a saturation bound
_ACC_RANGES_G = (2.0, 4.0, 8.0, 16.0, 32.0)


_GYR_RANGES_DPS = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0)


@dataclass(frozen=True)
class ClippedChannel:
    """One channel held at a bound.

    Attributes
    ----------
    sensor
        ``"acc"`` or ``"gyr"``.
    axis
        The channel as recorded (``x``/``y``/``z`` or ``v``/``ap``/``ml``).
    side
        ``"low"`` (values below the bound were lost) or ``"high"``.
    bound
        The value it is held at, SI (m/s^2 or rad/s).
    share
        Share of the samples at the bound.
    runs
        Runs of two or more samples at the bound.
    longest_s
        Longest run, s.
    full_scale
        The nominal sensor range the bound matches (e.g. ``"+-4 g"``), if any.
    """

    sensor: str
    axis: str
    side: str
    bound: float
    share: float
    runs: int
    longest_s: float
    full_scale: str | None = None

    @property
    def name(self) -> str:
        return f"{self.sensor}_{self.axis}"

    def describe(self) -> str:
        """E.g. ``"acc_v held at its low bound 0.00 g in 17.8 % of the samples (18 runs, longest 0.07 s)"``."""
        if self.sensor == "acc":
            value = f"{self.bound / G:.2f} g"
        else:
            value = f"{self.bound * DEG_PER_RAD:.0f} deg/s"
        scale = f", the {self.full_scale} range limit" if self.full_scale else ""
        return (
            f"{self.name} held at its {self.side} bound {value}{scale} in {100 * self.share:.1f} % of the samples "
            f"({self.runs} runs, longest {self.longest_s:.2f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.name,
            "side": self.side,
            "bound_si": float(self.bound),
            "share": round(float(self.share), 5),
            "runs": int(self.runs),
            "longest_s": round(float(self.longest_s), 4),
            "full_scale": self.full_scale,
        }


# ---------------------------------------------------------------------------------------
# clipping
# ---------------------------------------------------------------------------------------
def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _full_scale(sensor: str, bound: float) -> str | None:
    ranges: tuple[float, ...]
    if sensor == "acc":
        ranges, unit, x = _ACC_RANGES_G, "g", abs(bound) / G
    else:
        ranges, unit, x = _GYR_RANGES_DPS, "deg/s", abs(bound) * DEG_PER_RAD
    for r in ranges:
        if abs(x - r) <= 0.03 * r:
            return f"+-{r:g} {unit}"
    return None


def _frozen(data: np.ndarray) -> np.ndarray:
    """Samples at which every finite channel repeats its previous value (the whole sensor
    still: exact free fall in noise-free synthetic data, or a stream repeating a sample)."""
    d = np.diff(data, axis=0)
    cols = np.isfinite(data).any(axis=0)
    same = np.all((d[:, cols] == 0), axis=1)
    out = np.zeros(data.shape[0], bool)
    out[1:] = same
    out[:-1] |= same
    return out


def _clipped_side(
    x: np.ndarray, side: str, lo: float, hi: float, n_finite: int, frozen: Callable[[], np.ndarray]
) -> tuple[np.ndarray, float] | None:
    """Mask of the samples at the low or high bound of ``x`` when that bound is clipped.

    ``lo`` and ``hi`` are the finite extremes of ``x``. Samples where every channel is held
    (``frozen()``, computed only when needed) do not count: a clipped channel is flat while
    the others move."""
    span = hi - lo
    if span <= 0 or n_finite < 50:
        return None
    bound = lo if side == "low" else hi
    need = max(CLIP_MIN_SAMPLES, CLIP_MIN_SHARE * n_finite)
    at = x == bound  # a clipped sample holds the bound exactly
    if np.count_nonzero(at) < need:  # a genuine extreme occurs about once: most channels stop here
        return None
    at &= ~frozen()
    n_at = int(np.count_nonzero(at))
    if n_at < need:
        return None
    band = 0.0025 * span
    near = (x > lo) & (x <= lo + band) if side == "low" else (x < hi) & (x >= hi - band)
    if n_at < CLIP_SPIKE * max(int(np.count_nonzero(near)), 1):
        return None
    a, b = _runs(at)
    if int(((b - a) >= 2).sum()) < CLIP_MIN_RUNS:
        return None
    if np.unique(x[np.isfinite(x)]).size < 50:
        return None
    return at, bound


def clip_masks(session: Session) -> tuple[dict[str, np.ndarray], tuple[ClippedChannel, ...]]:
    """Samples held at a clipped bound, per channel (``"acc_x"`` ...), and what was found."""
    fs = session.sampling_rate_hz
    masks: dict[str, np.ndarray] = {}
    found: list[ClippedChannel] = []
    for sensor, data in (("acc", session.acc), ("gyr", session.gyr)):
        if data is None:
            continue
        arr = np.asarray(data, dtype=float)
        frozen = functools.cache(lambda arr=arr: _frozen(arr))
        for k, axis in enumerate(session.axes):
            x = np.ascontiguousarray(arr[:, k])
            n_finite = int(np.count_nonzero(np.isfinite(x)))
            if n_finite < 50:
                continue
            lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
            for side in ("low", "high"):
                res = _clipped_side(x, side, lo, hi, n_finite, frozen)
                if res is None:
                    continue
                at, bound = res
                a, b = _runs(at)
                long = (b - a) >= 2
                name = f"{sensor}_{axis}"
                masks[name] = masks[name] | at if name in masks else at
                found.append(
                    ClippedChannel(
                        sensor=sensor,
                        axis=axis,
                        side=side,
                        bound=bound,
                        share=float(at.sum() / n_finite),
                        runs=int(long.sum()),
                        longest_s=float((b - a).max() / fs),
                        full_scale=_full_scale(sensor, bound) if abs(bound) > 0 else None,
                    )
                )
    return masks, tuple(found)


def bridge_clipped(x: np.ndarray, mask: np.ndarray, *, floor: float | None = None) -> np.ndarray:
    """``x`` with each run of ``mask`` replaced by a cubic (Hermite) bridge.

    The bridge joins the last sample before the run and the first after it with their slopes
    (mean differences over up to three samples), so a smooth signal cut off at a bound
    continues as it was heading. It is kept on the lost side of the bound (at or below a low
    bound, at or above a high one) and, below a low bound, not below ``floor``: for the
    vertical channel the free-fall level 0 (the trunk is close to free fall in flight; a cubic
    from the steep edges of stance would dig far below it). Runs within three samples of
    either end are left as recorded. Vectorised over all runs.
    """
    x = np.asarray(x, dtype=float)
    out = x.copy()
    if not mask.any():
        return out
    n = x.size
    k = 3
    a, b = _runs(mask)
    inner = (a >= k + 1) & (b <= n - k - 1)
    a, b = a[inner], b[inner]
    if a.size == 0:
        return out
    left, right = a - 1, b
    y0, y1 = x[left], x[right]
    m0, m1 = (x[left] - x[left - k]) / k, (x[right + k] - x[right]) / k
    h = (right - left).astype(float)
    lengths = b - a
    run = np.repeat(np.arange(a.size), lengths)
    idx = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths) + a[run]
    t = (idx - left[run]) / h[run]
    t2, t3 = t * t, t * t * t
    bridge = (
        (2 * t3 - 3 * t2 + 1) * y0[run]
        + (t3 - 2 * t2 + t) * h[run] * m0[run]
        + (-2 * t3 + 3 * t2) * y1[run]
        + (t3 - t2) * h[run] * m1[run]
    )
    bound = x[idx]
    low = (bound <= y0[run]) & (bound <= y1[run])
    lo_side = np.minimum(bridge, bound)
    if floor is not None:
        lo_side = np.maximum(lo_side, np.minimum(floor, bound))
    out[idx] = np.where(low, lo_side, np.maximum(bridge, bound))
    return out
