"""Per-step metrics, per-minute and per-run summaries (columns: ``docs/tables.md``).

All per-step quantities are computed at once for every step with "ragged" reductions: the
samples of all steps are gathered into one flat array with an owner index, and maxima, minima
and sums are taken with ``np.maximum.reduceat`` and friends. No Python loop runs per step or
per sample.

Definitions (level frame, see `gait.core.frames`):

- *Vertical oscillation*: max - min of the sensor's height from a contact to the next. The
  height comes from the vertical acceleration (vertical specific force minus the measured
  gravity magnitude, which absorbs sensor scale and bias) integrated twice over the whole bout,
  each integral with its linear trend and its content below `HEIGHT_HIGHPASS_HZ` removed
  (`_height`). The extremes (mid-stance, mid-flight) lie well inside the step, so the value
  does not depend on where the contacts are placed.
- *Impact peak*: the largest vertical acceleration (gravity removed) in the first 25 % of
  stance; *loading rate*: its rise from the flight level divided by the time from contact.
- *Foot strike*: the landing's collision transient, the largest excess of the vertical
  specific force over its own 10 Hz low-pass in the first 25 % of stance, in body weights:
  ``rearfoot`` from 0.6, ``forefoot`` below 0.2, ``midfoot`` between, each decided only when
  it stands three times the stance's own vibration (40-80 % of stance) clear of the class
  boundaries, else ``uncertain`` (`classify_foot_strike`).
- *Braking*: the antero-posterior acceleration with the step's mean removed; its most negative
  value in stance (peak deceleration) and the forward speed lost from contact to its lowest
  point in stance.
- *Lean*: mean pitch over the step minus the standing reference. *Lateral lean*: mean roll
  over the stride. *Pelvic drop*: the largest roll excursion in stance towards the swing side,
  relative to the stride's mean. *Roll / yaw range*: max - min over the stride.
- *Step / stride regularity*: correlation of the vertical acceleration over the stride from
  the contact with itself one step (one stride) later (Moe-Nilssen & Helbostad 2004, computed
  per step). A step regularity well below the stride regularity means the left
  and right steps differ.

Notes
-----
Vertical oscillation by double integration of the vertical acceleration with a zero-phase
high-pass after each integration, as Zijlstra & Hof (2003) did for walking. Deviations: a
2nd-order Butterworth run forward and backward at 0.3 Hz (theirs: 4th order; the cutoff is
this project's, set from the stride frequency), the linear trend removed before each filter,
over each bout rather than the whole recording (a change of gait shifts the mean height), the
bout extended at each end by repeating its first and last stride (so the filter's ends fall
outside the steps), and the range taken per step. The force-plate reference integrates
``(F / BW - 1) g`` twice (Cavagna 1975). There
is no published, validated method for foot-strike type from a trunk sensor. The physical basis:
heel-first landings produce a distinct impact transient in the vertical force, forefoot
landings none and midfoot landings a small one (Lieberman et al. 2010, Nature 463:531-535);
loading rates fall from rearfoot to forefoot (Almeida, Davis & Lopes 2015, J Orthop Sports
Phys Ther 45:738-755). Deviations: the class bands are this project's, set on its simulator;
on real sacral recordings the transient moves with slope and speed as much as with the strike,
which the decision rule (a margin over the stance's own vibration) answers with ``uncertain``
rather than a class (measured in ``benchmarks/accuracy.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.integrate import cumulative_trapezoid

from .._checks import check_mask, check_rate, check_same_length, check_signal, check_vectors
from ..constants import AP, DEG_PER_RAD, G, V
from ..errors import GaitInputError, Where, check_number
from .records import MinuteSignals, RunSummary, Surge, Warmup
from .strike import (  # noqa: F401 (re-exported: the step table's foot-strike columns)
    DECISION_RATIO,
    FOOT_STRIKES,
    FOREFOOT_BELOW_BW,
    REARFOOT_ABOVE_BW,
    classify_foot_strike,
    collision_transient,
    run_foot_strike,
)

__all__ = [
    "ASYMMETRY_METRICS",
    "MINUTE_COLUMNS",
    "STEP_COLUMNS",
    "STEP_METRICS",
    "minute_table",
    "run_summary",
    "step_table",
]

#: Metrics summarised per minute and per run (medians over valid running steps).
#: metrics whose steps alternate between two levels by side (the sacrum lands lower after one
#: foot than after the other: 0.9-2.2 cm of vertical oscillation on real treadmill running), so
#: that a median over all steps jumps between the two levels with one step more on either side;
#: the run's value is the mean of the two sides' medians when both are known
SIDE_ALTERNATING = ("vertical_oscillation_m", "vertical_ratio_pct")

STEP_METRICS = [
    "cadence_spm",
    "contact_time_s",
    "flight_time_s",
    "duty_factor",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
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
    "speed_mps",
    "step_length_m",
]


#: Metrics whose left/right asymmetry the run summary gives (``asymmetry_pct.<metric>``).
ASYMMETRY_METRICS = (
    "contact_time_s",
    "step_time_s",
    "flight_time_s",
    "impact_peak_mps2",
    "braking_peak_mps2",
    "pelvic_drop_deg",
)


def _running_valid(steps: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the valid running steps."""
    return (np.asarray(steps["activity"], dtype=object) == "running") & steps["valid"].to_numpy(bool)


