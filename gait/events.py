"""Gait events: initial contact (IC), toe-off (TO) and side, vectorised over all steps.

Running
-------
In flight a sensor on the trunk is close to free fall (vertical specific force near 0); in
stance the vertical specific force rises to 2-3 g and falls again. On the level-frame vertical
specific force ``f_v``:

1. *Stances*: peaks of ``f_v`` low-passed at 5 Hz (one per step), with the troughs (flight)
   between them.
2. *Initial contact*: the first sample, after the trough, whose slope reaches half of the
   stance's steepest rise; the slope maximum within 15 ms of it; IC is where the tangent at
   that slope meets the free-fall level (0 g), or the trough level when the trough is above it
   (no real flight). For a spring-mass stance (half sine) this is exact; a
   heel-strike transient only steepens the rise; a double-peaked impact does not move IC to
   the second rise, and a gentle drift before contact (pelvic motion in late swing) does not
   pull IC early.
3. *Toe-off*: the first downward crossing, after the stance's smoothed peak (past the impact
   and its dip), of a level set at 60 % of
   the stance's own level (the mean of its central 40 %, scaled to a half-sine amplitude); TO
   is extrapolated from that crossing as a fixed share of the contact:
   ``TO = (t_cross - IC o) / (1 - o)`` with ``o = TO_DESCENT_LEAD``. This uses the steep
   middle of the descent, the most repeatable part (within-trial SD about 5 ms on real data),
   rather than its end, where soft tissue and pelvic motion leave a slow tail that makes
   "return to 0 g" toe-offs late. ``o`` is the one constant calibrated on real force-plate
   data (see `TO_DESCENT_LEAD`).

Walking
-------
Initial contact at the peaks of the vertical acceleration low-passed at 3 Hz (the centre of
mass is lowest and the vertical force highest around double support); toe-off is *not
measured*: it is set at 24 % of a step after the next contact (typical double support), and
flagged as estimated.

Side
----
With a gyroscope: the pelvis turns towards the swing side in stance (the swing leg's hip comes
forward), so the mean yaw rate over a left stance is positive (+ = turning left). Without a
gyroscope, with a medio-lateral axis: the centre of mass is pushed towards the other side in
stance, so the mean medio-lateral acceleration of a left stance is negative (+ = left). Steps
alternate, so one alternating assignment is fitted per bout by the sum of the per-step
evidence; when the evidence is weak (or there is no medio-lateral information) the side is
``?``.

Notes
-----
Compared with published sacral-sensor methods (REFERENCES.md): Lee et al. (2010) place IC at
the antero-posterior acceleration peak; Auvinet et al. (2002) IC at the vertical minimum plus
AP maximum and TO when the vertical acceleration falls below -1 g (gravity removed), which on
real sacral data is late because of the post-toe-off tail. Kiernan (2023) measured limits of
agreement of about +-120 to 150 ms for those methods. The tangent onset and the half-sine
extrapolation here are this project's; they were chosen by comparing a small set of
physically motivated definitions on simulated data and on the real recordings described in
``benchmarks/accuracy.py``. One constant, the toe-off descent lead, was calibrated on those
recordings (one runner, 19 trials); its leave-one-trial-out error is reported there.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy.signal import butter, find_peaks, sosfiltfilt

from .constants import G

__all__ = ["running_events", "walking_events", "assign_sides", "EVENT_COLUMNS"]

#: a contact's rise is "sharp" from the first sample rising at least this share of the
#: stance's steepest rise; the tangent is taken at the slope maximum within 15 ms after it
SHARP_RISE = 0.3
ONSET_WINDOW_S = 0.015
#: after toe-off the signal must come back within this of the pre-contact trough level
ONSET_RETURN = 0.35 * G
TO_LEVEL = 0.6
#: share of the contact time between the descent's crossing of TO_LEVEL and toe-off. A
#: symmetric half sine gives asin(0.6) / pi = 0.205; real sacral recordings give 0.273 (median
#: over 266 force-plate steps, Alcantara et al. 2022; leave-one-trial-out cross-validated
#: contact-time MAE 14 ms): the trunk's vertical acceleration starts its descent before the
#: force does. The simulator's default stance shape reproduces this timing.
TO_DESCENT_LEAD = 0.273
#: mean of sin over the central 40 % of a half sine, to turn a central mean into an amplitude
_CENTRAL_MEAN_OF_SINE = float(np.mean(np.sin(np.pi * np.linspace(0.3, 0.7, 10001))))
WALK_DOUBLE_SUPPORT = 0.24

EVENT_COLUMNS = ["ic_s", "to_s", "stance_peak_idx", "ic_idx", "to_idx", "to_measured", "ok", "stance_level_mps2"]


@functools.lru_cache(maxsize=64)
def _butter_sos(order: int, cutoff: float | tuple[float, float], fs: float, btype: str = "low") -> np.ndarray:
    """Butterworth design, cached (the same few filters run on every window)."""
    return butter(order, cutoff, btype=btype, fs=fs, output="sos")


def _lowpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """Zero-phase 2nd-order low-pass. Used to locate stances and troughs only, so a signal
    sampled far above the cutoff is block-averaged to 20 x the cutoff first (faster; the
    located positions move by less than a sample of the original rate)."""
    q = max(int(fs / (20.0 * cutoff)), 1)
    if q > 1 and x.size >= 40 * q:
        m = x.size // q
        xd = np.append(x[: m * q].reshape(m, q).mean(axis=1), x[m * q :].mean() if x.size > m * q else [])
        yd = _lowpass(xd, fs / q, cutoff)
        # back to every sample, linear between block centres
        return np.interp(np.arange(x.size), np.arange(yd.size) * q + (q - 1) / 2.0, yd)
    sos = _butter_sos(2, cutoff, fs)
    if x.size <= 3 * (2 * len(sos) + 1) + 1:
        return np.full_like(x, x.mean())
    return sosfiltfilt(sos, x)


def _empty(t0: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_COLUMNS}).astype(
        {"stance_peak_idx": int, "to_measured": bool, "ok": bool}
    )


def _block_argmin(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Index of the minimum of ``x`` in each block ``[bounds[j], bounds[j+1])`` (first if tied)."""
    starts = bounds[:-1]
    lengths = np.maximum(np.diff(bounds), 1)
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    owner = np.repeat(np.arange(starts.size), lengths)
    idx = np.clip(starts[owner] + np.arange(int(lengths.sum())) - offs[owner], 0, x.size - 1)
    vals = x[idx]
    mins = np.minimum.reduceat(vals, offs)
    hit = np.flatnonzero(vals == mins[owner])
    first = np.full(starts.size, -1, dtype=np.int64)
    first[owner[hit][::-1]] = idx[hit][::-1]  # reversed so the earliest hit wins
    return first


