"""The side (left / right) of each step: which cues carry it, and how often the analysis is right.

    python benchmarks/sides.py                   # every table (under a minute)
    python benchmarks/sides.py --quick           # a smaller simulator grid
    python benchmarks/sides.py --json out.json   # also write the tables as JSON

Sources (each skipped, with a note, when its data are absent; the shared data folder is
``GAIT_SHARED_DATA``, docs/validation.md):

- *RBDS* (Fukuchi et al. 2017): three runners, five treadmill trials, motion capture turned
  into a virtual sacral IMU (`gait.validation.rbds`); the side of each step is the foot whose
  markers (or force) gave the contact.
- *Voisard et al. (2023)*: a real lower-back IMU, ten walking subjects, 58 trials; sides from
  foot sensors (``benchmarks/walking.py``).
- *Alcantara et al. (2022)*: a real sacral accelerometer without a medio-lateral axis or a
  gyroscope, and one raw triaxial recording without a gyroscope: no cue applies, every running
  step must stay ``?`` (with the reason).
- *The simulator*, with its pelvis' roll and yaw timing varied (`gait.simulator.Form`:
  ``roll_phase_deg``, ``roll_third_harmonic``, ``yaw_phase_deg``) over speeds, noise, sampling
  rates and a random mounting: exact truth.

Tables:

1. *Per-cue consistency*: for every analysed step matched to a reference step, the share whose
   cue has the sign its mechanics predict (positive for a left step), per trial and per runner
   or subject. The cues (`cue_values`): the three `gait.core.sides` uses (``drop``: roll from contact
   to 40 % of stance, 30 % in walking; ``rise``: roll from mid-stance to toe-off, running;
   ``sway``: minus the mean medio-lateral acceleration over the step, walking) and five it does
   not: ``yaw_stance`` (mean yaw rate in stance, + = turning left: the previous running rule),
   ``yaw_contact`` (minus the 0.5-2 Hz band-passed yaw rate at contact: McCamley et al. 2012's
   walking rule, a left contact while turning right, with Ullrich et al. 2021's filter),
   ``roll_contact`` (the roll rate over 40 ms either side of contact, Wixted et al. 2010),
   ``ml_stance`` (minus the mean medio-lateral acceleration in stance: the previous running rule
   without a gyroscope) and ``ml_spike`` (minus the medio-lateral acceleration of largest
   magnitude in the first 60 ms of stance, Lee et al. 2010). A cue is usable only if its share is high on every runner.
2. *The assignment*: per trial, the share of matched steps given a side and the share of those
   that are right; whether any trial is wrong by majority.
3. *Leave one out*: the window shares of the cues (`gait.core.sides.DROP_SHARE_RUNNING`,
   `RISE_FROM_SHARE`, `DROP_SHARE_WALKING`) are the only constants chosen on these data. Each
   is re-picked from a small grid on the other runners (RBDS) or subjects (Voisard), by the
   weakest used cue's pooled consistency, and the held-out one is scored with it.
4. *Simulator variants*: sides decided and right, and each cue's consistency, over yaw timings
   0 / 105 / 160 / 180 deg, roll timings (the default, the old half sine per step, runner 3's
   strong third harmonic), 2.5 and 4.2 m/s, typical sensor at 200 Hz and noisy at 100 Hz,
   random mounting.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import butter, sosfiltfilt

import gait
from gait.constants import AP, ML, V
from gait.core import sides as gs
from gait.core.events import walking_ap_sign
from gait.errors import GaitDataWarning
from gait.evaluation import match_events
from gait.simulator import Form, SensorModel, SimulationConfig
from gait.validation import rbds

sys.path.insert(0, str(Path(__file__).resolve().parent))
import walking as voisard

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GAIT_SHARED_DATA", REPO.parent / "shared" / "data"))
RBDS = SHARED / "rbds2017_treadmill_mocap"
VOISARD = SHARED / "voisard2023_lowback_walking"
ALCANTARA = SHARED / "alcantara2022_sacral_running"
#: steps are matched to the reference within these (the analysis' running contacts are about
#: 20 ms late on the virtual IMU; walking contacts within 100 ms as in benchmarks/walking.py)
TOL_RUNNING_S = 0.06
TOL_WALKING_S = 0.1
USED = {"running": ("drop", "rise"), "walking": ("drop", "sway")}
CUES = ("drop", "rise", "sway", "yaw_stance", "yaw_contact", "roll_contact", "ml_stance", "ml_spike")
#: grids of the leave-one-out selection (the shipped value first)
GRID_RUNNING = tuple(itertools.product((0.4, 0.3, 0.5), (0.5, 0.4, 0.6)))  # (drop share, rise from)
GRID_WALKING = (0.3, 0.2, 0.4)  # drop share
NOISE = {
    "typical, 200 Hz": (SensorModel(), 200.0),
    "noisy, 100 Hz": (
        SensorModel(
            acc_noise_mps2=0.12,
            gyr_noise_rads=0.01,
            acc_bias_mps2=(0.15, -0.1, 0.2),
            gyr_bias_rads=(0.02, -0.01, 0.015),
            acc_scale=(1.01, 0.99, 1.005),
            timestamp_jitter_s=0.001,
            drop_rate=0.002,
        ),
        100.0,
    ),
}
ROLL_SHAPES = {
    "default (90 deg, 0.8)": (90.0, 0.8),
    "half sine per step (0, 0)": (0.0, 0.0),
    "runner 3 (80 deg, 1.9)": (80.0, 1.9),
}


# ---------------------------------------------------------------------------------------
# inputs and cues
# ---------------------------------------------------------------------------------------
def side_inputs(a: gait.Analysis) -> dict:
    """The inputs `gait.core.pipeline.analyze` gave `gait.core.sides.assign_sides`, rebuilt from the
    analysis (sample positions from the step times; the forward sign of each walking bout
    recomputed as `gait.core.events.walking_events` does)."""
    t = a.session.t
    st = a.steps
    pos = np.arange(t.size, dtype=float)
    ic = np.interp(st["ic_s"].to_numpy(float), t, pos)
    to = np.interp(st["to_s"].to_numpy(float), t, pos)
    walk = (st["activity"] == "walking").to_numpy(bool)
    ml_sign = np.full(len(st), np.nan)
    fs = a.session.sampling_rate_hz
    has_forward = "forward" not in a.unavailable
    for b in a.bouts[a.bouts["kind"] == "walking"].itertuples(index=False):
        if not has_forward:
            break
        i0 = int(np.searchsorted(t, b.start_s))
        i1 = int(np.searchsorted(t, b.end_s - 0.5 / fs)) + 1
        x = a.signals.acc[i0:i1, V]
        ap = a.signals.acc[i0:i1, AP]
        if np.isfinite(ap).all():
            ml_sign[(st["bout"] == b.bout).to_numpy()] = walking_ap_sign(x - np.nanmean(x), ap, sampling_rate_hz=fs)
    has_ml = not np.isnan(a.signals.acc[:, ML]).all()
    has_gyro = a.session.gyr is not None
    return {
        "ic_idx": ic,
        "to_idx": to,
        "bout": st["bout"].to_numpy(),
        "roll_rad": a.signals.roll if (has_gyro and has_ml) else None,
        "acc_level_ml": a.signals.acc[:, ML] if has_ml else None,
        "walking": walk,
        "ml_sign": ml_sign,
    }


def cue_values(a: gait.Analysis, inp: dict) -> dict[str, np.ndarray]:
    """Per step of ``a.steps``, every cue of the module notes (+ = left; NaN when unavailable)."""
    m = len(a.steps)
    fs = a.session.sampling_rate_hz
    out = {c: np.full(m, np.nan) for c in CUES}
    out.update(gs.side_cues(**inp))
    ic, to = inp["ic_idx"], inp["to_idx"]
    flip = np.where(np.isfinite(inp["ml_sign"]), np.sign(inp["ml_sign"]), 1.0)
    ml = inp["acc_level_ml"]
    if ml is not None:
        mlc = np.nan_to_num(ml - np.nanmean(ml))
        out["ml_stance"] = -gs._mean_over(mlc, ic, to) * flip
        w = max(round(0.06 * fs), 1)
        idx = np.clip(np.round(ic).astype(np.int64)[:, None] + np.arange(w)[None], 0, mlc.size - 1)
        seg = mlc[idx]
        out["ml_spike"] = -seg[np.arange(m), np.argmax(np.abs(seg), axis=1)] * flip
    if a.session.gyr is not None:
        yaw_rate = np.gradient(np.nan_to_num(a.signals.yaw)) * fs
        out["yaw_stance"] = gs._mean_over(yaw_rate, ic, to)
        sos = butter(4, (0.5, 2.0), btype="band", fs=fs, output="sos")
        # McCamley's walking rule: turning right (negative rate) at a left contact
        out["yaw_contact"] = -gs._at(sosfiltfilt(sos, yaw_rate - yaw_rate.mean()), ic)
        if inp["roll_rad"] is not None:
            roll_rate = np.gradient(np.nan_to_num(inp["roll_rad"])) * fs
            h = 0.04 * fs
            out["roll_contact"] = gs._mean_over(roll_rate, ic - h, ic + h) * flip
    return out


def matched(a: gait.Analysis, kind: str, ref_ic_s: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``a.steps`` of ``kind`` matched to reference contacts, and the reference index."""
    sel = np.flatnonzero((a.steps["activity"] == kind).to_numpy())
    m = match_events(a.steps["ic_s"].to_numpy()[sel], ref_ic_s, tolerance_s=tol)
    return sel[m.detected_idx], m.reference_idx


