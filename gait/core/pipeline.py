"""`analyze`: a session in, per-step / per-minute / per-run tables out.

Stages, each a module with plain data between them::

    Session (sensor frame)
      -> activity.bout_labels       still / walking / running per sample (rotation-invariant)
      -> quality.assess_signal      clipped, saturated or low-pass-filtered channels
      -> gait.core.mounting       sensor -> body rotation (stored, given, or estimated), and
                                    how far the forward direction can be trusted
      -> frames.level_frame         gravity-aligned specific force, trunk pitch / roll / yaw
      -> events                     initial contact, toe-off, side per step
      -> metrics                    step table, minute table, run summary

The same function serves the live view: it is called on a sliding window of a few seconds.

A metric the data cannot support is reported in ``Analysis.unavailable`` (metric -> reason and
what would make it possible) and is NaN in every table, never a guess: without a gyroscope the
stride-by-stride trunk angles (roll and rotation ranges, pelvic drop); with a forward direction
below `gait.core.mounting.FORWARD_MIN_CONFIDENCE` everything whose value or sign depends on
it (lean, lateral lean, pelvic drop, braking, and the side); with clipped or filtered input what
`gait.core.quality.consequences` lists. The side of running steps needs a gyroscope (`gait.core.sides`);
when fewer than `MIN_SIDE_SHARE` of the valid running steps have one, the pelvic drop and every
left/right asymmetry are unavailable too.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import sosfilt

from ..constants import AP, ML, G, V
from ..errors import GaitInputError, Where
from ..io import regularise
from ..session import Session, bridge_short_gaps, check_analysable_rate
from ..tracks import Track, resolve_speed, running_distance_m
from ._step_marks import NO_GYRO, _blank_unavailable, _flag_filled, _running_sides
from .activity import RUNNING, STILL, WALKING, bout_labels, detect_bouts
from .events import running_events, walking_events
from .filters import stance_vibration_sos
from .frames import LevelSignals, apply_matrix, level_frame, to_body_frame
from .metrics import minute_table, run_summary, step_table
from .mounting import FORWARD_MIN_CONFIDENCE, MountingEstimate, estimate_mounting
from .quality import SignalQuality, assess_signal, body_axis, bridge_clipped, consequences, constant_gyroscope
from .records import BridgedGaps, FrameInfo, MinuteSignals, RunSummary, Unavailable
from .sides import assign_sides

__all__ = ["Analysis", "analyze", "MIN_DURATION_S", "FORWARD_METRICS", "GYRO_METRICS"]

#: Shortest recording the analysis accepts.
MIN_DURATION_S = 3.0
#: Gaps up to this long (lost packets) are bridged by interpolation for the analysis; steps
#: touching them are excluded from summaries. Longer gaps split the analysis.
MAX_BRIDGE_S = 0.25
#: Metrics whose value or sign depends on which way is forward (unavailable when the forward
#: direction is not trusted). Lean and lateral lean are the pitch and roll about the body's
#: medio-lateral and antero-posterior axes: a reversed forward reverses both; a forward
#: 90 deg off swaps them.
FORWARD_METRICS = (
    "lean_deg",
    "lateral_lean_deg",
    "pelvic_drop_deg",
    "braking_peak_mps2",
    "braking_velocity_loss_mps",
)
#: Metrics that need a gyroscope: the roll and rotation within each stride. From the
#: accelerometer alone the stride-frequency roll is inseparable from the sideways acceleration
#: (0.1 deg of roll range where the gyroscope measures 15 deg on the rotation sample).
GYRO_METRICS = ("yaw_range_deg", "roll_range_deg", "pelvic_drop_deg")


@dataclass(frozen=True)
class Analysis:
    """Everything `analyze` found; plain data (see ``docs/tables.md``)."""

    steps: pd.DataFrame
    minutes: pd.DataFrame
    summary: RunSummary
    bouts: pd.DataFrame
    frame: FrameInfo
    unavailable: Unavailable
    session: Session
    signals: LevelSignals = field(repr=False)
    track: Track | None = field(default=None, repr=False)
    quality: SignalQuality = field(default_factory=SignalQuality)

    @property
    def running_steps(self) -> pd.DataFrame:
        """Valid running steps (the ones summaries use)."""
        s = self.steps
        return s[(s["activity"] == "running") & s["valid"]]


def analyze(
    session: Session,
    *,
    mounting: MountingEstimate | np.ndarray | None = None,
    speed_mps: float | None = None,
    speed: float | Track | None = None,
    require_running: bool = False,
    summaries: bool = True,
) -> Analysis:
    """Analyse a session: activity bouts, steps, per-step metrics, per-minute and run summaries.

    Parameters
    ----------
    session
        A sensor-frame or body-frame `Session` (calibrated or not).
    mounting
        Sensor-to-body rotation to use (a `MountingEstimate` from a calibration, or a 3x3
        matrix whose rows are the body axes in sensor coordinates). ``None``: estimated from
        this session (standing gives vertical, running gives forward).
    speed_mps
        Known running speed (treadmill, GPS); enables step length, vertical ratio and distance.
        Defaults to ``session.meta.extra["speed_mps"]`` when present.
    speed
        Instead of ``speed_mps``: a constant (m/s) or a `gait.tracks.Track` (a watch's GPX,
        TCX or FIT; aligned with `gait.tracks.align_track`, or aligned here by the session's
        start time): each step then gets the track's speed at its contact.
    require_running
        Raise `GaitInputError` when no running is found.
    summaries
        Compute the per-minute table and the run summary (False: ``minutes`` is empty and
        ``summary`` is ``{}``; the live dashboard, which shows medians of the steps of the
        last seconds on every notification, saves about a third of the time).
    """
    where = Where(file=session.meta.source) if session.meta.source else Where(parameter="session")
    check_analysable_rate(session)
    if session.duration_s < MIN_DURATION_S - 1e-9:  # 600 samples at 200 Hz are 3 s, whatever the rounding
        raise GaitInputError(
            "too short to analyse",
            expected=f"at least {MIN_DURATION_S:g} s of samples",
            found=f"{session.duration_s:.2f} s",
            where=where,
        )
    fs = session.sampling_rate_hz
    session = regularise(session)  # jittered timestamps (built in memory) onto the grid
    gyro_constant = constant_gyroscope(session)
    if gyro_constant:  # zero rates would read as a perfectly still trunk
        session = session.replace(gyr=None)
    original = session
    session, filled = bridge_short_gaps(session, MAX_BRIDGE_S)
    quality, clipped = assess_signal(session)
    quality = dataclasses.replace(quality, gyro_constant=gyro_constant)
    labels = bout_labels(session)
    bouts = detect_bouts(session, labels)
    if require_running and not (bouts["kind"] == "running").any():
        kinds = bouts.groupby("kind")["duration_s"].sum()
        raise GaitInputError(
            "no running found",
            expected="a recording with running (flight phases, 2-3 g impacts)",
            found=", ".join(f"{k} {v:.0f} s" for k, v in kinds.items()) or "nothing",
            where=where,
        )
    unavailable: dict[str, str] = {}
    frame_info: dict[str, Any] = {"input_frame": session.frame}

    # --- body frame -------------------------------------------------------------------------
    still = labels == STILL
    if session.frame == "sensor":
        if mounting is None:
            est = estimate_mounting(
                session.acc,
                sampling_rate_hz=fs,
                still=still,
                running=labels == RUNNING,
                walking=labels == WALKING,
                gyr=session.gyr,
            )
        elif isinstance(mounting, MountingEstimate):
            est = mounting
        else:
            R = np.asarray(mounting, dtype=float)
            est = MountingEstimate(R, "given", "given", 1.0, 0.0, 0.0)
        body = to_body_frame(session, est.rotation)
        frame_info["mounting"] = est.to_dict()
        has_reference = est.vertical_source in ("standing", "given")
        if est.forward_source == "none":
            unavailable["forward"] = (
                "no walking or running to find the forward direction: calibrate the mounting "
                "(gait calibrate mounting) or record a few seconds of straight walking or running"
            )
            for k in FORWARD_METRICS:
                unavailable[k] = unavailable["forward"]
        elif not est.forward_trusted and est.heading is not None:
            why = (
                f"the forward direction is uncertain (confidence {est.heading.confidence:.2f}, below "
                f"{FORWARD_MIN_CONFIDENCE:g}): its sign decides this metric's sign; calibrate the mounting "
                "(gait calibrate mounting) or start with a few seconds of straight running"
            )
            unavailable["forward"] = why
            for k in FORWARD_METRICS:
                unavailable[k] = why
            unavailable["side"] = why  # the roll and the sideways sway flip with the forward axis
        rotation: np.ndarray | None = est.rotation
    else:
        body = session
        frame_info["mounting"] = None
        has_reference = False
        rotation = None
    lost, flagged = consequences(quality, rotation=rotation)
    for k, why in lost.items():
        unavailable.setdefault(k, why)

    gravity_acc, gravity_still = _unclipped_gravity(session, quality, clipped, still, rotation)
    level = level_frame(body, gravity_acc=gravity_acc, gravity_mps2=gravity_still)
    quality = _with_gravity(quality, level, session, gravity_acc, gravity_still, flagged)
    if still.sum() >= fs:
        lean_ref: float | None = float(np.mean(level.pitch[still]))
        frame_info["lean_reference"] = "standing in this session"
    elif has_reference:
        lean_ref = 0.0
        frame_info["lean_reference"] = "stored mounting calibration"
    else:
        lean_ref = None
        unavailable["lean_deg"] = (
            "no standing reference: stand still for a few seconds before running, or calibrate the mounting (gait calibrate mounting)"
        )
    if body.gyr is None:
        for k in GYRO_METRICS:
            unavailable.setdefault(k, NO_GYRO)
        if np.isnan(body.acc[:, ML]).all():
            unavailable["side"] = "no gyroscope"
    if np.isnan(body.acc[:, ML]).all():
        for k in ("roll_range_deg", "lateral_lean_deg", "pelvic_drop_deg"):
            unavailable[k] = "no medio-lateral accelerometer axis"
        if body.gyr is None:
            unavailable["side"] = "no medio-lateral axis and no gyroscope"
    if body.gyr is None and "lean_deg" not in unavailable:
        frame_info["lean_accuracy"] = (
            "no gyroscope: lean comes from the low-passed gravity direction alone; against the gyroscope "
            "on the same recordings it agrees within 0.4 deg on the simulator and within 1.5 deg (median "
            "0.25 deg) on real walking"
        )
    if body.gyr is None:
        unavailable["ml_sway_rms_mps2"] = (
            "no gyroscope: the medio-lateral acceleration cannot be levelled stride by stride, and the tilt "
            "that leaks into it halves the sway on the simulator"
        )
    unavailable = {k: v for k, v in unavailable.items() if v}

    # --- events per bout ------------------------------------------------------------------
    seg_id = np.zeros(session.n_samples, dtype=np.int64)
    for k_seg, seg in enumerate(session.segments()):
        seg_id[seg] = k_seg
    parts = []
    f_v = level.acc[:, V]
    has_forward = "forward" not in unavailable
    for b in bouts.itertuples(index=False):  # few bouts per session
        if b.kind not in ("running", "walking"):
            continue
        sl = slice(b.start_idx, b.end_idx)
        t_b = float(session.t[b.start_idx])
        if b.kind == "running":
            ev = running_events(f_v[sl], sampling_rate_hz=fs, t0=t_b, acc_ap=level.acc[sl, AP] if has_forward else None)
        else:
            ev = walking_events(f_v[sl], sampling_rate_hz=fs, t0=t_b, acc_ap=level.acc[sl, AP] if has_forward else None)
        if ev.empty:
            continue
        ev["ic_idx"] += b.start_idx
        ev["to_idx"] += b.start_idx
        ev["stance_peak_idx"] += b.start_idx
        ev["bout"] = b.bout
        ev["activity"] = b.kind
        parts.append(ev)
    events = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["ic_idx", "to_idx", "bout", "activity", "ok", "to_measured", "stance_level_mps2"])
    )
    ml = None if np.isnan(level.acc[:, ML]).all() else level.acc[:, ML]
    # the roll within a stride needs the gyroscope, unsaturated (`gait.core.quality.consequences`)
    roll_lost = NO_GYRO if body.gyr is None else unavailable.get("roll_range_deg")
    roll = None if roll_lost is not None or ml is None else level.roll
    side, side_conf = assign_sides(
        events["ic_idx"].to_numpy(float),
        events["to_idx"].to_numpy(float),
        events["bout"].to_numpy(),
        roll_rad=roll,
        acc_level_ml=ml,
        walking=(events["activity"] == "walking").to_numpy(bool),
        ml_sign=events["ap_sign"].to_numpy(float) if "ap_sign" in events else None,
    )
    events["side"] = side
    events["side_confidence"] = side_conf
    speed_mps, track = resolve_speed(session, speed=speed, speed_mps=speed_mps)
    if speed_mps is None and track is None:
        unavailable["speed_mps"] = (
            "no known speed: give a watch's track (--track FILE), a pace (--pace 5:30/km) or a treadmill speed "
            "(--speed-mps) to get step length, vertical ratio, distance and splits"
        )
    per_step: float | np.ndarray | None = speed_mps
    if track is not None:  # per step: the track's speed at the contact (step_table's own times)
        per_step = track.step_speed_at(
            np.interp(events["ic_idx"].to_numpy(float), np.arange(session.n_samples), session.t)
        )
    steps = step_table(
        events,
        t=session.t,
        sampling_rate_hz=fs,
        acc_level=level.acc,
        pitch=level.pitch,
        roll=level.roll,
        yaw=level.yaw,
        lean_reference_rad=lean_ref,
        segment_id=seg_id,
        speed_mps=per_step,
        gravity=level.gravity,
        filled=filled,
    )
    steps = _flag_filled(steps, session.t, filled)
    steps = _blank_unavailable(steps, unavailable)
    steps = _running_sides(steps, unavailable, roll_lost=roll_lost)
    if filled.any():
        frame_info["bridged_gaps"] = BridgedGaps(
            gaps=len(original.gaps) - len(session.gaps),
            filled_s=float(filled.sum() / fs),
            steps_excluded=int((steps["near_gap"]).sum()),
        )
    if not summaries:
        return Analysis(
            steps=steps,
            minutes=pd.DataFrame(),
            summary=RunSummary(),
            bouts=bouts.drop(columns=["start_idx", "end_idx"]),
            frame=FrameInfo(**frame_info),
            unavailable=Unavailable(unavailable),
            session=body,
            signals=level,
            track=track,
        )
    signals = _minute_signals(level, labels, steps, session, fs)
    minutes = minute_table(steps, signals=signals, t=session.t)
    summary = run_summary(steps, minutes, bouts.drop(columns=["start_idx", "end_idx"]))
    if track is not None:
        summary = summary.with_distance(running_distance_m(track, bouts))
    return Analysis(
        steps=steps,
        minutes=minutes,
        summary=summary,
        bouts=bouts.drop(columns=["start_idx", "end_idx"]),
        frame=FrameInfo(**frame_info),
        unavailable=Unavailable(unavailable),
        session=body,
        signals=level,
        track=track,
        quality=quality,
    )


def _unclipped_gravity(
    session: Session,
    quality: SignalQuality,
    clipped: dict[str, np.ndarray],
    still: np.ndarray,
    rotation: np.ndarray | None,
) -> tuple[np.ndarray | None, float | None]:
    """Gravity from the unclipped part of a clipped recording.

    Standing still without clipped samples (1 s or more) gives the magnitude outright (the
    mean specific force of a still sensor is gravity as this sensor reads it). Otherwise the
    clipped runs are bridged (`bridge_clipped`; a channel that mostly measures the vertical
    and lost its low side is kept above free fall) and the bridged signal, in the body frame,
    is returned for the gravity estimate.
    """
    acc_clips = {k: m for k, m in clipped.items() if k.startswith("acc_")}
    if not acc_clips:
        return None, None
    any_clip = np.zeros(session.n_samples, bool)
    for m in acc_clips.values():
        any_clip |= m
    calm = still & ~any_clip
    if calm.sum() >= session.sampling_rate_hz:
        return None, float(np.linalg.norm(np.mean(np.nan_to_num(session.acc[calm]), axis=0)))
    g_acc = np.array(session.acc, dtype=float)
    for c in quality.clipped:
        if c.sensor != "acc" or c.name not in acc_clips:
            continue
        j = session.axes.index(c.axis)
        axis, side = body_axis(c, rotation)
        floor = 0.0 if axis == V and side == "low" and c.bound >= 0 else None
        g_acc[:, j] = bridge_clipped(g_acc[:, j], acc_clips[c.name], floor=floor)
    return (g_acc if rotation is None else apply_matrix(rotation, g_acc)), None


def _with_gravity(
    quality: SignalQuality,
    level: LevelSignals,
    session: Session,
    gravity_acc: np.ndarray | None,
    gravity_still: float | None,
    flagged: dict[str, str],
) -> SignalQuality:
    """The quality record completed with the gravity used, and the flagged metrics."""
    g = level.gravity[:: max(int(session.sampling_rate_hz // 20), 1)]  # piecewise constant: 20 per second suffice
    g = g[np.isfinite(g)]
    used = float(np.median(g)) if g.size else None
    unbridged = None
    if (gravity_acc is not None or gravity_still is not None) and used is not None:
        raw = float(np.linalg.norm(np.mean(np.nan_to_num(session.acc), axis=0)))
        if gravity_acc is not None:
            fixed = float(np.linalg.norm(np.mean(np.nan_to_num(gravity_acc), axis=0)))
            unbridged = used + raw - fixed
        else:
            unbridged = raw
        unbridged = unbridged if np.isfinite(unbridged) else None
    source = "still" if gravity_still is not None else ("bridged" if gravity_acc is not None else "recorded")
    return dataclasses.replace(
        quality, gravity_mps2=used, gravity_unbridged_mps2=unbridged, gravity_source=source, flagged=dict(flagged)
    )


def _minute_signals(
    level: LevelSignals, labels: np.ndarray, steps: pd.DataFrame, session: Session, fs: float
) -> MinuteSignals:
    running = labels == RUNNING
    acc = np.nan_to_num(level.acc)
    mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    ml = level.acc[:, ML] if not np.isnan(level.acc[:, ML]).all() and session.gyr is not None else None
    vib = None
    if fs >= 100.0:
        vib = np.full(session.n_samples, np.nan)
        sos = stance_vibration_sos(fs)  # rules: gait.core.filters
        for seg in session.segments():
            if seg.stop - seg.start > 100:
                vib[seg] = sosfilt(sos, level.acc[seg, V])  # an RMS needs no zero phase
        stance = np.zeros(session.n_samples, bool)
        run = steps[steps["activity"] == "running"]
        if len(run):
            a = np.searchsorted(session.t, run["ic_s"].to_numpy())
            b = np.searchsorted(session.t, run["to_s"].to_numpy())
            mark = np.zeros(session.n_samples + 1, np.int64)
            np.add.at(mark, a, 1)
            np.add.at(mark, b, -1)
            stance = np.cumsum(mark[:-1]) > 0
        vib[~stance] = np.nan
    return MinuteSignals(intensity=mag - G, running_mask=running, ml=ml, vibration=vib)
