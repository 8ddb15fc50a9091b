"""How the sensor sits on the back: the rotation from sensor axes to the body frame.

The body frame (`gait.constants`) is anatomical: ``v`` up, ``ap`` forward, ``ml`` left. Two
observations fix it:

1. **Vertical** from standing still: the mean specific force of a still posture points up. The
   standing posture is also the reference for trunk lean (zero lean = how the runner stands).
2. **Forward** from walking or running (`estimate_heading`). The recording is cut into
   straight stretches of walking or running: between turns (seen by the gyroscope as a
   sustained rotation about the vertical), at most `WINDOW_S` long. Each stretch gives its own
   estimate:

   * *Axis.* The antero-posterior acceleration is step-periodic (braking then propulsion at
     every step), whereas the medio-lateral one alternates with the side and repeats only
     every stride. Summing the (band-passed) horizontal acceleration with itself one step
     later cancels the alternating part; the principal axis of what remains is the
     antero-posterior line, and ``1 - minor / major`` of its variances says how clearly it
     stood out.
   * *Sign.* The forward speed and the height of the trunk are coupled. Walking vaults over
     the stance leg (an inverted pendulum): the trunk slows down while it rises, so the
     forward acceleration is anti-correlated with the vertical velocity. Running bounces on a
     spring: the trunk brakes while it falls into stance and speeds up while it rises, so the
     correlation is positive. The vertical velocity is the band-passed (0.5-8 Hz) vertical
     acceleration integrated, which weighs the step frequency and not the impacts; the
     correlation's size is the stretch's sign strength.

   The stretches are combined: the axes as doubled angles weighted by duration and clarity
   (their agreement is the axis confidence), the signs as a vote weighted by duration and
   strength (its agreement times the mean strength is the sign confidence). The forward
   confidence is the smaller of the two; below `FORWARD_MIN_CONFIDENCE` the direction is
   still returned, but the analysis reports every metric that needs it as unavailable.

``ml`` completes the right-handed frame (``ml = v x ap``).

Without a standing period the vertical comes from the mean specific force over the activity,
i.e. the runner's mean trunk posture while running: lean is then undefined (there is no
reference) and is reported as unavailable rather than as zero.

Notes
-----
The principal-axis approach for the forward direction of a trunk sensor is common in gait
analysis (e.g. Moe-Nilssen 1998, "A new method for evaluating motor control in gait under
real-life environmental conditions", realignment of trunk accelerometry). Deviations: the
step-shift sum to suppress the medio-lateral (stride-periodic) component, the sign from the
coupling of forward acceleration and vertical velocity (inverted pendulum in walking, Cavagna
et al. 1977; spring-mass bouncing in running, Cavagna et al. 1964 and Blickhan 1989), and the
segment-wise estimate with its confidence, are this project's. Validated against the forward
direction derived independently (from the velocity the trunk gains from standing to walking)
on every recording of a public lower-back walking data set (``benchmarks/heading.py``).
"""

from __future__ import annotations

import itertools

import numpy as np

from .._checks import check_mask, check_rate, check_same_length, check_vectors
from ..constants import DEG_PER_RAD, G
from ..errors import GaitInputError, Where
from ._mounting_records import FORWARD_MIN_CONFIDENCE, HeadingEstimate, HeadingSegment, MountingEstimate
from .filters import butter_sos

__all__ = [
    "FORWARD_MIN_CONFIDENCE",
    "HeadingEstimate",
    "HeadingSegment",
    "MountingEstimate",
    "estimate_heading",
    "estimate_mounting",
    "rotation_from_axes",
]

#: longest stretch of straight walking or running that gives one estimate
WINDOW_S = 20.0
#: shortest stretch that gives an estimate
MIN_WINDOW_S = 4.0
#: at most this many stretches are used (spread over the recording)
MAX_WINDOWS = 10
#: a sustained rotation about the vertical faster than this (after a 0.3 Hz low-pass) is a turn
TURN_RATE_DPS = 15.0
#: turns are widened by this much on each side (the steps into and out of a turn are irregular)
TURN_MARGIN_S = 1.0
#: band of the signals used for the axis and the sign
BAND_HZ = (0.5, 8.0)
#: step rates (steps/min) at which each sign rule is unambiguous: a "walking" stretch faster
#: than this may be grounded running, a "running" one slower may be walking, and the two
#: rules give opposite signs, so such a stretch does not vote on the sign
CADENCE_SPM = {"walking": (60.0, 140.0), "running": (140.0, 240.0)}


