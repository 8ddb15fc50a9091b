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
Initial contact at heel strike, after Zijlstra & Hof (2003): the trunk is thrown forward until
the heel lands and brakes right after, so the forward acceleration low-passed at 2 Hz crosses
zero from forward to backward once per step, just after heel strike, and the contact is the
peak of the forward acceleration just before that crossing (`walking_events`). The forward
axis's sign is checked per bout (`walking_ap_sign`). Without a forward axis, the steepest
rise of the vertical acceleration before each load peak. (The peak of the smoothed vertical
acceleration itself lies in loading response, 40-80 ms after heel strike on real recordings.)
Toe-off is *not measured*: it is set at 24 % of a step after the next contact (typical double
support), and flagged as estimated; on real walking that estimate is 5 ms early on median
(``benchmarks/walking.py``).

Side
----
Running, with a gyroscope: the pelvis turns towards the swing side in stance (the swing leg's
hip comes forward), so the mean yaw rate over a left stance is positive (+ = turning left).
Without a gyroscope, with a medio-lateral axis: the centre of mass is pushed towards the other
side in stance, so the mean medio-lateral acceleration of a left stance is negative (+ =
left). Walking: the same medio-lateral evidence, over the whole step from the contact to the
next (the lateral sway of single support), first, as it separates the sides of real walking
steps far better than the yaw rate. Steps alternate, so one alternating assignment is fitted
per bout (walking: over the nine steps around each step, so that a step missed in a turn does
not swap the sides of the rest of the walk) by the sum of the per-step evidence; when the
evidence is weak (or there is no medio-lateral information) the side is ``?``.

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

Walking: Zijlstra & Hof (2003), "Assessment of spatio-temporal gait parameters from trunk
accelerations during human walking", Gait & Posture 18(2). Deviations are listed in
`walking_events`. Measured on real walking against foot-sensor events (Voisard et al. 2023,
10 adults, 58 trials; ``benchmarks/walking.py``, ``docs/walking.md``): F1 0.88 / 0.93 / 0.96 at
50 / 100 / 200 ms, bias -7 ms; the three detector constants picked leave-one-subject-out from a
small grid give F1 0.85 at 50 ms.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy.signal import butter, find_peaks, sosfiltfilt

from .constants import G

__all__ = ["running_events", "walking_events", "walking_ap_sign", "assign_sides", "EVENT_COLUMNS"]

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


#: walking initial contact (Zijlstra & Hof 2003): the forward acceleration low-passed at this
#: frequency crosses zero from forward to backward once per step, after the contact
WALK_STEP_LP_HZ = 2.0
#: the contact is the largest forward acceleration (low-passed at `WALK_PEAK_LP_HZ`) within
#: this time before that crossing
WALK_SEARCH_S = 0.2
WALK_PEAK_LP_HZ = 20.0
#: a walking step lasts between these (shorter or longer intervals are not complete steps)
WALK_STEP_RANGE_S = (0.3, 1.2)
#: walking sides: the alternation is fitted over this many steps before and after each step
WALK_SIDE_HALF_WINDOW = 4


def walking_ap_sign(acc_v: np.ndarray, acc_ap: np.ndarray, sampling_rate_hz: float) -> float:
    """+1 when ``acc_ap`` points forward during walking, -1 when it points backward.

    In walking the trunk speeds up forward while the vertical load falls after midstance and
    brakes while it rises after contact, so the low-passed (3 Hz) forward acceleration
    correlates positively with the rate of change of the low-passed vertical acceleration.
    The low-pass matters: the heel-strike transient (a sharp vertical rise with a sharp
    deceleration) has the opposite sign and dominates unfiltered signals.
    """
    fs = float(sampling_rate_hz)
    ok = np.isfinite(acc_v) & np.isfinite(acc_ap)
    if ok.sum() < int(1.5 * fs):
        return 1.0
    v = _lowpass(np.where(ok, acc_v - np.nanmean(acc_v), 0.0), fs, 3.0)
    ap = _lowpass(np.where(ok, acc_ap - np.nanmean(acc_ap), 0.0), fs, 3.0)
    return 1.0 if float(np.sum(ap * np.gradient(v))) >= 0.0 else -1.0


