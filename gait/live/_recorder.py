"""`Recorder`: scan, connect, configure, stream to disk, survive link loss, stop cleanly.

Data path of one notification (all on the event loop, a few hundred microseconds)::

    bleak callback -> ProfileLink.feed (the profile's decoder; holes, device time)
                   -> SampleGuard.clean (NaN, inf, impossible values: dropped, become gaps)
                   -> SampleIndexer (index on the device's sampling grid)
                   -> SessionCsvWriter.write (t = index / rate)    -> fsync every flush_interval_s
                   -> RingBuffer (last window_s)                    -> gait.analyze in a worker thread

Link management (`gait.live._recorder_ble`): connect, configure through the sensor's
profile, subscribe, start; reconnect with backoff after a link loss, resuming the stream when
the sensor kept it running (the samples missed meanwhile become one gap). After
``give_up_s`` without data the recording ends with a clear message (a watchdog beside the
link loop, so the limit holds whatever the loop is waiting for). Ctrl-C (SIGINT) and SIGTERM
stop cleanly.

A phone running phyphox (``RecordConfig.phyphox``) replaces scan and link with
`gait.live.PhyphoxLink`, which polls the phone and hands its samples, already on a uniform
grid, to the same data path from ``_process`` on.

Live path under load (`gait.live._recorder_live`): metrics on every notification, fault
cues once a second by a separate job. The fsync runs in a worker thread. Memory stays flat
over hours: the drift fit keeps a few points per 2-s window, the latencies are a fixed-size
histogram, the window is a ring buffer. The view is marked stale after ``stale_after_s``
without data. The end (`gait.live._recorder_end`): clock correction, gaps, sidecar.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import logging
import math
import os
import signal
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from firmware_protocol.samples import DecodedSamples

from ..errors import GaitInputError, Where
from ..io import SessionCsvWriter
from ..session import SessionMetadata
from ._buffer import RingBuffer
from ._clock import DriftFit, SampleIndexer
from ._cues import _CueRunner
from ._guard import SampleGuard
from ._links import Link
from ._metrics import LiveMetrics, StartMounting
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
from ._recorder_ble import LINK_ERRORS, find_sensor, link_loop, make_link
from ._recorder_end import finalize
from ._recorder_live import metrics_loop
from ._scan import FoundDevice

__all__ = ["Recorder", "record"]

logger = logging.getLogger(__name__)


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
                self.found = await find_sensor(self)
                self._link = make_link(self, self.found)
                transport = link_loop(self)
            self._calibration = self._load_calibration(self.found.address)
            tasks = [
                asyncio.create_task(self._flush_loop()),
                asyncio.create_task(metrics_loop(self, executor, cues)),
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
                    with contextlib.suppress(asyncio.CancelledError, *LINK_ERRORS):
                        await task
                    raise self._silent(since)
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, *LINK_ERRORS):
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

    def _finalize(self) -> RecordResult:
        """Correct the clock, write the gap list and the sidecar (`gait.live._recorder_end`)."""
        return finalize(self)

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


async def record(config: RecordConfig) -> RecordResult:
    """Record one session live (see `Recorder`)."""
    if config.device is not None and not config.device.strip():
        raise GaitInputError(
            "empty device name", expected="a name or an address", found="''", where=Where(parameter="device")
        )
    return await Recorder(config).run()
