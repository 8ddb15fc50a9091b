"""A virtual sensor of our protocol, served by the software GATT server (`gait` tests, demos).

`VirtualSensor` plays a `gait.Session` as the sensor of our protocol
(``firmware_protocol/PROTOCOL.md``): packets of samples as notifications, at real time or faster,
like a sensor on a runner: a stream started again after a link loss continues the run where the
runner is now (the samples in between are lost), it does not start the session over. With fault
injection (`FaultPlan`): dropped, duplicated, reordered, truncated and corrupt packets, a stall,
a link loss, a device that stops sending. It runs on `firmware_protocol.gatt_server.GattPeripheral`
(over BlueZ, or the emulator) or any `Transport`.

Everything here is asyncio and needs a running event loop. Units are SI; times in seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Final, Protocol

import numpy as np

from gait.errors import GaitInputError, Where
from gait.session import Session

from . import codec
from .gatt_server import CharacteristicSpec, ServiceSpec

__all__ = [
    "ACC_RANGES_G",
    "GYR_RANGES_DPS",
    "SUPPORTED_RATES_HZ",
    "FaultPlan",
    "SensorLog",
    "Transport",
    "VirtualSensor",
]

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# the virtual sensor (our protocol)
# ---------------------------------------------------------------------------------------
class Transport(Protocol):
    """What `VirtualSensor` needs from a peripheral (`GattPeripheral`, or a test fake)."""

    def notifying(self, uuid: str) -> bool: ...

    def notify(self, uuid: str, value: bytes) -> bool: ...

    def set_value(self, uuid: str, value: bytes) -> None: ...

    async def disconnect_centrals(self) -> int: ...


@dataclass(frozen=True)
class FaultPlan:
    """Faults a `VirtualSensor` injects; times are seconds since the sensor's first START.

    Attributes
    ----------
    drop, duplicate, reorder, truncate, corrupt
        Probabilities per packet: not sent; sent twice; swapped with the next packet; sent
        with its last 1-8 bytes cut off; sent with one byte changed.
    stall_at_s, stall_for_s
        The device stops sending for a while (its FIFO overflows: those samples are lost on
        the device and the next packet carries the overflow flag).
    disconnect_at_s
        Times at which the sensor drops the link (as when it resets its radio or the runner
        walks out of range). It keeps sampling: what it measures while nobody listens is lost.
    stop_at_s
        The sensor goes silent for good (still connected, never sends again).
    seed
        Seed of the fault dice.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    truncate: float = 0.0
    corrupt: float = 0.0
    stall_at_s: float | None = None
    stall_for_s: float = 0.0
    disconnect_at_s: tuple[float, ...] = ()
    stop_at_s: float | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate", "reorder", "truncate", "corrupt"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise GaitInputError(
                    "probability out of range", expected="0 .. 1", found=repr(p), where=Where(parameter=name)
                )


