"""Calibration of the fault rules against the simulator: false alarms and detections.

    python benchmarks/faults.py                 # the README table (10 seeds, about 4 minutes on 2 cores)
    python benchmarks/faults.py --seeds 3       # quicker
    python benchmarks/faults.py --json out.json

Every run draws a runner and a sensor from its seed: speed uniform in 2.5-4.2 m/s, mounting
(belt clip, upside down, sideways, aligned or random, with up to 5 deg of jitter), sampling
rate (100 or 200 Hz) and sensor quality (clean, typical, noisy: noise, bias, scale error,
timestamp jitter, lost packets).

- *Good form*: 12-minute runs with nothing injected (three times as many seeds; long enough
  for every rule, fatigue and warm-up included). Expected: no finding above ``low``.
- *One fault injected*: the same draw with one simulator knob set to show one fault.
  Expected: that fault is found and ranked first.

Two simulator configurations (``--build``):

- ``A`` (default): the project's simulator as the sample sessions use it: the skewed stance
  force of real sacral recordings, a 12 s walk to the start and a 90 s ramp from 75 % of the
  pace.
- ``B``: a differently built runner, to check that the rules do not rest on A's
  assumptions: a symmetric (half-sine) stance force (``stance_skew=0``); real warm-ups, on even
  seeds a 60-120 s walk then a 30 s ramp of the pace, on odd seeds 1-3 min of easy running at
  75-85 % of the pace then a 30 s ramp; no gyroscope on every third seed; and the pelvic-drop
  case roll-heavy (8-10 deg of roll instead of 8).

Training load and worn shoes come from the history, not the signal: their rows use a
good-form run and a synthetic history (runs stored in a temporary database) that shows the
fault. Downhill is run twice: with an elevation track made from the simulator's slope (exact),
and without (the product must say it cannot be assessed).

`run_case` and `CASES` are imported by ``tests/test_faults_calibration.py``, which runs a small
version of this table with tight assertions.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

import gait
from gait.errors import GaitDataWarning
from gait.faults import SEVERITIES, ElevationTrack, assess
from gait.history import History, RunRecord, run_record
from gait.simulator import SensorModel, SimulationConfig, simulate, typical_cadence_spm, typical_contact_time_s

MOUNTINGS = ("belt_clip", "upside_down", "sideways", "aligned", "random")
SENSORS = {
    "clean": SensorModel(acc_noise_mps2=0.02, gyr_noise_rads=0.002),
    "typical": SensorModel(),
    "noisy": SensorModel(
        acc_noise_mps2=0.08,
        gyr_noise_rads=0.008,
        acc_bias_mps2=(0.15, -0.1, 0.2),
        gyr_bias_rads=(0.02, -0.01, 0.015),
        acc_scale=(1.01, 0.99, 1.005),
        timestamp_jitter_s=0.0008,
        drop_rate=0.002,
    ),
}


BUILDS = ("A", "B")
#: the device name that marks a configuration-B run (the case changes read it)
B_DEVICE = "simulator-b"


def base_config(seed: int, duration_s: float, build: str = "A") -> SimulationConfig:
    """The runner and sensor of a seed (good form), in configuration ``build``."""
    cfg = _base_a(seed, duration_s)
    if build == "A":
        return cfg
    if build != "B":
        raise ValueError(f"unknown build {build!r}: expected one of {BUILDS}")
    rng = np.random.default_rng(20_000 + seed)
    walk = float(np.round(rng.uniform(60.0, 120.0)))
    easy = float(np.round(rng.uniform(60.0, 180.0)))
    start = float(np.round(rng.uniform(0.75, 0.85), 2))
    if seed % 2 == 0:  # a walk to the start, then a 30 s pick-up of pace
        walk_s, start_ratio, easy_s = walk, 0.75, 0.0
    else:  # an easy jog, then a 30 s pick-up
        walk_s, start_ratio, easy_s = 12.0, start, easy
    return dataclasses.replace(
        cfg,
        duration_s=duration_s + easy_s,  # the case's running time comes after the easy jog
        form=dataclasses.replace(cfg.form, stance_skew=0.0),
        sensor=dataclasses.replace(cfg.sensor, has_gyro=seed % 3 != 1),
        device=B_DEVICE,
        walking_before_s=walk_s,
        warmup_s=30.0,
        warmup_start=start_ratio,
        warmup_easy_s=easy_s,
    )


def _base_a(seed: int, duration_s: float) -> SimulationConfig:
    rng = np.random.default_rng(10_000 + seed)
    return SimulationConfig(
        duration_s=duration_s,
        seed=seed,
        speed_mps=float(np.round(rng.uniform(2.5, 4.2), 2)),
        sampling_rate_hz=float(rng.choice([100.0, 200.0])),
        mounting=str(rng.choice(MOUNTINGS)),
        mounting_jitter_deg=float(rng.uniform(0.0, 5.0)),
        sensor=SENSORS[str(rng.choice(list(SENSORS)))],
    )


def _form(cfg: SimulationConfig, **changes) -> SimulationConfig:
    return dataclasses.replace(cfg, form=dataclasses.replace(cfg.form, **changes))


def _sign(cfg: SimulationConfig) -> float:
    return 1.0 if cfg.seed % 2 == 0 else -1.0


def _overstride(c: SimulationConfig) -> SimulationConfig:
    cad = float(typical_cadence_spm(c.speed_mps)) - 14.0
    tc = float(typical_contact_time_s(c.speed_mps)) * 1.18
    return _form(c, cadence_spm=cad, contact_time_s=tc, braking_mps2=8.0, braking_share=0.55)


def _bounce(c: SimulationConfig) -> SimulationConfig:
    cad = float(typical_cadence_spm(c.speed_mps)) - 10.0
    tc = float(typical_contact_time_s(c.speed_mps)) * 0.8
    return _form(c, cadence_spm=cad, contact_time_s=tc)


def _surges(c: SimulationConfig) -> SimulationConfig:
    d = c.duration_s
    return dataclasses.replace(c, surges=((0.45 * d, 30.0, 1.25), (0.75 * d, 25.0, 1.3)))


def _pelvic_drop(c: SimulationConfig) -> SimulationConfig:
    roll = 8.0 if c.device != B_DEVICE else float(np.round(np.random.default_rng(c.seed).uniform(8.0, 10.0), 1))
    return _form(c, roll_amplitude_deg=roll)


def _no_warmup(c: SimulationConfig) -> SimulationConfig:
    return dataclasses.replace(c, warmup_s=0.0, warmup_easy_s=0.0, walking_before_s=min(c.walking_before_s, 12.0))


def _downhill(c: SimulationConfig) -> SimulationConfig:
    d = c.duration_s
    return dataclasses.replace(c, slopes=((0.25 * d, 0.5 * d, -6.0),))


@dataclass(frozen=True)
class Case:
    """One row of the table: which fault is shown, how, and how long the run is."""

    name: str
    expected: str | None
    change: Callable[[SimulationConfig], SimulationConfig]
    duration_s: float = 180.0
    elevation: bool = False
    history: str | None = None
    expect_note: bool = False


CASES: tuple[Case, ...] = (
    Case("good form", None, lambda c: c, duration_s=720.0),  # long enough for every rule
    Case("heel striking", "heel_strike", lambda c: _form(c, rearfoot_share=0.9, impact_mps2=20.0)),
    Case("overstriding", "overstriding", _overstride),
    Case("vertical bounce", "vertical_bounce", _bounce),
    Case("leaning forward", "forward_lean", lambda c: _form(c, lean_deg=12.0)),
    Case("leaning back", "backward_lean", lambda c: _form(c, lean_deg=-3.0)),
    Case("too upright", "too_upright", lambda c: _form(c, lean_deg=0.0)),
    Case("lateral trunk lean", "lateral_lean", lambda c: _form(c, roll_mean_deg=4.0 * _sign(c))),
    Case("pelvic drop", "pelvic_drop", _pelvic_drop),
    Case("trunk rotation", "trunk_rotation", lambda c: _form(c, yaw_amplitude_deg=12.0)),
    Case("rigid trunk (note)", "rigid_trunk", lambda c: _form(c, yaw_amplitude_deg=2.0)),
    Case(
        "poor core stability",
        "poor_core_stability",
        lambda c: _form(c, step_time_cv=0.05, angle_cv=0.25, ml_sway_mps2=4.0),
    ),
    Case(
        "left/right imbalance",
        "asymmetry",
        lambda c: _form(c, asymmetry=0.10 * _sign(c), impact_asymmetry=0.15 * _sign(c)),
    ),
    Case(
        "fatigue",
        "fatigue",
        lambda c: dataclasses.replace(
            c, fatigue=1.0, warmup_s=max(c.warmup_s, 120.0) if c.device != B_DEVICE else c.warmup_s
        ),
        duration_s=720.0,
    ),
    Case("sudden speed increases", "sudden_speed_increases", _surges, duration_s=240.0),
    Case("no warm-up", "no_warmup", _no_warmup, duration_s=300.0),
    Case("downhill, with elevation", "downhill", _downhill, elevation=True),
    Case("downhill, no elevation", "downhill", _downhill, expect_note=True),
    Case("hard surface", "hard_surface", lambda c: dataclasses.replace(c, surface_vibration_mps2=1.0)),
    Case("uneven surface", "uneven_surface", lambda c: dataclasses.replace(c, surface_roughness=0.8)),
    Case("training load jump", "training_load", lambda c: c, history="load"),
    Case("worn shoes", "worn_shoes", lambda c: c, history="shoes"),
)
CASE_BY_NAME = {c.name: c for c in CASES}


def elevation_from_truth(sim: gait.simulator.Simulation) -> ElevationTrack:
    """An exact elevation track (1 Hz, session clock) from the simulator's slope and speed."""
    st = sim.steps
    t = st["ic_s"].to_numpy(float)
    dz = (
        np.tan(np.radians(st["slope_deg"].to_numpy(float)))
        * st["speed_mps"].to_numpy(float)
        * st["step_time_s"].to_numpy(float)
    )
    z = np.concatenate([[100.0], 100.0 + np.cumsum(dz)])[:-1]
    grid = np.arange(0.0, float(sim.session.t[-1]) + 1.0, 1.0)
    return ElevationTrack(grid, np.interp(grid, t, z), None, source="simulator truth", alignment="session clock")