def walking_events(
    f_v: np.ndarray, sampling_rate_hz: float, *, t0: float = 0.0, acc_ap: np.ndarray | None = None
) -> pd.DataFrame:
    """Initial contacts of walking steps in a contiguous signal (Zijlstra & Hof 2003).

    Parameters
    ----------
    f_v
        Vertical specific force in the level frame, m/s^2, 1-D.
    sampling_rate_hz
        Sampling rate.
    t0
        Time of the first sample, s.
    acc_ap
        Antero-posterior acceleration in the level frame (m/s^2, same samples), if known. Its
        sign is checked here (`walking_ap_sign`), so a frame whose forward axis points
        backward still gives the right contacts.

    Returns
    -------
    DataFrame
        `EVENT_COLUMNS` plus ``ap_sign`` (the sign that makes ``acc_ap`` point forward, +1 or
        -1, per step). Toe-off is not measured (``to_measured`` False): it is set at
        `WALK_DOUBLE_SUPPORT` of a step after the next contact.

    Notes
    -----
    With a forward axis: Zijlstra & Hof (2003): the forward acceleration low-passed at 2 Hz
    crosses zero from forward to backward once per step, shortly after heel strike; the
    contact is the peak forward acceleration just before it (the trunk is thrown forward
    until the heel lands, then brakes). Deviations: the peak is searched on a 20 Hz low-pass
    (sensor noise) within 0.2 s before the crossing; the filters are 2nd-order zero-phase
    Butterworths (the paper's were 4th-order); the forward sign is checked per bout.
    Without a forward axis (``acc_ap`` None): the peaks of the 3 Hz low-passed vertical
    acceleration find the steps and the contact is the steepest rise of the 20 Hz low-passed
    vertical acceleration in the 0.25 s before each peak (the heel-strike rise; the smoothed
    peak itself lies in loading response, 40-80 ms after heel strike on real recordings).
    Both are measured in ``benchmarks/walking.py`` against foot-sensor events.
    """
    fs = float(sampling_rate_hz)
    x = np.asarray(f_v, dtype=float)
    n = x.size
    if n < int(1.5 * fs):
        return _empty(t0)
    a_v = x - np.nanmean(x)
    ap = None if acc_ap is None else np.asarray(acc_ap, dtype=float)
    sign = 1.0
    if ap is not None and np.isfinite(ap).all():
        sign = walking_ap_sign(a_v, ap, fs)
        fwd = sign * (ap - ap.mean())
        slow = _lowpass(fwd, fs, WALK_STEP_LP_HZ)
        cross = np.flatnonzero((slow[:-1] > 0) & (slow[1:] <= 0))
        peak_sig = _lowpass(fwd, fs, min(WALK_PEAK_LP_HZ, 0.4 * fs))
        w = max(round(WALK_SEARCH_S * fs), 1)
        cand = np.clip(cross[:, None] - np.arange(w, -1, -1)[None, :], 0, n - 1)
    else:
        sm = _lowpass(a_v, fs, 3.0)
        cross, _ = find_peaks(sm, distance=max(int(0.3 * fs), 1), prominence=0.8)
        peak_sig = np.gradient(_lowpass(a_v, fs, min(WALK_PEAK_LP_HZ, 0.4 * fs)))
        w = max(round(0.25 * fs), 1)
        cand = np.clip(cross[:, None] - np.arange(w, -1, -1)[None, :], 0, n - 1)
    if cross.size < 2:
        return _empty(t0)
    ic = cand[np.arange(cand.shape[0]), np.argmax(peak_sig[cand], axis=1)]
    ic = np.unique(ic)
    if ic.size < 2:
        return _empty(t0)
    ic_idx = ic.astype(float)
    step = np.diff(ic_idx)
    step = np.concatenate([step, [np.median(step)]])
    to_idx = ic_idx + step * (1 + WALK_DOUBLE_SUPPORT)
    lo, hi = WALK_STEP_RANGE_S
    ok = (step > lo * fs) & (step < hi * fs)
    ok[-1] = False  # the last step has no next contact in this signal
    return pd.DataFrame(
        {
            "ic_s": t0 + ic_idx / fs,
            "to_s": t0 + to_idx / fs,
            "stance_peak_idx": ic,
            "ic_idx": ic_idx,
            "to_idx": to_idx,
            "to_measured": np.zeros(ic.size, bool),
            "ok": ok,
            "stance_level_mps2": np.full(ic.size, np.nan),
            "ap_sign": np.full(ic.size, sign),
        }
    )


