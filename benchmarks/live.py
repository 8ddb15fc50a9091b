"""Live recording benchmark: 400 Hz for 10 minutes through the emulated Bluetooth stack.

Runs the real path end to end: a private dbus-daemon with the bluezoo BlueZ emulator
(`tests/ble/stack.py`), ``gait simulate-device`` as the sensor on one emulated adapter, and
`gait.live.Recorder` (bleak's BlueZ backend) on the other, with the live analysis running as
it does under the dashboard. Reports:

- samples lost: delivered by the sensor but missing from the file (target 0 without faults),
  and the recorder's own count of gaps;
- CPU: seconds of CPU used by the recording process per second of streaming (all its
  threads: bleak, decoding, writing, the live analysis); the emulator's and the sensor's
  processes are reported separately;
- latency from a notification's arrival to the updated dashboard metrics that include its
  samples (p50, p99; target p99 <= 50 ms), and the live analysis time per window;
- the machine's load average before and after (this machine may be shared), and the
  recorder's resident memory.

``--busy-other-core`` runs a CPU-burning process pinned to the other core for the whole run
(a laptop doing something else, or a Raspberry Pi's other cores busy), the condition the
latency target is set for.

With ``--sync`` it measures ``gait sync`` instead: the virtual sensor holds a logged run
(416 Hz by default, as long as the reference board's 2 MiB store holds), and `gait.live.Syncer`
fetches it through the same emulated stack: bytes and samples per second of the download,
CPU of every process, whether the file equals what the sensor logged, and the machine's load
(the development machine is shared: the figures depend on what else runs).

Usage (from the repository root; needs dbus-daemon and bluezoo, as the BLE tests)::

    .venv/bin/python benchmarks/live.py                       # 400 Hz, 600 s
    .venv/bin/python benchmarks/live.py --duration-s 60 --json results.json
    .venv/bin/python benchmarks/live.py --sync                # fetch a 400 s run logged at 416 Hz
    .venv/bin/python benchmarks/live.py --busy-other-core           # one core kept busy meanwhile
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from gait.errors import GaitDataWarning  # noqa: E402
from gait.io import read_canonical_session  # noqa: E402
from gait.live import RecordConfig, Recorder  # noqa: E402
from tests.ble.e2e import sensor_process  # noqa: E402
from tests.ble.stack import EmulatedBluetooth, unavailable_reason  # noqa: E402


def _proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _pids(stack: EmulatedBluetooth) -> dict[str, int]:
    out = {}
    for name, proc in (("bluezoo", stack._zoo), ("dbus-daemon", stack._dbus)):
        if proc is not None:
            out[name] = proc.pid
    return out


def _burn() -> None:  # pragma: no cover - runs in its own process
    x = 0
    while True:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF


def _burner(core: int):
    """A process burning one core (pinned to ``core`` where the OS allows)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_burn, daemon=True)
    proc.start()
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setaffinity(proc.pid, {core})
    return proc


