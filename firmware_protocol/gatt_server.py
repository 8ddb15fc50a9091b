"""A generic BLE GATT server made of software, registered with BlueZ over D-Bus.

`GattPeripheral` exports ``org.bluez.GattService1`` / ``GattCharacteristic1`` objects under an
``org.freedesktop.DBus.ObjectManager`` root (``GattManager1.RegisterApplication``) and an
``org.bluez.LEAdvertisement1`` (``LEAdvertisingManager1.RegisterAdvertisement``), built on
dbus-fast (which bleak already depends on). On a machine with a Bluetooth adapter it advertises
for real; under the ``bluezoo`` emulator (the test suite) a second emulated adapter sees it like
any sensor. `firmware_protocol.virtual_peripheral` builds the virtual sensor on it.

Everything here is asyncio and needs a running event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from dbus_fast import BusType, DBusError, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusBool, DBusBytes, DBusDict, DBusObjectPath, DBusSignature, DBusStr
from dbus_fast.service import PropertyAccess, ServiceInterface, dbus_property, method

from gait.errors import DeviceError

__all__ = ["CharacteristicSpec", "GattPeripheral", "PeripheralError", "ServiceSpec"]

logger = logging.getLogger(__name__)

_BLUEZ = "org.bluez"
_StrList = Annotated[list[str], DBusSignature("as")]
_ByteDict = Annotated[dict[int, Variant], DBusSignature("a{qv}")]


class PeripheralError(DeviceError):
    """BlueZ refused to register the peripheral (no adapter, adapter off, no permission)."""


# ---------------------------------------------------------------------------------------
# specs
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CharacteristicSpec:
    """One characteristic of a `ServiceSpec`.

    Attributes
    ----------
    uuid
        128-bit UUID string.
    flags
        BlueZ flags: ``"read"``, ``"write"``, ``"write-without-response"``, ``"notify"``,
        ``"indicate"``.
    value
        Initial value (what a read returns until `GattPeripheral.set_value`).
    """

    uuid: str
    flags: tuple[str, ...]
    value: bytes = b""


@dataclass(frozen=True)
class ServiceSpec:
    """A primary GATT service and its characteristics."""

    uuid: str
    characteristics: tuple[CharacteristicSpec, ...]
    primary: bool = True


# ---------------------------------------------------------------------------------------
# D-Bus objects (org.bluez GATT server API, doc/org.bluez.Gatt*.rst)
# ---------------------------------------------------------------------------------------
class _Service(ServiceInterface):
    def __init__(self, spec: ServiceSpec) -> None:
        super().__init__("org.bluez.GattService1")
        self._spec = spec

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self._spec.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> DBusBool:
        return self._spec.primary


class _Characteristic(ServiceInterface):
    def __init__(self, spec: CharacteristicSpec, service_path: str, owner: GattPeripheral) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.spec = spec
        self.value = bytes(spec.value)
        self.notifying = False
        self._service_path = service_path
        self._owner = owner

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> DBusStr:
        return self.spec.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> DBusObjectPath:
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> _StrList:
        return list(self.spec.flags)

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> DBusBytes:
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> DBusBool:
        return self.notifying

    @method()
    def ReadValue(self, options: DBusDict) -> DBusBytes:
        offset = int(options["offset"].value) if "offset" in options else 0
        if offset > len(self.value):
            raise DBusError("org.bluez.Error.InvalidOffset", "offset beyond the value")
        return self.value[offset:]

    @method()
    def WriteValue(
        self, value: DBusBytes, options: DBusDict
    ):  # no return annotation: dbus-fast reads "-> None" as a type
        if "write" not in self.spec.flags and "write-without-response" not in self.spec.flags:
            raise DBusError("org.bluez.Error.NotPermitted", "characteristic is not writable")
        offset = int(options["offset"].value) if "offset" in options else 0
        data = bytes(self.value[:offset]) + bytes(value) if offset else bytes(value)
        reply = self._owner._on_write(self.spec.uuid, data)
        if reply is not None:
            raise DBusError(reply[0], reply[1])
        self.value = data

    @method()
    def StartNotify(self):  # no return annotation: dbus-fast reads "-> None" as a type
        if "notify" not in self.spec.flags and "indicate" not in self.spec.flags:
            raise DBusError("org.bluez.Error.NotSupported", "characteristic does not notify")
        if self.notifying:
            return
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})
        self._owner._on_notify_change(self.spec.uuid, True)

    @method()
    def StopNotify(self):  # no return annotation: dbus-fast reads "-> None" as a type
        if not self.notifying:
            return
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})
        self._owner._on_notify_change(self.spec.uuid, False)

    @method()
    def Confirm(self):  # indication confirmations: nothing to do (no annotation, see above)
        return None


class _Advertisement(ServiceInterface):
    def __init__(self, *, local_name: str, service_uuids: list[str], manufacturer_data: dict[int, bytes]) -> None:
        super().__init__("org.bluez.LEAdvertisement1")
        self._name = local_name
        self._uuids = service_uuids
        self._mfr = manufacturer_data

    @dbus_property(access=PropertyAccess.READ)
    def Type(self) -> DBusStr:
        return "peripheral"

    @dbus_property(access=PropertyAccess.READ)
    def ServiceUUIDs(self) -> _StrList:
        return self._uuids

    @dbus_property(access=PropertyAccess.READ)
    def LocalName(self) -> DBusStr:
        # flags (3 bytes) + the 128-bit service UUID (18) leave 10 of 31 bytes; a longer name
        # must go to the scan response (PROTOCOL.md), which BlueZ decides. Not yet checked
        # with a real adapter (none on the development machine).
        return self._name

    @dbus_property(access=PropertyAccess.READ)
    def Discoverable(self) -> DBusBool:
        return True

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> _ByteDict:
        return {k: Variant("ay", v) for k, v in self._mfr.items()}

    @method()
    def Release(self):  # no return annotation: dbus-fast reads "-> None" as a type
        logger.info("advertisement released by BlueZ")


# ---------------------------------------------------------------------------------------
# the generic peripheral
# ---------------------------------------------------------------------------------------
#: Called with (characteristic uuid, written bytes); return None to accept, or
#: (D-Bus error name, message) to refuse the write.
WriteHandler = Callable[[str, bytes], tuple[str, str] | None]
#: Called with (characteristic uuid, notifying) when a central subscribes or unsubscribes.
NotifyHandler = Callable[[str, bool], None]


@dataclass
class GattPeripheral:
    """A GATT server plus an advertisement, registered with BlueZ on one adapter.

    Parameters
    ----------
    name
        Advertised local name; ``None``: ``LumbarIMU-XXXX`` from the adapter address.
    services
        The services to export; the first one's UUID is advertised.
    adapter
        BlueZ adapter name (``"hci0"``).
    on_write, on_notify_change
        Callbacks for writes and (un)subscriptions.
    manufacturer_data
        Advertised manufacturer data, company id -> bytes.
    bus_address
        D-Bus address; ``None`` uses the system bus (``DBUS_SYSTEM_BUS_ADDRESS`` if set).
    advertise_while_connected
        Keep advertising while a central is connected. Off by default, as on real sensors: a
        connected sensor stops advertising, so no second central can find it and take it over.

    Notes
    -----
    Use as ``async with GattPeripheral(...) as p:``; `notify` then sends a notification to
    subscribed centrals. The root object path is unique per instance so several peripherals
    can share one D-Bus connection's process.
    """

    name: str | None
    services: Sequence[ServiceSpec]
    adapter: str = "hci0"
    on_write: WriteHandler | None = None
    on_notify_change: NotifyHandler | None = None
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    bus_address: str | None = None
    advertise_while_connected: bool = False

    _bus: MessageBus | None = field(default=None, init=False, repr=False)
    _watch: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _chars: dict[str, _Characteristic] = field(default_factory=dict, init=False, repr=False)
    _paths: list[str] = field(default_factory=list, init=False, repr=False)
    _root: str = field(default="", init=False, repr=False)
    _registered: bool = field(default=False, init=False, repr=False)
    _advertising: bool = field(default=False, init=False, repr=False)
    n_notifications: int = field(default=0, init=False)
    adapter_address: str = field(default="", init=False)

    _counter = 0

    @property
    def adapter_path(self) -> str:
        return f"/org/bluez/{self.adapter}"

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to D-Bus, export the objects, register the application and advertisement.

        Raises
        ------
        PeripheralError
            When BlueZ is not running, the adapter does not exist, or registration fails.
        """
        GattPeripheral._counter += 1
        self._root = f"/gait/peripheral{GattPeripheral._counter}"
        try:
            if self.bus_address is not None:
                self._bus = await MessageBus(bus_address=self.bus_address).connect()
            else:
                self._bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except (OSError, ValueError) as e:  # no socket, refused, bad address
            raise PeripheralError(
                f"cannot reach the system D-Bus ({e}); is BlueZ (bluetoothd) running? "
                "A virtual sensor needs Linux with BlueZ, or the bluezoo emulator"
            ) from None
        try:
            reply = await self._call(
                self.adapter_path, "org.freedesktop.DBus.Properties", "Get", "ss", ["org.bluez.Adapter1", "Address"]
            )
            self.adapter_address = str(reply.body[0].value)
            if not self.name:  # PROTOCOL.md: LumbarIMU-XXXX, the last two bytes of the address
                self.name = "LumbarIMU-" + self.adapter_address.replace(":", "")[-4:].upper()
            for i, svc in enumerate(self.services):
                spath = f"{self._root}/service{i}"
                self._export(spath, _Service(svc))
                for j, cspec in enumerate(svc.characteristics):
                    char = _Characteristic(cspec, spath, self)
                    self._chars[cspec.uuid.lower()] = char
                    self._export(f"{spath}/char{j}", char)
            adv = _Advertisement(
                local_name=self.name or "",
                service_uuids=[self.services[0].uuid] if self.services else [],
                manufacturer_data=self.manufacturer_data,
            )
            self._export(f"{self._root}/advertisement0", adv)
            await self._call(
                self.adapter_path, "org.bluez.GattManager1", "RegisterApplication", "oa{sv}", [self._root, {}]
            )
            self._registered = True
            await self._advertise(True)
            if not self.advertise_while_connected:
                self._watch = asyncio.create_task(self._watch_connections())
        except BaseException:
            await self.stop()
            raise

    async def _advertise(self, on: bool) -> None:
        if on == self._advertising:
            return
        member = "RegisterAdvertisement" if on else "UnregisterAdvertisement"
        signature, body = (
            ("oa{sv}", [f"{self._root}/advertisement0", {}]) if on else ("o", [f"{self._root}/advertisement0"])
        )
        await self._call(self.adapter_path, "org.bluez.LEAdvertisingManager1", member, signature, body)
        self._advertising = on

    async def connected_centrals(self) -> int:
        """How many centrals are connected to our adapter now (BlueZ ``Device1.Connected``)."""
        assert self._bus is not None
        reply = await self._call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", [])
        n = 0
        for path, ifaces in reply.body[0].items():
            dev = ifaces.get("org.bluez.Device1")
            if dev is not None and path.startswith(self.adapter_path + "/"):
                n += bool(dev.get("Connected", Variant("b", False)).value)
        return n

    async def _watch_connections(self, every_s: float = 0.2) -> None:
        """Stop advertising while a central is connected, advertise again once it is gone."""
        while self._bus is not None:
            try:
                await self._advertise(await self.connected_centrals() == 0)
            except PeripheralError as e:  # BlueZ busy or going away: try again next tick
                logger.debug("%s", e)
            await asyncio.sleep(every_s)

    async def stop(self) -> None:
        """Unregister from BlueZ and disconnect from D-Bus (idempotent, never raises for BlueZ errors)."""
        bus = self._bus
        if bus is None:
            return
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None
        try:
            if self._advertising:
                self._advertising = False
                await self._call_quiet(
                    self.adapter_path,
                    "org.bluez.LEAdvertisingManager1",
                    "UnregisterAdvertisement",
                    "o",
                    [f"{self._root}/advertisement0"],
                )
            if self._registered:
                self._registered = False
                await self._call_quiet(
                    self.adapter_path, "org.bluez.GattManager1", "UnregisterApplication", "o", [self._root]
                )
        finally:
            for path in reversed(self._paths):
                bus.unexport(path)
            self._paths.clear()
            self._bus = None
            bus.disconnect()
            await bus.wait_for_disconnect()

    async def __aenter__(self) -> GattPeripheral:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- data ---------------------------------------------------------------------------
    def notifying(self, uuid: str) -> bool:
        """Whether a central is subscribed to ``uuid``."""
        return self._chars[uuid.lower()].notifying

    def set_value(self, uuid: str, value: bytes) -> None:
        """Set the value a read of ``uuid`` returns (no notification)."""
        self._chars[uuid.lower()].value = bytes(value)

    def notify(self, uuid: str, value: bytes) -> bool:
        """Send ``value`` as a notification of ``uuid``; False when nobody is subscribed."""
        char = self._chars[uuid.lower()]
        if not char.notifying or self._bus is None:
            return False
        char.value = bytes(value)
        char.emit_properties_changed({"Value": char.value})
        self.n_notifications += 1
        return True

    async def drain(self) -> None:
        """Wait until BlueZ has taken every notification sent so far (a ``Peer.Ping`` to it,
        answered after what came before). A real sensor's radio accepts a few notifications per
        connection event and refuses more until they are sent; a burst faster than BlueZ reads
        would fill the D-Bus socket, which dbus-fast treats as a lost connection."""
        if self._bus is not None:
            await self._call("/", "org.freedesktop.DBus.Peer", "Ping", "", [])

    async def disconnect_centrals(self) -> int:
        """Drop the link to every connected central (``Device1.Disconnect`` on our adapter).

        Returns the number of links dropped. This is what a sensor does when it resets or
        walks out of range, seen from BlueZ.
        """
        assert self._bus is not None
        reply = await self._call("/", "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", "", [])
        n = 0
        for path, ifaces in reply.body[0].items():
            dev = ifaces.get("org.bluez.Device1")
            if dev is None or not path.startswith(self.adapter_path + "/"):
                continue
            if dev.get("Connected", Variant("b", False)).value:
                await self._call_quiet(path, "org.bluez.Device1", "Disconnect", "", [])
                n += 1
        return n

    # -- internals ----------------------------------------------------------------------
    def _export(self, path: str, obj: ServiceInterface) -> None:
        assert self._bus is not None
        self._bus.export(path, obj)
        self._paths.append(path)

    async def _call(self, path: str, interface: str, member: str, signature: str, body: list[Any]) -> Message:
        assert self._bus is not None
        reply = await self._bus.call(
            Message(destination=_BLUEZ, path=path, interface=interface, member=member, signature=signature, body=body)
        )
        if reply is None or reply.message_type == MessageType.ERROR:
            err = reply.error_name if reply is not None else "no reply"
            text = reply.body[0] if reply is not None and reply.body else ""
            raise PeripheralError(f"BlueZ {interface}.{member} on {path} failed: {err} {text}".strip())
        return reply

    async def _call_quiet(self, path: str, interface: str, member: str, signature: str, body: list[Any]) -> None:
        try:
            await self._call(path, interface, member, signature, body)
        except PeripheralError as e:
            logger.debug("%s", e)

    def _on_write(self, uuid: str, data: bytes) -> tuple[str, str] | None:
        if self.on_write is None:
            return None
        return self.on_write(uuid, data)

    def _on_notify_change(self, uuid: str, notifying: bool) -> None:
        if self.on_notify_change is not None:
            self.on_notify_change(uuid, notifying)
