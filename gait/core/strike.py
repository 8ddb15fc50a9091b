"""Foot strike (rearfoot / midfoot / forefoot) from the lumbar signal: per step and per run.

A heel-first landing stops the leg's effective mass within a few milliseconds and sends a
collision transient up the body; a forefoot landing lets the ankle absorb it and gives a single
smooth rise of the vertical force (Lieberman et al. 2010). At the lower back the transient is
what a low-pass of the vertical specific force cannot follow in the first quarter of stance.

- per step: the collision transient (body weights), its class by band, a rearfoot score, and
  a confidence from the transient's distance to the band's boundary in units of the stance's
  own vibration (`classify_foot_strike`);
- per run: the median sagittal collision (the vertical transient together with the
  antero-posterior one, `collision_transient`) of the run's running steps and its standard
  error; the run's class is decided only when the median stands clear of the boundary
  (`run_foot_strike`).

Notes
-----
There is no published, validated method for foot-strike type from a trunk sensor. Deviations
from the physical basis (Lieberman et al. 2010, force-plate impact peaks): the transient is
read from acceleration at the sacrum, scaled by the run's body weight in the sensor's units,
the run's decision adds the antero-posterior part of the collision, and the class boundaries
are a project convention. On real sacral recordings the collision moves with slope and speed
as much as with the strike: one rearfoot runner's sagittal collision is 0.43-0.60 body weights
uphill (trial medians) and up to 1.82 downhill, as the force plate's impact peak shrinks
uphill and grows downhill (Gottschall & Kram 2005), and a midfoot / forefoot runner's virtual
sacral signal (foot markers, Altman and Davis 2012 for the truth) reads 0.34, inside that
range. So the middle band is never decided for a run: a run reads ``midfoot`` only from its
steps, never as its dominant strike, and such runs are ``uncertain``. Loading rate, time to
the vertical peak, early-stance shape, braking profile, contact time and duty factor were
checked on the same runners (`gait.core._strike_features`, `benchmarks/_strike_bench.py`)
and none separates the forefoot runner from a rearfoot runner at the same speed, so none is
used.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from ..constants import G

#: Foot-strike classes from the collision transient early in stance, in body weights: rearfoot
#: at or above REARFOOT_ABOVE_BW, forefoot below FOREFOOT_BELOW_BW, midfoot between.
REARFOOT_ABOVE_BW = 0.6
FOREFOOT_BELOW_BW = 0.2
#: width of the logistic rearfoot score around REARFOOT_ABOVE_BW, body weights
REARFOOT_SCORE_WIDTH_BW = 0.1
#: the transient is what a 10 Hz low-pass of the stance cannot follow
TRANSIENT_LOWPASS_HZ = 10.0
#: a step's class is decided when its transient is this many times the bout's background
#: vibration away from the nearest class boundary
DECISION_RATIO = 3.0
#: smallest background counted, body weights (a perfect signal is not infinitely certain)
BACKGROUND_FLOOR_BW = 0.005
#: fewest complete running steps in a bout to measure its background (fewer: undecided)
MIN_STRIKE_STEPS = 8
#: the foot-strike classes (``uncertain``: the run's signal cannot decide)
FOOT_STRIKES = ("rearfoot", "midfoot", "forefoot", "uncertain")
#: a run's dominant strike is decided when its confidence reaches this
RUN_DECISION_CONFIDENCE = 0.9
#: a run's collision must be at least this many times its stance's own vibration (median of
#: `collision_background_bw`) to be read as rearfoot: a shaking stance lifts the collision as
#: much as its background (simulator, 5 m/s^2 of ground vibration: ratio 0.9-1.2 whatever the
#: strike). Chosen leave one runner out on the real trials from 1.5 / 2 / 3, the smallest value
#: with no wrong call on the other runners (`benchmarks/_strike_bench.py`): 1.5 in every fold;
#: the grid starts at 1.5, a priori above the shaking stance's 1.2
RUN_CLEAR_RATIO = 1.5
#: standard error of a median relative to that of a mean, for a normal distribution
_MEDIAN_SE_FACTOR = 1.2533


def collision_transient(
    f_v: np.ndarray,
    early_r: tuple,
    ic: np.ndarray,
    tc_samples: np.ndarray,
    segment_id: np.ndarray,
    fs: float,
    bout: np.ndarray,
    running: np.ndarray,
    step_bounds: tuple[np.ndarray, np.ndarray],
    f_ap: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per step, the collision transient and the stance's background vibration, vertical and
    sagittal, body weights.

    The vertical transient is the largest excess of the vertical specific force over its own
    `TRANSIENT_LOWPASS_HZ` low-pass in the first 25 % of stance; its background is the largest
    absolute difference between the two from 40 to 80 % of stance, where no collision happens.
    The sagittal collision is the largest magnitude, in the first 25 % of stance, of the vector
    of that vertical excess (its positive part) and the antero-posterior specific force's
    difference from its own low-pass (``f_ap``; None: vertical only); its background is the
    largest magnitude of the same vector (both parts signed) from 40 to 80 % of stance. All are
    divided by the bout's body weight in the sensor's units (the median over its running steps
    of the mean vertical specific force from a contact to the next).

    Returns
    -------
    transient, background
        Vertical (the steps' classes: `classify_foot_strike`).
    collision, collision_background
        Sagittal (the run's dominant strike: `run_foot_strike`).

    Notes
    -----
    A heel strike's collision stops the leg's effective mass (Lieberman et al. 2010) along the
    leg, which is inclined at contact, so its impulse has a braking as well as a vertical part
    (a project reading of the collision model, not a published sacral measure); how it splits
    between the level frame's vertical and forward axes at the sacrum moves with slope and
    trunk lean. On real sacral recordings the vertical part alone left the uphill heel strikes
    of a rearfoot runner at 0.26-0.54 body weights (trial medians); the sagittal magnitude lifts
    them to 0.43-0.76 while the midfoot / forefoot runner's stays at 0.34
    (`benchmarks/_strike_bench.py`). The antero-posterior vibration of real stances is larger
    than the vertical one, so a single step's sagittal collision stands out of its background
    less often: the steps' classes stay vertical.
    """
    from ._steps import _ragged, _reduce
    from .filters import lowpass

    n = f_v.size
    m = ic.size
    starts = np.flatnonzero(np.concatenate([[True], segment_id[1:] != segment_id[:-1]]))

    def resid(sig: np.ndarray) -> np.ndarray:
        x = np.nan_to_num(sig)
        smooth = np.empty_like(x)
        for a, b in zip(starts, np.append(starts[1:], n)):  # a few contiguous segments
            long = b - a > 3 * fs / TRANSIENT_LOWPASS_HZ
            smooth[a:b] = lowpass(x[a:b], fs, TRANSIENT_LOWPASS_HZ) if long else x[a:b]
        return np.subtract(x, smooth, out=smooth)

    r_v = resid(f_v)
    r_ap = resid(f_ap) if f_ap is not None else np.zeros_like(r_v)
    # body weight per bout: median of the per-step means of f_v (contact to next contact)
    ic_i, nxt_i = step_bounds
    c = np.concatenate([[0.0], np.cumsum(np.nan_to_num(f_v))])
    span = nxt_i - ic_i
    long_enough = span >= 0.2 * fs
    a_i, b_i = np.clip(ic_i, 0, n), np.clip(nxt_i, 0, n)
    step_mean = np.where(long_enough, (c[b_i] - c[a_i]) / np.maximum(span, 1), np.nan)
    unit = np.full(m, np.nan)
    for b in np.unique(bout[running]):  # a few bouts
        sel = running & (bout == b)
        vals = step_mean[sel]
        vals = vals[np.isfinite(vals) & (vals > 0.5 * G)]
        unit[sel] = float(np.median(vals)) if vals.size else G
    idx, owner, offs, ne = early_r
    phase = (idx - ic[owner]) / tc_samples[owner]
    in_early = (phase >= 0) & (phase <= 0.25)
    mid_idx, _, mid_offs, mid_ne = _ragged(
        np.round(ic + 0.4 * tc_samples).astype(np.int64), np.round(ic + 0.8 * tc_samples).astype(np.int64) + 1, n
    )
    out = []
    # the vertical, then the sagittal signals, each made when used (arrays the session's size)
    for signals in (
        lambda: (r_v, np.abs(r_v)),
        lambda: (np.hypot(np.maximum(r_v, 0.0), r_ap), np.hypot(r_v, r_ap)),
    ):
        early_sig, mid_sig = signals()
        transient = _reduce(np.maximum, np.where(in_early, early_sig[idx], -np.inf), offs, ne) / unit
        background = _reduce(np.maximum, mid_sig[mid_idx], mid_offs, mid_ne) / unit
        ok = running & np.isfinite(transient)
        out += [np.where(ok, transient, np.nan), np.where(ok, background, np.nan)]
    return out[0], out[1], out[2], out[3]


