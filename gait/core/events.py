"""Gait events: initial contact (IC), toe-off (TO) and side, vectorised over all steps.

Running
-------
In flight the centre of mass is in free fall (vertical specific force 0); in stance the vertical
specific force rises to 2-3 g and falls again. A sensor on the sacrum follows it closely but not
exactly: in flight it reads below free fall (the swinging legs pull the pelvis down: -0.2 to
-0.5 g on the three RBDS runners' pelvis motion, -0.7 g on a raw unclipped sacral recording),
and correspondingly more than the centre of mass in stance. On the level-frame vertical
specific force ``f_v``:

1. *Stances*: peaks of ``f_v`` low-passed at 5 Hz (one per step), with the troughs (flight)
   between them.
2. *Body weight and flight level in the sensor's units*, from the run itself: body weight is
   the mean of ``f_v`` over the run's whole steps (over a step the vertical impulse equals
   body weight times the step time), whatever the sensor's scale error or clipping; the flight
   level is the median over the flights of the signal within 20 ms of each trough, when below
   free fall (else 0 g). The signal is rescaled so that the flight level reads 0 and the mean
   one body weight, ``u = (f_v - b) / (BW - b)``: to first order the centre of mass's specific
   force (the pelvis is close to an affine image of it: on the two RBDS force trials,
   ``1.11 F - 0.11`` and ``1.22 F - 0.22`` in body weights). Every level below is on ``u``.
3. *Initial contact*: where the rise first crosses half a body weight above the flight level,
   the tangent there, extrapolated back to the flight level. Low on the rise, before any
   impact transient peaks: a double impact or a soft-tissue overshoot does not move it to the
   second rise. Exact for a spring-mass (half-sine) stance.
4. *Toe-off*: two estimates, each a landmark that precedes toe-off by a share of the contact
   (``TO = (t - IC s) / (1 - s)``), weighted, and bounded by the return to free fall:

   - *descent*: the last downward crossing, before the flight, of 60 % of the stance's level
     (the mean of its central 40 %, scaled to a half-sine amplitude), share
     ``TO_DESCENT_LEAD``. The steep middle of the descent is its most repeatable part; its
     end is not (real sensors leave a slow tail or a shelf past the force's toe-off, and the
     runner's own unloading makes it longer or shorter).
   - *end of propulsion* (with a forward axis): the forward acceleration (its mean over the
     bout removed, low-passed at 10 Hz) falls through zero after its stance maximum, share
     ``TO_AP_LEAD``: the push that ends at toe-off, seen at the sacrum 25-45 ms before it.
     Weighted ``TO_AP_WEIGHT`` against the descent (it transfers between runners better:
     the share a runner needs varies by 0.06 between the runners and slopes here against 0.12
     for the descent's; the weight is the inverse-variance one from their leave-one-runner-out
     biases).
   - *return to free fall*: the descent's crossing of 0.15 body weights above the flight
     level, extrapolated along its tangent to that level: the instant the trunk is no longer
     supported. Used only when the flight reads at the free-fall level (a sensor pulled below
     0 g in flight is not ballistic, and reaching 0 g then says nothing about support), and
     only when it comes before the estimate (a late return is the slow tail).

   Where the sensor shows the end of support (a ballistic flight and a clean end), toe-off
   is measured there, whatever the stance's shape. The toe-off must fall before the next
   contact (else the stance is not complete, and the step table leaves its contact and flight
   times missing).

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
`gait.core.sides.assign_sides` (re-exported here): the pelvis' contralateral drop in loading and
its rise in late stance (gyroscope), and in walking the lateral sway, or ``?``.

Notes
-----
Published sacral-sensor methods (Kiernan et al. 2023 compared them on 74 runners against a
force plate, limits of agreement about +-90 to +-150 ms): Lee et al. (2010) place IC at the
antero-posterior acceleration peak and TO at the following smaller one; Auvinet et al. (2002)
IC at the vertical minimum plus AP maximum and TO when the vertical acceleration falls to free
fall (-1 g with gravity removed), which on real sacral data is late because of the
post-toe-off tail. Patoz et al. (2021, 2022) time the crossings of body weight (effective
contact) and reconstruct contact time with the sine-wave model of the vertical force (Morin et
al. 2005); on real force shapes that model alone underestimated contact time by about 35 ms,
because the force's descent is not the mirror of its rise (the landing-take-off asymmetry,
Cavagna 2006). This module keeps the sine-wave model's geometry (tangent extrapolation to the
flight level, at contact and at the return to free fall), measures the flight level and body
weight on the run itself (the pelvis as an affine image of the centre of mass: the impulse
balance fixes the mean, the flight fixes the zero), and replaces the symmetric descent by two
landmarks at calibrated shares of the contact: the descent's middle, and the end of
propulsion in the forward acceleration (after Lee et al.'s use of the forward signal; the
zero crossing rather than a peak, as it moved least between runners and slopes here).

Calibration and validation (``benchmarks/accuracy.py``, part 4): the shares are the median
over five force-referenced groups (Alcantara et al. 2022: one runner, a real sacral
accelerometer, -5, 0 and +5 deg, 2.5-4.2 m/s; RBDS, Fukuchi et al. 2017: two more runners as
a virtual sacral IMU from motion capture, 2.5 m/s) of each group's median ideal share; the
weight is set by the two estimates' runner-level biases leave one runner out. Every figure is
reported in sample, leaving each slope and each runner out, on the force itself as a signal,
and on the simulator with every fold's constants. Measured limits: downhill (-5 deg) the end
of propulsion comes later in the contact (share 0.11 against 0.15-0.17), so contact time is
about 9 ms long there; the RBDS pelvis rises 11-14 ms after the force (rigid pelvis motion,
unlike a strapped accelerometer), so its contact is late; without a forward axis the descent
alone misses a runner with a long unloading tail (runner 2: 45 ms short).

Deviations from the cited methods: IC by a tangent at half a body weight rather than at a
peak; toe-off from two landmarks with calibrated shares (not the sine model's symmetric
descent), bounded by the return to free fall only when the flight is ballistic; the flight
level and body weight from the run itself.

References: Auvinet B et al. (2002) Gait Posture 16:124-134. Cavagna GA (2006) J Exp Biol
209:4051-4060. Kiernan D et al. (2023) Sensors 23(11). Lee JB, Mellifont RB, Burkett BJ
(2010) J Sci Med Sport 13:270-273. Morin JB et al. (2005) J Appl Biomech 21:167-180. Patoz A
et al. (2021) Front Bioeng Biotechnol 9:687951; (2022) Sensors 22:784. Alcantara RS et al.
(2022) PeerJ 10:e12752. Fukuchi RK, Fukuchi CA, Duarte M (2017) PeerJ 5:e3298.

Walking: Zijlstra & Hof (2003), "Assessment of spatio-temporal gait parameters from trunk
accelerations during human walking", Gait & Posture 18(2). Deviations are listed in
`walking_events`. Measured on real walking against foot-sensor events (Voisard et al. 2023,
10 adults, 58 trials; ``benchmarks/walking.py``, ``docs/walking.md``): F1 0.88 / 0.93 / 0.96 at
50 / 100 / 200 ms, bias -7 ms; the three detector constants picked leave-one-subject-out from a
small grid give F1 0.85 at 50 ms.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_rate, check_same_length, check_signal
from .._lazy import lazy_function, lazy_module
from ..constants import G
from ..errors import check_number
from ._ranges import (
    _block_argmin,
    _first_down,
    _first_up,
    _last_down,
    _ranges_argmin,
)
from .filters import lowpass
from .sides import assign_sides

if TYPE_CHECKING:
    import pandas as pd
    from scipy.signal import find_peaks
else:
    pd = lazy_module("pandas")
    find_peaks = lazy_function("scipy.signal", "find_peaks")

__all__ = ["running_events", "walking_events", "walking_ap_sign", "assign_sides", "EVENT_COLUMNS"]

#: initial contact: the tangent where the rise crosses this many body weights above the
#: flight level, extrapolated to that level
IC_LEVEL = 0.5
#: toe-off by the return to free fall: the descent's crossing of this many body weights above
#: the flight level, extrapolated to it
RETURN_LEVEL = 0.15
#: after toe-off the signal must come back within this of the pre-contact trough level
ONSET_RETURN = 0.35 * G
#: toe-off by the descent: its crossing of this share of the stance's half-sine level
TO_LEVEL = 0.6
#: the run's flight level: the median, over its flights, of the signal within this of each
#: flight's lowest (5 Hz low-passed) point, s
FLIGHT_HALF_WINDOW_S = 0.02
#: a flight level below free fall by more than this share of a body weight is not taken as one
#: (a sensor that reads so low in flight is not measuring the trunk's support)
FLIGHT_LEVEL_MAX_BELOW = 0.5
#: share of the contact time between the descent's crossing of TO_LEVEL and toe-off (a
#: symmetric half sine: asin(0.6) / pi = 0.205). Fitted by ``benchmarks/accuracy.py`` (part 4):
#: the median over the force-referenced groups (Alcantara et al. 2022 at -5, 0 and +5 deg; the
#: two RBDS force trials) of each group's median; its leave-one-runner-out and
#: leave-one-slope-out values and errors are printed there.
TO_DESCENT_LEAD = 0.270
#: antero-posterior acceleration low-pass before its zero crossing is found, Hz
AP_LOWPASS_HZ = 10.0
#: share of the contact time between the end of propulsion at the sensor (the forward
#: acceleration's downward zero crossing after its stance maximum) and toe-off; fitted like
#: `TO_DESCENT_LEAD`
TO_AP_LEAD = 0.151
#: weight of the antero-posterior estimate of toe-off against the descent's (when both exist):
#: the descent's mean squared runner-level error over the two's, from leave-one-runner-out
#: fits (``benchmarks/accuracy.py``, part 4)
TO_AP_WEIGHT = 0.983
#: mean of sin over the central 40 % of a half sine, to turn a central mean into an amplitude
_CENTRAL_MEAN_OF_SINE = float(np.mean(np.sin(np.pi * np.linspace(0.3, 0.7, 10001))))
WALK_DOUBLE_SUPPORT = 0.24

EVENT_COLUMNS = ["ic_s", "to_s", "stance_peak_idx", "ic_idx", "to_idx", "to_measured", "ok", "stance_level_mps2"]


def _empty(t0: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in EVENT_COLUMNS}).astype(
        {"stance_peak_idx": int, "to_measured": bool, "ok": bool}
    )


def _propulsion_end(acc_ap: np.ndarray | None, fs: float, peaks: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per stance, the fractional sample where the forward acceleration (its mean over the bout
    removed, low-passed at `AP_LOWPASS_HZ`) falls through zero after its maximum between the
    stance's peak and ``stop``; NaN without a usable forward signal."""
    m = peaks.size
    if acc_ap is None:
        return np.full(m, np.nan)
    ap = np.asarray(acc_ap, dtype=float)
    if ap.ndim != 1 or ap.size < 2 or not np.isfinite(ap).all() or float(np.std(ap)) < 0.05 * G:
        return np.full(m, np.nan)
    aps = lowpass(ap - ap.mean(), fs, AP_LOWPASS_HZ)
    top = _ranges_argmin(-aps, peaks, stop)
    return _first_down(aps, top, stop, np.zeros(m))


