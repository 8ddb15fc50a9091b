"""Side by side with the open lower-back gait pipelines: speed, and what they find in a run.

    pip install scikit-digital-health mobgap     # in an environment of its own, with this package
    python benchmarks/compare.py                 # 30 minutes of running at 100 Hz
    python benchmarks/compare.py --minutes 10

One simulated session (the ``easy`` runner: standing and walking before and after a run,
accelerometer + gyroscope, 100 Hz, which mobgap requires) in the body frame, so no tool
depends on its own mounting correction; each tool gets the axes, units and time base it asks
for. Per tool, one thread:

- CPU time of the whole analysis and samples/s (best of ``--repeat``);
- the initial contacts it reports against the simulator's truth, separately in the running
  part and in the walking parts: the timing bias (each tool marks contact on its own feature
  of the trunk signal), then F1 and MAE within 40 ms once that bias is removed;
- contact (stance) time per step where the tool reports it, against the truth;
- the median cadence it reports while running, against the truth.

Tools that are not installed are listed as such. The walking pipelines are built and validated
for walking: the running rows show what a runner would get from them, not a flaw in their own
domain (see the walking rows).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import gait  # noqa: E402
from gait.constants import AP, ML, V  # noqa: E402
from gait.evaluation import match_events  # noqa: E402
from gait.simulator import Simulation, preset, simulate  # noqa: E402


@dataclass
class Output:
    """What a tool reports, on the session's clock (s)."""

    ic_s: np.ndarray
    contact_s: pd.Series | None = None  # per initial contact, indexed like ic_s
    running_cadence_spm: float = float("nan")
    notes: list[str] = field(default_factory=list)


def run_gait(sim: Simulation) -> Output:
    a = gait.analyze(sim.session)
    st = a.steps
    return Output(
        ic_s=st["ic_s"].to_numpy(),
        contact_s=pd.Series(st["contact_time_s"].to_numpy(), index=st["ic_s"].to_numpy()),
        running_cadence_spm=float(st.loc[st["activity"] == "running", "cadence_spm"].median()),
    )


def run_skdh(sim: Simulation) -> Output:
    import skdh

    s = sim.session
    t0 = 1.7e9  # scikit-digital-health wants Unix time
    acc_g = s.acc[:, [V, ML, AP]] / 9.80665
    res = skdh.gait.GaitLumbar().predict(
        time=s.t + t0, accel=acc_g, fs=s.sampling_rate_hz, height=1.75, gait_pred=True, v_axis=0, ap_axis=2
    )
    df = pd.DataFrame({k: np.asarray(v) for k, v in res.items() if np.ndim(v) == 1})
    ic = df["IC Timestamp"].to_numpy(float) - t0
    stance = pd.Series(df["stance time"].to_numpy(float), index=ic)
    running = _in_running(ic, sim)
    return Output(
        ic_s=np.unique(ic),
        contact_s=stance[~stance.index.duplicated()],
        running_cadence_spm=float(np.nanmedian(df["cadence"].to_numpy(float)[running])),
        notes=["gait_pred=True (the whole recording offered as gait)"],
    )


def run_mobgap(sim: Simulation) -> Output:
    from mobgap.data import GaitDatasetFromData
    from mobgap.pipeline import MobilisedPipelineHealthy

    s = sim.session
    if s.gyr is None:
        raise ValueError("mobgap needs a gyroscope; the simulated session has none")
    gyr_deg = np.degrees(s.gyr)
    # Mobilise-D body axes: x up, y right, z forward; m/s^2 and deg/s
    data = pd.DataFrame(
        {
            "acc_x": s.acc[:, V],
            "acc_y": -s.acc[:, ML],
            "acc_z": s.acc[:, AP],
            "gyr_x": gyr_deg[:, V],
            "gyr_y": -gyr_deg[:, ML],
            "gyr_z": gyr_deg[:, AP],
        }
    )
    ds = GaitDatasetFromData(
        {"runner": {"LowerBack": data}},
        s.sampling_rate_hz,
        {"runner": {"height_m": 1.75, "sensor_height_m": 0.95, "cohort": "HA", "weight_kg": 70.0}},
        {"runner": {"measurement_condition": "laboratory"}},
    )
    p = MobilisedPipelineHealthy().safe_run(ds[0])
    ic = p.raw_ic_list_["ic"].to_numpy(float) / s.sampling_rate_hz
    per_sec = p.raw_per_sec_parameters_.reset_index()
    sec_t = per_sec["sec_center_samples"].to_numpy(float) / s.sampling_rate_hz
    cad = per_sec["cadence_spm"].to_numpy(float)[_in_running(sec_t, sim)]
    return Output(ic_s=np.unique(ic), running_cadence_spm=float(np.nanmedian(cad)) if cad.size else float("nan"))


#: name -> (module, pip distribution, runner)
TOOLS: dict[str, tuple[str, str, Callable[[Simulation], Output]]] = {
    "gait-lumbar (this project)": ("gait", "gait-lumbar", run_gait),
    "scikit-digital-health GaitLumbar": ("skdh", "scikit-digital-health", run_skdh),
    "mobgap MobilisedPipelineHealthy": ("mobgap", "mobgap", run_mobgap),
}


