"""Metrics derived from the analysis for the rules (``derived.*``, see the package's Notes)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.signal import sosfiltfilt

from ..core.filters import stance_vibration_sos
from ..core.quality import declared_lowpass_hz

if TYPE_CHECKING:
    from ..core.pipeline import Analysis


@dataclass(frozen=True)
class _Derived:
    values: dict[str, float]
    per_step: dict[str, np.ndarray]
    unavailable: dict[str, str]


def _late_stance_vibration(analysis: Analysis, run: pd.DataFrame) -> tuple[np.ndarray | None, str | None]:
    session = analysis.session
    fs = session.sampling_rate_hz
    if fs < 90.0:
        return None, f"the sampling rate ({fs:g} Hz) is too low for the 20-45 Hz surface band"
    cut = declared_lowpass_hz(session.meta)
    if cut is not None and cut < 45.0:
        return None, f"the recording was low-pass filtered at {cut:g} Hz, which removes the 20-45 Hz surface band"
    if run.empty:
        return None, "no valid running steps"
    x = np.nan_to_num(analysis.signals.acc[:, 0])
    y = np.zeros_like(x)
    sos = stance_vibration_sos(fs)  # rules: gait.core.filters
    for seg in session.segments():
        if seg.stop - seg.start > 60:
            y[seg] = sosfiltfilt(sos, x[seg])
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    t = session.t
    ic = run["ic_s"].to_numpy(float)
    tc = (run["to_s"] - run["ic_s"]).to_numpy(float)
    a = np.searchsorted(t, ic + 0.35 * tc)
    b = np.searchsorted(t, ic + 0.85 * tc)
    n = np.maximum(b - a, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt((c[b] - c[a]) / n)
    rms = np.where(n >= 2, rms, np.nan)
    if np.isfinite(rms).any() and float(np.nanmedian(rms)) < 0.005:
        return (
            None,
            "the signal holds almost no energy above 20 Hz (it was low-pass filtered before it reached the product)",
        )
    return rms, None


def _rolling_robust_cv_pct(x: np.ndarray, window: int) -> np.ndarray:
    s = pd.Series(x)
    r = s.rolling(window, center=True, min_periods=max(window // 2, 8))
    med = r.median().to_numpy()
    iqr = (r.quantile(0.75) - r.quantile(0.25)).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * iqr / med


def _timing_metrics(run: pd.DataFrame, values: dict[str, float], per_step: dict[str, np.ndarray]) -> None:
    """Stride-time variability and left/right alternation of step and contact time."""
    n = len(run)
    step_no = run["step"].to_numpy(np.int64) if n else np.zeros(0, np.int64)
    bout = run["bout"].to_numpy() if n else np.zeros(0)
    st = run["step_time_s"].to_numpy(float) if n else np.zeros(0)
    nxt = np.zeros(n, bool)
    if n > 1:
        nxt[:-1] = (np.diff(step_no) == 1) & (bout[1:] == bout[:-1])
    stride = np.where(nxt, st + np.roll(st, -1), np.nan)
    key = "derived.stride_time_cv_pct"
    ok = np.isfinite(stride)
    values[key] = float("nan")
    if ok.sum() >= 8:
        # local variability (31-step windows), so that a change of pace does not count
        sr = pd.Series(stride).rolling(min(31, n), center=True, min_periods=8)
        local = (100.0 * sr.std() / sr.mean()).to_numpy()
        per_step[key] = local
        if np.isfinite(local).any():
            values[key] = float(np.nanmedian(local))
    for col, key in (
        ("step_time_s", "derived.step_time_alternation_pct"),
        ("contact_time_s", "derived.contact_time_alternation_pct"),
    ):
        diffs, weights, level = [], [], []
        for _, b in run.groupby("bout", sort=False):
            x = b[col].to_numpy(float)
            par = b["step"].to_numpy(np.int64) % 2
            even, odd = x[(par == 0) & np.isfinite(x)], x[(par == 1) & np.isfinite(x)]
            if even.size >= 3 and odd.size >= 3:
                diffs.append(abs(float(np.median(even) - np.median(odd))))
                weights.append(even.size + odd.size)
                level.append(float(np.median(x[np.isfinite(x)])))
        if diffs:
            w = np.asarray(weights, float)
            values[key] = float(100.0 * np.average(diffs, weights=w) / np.average(level, weights=w))
        else:
            values[key] = float("nan")


def _foot_strike_metrics(analysis: Analysis, run: pd.DataFrame, values: dict[str, float], unav: dict[str, str]) -> None:
    """``derived.rearfoot_share`` and ``derived.foot_strike_confidence``, or why not."""
    summary = analysis.summary
    conf = float(summary.get("foot_strike_confidence", 0.0) or 0.0)
    values["derived.foot_strike_confidence"] = conf
    score = run["rearfoot_score"].to_numpy(float) if "rearfoot_score" in run and len(run) else np.zeros(0)
    score = score[np.isfinite(score)]
    if summary.get("foot_strike", "uncertain") != "uncertain" and score.size >= 5:
        values["derived.rearfoot_share"] = float(np.mean(score >= 0.5))
        return
    values["derived.rearfoot_share"] = float("nan")
    tr = run["impact_transient_bw"].to_numpy(float) if "impact_transient_bw" in run and len(run) else np.zeros(0)
    if np.isfinite(tr).sum() >= 5:
        unav["foot_strike"] = (
            f"the landing's impact transient (median {np.nanmedian(tr):.2f} body weights) does not stand clear "
            f"of the stance's own vibration, so this run's foot strike is undecided (confidence {conf:.2f})"
        )
    else:
        unav["foot_strike"] = "too few running steps to tell the foot strike"


def derived_metrics(analysis: Analysis) -> _Derived:
    """The metrics this module derives from an analysis (see the module docstring).

    Returns run values (``derived.<name>``), per-step series aligned with
    ``analysis.running_steps``, and the reason for each that could not be computed.
    """
    run = analysis.running_steps
    values: dict[str, float] = {}
    per_step: dict[str, np.ndarray] = {}
    unav: dict[str, str] = {}
    vib, why = _late_stance_vibration(analysis, run)
    key = "derived.late_stance_vibration_mps2"
    if vib is None:
        unav["vibration"] = why or "not available"
        values[key] = float("nan")
    else:
        per_step[key] = vib
        values[key] = float(np.nanmedian(vib)) if np.isfinite(vib).any() else float("nan")
    _timing_metrics(run, values, per_step)
    _foot_strike_metrics(analysis, run, values, unav)
    series = []
    window = int(min(31, max(len(run), 1)))
    angles = ("roll_range_deg", "yaw_range_deg")
    # both angles or none: the metric is defined as their average (its evidence names both)
    if not any(col in analysis.unavailable for col in angles):
        for col in angles:
            x = run[col].to_numpy(float)
            if np.isfinite(x).sum() >= 8:
                series.append(_rolling_robust_cv_pct(x, window))
    key = "derived.trunk_angle_variability_pct"
    values[key] = float("nan")
    if len(series) < len(angles):
        series = []
        reasons = [analysis.unavailable[c] for c in angles if c in analysis.unavailable]
        unav["trunk_angles"] = " and ".join(dict.fromkeys(reasons)) if reasons else "too few steps with trunk angles"
    if series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN edges give NaN, as intended
            local = np.nanmean(np.vstack(series), axis=0)
        per_step[key] = local
        if np.isfinite(local).any():
            values[key] = float(np.nanmedian(local))
    return _Derived(values, per_step, unav)
