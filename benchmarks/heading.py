"""Forward direction, trunk angles without a gyroscope, and damaged input: measured.

    python benchmarks/heading.py                 # every table (about 3 minutes on 2 cores)
    python benchmarks/heading.py --part voisard  # one part: voisard, excerpts, simulator,
                                                 # running, nogyro, quality
    python benchmarks/heading.py --json out.json

1. **Voisard recordings** (Voisard et al. 2023, folder ``voisard2023_lowback_walking`` of the
   real-data folder ``GAIT_SHARED_DATA``, docs/validation.md: real L5 IMU, stand, walk 10 m, U-turn, walk back; the mounting differs between trials). Per recording: the
   forward direction the analysis estimates, its error against an independent truth, the
   confidence, and the decision (trusted, or the forward-dependent metrics withheld).

   *Truth* (`truth_forward`), from the velocity the trunk gains from rest, not from any
   property of the gait the estimator uses. Starting from a quiet second of standing (the
   quietest 0.8 s of the 3 s before the first foot event: gyroscope bias and tilt from it),
   the gyroscope is integrated (quaternions) and the accelerometer, rotated into that
   gravity-aligned frame and minus gravity, integrated to a velocity. Over 1.2-2.6 s after
   the walk starts the horizontal velocity points where the walker goes; rotated back into
   the sensor frame sample by sample and averaged, it is the sensor's forward axis. The same
   is done backwards from the standing after the walk. A cue counts when its standing was
   quiet (mean rate below 0.03 rad/s), the speed reached is that of walking (0.7-2.3 m/s) and
   the velocity's direction held (90 % of the samples within 15 deg of its mean); when both
   count but disagree by more than 30 deg the recording has no truth. The cues' own agreement
   (median 11 deg where both count) bounds the truth's precision.
2. **Excerpts**: 5-14 s pieces cut at random from every recording (turns, starts and stops
   included), with and without the gyroscope: how often a confidence above the threshold
   comes with a wrong direction.
3. **Simulator** runs with U-turns, at two speeds, with and without a gyroscope, typical and
   noisy sensors, random mountings.
4. **Real running** (Fukuchi et al. 2017, folder ``rbds2017_treadmill_mocap``): the sign rule for running
   on the motion of real pelvises (the specific force of the point between the two posterior
   iliac spines from the markers, 15 Hz low-pass; truth: the pelvis' forward, from the
   posterior to the anterior iliac spines).
5. **No gyroscope**: what the accelerometer alone gives (lean, lateral lean, side,
   medio-lateral sway) against the gyroscope path on the same data: the simulator (with its
   truth) and the Voisard recordings (the side against the foot sensors).
6. **Signal quality**: clipping and filtering found on the Alcantara recordings and on
   simulated damage.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import itertools
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import gait
from gait.core._quaternions import _qrotate, gyro_orientation
from gait.core.activity import RUNNING, STILL, WALKING, bout_labels
from gait.core.mounting import FORWARD_MIN_CONFIDENCE, estimate_mounting
from gait.core.quality import assess_signal
from gait.errors import GaitDataWarning
from gait.evaluation import agreement, compare_steps
from gait.session import Session, SessionMetadata
from gait.simulator import Form, SensorModel, SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[1]
#: The real datasets (docs/validation.md: where the real data live).
DATA = Path(os.environ.get("GAIT_SHARED_DATA", REPO.parent / "shared" / "data"))
VOISARD = DATA / "voisard2023_lowback_walking"
RBDS = DATA / "rbds2017_treadmill_mocap"
ALCANTARA = DATA / "alcantara2022_sacral_running"
FS_VOISARD = 100.0


# ---------------------------------------------------------------------------------------
# Voisard recordings
# ---------------------------------------------------------------------------------------
def voisard_names(folder: Path = VOISARD) -> list[str]:
    """Recording names (``"S-T"``), sorted by subject then trial."""
    names = {p.name[: -len("_lb.txt.gz")] for p in folder.glob("*_lb.txt.gz")}
    return sorted(names, key=lambda s: tuple(int(x) for x in s.split("-")))


def load_voisard(name: str, folder: Path = VOISARD) -> tuple[Session, dict]:
    """One lower-back recording as a sensor-frame session, and its event file.

    Time comes from the packet counter (lost packets are gaps); the event file's sample
    numbers count packets from the first, like ``t * 100``.
    """
    with gzip.open(folder / f"{name}_lb.txt.gz", "rt") as f:
        f.readline()
        arr = np.loadtxt(f, skiprows=1)
    meta = json.loads(gzip.open(folder / f"{name}.json.gz").read())
    t = (arr[:, 0] - arr[0, 0]) / FS_VOISARD
    session = Session(
        t=t,
        acc=arr[:, 1:4],
        gyr=arr[:, 4:7],
        frame="sensor",
        meta=SessionMetadata(sampling_rate_hz=FS_VOISARD, device="Xsens MTw (Voisard et al. 2023)", source=name),
    )
    return session, meta


def _on_grid(session: Session) -> tuple[np.ndarray, np.ndarray]:
    """Accelerometer and gyroscope on the full 100 Hz grid (short gaps interpolated)."""
    t = session.t
    grid = np.arange(round(t[-1] * FS_VOISARD) + 1) / FS_VOISARD
    acc = np.column_stack([np.interp(grid, t, session.acc[:, k]) for k in range(3)])
    assert session.gyr is not None
    gyr = np.column_stack([np.interp(grid, t, session.gyr[:, k]) for k in range(3)])
    return acc, gyr


@dataclass(frozen=True)
class Cue:
    forward: np.ndarray
    speed_mps: float
    spread_deg: float
    quiet_rads: float

    @property
    def counts(self) -> bool:
        return self.quiet_rads < 0.03 and 0.7 <= self.speed_mps <= 2.3 and self.spread_deg <= 15.0


def _integrate(
    acc: np.ndarray, gyr: np.ndarray, rest: tuple[int, int], start: int, stop: int, step: int
) -> tuple[np.ndarray, tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Velocity in a gravity-aligned frame, integrated from rest (the window ``rest`` gives
    the gyroscope bias and the tilt) from ``start`` towards ``stop`` (``step`` +1 forwards,
    -1 backwards in time); also the orientation, the initial tilt and the standing vertical."""
    a, b = rest
    g0 = acc[a:b].mean(axis=0)
    bias = gyr[a:b].mean(axis=0)
    up = g0 / np.linalg.norm(g0)
    idx = np.arange(start, stop, step)
    w = (gyr[idx] - bias) * step  # integrating backwards in time turns the other way
    q = gyro_orientation(w, FS_VOISARD)
    # initial tilt: the rotation taking ``up`` to +z
    v = np.cross(up, [0.0, 0.0, 1.0])
    c = float(up[2])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    r0 = np.eye(3) + vx + vx @ vx / (1.0 + c)
    f = np.column_stack(_qrotate(q, tuple(np.ascontiguousarray(acc[idx, k]) for k in range(3))))  # type: ignore[arg-type]
    world = f @ r0.T - np.array([0.0, 0.0, np.linalg.norm(g0)])
    vel = np.cumsum(world, axis=0) / FS_VOISARD * step
    return vel, q, r0, up


