"""The MetaWear logger route against MbientLab's own test vectors.

Bytes and expected values below are quoted from mbientlab/MetaWear-SDK-Cpp:
``test/test_logging.py`` (commands) and ``test/logdata.py`` (``Bmi160Accelerometer``: the first
17 readout notifications, the first 14 expected values and 13 expected time offsets;
``Bmi160GyroYAxis``: the first 10 notifications and 20 expected values).
"""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import metawear_log as mw
from firmware_protocol.devices.metawear import ACC_LSB_PER_G, GYR_LSB_PER_DPS
from gait.errors import GaitInputError

ACC_READOUT = [
    "0b07a0e6420000f5003d01a1e6420000dd0f0000",
    "0b07a0f44200001f011601a1f4420000fe0f0000",
    "0b07a00f430000ff00b100a10f43000009100000",
    "0b07a01c430000d300b700a11c4300006b100000",
    "0b07a02a4300000d019900a12a43000046100000",
    "0b07a0374300002a01c9ff",
    "0b0d",
    "0b07a13743000031100000a0454300001201e4fd",
    "0b07a1454300008f110000a0524300002e02c3ff",
    "0b07a152430000a21b0000a05f4300006906e808",
    "0b07a160430000f7280000a06d430000b608fe0a",
    "0b07a16d43000032290000a07a4300004608a808",
    "0b07a17b43000061240000a088430000d206a204",
    "0b07a188430000591c0000a0954300000704 99ff".replace(" ", ""),
    "0b07a19543000099120000a0a34300003a0102fd",
    "0b082d020000",
    "0b07a1a343000002070000a0b04300008ffd60f9",
]
ACC_EXPECTED_G = [
    (0.0598, 0.0774, 0.9915),
    (0.0701, 0.0679, 0.9995),
    (0.0623, 0.0432, 1.0022),
    (0.0515, 0.0447, 1.0261),
    (0.0657, 0.0374, 1.0171),
    (0.0728, -0.0134, 1.0120),
    (0.0669, -0.1318, 1.0974),
    (0.1362, -0.0149, 1.7271),
    (0.4006, 0.5566, 2.5603),
    (0.5444, 0.6870, 2.5747),
    (0.5171, 0.5410, 2.2737),
    (0.4263, 0.2896, 1.7717),
    (0.2517, -0.0251, 1.1624),
    (0.0767, -0.1870, 0.4380),
]
ACC_EXPECTED_OFFSETS_MS = [20, 40, 19, 21, 19, 20, 19, 21, 19, 20, 19, 19, 21]

GYR_Y_READOUT = [
    "0b0740 22df0400 f9ff0000 40 3ddf0400 feff0000",
    "0b0740 59df0400 10000000 40 74df0400 0b000000",
    "0b0740 90df0400 fcff0000 40 abdf0400 08000000",
    "0b0740 c7df0400 fdff0000 40 e2df0400 06000000",
    "0b0740 fedf0400 11000000 40 19e00400 c1fc0000",
    "0b0740 35e00400 84ff0000 40 50e00400 3c060000",
    "0b0740 6ce00400 ce0b0000 40 88e00400 4cff0000",
    "0b0740 a3e00400 56fd0000 40 bfe00400 10ff0000",
    "0b0740 dae00400 3ffe0000 40 f6e00400 45fd0000",
    "0b0740 11e10400 86010000 40 2de10400 3afe0000",
]
GYR_Y_EXPECTED_DPS = [
    -0.053, -0.015, 0.122, 0.084, -0.030, 0.061, -0.023, 0.046, 0.130, -6.334,
    -0.945, 12.165, 23.034, -1.372, -5.198, -1.829, -3.422, -5.328, 2.973, -3.460,
]  # fmt: skip


def hexes(lines: list[str]) -> list[bytes]:
    return [bytes.fromhex(line.replace(" ", "")) for line in lines]


