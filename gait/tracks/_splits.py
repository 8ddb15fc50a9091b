"""Per-km and per-mile splits of a run."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where
from ..units import PACE_UNITS
from ._track import (
    Track,
)

if TYPE_CHECKING:
    from ..core.pipeline import Analysis


# ---------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------
#: Per-step metrics whose medians each split reports (``docs/tables.md``, ``splits``).
SPLIT_METRICS = (
    "cadence_spm",
    "contact_time_s",
    "flight_time_s",
    "duty_factor",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "step_length_m",
    "impact_peak_mps2",
    "loading_rate_mps3",
    "braking_peak_mps2",
    "braking_velocity_loss_mps",
    "lean_deg",
    "pelvic_drop_deg",
    "lateral_lean_deg",
    "roll_range_deg",
    "yaw_range_deg",
    "step_regularity",
    "stride_regularity",
)
SPLIT_COLUMNS = (
    "split",
    "unit",
    "start_m",
    "end_m",
    "distance_m",
    "start_s",
    "end_s",
    "duration_s",
    "speed_mps",
    "pace_s_per_km",
    "pace_s_per_mi",
    "steps",
    "complete",
    *SPLIT_METRICS,
    "elevation_gain_m",
    "elevation_loss_m",
)


#: The last, incomplete split is reported when it is at least this share of the unit.
MIN_REMAINDER = 0.01


def split_table(
    analysis: Analysis | pd.DataFrame,
    *,
    unit: str = "km",
    track: Track | None = None,
) -> pd.DataFrame:
    """Per-km (or per-mile) splits of a run: pace and the median of every step metric.

    Parameters
    ----------
    analysis
        From `gait.analyze` with a known speed (``speed=`` a track or a number, or
        ``speed_mps=``), or its step table.
    unit
        ``"km"`` or ``"mi"``.
    track
        The track on the session clock (default: ``analysis.track``). With a track, distance is
        the track's own (as the watch counts it); without, it is the sum of the running steps'
        lengths (speed x step time).

    Returns
    -------
    pandas.DataFrame
        One row per split (columns ``SPLIT_COLUMNS``, documented in ``docs/tables.md``); the
        last row is the remainder (``complete`` False) when it is at least 1 % of the unit.
        Empty without a speed.

    Notes
    -----
    A split starts and ends where the distance crosses a multiple of the unit, interpolated
    between step contacts; its duration excludes the track's pauses. Medians are over the valid
    running steps whose contact falls in the split.
    """
    unit_m = PACE_UNITS.get(unit)
    if unit_m is None:
        raise GaitInputError("invalid value", expected="'km' or 'mi'", found=repr(unit), where=Where(parameter="unit"))
    if isinstance(analysis, pd.DataFrame):
        steps = analysis
    else:
        steps = analysis.steps
        track = track if track is not None else getattr(analysis, "track", None)
    empty = pd.DataFrame({c: pd.Series(dtype=object if c == "unit" else float) for c in SPLIT_COLUMNS})
    if not len(steps):
        return empty
    st = steps.sort_values("ic_s")
    run = (st["activity"] == "running").to_numpy()
    ic = st["ic_s"].to_numpy(float)
    step_time = st["step_time_s"].to_numpy(float)
    speed = st["speed_mps"].to_numpy(float)
    st_end = ic + np.nan_to_num(step_time)
    if track is not None and track.distance_m is not None:
        d_abs = track.distance_at(ic)
        have = run & np.isfinite(d_abs)
        if not have.any():
            return empty
        first, last = np.flatnonzero(have)[[0, -1]]
        t_a, t_b = ic[first], min(st_end[last], track.end_s)
        t_curve = np.unique(np.concatenate([[t_a, t_b], track.t_s[(track.t_s > t_a) & (track.t_s < t_b)]]))
        d0 = float(track.distance_at(np.array([t_a]))[0])
        d_curve = track.distance_at(t_curve) - d0
        d = d_abs - d0
    else:
        length = np.where(run & np.isfinite(speed) & np.isfinite(step_time), speed * step_time, np.nan)
        have = np.isfinite(length)
        if not have.any():
            return empty
        d = np.where(have, np.cumsum(np.nan_to_num(length)) - np.nan_to_num(length), np.nan)
        # contacts, and the end of each step, as a distance-time curve
        t_curve = np.concatenate([ic[have], st_end[have]])
        d_curve = np.concatenate([d[have], d[have] + length[have]])
        order_c = np.argsort(t_curve, kind="stable")
        t_curve, d_curve = t_curve[order_c], d_curve[order_c]
    if t_curve.size < 2:
        return empty
    d_curve = np.maximum.accumulate(d_curve)
    total = float(d_curve[-1])
    if total <= 0:
        return empty
    n_full = int(np.floor(total / unit_m + 1e-9))
    bounds = np.arange(n_full + 1) * unit_m
    if total - bounds[-1] >= MIN_REMAINDER * unit_m:  # a last part too short to time is left out
        bounds = np.append(bounds, total)
    # the time each boundary is crossed: the first time the distance reaches it
    jb = np.clip(np.searchsorted(d_curve, bounds, side="left"), 1, d_curve.size - 1)
    c0, c1 = d_curve[jb - 1], d_curve[jb]
    frac = np.clip(np.where(c1 > c0, (bounds - c0) / np.where(c1 > c0, c1 - c0, 1.0), 1.0), 0.0, 1.0)
    t_bound = t_curve[jb - 1] + frac * (t_curve[jb] - t_curve[jb - 1])
    k = bounds.size - 1
    start_s, end_s = t_bound[:-1], t_bound[1:]
    paused = np.zeros(k)
    if track is not None:
        for a, b in track.pauses_s:
            paused += np.clip(np.minimum(end_s, b) - np.maximum(start_s, a), 0.0, None)
    duration = end_s - start_s - paused
    dist = np.diff(bounds)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(duration > 0, dist / duration, np.nan)
    # valid running steps per split, and their medians
    valid = run & st["valid"].to_numpy(bool) & np.isfinite(d)
    which = np.clip(np.searchsorted(bounds, np.where(valid, d, -1.0), side="right") - 1, -1, k - 1)
    which = np.where(valid & (d >= 0), which, -1)
    data: dict[str, Any] = {
        "split": np.arange(1, k + 1),
        "unit": [unit] * k,
        "start_m": bounds[:-1],
        "end_m": bounds[1:],
        "distance_m": dist,
        "start_s": start_s,
        "end_s": end_s,
        "duration_s": duration,
        "speed_mps": v,
        "pace_s_per_km": np.where(v > 0, 1000.0 / v, np.nan),
        "pace_s_per_mi": np.where(v > 0, PACE_UNITS["mi"] / v, np.nan),
        "steps": np.bincount(which[which >= 0], minlength=k),
        "complete": np.abs(dist - unit_m) < 1e-6 * unit_m,
    }
    cols = [c for c in SPLIT_METRICS if c in st.columns]
    vals = st[cols].to_numpy(float)
    order = np.argsort(which, kind="stable")
    w_sorted = which[order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a metric that is NaN for a whole split
        med = np.full((k, len(cols)), np.nan)
        for j in range(k):  # one median per split: a handful of rows
            lo, hi = np.searchsorted(w_sorted, [j, j + 1])
            if hi > lo:
                med[j] = np.nanmedian(vals[order[lo:hi]], axis=0)
    for j, c in enumerate(cols):
        data[c] = med[:, j]
    for c in SPLIT_METRICS:
        data.setdefault(c, np.full(k, np.nan))
    gain = np.full(k, np.nan)
    loss = np.full(k, np.nan)
    if track is not None and track.elevation_m is not None:
        inside = (track.t_s >= start_s[0]) & (track.t_s <= end_s[-1])
        tt = np.concatenate([start_s, end_s[-1:], track.t_s[inside]])
        tt = np.unique(tt)
        z = np.interp(tt, track.t_s, track.elevation_m)
        dz = np.diff(z)
        seg = np.clip(np.searchsorted(end_s, tt[:-1], side="right"), 0, k - 1)
        gain = np.bincount(seg, weights=np.clip(dz, 0, None), minlength=k)
        loss = np.bincount(seg, weights=np.clip(-dz, 0, None), minlength=k)
    data["elevation_gain_m"] = gain
    data["elevation_loss_m"] = loss
    return pd.DataFrame(data, columns=list(SPLIT_COLUMNS))