@contextlib.contextmanager
def shares(drop_running: float, rise_from: float, drop_walking: float) -> Iterator[None]:
    old = (gs.DROP_SHARE_RUNNING, gs.RISE_FROM_SHARE, gs.DROP_SHARE_WALKING)
    gs.DROP_SHARE_RUNNING, gs.RISE_FROM_SHARE, gs.DROP_SHARE_WALKING = drop_running, rise_from, drop_walking
    try:
        yield
    finally:
        gs.DROP_SHARE_RUNNING, gs.RISE_FROM_SHARE, gs.DROP_SHARE_WALKING = old


# ---------------------------------------------------------------------------------------
# real data
# ---------------------------------------------------------------------------------------
def real_runs() -> list[dict]:
    """Every real trial with a reference: analysis, rebuilt inputs, matched steps."""
    runs = []
    if (RBDS / rbds.TRIALS[0].markers).is_file():
        for tr in rbds.TRIALS:
            d = rbds.load_trial(tr, RBDS)
            a = gait.analyze(d.session)
            rows, ref = matched(a, "running", d.steps["ic_s"].to_numpy(), TOL_RUNNING_S)
            runs.append(
                {
                    "source": "RBDS",
                    "kind": "running",
                    "trial": tr.key,
                    "group": f"runner {tr.runner}",
                    "a": a,
                    "inputs": side_inputs(a),
                    "rows": rows,
                    "ref_side": d.steps["side"].to_numpy()[ref],
                }
            )
    if (VOISARD / "1-1.json.gz").is_file():
        for code in voisard.trials(VOISARD):
            s, meta = voisard.load_trial(code, VOISARD)
            a = gait.analyze(s)
            ref = voisard.reference(meta)
            rows, r = matched(a, "walking", ref["ic_s"].to_numpy(), TOL_WALKING_S)
            runs.append(
                {
                    "source": "Voisard",
                    "kind": "walking",
                    "trial": code,
                    "group": f"subject {int(code.split('-')[0]):02d}",
                    "a": a,
                    "inputs": side_inputs(a),
                    "rows": rows,
                    "ref_side": ref["side"].to_numpy()[r],
                }
            )
    return runs


