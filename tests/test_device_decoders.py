"""Decoders of commodity IMUs, checked against the vendors' own published vectors where they
exist (each quoted with the file it comes from), else by round trips against encoders written
from the vendor's parser; and the device profiles behind ``identify``."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import codec
from firmware_protocol.devices import (
    DecodedSamples,
    FrameError,
    LumbarImuDecoder,
    MetaWearDecoder,
    MovesenseDecoder,
    PolarPmdDecoder,
    WitMotionDecoder,
    metawear,
    movesense,
    normalize_uuid,
    polar,
    witmotion,
)
from firmware_protocol.profiles import PROFILES, get_profile, identify
from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError

VECTORS = Path(__file__).resolve().parents[1] / "firmware_protocol" / "vectors" / "vectors.json"


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


# ---------------------------------------------------------------------------------------
# Polar PMD: vectors from polarofficial/polar-ble-sdk
# ---------------------------------------------------------------------------------------
# sources/Android/android-communications/library/src/test/java/com/polar/androidcommunications/
#   api/ble/model/gatt/client/pmd/model/AccDataTest.kt, "process acc raw data frame type 1"
ACC_RAW_TYPE1_HEADER = h("02 00 94 35 77 00 00 00 00 01")
ACC_RAW_TYPE1_CONTENT = h(
    "F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03 F9 FF FF FF E5 03"
    " F8 FF FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03 FA FF FF FF E5 03 F8 FF FF FF E6 03"
    " F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF FE FF E7 03 F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03"
    " F9 FF FF FF E5 03 F9 FF FF FF E5 03 FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF FF FF E6 03 F8 FF FF FF E5 03"
    " F9 FF FF FF E6 03 F9 FF FF FF E5 03 FA FF FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03"
    " F9 FF FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF FE FF E6 03 F7 FF FE FF E6 03"
)
# same file, "process acc compressed data type 0" (Verity Sense delta frame, factor 2.44E-4)
ACC_DELTA_TYPE0_HEADER = h("02 00 94 35 77 00 00 00 00 80")
ACC_DELTA_TYPE0_CONTENT = h(
    "71 07 F0 6A 9E 8D 0A 38 BE 5C BE BA 2F 96 B3 EE 4B E5 AD FB 42 B9 EB BE 4C FE BA 2F 92 BF EE 4B E4 B1 FB 12"
    " B9 EC BD 3C 3E BB 2F 8F D3 DE 4B E3 B5 F7 D2 B8 ED BD 30 7E 7B 2F 8B E3 CE 8B E2 BA F7 A2 B8 EE BC 20 BE 7B"
    " 2F 88 F3 CE CB E1 BD EF 52 F8 EF BC 18 FE 3B 2F 84 03 BF CB E0 C2 EF 32 B8 F0 BB 04 4E BC 2E 81 13 AF 0B E0"
    " C6 EF F2 F7 F1 B9 FC 7D BC 2E 7D 27 9F 4B DF CA EB C2 F7 F2 B8 EC CD 7C 2E 7B 37 8F 4B DE CE E3 92 F7 F3 B8"
    " E0 0D FD 2D 77 4B 7F CB DD D2 DF 62 37 F5 B7 D4 4D BD 2D 74 5B 6F CB DC D7 D7 32 37 F6 B5 C8 8D 7D 2D 71 6B"
    " 4F 4B DC DC D3 F2 36 F7 B4 BC DD FD 2C 6F 7B 3F 4B DB E0 CF D2 36 F8 B2 B0 2D BE 2C 6C 8F 1F CB DA E3 C7 A2"
    " 76 F9"
)
# same file, "process acc compressed data type 1"
ACC_DELTA_TYPE1 = h("02 65 00 00 00 00 00 00 00 81") + h("F1 FF 14 00 F0 03 06 01 7B 0F 08")
# .../pmd/model/GyrDataTest.kt, "process gyro compressed data type 0"
GYR_DELTA_TYPE0 = h("05 FF FF FF FF FF FF FF 7F 80") + h("EA FF 08 00 0D 00 03 01 DF 00")
# same file, "process gyro compressed data type 1" (float32 bit patterns)
GYR_DELTA_TYPE1 = h("05 00 94 35 77 00 00 00 00 81") + h(
    "00 00 80 3F 00 00 20 41 00 00 A0 41 1C 01 00 00 A0 01 00 00 08 CD CC EC 0D"
)


def f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]


class TestPolarVendorVectors:
    def test_acc_raw_type1(self):
        dec = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        meas, t_ns, mg = dec.decode_frame(ACC_RAW_TYPE1_HEADER + ACC_RAW_TYPE1_CONTENT, previous_ns=0)
        assert meas == polar.MEAS_ACC
        assert mg.shape == (len(ACC_RAW_TYPE1_CONTENT) // 6, 3)
        np.testing.assert_array_equal(mg[0], [-9, -1, 999])
        np.testing.assert_array_equal(mg[1], [-8, -2, 997])
        assert t_ns[-1] == 2_000_000_000  # the frame time stamp is the last sample's
        np.testing.assert_allclose(np.diff(t_ns), 1e9 / 52, atol=1)  # first frame: spaced by the rate

    def test_acc_delta_type0_with_factor(self):
        factor = np.float32(2.44e-4)
        dec = PolarPmdDecoder(with_gyro=False, acc_factor=float(factor))
        _, t_ns, mg = dec.decode_frame(ACC_DELTA_TYPE0_HEADER + ACC_DELTA_TYPE0_CONTENT, previous_ns=100)
        assert mg.shape == (1 + 56, 3)
        s0 = np.array([1905, 27376, -29282])
        s1 = s0 + np.array([190, -105, -85])
        # the SDK truncates factor * sample * 1000 to an int; we keep the fraction
        np.testing.assert_allclose(mg[0], s0 * factor * 1000, atol=1e-3)
        np.testing.assert_allclose(mg[1], s1 * factor * 1000, atol=1e-3)
        assert np.all(np.abs(mg) <= 8 * 1000)  # "validate data in range" (8 g)
        delta = (2_000_000_000 - 100) / 57
        assert t_ns[0] == round(100 + delta) and t_ns[-1] == 2_000_000_000

    def test_acc_delta_type1(self):
        dec = PolarPmdDecoder(with_gyro=False)
        _, t_ns, mg = dec.decode_frame(ACC_DELTA_TYPE1, previous_ns=100)
        np.testing.assert_array_equal(mg, [[-15, 20, 1008], [-20, 17, 1008]])
        np.testing.assert_array_equal(t_ns, [100, 101])

    def test_gyr_delta_type0(self):
        dec = PolarPmdDecoder()
        meas, t_ns, dps = dec.decode_frame(GYR_DELTA_TYPE0, previous_ns=100)
        assert meas == polar.MEAS_GYRO
        np.testing.assert_array_equal(dps, [[-22, 8, 13], [-23, 11, 16]])
        assert t_ns[-1] == 9223372036854775807

    @pytest.mark.parametrize("factor", [1.0, 0.5])
    def test_gyr_delta_type1_float(self, factor):
        dec = PolarPmdDecoder(gyr_factor=factor)
        _, t_ns, dps = dec.decode_frame(GYR_DELTA_TYPE1, previous_ns=100)
        s0 = [f32(0x3F800000), f32(0x41200000), f32(0x41A00000)]
        s1 = [f32(0x3F800000 + 0x1A00000), f32(0x41200000 + 0x0800000), f32(0x41A00000 + 0xFDECCCCD)]
        np.testing.assert_array_equal(dps, factor * np.array([s0, s1], dtype=np.float32).astype(np.float64))
        assert t_ns[-1] == 2_000_000_000

    def test_ios_delta_example(self):
        # sources/iOS/ios-communications/Tests/iOSCommunicationsTests/BlePmdClientTest.swift,
        # testParseDeltaFramesToSamples_withValidData_shouldReturnSamples
        data = h("64 00 C8 00 2C 01") + h("08 01") + h("01 02 03")
        np.testing.assert_array_equal(
            polar.parse_delta_samples(data, channels=3, resolution_bits=16), [[100, 200, 300], [101, 202, 303]]
        )
        # ...withOnlyRefSamples_shouldReturnRefSamplesOnly
        np.testing.assert_array_equal(
            polar.parse_delta_samples(h("0A 00 14 00 1E 00"), channels=3, resolution_bits=16), [[10, 20, 30]]
        )

    def test_deviations_from_the_sdks_are_loud(self):
        """Where the iOS SDK silently skips a zero-width block or a cut header, we reject the frame."""
        ref = h("64 00 C8 00 2C 01")
        with pytest.raises(
            FrameError, match=exact("parameter 'data': bad delta bit width; expected 1 .. 32 bits, found 0")
        ):
            polar.parse_delta_samples(ref + h("00 01"), channels=3, resolution_bits=16)
        with pytest.raises(
            FrameError,
            match=exact(
                "parameter 'data': truncated delta block header; expected 2 bytes (bit width, count), found 1 byte"
            ),
        ):
            polar.parse_delta_samples(ref + h("08"), channels=3, resolution_bits=16)
        with pytest.raises(
            FrameError,
            match=exact("parameter 'data': truncated reference sample; expected at least 6 bytes, found 2 bytes"),
        ):
            polar.parse_delta_samples(h("01 02"), channels=3, resolution_bits=16)
        with pytest.raises(
            FrameError, match=exact("parameter 'data': truncated delta block; expected 3 bytes, found 2 bytes")
        ):
            polar.parse_delta_samples(ref + h("08 01 01 02"), channels=3, resolution_bits=16)

    def test_timestamps_match_pmd_timestamp_utils(self):
        # PmdTimeStampUtils.getTimeStamps: previous frame known, or rate for the first frame
        np.testing.assert_array_equal(polar.sample_timestamps_ns(100, 101, 2, 0), [100, 101])
        np.testing.assert_array_equal(
            polar.sample_timestamps_ns(0, 10_000_000_000, 3, 100), [9_980_000_000, 9_990_000_000, 10_000_000_000]
        )
        with pytest.raises(
            FrameError,
            match=exact("parameter 'data': time stamps go backwards; expected a frame time after 500 ns, found 400 ns"),
        ):
            polar.sample_timestamps_ns(500, 400, 2, 52)
        with pytest.raises(
            FrameError,
            match=exact(
                "parameter 'data': negative sample times; expected a frame time >= the frame's duration, found 101 ns"
            ),
        ):
            polar.sample_timestamps_ns(0, 101, 2, 52)


class TestPolarDecoder:
    def test_h10_raw_stream_in_si(self):
        dec = PolarPmdDecoder(rate_hz=200, with_gyro=False)
        mg = np.array([[0, 0, 1000], [10, -20, 990]])
        out = dec.feed(polar.encode_raw_acc_frame(mg, timestamp_ns=10_000_000_000))
        assert out.gyr_rads is None
        np.testing.assert_allclose(out.acc_mps2, mg * 1e-3 * G)
        np.testing.assert_allclose(out.t_s, [9.995, 10.0])
        out = dec.feed(polar.encode_raw_acc_frame(mg, timestamp_ns=10_010_000_000))
        np.testing.assert_allclose(out.t_s, [10.005, 10.01])  # spacing from the previous frame

    def test_verity_merges_gyro_onto_acc_times(self):
        dec = PolarPmdDecoder(rate_hz=52)
        t_acc = 5_000_000_000
        acc = np.array([[0, 0, 1000]] * 4 + [[5, 5, 1005]] * 4)
        gyr = np.array([[10, 0, -10]] * 8)
        acc_frame = bytes([2]) + struct.pack("<Q", t_acc) + b"\x81" + polar.encode_delta_frame(acc)
        gyr_frame = bytes([5]) + struct.pack("<Q", t_acc + 1_000_000) + b"\x80" + polar.encode_delta_frame(gyr)
        assert dec.feed(acc_frame).n_samples == 0  # waits for the gyroscope
        out = dec.feed(gyr_frame)
        assert out.n_samples >= 7
        np.testing.assert_allclose(out.gyr_rads, np.array([[10, 0, -10]] * out.n_samples) * RAD_PER_DEG)
        np.testing.assert_allclose(out.acc_mps2[-1], np.array([5, 5, 1005]) * 1e-3 * G)

    def test_factor_from_the_control_point(self):
        dec = PolarPmdDecoder(with_gyro=False)
        response = bytes([0xF0, 0x02, 0x02, 0x00, 0x00]) + bytes([polar.SETTING_FACTOR, 1]) + struct.pack("<f", 2.44e-4)
        assert dec.feed(response, characteristic=polar.CONTROL_UUID).n_samples == 0
        assert dec.factor[polar.MEAS_ACC] == pytest.approx(2.44e-4)
        parsed = polar.parse_control_response(response)
        assert parsed.status == 0 and parsed.measurement_type == 2

    def test_control_response_vendor_vector(self):
        # .../gatt/client/pmd/BlePmdClientControlPointResponseTest.kt
        parsed = polar.parse_control_response(h("F0 01 02 00 00 FF FF FF"))
        assert (parsed.opcode, parsed.measurement_type, parsed.status, parsed.more) == (1, 2, 0, False)
        assert polar.parse_control_response(h("F0 01 06 07 00")).status == 7

    def test_other_measurements_are_ignored_and_bad_frames_counted(self):
        dec = PolarPmdDecoder(with_gyro=False)
        dec.feed(h("00 00 94 35 77 00 00 00 00 00") + b"\x01\x02\x03")  # ECG
        dec.feed(h("02 00 94"))  # iOS testProcessPmdData_tooShortFrame
        dec.feed(ACC_RAW_TYPE1_HEADER + h("01 02 03 04 05"))  # misaligned raw content
        dec.feed(h("02 00 94 35 77 00 00 00 00 07") + b"\x00" * 6)  # unknown raw type
        s = dec.stats
        assert (s.frames_ok, s.frames_ignored, s.frames_bad) == (0, 1, 3)
        assert s.bad == {"truncated": 2, "frame_type": 1}

    def test_commands(self):
        (sdk, acc, gyr) = polar.verity_start(rate_hz=208)
        assert sdk == b"\x02\x09"
        assert acc == h("02 02 00 01 D0 00 01 01 10 00 02 01 10 00 04 01 03")
        assert gyr == h("02 05 00 01 D0 00 01 01 10 00 02 01 D0 07 04 01 03")
        assert polar.h10_start(rate_hz=200) == (h("02 02 00 01 C8 00 01 01 10 00 02 01 08 00"),)
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'rate_hz': unsupported rate; expected one of 25, 50, 100, 200 Hz, found 400"),
        ):
            polar.h10_start(rate_hz=400)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.lists(st.integers(-30000, 30000), min_size=3, max_size=3), min_size=1, max_size=60))
    def test_delta_round_trip(self, samples):
        s = np.array(samples)
        np.testing.assert_array_equal(
            polar.parse_delta_samples(polar.encode_delta_frame(s), channels=3, resolution_bits=16), s
        )


# ---------------------------------------------------------------------------------------
# MbientLab MetaWear: vectors from mbientlab/MetaWear-SDK-Cpp
# ---------------------------------------------------------------------------------------
class TestMetaWearVendorVectors:
    def test_acceleration_4g(self):
        # test/test_accelerometer_bmi160.py, TestBmi160AccelerationData.test_get_acceleration_data_g
        # (the same bytes and values in test_accelerometer_bmi270.py)
        out = MetaWearDecoder(acc_range_g=4, with_gyro=False).feed(h("03 04 16 c4 94 a2 2a d0"))
        np.testing.assert_allclose(out.acc_mps2 / G, [[-1.872, -2.919, -1.495]], atol=1e-3)

    @pytest.mark.parametrize("register", ["1c", "05"])  # BMI160 (test_accelerometer_bmi160.py) and BMI270 packed
    def test_packed_acceleration_8g(self, register):
        # TestBmi160HighFreqAccData / TestBmi270HighFreqAccData.test_get_acceleration_data_g
        frame = h(f"03 {register} 62 b7 53 0d e9 fd 16 d0 4d 0e 57 02 8a ff a1 05 0a 01")
        out = MetaWearDecoder(acc_range_g=8, with_gyro=False).feed(frame)
        expected = [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]]
        np.testing.assert_allclose(out.acc_mps2 / G, expected, atol=1e-3)

    def test_rotation_500dps(self):
        # test/test_gyro_bmi160.py, TestGyroBmi160DataHandler.test_rotation_data_handler
        dec = MetaWearDecoder(gyr_range_dps=500)
        dec.feed(h("03 04 00 00 00 00 00 08"))
        out = dec.feed(h("13 05 3e 43 ff 7f 00 80"))
        np.testing.assert_allclose(out.gyr_rads / RAD_PER_DEG, [[262.409, 499.497, -499.512]], atol=1e-3)

    def test_packed_rotation_1000dps(self):
        # test/test_gyro_bmi160.py, TestGyroBmi160HighFreqDataHandler.test_rotation_data_handler
        dec = MetaWearDecoder(gyr_range_dps=1000, rate_hz=100)
        dec.feed(metawear.encode_frame(0x03, 0x1C, np.zeros((3, 3))))
        out = dec.feed(h("13 07 09 15 ad 26 08 de 8a 1a 0d 26 65 e4 8d 20 ac 27 73 ec"))
        expected = [[164.177, 301.860, -265.122], [207.134, 296.982, -215.457], [254.055, 309.634, -152.591]]
        np.testing.assert_allclose(out.gyr_rads / RAD_PER_DEG, expected, atol=1e-3)
        np.testing.assert_allclose(out.t_s, [0.0, 0.01, 0.02])

    def test_command_bytes(self):
        cmds = metawear.start_commands(rate_hz=200, acc_range_g=8, gyr_range_dps=250, chip="bmi160")
        assert cmds[0] == bytes([0x03, 0x03, 0x29, 0x08])  # test_set_odr_and_range (BMI160)
        assert cmds[1] == bytes([0x13, 0x03, 0x29, 0x03])  # odr as test_mbl_mw_gyro_bmi160_set_odr, range as _set_fsr
        assert cmds[2] == bytes([0x03, 0x1C, 0x01])  # TestBmi160HighFreqAccData.test_subscribe
        assert cmds[3] == bytes([0x13, 0x07, 0x01])  # TestGyroBmi160HighFreqDataHandler.test_subscribe_rotation_data
        assert cmds[4] == bytes([0x03, 0x02, 0x01, 0x00])  # test_enable_acceleration_sampling
        assert cmds[5] == bytes([0x13, 0x02, 0x01, 0x00])  # test_enable_rotation_sampling
        assert cmds[6] == bytes([0x13, 0x01, 0x01])  # test_gyro_active
        assert metawear.start_commands(rate_hz=50, gyr_range_dps=125)[1] == bytes(
            [0x13, 0x03, 0x27, 0x04]
        )  # set_all_config
        bmi270 = metawear.start_commands(rate_hz=200, acc_range_g=8, chip="bmi270")
        assert bmi270[0] == bytes([0x03, 0x03, 0xA9, 0x02])  # test_accelerometer_bmi270.py test_set_odr_and_range
        assert bmi270[2] == bytes([0x03, 0x05, 0x01])  # TestBmi270HighFreqAccData.test_subscribe
        assert metawear.stop_commands()[2] == bytes([0x03, 0x02, 0x00, 0x01])  # test_disable_acceleration_sampling
        assert metawear.stop_commands()[1] == bytes([0x13, 0x01, 0x00])  # test_gyro_standby


class TestMetaWearDecoder:
    def test_pairs_by_index(self):
        dec = MetaWearDecoder(rate_hz=100, acc_range_g=16, gyr_range_dps=2000)
        acc = np.arange(18).reshape(6, 3)
        assert dec.feed(metawear.encode_frame(0x03, 0x1C, acc[:3])).n_samples == 0
        assert dec.feed(metawear.encode_frame(0x03, 0x1C, acc[3:])).n_samples == 0
        out = dec.feed(metawear.encode_frame(0x13, 0x07, -acc[:3]))
        np.testing.assert_allclose(out.acc_mps2, acc[:3] / 2048 * G)
        np.testing.assert_allclose(out.gyr_rads, -acc[:3] / 16.4 * RAD_PER_DEG)
        out = dec.feed(metawear.encode_frame(0x13, 0x07, -acc[3:]))
        np.testing.assert_allclose(out.t_s, [0.03, 0.04, 0.05])

    def test_bad_and_other_frames(self):
        dec = MetaWearDecoder()
        dec.feed(h("03"))
        dec.feed(h("03 1c 00 00"))
        dec.feed(h("11 0a 00"))  # settings module response: ignored
        assert dec.stats.bad == {"truncated": 1, "length": 1} and dec.stats.frames_ignored == 1
        with pytest.raises(
            FrameError,
            match=exact(
                "parameter 'data': bad MetaWear data length; expected 8 bytes (one sample) or 20 bytes (three packed samples), found 4 bytes for module 0x03 register 0x1C"
            ),
        ):
            MetaWearDecoder(errors="raise").feed(h("03 1c 00 00"))

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'acc_range_g': unsupported value; expected one of 2, 4, 8, 16, found 3"),
        ):
            MetaWearDecoder(acc_range_g=3)
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'chip': invalid value; expected 'bmi160' or 'bmi270', found 'bmi088'"),
        ):
            metawear.start_commands(chip="bmi088")


# ---------------------------------------------------------------------------------------
# WitMotion: no vendor byte vectors; the vendor parser's arithmetic and round trips
# ---------------------------------------------------------------------------------------
def vendor_wit_parse(frame: bytes) -> list[float]:
    """WITMOTION/WitBluetooth_BWT901BLE5_0 Python/BWT901BLE5.0_python_sdk/device_model.py,
    DeviceModel.processData: the same arithmetic, on the 18 bytes after 0x55 0x61."""
    b = frame[2:]

    def s16(v):
        return v - 65536 if v >= 32768 else v

    out = [s16(b[2 * i + 1] << 8 | b[2 * i]) for i in range(9)]
    return [v / 32768 * 16 for v in out[:3]] + [v / 32768 * 2000 for v in out[3:6]]


class TestWitMotion:
    FRAME = h("55 61 00 01 00 ff 00 08 10 00 f0 ff 00 40 00 00 00 00 00 00")

    def test_agrees_with_the_vendor_parser(self):
        out = WitMotionDecoder(rate_hz=100).feed(self.FRAME)
        ref = vendor_wit_parse(self.FRAME)
        np.testing.assert_allclose(out.acc_mps2[0] / G, ref[:3])
        np.testing.assert_allclose(out.gyr_rads[0] / RAD_PER_DEG, ref[3:])
        np.testing.assert_allclose(out.acc_mps2[0] / G, [0.125, -0.125, 1.0])

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.tuples(*[st.floats(-15.9, 15.9)] * 3, *[st.floats(-1999, 1999)] * 3), min_size=1, max_size=10),
        st.integers(1, 19),
    )
    def test_round_trip_any_split(self, rows, cut):
        stream = b"".join(witmotion.encode_frame(r[:3], r[3:]) for r in rows)
        dec = WitMotionDecoder(rate_hz=50)
        out = DecodedSamples.concat([dec.feed(stream[i : i + cut]) for i in range(0, len(stream), cut)])
        assert out.n_samples == len(rows)
        np.testing.assert_allclose(out.acc_mps2 / G, [r[:3] for r in rows], atol=16 / 32768)
        np.testing.assert_allclose(out.gyr_rads / RAD_PER_DEG, [r[3:] for r in rows], atol=2000 / 32768)
        np.testing.assert_allclose(out.t_s, np.arange(len(rows)) / 50)
        assert dec.stats.frames_bad == 0

    def test_register_replies_skipped_and_garbage_counted(self):
        dec = WitMotionDecoder()
        out = dec.feed(b"\x55\x71" + bytes(18) + self.FRAME + b"\x00\x13" + self.FRAME)
        assert out.n_samples == 2 and dec.stats.bad == {"resync": 1}
        assert dec.feed(b"\x01\x02\x03").n_samples == 0 and dec.stats.bad == {"resync": 2}

    def test_rate_commands(self):
        assert witmotion.rate_commands(rate_hz=100) == (h("FF AA 69 88 B5"), h("FF AA 03 09 00"), h("FF AA 00 00 00"))
        assert witmotion.rate_commands(rate_hz=200)[1] == h("FF AA 03 0B 00")
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'rate_hz': unsupported rate; expected one of 10, 20, 50, 100, 200 Hz, found 30"),
        ):
            witmotion.rate_commands(rate_hz=30)


# ---------------------------------------------------------------------------------------
# Movesense: no vendor byte vectors; round trips against the gatt_sensordata_app layout
# ---------------------------------------------------------------------------------------
class TestMovesense:
    def test_subscribe_bytes(self):
        # the sample client writes bytearray([1, 99]) + bytearray("/Meas/Acc/13", "utf-8")
        assert movesense.subscribe(rate_hz=208) == bytes([1, 99]) + b"/Meas/IMU6/208"
        assert movesense.subscribe(rate_hz=104, channels="IMU9", ref=7) == bytes([1, 7]) + b"/Meas/IMU9/104"
        assert movesense.unsubscribe() == bytes([2, 99])
        with pytest.raises(
            GaitInputError,
            match=exact(
                "parameter 'rate_hz': unsupported rate; expected one of 13, 26, 52, 104, 208, 416, 833, 1666 Hz, found 200"
            ),
        ):
            movesense.subscribe(rate_hz=200)

    def test_imu6(self):
        rng = np.random.default_rng(1)
        acc, gyr = rng.normal(0, 9, (8, 3)).astype(np.float32), rng.normal(0, 90, (8, 3)).astype(np.float32)
        (note,) = movesense.encode_imu(123_456, acc, gyr)
        out = MovesenseDecoder(rate_hz=208).feed(note)
        np.testing.assert_allclose(out.acc_mps2, acc)
        np.testing.assert_allclose(out.gyr_rads, gyr.astype(float) * RAD_PER_DEG)
        np.testing.assert_allclose(out.t_s, 123.456 + np.arange(8) / 208)

    def test_imu9_in_two_parts(self):
        acc, gyr, mag = np.ones((8, 3)), 2 * np.ones((8, 3)), 3 * np.ones((8, 3))
        parts = movesense.encode_imu(1000, acc, gyr, mag, mtu_payload=244)
        assert [p[0] for p in parts] == [2, 3]
        dec = MovesenseDecoder(rate_hz=104, channels="IMU9")
        assert dec.feed(parts[0]).n_samples == 0
        out = dec.feed(parts[1])
        np.testing.assert_allclose(out.acc_mps2, acc)
        np.testing.assert_allclose(out.gyr_rads, gyr * RAD_PER_DEG)

    def test_bad_and_ignored(self):
        dec = MovesenseDecoder(channels="IMU9")
        dec.feed(bytes([1, 99, 200]))  # command response
        dec.feed(bytes([2, 5]) + bytes(40))  # another subscription
        dec.feed(bytes([3, 99]) + bytes(10))  # part 2 without part 1
        dec.feed(bytes([9, 99]))  # unknown type
        dec.feed(b"\x02")
        assert dec.stats.frames_ignored == 2 and dec.stats.bad == {"orphan": 1, "type": 1, "truncated": 1}


# ---------------------------------------------------------------------------------------
# our protocol through the common interface
# ---------------------------------------------------------------------------------------
class TestLumbarProfile:
    def test_vectors(self):
        vs = json.loads(VECTORS.read_text())
        cfg = codec.decode_config(bytes.fromhex(next(v for v in vs if v["name"] == "config_416hz_16g_2000dps")["hex"]))
        dec = get_profile("lumbar_imu").make_decoder(config=cfg)
        out = dec.feed(bytes.fromhex(next(v for v in vs if v["name"] == "packet_one_sample")["hex"]))
        np.testing.assert_allclose(out.acc_mps2, [[0, 0, 2049 * 0.488e-3 * G]])
        dec.feed(b"\x01\x00")
        assert dec.stats.bad == {"truncated": 1} and dec.stream.stats.truncated == 1


# ---------------------------------------------------------------------------------------
# profiles and identify
# ---------------------------------------------------------------------------------------
class TestProfiles:
    @pytest.mark.parametrize(
        ("name", "services", "key"),
        [
            ("Polar Sense B5A3C42F", [], "polar_verity_sense"),
            ("Polar H10 8C4F2A21", ["180d", polar.SERVICE_UUID], "polar_h10"),
            (None, [polar.SERVICE_UUID.upper()], "polar_verity_sense"),
            ("MetaWear", [], "mbientlab_metamotion"),
            (None, ["326A9000-85CB-9195-D9DD-464CFBBAE75A"], "mbientlab_metamotion"),
            ("Movesense 174630000192", [], "movesense"),
            ("WT901BLE67", ["ffe5"], "witmotion_wt901ble"),
            ("LumbarIMU-1A2B", [codec.SERVICE_UUID], "lumbar_imu"),
            ("", ["0x180F", codec.SERVICE_UUID], "lumbar_imu"),
        ],
    )
    def test_identify(self, name, services, key):
        assert identify(name, services).key == key

    @pytest.mark.parametrize(("name", "services"), [(None, []), ("", []), ("Forerunner 265", ["180d"]), ("Polar", [])])
    def test_identify_empty_and_unknown(self, name, services):
        assert identify(name, services) is None

    def test_normalize_uuid(self):
        assert normalize_uuid("180D") == normalize_uuid("0x180d") == "0000180d-0000-1000-8000-00805f9b34fb"
        with pytest.raises(
            GaitInputError,
            match=exact(
                "parameter 'service_uuids': not a UUID; expected a 16-bit (180d), 32-bit or 128-bit (8-4-4-4-12 hex) UUID, found 'xyz'"
            ),
        ):
            identify("x", ["xyz"])

    def test_get_profile(self):
        assert get_profile("movesense").data_uuid == movesense.NOTIFY_UUID
        with pytest.raises(
            GaitInputError, match=r"^parameter 'key': unknown device profile; expected one of 'lumbar_imu', "
        ):
            get_profile("fitbit")

    @pytest.mark.parametrize("profile", [p for p in PROFILES if p.key != "lumbar_imu"], ids=lambda p: p.key)
    def test_every_profile_is_complete(self, profile):
        cmds = profile.start_commands(rate_hz=profile.default_rate_hz)
        assert all(isinstance(c, bytes) and c for c in cmds)
        assert all(isinstance(c, bytes) for c in profile.stop_commands)
        assert profile.default_rate_hz in profile.rates_hz
        dec = profile.make_decoder(rate_hz=profile.default_rate_hz)
        assert dec.has_gyro == profile.has_gyro and dec.profile_key == profile.key
        assert dec.feed(b"").n_samples == 0 and dec.flush().n_samples == 0
        for u in (profile.data_uuid, *profile.service_uuids):
            normalize_uuid(u)

    def test_keys_unique(self):
        assert len({p.key for p in PROFILES}) == len(PROFILES)

    @settings(max_examples=100, deadline=None)
    @given(
        st.sampled_from([p for p in PROFILES if p.key != "lumbar_imu"]), st.lists(st.binary(max_size=64), max_size=6)
    )
    def test_arbitrary_bytes_never_crash(self, profile, notes):
        dec = profile.make_decoder(rate_hz=profile.default_rate_hz)
        for n in notes:
            out = dec.feed(n)
            assert out.acc_mps2.shape == (out.n_samples, 3)
        s = dec.stats
        assert s.frames_ok + s.frames_ignored <= len(notes) and s.frames_bad <= len(notes)

    def test_feed_rejects_non_bytes(self):
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'data': not bytes; expected bytes, bytearray or memoryview, found str"),
        ):
            WitMotionDecoder().feed("55 61")  # type: ignore[arg-type]
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'errors': invalid value; expected 'count' or 'raise', found 'ignore'"),
        ):
            WitMotionDecoder(errors="ignore")


# ---------------------------------------------------------------------------------------
# bad input never reaches the output (each case found by a randomised campaign; the
# property-based version of all of them is tests/test_fuzz_decoders.py)
# ---------------------------------------------------------------------------------------
def polar_frame(meas: int, end_ns: int, samples, *, ftype: int = 0x80, resolution_bits: int = 16) -> bytes:
    s = np.asarray(samples, dtype=np.int64)
    if resolution_bits == 32:  # float32 bit patterns: deltas modulo 2^32, as the device codes them
        d = (np.diff(s, axis=0) + 2**31) % 2**32 - 2**31
        s = np.concatenate([s[:1], s[:1] + np.cumsum(d, axis=0)])
    body = polar.encode_delta_frame(s, resolution_bits=resolution_bits)
    return bytes([meas]) + struct.pack("<Q", end_ns) + bytes([ftype]) + body


def float_bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).view(np.int32).astype(np.int64)


def control(meas: int, factor: float) -> bytes:
    return bytes([0xF0, 0x02, meas, 0x00, 0x00, polar.SETTING_FACTOR, 1]) + struct.pack("<f", factor)


class TestPolarNeverEmitsBadSamples:
    PERIOD_NS = 1e9 / 52

    @pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
    def test_a_non_finite_float_gyroscope_sample_is_dropped_and_counted(self, special):
        dec = PolarPmdDecoder(rate_hz=52)
        t = 10_000_000_000
        gyr = np.full((6, 3), 5.0, dtype=np.float32)
        gyr[2, 1] = special
        assert dec.feed(polar_frame(polar.MEAS_GYRO, t, float_bits(gyr), ftype=0x81, resolution_bits=32)).n_samples == 0
        out = dec.feed(polar_frame(polar.MEAS_ACC, t, np.tile([0, 0, 1000], (6, 1)), ftype=0x81))
        assert out.n_samples == 6 and np.isfinite(out.gyr_rads).all()
        np.testing.assert_allclose(out.gyr_rads, 5.0 * RAD_PER_DEG)  # sample 2 interpolated from its neighbours
        assert dec.stats.nonfinite == 1 and dec.stats.frames_bad == 0
        # a frame without any finite sample is a bad frame and does not move the time base
        all_bad = polar_frame(
            polar.MEAS_GYRO,
            t + round(6 * self.PERIOD_NS),
            float_bits(np.full((6, 3), special)),
            ftype=0x81,
            resolution_bits=32,
        )
        assert dec.feed(all_bad).n_samples == 0
        assert dec.stats.bad == {"nonfinite": 1} and dec.stats.nonfinite == 7
        assert dec._previous_ns[polar.MEAS_GYRO] == t

    @pytest.mark.parametrize("factor", [np.nan, np.inf, -np.inf, 0.0, -2.44e-4, 1e30, 1e-30])
    def test_a_bad_factor_in_a_control_response_is_refused(self, factor):
        dec = PolarPmdDecoder(with_gyro=False)
        assert dec.feed(control(polar.MEAS_ACC, 2.44e-4), characteristic=polar.CONTROL_UUID).n_samples == 0
        dec.feed(control(polar.MEAS_ACC, factor), characteristic=polar.CONTROL_UUID)
        assert dec.stats.bad == {"factor": 1}
        assert dec.factor[polar.MEAS_ACC] == pytest.approx(2.44e-4), "the factor in force stays"
        out = dec.feed(polar_frame(polar.MEAS_ACC, 10**10, [[4096, 0, 0]], ftype=0x80))
        np.testing.assert_allclose(out.acc_mps2, [[4096 * np.float32(2.44e-4) * G, 0, 0]], rtol=1e-6)
        with pytest.raises(
            FrameError,
            match=exact(
                "parameter 'data': implausible scale factor; expected a finite factor in 1e-06 .. 10, found "
                + repr(float(np.float32(factor)))
            ),
        ):
            PolarPmdDecoder(errors="raise").feed(control(polar.MEAS_ACC, factor), characteristic=polar.CONTROL_UUID)

    def test_a_frame_decoded_with_a_bad_factor_is_refused_whole(self):
        dec = PolarPmdDecoder(with_gyro=False)
        dec.factor[polar.MEAS_ACC] = float("nan")  # only possible by assigning the attribute
        assert dec.feed(polar_frame(polar.MEAS_ACC, 10**10, [[1, 2, 3]])).n_samples == 0
        assert dec.stats.bad == {"factor": 1} and dec._previous_ns[polar.MEAS_ACC] == 0

    def test_the_constructor_checks_the_factors(self):
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'gyr_factor': out of range; expected a scale factor in 1e-06 .. 10, found nan"),
        ):
            PolarPmdDecoder(gyr_factor=float("nan"))

    def test_a_frame_with_a_bad_payload_does_not_move_the_time_base(self):
        """Was: the next frame's samples spread over both frames' time, up to 0.67 s early."""
        n, t0 = 36, 10_000_000_000
        frames = [polar_frame(polar.MEAS_ACC, t0 + round(k * n * self.PERIOD_NS), np.zeros((n, 3))) for k in range(3)]
        dec = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        dec.feed(frames[0])
        assert dec.feed(frames[1][:12]).n_samples == 0  # header fine, payload cut
        assert dec.stats.bad == {"truncated": 1} and dec._previous_ns[polar.MEAS_ACC] == t0
        out = dec.feed(frames[2])
        truth = (t0 + 2 * n * self.PERIOD_NS - self.PERIOD_NS * np.arange(n)[::-1]) * 1e-9
        np.testing.assert_allclose(out.t_s, truth, atol=2e-9)
        # the same as a frame lost on the air
        lost = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        lost.feed(frames[0])
        np.testing.assert_array_equal(lost.feed(frames[2]).t_s, out.t_s)

    def test_contiguous_frames_follow_the_sdk(self):
        n, t0 = 36, 10_000_000_000
        dec = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        dec.feed(polar_frame(polar.MEAS_ACC, t0, np.zeros((n, 3))))
        t1 = t0 + round(n * self.PERIOD_NS * 1.02)  # the device runs 2 % slow: spacing from the time stamps
        out = dec.feed(polar_frame(polar.MEAS_ACC, t1, np.zeros((n, 3))))
        np.testing.assert_array_equal(out.t_s, polar.sample_timestamps_ns(t0, t1, n, 52) * 1e-9)

    def test_a_corrupt_time_stamp_neither_stops_nor_moves_the_stream(self):
        n, t0 = 10, 10_000_000_000
        step = round(n * self.PERIOD_NS)
        dec = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        dec.feed(polar_frame(polar.MEAS_ACC, t0, np.zeros((n, 3))))
        for bad in (t0 - step, t0, t0 + 10**12, 2**63 + 5):  # back, repeated, 1000 s ahead, beyond 2^63
            assert dec.feed(polar_frame(polar.MEAS_ACC, bad, np.zeros((n, 3)))).n_samples == 0
        assert dec.stats.bad == {"time": 4} and dec.stats.resyncs == 0
        out = dec.feed(polar_frame(polar.MEAS_ACC, t0 + step, np.zeros((n, 3))))
        np.testing.assert_allclose(np.diff(out.t_s), self.PERIOD_NS * 1e-9, rtol=1e-6)

    def test_a_time_base_from_a_corrupt_first_frame_is_left_after_four_frames(self):
        n = 10
        step = round(n * self.PERIOD_NS)
        dec = PolarPmdDecoder(rate_hz=52, with_gyro=False)
        first = dec.feed(polar_frame(polar.MEAS_ACC, 9 * 10**17, np.zeros((n, 3))))  # garbage anchors the clock
        t_real = 10**15
        outs = [dec.feed(polar_frame(polar.MEAS_ACC, t_real + k * step, np.zeros((n, 3)))) for k in range(6)]
        assert [o.n_samples for o in outs] == [0, 0, 0, n, n, n] and dec.stats.resyncs == 1
        t = np.concatenate([first.t_s, *[o.t_s for o in outs]])
        assert np.all(np.diff(t) > 0), "the output continues after the last sample emitted"
        np.testing.assert_allclose(np.diff(np.concatenate([o.t_s for o in outs[3:]])), self.PERIOD_NS * 1e-9, atol=1e-6)

    def test_the_gyroscope_is_not_interpolated_across_a_lost_frame(self):
        n, t0 = 8, 10_000_000_000
        step = round(n * self.PERIOD_NS)
        dec = PolarPmdDecoder(rate_hz=52)
        acc = np.tile([0, 0, 1000], (n, 1))
        for k in range(3):
            if k != 1:  # the middle GYRO frame is lost
                dec.feed(polar_frame(polar.MEAS_GYRO, t0 + k * step, np.zeros((n, 3))))
        out = DecodedSamples.concat(
            [dec.feed(polar_frame(polar.MEAS_ACC, t0 + k * step, acc, ftype=0x81)) for k in range(3)]
        )
        assert out.n_samples == 2 * n and dec.stats.unpaired == n
        assert np.all(np.diff(out.t_s) > 0)


class TestMovesenseNeverEmitsBadSamples:
    def notes(self, k: int, n: int = 4, **kw):
        acc, gyr = np.full((n, 3), 9.0, np.float32), np.full((n, 3), 10.0, np.float32)
        return movesense.encode_imu(1000 + round(k * n * 1000 / 208), acc, gyr, **kw)

    @pytest.mark.parametrize("special", [np.nan, np.inf, -np.inf])
    def test_non_finite_samples_are_dropped_and_counted(self, special):
        acc = np.full((4, 3), 9.0, np.float32)
        acc[1, 2] = special
        gyr = np.full((4, 3), 10.0, np.float32)
        gyr[3, 0] = special
        dec = MovesenseDecoder(rate_hz=208)
        out = dec.feed(movesense.encode_imu(1000, acc, gyr)[0])
        np.testing.assert_allclose(out.t_s, 1.0 + np.array([0, 2]) / 208)
        assert np.isfinite(out.acc_mps2).all() and dec.stats.nonfinite == 2
        (all_bad,) = movesense.encode_imu(1100, np.full((4, 3), special), gyr)
        assert dec.feed(all_bad).n_samples == 0 and dec.stats.bad == {"nonfinite": 1} and dec.stats.nonfinite == 6

    def test_duplicated_and_backward_notifications_are_refused(self):
        dec = MovesenseDecoder(rate_hz=208)
        (n0,), (n1,) = self.notes(0), self.notes(1)
        assert dec.feed(n0).n_samples == 4
        assert dec.feed(n0).n_samples == 0  # duplicated
        assert dec.feed(n1).n_samples == 4
        assert dec.feed(n0).n_samples == 0  # late
        assert dec.stats.bad == {"time": 2}

    def test_a_restarted_clock_resyncs_after_four_notifications_and_keeps_time_increasing(self):
        dec = MovesenseDecoder(rate_hz=208)
        t = [dec.feed(self.notes(k)[0]).t_s for k in range(100, 103)]
        t += [dec.feed(self.notes(k)[0]).t_s for k in range(6)]  # the device clock went back
        assert [x.size for x in t] == [4, 4, 4, 0, 0, 0, 4, 4, 4] and dec.stats.resyncs == 1
        assert np.all(np.diff(np.concatenate(t)) > 0)

    def test_a_bad_part_2_keeps_part_1_for_its_own_part_2(self):
        dec = MovesenseDecoder(rate_hz=104, channels="IMU9")
        ones = np.ones((8, 3))
        part1, part2 = movesense.encode_imu(1000, ones, 2 * ones, 3 * ones, mtu_payload=244)
        dec.feed(part1)
        assert dec.feed(part2[:-5]).n_samples == 0  # cut short
        assert dec.feed(part2).n_samples == 8
        assert dec.stats.bad == {"length": 1}

    def test_a_cut_part_1_does_not_cost_the_good_one(self):
        dec = MovesenseDecoder(rate_hz=104, channels="IMU9")
        ones = np.ones((8, 3))
        part1, part2 = movesense.encode_imu(1000, ones, 2 * ones, 3 * ones, mtu_payload=244)
        dec.feed(part1)
        dec.feed(part1[:100])  # a corrupt copy
        assert dec.feed(part2).n_samples == 8
        assert dec.stats.bad == {"truncated": 1}


class TestOthersNeverRaiseOrJoinGarbage:
    def test_lumbar_a_bad_configuration_is_counted_and_the_old_one_stays(self):
        """Was: VersionError / ConfigError raised in counting mode."""
        vs = json.loads(VECTORS.read_text())
        cfg = codec.decode_config(bytes.fromhex(next(v for v in vs if v["name"] == "config_416hz_16g_2000dps")["hex"]))
        dec = LumbarImuDecoder(config=cfg)
        for bad in (b"\x02" + bytes(19), b"\x01" + bytes(19), b"\x01\x00", b""):
            assert dec.feed(bad, characteristic=codec.CONFIG_UUID).n_samples == 0
        assert dec.stats.bad == {"config": 4} and dec.stream.config == cfg
        out = dec.feed(bytes.fromhex(next(v for v in vs if v["name"] == "packet_one_sample")["hex"]))
        np.testing.assert_allclose(out.acc_mps2, [[0, 0, 2049 * 0.488e-3 * G]])
        with pytest.raises(
            FrameError,
            match=exact(
                "parameter 'config': unsupported protocol version; expected version 1, found version 2. "
                "Update gait-lumbar, or flash firmware that speaks version 1"
            ),
        ):
            LumbarImuDecoder(config=cfg, errors="raise").feed(b"\x02" + bytes(19), characteristic=codec.CONFIG_UUID)

    def test_witmotion_a_cut_frame_never_joins_the_next_one(self):
        frames = [witmotion.encode_frame([0, 0, 1], [k, 0, 0]) for k in range(1, 4)]
        dec = WitMotionDecoder(rate_hz=100)
        out = [dec.feed(frames[0]), dec.feed(frames[1][:13]), dec.feed(frames[2])]
        assert [o.n_samples for o in out] == [1, 0, 1]
        np.testing.assert_array_equal(out[2].gyr_rads, [[frames_dps(frames[2]), 0, 0]])
        assert dec.stats.bad == {"truncated": 1}

    def test_witmotion_frames_split_across_notifications_still_join(self):
        stream = b"".join(witmotion.encode_frame([0, 0, 1], [k, 0, 0]) for k in range(3))
        dec = WitMotionDecoder(rate_hz=100)
        assert sum(dec.feed(stream[i : i + 7]).n_samples for i in range(0, len(stream), 7)) == 3
        assert dec.stats.frames_bad == 0

    def test_stream_decoder_ignores_a_non_finite_host_time(self):
        dec = codec_stream()
        acc, gyr = np.zeros((2, 3)), np.zeros((2, 3))
        for k, h in enumerate([1.0, float("nan"), float("inf"), 1.1]):
            p = codec.encode_packet(seq=k, t_us=k * 4808, acc=acc, gyr=gyr, flags=1 if k == 0 else 0)
            assert dec.feed(p, host_time_s=h).n_samples == 2
        assert dec.clock._epochs[-1].n_added == 2


def frames_dps(frame: bytes) -> float:
    return struct.unpack_from("<h", frame, 8)[0] / 32768 * 2000 * RAD_PER_DEG


def codec_stream():
    from firmware_protocol.stream import StreamDecoder

    return StreamDecoder(
        codec.DeviceConfig(
            rate_mhz=416000,
            acc_range_g=16,
            gyr_range_dps=2000,
            acc_scale_ng_per_lsb=488000,
            gyr_scale_udps_per_lsb=70000,
            samples_per_packet=19,
        )
    )