def _check_axis(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a finite 3-vector of length > 0, else `GaitInputError`."""
    a = np.asarray(x, dtype=float)
    if a.shape != (3,) or not np.isfinite(a).all() or not np.linalg.norm(a) > 0:
        raise GaitInputError(
            "not a direction",
            expected="a finite 3-vector of length > 0",
            found=f"{a!r}" if a.size <= 9 else f"an array of shape {a.shape}",
            where=Where(parameter=name),
        )
    return a


def rotation_from_axes(up: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Rows (v, ap, ml) of a right-handed frame from an up vector and a rough forward vector.

    Parameters
    ----------
    up
        The vertical, a 3-vector (any length > 0).
    forward
        A rough forward direction, a 3-vector not parallel to ``up``.

    Returns
    -------
    ndarray
        3 x 3, rows v (up), ap (forward, made horizontal), ml (left).
    """
    v = _check_axis(up, "up")
    v = v / np.linalg.norm(v)
    f = _check_axis(forward, "forward")
    ap = f - v * (f @ v)
    n = np.linalg.norm(ap)
    if n < 1e-9:
        raise GaitInputError(
            "degenerate axes",
            expected="a forward direction not parallel to vertical",
            found=f"{forward}",
            where=Where(parameter="forward"),
        )
    ap = ap / n
    ml = np.cross(v, ap)
    return np.vstack([v, ap, ml])


def _step_period_samples(x: np.ndarray, fs: float) -> int:
    """Dominant step period (samples) from the autocorrelation of a vertical-ish signal."""
    x = x - x.mean()
    n = x.size
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    lo, hi = int(0.25 * fs), min(int(0.8 * fs), n - 1)
    if hi <= lo:
        return max(int(0.35 * fs), 1)
    return lo + int(np.argmax(ac[lo:hi]))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) indices of the runs of True in ``mask``."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)


