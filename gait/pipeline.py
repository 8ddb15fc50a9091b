"""`analyze`: a session in, per-step / per-minute / per-run tables out.

Stages, each a module with plain data between them::

    Session (sensor frame)
      -> activity.bout_labels       still / walking / running per sample (rotation-invariant)
      -> calibration.mounting       sensor -> body rotation (stored, given, or estimated)
      -> frames.level_frame         gravity-aligned specific force, trunk pitch / roll / yaw
      -> events                     initial contact, toe-off, side per step
      -> metrics                    step table, minute table, run summary

The same function serves the live view: it is called on a sliding window of a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import sosfilt

from calibration.mounting import MountingEstimate, estimate_mounting

from .activity import RUNNING, STILL, WALKING, bout_labels, detect_bouts
from .constants import ML, G, V
from .errors import GaitInputError, Where
from .events import _butter_sos, assign_sides, running_events, walking_events
from .frames import LevelSignals, level_frame, to_body_frame
from .io import regularise
from .metrics import minute_table, run_summary, step_table
from .session import Session, bridge_short_gaps
from .tracks import Track, resolve_speed, running_distance_m

__all__ = ["Analysis", "analyze", "MIN_DURATION_S"]

#: Shortest recording the analysis accepts.
MIN_DURATION_S = 3.0
#: Gaps up to this long (lost packets) are bridged by interpolation for the analysis; steps
#: touching them are excluded from summaries. Longer gaps split the analysis.
MAX_BRIDGE_S = 0.25


@dataclass(frozen=True)
class Analysis:
    """Everything `analyze` found; plain data (see ``docs/tables.md``)."""

    steps: pd.DataFrame
    minutes: pd.DataFrame
    summary: dict[str, Any]
    bouts: pd.DataFrame
    frame: dict[str, Any]
    unavailable: dict[str, str]
    session: Session
    signals: LevelSignals = field(repr=False)
    track: Track | None = field(default=None, repr=False)

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
    if session.duration_s < MIN_DURATION_S:
        raise GaitInputError(
            "too short to analyse",
            expected=f"at least {MIN_DURATION_S:g} s of samples",
            found=f"{session.duration_s:.2f} s",
            where=where,
        )
    fs = session.sampling_rate_hz
    session = regularise(session)  # jittered timestamps (built in memory) onto the grid
    original = session
    session, filled = bridge_short_gaps(session, MAX_BRIDGE_S)
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
                session.acc, sampling_rate_hz=fs, still=still, running=labels == RUNNING, walking=labels == WALKING
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
            unavailable["forward"] = "no walking or running to find the forward direction; braking is unavailable"
    else:
        body = session
        frame_info["mounting"] = None
        has_reference = False

    level = level_frame(body)
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
        unavailable["yaw_range_deg"] = "no gyroscope"
        unavailable["side"] = "no gyroscope" if np.isnan(body.acc[:, ML]).all() else ""
    if np.isnan(body.acc[:, ML]).all():
        for k in ("roll_range_deg", "lateral_lean_deg", "pelvic_drop_deg"):
            unavailable[k] = "no medio-lateral accelerometer axis"
        unavailable["side"] = "no medio-lateral axis and no gyroscope" if body.gyr is None else ""
    if body.gyr is None and "lean_deg" not in unavailable:
        frame_info["lean_accuracy"] = "no gyroscope: lean is less accurate (about 2 deg)"
    unavailable = {k: v for k, v in unavailable.items() if v}

    # --- events per bout ------------------------------------------------------------------
    seg_id = np.zeros(session.n_samples, dtype=np.int64)
    for k_seg, seg in enumerate(session.segments()):
        seg_id[seg] = k_seg
    parts = []
    f_v = level.acc[:, V]
    for b in bouts.itertuples(index=False):  # few bouts per session
        if b.kind not in ("running", "walking"):
            continue
        sl = slice(b.start_idx, b.end_idx)
        ev = (running_events if b.kind == "running" else walking_events)(f_v[sl], fs, t0=float(session.t[b.start_idx]))
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
    yaw_rate = None if body.gyr is None else np.gradient(level.yaw) * fs
    ml = None if np.isnan(level.acc[:, ML]).all() else level.acc[:, ML]
    side, _ = assign_sides(
        events["ic_idx"].to_numpy(float),
        events["to_idx"].to_numpy(float),
        events["bout"].to_numpy(),
        gyr_level_v=yaw_rate,
        acc_level_ml=ml,
    )
    events["side"] = side
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
    )
    steps = _flag_filled(steps, session.t, filled)
    if filled.any():
        frame_info["bridged_gaps"] = {
            "gaps": len(original.gaps) - len(session.gaps),
            "filled_s": float(filled.sum() / fs),
            "steps_excluded": int((steps["near_gap"]).sum()),
        }
    if not summaries:
        return Analysis(
            steps=steps,
            minutes=pd.DataFrame(),
            summary={},
            bouts=bouts.drop(columns=["start_idx", "end_idx"]),
            frame=frame_info,
            unavailable=unavailable,
            session=body,
            signals=level,
            track=track,
        )
    signals = _minute_signals(level, labels, steps, session, fs)
    minutes = minute_table(steps, signals=signals, t=session.t)
    summary = run_summary(steps, minutes, bouts.drop(columns=["start_idx", "end_idx"]))
    if track is not None:
        summary["distance_m"] = running_distance_m(track, bouts)
    return Analysis(
        steps=steps,
        minutes=minutes,
        summary=summary,
        bouts=bouts.drop(columns=["start_idx", "end_idx"]),
        frame=frame_info,
        unavailable=unavailable,
        session=body,
        signals=level,
        track=track,
    )


def _flag_filled(steps: pd.DataFrame, t: np.ndarray, filled: np.ndarray) -> pd.DataFrame:
    """Mark steps whose interval (contact to next contact) touches a bridged gap."""
    near = np.zeros(len(steps), bool)
    if filled.any() and len(steps):
        c = np.concatenate([[0], np.cumsum(filled)])
        a = np.searchsorted(t, steps["ic_s"].to_numpy(), side="left")
        end = steps["ic_s"].to_numpy() + np.nan_to_num(steps["step_time_s"].to_numpy(), nan=0.0)
        b = np.searchsorted(t, np.maximum(end, steps["to_s"].to_numpy()), side="right")
        near = (c[np.clip(b, 0, t.size)] - c[np.clip(a - 1, 0, t.size)]) > 0
    steps["near_gap"] = near
    steps["valid"] = steps["valid"] & ~near
    return steps


def _minute_signals(
    level: LevelSignals, labels: np.ndarray, steps: pd.DataFrame, session: Session, fs: float
) -> dict[str, np.ndarray]:
    running = labels == RUNNING
    acc = np.nan_to_num(level.acc)
    mag = np.sqrt(np.einsum("ij,ij->i", acc, acc))
    sig = {"intensity": mag - G, "running_mask": running}
    if not np.isnan(level.acc[:, ML]).all():
        sig["ml"] = level.acc[:, ML]
    if fs >= 100.0:
        vib = np.full(session.n_samples, np.nan)
        sos = _butter_sos(4, (20.0, min(45.0, 0.45 * fs)), fs, "band")
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
        sig["vibration"] = vib
    return sig