def consistency_tables(runs: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per trial and per runner / subject: the share of matched steps each cue signs right."""
    per_trial, per_step = [], []
    for r in runs:
        cues = cue_values(r["a"], r["inputs"])
        sign = np.where(r["ref_side"] == "L", 1.0, -1.0)
        row = {"source": r["source"], "group": r["group"], "trial": r["trial"], "steps": len(r["rows"])}
        for c in CUES:
            v = cues[c][r["rows"]]
            ok = np.isfinite(v)
            row[c] = float(np.mean(np.sign(v[ok]) == sign[ok])) if ok.any() else float("nan")
            per_step.append(
                pd.DataFrame(
                    {"source": r["source"], "group": r["group"], "cue": c, "right": np.sign(v[ok]) == sign[ok]}
                )
            )
        per_trial.append(row)
    steps = pd.concat(per_step, ignore_index=True)
    groups = steps.groupby(["source", "group", "cue"])["right"].mean().unstack("cue")[list(CUES)].reset_index()
    return pd.DataFrame(per_trial), groups


def assignment_table(runs: list[dict]) -> pd.DataFrame:
    """Per trial: matched steps given a side, and right of those (the shipped analysis)."""
    rows = []
    for r in runs:
        a = r["a"]
        side = a.steps["side"].to_numpy(object)[r["rows"]]
        conf = a.steps["side_confidence"].to_numpy(float)[r["rows"]]
        dec = np.isin(side, ["L", "R"])
        right = side[dec] == r["ref_side"][dec]
        # the rebuilt inputs give the analysis' own sides (checks side_inputs)
        again, _ = gs.assign_sides(**r["inputs"])
        rows.append(
            {
                "source": r["source"],
                "group": r["group"],
                "trial": r["trial"],
                "steps": len(side),
                "decided": float(dec.mean()) if len(side) else float("nan"),
                "right_of_decided": float(right.mean()) if dec.any() else float("nan"),
                "wrong_by_majority": bool(dec.any() and right.mean() < 0.5),
                "median_confidence": float(np.median(conf)) if len(conf) else float("nan"),
                "rebuilt_inputs_differ": int(np.sum(again != a.steps["side"].to_numpy(object))),
            }
        )
    return pd.DataFrame(rows)


def _score(runs: list[dict]) -> tuple[float, float]:
    """Decided and right-of-decided shares over the matched steps of ``runs``, recomputed."""
    dec, right = [], []
    for r in runs:
        side, _ = gs.assign_sides(**r["inputs"])
        s = side[r["rows"]]
        d = np.isin(s, ["L", "R"])
        dec.append(d)
        right.append(s[d] == r["ref_side"][d])
    d, g = np.concatenate(dec), np.concatenate(right)
    return float(d.mean()), float(g.mean()) if g.size else float("nan")


def _pooled_cue(runs: list[dict], cues: tuple[str, ...]) -> float:
    """The weakest of ``cues``' pooled shares of right-signed steps over ``runs``."""
    hits: dict[str, list[np.ndarray]] = {c: [] for c in cues}
    for r in runs:
        v = gs.side_cues(**r["inputs"])
        sign = np.where(r["ref_side"] == "L", 1.0, -1.0)
        for c in cues:
            x = v[c][r["rows"]]
            ok = np.isfinite(x)
            hits[c].append(np.sign(x[ok]) == sign[ok])
    return min(float(np.concatenate(h).mean()) for h in hits.values())


def leave_one_out(runs: list[dict]) -> pd.DataFrame:
    """The window shares re-picked without each runner (RBDS) or subject (Voisard)."""
    rows = []
    shipped = (gs.DROP_SHARE_RUNNING, gs.RISE_FROM_SHARE, gs.DROP_SHARE_WALKING)
    for source, kind in (("RBDS", "running"), ("Voisard", "walking")):
        sub = [r for r in runs if r["source"] == source]
        grid = GRID_RUNNING if kind == "running" else [(g,) for g in GRID_WALKING]
        for group in sorted({r["group"] for r in sub}):
            train = [r for r in sub if r["group"] != group]
            test = [r for r in sub if r["group"] == group]
            best, best_val = None, -1.0
            for g in grid:
                vals = (g[0], g[1], shipped[2]) if kind == "running" else (shipped[0], shipped[1], g[0])
                with shares(*vals):
                    v = _pooled_cue(train, USED[kind])
                if v > best_val + 1e-12:  # ties keep the earlier (shipped first)
                    best, best_val = vals, v
            assert best is not None
            with shares(*best):
                dec, right = _score(test)
            dec_s, right_s = _score(test)
            rows.append(
                {
                    "source": source,
                    "held_out": group,
                    "picked": best[:2] if kind == "running" else (best[2],),
                    "train_weakest_cue": best_val,
                    "decided": dec,
                    "right_of_decided": right,
                    "decided_shipped": dec_s,
                    "right_of_decided_shipped": right_s,
                }
            )
    return pd.DataFrame(rows)


def alcantara_table() -> pd.DataFrame:
    """No cue applies: every running step must be ``?``, with the reason."""
    rows = []
    if not (ALCANTARA / "trials.csv").is_file():
        return pd.DataFrame(rows)
    sessions = gait.read_sessions(ALCANTARA)
    steps, reasons = 0, set()
    decided = 0
    for s in sessions:
        a = gait.analyze(s)
        run = a.steps[a.steps["activity"] == "running"]
        steps += len(run)
        decided += int(run["side"].isin(["L", "R"]).sum())
        reasons.add(a.unavailable.get("side", "(none)"))
    rows.append(
        {
            "recording": f"{len(sessions)} trials, biaxial (vertical, antero-posterior), no gyroscope",
            "running steps": steps,
            "with a side": decided,
            "reason": "; ".join(sorted(reasons)),
        }
    )
    raw = ALCANTARA / "raw_triaxial_unlabelled_512hz.csv"
    if raw.is_file():
        df = pd.read_csv(raw)
        t = (df["System_Timestamp_Plot_Zeroed"] - df["System_Timestamp_Plot_Zeroed"].iloc[0]).to_numpy() / 1000.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            s = gait.session_from_arrays(
                t, df[["Accel_LN_X", "Accel_LN_Y", "Accel_LN_Z"]].to_numpy(), sampling_rate_hz=512.0
            )
            a = gait.analyze(s)
        run = a.steps[a.steps["activity"] == "running"]
        rows.append(
            {
                "recording": "raw triaxial, no gyroscope",
                "running steps": len(run),
                "with a side": int(run["side"].isin(["L", "R"]).sum()),
                "reason": a.unavailable.get("side", "(none)"),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# simulator
# ---------------------------------------------------------------------------------------
def simulator_table(quick: bool) -> pd.DataFrame:
    rows = []
    yaw_phases = (0.0, 160.0) if quick else (0.0, 105.0, 160.0, 180.0)
    speeds = (3.0,) if quick else (2.5, 4.2)
    noises = list(NOISE.items())[:1] if quick else list(NOISE.items())
    for k, ((shape, (rp, q)), yp, speed, (noise, (sensor, fs))) in enumerate(
        itertools.product(ROLL_SHAPES.items(), yaw_phases, speeds, noises)
    ):
        cfg = SimulationConfig(
            duration_s=60.0,
            seed=200 + k,
            speed_mps=speed,
            sampling_rate_hz=fs,
            mounting="random",
            sensor=sensor,
            form=Form(roll_phase_deg=rp, roll_third_harmonic=q, yaw_phase_deg=yp),
        )
        sim = gait.simulate(cfg)
        a = gait.analyze(sim.session)
        tru = sim.steps
        rows_r, ref = matched(a, "running", tru["ic_s"].to_numpy(), 0.04)
        side = a.steps["side"].to_numpy(object)[rows_r]
        valid = a.steps["valid"].to_numpy(bool)[rows_r]
        side, ref_side = side[valid], tru["side"].to_numpy()[ref][valid]
        dec = np.isin(side, ["L", "R"])
        run_truth = tru[tru["activity"] == "running"]
        cues = cue_values(a, side_inputs(a))
        sign = np.where(ref_side == "L", 1.0, -1.0)
        shares_ = {c: float(np.mean(np.sign(cues[c][rows_r][valid]) == sign)) for c in CUES if c != "sway"}
        rows.append(
            {
                "roll timing": shape,
                "yaw phase (deg)": yp,
                "speed (m/s)": speed,
                "contact / step": float((run_truth["contact_time_s"] / run_truth["step_time_s"]).median()),
                "sensor": noise,
                "steps": len(side),
                "decided": float(dec.mean()),
                "right_of_decided": float((side[dec] == ref_side[dec]).mean()) if dec.any() else float("nan"),
                **shares_,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
def _md(df: pd.DataFrame, pct: tuple[str, ...] = ()) -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        cells = []
        for c in cols:
            v = r[c]
            if isinstance(v, (bool, np.bool_)):
                cells.append("**yes**" if v else "no")
            elif isinstance(v, (float, np.floating)):
                cells.append("" if not np.isfinite(v) else (f"{100 * v:.0f}" if c in pct else f"{v:.2f}"))
            else:
                cells.append(str(v))
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def run(quick: bool = False) -> dict[str, pd.DataFrame]:
    """Every table, as DataFrames."""
    runs = real_runs()
    out: dict[str, pd.DataFrame] = {}
    if runs:
        out["consistency_trials"], out["consistency_groups"] = consistency_tables(runs)
        out["assignment"] = assignment_table(runs)
        out["leave_one_out"] = leave_one_out(runs)
    out["alcantara"] = alcantara_table()
    out["simulator"] = simulator_table(quick)
    return out


def print_tables(t: dict[str, pd.DataFrame]) -> None:
    pct = (*CUES, "decided", "right_of_decided", "decided_shipped", "right_of_decided_shipped", "train_weakest_cue")
    if "consistency_groups" in t:
        print("## Per-cue consistency: % of matched steps whose cue has its predicted sign (+ = left)\n")
        print("Used: running `drop`, `rise`; walking `drop`, `sway`. Per runner / subject (steps pooled):\n")
        print(_md(t["consistency_groups"], pct))
        print("\nPer trial:\n")
        print(_md(t["consistency_trials"], pct))
        print("\n## The assignment (the analysis as shipped): % of matched steps given a side, % right of those\n")
        print(_md(t["assignment"], pct))
        a = t["assignment"]
        for src in a["source"].unique():
            s = a[a["source"] == src]
            w = s["steps"] * s["decided"]
            print(
                f"\n{src}: {100 * (s['steps'] * s['decided']).sum() / s['steps'].sum():.1f} % of {int(s['steps'].sum())} "
                f"steps decided, {100 * (w * s['right_of_decided']).sum() / w.sum():.1f} % of them right; trials wrong "
                f"by majority: {', '.join(s.loc[s['wrong_by_majority'], 'trial']) or 'none'}"
            )
        print("\n## Leave one runner / subject out: the window shares re-picked without the held-out one\n")
        print(_md(t["leave_one_out"], pct))
    if len(t.get("alcantara", [])):
        print("\n## Alcantara et al. (2022): no cue applies\n")
        print(_md(t["alcantara"]))
    print(
        "\n## Simulator variants (random mounting, 60 s each): % of valid running steps decided, % right, and "
        "each cue's % of steps with its predicted sign\n"
    )
    print(_md(t["simulator"], pct))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smaller simulator grid")
    ap.add_argument("--json", type=Path, help="also write the tables as JSON")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)
    t0 = time.perf_counter()
    tables = run(args.quick)
    print_tables(tables)
    print(f"\n({time.perf_counter() - t0:.0f} s)")
    if args.json:
        args.json.write_text(
            json.dumps({k: v.to_dict(orient="records") for k, v in tables.items()}, indent=1, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
