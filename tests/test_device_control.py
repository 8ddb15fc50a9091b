"""Every sensor, ours included, is driven through its device profile (no special case).

`ProfileLink` takes the profile's control step (`DeviceProfile.make_control`; by default
`DeviceControl`, which writes the profile's command bytes) and the decoder that control
provides. Our protocol's `LumbarControl` reads the configuration characteristic, stops a
running stream, sets rate and ranges, checks every command's status, resumes a stream the
sensor kept through a link loss, and keeps one decoder (one packet sequence) across
reconnects. A fake device of our protocol answers here as the reference firmware does
(``PROTOCOL.md``: every command leaves its opcode and status in the configuration).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import codec
from firmware_protocol.devices._control import DeviceControl, SensorRefused, pick_rate
from firmware_protocol.devices.lumbar import LumbarControl, LumbarImuDecoder
from firmware_protocol.profiles import PROFILES, get_profile
from firmware_protocol.samples import DecodedSamples
from firmware_protocol.virtual_peripheral import ACC_RANGES_G, GYR_RANGES_DPS
from gait.live import RecordConfig, Recorder
from gait.live._links import ProfileLink
from gait.live._recorder_ble import make_link
from gait.live._scan import FoundDevice

SPP = 10  # samples per packet of the fake device


class FakeLumbar:
    """A device of our protocol seen through a GATT client (``read_gatt_char`` / ``write_gatt_char``)."""

    def __init__(self, *, rate_hz: int = 208, streaming: bool = False) -> None:
        self.config = codec.DeviceConfig(
            rate_mhz=rate_hz * 1000,
            acc_range_g=8,
            gyr_range_dps=500,
            acc_scale_ng_per_lsb=ACC_RANGES_G[8],
            gyr_scale_udps_per_lsb=GYR_RANGES_DPS[500],
            samples_per_packet=SPP,
            state=codec.State.STREAMING if streaming else codec.State.IDLE,
        )
        self.commands: list[codec.Opcode] = []
        self.refuse: dict[codec.Opcode, codec.Status] = {}
        self.forced_rate_hz: int | None = None  # a device that ignores SET_RATE

    async def read_gatt_char(self, uuid: str) -> bytearray:
        if uuid == codec.CONFIG_UUID:
            return bytearray(codec.encode_config(self.config))
        return bytearray(f"info {uuid[4:8]}".encode())

    async def write_gatt_char(self, uuid: str, data: bytes, response: bool | None = None) -> None:
        assert uuid == codec.CONTROL_UUID and response is True
        cmd = codec.decode_command(data)
        self.commands.append(cmd.opcode)
        status = self.refuse.get(cmd.opcode, codec.Status.OK)
        c = dataclasses.replace(self.config, last_opcode=int(cmd.opcode), last_status=int(status))
        if status == codec.Status.OK:
            if cmd.opcode == codec.Opcode.START:
                c = dataclasses.replace(c, state=codec.State.STREAMING)
            elif cmd.opcode == codec.Opcode.STOP:
                c = dataclasses.replace(c, state=codec.State.IDLE)
            elif cmd.opcode == codec.Opcode.SET_RATE:
                assert cmd.rate_hz is not None
                c = dataclasses.replace(c, rate_mhz=(self.forced_rate_hz or cmd.rate_hz) * 1000)
            elif cmd.opcode == codec.Opcode.SET_RANGE:
                assert cmd.acc_range_g is not None and cmd.gyr_range_dps is not None
                c = dataclasses.replace(
                    c,
                    acc_range_g=cmd.acc_range_g,
                    gyr_range_dps=cmd.gyr_range_dps,
                    acc_scale_ng_per_lsb=ACC_RANGES_G[cmd.acc_range_g],
                    gyr_scale_udps_per_lsb=GYR_RANGES_DPS[cmd.gyr_range_dps],
                )
        self.config = c


def lumbar_link(rate_hz: int | None = 416) -> ProfileLink:
    return ProfileLink(
        get_profile("lumbar_imu"), rate_hz=rate_hz, acc_range_g=16, gyr_range_dps=2000, describe="LumbarIMU-1A2B"
    )


def packet(seq: int, rate_hz: float) -> bytes:
    k = np.arange(SPP)[:, None] + seq * SPP
    acc = np.tile([0, 0, 2048], (SPP, 1)) + k % 7
    gyr = np.tile([1, -1, 0], (SPP, 1)) * (k % 5)
    return codec.encode_packet(seq=seq, t_us=round(seq * SPP * 1e6 / rate_hz), acc=acc, gyr=gyr)


def test_pick_rate_takes_the_lowest_supported_rate_at_or_above_the_request():
    assert pick_rate((52.0, 104.0, 208.0), 100) == 104.0
    assert pick_rate((52.0, 104.0, 208.0), 104) == 104.0
    assert pick_rate((52.0, 104.0), 400) == 104.0


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.key)
def test_every_sensor_found_gets_a_profile_link_with_its_profiles_control(tmp_path: Path, profile):
    rec = Recorder(RecordConfig(out=tmp_path / "run.csv", rate_hz=200))
    found = FoundDevice(name="sensor", address="00:00:00:C0:00:09", rssi_dbm=-50, protocol=profile.key)
    link = make_link(rec, found)
    assert isinstance(link, ProfileLink) and link.profile is profile and link.protocol == profile.key
    assert type(link.control) is (LumbarControl if profile.key == "lumbar_imu" else DeviceControl)
    assert link.notify_uuids[0] == profile.data_uuid and link.has_gyro == profile.has_gyro


def test_the_default_control_picks_a_supported_rate_and_a_fresh_decoder_per_connection():
    link = ProfileLink(get_profile("movesense"), rate_hz=200, acc_range_g=16, gyr_range_dps=2000, describe="m")
    assert asyncio.run(link.configure(None, resume_ok=True)) is True  # type: ignore[arg-type]
    first = link.decoder
    assert link.rate_hz == pick_rate(get_profile("movesense").rates_hz, 200) and first is not None
    first.feed(b"\x00")  # a bad frame, counted by the first connection's decoder
    asyncio.run(link.configure(None, resume_ok=True))  # type: ignore[arg-type]
    assert link.decoder is not first and not link.decoder.tracks_sequence
    c = link.counts()
    assert c["truncated"] + c["corrupt"] + c["bad_other"] == 1  # kept across the reconnect
    assert link.settings()["protocol"] == "movesense" and link.units_as_recorded == {"t": "s"}


def test_our_sensor_is_stopped_configured_and_started_with_every_status_checked():
    dev = FakeLumbar(rate_hz=208, streaming=True)
    link = lumbar_link(416)
    assert asyncio.run(link.configure(dev, resume_ok=True)) is True  # type: ignore[arg-type]
    assert dev.commands == [codec.Opcode.STOP, codec.Opcode.SET_RATE, codec.Opcode.SET_RANGE]
    assert link.rate_hz == 416.0 and dev.config.acc_range_g == 16 and dev.config.gyr_range_dps == 2000
    assert isinstance(link.decoder, LumbarImuDecoder) and link.decoder.tracks_sequence
    assert link.settings() == {
        "protocol": "lumbar-imu v1",
        "acc_range_g": 16,
        "gyr_range_dps": 2000,
        "samples_per_packet": SPP,
    }
    assert link.units_as_recorded == {"acc": "g", "gyr": "dps", "t": "s"}
    assert set(link.device_info) == {"model", "serial", "firmware", "manufacturer"}
    assert link.notify_uuids == (codec.DATA_UUID,)
    asyncio.run(link.start(dev))  # type: ignore[arg-type]
    assert dev.commands[-1] == codec.Opcode.START and dev.config.streaming
    asyncio.run(link.stop(dev))  # type: ignore[arg-type]
    assert dev.commands[-1] == codec.Opcode.STOP and not dev.config.streaming


def test_our_sensor_keeps_its_stream_and_its_decoder_through_a_link_loss():
    dev = FakeLumbar()
    link = lumbar_link(None)  # the profile's default rate
    asyncio.run(link.configure(dev, resume_ok=True))  # type: ignore[arg-type]
    asyncio.run(link.start(dev))  # type: ignore[arg-type]
    decoder, n = link.decoder, len(dev.commands)
    assert link.rate_hz == get_profile("lumbar_imu").default_rate_hz
    # reconnected, still streaming with the same settings: resumed, nothing written
    assert asyncio.run(link.configure(dev, resume_ok=True)) is False  # type: ignore[arg-type]
    assert len(dev.commands) == n and link.decoder is decoder
    # after a stall the stream starts again, on the same decoder (one packet sequence)
    assert asyncio.run(link.configure(dev, resume_ok=False)) is True  # type: ignore[arg-type]
    assert dev.commands[n:] == [codec.Opcode.STOP, codec.Opcode.SET_RATE, codec.Opcode.SET_RANGE]
    assert link.decoder is decoder


def test_a_refused_command_ends_with_the_sensors_status():
    dev = FakeLumbar()
    dev.refuse[codec.Opcode.SET_RANGE] = codec.Status.BAD_ARGUMENT
    with pytest.raises(SensorRefused, match=r"^LumbarIMU-1A2B refused the command 0x.. with status BAD_ARGUMENT; "):
        asyncio.run(lumbar_link().configure(dev, resume_ok=True))  # type: ignore[arg-type]


def test_a_sensor_that_comes_back_at_another_rate_is_refused():
    dev = FakeLumbar()
    link = lumbar_link(416)
    asyncio.run(link.configure(dev, resume_ok=True))  # type: ignore[arg-type]
    dev.forced_rate_hz = 208
    with pytest.raises(SensorRefused, match=r"came back at 208 Hz instead of 416 Hz; a recording keeps one rate"):
        asyncio.run(link.configure(dev, resume_ok=False))  # type: ignore[arg-type]


def test_our_decoders_holes_and_counters_go_through_as_they_are():
    """Loss, duplicates and reconnects come from the packet sequence, not from the times."""
    dev = FakeLumbar()
    link = lumbar_link(416)
    asyncio.run(link.configure(dev, resume_ok=True))  # type: ignore[arg-type]
    seqs = [0, 1, 1, 3, 4, 5, 6, 7, 8]  # a duplicate, and packet 2 lost
    out = [link.feed(packet(s, 416.0), codec.DATA_UUID, 10.0 + 0.02 * s) for s in seqs]
    out.append(link.link_lost(10.3))
    got = DecodedSamples.concat(out)
    assert got.n_samples == 8 * SPP
    assert got.samples_lost == (SPP,) and got.reasons == ("loss",)
    assert int(np.flatnonzero(got.gap_before)[0]) == 2 * SPP
    c = link.counts()
    assert (c["packets_ok"], c["packets_lost"], c["duplicated"]) == (8, 1, 1)
    # the same sensor after a reconnect: the new segment is declared, no new clock epoch
    after = DecodedSamples.concat(
        [link.feed(packet(s, 416.0), codec.DATA_UUID, 11.0 + 0.02 * s) for s in (20, 21)] + [link.flush()]
    )
    assert after.n_samples == 2 * SPP and after.reasons[:1] == ("reconnect",)
    assert np.allclose(np.diff(after.t_s[:SPP]), 1 / 416, rtol=0, atol=1e-6)  # device time, in us
