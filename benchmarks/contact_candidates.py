"""Contact time on slopes: candidate toe-off estimates, evaluated held out.

Run:  python benchmarks/contact_candidates.py [--no-simulator]

The data are the force-referenced sensor groups of part 4 of ``benchmarks/accuracy.py``
(Alcantara et al. -5, 0, +5 deg; RBDS r1_2.5, r2_2.5; found in ``GAIT_SHARED_DATA``). One
analysis pass per trial records, for every stance of `gait.core.events.running_events`, its
contact, its stance level (the central mean of the rescaled signal ``u`` scaled to a half-sine
amplitude, ``stance_level_mps2``), the next contact and the end of propulsion (the pass runs with
``TO_AP_LEAD = 0`` and ``TO_AP_WEIGHT = 1``, so its toe-off is the landmark itself).

Candidates (contact time ``tc`` per step; ``T`` the step time, contact to next contact):

- ``timing``: the end of propulsion ``x`` as a share ``q`` of the contact before toe-off,
  ``tc = (x - ic) / (1 - q)``; ``q`` the median over the training groups of each group's median
  ideal share (what the product does, its descent estimate weighted 0.017 left out).
- ``amplitude``: the spring-mass model (Morin et al. 2005, F_max = m g (pi/2)(T_f/T_c + 1))
  inverted for the duty factor: ``tc = k (pi / 2) T / (F / BW)`` with ``F`` the stance level;
  ``k`` the median of the training groups' median ``tc_ref / (pi/2 T g / F)`` (the sensor reads an
  affine image of the force, so the level is not the force's peak exactly).
- ``combined``: inverse-variance weighting of the two, each estimate's variance its mean squared
  group bias over the training groups, each group's bias from constants fitted without it.
- ``tc~lag+step``: contact time linear in the propulsion lag ``x - ic`` and the step time,
  least squares on the training trials' medians.
- ``steepest descent`` / ``AP minimum``: other landmarks as a share of the contact, as
  ``timing``: the vertical signal's steepest descent after the stance's peak, and the forward
  acceleration's minimum after the end of propulsion (both low-passed at 15 Hz).
- ``timing + AP minimum``: the two averaged, 1/2 each (a priori) or inverse-variance as
  ``combined``.
- ``lead~duty``: the propulsion share as a linear function of the amplitude duty factor
  ``D = (pi/2) g / F``, fitted by least squares on the training groups' medians.

The simulator check runs each candidate without the product's bound by the return to free
fall (which on the simulator's free-fall flight sets the toe-off by itself): it shows whether
a candidate's own estimate transfers to a symmetric half-sine stance, not the product's bias.
On the simulator the end of propulsion comes at toe-off (share about 0), against 0.05-0.22 on
the real trials.

Folds: in sample (all five groups), leave one slope out (each Alcantara slope), leave one runner
out (A, r1, r2). Targets: |bias| <= 5 ms and MAE <= 12 ms in every group held out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import accuracy as acc
from _strike_bench import patched

import gait
from gait.constants import G
from gait.core import events as ev
from gait.core import pipeline as pl
from gait.core.filters import lowpass
from gait.evaluation import match_events
from gait.simulator import Form, SimulationConfig

#: steps are matched to the reference contacts within this, s
TOLERANCE_S = 0.06
#: a step time longer than this is not a running step, s
MAX_STEP_S = 0.6


#: low-pass of the signals the extra landmarks are taken on, Hz
LANDMARK_LOWPASS_HZ = 15.0


def _landmarks(e: pd.DataFrame, f_v: np.ndarray, acc_ap: np.ndarray | None, fs: float, t0: float) -> pd.DataFrame:
    """Extra landmarks per stance, s: the vertical signal's steepest descent after the stance's
    peak (``desc_s``), and the forward acceleration's minimum after the end of propulsion
    (``apmin_s``), each searched up to the next contact."""
    e = e.copy()
    n = f_v.size
    if len(e) == 0:
        return e.assign(desc_s=np.nan, apmin_s=np.nan)
    v = lowpass(f_v, fs, LANDMARK_LOWPASS_HZ)
    dv = np.gradient(v)
    pk = e["stance_peak_idx"].to_numpy().astype(int)
    x_i = np.clip(np.round(e["to_idx"].to_numpy()).astype(int), 0, n - 1)
    nxt = np.concatenate([np.round(e["ic_idx"].to_numpy()[1:]).astype(int), [n - 1]])
    nxt = np.clip(nxt, pk + 2, n - 1)
    desc = np.array([a + int(np.argmin(dv[a:b])) if b > a else np.nan for a, b in zip(pk, nxt, strict=True)])
    e["desc_s"] = t0 + desc / fs
    if acc_ap is None:
        e["apmin_s"] = np.nan
    else:
        ap = lowpass(np.asarray(acc_ap, float) - float(np.mean(acc_ap)), fs, LANDMARK_LOWPASS_HZ)
        am = np.array([a + int(np.argmin(ap[a:b])) if b > a else np.nan for a, b in zip(x_i, nxt, strict=True)])
        e["apmin_s"] = t0 + am / fs
    return e


def _stances(session: gait.Session) -> pd.DataFrame:
    """Every complete stance of the analysis, with the end of propulsion as its toe-off."""
    frames: list[pd.DataFrame] = []
    inner = pl.running_events

    def rec(f_v, *, sampling_rate_hz, t0=0.0, acc_ap=None):  # type: ignore[no-untyped-def]
        out = inner(f_v, sampling_rate_hz=sampling_rate_hz, t0=t0, acc_ap=acc_ap)
        frames.append(_landmarks(out, np.asarray(f_v, float), acc_ap, float(sampling_rate_hz), float(t0)))
        return out

    with patched(ev, TO_AP_LEAD=0.0, TO_AP_WEIGHT=1.0), patched(pl, running_events=rec):
        gait.analyze(session)
    if not frames:
        return pd.DataFrame(columns=["ic_s", "x_s", "level_g", "step_s"])
    e = pd.concat(frames, ignore_index=True).sort_values("ic_s")
    step = np.diff(e["ic_s"].to_numpy(), append=np.nan)
    out = pd.DataFrame(
        {
            "ic_s": e["ic_s"].to_numpy(),
            "x_s": e["to_s"].to_numpy(),
            "level_g": e["stance_level_mps2"].to_numpy() / G,
            "desc_s": e["desc_s"].to_numpy(),
            "apmin_s": e["apmin_s"].to_numpy(),
            "step_s": step,
            "ok": e["ok"].to_numpy(),
        }
    )
    return out[out["ok"] & (out["step_s"] < MAX_STEP_S)].drop(columns="ok")


def _steps(run: dict) -> pd.DataFrame:
    s = _stances(run["session"])
    ref = run["ref"]
    m = match_events(s["ic_s"].to_numpy(), ref["ic_s"].to_numpy(), tolerance_s=TOLERANCE_S)
    d = s.iloc[m.detected_idx].reset_index(drop=True)
    r = ref.iloc[m.reference_idx].reset_index(drop=True)
    d["tc_ref_s"] = (r["to_s"] - r["ic_s"]).to_numpy()
    for k in ("runner", "group", "slope_deg", "speed_mps", "trial"):
        d[k] = run[k]
    d["lag_s"] = d["x_s"] - d["ic_s"]
    d["lag_desc_s"] = d["desc_s"] - d["ic_s"]
    d["lag_apmin_s"] = d["apmin_s"] - d["ic_s"]
    d["ideal_q_desc"] = 1 - d["lag_desc_s"] / d["tc_ref_s"]
    d["ideal_q_apmin"] = 1 - d["lag_apmin_s"] / d["tc_ref_s"]
    d["duty_amp"] = 0.5 * np.pi / d["level_g"]
    d["ideal_q"] = 1 - d["lag_s"] / d["tc_ref_s"]
    d["ideal_k"] = d["tc_ref_s"] / (d["duty_amp"] * d["step_s"])
    return d


# --- the candidates: fit(train steps) -> predict(steps) ------------------------------------
def _gmed(d: pd.DataFrame, col: str) -> pd.Series:
    return d.groupby("group")[col].median()


def fit_timing(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
    q = float(np.median(_gmed(tr, "ideal_q")))
    return lambda d: d["lag_s"] / (1 - q)


def _fit_share(lag: str, ideal: str):  # type: ignore[no-untyped-def]
    def fit(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
        q = float(np.median(_gmed(tr, ideal)))
        return lambda d: d[lag] / (1 - q)

    return fit


def fit_amplitude(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
    k = float(np.median(_gmed(tr, "ideal_k")))
    return lambda d: k * d["duty_amp"] * d["step_s"]


def fit_lead_duty(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
    gq, gd = _gmed(tr, "ideal_q"), _gmed(tr, "duty_amp")
    b, a = np.polyfit(gd.to_numpy(), gq.loc[gd.index].to_numpy(), 1) if gd.size >= 2 else (0.0, float(gq.median()))
    return lambda d: d["lag_s"] / (1 - (a + b * d["duty_amp"]))


def fit_lag_step(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
    """Contact time linear in the propulsion lag and the step time, least squares on trial
    medians (a runner's contact time scales with its step time, a duty factor; the lag carries
    the stance's own timing). With fewer than three training trials, the lag alone."""
    m = tr.groupby("trial")[["tc_ref_s", "lag_s", "step_s"]].median()
    if len(m) >= 3:
        x = np.column_stack([np.ones(len(m)), m["lag_s"], m["step_s"]])
        c = np.linalg.lstsq(x, m["tc_ref_s"].to_numpy(), rcond=None)[0]
        return lambda d: c[0] + c[1] * d["lag_s"] + c[2] * d["step_s"]
    return fit_timing(tr)


def _inner_msb(tr: pd.DataFrame, fitter) -> float:  # type: ignore[no-untyped-def]
    """Mean squared group bias of a candidate, each training group predicted without it."""
    b = []
    for g in tr["group"].unique():
        f = fitter(tr[tr["group"] != g])
        t = tr[tr["group"] == g]
        b.append(float((f(t) - t["tc_ref_s"]).mean()) ** 2)
    return float(np.mean(b))


def fit_combined(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
    ft, fa = fit_timing(tr), fit_amplitude(tr)
    vt, va = _inner_msb(tr, fit_timing), _inner_msb(tr, fit_amplitude)
    w = va / (vt + va)
    fit_combined.last_w = w  # type: ignore[attr-defined]
    return lambda d: w * ft(d) + (1 - w) * fa(d)


def _fit_pair(fa, fb, weight: float | None):  # type: ignore[no-untyped-def]
    """Two estimates averaged: with ``weight`` (of the first) fixed a priori, or inverse-variance
    from their held-out group biases inside the training groups (``None``)."""

    def fit(tr: pd.DataFrame):  # type: ignore[no-untyped-def]
        a, b = fa(tr), fb(tr)
        if weight is None:
            va, vb = _inner_msb(tr, fa), _inner_msb(tr, fb)
            w = vb / (va + vb)
        else:
            w = weight
        fit.last_w = w  # type: ignore[attr-defined]
        return lambda d: w * a(d) + (1 - w) * b(d)

    return fit


fit_apmin = _fit_share("lag_apmin_s", "ideal_q_apmin")


CANDIDATES = {
    "timing": fit_timing,
    "amplitude": fit_amplitude,
    "combined": fit_combined,
    "lead~duty": fit_lead_duty,
    "tc~lag+step": fit_lag_step,
    "steepest descent": _fit_share("lag_desc_s", "ideal_q_desc"),
    "AP minimum": fit_apmin,
    "timing + AP minimum, 1/2 each": _fit_pair(fit_timing, fit_apmin, 0.5),
    "timing + AP minimum, inverse variance": _fit_pair(fit_timing, fit_apmin, None),
}


def folds(d: pd.DataFrame) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    out = [("in sample", d, d)]
    for g in sorted(d.loc[d["runner"] == "A", "group"].unique()):
        out.append(("leave one slope out", d[d["group"] != g], d[d["group"] == g]))
    for r in d["runner"].unique():
        out.append(("leave one runner out", d[d["runner"] != r], d[d["runner"] == r]))
    return out


def evaluate(d: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for name, fitter in CANDIDATES.items():
        for fold, tr, te in folds(d):
            f = fitter(tr)
            e = 1000 * (f(te) - te["tc_ref_s"])
            for g, eg in e.groupby(te["group"]):
                rows.append(
                    {
                        "candidate": name,
                        "fold": fold,
                        "group": g,
                        "n": eg.size,
                        "bias_ms": eg.mean(),
                        "mae_ms": eg.abs().mean(),
                    }
                )
    return pd.DataFrame(rows)


def simulator_bias(models: dict) -> pd.DataFrame:
    """Each candidate (fitted on all real groups) on simulator runs whose stance is a symmetric
    half sine, against the simulator's contact times."""
    rows = []
    for speed in (2.5, 3.5, 4.2):
        cfg = SimulationConfig(
            duration_s=60.0, seed=7000 + int(10 * speed), speed_mps=speed, form=Form(stance_skew=0.0)
        )
        sim = gait.simulate(cfg)
        tru = sim.steps[sim.steps["activity"] == "running"]
        ref = pd.DataFrame(
            {"ic_s": tru["ic_s"].to_numpy(), "to_s": tru["ic_s"].to_numpy() + tru["contact_time_s"].to_numpy()}
        )
        run = {
            "session": sim.session,
            "ref": ref,
            "runner": "sim",
            "group": f"sim {speed}",
            "slope_deg": 0,
            "speed_mps": speed,
            "trial": "sim",
        }
        s = _steps(run)
        for name, f in models.items():
            e = 1000 * (f(s) - s["tc_ref_s"])
            rows.append(
                {"candidate": name, "speed_mps": speed, "n": e.size, "bias_ms": e.mean(), "mae_ms": e.abs().mean()}
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-simulator", action="store_true", help="skip the half-sine simulator check")
    ap.add_argument("--csv", type=Path, help="also write the per-step table")
    args = ap.parse_args(argv)
    runs = acc._real_runs(acc.SHARED / "alcantara2022_sacral_running", acc.SHARED / "rbds2017_treadmill_mocap")
    runs = [r for r in runs if r["signal"] == "sensor" and r["reference"] == "force"]
    if not runs:
        print("no force-referenced data found (GAIT_SHARED_DATA)")
        return 1
    d = pd.concat([_steps(r) for r in runs], ignore_index=True)
    if args.csv:
        d.to_csv(args.csv, index=False)
    pd.set_option("display.width", 200)
    print("## Per group: ideal propulsion share, ideal amplitude factor k, amplitude duty factor, level\n")
    print(
        d.groupby("group")[
            ["ideal_q", "ideal_q_desc", "ideal_q_apmin", "ideal_k", "duty_amp", "level_g", "step_s", "tc_ref_s"]
        ]
        .median()
        .round(3)
        .to_string()
    )
    print("\n## Per trial (Alcantara): ideal share and ideal k against speed\n")
    print(
        d.groupby(["group", "speed_mps"])[["ideal_q", "ideal_q_desc", "ideal_q_apmin", "ideal_k", "duty_amp"]]
        .median()
        .round(3)
        .to_string()
    )
    res = evaluate(d)
    print("\n## Contact time bias / MAE (ms) per candidate, fold and group\n")
    res["cell"] = res["bias_ms"].map("{:+.1f}".format) + " / " + res["mae_ms"].map("{:.1f}".format)
    print(res.pivot_table(index=["candidate", "group"], columns="fold", values="cell", aggfunc="first").to_string())
    ok = res[res["fold"] != "in sample"]
    ok = ok.assign(met=(ok["bias_ms"].abs() <= 5) & (ok["mae_ms"] <= 12))
    print("\n## Held-out groups meeting both targets\n")
    print(ok.groupby("candidate")["met"].agg(["sum", "count"]).to_string())
    fit_combined(d)
    print(f"\ncombined, in sample: weight of the timing estimate {fit_combined.last_w:.3f}")  # type: ignore[attr-defined]
    if not args.no_simulator:
        models = {k: f(d) for k, f in CANDIDATES.items()}
        print("\n## Simulator, symmetric half-sine stance (constants fitted on all real groups)\n")
        print(simulator_bias(models).round(2).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
