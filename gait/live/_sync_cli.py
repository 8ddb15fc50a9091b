"""Sub-command ``gait sync``, and the logging options of ``gait simulate-device``.

Registered by `gait.live.cli.register` with the other live commands; a thin wrapper over
`gait.live.Syncer` and `firmware_protocol.virtual_logging.LoggingSensor`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import math
import signal
import sys
from pathlib import Path
from typing import Any

from ..constants import EXIT_FAILED, EXIT_OK
from ..errors import GaitInputError

__all__ = ["add_simulate_log_options", "logging_sensor", "register", "write_log_record"]


# ---------------------------------------------------------------------------------------
# gait sync
# ---------------------------------------------------------------------------------------
async def _run_sync(cfg: Any) -> Any:
    from ._sync import Syncer

    syncer = Syncer(cfg, on_event=lambda text: print(text, flush=True))
    loop = asyncio.get_running_loop()
    handled = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, syncer.stop)
            handled.append(sig)
    try:
        return await syncer.run()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)


def _when(s: Any) -> str:
    """Local start time: the drift-corrected one of a fetched session, else the sensor clock's."""
    if s.start_time is not None:
        return _dt.datetime.fromisoformat(s.start_time).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    entry = s.entry
    if not entry.clock_set or not entry.start_utc_us:
        return "unknown"
    return _dt.datetime.fromtimestamp(entry.start_utc_us / 1e6).strftime("%Y-%m-%d %H:%M:%S")