def classify_foot_strike(
    transient_bw: np.ndarray, background_bw: np.ndarray, bout: np.ndarray, complete: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Foot-strike class, its confidence and the rearfoot score of every step.

    Parameters
    ----------
    transient_bw, background_bw
        Per step, the collision transient and the background vibration of the stance, body
        weights (NaN for walking steps).
    bout
        Bout of each step; the background is measured per bout.
    complete
        Steps whose stance is complete (they set the bout's background).

    Returns
    -------
    strike
        ``rearfoot`` / ``midfoot`` / ``forefoot`` when the step's transient is decided,
        ``uncertain`` when it is not, None for steps without a transient (walking).
    confidence
        Confidence of the step's class, 0..1 (>= 0.5: decided).
    score
        Rearfoot score of the step, 0..1: logistic in its transient around `REARFOOT_ABOVE_BW`.

    Notes
    -----
    The class is the band the transient falls in (`REARFOOT_ABOVE_BW`, `FOREFOOT_BELOW_BW`).
    Its confidence is ``r^2 / (r^2 + K^2)`` with ``r = M / N``: ``M`` the distance of the
    step's transient to the nearest boundary of its band, ``N`` the bout's background (the
    median over its complete steps of the largest mid-stance difference between the signal and
    its low-pass: the vibration a collision must stand out of) and ``K = DECISION_RATIO``; a
    rearfoot or forefoot step is decided when its transient is at least ``K`` backgrounds from
    the boundary; any step is also decided when its bout's median transient is (confidence
    ``s r_b^2 / (r_b^2 + K^2)``, ``s`` the share of the bout's steps in that band) and the step
    is in the same band. Midfoot is decided only that way: a single transient in the middle band
    is also what a weak heel strike or a soft-tissue bump gives. On
    real sacral recordings the background is 5-20 % of body weight (soft tissue, strap,
    treadmill) and the transient moves with slope and speed as much as with the strike, so
    there only clear cases are decided. Bouts with fewer than `MIN_STRIKE_STEPS` complete
    steps are not decided.
    """
    t = np.asarray(transient_bw, dtype=float)
    has = np.isfinite(t)
    cls = np.where(t >= REARFOOT_ABOVE_BW, 0, np.where(t < FOREFOOT_BELOW_BW, 2, 1))
    margin = np.where(
        cls == 0,
        t - REARFOOT_ABOVE_BW,
        np.where(cls == 2, FOREFOOT_BELOW_BW - t, np.minimum(t - FOREFOOT_BELOW_BW, REARFOOT_ABOVE_BW - t)),
    )
    score = np.where(has, 1.0 / (1.0 + np.exp(-(t - REARFOOT_ABOVE_BW) / REARFOOT_SCORE_WIDTH_BW)), np.nan)
    noise = np.full(t.size, np.nan)
    bout_conf = np.zeros(t.size)
    use = has & np.asarray(complete, bool) & np.isfinite(background_bw)
    for b in np.unique(bout[has]):  # a few bouts
        sel = has & (bout == b)
        pick = use & (bout == b)
        if pick.sum() < MIN_STRIKE_STEPS:
            continue
        n_b = max(float(np.median(background_bw[pick])), BACKGROUND_FLOOR_BW)
        noise[sel] = n_b
        # the bout as a whole: its median transient, the band it is in, and how many agree
        e = float(np.median(t[pick]))
        c = 0 if e >= REARFOOT_ABOVE_BW else 2 if e < FOREFOOT_BELOW_BW else 1
        m_b = {0: e - REARFOOT_ABOVE_BW, 2: FOREFOOT_BELOW_BW - e}.get(
            c, min(e - FOREFOOT_BELOW_BW, REARFOOT_ABOVE_BW - e)
        )
        r_b = m_b / n_b
        share = float(np.mean(cls[pick] == c))
        bout_conf[sel & (cls == c)] = share * r_b**2 / (r_b**2 + DECISION_RATIO**2)
    r = margin / noise
    # a single step is decided on its own only at the ends (a clear collision, or none): a
    # transient in the middle band is also what a weak heel strike or a soft-tissue bump gives,
    # so midfoot needs the bout's landings to sit there consistently
    own = np.where(cls == 1, 0.0, np.nan_to_num(r**2 / (r**2 + DECISION_RATIO**2), nan=0.0))
    confidence = np.where(has, np.maximum(own, bout_conf), np.nan)
    names = np.array(FOOT_STRIKES[:3], dtype=object)
    strike = np.where(confidence >= 0.5, names[cls], "uncertain").astype(object)
    strike[~has] = None
    return strike, confidence, score


def run_foot_strike(
    transient_bw: np.ndarray, background_bw: np.ndarray | None = None
) -> tuple[str, float, float, float]:
    """The run's dominant foot strike and its confidence from its steps' collisions.

    Parameters
    ----------
    transient_bw
        Collision of each of the run's valid running steps, body weights (NaN where unknown):
        the analysis passes the sagittal collision (`collision_bw`, `collision_transient`).
    background_bw
        The stance's own vibration of each step, body weights (`collision_background_bw`);
        None: not checked.

    Returns
    -------
    strike
        ``rearfoot`` or ``forefoot`` when decided, else ``uncertain``.
    confidence
        Confidence that the run's median transient is in the band of ``strike`` (for
        ``uncertain``: the confidence the evidence reached for the nearest end band), 0..1.
    median_bw
        The run's median transient, body weights (NaN with fewer than `MIN_STRIKE_STEPS`).
    se_bw
        Its standard error, body weights.

    Notes
    -----
    The median ``e`` of ``n`` transients has the standard error ``s = 1.2533 sd / sqrt(n)``;
    the confidence of the rearfoot band is ``2 Phi((e - REARFOOT_ABOVE_BW) / s) - 1`` and of the
    forefoot band ``2 Phi((FOREFOOT_BELOW_BW - e) / s) - 1`` (``Phi`` the normal distribution
    function): the probability that the run's median lies on the far side of the boundary
    rather than just as far on the near side. The run is decided at
    `RUN_DECISION_CONFIDENCE`; rearfoot also needs the median transient to be at least
    `RUN_CLEAR_RATIO` times the median background (else its confidence is 0). A median in the
    middle band is ``uncertain`` with the larger of the two end bands' (then negative, floored
    at 0) confidences: on real sacral recordings uphill heel strikes and a forefoot runner both
    land there. The boundaries and the 0.9 are set a priori; the clear ratio is the value every
    leave-one-runner-out fold chooses (above the simulator's shaking stance); on 24 real trials
    (`benchmarks/_strike_bench.py`) 17 are right, 7 uncertain, none wrong.
    """
    t = np.asarray(transient_bw, dtype=float)
    t = t[np.isfinite(t)]
    if t.size < MIN_STRIKE_STEPS:
        return "uncertain", 0.0, float("nan"), float("nan")
    e = float(np.median(t))
    se = max(_MEDIAN_SE_FACTOR * float(np.std(t, ddof=1)) / np.sqrt(t.size), BACKGROUND_FLOOR_BW)
    conf_rear = float(2 * ndtr((e - REARFOOT_ABOVE_BW) / se) - 1)
    conf_fore = float(2 * ndtr((FOREFOOT_BELOW_BW - e) / se) - 1)
    if background_bw is not None:
        b = np.asarray(background_bw, dtype=float)
        b = b[np.isfinite(b)]
        if b.size and e < RUN_CLEAR_RATIO * float(np.median(b)):
            conf_rear = min(conf_rear, 0.0)
    if conf_rear >= RUN_DECISION_CONFIDENCE:
        return "rearfoot", conf_rear, e, se
    if conf_fore >= RUN_DECISION_CONFIDENCE:
        return "forefoot", conf_fore, e, se
    return "uncertain", max(conf_rear, conf_fore, 0.0), e, se
