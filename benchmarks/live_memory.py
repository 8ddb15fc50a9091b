"""Memory of a long live recording: a simulated 3-hour run at 400 Hz, played faster than real time.

The recorder runs exactly as under ``gait record`` (bleak's public API, decoding, the file
written and fsynced, the live analysis on every notification, fault cues once a second in
their own process, and the dashboard rendered four times a second, here to ``/dev/null``);
only the transport is bleak's fake backend (`tests/ble/fake_backend.py`), with the virtual
sensor playing a 10-minute simulated run in a loop at ``--speed`` times real time, so that
three hours of data take a quarter of an hour. The virtual sensor runs in the same process
here; its log of delivered samples (kept for the tests' comparisons) is emptied as it goes,
so that what is measured is the recorder.

Reports the recorder's resident memory (RSS) every ``--sample-s`` seconds of wall time, and
its growth from the end of the first ``--settle-min`` minutes of data (caches, the start
mounting buffer, the fault catalogue filled) to the end. ``--trace`` also prints the Python
allocations that grew the most (tracemalloc), to find a leak.

    .venv/bin/python benchmarks/live_memory.py                      # 3 h of data at 12 x
    .venv/bin/python benchmarks/live_memory.py --hours 0.5 --speed 6 --trace
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from rich.console import Console  # noqa: E402

from gait.errors import GaitDataWarning  # noqa: E402
from gait.live import RecordConfig, Recorder  # noqa: E402
from gait.live._dashboard import render  # noqa: E402
from gait.simulator import SimulationConfig, simulate  # noqa: E402
from tests.ble.harness import fake_rig  # noqa: E402


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


async def _record(out: Path, *, hours: float, speed: float, sample_s: float, trace: bool) -> dict:
    run = simulate(SimulationConfig(duration_s=640.0, seed=7), sampling_rate_hz=400.0).session
    run = run.slice_time(run.t[0] + 21.0, run.t[-1] + 1.0)  # running from the first sample
    samples: list[tuple[float, float, float]] = []  # (wall s, data s, RSS MiB)
    console = Console(file=open(os.devnull, "w"), force_terminal=True, width=100)
    snap0 = None
    async with fake_rig(run, loop=True, speed=speed) as rig:
        rec = Recorder(
            RecordConfig(
                out=out,
                rate_hz=400,
                duration_s=hours * 3600.0 / speed,
                backend=rig.backend,
                stall_timeout_s=5.0,
                give_up_s=60.0,
            )
        )
        task = asyncio.create_task(rec.run())
        t0 = time.monotonic()
        last = -sample_s
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            console.print(render(rec.view()))  # the dashboard's work, to /dev/null
            rig.sensor.log.delivered.clear()  # the virtual sensor's own log (tests) is not the recorder's
            now = time.monotonic() - t0
            if now - last >= sample_s:
                last = now
                data_s = rec.view().link.samples_written / 400.0
                samples.append((now, data_s, _rss_mib()))
                if trace and snap0 is None and data_s >= 600:
                    snap0 = tracemalloc.take_snapshot()
        result = task.result()
    top = []
    if trace and snap0 is not None:
        snap1 = tracemalloc.take_snapshot()
        for st in snap1.compare_to(snap0, "lineno")[:15]:
            top.append(str(st))
    return {"result": result, "samples": samples, "top": top}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hours", type=float, default=3.0, help="hours of data (default 3)")
    p.add_argument("--speed", type=float, default=12.0, help="playback speed (default 12)")
    p.add_argument("--sample-s", type=float, default=10.0, help="RSS sampling interval, wall seconds")
    p.add_argument("--settle-min", type=float, default=10.0, help="growth is measured from this much data")
    p.add_argument("--trace", action="store_true", help="tracemalloc: the allocations that grew most")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    if args.trace:
        tracemalloc.start(10)
    load0 = os.getloadavg()[0]
    with TemporaryDirectory(prefix="gait-live-mem-") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # a 12x-fast device clock is "not a crystal's drift"
        out = asyncio.run(
            _record(
                Path(tmp) / "long.csv", hours=args.hours, speed=args.speed, sample_s=args.sample_s, trace=args.trace
            )
        )
    samples = out["samples"]
    settle = next((s for s in samples if s[1] >= args.settle_min * 60.0), samples[0])
    end = samples[-1]
    hours_after = (end[1] - settle[1]) / 3600.0
    res = {
        "data_hours": round(end[1] / 3600.0, 3),
        "speed": args.speed,
        "rss_mib_at_start": round(samples[0][2], 1),
        "rss_mib_after_settle": round(settle[2], 1),
        "rss_mib_max": round(max(s[2] for s in samples), 1),
        "rss_mib_end": round(end[2], 1),
        "growth_mib_after_settle": round(end[2] - settle[2], 1),
        "growth_mib_per_hour": round((end[2] - settle[2]) / hours_after, 2) if hours_after > 0 else None,
        "samples_written": out["result"].n_samples,
        "stopped_by": out["result"].stopped_by,
        "load_average_1min_before": round(load0, 2),
        "load_average_1min_after": round(os.getloadavg()[0], 2),
        "rss_trace_mib": [[round(a, 1), round(b / 60.0, 1), round(c, 1)] for a, b, c in samples],
    }
    for k, v in res.items():
        if k != "rss_trace_mib":
            print(f"{k:<28} {v}")
    print("RSS (wall s, data min, MiB):", res["rss_trace_mib"][:: max(1, len(samples) // 12)])
    for line in out["top"]:
        print(line)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
