"""How the recorder talks to each kind of sensor: configure, start, decode, stop.

`ProfileLink` drives every sensor, ours included, through its `firmware_protocol.profiles`
profile: the profile's control step (``profile.make_control``; by default the start and stop
command bytes, for our protocol `firmware_protocol.devices.lumbar.LumbarControl`, which reads
the configuration characteristic, sets rate and ranges and checks every command's status)
and the decoder that control provides.

A decoder that follows the packet sequence itself (``decoder.tracks_sequence``: our
protocol's `firmware_protocol.stream.StreamDecoder`, with order, duplicates, loss and device
time) marks its holes and clock epochs; its blocks go through as they are. The other decoders
give device time (the sensor's clock, or the frame count divided by the rate), so holes are
found from the times; after a reconnect the device time may start again, so the new segment
is placed from host time.

`phyphox` phones have their own link (`gait.live.PhyphoxLink`). All return `firmware_protocol.samples.DecodedSamples` blocks: samples with device times, and where samples are missing.
"""

from __future__ import annotations

import abc
import contextlib
import math
from typing import Any

import numpy as np
from bleak import BleakClient
from bleak.exc import BleakError

from firmware_protocol.devices._base import DeviceDecoder, DeviceProfile
from firmware_protocol.devices._control import DeviceControl, SensorRefused
from firmware_protocol.samples import DecodedSamples

__all__ = ["Link", "ProfileLink", "SensorRefused"]


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


class ProfileLink(Link):
    """A sensor driven through its `DeviceProfile`; see the module docstring."""

    def __init__(self, profile: DeviceProfile, **kw: Any) -> None:
        super().__init__(**kw)
        self.profile = profile
        self.protocol = profile.key
        self.has_gyro = profile.has_gyro
        make_control = profile.make_control or DeviceControl
        self.control: DeviceControl = make_control(
            profile,
            rate_hz=self.requested_rate_hz,
            acc_range_g=self.acc_range_g,
            gyr_range_dps=self.gyr_range_dps,
            describe=self.describe,
        )
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
        return self.control.units_as_recorded

    async def _read_device_info(self, client: BleakClient) -> None:
        for key, uuid in self.profile.device_info_uuids:
            with contextlib.suppress(BleakError):
                self.device_info[key] = bytes(await client.read_gatt_char(uuid)).decode(errors="replace")

    async def configure(self, client: BleakClient, *, resume_ok: bool) -> bool:
        if not self.device_info:
            await self._read_device_info(client)
        need_start = await self.control.configure(client, resume_ok=resume_ok)
        self.rate_hz = self.control.rate_hz
        new = self.control.decoder
        if self.decoder is not None and new is not self.decoder:
            self._fold_stats(self.decoder)
        self.decoder = new
        return need_start

    async def start(self, client: BleakClient) -> None:
        await self.control.start(client)

    async def stop(self, client: BleakClient) -> None:
        await self.control.stop(client)

    def feed(self, data: bytes | bytearray, uuid: str, host_s: float) -> DecodedSamples:
        assert self.decoder is not None
        if uuid.lower() == self.profile.data_uuid.lower():
            self._packets += 1
        out = self.decoder.feed(data, characteristic=uuid, host_time_s=host_s)
        if self.decoder.tracks_sequence:
            return out
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
        if self.decoder is not None and self.decoder.tracks_sequence:
            return self.decoder.reset()
        out = self.flush()
        self._epoch_pending = True
        return out

    def flush(self) -> DecodedSamples:
        if self.decoder is None:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        out = self.decoder.flush()
        if self.decoder.tracks_sequence:
            return out
        if out.n_samples == 0:
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        return self._place(out.t_s, out.acc_mps2, out.gyr_rads, self._last_host or 0.0)

    def _fold_stats(self, decoder: DeviceDecoder) -> None:
        for k, v in decoder.stats.bad.items():
            self._bad[k] = self._bad.get(k, 0) + v
        self._nonfinite += decoder.stats.nonfinite

    def counts(self) -> dict[str, int]:
        own = self.decoder.link_counts() if self.decoder is not None else None
        if own is not None:
            return own
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
        return self.control.settings()
