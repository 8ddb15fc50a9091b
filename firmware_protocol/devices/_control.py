"""How a connected device is driven: configure, start, stop (the control step of a profile).

A recorder connects, then asks the profile's control (`DeviceProfile.make_control`, by
default `DeviceControl`) to prepare the device, subscribes to the profile's characteristics,
and starts it; at the end it stops it. The default control needs nothing from the device:
it picks the supported rate nearest above the request, builds a fresh decoder for every
connection, and writes the profile's start and stop command bytes. A device that must be
read before it is commanded, or that answers commands with a status (our own protocol,
`firmware_protocol.devices.lumbar.LumbarControl`), subclasses it.

The client is anything with bleak's ``read_gatt_char`` / ``write_gatt_char`` coroutines (and,
optionally, ``services``); nothing here imports a Bluetooth stack.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from gait.errors import DeviceError

if TYPE_CHECKING:
    from ._base import DeviceDecoder, DeviceProfile

__all__ = ["DeviceControl", "GattClient", "SensorRefused", "pick_rate"]


class SensorRefused(DeviceError):
    """The sensor answered a command with an error status (or sent what does not decode)."""


class GattClient(Protocol):
    """The part of a GATT client (bleak's ``BleakClient``) a control uses."""

    async def read_gatt_char(self, char_specifier: Any, **kwargs: Any) -> bytearray: ...

    async def write_gatt_char(self, char_specifier: Any, data: Any, response: bool | None = None) -> None: ...


def pick_rate(rates: Iterable[float], requested: float) -> float:
    """The lowest supported rate at or above the request (else the highest).

    >>> pick_rate((52.0, 104.0, 208.0), 100)
    104.0
    >>> pick_rate((52.0, 104.0), 400)
    104.0
    """
    rates = tuple(rates)
    up = sorted(r for r in rates if r >= requested)
    return up[0] if up else max(rates)


def _writes_with_response(client: Any, uuid: str) -> bool:
    services = getattr(client, "services", None)
    char = services.get_characteristic(uuid) if services is not None else None
    return char is None or "write" in char.properties


class DeviceControl:
    """Prepare, start and stop one connected device through its profile's command bytes.

    Parameters
    ----------
    profile
        The device's `DeviceProfile`.
    rate_hz
        Requested sampling rate (None: the profile's default).
    acc_range_g, gyr_range_dps
        Requested ranges, passed to ``profile.start_commands`` when it takes them.
    describe
        How messages name the device (``"Movesense 123 (AA:BB:...)"``).

    Attributes
    ----------
    rate_hz
        The rate in force after `configure` (NaN before).
    decoder
        The decoder of the current connection (None before `configure`).
    """

    def __init__(
        self, profile: DeviceProfile, *, rate_hz: float | None, acc_range_g: int, gyr_range_dps: int, describe: str
    ) -> None:
        self.profile = profile
        self.requested_rate_hz = rate_hz
        self.acc_range_g = acc_range_g
        self.gyr_range_dps = gyr_range_dps
        self.describe = describe
        self.rate_hz = math.nan
        self.decoder: DeviceDecoder | None = None

    async def configure(self, client: GattClient, *, resume_ok: bool) -> bool:
        """Prepare a (re)connected device; True when it must be started.

        ``resume_ok``: the device may go on with a stream it kept running through a link
        loss (False after a stall, when the stream must start again).
        """
        p = self.profile
        want = p.default_rate_hz if self.requested_rate_hz is None else float(self.requested_rate_hz)
        self.rate_hz = pick_rate(p.rates_hz, want)
        self.decoder = p.make_decoder(rate_hz=self.rate_hz)
        return True

    def _start_kwargs(self) -> dict[str, Any]:
        params = inspect.signature(self.profile.start_commands).parameters
        kw: dict[str, Any] = {"rate_hz": self.rate_hz}
        if "acc_range_g" in params:
            kw["acc_range_g"] = self.acc_range_g
        if "gyr_range_dps" in params and self.profile.has_gyro:
            kw["gyr_range_dps"] = self.gyr_range_dps
        return kw

    async def _write_all(self, client: GattClient, commands: tuple[bytes, ...]) -> None:
        uuid = self.profile.control_uuid
        if uuid is None or not commands:
            return
        response = _writes_with_response(client, uuid)
        for cmd in commands:
            await client.write_gatt_char(uuid, cmd, response=response)

    async def start(self, client: GattClient) -> None:
        """Start streaming (after `configure` said so)."""
        await self._write_all(client, tuple(self.profile.start_commands(**self._start_kwargs())))

    async def stop(self, client: GattClient) -> None:
        """Stop streaming (the end of a recording)."""
        await self._write_all(client, tuple(self.profile.stop_commands))

    def settings(self) -> dict[str, Any]:
        """The settings in force (for a recording's metadata)."""
        p = self.profile
        return {"protocol": p.key, "model": f"{p.vendor} {p.model}", "scale": p.scale}

    @property
    def units_as_recorded(self) -> dict[str, str]:
        """Units of the device's output before conversion to SI (a recording's metadata)."""
        return {"t": "s"}  # the profile's decoder converts to SI; its scale is in `settings`
