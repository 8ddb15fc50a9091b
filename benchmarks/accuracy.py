"""Accuracy of the signal core against simulator truth and against real force-plate data.

    python benchmarks/accuracy.py            # full tables (about 2 minutes on 2 cores)
    python benchmarks/accuracy.py --quick    # a smaller grid
    python benchmarks/accuracy.py --json results.json

Part 1 simulates runs over a grid of speeds, sensor mountings (including upside-down and
sideways clips), noise levels and sampling rates, analyses each with `gait.analyze` and compares
every valid running step with the simulator's exact truth.

Part 2 uses the real recordings in ``../shared/data/alcantara2022_sacral_running`` (sacral
accelerometer, treadmill force; one runner, 19 trials of 5 s at 2.5-4.2 m/s on -5, 0 and +5 deg
slopes): contacts from the force (above 0.05 body weights), the centre of mass's vertical
excursion from integrating ``(F / BW - 1) g`` twice per step. The one constant of the event
detector calibrated on these data (`gait.events.TO_DESCENT_LEAD`) is also re-estimated
leave-one-trial-out, so the cross-validated contact-time error is reported beside the in-sample
one. Part 2 is skipped when the data are absent.

Statistics: bias (estimate - reference), mean absolute error, 95 % limits of agreement
(bias +- 1.96 SD); events: F1 with a 40 ms tolerance on initial contact.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import gait
from gait import events as ev
from gait.errors import GaitDataWarning
from gait.evaluation import agreement, compare_steps, match_events, pair_with_force_plate
from gait.simulator import Form, SensorModel, SimulationConfig

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "alcantara2022_sacral_running"

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
        strikes.append((p["foot_strike_est"] == p["foot_strike_ref"]).to_numpy())
        sides.append((p["side_est"] == p["side_ref"]).to_numpy())
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
    fs_ok = float(np.concatenate(strikes).mean())
    rows.append(
        {
            "metric": "foot strike correct",
            "n": int(sum(len(x) for x in strikes)),
            "value": 100 * fs_ok,
            "unit": "%",
            "target": ">= 95 %",
            "met": fs_ok >= 0.95,
        }
    )
    rows.append(
        {
            "metric": "side correct",
            "n": int(sum(len(x) for x in sides)),
            "value": 100 * float(np.concatenate(sides).mean()),
            "unit": "%",
            "target": "",
            "met": None,
        }
    )
    info = {"runs": len(pairs), "steps_compared": len(p)}
    return pd.DataFrame(rows), info


def real_part(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
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
    cv = _loto_contact_time(p)
    out = [
        {"metric": "steps (F1, 40 ms)", "n": int(nr), "value": f1, "unit": "", "target": ">= 0.99", "met": f1 >= 0.99}
    ]
    for label, est, ref, factor, unit, target in [
        ("initial contact", p["ic_est"], p["ic_ref"], 1000, "ms", None),
        ("toe-off", p["to_est"], p["to_ref"], 1000, "ms", None),
        ("contact time", tc_est, tc_ref, 1000, "ms", 15.0),
        ("contact time, cross-validated", cv["tc_est"], cv["tc_ref"], 1000, "ms", 15.0),
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
    return pd.DataFrame(out), by_slope, {"trials": len(sessions), "toe_off_constant_folds": cv["constants"]}


def _loto_contact_time(p: pd.DataFrame) -> dict:
    """Leave-one-trial-out re-estimate of the toe-off descent lead; contact times it gives."""
    o = ev.TO_DESCENT_LEAD
    # the crossing time the detector used, recovered from its toe-off
    cross = p["to_est"] * (1 - o) + p["ic_est"] * o
    ideal = (p["to_ref"] - cross) / (p["to_ref"] - p["ic_est"])
    est, ref, consts = [], [], []
    for k in p["trial"].unique():
        train = p["trial"] != k
        ok = float(np.median(ideal[train]))
        consts.append(ok)
        test = ~train
        to = (cross[test] - ok * p["ic_est"][test]) / (1 - ok)
        est.append(to - p["ic_est"][test])
        ref.append(p["to_ref"][test] - p["ic_ref"][test])
    return {
        "tc_est": pd.concat(est),
        "tc_ref": pd.concat(ref),
        "constants": [round(c, 4) for c in (min(consts), max(consts))],
    }


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller simulator grid")
    ap.add_argument("--json", type=Path, help="also write the tables as JSON")
    ap.add_argument("--real-data", type=Path, default=REAL, help="folder of the real recordings")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)
    t0 = time.perf_counter()
    sim, info = simulator_part(args.quick)
    print(
        f"## Simulator truth ({info['runs']} runs: 4 speeds x 4 mountings x 3 noise levels, 100/200 Hz; {info['steps_compared']} valid steps)\n"
    )
    print(_markdown(sim))
    result = {"simulator": sim.to_dict(orient="records"), "simulator_info": info}
    if (args.real_data / "trials.csv").is_file():
        real, by_slope, rinfo = real_part(args.real_data)
        print(
            f"\n## Real recordings (Alcantara et al. 2022: one runner, {rinfo['trials']} trials, sacral accelerometer vs treadmill force)\n"
        )
        print(_markdown(real))
        print("\nMean absolute error by slope (deg):\n")
        print(by_slope.round(2).to_markdown() if _has_tabulate() else by_slope.round(2).to_string())
        print(
            f"\nToe-off descent lead re-estimated leave-one-trial-out: {rinfo['toe_off_constant_folds'][0]} to {rinfo['toe_off_constant_folds'][1]} (shipped: {ev.TO_DESCENT_LEAD})"
        )
        result |= {
            "real": real.to_dict(orient="records"),
            "real_by_slope": by_slope.reset_index().to_dict(orient="records"),
            "real_info": rinfo,
        }
    else:
        print(f"\n(real recordings not found at {args.real_data}: part 2 skipped)")
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1, default=float))
    return 0


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