def _decimate(x: np.ndarray, q: int) -> np.ndarray:
    """Means of consecutive blocks of ``q`` rows (the last partial block dropped)."""
    if q <= 1:
        return x
    k = (x.shape[0] // q) * q
    return x[:k].reshape(k // q, q, *x.shape[1:]).mean(axis=1)


def _turning(gyr: np.ndarray, up: np.ndarray, fs: float) -> tuple[np.ndarray, int]:
    """Samples inside a turn (widened by `TURN_MARGIN_S`), and the number of turns.

    Worked out at about 20 samples per second (plenty for a 0.3 Hz low-pass)."""
    from scipy.signal import sosfiltfilt

    n = gyr.shape[0]
    q = max(int(fs // 20), 1)
    rate = _decimate(np.nan_to_num(np.asarray(gyr, dtype=float) @ up), q)
    fc = fs / q
    rate = rate - np.median(rate)  # a constant gyro bias is not a turn
    if rate.size > 30 and fc > 1.0:
        rate = sosfiltfilt(butter_sos(2, min(0.3, 0.4 * fc), fc, "low"), rate)
    fast = np.abs(rate) * DEG_PER_RAD > TURN_RATE_DPS
    a, b = _runs(fast)
    # a turn: the heading changes by more than 30 deg within it
    heading = np.concatenate([[0.0], np.cumsum(rate) / fc])
    big = np.abs(heading[b] - heading[a]) * DEG_PER_RAD > 30.0
    a, b = a[big] * q, b[big] * q
    m = int(TURN_MARGIN_S * fs)
    mark = np.zeros(n + 1, np.int64)
    np.add.at(mark, np.clip(a - m, 0, n), 1)
    np.add.at(mark, np.clip(b + m, 0, n), -1)
    return np.cumsum(mark[:-1]) > 0, int(a.size)


def _windows(ok: np.ndarray, fs: float) -> list[tuple[int, int]]:
    """Stretches of ``ok`` cut into pieces of at most `WINDOW_S` (at least `MIN_WINDOW_S`)."""
    a, b = _runs(ok)
    out: list[tuple[int, int]] = []
    w, lo = int(WINDOW_S * fs), int(MIN_WINDOW_S * fs)
    for s, e in zip(a, b):
        n = e - s
        if n < lo:
            continue
        k = max(int(np.ceil(n / w)), 1)
        edges = np.linspace(s, e, k + 1).astype(int)
        out.extend((int(x), int(y)) for x, y in itertools.pairwise(edges))
    if len(out) > MAX_WINDOWS:
        pick = np.unique(np.linspace(0, len(out) - 1, MAX_WINDOWS).round().astype(int))
        out = [out[i] for i in pick]
    return out


def _segment(acc: np.ndarray, fs: float, running: bool) -> tuple[np.ndarray, float, float] | None:
    """Forward (sensor coordinates), clarity and sign strength of one straight stretch.

    The sign strength is 0 when the stretch's step rate does not fit its activity
    (`CADENCE_SPM`)."""
    from scipy.signal import sosfiltfilt

    q = max(int(fs // 50), 1)  # 50 samples per second are plenty for a 0.5-8 Hz band
    a = _decimate(np.asarray(acc, dtype=float), q)
    fs = fs / q
    up = a.mean(axis=0)
    if a.shape[0] < 30 or not np.isfinite(up).all() or np.linalg.norm(up) < 0.3 * G:
        return None
    up /= np.linalg.norm(up)
    basis = rotation_from_axes(up, np.eye(3)[int(np.argmin(np.abs(up)))])
    sos = butter_sos(2, (BAND_HZ[0], min(BAND_HZ[1], 0.45 * fs)), fs, "band")
    av = sosfiltfilt(sos, a @ basis[0])
    h = sosfiltfilt(sos, a @ basis[1:].T, axis=0)  # (n, 2) horizontal
    T = _step_period_samples(av, fs)
    if h.shape[0] <= 2 * T:
        return None
    s = h[:-T] + h[T:]
    w, vecs = np.linalg.eigh(s.T @ s)
    if w[1] <= 0:
        return None
    major = vecs[:, 1]
    clarity = float(1.0 - max(w[0], 0.0) / w[1])
    # vertical velocity: the band-passed vertical acceleration integrated, its drift removed
    vv = np.cumsum(av) / fs
    vv = sosfiltfilt(butter_sos(2, BAND_HZ[0], fs, "high"), vv)
    a_ap = h @ major
    r = float(np.corrcoef(a_ap, vv)[0, 1]) if a_ap.std() > 0 and vv.std() > 0 else 0.0
    if not np.isfinite(r):
        r = 0.0
    expected = 1.0 if running else -1.0
    lo, hi = CADENCE_SPM["running" if running else "walking"]
    if not lo <= 60.0 * fs / T <= hi:
        r = 0.0
    fwd = major @ basis[1:]
    if r * expected < 0:
        fwd = -fwd
    return fwd, clarity, abs(r)


def estimate_heading(
    acc: np.ndarray,
    *,
    sampling_rate_hz: float,
    up: np.ndarray,
    running: np.ndarray,
    walking: np.ndarray,
    gyr: np.ndarray | None = None,
) -> HeadingEstimate | None:
    """The forward direction from every straight stretch of walking or running.

    Parameters
    ----------
    acc
        Sensor-frame specific force, m/s^2, shape ``(n, 3)``.
    sampling_rate_hz
        Sampling rate, Hz (finite, > 0).
    up
        The vertical in sensor coordinates (standing, or the mean posture).
    running, walking
        Boolean masks of the samples in each activity.
    gyr
        Sensor-frame angular rate, rad/s (optional): turns are cut out when it is given.

    Returns
    -------
    HeadingEstimate or None
        ``None`` when no stretch of at least `MIN_WINDOW_S` of walking or running exists.
    """
    acc = check_vectors(acc, "acc")
    fs = check_rate(sampling_rate_hz)
    n = acc.shape[0]
    up = _check_axis(up, "up")
    running = check_mask(running, "running", n, "acc")
    walking = check_mask(walking, "walking", n, "acc")
    if gyr is not None:
        check_same_length(n, "acc", gyr=check_vectors(gyr, "gyr"))
    up = np.asarray(up, dtype=float) / np.linalg.norm(up)
    turning = np.zeros(acc.shape[0], bool)
    turns = 0
    if gyr is not None and np.isfinite(gyr).all():
        turning, turns = _turning(gyr, up, fs)
    segs: list[HeadingSegment] = []
    for kind, mask in (("running", running), ("walking", walking)):
        for s, e in _windows(mask & ~turning, fs):
            res = _segment(acc[s:e], fs, kind == "running")
            if res is None:
                continue
            fwd, clarity, strength = res
            fwd = fwd - up * (fwd @ up)
            n = np.linalg.norm(fwd)
            if n < 1e-6:
                continue
            segs.append(HeadingSegment(s / fs, e / fs, kind, fwd / n, clarity, strength))
    if not segs:
        return None
    segs.sort(key=lambda g: g.start_s)
    basis = rotation_from_axes(up, np.eye(3)[int(np.argmin(np.abs(up)))])
    F = np.array([g.forward for g in segs])
    ang = np.arctan2(F @ basis[2], F @ basis[1])
    dur = np.array([g.end_s - g.start_s for g in segs])
    clar = np.array([g.clarity for g in segs])
    strengths = np.array([g.sign_strength for g in segs])
    w_axis = dur * clar
    if w_axis.sum() <= 0:
        w_axis = dur
    c2 = np.sum(w_axis * np.exp(2j * ang)) / w_axis.sum()
    axis = float(np.angle(c2) / 2)
    agreement = float(np.abs(c2))
    # each stretch votes for the direction along the combined axis its own forward points to
    along = np.sign(np.cos(ang - axis))
    votes = dur * strengths * along
    total = float(votes.sum())
    if total < 0:
        axis += np.pi
        along = -along
        total = -total
    sign_agreement = total / float(np.abs(votes).sum()) if np.abs(votes).sum() > 0 else 0.0
    mean_strength = float(np.sum(dur * strengths) / dur.sum())
    mean_clarity = float(np.sum(dur * clar) / dur.sum())
    axis_conf = agreement * mean_clarity
    sign_conf = sign_agreement * min(1.0, mean_strength / 0.5)
    fwd = np.cos(axis) * basis[1] + np.sin(axis) * basis[2]
    dev = np.angle(np.exp(2j * (ang - axis))) / 2
    spread = float(np.sqrt(np.sum(w_axis * dev**2) / w_axis.sum())) * DEG_PER_RAD
    return HeadingEstimate(
        forward=fwd,
        confidence=float(min(axis_conf, sign_conf)),
        axis_confidence=float(axis_conf),
        sign_confidence=float(sign_conf),
        segments=tuple(segs),
        turns=turns,
        spread_deg=spread,
    )


def estimate_mounting(
    acc: np.ndarray,
    *,
    sampling_rate_hz: float,
    still: np.ndarray,
    running: np.ndarray,
    walking: np.ndarray | None = None,
    gyr: np.ndarray | None = None,
) -> MountingEstimate:
    """Estimate the sensor-to-body rotation from still, running and walking samples.

    Parameters
    ----------
    acc
        Sensor-frame specific force, m/s^2, shape ``(n, 3)``.
    sampling_rate_hz
        Sampling rate, Hz (finite, > 0).
    still, running, walking
        Boolean masks of the samples in each activity (from `gait.core.activity`).
    gyr
        Sensor-frame angular rate, rad/s (optional): lets `estimate_heading` cut out turns.

    Returns
    -------
    MountingEstimate
    """
    acc = check_vectors(acc, "acc")
    fs = check_rate(sampling_rate_hz)
    n = acc.shape[0]
    if n == 0:
        raise GaitInputError(
            "no samples",
            expected="a recording with standing or moving samples",
            found="0 samples",
            where=Where(parameter="acc"),
        )
    still = check_mask(still, "still", n, "acc")
    running = check_mask(running, "running", n, "acc")
    walking = np.zeros(n, bool) if walking is None else check_mask(walking, "walking", n, "acc")
    if gyr is not None:
        check_same_length(n, "acc", gyr=check_vectors(gyr, "gyr"))
    moving = running if running.sum() >= 4 * fs else walking
    if still.sum() >= 1.0 * fs:
        up = acc[still].mean(axis=0)
        vertical_source = "standing"
        still_s = still.sum() / fs
    elif moving.sum() > 0:
        up = acc[moving].mean(axis=0)
        vertical_source = "activity"
        still_s = 0.0
    else:
        up = acc.mean(axis=0)
        vertical_source = "activity"
        still_s = 0.0
    if not np.isfinite(up).all() or np.linalg.norm(up) < 0.3 * G:
        raise GaitInputError(
            "cannot find vertical",
            expected="a mean specific force near 1 g while standing or moving",
            found=f"|mean acc| = {np.linalg.norm(up):.3g} m/s^2",
            where=Where(parameter="acc"),
        )
    up = up / np.linalg.norm(up)
    heading = None
    if running.sum() >= MIN_WINDOW_S * fs or walking.sum() >= MIN_WINDOW_S * fs:
        heading = estimate_heading(acc, sampling_rate_hz=fs, up=up, running=running, walking=walking, gyr=gyr)
    if heading is None:
        # no periodic activity: any horizontal axis; forward unknown
        helper = np.eye(3)[int(np.argmin(np.abs(up)))]
        return MountingEstimate(rotation_from_axes(up, helper), vertical_source, "none", 0.0, still_s, 0.0)
    run_s = sum(g.end_s - g.start_s for g in heading.segments if g.activity == "running")
    walk_s = sum(g.end_s - g.start_s for g in heading.segments if g.activity == "walking")
    return MountingEstimate(
        rotation=rotation_from_axes(up, heading.forward),
        vertical_source=vertical_source,
        forward_source="running" if run_s >= walk_s else "walking",
        forward_confidence=heading.confidence,
        still_s=still_s,
        moving_s=run_s + walk_s,
        heading=heading,
    )