def synthetic_history(kind: str, current: RunRecord) -> History:
    """Earlier runs that show a training-load jump or worn shoes (see the module docstring)."""
    now = current.started_at
    runs = []
    if kind == "load":
        # five weeks of 3 x 40 min, then this week 5 x 45 min (weekly time up about 85 %)
        for week in range(1, 6):
            for day in (1, 3, 5):
                runs.append(RunRecord(f"w{week}d{day}", now - timedelta(days=7 * week + day), "given", 2500, 2400))
        for day in (1, 2, 3, 4):
            runs.append(RunRecord(f"this{day}", now - timedelta(days=day), "given", 2800, 2700))
    else:
        # 90 runs of 9 km in the same shoes over ten months: 810 km = 503 miles
        for k in range(90):
            runs.append(
                RunRecord(f"s{k}", now - timedelta(days=3 * k + 3), "given", 3200, 3100, 9000.0, shoes="Daily trainer")
            )
        current = dataclasses.replace(current, shoes="Daily trainer")
    return History(runs=tuple(sorted(runs, key=lambda r: r.started_at)), current=current)


@dataclass(frozen=True)
class Outcome:
    case: str
    seed: int
    speed_mps: float
    mounting: str
    rate_hz: float
    expected: str | None
    found: tuple[tuple[str, str, float], ...]  # (fault, severity, confidence), ranked
    note: bool  # the expected fault was reported as "cannot be assessed"
    build: str = "A"
    gyro: bool = True

    @property
    def detected(self) -> bool:
        return any(f == self.expected for f, _, _ in self.found)

    @property
    def first(self) -> bool:
        return bool(self.found) and self.found[0][0] == self.expected

    @property
    def others_above_low(self) -> int:
        return sum(1 for f, s, _ in self.found if f != self.expected and SEVERITIES.index(s) > 1)

    @property
    def severity(self) -> str:
        return next((s for f, s, _ in self.found if f == self.expected), "none")

    @property
    def confidence(self) -> float:
        return next((c for f, _, c in self.found if f == self.expected), float("nan"))


