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
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from bleak import BleakClient
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol import codec
from firmware_protocol import logbook as lb

from ._scan import OUR_PROTOCOL, BluetoothUnavailable, FoundDevice, find_again, scan
from ._sync_finish import erase_session, finish_sync, sync_result
from ._sync_state import _Index, _Job, _Partial
from ._sync_types import (
    ClockCheck,
    SyncConfig,
    SyncError,
    SyncResult,
    _LinkLost,
    _Refused,
    _Silent,
    _status_name,
)
from ._sync_write import verify_and_write

__all__ = ["Syncer", "sync"]

logger = logging.getLogger(__name__)

_LINK_ERRORS = (BleakError, TimeoutError, EOFError, ConnectionError)
_STATE_DIR = ".gait-sync"


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
        return sync_result(self)

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
                    await erase_session(self, client, job)
            await finish_sync(self, client)
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
            verify_and_write(self, job)
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


async def sync(config: SyncConfig, *, on_event: Callable[[str], None] | None = None) -> SyncResult:
    """Fetch every new session a sensor logged (see `Syncer`)."""
    return await Syncer(config, on_event=on_event).run()
