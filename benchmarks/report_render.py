"""Time the HTML report on a long run: ``python benchmarks/report_render.py [--minutes 60]``.

Simulates a run (200 Hz; fatigue, trunk rotation, sideways lean and pelvic drop, so several
findings are charted), analyses it, then times `gait.report.render_html` (best of five, after
one warm-up call) and prints the page size. The charts are drawn from per-step data summarised
per time bin, never from the samples, so the time should barely grow with the run's length.
"""

from __future__ import annotations

import argparse
import time

from gait import analyze
from gait import simulator as sim
from gait.faults import assess
from gait.report import RunReport, render_html


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=60.0, help="running time (default 60)")
    p.add_argument("--rate-hz", type=float, default=200.0, help="sampling rate (default 200)")
    args = p.parse_args()
    cfg = sim.preset("rotation_lean", duration_s=60.0 * args.minutes, fatigue=1.0, sampling_rate_hz=args.rate_hz)
    r = sim.simulate(cfg, seed=1)
    a = analyze(r.session, speed=3.0)
    rr = RunReport(f"{args.minutes:g}-minute simulated run", a, assess(a))
    render_html([rr])
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        page = render_html([rr])
        times.append(time.perf_counter() - t0)
    print(
        f"{args.minutes:g} min at {args.rate_hz:g} Hz: {a.session.n_samples} samples, {len(a.running_steps)} running "
        f"steps, {len(rr.assessment.findings)} findings; render_html best {min(times):.3f} s, "
        f"median {sorted(times)[2]:.3f} s; page {len(page) / 1024:.0f} KiB"
    )


if __name__ == "__main__":
    main()
