"""Side (left / right) of each step from the pelvis' motion, or undecided.

Each step gets evidence from cues whose sign is set by the mechanics of gait (positive means
a left step), the steps alternate, and the alternation is fitted over the steps around each
step. A step gets a side only when every cue with evidence there points the same way and the
strongest is consistent over those steps; otherwise it is ``?``.

Cues
----
*Drop* (running and walking; needs a gyroscope): the pelvis' roll from the contact to
`DROP_SHARE_RUNNING` (running) or `DROP_SHARE_WALKING` (walking) of the stance,
``roll(IC + q tc) - roll(IC)``. In loading the stance hip adducts and the swing side of the
pelvis drops (contralateral pelvic drop): roll, positive with the right side down, rises in a
left stance. Running: Schache et al. (1999), Novacheck (1998), Bramah et al. (2018, peak
contralateral drop in stance); walking: the pelvic obliquity of loading response. The roll
is the gyroscope-integrated angle of the level frame: the accelerometer alone cannot follow
it within a stride.

*Rise* (running; needs a gyroscope): the swing side rises again through late stance, to its
highest around toe-off: ``roll(IC + tc / 2) - roll(TO)`` is positive in a left stance. The
drop and the rise are two phases of one obliquity cycle, measured over separate windows: a
pelvis that does not follow that cycle makes them disagree, and the step stays undecided.

*Sway* (walking; needs a medio-lateral axis): minus the mean medio-lateral acceleration
from the contact to the next, the lateral sway of the inverted pendulum (in single support
the centre of mass is pushed away from the stance foot).

Not used, measured in ``benchmarks/accuracy.py`` and ``benchmarks/walking.py``:

- the yaw rate in stance. Its sign differs between runners: of the three RBDS runners
  (Fukuchi et al. 2017, virtual sacral IMU) two turn towards the stance side through stance
  (mean yaw rate in left stances -17 to -45 deg/s; the sign of a left step on 0 % of their
  steps) and one not measurably (57 %); in running the pelvis' transverse rotation can be out
  of phase with walking's (Schache et al. 1999, Novacheck 1998). In walking it gives the right
  sign on 31-97 % of a subject's steps. The yaw rate at contact (McCamley et al. 2012's walking
  rule) is right on 57-99 % of a walking subject's steps and inverted in running (0-28 %).
- the medio-lateral acceleration in running stance: at the sacrum it is the pelvis' rotation
  about the hips as much as the ground's sideways force, and its mean in stance changed sign
  between trials of the same RBDS runner (right-signed on 0-69 % of a trial's steps); its
  largest value just after contact (Lee et al. 2010) on 57-93 %. Without a gyroscope, running
  steps are therefore undecided.

Decision
--------
Per cue, the evidence of each step is multiplied by ``+1`` on even and ``-1`` on odd steps of
its bout and summed over `HALF_WINDOW` steps either side (within the bout), so a step missed
in a turn costs a few undecided steps, not the side of the rest of the bout. For each cue:
the sum ``S``, the sum of magnitudes ``A`` and the share of steps whose sign agrees with
``S``. A step is decided when every cue with evidence in its window gives ``S`` the same
sign, and the cue with the largest ``|S| / A`` has ``|S| / A > MIN_CONSISTENCY`` and an
agreeing share of at least `MIN_AGREEMENT`. Its confidence (0..1) is that ``|S| / A``, and 0
when the cues disagree or nothing is known.

Notes
-----
Published left/right methods for a lower-back sensor: McCamley et al. (2012), the sign of the
yaw rate at contact (walking); Ullrich et al. (2021), a classifier on the yaw and roll rates at
contact (walking; both in the mobgap package); Lee et al. (2010), the medio-lateral
acceleration spike at contact (running), which identified the foot in 81.9 % of steps of 74
runners against a force plate (Kiernan et al. 2023); Wixted et al. (2010), the sign of the roll
rate around contact (running). Deviations: the roll is used over loading and late stance
rather than at the contact (the roll rate around the contact itself was right-signed on
31-100 % of a trial's RBDS steps, as the drop begins after contact); the yaw and the
medio-lateral acceleration are not used in running (above); no classifier is trained; the
sides of nine steps are fitted together, and a step whose cues disagree is left undecided.

References: Bramah C, Preece SJ, Gill N, Herrington L (2018) Am J Sports Med 46:3023-3031.
Fukuchi RK, Fukuchi CA, Duarte M (2017) PeerJ 5:e3298. Kiernan D, Dunn Siino K, Hawkins DA
(2023) Sensors 23:5022. Lee JB, Mellifont RB, Burkett BJ (2010) J Sci Med Sport 13:270-273.
McCamley J, Donati M, Grimpampi E, Mazzà C (2012) Gait Posture 36:316-318. Novacheck TF
(1998) Gait Posture 7:77-95. Schache AG, Bennell KL, Blanch PD, Wrigley TV (1999) Gait
Posture 10:30-47. Ullrich M et al. (2021) Annu Int Conf IEEE Eng Med Biol Soc 2021.
Wixted AJ, Billing DC, James DA (2010) Sports Eng 12:207-212.
"""

