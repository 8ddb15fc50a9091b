"""A fake bleak backend for fast unit tests: `FakeAir` and its peripherals, no D-Bus at all.

bleak selects its platform backend unless one is passed: ``BleakScanner(..., backend=X)`` and
``BleakClient(..., backend=Y)`` accept any subclass of
`bleak.backends.scanner.BaseBleakScanner` / `bleak.backends.client.BaseBleakClient`.
`FakeAir.scanner_backend()` and `FakeAir.client_backend()` return such subclasses bound to
one simulated neighbourhood of `FakePeripheral` objects, so the code under test runs bleak's
real public API (``BleakScanner``, ``BleakClient``, service lookup by UUID, callbacks) with
only the radio replaced.

A `FakePeripheral` has the same transport interface as
`firmware_protocol.virtual_peripheral.GattPeripheral` (``notify``, ``notifying``,
``set_value``, ``disconnect_centrals``, ``on_write``, ``on_notify_change``), so the same
`VirtualSensor` drives either one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol.gatt_server import ServiceSpec

__all__ = ["FakeAir", "FakePeripheral"]


@dataclass(eq=False)
class FakePeripheral:
    """A simulated BLE peripheral in a `FakeAir`.

    Attributes
    ----------
    name, address, rssi
        What a scan reports.
    services
        GATT services (same specs as the real virtual peripheral).
    advertising
        Whether scans see it.
    connect_failures
        The next this-many connection attempts fail with ``BleakError`` (transient errors such
        as ``le-connection-abort-by-local``).
    advertise_interval_s
        Time between two advertisements while a scan runs.
    """

    name: str
    address: str
    services: Sequence[ServiceSpec]
    rssi: int = -55
    advertising: bool = True
    connect_failures: int = 0
    advertise_interval_s: float = 0.05
    on_write: Callable[[str, bytes], tuple[str, str] | None] | None = None
    on_notify_change: Callable[[str, bool], None] | None = None

    values: dict[str, bytes] = field(default_factory=dict)
    subscribers: dict[str, NotifyCallback] = field(default_factory=dict)
    client: _FakeClient | None = None
    n_connects: int = 0
    n_notifications: int = 0

    def __post_init__(self) -> None:
        for s in self.services:
            for c in s.characteristics:
                self.values[c.uuid.lower()] = bytes(c.value)

    # -- transport interface (same as GattPeripheral) ---------------------------------------
    def notifying(self, uuid: str) -> bool:
        return uuid.lower() in self.subscribers

    def set_value(self, uuid: str, value: bytes) -> None:
        self.values[uuid.lower()] = bytes(value)

    def notify(self, uuid: str, value: bytes) -> bool:
        cb = self.subscribers.get(uuid.lower())
        if cb is None:
            return False
        self.values[uuid.lower()] = bytes(value)
        self.n_notifications += 1
        cb(bytearray(value))
        return True

    async def drain(self) -> None:
        """Notifications are delivered at once here: nothing to wait for."""
        await asyncio.sleep(0)

    async def disconnect_centrals(self) -> int:
        """Drop the link (the central sees an unsolicited disconnect)."""
        if self.client is None:
            return 0
        self.client._link_lost()
        return 1

    # -- called by the fake client ----------------------------------------------------------
    def _subscribe(self, uuid: str, cb: NotifyCallback | None) -> None:
        uuid = uuid.lower()
        if cb is None:
            if self.subscribers.pop(uuid, None) is not None and self.on_notify_change:
                self.on_notify_change(uuid, False)
        else:
            self.subscribers[uuid] = cb
            if self.on_notify_change:
                self.on_notify_change(uuid, True)

    def _drop_subscriptions(self) -> None:
        for uuid in list(self.subscribers):
            self._subscribe(uuid, None)


@dataclass(eq=False)
class FakeAir:
    """The simulated neighbourhood the fake backends scan and connect in."""

    peripherals: list[FakePeripheral] = field(default_factory=list)

    def add(self, p: FakePeripheral) -> FakePeripheral:
        self.peripherals.append(p)
        return p

    def find(self, address: str) -> FakePeripheral | None:
        for p in self.peripherals:
            if p.address.lower() == address.lower():
                return p
        return None

    def scanner_backend(self) -> type[BaseBleakScanner]:
        """A `BaseBleakScanner` subclass that scans this air (pass as ``backend=``)."""
        return type("FakeScanner", (_FakeScanner,), {"air": self})

    def client_backend(self) -> type[BaseBleakClient]:
        """A `BaseBleakClient` subclass that connects in this air (pass as ``backend=``)."""
        return type("FakeClient", (_FakeClient,), {"air": self})


class _FakeScanner(BaseBleakScanner):
    air: FakeAir

    def __init__(
        self,
        detection_callback: Any,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.seen_devices = {}
        self._task = asyncio.create_task(self._advertise())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _advertise(self) -> None:
        while True:
            for p in list(self.air.peripherals):
                if not p.advertising:
                    continue
                uuids = [s.uuid.lower() for s in p.services[:1]]
                if not self.is_allowed_uuid(uuids):
                    continue
                adv = AdvertisementData(
                    local_name=p.name,
                    manufacturer_data={},
                    service_data={},
                    service_uuids=uuids,
                    tx_power=None,
                    rssi=p.rssi,
                    platform_data=(),
                )
                dev = self.create_or_update_device(p.address, p.address, p.name, {"fake": p}, adv)
                self.call_detection_callbacks(dev, adv)
            interval = min((p.advertise_interval_s for p in self.air.peripherals), default=0.05)
            await asyncio.sleep(interval)


class _FakeClient(BaseBleakClient):
    air: FakeAir

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        super().__init__(
            address_or_ble_device,
            disconnected_callback=kwargs.get("disconnected_callback"),
            timeout=kwargs.get("timeout", 10.0),
        )
        self._peripheral: FakePeripheral | None = None
        self._connected = False
        self._handles: dict[int, str] = {}

    @property
    def name(self) -> str:
        return self._peripheral.name if self._peripheral else self.address

    @property
    def mtu_size(self) -> int:
        return 247

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        p = self.air.find(self.address)
        if p is None:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        await asyncio.sleep(0)
        if p.connect_failures > 0:
            p.connect_failures -= 1
            raise BleakError("le-connection-abort-by-local")
        if p.client is not None and p.client is not self:
            raise BleakError("Device busy: another central is connected")
        self._peripheral = p
        p.client = self
        p.n_connects += 1
        self._connected = True
        self.services = self._build_services(p)

    async def disconnect(self) -> None:
        if not self._connected:
            return
        self._teardown()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    def _link_lost(self) -> None:
        if not self._connected:
            return
        self._teardown()
        if self._disconnected_callback is not None:
            loop = asyncio.get_running_loop()
            loop.call_soon(self._disconnected_callback)

    def _teardown(self) -> None:
        p = self._peripheral
        self._connected = False
        self.services = None
        if p is not None:
            p._drop_subscriptions()
            p.client = None

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _require(self) -> FakePeripheral:
        if not self._connected or self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        p = self._require()
        return bytearray(p.values.get(characteristic.uuid.lower(), b""))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise BleakError("the fake backend has no descriptors")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        p = self._require()
        data = bytes(data)
        uuid = characteristic.uuid.lower()
        if p.on_write is not None:
            refused = p.on_write(uuid, data)
            if refused is not None:
                raise BleakError(f"[{refused[0]}] {refused[1]}")
        p.values[uuid] = data
        await asyncio.sleep(0)

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakError("the fake backend has no descriptors")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        p = self._require()
        if "notify" not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        p._subscribe(characteristic.uuid, callback)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        p = self._require()
        p._subscribe(characteristic.uuid, None)

    @staticmethod
    def _build_services(p: FakePeripheral) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()
        handle = 1
        for s in p.services:
            svc = BleakGATTService(None, handle, s.uuid.lower())
            coll.add_service(svc)
            handle += 1
            for c in s.characteristics:
                char = BleakGATTCharacteristic(None, handle, c.uuid.lower(), list(c.flags), lambda: 244, svc)  # type: ignore[arg-type]
                coll.add_characteristic(char)
                handle += 2
        return coll