def truth_forward(session: Session, meta: dict) -> dict:
    """The sensor's forward axis from the walk's start and stop (module docstring)."""
    acc, gyr = _on_grid(session)
    n = acc.shape[0]
    a0, a1 = meta["TrialBoundaries"]
    cues: dict[str, Cue | None] = {}
    for name, lo, hi, step in (("start", max(a0 - 300, 0), a0, 1), ("stop", a1, min(a1 + 300, n - 1), -1)):
        if hi - lo < 100:
            cues[name] = None
            continue
        rate = np.convolve(np.linalg.norm(gyr[lo:hi], axis=1), np.ones(80) / 80, "valid")
        k = int(np.argmin(rate))
        rest = (lo + k, lo + k + 80)
        if step > 0:
            start, stop, sel0, sel1 = rest[1], a0 + 260, a0 + 120, a0 + 260
        else:
            start, stop, sel0, sel1 = rest[0], a1 - 260, a1 - 260, a1 - 120
        if stop < 0 or stop >= n:
            cues[name] = None
            continue
        vel, q, r0, up = _integrate(acc, gyr, rest, start, stop, step)
        idx = np.arange(start, stop, step)
        sel = (idx >= sel0) & (idx <= sel1)
        vh = vel[sel].copy()
        vh[:, 2] = 0.0
        d = vh.mean(axis=0)
        speed = float(np.linalg.norm(d))
        d = d / speed
        cosang = (vh / np.linalg.norm(vh, axis=1, keepdims=True)) @ d
        spread = float(np.percentile(np.degrees(np.arccos(np.clip(cosang, -1, 1))), 90))
        # the walking direction in the sensor frame, sample by sample: R(t)^T d
        back = np.tile(r0.T @ d, (int(sel.sum()), 1))
        qs = tuple(c[sel] for c in q)
        fs_ = np.column_stack(
            _qrotate((qs[0], -qs[1], -qs[2], -qs[3]), tuple(np.ascontiguousarray(back[:, k]) for k in range(3)))
        )  # type: ignore[arg-type]
        fwd = fs_.mean(axis=0)
        fwd -= up * (fwd @ up)
        cues[name] = Cue(fwd / np.linalg.norm(fwd), speed, spread, float(rate[k]))
    good = [c for c in cues.values() if c is not None and c.counts]
    agree = None
    if len(good) == 2:
        agree = float(np.degrees(np.arccos(np.clip(good[0].forward @ good[1].forward, -1, 1))))
    if not good:
        return {"forward": None, "note": "no cue counts", "cues": 0, "cue_agreement_deg": None}
    if agree is not None and agree > 30.0:
        return {"forward": None, "note": "cues disagree", "cues": 2, "cue_agreement_deg": agree}
    f = sum(c.forward for c in good)
    return {"forward": f / np.linalg.norm(f), "note": "", "cues": len(good), "cue_agreement_deg": agree}


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1.0, 1.0))))


