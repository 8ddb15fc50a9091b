"""Sub-commands ``gait devices``, ``gait record``, ``gait simulate-device`` (and ``gait sync``, from `._sync_cli`).

Added to the ``gait`` command by `gait.cli.COMMAND_MODULES`; each is a thin wrapper over
`gait.live` and `firmware_protocol.virtual_peripheral`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as _dt
import math
import re
import signal
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..constants import EXIT_FAILED, EXIT_OK
from ..errors import GaitInputError, Where

__all__ = ["parse_duration", "register"]


_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(text: str) -> float:
    """Seconds from ``"90"``, ``"90s"``, ``"30m"``, ``"1h30m"`` or ``"0:30:00"``.

    Raises
    ------
    GaitInputError
        For anything else, or a duration that is not > 0.
    """
    t = text.strip().lower()
    seconds: float | None = None
    if ":" in t:
        parts = t.split(":")
        if 2 <= len(parts) <= 3 and all(re.fullmatch(r"\d+(\.\d+)?", p) for p in parts):
            seconds = 0.0
            for p in parts:
                seconds = seconds * 60 + float(p)
    else:
        m = _DURATION_RE.match(t)
        if m and any(m.groups()):
            h, mi, s = (float(x) if x else 0.0 for x in m.groups())
            seconds = h * 3600 + mi * 60 + s
    if seconds is None or not (seconds > 0 and math.isfinite(seconds)):
        raise GaitInputError(
            "invalid duration",
            expected="a duration such as 90, 90s, 30m, 1h30m or 0:30:00",
            found=repr(text),
            where=Where(parameter="--duration"),
        )
    return seconds


# ---------------------------------------------------------------------------------------
# gait devices
# ---------------------------------------------------------------------------------------
def _cmd_devices(args: argparse.Namespace) -> int:
    from ._scan import BluetoothUnavailable, scan

    console = Console()
    try:
        with console.status(f"scanning for {args.timeout_s:g} s ..."):
            found = asyncio.run(scan(timeout_s=args.timeout_s, adapter=args.adapter))
    except BluetoothUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    shown = found if args.all else [d for d in found if d.supported]
    if not shown:
        others = len(found) - len(shown)
        console.print(
            "no supported sensor found"
            + (
                f" ({others} other Bluetooth device{'s' if others != 1 else ''} in range; --all lists them)"
                if others
                else ""
            )
            + ". Switch the sensor on and make sure no phone app is connected to it."
        )
        return EXIT_FAILED
    table = Table(title="Bluetooth LE devices in range")
    for col in ("name", "address", "signal", "protocol"):
        table.add_column(col)
    for d in shown:
        table.add_row(d.name or "(no name)", d.address, f"{d.rssi_dbm} dBm", d.protocol or "not supported")
    console.print(table)
    console.print("record one with: gait record --device NAME_OR_ADDRESS")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# gait record
# ---------------------------------------------------------------------------------------
def _default_out() -> Path:
    return Path(f"run-{_dt.datetime.now().strftime('%Y%m%d-%H%M%S')}.csv")


async def _record_with_view(recorder: Any, *, dashboard: bool, console: Console, coach: Any = None) -> Any:
    from ._dashboard import plain_line, render

    task = asyncio.create_task(recorder.run())
    voice = asyncio.create_task(coach.run(recorder.view, task.done)) if coach is not None else None
    if dashboard:
        from rich.live import Live

        with Live(render(recorder.view()), console=console, refresh_per_second=4, transient=False) as live:
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                live.update(render(recorder.view()))
            live.update(render(recorder.view()))  # the final status, in its colour
    else:
        last = time.monotonic()
        while not task.done():
            await asyncio.wait({task}, timeout=0.5)
            if time.monotonic() - last >= 5.0:
                last = time.monotonic()
                print(plain_line(recorder.view()), flush=True)
    if voice is not None:
        await voice
    return task.result()


def _voice_coach(args: argparse.Namespace) -> Any:
    """The spoken coach asked for with --voice (None without it); raises `VoiceUnavailable`."""
    if not args.voice:
        return None
    from ._voice import CuePolicy, CueScheduler, Speaker, VoiceCoach, phrases

    words = phrases(args.voice_language)
    policy = CuePolicy(
        warmup_s=args.voice_warmup_min * 60.0,
        repeat_s=args.voice_repeat_min * 60.0,
        summary_every_s=args.voice_summary_min * 60.0 if args.voice_summary_min else None,
        words_per_min=args.voice_rate_wpm,
    )
    speaker = Speaker(language=words.voice, words_per_min=args.voice_rate_wpm)
    return VoiceCoach(CueScheduler(policy, words), speaker)


def _cmd_record(args: argparse.Namespace) -> int:
    from ._record_types import RecordConfig, RecordingError
    from ._recorder import Recorder

    out = args.out or _default_out()
    duration = parse_duration(args.duration) if args.duration else None
    cfg = RecordConfig(
        out=out,
        device=args.device,
        duration_s=duration,
        rate_hz=args.rate_hz,
        acc_range_g=args.acc_range_g,
        gyr_range_dps=args.gyr_range_dps,
        adapter=args.adapter,
        scan_timeout_s=args.scan_timeout_s,
        stall_timeout_s=args.stall_timeout_s,
        give_up_s=args.give_up_s,
        metrics_interval_s=args.metrics_interval_s,
        handle_signals=True,
        phyphox=args.phyphox,
    )
    console = Console(stderr=False)
    dashboard = not args.no_dashboard and console.is_terminal
    from ._voice import VoiceUnavailable

    try:
        coach = _voice_coach(args)
    except VoiceUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    recorder = Recorder(cfg)
    try:
        result = asyncio.run(_record_with_view(recorder, dashboard=dashboard, console=console, coach=coach))
    except RecordingError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if coach is not None and hasattr(coach.say, "__self__"):
            coach.say.__self__.close()
    if coach is not None:
        said = coach.scheduler.said
        print(
            f"voice: said {sum(u.kind == 'cue' for u in said)} cues, {sum(u.kind == 'summary' for u in said)} summaries"
        )
        for err in dict.fromkeys(coach.errors):
            print(f"warning: the voice failed ({err})", file=sys.stderr)
    from ._dashboard import link_text

    if recorder.found is not None:
        print(f"from {recorder.found.name} ({recorder.found.address})")
    print(
        f"wrote {result.path} ({result.n_samples} samples, {result.n_samples / result.sampling_rate_hz:.1f} s at "
        f"{result.sampling_rate_hz:.6g} Hz{', clock-corrected' if result.clock_corrected else ''}); details in {result.sidecar.name}"
    )
    print("link: " + link_text(result.link, result.sampling_rate_hz))
    for a, b, k, reason in result.gaps:
        print(f"gap: {a:.3f} s to {b:.3f} s ({k} samples, {reason})")
    if result.metrics_error:
        print(f"warning: the live analysis failed ({result.metrics_error}); the recording is complete", file=sys.stderr)
    if result.stopped_by in ("sensor_silent", "error"):
        print(f"error: {result.message}", file=sys.stderr)
    if not args.no_analysis:
        from ..cli import build_parser

        print()
        a_args = build_parser().parse_args(["analyze", str(result.path)])
        a_args.func(a_args)
    return EXIT_FAILED if result.stopped_by in ("sensor_silent", "error") else EXIT_OK


# ---------------------------------------------------------------------------------------
# gait simulate-device
# ---------------------------------------------------------------------------------------
def _source_session(args: argparse.Namespace):
    from .. import simulator as sim

    if args.session is not None:
        from ..readers import read_session

        s = read_session(args.session)
        if s.frame != "sensor":
            raise GaitInputError(
                "wrong frame", expected="a sensor-frame session", found=repr(s.frame), where=Where(file=args.session)
            )
        return s
    cfg = sim.preset(args.preset) if args.preset else sim.SimulationConfig()
    return sim.simulate(cfg, duration_s=args.duration_s, sampling_rate_hz=args.rate_hz, seed=args.seed).session


def _cropped(session, start_s: float):
    if start_s <= 0:
        return session
    if start_s >= session.t[-1] - session.t[0]:
        raise GaitInputError(
            "start beyond the end",
            expected=f"a start time below {session.duration_s:.1f} s",
            found=f"{start_s:g} s",
            where=Where(parameter="--start-s"),
        )
    t0 = session.t[0] + start_s
    return session.slice_time(t0, session.t[-1] + 1.0)


async def _serve(args: argparse.Namespace) -> Any:
    from firmware_protocol.gatt_server import GattPeripheral
    from firmware_protocol.virtual_peripheral import FaultPlan

    from ._sync_cli import logging_sensor

    session = _cropped(_source_session(args), args.start_s)
    faults = FaultPlan(
        drop=args.drop,
        duplicate=args.duplicate,
        reorder=args.reorder,
        truncate=args.truncate,
        corrupt=args.corrupt,
        stall_at_s=args.stall_at_s,
        stall_for_s=args.stall_for_s,
        disconnect_at_s=tuple(args.disconnect_at_s or ()),
        stop_at_s=args.stop_at_s,
        seed=args.fault_seed,
    )
    sensor = logging_sensor(args, session, faults=faults, drift_ppm=args.drift_ppm, speed=args.speed, loop=args.loop)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        async with GattPeripheral(
            name=args.name,
            services=sensor.services,
            adapter=args.adapter,
            on_write=sensor.on_write,
            on_notify_change=sensor.on_notify_change,
        ) as p:
            print(
                f"advertising {p.name!r} on {args.adapter} ({p.adapter_address}): {session.duration_s:.0f} s of "
                f"{session.sampling_rate_hz:g} Hz data{', looped' if args.loop else ''}; Ctrl-C to stop",
                flush=True,
            )
            if args.ready_file is not None:
                args.ready_file.write_text(p.adapter_address + "\n")
            runner = asyncio.create_task(sensor.run(p, stop=stop))
            try:
                if args.for_s is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), args.for_s)
                    stop.set()
                await runner
            finally:
                stop.set()
                await runner
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    return sensor


def _cmd_simulate_device(args: argparse.Namespace) -> int:
    import numpy as np

    from firmware_protocol.gatt_server import PeripheralError

    try:
        sensor = asyncio.run(_serve(args))
    except PeripheralError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_FAILED
    log = sensor.log
    print(
        f"sent {log.packets_sent} packets ({log.packets_made} made; dropped {log.dropped}, duplicated {log.duplicated}, "
        f"reordered {log.reordered}, truncated {log.truncated}, corrupted {log.corrupted}, unheard {log.unheard}, "
        f"{log.disconnects} disconnects)"
    )
    if args.sent_log is not None:
        n, acc, gyr = log.samples()
        np.savez(args.sent_log, n=n, acc=acc, gyr=gyr, rate_hz=sensor.config.rate_hz)
    from ._sync_cli import write_log_record

    write_log_record(args, sensor)
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# parsers
# ---------------------------------------------------------------------------------------
def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability in 0 .. 1, found {text!r}") from None
    if not 0.0 <= p <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in 0 .. 1, found {text!r}")
    return p


def register(subparsers: Any) -> None:
    """Add ``devices``, ``record``, ``simulate-device`` and ``sync`` to the ``gait`` command."""
    d = subparsers.add_parser("devices", help="list supported BLE sensors in range (name, address, signal, protocol)")
    d.add_argument("--timeout-s", type=float, default=5.0, help="how long to scan (default 5)")
    d.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0 (Linux)")
    d.add_argument("--all", action="store_true", help="also list devices that are not supported sensors")
    d.set_defaults(func=_cmd_devices)

    r = subparsers.add_parser(
        "record",
        help="record a run live from a BLE sensor, with a live dashboard; analyses it at the end",
        description="Scan, connect, stream to a CSV file (fsynced every 0.5 s), reconnect after link loss, "
        "show live cadence, contact time, bounce, lean and rotation. Ctrl-C stops cleanly.",
    )
    src = r.add_mutually_exclusive_group()
    src.add_argument(
        "--device", help="sensor name (or its beginning) or address; default: the strongest supported sensor"
    )
    src.add_argument(
        "--phyphox",
        metavar="URL",
        help="record from a phone running phyphox with remote access (the address it shows, e.g. "
        "http://192.168.1.23:8080) instead of a Bluetooth sensor; docs/recording.md",
    )
    r.add_argument("--out", type=Path, help="output .csv (default: run-YYYYMMDD-HHMMSS.csv)")
    r.add_argument("--duration", help="stop after this long: 90s, 30m, 1h30m or 0:30:00 (default: until Ctrl-C)")
    r.add_argument(
        "--rate-hz",
        type=int,
        help="sampling rate to request (default: the sensor's recommended rate, docs/recording.md; "
        "with --phyphox: the file's rate, default the highest of 400, 200, 100 Hz the phone reaches)",
    )
    r.add_argument("--acc-range-g", type=int, default=16, help="accelerometer range to request, +-g (default 16)")
    r.add_argument("--gyr-range-dps", type=int, default=2000, help="gyroscope range to request, +-deg/s (default 2000)")
    r.add_argument("--adapter", help="Bluetooth adapter, e.g. hci0 (Linux)")
    r.add_argument("--scan-timeout-s", type=float, default=10.0, help="how long to look for the sensor (default 10)")
    r.add_argument(
        "--stall-timeout-s", type=float, default=5.0, help="reconnect when no data for this long (default 5)"
    )
    r.add_argument(
        "--give-up-s", type=float, default=60.0, help="end the recording after this long without data (default 60)"
    )
    r.add_argument(
        "--metrics-interval-s",
        type=float,
        default=0.0,
        help="minimum time between two live analyses (default 0: as fresh as the CPU allows; 0.5 saves CPU on small computers)",
    )
    r.add_argument("--no-dashboard", action="store_true", help="print a status line every 5 s instead of the dashboard")
    v = r.add_argument_group("spoken coaching (pip install 'gait-lumbar[voice]'; Linux: espeak-ng)")
    v.add_argument("--voice", action="store_true", help="speak each fault's cue when it appears, and the summaries")
    v.add_argument(
        "--voice-language",
        default="en",
        help="language of the cues and summaries: en, de, fr, es (default en; the catalogue's cues per language)",
    )
    v.add_argument(
        "--voice-summary-min",
        type=float,
        default=0.0,
        help="say minutes, cadence and contact time every N minutes (default 0: no summaries)",
    )
    v.add_argument("--voice-warmup-min", type=float, default=3.0, help="no cues during the first N minutes (default 3)")
    v.add_argument(
        "--voice-repeat-min",
        type=float,
        default=5.0,
        help="repeat a persisting fault's cue every N minutes (default 5)",
    )
    v.add_argument("--voice-rate-wpm", type=float, default=170.0, help="speaking rate, words per minute (default 170)")
    r.add_argument("--no-analysis", action="store_true", help="do not analyse the run at the end")
    r.set_defaults(func=_cmd_record)

    s = subparsers.add_parser(
        "simulate-device",
        help="act as a BLE sensor (GATT server + advertisement through BlueZ) playing a simulated or recorded run",
        description="A virtual sensor speaking the lumbar IMU protocol. On Linux with a Bluetooth adapter it "
        "advertises for real; under the bluezoo emulator it is what the end-to-end tests record from.",
    )
    src = s.add_mutually_exclusive_group()
    src.add_argument("--session", type=Path, help="play this recorded session (sensor frame, with gyroscope)")
    src.add_argument(
        "--preset", choices=["easy", "heel_overstride", "fatigue", "rotation_lean"], help="simulate this runner"
    )
    s.add_argument("--duration-s", type=float, default=600.0, help="simulated running time (default 600)")
    s.add_argument("--rate-hz", type=float, default=200.0, help="simulated sampling rate (default 200)")
    s.add_argument("--seed", type=int, default=0, help="simulation seed")
    s.add_argument("--start-s", type=float, default=0.0, help="play from this time in the session (skip a warm-up)")
    s.add_argument("--name", help="advertised name (default: LumbarIMU-XXXX from the adapter address)")
    s.add_argument("--adapter", default="hci0", help="Bluetooth adapter to advertise on (default hci0)")
    s.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1: real time)")
    s.add_argument("--loop", action="store_true", help="start the session again at its end")
    s.add_argument("--drift-ppm", type=float, default=0.0, help="make the sensor's clock run slow by this much")
    s.add_argument("--for-s", type=float, help="exit after this many seconds (default: until Ctrl-C)")
    f = s.add_argument_group("fault injection (for testing recorders)")
    for name in ("drop", "duplicate", "reorder", "truncate", "corrupt"):
        f.add_argument(f"--{name}", type=_probability, default=0.0, metavar="P", help=f"probability to {name} a packet")
    f.add_argument("--stall-at-s", type=float, help="stop sending at this stream time ...")
    f.add_argument("--stall-for-s", type=float, default=0.0, help="... for this long (samples lost on the device)")
    f.add_argument(
        "--disconnect-at-s", type=float, action="append", help="drop the link at this stream time (repeatable)"
    )
    f.add_argument("--stop-at-s", type=float, help="go silent for good at this stream time")
    f.add_argument("--fault-seed", type=int, default=0, help="seed of the fault dice")
    f.add_argument("--sent-log", type=Path, help="write the samples delivered to this .npz at exit")
    f.add_argument("--ready-file", type=Path, help="write the adapter address here once advertising")
    s.set_defaults(func=_cmd_simulate_device)

    from ._sync_cli import add_simulate_log_options
    from ._sync_cli import register as register_sync

    add_simulate_log_options(s)
    register_sync(subparsers)