@dataclass
class SensorLog:
    """What a `VirtualSensor` did: every sample it delivered, and every fault it injected.

    ``delivered`` holds, per delivered packet, the sample indices (since the stream's START)
    and the SI values a correct decoder recovers from it; `samples` concatenates them.
    """

    delivered: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    packets_made: int = 0
    packets_sent: int = 0
    dropped: int = 0
    duplicated: int = 0
    reordered: int = 0
    truncated: int = 0
    corrupted: int = 0
    unheard: int = 0  # produced while no central was subscribed
    stall_lost_samples: int = 0
    disconnects: int = 0
    starts: int = 0
    link_stops: int = 0  # streams stopped because the central went away

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(index, acc_mps2, gyr_rads)`` of every delivered sample, sorted by index, unique."""
        if not self.delivered:
            return np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 3))
        n = np.concatenate([d[0] for d in self.delivered])
        acc = np.concatenate([d[1] for d in self.delivered])
        gyr = np.concatenate([d[2] for d in self.delivered])
        n, first = np.unique(n, return_index=True)
        return n, acc[first], gyr[first]


#: Rates and ranges of the virtual sensor: those of the reference firmware (LSM6DS3, PROTOCOL.md
#: section 4). The played session's own rate is supported as well.
SUPPORTED_RATES_HZ: Final = (104, 208, 416, 833)
ACC_RANGES_G: Final = {2: 61_000, 4: 122_000, 8: 244_000, 16: 488_000}  # range -> ng/LSB
GYR_RANGES_DPS: Final = {125: 4_375, 250: 8_750, 500: 17_500, 1000: 35_000, 2000: 70_000}  # range -> udps/LSB


class VirtualSensor:
    """A lumbar IMU of our protocol that plays a session; transport-agnostic.

    Parameters
    ----------
    session
        What the sensor measures (sensor frame, SI; a gyroscope is required). Played from its
        first sample; resampled by linear interpolation when the central asks for another rate.
    faults
        `FaultPlan` (none by default).
    att_mtu
        The ATT MTU the sensor assumes; sets the samples per packet (247: 19 samples).
    drift_ppm
        How slow the sensor's clock runs against real time (+ = slow).
    speed
        Playback speed (1: real time). Time stamps stay on the session's clock, so a recorder
        sees a device clock running ``speed`` times fast.
    loop
        Start the session again at its end; otherwise the sensor goes silent at the end.
    serial
        Serial number (Device Information service).

    Notes
    -----
    Behaviour on the wire follows ``firmware_protocol/PROTOCOL.md``: START begins a stream
    (sequence 0, `Flags.STREAM_START`), STOP ends it, SET_RATE / SET_RANGE pick the nearest
    supported setting at or above the request (only while idle: ``BUSY`` otherwise), and the
    configuration characteristic reports the settings, state and last command status. A link
    loss does not stop a stream.
    """

    def __init__(
        self,
        session: Session,
        *,
        faults: FaultPlan | None = None,
        att_mtu: int = 247,
        drift_ppm: float = 0.0,
        speed: float = 1.0,
        loop: bool = False,
        serial: str = "VS-0001",
    ) -> None:
        if session.gyr is None:
            raise GaitInputError(
                "no gyroscope",
                expected="a session with angular rate",
                found="acceleration only",
                where=Where(parameter="session"),
            )
        if session.frame != "sensor":
            raise GaitInputError(
                "wrong frame",
                expected="a sensor-frame session",
                found=repr(session.frame),
                where=Where(parameter="session"),
            )
        self.session = session
        self.faults = faults or FaultPlan()
        self.samples_per_packet = codec.samples_per_packet(att_mtu)
        self.drift_ppm = float(drift_ppm)
        self.speed = float(speed)
        self.loop = bool(loop)
        self.serial = serial
        self.log = SensorLog()
        self._rng = np.random.default_rng(self.faults.seed)
        rate = round(session.sampling_rate_hz)
        self._config = codec.DeviceConfig(
            rate_mhz=round(session.sampling_rate_hz * 1000),
            acc_range_g=16,
            gyr_range_dps=2000,
            acc_scale_ng_per_lsb=ACC_RANGES_G[16],
            gyr_scale_udps_per_lsb=GYR_RANGES_DPS[2000],
            samples_per_packet=self.samples_per_packet,
        )
        self._source_rate = rate
        self._acc_si, self._gyr_si = session.acc, session.gyr
        self._streaming = False
        self._stream_id = 0
        self._transport: Transport | None = None
        self._wake = asyncio.Event()
        self._boot = 0.0
        self._pending_good: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._first_start: float | None = None
        self._log_last: tuple[int, float, float] | None = None  # (index, device time us, rate) of the last sample
        self._disconnects = sorted(self.faults.disconnect_at_s)
        self._dead = False

    # -- GATT layout ------------------------------------------------------------------------
    @property
    def services(self) -> list[ServiceSpec]:
        return [
            ServiceSpec(
                codec.SERVICE_UUID,
                (
                    CharacteristicSpec(codec.DATA_UUID, ("notify",)),
                    CharacteristicSpec(codec.CONTROL_UUID, ("write",)),
                    CharacteristicSpec(codec.CONFIG_UUID, ("read", "notify"), value=codec.encode_config(self._config)),
                ),
            ),
            ServiceSpec(
                codec.BATTERY_SERVICE_UUID,
                (CharacteristicSpec(codec.BATTERY_LEVEL_UUID, ("read", "notify"), value=bytes([87])),),
            ),
            ServiceSpec(
                codec.DEVICE_INFO_SERVICE_UUID,
                (
                    CharacteristicSpec(codec.MANUFACTURER_NAME_UUID, ("read",), value=b"gait-lumbar"),
                    CharacteristicSpec(codec.MODEL_NUMBER_UUID, ("read",), value=b"virtual lumbar IMU"),
                    CharacteristicSpec(codec.SERIAL_NUMBER_UUID, ("read",), value=self.serial.encode()),
                    CharacteristicSpec(codec.FIRMWARE_REVISION_UUID, ("read",), value=b"1.0 (virtual)"),
                ),
            ),
        ]

    @property
    def config(self) -> codec.DeviceConfig:
        return self._config

    # -- GATT callbacks -----------------------------------------------------------------------
    def on_write(self, uuid: str, data: bytes) -> tuple[str, str] | None:
        """Handle a write; commands are answered through the configuration characteristic."""
        if uuid.lower() != codec.CONTROL_UUID:
            return ("org.bluez.Error.NotPermitted", "read-only characteristic")
        try:
            cmd = codec.decode_command(data)
        except codec.CommandError as e:
            status = {"unknown_opcode": codec.Status.UNKNOWN_OPCODE, "bad_length": codec.Status.BAD_LENGTH}.get(
                e.reason, codec.Status.BAD_ARGUMENT
            )
            self._set_config(last_opcode=data[0] if data else 0, last_status=status)
            return None
        status = codec.Status.OK
        if cmd.opcode == codec.Opcode.START:
            self._start()
        elif cmd.opcode == codec.Opcode.STOP:
            self._streaming = False
        elif cmd.opcode == codec.Opcode.SET_RATE:
            assert cmd.rate_hz is not None
            rates = sorted({*SUPPORTED_RATES_HZ, self._source_rate})
            rate = next((r for r in rates if r >= cmd.rate_hz), None)
            if rate is None:
                status = codec.Status.BAD_ARGUMENT
            else:
                self._resample(rate)
                self._set_config(rate_mhz=rate * 1000)
        else:  # SET_RANGE
            assert cmd.acc_range_g is not None and cmd.gyr_range_dps is not None
            a = next((r for r in sorted(ACC_RANGES_G) if r >= cmd.acc_range_g), None)
            g = next((r for r in sorted(GYR_RANGES_DPS) if r >= cmd.gyr_range_dps), None)
            if a is None or g is None:
                status = codec.Status.BAD_ARGUMENT
            else:
                self._set_config(
                    acc_range_g=a,
                    gyr_range_dps=g,
                    acc_scale_ng_per_lsb=ACC_RANGES_G[a],
                    gyr_scale_udps_per_lsb=GYR_RANGES_DPS[g],
                )
        if (
            status == codec.Status.OK
            and self._streaming
            and cmd.opcode in (codec.Opcode.SET_RATE, codec.Opcode.SET_RANGE)
        ):
            self._start()  # a new configuration starts a new stream (PROTOCOL.md section 4)
        self._set_config(
            last_opcode=int(cmd.opcode),
            last_status=status,
            state=codec.State.STREAMING if self._streaming else codec.State.IDLE,
        )
        self._wake.set()
        return None

    def on_notify_change(self, uuid: str, notifying: bool) -> None:
        """A central (un)subscribed. Unsubscribing from the data, which BlueZ also does when the
        link drops, stops the stream: the device stops streaming when the link drops."""
        if uuid.lower() == codec.DATA_UUID and not notifying and self._streaming:
            self._streaming = False
            self.log.link_stops += 1
            if self._transport is not None:
                self._set_config(state=codec.State.IDLE)
        self._wake.set()

    # -- internals ----------------------------------------------------------------------------
    def _set_config(self, **changes: int) -> None:
        self._config = dataclasses.replace(self._config, **changes)
        if self._transport is not None:
            value = codec.encode_config(self._config)
            self._transport.set_value(codec.CONFIG_UUID, value)
            self._transport.notify(codec.CONFIG_UUID, value)

    def _resample(self, rate: int) -> None:
        s = self.session
        assert s.gyr is not None
        if rate == self._source_rate:
            self._acc_si, self._gyr_si = s.acc, s.gyr
            return
        t_new = np.arange(s.t[0], s.t[-1], 1.0 / rate)
        self._acc_si = np.column_stack([np.interp(t_new, s.t, c) for c in s.acc.T])
        self._gyr_si = np.column_stack([np.interp(t_new, s.t, c) for c in s.gyr.T])
        logger.info("virtual sensor: session resampled from %g Hz to %d Hz", s.sampling_rate_hz, rate)

    def _start(self) -> None:
        self._streaming = True
        self._stream_id += 1
        self.log.starts += 1
        if self._first_start is None:
            self._first_start = asyncio.get_running_loop().time()

    def _device_time_us(self, host_s: float) -> float:
        return (host_s - self._boot) * 1e6 * self.speed / (1.0 + self.drift_ppm * 1e-6)

    def _host_time(self, device_us: float) -> float:
        return self._boot + device_us * 1e-6 * (1.0 + self.drift_ppm * 1e-6) / self.speed

    # -- the stream ---------------------------------------------------------------------------
    async def run(self, transport: Transport, *, stop: asyncio.Event | None = None) -> None:
        """Serve ``transport`` until ``stop`` is set (or forever)."""
        loop = asyncio.get_running_loop()
        self._transport = transport
        self._boot = loop.time() - 3.0 - float(self._rng.uniform(0, 100))  # powered on a while ago
        stop = stop or asyncio.Event()
        stop_task = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                if not self._streaming:
                    self._wake.clear()
                    wake = asyncio.ensure_future(self._wake.wait())
                    await asyncio.wait({wake, stop_task}, return_when=asyncio.FIRST_COMPLETED)
                    wake.cancel()
                    continue
                await self._stream(transport, stop, loop)
        finally:
            stop_task.cancel()
            self._transport = None

    async def _stream(self, transport: Transport, stop: asyncio.Event, loop: asyncio.AbstractEventLoop) -> None:
        stream_id = self._stream_id
        f = self._config.rate_mhz / 1000.0
        k = self.samples_per_packet
        t0_us = self._device_time_us(loop.time())
        seq = 0
        i = 0  # next sample index of this stream
        n_src = self._acc_si.shape[0]
        faults = self.faults
        # Index of this stream's first sample in the log: a restarted stream is placed on the
        # previous stream's sampling grid, rounded to the nearest sample (what a recorder does).
        # The source position follows the same clock: the runner kept running while nobody
        # listened, so a stream started again (after a link loss or a STOP) plays what is
        # happening now, not the session from its beginning.
        if self._log_last is None:
            base = 0
        else:
            last_n, last_us, last_f = self._log_last
            base = last_n + round((t0_us - last_us) * last_f / 1e6)
        held: bytes | None = None  # a packet held back to be sent after the next (reorder)
        overflow = False
        while not stop.is_set() and self._streaming and self._stream_id == stream_id:
            if (not self.loop and base + i >= n_src) or self._dead:
                return await self._idle_until_changed(stream_id, stop)
            m = k if self.loop else min(k, n_src - base - i)
            due = self._host_time(t0_us + (i + m - 1) / f * 1e6)
            assert self._first_start is not None
            elapsed = due - self._first_start  # fault timeline
            if faults.stop_at_s is not None and elapsed >= faults.stop_at_s:
                self._dead = True
                continue
            if self._disconnects and elapsed >= self._disconnects[0]:
                self._disconnects.pop(0)
                self.log.disconnects += 1
                await transport.disconnect_centrals()
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
                if not self._streaming or self._stream_id != stream_id:
                    return None
            idx = np.arange(i, i + m)
            src = (base + idx) % n_src
            if faults.stall_at_s is not None and faults.stall_at_s <= elapsed < faults.stall_at_s + faults.stall_for_s:
                self.log.stall_lost_samples += m
                overflow = True
                i += m
                continue
            cfg = self._config
            acc_c = np.clip(np.rint(self._acc_si[src] / cfg.acc_scale_mps2_per_lsb), -32768, 32767).astype(np.int16)
            gyr_c = np.clip(np.rint(self._gyr_si[src] / cfg.gyr_scale_rads_per_lsb), -32768, 32767).astype(np.int16)
            flags = codec.Flags.NONE
            if seq == 0:
                flags |= codec.Flags.STREAM_START
            if overflow:
                flags |= codec.Flags.OVERFLOW
                overflow = False
            t_us = round(t0_us + i * 1e6 / f) % (1 << 32)
            packet = codec.encode_packet(seq=seq & 0xFFFF, t_us=t_us, acc=acc_c, gyr=gyr_c, flags=flags)
            seq += 1
            i += m
            self.log.packets_made += 1
            good = (
                base + idx,
                acc_c.astype(np.float64) * cfg.acc_scale_mps2_per_lsb,
                gyr_c.astype(np.float64) * cfg.gyr_scale_rads_per_lsb,
            )
            held = self._send(transport, packet, good, held)
            self._log_last = (base + i - 1, t0_us + (i - 1) * 1e6 / f, f)
        return None

    def _send(
        self,
        transport: Transport,
        packet: bytes,
        good: tuple[np.ndarray, np.ndarray, np.ndarray],
        held: bytes | None,
    ) -> bytes | None:
        """Apply the per-packet faults and notify; returns a packet held back for reordering."""
        f, rng = self.faults, self._rng
        if not transport.notifying(codec.DATA_UUID):
            self.log.unheard += 1
            return held
        if f.drop and rng.random() < f.drop:
            self.log.dropped += 1
            return held
        wire = packet
        intact = True
        if f.truncate and rng.random() < f.truncate:
            wire = packet[: -int(rng.integers(1, 9))]
            self.log.truncated += 1
            intact = False
        elif f.corrupt and rng.random() < f.corrupt:
            b = bytearray(packet)
            j = int(rng.integers(0, len(b)))
            b[j] ^= int(rng.integers(1, 256))
            wire = bytes(b)
            self.log.corrupted += 1
            intact = False
        if held is None and intact and f.reorder and rng.random() < f.reorder:
            self.log.reordered += 1
            self._pending_good = good
            return wire  # sent after the next packet
        if transport.notify(codec.DATA_UUID, wire):
            self.log.packets_sent += 1
            if intact:
                self.log.delivered.append(good)
            if intact and f.duplicate and rng.random() < f.duplicate:
                transport.notify(codec.DATA_UUID, wire)
                self.log.duplicated += 1
        if held is not None and transport.notify(codec.DATA_UUID, held):
            self.log.packets_sent += 1
            assert self._pending_good is not None
            self.log.delivered.append(self._pending_good)
        return None

    async def _idle_until_changed(self, stream_id: int, stop: asyncio.Event) -> None:
        """The sensor went silent: wait for a new START, a STOP or the end."""
        while not stop.is_set() and self._streaming and self._stream_id == stream_id:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 0.2)
            except TimeoutError:
                pass