def voisard_table(folder: Path = VOISARD, names: list[str] | None = None) -> pd.DataFrame:
    """Part 1: one row per recording, with and without the gyroscope."""
    rows = []
    for name in names or voisard_names(folder):
        session, meta = load_voisard(name, folder)
        truth = truth_forward(session, meta)
        for gyro in (True, False):
            s = session if gyro else session.replace(gyr=None)
            a = gait.analyze(s)
            h = a.frame["mounting"]["heading"]
            fwd = np.array(a.frame["mounting"]["rotation"])[1]
            err = _angle_deg(fwd, truth["forward"]) if truth["forward"] is not None else float("nan")
            rows.append(
                {
                    "recording": name,
                    "subject": int(name.split("-")[0]),
                    "gyroscope": gyro,
                    "truth": "none" if truth["forward"] is None else f"{truth['cues']} cue(s)",
                    "truth_cues_agree_deg": truth["cue_agreement_deg"],
                    "forward_error_deg": err,
                    "confidence": h["confidence"],
                    "axis_confidence": h["axis_confidence"],
                    "sign_confidence": h["sign_confidence"],
                    "stretches": len(h["segments"]),
                    "turns": h["turns"],
                    "decision": "trusted" if h["trusted"] else "withheld",
                    "lean_deg": float(a.steps.loc[a.steps["valid"], "lean_deg"].median()),
                }
            )
    return pd.DataFrame(rows)


def excerpt_table(folder: Path = VOISARD, *, seed: int = 0, per_length: int = 4) -> pd.DataFrame:
    """Part 2: random excerpts of every recording with a truth."""
    rng = np.random.default_rng(seed)
    rows = []
    for name in voisard_names(folder):
        session, meta = load_voisard(name, folder)
        truth = truth_forward(session, meta)
        if truth["forward"] is None:
            continue
        n = session.n_samples
        for length_s in (5.0, 7.0, 10.0, 14.0):
            m = int(length_s * FS_VOISARD)
            for _ in range(per_length):
                a = int(rng.integers(0, max(n - m, 1)))
                piece = session.slice_time(float(session.t[a]), float(session.t[min(a + m, n - 1)]))
                for gyro in (True, False):
                    s = piece if gyro else piece.replace(gyr=None)
                    lab = bout_labels(s)
                    est = estimate_mounting(
                        s.acc,
                        sampling_rate_hz=FS_VOISARD,
                        still=lab == STILL,
                        running=lab == RUNNING,
                        walking=lab == WALKING,
                        gyr=s.gyr,
                    )
                    if est.heading is None:
                        continue
                    rows.append(
                        {
                            "recording": name,
                            "subject": int(name.split("-")[0]),
                            "length_s": length_s,
                            "gyroscope": gyro,
                            "forward_error_deg": _angle_deg(est.rotation[1], truth["forward"]),
                            "confidence": est.heading.confidence,
                        }
                    )
    return pd.DataFrame(rows)


