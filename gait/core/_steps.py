"""The step table: per-step metrics for detected events (`gait.core.metrics.step_table`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.integrate import cumulative_trapezoid

from .._checks import check_mask, check_rate, check_same_length, check_signal, check_vectors
from ..constants import AP, DEG_PER_RAD, G, V
from ..errors import check_number
from ._columns import STEP_COLUMNS
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
    # 32-bit indices where they fit: the flat arrays are as long as all the steps together
    itype = np.int32 if max(n, start.size) < 2**31 - 1 else np.int64
    owner = np.repeat(np.arange(start.size, dtype=itype), length)
    idx = np.arange(int(length.sum()), dtype=np.int64)
    idx -= offsets[owner]
    idx += start[owner]
    np.clip(idx, 0, max(n - 1, 0), out=idx)
    return idx.astype(itype), owner, offsets, nonempty


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
    del z
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
    transient, background, collision, collision_bg = collision_transient(
        acc_level[:, V],
        early_r,
        ic,
        tc_samples,
        segment_id,
        fs,
        bout,
        running,
        (ic_i, np.where(has_next, nxt_i, ic_i)),
        f_ap=acc_level[:, AP],
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

    # the per-sample gathers are done: let them go before the regularity's own
    del step_r, stance_r, early_r, idx, owner

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
            "collision_bw": collision,
            "collision_background_bw": collision_bg,
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
