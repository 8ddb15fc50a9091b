"""How the recorder talks to each kind of sensor: configure, start, decode, stop.

`LumbarLink` speaks our protocol (``firmware_protocol/PROTOCOL.md``): it reads the
configuration characteristic, sets rate and ranges, START / STOP, and decodes with
`firmware_protocol.stream.StreamDecoder` (order, duplicates, loss, device time).

`ProfileLink` drives any commodity sensor through its `firmware_protocol.profiles` profile:
the profile's start and stop command bytes and its decoder. Those decoders give device time
(the sensor's clock, or the frame count divided by the rate), so holes are found from the
times; after a reconnect the device time may start again, so the new segment is placed from
host time.

Both return `firmware_protocol.samples.DecodedSamples` blocks: samples with device times, and where samples are missing.
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import inspect
import math
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakError

from firmware_protocol import codec
from firmware_protocol.devices._base import DeviceDecoder, DeviceProfile
from firmware_protocol.devices.lumbar import PROFILE as LUMBAR_PROFILE
from firmware_protocol.samples import DecodedSamples
from firmware_protocol.stream import StreamDecoder

from ..errors import DeviceError

__all__ = ["Link", "LumbarLink", "ProfileLink", "SensorRefused"]


class SensorRefused(DeviceError):
    """The sensor answered a command with an error status."""


def _writes_with_response(client: BleakClient, uuid: str) -> bool:
    char = client.services.get_characteristic(uuid) if client.services is not None else None
    return char is None or "write" in char.properties


class Link(abc.ABC):
    """One kind of sensor, as the recorder sees it."""

    protocol: str = ""
    has_gyro: bool = True
    #: Whether the file's times may be rescaled to host time at the end (device-clock links).
    drift_correctable: bool = True

    def __init__(self, *, rate_hz: int | None, acc_range_g: int, gyr_range_dps: int, describe: str) -> None:
        self.requested_rate_hz = rate_hz
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.describe = describe
        self.rate_hz = math.nan
        self.device_info: dict[str, str] = {}

    @property
    @abc.abstractmethod
    def notify_uuids(self) -> tuple[str, ...]:
        """Characteristics to subscribe to (the data first)."""

    @abc.abstractmethod
    async def configure(self, client: BleakClient, *, resume_ok: bool) -> bool:
        """Prepare a (re)connected sensor; True when it must be started."""

    @abc.abstractmethod
    async def start(self, client: BleakClient) -> None: ...

    @abc.abstractmethod
    async def stop(self, client: BleakClient) -> None: ...

    @abc.abstractmethod
    def feed(self, data: bytes | bytearray, uuid: str, host_s: float) -> DecodedSamples: ...

    @abc.abstractmethod
    def link_lost(self, host_s: float) -> DecodedSamples:
        """The link dropped: what was held back, and the next samples start a new segment."""

    @abc.abstractmethod
    def flush(self) -> DecodedSamples: ...

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Packet counters: packets_ok, packets_lost, duplicated, reordered, late, corrupt,
        truncated, bad_other; and samples_nonfinite, the samples the decoder dropped because a
        value was NaN or infinite."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """The settings in force (for the file's metadata)."""

    @property
    def units_as_recorded(self) -> dict[str, str]:
        """Units of the sensor's output before conversion to SI (the file's metadata)."""
        return {"acc": "g", "gyr": "dps", "t": "s"}


# ---------------------------------------------------------------------------------------
# our protocol
# ---------------------------------------------------------------------------------------
class LumbarLink(Link):
    """Our protocol; see the module docstring."""

    protocol = "lumbar_imu"
    has_gyro = True

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.decoder: StreamDecoder | None = None
        self.config: codec.DeviceConfig | None = None

    @property
    def notify_uuids(self) -> tuple[str, ...]:
        return (codec.DATA_UUID,)

    async def _read_config(self, client: BleakClient) -> codec.DeviceConfig:
        raw = await client.read_gatt_char(codec.CONFIG_UUID)
        try:
            return codec.decode_config(raw)
        except codec.ProtocolError as e:  # never a crash: the recording ends with the reason
            raise SensorRefused(
                f"{self.describe} sent a configuration that does not decode ({e}); "
                "update gait-lumbar or the sensor's firmware"
            ) from None

    async def _command(self, client: BleakClient, data: bytes, *, check: bool = True) -> codec.DeviceConfig:
        await client.write_gatt_char(codec.CONTROL_UUID, data, response=True)
        dc = await self._read_config(client)
        if check and dc.last_status != codec.Status.OK:
            try:
                status = codec.Status(dc.last_status).name
            except ValueError:
                status = str(dc.last_status)
            raise SensorRefused(
                f"{self.describe} refused the command 0x{data[0]:02X} with status {status}; "
                "check the requested rate and ranges (`gait record --help`)"
            )
        return dc

    async def configure(self, client: BleakClient, *, resume_ok: bool) -> bool:
        dc = await self._read_config(client)
        if not self.device_info:
            for key, uuid in (
                ("model", codec.MODEL_NUMBER_UUID),
                ("serial", codec.SERIAL_NUMBER_UUID),
                ("firmware", codec.FIRMWARE_REVISION_UUID),
                ("manufacturer", codec.MANUFACTURER_NAME_UUID),
            ):
                with contextlib.suppress(BleakError):
                    self.device_info[key] = bytes(await client.read_gatt_char(uuid)).decode(errors="replace")
        prev = self.config
        same = prev is not None and (dc.rate_mhz, dc.acc_scale_ng_per_lsb, dc.gyr_scale_udps_per_lsb) == (
            prev.rate_mhz,
            prev.acc_scale_ng_per_lsb,
            prev.gyr_scale_udps_per_lsb,
        )
        if resume_ok and dc.streaming and same:
            return False  # a sensor that kept streaming through the link loss
        if dc.streaming:
            dc = await self._command(client, codec.encode_stop())
        rate = self.requested_rate_hz if self.requested_rate_hz is not None else round(LUMBAR_PROFILE.default_rate_hz)
        dc = await self._command(client, codec.encode_set_rate(rate_hz=rate))
        dc = await self._command(
            client, codec.encode_set_range(acc_range_g=self.acc_range_g, gyr_range_dps=self.gyr_range_dps)
        )
        if prev is not None and dc.rate_mhz != prev.rate_mhz:
            raise SensorRefused(
                f"{self.describe} came back at {dc.rate_hz:g} Hz instead of {prev.rate_hz:g} Hz; "
                "a recording keeps one rate: start a new one"
            )
        self.config = dc
        self.rate_hz = dc.rate_hz
        if self.decoder is None:
            self.decoder = StreamDecoder(dc)
        else:
            self.decoder.set_config(dc)
        return True

    async def start(self, client: BleakClient) -> None:
        await self._command(client, codec.encode_start())

    async def stop(self, client: BleakClient) -> None:
        await self._command(client, codec.encode_stop(), check=False)

    @staticmethod
    def _decoded(chunk: DecodedSamples) -> DecodedSamples:
        """The stream's block, marked as a new clock epoch after a restart or a resync."""
        return dataclasses.replace(chunk, new_epoch=any(g.reason in ("restart", "resync") for g in chunk.gaps))

    def feed(self, data: bytes | bytearray, uuid: str, host_s: float) -> DecodedSamples:
        assert self.decoder is not None
        return self._decoded(self.decoder.feed(data, host_time_s=host_s))

    def link_lost(self, host_s: float) -> DecodedSamples:
        if self.decoder is None:
            return DecodedSamples.empty()
        return self._decoded(self.decoder.reset())

    def flush(self) -> DecodedSamples:
        if self.decoder is None:
            return DecodedSamples.empty()
        return self._decoded(self.decoder.flush())

    def counts(self) -> dict[str, int]:
        if self.decoder is None:
            return {}
        s = self.decoder.stats
        return {
            "packets_ok": s.packets_ok,
            "packets_lost": s.packets_lost,
            "duplicated": s.duplicated,
            "reordered": s.reordered,
            "late": s.late,
            "corrupt": s.corrupt,
            "truncated": s.truncated,
            "bad_other": s.oversized + s.wrong_version + s.time_errors,
            "samples_nonfinite": 0,  # integer counts times finite scales: never NaN
        }

    def settings(self) -> dict[str, Any]:
        dc = self.config
        if dc is None:
            return {}
        return {
            "protocol": f"lumbar-imu v{dc.version}",
            "acc_range_g": dc.acc_range_g,
            "gyr_range_dps": dc.gyr_range_dps,
            "samples_per_packet": dc.samples_per_packet,
        }


# ---------------------------------------------------------------------------------------
# commodity sensors, through their profiles
# ---------------------------------------------------------------------------------------
def _pick_rate(rates: tuple[float, ...], requested: float) -> float:
    """The lowest supported rate at or above the request (else the highest)."""
    up = sorted(r for r in rates if r >= requested)
    return up[0] if up else max(rates)


class ProfileLink(Link):
    """A commodity sensor driven through its `DeviceProfile`; see the module docstring."""

    def __init__(self, profile: DeviceProfile, **kw: Any) -> None:
        super().__init__(**kw)
        self.profile = profile
        self.protocol = profile.key
        self.has_gyro = profile.has_gyro
        self.decoder: DeviceDecoder | None = None
        self._prev_t: float | None = None  # device time of the last sample of this epoch
        self._last_host: float | None = None
        self._epoch_pending = False  # next samples start a new epoch (after a reconnect)
        self._packets = 0
        self._bad: dict[str, int] = {}
        self._nonfinite = 0
        self._time_errors = 0

    @property
    def notify_uuids(self) -> tuple[str, ...]:
        return (self.profile.data_uuid, *self.profile.extra_notify_uuids)

    @property
    def units_as_recorded(self) -> dict[str, str]:
        return {"t": "s"}  # the profile's decoder converts to SI; its scale is in `settings`

    def _start_kwargs(self) -> dict[str, Any]:
        params = inspect.signature(self.profile.start_commands).parameters
        kw: dict[str, Any] = {"rate_hz": self.rate_hz}
        if "acc_range_g" in params:
            kw["acc_range_g"] = self.acc_range_g
        if "gyr_range_dps" in params and self.has_gyro:
            kw["gyr_range_dps"] = self.gyr_range_dps
        return kw

    async def configure(self, client: BleakClient, *, resume_ok: bool) -> bool:
        want = self.profile.default_rate_hz if self.requested_rate_hz is None else float(self.requested_rate_hz)
        self.rate_hz = _pick_rate(self.profile.rates_hz, want)
        if self.decoder is not None:
            self._fold_stats(self.decoder)
        self.decoder = self.profile.make_decoder(rate_hz=self.rate_hz)
        return True

    async def _write_all(self, client: BleakClient, commands: tuple[bytes, ...]) -> None:
        uuid = self.profile.control_uuid
        if uuid is None or not commands:
            return
        response = _writes_with_response(client, uuid)
        for cmd in commands:
            await client.write_gatt_char(uuid, cmd, response=response)

    async def start(self, client: BleakClient) -> None:
        await self._write_all(client, tuple(self.profile.start_commands(**self._start_kwargs())))

    async def stop(self, client: BleakClient) -> None:
        await self._write_all(client, tuple(self.profile.stop_commands))

    def feed(self, data: bytes | bytearray, uuid: str, host_s: float) -> DecodedSamples:
        assert self.decoder is not None
        if uuid.lower() == self.profile.data_uuid.lower():
            self._packets += 1
        out = self.decoder.feed(data, characteristic=uuid, host_time_s=host_s)
        return self._place(out.t_s, out.acc_mps2, out.gyr_rads, host_s)

    def _place(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, host_s: float) -> DecodedSamples:
        if t.size == 0:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        f = self.rate_hz
        new_epoch = False
        if self._prev_t is None or self._epoch_pending:
            new_epoch = self._prev_t is not None
            if new_epoch and self._last_host is not None:
                # device time may have restarted: place the new segment from host time
                first_host = host_s - float(t[-1] - t[0])
                lost0 = max(0, round((first_host - self._last_host) * f) - 1)
            else:
                lost0 = 0
            steps = np.concatenate([[1 + lost0], np.rint(np.diff(t) * f)])
            self._epoch_pending = False
        else:
            steps = np.rint(np.diff(np.concatenate([[self._prev_t], t])) * f)
        keep = steps >= 1  # time must move forward by at least one sample
        if not keep.all():
            self._time_errors += int((~keep).sum())
            t, acc, steps = t[keep], acc[keep], steps[keep]
            gyr = None if gyr is None else gyr[keep]
            if t.size == 0:
                return DecodedSamples.empty(has_gyro=self.has_gyro)
        gap = steps > 1
        lost = tuple(int(k - 1) for k in steps[gap])
        reasons = tuple(("reconnect" if (new_epoch and i == 0) else "loss") for i in np.flatnonzero(gap))
        self._prev_t = float(t[-1])
        self._last_host = host_s
        return DecodedSamples.with_holes(t, acc, gyr, gap, lost, reasons, new_epoch=new_epoch)

    def link_lost(self, host_s: float) -> DecodedSamples:
        out = self.flush()
        self._epoch_pending = True
        return out

    def flush(self) -> DecodedSamples:
        if self.decoder is None:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        out = self.decoder.flush()
        if out.n_samples == 0:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        return self._place(out.t_s, out.acc_mps2, out.gyr_rads, self._last_host or 0.0)

    def _fold_stats(self, decoder: DeviceDecoder) -> None:
        for k, v in decoder.stats.bad.items():
            self._bad[k] = self._bad.get(k, 0) + v
        self._nonfinite += decoder.stats.nonfinite

    def counts(self) -> dict[str, int]:
        bad = dict(self._bad)
        if self.decoder is not None:
            for k, v in self.decoder.stats.bad.items():
                bad[k] = bad.get(k, 0) + v
        truncated = bad.pop("truncated", 0)
        corrupt = bad.pop("corrupt", 0) + bad.pop("crc", 0)
        return {
            "packets_ok": self._packets - sum(bad.values()) - truncated - corrupt,
            "packets_lost": 0,  # no sequence numbers: holes show as gaps (where there are time stamps)
            "duplicated": 0,
            "reordered": 0,
            "late": 0,
            "corrupt": corrupt,
            "truncated": truncated,
            "bad_other": sum(bad.values()) + self._time_errors,
            "samples_nonfinite": self._nonfinite + (self.decoder.stats.nonfinite if self.decoder is not None else 0),
        }

    def settings(self) -> dict[str, Any]:
        return {
            "protocol": self.profile.key,
            "model": f"{self.profile.vendor} {self.profile.model}",
            "scale": self.profile.scale,
        }
