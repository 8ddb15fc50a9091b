"""`Syncer`: fetch the sessions a sensor logged on its own, verify them, write session files.

A sensor of our protocol with on-sensor logging (``firmware_protocol/PROTOCOL.md`` section 7)
records a run with no computer nearby; ``gait sync`` fetches it afterwards. One run::

    scan (as gait record) -> connect -> configuration: can it log? -> stop a session still
    being logged -> GET_CLOCK (the sensor's clock against this computer's) -> LOG_LIST
    -> for each session not synced before:
         download: LOG_READ of what is missing, a window at a time (offset-based); each block
         checked (CRC-16, length, sequence number) and written at its offset to a partial
         file; the verified ranges saved beside it, so a broken link (or a sync that gave up)
         resumes where it stopped, now or at the next sync
       -> verify: CRC-32 of the whole session against the sensor's digest, then every record
         (CRC, sequence, time stamps)
       -> write the canonical session file with the same writer and format as ``gait record``
         (times = sample index / rate on the sensor's sampling grid; the start time from the
         sensor's clock, corrected for the drift measured since the clock was last set)
       -> erase it on the sensor when asked, only now (LOG_ERASE carries the digest the host
         computed; the sensor refuses any other)
    -> set the sensor's clock (when nothing is left half-downloaded) -> LOG_START when asked

Sessions already synced (same sensor, id and digest in ``OUT/.gait-sync/index.json``) are
skipped (and erased when asked: they were verified when fetched).

Notes
-----
Clock. The sensor's clock is set by a host (SET_CLOCK) and then runs on its crystal. At sync,
GET_CLOCK gives its reading ``D`` against this computer's ``H`` (the middle of the request's
round trip; its half-width bounds the error). Since the last set at ``S``, the clock ran slow
by ``d = (H - S) / (D - S) - 1``, assumed constant; a session whose entry names that same set
(``clock_set_utc_us``) started at ``S + (start - S) (1 + d)``. Where the drift is measured to
within 20 ppm (a clock set long enough ago), the sample rate is corrected too: the sensor's
sampling rate in its own time (from the records' time stamps) divided by ``1 + d``, when that
moves it by more than 0.01 % (as ``gait record`` does with its drift fit).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as _dt
import json
import logging
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol import codec
from firmware_protocol import logbook as lb

from ..io import SessionCsvWriter
from ..session import SessionMetadata
from ._scan import OUR_PROTOCOL, BluetoothUnavailable, FoundDevice, find_again, scan
from ._sync_state import _Index, _Job, _Partial, _safe
from ._sync_types import (
    _MAX_CORRECTION,
    _MIN_CORRECTION,
    ClockCheck,
    SyncConfig,
    SyncedSession,
    SyncError,
    SyncResult,
    _LinkLost,
    _Silent,
)

__all__ = ["Syncer", "sync"]

logger = logging.getLogger(__name__)

_LINK_ERRORS = (BleakError, TimeoutError, EOFError, ConnectionError)
_STATE_DIR = ".gait-sync"
_WRITE_CHUNK = 50_000


# ---------------------------------------------------------------------------------------
# the syncer
# ---------------------------------------------------------------------------------------
class Syncer:
    """One ``gait sync`` (see the module docstring). ``on_event`` receives one line per step."""

    def __init__(self, config: SyncConfig, *, on_event: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.on_event = on_event or (lambda _text: None)
        self.found: FoundDevice | None = None
        self.device_info: dict[str, str] = {}
        self.state_dir = config.out_dir / _STATE_DIR
        self._jobs: list[_Job] | None = None
        self._clock: ClockCheck | None = None
        self._inbox: asyncio.Queue[lb.LogMessage | lb.LogMessageError] = asyncio.Queue()
        self._lost = asyncio.Event()
        self._stop = asyncio.Event()
        self._reconnects = 0
        self._connections = 0
        self._logging_stopped = False
        self._clock_set = False
        self._logging_started = False
        self._finished = False
        self._last_progress = time.monotonic()
        self._download_s = 0.0
        self._store = (0, 0)
        self._message = ""

    def stop(self) -> None:
        """Ask the sync to end (as Ctrl-C does); partial downloads are kept."""
        self._stop.set()

    def _say(self, text: str) -> None:
        logger.info("%s", text)
        self.on_event(text)

    # -- run ----------------------------------------------------------------------------------
    async def run(self) -> SyncResult:
        cfg = self.config
        cfg.out_dir.mkdir(parents=True, exist_ok=True)
        self._index = _Index(self.state_dir)
        self.found = await self._find()
        self._say(f"found {self._describe()}")
        self._last_progress = time.monotonic()
        attempt = 0
        try:
            while not self._finished and not self._stop.is_set():
                before = self._last_progress
                try:
                    await self._connected()
                except BleakDeviceNotFoundError:
                    self._say("the sensor is not known to the Bluetooth stack any more; scanning")
                    again = await self._rescan()
                    if again is not None:
                        self.found = again
                except (*_LINK_ERRORS, _LinkLost) as e:
                    text = str(e) or type(e).__name__
                    self._say(f"link lost ({text}); the verified bytes are kept")
                except _Refused as r:
                    self._message = f"{self._describe()}: {r}"
                    break
                if self._finished or self._stop.is_set():
                    break
                if self._last_progress != before:
                    attempt = 0
                if time.monotonic() - self._last_progress > cfg.give_up_s:
                    self._message = (
                        f"{self._describe()} could not be reached or made no progress for {cfg.give_up_s:.0f} s; "
                        "giving up. What was verified is kept: run gait sync again to resume"
                    )
                    break
                delay = min(8.0, 0.5 * 2**attempt)
                attempt += 1
                self._say(f"reconnecting in {delay:.1f} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), delay)
        finally:
            for job in self._jobs or []:
                if job.partial is not None:
                    if job.status in ("pending", "partial"):
                        job.partial.save()
                    job.partial.close()
        if self._stop.is_set() and not self._finished and not self._message:
            self._message = "interrupted; what was verified is kept: run gait sync again to resume"
        return self._result()

    def _describe(self) -> str:
        f = self.found
        if f is None:
            return self.config.device or "the sensor"
        return f"{f.name or 'unnamed device'} ({f.address})"

    async def _find(self) -> FoundDevice:
        cfg = self.config
        want = cfg.device

        def good(d: FoundDevice) -> bool:
            return d.matches(want) if want else d.protocol == OUR_PROTOCOL

        try:
            seen = await scan(
                timeout_s=cfg.scan_timeout_s,
                adapter=cfg.adapter,
                backend=cfg.backend,
                until=good,
                linger_s=0.0 if want else 1.0,
            )
        except BluetoothUnavailable as e:
            raise SyncError(str(e)) from None
        hits = [d for d in seen if good(d)]
        if hits and hits[0].protocol == OUR_PROTOCOL:
            return hits[0]
        listing = ", ".join(f"{d.name or '?'} ({d.address}{', ' + d.protocol if d.protocol else ''})" for d in seen[:8])
        if hits:
            raise SyncError(
                f"{hits[0].name or hits[0].address} speaks {hits[0].protocol or 'no supported protocol'}, which has no "
                "on-sensor logging gait sync can fetch (docs/sensors.md says what each sensor offers); "
                "record it live with gait record"
            )
        raise SyncError(
            f"no sensor of the lumbar IMU protocol found in {cfg.scan_timeout_s:g} s"
            + (f" (devices seen: {listing})" if listing else " (no Bluetooth device advertised at all)")
            + ". Switch the sensor on (it keeps its logs while off), make sure no phone app is connected to it, "
            "or name it with --device"
        )

    async def _rescan(self) -> FoundDevice | None:
        assert self.found is not None
        cfg = self.config
        try:
            return await find_again(
                self.found.address, timeout_s=min(cfg.scan_timeout_s, 5.0), adapter=cfg.adapter, backend=cfg.backend
            )
        except BluetoothUnavailable:
            return None

    # -- one connection -----------------------------------------------------------------------
    async def _connected(self) -> None:
        cfg = self.config
        assert self.found is not None and self.found.device is not None
        self._lost.clear()
        kwargs: dict[str, Any] = {"timeout": cfg.connect_timeout_s}
        if cfg.adapter:
            kwargs["bluez"] = {"adapter": cfg.adapter}
        if cfg.backend.client is not None:
            kwargs["backend"] = cfg.backend.client
        client = BleakClient(self.found.device, disconnected_callback=lambda _c: self._lost.set(), **kwargs)
        await client.connect()
        self._connections += 1
        if self._connections > 1:
            self._reconnects += 1
        try:
            dc = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
            if not dc.can_log:
                self._finished = True
                raise SyncError(
                    f"{self._describe()} does not log on its own (its firmware announces no logging feature); "
                    "update its firmware, or record live with gait record"
                )
            await self._read_device_info(client)
            while not self._inbox.empty():
                self._inbox.get_nowait()
            await client.start_notify(codec.LOG_UUID, self._on_notify)
            if dc.logging:
                if cfg.stop_logging:
                    await self._command(client, codec.encode_log_stop())
                    self._logging_stopped = True
                    self._say("the sensor was logging: stopped that session to fetch it")
                else:
                    self._say("the sensor is logging: that session is left alone (--keep-logging)")
            if self._clock is None:
                self._clock = await self._get_clock(client)
                self._say(self._clock_text(self._clock))
                self._last_progress = time.monotonic()
            if self._jobs is None:
                self._jobs = await self._list(client)
                self._last_progress = time.monotonic()
            if not cfg.download:
                for job in self._jobs:
                    if job.status == "pending":
                        job.status = "listed"
                self._finished = True
                return
            for job in self._jobs:
                if self._stop.is_set():
                    return
                if job.status == "pending":
                    await self._sync_one(client, job)
                if cfg.erase and job.status in ("written", "already") and job.erased is None:
                    await self._erase(client, job)
            await self._finish(client)
            self._finished = True
        finally:
            with contextlib.suppress(*_LINK_ERRORS):
                await asyncio.wait_for(client.disconnect(), 10.0)

    async def _read_device_info(self, client: BleakClient) -> None:
        if self.device_info:
            return
        for key, uuid in (
            ("model", codec.MODEL_NUMBER_UUID),
            ("serial", codec.SERIAL_NUMBER_UUID),
            ("firmware", codec.FIRMWARE_REVISION_UUID),
            ("manufacturer", codec.MANUFACTURER_NAME_UUID),
        ):
            with contextlib.suppress(BleakError):
                self.device_info[key] = bytes(await client.read_gatt_char(uuid)).decode(errors="replace")

    def _on_notify(self, _char: Any, data: bytearray) -> None:
        try:
            msg: lb.LogMessage | lb.LogMessageError = lb.decode_message(bytes(data))
        except lb.LogMessageError as e:
            msg = e
        self._inbox.put_nowait(msg)

    async def _next(self, timeout_s: float) -> lb.LogMessage | lb.LogMessageError:
        get = asyncio.ensure_future(self._inbox.get())
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait({get, lost}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if get in done:
            return get.result()
        get.cancel()
        if lost in done or self._lost.is_set():
            raise _LinkLost("the link dropped")
        raise _Silent(f"the sensor stopped answering for {timeout_s:g} s")

    async def _command(self, client: BleakClient, data: bytes, *, check: bool = True) -> codec.DeviceConfig:
        await client.write_gatt_char(codec.CONTROL_UUID, data, response=True)
        dc = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
        self._store = (dc.log_capacity_bytes, dc.log_free_bytes)
        if check and (dc.last_opcode != data[0] or dc.last_status != codec.Status.OK):
            raise _Refused(data[0], dc.last_status)
        return dc

    async def _get_clock(self, client: BleakClient) -> ClockCheck:
        t0 = time.time()
        await self._command(client, codec.encode_get_clock())
        while True:
            msg = await self._next(self.config.reply_timeout_s)
            if isinstance(msg, lb.LogClock):
                t1 = time.time()
                return ClockCheck(
                    is_set=msg.is_set,
                    device_utc_s=msg.now_utc_us / 1e6,
                    host_utc_s=0.5 * (t0 + t1),
                    round_trip_s=t1 - t0,
                    set_utc_s=msg.set_utc_us / 1e6,
                )

    @staticmethod
    def _clock_text(c: ClockCheck) -> str:
        if not c.is_set:
            return "the sensor's clock was not set (it lost power?): start times of its sessions are unknown"
        text = f"sensor clock {c.offset_s * 1000:+.0f} ms from this computer's, set {c.since_set_s / 3600:.1f} h ago"
        if math.isfinite(c.drift_ppm):
            text += f" (drift {c.drift_ppm:+.0f} +- {c.drift_uncertainty_ppm:.0f} ppm)"
        return text

    async def _list(self, client: BleakClient) -> list[_Job]:
        await self._command(client, codec.encode_log_list())
        entries: list[lb.LogEntry] = []
        while True:
            msg = await self._next(self.config.reply_timeout_s)
            if isinstance(msg, lb.LogEntry):
                entries.append(msg)
            elif isinstance(msg, lb.LogListEnd):
                self._store = (msg.capacity_bytes, msg.free_bytes)
                break
        assert self.found is not None
        jobs = []
        for e in entries:
            job = _Job(e)
            if e.active:
                job.status = "logging"
            elif (it := self._index.find(self.found.address, e)) is not None:
                job.status = "already"
                job.result = {"path": self.config.out_dir / it["file"]}
            jobs.append(job)
        new = sum(j.status == "pending" for j in jobs)
        self._say(
            f"{len(entries)} session{'s' if len(entries) != 1 else ''} on the sensor, {new} new; "
            f"store {self._store[1] / 1e6:.2f} of {self._store[0] / 1e6:.2f} MB free"
        )
        return jobs

    # -- one session --------------------------------------------------------------------------
    async def _sync_one(self, client: BleakClient, job: _Job) -> None:
        """Download (or resume), verify and write one session; a digest mismatch downloads it
        once more from scratch."""
        assert self.found is not None
        e = job.entry
        while job.status == "pending" and not self._stop.is_set():
            if job.partial is None:
                job.partial = _Partial(self.state_dir, self.found.address, e)
                job.verified_before = job.partial.ranges.covered
                if job.verified_before:
                    self._say(
                        f"session {e.session_id}: resuming, {job.verified_before} of {e.size_bytes} bytes "
                        "verified before"
                    )
            t_start = time.monotonic()
            try:
                complete = await self._download(client, job)
            finally:
                self._download_s += time.monotonic() - t_start
            if not complete:
                return
            self._verify_and_write(job)
            self._last_progress = time.monotonic()

    async def _download(self, client: BleakClient, job: _Job) -> bool:
        """Ask for what is missing, a window at a time, until all is verified (True), or the
        session must be given up (False; its status says why)."""
        cfg = self.config
        e = job.entry
        part = job.partial
        assert part is not None
        while missing := part.ranges.missing(e.size_bytes):
            if self._stop.is_set():
                return False
            a, b = missing[0]
            b = min(b, a + cfg.window_bytes)
            before = part.ranges.covered
            try:
                await self._read_window(client, job, a, b)
            finally:
                part.save()
            if job.status != "pending":
                return False
            if part.ranges.covered > before:
                job.attempts = 0
                self._last_progress = time.monotonic()
                continue
            job.attempts += 1
            if job.attempts >= cfg.max_attempts:
                job.status = "partial"
                job.message = (
                    f"bytes {a}..{b} did not arrive in {job.attempts} requests; "
                    f"{part.ranges.covered} of {e.size_bytes} bytes verified and kept for the next sync"
                )
                self._say(f"session {e.session_id}: {job.message}")
                return False
        return True

    async def _read_window(self, client: BleakClient, job: _Job, a: int, b: int) -> None:
        e = job.entry
        part = job.partial
        assert part is not None
        while not self._inbox.empty():  # anything left of an earlier answer
            self._inbox.get_nowait()
        job.requested += b - a
        try:
            await self._command(client, codec.encode_log_read(session_id=e.session_id, offset=a, length=b - a))
        except _Refused as r:
            job.status = "failed"
            job.message = (
                "the sensor no longer has this session"
                if r.status == codec.Status.NOT_FOUND
                else f"the sensor refused to read it ({_status_name(r.status)})"
            )
            return
        expect_seq = 0
        while True:
            try:
                msg = await self._next(self.config.reply_timeout_s)
            except _Silent:
                return  # what did not come is asked for again
            if isinstance(msg, lb.LogMessageError):
                job.corrupt += 1  # its bytes stay missing: asked for again
                expect_seq += 1
                continue
            if isinstance(msg, lb.LogBlock):
                if msg.session_id != e.session_id or not a <= msg.offset < b or msg.end > b:
                    continue  # not part of this answer
                if msg.seq != expect_seq & 0xFFFF:
                    job.missing += (msg.seq - expect_seq) & 0xFFFF  # a block lost on the way: asked for again
                expect_seq = msg.seq + 1
                part.write(msg.offset, msg.payload)
                job.downloaded += len(msg.payload)
            elif isinstance(msg, lb.LogReadEnd):
                if msg.session_id == e.session_id and msg.offset == a:
                    if msg.blocks != expect_seq & 0xFFFF:
                        job.missing += (msg.blocks - expect_seq) & 0xFFFF
                    return

    def _verify_and_write(self, job: _Job) -> None:
        e = job.entry
        part = job.partial
        assert part is not None and self.found is not None
        raw = part.data()
        digest = lb.crc32(raw)
        if digest != e.digest:
            job.digest_failures += 1
            part.discard()
            job.partial = None
            if job.digest_failures < 2:
                self._say(
                    f"session {e.session_id}: digest mismatch (every block had passed its CRC); downloading again"
                )
                return
            job.status = "failed"
            job.message = f"the data do not match the sensor's digest (0x{digest:08x}, expected 0x{e.digest:08x})"
            return
        try:
            run = lb.parse_session_data(raw, rate_hz=e.rate_hz)
        except lb.LogDataError as err:
            job.status = "failed"
            job.message = f"the session's records are not valid ({err}); kept in {part.path}"
            part.close()
            return
        path, info = self._write_session(job, run)
        job.status = "written"
        job.result = {"path": path, **info}
        job.verified_digest = digest
        self._index.add(self.found.address, e, path.name)
        part.discard()
        job.partial = None
        self._say(
            f"session {e.session_id}: {e.size_bytes} bytes verified (CRC-32 0x{digest:08x}); wrote {path.name} "
            f"({run.n_samples} samples, {run.n_samples / info['rate']:.1f} s at {info['rate']:.6g} Hz)"
        )

    # -- the session file ---------------------------------------------------------------------
    def _start_time(self, e: lb.LogEntry) -> tuple[float | None, bool, str]:
        """(UTC seconds of the first sample, corrected?, how) from the sensor's clock."""
        c = self._clock
        if not e.clock_set or e.start_utc_us == 0:
            return None, False, "unknown: the sensor's clock was not set when the session started"
        start = e.start_utc_us / 1e6
        if c is None or not c.is_set:
            return start, False, "the sensor's clock, uncorrected (its clock was not set at the sync)"
        if e.clock_set_utc_us != round(c.set_utc_s * 1e6):
            return start, False, "the sensor's clock, uncorrected (the clock was set again since)"
        d = c.drift_ppm * 1e-6
        if not math.isfinite(d) or abs(d) > _MAX_CORRECTION:
            return (
                start,
                False,
                (
                    f"the sensor's clock, uncorrected (it disagrees with this computer's by {c.drift_ppm:+.0f} ppm: "
                    "not a crystal's drift)"
                ),
            )
        corrected = c.set_utc_s + (start - c.set_utc_s) * (1.0 + d)
        err_ms = abs(start - c.set_utc_s) * c.drift_uncertainty_ppm * 1e-6 * 1000 + 0.5 * c.round_trip_s * 1000
        return (
            corrected,
            True,
            (
                f"the sensor's clock corrected for its drift ({c.drift_ppm:+.1f} ppm; moved "
                f"{(corrected - start) * 1000:+.0f} ms, known to +-{err_ms:.0f} ms)"
            ),
        )

    def _file_name(self, e: lb.LogEntry, start_s: float | None) -> Path:
        out = self.config.out_dir
        assert self.found is not None
        if start_s is not None:
            stem = "run-" + _dt.datetime.fromtimestamp(start_s).strftime("%Y%m%d-%H%M%S")
        else:
            stem = f"run-{_safe(self.found.address)}-session{e.session_id}"
        path, k = out / f"{stem}.csv", 2
        while path.exists():
            path = out / f"{stem}-{k}.csv"
            k += 1
        return path

    def _write_session(self, job: _Job, run: lb.LoggedRun) -> tuple[Path, dict[str, Any]]:
        e = job.entry
        assert self.found is not None
        start_s, corrected, how = self._start_time(e)
        nominal = e.rate_hz
        rate, time_base = nominal, "sensor sample clock (sample index / nominal rate)"
        f_dev = run.device_rate_hz
        c = self._clock
        drift_ok = c is not None and c.drift_reliable and e.clock_set_utc_us == round(c.set_utc_s * 1e6)
        if math.isfinite(f_dev):
            f_true = f_dev / (1.0 + c.drift_ppm * 1e-6) if drift_ok and c is not None else f_dev
            err = f_true / nominal - 1.0
            if _MIN_CORRECTION < abs(err) <= _MAX_CORRECTION:
                rate = f_true
                time_base = "sensor sample clock, rate from its time stamps" + (
                    ", corrected for the clock's drift" if drift_ok else ""
                )
        cfg = e.config()
        acc = run.acc.astype(np.float64) * cfg.acc_scale_mps2_per_lsb
        gyr = run.gyr.astype(np.float64) * cfg.gyr_scale_rads_per_lsb
        t = run.index / rate
        iso = (
            None
            if start_s is None
            else _dt.datetime.fromtimestamp(start_s, tz=_dt.UTC).isoformat(timespec="milliseconds")
        )
        model = self.device_info.get("model")
        clock = c.to_dict() if c is not None else None
        extra: dict[str, Any] = {
            "recorder": "gait sync",
            "protocol": "lumbar-imu v1, on-sensor log",
            "acc_range_g": e.acc_range_g,
            "gyr_range_dps": e.gyr_range_dps,
            "log_session_id": e.session_id,
            "log_digest_crc32": f"{e.digest:08x}",
            "time_base": time_base,
            "start_time_source": how,
            "nominal_rate_hz": nominal,
            **{f"device_{k}": v for k, v in self.device_info.items()},
        }
        if c is not None and math.isfinite(c.drift_ppm):
            extra["device_clock_drift_ppm"] = round(c.drift_ppm, 3)
        meta = SessionMetadata(
            sampling_rate_hz=rate,
            device=f"{self.found.name or 'BLE sensor'}" + (f" ({model})" if model else ""),
            device_id=self.found.address,
            start_time=iso,
            units_as_recorded={"acc": "g", "gyr": "dps", "t": "s"},
            extra=extra,
        )
        final = self._file_name(e, start_s)
        tmp = final.with_name(f".{final.name}.tmp")
        tmp.unlink(missing_ok=True)
        writer = SessionCsvWriter(tmp, meta, frame="sensor", has_gyro=True)
        try:
            for a in range(0, t.size, _WRITE_CHUNK):
                writer.write(t[a : a + _WRITE_CHUNK], acc[a : a + _WRITE_CHUNK], gyr[a : a + _WRITE_CHUNK])
        finally:
            writer.close()
        if final.exists():  # appeared meanwhile: never overwrite a session file
            final = self._file_name(e, start_s)
        tmp.replace(final)
        gaps = tuple((ia / rate, ib / rate, k, reason) for ia, ib, k, reason in run.gaps)
        flags = [(f.name or "").lower() for f in lb.EntryFlags if f and e.flags & f and f != lb.EntryFlags.CLOCK_SET]
        sidecar = final.with_name(final.name[: -len(".csv")] + ".recording.json")
        info = {
            "file": final.name,
            "device": {
                "name": self.found.name,
                "address": self.found.address,
                "protocol": OUR_PROTOCOL,
                **self.device_info,
            },
            "settings": {"rate_hz": nominal, "acc_range_g": e.acc_range_g, "gyr_range_dps": e.gyr_range_dps},
            "start_time": iso,
            "start_time_source": how,
            "samples": int(run.n_samples),
            "sampling_rate_hz": rate,
            "clock": {**(clock or {}), "corrected": corrected, "rate_corrected": rate != nominal},
            "log": {
                "session_id": e.session_id,
                "size_bytes": e.size_bytes,
                "digest_crc32": f"{e.digest:08x}",
                "records": run.n_records,
                "flags": flags,
                "duration_ms": e.duration_ms,
            },
            "download": {
                "bytes_this_sync": job.downloaded,
                "bytes_verified_before": job.verified_before,
                "bytes_requested": job.requested,
                "corrupt_blocks": job.corrupt,
                "missing_blocks": job.missing,
                "reconnects": self._reconnects,
            },
            "gaps": [{"start_s": a, "end_s": b, "samples_lost": k, "reason": r} for a, b, k, r in gaps],
            "stopped_by": "store_full" if e.flags & lb.EntryFlags.FULL else "log_stop",
        }
        sidecar.write_text(json.dumps(info, indent=2) + "\n")
        return final, {
            "rate": rate,
            "n": int(run.n_samples),
            "start": iso,
            "corrected": corrected,
            "gaps": gaps,
        }

    # -- erase, clock, new session ------------------------------------------------------------
    async def _erase(self, client: BleakClient, job: _Job) -> None:
        e = job.entry
        if job.status == "written":
            digest = job.verified_digest
        else:  # synced before: verified then; the index holds the digest it verified
            assert self.found is not None
            it = self._index.find(self.found.address, e)
            digest = None if it is None else int(it["digest"])
        if digest is None:
            job.erased = False
            job.erase_message = "not erased: no verified download"
            return
        dc = await self._command(client, codec.encode_log_erase(session_id=e.session_id, digest=digest), check=False)
        if dc.last_status == codec.Status.OK:
            job.erased = True
            self._say(f"session {e.session_id}: erased on the sensor")
        else:
            job.erased = False
            job.erase_message = f"the sensor refused to erase it ({_status_name(dc.last_status)})"
            self._say(f"session {e.session_id}: {job.erase_message}")
        self._last_progress = time.monotonic()

    async def _finish(self, client: BleakClient) -> None:
        cfg = self.config
        jobs = self._jobs or []
        # a session still being logged (--keep-logging) or not fully fetched needs the clock
        # reference it started with: setting the clock now would lose its start time correction
        unfinished = [j for j in jobs if j.status in ("pending", "partial", "logging")]
        if cfg.start_log:
            try:
                if cfg.rate_hz is not None:
                    await self._command(client, codec.encode_set_rate(rate_hz=cfg.rate_hz))
                await self._command(
                    client, codec.encode_set_range(acc_range_g=cfg.acc_range_g, gyr_range_dps=cfg.gyr_range_dps)
                )
            except _Refused as r:
                self._message = (
                    f"the sensor refused the settings for the new session ({r}); check --rate-hz and the ranges"
                )
                return
        if (cfg.set_clock and not unfinished) or cfg.start_log:
            if unfinished:
                self._say("setting the clock: the unfinished downloads' start times will not be drift-corrected")
            await self._command(client, codec.encode_set_clock(utc_us=round(time.time() * 1e6)))
            self._clock_set = True
        elif cfg.set_clock:
            self._say(
                "the sensor's clock was left as it is: a session is unfinished or still logging (its start time needs it)"
            )
        if cfg.start_log:
            try:
                dc = await self._command(client, codec.encode_log_start())
            except _Refused as r:
                self._message = f"the sensor refused to start logging ({_status_name(r.status)})"
                if r.status == codec.Status.STORE_FULL:
                    self._message += ": its store is full; sync with --erase first"
                return
            self._logging_started = True
            minutes = dc.log_free_bytes / (dc.rate_hz * 12 * (1 + 11 / (12 * lb.RECORD_SAMPLES))) / 60
            self._say(
                f"logging started at {dc.rate_hz:g} Hz, +-{dc.acc_range_g} g, +-{dc.gyr_range_dps} dps; "
                f"the store holds about {minutes:.0f} min at this rate"
            )

    def _result(self) -> SyncResult:
        out = []
        for j in self._jobs or []:
            r = j.result
            out.append(
                SyncedSession(
                    entry=j.entry,
                    status="partial" if j.status == "pending" else j.status,
                    path=r.get("path"),
                    message=j.message,
                    n_samples=r.get("n", 0),
                    sampling_rate_hz=r.get("rate", math.nan),
                    start_time=r.get("start"),
                    start_time_corrected=r.get("corrected", False),
                    bytes_downloaded=j.downloaded,
                    bytes_verified_before=j.verified_before,
                    blocks_corrupt=j.corrupt,
                    blocks_missing=j.missing,
                    bytes_requested=j.requested,
                    gaps=r.get("gaps", ()),
                    erased=j.erased,
                    erase_message=j.erase_message,
                )
            )
        f = self.found
        return SyncResult(
            device=(f.name if f else "") or "",
            address=f.address if f else "",
            sessions=tuple(out),
            clock=self._clock,
            reconnects=self._reconnects,
            bytes_downloaded=sum(j.downloaded for j in self._jobs or []),
            download_s=self._download_s,
            logging_stopped=self._logging_stopped,
            clock_set=self._clock_set,
            logging_started=self._logging_started,
            log_capacity_bytes=self._store[0],
            log_free_bytes=self._store[1],
            message=self._message,
        )


class _Refused(Exception):
    def __init__(self, opcode: int, status: int) -> None:
        super().__init__(f"the sensor answered command 0x{opcode:02X} with {_status_name(status)}")
        self.opcode = opcode
        self.status = status


def _status_name(status: int) -> str:
    try:
        return codec.Status(status).name
    except ValueError:
        return str(status)


async def sync(config: SyncConfig, *, on_event: Callable[[str], None] | None = None) -> SyncResult:
    """Fetch every new session a sensor logged (see `Syncer`)."""
    return await Syncer(config, on_event=on_event).run()