def _growth_per_min(trace: list[tuple[float, float]]) -> float | None:
    after = [(t, r) for t, r in trace if t >= 120.0]
    if len(after) < 2 or after[-1][0] - after[0][0] < 60.0:
        return None
    return (after[-1][1] - after[0][1]) / ((after[-1][0] - after[0][0]) / 60.0)


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run(
    *,
    duration_s: float,
    rate_hz: int,
    metrics_interval_s: float,
    busy_other_core: bool = False,
    dashboard: bool = False,
) -> dict:
    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    load_before = os.getloadavg()
    burner = _burner((os.cpu_count() or 2) - 1) if busy_other_core else None
    try:
        res = _run(duration_s=duration_s, rate_hz=rate_hz, metrics_interval_s=metrics_interval_s, dashboard=dashboard)
    finally:
        if burner is not None:
            burner.terminate()
            burner.join()
    res["busy_other_core"] = busy_other_core
    res["load_average_1min_before"] = round(load_before[0], 2)
    res["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    return res


async def _with_view(rec: Recorder, *, dashboard: bool, rss_trace: list[tuple[float, float]]):
    """Run the recorder; render the dashboard 4 times a second (to /dev/null) if asked; RSS every 10 s."""
    from rich.console import Console

    from gait.live._dashboard import render

    console = Console(file=open(os.devnull, "w"), force_terminal=True, width=100)
    task = asyncio.create_task(rec.run())
    t0, last = time.monotonic(), -10.0
    while not task.done():
        await asyncio.wait({task}, timeout=0.25)
        if dashboard:
            console.print(render(rec.view()))
        if time.monotonic() - t0 - last >= 10.0:
            last = time.monotonic() - t0
            rss_trace.append((last, _rss_mib()))
    return task.result()


def _run(*, duration_s: float, rate_hz: int, metrics_interval_s: float, dashboard: bool = False) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="gait-live-bench-") as tmp_s,
        EmulatedBluetooth(Path(tmp_s) / "bus") as stack,
    ):
        tmp = Path(tmp_s)
        pair = stack.add_adapter_pair()
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = stack.bus_address
        sim_s = str(int(duration_s + 60))
        # the simulated runner stands and walks for ~20 s, then runs: stream the running part
        args = ("--duration-s", sim_s, "--rate-hz", str(rate_hz), "--seed", "7", "--start-s", "21")
        with sensor_process(stack, pair, tmp, *args, timeout_s=120) as sensor:
            pids = _pids(stack) | {"sensor": sensor.proc.pid}
            cpu_others0 = {k: _proc_cpu_s(p) for k, p in pids.items()}
            out = tmp / "bench.csv"
            cfg = RecordConfig(
                out=out,
                adapter=pair.central,
                rate_hz=rate_hz,
                duration_s=duration_s,
                metrics_interval_s=metrics_interval_s,
                scan_timeout_s=10.0,
            )
            rec = Recorder(cfg)
            cpu0, t0 = time.process_time(), time.monotonic()
            rss0 = _rss_mib()
            rss_trace: list[tuple[float, float]] = []
            result = asyncio.run(_with_view(rec, dashboard=dashboard, rss_trace=rss_trace))
            rss1 = _rss_mib()
            cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
            cpu_others = {k: _proc_cpu_s(p) - cpu_others0[k] for k, p in pids.items()}
        assert sensor.samples is not None
        n_sent = sensor.samples[0] - sensor.samples[0][0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            s = read_canonical_session(out)
        n_rec = np.rint(s.t * result.sampling_rate_hz).astype(np.int64)
        last = n_rec[-1]
        delivered_in_span = int(np.count_nonzero(n_sent <= last))
        missing = int(np.setdiff1d(n_sent[n_sent <= last], n_rec).size)
        values_equal = bool(
            np.array_equal(n_rec, n_sent[: n_rec.size])
            and np.array_equal(s.acc, sensor.samples[1][: n_rec.size])
            and s.gyr is not None
            and np.array_equal(s.gyr, sensor.samples[2][: n_rec.size])
        )
        lat = result.latency
        streaming_s = n_rec.size / result.sampling_rate_hz
        return {
            "rate_hz": rate_hz,
            "duration_s_requested": duration_s,
            "streaming_s": streaming_s,
            "samples_recorded": int(n_rec.size),
            "samples_delivered_in_span": delivered_in_span,
            "samples_lost": missing,
            "recorder_gaps": result.link.gaps,
            "recorder_samples_lost": result.link.samples_lost,
            "packets_ok": result.link.packets_ok,
            "packets_lost": result.link.packets_lost,
            "reconnects": result.link.reconnects,
            "file_equals_sent": values_equal,
            "cpu_s_per_s_recorder": cpu / streaming_s,
            "cpu_s_recorder_total": cpu,
            "wall_s": wall,
            "cpu_s_per_s_others": {k: v / streaming_s for k, v in cpu_others.items()},
            "latency_ms_p50": lat.percentile_s(50) * 1000.0 if lat.n else None,
            "latency_ms_p90": lat.percentile_s(90) * 1000.0 if lat.n else None,
            "latency_ms_p99": lat.percentile_s(99) * 1000.0 if lat.n else None,
            "latency_ms_max": lat.max_s * 1000.0 if lat.n else None,
            "notifications_measured": lat.n,
            "rss_mib_start": rss0,
            "rss_mib_end": rss1,
            "rss_mib_growth_per_min_after_2_min": _growth_per_min(rss_trace),
            "live_analysis_ms_last": rec.view().metrics.compute_s * 1000.0,
            "live_analysis_error": result.metrics_error,
            "metrics_interval_s": metrics_interval_s,
            "drift_ppm": result.drift_ppm,
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        }


def run_sync(*, logged_s: float, rate_hz: int, repeats: int) -> dict:
    """Fetch a logged run of ``logged_s`` at ``rate_hz`` with `gait.live.Syncer`, ``repeats`` times."""
    from firmware_protocol import logbook as lb
    from gait.live import SyncConfig, Syncer

    reason = unavailable_reason()
    if reason:
        raise SystemExit(f"cannot run: {reason}")
    load_before = os.getloadavg()
    runs = []
    with (
        tempfile.TemporaryDirectory(prefix="gait-sync-bench-") as tmp_s,
        EmulatedBluetooth(Path(tmp_s) / "bus") as stack,
    ):
        tmp = Path(tmp_s)
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = stack.bus_address
        for k in range(repeats):
            pair = stack.add_adapter_pair()
            npz = tmp / f"logged{k}.npz"
            sim = ("--duration-s", str(int(logged_s + 30)), "--rate-hz", str(rate_hz), "--seed", "7", "--start-s", "21")
            with sensor_process(
                stack,
                pair,
                tmp,
                *sim,
                "--log-run",
                "--log-run-s",
                str(logged_s),
                "--log-record",
                str(npz),
                timeout_s=300,
            ) as sensor:
                pids = _pids(stack) | {"sensor": sensor.proc.pid}
                cpu0 = {n: _proc_cpu_s(p) for n, p in pids.items()}
                out = tmp / f"out{k}"
                c0, t0 = time.process_time(), time.monotonic()
                res = asyncio.run(Syncer(SyncConfig(out_dir=out, adapter=pair.central, scan_timeout_s=10.0)).run())
                cpu_sync, wall = time.process_time() - c0, time.monotonic() - t0
                cpu_others = {n: _proc_cpu_s(p) - cpu0[n] for n, p in pids.items()}
            (s,) = res.sessions
            with np.load(npz) as z:
                acc = z["s1_acc"]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GaitDataWarning)
                got = read_canonical_session(s.path)
            scale = s.entry.config().acc_scale_mps2_per_lsb
            equal = bool(np.array_equal(got.acc, acc.astype(np.float64) * scale))
            runs.append(
                {
                    "bytes": res.bytes_downloaded,
                    "samples": s.n_samples,
                    "download_s": res.download_s,
                    "bytes_per_s": res.bytes_downloaded / res.download_s,
                    "samples_per_s": s.n_samples / res.download_s,
                    "sync_wall_s": wall,
                    "cpu_s_sync": cpu_sync,
                    "cpu_s_others": cpu_others,
                    "file_equals_logged": equal,
                    "notifications": -(-res.bytes_downloaded // lb.block_payload_size(247)),
                }
            )
            stack.remove_adapter_pair(pair)
    load_after = os.getloadavg()
    bps = [r["bytes_per_s"] for r in runs]
    return {
        "rate_hz": rate_hz,
        "logged_s": logged_s,
        "runs": runs,
        "bytes_per_s_median": float(np.median(bps)),
        "bytes_per_s_min": float(np.min(bps)),
        "bytes_per_s_max": float(np.max(bps)),
        "samples_per_s_median": float(np.median([r["samples_per_s"] for r in runs])),
        "all_files_equal_logged": all(r["file_equals_logged"] for r in runs),
        "load_average_1_5_15_before": [round(x, 2) for x in load_before],
        "load_average_1_5_15_after": [round(x, 2) for x in load_after],
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration-s", type=float, default=600.0)
    p.add_argument("--rate-hz", type=int, default=400)
    p.add_argument("--metrics-interval-s", type=float, default=0.0, help="minimum time between live analyses")
    p.add_argument("--sync", action="store_true", help="measure gait sync's download instead of live recording")
    p.add_argument("--logged-s", type=float, default=400.0, help="with --sync: length of the logged run")
    p.add_argument("--repeats", type=int, default=3, help="with --sync: downloads to time")
    p.add_argument("--json", type=Path, help="also write the results here")
    p.add_argument("--busy-other-core", action="store_true", help="keep the other core busy with a CPU burner")
    p.add_argument("--dashboard", action="store_true", help="render the dashboard 4 times a second (to /dev/null)")
    args = p.parse_args(argv)
    if args.sync:
        rate = 416 if args.rate_hz == 400 else args.rate_hz
        res = run_sync(logged_s=args.logged_s, rate_hz=rate, repeats=args.repeats)
    else:
        res = run(
            duration_s=args.duration_s,
            rate_hz=args.rate_hz,
            metrics_interval_s=args.metrics_interval_s,
            busy_other_core=args.busy_other_core,
            dashboard=args.dashboard,
        )
    width = max(len(k) for k in res)
    for k, v in res.items():
        if isinstance(v, float):
            v = f"{v:.4g}"
        elif isinstance(v, dict):
            v = ", ".join(f"{a} {b:.3g}" for a, b in v.items())
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            v = "; ".join(
                ", ".join(f"{a} {b:.4g}" if isinstance(b, float) else f"{a} {b}" for a, b in r.items()) for r in v
            )
        print(f"{k:<{width}}  {v}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