def _event_inputs(
    f_v: np.ndarray, sampling_rate_hz: float, t0: float, acc_ap: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """The checks `running_events` and `walking_events` share: the rate and ``f_v`` as floats."""
    fs = check_rate(sampling_rate_hz)
    x = check_signal(f_v, "f_v", finite=True)
    check_number(t0, "t0", expected="the time of the first sample in s")
    if acc_ap is not None:
        check_same_length(x.size, "f_v", acc_ap=check_signal(acc_ap, "acc_ap"))
    return fs, x


def running_events(
    f_v: np.ndarray, *, sampling_rate_hz: float, t0: float = 0.0, acc_ap: np.ndarray | None = None
) -> pd.DataFrame:
    """Initial contacts and toe-offs of running steps in a contiguous signal.

    Parameters
    ----------
    f_v
        Vertical specific force in the level frame (gravity included), m/s^2, 1-D.
    sampling_rate_hz
        Sampling rate, Hz (finite, > 0).
    t0
        Time of the first sample, s.
    acc_ap
        Forward (antero-posterior) specific force in the level frame, m/s^2, the same samples,
        + forward; None when the forward direction is unknown. Its end of propulsion is the
        second estimate of toe-off (module docstring).

    Returns
    -------
    DataFrame
        One row per stance with ``ic_s``, ``to_s`` (s), ``ic_idx``, ``to_idx`` (fractional
        sample positions), ``stance_peak_idx``, ``to_measured`` (True), ``ok`` (False when
        the stance is not bounded by flight troughs on both sides within the signal, or its
        toe-off does not fall between its contact and the next) and ``stance_level_mps2``
        (the stance's half-sine amplitude above the run's flight level).
    """
    fs, x = _event_inputs(f_v, sampling_rate_hz, t0, acc_ap)
    n = x.size
    if n < int(0.6 * fs):
        return _empty(t0)
    sm = lowpass(x, fs, 5.0)
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
    base_a = x[np.clip(ta[:, None] + off, 0, n - 1)].min(axis=1)

    # the run's own unit of force: the mean vertical specific force over whole steps is one
    # body weight (momentum balance), whatever the sensor's scale or clipping
    lo, hi = int(tb[0]), int(ta[-1])
    unit = float(x[lo:hi].mean()) if hi - lo > fs * 0.2 else G
    unit = unit if np.isfinite(unit) and unit > 0.5 * G else G
    # the run's own flight level: a pelvis reads below free fall in flight (the legs swing
    # relative to it); the signal rescaled so that this level is 0 and the mean stays one body
    # weight is, to first order, the centre of mass's vertical specific force
    hw = max(int(FLIGHT_HALF_WINDOW_S * fs), 1)
    near = x[np.clip(troughs[:, None] + np.arange(-hw, hw + 1), 0, n - 1)]
    flight = float(np.median(np.median(near, axis=1)))
    flight = min(flight, 0.0) if np.isfinite(flight) else 0.0
    flight = max(flight, -FLIGHT_LEVEL_MAX_BELOW * unit)
    scale = G / (unit - flight)
    u = (x - flight) * scale
    d1 = np.gradient(u)  # m/s^2 per sample
    base = np.maximum((base_b - flight) * scale, 0.0)

    # --- initial contact: the tangent where the rise first crosses half a body weight ------
    up = _first_up(u, tb, peaks, base + IC_LEVEL * G)
    has_up = np.isfinite(up)
    j = np.clip(np.floor(np.nan_to_num(up)).astype(np.int64), 0, n - 2)
    slope_up = np.maximum(np.maximum(d1[j], d1[j + 1]), 1e-9)
    ic_idx = np.where(has_up, up - (u[j] + (up - j) * (u[j + 1] - u[j]) - base) / slope_up, peaks.astype(float))
    ic_idx = np.maximum(ic_idx, tb)

    # --- toe-off --------------------------------------------------------------------------
    # provisional toe-off (half-sine extrapolation from the crossing of half the smoothed peak)
    # to find the stance's central 40 %, whose mean, scaled to a half-sine amplitude, is the
    # stance's level
    o50 = np.arcsin(0.5) / np.pi
    half = _first_down(u, peaks, ta, 0.5 * (sm[peaks] - flight) * scale)
    to0 = np.where(np.isfinite(half), (half - ic_idx * o50) / (1 - o50), ta.astype(float))
    tc0 = np.maximum(to0 - ic_idx, 2.0)
    c = np.concatenate([[0.0], np.cumsum(u)])
    a_i = np.clip(np.round(ic_idx + 0.3 * tc0).astype(int), 0, n)
    b_i = np.clip(np.round(ic_idx + 0.7 * tc0).astype(int), 0, n)
    amp = (c[np.maximum(b_i, a_i + 1)] - c[a_i]) / np.maximum(b_i - a_i, 1) / _CENTRAL_MEAN_OF_SINE
    # (1) the descent's crossing of 60 % of the level, as a share of the contact
    cross = _last_down(u, peaks, ta, TO_LEVEL * amp)
    o = TO_DESCENT_LEAD
    to_descent = (cross - ic_idx * o) / (1 - o)
    # (2) the end of propulsion, as a share of the contact; the two weighted
    q = TO_AP_LEAD
    to_ap = (_propulsion_end(acc_ap, fs, peaks, ta) - ic_idx * q) / (1 - q)
    to_est = np.where(np.isfinite(to_ap), TO_AP_WEIGHT * to_ap + (1 - TO_AP_WEIGHT) * to_descent, to_descent)
    # (3) the return to free fall bounds it, when the flight reads at the free-fall level
    base_to = np.maximum((base_a - flight) * scale, 0.0)
    after = np.clip(np.floor(np.nan_to_num(cross, nan=0.0)).astype(np.int64), peaks, ta)
    down = _first_down(u, after, ta, base_to + RETURN_LEVEL * G)
    j = np.clip(np.floor(np.nan_to_num(down)).astype(np.int64), 0, n - 2)
    slope_dn = np.maximum(-np.minimum(d1[j], d1[j + 1]), 1e-9)
    to_return = down + (RETURN_LEVEL * G) / slope_dn
    # a trunk reading below free fall in flight is pulled down by the body (not ballistic):
    # its return to 0 g says nothing about the end of support
    ballistic = base_a > -RETURN_LEVEL * unit
    to_idx = np.where(ballistic, np.fmin(to_est, to_return), to_est)
    # complete: the stance does not overlap its neighbours (toe-off before the next contact,
    # contact after the previous toe-off); the first and last stance must also be bounded by
    # the data: a trough before the contact, and after toe-off a return to a flight-like level
    # (a stance cut off by the end of the recording is not complete)
    returned = base_a < base_b + ONSET_RETURN
    nxt_ic = np.concatenate([ic_idx[1:], [np.inf]])
    prv_to = np.concatenate([[-np.inf], to_idx[:-1]])
    ok &= has_up & np.isfinite(cross) & np.isfinite(to_idx) & (to_idx > ic_idx) & (to_idx < nxt_ic) & (ic_idx > prv_to)
    # (and the first must follow a flight, not the last step of a walk: its rise starts from a walking
    # level, so the tangent placed to the flight level would put the contact early)
    ok[0] &= (ic_idx[0] >= tb[0] + 1) & (base_b[0] < 0.5 * unit)
    ok[-1] &= bool(returned[-1]) and to_idx[-1] <= ta[-1] - 1
    to_idx = np.where(np.isfinite(to_idx), to_idx, ta.astype(float))
    return pd.DataFrame(
        {
            "ic_s": t0 + ic_idx / fs,
            "to_s": t0 + to_idx / fs,
            "stance_peak_idx": peaks,
            "ic_idx": ic_idx,
            "to_idx": to_idx,
            "to_measured": np.ones(m, bool),
            "ok": ok,
            "stance_level_mps2": amp / scale,
        }
    )


#: walking initial contact (Zijlstra & Hof 2003): the forward acceleration low-passed at this
#: frequency crosses zero from forward to backward once per step, after the contact
WALK_STEP_LP_HZ = 2.0
#: the contact is the largest forward acceleration (low-passed at `WALK_PEAK_LP_HZ`) within
#: this time before that crossing
WALK_SEARCH_S = 0.2
WALK_PEAK_LP_HZ = 20.0
#: a walking step lasts between these (shorter or longer intervals are not complete steps)
WALK_STEP_RANGE_S = (0.3, 1.2)


def walking_ap_sign(acc_v: np.ndarray, acc_ap: np.ndarray, *, sampling_rate_hz: float) -> float:
    """+1 when ``acc_ap`` points forward during walking, -1 when it points backward.

    In walking the trunk speeds up forward while the vertical load falls after midstance and
    brakes while it rises after contact, so the low-passed (3 Hz) forward acceleration
    correlates positively with the rate of change of the low-passed vertical acceleration.
    The low-pass matters: the heel-strike transient (a sharp vertical rise with a sharp
    deceleration) has the opposite sign and dominates unfiltered signals.

    Parameters
    ----------
    acc_v
        Vertical acceleration, m/s^2, 1-D (NaN samples are left out).
    acc_ap
        Antero-posterior acceleration, m/s^2, the same samples.
    sampling_rate_hz
        Sampling rate, Hz (finite, > 0).

    Returns
    -------
    float
        +1.0 or -1.0 (+1.0 when fewer than 1.5 s of samples are usable).
    """
    fs = check_rate(sampling_rate_hz)
    acc_v = check_signal(acc_v, "acc_v")
    acc_ap = check_signal(acc_ap, "acc_ap")
    check_same_length(acc_v.size, "acc_v", acc_ap=acc_ap)
    ok = np.isfinite(acc_v) & np.isfinite(acc_ap)
    if ok.sum() < int(1.5 * fs):
        return 1.0
    v = lowpass(np.where(ok, acc_v - np.nanmean(acc_v), 0.0), fs, 3.0)
    ap = lowpass(np.where(ok, acc_ap - np.nanmean(acc_ap), 0.0), fs, 3.0)
    return 1.0 if float(np.sum(ap * np.gradient(v))) >= 0.0 else -1.0


def walking_events(
    f_v: np.ndarray, *, sampling_rate_hz: float, t0: float = 0.0, acc_ap: np.ndarray | None = None
) -> pd.DataFrame:
    """Initial contacts of walking steps in a contiguous signal (Zijlstra & Hof 2003).

    Parameters
    ----------
    f_v
        Vertical specific force in the level frame, m/s^2, 1-D.
    sampling_rate_hz
        Sampling rate, Hz (finite, > 0).
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
    fs, x = _event_inputs(f_v, sampling_rate_hz, t0, acc_ap)
    n = x.size
    if n < int(1.5 * fs):
        return _empty(t0)
    a_v = x - np.nanmean(x)
    ap = None if acc_ap is None else np.asarray(acc_ap, dtype=float)
    sign = 1.0
    if ap is not None and np.isfinite(ap).all():
        sign = walking_ap_sign(a_v, ap, sampling_rate_hz=fs)
        fwd = sign * (ap - ap.mean())
        slow = lowpass(fwd, fs, WALK_STEP_LP_HZ)
        cross = np.flatnonzero((slow[:-1] > 0) & (slow[1:] <= 0))
        peak_sig = lowpass(fwd, fs, min(WALK_PEAK_LP_HZ, 0.4 * fs))
        w = max(round(WALK_SEARCH_S * fs), 1)
        cand = np.clip(cross[:, None] - np.arange(w, -1, -1)[None, :], 0, n - 1)
    else:
        sm = lowpass(a_v, fs, 3.0)
        cross, _ = find_peaks(sm, distance=max(int(0.3 * fs), 1), prominence=0.8)
        peak_sig = np.gradient(lowpass(a_v, fs, min(WALK_PEAK_LP_HZ, 0.4 * fs)))
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