def run_case(case: Case, seed: int, *, duration_s: float | None = None, build: str = "A") -> Outcome:
    """Simulate, analyse and assess one case for one seed (in configuration ``build``)."""
    cfg = case.change(base_config(seed, duration_s or case.duration_s, build))
    sim = simulate(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # lost packets are reported, as intended
        a = gait.analyze(sim.session, speed_mps=cfg.speed_mps if seed % 3 == 0 else None)
    history = None
    if case.history:
        rec = run_record(a, started_at=datetime(2024, 6, 1, 7, 0, tzinfo=UTC))
        history = synthetic_history(case.history, rec)
    elevation = elevation_from_truth(sim) if case.elevation else None
    r = assess(a, history=history, elevation=elevation)
    found = tuple((f.fault, f.severity, f.confidence) for f in r.findings)
    note = any(n.fault == case.expected and n.status == "cannot_assess" for n in r.notes)
    mounting = cfg.mounting if isinstance(cfg.mounting, str) else "angles"
    return Outcome(
        case.name,
        seed,
        cfg.speed_mps,
        mounting,
        cfg.sampling_rate_hz,
        case.expected,
        found,
        note,
        build,
        cfg.sensor.has_gyro,
    )


def _job(args: tuple[str, int, float | None, str]) -> Outcome:
    name, seed, dur, build = args
    return run_case(CASE_BY_NAME[name], seed, duration_s=dur, build=build)


def run_table(
    seeds: int, *, workers: int | None = None, clean_factor: int = 3, build: str = "A", cases: str | None = None
) -> list[Outcome]:
    jobs = []
    names = None if not cases else {c.strip() for c in cases.split(",")}
    for case in CASES:
        if names is not None and case.name not in names:
            continue
        n = seeds * clean_factor if case.expected is None else seeds
        jobs += [(case.name, s, None, build) for s in range(n)]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return [_job(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as ex:
        return list(ex.map(_job, jobs, chunksize=2))


def summarise(outcomes: list[Outcome]) -> list[dict]:
    rows = []
    for case in CASES:
        oc = [o for o in outcomes if o.case == case.name]
        if not oc:
            continue
        if case.expected is None:
            worst = max((SEVERITIES.index(s) for o in oc for _, s, _ in o.found), default=0)
            rows.append(
                {
                    "case": case.name,
                    "expected": "(nothing above low)",
                    "runs": len(oc),
                    "detected": sum(1 for o in oc if not any(SEVERITIES.index(s) > 1 for _, s, _ in o.found)),
                    "first": None,
                    "severity": SEVERITIES[worst],
                    "confidence": float("nan"),
                    "others_above_low": sum(o.others_above_low for o in oc),
                    "low_findings": sum(len(o.found) for o in oc),
                    "notes": 0,
                    "others": _others(oc),
                }
            )
            continue
        sev = [SEVERITIES.index(o.severity) for o in oc]
        conf = [o.confidence for o in oc if o.detected]
        rows.append(
            {
                "case": case.name,
                "expected": case.expected,
                "runs": len(oc),
                "detected": sum(o.detected for o in oc),
                "first": sum(o.first for o in oc),
                "severity": SEVERITIES[int(np.median(sev))] if sev else "none",
                "confidence": float(np.median(conf)) if conf else float("nan"),
                "others_above_low": sum(o.others_above_low for o in oc),
                "low_findings": None,
                "notes": sum(o.note for o in oc),
                "others": _others(oc),
            }
        )
    return rows


def _others(oc: list[Outcome]) -> str:
    """Faults ranked above the expected one or found above low beside it, with their counts."""
    seen: dict[str, int] = {}
    for o in oc:
        names = [f for f, _, _ in o.found]
        above = names[: names.index(o.expected)] if o.expected in names else names
        hits = {f for f, s, _ in o.found if f != o.expected and (f in above or SEVERITIES.index(s) > 1)}
        if o.expected is None:
            hits = {f for f, s, _ in o.found if SEVERITIES.index(s) > 1}
        for f in hits:
            seen[f] = seen.get(f, 0) + 1
    return ", ".join(f"{f} x{n}" for f, n in sorted(seen.items(), key=lambda x: -x[1]))


def markdown(rows: list[dict]) -> str:
    out = [
        "| case | fault expected | runs | found | ranked first | median severity | median confidence | other faults above low | above it or above low |",
        "|---|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for r in rows:
        if r["expected"] == "(nothing above low)":
            found = f"{r['detected']}/{r['runs']} clean"
            n_low = r["low_findings"]
            extra = f" ({n_low} low finding{'s' if n_low > 1 else ''})" if n_low else ""
            out.append(
                f"| {r['case']} | none | {r['runs']} | {found}{extra} | - | worst: {r['severity']} | - | {r['others_above_low']} | {r.get('others', '')} |"
            )
            continue
        if r["notes"] == r["runs"] and r["detected"] == 0:
            found, first, sev = "cannot be assessed (said so)", "-", "-"
        else:
            found, first, sev = f"{r['detected']}/{r['runs']}", f"{r['first']}/{r['runs']}", r["severity"]
        conf = "-" if math.isnan(r["confidence"]) else f"{r['confidence']:.2f}"
        out.append(
            f"| {r['case']} | `{r['expected']}` | {r['runs']} | {found} | {first} | {sev} | {conf} | {r['others_above_low']} | {r.get('others', '')} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=10, help="seeds per fault (good form: three times as many)")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--json", type=Path, help="write every outcome as JSON")
    p.add_argument("--build", choices=BUILDS, default="A", help="simulator configuration (see the module docstring)")
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    outcomes = run_table(args.seeds, workers=args.workers, build=args.build, cases=args.cases)
    rows = summarise(outcomes)
    print(markdown(rows))
    print(f"\n{len(outcomes)} runs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=1))
    bad = [
        r["case"]
        for r in rows
        if (r["expected"] == "(nothing above low)" and r["detected"] < r["runs"])
        or (r["expected"] != "(nothing above low)" and r["notes"] == 0 and r["first"] < r["runs"])
    ]
    if bad:
        print("cases below target: " + ", ".join(bad), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
