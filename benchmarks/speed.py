"""Throughput and peak memory of the analysis core.

    python benchmarks/speed.py                 # 60-minute session at 200 Hz
    python benchmarks/speed.py --minutes 10    # shorter

Measures, for one simulated session (accelerometer + gyroscope):

1. the core alone: ``gait.analyze(session)`` on a session already in memory;
2. parsing alone: reading the canonical ``.csv.gz`` file (`gait.read_session`);
3. both, as ``gait analyze FILE`` does.

Samples/s is samples / time, best of ``--repeat`` runs, one process with one thread (BLAS and
OpenMP are limited to one thread). Both the CPU time of the process and the wall time are
given: on a shared machine the CPU time is the fair measure of "on one core". Peak memory is the largest amount allocated by the core
above the session's own arrays, measured with `tracemalloc` (NumPy reports its buffers there),
and given as a multiple of the raw arrays (t, acc, gyr: 7 float64 per sample).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import gait  # noqa: E402
from gait.errors import GaitDataWarning  # noqa: E402


def best_of(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall time and best CPU time (this process) over ``repeat`` runs, and the result."""
    wall, cpu, out = float("inf"), float("inf"), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu, out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="running time of the session (default 60)")
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)

    sim = gait.simulate(duration_s=60.0 * args.minutes, sampling_rate_hz=args.rate_hz, seed=1)
    s = sim.session
    n = s.n_samples
    raw_bytes = n * 7 * 8
    gait.analyze(s)  # warm caches and imports

    t_core, c_core, a = best_of(lambda: gait.analyze(s), args.repeat)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    gait.analyze(s)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "run.csv.gz"
        gait.save_session(s, path, decimals=5)
        size = path.stat().st_size
        t_parse, c_parse, _ = best_of(lambda: gait.read_session(path), args.repeat)
        t_both, c_both, _ = best_of(lambda: gait.analyze(gait.read_session(path)), args.repeat)

    print(
        f"session: {n} samples ({s.duration_s / 60:.1f} min at {args.rate_hz:g} Hz, accelerometer + gyroscope), {len(a.steps)} steps"
    )
    print()
    print("| stage | CPU time | samples/s (CPU) | wall time | samples/s (wall) |")
    print("|---|---|---|---|---|")
    for label, wall, cpu in (
        ("core (`gait.analyze`, session in memory)", t_core, c_core),
        (f"parsing (`gait.read_session`, {size / 1e6:.1f} MB .csv.gz)", t_parse, c_parse),
        ("both (`gait analyze FILE`)", t_both, c_both),
    ):
        print(f"| {label} | {cpu:.3f} s | {n / cpu / 1e6:.2f} M | {wall:.3f} s | {n / wall / 1e6:.2f} M |")
    print()
    print(
        f"peak memory of the core: {peak / 1e6:.0f} MB = {peak / raw_bytes:.1f} x the raw arrays ({raw_bytes / 1e6:.0f} MB)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
