"""A virtual sensor in a fake radio neighbourhood, ready for `gait.live.Recorder` (no D-Bus)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from firmware_protocol.virtual_peripheral import FaultPlan, VirtualSensor
from gait.live import BleBackend
from gait.session import Session

from .fake_backend import FakeAir, FakePeripheral

ADDRESS = "00:00:00:A0:00:01"


@dataclass
class FakeRig:
    air: FakeAir
    peripheral: FakePeripheral
    sensor: VirtualSensor

    @property
    def backend(self) -> BleBackend:
        return BleBackend(scanner=self.air.scanner_backend(), client=self.air.client_backend())


@contextlib.asynccontextmanager
async def serve(sensor: VirtualSensor, *, name: str = "GaitSim", address: str = ADDRESS) -> AsyncIterator[FakeRig]:
    """``sensor`` advertising as ``name`` on a `FakePeripheral`, served until the block ends."""
    air = FakeAir()
    p = air.add(
        FakePeripheral(
            name=name,
            address=address,
            services=sensor.services,
            on_write=sensor.on_write,
            on_notify_change=sensor.on_notify_change,
        )
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sensor.run(p, stop=stop))
    try:
        yield FakeRig(air, p, sensor)
    finally:
        stop.set()
        await task


@contextlib.asynccontextmanager
async def fake_rig(
    session: Session, *, faults: FaultPlan | None = None, name: str = "GaitSim", drift_ppm: float = 0.0, **sensor_kw
) -> AsyncIterator[FakeRig]:
    """A `VirtualSensor` playing ``session`` on a `FakePeripheral`, served until the block ends."""
    async with serve(VirtualSensor(session, faults=faults, drift_ppm=drift_ppm, **sensor_kw), name=name) as r:
        yield r
