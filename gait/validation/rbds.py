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

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..constants import DEG_PER_RAD
from ..errors import GaitInputError, Where
from ..session import Session, SessionMetadata
from ._rbds_checks import self_checks
from ._rbds_events import (
    calibrate_marker_events,
    foot_angle,
    foot_signals,
    foot_strike_class,
    force_contacts,
    marker_event_pairs,
    marker_events,
    pair_force_with_markers,
    to_world,
    world_frame,
)
from ._rbds_files import (
    FADE_S,
    FORCE_FS_HZ,
    FS_HZ,
    GAP_S,
    MARKER_IC_LATENCY_S,
    MARKER_TO_UPWARD_MPS,
    MIN_STANDING_S,
    PELVIS_MARKERS,
    TAIL_S,
    TRIALS,
    TRIM_S,
    RbdsTrial,
    foot_names,
    mass_from_info,
    read_force,
    read_markers,
)
from .truth import analysis_angles, clinical_pelvis_angles, ideal_body_frame, remove_heading, step_truth
from .virtual_imu import (
    DEFAULT_CUTOFF_HZ,
    VirtualImu,
    pelvis_frame,
    rigid_fit,
    segment_template,
    virtual_imu,
)

__all__ = [
    "FS_HZ",
    "FORCE_FS_HZ",
    "GAP_S",
    "MARKER_IC_LATENCY_S",
    "MARKER_TO_UPWARD_MPS",
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
    run_w = to_world(lab, W)
    st_w = to_world(lab_st, W)
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
        ev = pair_force_with_markers(fc, mk)
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
        f_run = foot_signals(run_w, side, cutoff_hz)
        heel, mts = foot_names(st_w, side)
        st_angle = float(np.nanmedian(foot_angle({"heel": st_w[heel], "mt": (st_w[mts[0]] + st_w[mts[1]]) / 2})))
        a_run = foot_angle(f_run)
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
        "mass_kg": mass_from_info(d, trial.force),
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
