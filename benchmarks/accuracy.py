"""Accuracy of the signal core, one part per source of truth.

    python benchmarks/accuracy.py                      # every part (about 2 minutes on 2 cores)
    python benchmarks/accuracy.py --quick              # a smaller simulator grid
    python benchmarks/accuracy.py --parts rbds         # one or more parts: simulator alcantara rbds contact_strike sides vo
    python benchmarks/accuracy.py --json results.json  # also write every table as JSON

Part 1, simulator: runs over a grid of speeds, sensor mountings (including upside-down and
sideways clips), noise levels and sampling rates, analysed with `gait.analyze`; every valid
running step against the simulator's exact truth.

Part 2, Alcantara et al. (2022) (folder ``alcantara2022_sacral_running`` of the real-data folder,
``GAIT_SHARED_DATA``: docs/validation.md): a real sacral accelerometer (one runner, 19 trials
of 5 s at 2.5-4.2 m/s on -5, 0 and +5 deg slopes) against the treadmill's force: contacts from
the force (above 0.05 body weights, with hysteresis), the centre of mass's vertical excursion
from integrating ``(F / BW - 1) g`` twice per step. The toe-off constants fitted on these data
are re-fitted leave one slope out and leave one runner out in part 4.

Part 3, RBDS (Fukuchi et al. 2017; folder ``rbds2017_treadmill_mocap``): three runners on a
treadmill, five trials, motion capture turned into a virtual sacral IMU
(`gait.validation.rbds`), against the markers (and the force of two trials). Per trial and per
runner: steps, contact and toe-off, contact time (against force where present, else the foot
markers), vertical oscillation (the sacral point), forward lean against standing, lateral lean,
pelvic drop, roll and yaw ranges (the analysis' own definitions, `gait.validation.truth`), foot
strike (the analysis' class against the foot angle at contact) and side; the targets; the same
with a second, random sensor mounting; the marker events against force (in sample and
leave-one-runner-out); the virtual IMU's self-checks; and diagnostics that separate what the
analysis gets wrong from what it is given.

Part 4, contact time and foot strike across slopes, stance shapes and runners: contact time
per Alcantara slope group, per trial and per runner, for every RBDS trial, and for a third kind
of signal with exact timing, the centre of mass's vertical specific force ``F / BW * g`` of the
force trials (Alcantara and RBDS), in sample and with the three toe-off constants
(`gait.core.events.TO_DESCENT_LEAD`, `TO_AP_LEAD`, `TO_AP_WEIGHT`) re-fitted leave one slope out
(Alcantara) and leave one runner out (each fold re-analysed with its own values), with and
without the forward axis; the evidence on the sacral signal at contact (real, virtual and
force-derived: levels after the force's contact, the rise's lag, the flight level, the
cutoff of the marker filter, a segment model of the centre of mass from the markers, the raw
triaxial recording); the simulator with a symmetric half-sine stance and the default skewed
one, for each strike, with the shipped and every fold's constants; the foot strike
(``benchmarks/_strike_bench.py``): per trial and per runner against shoe sensors (Alcantara)
and foot markers (RBDS), every candidate lumbar feature per runner and per trial with its
separation of the forefoot runner, the same features on the simulator with its assumptions
varied, and the step decision ratio and the run's clear ratio swept and chosen leave one
runner out; the three strike classes on the simulator.

Part 5, sides (``benchmarks/sides.py``): which per-step cues carry the side, per runner (RBDS)
and per walking subject (Voisard et al. 2023), the analysis' sides per trial, the cues' window
shares re-picked leave-one-runner-out and leave-one-subject-out, Alcantara (where no cue
applies) and the simulator with the pelvis' roll and yaw timing varied.

Part 6, vertical oscillation (``--parts vo``): per RBDS trial and runner against the truth
(max - min of the sacral point's height from contact to next contact) and against the previous
truth (the line between the heights at the two contacts removed); how far each definition of
the truth moves when its own contacts move by 2, 5 and 10 ms, and the sacrum's side-to-side
landing-height difference; the height's high-pass cutoff (`gait.core._steps.HEIGHT_HIGHPASS_HZ`)
swept and picked leave one runner out; Alcantara against the force's centre of mass per step
(part 2's reference) and per stride (a contact to the next of the same foot), by slope.

A part whose data are absent is skipped with a note. Statistics: bias (estimate - reference),
mean absolute error, 95 % limits of agreement (bias +- 1.96 SD); events: F1 with a 40 ms
tolerance on initial contact.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import gait
from gait.constants import G
from gait.core import _steps as gm
from gait.core import events as ev
from gait.core.filters import lowpass
from gait.errors import GaitDataWarning
from gait.evaluation import agreement, compare_steps, force_plate_contacts, match_events, pair_with_force_plate
from gait.simulator import Form, SensorModel, SimulationConfig
from gait.validation import rbds

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _strike_bench import STRIKE_CLASSES, print_strike, strike_tables  # noqa: E402
from _strike_bench import patched as _patched  # noqa: E402

#: The real datasets (docs/validation.md: where the real data live).
SHARED = Path(os.environ.get("GAIT_SHARED_DATA", REPO.parent / "shared" / "data"))
REAL = SHARED / "alcantara2022_sacral_running"
RBDS = SHARED / "rbds2017_treadmill_mocap"
PARTS = ("simulator", "alcantara", "rbds", "contact_strike", "sides", "vo")

# =======================================================================================
# Part 1: simulator
# =======================================================================================
NOISE = {
    "clean": SensorModel(acc_noise_mps2=0.02, gyr_noise_rads=0.002),
    "typical": SensorModel(),
    "noisy": SensorModel(
        acc_noise_mps2=0.12,
        gyr_noise_rads=0.01,
        acc_bias_mps2=(0.15, -0.1, 0.2),
        gyr_bias_rads=(0.02, -0.01, 0.015),
        acc_scale=(1.01, 0.99, 1.005),
        timestamp_jitter_s=0.001,
        drop_rate=0.002,
    ),
}

# (label, estimate column, truth column, factor to display unit, unit, target MAE or None)
SIM_METRICS = [
    ("initial contact", "ic_s", "ic_s", 1000, "ms", 10.0),
    ("toe-off", "to_s", "to_s", 1000, "ms", 10.0),
    ("contact time", "contact_time_s", "contact_time_s", 1000, "ms", 10.0),
    ("flight time", "flight_time_s", "flight_time_s", 1000, "ms", None),
    ("vertical oscillation", "vertical_oscillation_m", "vertical_oscillation_m", 100, "cm", 0.5),
    ("forward lean", "lean_deg", "lean_deg", 1, "deg", 1.0),
    ("lateral lean", "lateral_lean_deg", "lateral_lean_deg", 1, "deg", None),
    ("roll range", "roll_range_deg", "roll_range_deg", 1, "deg", None),
    ("rotation (yaw) range", "yaw_range_deg", "yaw_range_deg", 1, "deg", 2.0),
    ("braking peak", "braking_peak_mps2", "braking_peak_mps2", 1, "m/s^2", None),
    ("braking speed loss", "braking_velocity_loss_mps", "braking_velocity_loss_mps", 1, "m/s", None),
]


def simulated_runs(quick: bool) -> list[SimulationConfig]:
    speeds = [2.5, 3.0, 3.5, 4.2]
    mountings = ["belt_clip", "upside_down", "sideways", "random"]
    noises = list(NOISE)
    configs = []
    k = 0
    for speed in speeds:
        for mounting in mountings:
            for noise in noises:
                if quick and (k % 6):
                    k += 1
                    continue
                rng = np.random.default_rng(1000 + k)
                form = Form(
                    rearfoot_share=0.5,
                    lean_deg=float(rng.uniform(1.0, 10.0)),
                    yaw_amplitude_deg=float(rng.uniform(3.0, 12.0)),
                    roll_amplitude_deg=float(rng.uniform(2.0, 7.0)),
                    roll_mean_deg=float(rng.uniform(-3.0, 3.0)),
                    asymmetry=float(rng.uniform(-0.06, 0.06)),
                )
                configs.append(
                    SimulationConfig(
                        duration_s=60.0 if quick else 120.0,
                        seed=1000 + k,
                        speed_mps=speed,
                        mounting=mounting,
                        sensor=NOISE[noise],
                        sampling_rate_hz=200.0 if k % 2 == 0 else 100.0,
                        form=form,
                    )
                )
                k += 1
    return configs


def simulator_part(quick: bool) -> tuple[pd.DataFrame, dict]:
    pairs, f1, strikes, sides = [], [], [], []
    for cfg in simulated_runs(quick):
        sim = gait.simulate(cfg)
        a = gait.analyze(sim.session)
        det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
        tru = sim.steps[sim.steps["activity"] == "running"]
        m = match_events(det["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.04)
        f1.append((m.true_positives, m.n_detected, m.n_reference))
        cols = {est: ref for _, est, ref, *_ in SIM_METRICS} | {
            "foot_strike": "foot_strike",
            "side": "side",
            "valid": "step",
        }
        _, p = compare_steps(det, tru, columns=cols)
        p = p[p["valid_est"].astype(bool)]
        pairs.append(p)
        est = p["foot_strike_est"].to_numpy()
        strikes.append(np.where(est == p["foot_strike_ref"].to_numpy(), 1, np.where(est == "uncertain", 0, -1)))
        sides.append(np.where(p["side_est"] == p["side_ref"], 1, np.where(p["side_est"] == "?", 0, -1)))
    p = pd.concat(pairs, ignore_index=True)
    tp, nd, nr = np.sum(f1, axis=0)
    prec, rec = tp / nd, tp / nr
    rows = [
        {
            "metric": "steps (F1, 40 ms)",
            "n": int(nr),
            "value": 2 * prec * rec / (prec + rec),
            "unit": "",
            "target": ">= 0.995",
            "met": 2 * prec * rec / (prec + rec) >= 0.995,
        }
    ]
    for label, est, _, factor, unit, target in SIM_METRICS:
        ag = agreement(p[f"{est}_est"] * factor, p[f"{est}_ref"] * factor)
        rows.append(
            {
                "metric": label,
                "n": ag["n"],
                "bias": ag["bias"],
                "mae": ag["mae"],
                "loa_low": ag["loa_low"],
                "loa_high": ag["loa_high"],
                "unit": unit,
                "target": f"MAE <= {target:g}" if target else "",
                "met": (ag["mae"] <= target) if target else None,
            }
        )
    fs = np.concatenate(strikes)  # 1 right, 0 undecided (uncertain), -1 wrong
    fs_ok, fs_wrong = float(np.mean(fs == 1)), float(np.mean(fs == -1))
    rows.append(
        {
            "metric": "foot strike correct (rearfoot / forefoot mix)",
            "n": int(fs.size),
            "value": 100 * fs_ok,
            "unit": "%",
            "target": ">= 95 %",
            "met": fs_ok >= 0.95,
        }
    )
    rows.append(
        {
            "metric": "foot strike wrong (not undecided)",
            "n": int(fs.size),
            "value": 100 * fs_wrong,
            "unit": "%",
            "target": "<= 1 %",
            "met": fs_wrong <= 0.01,
        }
    )
    sd = np.concatenate(sides)  # 1 right, 0 undecided, -1 wrong
    rows.append(
        {
            "metric": "side decided",
            "n": int(sd.size),
            "value": 100 * float(np.mean(sd != 0)),
            "unit": "%",
            "target": "",
            "met": None,
        }
    )
    rows.append(
        {
            "metric": "side correct (of decided)",
            "n": int(np.sum(sd != 0)),
            "value": 100 * float(np.mean(sd[sd != 0] == 1)) if (sd != 0).any() else float("nan"),
            "unit": "%",
            "target": ">= 99 %",
            "met": bool((sd != 0).any() and np.mean(sd[sd != 0] == 1) >= 0.99),
        }
    )
    info = {"runs": len(pairs), "steps_compared": len(p)}
    return pd.DataFrame(rows), info


# =======================================================================================
# Part 2: Alcantara et al. (2022), real sacral accelerometer against force
# =======================================================================================
def alcantara_part(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    from gait.readers import _alcantara

    sessions = gait.read_sessions(data_dir)
    force = _alcantara.read_force(data_dir)
    trials = _alcantara.read_trials(data_dir)
    p, match = pair_with_force_plate(sessions, force, _alcantara.FS_HZ)
    p["slope_deg"] = trials["Slope"].to_numpy()[p["trial"]]
    p["speed_mps"] = trials["Speed"].to_numpy()[p["trial"]]
    p = p.rename(columns={"vertical_oscillation_m_est": "osc_est", "vertical_oscillation_m_ref": "osc_ref"})
    f1, nr = match.f1, match.n_reference
    tc_est = p["to_est"] - p["ic_est"]
    tc_ref = p["to_ref"] - p["ic_ref"]
    out = [
        {"metric": "steps (F1, 40 ms)", "n": int(nr), "value": f1, "unit": "", "target": ">= 0.99", "met": f1 >= 0.99}
    ]
    for label, est, ref, factor, unit, target in [
        ("initial contact", p["ic_est"], p["ic_ref"], 1000, "ms", None),
        ("toe-off", p["to_est"], p["to_ref"], 1000, "ms", None),
        ("contact time (leave one slope / runner out: part 4)", tc_est, tc_ref, 1000, "ms", 15.0),
        ("vertical oscillation vs force-derived COM excursion", p["osc_est"], p["osc_ref"], 100, "cm", 1.0),
    ]:
        ag = agreement(est * factor, ref * factor)
        out.append(
            {
                "metric": label,
                "n": ag["n"],
                "bias": ag["bias"],
                "mae": ag["mae"],
                "rmse": ag["rmse"],
                "loa_low": ag["loa_low"],
                "loa_high": ag["loa_high"],
                "unit": unit,
                "target": f"MAE <= {target:g}" if target else "",
                "met": (ag["mae"] <= target) if target else None,
            }
        )
    rf = float((p["foot_strike"] == "rearfoot").mean())
    out.append(
        {
            "metric": "rearfoot strikes recognised (all trials 100 % rearfoot by shoe sensors)",
            "n": len(p),
            "value": 100 * rf,
            "unit": "%",
            "target": "",
            "met": None,
        }
    )
    by_slope = (
        p.assign(
            tc_err_ms=1000 * (tc_est - tc_ref),
            ic_err_ms=1000 * (p["ic_est"] - p["ic_ref"]),
            to_err_ms=1000 * (p["to_est"] - p["to_ref"]),
            osc_err_cm=100 * (p["osc_est"] - p["osc_ref"]),
        )
        .groupby("slope_deg")[["ic_err_ms", "to_err_ms", "tc_err_ms", "osc_err_cm"]]
        .agg(lambda x: float(np.nanmean(np.abs(x))))
        .rename(columns=lambda c: c.replace("_err", " MAE"))
    )
    return pd.DataFrame(out), by_slope, {"trials": len(sessions)}


# =======================================================================================
# Part 3: RBDS motion capture (Fukuchi et al. 2017), a virtual sacral IMU
# =======================================================================================
#: (column, label, factor to the display unit, unit, target MAE or None)
RBDS_METRICS = [
    ("ic_s", "initial contact", 1000, "ms", None),
    ("to_s", "toe-off", 1000, "ms", None),
    ("contact_time_s", "contact time", 1000, "ms", None),
    ("vertical_oscillation_m", "vertical oscillation", 100, "cm", 0.5),
    ("lean_deg", "forward lean", 1, "deg", 1.5),
    ("lateral_lean_deg", "lateral lean", 1, "deg", None),
    ("pelvic_drop_deg", "pelvic drop", 1, "deg", 1.5),
    ("roll_range_deg", "roll range", 1, "deg", 1.5),
    ("yaw_range_deg", "yaw range", 1, "deg", 2.0),
]
#: the default mounting, and a second one (a seeded random rotation) to show independence
RBDS_MOUNTINGS = ("belt_clip", "random")
#: steps are matched within 60 ms for the metrics: the analysis' contacts are about 20 ms late
#: on this signal, with side-alternating spread, so a 40 ms window would drop up to 30 % of the
#: steps of a trial, the latest ones, and flatter every timing error (F1 at 40 ms is reported)
RBDS_TOLERANCE_S = 0.06


def _rbds_pairs(
    a: gait.Analysis, d: rbds.RbdsData, tolerance_s: float = RBDS_TOLERANCE_S
) -> tuple[pd.DataFrame, float]:
    """The analysis' running steps inside the compared run, matched to the truth by contact."""
    tru = d.steps
    lo, hi = tru["ic_s"].iloc[0] - tolerance_s, tru["ic_s"].iloc[-1] + tolerance_s
    s = a.steps
    det = s[(s["activity"] == "running") & s["complete"] & (s["ic_s"] >= lo) & (s["ic_s"] <= hi)]
    m = match_events(det["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=tolerance_s)
    D = det.iloc[m.detected_idx].reset_index(drop=True)
    T = tru.iloc[m.reference_idx].reset_index(drop=True)
    out = {f"{c}_{k}": X[c].to_numpy() for c, *_ in RBDS_METRICS for k, X in (("est", D), ("ref", T))}
    out |= {
        "side_est": D["side"].to_numpy(),
        "side_ref": T["side"].to_numpy(),
        "foot_strike_est": D["foot_strike"].to_numpy(),
        "foot_strike_ref": T["foot_strike"].to_numpy(),
        "foot_strike_class_ref": T["foot_strike_class"].to_numpy(),
        "valid_est": D["valid"].to_numpy(bool),
        "truth_step": m.reference_idx,
    }
    return pd.DataFrame(out), m.f1


def _agree_row(p: pd.DataFrame, col: str, factor: float) -> dict:
    v = p[p["valid_est"]]
    return agreement(v[f"{col}_est"] * factor, v[f"{col}_ref"] * factor)


def rbds_part(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every RBDS table (see `print_rbds`), as DataFrames."""
    from gait.core.events import running_events
    from gait.validation.truth import step_truth

    runs: dict[tuple[str, str], tuple[rbds.RbdsData, gait.Analysis, pd.DataFrame, float, float]] = {}
    diag, checks, truth_rows = [], [], []
    for k, tr in enumerate(rbds.TRIALS):
        for mounting in RBDS_MOUNTINGS:
            d = rbds.load_trial(tr, data_dir, mounting=mounting, seed=100 + k)
            a = gait.analyze(d.session)
            p, f1_60 = _rbds_pairs(a, d)
            _, f1 = _rbds_pairs(a, d, tolerance_s=0.04)
            runs[(tr.key, mounting)] = (d, a, p, f1, f1_60)
        d, a, p, *_ = runs[(tr.key, "belt_clip")]
        checks.append({"trial": tr.key, "runner": tr.runner, **rbds.self_checks(d)})
        st = d.steps
        cls = st["foot_strike_class"].value_counts()
        truth_rows.append(
            {
                "trial": tr.key,
                "runner": tr.runner,
                "nominal_mps": tr.nominal_speed_mps,
                "belt_mps": d.info["belt_speed_mps"],
                "events": st["event_source"].iloc[0],
                "steps": len(st),
                "standing": d.info["standing"],
                "foot_angle_median_deg": float(st["foot_angle_deg"].median()),
                "rearfoot": int(cls.get("rearfoot", 0)),
                "midfoot": int(cls.get("midfoot", 0)),
                "forefoot": int(cls.get("forefoot", 0)),
                **{f"{c}_median": float(st[c].median()) for c, *_ in RBDS_METRICS[2:]},
                "clinical_tilt_minus_lean_deg": float((st["clinical_tilt_deg"] - st["lean_deg"]).median()),
                "clinical_obliquity_minus_roll_range_deg": float(
                    (st["clinical_obliquity_range_deg"] - st["roll_range_deg"]).median()
                ),
                "clinical_rotation_minus_yaw_range_deg": float(
                    (st["clinical_rotation_range_deg"] - st["yaw_range_deg"]).median()
                ),
                "clinical_drop_minus_drop_deg": float(
                    (st["clinical_pelvic_drop_deg"] - st["pelvic_drop_deg"]).median()
                ),
            }
        )
        # --- diagnostics --------------------------------------------------------------------
        row: dict = {"trial": tr.key, "runner": tr.runner}
        R_est = np.asarray(a.frame["mounting"]["rotation"])
        D_rot = R_est @ d.info["ideal_mounting"].T  # ideal body axes in estimated body coordinates
        row["mounting_heading_error_deg"] = float(np.degrees(np.arctan2(D_rot[2, 1], D_rot[1, 1])))
        a_id = gait.analyze(d.session, mounting=d.info["ideal_mounting"])
        p_id, _ = _rbds_pairs(a_id, d)
        for c in ("lean_deg", "lateral_lean_deg", "pelvic_drop_deg", "roll_range_deg", "yaw_range_deg"):
            row[f"ideal_mounting_{c}_mae"] = _agree_row(p_id, c, 1)["mae"]
        # vertical oscillation on the analysis' own step windows
        det = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
        det = det[(det["ic_s"] >= st["ic_s"].iloc[0]) & (det["to_s"] <= st["ic_s"].iloc[-1])]
        sig = d.signals
        own = step_truth(
            t_s=sig["t_s"],
            ic_s=det["ic_s"],
            to_s=det["to_s"],
            side=det["side"],
            pitch=sig["pitch_rad"],
            roll=sig["roll_rad"],
            yaw=sig["yaw_rad"],
            height_m=sig["height_m"],
            standing_pitch_rad=0.0,
        )
        e = (det["vertical_oscillation_m"].to_numpy() - own["vertical_oscillation_m"].to_numpy()) * 100
        row["vo_own_windows_mae_cm"] = float(np.nanmean(np.abs(e)))
        row["step_time_mae_ms"] = float(np.nanmean(np.abs(_step_time_err(a, d)))) * 1000
        # the analysis' event detector on the true vertical specific force (no orientation
        # estimate involved), and on the force itself as the ideal centre-of-mass signal
        for name, x, fs, t0 in _event_inputs(d):
            ev_ = running_events(x, sampling_rate_hz=fs, t0=t0)
            ev_ = ev_[ev_["ok"]]
            m = match_events(ev_["ic_s"].to_numpy(), st["ic_s"].to_numpy(), tolerance_s=0.08)
            row[f"{name}_ic_bias_ms"] = float(
                np.median(ev_["ic_s"].to_numpy()[m.detected_idx] - st["ic_s"].to_numpy()[m.reference_idx]) * 1000
            )
            row[f"{name}_to_bias_ms"] = float(
                np.median(ev_["to_s"].to_numpy()[m.detected_idx] - st["to_s"].to_numpy()[m.reference_idx]) * 1000
            )
        v = p[p["valid_est"]]
        for sd in "LR":
            on = (v["side_ref"] == sd).to_numpy()
            row[f"ic_bias_{sd}_steps_ms"] = float(np.mean(v["ic_s_est"][on] - v["ic_s_ref"][on]) * 1000)
        # step time after left and right contacts: the analysis against the truth
        st_est = a.steps.set_index("ic_s")["step_time_s"].reindex(v["ic_s_est"]).to_numpy()
        for sd in "LR":
            on = (v["side_ref"] == sd).to_numpy()
            row[f"step_time_{sd}_analysis_ms"] = float(np.nanmedian(st_est[on]) * 1000)
            row[f"step_time_{sd}_truth_ms"] = float(st["step_time_s"][st["side"] == sd].median() * 1000)
        if d.force_n is not None:
            row["force_rearfoot_share_pct"] = _force_rearfoot_share(d.force_n)
        # the side rule: mean true yaw rate over left and right stances (+ = turning left)
        rate = np.gradient(sig["yaw_rad"].to_numpy()) * rbds.FS_HZ
        i = np.searchsorted(sig["t_s"].to_numpy(), st["ic_s"].to_numpy())
        j = np.searchsorted(sig["t_s"].to_numpy(), st["to_s"].to_numpy())
        c_ = np.concatenate([[0.0], np.cumsum(rate)])
        mean_rate = np.degrees((c_[j] - c_[i]) / np.maximum(j - i, 1))
        for sd in "LR":
            row[f"yaw_rate_{sd}_stance_dps"] = float(mean_rate[(st["side"] == sd).to_numpy()].mean())
        side_known = np.isin(p["side_est"], ["L", "R"])
        row["side_decided_pct"] = 100 * float(side_known.mean())
        row["side_correct_pct"] = (
            100 * float((p["side_est"][side_known] == p["side_ref"][side_known]).mean())
            if side_known.any()
            else float("nan")
        )
        swapped = st.assign(side=st["side"].map({"L": "R", "R": "L"}))
        sw = step_truth(
            t_s=sig["t_s"],
            ic_s=swapped["ic_s"],
            to_s=swapped["to_s"],
            side=swapped["side"],
            pitch=sig["pitch_rad"],
            roll=sig["roll_rad"],
            yaw=sig["yaw_rad"],
            height_m=sig["height_m"],
            standing_pitch_rad=0.0,
        )
        e_sw = np.abs(v["pelvic_drop_deg_est"].to_numpy() - sw["pelvic_drop_deg"].to_numpy()[v["truth_step"]])
        row["drop_mae_vs_swapped_sides_deg"] = float(np.nanmean(e_sw)) if np.isfinite(e_sw).any() else float("nan")
        diag.append(row)

    # --- agreement tables (long format) ---------------------------------------------------
    rows = []
    scopes = [("trial", t.key, [t.key]) for t in rbds.TRIALS]
    for r in sorted({t.runner for t in rbds.TRIALS}):
        scopes.append(("runner", f"runner {r}", [t.key for t in rbds.TRIALS if t.runner == r]))
    scopes.append(("all", "all trials", [t.key for t in rbds.TRIALS]))
    for mounting in RBDS_MOUNTINGS:
        for scope, name, keys in scopes:
            p = pd.concat([runs[(k, mounting)][2] for k in keys], ignore_index=True)
            f1 = [runs[(k, mounting)][3] for k in keys]
            f1_60 = [runs[(k, mounting)][4] for k in keys]
            base = {"scope": scope, "name": name, "mounting": mounting}
            rows.append({**base, "metric": "steps F1 (40 ms)", "n": len(p), "value": float(np.mean(f1)), "unit": ""})
            rows.append({**base, "metric": "steps F1 (60 ms)", "n": len(p), "value": float(np.mean(f1_60)), "unit": ""})
            for col, label, factor, unit, target in RBDS_METRICS:
                ag = _agree_row(p, col, factor)
                rows.append(
                    {
                        **base,
                        "metric": label,
                        **ag,
                        "unit": unit,
                        "target": f"MAE <= {target:g}" if target else "",
                        "met": (ag["mae"] <= target) if target and ag["n"] else None,
                    }
                )
            v = p[p["valid_est"]]
            for col, label, factor, unit, _target in RBDS_METRICS[3:]:
                # what a run summary reports: the median over the trial's steps
                # over the steps with both values (the same steps on both sides: a median over
                # steps that alternate by side jumps between the two sides' values otherwise)
                both = [
                    q[q[f"{col}_est"].notna() & q[f"{col}_ref"].notna()] for q in (runs[(k, mounting)][2] for k in keys)
                ]
                err = [np.median(q[f"{col}_est"]) - np.median(q[f"{col}_ref"]) for q in both if len(q)]
                rows.append(
                    {
                        **base,
                        "metric": f"{label}, trial median",
                        "n": len(err),
                        "bias": float(np.mean(err)) * factor if err else float("nan"),
                        "mae": float(np.mean(np.abs(err))) * factor if err else float("nan"),
                        "unit": unit,
                    }
                )
            known = np.isin(v["foot_strike_est"], ["rearfoot", "midfoot", "forefoot"])
            rows.append(
                {
                    **base,
                    "metric": "foot strike decided",
                    "n": len(v),
                    "value": 100 * float(known.mean()) if len(v) else float("nan"),
                    "unit": "%",
                }
            )
            rows.append(
                {
                    **base,
                    "metric": "rearfoot share, analysis",
                    "n": int(known.sum()),
                    "value": 100 * float((v["foot_strike_est"][known] == "rearfoot").mean())
                    if known.any()
                    else float("nan"),
                    "unit": "%",
                }
            )
            rows.append(
                {
                    **base,
                    "metric": "rearfoot share, foot markers",
                    "n": len(v),
                    "value": 100 * float((v["foot_strike_ref"] == "rearfoot").mean()),
                    "unit": "%",
                }
            )
            rows.append(
                {
                    **base,
                    "metric": "foot strike agreement",
                    "n": int(known.sum()),
                    "value": 100 * float((v["foot_strike_est"][known] == v["foot_strike_class_ref"][known]).mean())
                    if known.any()
                    else float("nan"),
                    "unit": "%",
                }
            )
            decided = np.isin(v["side_est"], ["L", "R"])
            rows.append(
                {
                    **base,
                    "metric": "side correct (of decided)",
                    "n": int(decided.sum()),
                    "value": 100 * float((v["side_est"][decided] == v["side_ref"][decided]).mean())
                    if decided.any()
                    else float("nan"),
                    "unit": "%",
                }
            )
    long = pd.DataFrame(rows)

    # --- mounting independence: the two mountings' per-step outputs ----------------------
    mind = []
    for tr in rbds.TRIALS:
        pa, pb = runs[(tr.key, "belt_clip")][2], runs[(tr.key, "random")][2]
        both = pa.merge(pb, on="truth_step", suffixes=("_a", "_b"))
        row = {"trial": tr.key, "steps": len(both)}
        for col, _label, factor, unit, _ in RBDS_METRICS:
            diff = np.abs(both[f"{col}_est_a"] - both[f"{col}_est_b"]).to_numpy() * factor
            row[f"{col} ({unit})"] = float(np.nanmax(diff)) if np.isfinite(diff).any() else float("nan")
        mind.append(row)

    # --- marker events against force --------------------------------------------------------
    mk = []
    lat, lvl = rbds.MARKER_IC_LATENCY_S, rbds.MARKER_TO_UPWARD_MPS
    folds = {"in sample (shipped constants)": {r: (lat, lvl) for r in (1, 2)}}
    folds["leave one runner out"] = {r: rbds.calibrate_marker_events(data_dir, runners=(3 - r,)) for r in (1, 2)}
    for fold, consts in folds.items():
        for r, (la, lv) in consts.items():
            pe = rbds.marker_event_pairs(data_dir, ic_latency_s=la, to_upward_mps=lv)
            pe = pe[pe["runner"] == r]
            for label, est, ref in (
                ("initial contact", pe["ic_markers_s"], pe["ic_force_s"]),
                ("toe-off", pe["to_markers_s"], pe["to_force_s"]),
                ("contact time", pe["to_markers_s"] - pe["ic_markers_s"], pe["to_force_s"] - pe["ic_force_s"]),
            ):
                ag = agreement(est * 1000, ref * 1000)
                mk.append(
                    {
                        "fold": fold,
                        "runner": r,
                        "latency_ms": 1000 * la,
                        "to_level_mps": lv,
                        "metric": label,
                        **ag,
                        "unit": "ms",
                    }
                )
    return {
        "agreement": long,
        "mounting_independence": pd.DataFrame(mind),
        "marker_events": pd.DataFrame(mk),
        "self_checks": pd.DataFrame(checks),
        "truth": pd.DataFrame(truth_rows),
        "diagnostics": pd.DataFrame(diag),
    }


def _step_time_err(a: gait.Analysis, d: rbds.RbdsData) -> np.ndarray:
    p, _ = _rbds_pairs(a, d)
    s = a.steps.set_index("ic_s")["step_time_s"]
    est = s.reindex(p["ic_s_est"]).to_numpy()
    ref = d.steps["step_time_s"].to_numpy()[p["truth_step"]]
    return (est - ref)[p["valid_est"].to_numpy()]


def _event_inputs(d: rbds.RbdsData) -> list[tuple[str, np.ndarray, float, float]]:
    """Signals the analysis' event detector is tried on: the true vertical specific force of
    the sacral point, and (with force) ``F / BW * g``, the centre of mass's."""
    sl = d.run
    out = [("true_vertical", d.imu.acc_world_mps2[sl, 2], rbds.FS_HZ, float(d.imu.t_s[sl][0]))]
    if d.force_n is not None:
        f = d.force_n
        out.append(("force", f / f.mean() * G, rbds.FORCE_FS_HZ, float(d.info["run_t0_s"])))
    return out


def _force_rearfoot_share(force_n: np.ndarray) -> float:
    """Share of steps the analysis calls rearfoot when given ``F / BW * g`` as a body-frame
    vertical signal (the centre of mass's specific force, after 10 s of standing)."""
    v = np.concatenate([np.full(3000, G), force_n / force_n.mean() * G])
    acc = np.column_stack([v, np.zeros_like(v), np.zeros_like(v)])
    s = gait.Session(
        t=np.arange(v.size) / rbds.FORCE_FS_HZ,
        acc=acc,
        gyr=None,
        frame="body",
        meta=gait.SessionMetadata(sampling_rate_hz=rbds.FORCE_FS_HZ),
    )
    st = gait.analyze(s).running_steps
    return 100 * float((st["foot_strike"] == "rearfoot").mean())


def _cell(r: pd.Series) -> str:
    if "value" in r and pd.notna(r.get("value")):
        return f"{r['value']:.3g}" if r["unit"] == "" else f"{r['value']:.0f}"
    if not r.get("n"):
        return "n/a"
    return f"{r['bias']:+.2f} / {r['mae']:.2f}"


def print_rbds(t: dict[str, pd.DataFrame]) -> None:
    """The RBDS tables as markdown."""
    tr = t["truth"]
    print("\n## RBDS motion capture (Fukuchi et al. 2017): a virtual sacral IMU against markers and force\n")
    print("What each trial is (truth from the markers, force where present):\n")
    cols = [
        "trial",
        "runner",
        "nominal_mps",
        "belt_mps",
        "events",
        "steps",
        "rearfoot",
        "midfoot",
        "forefoot",
        "foot_angle_median_deg",
    ]
    cols += [f"{c}_median" for c, *_ in RBDS_METRICS[2:]]
    print(_plain(tr[cols]))
    print("\nClinical pelvis angles (Baker 2001) minus the analysis' definitions, median per step (deg):\n")
    print(
        _plain(
            tr[
                [
                    "trial",
                    "clinical_tilt_minus_lean_deg",
                    "clinical_obliquity_minus_roll_range_deg",
                    "clinical_rotation_minus_yaw_range_deg",
                    "clinical_drop_minus_drop_deg",
                ]
            ]
        )
    )
    long = t["agreement"]
    for scope, title in (("trial", "Per trial"), ("runner", "Per runner (trials pooled)")):
        sub = long[(long["scope"] == scope) & (long["mounting"] == "belt_clip")]
        wide = sub.assign(cell=sub.apply(_cell, axis=1)).pivot(index="name", columns="metric", values="cell")
        order = ["steps F1 (40 ms)", "steps F1 (60 ms)", *[lab for _, lab, *_ in RBDS_METRICS]]
        order += [
            "rearfoot share, foot markers",
            "foot strike decided",
            "rearfoot share, analysis",
            "foot strike agreement",
            "side correct (of decided)",
        ]
        wide = wide[order].reindex(sub["name"].drop_duplicates())
        units = {lab: f"{lab} ({u})" for _, lab, _, u, _ in RBDS_METRICS}
        units |= {k: f"{k} (%)" for k in order[-5:]}
        print(
            f"\n{title}, belt clip: bias / MAE (estimate - truth), steps matched within 60 ms; IC and TO against force in r1_2.5 and r2_2.5, foot markers elsewhere\n"
        )
        print(
            _plain(
                wide.rename(columns=units)
                .reset_index()
                .rename(columns={"name": "trial" if scope == "trial" else "runner"})
            )
        )
    sub = long[(long["scope"] == "all") & (long["mounting"] == "belt_clip") & (long["target"].fillna("") != "")]
    per_trial = long[(long["scope"] == "trial") & (long["mounting"] == "belt_clip")]
    rows = []
    for _, r in sub.iterrows():
        pt = per_trial[per_trial["metric"] == r["metric"]]
        pt = pt[pt["n"] > 0]
        med = per_trial[per_trial["metric"] == f"{r['metric']}, trial median"]
        rows.append(
            {
                "metric": r["metric"],
                "n": r["n"],
                "bias": r["bias"],
                "mae": r["mae"],
                "loa_low": r["loa_low"],
                "loa_high": r["loa_high"],
                "unit": r["unit"],
                "worst trial MAE": f"{pt['mae'].max():.2f} ({pt.loc[pt['mae'].idxmax(), 'name']})",
                "trial medians: MAE (worst)": f"{med['mae'].mean():.2f} ({med['mae'].max():.2f})",
                "target": r["target"],
                "met": r["met"],
                "met in every trial": bool((pt["mae"] <= float(r["target"].split()[-1])).all()),
            }
        )
    print(
        "\nTargets (all five trials pooled, belt clip; a trial without the metric, e.g. pelvic drop when the side is undecided, is left out of 'every trial'; 'trial medians' compares the median over each trial's steps, what a run summary shows):\n"
    )
    print(_plain(pd.DataFrame(rows)))
    print("\nMounting independence: largest per-step difference between the belt clip and a random mounting:\n")
    print(_plain(t["mounting_independence"], fmt="{:.1e}"))
    mk = t["marker_events"]
    print("\nFoot-marker events against force (the truth of the trials without force):\n")
    print(
        _plain(
            mk[["fold", "runner", "latency_ms", "to_level_mps", "metric", "n", "bias", "mae", "loa_low", "loa_high"]]
        )
    )
    print("\nSelf-checks of the virtual IMU (over whole strides):\n")
    print(_plain(t["self_checks"]))
    print("\nDiagnostics (belt clip):\n")
    print(_plain(t["diagnostics"].set_index("trial").T.reset_index().rename(columns={"index": "quantity"})))


def _plain(df: pd.DataFrame, fmt: str = "{:.2f}") -> str:
    """A DataFrame as a markdown table (numbers to 2 decimals unless ``fmt`` says otherwise)."""
    cols = list(df.columns)
    lines = ["| " + " | ".join(str(c) for c in cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("yes" if v else "**no**")
            elif isinstance(v, (float, np.floating)):
                cells.append("" if np.isnan(v) else fmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _markdown(df: pd.DataFrame) -> str:
    cols = [
        c
        for c in ["metric", "n", "value", "bias", "mae", "rmse", "loa_low", "loa_high", "unit", "target", "met"]
        if c in df
    ]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if c == "met":
                cells.append("" if v is None or (isinstance(v, float) and np.isnan(v)) else ("yes" if v else "**no**"))
            elif isinstance(v, float):
                cells.append("" if np.isnan(v) else f"{v:.4g}" if c == "value" else f"{v:.2f}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# =======================================================================================
# Part 4: contact time and foot strike across slopes, stance shapes and runners
# =======================================================================================
def _real_runs(alc_dir: Path, rbds_dir: Path) -> list[dict]:
    """Every real trial: its session, reference contacts (force or foot markers), strike truth;
    and for every trial with force, a second run whose signal is the force itself as the
    centre of mass's vertical specific force (``signal`` "COM (force)")."""
    runs: list[dict] = []
    if (alc_dir / "trials.csv").is_file():
        from gait.readers import _alcantara

        trials = _alcantara.read_trials(alc_dir)
        force = _alcantara.read_force(alc_dir)
        for k, s in enumerate(gait.read_sessions(alc_dir)):
            c = force_plate_contacts(force[k], _alcantara.FS_HZ)
            slope = int(trials["Slope"].iloc[k])
            base = {
                "source": "Alcantara",
                "runner": "A",
                "trial": f"A{int(trials['trial'].iloc[k])}",
                "group": f"A {slope:+d} deg",
                "slope_deg": slope,
                "speed_mps": float(trials["Speed"].iloc[k]),
                "reference": "force",
            }
            ref = pd.DataFrame({"ic_s": c[:, 0], "to_s": c[:, 1], "strike": "rearfoot"})
            runs.append({**base, "signal": "sensor", "session": s, "ref": ref})
            runs.append({**base, **_com_run(force[k], _alcantara.FS_HZ, ref, 0.0)})
    if (rbds_dir / rbds.TRIALS[0].markers).is_file():
        for k, tr in enumerate(rbds.TRIALS):
            d = rbds.load_trial(tr, rbds_dir, seed=100 + k)
            st = d.steps
            base = {
                "source": "RBDS",
                "runner": f"r{tr.runner}",
                "trial": tr.key,
                "group": tr.key,
                "slope_deg": 0,
                "speed_mps": float(d.info["belt_speed_mps"]),
                "reference": st["event_source"].iloc[0],
            }
            ref = pd.DataFrame({"ic_s": st["ic_s"], "to_s": st["to_s"], "strike": st["foot_strike_class"].to_numpy()})
            runs.append({**base, "signal": "sensor", "session": d.session, "ref": ref, "data": d})
            if d.force_n is not None:
                fc = rbds.force_contacts(d.force_n, sampling_rate_hz=rbds.FORCE_FS_HZ)
                fref = pd.DataFrame({"ic_s": fc[:, 0], "to_s": fc[:, 1], "strike": None})
                runs.append({**base, **_com_run(d.force_n, rbds.FORCE_FS_HZ, fref, 0.0)})
    return runs


#: standing before a force-derived signal, s (the analysis wants a still posture first)
COM_STANDING_S = 10.0


def _com_run(force: np.ndarray, fs: float, ref: pd.DataFrame, t0: float) -> dict:
    """The force as a body-frame vertical signal, ``F / BW * g`` (the centre of mass's vertical
    specific force; body weight = the mean force over the trial), after `COM_STANDING_S` of
    standing, with its force contacts on the same clock. No forward axis: the toe-off is the
    descent's estimate alone."""
    k = round(COM_STANDING_S * fs)
    v = np.concatenate([np.full(k, G), np.asarray(force, float) / float(np.mean(force)) * G])
    s = gait.Session(
        t=t0 + np.arange(v.size) / fs,
        acc=np.column_stack([v, np.zeros_like(v), np.zeros_like(v)]),
        gyr=None,
        frame="body",
        meta=gait.SessionMetadata(sampling_rate_hz=fs),
    )
    shifted = ref.assign(ic_s=ref["ic_s"] + t0 + k / fs, to_s=ref["to_s"] + t0 + k / fs)
    return {"signal": "COM (force)", "session": s, "ref": shifted}


def _steps_vs_reference(run: dict, tolerance_s: float = 0.06) -> pd.DataFrame:
    """The run analysed; its valid running steps matched to the reference by contact."""
    a = gait.analyze(run["session"])
    det = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
    ref = run["ref"]
    m = match_events(det["ic_s"].to_numpy(), ref["ic_s"].to_numpy(), tolerance_s=tolerance_s)
    d = det.iloc[m.detected_idx]
    r = ref.iloc[m.reference_idx]
    out = pd.DataFrame(
        {
            "ic_est_s": d["ic_s"].to_numpy(),
            "ic_err_ms": 1000 * (d["ic_s"].to_numpy() - r["ic_s"].to_numpy()),
            "to_err_ms": 1000 * (d["to_s"].to_numpy() - r["to_s"].to_numpy()),
            "tc_est_s": d["contact_time_s"].to_numpy(),
            "tc_ref_s": (r["to_s"] - r["ic_s"]).to_numpy(),
            "strike_est": d["foot_strike"].to_numpy(),
            "strike_ref": r["strike"].to_numpy(),
            "transient_bw": d["impact_transient_bw"].to_numpy(),
            "background_bw": d["stance_background_bw"].to_numpy(),
            "collision_bw": d["collision_bw"].to_numpy(),
            "collision_background_bw": d["collision_background_bw"].to_numpy(),
            "confidence": d["foot_strike_confidence"].to_numpy(),
            "loading_rate_bw_per_s": d["loading_rate_mps3"].to_numpy() / G,
        }
    )
    out["tc_err_ms"] = 1000 * (out["tc_est_s"] - out["tc_ref_s"])
    for k in ("source", "runner", "trial", "group", "slope_deg", "speed_mps", "reference", "signal"):
        out[k] = run[k]
    out["forward"] = "forward" not in a.unavailable
    out["run_call"] = a.summary["foot_strike"]
    out["run_confidence"] = a.summary["foot_strike_confidence"]
    return out


#: the toe-off constants a fold fits
TOE_OFF_CONSTANTS = ("TO_DESCENT_LEAD", "TO_AP_LEAD", "TO_AP_WEIGHT")


def _ideal_shares(runs: list[dict]) -> pd.DataFrame:
    """Per step, the toe-off shares that would give the reference contact time.

    Two passes with the shares at 0: the descent's estimate alone (``TO_AP_WEIGHT = 0``: the
    toe-off is the descent's crossing) and the forward acceleration's alone (weight 1: its end
    of propulsion). For contact time ``tc``, a landmark ``x`` after the contact ``ic`` needs
    the share ``1 - (x - ic) / tc``. Steps are paired between the passes by their contact
    (the contact does not depend on these constants)."""
    with _patched(ev, TO_DESCENT_LEAD=0.0, TO_AP_WEIGHT=0.0):
        v = pd.concat([_steps_vs_reference(r) for r in runs], ignore_index=True)
    with _patched(ev, TO_AP_LEAD=0.0, TO_AP_WEIGHT=1.0):
        a = pd.concat([_steps_vs_reference(r) for r in runs], ignore_index=True)
    key = ["trial", "signal", "ic_est_s"]
    p = v.merge(a[[*key, "tc_est_s"]].rename(columns={"tc_est_s": "tc_ap0_s"}), on=key, how="left")
    p = p.rename(columns={"tc_est_s": "tc_v0_s"})
    p["ideal_descent"] = 1.0 - p["tc_v0_s"] / p["tc_ref_s"]
    # without a forward axis the second pass fell back on the descent: no antero-posterior share
    # (and a force-derived signal has no forward axis)
    p["ideal_ap"] = np.where(p["forward"] & (p["signal"] == "sensor"), 1.0 - p["tc_ap0_s"] / p["tc_ref_s"], np.nan)
    return p


def _fit_set(ideal: pd.DataFrame) -> pd.DataFrame:
    """The steps the constants are fitted on: the sensor's, against force."""
    return ideal[(ideal["reference"] == "force") & (ideal["signal"] == "sensor")]


def _fit_shares(ideal: pd.DataFrame, groups: list[str]) -> tuple[float, float]:
    """The two shares: the median over ``groups`` of each group's median ideal share."""
    fit = _fit_set(ideal)
    g = fit[fit["group"].isin(groups)].groupby("group")
    return float(np.median(g["ideal_descent"].median())), float(np.nanmedian(g["ideal_ap"].median()))


def _fit_constants(ideal: pd.DataFrame, groups: list[str]) -> dict[str, float]:
    """The three toe-off constants from the force-referenced sensor groups ``groups``.

    The shares as `_fit_shares`; the weight of the forward estimate from the evidence: for
    each training runner, the shares fitted without it give each estimate's contact-time bias
    on it; the weight is the descent's mean squared runner bias over the sum of both (inverse-
    variance weighting of two estimates). With fewer than two training runners there is no
    evidence and the weight is 0.5. (Slope groups as the unit instead of runners: weight 0.94
    in sample, but 0.62 without runner 2, whose contact time is then 16 ms short.)
    """
    o, q = _fit_shares(ideal, groups)
    fit = _fit_set(ideal)
    train = fit[fit["group"].isin(groups)]
    ms_v, ms_a = [], []
    for r in dict.fromkeys(train["runner"]):
        inner = [g for g in groups if g not in set(train.loc[train["runner"] == r, "group"])]
        if not inner:
            continue
        oi, qi = _fit_shares(ideal, inner)
        t = train[(train["runner"] == r) & train["forward"]]
        ms_v.append(float((t["tc_v0_s"] / (1 - oi) - t["tc_ref_s"]).mean()) ** 2)
        ms_a.append(float((t["tc_ap0_s"] / (1 - qi) - t["tc_ref_s"]).mean()) ** 2)
    w = float(np.mean(ms_v) / (np.mean(ms_v) + np.mean(ms_a))) if len(ms_v) >= 2 else 0.5
    return {"TO_DESCENT_LEAD": o, "TO_AP_LEAD": q, "TO_AP_WEIGHT": w}


def _contact_rows(p: pd.DataFrame, fold: str, by: str) -> list[dict]:
    rows = []
    for key, g in p.groupby([by, "signal", "reference"], sort=False):
        ag = agreement(g["tc_est_s"] * 1000, g["tc_ref_s"] * 1000)
        rows.append(
            {
                "fold": fold,
                by: key[0],
                "signal": key[1],
                "runner": g["runner"].iloc[0],
                "reference": key[2],
                "n": ag["n"],
                "ic_bias_ms": float(g["ic_err_ms"].mean()),
                "to_bias_ms": float(g["to_err_ms"].mean()),
                "contact_bias_ms": ag["bias"],
                "contact_mae_ms": ag["mae"],
                "loa_low_ms": ag["loa_low"],
                "loa_high_ms": ag["loa_high"],
            }
        )
    return rows


def _contact_folds(runs: list[dict], ideal: pd.DataFrame) -> list[dict]:
    """The folds: shipped constants (everything in sample), each Alcantara slope left out, each
    runner left out (a runner with no force trial is never fitted on: its fold is the shipped
    one). Each fold: its training groups, its constants, the runs it is tested on."""
    force = _fit_set(ideal)
    groups = list(dict.fromkeys(force["group"]))
    runner_of = dict(zip(force["group"], force["runner"], strict=False))
    folds: list[dict[str, Any]] = [{"fold": "in sample (shipped)", "held_out": "", "train": groups, "test": runs}]
    alc = [g for g in groups if runner_of[g] == "A"]
    for g in alc:
        train = [h for h in groups if h != g]
        folds.append(
            {"fold": "leave one slope out", "held_out": g, "train": train, "test": [r for r in runs if r["group"] == g]}
        )
    for r in list(dict.fromkeys(run["runner"] for run in runs)):
        train = [g for g in groups if runner_of[g] != r]
        folds.append(
            {
                "fold": "leave one runner out",
                "held_out": r,
                "train": train,
                "test": [run for run in runs if run["runner"] == r],
            }
        )
    for f in folds:
        f["constants"] = _fit_constants(ideal, f["train"])
    return folds


def _contact_tables(runs: list[dict]) -> dict[str, pd.DataFrame]:
    """Contact time per group, trial and runner for every fold, with and without the forward axis."""
    ideal = _ideal_shares(runs)
    folds = _contact_folds(runs, ideal)
    per_step, const_rows = [], []
    for f in folds:
        c = f["constants"]
        const_rows.append(
            {
                "fold": f["fold"],
                "held out": f["held_out"],
                "fitted on": ", ".join(f["train"]),
                **{k.lower(): v for k, v in c.items()},
            }
        )
        for variant, extra in (("with forward axis", {}), ("vertical only", {"TO_AP_WEIGHT": 0.0})):
            with _patched(ev, **{**c, **extra}):
                p = pd.concat([_steps_vs_reference(r) for r in f["test"]], ignore_index=True)
            p["fold"] = f["fold"]
            p["variant"] = variant
            per_step.append(p)
    steps = pd.concat(per_step, ignore_index=True)
    out: dict[str, pd.DataFrame] = {}
    for by, name in (("group", "contact_by_group"), ("trial", "contact_by_trial"), ("runner", "contact_by_runner")):
        rows = []
        for (variant, fold), g in steps.groupby(["variant", "fold"], sort=False):
            rows += [{"variant": variant, **r} for r in _contact_rows(g, str(fold), by)]
        out[name] = pd.DataFrame(rows)
    shipped = {k: getattr(ev, k) for k in TOE_OFF_CONSTANTS}
    const = pd.DataFrame(const_rows)
    const.loc[len(const)] = {
        "fold": "shipped in gait.core.events",
        "held out": "",
        "fitted on": "",
        **{k.lower(): v for k, v in shipped.items()},
    }
    out["toe_off_constants"] = const
    force = ideal[(ideal["reference"] == "force")]
    out["ideal_shares"] = (
        force.groupby(["signal", "group"], sort=False)
        .agg(
            steps=("ideal_descent", "size"),
            descent=("ideal_descent", "median"),
            forward=("ideal_ap", "median"),
        )
        .reset_index()
    )
    out["_folds"] = pd.DataFrame([{"fold": f["fold"], "held_out": f["held_out"], **f["constants"]} for f in folds])
    return out


# --- the evidence on the sacral signal at contact ----------------------------------------
#: offsets after the force's contact at which the signals are compared, ms
EVIDENCE_OFFSETS_MS = (10, 20)
#: de Leva (1996) segment masses (share of body mass, male): thigh, shank, foot; the rest
#: (head, arms, trunk) is taken to move with the pelvis
SEGMENT_MASS = {"Thigh": 0.1416, "Shank": 0.0433, "Foot": 0.0137}


def _rise_stats(sig: np.ndarray, t: np.ndarray, ics: np.ndarray, tos: np.ndarray) -> dict[str, float]:
    """A vertical signal (g) around the force's contacts: its median at `EVIDENCE_OFFSETS_MS`
    after them, the median delay of its first rise through 0.5 g, its median at toe-off."""
    out = {}
    for o in EVIDENCE_OFFSETS_MS:
        out[f"at +{o} ms (g)"] = float(np.median(np.interp(ics + o / 1000, t, sig)))
    grid = np.arange(-0.06, 0.15, 0.0005)
    seg = np.interp(ics[:, None] + grid[None, :], t, sig)
    above = seg > 0.5
    # the first crossing after the last time it was below 0.5 g before the contact's window start
    first = np.argmax(above & (np.cumsum(~above, axis=1) > 0), axis=1)
    ok = above.any(axis=1) & (first > 0)
    out["0.5 g crossing after contact (ms)"] = float(np.median(1000 * grid[first[ok]])) if ok.any() else float("nan")
    out["at toe-off (g)"] = float(np.median(np.interp(tos, t, sig)))
    return out


def _stance_lag_ms(sig: np.ndarray, t: np.ndarray, ref: np.ndarray, tr: np.ndarray, ics: np.ndarray) -> float:
    """Lag (ms, + = ``sig`` later) that best aligns ``sig`` with ``ref`` over the stances (-60
    to +300 ms of each contact), by correlation."""
    grid = np.arange(-0.06, 0.30, 0.001)
    r0 = np.interp(ics[:, None] + grid[None, :], tr, ref).ravel()
    lags = np.arange(-40, 41) / 1000
    cc = [np.corrcoef(r0, np.interp(ics[:, None] + grid[None, :] + lag, t, sig).ravel())[0, 1] for lag in lags]
    return float(1000 * lags[int(np.argmax(cc))])


def _flight_level(sig_g: np.ndarray, fs: float) -> float:
    """The flight level as the event detector estimates it (g): the median over the flights of
    the signal within `gait.core.events.FLIGHT_HALF_WINDOW_S` of each 5 Hz trough."""
    from scipy.signal import find_peaks

    sm = lowpass(sig_g, fs, 5.0)
    pk, _ = find_peaks(sm, height=1.2, distance=int(0.2 * fs), prominence=0.4)
    if pk.size < 3:
        return float("nan")
    tr = ev._ranges_argmin(sm, pk[:-1], pk[1:])
    hw = max(int(ev.FLIGHT_HALF_WINDOW_S * fs), 1)
    return float(np.median(np.median(sig_g[np.clip(tr[:, None] + np.arange(-hw, hw + 1), 0, sig_g.size - 1)], axis=1)))


def _marker_com_vertical(d: rbds.RbdsData, data_dir: Path, cutoff_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertical specific force (g) of the sacral point and of a segment model of the centre of
    mass from the markers (the pelvis carrying head, arms and trunk; thighs, shanks and feet
    from their marker clusters, `SEGMENT_MASS`), run clock, at `rbds.FS_HZ`."""
    from scipy.interpolate import make_interp_spline

    from gait.validation.virtual_imu import zero_lag_lowpass

    lab = rbds.read_markers(data_dir / d.trial.markers)
    W, _ = rbds.world_frame(lab)
    w = {k: v @ W.T for k, v in lab.items()}

    def filled(x: np.ndarray) -> np.ndarray:
        x = x.copy()
        for j in range(3):
            bad = ~np.isfinite(x[:, j])
            if bad.any():
                x[bad, j] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), x[~bad, j])
        return x

    def acc_up(names: list[str]) -> np.ndarray:
        p = np.mean([filled(w[k]) for k in names if k in w], axis=0)[:, 2]
        f = zero_lag_lowpass(p, sampling_rate_hz=rbds.FS_HZ, cutoff_hz=cutoff_hz)
        tt = np.arange(f.size) / rbds.FS_HZ
        return make_interp_spline(tt, f, k=5).derivative(2)(tt)

    sac = acc_up(["R.PSIS", "L.PSIS"])
    com = (1 - 2 * sum(SEGMENT_MASS.values())) * sac
    for side in "RL":
        com = com + SEGMENT_MASS["Thigh"] * acc_up(
            [f"{side}.Thigh.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")]
        )
        com = com + SEGMENT_MASS["Shank"] * acc_up(
            [f"{side}.Shank.{a}.{b}" for a in ("Top", "Bottom") for b in ("Lateral", "Medial")]
        )
        com = com + SEGMENT_MASS["Foot"] * acc_up(
            [f"{side}.Heel.Top", f"{side}.Heel.Bottom", f"{side}.MT1", f"{side}.MT5"]
        )
    return (sac + G) / G, (com + G) / G


def _contact_evidence(runs: list[dict], alc_dir: Path, rbds_dir: Path) -> pd.DataFrame:
    """What the sacral signal does at contact, against the force (every signal on the force's
    contacts): the real accelerometer (Alcantara, per slope), the virtual one (RBDS force
    trials, the analysis' level vertical), the force itself, the sacral point's marker motion
    at three filter cutoffs, a segment model of the centre of mass from the markers, and the
    raw triaxial recording (no reference: its flight level only)."""
    rows: list[dict] = []
    for run in runs:
        if run["signal"] != "sensor" or run["reference"] != "force":
            continue
        a = gait.analyze(run["session"])
        fs = run["session"].meta.sampling_rate_hz
        v = a.signals.acc[:, 0] / G
        t = run["session"].t
        ref = run["ref"]
        ics, tos = ref["ic_s"].to_numpy(), ref["to_s"].to_numpy()
        ics, tos = ics[2:-2], tos[2:-2]
        if run["source"] == "Alcantara":
            from gait.readers import _alcantara

            k = int(run["trial"][1:])
            trials = _alcantara.read_trials(alc_dir)
            row = int(np.flatnonzero(trials["trial"].to_numpy() == k)[0])
            f = _alcantara.read_force(alc_dir)[row]
            tf = np.arange(f.size) / _alcantara.FS_HZ
        else:
            d = run["data"]
            f = d.force_n / d.force_n.mean()
            tf = d.info["run_t0_s"] + np.arange(f.size) / rbds.FORCE_FS_HZ
            ics, tos = ics, tos
        run_sel = (t >= tf[0]) & (t <= tf[-1])
        base = {"source": run["source"], "group": run["group"], "trial": run["trial"]}
        # the sensor as an affine image of the force with the same mean, s - 1 = a (F - 1)
        fi = np.interp(t[run_sel], tf, f)
        a_fit = float(np.sum((v[run_sel] - 1) * (fi - 1)) / np.sum((fi - 1) ** 2))
        rows.append(
            {
                **base,
                "signal": "sensor (analysis' level vertical)",
                **_rise_stats(v, t, ics, tos),
                "stance lag vs force (ms)": _stance_lag_ms(v, t, f, tf, ics),
                "flight level (g)": _flight_level(v[run_sel], fs),
                "a in s = a F + 1 - a": a_fit,
            }
        )
        rows.append(
            {
                **base,
                "signal": "force, F / BW",
                **_rise_stats(f, tf, ics, tos),
                "stance lag vs force (ms)": 0.0,
                "flight level (g)": _flight_level(f, 1.0 / (tf[1] - tf[0])),
            }
        )
        if run["source"] == "RBDS":
            d = run["data"]
            for cutoff in (12.0, 20.0, 30.0):
                sac, com = _marker_com_vertical(d, rbds_dir, cutoff)
                tm = d.info["run_t0_s"] + np.arange(sac.size) / rbds.FS_HZ
                rows.append(
                    {
                        **base,
                        "signal": f"sacral point, markers at {cutoff:g} Hz",
                        **_rise_stats(sac, tm, ics, tos),
                        "stance lag vs force (ms)": _stance_lag_ms(sac, tm, f, tf, ics),
                        "flight level (g)": _flight_level(sac, rbds.FS_HZ),
                    }
                )
                if cutoff == 20.0:
                    rows.append(
                        {
                            **base,
                            "signal": "segment model of the centre of mass, markers at 20 Hz",
                            **_rise_stats(com, tm, ics, tos),
                            "stance lag vs force (ms)": _stance_lag_ms(com, tm, f, tf, ics),
                            "flight level (g)": _flight_level(com, rbds.FS_HZ),
                        }
                    )
    ev_rows = pd.DataFrame(rows)
    if len(ev_rows):
        num = [c for c in ev_rows.columns if c not in ("source", "group", "trial", "signal")]
        ev_rows = ev_rows.groupby(["source", "group", "signal"], sort=False)[num].median().reset_index()
    raw = alc_dir / "raw_triaxial_unlabelled_512hz.csv"
    if raw.is_file():
        d = pd.read_csv(raw)
        acc = np.column_stack([-d["Accel_LN_X"], d["Accel_LN_Y"], -d["Accel_LN_Z"]]) / G
        up = acc.mean(axis=0) / np.linalg.norm(acc.mean(axis=0))
        v = acc @ up
        ev_rows.loc[len(ev_rows)] = {
            "source": "raw triaxial (unclipped, no reference)",
            "group": "",
            "signal": "level vertical, mean gravity direction",
            "flight level (g)": _flight_level(v, 512.0),
        }
    return ev_rows


def _simulator_shapes(quick: bool, constants: dict[str, float] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Contact time for two stance shapes and three strikes; foot strike per class (with the
    toe-off ``constants`` of a fold, else the shipped ones)."""
    with _patched(ev, **(constants or {})):
        return _simulator_shapes_run(quick)


def _simulator_shapes_run(quick: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    ct, fs_rows = [], []
    speeds = (2.5, 4.2) if quick else (2.5, 3.5, 4.2)
    k = 0
    for skew in (0.0, 0.35):
        for kind in STRIKE_CLASSES:
            for fs in (100.0, 200.0):
                for noise in ("typical", "noisy"):
                    for speed in speeds:
                        k += 1
                        form = Form(
                            stance_skew=skew,
                            rearfoot_share=float(kind == "rearfoot"),
                            midfoot_share=float(kind == "midfoot"),
                        )
                        cfg = SimulationConfig(
                            duration_s=60.0,
                            seed=5000 + k,
                            speed_mps=speed,
                            sampling_rate_hz=fs,
                            sensor=NOISE[noise],
                            mounting="random",
                            form=form,
                        )
                        sim = gait.simulate(cfg)
                        a = gait.analyze(sim.session)
                        det = a.running_steps
                        tru = sim.steps[sim.steps["activity"] == "running"]
                        _, p = compare_steps(
                            det, tru, columns={"contact_time_s": "contact_time_s", "foot_strike": "foot_strike"}
                        )
                        e = 1000 * (p["contact_time_s_est"] - p["contact_time_s_ref"])
                        shape = "symmetric half sine (skew 0)" if skew == 0 else "default skewed (skew 0.35)"
                        ct.append(
                            {
                                "stance": shape,
                                "strike": kind,
                                "fs_hz": fs,
                                "noise": noise,
                                "speed_mps": speed,
                                "n": len(e),
                                "bias": float(e.mean()),
                                "mae": float(e.abs().mean()),
                            }
                        )
                        est = p["foot_strike_est"]
                        fs_rows.append(
                            {
                                "strike": kind,
                                "stance": shape,
                                "fs_hz": fs,
                                "noise": noise,
                                "speed_mps": speed,
                                "n": len(est),
                                "correct_pct": 100 * float((est == kind).mean()),
                                "uncertain_pct": 100 * float((est == "uncertain").mean()),
                                "wrong_pct": 100 * float((~est.isin([kind, "uncertain"])).mean()),
                                "run_call": a.summary["foot_strike"],
                            }
                        )
    return pd.DataFrame(ct), pd.DataFrame(fs_rows)


def contact_strike_part(alc_dir: Path, rbds_dir: Path, quick: bool) -> dict[str, pd.DataFrame]:
    """Every table of part 4 (see `print_contact_strike`)."""
    runs = _real_runs(alc_dir, rbds_dir)
    out: dict[str, pd.DataFrame] = {}
    if runs:
        # --- contact time: the toe-off constants fitted per fold, each fold re-analysed ----------
        tables = _contact_tables(runs)
        folds = tables.pop("_folds")
        out |= tables
        out["contact_evidence"] = _contact_evidence(runs, alc_dir, rbds_dir)
        runs = [r for r in runs if r["signal"] == "sensor"]
        out |= strike_tables(runs, _steps_vs_reference, quick, rbds_dir)
    sim_ct, sim_fs = _simulator_shapes(quick)
    sim_ct["constants"] = "shipped"
    parts = [sim_ct]
    if runs:
        for f in folds[folds["fold"] == "leave one runner out"].to_dict("records"):
            c = {k: float(f[k]) for k in TOE_OFF_CONSTANTS}
            parts.append(_simulator_shapes(True, c)[0].assign(constants=f"leave {f['held_out']} out"))
    out["sim_contact"] = pd.concat(parts, ignore_index=True)
    out["sim_strike"] = sim_fs
    return out


def print_contact_strike(t: dict[str, pd.DataFrame]) -> None:
    """Part 4's tables as markdown."""
    print("\n## Contact time and foot strike across slopes, stance shapes and runners\n")
    if "contact_by_group" in t:
        print(
            "Toe-off constants (`gait.core.events.TO_DESCENT_LEAD`, `TO_AP_LEAD`: median over the training groups of each "
            "group's median ideal share; `TO_AP_WEIGHT`: inverse-variance weight of the two estimates from their "
            "runner-level biases, leave one runner out within the training runners), fitted per fold:\n"
        )
        print(_plain(t["toe_off_constants"], fmt="{:.3f}"))
        print("\nIdeal shares per group (what each group alone would need; sensor and force-derived signal):\n")
        print(_plain(t["ideal_shares"], fmt="{:.3f}"))
        print(
            "\nContact time per group (ms; IC / TO bias against force, or the foot markers for r2_3.5, r2_4.5, r3_3.5; "
            "steps matched within 60 ms; signal: the sensor, or the force itself as the centre of mass's vertical "
            "specific force):\n"
        )
        cg = t["contact_by_group"]
        print(_plain(cg[cg["variant"] == "with forward axis"].drop(columns="variant")))
        print("\nContact time per runner (trials pooled per reference, ms):\n")
        cr = t["contact_by_runner"]
        print(_plain(cr[cr["variant"] == "with forward axis"].drop(columns="variant")))
        print("\nWithout a forward axis (the descent's estimate alone), per group (ms):\n")
        print(_plain(cg[(cg["variant"] == "vertical only") & (cg["signal"] == "sensor")].drop(columns="variant")))
        print("\nContact time per trial (ms, with forward axis):\n")
        ct = t["contact_by_trial"]
        print(_plain(ct[ct["variant"] == "with forward axis"].drop(columns="variant")))
        print(
            "\nThe sacral signal at contact, against the force's contact (medians over steps and trials; "
            "g; + lag = later than the force):\n"
        )
        print(_plain(t["contact_evidence"]))
        print_strike(t, _plain)
    print(
        "\nSimulator: contact time for two stance shapes and three strikes (ms; shipped constants on the full grid, "
        "each leave-one-runner-out fold's on the quick grid):\n"
    )
    sc = t["sim_contact"]
    summ = (
        sc.groupby(["constants", "stance", "strike"], sort=False)
        .apply(
            lambda g: pd.Series(
                {
                    "runs": len(g),
                    "steps": int(g["n"].sum()),
                    "bias": float(np.average(g["bias"], weights=g["n"])),
                    "mae": float(np.average(g["mae"], weights=g["n"])),
                    "worst run |bias|": float(g["bias"].abs().max()),
                }
            ),
            include_groups=False,
        )
        .reset_index()
    )
    print(_plain(summ))
    print("\nSimulator: foot strike per class (steps, %):\n")
    ss = t["sim_strike"]
    summ = (
        ss.groupby(["strike", "fs_hz", "noise"], sort=False)
        .apply(
            lambda g: pd.Series(
                {
                    "runs": len(g),
                    "steps": int(g["n"].sum()),
                    "correct": float(np.average(g["correct_pct"], weights=g["n"])),
                    "uncertain": float(np.average(g["uncertain_pct"], weights=g["n"])),
                    "wrong": float(np.average(g["wrong_pct"], weights=g["n"])),
                    "runs called right": int((g["run_call"] == g.name[0]).sum()),
                }
            ),
            include_groups=False,
        )
        .reset_index()
    )
    print(_plain(summ))


# =======================================================================================
# Part 6: vertical oscillation (the definition, its sensitivity, the cutoff left out)
# =======================================================================================
#: the high-pass cutoffs swept for the height (`gait.core._steps.HEIGHT_HIGHPASS_HZ`), Hz
VO_CUTOFFS_HZ = (0.1, 0.2, 0.3, 0.4, 0.5, 0.7)


def _height_ranges(t: np.ndarray, z: np.ndarray, ic_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step (contact to next contact, samples at the rounded contacts included): max - min of
    the height, and the same with the line between the heights at the two contacts removed."""
    half = 0.5 * float(np.median(np.diff(t)))
    i = np.clip(np.searchsorted(t, ic_s - half), 0, t.size - 1)
    rng, line = [], []
    for a, b in itertools.pairwise(i):  # tens of steps per trial
        w = z[a : b + 1]
        rng.append(np.ptp(w))
        line.append(np.ptp(w - (w[0] + np.linspace(0.0, 1.0, w.size) * (w[-1] - w[0]))))
    return np.append(rng, np.nan), np.append(line, np.nan)


def _com_per_stride(force_bw: np.ndarray, fs: float, contacts_s: np.ndarray) -> np.ndarray:
    """Centre-of-mass excursion per step from the force, integrated over whole strides.

    ``(F / BW - 1) g`` is integrated from a contact to the next contact of the same foot (two
    steps later), the mean velocity removed (no net change in height over a stride, which lets
    the two steps' landing heights differ) and integrated again; the step's value is max - min
    of that height from its contact to the next, the mean over the (up to two) strides holding it.
    """
    t = np.arange(force_bw.size) / fs
    a = (np.asarray(force_bw, dtype=float) - 1.0) * G
    k_n = contacts_s.size
    out = np.full(k_n, np.nan)
    for k in range(k_n - 1):  # tens of steps per trial
        vals = []
        for s0, s1 in ((k, k + 2), (k - 1, k + 1)):
            if s0 < 0 or s1 >= k_n:
                continue
            m = (t >= contacts_s[s0]) & (t <= contacts_s[s1])
            tt, aa = t[m], a[m]
            v = np.concatenate([[0.0], np.cumsum((aa[1:] + aa[:-1]) / 2 * np.diff(tt))])
            v -= np.trapezoid(v, tt) / (tt[-1] - tt[0])
            z = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(tt))])
            w = (tt >= contacts_s[k]) & (tt <= contacts_s[k + 1])
            vals.append(np.ptp(z[w]))
        if vals:
            out[k] = float(np.mean(vals))
    return out


def _alternation_cm(heights_m: np.ndarray) -> float:
    """Mean side-to-side difference of consecutive landing heights, cm (half of it each way)."""
    dz = np.diff(heights_m)
    dz = dz[np.isfinite(dz)]
    sign = np.where(np.arange(dz.size) % 2 == 0, 1.0, -1.0)
    return 100 * abs(float(np.mean(dz * sign)))


def vo_part(rbds_dir: Path, alc_dir: Path) -> dict[str, pd.DataFrame]:
    """Vertical oscillation: RBDS per trial and runner against both definitions of the truth,
    how each definition moves with its contacts, the cutoff left one runner out, Alcantara
    against the force per step and per stride."""
    out: dict[str, pd.DataFrame] = {}
    if (rbds_dir / rbds.TRIALS[0].markers).is_file():
        rng = np.random.default_rng(5)
        trials = {
            tr.key: (tr, rbds.load_trial(tr, rbds_dir, mounting="belt_clip", seed=100 + k))
            for k, tr in enumerate(rbds.TRIALS)
        }
        sens: list[dict[str, Any]] = []
        sweep: list[dict[str, Any]] = []
        for key, (tr, d) in trials.items():
            st, sig = d.steps, d.signals
            t, z = sig["t_s"].to_numpy(float), sig["height_m"].to_numpy(float)
            ic = st["ic_s"].to_numpy()
            vo, vo_line = _height_ranges(t, z, ic)
            row: dict[str, Any] = {"trial": key, "runner": tr.runner, "events": st["event_source"].iloc[0]}
            row["landing_height_alternation_cm"] = _alternation_cm(np.interp(ic, t, z))
            row["sacrum_speed_at_contact_mps"] = float(np.median(np.interp(ic, t, np.gradient(z, t))))
            for sd_ms in (2.0, 5.0, 10.0):
                moved = ic + rng.normal(0.0, sd_ms / 1000, ic.size)
                r2, l2 = _height_ranges(t, z, np.sort(moved))
                row[f"range_moves_{sd_ms:g}ms_cm"] = 100 * float(np.nanmean(np.abs(r2 - vo)))
                row[f"line_moves_{sd_ms:g}ms_cm"] = 100 * float(np.nanmean(np.abs(l2 - vo_line)))
            row["line_minus_range_mae_cm"] = 100 * float(np.nanmean(np.abs(vo_line - vo)))
            sens.append(row)
            for fc in VO_CUTOFFS_HZ:
                with _patched(gm, HEIGHT_HIGHPASS_HZ=fc):
                    a = gait.analyze(d.session)
                p, _ = _rbds_pairs(a, d)
                p = p[p["valid_est"]]
                est = p["vertical_oscillation_m_est"].to_numpy()
                line_ref = vo_line[p["truth_step"].to_numpy()]
                e = 100 * (est - p["vertical_oscillation_m_ref"].to_numpy())
                el = 100 * (est - line_ref)
                rec = {"trial": key, "runner": tr.runner, "cutoff_hz": fc, "n": int(np.isfinite(e).sum())}
                rec |= {"abs_err_sum_cm": float(np.nansum(np.abs(e))), "err_sum_cm": float(np.nansum(e))}
                rec |= {"abs_err_line_sum_cm": float(np.nansum(np.abs(el))), "err_line_sum_cm": float(np.nansum(el))}
                sweep.append(rec)
        sw = pd.DataFrame(sweep)
        shipped = gm.HEIGHT_HIGHPASS_HZ
        res = []
        for scope, by in (("trial", "trial"), ("runner", "runner")):
            g = (
                sw[sw["cutoff_hz"] == shipped]
                .groupby(by)[["n", "abs_err_sum_cm", "err_sum_cm", "abs_err_line_sum_cm", "err_line_sum_cm"]]
                .sum()
            )
            for name, r in g.iterrows():
                res.append(
                    {
                        "scope": scope,
                        "name": f"runner {name}" if scope == "runner" else name,
                        "n": int(r["n"]),
                        "bias_cm": r["err_sum_cm"] / r["n"],
                        "mae_cm": r["abs_err_sum_cm"] / r["n"],
                        "bias_vs_contact_line_truth_cm": r["err_line_sum_cm"] / r["n"],
                        "mae_vs_contact_line_truth_cm": r["abs_err_line_sum_cm"] / r["n"],
                    }
                )
        out["vo_rbds"] = pd.DataFrame(res)
        out["vo_truth_sensitivity"] = pd.DataFrame(sens)
        per = sw.groupby(["runner", "cutoff_hz"])[["n", "abs_err_sum_cm"]].sum()
        per["mae_cm"] = per["abs_err_sum_cm"] / per["n"]
        sweep_wide = per["mae_cm"].unstack("cutoff_hz").rename(columns=lambda c: f"{c:g} Hz").reset_index()
        out["vo_cutoff_sweep"] = sweep_wide.assign(runner=sweep_wide["runner"].astype(str))
        loro = []
        for runner in sorted(sw["runner"].unique()):
            rest = sw[sw["runner"] != runner].groupby("cutoff_hz")[["n", "abs_err_sum_cm"]].sum()
            pick = float((rest["abs_err_sum_cm"] / rest["n"]).idxmin())
            held = per.loc[(runner, pick), "mae_cm"]
            loro.append(
                {
                    "held_out_runner": str(runner),
                    "cutoff_picked_on_the_others_hz": pick,
                    "held_out_mae_cm": held,
                    "shipped_mae_cm": per.loc[(runner, shipped), "mae_cm"],
                }
            )
        out["vo_cutoff_loro"] = pd.DataFrame(loro)
    if (alc_dir / "trials.csv").is_file():
        from gait.evaluation import com_excursion_from_force
        from gait.readers import _alcantara

        sessions = gait.read_sessions(alc_dir)
        force = _alcantara.read_force(alc_dir)
        slope = _alcantara.read_trials(alc_dir)["Slope"].to_numpy()
        fs = _alcantara.FS_HZ
        rows = []
        for k, s in enumerate(sessions):
            a = gait.analyze(s)
            det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
            c = force_plate_contacts(force[k], fs)[:, 0]
            m = match_events(det["ic_s"].to_numpy(), c, tolerance_s=0.04)
            est = det["vertical_oscillation_m"].to_numpy()[m.detected_idx]
            per_step = np.append(com_excursion_from_force(force[k], fs, c), np.nan)[m.reference_idx]
            per_stride = _com_per_stride(force[k], fs, c)[m.reference_idx]
            ok = np.isfinite(est) & np.isfinite(per_step) & np.isfinite(per_stride)
            rows.append(
                {
                    "trial": k,
                    "slope_deg": slope[k],
                    "n": int(ok.sum()),
                    "abs_step_sum_cm": 100 * float(np.sum(np.abs(est - per_step)[ok])),
                    "abs_stride_sum_cm": 100 * float(np.sum(np.abs(est - per_stride)[ok])),
                    "median_err_step_cm": 100 * float(np.median(est[ok]) - np.median(per_step[ok])),
                    "median_err_stride_cm": 100 * float(np.median(est[ok]) - np.median(per_stride[ok])),
                    "com_landing_alternation_cm": _alternation_cm(_com_landing_heights(force[k], fs, c)),
                }
            )
        al = pd.DataFrame(rows)
        al = pd.concat([al.assign(slope_deg=al["slope_deg"].map(lambda x: f"{x:+g} deg")), al.assign(slope_deg="all")])
        g = al.groupby("slope_deg", sort=False)
        out["vo_alcantara"] = pd.DataFrame(
            {
                "n": g["n"].sum().astype(str),
                "mae_vs_com_per_step_cm": g["abs_step_sum_cm"].sum() / g["n"].sum(),
                "mae_vs_com_per_stride_cm": g["abs_stride_sum_cm"].sum() / g["n"].sum(),
                "trial_median_abs_err_per_step_cm": g["median_err_step_cm"].apply(lambda x: float(np.mean(np.abs(x)))),
                "trial_median_abs_err_per_stride_cm": g["median_err_stride_cm"].apply(
                    lambda x: float(np.mean(np.abs(x)))
                ),
                "com_landing_alternation_cm": g["com_landing_alternation_cm"].median(),
            }
        ).reset_index()
    return out


def _com_landing_heights(force_bw: np.ndarray, fs: float, contacts_s: np.ndarray) -> np.ndarray:
    """Height of the centre of mass at each middle contact of a stride relative to the stride's
    first (the stride integrated as in `_com_per_stride`)."""
    t = np.arange(force_bw.size) / fs
    a = (np.asarray(force_bw, dtype=float) - 1.0) * G
    h = []
    for k in range(contacts_s.size - 2):  # tens of strides per trial
        m = (t >= contacts_s[k]) & (t <= contacts_s[k + 2])
        tt, aa = t[m], a[m]
        v = np.concatenate([[0.0], np.cumsum((aa[1:] + aa[:-1]) / 2 * np.diff(tt))])
        v -= np.trapezoid(v, tt) / (tt[-1] - tt[0])
        z = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(tt))])
        h.append(float(np.interp(contacts_s[k + 1], tt, z)))
    # heights relative to alternate references: the differences of consecutive values
    # alternate in sign as the landing heights do
    return np.cumsum(np.append(0.0, h))


def print_vo(t: dict[str, pd.DataFrame]) -> None:
    """The vertical-oscillation tables as markdown."""
    print("\n## Vertical oscillation\n")
    if "vo_rbds" in t:
        print(
            f"RBDS, belt clip, cutoff {gm.HEIGHT_HIGHPASS_HZ:g} Hz: estimate - truth (max - min of the sacral point's height from contact to next contact), and against the previous truth (the line between the heights at the two contacts removed):\n"
        )
        print(_plain(t["vo_rbds"]))
        print(
            "\nHow each definition of the truth moves with its own contacts (RBDS; contacts moved by a normal error of 2, 5, 10 ms SD):\n"
        )
        print(_plain(t["vo_truth_sensitivity"]))
        print("\nPer-runner MAE (cm) by high-pass cutoff (Hz):\n")
        print(_plain(t["vo_cutoff_sweep"]))
        print("\nCutoff picked on two runners (lowest pooled MAE), applied to the third:\n")
        print(_plain(t["vo_cutoff_loro"]))
    if "vo_alcantara" in t:
        print(
            "\nAlcantara (sacral sensor) against the force's centre of mass, per step (the previous reference: the line between the contact heights removed) and per stride (same-foot contact to contact: the landing heights may differ), by slope:\n"
        )
        print(_plain(t["vo_alcantara"]))


# =======================================================================================
# output
# =======================================================================================
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller simulator grid")
    ap.add_argument("--json", type=Path, help="also write the tables as JSON")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="which parts to run")
    ap.add_argument(
        "--real-data",
        type=Path,
        default=REAL,
        help="folder of the Alcantara et al. (2022) recordings (default: in GAIT_SHARED_DATA)",
    )
    ap.add_argument(
        "--rbds-data",
        type=Path,
        default=RBDS,
        help="folder of the RBDS (Fukuchi et al. 2017) motion-capture files (default: in GAIT_SHARED_DATA)",
    )
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)
    t0 = time.perf_counter()
    result: dict = {}
    if "simulator" in args.parts:
        sim, info = simulator_part(args.quick)
        print(
            f"## Simulator truth ({info['runs']} runs: 4 speeds x 4 mountings x 3 noise levels, 100/200 Hz; {info['steps_compared']} valid steps)\n"
        )
        print(_markdown(sim))
        result |= {"simulator": sim.to_dict(orient="records"), "simulator_info": info}
    if "alcantara" in args.parts:
        if (args.real_data / "trials.csv").is_file():
            real, by_slope, rinfo = alcantara_part(args.real_data)
            print(
                f"\n## Real recordings (Alcantara et al. 2022: one runner, {rinfo['trials']} trials, sacral accelerometer vs treadmill force)\n"
            )
            print(_markdown(real))
            print("\nMean absolute error by slope (deg):\n")
            print(by_slope.round(2).to_markdown() if _has_tabulate() else by_slope.round(2).to_string())
            result |= {
                "real": real.to_dict(orient="records"),
                "real_by_slope": by_slope.reset_index().to_dict(orient="records"),
                "real_info": rinfo,
            }
        else:
            print(f"\n(Alcantara recordings not found at {args.real_data}: part 2 skipped)")
    if "rbds" in args.parts:
        if (args.rbds_data / rbds.TRIALS[0].markers).is_file():
            tables = rbds_part(args.rbds_data)
            print_rbds(tables)
            result["rbds"] = {k: v.to_dict(orient="records") for k, v in tables.items()}
        else:
            print(f"\n(RBDS files not found at {args.rbds_data}: part 3 skipped)")
    if "contact_strike" in args.parts:
        tables = contact_strike_part(args.real_data, args.rbds_data, args.quick)
        print_contact_strike(tables)
        result["contact_strike"] = {k: v.to_dict(orient="records") for k, v in tables.items()}
    if "sides" in args.parts:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import sides as side_bench

        tables = side_bench.run(args.quick)
        print("\n## Sides (benchmarks/sides.py)\n")
        side_bench.print_tables(tables)
        result["sides"] = {k: v.to_dict(orient="records") for k, v in tables.items()}
    if "vo" in args.parts:
        tables = vo_part(args.rbds_data, args.real_data)
        print_vo(tables)
        result["vo"] = {k: v.to_dict(orient="records") for k, v in tables.items()}
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=_json_default))
    return 0


def _json_default(o: object) -> object:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    return float(o)  # type: ignore[arg-type]


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
