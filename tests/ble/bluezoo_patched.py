"""Run the ``bluezoo`` BlueZ emulator with four fixes that make it behave like BlueZ.

Usage: ``python tests/ble/bluezoo_patched.py [bluezoo options]`` (same options as ``bluezoo``).

bluezoo 1.0.2 emulates adapters, advertising and GATT well enough for bleak's BlueZ backend,
but a few behaviours differ from BlueZ in ways that matter to a recorder that must survive
link loss. Each fix below makes the emulator do what BlueZ does (and is worth reporting
upstream, https://github.com/Samsung/BlueZoo):

1. *Reconnect.* bluezoo exports the remote GATT objects on every connect and never removes
   them on disconnect, so the second ``Connect`` to the same device fails with
   ``sd_bus_add_object_vtable ... error number: 17`` (EEXIST). BlueZ removes a device's
   ``serviceXXXX`` objects when the link drops; so does the fix.
2. *Notifications after a reconnect.* BlueZ calls ``StopNotify`` on the GATT server when the
   last subscriber goes away, including on disconnect. bluezoo does not, so the server keeps
   ``Notifying = true`` and bluezoo then skips ``StartNotify`` after the reconnect. The fix
   stops notifications on disconnect.
3. *Link loss seen from both ends.* A ``Disconnect`` issued on the peripheral's side (its
   view of the central) only updated that one object; the central never saw the link drop.
   The fix disconnects both ends, as a real link loss does. A GATT application that goes
   away (its process dies) also drops its links, as a peripheral that powers off does.
4. *Advertisements keep coming.* bluezoo only signals a device once; a second scan in the
   same emulator session therefore sees nothing (bleak reports devices on ``InterfacesAdded``
   or property changes). A real radio reports every advertisement with a fresh RSSI; the fix
   updates ``RSSI`` on every emulated scan hit.
"""

from __future__ import annotations

import random
import sys

import sdbus
from bluezoo import bluezoo as _bluezoo
from bluezoo.adapter import Adapter
from bluezoo.device import Device
from bluezoo.gatt import GattCharacteristicClientLink, GattManager
from bluezoo.log import logger

_rng = random.Random(0)


def _rssi_dbm() -> int:
    return _rng.randint(-72, -48)


# -- fix 4: a writable (privately) RSSI that changes on every scan hit ---------------------
def _rssi_setter(self: Device, value: int) -> None:
    self.rssi = value


_rssi_prop = Device.__dict__["RSSI"]
_rssi_prop.property_setter = _rssi_setter
_rssi_prop.property_setter_is_public = False


async def _add_device(self: Adapter, device: Device) -> None:
    device.attach_to_adapter(self)
    path = device.get_object_path()
    existing = self.devices.get(path)
    if existing is None:
        device.rssi = _rssi_dbm()
        logger.info(f"Adding {device} to {self}")
        self.mock.export_object(path, device)
        self.devices[path] = device
        return
    await existing.properties_sync(device)
    if self.discovering and device is not existing:
        await existing.RSSI.set_async(_rssi_dbm())


Adapter.add_device = _add_device


# -- fixes 1-3: a disconnect that tears the link down at both ends -------------------------
def _mirror(device: Device) -> Device | None:
    """The object representing the other end of ``device``'s link (on the peer adapter)."""
    if device.adapter is None:
        return None
    peer = device.peer_adapter
    return peer.devices.get(f"{peer.get_object_path()}/dev_{device.adapter.address.replace(':', '_')}")


async def _drop_gatt_links(device: Device) -> None:
    links = list(device.services.values())
    device.services.clear()
    for link in reversed(links):
        if isinstance(link, GattCharacteristicClientLink):
            link.client_props_changed_subscription.unsubscribe()
            if link.client.NotifyAcquired.get() is None and link.client.Notifying.get(False):
                try:
                    await link.client.StopNotify()
                except sdbus.SdBusBaseError as e:  # the server may already be gone
                    logger.debug(f"StopNotify on {link} failed: {e}")
        device.peer_adapter.mock.remove_object(link)
    if device.services_resolved:
        await device.ServicesResolved.set_async(False)


async def _disconnect(self: Device, uuid: str | None = None) -> None:
    self.connecting_task.cancel()
    logger.info(f"Disconnecting {self}")
    ends = [d for d in (self, _mirror(self)) if d is not None]
    for end in ends:
        await _drop_gatt_links(end)
    for end in ends:
        if end.connected:
            await end.Connected.set_async(False)


Device.disconnect = _disconnect

_del_gatt_application = GattManager._GattManager__del_gatt_application  # type: ignore[attr-defined]


async def _del_gatt_application_and_links(self: Adapter, app) -> None:
    await _del_gatt_application(self, app)
    for adapter in list(self.mock.adapters.values()):
        for device in list(adapter.devices.values()):
            if device.peer_adapter is self and device.connected:
                await device.disconnect()


GattManager._GattManager__del_gatt_application = _del_gatt_application_and_links  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.argv[0] = "bluezoo"
    _bluezoo.main()