class TestCommands:
    """test_logging.py: TestLoggingModule, TestLogDownload.test_download, TestLoggerSetup,
    TestSensorFusionLogging, TestLogTimestamp."""

    def test_start_stop_clear(self):
        assert mw.start_commands(overwrite=True) == (bytes([0x0B, 0x0B, 0x01]), bytes([0x0B, 0x01, 0x01]))
        assert mw.start_commands(overwrite=False) == (bytes([0x0B, 0x0B, 0x00]), bytes([0x0B, 0x01, 0x01]))
        assert mw.stop_command() == bytes([0x0B, 0x01, 0x00])
        assert mw.clear_entries_command() == bytes([0x0B, 0x09, 0xFF, 0xFF, 0xFF, 0xFF])

    def test_download_sequence(self):
        # the board answered 0B 85 with 414 entries; 20 progress updates asked for
        assert mw.download_commands(n_entries=0x019E, n_updates=20) == (
            bytes([0x0B, 0x08, 0x01]),
            bytes([0x0B, 0x0D, 0x01]),
            bytes([0x0B, 0x07, 0x01]),
            bytes([0x0B, 0x85]),
            bytes([0x0B, 0x06, 0x9E, 0x01, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00]),
        )
        r = mw.LogReadout(loggers=(0,), sample_bytes=4)
        assert r.feed(bytes([0x0B, 0x0D])) == bytes([0x0B, 0x0E]) == mw.PAGE_ACK

    def test_logger_setup_and_removal(self):
        acc = [mw.logger_setup_command(module=0x03, register=0x04, offset=0, length=4),
               mw.logger_setup_command(module=0x03, register=0x04, offset=4, length=2)]  # fmt: skip
        assert acc == [bytes([0x0B, 0x02, 0x03, 0x04, 0xFF, 0x60]), bytes([0x0B, 0x02, 0x03, 0x04, 0xFF, 0x24])]
        assert mw.remove_logger_command(0) == bytes([0x0B, 0x03, 0x00])
        quaternion = [mw.logger_setup_command(module=0x19, register=0x07, offset=o, length=4) for o in (0, 4, 8, 12)]
        assert [c[-1] for c in quaternion] == [0x60, 0x64, 0x68, 0x6C]

    def test_time_reference(self):
        ref = mw.parse_time_reference(bytes([0x0B, 0x84, 0xA9, 0x72, 0x04, 0x00, 0x01]))
        assert ref == mw.TimeReference(tick=0x000472A9, reset_uid=1)

    def test_exceptions(self):
        with pytest.raises(GaitInputError, match=r"0 \.\. 3"):
            mw.logger_setup_command(module=3, register=4, length=5)
        with pytest.raises(GaitInputError, match="not a time reference"):
            mw.parse_time_reference(b"\x0b\x85\x00\x00\x00\x00\x00")
        with pytest.raises(GaitInputError, match="bad readout notification"):
            mw.LogReadout(loggers=(0,), sample_bytes=2).feed(b"\x0b\x07\x00\x00")
        with pytest.raises(GaitInputError, match="bad logger layout"):
            mw.LogReadout(loggers=(0,), sample_bytes=6)


class TestReadout:
    def test_accelerometer_values(self):
        """Two loggers (x y, then z) paired into samples; +-8 g (logdata.py Bmi160Accelerometer)."""
        r = mw.LogReadout(loggers=(0, 1), sample_bytes=6)
        acks = [r.feed(n) for n in hexes(ACC_READOUT)]
        assert acks.count(mw.PAGE_ACK) == 1 and r.pages_done == 1 and r.entries_left == 0x022D
        _, counts = r.samples()
        assert counts.shape == (14, 3) and r.n_samples == 14
        np.testing.assert_allclose(counts / ACC_LSB_PER_G[8], ACC_EXPECTED_G, atol=5e-5)

    def test_accelerometer_time_offsets(self):
        """The SDK's time offsets between samples (ms): ticks of 48/32768 ms, each sample at the
        tick of its last logger's entry (the first logger's would miss the 8th offset)."""
        r = mw.LogReadout(loggers=(0, 1), sample_bytes=6)
        for n in hexes(ACC_READOUT):
            r.feed(n)
        ticks, _ = r.samples()
        ms = np.rint(ticks.astype(np.float64) * mw.TICK_S * 1000)
        np.testing.assert_array_equal(np.diff(ms), ACC_EXPECTED_OFFSETS_MS)

    def test_gyroscope_axis_values(self):
        """One logger of 2 bytes (the y axis) at +-250 deg/s (logdata.py Bmi160GyroYAxis)."""
        r = mw.LogReadout(loggers=(0,), sample_bytes=2)
        for n in hexes(GYR_Y_READOUT):
            r.feed(n)
        _, counts = r.samples()
        np.testing.assert_allclose(counts[:, 0] / GYR_LSB_PER_DPS[250], GYR_Y_EXPECTED_DPS, atol=1e-3)
        assert r.unknown == []

    def test_unknown_entry(self):
        """test_logging.py TestLogDownload.test_unknown_entry: logger 1, data 0x016C."""
        r = mw.LogReadout(loggers=(0,), sample_bytes=4)
        r.feed(bytes.fromhex("0b07a1cc4d00006c010000"))
        (e,) = r.unknown
        assert (e.logger_id, int.from_bytes(e.data, "little"), e.reset_uid) == (1, 0x016C, 5)

    def test_other_notifications_are_ignored(self):
        r = mw.LogReadout(loggers=(0,), sample_bytes=2)
        assert r.feed(bytes([0x03, 0x04, 1, 2, 3, 4, 5, 6])) is None and r.n_samples == 0
