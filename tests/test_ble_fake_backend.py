"""The fake bleak backend behaves like bleak's real ones through bleak's public API."""

from __future__ import annotations

import asyncio

import pytest
from bleak import BleakClient, BleakScanner
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol.gatt_server import CharacteristicSpec, ServiceSpec
from tests.ble.fake_backend import FakeAir, FakePeripheral

SERVICE = "0000a000-6761-6974-2d6c-756d62617200"
STREAM = "0000a001-6761-6974-2d6c-756d62617200"
CONTROL = "0000a002-6761-6974-2d6c-756d62617200"
SPEC = [ServiceSpec(SERVICE, (CharacteristicSpec(STREAM, ("notify",)), CharacteristicSpec(CONTROL, ("write", "read"))))]


def _air() -> tuple[FakeAir, FakePeripheral]:
    air = FakeAir()
    p = air.add(FakePeripheral(name="GaitTest-01", address="00:00:00:A0:00:01", services=SPEC))
    return air, p


def test_scan_sees_advertisers_with_the_service_filter() -> None:
    air, _ = _air()
    air.add(
        FakePeripheral(
            name="Other",
            address="00:00:00:A0:00:02",
            services=[ServiceSpec("0000180f-0000-1000-8000-00805f9b34fb", ())],
        )
    )

    async def go() -> list[str]:
        seen: list[str] = []
        async with BleakScanner(lambda d, a: seen.append(d.address), [SERVICE], backend=air.scanner_backend()):
            await asyncio.sleep(0.12)
        return seen

    seen = asyncio.run(go())
    assert set(seen) == {"00:00:00:A0:00:01"}


def test_connect_write_notify_and_link_loss() -> None:
    air, p = _air()
    writes: list[bytes] = []
    p.on_write = lambda u, d: writes.append(d) or None

    async def go() -> tuple[list[bytes], bool]:
        got: list[bytes] = []
        lost = asyncio.Event()
        dev = await BleakScanner.find_device_by_address(p.address, timeout=1, backend=air.scanner_backend())
        assert dev is not None
        client = BleakClient(dev, lambda _c: lost.set(), backend=air.client_backend())
        await client.connect()
        await client.write_gatt_char(CONTROL, b"\x01", response=True)
        assert bytes(await client.read_gatt_char(CONTROL)) == b"\x01"
        await client.start_notify(STREAM, lambda _c, d: got.append(bytes(d)))
        p.notify(STREAM, b"abc")
        assert await p.disconnect_centrals() == 1
        await asyncio.wait_for(lost.wait(), 1)
        assert not client.is_connected and not p.notifying(STREAM)
        assert not p.notify(STREAM, b"late")
        await client.disconnect()
        return got, lost.is_set()

    got, lost = asyncio.run(go())
    assert got == [b"abc"] and writes == [b"\x01"] and lost


def test_transient_connection_failures_and_missing_devices() -> None:
    air, p = _air()
    p.connect_failures = 1

    async def go() -> None:
        c = BleakClient(p.address, backend=air.client_backend())
        with pytest.raises(BleakError, match="le-connection-abort"):
            await c.connect()
        await c.connect()
        assert c.is_connected
        await c.disconnect()
        with pytest.raises(BleakDeviceNotFoundError):
            await BleakClient("00:00:00:00:00:99", backend=air.client_backend()).connect()

    asyncio.run(go())