#: The step table's columns, in order, with their dtypes (documented in docs/tables.md).
STEP_COLUMNS: dict[str, object] = {
    "step": int,
    "bout": int,
    "activity": object,
    "side": object,
    "side_confidence": float,
    "ic_s": float,
    "to_s": float,
    "step_time_s": float,
    "cadence_spm": float,
    "contact_time_s": float,
    "flight_time_s": float,
    "duty_factor": float,
    "vertical_oscillation_m": float,
    "vertical_ratio_pct": float,
    "impact_peak_mps2": float,
    "loading_rate_mps3": float,
    "impact_transient_bw": float,
    "stance_background_bw": float,
    "foot_strike": object,
    "foot_strike_confidence": float,
    "rearfoot_score": float,
    "braking_peak_mps2": float,
    "braking_velocity_loss_mps": float,
    "lean_deg": float,
    "pelvic_drop_deg": float,
    "lateral_lean_deg": float,
    "roll_range_deg": float,
    "yaw_range_deg": float,
    "step_regularity": float,
    "stride_regularity": float,
    "speed_mps": float,
    "step_length_m": float,
    "toe_off_measured": bool,
    "complete": bool,
    "near_gap": bool,
    "valid": bool,
}


# ---------------------------------------------------------------------------------------
# ragged reductions
# ---------------------------------------------------------------------------------------
def _ragged(start: np.ndarray, stop: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flat sample indices of ``[start[k], stop[k])`` for all k (clipped to ``[0, n)``).

    Returns ``idx`` (flat sample indices), ``owner`` (k of each), ``offsets`` (start of each
    k's block in ``idx``, for ``reduceat``), and ``nonempty`` (bool per k). Empty ranges get a
    one-sample placeholder block so offsets stay valid; use ``nonempty`` to mask results.
    """
    start = np.clip(np.asarray(start, dtype=np.int64), 0, max(n - 1, 0))
    stop = np.clip(np.asarray(stop, dtype=np.int64), 0, n)
    length = stop - start
    nonempty = length > 0
    length = np.where(nonempty, length, 1)
    offsets = np.concatenate([[0], np.cumsum(length)[:-1]])
    owner = np.repeat(np.arange(start.size), length)
    idx = start[owner] + (np.arange(int(length.sum())) - offsets[owner])
    return np.clip(idx, 0, max(n - 1, 0)), owner, offsets, nonempty


def _reduce(ufunc: np.ufunc, values: np.ndarray, offsets: np.ndarray, nonempty: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return np.full(nonempty.size, np.nan)
    out = ufunc.reduceat(values, offsets).astype(float)
    return np.where(nonempty, out, np.nan)


def _mean(values: np.ndarray, offsets: np.ndarray, nonempty: np.ndarray, owner: np.ndarray) -> np.ndarray:
    s = _reduce(np.add, values, offsets, nonempty)
    cnt = np.bincount(owner, minlength=offsets.size)
    return s / np.maximum(cnt, 1)


# ---------------------------------------------------------------------------------------
# vertical oscillation: the height over each bout
# ---------------------------------------------------------------------------------------
#: zero-phase high-pass after each integration of the vertical acceleration, Hz: well below the
#: slowest stride frequency (about 0.8 Hz walking, 1.2 Hz running; the two filters pass 0.96
#: and 0.99 of it), above the drift of an integrated bias (0.2-0.5 Hz give the same RBDS
#: figures within 0.03 cm: `benchmarks/accuracy.py`)
HEIGHT_HIGHPASS_HZ = 0.3
#: fewest samples over which the height is integrated (shorter ranges: NaN)
MIN_HEIGHT_SAMPLES = 16


def _detrend(y: np.ndarray) -> np.ndarray:
    """``y`` minus its least-squares straight line (as `scipy.signal.detrend`, in closed form)."""
    n = y.size
    if n < 2:
        return y - y.mean()
    x = np.arange(n, dtype=float) - 0.5 * (n - 1)
    slope = float(x @ y) / float(x @ x)
    return y - y.mean() - slope * x


def _height(
    a_v: np.ndarray,
    contacts: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    fs: float,
    filled: np.ndarray | None = None,
) -> np.ndarray:
    """Height of the sensor (m) over sample ranges ``[start, stop)`` from its vertical acceleration.

    Over each range (the steps of one bout), the acceleration is integrated to a velocity and
    again to a height, each followed by the removal of its straight-line trend and a zero-phase
    2nd-order Butterworth high-pass at `HEIGHT_HIGHPASS_HZ` (Zijlstra & Hof 2003): together they
    remove the integration drift and any steady climb or descent. Before integrating, the
    acceleration is extended at each end by repeating the range's first and last stride, its
    mean removed (the gait carried on steadily; ``contacts`` are the contacts' samples), so
    that the filter's start and end lie outside the steps. A range is cut at ``filled``
    samples (a bridged gap: the interpolated acceleration would shift the velocity after it),
    each part kept from its first to its last contact. NaN outside the ranges and over ranges
    shorter than `MIN_HEIGHT_SAMPLES`.
    """
    from scipy.signal import sosfiltfilt

    from .filters import butter_sos

    z = np.full(a_v.size, np.nan)
    sos = butter_sos(2, HEIGHT_HIGHPASS_HZ, fs, "high")
    pad = int(fs / HEIGHT_HIGHPASS_HZ)
    if filled is not None and filled.any():  # cut each range at the bridged samples
        edge = np.flatnonzero(np.diff(np.concatenate([[False], filled, [False]]).astype(np.int8)))
        cut_a, cut_b = edge[::2], edge[1::2]  # each bridged run is [cut_a, cut_b)
        starts, stops = [], []
        for a, b in zip(start, stop):  # one range per bout, a few gaps each
            inside = (cut_b > a) & (cut_a < b)
            starts.append(np.concatenate([[a], np.minimum(cut_b[inside], b)]))
            stops.append(np.concatenate([np.maximum(cut_a[inside], a), [b]]))
        start, stop = np.concatenate(starts), np.concatenate(stops)
    for a, b in zip(start, stop):  # one range per bout (and per part between bridged gaps)
        c = contacts[(contacts >= a) & (contacts < b)]
        if c.size < 2:
            continue
        a, b = int(c[0]), int(c[-1]) + 1  # from the first contact to the last
        if b - a < MIN_HEIGHT_SAMPLES:
            continue
        x = np.nan_to_num(a_v[a:b])
        n_pre = n_post = 0
        if c.size >= 3 and c[2] > c[0] and c[-1] > c[-3]:  # one stride at each end, repeated
            first, last = x[: c[2] - a], x[c[-3] - a + 1 :]
            first, last = first - first.mean(), last - last.mean()  # steady: no net change of speed
            pre = np.tile(first, -(-pad // first.size))[-pad:]
            post = np.tile(last, -(-pad // last.size))[:pad]
            n_pre, n_post = pre.size, post.size
            x = np.concatenate([pre, x, post])
        p = min(pad, x.size - 1)
        v = sosfiltfilt(sos, _detrend(cumulative_trapezoid(x, dx=1.0 / fs, initial=0)), padlen=p, padtype="even")
        h = sosfiltfilt(sos, _detrend(cumulative_trapezoid(v, dx=1.0 / fs, initial=0)), padlen=p, padtype="even")
        z[a:b] = h[n_pre : h.size - n_post]
    return z


# ---------------------------------------------------------------------------------------
# the step table
# ---------------------------------------------------------------------------------------
def step_table(
    events: pd.DataFrame,
    *,
    t: np.ndarray,
    sampling_rate_hz: float,
    acc_level: np.ndarray,
    pitch: np.ndarray,
    roll: np.ndarray,
    yaw: np.ndarray,
    lean_reference_rad: float | None,
    segment_id: np.ndarray,
    speed_mps: float | np.ndarray | None = None,
    gravity: np.ndarray | None = None,
    filled: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per-step metrics for detected events.

    Parameters
    ----------
    events
        One row per step, sorted by time, with ``ic_idx``, ``to_idx`` (fractional global
        sample positions), ``bout``, ``activity``, ``side``, ``ok``, ``to_measured`` and
        ``stance_level_mps2`` (half-sine amplitude of the stance, running only).
    t, sampling_rate_hz
        Sample times (s) and rate.
    acc_level, pitch, roll, yaw
        Level-frame specific force (m/s^2) and trunk angles (rad), per sample.
    lean_reference_rad
        Pitch of the standing reference in the same frame, or None (lean unavailable).
    segment_id
        Contiguous-segment index of each sample (steps never span a gap).
    speed_mps
        Known running speed (treadmill, GPS): one value, or one per step (a watch's track), or None.
    gravity
        Measured gravity magnitude per sample (`gait.core.frames.LevelSignals.gravity`), m/s^2;
        None uses standard gravity.
    filled
        True at samples interpolated across a short gap (`gait.core.pipeline`), or None: the height
        for the vertical oscillation is integrated separately on either side, and a step
        across such a gap has none.
    """
    fs = check_rate(sampling_rate_hz)
    t = check_signal(t, "t", finite=True)
    n = t.size
    check_vectors(acc_level, "acc_level")
    check_same_length(n, "t", acc_level=acc_level)
    for name, x in (
        ("pitch", pitch),
        ("roll", roll),
        ("yaw", yaw),
        ("segment_id", segment_id),
        ("gravity", gravity),
    ):
        if x is not None:
            check_same_length(n, "t", **{name: check_signal(x, name)})
    if filled is not None:
        filled = check_mask(filled, "filled", n, "t")
    if lean_reference_rad is not None:
        check_number(lean_reference_rad, "lean_reference_rad", expected="a pitch in rad, or None")
    m = len(events)
    if speed_mps is not None and np.ndim(speed_mps):
        check_same_length(m, "events", speed_mps=check_signal(speed_mps, "speed_mps"))
    dt = 1.0 / fs
    if m == 0:
        return _empty_steps()
    ic = events["ic_idx"].to_numpy(float)
    to = events["to_idx"].to_numpy(float)
    bout = events["bout"].to_numpy()
    running = (events["activity"] == "running").to_numpy()
    side = events["side"].to_numpy(object)
    side_conf = events["side_confidence"].to_numpy(float) if "side_confidence" in events else np.zeros(m)
    ic_s = np.interp(ic, np.arange(n), t)
    to_s = np.interp(to, np.arange(n), t)
    ic_i = np.clip(np.round(ic).astype(np.int64), 0, n - 1)
    to_i = np.clip(np.round(to).astype(np.int64), 0, n - 1)

    # the next contact in the same bout and segment
    same_next = np.zeros(m, bool)
    same_next[:-1] = (bout[1:] == bout[:-1]) & (segment_id[ic_i[1:]] == segment_id[ic_i[:-1]])
    nxt_i = np.where(same_next, np.roll(ic_i, -1), -1)
    nxt_s = np.where(same_next, np.roll(ic_s, -1), np.nan)
    step_time = nxt_s - ic_s
    same_next2 = same_next & np.roll(same_next, -1)
    same_next2[-1] = False
    nxt2_i = np.where(same_next2, np.roll(ic_i, -2), -1)

    contact = to_s - ic_s
    flight = np.where(running, nxt_s - to_s, 0.0)
    # a running toe-off must fall inside its own step: after the contact and before the next
    # one (when there is a next one); otherwise contact, flight and duty factor are unknown and
    # the step is not valid
    to_placed = ~running | (np.isfinite(to_s) & (to_s > ic_s) & ~(to_s >= nxt_s))
    contact = np.where(to_placed, contact, np.nan)
    flight = np.where(to_placed, flight, np.nan)
    stride = step_time + np.roll(step_time, -1)
    stride[-1] = np.nan
    stride = np.where(same_next2, stride, 2 * step_time)
    duty = contact / stride

    a_v = acc_level[:, V] - (G if gravity is None else gravity)
    a_ap = acc_level[:, AP]

    # the samples of every step (contact to next contact, inclusive), of every stance, of the
    # first 30 % of every stance, and of every stride: one ragged gather each
    has_next = nxt_i > ic_i
    step_r = _ragged(ic_i, np.where(has_next, nxt_i + 1, ic_i + 1), n)
    stance_r = _ragged(ic_i, np.maximum(to_i + 1, ic_i + 1), n)
    tc_samples = np.maximum(to - ic, 1.0)
    early_r = _ragged(ic_i, np.maximum(np.round(ic + 0.3 * tc_samples).astype(np.int64) + 1, ic_i + 1), n)
    has_stride = nxt2_i > ic_i

    # --- vertical oscillation: max - min of the bout's height from contact to next contact -
    # (the extremes, mid-stance and mid-flight, lie well inside the step, so the value does
    # not depend on where the contacts are placed; `_height`)
    idx, owner, offs, ne = step_r
    first = np.flatnonzero(np.concatenate([[True], ~same_next[:-1]]))  # a bout's (segment's) first step
    last = np.append(first[1:] - 1, m - 1)
    z = _height(a_v, ic_i, ic_i[first], np.where(has_next, nxt_i, ic_i)[last] + 1, fs, filled)[idx]
    osc = _reduce(np.fmax, z, offs, ne) - _reduce(np.fmin, z, offs, ne)
    osc = np.where(_reduce(np.add, np.isnan(z), offs, ne) > 0, np.nan, osc)  # a step across a bridged gap
    osc = np.where(has_next, osc, np.nan)
    ap_mean = _mean(a_ap[idx], offs, ne, owner)
    mean_pitch = _mean(pitch[idx], offs, ne, owner)
    # per-step roll / yaw extremes and roll sums; a stride is this step and the next, which
    # share one sample (the next contact), so its values follow without a second gather
    r, y = roll[idx], yaw[idx]
    r_max, r_min = _reduce(np.maximum, r, offs, ne), _reduce(np.minimum, r, offs, ne)
    y_max, y_min = _reduce(np.maximum, y, offs, ne), _reduce(np.minimum, y, offs, ne)
    r_sum, r_cnt = _reduce(np.add, r, offs, ne), np.bincount(owner, minlength=m)

    # --- impact and loading rate (first 25 % of stance) ----------------------------------
    idx, owner, offs, ne = early_r
    phase = np.clip((idx - ic[owner]) / tc_samples[owner], 0.0, 1.0)
    vals = np.where(phase <= 0.25, a_v[idx], -np.inf)
    impact = _reduce(np.maximum, vals, offs, ne)
    # position of the maximum: first index equal to it
    pos = np.flatnonzero(vals == impact[owner])
    first_max = np.full(m, -1, dtype=np.int64)
    first_max[owner[pos][::-1]] = idx[pos][::-1]
    t_peak = np.maximum((first_max - ic) * dt, dt)
    loading = (impact - a_v[np.clip(np.floor(ic).astype(np.int64), 0, n - 1)]) / t_peak
    impact = np.where(running & np.isfinite(impact), impact, np.nan)
    loading = np.where(running & np.isfinite(impact), loading, np.nan)

    # --- foot strike: the collision transient early in stance ----------------------------
    transient, background = collision_transient(
        acc_level[:, V], early_r, ic, tc_samples, segment_id, fs, bout, running, (ic_i, np.where(has_next, nxt_i, ic_i))
    )
    ok_run = running & events["ok"].to_numpy(bool)
    strike, confidence, score = classify_foot_strike(transient, background, bout, ok_run)
    # --- braking --------------------------------------------------------------------------
    idx, owner, offs, ne = stance_r
    ap_st = a_ap[idx] - ap_mean[owner]
    braking = -_reduce(np.minimum, ap_st, offs, ne)
    first = np.zeros(idx.size, bool)
    first[offs] = True
    inc = np.where(first, 0.0, (ap_st + np.concatenate([[0.0], ap_st[:-1]])) * (dt / 2))
    u = np.cumsum(inc)
    u = u - u[offs][owner]
    vloss = -_reduce(np.minimum, u, offs, ne)
    braking = np.where(running & has_next, np.maximum(braking, 0.0), np.nan)
    vloss = np.where(running & has_next, np.maximum(vloss, 0.0), np.nan)

    # --- trunk angles ------------------------------------------------------------------------
    lean = (mean_pitch - lean_reference_rad) * DEG_PER_RAD if lean_reference_rad is not None else np.full(m, np.nan)

    def nxt(v: np.ndarray) -> np.ndarray:  # the next step's value
        return np.append(v[1:], np.nan)

    shared = roll[np.clip(nxt_i, 0, n - 1)]
    roll_mean = (r_sum + nxt(r_sum) - shared) / np.maximum(r_cnt + nxt(r_cnt.astype(float)) - 1, 1)
    roll_range = (np.fmax(r_max, nxt(r_max)) - np.fmin(r_min, nxt(r_min))) * DEG_PER_RAD
    yaw_range = (np.fmax(y_max, nxt(y_max)) - np.fmin(y_min, nxt(y_min))) * DEG_PER_RAD
    roll_range = np.where(has_stride, roll_range, np.nan)
    yaw_range = np.where(has_stride, yaw_range, np.nan)
    lateral = np.where(has_stride, roll_mean * DEG_PER_RAD, np.nan)
    sgn = np.where(side == "L", 1.0, np.where(side == "R", -1.0, np.nan))
    idx, owner, offs, ne = stance_r
    drop = _reduce(np.maximum, sgn[owner] * (roll[idx] - roll_mean[owner]), offs, ne) * DEG_PER_RAD
    drop = np.where(has_stride & running, drop, np.nan)

    # --- step regularity ------------------------------------------------------------------
    # one stride from the contact, compared with itself one step and one stride later; at
    # about 100 Hz (plenty for a correlation at the step frequency)
    h = max(int(fs // 100), 1)
    x_h = a_v[::h]
    ic_h, nxt_h, nxt2_h = ic_i // h, np.where(has_stride, nxt_i // h, 0), np.where(has_stride, nxt2_i // h, 0)
    window = _ragged(ic_h, np.where(has_stride, nxt2_h + 1, ic_h + 1), x_h.size)
    reg, sreg = _regularities(x_h, window, [nxt_h - ic_h, nxt2_h - ic_h], x_h.size)
    reg, sreg = np.where(has_stride, reg, np.nan), np.where(has_stride, sreg, np.nan)

    speed = np.full(m, np.nan) if speed_mps is None else np.where(running, np.asarray(speed_mps, dtype=float), np.nan)
    step_length = speed * step_time
    vratio = 100 * osc / step_length

    valid = events["ok"].to_numpy(bool) & np.isfinite(step_time) & (step_time > 0) & to_placed
    # the first and last step of a bout are edge steps: excluded from medians
    first_in_bout = np.concatenate([[True], bout[1:] != bout[:-1]])
    last_in_bout = np.concatenate([bout[1:] != bout[:-1], [True]])
    valid &= ~first_in_bout & ~last_in_bout

    df = pd.DataFrame(
        {
            "step": np.arange(m),
            "bout": bout,
            "activity": events["activity"].to_numpy(object),
            "side": side,
            "side_confidence": side_conf,
            "ic_s": ic_s,
            "to_s": to_s,
            "step_time_s": step_time,
            "cadence_spm": 60.0 / step_time,
            "contact_time_s": contact,
            "flight_time_s": flight,
            "duty_factor": duty,
            "vertical_oscillation_m": osc,
            "vertical_ratio_pct": vratio,
            "impact_peak_mps2": impact,
            "loading_rate_mps3": loading,
            "impact_transient_bw": transient,
            "stance_background_bw": background,
            "foot_strike": strike,
            "foot_strike_confidence": confidence,
            "rearfoot_score": score,
            "braking_peak_mps2": braking,
            "braking_velocity_loss_mps": vloss,
            "lean_deg": lean,
            "pelvic_drop_deg": drop,
            "lateral_lean_deg": lateral,
            "roll_range_deg": roll_range,
            "yaw_range_deg": yaw_range,
            "step_regularity": reg,
            "stride_regularity": sreg,
            "speed_mps": speed,
            "step_length_m": step_length,
            "toe_off_measured": events["to_measured"].to_numpy(bool),
            "complete": events["ok"].to_numpy(bool),
            "near_gap": np.zeros(m, bool),
            "valid": valid,
        }
    )
    return df


def _regularities(x: np.ndarray, window: tuple, lags: list[np.ndarray], n: int) -> list[np.ndarray]:
    """Correlation of ``x`` over each step's window with ``x`` one lag later, for each lag.

    ``window`` is a ragged gather (`_ragged`); the window's own statistics are computed once
    and shared by all lags.
    """
    idx, owner, offs, ne = window
    a = x[idx]
    a = a - _mean(a, offs, ne, owner)[owner]
    saa = _reduce(np.add, a * a, offs, ne)
    last = np.maximum.reduceat(idx, offs) if idx.size else np.zeros(0, np.int64)
    out = []
    for lag in lags:
        b = x[np.clip(idx + lag[owner], 0, n - 1)]
        b = b - _mean(b, offs, ne, owner)[owner]
        sab = _reduce(np.add, a * b, offs, ne)
        sbb = _reduce(np.add, b * b, offs, ne)
        ok = ne & (lag > 0) & (last + lag < n)
        out.append(np.where(ok, sab / np.sqrt(np.maximum(saa * sbb, 1e-300)), np.nan))
    return out


def _empty_steps() -> pd.DataFrame:
    """A step table with no rows and the documented columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in STEP_COLUMNS.items()})


# ---------------------------------------------------------------------------------------
# summaries
# ---------------------------------------------------------------------------------------
def _asym(left: float, right: float) -> float:
    mean = (left + right) / 2
    return float(100 * (left - right) / mean) if np.isfinite(mean) and mean != 0 else float("nan")


#: Columns of the per-minute table, in order (documented in docs/tables.md).
MINUTE_COLUMNS = [
    "minute",
    "start_s",
    "end_s",
    "running_s",
    "steps",
    *STEP_METRICS,
    "rearfoot_share",
    "midfoot_share",
    "forefoot_share",
    "step_time_cv_pct",
    "contact_time_asymmetry_pct",
    "intensity_mps2",
    "ml_sway_rms_mps2",
    "stance_vibration_mps2",
]


def minute_table(
    steps: pd.DataFrame, *, signals: MinuteSignals | None = None, t: np.ndarray | None = None
) -> pd.DataFrame:
    """Per-minute medians of valid running steps (``docs/tables.md``).

    ``signals`` (`gait.core.records.MinuteSignals`) may hold per-sample ``intensity`` (|f| - g),
    ``ml`` (medio-lateral acceleration) and ``vibration`` (20-45 Hz vertical in stance, else NaN)
    with times ``t``; their RMS per minute over the running samples is added. Plain NumPy over the (time-sorted) steps: this runs on every
    live window too.

    Parameters
    ----------
    steps
        The step table (`step_table`), sorted by time.
    signals
        Per-sample signals, each 1-D and as long as ``t``; None: no signal columns.
    t
        Sample times, s (required with ``signals``).

    Returns
    -------
    DataFrame
        One row per minute with a valid running step, `MINUTE_COLUMNS`.
    """
    if signals is not None:
        if t is None:
            raise GaitInputError(
                "signals without their times",
                expected="the sample times t with signals",
                found="t None",
                where=Where(parameter="t"),
            )
        t = check_signal(t, "t")
        if not isinstance(signals, MinuteSignals):
            raise GaitInputError(
                "signals of the wrong type",
                expected="a gait.core.records.MinuteSignals",
                found=type(signals).__name__,
                where=Where(parameter="signals"),
            )
        for key, sig in signals.arrays().items():
            check_same_length(t.size, "t", **{f"signals[{key!r}]": check_signal(sig, f"signals[{key!r}]")})
    sel = _running_valid(steps)
    if not sel.any():
        return pd.DataFrame({c: pd.Series(dtype=int if c in ("minute", "steps") else float) for c in MINUTE_COLUMNS})
    ic = steps["ic_s"].to_numpy()[sel]
    minute = np.floor(ic / 60.0).astype(np.int64)
    minutes, first = np.unique(minute, return_index=True)
    bounds = np.append(first, minute.size)
    vals = steps[STEP_METRICS].to_numpy(float)[sel]
    step_time = steps["step_time_s"].to_numpy(float)[sel]
    contact = steps["contact_time_s"].to_numpy(float)[sel]
    side = np.asarray(steps["side"], dtype=object)[sel]
    strike = np.asarray(steps["foot_strike"], dtype=object)[sel]
    counts = np.diff(bounds)
    k = minutes.size
    pos = np.arange(minute.size) - np.repeat(first, counts)  # step number within its minute
    grp = np.repeat(np.arange(k), counts)

    def padded(x: np.ndarray) -> np.ndarray:
        """(minutes, most steps in a minute, ...) with NaN padding, for one nanmedian call."""
        out = np.full((k, int(counts.max()), *x.shape[1:]), np.nan)
        out[grp, pos] = x
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN metric in a minute gives NaN
        med = np.nanmedian(padded(vals), axis=1)
        left = np.nanmedian(padded(np.where(side == "L", contact, np.nan)), axis=1)
        right = np.nanmedian(padded(np.where(side == "R", contact, np.nan)), axis=1)
    decided = np.isin(strike, FOOT_STRIKES[:3])
    n_known = np.bincount(grp, weights=decided.astype(float), minlength=k)
    shares = [
        np.where(
            n_known > 0,
            np.bincount(grp, weights=(strike == c).astype(float), minlength=k) / np.maximum(n_known, 1),
            np.nan,
        )
        for c in FOOT_STRIKES[:3]
    ]
    st_sum = np.bincount(grp, weights=np.nan_to_num(step_time), minlength=k)
    st_mean = st_sum / counts
    st_var = np.bincount(grp, weights=np.nan_to_num(step_time - st_mean[grp]) ** 2, minlength=k) / np.maximum(
        counts - 1, 1
    )
    body = np.column_stack(
        [
            st_sum,
            counts,
            med,
            *shares,
            np.where(counts > 1, 100 * np.sqrt(st_var) / st_mean, np.nan),
            100 * (left - right) / ((left + right) / 2),
        ]
    )
    data: dict[str, np.ndarray] = {"minute": minutes, "start_s": minutes * 60.0, "end_s": minutes * 60.0 + 60.0}
    names = [
        "running_s",
        "steps",
        *STEP_METRICS,
        "rearfoot_share",
        "midfoot_share",
        "forefoot_share",
        "step_time_cv_pct",
        "contact_time_asymmetry_pct",
    ]
    data.update({c: body[:, j] for j, c in enumerate(names)})
    data["steps"] = data["steps"].astype(int)
    for name, col in (
        ("intensity", "intensity_mps2"),
        ("ml", "ml_sway_rms_mps2"),
        ("vibration", "stance_vibration_mps2"),
    ):
        x = None if signals is None or t is None else getattr(signals, name)
        if x is None or signals is None or t is None:
            data[col] = np.full(minutes.size, np.nan)
            continue
        mi = np.floor(t / 60.0).astype(np.int64)
        ok = np.isfinite(x) & signals.running_mask
        s2 = np.bincount(mi[ok], weights=x[ok] ** 2, minlength=int(mi.max()) + 1)
        cnt = np.bincount(mi[ok], minlength=int(mi.max()) + 1)
        rms = np.sqrt(s2 / np.maximum(cnt, 1))
        rms[cnt == 0] = np.nan
        data[col] = rms[minutes]
    return pd.DataFrame(data, columns=MINUTE_COLUMNS)


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
    # the run's foot strike: the median of its steps' transients and its standard error
    tr = np.asarray(steps["impact_transient_bw"], dtype=float)[sel] if "impact_transient_bw" in steps else np.zeros(0)
    bg = np.asarray(steps["stance_background_bw"], dtype=float)[sel] if "stance_background_bw" in steps else None
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