def excerpt_summary(df: pd.DataFrame, thresholds=(0.2, 0.35, 0.5, 0.7)) -> pd.DataFrame:
    """Excerpts accepted and rejected at each threshold, and how many of each were wrong."""
    out = []
    for th in thresholds:
        acc = df[df["confidence"] >= th]
        rej = df[df["confidence"] < th]
        out.append(
            {
                "threshold": th,
                "accepted": len(acc),
                "accepted_error_over_30_deg": int((acc["forward_error_deg"] > 30).sum()),
                "accepted_error_over_90_deg": int((acc["forward_error_deg"] > 90).sum()),
                "withheld": len(rej),
                "withheld_but_within_30_deg": int((rej["forward_error_deg"] <= 30).sum()),
            }
        )
    return pd.DataFrame(out)


# ---------------------------------------------------------------------------------------
# simulator with turns
# ---------------------------------------------------------------------------------------
NOISE = {
    "typical": SensorModel(),
    "noisy": SensorModel(
        acc_noise_mps2=0.12,
        gyr_noise_rads=0.01,
        acc_bias_mps2=(0.15, -0.1, 0.2),
        gyr_bias_rads=(0.02, -0.01, 0.015),
        acc_scale=(1.01, 0.99, 1.005),
    ),
}


def sim_truth_forward(sim) -> np.ndarray:
    """The simulated trunk's forward axis, horizontal to its standing posture, in sensor axes."""
    R = sim.mounting
    stand = np.deg2rad(sim.config.standing_pitch_deg)
    up = R.T @ np.array([-np.sin(stand), 0.0, np.cos(stand)])
    f = R.T @ np.array([1.0, 0.0, 0.0])
    f = f - up * (f @ up)
    return f / np.linalg.norm(f)


