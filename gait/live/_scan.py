"""Finding sensors: BLE scanning with a detection callback, and recognising what was found."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bleak import BleakScanner
from bleak.backends.client import BaseBleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.exc import BleakError

from firmware_protocol import codec, profiles

from ..errors import DeviceError, GaitInputError

__all__ = ["BleBackend", "BluetoothUnavailable", "FoundDevice", "find_again", "identify_protocol", "scan"]

#: Name of our protocol as `identify_protocol` reports it (its profile key).
OUR_PROTOCOL = "lumbar_imu"

_ADDRESS_RE = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^[0-9A-Fa-f-]{36}$")


class BluetoothUnavailable(DeviceError):
    """No usable Bluetooth: no BlueZ / D-Bus, no adapter, adapter off, or access denied."""


def _unavailable(e: BaseException, adapter: str | None) -> BluetoothUnavailable:
    where = f"adapter {adapter!r}" if adapter else "the default adapter"
    hint = (
        "On Linux check that bluetoothd runs (systemctl status bluetooth), that the adapter is powered "
        "(bluetoothctl show; bluetoothctl power on; rfkill unblock bluetooth) and, with --adapter, its name "
        "(bluetoothctl list); on macOS allow the terminal to use Bluetooth"
    )
    return BluetoothUnavailable(f"Bluetooth is not available ({where}): {type(e).__name__}: {e}. {hint}")


@dataclass(frozen=True)
class BleBackend:
    """bleak backend classes to use instead of the platform's (tests pass fakes here).

    ``None`` keeps bleak's own choice (BlueZ on Linux, CoreBluetooth on macOS, WinRT on
    Windows).
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None


@dataclass(frozen=True)
class FoundDevice:
    """A device seen by a scan.

    Attributes
    ----------
    name
        Advertised name (``""`` when it advertises none).
    address
        Bluetooth address (a UUID on macOS).
    rssi_dbm
        Signal strength of the latest advertisement, dBm.
    protocol
        Key of the recognised profile (``"lumbar_imu"`` for ours, ``"polar_verity_sense"``,
        ``"witmotion_wt901ble"`` ...), ``None`` when not a supported sensor.
    service_uuids
        Advertised service UUIDs.
    device
        bleak's `BLEDevice`, to connect with (never an address string: BlueZ may forget
        devices when scanning stops).
    """

    name: str
    address: str
    rssi_dbm: int
    protocol: str | None
    service_uuids: tuple[str, ...] = ()
    device: BLEDevice | None = field(default=None, compare=False, repr=False)

    @property
    def supported(self) -> bool:
        return self.protocol is not None

    def matches(self, query: str) -> bool:
        """Whether ``query`` names this device: its address, or its name (case-insensitive,
        exact or as a prefix)."""
        q = query.strip().lower()
        if looks_like_address(query):
            return self.address.lower().replace("-", ":") == q.replace("-", ":")
        name = self.name.lower()
        return bool(name) and (name == q or name.startswith(q))


def looks_like_address(text: str) -> bool:
    """True for ``AA:BB:CC:DD:EE:FF`` (Linux, Windows) or a 36-character UUID (macOS)."""
    return bool(_ADDRESS_RE.match(text.strip()))


def identify_protocol(name: str | None, service_uuids: list[str] | tuple[str, ...]) -> str | None:
    """The protocol a device speaks, from its advertisement: the key of its
    `firmware_protocol.profiles` profile (``"lumbar_imu"`` for ours), ``None`` when not
    supported."""
    uuids = [u.lower() for u in service_uuids]
    if codec.SERVICE_UUID in uuids:
        return OUR_PROTOCOL
    try:
        found = profiles.identify(name, uuids)
    except GaitInputError:  # a malformed UUID in someone's advertisement: not ours
        return None
    return None if found is None else found.key


async def scan(
    *,
    timeout_s: float,
    adapter: str | None = None,
    backend: BleBackend | None = None,
    until: Callable[[FoundDevice], bool] | None = None,
    linger_s: float = 0.0,
) -> list[FoundDevice]:
    """Scan for ``timeout_s`` (or until ``until`` returns True for a device, then ``linger_s``
    more to hear the others that answer at the same time).

    Returns every device seen, strongest signal first, each with its latest advertisement.

    Raises
    ------
    BluetoothUnavailable
        When there is no usable Bluetooth (the message says what to check).
    """
    seen: dict[str, FoundDevice] = {}
    done = asyncio.Event()

    def on_advertisement(dev: BLEDevice, adv: AdvertisementData) -> None:
        found = FoundDevice(
            name=adv.local_name or dev.name or "",
            address=dev.address,
            rssi_dbm=int(adv.rssi),
            protocol=identify_protocol(adv.local_name or dev.name, adv.service_uuids),
            service_uuids=tuple(adv.service_uuids),
            device=dev,
        )
        seen[dev.address] = found
        if until is not None and until(found):
            done.set()

    kwargs: dict[str, Any] = {}
    if adapter:
        kwargs["bluez"] = {"adapter": adapter}
    if backend is not None and backend.scanner is not None:
        kwargs["backend"] = backend.scanner
    try:
        async with BleakScanner(on_advertisement, **kwargs):
            try:
                await asyncio.wait_for(done.wait(), timeout_s)
                if linger_s > 0:
                    await asyncio.sleep(linger_s)
            except TimeoutError:
                pass
    except (BleakError, OSError) as e:  # no D-Bus socket, no BlueZ, no adapter, denied
        raise _unavailable(e, adapter) from e
    return sorted(seen.values(), key=lambda d: (not d.supported, -d.rssi_dbm, d.name))


async def find_again(
    address: str, *, timeout_s: float, adapter: str | None = None, backend: BleBackend | None = None
) -> FoundDevice | None:
    """The device at ``address`` as it advertises again after a lost link, or None if it does
    not within ``timeout_s`` (a sensor's advertisement may change between connections; the
    recorder and `gait sync` reconnect with the fresh one). Raises `BluetoothUnavailable`."""
    seen = await scan(timeout_s=timeout_s, adapter=adapter, backend=backend, until=lambda d: d.address == address)
    return next((d for d in seen if d.address == address), None)
