"""On-sensor logging for the virtual sensor: a flash store, a clock, and the logging commands.

`LoggingSensor` is a `firmware_protocol.virtual_peripheral.VirtualSensor` that also speaks
the logging extension of the protocol (``PROTOCOL.md`` section 7), as the reference
firmware does:

- LOG_START / LOG_STOP log the played session to a `FlashStore` as time passes, whether or
  not a central is connected (the link may drop: logging goes on);
- `LoggingSensor.log_run` puts a whole run in the store at once, as if it had been logged
  some time ago with the sensor's clock set some time before that (the tests' "the runner
  went out and came back");
- LOG_LIST, LOG_READ, LOG_ERASE, SET_CLOCK and GET_CLOCK are answered on the Log
  characteristic, with fault injection for the download (`LogFaultPlan`: a link dropped after
  so many bytes, corrupt or missing blocks).

`FlashStore` keeps the sessions in memory or in a folder (so a test can read what the sensor
logged after its process ended, and a sensor keeps its logs across restarts), with the
reference firmware's capacity rules (``firmware/.../src/lip_log.h``): sessions start on a
4096-byte sector, one sector is kept erased ahead of the head, space comes back in logging
order, nothing stored is ever overwritten; a full store ends the session being logged
(`EntryFlags.FULL`) and refuses LOG_START (``STORE_FULL``).

Everything here is asyncio, like `VirtualSensor`, and transport-agnostic. The store and the
clock live in ``_flash_store.py``, the Log characteristic's answers and their faults in
``_log_answers.py`` (all importable from here).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gait.errors import GaitInputError, Where
from gait.session import Session

from . import codec
from . import logbook as lb
from ._flash_store import XIAO_CAPACITY_BYTES, FlashStore, LoggedSession, VirtualClock
from ._log_answers import LogFaultPlan, SyncServed, clock_answer, list_answer, read_answer, serve_answers
from .gatt_server import CharacteristicSpec, ServiceSpec
from .virtual_peripheral import Transport, VirtualSensor

__all__ = [
    "XIAO_CAPACITY_BYTES",
    "FlashStore",
    "LogFaultPlan",
    "LoggedSession",
    "LoggingSensor",
    "SyncServed",
    "VirtualClock",
]

logger = logging.getLogger(__name__)

_U32 = 1 << 32


# ---------------------------------------------------------------------------------------
# the sensor
# ---------------------------------------------------------------------------------------
@dataclass
class _LiveLog:
    """A session being logged: where its samples stand."""

    t0_us: float  # device time of sample 0
    i: int = 0  # next sample index
    state: dict[str, int] | None = None  # record sequence, samples written, first stamp
    acc: list[np.ndarray] = field(default_factory=list)
    gyr: list[np.ndarray] = field(default_factory=list)


_LOG_OPCODES = (
    codec.Opcode.LOG_START,
    codec.Opcode.LOG_STOP,
    codec.Opcode.LOG_LIST,
    codec.Opcode.LOG_READ,
    codec.Opcode.LOG_ERASE,
    codec.Opcode.SET_CLOCK,
    codec.Opcode.GET_CLOCK,
)
_BUSY_WHILE_LOGGING = (
    codec.Opcode.START,
    codec.Opcode.SET_RATE,
    codec.Opcode.SET_RANGE,
    codec.Opcode.LOG_START,
    codec.Opcode.LOG_READ,
)


class LoggingSensor(VirtualSensor):
    """A `VirtualSensor` that logs to a `FlashStore` and serves its sessions (see the module docstring).

    Parameters
    ----------
    session
        What the sensor measures (as for `VirtualSensor`).
    store
        Its flash (`FlashStore`; default: in memory, the reference board's capacity).
    log_faults
        `LogFaultPlan` for downloads.
    clock_drift_ppm
        How slow the sensor's clock runs (its UTC clock and its sample clock alike); default
        ``drift_ppm``.
    record_samples
        Samples per record (41, as the firmware).
    **kwargs
        `VirtualSensor` options (``faults``, ``att_mtu``, ``drift_ppm``, ``speed``, ``loop``,
        ``serial``).
    """

    def __init__(
        self,
        session: Session,
        *,
        store: FlashStore | None = None,
        log_faults: LogFaultPlan | None = None,
        record_samples: int = lb.RECORD_SAMPLES,
        **kwargs: Any,
    ) -> None:
        super().__init__(session, **kwargs)
        if not 1 <= record_samples <= codec.MAX_SAMPLES_PER_PACKET:
            raise GaitInputError(
                "out of range", expected="1 .. 41", found=repr(record_samples), where=Where(parameter="record_samples")
            )
        self.store = store if store is not None else FlashStore()
        self.log_faults = log_faults or LogFaultPlan()
        self.record_samples = record_samples
        self.clock = VirtualClock(drift_ppm=self.drift_ppm)
        self.att_mtu = int(kwargs.get("att_mtu", 247))
        #: Notifications between two waits for the transport to take them (`GattPeripheral.drain`).
        self.drain_every = 8
        self.served = SyncServed()
        #: Raw counts of every session logged (id -> (acc, gyr)); kept after an erase, so tests
        #: can compare a download with what the sensor logged.
        self.logged: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        #: What really happened, per session: ``start_wall_s`` (the first sample, wall clock) and
        #: ``rate_hz`` (the true sampling rate: the nominal one slowed by the clock's drift).
        self.truth: dict[int, dict[str, float]] = {}
        self._answer: Iterator[bytes | None] | None = None
        self._answer_wake = asyncio.Event()
        self._live: _LiveLog | None = None
        self._log_task: asyncio.Task[None] | None = None
        self._disconnects_left = sorted(self.log_faults.disconnect_after_bytes)
        self._corrupt_left = set(self.log_faults.corrupt_blocks)
        self._drop_left = set(self.log_faults.drop_blocks)
        self._config = dataclasses.replace(self._config, features=codec.Feature.LOG)
        self._refresh_log_fields()

    # -- GATT ---------------------------------------------------------------------------------
    @property
    def services(self) -> list[ServiceSpec]:
        out = super().services
        main = out[0]
        out[0] = ServiceSpec(main.uuid, (*main.characteristics, CharacteristicSpec(codec.LOG_UUID, ("notify",))))
        return out

    def on_notify_change(self, uuid: str, notifying: bool) -> None:
        if uuid.lower() == codec.LOG_UUID and not notifying:
            self._answer = None  # the link (or the subscription) went: the answer is abandoned
        super().on_notify_change(uuid, notifying)

    def on_write(self, uuid: str, data: bytes) -> tuple[str, str] | None:
        if uuid.lower() != codec.CONTROL_UUID or not data:
            return super().on_write(uuid, data)
        op = data[0]
        if self.logging and op in _BUSY_WHILE_LOGGING:
            self._status(op, codec.Status.BUSY)
            return None
        if op not in _LOG_OPCODES:
            return super().on_write(uuid, data)
        try:
            cmd = codec.decode_command(data)
        except codec.CommandError as e:
            status = {"bad_length": codec.Status.BAD_LENGTH}.get(e.reason, codec.Status.BAD_ARGUMENT)
            self._status(op, status)
            return None
        self._status(op, self._command(cmd))
        return None

    # -- commands -----------------------------------------------------------------------------
    def _status(self, opcode: int, status: int) -> None:
        self._refresh_log_fields()
        self._set_config(last_opcode=int(opcode), last_status=int(status))

    def _refresh_log_fields(self) -> None:
        s = self.store
        changes = dict(
            log_state=codec.LogState.LOGGING if self.logging else codec.LogState.IDLE,
            log_sessions=len(s.sessions),
            log_capacity_bytes=s.capacity_bytes,
            log_free_bytes=s.free_bytes,
        )
        self._config = dataclasses.replace(self._config, **changes)

    def _command(self, cmd: codec.Command) -> codec.Status:
        op = cmd.opcode
        if op == codec.Opcode.LOG_START:
            if self._streaming:
                return codec.Status.BUSY
            return self._log_start()
        if op == codec.Opcode.LOG_STOP:
            self._log_stop()
            return codec.Status.OK
        if op == codec.Opcode.SET_CLOCK:
            assert cmd.utc_us is not None
            self.clock.set(cmd.utc_us)
            return codec.Status.OK
        if op == codec.Opcode.GET_CLOCK:
            self._start_answer(clock_answer(self.clock))
            return codec.Status.OK
        if op in (codec.Opcode.LOG_LIST, codec.Opcode.LOG_READ) and self.att_mtu < lb.MIN_ATT_MTU:
            return codec.Status.MTU_TOO_SMALL
        if op == codec.Opcode.LOG_LIST:
            self._start_answer(list_answer(self.store))
            return codec.Status.OK
        if op == codec.Opcode.LOG_READ:
            assert cmd.session_id is not None and cmd.offset is not None and cmd.length is not None
            s = self.store.find(cmd.session_id)
            if s is None:
                return codec.Status.NOT_FOUND
            if cmd.offset > s.entry.size_bytes:
                return codec.Status.BAD_ARGUMENT
            end = s.entry.size_bytes if cmd.length == 0 else min(s.entry.size_bytes, cmd.offset + cmd.length)
            stop_at = self.log_faults.stop_serving_after_bytes
            if stop_at is not None and self.served.block_bytes >= stop_at:
                return codec.Status.OK  # says yes, sends nothing: a dying sensor
            self.served.reads += 1
            self.served.read_ranges.append((s.entry.session_id, cmd.offset, end))
            self._start_answer(read_answer(s, cmd.offset, end, att_mtu=self.att_mtu))
            return codec.Status.OK
        # LOG_ERASE
        assert cmd.session_id is not None and cmd.digest is not None
        status = self.store.erase(cmd.session_id, cmd.digest)
        if status == codec.Status.OK:
            self.served.erased.append(cmd.session_id)
            self._answer = None
        else:
            self.served.refused_erases += 1
        return status

    def _start_answer(self, answer: Iterator[bytes | None]) -> None:
        self._answer = answer
        self._answer_wake.set()

    # -- logging ------------------------------------------------------------------------------
    def _counts(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cfg = self._config
        acc = np.clip(np.rint(self._acc_si[idx] / cfg.acc_scale_mps2_per_lsb), -32768, 32767).astype(np.int16)
        gyr = np.clip(np.rint(self._gyr_si[idx] / cfg.gyr_scale_rads_per_lsb), -32768, 32767).astype(np.int16)
        return acc, gyr

    def _template(self, *, start_utc_us: int, clock_set_utc_us: int) -> lb.LogEntry:
        cfg = self._config
        return lb.LogEntry(
            session_id=0,
            size_bytes=0,
            start_utc_us=start_utc_us,
            clock_set_utc_us=clock_set_utc_us,
            n_samples=0,
            duration_ms=0,
            rate_mhz=cfg.rate_mhz,
            acc_range_g=cfg.acc_range_g,
            gyr_range_dps=cfg.gyr_range_dps,
            acc_scale_ng_per_lsb=cfg.acc_scale_ng_per_lsb,
            gyr_scale_udps_per_lsb=cfg.gyr_scale_udps_per_lsb,
            digest=0,
            flags=lb.EntryFlags.CLOCK_SET if start_utc_us else lb.EntryFlags.NONE,
        )

    def _write_records(self, acc: np.ndarray, gyr: np.ndarray, t_us: np.ndarray, state: dict[str, int]) -> bool:
        """Append samples (stamped ``t_us``, unwrapped) as records; False when the store filled."""
        k = self.record_samples
        f_mhz = self._config.rate_mhz
        for a in range(0, acc.shape[0], k):
            b = min(a + k, acc.shape[0])
            rec = codec.encode_packet(
                seq=state["seq"] & 0xFFFF,
                t_us=int(t_us[a]) % _U32,
                acc=acc[a:b],
                gyr=gyr[a:b],
                flags=codec.Flags.STREAM_START if state["seq"] == 0 else codec.Flags.NONE,
            )
            n_total = state["n"] + (b - a)
            span = int(t_us[b - 1]) - state["t_first"]
            ok = self.store.append(rec, n_samples=n_total, duration_ms=(span + 1_000_000_000 // f_mhz + 500) // 1000)
            if not ok:
                return False
            state["seq"] += 1
            state["n"] = n_total
        return True

    def log_run(
        self,
        *,
        duration_s: float | None = None,
        start_s: float = 0.0,
        ended_ago_s: float = 600.0,
        clock_set_before_s: float = 3600.0,
        clock_set: bool = True,
    ) -> lb.LogEntry | None:
        """Put a run in the store at once, as if logged earlier: ``duration_s`` of the session from
        ``start_s``, ended ``ended_ago_s`` ago, the clock set ``clock_set_before_s`` before its
        start (then drifting). Returns its entry (``FULL`` when the store filled), or None when
        nothing fitted. The sensor's clock stays as it was then (set at that moment)."""
        f = self._config.rate_hz
        n_src = self._acc_si.shape[0]
        i0 = round(start_s * f)
        n = n_src - i0 if duration_s is None else min(n_src - i0, round(duration_s * f))
        if n <= 0:
            raise GaitInputError(
                "nothing to log",
                expected="a start and duration inside the session",
                found=f"{n} samples",
                where=Where(parameter="duration_s"),
            )
        d = 1.0 + self.clock.drift_ppm * 1e-6
        now = time.time()
        true_len_s = n * d / f  # a slow clock samples slowly: the run lasted longer in real time
        start_wall = now - ended_ago_s - true_len_s
        if clock_set:
            self.clock.set(round((start_wall - clock_set_before_s) * 1e6), wall_s=start_wall - clock_set_before_s)
        start_utc = self.clock.utc_us(start_wall) if clock_set else 0
        status = self.store.begin(self._template(start_utc_us=start_utc, clock_set_utc_us=self.clock.set_utc_us))
        if status != codec.Status.OK:
            return None
        t0_us = 5_000_000 + int(self._rng.integers(0, 1_000_000))  # the device clock since its boot
        t_us = t0_us + np.rint(np.arange(n) * 1e6 / f).astype(np.int64)
        acc, gyr = self._counts(np.arange(i0, i0 + n))
        state = {"seq": 0, "n": 0, "t_first": int(t_us[0])}
        full = not self._write_records(acc, gyr, t_us, state)
        entry = self.store.end(lb.EntryFlags.FULL if full else 0)
        if entry is not None:
            self.logged[entry.session_id] = (acc[: entry.n_samples], gyr[: entry.n_samples])
            self.truth[entry.session_id] = {"start_wall_s": start_wall, "rate_hz": f / d}
        self._refresh_log_fields()
        return entry

    @property
    def logging(self) -> bool:
        """Whether a session is being logged (LOG_START without LOG_STOP yet)."""
        return self._live is not None

    def _log_start(self) -> codec.Status:
        utc = self.clock.utc_us()
        status = self.store.begin(self._template(start_utc_us=utc, clock_set_utc_us=self.clock.set_utc_us))
        if status != codec.Status.OK:
            return status
        loop = asyncio.get_running_loop()
        self._live = _LiveLog(t0_us=self._device_time_us(loop.time()))
        sid = self.store.active.entry.session_id if self.store.active is not None else 0
        self.truth[sid] = {
            "start_wall_s": time.time(),
            "rate_hz": self._config.rate_hz * self.speed / (1.0 + self.drift_ppm * 1e-6),
        }
        self._log_task = loop.create_task(self._log_loop())
        return codec.Status.OK

    def _log_stop(self) -> None:
        """LOG_STOP: the samples due go out (the last record may be shorter), the session ends."""
        if self._live is None:
            return
        if self._log_task is not None:
            self._log_task.cancel()
            self._log_task = None
        self._log_due(whole_records=False)
        if self._live is not None:
            self._log_end(0)

    async def _log_loop(self) -> None:
        """Log the session as device time passes, a whole record at a time."""
        while self._live is not None:
            self._log_due(whole_records=True)
            await asyncio.sleep(0.05)

    def _log_due(self, *, whole_records: bool) -> None:
        live = self._live
        assert live is not None
        f = self._config.rate_mhz / 1000.0
        n_src = self._acc_si.shape[0]
        due = int((self._device_time_us(asyncio.get_running_loop().time()) - live.t0_us) * f / 1e6) + 1
        if not self.loop:
            due = min(due, n_src)  # the run is over: the sensor logs nothing more (until LOG_STOP)
        k = self.record_samples
        end = live.i + (due - live.i) // k * k if whole_records else due
        if end <= live.i:
            return
        idx = np.arange(live.i, end)
        acc, gyr = self._counts(idx % n_src)
        t_us = np.rint(live.t0_us + idx * 1e6 / f).astype(np.int64)
        if live.state is None:
            live.state = {"seq": 0, "n": 0, "t_first": int(t_us[0])}
        before = live.state["n"]
        ok = self._write_records(acc, gyr, t_us, live.state)
        kept = live.state["n"] - before
        live.acc.append(acc[:kept])
        live.gyr.append(gyr[:kept])
        live.i = end
        if not ok:  # the store filled: the session ends with what fitted
            self._log_end(lb.EntryFlags.FULL)

    def _log_end(self, flags: int) -> None:
        live = self._live
        assert live is not None
        self._live = None
        entry = self.store.end(flags)
        if entry is not None:
            self.logged[entry.session_id] = (np.concatenate(live.acc), np.concatenate(live.gyr))
        self._refresh_log_fields()
        self._set_config()  # notify: log state, sessions, free bytes

    # -- serving ------------------------------------------------------------------------------
    async def run(self, transport: Transport, *, stop: asyncio.Event | None = None) -> None:
        """Serve ``transport`` (streaming, logging and the Log answers) until ``stop`` is set."""
        stop = stop or asyncio.Event()
        # events bind to the loop that first waits on them: a sensor may be served by several loops in turn
        self._answer_wake = asyncio.Event()
        self._wake = asyncio.Event()
        server = asyncio.create_task(serve_answers(self, transport, stop))
        try:
            await super().run(transport, stop=stop)
        finally:
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server
            if self.logging:
                self._log_stop()
