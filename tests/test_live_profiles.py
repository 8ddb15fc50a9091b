"""Recording a commodity sensor through its `firmware_protocol.profiles` profile (fake backend).

A fake WitMotion WT901BLE streams 0x55 0x61 frames; the recorder must recognise it, send the
profile's rate commands, decode with the profile's decoder and write exactly the decoded
values, placing the samples after a link loss from host time (the sensor has no clock).
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol.devices import witmotion
from firmware_protocol.gatt_server import CharacteristicSpec, ServiceSpec
from gait.errors import GaitDataWarning
from gait.io import read_canonical_session
from gait.live import BleBackend, RecordConfig, Recorder, identify_protocol
from tests.ble.fake_backend import FakeAir, FakePeripheral
from tests.test_live_recorder import stub_analyze

RATE = 100.0


class FakeWitMotion:
    """Streams one frame per notification at the rate last written (10 Hz until told)."""

    def __init__(self) -> None:
        self.rate_hz = 10.0
        self.commands: list[bytes] = []
        self.sent: list[bytes] = []
        self.peripheral = FakePeripheral(
            name="WT901BLE68",
            address="00:00:00:B0:00:01",
            services=[
                ServiceSpec(
                    witmotion.SERVICE_UUID,
                    (
                        CharacteristicSpec(witmotion.NOTIFY_UUID, ("notify",)),
                        CharacteristicSpec(witmotion.WRITE_UUID, ("write-without-response",)),
                    ),
                )
            ],
            on_write=self._on_write,
        )
        rng = np.random.default_rng(1)
        self._acc = rng.normal([0, 0, 1], 0.3, size=(5000, 3))
        self._gyr = rng.normal(0, 100, size=(5000, 3))

    def _on_write(self, uuid: str, data: bytes):
        self.commands.append(data)
        if data[:3] == bytes([0xFF, 0xAA, 0x03]):
            self.rate_hz = {v: k for k, v in witmotion.RATE_CODES.items()}[data[3]]
        return None

    async def run(self, stop: asyncio.Event) -> None:
        i = 0
        while not stop.is_set():
            await asyncio.sleep(1.0 / self.rate_hz)
            if self.peripheral.notifying(witmotion.NOTIFY_UUID):
                frame = witmotion.encode_frame(self._acc[i % 5000], self._gyr[i % 5000])
                if self.peripheral.notify(witmotion.NOTIFY_UUID, frame):
                    self.sent.append(frame)
                i += 1


def test_identify_by_profile() -> None:
    assert identify_protocol("WT901BLE68", [witmotion.SERVICE_UUID]) == "witmotion_wt901ble"
    assert identify_protocol("Polar Sense B5A3C42F", []) == "polar_verity_sense"
    assert identify_protocol("Heart strap", ["0000180d-0000-1000-8000-00805f9b34fb"]) is None


@pytest.mark.parametrize("link_loss", [False, True])
def test_records_a_witmotion_through_its_profile(tmp_path: Path, link_loss: bool) -> None:
    wit = FakeWitMotion()
    air = FakeAir()
    air.add(wit.peripheral)

    async def go():
        stop = asyncio.Event()
        task = asyncio.create_task(wit.run(stop))
        rec = Recorder(
            RecordConfig(
                out=tmp_path / "wit.csv",
                rate_hz=int(RATE),
                duration_s=2.5,
                scan_timeout_s=2.0,
                stall_timeout_s=1.0,
                backend=BleBackend(air.scanner_backend(), air.client_backend()),
                analyze=stub_analyze,
            )
        )
        run = asyncio.create_task(rec.run())
        if link_loss:
            await asyncio.sleep(1.2)
            await wit.peripheral.disconnect_centrals()
        result = await run
        stop.set()
        await task
        return result

    result = asyncio.run(go())
    assert wit.commands[:3] == list(witmotion.rate_commands(rate_hz=RATE)), "the profile's rate commands"
    assert wit.rate_hz == RATE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        s = read_canonical_session(result.path)
    assert s.sampling_rate_hz == RATE and s.meta.extra["protocol"] == "witmotion_wt901ble"
    expected = witmotion.WitMotionDecoder(rate_hz=RATE).feed_many(wit.sent[: s.n_samples])
    assert np.array_equal(s.acc, expected.acc_mps2) and np.array_equal(s.gyr, expected.gyr_rads)
    if link_loss:
        assert result.link.reconnects == 1 and len(result.gaps) == 1 and result.gaps[0][3] == "reconnect"
        assert 0.3 < result.gaps[0][1] - result.gaps[0][0] < 1.5, "placed from host time"
    else:
        assert result.gaps == () and np.allclose(np.diff(s.t), 1 / RATE)
