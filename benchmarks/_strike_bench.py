"""Foot strike on real runners: per trial, per runner, leave one runner out (part of
``python benchmarks/accuracy.py --parts contact_strike``).

Tables (truth: shoe sensors for Alcantara et al. 2022, foot markers for RBDS):

- ``strike_by_trial``: every trial's steps by class, the run's call and confidence, its median
  transient and stance vibration;
- ``strike_by_runner``: the run calls per runner (right / wrong / uncertain) with the shipped
  constants;
- ``strike_features_by_runner`` / ``strike_features_by_trial``: every candidate feature
  (`gait.core._strike_features`, the collision transient, contact time, duty factor, contact
  length) per runner and per trial (median, p10-p90);
- ``strike_separation``: per feature, the area under the ROC curve of the forefoot runner's
  steps against the rearfoot runners' (0.5: no separation, 0 or 1: complete), its spread over
  the rearfoot trials, and whether the forefoot runner's median lies outside every rearfoot
  trial's median;
- ``strike_force_evidence``: the same question on the treadmill's own force (RBDS runners 1
  and 2 at 2.5 m/s), where the lumbar signal has no say;
- ``strike_simulator_features``: the same features on simulated rearfoot and forefoot runs
  with the simulator's assumptions varied (`simulator_features`);
- ``strike_decision_ratio`` / ``strike_run_level``: the step decision ratio and the run's clear
  ratio swept, each chosen leave one runner out by `loro_choice` (the smallest value that makes
  no wrong trial call on the other runners), with the value every fold chose.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

import gait
from gait.constants import AP, G, V
from gait.core import strike as gstrike
from gait.core._strike_features import FEATURES, stance_features
from gait.evaluation import match_events

STRIKE_CLASSES = ("rearfoot", "midfoot", "forefoot")
#: the runner whose truth is not rearfoot (RBDS runner 1: midfoot / forefoot by foot markers)
FOREFOOT_RUNNER = "r1"


@contextlib.contextmanager
def patched(module: object, **values: float) -> Iterator[None]:
    """Temporarily set module constants (a fold's fitted value)."""
    old = {k: getattr(module, k) for k in values}
    try:
        for k, v in values.items():
            setattr(module, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(module, k, v)


def _judge(c: pd.DataFrame) -> pd.DataFrame:
    """Mark trial calls right / wrong: a midfoot / forefoot runner called forefoot or midfoot is
    right (the foot markers put runner 1 between the two); anything else decided and not the
    truth is wrong."""
    fore_ok = c["truth"].isin(["midfoot", "forefoot"]) & c["call"].isin(["midfoot", "forefoot"])
    c = c.copy()
    c["right"] = (c["call"] == c["truth"]) | fore_ok
    c["wrong"] = (c["call"] != "uncertain") & ~c["right"]
    return c


def loro_choice(calls: pd.DataFrame, grid: tuple[float, ...], extra: tuple[str, ...] = ()) -> list[dict]:
    """Leave one runner out: for each runner, the smallest grid value that makes no wrong trial
    call on the other runners (the largest when every value does), and that runner's calls at it.

    ``calls`` holds one row per (``value``, trial) with ``runner``, ``call``, ``right``, ``wrong``
    and the ``extra`` columns (summed per runner)."""
    rows = []
    for r in calls["runner"].unique():
        others = calls[calls["runner"] != r]
        ok = [k for k in grid if not others[others["value"] == k]["wrong"].any()]
        k = min(ok) if ok else max(grid)
        g = calls[(calls["runner"] == r) & (calls["value"] == k)]
        rows.append(
            {
                "fold": f"leave {r} out",
                "value fitted on the others": k,
                "runner": r,
                "trials": len(g),
                "right": int(g["right"].sum()),
                "wrong": int(g["wrong"].sum()),
                "uncertain": int((g["call"] == "uncertain").sum()),
                **{e: float(g[e].sum()) if e.startswith("steps") else float(g[e].median()) for e in extra},
            }
        )
    return rows


def run_strike_table(ins: pd.DataFrame) -> pd.DataFrame:
    """The run's dominant strike (`gait.core.strike.run_foot_strike` on the sagittal collisions
    of the trial's matched steps) for several clear ratios, chosen leave one runner out."""
    grid = (1.5, 2.0, 3.0)
    calls = []
    for k in grid:
        with patched(gstrike, RUN_CLEAR_RATIO=k):
            for trial, g in ins.groupby("trial", sort=False):
                cls, conf, _, _ = gstrike.run_foot_strike(
                    g["collision_bw"].to_numpy(), g["collision_background_bw"].to_numpy()
                )
                calls.append(
                    {
                        "value": k,
                        "runner": g["runner"].iloc[0],
                        "trial": trial,
                        "truth": g["strike_ref"].value_counts().idxmax(),
                        "call": cls,
                        "median confidence": conf,
                    }
                )
    return pd.DataFrame(loro_choice(_judge(pd.DataFrame(calls)), grid, ("median confidence",)))


def decision_ratio_table(runs: list[dict], steps_vs_reference: Callable[[dict], pd.DataFrame]) -> pd.DataFrame:
    """Trial calls from the steps' classes for several step decision ratios (every ratio, per
    runner), and the ratio chosen leave one runner out."""
    grid = (2.0, 2.5, 3.0, 4.0)
    calls = []
    for k in grid:
        with patched(gstrike, DECISION_RATIO=k):
            for run in runs:
                p = steps_vs_reference(run)
                decided = p[p["strike_est"] != "uncertain"]
                truth = p["strike_ref"].value_counts().idxmax() if len(p) else ""
                call = decided["strike_est"].value_counts().idxmax() if len(decided) >= len(p) / 2 else "uncertain"
                calls.append(
                    {
                        "value": k,
                        "runner": run["runner"],
                        "trial": run["trial"],
                        "truth": truth,
                        "call": call,
                        "steps decided": len(decided),
                        "steps wrong": int((decided["strike_est"] != decided["strike_ref"]).sum()),
                    }
                )
    c = pd.DataFrame(calls)
    c["right"] = c["call"] == c["truth"]
    c["wrong"] = (c["call"] != "uncertain") & ~c["right"]
    rows = []
    for (k, r), g in c.groupby(["value", "runner"], sort=False):
        rows.append(
            {
                "fold": "every ratio",
                "value fitted on the others": k,
                "runner": r,
                "trials": len(g),
                "right": int(g["right"].sum()),
                "wrong": int(g["wrong"].sum()),
                "uncertain": int((g["call"] == "uncertain").sum()),
                "steps decided": float(g["steps decided"].sum()),
                "steps wrong": float(g["steps wrong"].sum()),
            }
        )
    return pd.DataFrame(rows + loro_choice(c, grid, ("steps decided", "steps wrong")))


def strike_by_trial(ins: pd.DataFrame) -> pd.DataFrame:
    """Every trial: steps per class, the run's call and confidence, median transient and vibration."""
    rows = []
    for trial, g in ins.groupby("trial", sort=False):
        counts = g["strike_est"].value_counts()
        rows.append(
            {
                "trial": trial,
                "runner": g["runner"].iloc[0],
                "group": g["group"].iloc[0],
                "speed_mps": float(g["speed_mps"].iloc[0]),
                "truth": g["strike_ref"].value_counts().idxmax(),
                "n": len(g),
                **{c: int(counts.get(c, 0)) for c in (*STRIKE_CLASSES, "uncertain")},
                "run call": g["run_call"].iloc[0],
                "confidence": float(g["run_confidence"].iloc[0]),
                "transient_p50_bw": float(g["transient_bw"].median()),
                "background_p50_bw": float(g["background_bw"].median()),
                "collision_p50_bw": float(g["collision_bw"].median()),
                "collision_bg_p50_bw": float(g["collision_background_bw"].median()),
                "clear ratio": float(g["collision_bw"].median() / g["collision_background_bw"].median()),
            }
        )
    return pd.DataFrame(rows)


def strike_by_runner(by_trial: pd.DataFrame) -> pd.DataFrame:
    """The run calls per runner with the shipped constants (nothing is fitted in the shipped rule
    but the clear ratio, whose folds are in ``strike_run_level``)."""
    c = _judge(by_trial.rename(columns={"run call": "call"}))
    rows = []
    for r, g in c.groupby("runner", sort=False):
        rows.append(
            {
                "runner": r,
                "truth": g["truth"].value_counts().idxmax(),
                "trials": len(g),
                "right": int(g["right"].sum()),
                "wrong": int(g["wrong"].sum()),
                "uncertain": int((g["call"] == "uncertain").sum()),
                "uncertain trials": " ".join(g.loc[g["call"] == "uncertain", "trial"]),
            }
        )
    rows.append(
        {
            "runner": "all",
            "truth": "",
            "trials": len(c),
            "right": int(c["right"].sum()),
            "wrong": int(c["wrong"].sum()),
            "uncertain": int((c["call"] == "uncertain").sum()),
            "uncertain trials": "",
        }
    )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------
# the candidate features
# ---------------------------------------------------------------------------------------
#: every feature in the separation tables: the collision transient, the candidates of
#: `gait.core._strike_features`, and the timing the step table has
FEATURE_COLUMNS = (
    "transient_bw",
    "collision_bw",
    *FEATURES,
    "loading_rate_per_speed",
    "v_over_ap_transient",
    "contact_time_s",
    "duty_factor",
    "contact_length_m",
)


def trial_features(run: dict, tolerance_s: float = 0.06) -> pd.DataFrame:
    """The run analysed; every candidate feature of its valid running steps matched to the
    reference contacts, with the truth of each."""
    a = gait.analyze(run["session"])
    keep = ((a.steps["activity"] == "running") & a.steps["valid"]).to_numpy()
    st = a.steps[keep]
    t = a.session.t
    n = t.size
    grid = np.arange(n, dtype=float)
    ic = np.interp(st["ic_s"].to_numpy(), t, grid)
    to = np.interp(st["to_s"].to_numpy(), t, grid)
    seg = np.concatenate([[0], np.cumsum(np.diff(t) > 1.5 * np.median(np.diff(t)))])
    acc = a.signals.acc
    unit = float(np.median(a.signals.gravity))
    f = stance_features(acc[:, V], acc[:, AP], ic, to, seg, unit, sampling_rate_hz=1.0 / float(np.median(np.diff(t))))
    f["transient_bw"] = st["impact_transient_bw"].to_numpy()
    f["collision_bw"] = st["collision_bw"].to_numpy()
    f["contact_time_s"] = st["contact_time_s"].to_numpy()
    f["duty_factor"] = st["duty_factor"].to_numpy()
    speed = float(run["speed_mps"])
    f["contact_length_m"] = f["contact_time_s"] * speed
    f["loading_rate_per_speed"] = f["loading_rate_bw_per_s"] / speed
    f["v_over_ap_transient"] = f["transient_bw"] / f["ap_transient_bw"].clip(lower=1e-3)
    ref = run["ref"]
    m = match_events(st["ic_s"].to_numpy(), ref["ic_s"].to_numpy(), tolerance_s=tolerance_s)
    f = f.iloc[m.detected_idx].reset_index(drop=True)
    f["strike_ref"] = ref["strike"].iloc[m.reference_idx].to_numpy()
    for k in ("runner", "trial", "group", "slope_deg", "speed_mps"):
        f[k] = run[k]
    return f


def _auc(x: np.ndarray, y: np.ndarray) -> float:
    """P(a value of ``x`` > one of ``y``) (ties count half): the area under the ROC curve."""
    x = x[np.isfinite(x)]
    y = y[np.isfinite(y)]
    if not x.size or not y.size:
        return float("nan")
    gt = (x[:, None] > y[None, :]).mean()
    eq = (x[:, None] == y[None, :]).mean()
    return float(gt + 0.5 * eq)


def _dist(v: pd.Series) -> str:
    return f"{v.median():.3g} [{v.quantile(0.1):.3g}, {v.quantile(0.9):.3g}]"


def feature_tables(feats: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per runner and per trial distributions of every feature, and its separation of the
    forefoot runner from the rearfoot runners."""
    by_runner, by_trial, sep = [], [], []
    for c in FEATURE_COLUMNS:
        by_runner.append({"feature": c, **{r: _dist(g[c]) for r, g in feats.groupby("runner", sort=False)}})
        by_trial.append({"feature": c, **{t: float(g[c].median()) for t, g in feats.groupby("trial", sort=False)}})
        fore = feats[feats["runner"] == FOREFOOT_RUNNER]
        rear = feats[feats["runner"] != FOREFOOT_RUNNER]
        if not len(fore) or not len(rear):
            continue
        auc = _auc(fore[c].to_numpy(), rear[c].to_numpy())
        per = np.array([_auc(fore[c].to_numpy(), g[c].to_numpy()) for _, g in rear.groupby("trial")])
        med = rear.groupby("trial")[c].median()
        fm = float(fore[c].median())
        sep.append(
            {
                "feature": c,
                "AUC forefoot > rearfoot (steps)": auc,
                "separation |AUC - 0.5| * 2": abs(2 * auc - 1),
                "AUC per rearfoot trial min": float(np.nanmin(per)),
                "AUC per rearfoot trial max": float(np.nanmax(per)),
                "forefoot median": fm,
                "rearfoot trial medians min": float(med.min()),
                "rearfoot trial medians max": float(med.max()),
                "forefoot median outside them": bool(fm < med.min() or fm > med.max()),
            }
        )
    return {
        "strike_features_by_runner": pd.DataFrame(by_runner),
        "strike_features_by_trial": pd.DataFrame(by_trial),
        "strike_separation": pd.DataFrame(sep),
    }


def force_strike_evidence(rbds_dir: Path) -> pd.DataFrame:
    """On the treadmill's own force (RBDS runners 1 and 2 at 2.5 m/s): the share of stances with
    an impact peak (a local maximum in the first 30 % of stance, before the active peak later
    on), the steepest rise of the force in the first 15 % of stance (body weights / s, 300 Hz),
    and the candidate features of the force as a centre-of-mass signal: whether the two
    runners differ at the ground at all."""
    from gait.validation import rbds

    rows: list[dict] = []
    if not (rbds_dir / rbds.TRIALS[0].markers).is_file():
        return pd.DataFrame(rows)
    for k, tr in enumerate(rbds.TRIALS):
        d = rbds.load_trial(tr, rbds_dir, seed=100 + k)
        if d.force_n is None:
            continue
        fs = rbds.FORCE_FS_HZ
        f = np.asarray(d.force_n, dtype=float)
        bw = float(f.mean())
        c = rbds.force_contacts(f, sampling_rate_hz=fs)
        ic, to = c[:, 0] * fs, c[:, 1] * fs
        v = f / bw * G
        feats = stance_features(v, np.zeros_like(v), ic, to, np.zeros(v.size, int), G, sampling_rate_hz=fs)
        hump, slope = [], []
        for a, b in zip(ic.astype(int), to.astype(int)):  # a few dozen stances
            seg = f[a:b] / bw
            n = b - a
            early = np.diff(seg[: int(0.3 * n)])
            has_peak = bool(np.any((early[:-1] > 0) & (early[1:] <= 0)))
            hump.append(has_peak and int(np.argmax(seg)) > int(0.3 * n))
            slope.append(float(np.max(np.diff(seg[: int(0.15 * n) + 1]))) * fs)
        rows.append(
            {
                "trial": tr.key,
                "truth": d.steps["foot_strike_class"].value_counts().idxmax(),
                "stances": len(ic),
                "impact peak share": float(np.mean(hump)),
                "steepest early rise (BW/s)": float(np.median(slope)),
                "loading_rate_bw_per_s (10 Hz)": float(feats["loading_rate_bw_per_s"].median()),
                "rise_share_15": float(feats["rise_share_15"].median()),
            }
        )
    return pd.DataFrame(rows)


#: the simulator's assumptions varied for the feature check: collision amplitude (m/s^2) and
#: width (s), stance skew, sampling rate (Hz)
SIM_GRID = {
    "impact_mps2": (8.0, 16.0),
    "impact_width_s": (0.02, 0.04),
    "stance_skew": (0.0, 0.35),
    "fs_hz": (100.0, 200.0),
}


def simulator_features(quick: bool = False) -> pd.DataFrame:
    """Per feature, the separation of simulated rearfoot from forefoot runs (AUC over steps,
    forefoot > rearfoot) under every combination of `SIM_GRID`: which features the simulated
    collision moves at all. The simulator's forefoot landing differs from its heel strike only
    by the missing vertical collision (no change of contact time, braking or stance shape), so
    a feature it does not move is untested here, not refuted."""
    from gait.simulator import Form, SimulationConfig

    rows = []
    k = 0
    grid = list(itertools.product(*SIM_GRID.values()))
    for impact, width, skew, fs in grid[:4] if quick else grid:
        runs = []
        for kind in ("rearfoot", "forefoot"):
            k += 1
            cfg = SimulationConfig(
                duration_s=40.0,
                seed=7000 + k,
                speed_mps=3.3,
                sampling_rate_hz=fs,
                mounting="random",
                form=Form(
                    rearfoot_share=float(kind == "rearfoot"),
                    impact_mps2=impact,
                    impact_width_s=width,
                    stance_skew=skew,
                ),
            )
            sim = gait.simulate(cfg)
            tru = sim.steps[sim.steps["activity"] == "running"]
            ref = pd.DataFrame({"ic_s": tru["ic_s"], "to_s": tru["to_s"], "strike": tru["foot_strike"]})
            run = {"session": sim.session, "ref": ref, "runner": kind, "trial": kind, "group": kind}
            runs.append(trial_features({**run, "slope_deg": 0, "speed_mps": 3.3}))
        rear, fore = runs
        for c in FEATURE_COLUMNS:
            rows.append(
                {
                    "impact_mps2": impact,
                    "impact_width_s": width,
                    "stance_skew": skew,
                    "fs_hz": fs,
                    "feature": c,
                    "auc": _auc(fore[c].to_numpy(), rear[c].to_numpy()),
                    "rearfoot median": float(rear[c].median()),
                    "forefoot median": float(fore[c].median()),
                }
            )
    d = pd.DataFrame(rows)
    return (
        d.groupby("feature", sort=False)
        .agg(
            auc_min=("auc", "min"),
            auc_max=("auc", "max"),
            rearfoot_median_min=("rearfoot median", "min"),
            rearfoot_median_max=("rearfoot median", "max"),
            forefoot_median_min=("forefoot median", "min"),
            forefoot_median_max=("forefoot median", "max"),
        )
        .reset_index()
    )


def strike_tables(
    runs: list[dict],
    steps_vs_reference: Callable[[dict], pd.DataFrame],
    quick: bool = False,
    rbds_dir: Path | None = None,
) -> dict[str, pd.DataFrame]:
    """Every foot-strike table (the module docstring) from the real sensor runs."""
    ins = pd.concat([steps_vs_reference(r) for r in runs], ignore_index=True)
    by_trial = strike_by_trial(ins)
    out = {"strike_by_trial": by_trial, "strike_by_runner": strike_by_runner(by_trial)}
    out |= feature_tables(pd.concat([trial_features(r) for r in runs], ignore_index=True))
    out["strike_decision_ratio"] = decision_ratio_table(runs, steps_vs_reference)
    out["strike_run_level"] = run_strike_table(ins)
    out["strike_simulator_features"] = simulator_features(quick)
    if rbds_dir is not None:
        out["strike_force_evidence"] = force_strike_evidence(rbds_dir)
    return out


def print_strike(t: dict[str, pd.DataFrame], plain: Callable[[pd.DataFrame], str]) -> None:
    """The foot-strike tables, as `plain` renders them."""
    if "strike_by_trial" not in t:
        return
    print("\nFoot strike per trial (steps; truth: shoe sensors for Alcantara, foot markers for RBDS):\n")
    print(plain(t["strike_by_trial"]))
    print("\nThe run's dominant strike per runner (shipped constants):\n")
    print(plain(t["strike_by_runner"]))
    print("\nCandidate foot-strike features per runner (median [p10, p90] over steps):\n")
    print(plain(t["strike_features_by_runner"]))
    print("\nCandidate foot-strike features per trial (median over steps):\n")
    print(plain(t["strike_features_by_trial"]))
    print(f"\nSeparation of the forefoot runner ({FOREFOOT_RUNNER}) from the rearfoot runners, per feature:\n")
    print(plain(t["strike_separation"]))
    print("\nFoot strike against the step decision ratio (every ratio, and chosen leaving each runner out):\n")
    print(plain(t["strike_decision_ratio"]))
    print(
        "\nThe run's dominant strike (median sagittal collision and its standard error), clear ratio chosen leaving "
        "each runner out:\n"
    )
    print(plain(t["strike_run_level"]))
    if "strike_force_evidence" in t and len(t["strike_force_evidence"]):
        print(
            "\nThe treadmill's force itself (RBDS runners 1 and 2 at 2.5 m/s): do the runners differ at the ground?\n"
        )
        print(plain(t["strike_force_evidence"]))
    if "strike_simulator_features" in t:
        print(
            "\nSimulator: separation of rearfoot from forefoot runs per feature (AUC forefoot > rearfoot over steps; "
            "range over collision 8 / 16 m/s^2, width 20 / 40 ms, stance skew 0 / 0.35, 100 / 200 Hz):\n"
        )
        print(plain(t["strike_simulator_features"]))