def assign_sides(
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    bout: np.ndarray,
    *,
    gyr_level_v: np.ndarray | None,
    acc_level_ml: np.ndarray | None,
    walking: np.ndarray | None = None,
    ml_sign: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Side of each step (``L``, ``R`` or ``?``) and the evidence strength (0..1) per bout.

    Parameters
    ----------
    ic_idx, to_idx
        Contact and toe-off of each step (fractional sample positions), sorted by time.
    bout
        Bout of each step (steps of a bout are contiguous).
    gyr_level_v
        Yaw rate about the vertical (rad/s, + = turning left), per sample, or None.
    acc_level_ml
        Medio-lateral acceleration (m/s^2, + = left), per sample, or None.
    walking
        True for walking steps (None: none are).
    ml_sign
        Per step, the sign that corrects the medio-lateral axis when the forward axis was
        found backward (``walking_events``' ``ap_sign``: the frame is right-handed, so both
        flip together); None or NaN means +1.

    Notes
    -----
    Running steps: the mean yaw rate in stance (gyroscope; the pelvis turns towards the swing
    side), else minus the mean medio-lateral acceleration in stance. Walking steps: minus the
    mean medio-lateral acceleration from the contact to the next one (in single support the
    centre of mass is pushed away from the stance foot, the lateral sway of the inverted
    pendulum; on real walking this separates left from right in 94 % of single steps, the
    yaw rate in 76 %: ``benchmarks/walking.py``), else the yaw rate. Positive evidence means
    left; one alternating assignment is chosen per bout from the sum of the evidence.
    """
    m = ic_idx.size
    side = np.full(m, "?", dtype=object)
    strength = np.zeros(m)
    if m == 0:
        return side, strength
    has_gyr = gyr_level_v is not None and bool(np.isfinite(gyr_level_v).any())
    has_ml = acc_level_ml is not None and bool(np.isfinite(acc_level_ml).any())
    if not (has_gyr or has_ml):
        return side, strength
    walk = np.zeros(m, bool) if walking is None else np.asarray(walking, bool)
    flip = np.ones(m) if ml_sign is None else np.where(np.isfinite(ml_sign), np.sign(ml_sign), 1.0)
    flip[flip == 0] = 1.0
    _, group, counts = np.unique(bout, return_inverse=True, return_counts=True)

    def mean_over(sig: np.ndarray, a_idx: np.ndarray, b_idx: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(sig))])
        a = np.clip(np.round(a_idx).astype(int), 0, sig.size)
        b = np.clip(np.round(b_idx).astype(int), 0, sig.size)
        return (c[np.maximum(b, a + 1)] - c[a]) / np.maximum(b - a, 1)

    ev = np.zeros(m)
    # running (and walking without a medio-lateral axis): the stance, yaw rate first
    if has_gyr:
        ev = mean_over(np.asarray(gyr_level_v, float), ic_idx, to_idx)
    if has_ml:
        ml = np.asarray(acc_level_ml, float)
        ml = ml - np.nanmean(ml)
        if not has_gyr:
            ev = -mean_over(ml, ic_idx, to_idx) * flip
        if walk.any():
            # walking: from this contact to the next one in the same bout
            same = np.concatenate([group[1:] == group[:-1], [False]])
            nxt = np.concatenate([ic_idx[1:], [np.nan]])
            step = np.where(same, nxt - ic_idx, np.nan)
            med = float(np.nanmedian(step)) if np.isfinite(step).any() else 1.0
            end = ic_idx + np.where(np.isfinite(step), step, med)
            ev = np.where(walk, -mean_over(ml, ic_idx, end) * flip, ev)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(m) - start[group]  # step number within its bout
    even = k % 2 == 0
    alt = np.where(even, ev, -ev)
    total = np.bincount(group, weights=alt)[group]
    spread = np.bincount(group, weights=np.abs(alt))[group]
    same = np.sign(alt) == np.sign(total)
    agree = np.bincount(group, weights=same.astype(float))[group] / counts[group]
    if walk.any():
        # walking: the alternation is fitted over the steps around each step (a step missed in a
        # turn then costs a few undecided steps, not the side of the rest of the bout)
        end = start + counts
        lo = np.maximum(np.arange(m) - WALK_SIDE_HALF_WINDOW, start[group])
        hi = np.minimum(np.arange(m) + WALK_SIDE_HALF_WINDOW + 1, end[group])
        c_alt = np.concatenate([[0.0], np.cumsum(alt)])
        c_abs = np.concatenate([[0.0], np.cumsum(np.abs(alt))])
        loc = c_alt[hi] - c_alt[lo]
        c_agree = np.concatenate([[0.0], np.cumsum(np.sign(alt))])
        # share of the window's steps whose sign agrees with the window's sum
        loc_agree = 0.5 + 0.5 * np.sign(loc) * (c_agree[hi] - c_agree[lo]) / np.maximum(hi - lo, 1)
        total = np.where(walk, loc, total)
        spread = np.where(walk, c_abs[hi] - c_abs[lo], spread)
        agree = np.where(walk, loc_agree, agree)
    conf = np.divide(np.abs(total), spread, out=np.zeros_like(total), where=spread > 0)
    decided = (agree >= 0.7) & (conf > 0.3)
    left = np.where(even, total > 0, total <= 0)
    side[decided & left] = "L"
    side[decided & ~left] = "R"
    strength[:] = np.where(decided, agree, 0.0)
    return side, strength
