"""`Recorder`: scan, connect, configure, stream to disk, survive link loss, stop cleanly.

Data path of one notification (all on the event loop, a few hundred microseconds)::

    bleak callback -> StreamDecoder.feed (order, duplicates, loss, device time)
                   -> SampleGuard.clean (NaN, inf, impossible values: dropped, become gaps)
                   -> SampleIndexer (index on the device's sampling grid)
                   -> SessionCsvWriter.write (t = index / rate)    -> fsync every flush_interval_s
                   -> RingBuffer (last window_s)                    -> gait.analyze in a worker thread

Link management: connect with the `BLEDevice` from the scan; read the configuration; on the
first connection stop any running stream, set rate and ranges, subscribe, START. After a link
loss: reconnect with exponential backoff (0.5 s doubling to 8 s, refreshed by a scan when
BlueZ forgot the device), subscribe again, and resume the stream if the sensor kept it
running (the samples missed meanwhile become one gap) or start it again if the sensor
reset. A sensor that stays connected but sends nothing for ``stall_timeout_s`` is treated
as a link loss; after ``give_up_s`` without data the recording ends with a clear message
(a watchdog beside the link loop, so the limit holds whatever the loop is waiting for).
The device is always disconnected in ``finally``; Ctrl-C (SIGINT) and SIGTERM stop cleanly.

A phone running phyphox (``RecordConfig.phyphox``) replaces scan and link with
`gait.live.PhyphoxLink`, which polls the phone and hands its samples, already on a uniform
grid, to the same data path from ``_process`` on.

Live path under load: the metrics of every notification come from `window_metrics` without
the fault rules (the analysis skips its per-minute and run summaries); the fault cues are
evaluated once a second by a separate job, by default in a low-priority process, so that
neither the full analysis nor the rules delay a notification's metrics. The fsync runs in a
worker thread; the garbage collector's long-lived objects are frozen once warmed up. Memory
stays flat over hours: the drift fit keeps a few points per 2-s window, the latencies are a
fixed-size histogram, the window is a ring buffer. The view is marked stale after
``stale_after_s`` without data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import functools
import gc
import json
import logging
import math
import os
import shutil
import signal
import time
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol.profiles import get_profile
from firmware_protocol.samples import DecodedSamples

from ..errors import GaitDataWarning, GaitInputError, Where
from ..io import SessionCsvWriter, read_canonical_session, write_csv_session
from ..session import DeclaredGap, SessionMetadata
from ._buffer import RingBuffer
from ._clock import DriftFit, SampleIndexer
from ._cues import _CueRunner
from ._guard import SampleGuard
from ._links import Link, LumbarLink, ProfileLink, SensorRefused
from ._metrics import LiveMetrics, StartMounting, window_metrics
from ._phyphox import PROTOCOL as PHONE_PROTOCOL
from ._phyphox import PhyphoxError, PhyphoxLink
from ._record_types import (
    LatencyHistogram,
    LinkStats,
    LiveView,
    RecordConfig,
    RecordingError,
    RecordResult,
    _SensorSilent,
)
from ._scan import OUR_PROTOCOL, BluetoothUnavailable, FoundDevice, find_again, scan

__all__ = ["Recorder", "record"]

logger = logging.getLogger(__name__)

#: Drift corrections are applied at the end only when the measured rate is off by more than
#: this (below it the error is irrelevant for gait metrics) and less than ``_MAX_CORRECTION``
#: (beyond it the clock is broken or the "device" is a faster-than-real-time simulation).
_MIN_CORRECTION = 1e-4
_MAX_CORRECTION = 0.05
#: Errors a BLE operation can end with that mean "the link or the device failed", never bugs.
_LINK_ERRORS = (BleakError, TimeoutError, EOFError, ConnectionError)

#: Fault cues are re-evaluated at most this often (s); the metrics on every notification.
CUE_INTERVAL_S = 1.0


class Recorder:
    """One live recording; see the module docstring. Use `run` (or `record`)."""

    def __init__(self, config: RecordConfig) -> None:
        self.config = config
        self.found: FoundDevice | None = None
        self.status = "scanning"
        self.message = ""
        self._stop = asyncio.Event()
        self._stopped_by = "duration"
        self._link: Link | None = None
        self._calibration: Any = None
        self._start_mounting: StartMounting | None = None
        self._guard = SampleGuard()
        self._indexer = SampleIndexer()
        self._drift = DriftFit()
        self._writer: SessionCsvWriter | None = None
        self._rate_file = math.nan
        self._n0 = 0
        self._last_t = math.nan
        self._ring: RingBuffer | None = None
        self._gaps: list[tuple[float, float, int, str]] = []
        self._reconnects = 0
        self._stalls = 0
        self._connections = 0
        self._restart_stream = False
        self._t_start = time.monotonic()
        self._first_host: float | None = None
        self._last_data: float | None = None
        self._last_notify: float | None = None
        self._metrics = LiveMetrics()
        self._arrivals: deque[float] = deque()
        self._new_data = asyncio.Event()
        self._latency = LatencyHistogram()
        self._cues: tuple[str, ...] = ()
        self._faults: tuple[tuple[str, str], ...] = ()
        self._cue_task: asyncio.Task[None] | None = None
        self._cues_at = -math.inf
        self._ended = False
        self._gc_frozen = False
        self._ended_at = math.nan
        self._giving_up = False
        self._start_wall: str | None = None
        #: The last error of the live analysis, if it failed (the recording goes on regardless).
        self.metrics_error: str | None = None

    # -- public -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the recording to end (as Ctrl-C does)."""
        self._stopped_by = "interrupt"
        self._stop.set()

    def view(self) -> LiveView:
        """A snapshot for the dashboard."""
        f = self.found
        now = time.monotonic()
        recorded = 0.0 if self._first_host is None else now - self._first_host
        age = math.inf if self._last_data is None else now - self._last_data
        if self._ended and self._last_data is not None:
            age = self._ended_at - self._last_data
        return LiveView(
            status=self.status,
            device=f.name if f else "",
            address=f.address if f else "",
            elapsed_s=now - self._t_start,
            recorded_s=recorded,
            sampling_rate_hz=self._rate_file,
            link=self.link_stats(),
            metrics=self._metrics,
            out=self.config.out,
            message=self.message,
            reference=self._reference_text(),
            data_age_s=age,
            stale=self._first_host is not None and age > self.config.stale_after_s,
            ended=self._ended,
            failed=self._ended and self._stopped_by in ("sensor_silent", "error"),
        )

    def _reference_text(self) -> str:
        """Where the body frame (and lean's standing reference) comes from, for the dashboard."""
        if self._calibration is not None and getattr(self._calibration, "mounting", None) is not None:
            return "mounting: stored calibration (used when made within 12 h)"
        sm = self._start_mounting
        if sm is None or (sm.result is None and not sm.gave_up):
            return "mounting: waiting for a few seconds of standing, then running"
        if sm.result is not None:
            return "mounting: from the standing and running at the start"
        return "mounting: no standing at the start, lean unavailable (stand still 5 s before running)"

    def link_stats(self) -> LinkStats:
        c = self._link.counts() if self._link is not None else {}
        invalid = c.pop("samples_nonfinite", 0) + self._guard.dropped
        est = self._drift.estimate()
        written = self._writer.n_rows if self._writer is not None else 0
        span = self._indexer.next_index - self._n0 if self._writer is not None else 0
        return LinkStats(
            **c,
            samples_written=written,
            samples_lost=max(0, span - written),
            samples_invalid=invalid,
            gaps=len(self._gaps),
            reconnects=self._reconnects,
            stalls=self._stalls,
            drift_ppm=est.drift_ppm if est.reliable else math.nan,
            rssi_dbm=self.found.rssi_dbm if self.found and self.found.protocol != PHONE_PROTOCOL else None,
        )

    async def run(self) -> RecordResult:
        """Record until the duration, Ctrl-C, or a sensor that cannot be recovered."""
        cfg = self.config
        if cfg.out.exists():
            raise GaitInputError(
                "output file exists",
                expected="a new file name (a recording is never overwritten)",
                found=str(cfg.out),
                where=Where(parameter="out"),
            )
        loop = asyncio.get_running_loop()
        self._t_start = time.monotonic()
        handled: list[signal.Signals] = []
        if cfg.handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows loops
                    loop.add_signal_handler(sig, self.stop)
                    handled.append(sig)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gait-live-metrics")
        cues = _CueRunner(cfg.cue_worker)
        tasks: list[asyncio.Task[None]] = []
        error: RecordingError | None = None
        try:
            if cfg.phyphox is not None:
                phone = PhyphoxLink(
                    cfg.phyphox, rate_hz=cfg.rate_hz, poll_s=cfg.phyphox_poll_s, timeout_s=cfg.connect_timeout_s
                )
                self.status = f"connecting to the phone at {phone.url}"
                try:
                    self.found = await phone.connect()
                except PhyphoxError as e:
                    raise RecordingError(str(e)) from None
                self._link = phone
                transport = phone.run(self)
            else:
                self.found = await self._find()
                self._link = self._make_link(self.found)
                transport = self._link_loop()
            self._calibration = self._load_calibration(self.found.address)
            tasks = [
                asyncio.create_task(self._flush_loop()),
                asyncio.create_task(self._metrics_loop(executor, cues)),
            ]
            await self._supervise(transport)
            if cfg.phyphox is not None and isinstance(self._link, PhyphoxLink):
                await self._link.stop_measuring()  # a clean end: the phone stops too, as a sensor does
        except RecordingError as e:
            error = e
            self._stopped_by = "sensor_silent" if isinstance(e, _SensorSilent) else "error"
            self.message = str(e)
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            for t in tasks:
                t.cancel()
            if self._cue_task is not None:
                tasks.append(self._cue_task)
                self._cue_task.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            executor.shutdown(wait=True)
            cues.shutdown()
            if self._link is not None and self._writer is not None:
                self._process(self._link.flush(), time.monotonic())
            if self._writer is not None:
                self._writer.close()
        if self._writer is None:
            if error is not None:
                raise error
            raise RecordingError(f"no data was received from {self._describe()}; nothing was written")
        result = self._finalize()
        self._ended, self._ended_at = True, time.monotonic()
        self.status = {
            "duration": "finished",
            "interrupt": "stopped",
            "sensor_silent": "ended: no data",
            "error": "ended by an error",
        }.get(self._stopped_by, self._stopped_by)
        if error is not None and result.n_samples == 0:
            raise error
        return result

    # -- finding the sensor -----------------------------------------------------------------
    def _describe(self) -> str:
        f = self.found
        if f is None:
            return self.config.device or "the sensor"
        return f"{f.name or 'unnamed device'} ({f.address})"

    def _load_calibration(self, device_id: str) -> Any:
        """The sensor's stored calibration (``gait calibrate``), applied to the live windows."""
        try:
            from calibration import load_calibration

            return load_calibration(device_id)
        except GaitInputError as e:  # a corrupt store: say so, record anyway (raw data are kept)
            self.message = f"calibration store not usable ({e}); live numbers use uncalibrated data"
            return None

    def _make_link(self, found: FoundDevice) -> Link:
        cfg = self.config
        kw = dict(
            rate_hz=cfg.rate_hz, acc_range_g=cfg.acc_range_g, gyr_range_dps=cfg.gyr_range_dps, describe=self._describe()
        )
        if found.protocol == OUR_PROTOCOL:
            return LumbarLink(**kw)
        assert found.protocol is not None
        return ProfileLink(get_profile(found.protocol), **kw)

    async def _find(self) -> FoundDevice:
        cfg = self.config
        want = cfg.device

        def good(d: FoundDevice) -> bool:
            return d.matches(want) if want else d.supported

        self.status = f"scanning for {want or 'a supported sensor'}"
        try:
            seen = await scan(
                timeout_s=cfg.scan_timeout_s,
                adapter=cfg.adapter,
                backend=cfg.backend,
                until=good,
                linger_s=0.0 if want else 1.0,  # without a name: listen a little longer, take the strongest
            )
        except BluetoothUnavailable as e:
            raise RecordingError(str(e)) from None
        hits = [d for d in seen if good(d)]
        if hits:
            if want and not hits[0].supported:
                raise GaitInputError(
                    "not a supported sensor",
                    expected="a sensor speaking a supported protocol (see `gait devices`)",
                    found=f"{hits[0].name or 'unnamed'} ({hits[0].address}) advertising {list(hits[0].service_uuids) or 'no services'}",
                    where=Where(parameter="device"),
                )
            return hits[0]
        listing = ", ".join(f"{d.name or '?'} ({d.address}{', ' + d.protocol if d.protocol else ''})" for d in seen[:8])
        if want:
            raise GaitInputError(
                "sensor not found",
                expected=f"a device named or addressed {want!r} advertising within {cfg.scan_timeout_s:g} s",
                found=listing or "no device at all",
                where=Where(parameter="device"),
                hint="Check that the sensor is on, charged and not connected to another app (a phone); `gait devices` lists what is in range",
            )
        raise RecordingError(
            f"no supported sensor found in {cfg.scan_timeout_s:g} s"
            + (f" (devices seen: {listing})" if listing else " (no Bluetooth device advertised at all)")
            + ". Switch the sensor on, make sure no phone app is connected to it, bring it closer, "
            "or name it with --device"
        )

    async def _rescan(self) -> FoundDevice | None:
        assert self.found is not None
        cfg = self.config
        try:
            return await find_again(
                self.found.address, timeout_s=min(cfg.scan_timeout_s, 5.0), adapter=cfg.adapter, backend=cfg.backend
            )
        except BluetoothUnavailable as e:
            self.message = str(e)
            return None

    # -- the link -----------------------------------------------------------------------------
    def _silent(self, since: float) -> _SensorSilent:
        what = "sent no data" if self._last_data is None else "has sent no data"
        return _SensorSilent(
            f"{self._describe()} {what} for {since:.0f} s "
            f"({self._reconnects} reconnects, {self._stalls} stalls); giving up. "
            + (f"Everything received until then is saved in {self.config.out}. " if self._writer is not None else "")
            + "Check the sensor's battery and that it is within range"
        )

    async def _supervise(self, transport: Any) -> None:
        """Run the transport (BLE link loop or phone poller) under the give-up watchdog.

        The watchdog ends the recording ``give_up_s`` after the last data (to within its
        0.25 s tick), whatever the transport is doing: backing off, waiting for a connection
        attempt to time out, or connected to a sensor that sends nothing.
        """
        cfg = self.config
        task = asyncio.ensure_future(transport)
        try:
            while not task.done():
                await asyncio.wait({task}, timeout=0.25)
                if task.done() or self._stop.is_set():
                    break
                since = time.monotonic() - (self._last_data if self._last_data is not None else self._t_start)
                if since > cfg.give_up_s:
                    self._giving_up = True
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, *_LINK_ERRORS):
                        await task
                    raise self._silent(since)
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *_LINK_ERRORS):
                    await task

    async def _wait_stop(self, delay_s: float) -> None:
        """Sleep ``delay_s`` or until the recording is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), delay_s)

    def _duration_reached(self) -> bool:
        """True (and the recording asked to stop) once ``duration_s`` of data are recorded."""
        d = self.config.duration_s
        if d is not None and self._first_host is not None and time.monotonic() - self._first_host >= d:
            self._stopped_by = "duration"
            self._stop.set()
            return True
        return False

    async def _link_loop(self) -> None:
        cfg = self.config
        attempt = 0
        while not self._stop.is_set():
            got_data_before = self._last_data
            try:
                await self._connected_session()
            except BleakDeviceNotFoundError:
                self.message = "the sensor is not known to the Bluetooth stack any more; scanning"
                found = await self._rescan()
                if found is not None:
                    self.found = found
            except _LINK_ERRORS as e:
                self.message = f"connection failed: {type(e).__name__}: {e}".rstrip(": ")
                logger.info("%s", self.message)
            if self._stop.is_set():
                return
            if self._last_data != got_data_before:
                attempt = 0
            since = time.monotonic() - (self._last_data if self._last_data is not None else self._t_start)
            if since > cfg.give_up_s:
                raise self._silent(since)
            delay = min(8.0, 0.5 * 2**attempt)
            attempt += 1
            self.status = f"link lost; reconnecting in {delay:.1f} s"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _connected_session(self) -> None:
        cfg = self.config
        assert self.found is not None and self.found.device is not None
        lost = asyncio.Event()
        kwargs: dict[str, Any] = {"timeout": cfg.connect_timeout_s}
        if cfg.adapter:
            kwargs["bluez"] = {"adapter": cfg.adapter}
        if cfg.backend.client is not None:
            kwargs["backend"] = cfg.backend.client
        client = BleakClient(self.found.device, disconnected_callback=lambda _c: lost.set(), **kwargs)
        self.status = f"connecting to {self._describe()}"
        await client.connect()
        clean = False
        try:
            self._connections += 1
            if self._connections > 1:
                self._reconnects += 1
            link = self._link
            assert link is not None
            self._process(link.link_lost(time.monotonic()), time.monotonic())
            try:
                need_start = await link.configure(client, resume_ok=not self._restart_stream)
                self._restart_stream = False
                for uuid in link.notify_uuids:
                    await client.start_notify(uuid, functools.partial(self._on_notify, uuid))
                if need_start:
                    await link.start(client)
            except SensorRefused as e:
                raise RecordingError(str(e)) from None
            self.status = "recording"
            self.message = ""
            t_session = time.monotonic()
            while True:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 0.1)
                if self._stop.is_set():
                    clean = True
                    return
                if lost.is_set() or not client.is_connected:
                    self.message = "the link dropped"
                    return
                now = time.monotonic()
                if (
                    cfg.duration_s is not None
                    and self._first_host is not None
                    and now - self._first_host >= cfg.duration_s
                ):
                    self._stopped_by = "duration"
                    self._stop.set()
                    clean = True
                    return
                last = (
                    self._last_notify if self._last_notify is not None and self._last_notify > t_session else t_session
                )
                if now - last > cfg.stall_timeout_s:
                    self._stalls += 1
                    self._restart_stream = True
                    self.message = f"no data for {now - last:.1f} s; reconnecting"
                    return
        finally:
            with contextlib.suppress(*_LINK_ERRORS, SensorRefused):
                if clean and client.is_connected and self._link is not None:
                    await asyncio.wait_for(self._link.stop(client), 2.0)
            with contextlib.suppress(*_LINK_ERRORS):
                await asyncio.wait_for(client.disconnect(), 1.0 if self._giving_up else 10.0)

    # -- data ---------------------------------------------------------------------------------
    def _on_notify(self, uuid: str, _char: Any, data: bytearray) -> None:
        h = time.monotonic()
        self._last_notify = h
        assert self._link is not None
        decoded = self._link.feed(data, uuid, h)
        self._arrivals.append(h)
        self._process(decoded, h)

    def _process(self, d: DecodedSamples, h: float) -> None:
        d = self._guard.clean(d)  # nothing the loader would refuse goes further
        if d.n_samples == 0:
            return
        if d.new_epoch:
            self._drift.new_epoch()
        n = self._indexer.indices(d.t_s, d.gap_before, list(d.samples_lost))
        if self._writer is None:
            self._open_writer(d, n, h)
        assert self._writer is not None and self._ring is not None
        self._drift.add(float(d.t_s[-1]), h)
        t = (n - self._n0) / self._rate_file
        for pos, lost, reason in zip(np.flatnonzero(d.gap_before), d.samples_lost, d.reasons):
            before = float(t[pos - 1]) if pos > 0 else self._last_t
            if math.isnan(before):  # lost before the file's first sample: not inside the file
                continue
            self._gaps.append((before, float(t[pos]), int(lost), reason))
        self._writer.write(t, d.acc_mps2, d.gyr_rads)
        self._ring.append(t, d.acc_mps2, d.gyr_rads if d.gyr_rads is not None else np.zeros_like(d.acc_mps2))
        if self._start_mounting is not None:
            self._start_mounting.add(t, d.acc_mps2)
        self._last_t = float(t[-1])
        self._last_data = h
        self._new_data.set()

    def _open_writer(self, d: DecodedSamples, n: np.ndarray, h: float) -> None:
        link = self._link
        assert link is not None and self.found is not None
        self._rate_file = link.rate_hz
        self._n0 = int(n[0])
        first_sample_host = h - float(d.t_s[-1] - d.t_s[0])
        self._first_host = first_sample_host
        wall = time.time() - (time.monotonic() - first_sample_host)
        self._start_wall = _dt.datetime.fromtimestamp(wall, tz=_dt.UTC).isoformat(timespec="milliseconds")
        meta = SessionMetadata(
            sampling_rate_hz=link.rate_hz,
            device=self._device_name(),
            device_id=self.found.address,
            start_time=self._start_wall,
            units_as_recorded=dict(link.units_as_recorded),
            extra={
                "recorder": "gait record",
                **link.settings(),
                "time_base": "device clock (sample index / rate)",
                **{f"device_{k}": v for k, v in link.device_info.items()},
            },
        )
        try:
            self._writer = SessionCsvWriter(self.config.out, meta, frame="sensor", has_gyro=link.has_gyro)
        except FileExistsError:
            raise GaitInputError(
                "output file exists",
                expected="a new file name",
                found=str(self.config.out),
                where=Where(parameter="out"),
            ) from None
        self._ring = RingBuffer(max(2, int(self.config.window_s * link.rate_hz)))
        self._start_mounting = StartMounting(sampling_rate_hz=link.rate_hz)

    def _device_name(self) -> str:
        assert self.found is not None
        model = self._link.device_info.get("model") if self._link is not None else None
        return f"{self.found.name or 'BLE sensor'}" + (f" ({model})" if model else "")

    async def _flush_loop(self) -> None:
        """fsync the file every ``flush_interval_s``; the fsync itself (milliseconds on a busy
        disk) runs in a worker thread, so notifications keep flowing meanwhile."""
        while True:
            await asyncio.sleep(self.config.flush_interval_s)
            if self._writer is not None:
                fd = self._writer.flush(sync=False)
                if fd is not None:
                    with contextlib.suppress(OSError):  # closed meanwhile: close() fsynced it
                        await asyncio.to_thread(os.fsync, fd)

    async def _metrics_loop(self, executor: ThreadPoolExecutor, cues: _CueRunner) -> None:
        loop = asyncio.get_running_loop()
        version = -1
        while True:
            ring = self._ring
            if ring is None or ring.version == version:
                self._new_data.clear()
                await self._new_data.wait()
                continue
            t0 = time.monotonic()
            version = ring.version
            t, acc, gyr = ring.snapshot()
            gyr_or_none = gyr if self._link is None or self._link.has_gyro else None
            included = np.fromiter(self._arrivals, dtype=float, count=len(self._arrivals))
            self._arrivals.clear()
            early = self._start_mounting.due() if self._start_mounting is not None else None
            job = functools.partial(self._live_job, t, acc, gyr_or_none, early)
            try:
                m, est = await loop.run_in_executor(executor, job)
            except Exception as e:  # the live view must never stop the recording
                # Not hidden: logged with its traceback, shown on the dashboard, kept in the result.
                if self.metrics_error is None:
                    logger.exception("live analysis failed")
                else:
                    logger.debug("live analysis failed again: %s", e)
                self.metrics_error = f"{type(e).__name__}: {e}"
                self._metrics = LiveMetrics(note=f"live analysis failed ({self.metrics_error}); recording continues")
                await asyncio.sleep(1.0)
                continue
            if early is not None and self._start_mounting is not None:
                self._start_mounting.accept(est)
            done = time.monotonic()
            if not self._gc_frozen:
                # everything imported and warmed up by now: leave it out of every later
                # collection (a full collection of ~10^5 objects costs tens of milliseconds)
                gc.freeze()
                self._gc_frozen = True
            self._metrics = replace(m, cues=self._cues, faults=self._faults)
            self._latency.add(done - included)
            # cues are coaching prompts: re-evaluated at most once a second, by a separate job
            # (the full analysis and the fault rules), never on the path of the metrics
            if (self._cue_task is None or self._cue_task.done()) and done - self._cues_at >= CUE_INTERVAL_S:
                self._cues_at = done
                self._cue_task = asyncio.create_task(self._cue_job(cues, t, acc, gyr_or_none))
            wait = self.config.metrics_interval_s - (done - t0)
            if wait > 0:
                await asyncio.sleep(wait)

    def _window_kwargs(self) -> dict[str, Any]:
        assert self.found is not None
        sm = self._start_mounting
        return dict(
            sampling_rate_hz=self._rate_file,
            analyze=self.config.analyze,
            device=self._device_name(),
            device_id=self.found.address,
            start_time=self._start_wall,
            calibration=self._calibration,
            mounting=sm.result if sm is not None else None,
            evaluate=self.config.evaluate,
        )

    async def _cue_job(self, cues: _CueRunner, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None) -> None:
        try:
            m = await cues.run(t, acc, gyr, self._window_kwargs())
        except Exception as e:  # never stops the recording; the metrics go on
            logger.info("fault cue evaluation failed: %s", e)
            return
        self._cues, self._faults = m.cues, m.faults
        self._metrics = replace(self._metrics, cues=m.cues, faults=m.faults)

    def _live_job(
        self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, early: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[LiveMetrics, Any]:
        """Runs in the analysis thread: the start mounting when due, then the window (metrics only)."""
        sm = self._start_mounting
        est = sm.estimate(*early) if (sm is not None and early is not None) else None
        kw = self._window_kwargs()
        if sm is not None and sm.result is None:
            kw["mounting"] = est
        m = window_metrics(t, acc, gyr, with_cues=False, **kw)
        return m, est

    # -- the end --------------------------------------------------------------------------------
    def _finalize(self) -> RecordResult:
        cfg = self.config
        est = self._drift.refit()
        f_dev = self._indexer.device_rate_hz()
        rate = self._rate_file
        corrected = False
        declared = tuple(DeclaredGap(a, b, r, k) for a, b, k, r in self._gaps)
        if est.reliable and math.isfinite(f_dev) and self._link is not None and self._link.drift_correctable:
            f_true = f_dev / est.host_per_device
            err = f_true / rate - 1.0
            if _MIN_CORRECTION < abs(err) <= _MAX_CORRECTION:
                try:
                    self._rewrite(f_true, est.drift_ppm, declared)
                except GaitInputError as e:  # the file as a whole fails a check: keep it as recorded
                    warnings.warn(
                        f"{cfg.out}: the times were left on the sensor's clock ({err:+.3%} off the computer's): "
                        f"the file could not be read back to correct them ({e})",
                        GaitDataWarning,
                        stacklevel=3,
                    )
                else:
                    corrected = True
                    rate = f_true
            elif abs(err) > _MAX_CORRECTION:
                warnings.warn(
                    f"{cfg.out}: the sensor's clock disagrees with the computer's by {err:+.1%}; "
                    "that is not a crystal's drift, so the times were left on the sensor's clock",
                    GaitDataWarning,
                    stacklevel=3,
                )
        link = self.link_stats()
        gaps = tuple(self._gaps)
        if corrected:
            scale = self._rate_file / rate
            gaps = tuple((a * scale, b * scale, k, r) for a, b, k, r in gaps)
        else:  # the gap list (start, end, cause) goes into the file's own header
            _write_gaps_header(cfg.out, declared)
        sidecar = cfg.out.with_name(cfg.out.name[: -len(".csv")] + ".recording.json")
        assert self.found is not None and self._writer is not None
        info = {
            "file": cfg.out.name,
            "device": {
                "name": self.found.name,
                "address": self.found.address,
                "protocol": self.found.protocol,
                **(self._link.device_info if self._link else {}),
            },
            "settings": {"rate_hz": self._rate_file, **(self._link.settings() if self._link else {})},
            "start_time": self._start_wall,
            "samples": self._writer.n_rows,
            "sampling_rate_hz": rate,
            "clock": {
                "drift_ppm": est.drift_ppm,
                "reliable": est.reliable,
                "span_s": est.span_s,
                "corrected": corrected,
            },
            "link": {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(link).items()
            },
            "gaps": [{"start_s": a, "end_s": b, "samples_lost": k, "reason": r} for a, b, k, r in gaps],
            "invalid_samples": {
                "nonfinite_in_decoder": link.samples_invalid - self._guard.dropped,
                "nonfinite": self._guard.nonfinite,
                "out_of_range": self._guard.out_of_range,
            },
            "stopped_by": self._stopped_by,
            "message": self.message,
            "live_analysis_error": self.metrics_error,
        }
        sidecar.write_text(json.dumps(info, indent=2) + "\n")
        return RecordResult(
            path=cfg.out,
            sidecar=sidecar,
            n_samples=self._writer.n_rows,
            sampling_rate_hz=rate,
            clock_corrected=corrected,
            drift_ppm=est.drift_ppm,
            link=link,
            gaps=gaps,
            stopped_by=self._stopped_by,
            message=self.message,
            metrics_error=self.metrics_error,
            latency=self._latency,
        )

    def _rewrite(self, f_true: float, drift_ppm: float, declared: tuple[DeclaredGap, ...]) -> None:
        """Rescale the file's times to host time (atomically: the old file stays until done)."""
        path = self.config.out
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)  # its gaps are known and reported
            s = read_canonical_session(path)
        n = np.rint(s.t * self._rate_file)
        extra = dict(s.meta.extra)
        extra.update(
            {
                "time_base": "device clock corrected to host time",
                "device_clock_drift_ppm": round(drift_ppm, 3),
                "nominal_rate_hz": self._rate_file,
            }
        )
        scale = self._rate_file / f_true
        gaps = tuple(replace(g, start_s=g.start_s * scale, end_s=g.end_s * scale) for g in declared)
        meta = replace(s.meta, sampling_rate_hz=f_true, extra=extra, source=None, gaps=gaps)
        write_csv_session(s.replace(t=n / f_true, meta=meta), path)


def _write_gaps_header(path: Path, gaps: tuple[DeclaredGap, ...]) -> None:
    """Add the ``# gaps: [...]`` metadata line (``docs/session-format.md``) to a recorded CSV.

    Only the header changes: the rows are copied as bytes into a new file beside it, which is
    fsynced and renamed over the old one, so a crash at any moment leaves either file whole.
    Always written at the end of a recording, ``[]`` when there was no gap (a file without the
    line says nothing about its gaps' causes: a recording cut off by a crash).
    """
    value = json.dumps([g.to_dict() for g in gaps], sort_keys=True)
    tmp = path.with_name(path.name + ".part")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while True:
            line = src.readline()
            if not line.startswith(b"#"):
                break
            if not line.startswith(b"# gaps:"):
                dst.write(line)
        dst.write(f"# gaps: {value}\n".encode())
        dst.write(line)
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename durable (POSIX; not on Windows)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


async def record(config: RecordConfig) -> RecordResult:
    """Record one session live (see `Recorder`)."""
    if config.device is not None and not config.device.strip():
        raise GaitInputError(
            "empty device name", expected="a name or an address", found="''", where=Where(parameter="device")
        )
    return await Recorder(config).run()
