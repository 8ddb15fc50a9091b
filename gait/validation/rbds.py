"""A virtual sacral IMU and per-step truth from the RBDS treadmill motion-capture dataset.

The dataset (Fukuchi, Fukuchi & Duarte 2017) gives marker trajectories of runners on a
treadmill at 150 Hz (laboratory frame, mm, Y up), standing trials, and for some trials the
treadmill's force at 300 Hz. From one trial this module builds:

1. **The world frame.** Up is the laboratory's Y. Forward (the runner's direction of travel)
   is opposite to the median horizontal velocity of the feet while they are on the belt
   (`world_frame`); the belt speed is its magnitude. Left completes the frame.
2. **The virtual sensor.** The pelvis is a rigid segment: its anatomical frame (ISB) comes
   from the standing trial's mean marker positions, which also give each pelvis marker's
   position in that frame (the template); every running frame is a least-squares fit of the
   template to the markers seen in it (ASIS and iliac-crest markers drop out for up to 1.4 s;
   the PSIS never do). The sensor point is the midpoint of the two PSIS in that frame (plus an
   optional offset), i.e. on the sacrum. `gait.validation.virtual_imu.virtual_imu` turns the
   sensor point's position and the pelvis orientation into a sensor-frame session (default
   mounting ``"belt_clip"``; cutoff 20 Hz, see below).
3. **The standing reference.** The analysis measures lean against a standing posture, so the
   runner's standing trial comes first in the session. A standing trial shorter than
   `MIN_STANDING_S` (runner 1's lasts 1 s) is replaced by its mean posture held still for
   ``standing_s`` seconds (the sensor then reads exactly ``+g`` along up and no rotation);
   longer ones are used as recorded. The join (``join="fade"``, the default) keeps the
   recording continuous: over the first `FADE_S` of the run the pose moves from the last
   standing pose to the run's own by a quintic smooth step (linear in position, along the
   geodesic in orientation), the end of the run fades back the same way, and the standing
   posture is held `TAIL_S` at the end, so position, velocity, acceleration, orientation and
   angular rate are continuous everywhere, as when a runner starts and stops. Only the
   unblended run is compared with truth. ``join="gap"`` instead leaves a gap of `GAP_S`
   between standing and the run (nothing invented, but the run then begins and ends at the
   edges of a stretch of recording).
4. **Events.** Where force exists: contact while the vertical force is above
   `FORCE_THRESHOLD_N` (a Schmitt trigger `FORCE_HYSTERESIS_N` either side decides the state;
   the event is the interpolated crossing of the threshold itself), contacts shorter than
   0.1 s and flights shorter than 0.03 s merged away. Elsewhere, from the foot markers
   (`marker_events`): initial contact by the method of Zeni et al. (2008), the instant the heel
   is furthest ahead of the sacrum, shifted by `MARKER_IC_LATENCY_S`; toe-off when the
   metatarsal markers (midpoint of MT1 and MT5) first rise faster than
   `MARKER_TO_UPWARD_MPS` after contact (a foot-velocity criterion: the forefoot is still on
   the belt until it lifts). Both constants were calibrated on the two trials with force
   (`calibrate_marker_events`); their error there, in sample and leave-one-runner-out, is in
   ``docs/validation.md``. Side is the foot whose markers gave the event.
5. **Foot strike** per step: the sagittal angle of the line from the heel (``Heel.Bottom``)
   to the metatarsal heads (midpoint of ``MT1`` and ``MT5``) at initial contact, minus the
   same angle in the standing trial (+ toes up). Rearfoot above 8 deg, forefoot below
   -1.6 deg, midfoot between (Altman & Davis 2012).
6. **Truth per step** with the analysis' definitions (`gait.validation.truth`), plus the
   clinical pelvis angles (Baker 2001) for reference.

Cutoff: Winter's residual analysis of the PSIS midpoint's coordinates in the five trials puts
the noise floor at 18-28 Hz; 20 Hz is the low end of that range, which keeps the 10-20 Hz band
where a heel strike's transient reaches the pelvis while the doubly differentiated marker noise
stays near 1 m/s^2.

Notes
-----
Fukuchi RK, Fukuchi CA, Duarte M (2017). A public dataset of running biomechanics and the
effects of running speed on lower extremity kinematics and kinetics. PeerJ 5:e3298.
Zeni JA, Richards JG, Higginson JS (2008). Two simple methods for determining gait events
during treadmill and overground walking using kinematic data. Gait & Posture 27:710-714.
Altman AR, Davis IS (2012). A kinematic method for footstrike pattern detection in barefoot
and shod runners. Gait & Posture 35:298-300.
Deviations: Zeni's method was published for walking; in running the heel is furthest ahead
about 25 ms before contact (measured here against force), hence the calibrated latency.
Zeni's toe-off (toe furthest behind the sacrum) comes about 0.1 s after the force's toe-off in
running (the foot keeps moving back once airborne) and is not used. The metatarsal-velocity
toe-off is this module's own criterion, calibrated like the latency.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from ..constants import DEG_PER_RAD, G
from ..errors import GaitInputError, Where
from ..session import Session, SessionMetadata
from .truth import analysis_angles, clinical_pelvis_angles, ideal_body_frame, remove_heading, step_truth
from .virtual_imu import (
    DEFAULT_CUTOFF_HZ,
    VirtualImu,
    orientation_closure,
    pelvis_frame,
    rigid_fit,
    segment_template,
    velocity_closure,
    virtual_imu,
    zero_lag_lowpass,
)

__all__ = [
    "FS_HZ",
    "FORCE_FS_HZ",
    "TRIALS",
    "RbdsTrial",
    "RbdsData",
    "read_markers",
    "read_force",
    "world_frame",
    "force_contacts",
    "marker_events",
    "calibrate_marker_events",
    "marker_event_pairs",
    "foot_strike_class",
    "load_trial",
    "self_checks",
]

#: Marker sampling rate (the ``Time`` column is rounded to 1 ms; samples are uniform).
FS_HZ = 150.0
#: Force sampling rate (``Time`` is the sample number, synchronous with the markers).
FORCE_FS_HZ = 300.0
#: The pelvis cluster.
PELVIS_MARKERS = ("R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS", "R.Iliac.Crest", "L.Iliac.Crest")
#: Contact from force: threshold and Schmitt-trigger half-width, N; minimum durations, s.
FORCE_THRESHOLD_N = 50.0
FORCE_HYSTERESIS_N = 20.0
MIN_CONTACT_S = 0.1
MIN_FLIGHT_S = 0.03
#: Marker events: the heel is furthest ahead of the sacrum this long before contact (s), and
#: toe-off is when the metatarsal markers rise faster than this (m/s). Calibrated on the two
#: force trials with `calibrate_marker_events` (pooled); see ``docs/validation.md``.
MARKER_IC_LATENCY_S = 0.025
MARKER_TO_UPWARD_MPS = 0.59
#: Foot-strike angle thresholds, deg (Altman & Davis 2012).
REARFOOT_ABOVE_DEG = 8.0
FOREFOOT_BELOW_DEG = -1.6
#: Standing trials shorter than this are replaced by their mean posture held still.
MIN_STANDING_S = 3.0
#: Time dropped at each end of a virtual recording (filter and derivative edges), s.
TRIM_S = 0.2
#: ``join="gap"``: time between the standing part and the run (a gap, not bridged), s.
GAP_S = 1.0
#: ``join="fade"``: the run fades in from, and out to, the standing posture over this long, s;
#: the standing posture is then held this long at the end.
FADE_S = 2.0
TAIL_S = 5.0


@dataclass(frozen=True)
class RbdsTrial:
    """One running trial of the dataset.

    Attributes
    ----------
    key
        Short name, e.g. ``"r1_2.5"``.
    runner
        1, 2 or 3 (the dataset's subject identities beyond runner 1 are uncertain).
    nominal_speed_mps
        Speed in the file name; the belt speed measured from the feet is in `RbdsData.info`.
    markers, force, static
        File names (force ``None`` when absent).
    """

    key: str
    runner: int
    nominal_speed_mps: float
    markers: str
    force: str | None
    static: str


#: The five trials of the folder ``rbds2017_treadmill_mocap``.
TRIALS: tuple[RbdsTrial, ...] = (
    RbdsTrial("r1_2.5", 1, 2.5, "RBDS001runT25markers.txt.gz", "RBDS001runT25forces.txt.gz", "RBDS001static.txt.gz"),
    RbdsTrial("r2_2.5", 2, 2.5, "RBDS0041runT252.txt.gz", "RBDS0041runT252forces.txt.gz", "RBDS0041static.txt.gz"),
    RbdsTrial("r2_3.5", 2, 3.5, "RBDS0041runT352.txt.gz", None, "RBDS0041static.txt.gz"),
    RbdsTrial("r2_4.5", 2, 4.5, "RBDS0041runT452.txt.gz", None, "RBDS0041static.txt.gz"),
    RbdsTrial("r3_3.5", 3, 3.5, "RBDS032runT35markers.txt.gz", None, "RBDS032static.txt.gz"),
)


# ---------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------
def read_markers(path: str | Path) -> dict[str, np.ndarray]:
    """Marker trajectories of one file: name -> ``(n, 3)`` laboratory coordinates in m.

    Columns ``<name>X``, ``<name>Y``, ``<name>Z`` in mm (``Time`` is ignored: samples are
    uniform at `FS_HZ`). Missing samples stay NaN; markers missing throughout are left out.
    """
    p = Path(path)
    if not p.is_file():
        raise GaitInputError("file not found", expected="an RBDS marker file", found=str(p), where=Where(file=p))
    df = pd.read_csv(p, sep="\t")
    names = [c[:-1] for c in df.columns if c.endswith("X") and c[:-1] + "Y" in df and c[:-1] + "Z" in df]
    if not names:
        raise GaitInputError(
            "no markers",
            expected="columns <marker>X, <marker>Y, <marker>Z",
            found=", ".join(df.columns[:5]),
            where=Where(file=p),
        )
    out = {}
    for k in names:
        xyz = df[[k + "X", k + "Y", k + "Z"]].to_numpy(float) / 1000.0
        if np.isfinite(xyz).any():
            out[k] = xyz
    return out


def read_force(path: str | Path) -> np.ndarray:
    """Vertical treadmill force (column ``Fy``), N, at `FORCE_FS_HZ`."""
    p = Path(path)
    df = pd.read_csv(p, sep="\t")
    if "Fy" not in df:
        raise GaitInputError(
            "no vertical force", expected="a column 'Fy'", found=", ".join(df.columns), where=Where(file=p)
        )
    return df["Fy"].to_numpy(float)


def _mass_from_info(data_dir: Path, force_file: str | None) -> float | None:
    """Body mass (kg) from the participant table, for a force file listed in it."""
    info = data_dir / "RBDSinfo.txt.gz"
    if force_file is None or not info.is_file():
        return None
    df = pd.read_csv(info, sep="\t")
    row = df[df["FileName"] == force_file.removesuffix(".gz")]
    return float(row["Mass"].iloc[0]) if len(row) else None


# ---------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------
def _foot_names(markers: dict[str, np.ndarray], side: str) -> tuple[str, list[str]]:
    heel = f"{side}.Heel.Bottom"
    mts = [f"{side}.MT1", f"{side}.MT5"]
    missing = [k for k in [heel, *mts] if k not in markers]
    if missing:
        raise GaitInputError(
            "foot markers missing",
            expected="Heel.Bottom, MT1 and MT5 of both feet",
            found="no " + ", ".join(missing),
            where=Where(parameter="markers"),
        )
    return heel, mts


def world_frame(markers: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """Rotation from the laboratory to the world frame (rows: forward, left, up) and belt speed.

    The feet are on the belt when they are low: over the samples where a foot marker is in the
    lowest 30 % of its height range, the median horizontal velocity gives the belt's direction;
    forward is opposite to it (the runner faces into the belt's motion). The belt speed is the
    median forward speed of the heel and metatarsal markers over the middle third of every
    stance (`marker_events`), where the foot moves with the belt.

    Returns
    -------
    W : ndarray, shape (3, 3)
        ``world = W @ lab``.
    belt_speed_mps : float
    """
    up = np.array([0.0, 1.0, 0.0])
    vel = []
    for side in "RL":
        heel, mts = _foot_names(markers, side)
        for k in [heel, *mts]:
            p = markers[k]
            v = np.gradient(p, axis=0) * FS_HZ
            y = p[:, 1]
            lo, hi = np.nanpercentile(y, [1, 99])
            low = y < lo + 0.3 * (hi - lo)
            vel.append(v[low & np.isfinite(v).all(axis=1)])
    v = np.concatenate(vel)
    belt = np.median(v, axis=0)
    belt -= up * (belt @ up)
    rough = float(np.linalg.norm(belt))
    if rough < 0.5:
        raise GaitInputError(
            "no belt motion",
            expected="feet moving with a treadmill belt (> 0.5 m/s)",
            found=f"{rough:.2f} m/s",
            where=Where(parameter="markers"),
        )
    fwd = -belt / rough
    left = np.cross(up, fwd)
    W = np.vstack([fwd, left, up])
    # a mirrored laboratory would put the left markers on the right
    if "L.PSIS" in markers and "R.PSIS" in markers:
        lr = np.nanmedian((markers["L.PSIS"] - markers["R.PSIS"]) @ left)
        if not lr > 0:
            raise GaitInputError(
                "left and right swapped",
                expected="L.* markers on the runner's left",
                found=f"L.PSIS {lr * 1000:.0f} mm to the left of R.PSIS",
                where=Where(parameter="markers"),
            )
    world = _to_world(markers, W)
    ev = marker_events(world)
    speeds = []
    for side in "RL":
        f = _foot_signals(world, side, DEFAULT_CUTOFF_HZ)
        e = ev[ev["side"] == side]
        a = np.round((e["ic_s"] + (e["to_s"] - e["ic_s"]) / 3).to_numpy() * FS_HZ).astype(np.int64)
        b = np.round((e["ic_s"] + 2 * (e["to_s"] - e["ic_s"]) / 3).to_numpy() * FS_HZ).astype(np.int64)
        idx = np.concatenate([np.arange(i, j) for i, j in zip(a, b)]) if a.size else np.zeros(0, np.int64)
        for k in ("heel", "mt"):
            speeds.append(-np.gradient(f[k][:, 0])[idx] * FS_HZ)
    v_mid = np.concatenate(speeds)
    return W, float(np.median(v_mid)) if v_mid.size else rough


def _to_world(markers: dict[str, np.ndarray], W: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v @ W.T for k, v in markers.items()}


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------
def force_contacts(
    force_n: np.ndarray,
    *,
    sampling_rate_hz: float,
    threshold_n: float = FORCE_THRESHOLD_N,
    hysteresis_n: float = FORCE_HYSTERESIS_N,
    min_contact_s: float = MIN_CONTACT_S,
    min_flight_s: float = MIN_FLIGHT_S,
) -> np.ndarray:
    """Contacts from a vertical force: ``(k, 2)`` initial contact and toe-off times, s.

    The state (contact or flight) changes only when the force crosses
    ``threshold_n +- hysteresis_n``; each change is timed at the interpolated crossing of
    ``threshold_n`` just before it. Flights shorter than ``min_flight_s`` are merged, contacts
    shorter than ``min_contact_s`` dropped, and contacts cut by the ends of the recording
    left out. Times from the first sample (t = 0).
    """
    f = np.asarray(force_n, dtype=float)
    fs = float(sampling_rate_hz)
    code = np.where(f > threshold_n + hysteresis_n, 1.0, np.where(f < threshold_n - hysteresis_n, 0.0, np.nan))
    s = pd.Series(code).ffill().to_numpy()
    known = np.isfinite(s)
    s = np.where(known, s, -1)
    rise = np.flatnonzero((s[1:] == 1) & (s[:-1] == 0)) + 1
    fall = np.flatnonzero((s[1:] == 0) & (s[:-1] == 1)) + 1
    if rise.size == 0 or fall.size == 0:
        return np.zeros((0, 2))
    fall = fall[fall > rise[0]]
    rise = rise[: fall.size]  # states alternate: rise k pairs with fall k; an unfinished one goes
    above = f > threshold_n
    up_x = np.flatnonzero(~above[:-1] & above[1:]) + 1  # f[i-1] <= thr < f[i]
    dn_x = np.flatnonzero(above[:-1] & ~above[1:]) + 1  # f[i-1] > thr >= f[i]
    iu = up_x[np.clip(np.searchsorted(up_x, rise, side="right") - 1, 0, None)]
    idn = dn_x[np.clip(np.searchsorted(dn_x, fall, side="right") - 1, 0, None)]
    t_on = (iu - 1 + (threshold_n - f[iu - 1]) / (f[iu] - f[iu - 1])) / fs
    t_off = (idn - 1 + (f[idn - 1] - threshold_n) / (f[idn - 1] - f[idn])) / fs
    # merge contacts separated by a flight shorter than min_flight_s, then drop short contacts
    first = np.flatnonzero(np.concatenate([[True], t_on[1:] - t_off[:-1] >= min_flight_s]))
    last = np.append(first[1:] - 1, t_on.size - 1)
    t_on2, t_off2 = t_on[first], t_off[last]
    ok = (t_off2 - t_on2 >= min_contact_s) & (t_on2 > 1.0 / fs) & (t_off2 < (f.size - 2) / fs)
    return np.column_stack([t_on2[ok], t_off2[ok]])


def _foot_signals(world: dict[str, np.ndarray], side: str, cutoff_hz: float) -> dict[str, np.ndarray]:
    heel, mts = _foot_names(world, side)

    def filled(x: np.ndarray) -> np.ndarray:
        # a few isolated missing samples in the metatarsal markers: linear bridge, then filter
        out = x.copy()
        for j in range(3):
            bad = ~np.isfinite(out[:, j])
            if bad.any():
                out[bad, j] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), out[~bad, j])
        return out

    h = zero_lag_lowpass(filled(world[heel]), sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    mt = zero_lag_lowpass(filled((world[mts[0]] + world[mts[1]]) / 2), sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    return {"heel": h, "mt": mt}


def _upcross(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: float) -> np.ndarray:
    """Fractional index of the first upward crossing of ``level`` in ``(start[k], stop[k]]``."""
    above = x > level
    ups = np.flatnonzero(~above[:-1] & above[1:]) + 1
    pos = np.searchsorted(ups, start, side="right")
    j = ups[np.clip(pos, 0, max(ups.size - 1, 0))] if ups.size else np.zeros(start.size, np.int64)
    ok = (pos < ups.size) & (j <= stop)
    frac = (level - x[j - 1]) / np.where(x[j] != x[j - 1], x[j] - x[j - 1], 1.0)
    return np.where(ok, j - 1 + frac, np.nan)


def marker_events(
    world: dict[str, np.ndarray],
    *,
    cutoff_hz: float = DEFAULT_CUTOFF_HZ,
    ic_latency_s: float = MARKER_IC_LATENCY_S,
    to_upward_mps: float = MARKER_TO_UPWARD_MPS,
) -> pd.DataFrame:
    """Initial contacts and toe-offs of both feet from foot markers (module docstring).

    Parameters
    ----------
    world
        Marker trajectories in the world frame (forward, left, up), m, at `FS_HZ`.
    cutoff_hz
        Zero-lag low-pass of the foot and sacrum markers, Hz.
    ic_latency_s, to_upward_mps
        The two calibrated constants.

    Returns
    -------
    DataFrame
        ``side``, ``ic_s``, ``to_s``, ``ic_raw_s`` (Zeni's instant, before the latency), sorted
        by contact; times from the first sample.
    """
    sac = zero_lag_lowpass((world["R.PSIS"] + world["L.PSIS"]) / 2, sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    rows = []
    for side in "RL":
        f = _foot_signals(world, side, cutoff_hz)
        ahead = f["heel"][:, 0] - sac[:, 0]
        pk, _ = find_peaks(ahead, distance=int(0.4 * FS_HZ), prominence=0.1)
        # sub-sample peak (parabola through the three samples around it)
        pk = pk[(pk > 0) & (pk < ahead.size - 1)]
        a, b, c = ahead[pk - 1], ahead[pk], ahead[pk + 1]
        den = a - 2 * b + c
        ic_raw = pk + np.where(den != 0, 0.5 * (a - c) / np.where(den != 0, den, 1.0), 0.0)
        ic = ic_raw + ic_latency_s * FS_HZ
        vz = np.gradient(f["mt"][:, 2]) * FS_HZ
        start = np.floor(ic + 0.08 * FS_HZ).astype(np.int64)
        stop = np.append(np.floor(ic[1:]).astype(np.int64), ahead.size - 1)
        to = _upcross(vz, start, stop, to_upward_mps)
        ok = np.isfinite(to)
        rows.append(
            pd.DataFrame({"side": side, "ic_s": ic[ok] / FS_HZ, "to_s": to[ok] / FS_HZ, "ic_raw_s": ic_raw[ok] / FS_HZ})
        )
    ev = pd.concat(rows, ignore_index=True).sort_values("ic_s", ignore_index=True)
    return ev


def _pair_force_with_markers(force_ev: np.ndarray, mk: pd.DataFrame, tolerance_s: float = 0.08) -> pd.DataFrame:
    """Force contacts with the side (and the marker events) of the nearest marker contact."""
    m_ic = mk["ic_s"].to_numpy()
    j = np.clip(np.searchsorted(m_ic, force_ev[:, 0]), 1, max(m_ic.size - 1, 1))
    left, right = j - 1, j
    pick = np.where(np.abs(m_ic[left] - force_ev[:, 0]) <= np.abs(m_ic[right] - force_ev[:, 0]), left, right)
    ok = np.abs(m_ic[pick] - force_ev[:, 0]) <= tolerance_s
    return pd.DataFrame(
        {
            "side": mk["side"].to_numpy()[pick][ok],
            "ic_s": force_ev[ok, 0],
            "to_s": force_ev[ok, 1],
            "ic_markers_s": m_ic[pick][ok],
            "to_markers_s": mk["to_s"].to_numpy()[pick][ok],
            "ic_raw_s": mk["ic_raw_s"].to_numpy()[pick][ok],
        }
    )


@functools.lru_cache(maxsize=8)
def _force_trial_inputs(data_dir: str, trial: RbdsTrial) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """World-frame markers and force contacts of a trial with force (read once per process)."""
    d = Path(data_dir)
    lab = read_markers(d / trial.markers)
    W, _ = world_frame(lab)
    if trial.force is None:
        raise GaitInputError("no force", expected="a trial with force", found=trial.key, where=Where(parameter="trial"))
    return _to_world(lab, W), force_contacts(read_force(d / trial.force), sampling_rate_hz=FORCE_FS_HZ)


def marker_event_pairs(
    data_dir: str | Path,
    *,
    ic_latency_s: float = MARKER_IC_LATENCY_S,
    to_upward_mps: float = MARKER_TO_UPWARD_MPS,
    trials: tuple[RbdsTrial, ...] | None = None,
) -> pd.DataFrame:
    """Marker events paired with the force's, one row per contact of every trial with force.

    Columns ``trial``, ``runner``, ``side``, ``ic_force_s``, ``to_force_s``,
    ``ic_markers_s``, ``to_markers_s``, ``ic_raw_s`` (Zeni's instant without the latency);
    times from the trial's first sample. Contacts with no marker contact within 80 ms are
    left out.
    """
    rows = []
    for tr in trials or TRIALS:
        if tr.force is None:
            continue
        world, fc = _force_trial_inputs(str(data_dir), tr)
        mk = marker_events(world, ic_latency_s=ic_latency_s, to_upward_mps=to_upward_mps)
        p = _pair_force_with_markers(fc, mk).rename(columns={"ic_s": "ic_force_s", "to_s": "to_force_s"})
        rows.append(p.assign(trial=tr.key, runner=tr.runner))
    cols = ["trial", "runner", "side", "ic_force_s", "to_force_s", "ic_markers_s", "to_markers_s", "ic_raw_s"]
    return pd.concat(rows, ignore_index=True)[cols]


def calibrate_marker_events(data_dir: str | Path, *, runners: tuple[int, ...] | None = None) -> tuple[float, float]:
    """The two marker-event constants from the trials with force of ``runners`` (all: None).

    Pooled over their contacts: the latency is the median of (force contact - Zeni instant);
    the toe-off level (0.20 to 1.00 m/s in steps of 0.01) is the one whose median toe-off
    error is closest to zero. Leave a runner out to cross-validate.

    Returns
    -------
    ic_latency_s, to_upward_mps
    """
    trials = tuple(t for t in TRIALS if t.force is not None and (runners is None or t.runner in runners))
    if not trials:
        raise GaitInputError(
            "no force trial",
            expected="runners with a force trial (1, 2)",
            found=repr(runners),
            where=Where(parameter="runners"),
        )
    levels = np.round(np.arange(0.20, 1.0001, 0.01), 2)
    pairs = [marker_event_pairs(data_dir, ic_latency_s=0.0, to_upward_mps=float(v), trials=trials) for v in levels]
    latency = float(np.median(pairs[0]["ic_force_s"] - pairs[0]["ic_raw_s"]))
    bias = np.array([np.median(p["to_markers_s"] - p["to_force_s"]) for p in pairs])
    return latency, float(levels[int(np.argmin(np.abs(bias)))])


def foot_strike_class(angle_deg: np.ndarray) -> np.ndarray:
    """``rearfoot`` above 8 deg, ``forefoot`` below -1.6 deg, else ``midfoot`` (Altman & Davis 2012)."""
    a = np.asarray(angle_deg, dtype=float)
    out = np.where(a > REARFOOT_ABOVE_DEG, "rearfoot", np.where(a < FOREFOOT_BELOW_DEG, "forefoot", "midfoot")).astype(
        object
    )
    out[~np.isfinite(a)] = None
    return out


def _foot_angle(f: dict[str, np.ndarray]) -> np.ndarray:
    d = f["mt"] - f["heel"]
    return np.arctan2(d[:, 2], d[:, 0]) * DEG_PER_RAD


# ---------------------------------------------------------------------------------------
# the trial
# ---------------------------------------------------------------------------------------
def _smoothstep(x: np.ndarray) -> np.ndarray:
    """Quintic 0 -> 1 on [0, 1] with zero first and second derivatives at both ends."""
    return x * x * x * (10.0 - 15.0 * x + 6.0 * x * x)


def _blend(
    p0: np.ndarray, R0: np.ndarray, p: np.ndarray, R: np.ndarray, w: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pose ``w`` of the way from a fixed pose (p0, R0) to each (p, R): linear in position,
    along the geodesic in orientation."""
    from scipy.spatial.transform import Rotation

    r0 = Rotation.from_matrix(R0)
    rv = (r0.inv() * Rotation.from_matrix(R)).as_rotvec()
    Rb = (r0 * Rotation.from_rotvec(rv * w[:, None])).as_matrix()
    return p0[None] * (1 - w[:, None]) + p * w[:, None], Rb


def _concat(a: VirtualImu, b: VirtualImu) -> VirtualImu:
    """Two virtual recordings one after the other (a gap between them)."""
    sa, sb = a.session, b.session
    gyr = np.concatenate([sa.gyr, sb.gyr]) if sa.gyr is not None and sb.gyr is not None else None
    return VirtualImu(
        session=Session(
            t=np.concatenate([sa.t, sb.t]), acc=np.concatenate([sa.acc, sb.acc]), gyr=gyr, frame="sensor", meta=sb.meta
        ),
        t_s=np.concatenate([a.t_s, b.t_s]),
        position_m=np.concatenate([a.position_m, b.position_m]),
        orientation=np.concatenate([a.orientation, b.orientation]),
        acc_world_mps2=np.concatenate([a.acc_world_mps2, b.acc_world_mps2]),
        gyr_segment_rads=np.concatenate([a.gyr_segment_rads, b.gyr_segment_rads]),
        mounting=a.mounting,
        info=b.info,
    )


@dataclass(frozen=True)
class RbdsData:
    """One trial turned into a virtual-IMU session with its truth.

    Attributes
    ----------
    trial
        The `RbdsTrial`.
    session
        Sensor-frame session: the standing part and the run, joined as ``join`` says.
    steps
        Truth per step of the run (session time): ``ic_s``, ``to_s``, ``side``,
        ``contact_time_s``, ``step_time_s``, ``vertical_oscillation_m`` (max - min of the sensor
        point's height), ``vertical_oscillation_contact_line_m`` (the same with the line
        between the heights at the contacts removed: for comparison), ``lean_deg``,
        ``lateral_lean_deg``, ``pelvic_drop_deg``, ``roll_range_deg``, ``yaw_range_deg``
        (analysis definitions), ``clinical_tilt_deg`` (mean over the step minus standing),
        ``clinical_obliquity_deg`` (mean over the stride), ``clinical_obliquity_range_deg``,
        ``clinical_rotation_range_deg``, ``clinical_pelvic_drop_deg`` (Baker 2001 angles, same
        windows), ``foot_angle_deg``, ``foot_strike_class`` (rearfoot / midfoot / forefoot),
        ``foot_strike`` (``rearfoot`` / ``non_rearfoot`` as the analysis reports it),
        ``event_source`` (``force`` or ``markers``), ``ic_markers_s``, ``to_markers_s``.
    imu
        The `VirtualImu` of the whole session (its filtered motion, world-frame specific force
        and segment-frame angular rate, on the session's time grid).
    standing, run
        Sample slices of ``imu`` / ``session``: the standing part, and the run as recorded
        (without the fades of ``join="fade"``).
    signals
        The run's true per-sample signals (session time): ``t_s``, ``pitch_rad``,
        ``roll_rad``, ``yaw_rad`` (analysis definitions, heading removed from yaw),
        ``tilt_rad``, ``obliquity_rad``, ``rotation_rad`` (clinical), ``height_m``.
    force_n
        Vertical force (N) at `FORCE_FS_HZ`, session time ``run_t0_s + i / 300``, or None.
    info
        ``belt_speed_mps``, ``run_t0_s``, ``standing`` (how the standing part was made),
        ``mass_kg`` (participant table, when known), ``mounting``, ``cutoff_hz``,
        ``standing_pitch_deg``, ``standing_tilt_deg``, and ``ideal_mounting``: the rotation
        (rows ``v``, ``ap``, ``ml`` in sensor axes) the analysis' mounting estimate aims at,
        to pass as ``gait.analyze(..., mounting=...)`` when the estimate is to be bypassed.
    """

    trial: RbdsTrial
    session: Session
    steps: pd.DataFrame
    imu: VirtualImu
    standing: slice
    run: slice
    signals: pd.DataFrame
    force_n: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)


def load_trial(
    trial: RbdsTrial | str,
    data_dir: str | Path,
    *,
    mounting: str | np.ndarray = "belt_clip",
    seed: int | None = None,
    standing_s: float = 10.0,
    cutoff_hz: float = DEFAULT_CUTOFF_HZ,
    sensor_offset_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    join: str = "fade",
) -> RbdsData:
    """A virtual sacral IMU session (standing, gap, run) and per-step truth for one trial.

    Parameters
    ----------
    trial
        An entry of `TRIALS` or its ``key``.
    data_dir
        The folder holding the dataset's files.
    mounting, seed
        Sensor mounting on the pelvis (`gait.validation.virtual_imu.mounting_matrix`).
    standing_s
        Duration of the held standing posture when the standing trial is shorter than
        `MIN_STANDING_S`, s.
    cutoff_hz
        Zero-lag low-pass before differentiating (markers of the feet too), Hz.
    sensor_offset_m
        Offset of the sensor from the PSIS midpoint in the pelvis frame (forward, left, up), m.
    join
        How the standing part and the run are joined: ``"fade"`` (one continuous recording:
        the first and last `FADE_S` of the run are blended with the standing posture by a
        quintic smooth step, position linearly and orientation along the geodesic, so
        position, velocity, acceleration, orientation and angular rate stay continuous; the
        standing posture is held `TAIL_S` at the end; truth covers only the unblended run) or
        ``"gap"`` (standing, a gap of `GAP_S`, the run: two separate stretches, nothing
        invented, but the run then starts and ends at the edges of a stretch).
    """
    if isinstance(trial, str):
        found = [t for t in TRIALS if t.key == trial]
        if not found:
            raise GaitInputError(
                "unknown trial",
                expected="one of " + ", ".join(t.key for t in TRIALS),
                found=repr(trial),
                where=Where(parameter="trial"),
            )
        trial = found[0]
    d = Path(data_dir)
    lab = read_markers(d / trial.markers)
    lab_st = read_markers(d / trial.static)
    W, belt = world_frame(lab)
    run_w = _to_world(lab, W)
    st_w = _to_world(lab_st, W)
    for name in PELVIS_MARKERS[:4]:
        if name not in st_w or not np.isfinite(st_w[name]).all():
            raise GaitInputError(
                "standing trial incomplete",
                expected=f"{name} in every frame",
                found="missing samples",
                where=Where(file=d / trial.static),
            )

    # pelvis template from the standing trial's mean marker positions (anatomical frame, ISB)
    mean_st = {k: np.nanmean(v, axis=0)[None] for k, v in st_w.items() if k in PELVIS_MARKERS}
    R0, o0 = pelvis_frame(mean_st["R.ASIS"], mean_st["L.ASIS"], mean_st["R.PSIS"], mean_st["L.PSIS"])
    template = segment_template(mean_st, R0, o0)
    sensor_local = (template["R.PSIS"] + template["L.PSIS"]) / 2 + np.asarray(sensor_offset_m, dtype=float)

    def pose(markers: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        R, o = rigid_fit({k: markers[k] for k in PELVIS_MARKERS if k in markers}, template)
        return R, o + R @ sensor_local

    n_st = next(iter(st_w.values())).shape[0]
    if n_st / FS_HZ < MIN_STANDING_S:
        Rm, pm = pose(mean_st)
        k = round(standing_s * FS_HZ)
        R_st, p_st = np.repeat(Rm, k, axis=0), np.repeat(pm, k, axis=0)
        standing_note = f"mean posture of the {n_st / FS_HZ:.1f} s standing trial held for {standing_s:g} s"
    else:
        R_st, p_st = pose(st_w)
        standing_note = f"standing trial as recorded ({n_st / FS_HZ:.1f} s)"
    R_run, p_run = pose(run_w)
    n_run = R_run.shape[0]

    common = {"sampling_rate_hz": FS_HZ, "mounting": mounting, "cutoff_hz": cutoff_hz, "seed": seed, "trim_s": TRIM_S}
    trim = round(TRIM_S * FS_HZ)
    if join == "fade":
        # standing, the run faded in from the last standing pose, the run, faded out to it,
        # standing again: one continuous recording (position, velocity, acceleration,
        # orientation and angular rate all continuous)
        nf = round(FADE_S * FS_HZ)
        nt = round(TAIL_S * FS_HZ)
        w = _smoothstep(np.arange(nf) / nf)
        R_end, p_end = R_st[-1], p_st[-1]
        p_in, R_in = _blend(p_end, R_end, p_run[:nf], R_run[:nf], w)
        p_out, R_out = _blend(p_end, R_end, p_run[-nf:], R_run[-nf:], w[::-1])
        p_all = np.concatenate([p_st, p_in, p_run[nf:-nf], p_out, np.repeat(p_end[None], nt, axis=0)])
        R_all = np.concatenate([R_st, R_in, R_run[nf:-nf], R_out, np.repeat(R_end[None], nt, axis=0)])
        imu = virtual_imu(p_all, R_all, t0_s=0.0, **common)  # type: ignore[arg-type]
        # sample indices (in imu) of the standing part and of the unblended run
        i_st = slice(0, R_st.shape[0] - trim)
        i_run = slice(R_st.shape[0] + nf - trim, R_st.shape[0] + n_run - nf - trim)
        t_run0 = float(imu.t_s[R_st.shape[0] - trim])  # session time of the run's first frame
        join_note = f"standing, {FADE_S:g} s fade into the run, the run, {FADE_S:g} s fade out, {TAIL_S:g} s standing"
    elif join == "gap":
        st = virtual_imu(p_st, R_st, t0_s=0.0, **common)  # type: ignore[arg-type]
        t_run0 = float(np.ceil((st.t_s[-1] + GAP_S) * FS_HZ) / FS_HZ)
        rn = virtual_imu(p_run, R_run, t0_s=t_run0, **common)  # type: ignore[arg-type]
        imu = _concat(st, rn)
        i_st = slice(0, st.t_s.size)
        i_run = slice(st.t_s.size, st.t_s.size + rn.t_s.size)
        join_note = f"standing, a {GAP_S:g} s gap, the run (two separate stretches)"
    else:
        raise GaitInputError(
            "invalid value", expected="'fade' or 'gap'", found=repr(join), where=Where(parameter="join")
        )
    extra = {
        "dataset": "RBDS (Fukuchi et al. 2017)",
        "trial": trial.key,
        "runner": trial.runner,
        "speed_mps": belt,
        "nominal_speed_mps": trial.nominal_speed_mps,
        "standing": standing_note,
        "join": join_note,
        "mounting": mounting if isinstance(mounting, str) else "given",
        "cutoff_hz": cutoff_hz,
    }
    session = Session(
        t=imu.t_s,
        acc=imu.session.acc,
        gyr=imu.session.gyr,
        frame="sensor",
        meta=SessionMetadata(
            sampling_rate_hz=FS_HZ,
            device="virtual IMU (motion capture)",
            units_as_recorded={"acc": "mps2", "gyr": "rads", "t": "s"},
            source=str(d / trial.markers),
            notes="virtual sacral IMU from the RBDS marker data: " + join_note,
            extra=extra,
        ),
    )

    # --- events (on the run's own clock, then session time) ---------------------------------
    mk = marker_events(run_w, cutoff_hz=cutoff_hz)
    force = read_force(d / trial.force) if trial.force else None
    if force is not None:
        fc = force_contacts(force, sampling_rate_hz=FORCE_FS_HZ)
        ev = _pair_force_with_markers(fc, mk)
        source = "force"
    else:
        ev = mk.assign(ic_markers_s=mk["ic_s"], to_markers_s=mk["to_s"])
        source = "markers"
    ev = ev.copy()
    for c in ("ic_s", "to_s", "ic_markers_s", "to_markers_s"):
        ev[c] = ev[c] + t_run0
    t_run = imu.t_s[i_run]
    inside = (ev["ic_s"] >= t_run[0]) & (ev["to_s"] <= t_run[-1])
    ev = ev[inside].reset_index(drop=True)

    # --- truth angles -----------------------------------------------------------------------
    R_imu = imu.orientation
    standing_mask = np.zeros(R_imu.shape[0], bool)
    standing_mask[i_st] = True
    running_mask = np.zeros(R_imu.shape[0], bool)
    running_mask[i_run] = True
    C = ideal_body_frame(R_imu, standing=standing_mask, running=running_mask)
    pitch, roll, yaw = analysis_angles(R_imu[i_run] @ C)
    yaw = remove_heading(yaw, sampling_rate_hz=FS_HZ)
    st_pitch, _, _ = analysis_angles(R_imu[i_st] @ C)
    tilt, obl, rot = clinical_pelvis_angles(R_imu[i_run])
    rot = remove_heading(rot, sampling_rate_hz=FS_HZ)
    st_tilt, _, _ = clinical_pelvis_angles(R_imu[i_st])
    base = {
        "t_s": t_run,
        "ic_s": ev["ic_s"],
        "to_s": ev["to_s"],
        "side": ev["side"],
        "height_m": imu.position_m[i_run, 2],
    }
    steps = step_truth(pitch=pitch, roll=roll, yaw=yaw, standing_pitch_rad=float(np.mean(st_pitch)), **base)
    clin = step_truth(pitch=tilt, roll=obl, yaw=rot, standing_pitch_rad=float(np.mean(st_tilt)), **base)
    steps["clinical_tilt_deg"] = clin["lean_deg"]
    steps["clinical_obliquity_deg"] = clin["lateral_lean_deg"]
    steps["clinical_obliquity_range_deg"] = clin["roll_range_deg"]
    steps["clinical_rotation_range_deg"] = clin["yaw_range_deg"]
    steps["clinical_pelvic_drop_deg"] = clin["pelvic_drop_deg"]

    # --- foot strike ------------------------------------------------------------------------
    angle = np.full(len(ev), np.nan)
    for side in "RL":
        f_run = _foot_signals(run_w, side, cutoff_hz)
        heel, mts = _foot_names(st_w, side)
        st_angle = float(np.nanmedian(_foot_angle({"heel": st_w[heel], "mt": (st_w[mts[0]] + st_w[mts[1]]) / 2})))
        a_run = _foot_angle(f_run)
        sel = (ev["side"] == side).to_numpy()
        angle[sel] = np.interp((ev["ic_s"].to_numpy()[sel] - t_run0) * FS_HZ, np.arange(a_run.size), a_run) - st_angle
    steps["foot_angle_deg"] = angle
    steps["foot_strike_class"] = foot_strike_class(angle)
    steps["foot_strike"] = np.where(steps["foot_strike_class"] == "rearfoot", "rearfoot", "non_rearfoot")
    steps["event_source"] = source
    steps["ic_markers_s"] = ev["ic_markers_s"].to_numpy()
    steps["to_markers_s"] = ev["to_markers_s"].to_numpy()
    info = {
        "belt_speed_mps": belt,
        "run_t0_s": t_run0,
        "standing": standing_note,
        "mass_kg": _mass_from_info(d, trial.force),
        "mounting": extra["mounting"],
        "cutoff_hz": cutoff_hz,
        "standing_pitch_deg": float(np.mean(st_pitch)) * DEG_PER_RAD,
        "standing_tilt_deg": float(np.mean(st_tilt)) * DEG_PER_RAD,
        "ideal_mounting": np.vstack([C[:, 2], C[:, 0], C[:, 1]]) @ imu.mounting,
        "join": join_note,
    }
    return RbdsData(
        trial=trial,
        session=session,
        steps=steps,
        imu=imu,
        standing=i_st,
        run=i_run,
        signals=pd.DataFrame(
            {
                "t_s": t_run,
                "pitch_rad": pitch,
                "roll_rad": roll,
                "yaw_rad": yaw,
                "tilt_rad": tilt,
                "obliquity_rad": obl,
                "rotation_rad": rot,
                "height_m": imu.position_m[i_run, 2],
            }
        ),
        force_n=force,
        info=info,
    )


# ---------------------------------------------------------------------------------------
# self-checks
# ---------------------------------------------------------------------------------------
def self_checks(data: RbdsData) -> dict[str, float]:
    """Checks of the virtual IMU against the motion and the force it came from.

    Over every stride (contact ``k`` to contact ``k + 2`` of the truth events):

    - ``velocity_closure_*_mps``: the vertical velocity change from integrating the world
      vertical specific force minus g (0 for a periodic motion);
    - ``orientation_closure_*_deg``: the angle between the marker orientation at the stride's
      end and the one rebuilt by integrating the angular rate from its start;
    - ``mean_vertical_specific_force_g``: the mean world-vertical specific force over whole
      strides, in g (1 for a periodic motion);

    and, with force: ``force_mean_bw`` (mean force over whole strides / body weight from the
    participant table, when known), ``body_weight_n`` (that mean force), and the agreement of
    ``force / body weight`` with ``f_up / g`` of the sacral point (``force_vs_sacrum_rms_bw``,
    ``force_vs_sacrum_r``): the sacrum moves close to, but not exactly with, the centre of
    mass.
    """
    imu, sl = data.imu, data.run
    t = imu.t_s
    ic = np.searchsorted(t, data.steps["ic_s"].to_numpy())
    s, e = ic[:-2], ic[2:]
    dv = velocity_closure(imu.acc_world_mps2, s, e, sampling_rate_hz=FS_HZ)
    dth = orientation_closure(imu.gyr_segment_rads, imu.orientation, s, e, sampling_rate_hz=FS_HZ)
    a_up = imu.acc_world_mps2[:, 2]
    # whole strides: from the first contact to the last contact an even number of steps later
    whole = ic[: ic.size - ((ic.size - 1) % 2)]
    i0, i1 = int(whole[0]), int(whole[-1])
    mean_f = float(a_up[i0:i1].mean() / G)
    out = {
        "strides": float(s.size),
        "velocity_closure_median_mps": float(np.median(np.abs(dv))),
        "velocity_closure_max_mps": float(np.max(np.abs(dv))),
        "vertical_velocity_range_mps": float(np.ptp(np.cumsum(a_up[sl] - G) / FS_HZ)),
        "orientation_closure_median_deg": float(np.median(dth)),
        "orientation_closure_max_deg": float(np.max(dth)),
        "mean_vertical_specific_force_g": mean_f,
    }
    if data.force_n is not None:
        f = data.force_n
        tf = data.info["run_t0_s"] + np.arange(f.size) / FORCE_FS_HZ
        a, b = np.searchsorted(tf, [t[i0], t[i1]])
        bw = float(f[a:b].mean())
        out["body_weight_n"] = bw
        mass = data.info.get("mass_kg")
        out["force_mean_bw"] = bw / (mass * G) if mass else float("nan")
        sac = np.interp(tf[a:b], t, a_up) / G
        fb = f[a:b] / bw
        out["force_vs_sacrum_rms_bw"] = float(np.sqrt(np.mean((fb - sac) ** 2)))
        out["force_vs_sacrum_r"] = float(np.corrcoef(fb, sac)[0, 1])
    return out