def _span(sim: Simulation, activity: str) -> list[tuple[float, float]]:
    """Time spans of the truth's steps of one activity (contiguous runs of steps)."""
    st = sim.steps
    sel = (st["activity"] == activity).to_numpy()
    edges = np.flatnonzero(np.diff(np.r_[0, sel.astype(int), 0]))
    ic = st["ic_s"].to_numpy()
    end = ic + st["step_time_s"].to_numpy()
    return [(ic[a], end[b - 1]) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _in_running(t: np.ndarray, sim: Simulation) -> np.ndarray:
    return _within(t, _span(sim, "running"))


def _within(t: np.ndarray, spans: list[tuple[float, float]], pad: float = 0.0) -> np.ndarray:
    inside = np.zeros(t.shape, bool)
    for a, b in spans:
        inside |= (t >= a - pad) & (t <= b + pad)
    return inside


def score(out: Output, sim: Simulation, activity: str) -> dict[str, float]:
    """Initial contacts within the truth's spans of ``activity``: timing bias, F1, contact time.

    Each tool marks initial contact on its own feature of the trunk signal, so a tool may be
    consistently early or late: the bias (median offset to the nearest true contact within
    150 ms) is reported, and the events are matched within 40 ms after removing it, so the F1
    says whether each step was found and the bias when.
    """
    st = sim.steps
    truth = st[st["activity"] == activity]
    ref = truth["ic_s"].to_numpy()
    det = out.ic_s[_within(out.ic_s, _span(sim, activity), pad=0.2)]
    bias = float("nan")
    if det.size and ref.size:
        j = np.clip(np.searchsorted(ref, det), 1, ref.size - 1)
        nearest = np.where(np.abs(det - ref[j - 1]) < np.abs(det - ref[j]), ref[j - 1], ref[j])
        off = det - nearest
        off = off[np.abs(off) < 0.15]
        bias = float(np.median(off)) if off.size else float("nan")
    shifted = det - (bias if np.isfinite(bias) else 0.0)
    m = match_events(shifted, ref, tolerance_s=0.04)
    err = shifted[m.detected_idx] - ref[m.reference_idx]
    row = {
        "F1": m.f1,
        "found": m.true_positives / max(ref.size, 1),
        "bias_ms": 1e3 * bias,
        "ic_mae_ms": 1e3 * float(np.mean(np.abs(err))) if err.size else float("nan"),
        "contact_mae_ms": float("nan"),
    }
    if out.contact_s is not None and m.true_positives:
        est = out.contact_s.reindex(det[m.detected_idx]).to_numpy(float)
        tc = truth["contact_time_s"].to_numpy()[m.reference_idx]
        ok = np.isfinite(est) & np.isfinite(tc)
        if ok.any():
            row["contact_mae_ms"] = 1e3 * float(np.mean(np.abs(est[ok] - tc[ok])))
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0, help="running time (default 30)")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per tool (best is kept)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")  # the other tools warn about versions and short bouts

    cfg = preset("easy", duration_s=60.0 * args.minutes, sampling_rate_hz=100.0, seed=args.seed)
    sim = simulate(cfg, frame="body")
    n = sim.session.n_samples
    truth_cad = float(sim.steps.loc[sim.steps["activity"] == "running", "cadence_spm"].median())
    print(f"session: {n} samples ({n / 6000:.1f} min at 100 Hz, body frame), truth: {len(sim.steps)} steps")
    print(f"running cadence (truth, median): {truth_cad:.1f} steps/min\n")

    rows: list[dict[str, object]] = []
    for name, (module, dist, fn) in TOOLS.items():
        try:
            __import__(module)
        except ImportError:
            rows.append({"tool": name, "note": f"not installed (pip install {dist})"})
            continue
        cpu, out = float("inf"), None
        for _ in range(args.repeat):
            c0 = time.process_time()
            out = fn(sim)
            cpu = min(cpu, time.process_time() - c0)
        assert out is not None
        run, walk = score(out, sim, "running"), score(out, sim, "walking")
        rows.append(
            {
                "tool": name,
                "cpu_s": cpu,
                "samples_per_s": n / cpu,
                "run_F1": run["F1"],
                "run_bias_ms": run["bias_ms"],
                "run_ic_mae_ms": run["ic_mae_ms"],
                "run_contact_mae_ms": run["contact_mae_ms"],
                "run_cadence_spm": out.running_cadence_spm,
                "walk_F1": walk["F1"],
                "walk_bias_ms": walk["bias_ms"],
                "note": "; ".join(out.notes),
            }
        )
        print(f"  {name}: {cpu:.2f} s CPU", flush=True)

    df = pd.DataFrame(rows)
    ours = df.loc[0, "cpu_s"]
    print(
        "\n| tool | CPU time | samples/s | vs this project | running: steps F1 | IC bias | IC MAE (bias removed) |"
        f" contact MAE | cadence (truth {truth_cad:.0f}) | walking: steps F1 | IC bias |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in df.to_dict("records"):
        if pd.isna(r.get("cpu_s", float("nan"))):
            print(f"| {r['tool']} | {r['note']} |||||||||")
            continue
        print(
            f"| {r['tool']} | {r['cpu_s']:.2f} s | {r['samples_per_s'] / 1e3:.0f} k | {r['cpu_s'] / ours:.1f} x |"
            f" {r['run_F1']:.3f} | {_ms(r['run_bias_ms'])} | {_ms(r['run_ic_mae_ms'])} | {_ms(r['run_contact_mae_ms'])} |"
            f" {r['run_cadence_spm']:.0f} | {r['walk_F1']:.3f} | {_ms(r['walk_bias_ms'])} |"
        )
    notes = [f"{r['tool']}: {r['note']}" for r in df.to_dict("records") if r.get("note")]
    if notes:
        print("\n" + "\n".join(notes))
    return 0


def _ms(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.1f} ms"


if __name__ == "__main__":
    raise SystemExit(main())