def _interval_ids(n: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per sample, the index k of the interval ``[start[k], stop[k]]`` holding it, else -1.

    Intervals must be sorted and disjoint.
    """
    mark = np.zeros(n + 1, dtype=np.int64)
    np.add.at(mark, np.clip(start, 0, n), 1)
    np.add.at(mark, np.clip(stop + 1, 0, n), -1)
    inside = np.cumsum(mark[:n]) > 0
    first = np.zeros(n + 1, dtype=np.int64)
    np.add.at(first, np.clip(start, 0, n), 1)
    ids = np.cumsum(first[:n]) - 1
    return np.where(inside, ids, -1)


def _crossings_up(x: np.ndarray, thr: np.ndarray) -> np.ndarray:
    a = x > thr
    return np.flatnonzero(~a[:-1] & a[1:]) + 1


def _crossings_down(x: np.ndarray, thr: np.ndarray) -> np.ndarray:
    a = x >= thr
    return np.flatnonzero(a[:-1] & ~a[1:]) + 1


def running_events(f_v: np.ndarray, sampling_rate_hz: float, *, t0: float = 0.0) -> pd.DataFrame:
    """Initial contacts and toe-offs of running steps in a contiguous signal.

    Parameters
    ----------
    f_v
        Vertical specific force in the level frame (gravity included), m/s^2, 1-D.
    sampling_rate_hz
        Sampling rate.
    t0
        Time of the first sample, s.

    Returns
    -------
    DataFrame
        One row per stance with ``ic_s``, ``to_s`` (s), ``ic_idx``, ``to_idx`` (fractional
        sample positions), ``stance_peak_idx``, ``to_measured`` (True) and ``ok`` (False when
        the stance is not bounded by flight troughs on both sides within the signal).
    """
    fs = float(sampling_rate_hz)
    x = np.asarray(f_v, dtype=float)
    n = x.size
    if n < int(0.6 * fs):
        return _empty(t0)
    sm = _lowpass(x, fs, 5.0)
    peaks, _ = find_peaks(sm, height=1.2 * G, distance=max(int(0.2 * fs), 1), prominence=0.4 * G)
    if peaks.size == 0:
        return _empty(t0)
    # troughs: minimum of the smoothed signal before the first peak, between peaks, after the last
    reach = int(0.6 * fs)
    bounds = np.concatenate([[max(peaks[0] - reach, 0)], peaks, [min(peaks[-1] + reach, n - 1)]])
    troughs = _block_argmin(sm, bounds)
    tb, ta = troughs[:-1], troughs[1:]  # trough before / after each peak
    m = peaks.size
    # a stance must drop to a trough on both sides (flight or at least a clear valley)
    depth_b = sm[peaks] - sm[tb]
    depth_a = sm[peaks] - sm[ta]
    ok = (depth_b > 0.4 * G) & (depth_a > 0.4 * G)
    # baseline: the lowest raw value within 30 ms of each trough
    w = max(int(0.03 * fs), 1)
    off = np.arange(-w, w + 1)
    base_b = x[np.clip(tb[:, None] + off, 0, n - 1)].min(axis=1)

    # --- initial contact: the first sharp rise, tangent at its steepest slope ------------
    d1 = np.gradient(x)  # m/s^2 per sample
    seg_id = _interval_ids(n, tb, peaks)
    inside = seg_id >= 0
    sid = np.clip(seg_id, 0, None)
    # steepest rise of each stance (between its trough and its peak)
    steepest = np.full(m, -np.inf)
    np.maximum.at(steepest, sid[inside], d1[inside])
    # the earliest sample rising at least half as steeply: the contact's first sharp rise
    sharp = inside & (d1 >= SHARP_RISE * steepest[sid]) & (x > base_b[sid] + 0.05 * G)
    cand_idx = np.flatnonzero(sharp)
    first = np.searchsorted(cand_idx, tb)
    has_up = first < cand_idx.size
    onset = (
        np.where(has_up, cand_idx[np.clip(first, 0, max(cand_idx.size - 1, 0))], peaks)
        if cand_idx.size
        else peaks.copy()
    )
    has_up &= onset <= peaks
    # the local slope maximum just after that point
    win = np.arange(0, max(int(ONSET_WINDOW_S * fs), 1) + 1)
    cand = np.clip(onset[:, None] + win, 0, n - 1)
    cand = np.minimum(cand, peaks[:, None])
    r = cand[np.arange(m), np.argmax(d1[cand], axis=1)]
    slope = np.maximum(d1[r], 1e-9)  # m/s^2 per sample
    # the tangent meets the free-fall level (0 g): a trunk sensor can read below it in late
    # flight (the pelvis is pulled down before contact); without a real flight, the trough
    ic_idx = r - (x[r] - np.maximum(base_b, 0.0)) / slope
    ic_idx = np.maximum(ic_idx, tb)

    # --- toe-off: half-sine extrapolation from the descent --------------------------------
    o50 = np.arcsin(0.5) / np.pi
    toe = _first_down(x, peaks, ta, 0.5 * sm[peaks])
    to0 = np.where(np.isfinite(toe), (toe - ic_idx * o50) / (1 - o50), ta.astype(float))
    tc0 = np.maximum(to0 - ic_idx, 2.0)
    c = np.concatenate([[0.0], np.cumsum(x)])
    a_i = np.clip(np.round(ic_idx + 0.3 * tc0).astype(int), 0, n)
    b_i = np.clip(np.round(ic_idx + 0.7 * tc0).astype(int), 0, n)
    central = (c[np.maximum(b_i, a_i + 1)] - c[a_i]) / np.maximum(b_i - a_i, 1)
    amp = central / _CENTRAL_MEAN_OF_SINE
    o = TO_DESCENT_LEAD
    cross = _first_down(x, peaks, ta, TO_LEVEL * amp)
    to_idx = (cross - ic_idx * o) / (1 - o)
    # complete: the stance does not overlap its neighbours (toe-off before the next contact,
    # contact after the previous toe-off); the first and last stance must also be bounded by
    # the data: a trough before the contact, and after toe-off a return to a flight-like level
    # (a stance cut off by the end of the recording is not complete)
    base_a = x[np.clip(ta[:, None] + off, 0, n - 1)].min(axis=1)
    returned = base_a < base_b + ONSET_RETURN
    nxt_ic = np.concatenate([ic_idx[1:], [np.inf]])
    prv_to = np.concatenate([[-np.inf], to_idx[:-1]])
    ok &= has_up & np.isfinite(to_idx) & (to_idx > ic_idx) & (to_idx < nxt_ic) & (ic_idx > prv_to)
    ok[0] &= ic_idx[0] >= tb[0] + 1
    ok[-1] &= bool(returned[-1]) and to_idx[-1] <= ta[-1] - 1
    to_idx = np.where(np.isfinite(to_idx), to_idx, to0)
    return pd.DataFrame(
        {
            "ic_s": t0 + ic_idx / fs,
            "to_s": t0 + to_idx / fs,
            "stance_peak_idx": peaks,
            "ic_idx": ic_idx,
            "to_idx": to_idx,
            "to_measured": np.ones(m, bool),
            "ok": ok,
            "stance_level_mps2": amp,
        }
    )


def _first_down(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional index of the first downward crossing of ``level[k]`` in ``(start[k], stop[k]]``."""
    n = x.size
    seg = _interval_ids(n, start, stop)
    thr = np.where(seg >= 0, level[np.clip(seg, 0, None)], np.inf)
    downs = _crossings_down(x, thr)  # index j: x[j-1] >= thr, x[j] < thr
    # first crossing with j > start[k] (and j <= stop[k])
    pos = np.searchsorted(downs, start, side="right")
    valid = pos < downs.size
    j = downs[np.clip(pos, 0, max(downs.size - 1, 0))] if downs.size else np.zeros(start.size, int)
    valid &= (j <= stop) & (downs.size > 0)
    x0, x1 = x[np.clip(j - 1, 0, n - 1)], x[np.clip(j, 0, n - 1)]
    frac = np.where(x0 != x1, (x0 - level) / np.where(x0 != x1, x0 - x1, 1.0), 0.0)
    return np.where(valid, j - 1 + frac, np.nan)


def walking_events(f_v: np.ndarray, sampling_rate_hz: float, *, t0: float = 0.0) -> pd.DataFrame:
    """Initial contacts of walking steps (peaks of the 3 Hz low-passed vertical acceleration).

    Toe-off is estimated (not measured) at 24 % of a step after the next contact.
    """
    fs = float(sampling_rate_hz)
    x = np.asarray(f_v, dtype=float)
    if x.size < int(1.5 * fs):
        return _empty(t0)
    sm = _lowpass(x - G, fs, 3.0)
    peaks, _ = find_peaks(sm, distance=max(int(0.3 * fs), 1), prominence=0.8)
    if peaks.size < 2:
        return _empty(t0)
    ic_idx = peaks.astype(float)
    step = np.diff(ic_idx)
    step = np.concatenate([step, [np.median(step) if step.size else np.nan]])
    to_idx = ic_idx + step * (1 + WALK_DOUBLE_SUPPORT)
    ok = (step > 0.3 * fs) & (step < 1.2 * fs)
    return pd.DataFrame(
        {
            "ic_s": t0 + ic_idx / fs,
            "to_s": t0 + to_idx / fs,
            "stance_peak_idx": peaks,
            "ic_idx": ic_idx,
            "to_idx": to_idx,
            "to_measured": np.zeros(peaks.size, bool),
            "ok": ok,
            "stance_level_mps2": np.full(peaks.size, np.nan),
        }
    )


def assign_sides(
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    bout: np.ndarray,
    *,
    gyr_level_v: np.ndarray | None,
    acc_level_ml: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Side of each step (``L``, ``R`` or ``?``) and the evidence strength (0..1) per bout.

    Per-step evidence is the mean yaw rate in stance (gyroscope) or minus the mean
    medio-lateral acceleration in stance; positive means left. One alternating assignment is
    chosen per bout.
    """
    m = ic_idx.size
    side = np.full(m, "?", dtype=object)
    strength = np.zeros(m)
    if m == 0:
        return side, strength
    if gyr_level_v is not None and np.isfinite(gyr_level_v).any():
        sig, sign = gyr_level_v, 1.0
    elif acc_level_ml is not None and np.isfinite(acc_level_ml).any():
        sig, sign = acc_level_ml - np.nanmean(acc_level_ml), -1.0
    else:
        return side, strength
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(sig))])
    a = np.clip(np.round(ic_idx).astype(int), 0, sig.size)
    b = np.clip(np.round(to_idx).astype(int), 0, sig.size)
    ev = sign * (c[np.maximum(b, a + 1)] - c[a]) / np.maximum(b - a, 1)
    # per bout (steps are sorted by time, so each bout is one contiguous block)
    _, group, counts = np.unique(bout, return_inverse=True, return_counts=True)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(m) - start[group]  # step number within its bout
    even = k % 2 == 0
    alt = np.where(even, ev, -ev)
    total = np.bincount(group, weights=alt)
    spread = np.bincount(group, weights=np.abs(alt))
    agree = np.bincount(group, weights=(np.sign(alt) == np.sign(total[group])).astype(float)) / counts
    conf = np.divide(np.abs(total), spread, out=np.zeros_like(total), where=spread > 0)
    decided = ((agree >= 0.7) & (conf > 0.3))[group]
    left = np.where(even, total[group] > 0, total[group] <= 0)
    side[decided & left] = "L"
    side[decided & ~left] = "R"
    strength[:] = np.where(decided, agree[group], 0.0)
    return side, strength
