"""The clock offset found from the run (``--track-offset-s auto``), on simulated runs it was
not tuned on.

    python benchmarks/track_offset.py              # 12 runs, 24 tracks (about 1 minute)
    python benchmarks/track_offset.py --runs 4     # quicker

Each run draws a runner from its seed: speed uniform in 2.4-4.4 m/s, 5, 10 or 15 minutes, a
warm-up of 0, 1 or 2 minutes, a surge in every other run, turning in some, random sensor
mounting, 100 Hz. Its watch track is the simulator's exact speed at 1 Hz, smoothed over 5 s
(as a watch filters it) plus 0.1 or 0.2 m/s of noise per second, shifted by a random offset
within +-100 s. Counted: offsets found within 1 s, refused, and wrong (accepted and more than
1 s off). A second track of the same run covers only its steady running (no start, stop or
change of pace): it must be refused.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gait
from gait.errors import GaitDataWarning
from gait.tracks import Track, align_track, estimate_offset

START = datetime(2024, 5, 1, 7, 0, 0, tzinfo=UTC)


def truth(sim: gait.simulator.Simulation, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The simulated runner's exact distance and speed at session times ``t``."""
    s = sim.steps.sort_values("ic_s")
    ic, v, dt = (s[c].to_numpy(float) for c in ("ic_s", "speed_mps", "step_time_s"))
    d_ic = np.concatenate([[0.0], np.cumsum(v * dt)])
    t_ic = np.append(ic, ic[-1] + dt[-1])
    k = np.searchsorted(ic, t, side="right") - 1
    speed = np.where((k >= 0) & (t < t_ic[-1]), v[np.clip(k, 0, v.size - 1)], 0.0)
    return np.interp(t, t_ic, d_ic), speed


def utc_track(t: np.ndarray, dist: np.ndarray, speed: np.ndarray, offset_s: float) -> Track:
    """A watch track whose clock is ``offset_s`` behind the sensor's."""
    return Track(
        t + START.timestamp() - offset_s,
        distance_m=dist - dist[0],
        speed_mps=speed,
        clock="utc",
        utc_zero_s=0.0,
        format="arrays",
        source="simulated watch",
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=12)
    args = ap.parse_args()
    rng = np.random.default_rng(2026)
    rows = []
    for k in range(args.runs):
        dur = float(rng.choice([300.0, 600.0, 900.0]))
        surge = (float(rng.uniform(60, dur - 120)), float(rng.uniform(20, 60)), float(rng.uniform(1.1, 1.3)))
        cfg = gait.SimulationConfig(
            duration_s=dur,
            seed=100 + k,
            speed_mps=float(rng.uniform(2.4, 4.4)),
            surges=(surge,) if k % 2 else (),
            warmup_s=float(rng.choice([0.0, 60.0, 120.0])),
            mounting="random",
            sampling_rate_hz=100.0,
            turn_rate_dps=float(rng.choice([0.0, 3.0])),
        )
        sim = gait.simulate(cfg)
        meta = dataclasses.replace(sim.session.meta, start_time=START.isoformat())
        session = dataclasses.replace(sim.session, meta=meta)
        a = gait.analyze(session)
        t = np.arange(0.0, float(session.t[-1]) + 1.0)
        dist, speed = truth(sim, t)
        for noise in (0.1, 0.2):
            off = int(rng.integers(-100, 100))
            noisy = np.clip(np.convolve(speed, np.ones(5) / 5, mode="same") + rng.normal(0, noise, t.size), 0, None)
            found = estimate_offset(a, align_track(utc_track(t, dist, noisy, off), session))
            steady = (t > 0.4 * t[-1]) & (t < t[-1] - 30)
            if k % 2:
                steady &= ~((t > surge[0] - 10) & (t < surge[0] + surge[1] + 30))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GaitDataWarning)  # a partial track
                part = align_track(
                    utc_track(t[steady], dist[steady], speed[steady] + rng.normal(0, noise, steady.sum()), 0.0),
                    session,
                )
            refused = estimate_offset(a, part).offset_s is None
            rows.append((k, cfg.speed_mps, dur, bool(k % 2), noise, off, found.offset_s, refused))
            got = "refused" if found.offset_s is None else f"{found.offset_s:+.1f} s"
            print(
                f"run {k:2d}  {cfg.speed_mps:.2f} m/s  {dur / 60:4.0f} min  surge {'yes' if k % 2 else 'no '}  "
                f"noise {noise:.1f}  offset {off:+4d} s: {got:>9}  steady part refused: {refused}",
                flush=True,
            )
    n = len(rows)
    ok = sum(r[6] is not None and abs(r[6] - r[5]) <= 1.0 for r in rows)
    wrong = sum(r[6] is not None and abs(r[6] - r[5]) > 1.0 for r in rows)
    print(
        f"\nfound within 1 s: {ok} of {n}; refused: {sum(r[6] is None for r in rows)}; wrong: {wrong}; "
        f"steady parts refused: {sum(r[7] for r in rows)} of {n}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
