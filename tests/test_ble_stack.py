"""The emulated Bluetooth stack itself: bleak (real BlueZ backend) against a software peripheral.

A private dbus-daemon runs bluezoo with two adapters; `GattPeripheral` registers a GATT
application and an advertisement on one, and bleak, on the other, scans, connects, writes,
reads, subscribes, loses the link, reconnects and subscribes again, exactly as on a Linux
machine with a radio. If this module passes, every BLE end-to-end test has a sound base.
"""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from firmware_protocol.gatt_server import CharacteristicSpec, GattPeripheral, PeripheralError, ServiceSpec
from tests.ble.fixtures import ble_adapters, ble_stack
from tests.ble.stack import AdapterPair

pytestmark = pytest.mark.ble
_FIXTURES = (ble_stack, ble_adapters)  # imported for pytest, which finds them by name

SERVICE = "0000a000-6761-6974-2d6c-756d62617200"
STREAM = "0000a001-6761-6974-2d6c-756d62617200"
CONTROL = "0000a002-6761-6974-2d6c-756d62617200"


def _peripheral(adapter: str, **kw) -> GattPeripheral:
    return GattPeripheral(
        name="GaitTest-01",
        services=[
            ServiceSpec(
                SERVICE,
                (
                    CharacteristicSpec(STREAM, ("notify", "read")),
                    CharacteristicSpec(CONTROL, ("write", "read"), value=b"\x00"),
                ),
            )
        ],
        adapter=adapter,
        **kw,
    )


async def _find(adapter: str, timeout_s: float = 10.0) -> tuple[BLEDevice, AdvertisementData]:
    found: asyncio.Future[tuple[BLEDevice, AdvertisementData]] = asyncio.get_running_loop().create_future()

    def seen(dev: BLEDevice, adv: AdvertisementData) -> None:
        if SERVICE in adv.service_uuids and not found.done():
            found.set_result((dev, adv))

    async with BleakScanner(seen, bluez={"adapter": adapter}):
        return await asyncio.wait_for(found, timeout_s)


async def _stream(p: GattPeripheral, start: int, stop_event: asyncio.Event) -> int:
    """Send counters 0, 1, 2 ... every 5 ms while subscribed; returns the next counter."""
    i = start
    while not stop_event.is_set():
        if p.notifying(STREAM):
            p.notify(STREAM, i.to_bytes(4, "little") + bytes(16))
            i += 1
        await asyncio.sleep(0.005)
    return i


async def _scenario(pair: AdapterPair) -> None:
    writes: list[bytes] = []

    def on_write(uuid: str, data: bytes):
        writes.append(data)
        return None if data[:1] != b"\xff" else ("org.bluez.Error.InvalidValueLength", "refused")

    async with _peripheral(pair.peripheral, on_write=on_write) as p:
        dev, adv = await _find(pair.central)
        assert dev.address == pair.peripheral_address
        assert adv.local_name == "GaitTest-01"
        assert -100 < adv.rssi < 0

        stop = asyncio.Event()
        sender = asyncio.create_task(_stream(p, 0, stop))
        got: list[int] = []
        lost = asyncio.Event()
        try:
            # -- first connection: write, read, subscribe, then the link drops -----------
            client = BleakClient(dev, disconnected_callback=lambda _c: lost.set(), bluez={"adapter": pair.central})
            await client.connect()
            try:
                await client.write_gatt_char(CONTROL, b"\x01\x02", response=True)
                assert bytes(await client.read_gatt_char(CONTROL)) == b"\x01\x02"
                assert writes == [b"\x01\x02"]
                char = client.services.get_characteristic(STREAM)
                assert char is not None and "notify" in char.properties
                assert char.max_write_without_response_size >= 20
                await client.start_notify(STREAM, lambda _c, d: got.append(int.from_bytes(d[:4], "little")))
                while len(got) < 40:
                    await asyncio.sleep(0.01)
                assert await p.disconnect_centrals() == 1  # link loss, from the sensor's side
                await asyncio.wait_for(lost.wait(), 5)
                assert not client.is_connected
            finally:
                await client.disconnect()
            n_first = len(got)
            assert got == list(range(n_first)), "notifications arrive complete and in order"

            # -- reconnect with the same BLEDevice and subscribe again -------------------
            lost.clear()
            async with BleakClient(
                dev, disconnected_callback=lambda _c: lost.set(), bluez={"adapter": pair.central}
            ) as c2:
                await c2.start_notify(STREAM, lambda _c, d: got.append(int.from_bytes(d[:4], "little")))
                while len(got) < n_first + 40:
                    await asyncio.sleep(0.01)
                with pytest.raises(Exception, match="refused"):
                    await c2.write_gatt_char(CONTROL, b"\xff", response=True)
            assert lost.is_set()  # a clean disconnect also reports
            # the sensor counts while it believes someone listens: what it sent as the link went
            # down (at most a couple of notifications) is lost, as over a real radio; then the
            # stream is complete and in order again
            second = got[n_first:]
            assert 0 < second[0] - got[n_first - 1] <= 3
            assert second == list(range(second[0], second[0] + len(second)))
        finally:
            stop.set()
            await sender


def test_scan_connect_write_notify_link_loss_reconnect(ble_adapters: AdapterPair) -> None:
    asyncio.run(asyncio.wait_for(_scenario(ble_adapters), 60))


def test_second_scan_in_the_same_session_sees_the_device_again(ble_adapters: AdapterPair) -> None:
    async def go() -> None:
        async with _peripheral(ble_adapters.peripheral):
            d1, _ = await _find(ble_adapters.central)
            d2, _ = await _find(ble_adapters.central)
            assert d1.address == d2.address

    asyncio.run(asyncio.wait_for(go(), 30))


def test_registering_on_a_missing_adapter_is_a_clear_error(ble_adapters: AdapterPair) -> None:
    async def go() -> None:
        with pytest.raises(PeripheralError, match="hci250"):
            async with _peripheral("hci250"):
                pass

    asyncio.run(go())