from __future__ import annotations

import numpy as np

from .._checks import check_same_length, check_signal

__all__ = [
    "assign_sides",
    "side_cues",
    "DROP_SHARE_RUNNING",
    "DROP_SHARE_WALKING",
    "RISE_FROM_SHARE",
    "HALF_WINDOW",
    "MIN_AGREEMENT",
    "MIN_CONSISTENCY",
]

#: drop cue: the roll from the contact to this share of the stance (running: to about the
#: vertical force's peak; walking, whose stance runs to after the next contact: loading)
DROP_SHARE_RUNNING = 0.4
DROP_SHARE_WALKING = 0.3
#: rise cue (running): the roll from this share of the stance to toe-off
RISE_FROM_SHARE = 0.5
#: the alternation is fitted over this many steps before and after each step, in its bout
HALF_WINDOW = 4
#: a decided step's strongest cue: share of the window's steps agreeing with its sum, and
#: ``|sum| / sum of magnitudes``
MIN_AGREEMENT = 0.7
MIN_CONSISTENCY = 0.3


def _at(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``x`` interpolated at fractional sample positions (clipped to the signal)."""
    pos = np.clip(np.asarray(idx, dtype=float), 0.0, x.size - 1.0)
    j = np.minimum(np.floor(pos).astype(np.int64), max(x.size - 2, 0))
    frac = pos - j
    return x[j] * (1.0 - frac) + x[np.minimum(j + 1, x.size - 1)] * frac


def _mean_over(x: np.ndarray, a_idx: np.ndarray, b_idx: np.ndarray) -> np.ndarray:
    """Mean of ``x`` over ``[round(a), round(b))`` per step (at least one sample)."""
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(x))])
    a = np.clip(np.round(a_idx).astype(np.int64), 0, x.size - 1)
    b = np.maximum(np.clip(np.round(b_idx).astype(np.int64), 0, x.size), a + 1)
    return (c[b] - c[a]) / (b - a)


def _check_steps(
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    bout: np.ndarray,
    roll_rad: np.ndarray | None,
    acc_level_ml: np.ndarray | None,
    walking: np.ndarray | None,
    ml_sign: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """The checks of `side_cues` and `assign_sides`: per-step arrays of one length, per-sample
    signals 1-D and of one length; ``ic_idx`` and ``to_idx`` as floats."""
    ic = check_signal(ic_idx, "ic_idx")
    to = check_signal(to_idx, "to_idx")
    per_step = {"to_idx": to, "bout": np.asarray(bout), "walking": walking, "ml_sign": ml_sign}
    for name in ("bout", "walking", "ml_sign"):
        arr = per_step[name]
        if arr is not None and np.ndim(arr) != 1:
            check_signal(arr, name)
    check_same_length(ic.size, "ic_idx", **per_step)
    roll = None if roll_rad is None else check_signal(roll_rad, "roll_rad")
    ml = None if acc_level_ml is None else check_signal(acc_level_ml, "acc_level_ml")
    if roll is not None and ml is not None:
        check_same_length(roll.size, "roll_rad", acc_level_ml=ml)
    return ic, to


def side_cues(
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    bout: np.ndarray,
    *,
    roll_rad: np.ndarray | None,
    acc_level_ml: np.ndarray | None,
    walking: np.ndarray | None = None,
    ml_sign: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-step evidence of each cue, positive for a left step (NaN where it does not apply).

    Parameters are those of `assign_sides`. Returns ``drop`` and ``rise`` (rad; with a roll)
    and ``sway`` (m/s^2; with a medio-lateral axis).
    """
    ic, to = _check_steps(ic_idx, to_idx, bout, roll_rad, acc_level_ml, walking, ml_sign)
    m = ic.size
    walk = np.zeros(m, bool) if walking is None else np.asarray(walking, bool)
    flip = np.ones(m) if ml_sign is None else np.where(np.isfinite(ml_sign), np.sign(ml_sign), 1.0)
    flip[flip == 0] = 1.0
    out: dict[str, np.ndarray] = {}
    if m == 0:
        return out
    tc = np.maximum(to - ic, 1.0)
    if roll_rad is not None and np.isfinite(roll_rad).any():
        roll = np.nan_to_num(np.asarray(roll_rad, dtype=float))
        share = np.where(walk, DROP_SHARE_WALKING, DROP_SHARE_RUNNING)
        out["drop"] = (_at(roll, ic + share * tc) - _at(roll, ic)) * flip
        rise = _at(roll, ic + RISE_FROM_SHARE * tc) - _at(roll, to)
        out["rise"] = np.where(walk, np.nan, rise * flip)
    if acc_level_ml is not None and np.isfinite(acc_level_ml).any() and walk.any():
        ml = np.asarray(acc_level_ml, dtype=float)
        ml = ml - np.nanmean(ml)
        grp = np.asarray(bout)
        same = np.concatenate([grp[1:] == grp[:-1], [False]])
        step = np.where(same, np.concatenate([ic[1:], [np.nan]]) - ic, np.nan)
        med = float(np.nanmedian(step)) if np.isfinite(step).any() else 1.0
        end = ic + np.where(np.isfinite(step), step, med)
        out["sway"] = np.where(walk, -_mean_over(ml, ic, end) * flip, np.nan)
    return out


def assign_sides(
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    bout: np.ndarray,
    *,
    roll_rad: np.ndarray | None,
    acc_level_ml: np.ndarray | None,
    walking: np.ndarray | None = None,
    ml_sign: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Side of each step (``L``, ``R`` or ``?``) and its confidence (0..1).

    Parameters
    ----------
    ic_idx, to_idx
        Contact and toe-off of each step (fractional sample positions), sorted by time.
    bout
        Bout of each step (the steps of a bout are contiguous and alternate).
    roll_rad
        Trunk roll in the level frame (rad, + right side down), per sample, integrated from a
        gyroscope; None without one (running steps are then undecided).
    acc_level_ml
        Medio-lateral acceleration (m/s^2, + = left), per sample, or None.
    walking
        True for walking steps (None: none are).
    ml_sign
        Per step, the sign that corrects the medio-lateral axis when the forward axis was
        found backward (``walking_events``' ``ap_sign``: the frame is right-handed, so the
        medio-lateral axis and the roll flip with it); None or NaN means +1.

    Returns
    -------
    side, confidence
        ``confidence`` is ``|S| / A`` of the strongest cue over the steps around each step (see
        the module notes): 1 when every step's evidence alternates, 0 when the cues disagree or
        there is none. A step has a side only when it is above `MIN_CONSISTENCY`.
    """
    ic = check_signal(ic_idx, "ic_idx")
    m = ic.size
    side = np.full(m, "?", dtype=object)
    confidence = np.zeros(m)
    cues = side_cues(ic, to_idx, bout, roll_rad=roll_rad, acc_level_ml=acc_level_ml, walking=walking, ml_sign=ml_sign)
    if m == 0 or not cues:
        return side, confidence
    b = np.asarray(bout)
    group = np.cumsum(np.concatenate([[True], b[1:] != b[:-1]])) - 1  # runs of one bout
    counts = np.bincount(group)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(m) - start[group]
    alt_sign = np.where(k % 2 == 0, 1.0, -1.0)
    lo = np.maximum(np.arange(m) - HALF_WINDOW, start[group])
    hi = np.minimum(np.arange(m) + HALF_WINDOW + 1, start[group] + counts[group])

    def window(x: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(x)])
        return c[hi] - c[lo]

    votes, consistency, agreement = [], [], []
    for e in cues.values():
        has = np.isfinite(e)
        alt = np.where(has, alt_sign * np.nan_to_num(e), 0.0)
        s = window(alt)
        a = window(np.abs(alt))
        n = window(has.astype(float))
        votes.append(np.where((n > 0) & (a > 0), np.sign(s), 0.0))
        consistency.append(np.divide(np.abs(s), a, out=np.zeros(m), where=a > 0))
        agreement.append(0.5 + 0.5 * np.sign(s) * np.divide(window(np.sign(alt)), n, out=np.zeros(m), where=n > 0))
    V, C, Ag = np.array(votes), np.array(consistency), np.array(agreement)
    disagree = (V > 0).any(axis=0) & (V < 0).any(axis=0)
    best = np.argmax(np.where(V != 0, C, -1.0), axis=0)
    cols = np.arange(m)
    conf = np.where(disagree | (V[best, cols] == 0), 0.0, C[best, cols])
    decided = (conf > MIN_CONSISTENCY) & (Ag[best, cols] >= MIN_AGREEMENT)
    left = V[best, cols] * alt_sign > 0
    side[decided & left] = "L"
    side[decided & ~left] = "R"
    confidence[:] = conf
    return side, confidence