def _cmd_sync(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from ._sync_types import SyncConfig, SyncError

    cfg = SyncConfig(
        out_dir=args.out_dir,
        device=args.device,
        adapter=args.adapter,
        scan_timeout_s=args.scan_timeout_s,
        erase=args.erase,
        stop_logging=not args.keep_logging,
        set_clock=not args.no_set_clock,
        start_log=args.start_log,
        rate_hz=args.rate_hz,
        acc_range_g=args.acc_range_g,
        gyr_range_dps=args.gyr_range_dps,
        give_up_s=args.give_up_s,
        reply_timeout_s=args.reply_timeout_s,
        download=not args.list,
    )
    try:
        result = asyncio.run(_run_sync(cfg))
    except SyncError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    console = Console()
    table = Table(title=f"sessions on {result.device or 'the sensor'} ({result.address})")
    for col in ("id", "start", "duration", "rate", "size", "what was done"):
        table.add_column(col)
    for s in result.sessions:
        entry = s.entry
        did = {
            "written": f"wrote {s.path.name if s.path else '?'}",
            "already": "synced before" + (f" ({s.path.name})" if s.path else ""),
            "partial": "unfinished: " + (s.message or "kept for the next sync"),
            "failed": "FAILED: " + s.message,
            "logging": "still logging (left alone)",
            "listed": "not downloaded (--list)",
        }.get(s.status, s.status)
        if s.erased is True:
            did += "; erased on the sensor"
        elif s.erased is False:
            did += f"; {s.erase_message}"
        flags = " (store full)" if entry.flags & 0x08 else ""
        table.add_row(
            str(entry.session_id),
            _when(s),
            f"{entry.duration_s / 60:.1f} min{flags}",
            f"{entry.rate_hz:g} Hz",
            f"{entry.size_bytes / 1e6:.2f} MB",
            did,
        )
    if result.sessions:
        console.print(table)
    else:
        print("the sensor holds no logged session")
    if result.bytes_downloaded and result.download_s > 0:
        print(
            f"downloaded {result.bytes_downloaded / 1e6:.2f} MB in {result.download_s:.1f} s "
            f"({result.throughput_bytes_s / 1e3:.1f} kB/s), {result.reconnects} reconnects"
        )
    for s in result.sessions:
        if s.entry.flags & 0x08:
            print(
                f"session {s.session_id}: logging ended when the sensor's store filled "
                f"({s.entry.duration_s / 60:.1f} min kept); sync with --erase to make room"
            )
        if s.status == "written":
            how = "drift-corrected" if s.start_time_corrected else "as the sensor's clock gave it"
            print(f"session {s.session_id}: start time {s.start_time or 'unknown'} ({how})")
            for a, b, k, reason in s.gaps:
                print(f"session {s.session_id}: gap {a:.3f} s to {b:.3f} s ({k} samples, {reason})")
    if result.clock_set:
        print("set the sensor's clock to this computer's")
    if result.message:
        print(f"error: {result.message}", file=sys.stderr)
    if not args.no_analyze:
        from ..cli import build_parser

        for s in result.sessions:
            if s.status == "written" and s.path is not None:
                print()
                a_args = build_parser().parse_args(["analyze", str(s.path)])
                try:
                    a_args.func(a_args)
                except GaitInputError as e:  # a session with no running in it: say so, go on
                    print(f"{s.path.name}: not analysed ({e})", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


# ---------------------------------------------------------------------------------------
# gait simulate-device: the flash store
# ---------------------------------------------------------------------------------------
def add_simulate_log_options(s: argparse.ArgumentParser) -> None:
    """The logging options of ``gait simulate-device``."""
    g = s.add_argument_group("on-sensor logging (what gait sync fetches)")
    g.add_argument("--flash", type=Path, help="keep the sensor's log store in this folder (default: in memory)")
    g.add_argument(
        "--flash-capacity-bytes",
        type=int,
        default=None,
        help="log store capacity (default 2,084,864: the reference board's 2 MiB flash)",
    )
    g.add_argument(
        "--log-run",
        action="store_true",
        help="start with the played session logged in the store, as a run that ended 10 minutes ago",
    )
    g.add_argument("--log-run-s", type=float, help="... only this long a run (default: the whole session)")
    g.add_argument(
        "--clock-set-before-s",
        type=float,
        default=3600.0,
        help="... with the sensor's clock set this long before the run (default 3600; it drifts by --drift-ppm)",
    )
    g.add_argument(
        "--log-disconnect-after-bytes",
        type=int,
        action="append",
        help="drop the link when the download has served this many bytes (repeatable)",
    )
    g.add_argument("--log-corrupt-block", type=int, action="append", help="corrupt the k-th block served (repeatable)")
    g.add_argument("--log-drop-block", type=int, action="append", help="do not send the k-th block (repeatable)")
    g.add_argument(
        "--log-stop-serving-after-bytes", type=int, help="answer no download after this many bytes (a dying sensor)"
    )
    g.add_argument("--log-record", type=Path, help="write what the sensor logged to this .npz at exit")


def logging_sensor(args: argparse.Namespace, session: Any, **sensor_kw: Any) -> Any:
    """The virtual sensor of ``gait simulate-device``: a `LoggingSensor` with the options above."""
    from firmware_protocol.virtual_logging import XIAO_CAPACITY_BYTES, FlashStore, LogFaultPlan, LoggingSensor

    store = FlashStore(
        capacity_bytes=args.flash_capacity_bytes or XIAO_CAPACITY_BYTES,
        path=args.flash,
    )
    faults = LogFaultPlan(
        disconnect_after_bytes=tuple(args.log_disconnect_after_bytes or ()),
        corrupt_blocks=tuple(args.log_corrupt_block or ()),
        drop_blocks=tuple(args.log_drop_block or ()),
        stop_serving_after_bytes=args.log_stop_serving_after_bytes,
    )
    sensor = LoggingSensor(session, store=store, log_faults=faults, **sensor_kw)
    if args.log_run:
        entry = sensor.log_run(duration_s=args.log_run_s, clock_set_before_s=args.clock_set_before_s)
        if entry is None:
            print("the log store is full: no run was logged", flush=True)
        else:
            print(
                f"logged session {entry.session_id}: {entry.n_samples} samples ({entry.size_bytes} bytes)"
                + (" until the store filled" if entry.flags & 0x08 else ""),
                flush=True,
            )
    return sensor


def write_log_record(args: argparse.Namespace, sensor: Any) -> None:
    """At exit: every session the sensor logged (raw counts, scale factors, true start) to ``--log-record``."""
    import numpy as np

    if getattr(args, "log_record", None) is None or not hasattr(sensor, "logged"):
        return
    arrays: dict[str, Any] = {}
    for sid, (acc, gyr) in sensor.logged.items():
        arrays[f"s{sid}_acc"] = acc
        arrays[f"s{sid}_gyr"] = gyr
        truth = sensor.truth.get(sid, {})
        for k, v in truth.items():
            arrays[f"s{sid}_{k}"] = np.asarray(v)
    arrays["served"] = np.asarray(
        [
            sensor.served.reads,
            sensor.served.blocks,
            sensor.served.block_bytes,
            sensor.served.corrupted,
            sensor.served.dropped,
            sensor.served.disconnects,
            sensor.served.refused_erases,
        ]
    )
    arrays["erased"] = np.asarray(sensor.served.erased, dtype=np.int64)
    np.savez(args.log_record, **arrays)
    print(
        f"log: {len(sensor.logged)} sessions logged; served {sensor.served.block_bytes} bytes in "
        f"{sensor.served.blocks} blocks ({sensor.served.reads} reads, {sensor.served.corrupted} corrupted, "
        f"{sensor.served.dropped} dropped, {sensor.served.disconnects} disconnects); erased {sensor.served.erased}",
        flush=True,
    )


# ---------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------
def _positive(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, found {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, found {text!r}")
    return v


def register(subparsers: Any) -> None:
    """Add ``sync`` to the ``gait`` command."""
    y = subparsers.add_parser(
        "sync",
        help="fetch the runs a sensor logged on its own (no computer nearby), verify them, write session files",
        description="Scan, connect, download every new logged session (resuming a broken download from the bytes "
        "already verified), verify it (per-block CRC and sequence numbers, a whole-session CRC-32), write the same "
        "session file as gait record (start time from the sensor's clock, drift-corrected), erase it on the sensor "
        "if asked, and analyse it.",
    )
    y.add_argument("--device", help="sensor name (or its beginning) or address; default: the strongest one in range")
    y.add_argument("--out-dir", type=Path, default=Path("."), help="folder for the session files (default: here)")
    y.add_argument("--erase", action="store_true", help="erase each session on the sensor once fetched and verified")
    y.add_argument("--list", action="store_true", help="only list what the sensor holds")
    y.add_argument(
        "--keep-logging",
        action="store_true",
        help="leave a session being logged running (default: stop it and fetch it)",
    )
    y.add_argument("--no-set-clock", action="store_true", help="do not set the sensor's clock at the end")
    y.add_argument(
        "--start-log",
        action="store_true",
        help="start a new logged session at the end (then unplug and run: the sensor logs on its own)",
    )
    y.add_argument("--rate-hz", type=int, help="with --start-log: sampling rate to request (default: the sensor's)")
    y.add_argument("--acc-range-g", type=int, default=16, help="with --start-log: accelerometer range (default 16)")
    y.add_argument("--gyr-range-dps", type=int, default=2000, help="with --start-log: gyroscope range (default 2000)")
    y.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0 (Linux)")
    y.add_argument(
        "--scan-timeout-s", type=_positive, default=10.0, help="how long to look for the sensor (default 10)"
    )
    y.add_argument(
        "--give-up-s",
        type=_positive,
        default=60.0,
        help="end after this long without progress; what was verified is kept (default 60)",
    )
    y.add_argument(
        "--reply-timeout-s",
        type=_positive,
        default=5.0,
        help="a sensor silent this long mid-answer is asked again (default 5)",
    )
    y.add_argument(
        "--no-analyze", "--no-analysis", dest="no_analyze", action="store_true", help="do not analyse the sessions"
    )
    y.set_defaults(func=_cmd_sync)
