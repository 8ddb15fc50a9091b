"""The run summary: medians, spreads, sides, asymmetry, drift, warm-up and surges
(`gait.core.metrics.run_summary`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where
from ._columns import ASYMMETRY_METRICS, SIDE_ALTERNATING, STEP_METRICS, _running_valid
from .records import RunSummary, Surge, Warmup
from .strike import (  # noqa: F401 (re-exported: the step table's foot-strike columns)
    DECISION_RATIO,
    FOOT_STRIKES,
    FOREFOOT_BELOW_BW,
    REARFOOT_ABOVE_BW,
    classify_foot_strike,
    collision_transient,
    run_foot_strike,
)


# ---------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------
def _asym(left: float, right: float) -> float:
    mean = (left + right) / 2
    return float(100 * (left - right) / mean) if np.isfinite(mean) and mean != 0 else float("nan")


#: Columns of the per-minute table, in order (documented in docs/tables.md).
def run_summary(
    steps: pd.DataFrame,
    minutes: pd.DataFrame,
    bouts: pd.DataFrame,
    *,
    metrics: Iterable[str] = STEP_METRICS,
) -> RunSummary:
    """Run-level summary (``docs/tables.md``): medians, IQRs, per side, asymmetry, drift,
    warm-up and surges. Plain NumPy over the tables: this runs on every live window too.

    Parameters
    ----------
    steps
        The step table (`step_table`).
    minutes
        The minute table (`minute_table`).
    bouts
        The activity bouts (`gait.core.activity.detect_bouts`), with ``kind`` and ``duration_s``.
    metrics
        The step columns to summarise (default `STEP_METRICS`).

    Returns
    -------
    RunSummary
        The summary (fields documented in `gait.core.records.RunSummary` and ``docs/tables.md``).
    """
    metrics = list(metrics)
    missing = [c for c in metrics if c not in steps.columns]
    if missing:
        raise GaitInputError(
            "unknown step metric",
            expected="columns of the step table",
            found=", ".join(repr(c) for c in missing),
            where=Where(parameter="metrics"),
        )
    sel = _running_valid(steps)
    kinds = bouts["kind"].to_numpy() if len(bouts) else np.zeros(0, object)
    dur = bouts["duration_s"].to_numpy(float) if len(bouts) else np.zeros(0)
    s: dict = {
        "duration_s": float(dur.sum()),
        "running_s": float(dur[kinds == "running"].sum()),
        "walking_s": float(dur[kinds == "walking"].sum()),
        "still_s": float(dur[kinds == "still"].sum()),
        "steps": int(steps["valid"].sum()),
        "running_steps": int(sel.sum()),
    }
    cols = [*metrics, "step_time_s"]
    vals = steps[cols].to_numpy(float)[sel]
    n = vals.shape[0]
    side = np.asarray(steps["side"], dtype=object)[sel]
    strike = np.asarray(steps["foot_strike"], dtype=object)[sel]
    step_time = vals[:, -1]
    nan_row = np.full(len(cols), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN, as intended
        med = np.nanmedian(vals, axis=0) if n else nan_row
        q = np.nanpercentile(vals, [25, 75], axis=0) if n else np.vstack([nan_row, nan_row])
        per_side = {
            name: np.nanmedian(vals[side == code], axis=0) if (side == code).any() else nan_row
            for name, code in (("left", "L"), ("right", "R"))
        }
    for c in SIDE_ALTERNATING:  # the mean of the two sides' medians (see SIDE_ALTERNATING)
        if c in metrics:
            j = cols.index(c)
            pair = (per_side["left"][j], per_side["right"][j])
            if np.isfinite(pair).all():
                med[j] = 0.5 * (pair[0] + pair[1])
    s["median"] = {c: float(v) for c, v in zip(metrics, med)}
    s["iqr"] = {c: float(v) for c, v in zip(metrics, q[1] - q[0])}
    for name in ("left", "right"):
        s[name] = {c: float(v) for c, v in zip(metrics, per_side[name])}
    s["asymmetry_pct"] = {
        c: _asym(float(per_side["left"][cols.index(c)]), float(per_side["right"][cols.index(c)]))
        for c in ASYMMETRY_METRICS
    }
    decided = np.isin(strike, FOOT_STRIKES[:3])
    for c in FOOT_STRIKES[:3]:
        s[f"{c}_share"] = float(np.mean(strike[decided] == c)) if decided.any() else float("nan")
    # the side: share of valid running steps with one, and their median confidence
    has_side = np.isin(side, ["L", "R"])
    s["side_share"] = float(has_side.mean()) if n else float("nan")
    side_conf = np.asarray(steps["side_confidence"], dtype=float)[sel] if "side_confidence" in steps else np.zeros(n)
    s["side_confidence"] = float(np.median(side_conf[has_side])) if has_side.any() else 0.0
    # the run's foot strike: the median of its steps' sagittal collisions and its standard error
    tr = np.asarray(steps["collision_bw"], dtype=float)[sel] if "collision_bw" in steps else np.zeros(0)
    bg = np.asarray(steps["collision_background_bw"], dtype=float)[sel] if "collision_background_bw" in steps else None
    s["foot_strike"], s["foot_strike_confidence"], _, _ = run_foot_strike(tr, bg)
    finite_t = step_time[np.isfinite(step_time)]
    s["step_time_cv_pct"] = (
        float(100 * np.std(finite_t, ddof=1) / np.mean(finite_t)) if finite_t.size > 2 else float("nan")
    )
    s["step_regularity"] = s["median"].get("step_regularity", float("nan"))
    s["stride_regularity"] = s["median"].get("stride_regularity", float("nan"))
    speed = vals[:, cols.index("speed_mps")] if "speed_mps" in cols else np.full(n, np.nan)
    s["distance_m"] = float(np.nansum(speed * step_time)) if np.isfinite(speed).any() else float("nan")
    # drift: last fifth versus first fifth of the running time after the warm-up
    s["drift_pct"] = {}
    s["warmup"] = None
    s["surges"] = ()
    if len(minutes) >= 1 and n > 20:
        warm = _warmup(steps, minutes, bouts)
        warm_end = warm["full_effort_s"] if np.isfinite(warm["full_effort_s"]) else -np.inf
        t_run = steps["ic_s"].to_numpy()[sel]
        after = vals[t_run >= warm_end] if (t_run >= warm_end).sum() > 40 else vals
        k = max(after.shape[0] // 5, 5)
        m = len(metrics)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            fm = np.nanmedian(after[:k, :m], axis=0)
            lm = np.nanmedian(after[-k:, :m], axis=0)
            drift = np.where(np.isfinite(fm) & (fm != 0), 100 * (lm - fm) / np.where(fm != 0, np.abs(fm), 1.0), np.nan)
        s["drift_pct"] = {c: float(v) for c, v in zip(metrics, drift)}
        s["warmup"] = Warmup(**warm)
        s["surges"] = tuple(Surge(**x) for x in _surges(vals[:, cols.index("cadence_spm")], t_run))
    for key in ("ml_sway_rms_mps2", "stance_vibration_mps2", "intensity_mps2"):
        if key in minutes:
            x = minutes[key].to_numpy(float)
            s[key] = float(np.nanmedian(x)) if np.isfinite(x).any() else float("nan")
    return RunSummary(**s)


def _f(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _intensity(minutes: pd.DataFrame) -> pd.Series:
    """Effort proxy per minute: cadence x oscillation-free intensity when available."""
    if "intensity_mps2" in minutes and minutes["intensity_mps2"].notna().any():
        return minutes["intensity_mps2"]
    return minutes["cadence_spm"]


#: a step is at full effort from this share of the run's full effort (see `_warmup`)
WARMUP_FULL_EFFORT = 0.95
#: centred moving window over which the effort of the steps is smoothed, in steps
WARMUP_WINDOW_STEPS = 41


def _warmup(steps: pd.DataFrame, minutes: pd.DataFrame, bouts: pd.DataFrame) -> dict:
    """How the run started: walking and easy running before full effort.

    The effort of a running step is its step time over its contact time: by the impulse
    balance over a step, the mean vertical force in stance in body weights, which rises with
    speed (shorter contacts carry the same impulse). The run's full effort is the upper quartile
    of the centred moving median of the effort (`WARMUP_WINDOW_STEPS`), and the run is at full
    effort from the first step whose moving median reaches `WARMUP_FULL_EFFORT` of it. Everything before it counts as warm-up: the walking bouts (the
    walk to the start included) and the running time (an easy jog, or a gradual pick-up of
    pace). Running time is measured from the first running step, not on the clock minutes, so
    a run that starts late in a minute is not judged on a partial minute.

    Returns
    -------
    dict
        ``warmup_s`` (``walking_before_s + easy_running_s``), ``walking_before_s``,
        ``easy_running_s``, ``full_effort_s`` (session time of full effort), ``easy_minutes``
        (whole minutes of easy running), ``first_minute_effort_ratio`` (median effort over the
        first 60 s of running / the run's full effort) and ``first_minute_intensity_ratio`` (the first
        clock minute with at least 30 s of running against the median minute, by the minute
        table's intensity).
    """
    nan = float("nan")
    out: dict = {
        "warmup_s": nan,
        "walking_before_s": nan,
        "easy_running_s": nan,
        "full_effort_s": nan,
        "easy_minutes": 0,
        "first_minute_effort_ratio": nan,
        "first_minute_intensity_ratio": nan,
    }
    full = minutes[minutes["running_s"] >= 30.0]
    if not full.empty:
        inten = _intensity(full).to_numpy(float)
        med_i = float(np.nanmedian(inten))
        out["first_minute_intensity_ratio"] = float(inten[0] / med_i) if med_i else nan
    act = np.asarray(steps["activity"], dtype=object)
    run_all = act == "running"
    sel = run_all & steps["valid"].to_numpy(bool)
    t = steps["ic_s"].to_numpy(float)[sel]
    with np.errstate(divide="ignore", invalid="ignore"):
        effort = steps["step_time_s"].to_numpy(float)[sel] / steps["contact_time_s"].to_numpy(float)[sel]
    ok = np.isfinite(effort) & (effort > 0)
    t, effort = t[ok], effort[ok]
    if t.size < WARMUP_WINDOW_STEPS:
        return out
    roll = (
        pd.Series(effort)
        .rolling(WARMUP_WINDOW_STEPS, center=True, min_periods=WARMUP_WINDOW_STEPS // 2)
        .median()
        .to_numpy()
    )
    # the run's full effort: the upper quartile of the moving median (a long easy start, even
    # half of a short run, does not lower it; a steady run reaches it at once)
    med = float(np.nanpercentile(roll, 75))
    at_full = np.flatnonzero(np.nan_to_num(roll) >= WARMUP_FULL_EFFORT * med)
    t_full = float(t[at_full[0]]) if at_full.size else float(t[-1])
    # running time before full effort: the step times of the running steps before it
    t_all = steps["ic_s"].to_numpy(float)
    st_all = np.nan_to_num(steps["step_time_s"].to_numpy(float))
    easy_run = float(st_all[run_all & (t_all < t_full)].sum())
    walking_before = 0.0
    if len(bouts):
        k = bouts["kind"].to_numpy(object) == "walking"
        a = bouts["start_s"].to_numpy(float)[k]
        b = np.minimum(bouts["end_s"].to_numpy(float)[k], t_full)
        walking_before = float(np.clip(b - a, 0.0, None).sum())
    first = t < t[0] + 60.0
    out.update(
        {
            "warmup_s": walking_before + easy_run,
            "walking_before_s": walking_before,
            "easy_running_s": easy_run,
            "full_effort_s": t_full,
            "easy_minutes": int(easy_run // 60.0),
            "first_minute_effort_ratio": float(np.median(effort[first]) / med),
        }
    )
    return out


def _surges(cad: np.ndarray, t: np.ndarray, window_steps: int = 30) -> list[dict]:
    """Abrupt cadence rises: a 30-step median more than 6 % above the previous minute's."""
    if cad.size < 4 * window_steps:
        return []
    med = pd.Series(cad).rolling(window_steps, center=True, min_periods=window_steps // 2).median().to_numpy()
    base = pd.Series(cad).rolling(4 * window_steps, min_periods=window_steps).median().shift(window_steps).to_numpy()
    rise = 100 * (med - base) / base
    flag = np.nan_to_num(rise) > 6.0
    out = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flag.astype(int), [0]])))
    for a, b in zip(edges[::2], edges[1::2]):
        if b - a < window_steps // 3:
            continue
        out.append(
            {"start_s": float(t[a]), "end_s": float(t[b - 1]), "cadence_change_pct": float(np.nanmax(rise[a:b]))}
        )
    return out