def simulator_table(seeds: int = 2) -> pd.DataFrame:
    """Part 3: runs of 90 s with two U-turns (180 deg in 3 s) and a 90 deg bend."""
    rows = []
    grid = itertools.product((2.5, 4.0), ("typical", "noisy"), (True, False), range(seeds))
    for k, (speed, noise, gyro, seed) in enumerate(grid):
        sensor = dataclasses.replace(NOISE[noise], has_gyro=gyro)
        cfg = SimulationConfig(
            duration_s=90.0,
            seed=300 + k,
            speed_mps=speed,
            mounting="random",
            sensor=sensor,
            sampling_rate_hz=100.0,
            turns=((25.0, 3.0, 180.0), (50.0, 3.0, -180.0), (70.0, 4.0, 90.0)),
        )
        sim = simulate(cfg)
        a = gait.analyze(sim.session)
        h = a.frame["mounting"]["heading"]
        fwd = np.array(a.frame["mounting"]["rotation"])[1]
        rows.append(
            {
                "speed_mps": speed,
                "sensor": noise,
                "gyroscope": gyro,
                "seed": seed,
                "forward_error_deg": _angle_deg(fwd, sim_truth_forward(sim)),
                "confidence": h["confidence"],
                "turns_found": h["turns"],
                "decision": "trusted" if h["trusted"] else "withheld",
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# real running: the sign rule on real pelvis motion
# ---------------------------------------------------------------------------------------
RBDS_TRIALS = ("RBDS001runT25markers", "RBDS0041runT252", "RBDS0041runT352", "RBDS0041runT452", "RBDS032runT35markers")


def running_sign_table(folder: Path = RBDS) -> pd.DataFrame:
    """Part 4: axis, clarity and sign strength of 20 s of treadmill running per trial."""
    from scipy.signal import butter, sosfiltfilt

    from gait.core.mounting import _segment

    rows = []
    fs = 150.0
    for trial in RBDS_TRIALS:
        df = pd.read_csv(folder / f"{trial}.txt.gz", sep="\t")

        def marker(m: str, df: pd.DataFrame = df) -> np.ndarray:
            return (
                pd.DataFrame(df[[m + "X", m + "Y", m + "Z"]].to_numpy() / 1000.0)
                .interpolate(limit_direction="both")
                .to_numpy()
            )

        psis = (marker("R.PSIS") + marker("L.PSIS")) / 2
        asis = (marker("R.ASIS") + marker("L.ASIS")) / 2
        p = sosfiltfilt(butter(4, 15.0, fs=fs, output="sos"), psis, axis=0)
        f_lab = np.gradient(np.gradient(p, axis=0), axis=0) * fs * fs + np.array([0.0, 9.80665, 0.0])  # Y up
        fwd = (asis - psis).mean(axis=0)
        fwd[1] = 0.0
        res = _segment(f_lab[: int(20 * fs)], fs, True)
        assert res is not None
        rows.append(
            {
                "trial": trial,
                "forward_error_deg": _angle_deg(res[0], fwd),
                "clarity": res[1],
                "sign_strength": res[2],
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# no gyroscope
# ---------------------------------------------------------------------------------------
def nogyro_simulator_table() -> pd.DataFrame:
    """Part 5a: the accelerometer path against the truth and against the gyroscope path."""
    rows = []
    cols = ["lean_deg", "lateral_lean_deg"]
    grid = itertools.product((2.5, 3.5, 4.2), ("belt_clip", "random"), (0.0, 4.0), (3.0, 9.0))
    for k, (speed, mount, roll_mean, lean) in enumerate(grid):
        form = Form(roll_mean_deg=roll_mean, lean_deg=lean, roll_amplitude_deg=5.0, yaw_amplitude_deg=7.0)
        sim = simulate(SimulationConfig(duration_s=60.0, seed=200 + k, speed_mps=speed, mounting=mount, form=form))
        truth = sim.steps[sim.steps["activity"] == "running"]
        pairs = []
        summaries = []
        for s in (sim.session, sim.session.replace(gyr=None)):
            a = gait.analyze(s)
            det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
            _, p = compare_steps(det, truth, columns={c: c for c in [*cols, "side"]} | {"valid": "step"})
            pairs.append(p[p["valid_est"].astype(bool)])
            summaries.append(a.summary)
        g, n = pairs
        row = {"speed_mps": speed, "mounting": mount, "roll_mean_deg": roll_mean, "lean_set_deg": lean}
        for c in cols:
            row[f"{c}_gyro_bias"] = agreement(g[f"{c}_est"], g[f"{c}_ref"])["bias"]
            row[f"{c}_acc_bias"] = agreement(n[f"{c}_est"], n[f"{c}_ref"])["bias"]
            row[f"{c}_acc_mae"] = agreement(n[f"{c}_est"], n[f"{c}_ref"])["mae"]
        row["side_acc_correct"] = float((n["side_est"] == n["side_ref"]).mean())
        row["ml_sway_gyro_mps2"] = summaries[0]["ml_sway_rms_mps2"]
        row["ml_sway_acc_only_mps2"] = _ml_sway_without_levelling(sim.session)
        rows.append(row)
    return pd.DataFrame(rows)


def _ml_sway_without_levelling(session: Session) -> float:
    """The medio-lateral sway the accelerometer path would report (its level frame is only the
    slow tilt): the RMS of that medio-lateral acceleration while running."""
    from gait.core.frames import level_frame, to_body_frame

    a = gait.analyze(session)
    body = to_body_frame(session, np.array(a.frame["mounting"]["rotation"]))
    lv = level_frame(body.replace(gyr=None))
    run = bout_labels(session) == RUNNING
    x = lv.acc[run, 2]
    return float(np.sqrt(np.mean(x[np.isfinite(x)] ** 2)))


def nogyro_voisard_table(folder: Path = VOISARD) -> pd.DataFrame:
    """Part 5b: per recording, the accelerometer path against the gyroscope path (walking
    steps), and each path's side against the foot sensors."""
    rows = []
    for name in voisard_names(folder):
        session, meta = load_voisard(name, folder)
        a = gait.analyze(session)
        b = gait.analyze(session.replace(gyr=None))
        left = [e[1] for e in meta["LeftFootEvents"]]
        right = [e[1] for e in meta["RightFootEvents"]]
        ev = np.array(left + right) / FS_VOISARD
        side = np.array(["L"] * len(left) + ["R"] * len(right))

        def sides(an: gait.Analysis, ev: np.ndarray = ev, side: np.ndarray = side) -> tuple[float, float]:
            st = an.steps[an.steps["activity"] == "walking"]
            if not len(st) or not ev.size:
                return float("nan"), 0.0
            d = np.abs(st["ic_s"].to_numpy()[:, None] - ev[None, :])
            near = d.min(axis=1) < 0.2
            est = st["side"].to_numpy()[near]
            ref = side[d.argmin(axis=1)[near]]
            known = est != "?"
            return (float((est[known] == ref[known]).mean()) if known.any() else float("nan")), float(known.mean())

        wa = a.steps[(a.steps["activity"] == "walking") & a.steps["valid"]]
        wb = b.steps[(b.steps["activity"] == "walking") & b.steps["valid"]]
        m = wa.merge(wb, on="ic_s", suffixes=("_gyro", "_acc"))
        sg, kg = sides(a)
        sa, ka = sides(b)
        rows.append(
            {
                "recording": name,
                "steps": len(m),
                "lean_acc_minus_gyro_deg": float(np.nanmedian(m["lean_deg_acc"] - m["lean_deg_gyro"])),
                "lean_step_abs_diff_deg": float(np.nanmedian(np.abs(m["lean_deg_acc"] - m["lean_deg_gyro"]))),
                "lateral_acc_minus_gyro_deg": float(
                    np.nanmedian(m["lateral_lean_deg_acc"] - m["lateral_lean_deg_gyro"])
                ),
                "lateral_step_abs_diff_deg": float(
                    np.nanmedian(np.abs(m["lateral_lean_deg_acc"] - m["lateral_lean_deg_gyro"]))
                ),
                "side_gyro_correct": sg,
                "side_gyro_decided": kg,
                "side_acc_correct": sa,
                "side_acc_decided": ka,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# signal quality
# ---------------------------------------------------------------------------------------
def quality_alcantara_table(folder: Path = ALCANTARA) -> pd.DataFrame:
    """Part 6a: what the analysis finds on every Alcantara trial (declared 20 Hz, clipped at 0 g)."""
    rows = []
    for s in gait.read_sessions(folder):
        a = gait.analyze(s)
        q = a.quality
        # the detection without the recording's own declaration
        bare = s.with_meta(notes="", extra={k: v for k, v in s.meta.extra.items() if k != "lowpass_hz"})
        qb, _ = assess_signal(bare)
        clip = next((c for c in q.clipped if c.name == "acc_v"), None)
        rows.append(
            {
                "trial": s.meta.extra["trial"],
                "slope_deg": s.meta.extra["slope_deg"],
                "speed_mps": s.meta.extra["speed_mps"],
                "zeros_pct": 100.0 * float((s.acc[:, 0] == 0).mean()),
                "clipped_pct": None if clip is None else 100.0 * clip.share,
                "clip_runs": None if clip is None else clip.runs,
                "filtered_detected_undeclared": qb.bandwidth.filtered,
                "floor_ratio": qb.bandwidth.floor_ratio,
                "gravity_mps2": q.gravity_mps2,
                "gravity_source": q.gravity_source,
                "impact_unavailable": "impact_peak_mps2" in a.unavailable,
                "loading_rate_unavailable": "loading_rate_mps3" in a.unavailable,
                "foot_strike_flagged": "foot_strike" in q.flagged,
            }
        )
    return pd.DataFrame(rows)


def quality_simulator_table() -> pd.DataFrame:
    """Part 6b: simulated damage, each applied to the same runs."""
    from scipy.signal import butter, sosfiltfilt

    G = 9.80665
    rows = []
    for speed in (2.5, 3.5):
        sim = simulate(SimulationConfig(duration_s=60.0, seed=5, speed_mps=speed, form=Form(rearfoot_share=0.5)))
        s = sim.session
        up = 1  # belt clip: the sensor's y axis points up
        true_g = gait.analyze(s).quality.gravity_mps2
        sos = butter(4, 20.0, fs=s.sampling_rate_hz, output="sos")
        cases = {"none": s}
        acc = s.acc.copy()
        acc[:, up] = np.maximum(acc[:, up], 0.3 * G)
        cases["vertical floored at 0.3 g"] = s.replace(acc=acc)
        cases["+-2 g range"] = simulate(dataclasses.replace(sim.config, sensor=SensorModel(acc_range_g=2.0))).session
        cases["low-pass 20 Hz (undeclared)"] = s.replace(
            acc=sosfiltfilt(sos, s.acc, axis=0), gyr=sosfiltfilt(sos, s.gyr, axis=0)
        )
        cases["gyroscope +-30 deg/s"] = simulate(
            dataclasses.replace(sim.config, sensor=SensorModel(gyr_range_dps=30.0))
        ).session
        for name, ss in cases.items():
            a = gait.analyze(ss)
            q = a.quality
            rows.append(
                {
                    "speed_mps": speed,
                    "damage": name,
                    "found": "; ".join(c.name + " " + c.side for c in q.clipped)
                    or ("filtered" if q.bandwidth.filtered else "-"),
                    "gravity_mps2": q.gravity_mps2,
                    "gravity_clipped_mean_mps2": q.gravity_unbridged_mps2,
                    "gravity_true_mps2": true_g,
                    "unavailable": ", ".join(
                        sorted(
                            k
                            for k in a.unavailable
                            if k
                            in (
                                "impact_peak_mps2",
                                "loading_rate_mps3",
                                "vertical_oscillation_m",
                                "yaw_range_deg",
                                "roll_range_deg",
                            )
                        )
                    ),
                }
            )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
PARTS = ("voisard", "excerpts", "simulator", "running", "nogyro", "quality")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=PARTS, action="append", help="run only these parts")
    ap.add_argument("--json", type=Path, help="also write the tables as JSON")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)
    parts = args.part or list(PARTS)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 40)
    out: dict[str, list[dict]] = {}

    def show(title: str, df: pd.DataFrame) -> None:
        print(f"\n## {title}\n")
        print(df.to_string(index=False, float_format=lambda x: f"{x:.2f}"))
        out[title] = json.loads(df.to_json(orient="records"))

    if "voisard" in parts and VOISARD.is_dir():
        df = voisard_table()
        show("Voisard: forward direction per recording", df)
        with_truth = df[df["truth"] != "none"]
        for gyro, g in with_truth.groupby("gyroscope"):
            e = g["forward_error_deg"]
            print(
                f"gyroscope={gyro}: {len(g)} recordings with a truth; error median {e.median():.1f} deg, "
                f"90th percentile {e.quantile(0.9):.1f}, max {e.max():.1f}; over 30 deg: {(e > 30).sum()}; "
                f"over 90 deg (sign): {(e > 90).sum()}; withheld: {(g['decision'] == 'withheld').sum()}; "
                f"confidence {g['confidence'].min():.2f}-{g['confidence'].max():.2f} (threshold {FORWARD_MIN_CONFIDENCE})"
            )
        agree = df["truth_cues_agree_deg"].dropna()
        print(f"truth: the two cues agree within {agree.median():.1f} deg (median), {agree.max():.1f} (max)")
    if "excerpts" in parts and VOISARD.is_dir():
        ex = excerpt_table()
        show("Voisard excerpts: confidence against error", excerpt_summary(ex))
    if "simulator" in parts:
        show("Simulator with U-turns", simulator_table())
    if "running" in parts and RBDS.is_dir():
        show("Real running (pelvis markers): running sign rule", running_sign_table())
    if "nogyro" in parts:
        show("No gyroscope, simulator", nogyro_simulator_table())
        if VOISARD.is_dir():
            show("No gyroscope, Voisard", nogyro_voisard_table())
    if "quality" in parts:
        if ALCANTARA.is_dir():
            show("Signal quality, Alcantara", quality_alcantara_table())
        show("Signal quality, simulated damage", quality_simulator_table())
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
