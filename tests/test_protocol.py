"""The lumbar IMU protocol codec (packets, configuration, commands) and the StreamDecoder."""

from __future__ import annotations

import pickle
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_protocol import codec
from firmware_protocol.clock import DriftFit
from firmware_protocol.codec import (
    CorruptPacketError,
    Flags,
    OversizedPacketError,
    PacketError,
    TruncatedPacketError,
    VersionError,
)
from firmware_protocol.samples import DecodedSamples
from firmware_protocol.stream import RESYNC_AFTER, StreamDecoder
from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError

CFG = codec.DeviceConfig(
    rate_mhz=416000,
    acc_range_g=16,
    gyr_range_dps=2000,
    acc_scale_ng_per_lsb=488000,
    gyr_scale_udps_per_lsb=70000,
    samples_per_packet=19,
)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def counts(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(-32768, 32768, (n, 3)), rng.integers(-32768, 32768, (n, 3))


def one_packet(n: int = 3, **kw) -> bytes:
    acc, gyr = counts(n)
    args = {"seq": 7, "t_us": 1000, "acc": acc, "gyr": gyr} | kw
    return codec.encode_packet(**args)


int16_rows = st.integers(1, codec.MAX_SAMPLES_PER_PACKET).flatmap(
    lambda n: st.tuples(
        hnp.arrays(np.int16, (n, 3), elements=st.integers(-32768, 32767)),
        hnp.arrays(np.int16, (n, 3), elements=st.integers(-32768, 32767)),
    )
)
packets = st.builds(
    lambda ag, seq, t, fl: codec.Packet(seq=seq, t_us=t, acc=ag[0], gyr=ag[1], flags=fl),
    int16_rows,
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from([0, 1, 2, 3]),
)


def encode(p: codec.Packet) -> bytes:
    return codec.encode_packet(seq=p.seq, t_us=p.t_us, acc=p.acc, gyr=p.gyr, flags=p.flags)


# ---------------------------------------------------------------------------------------
# CRC
# ---------------------------------------------------------------------------------------
class TestCrc:
    def test_check_value(self):
        assert codec.crc16_ccitt_false(b"123456789") == 0x29B1

    def test_empty(self):
        assert codec.crc16_ccitt_false(b"") == 0xFFFF
        np.testing.assert_array_equal(codec.crc16_ccitt_false_rows(np.zeros((3, 0), np.uint8)), [0xFFFF] * 3)
        assert codec.crc16_ccitt_false_rows(np.zeros((0, 5), np.uint8)).shape == (0,)

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError, match=exact("parameter 'rows': bad array; expected a 2-D uint8 array, found shape (4,)")
        ):
            codec.crc16_ccitt_false_rows(np.zeros(4, np.uint8))

    @FAST
    @given(hnp.arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(0, 64))))
    def test_rows_equal_scalar(self, rows):
        np.testing.assert_array_equal(
            codec.crc16_ccitt_false_rows(rows), [codec.crc16_ccitt_false(r.tobytes()) for r in rows]
        )


# ---------------------------------------------------------------------------------------
# packets
# ---------------------------------------------------------------------------------------
class TestSamplesPerPacket:
    @pytest.mark.parametrize(
        ("mtu", "n"), [(23, 0), (25, 0), (26, 1), (185, 14), (247, 19), (515, 41), (517, 41), (65535, 41)]
    )
    def test_basic(self, mtu, n):
        assert codec.samples_per_packet(mtu) == n

    @pytest.mark.parametrize("bad", [22, 0, -1, 23.0, True, "247"])
    def test_exceptions(self, bad):
        with pytest.raises(
            GaitInputError,
            match=exact(
                f"parameter 'att_mtu': invalid ATT MTU; expected an integer >= 23 (the smallest ATT MTU of Bluetooth LE), found {bad!r}"
            ),
        ):
            codec.samples_per_packet(bad)


class TestEncodePacket:
    def test_basic_layout(self):
        raw = codec.encode_packet(
            seq=0x0102, t_us=0x03040506, acc=[[1, -1, 2]], gyr=[[-2, 3, -32768]], flags=Flags.OVERFLOW
        )
        assert raw[:9] == bytes([1, 2, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 1])
        assert raw[9:21] == bytes.fromhex("0100ffff0200feff03000080")
        assert int.from_bytes(raw[-2:], "little") == codec.crc16_ccitt_false(raw[:-2])
        assert len(raw) == 23

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"seq": 65536}, "parameter 'seq': out of range; expected an integer in 0 .. 65535 (u16), found 65536"),
            ({"seq": -1}, "parameter 'seq': out of range; expected an integer in 0 .. 65535 (u16), found -1"),
            (
                {"t_us": 2**32},
                "parameter 't_us': out of range; expected an integer in 0 .. 4294967295 (u32), found 4294967296",
            ),
            ({"t_us": 1.5}, "parameter 't_us': out of range; expected an integer in 0 .. 4294967295 (u32), found 1.5"),
            (
                {"flags": 4},
                "parameter 'flags': reserved flag bits set; expected only bits 0 (stream start) and 1 (overflow), found 0x04",
            ),
            (
                {"acc": np.zeros((0, 3)), "gyr": np.zeros((0, 3))},
                "parameter 'acc': bad sample count; expected 1 .. 41 samples per packet, found 0",
            ),
            (
                {"acc": np.zeros((42, 3)), "gyr": np.zeros((42, 3))},
                "parameter 'acc': bad sample count; expected 1 .. 41 samples per packet, found 42",
            ),
            ({"acc": np.zeros((3, 2))}, "parameter 'acc': bad sample array; expected shape (n, 3), found shape (3, 2)"),
            (
                {"gyr": np.zeros((2, 3))},
                "parameter 'gyr': acc and gyr differ in length; expected the same number of samples, found 3 and 2",
            ),
            (
                {"acc": np.full((3, 3), 32768)},
                "parameter 'acc': count out of range; expected int16 counts in -32768 .. 32767, found values in 32768 .. 32768",
            ),
            (
                {"gyr": np.full((3, 3), 0.5)},
                "parameter 'gyr': not integer counts; expected raw sensor counts (integers), found dtype float64 with non-integer values",
            ),
        ],
    )
    def test_exceptions(self, kwargs, message):
        acc, gyr = counts(3)
        args = {"seq": 0, "t_us": 0, "acc": acc, "gyr": gyr} | kwargs
        with pytest.raises(GaitInputError, match=exact(message)):
            codec.encode_packet(**args)

    def test_integer_valued_floats_are_accepted(self):
        assert codec.encode_packet(seq=0, t_us=0, acc=[[1.0, 2.0, 3.0]], gyr=[[0.0, 0.0, 0.0]]) == codec.encode_packet(
            seq=0, t_us=0, acc=[[1, 2, 3]], gyr=[[0, 0, 0]]
        )


class TestDecodePacket:
    def test_basic(self):
        acc, gyr = counts(5)
        p = codec.decode_packet(codec.encode_packet(seq=9, t_us=123, acc=acc, gyr=gyr, flags=Flags.STREAM_START))
        assert (p.seq, p.t_us, p.flags, p.n_samples) == (9, 123, Flags.STREAM_START, 5)
        np.testing.assert_array_equal(p.acc, acc)
        assert p.acc.dtype == np.int16

    def test_accepts_bytearray_and_memoryview(self):
        raw = one_packet()
        assert codec.decode_packet(bytearray(raw)) == codec.decode_packet(memoryview(raw)) == codec.decode_packet(raw)

    @pytest.mark.parametrize(
        ("data", "cls", "message"),
        [
            (b"", TruncatedPacketError, "parameter 'data': empty packet; expected at least 23 bytes, found 0 bytes"),
            (
                b"\x02" + one_packet()[1:],
                VersionError,
                "parameter 'data': unsupported protocol version; expected version 1, found version 2. "
                "Update gait-lumbar, or flash firmware that speaks version 1",
            ),
            (
                one_packet()[:20],
                TruncatedPacketError,
                "parameter 'data': truncated packet; expected at least 23 bytes (header, one sample, CRC), found 20 bytes",
            ),
            (
                one_packet()[:-1],
                TruncatedPacketError,
                "parameter 'data': truncated packet; expected 47 bytes (11 + 12 x 3 samples), found 46 bytes",
            ),
            (
                one_packet() + b"\x00",
                OversizedPacketError,
                "parameter 'data': oversized packet; expected 47 bytes (11 + 12 x 3 samples), found 48 bytes",
            ),
            (
                one_packet()[:8] + b"\x00" + one_packet()[9:],
                CorruptPacketError,
                "parameter 'data': impossible sample count; expected 1 .. 41 samples, found 0 (byte 8)",
            ),
            (
                one_packet()[:8] + b"\x2a" + one_packet()[9:],
                CorruptPacketError,
                "parameter 'data': impossible sample count; expected 1 .. 41 samples, found 42 (byte 8)",
            ),
        ],
    )
    def test_exceptions(self, data, cls, message):
        with pytest.raises(cls, match=exact(message)) as info:
            codec.decode_packet(data)
        assert isinstance(info.value, PacketError) and isinstance(info.value, GaitInputError)
        assert info.value.reason == cls.default_reason

    def test_crc_mismatch_message(self):
        raw = bytearray(one_packet())
        raw[10] ^= 0x01
        crc = codec.crc16_ccitt_false(bytes(raw[:-2]))
        found = int.from_bytes(raw[-2:], "little")
        with pytest.raises(
            CorruptPacketError,
            match=exact(
                f"parameter 'data': CRC mismatch (corrupt packet); expected CRC 0x{crc:04X}, found 0x{found:04X}"
            ),
        ):
            codec.decode_packet(raw)

    def test_not_bytes(self):
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'data': not bytes; expected bytes, bytearray or memoryview, found str"),
        ):
            codec.decode_packet("0101")  # type: ignore[arg-type]

    def test_errors_pickle_with_their_class_and_reason(self):
        with pytest.raises(PacketError) as info:
            codec.decode_packet(b"")
        again = pickle.loads(pickle.dumps(info.value))
        assert type(again) is TruncatedPacketError and again.reason == "truncated" and str(again) == str(info.value)

    @FAST
    @given(packets)
    def test_round_trip(self, p):
        assert codec.decode_packet(encode(p)) == p

    @FAST
    @given(packets, st.data())
    def test_any_single_byte_corruption_is_detected(self, p, data):
        raw = bytearray(encode(p))
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        with pytest.raises(PacketError):
            codec.decode_packet(raw)

    @FAST
    @given(packets, st.data())
    def test_any_burst_of_up_to_16_bits_is_detected(self, p, data):
        raw = bytearray(encode(p))
        i = data.draw(st.integers(0, len(raw) - 2))
        flip = data.draw(st.integers(1, 0xFFFF))
        raw[i] ^= flip & 0xFF
        raw[i + 1] ^= flip >> 8
        with pytest.raises(PacketError):
            codec.decode_packet(raw)

    @FAST
    @given(packets, st.data())
    def test_truncation_and_extension_are_detected(self, p, data):
        raw = encode(p)
        cut = data.draw(st.integers(0, len(raw) - 1))
        with pytest.raises(PacketError):
            codec.decode_packet(raw[:cut])
        with pytest.raises(PacketError):
            codec.decode_packet(raw + data.draw(st.binary(min_size=1, max_size=24)))

    @settings(max_examples=200, deadline=None)
    @given(st.binary(max_size=520))
    def test_random_bytes_never_decode_silently(self, raw):
        """Random bytes either fail loudly or are, by chance, a valid packet that re-encodes exactly."""
        try:
            p = codec.decode_packet(raw)
        except PacketError:
            return
        assert encode(p) == raw


class TestDecodePackets:
    def test_empty(self):
        b = codec.decode_packets([])
        assert b.n_packets == 0 and b.n_samples == 0
        assert b.acc.shape == (0, 3) and b.acc.dtype == np.int16 and b.seq.dtype == np.uint16

    def test_basic_in_input_order(self):
        raws = [one_packet(n, seq=s, t_us=s * 10) for s, n in enumerate([3, 1, 3, 41, 2])]
        b = codec.decode_packets(raws)
        assert b.ok.all() and list(b.count) == [3, 1, 3, 41, 2]
        for i, raw in enumerate(raws):
            assert b.packet(i) == codec.decode_packet(raw)
        np.testing.assert_array_equal(b.sample_index[:4], [0, 1, 2, 0])

    def test_mark_bad_packets(self):
        good = one_packet(2, seq=1)
        bad = bytearray(good)
        bad[12] ^= 0xFF
        b = codec.decode_packets([good, bytes(bad), b"", b"\x07" * 30, good[:-3], good + b"!"], errors="mark")
        assert list(b.ok) == [True, False, False, False, False, False]
        assert list(b.reason) == ["", "corrupt", "truncated", "version", "truncated", "oversized"]
        assert b.n_samples == 2 and list(b.packet_index) == [0, 0]
        assert [e.reason for e in b.errors] == ["corrupt", "truncated", "version", "truncated", "oversized"]
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'packets[1]': packet did not decode; expected a valid packet, found corrupt"),
        ):
            b.packet(1)

    def test_raise_names_the_packet(self):
        with pytest.raises(
            TruncatedPacketError,
            match=exact("parameter 'packets[1]': empty packet; expected at least 23 bytes, found 0 bytes"),
        ):
            codec.decode_packets([one_packet(), b""])

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError, match=exact("parameter 'errors': invalid value; expected 'raise' or 'mark', found 'ignore'")
        ):
            codec.decode_packets([], errors="ignore")  # type: ignore[arg-type]
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'packets[0]': not bytes; expected bytes, bytearray or memoryview, found int"),
        ):
            codec.decode_packets([5])  # type: ignore[list-item]

    @FAST
    @given(st.lists(st.tuples(packets, st.integers(-1, 600), st.integers(0, 255)), max_size=12))
    def test_vectorised_equals_scalar(self, items):
        """Valid and damaged packets in any mix: the batch agrees with one-by-one decoding."""
        raws = []
        for p, pos, val in items:
            raw = bytearray(encode(p))
            if 0 <= pos < len(raw):
                raw[pos] = val
            elif pos >= len(raw):
                raw = raw[: pos % (len(raw) + 1)]
            raws.append(bytes(raw))
        b = codec.decode_packets(raws, errors="mark")
        for i, raw in enumerate(raws):
            try:
                p = codec.decode_packet(raw)
            except PacketError as e:
                assert not b.ok[i] and b.reason[i] == e.reason
            else:
                assert b.ok[i] and b.packet(i) == p


class TestPacketize:
    def test_basic(self):
        acc, gyr = counts(45)
        raws = codec.packetize(acc, gyr, t0_us=2**32 - 50_000, rate_hz=400, samples_per_packet=19, seq0=65535)
        ps = [codec.decode_packet(r) for r in raws]
        assert [p.n_samples for p in ps] == [19, 19, 7]
        assert [p.seq for p in ps] == [65535, 0, 1]
        assert [p.t_us for p in ps] == [2**32 - 50_000, 2**32 - 2_500, 45_000]
        assert [int(p.flags) for p in ps] == [1, 0, 0]
        np.testing.assert_array_equal(np.concatenate([p.acc for p in ps]), acc)

    def test_empty(self):
        assert codec.packetize(np.zeros((0, 3)), np.zeros((0, 3)), t0_us=0, rate_hz=100, samples_per_packet=5) == []

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"samples_per_packet": 0}, "parameter 'samples_per_packet': out of range; expected 1 .. 41, found 0"),
            ({"samples_per_packet": 42}, "parameter 'samples_per_packet': out of range; expected 1 .. 41, found 42"),
            ({"rate_hz": 0}, "parameter 'rate_hz': out of range; expected a finite rate > 0 Hz, found 0"),
            ({"rate_hz": float("nan")}, "parameter 'rate_hz': out of range; expected a finite rate > 0 Hz, found nan"),
            ({"t0_us": -1}, "parameter 't0_us': out of range; expected an integer >= 0, found -1"),
        ],
    )
    def test_exceptions(self, kwargs, message):
        acc, gyr = counts(4)
        args = {"t0_us": 0, "rate_hz": 100.0, "samples_per_packet": 2} | kwargs
        with pytest.raises(GaitInputError, match=exact(message)):
            codec.packetize(acc, gyr, **args)


# ---------------------------------------------------------------------------------------
# configuration and commands
# ---------------------------------------------------------------------------------------
configs = st.builds(
    codec.DeviceConfig,
    rate_mhz=st.integers(1, 2**32 - 1),
    acc_range_g=st.integers(0, 255),
    gyr_range_dps=st.integers(0, 65535),
    acc_scale_ng_per_lsb=st.integers(1, 2**32 - 1),
    gyr_scale_udps_per_lsb=st.integers(1, 2**32 - 1),
    samples_per_packet=st.integers(1, 255),
    state=st.integers(0, 1),
    last_opcode=st.integers(0, 255),
    last_status=st.integers(0, 255),
)


class TestConfig:
    def test_basic_units(self):
        assert CFG.rate_hz == 416.0 and CFG.sample_period_s == pytest.approx(1 / 416)
        assert CFG.acc_scale_mps2_per_lsb == pytest.approx(0.488e-3 * G)
        assert CFG.gyr_scale_rads_per_lsb == pytest.approx(70e-3 * RAD_PER_DEG)
        assert not CFG.streaming

    def test_extra_bytes_are_ignored(self):
        assert codec.decode_config(codec.encode_config(CFG) + b"\x01\x02") == CFG

    @FAST
    @given(configs)
    def test_round_trip(self, c):
        raw = codec.encode_config(c)
        assert len(raw) == codec.CONFIG_SIZE and codec.decode_config(raw) == c

    def test_exceptions(self):
        raw = codec.encode_config(CFG)
        with pytest.raises(
            codec.ConfigError,
            match=exact("parameter 'config': truncated configuration; expected at least 20 bytes, found 19 bytes"),
        ):
            codec.decode_config(raw[:-1])
        with pytest.raises(
            codec.ConfigError,
            match=exact("parameter 'config': truncated configuration; expected at least 20 bytes, found 0 bytes"),
        ):
            codec.decode_config(b"")
        with pytest.raises(
            VersionError,
            match=r"^parameter 'config': unsupported protocol version; expected version 1, found version 3\.",
        ):
            codec.decode_config(b"\x03" + raw[1:])
        zero_rate = raw[:4] + b"\x00\x00\x00\x00" + raw[8:]
        with pytest.raises(
            codec.ConfigError, match=exact("parameter 'config': zero field; expected rate_mhz > 0, found 0")
        ):
            codec.decode_config(zero_rate)
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'acc_range_g': out of range; expected an integer in 0 .. 255 (u8), found 300"),
        ):
            codec.DeviceConfig(
                rate_mhz=1,
                acc_range_g=300,
                gyr_range_dps=1,
                acc_scale_ng_per_lsb=1,
                gyr_scale_udps_per_lsb=1,
                samples_per_packet=1,
            )


class TestCommands:
    def test_basic(self):
        assert codec.encode_start() == b"\x01" and codec.encode_stop() == b"\x02"
        assert codec.encode_set_rate(rate_hz=400) == b"\x03\x90\x01"
        assert codec.encode_set_range(acc_range_g=16, gyr_range_dps=2000) == b"\x04\x10\xd0\x07"
        assert codec.decode_command(b"\x03\x90\x01") == codec.Command(codec.Opcode.SET_RATE, rate_hz=400)

    @FAST
    @given(
        st.one_of(
            st.just(codec.Command(codec.Opcode.START)),
            st.just(codec.Command(codec.Opcode.STOP)),
            st.builds(lambda r: codec.Command(codec.Opcode.SET_RATE, rate_hz=r), st.integers(1, 65535)),
            st.builds(
                lambda a, g: codec.Command(codec.Opcode.SET_RANGE, acc_range_g=a, gyr_range_dps=g),
                st.integers(1, 255),
                st.integers(1, 65535),
            ),
        )
    )
    def test_round_trip(self, cmd):
        assert codec.decode_command(codec.encode_command(cmd)) == cmd

    @pytest.mark.parametrize(
        ("raw", "reason", "message"),
        [
            (b"", "bad_length", "parameter 'command': empty command; expected an opcode byte, found 0 bytes"),
            (
                b"\x7f",
                "unknown_opcode",
                "parameter 'command': unknown opcode; expected one of 0x01 (START), 0x02 (STOP), 0x03 (SET_RATE), "
                "0x04 (SET_RANGE), 0x10 (LOG_START), 0x11 (LOG_STOP), 0x12 (LOG_LIST), 0x13 (LOG_READ), "
                "0x14 (LOG_ERASE), 0x15 (SET_CLOCK), 0x16 (GET_CLOCK), found 0x7F",
            ),
            (b"\x01\x00", "bad_length", "parameter 'command': bad length for START; expected 1 bytes, found 2 bytes"),
            (
                b"\x03\x90",
                "bad_length",
                "parameter 'command': bad length for SET_RATE; expected 3 bytes, found 2 bytes",
            ),
            (b"\x03\x00\x00", "bad_argument", "parameter 'command': zero rate; expected 1 .. 65535 Hz, found 0"),
            (
                b"\x04\x00\xd0\x07",
                "bad_argument",
                "parameter 'command': zero range; expected ranges > 0, found acc 0 g, gyr 2000 dps",
            ),
        ],
    )
    def test_decode_exceptions(self, raw, reason, message):
        with pytest.raises(codec.CommandError, match=exact(message)) as info:
            codec.decode_command(raw)
        assert info.value.reason == reason

    def test_encode_exceptions(self):
        with pytest.raises(
            GaitInputError, match=exact("parameter 'rate_hz': out of range; expected a rate of 1 .. 65535 Hz, found 0")
        ):
            codec.encode_set_rate(rate_hz=0)
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'rate_hz': out of range; expected an integer in 0 .. 65535 (u16), found 70000"),
        ):
            codec.encode_set_rate(rate_hz=70000)
        with pytest.raises(
            GaitInputError, match=exact("parameter 'gyr_range_dps': out of range; expected a range > 0, found 0")
        ):
            codec.encode_set_range(acc_range_g=4, gyr_range_dps=0)


# ---------------------------------------------------------------------------------------
# StreamDecoder
# ---------------------------------------------------------------------------------------
def make_stream(
    n_samples: int = 19 * 10,
    *,
    spp: int = 19,
    t0_us: int = 1_000_000,
    seq0: int = 0,
    rate_hz: float = 416.0,
    seed: int = 0,
):
    acc, gyr = counts(n_samples, seed)
    raws = codec.packetize(acc, gyr, t0_us=t0_us, rate_hz=rate_hz, samples_per_packet=spp, seq0=seq0)
    return raws, acc, gyr


class TestStreamDecoder:
    def test_empty(self):
        dec = StreamDecoder(CFG)
        assert dec.flush().n_samples == 0 and dec.reset().n_samples == 0
        chunk = dec.feed(b"")
        assert chunk.n_samples == 0 and chunk.t_s.shape == (0,) and chunk.acc_mps2.shape == (0, 3)
        assert dec.stats.truncated == 1 and dec.stats.notifications == 1 and dec.stats.packets_ok == 0

    def test_basic_in_order(self):
        raws, acc, gyr = make_stream()
        dec = StreamDecoder(CFG)
        chunks = [dec.feed(r) for r in raws]
        assert all(c.n_samples == 19 for c in chunks)  # in-order packets are never held back
        chunk = DecodedSamples.concat(chunks)
        np.testing.assert_allclose(chunk.acc_mps2, acc * CFG.acc_scale_mps2_per_lsb)
        np.testing.assert_allclose(chunk.gyr_rads, gyr * CFG.gyr_scale_rads_per_lsb)
        np.testing.assert_allclose(chunk.t_s, 1.0 + np.arange(acc.shape[0]) / 416.0, atol=2e-6)
        assert chunk.gaps == () and not chunk.gap_before.any()
        s = dec.stats
        assert (s.packets_ok, s.samples_ok, s.packets_lost, s.stream_starts) == (10, 190, 0, 1)
        assert s.rate_hz_estimate == pytest.approx(416.0, rel=1e-5)

    def test_lost_packet(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG)
        chunk = DecodedSamples.concat([dec.feed_many(raws[:3] + raws[4:]), dec.flush()])
        (gap,) = chunk.gaps
        assert (gap.packets_lost, gap.samples_lost, gap.reason) == (1, 19, "loss")
        assert gap.t_after_s - gap.t_before_s == pytest.approx(20 / 416, abs=1e-5)
        assert np.flatnonzero(chunk.gap_before).tolist() == [57]
        assert chunk.n_samples == 171 and dec.stats.packets_lost == 1 and dec.stats.samples_lost == 19

    def test_reorder_window_zero_declares_at_once(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG, reorder_window=0)
        assert dec.feed(raws[0]).n_samples == 19
        assert dec.feed(raws[2]).gaps[0].packets_lost == 1
        assert dec.feed(raws[1]).n_samples == 0 and dec.stats.late == 1

    def test_reordered_within_window(self):
        raws, acc, _ = make_stream()
        order = [0, 2, 3, 1, 4, 6, 5, 7, 8, 9]
        dec = StreamDecoder(CFG, reorder_window=3)
        chunks = [dec.feed(raws[i]) for i in order]
        assert [c.n_samples for c in chunks[:4]] == [19, 0, 0, 57]
        chunk = DecodedSamples.concat(chunks)
        np.testing.assert_allclose(chunk.acc_mps2, acc * CFG.acc_scale_mps2_per_lsb)
        assert chunk.gaps == () and dec.stats.reordered == 2 and dec.stats.packets_lost == 0

    def test_too_late_is_dropped(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG, reorder_window=2)
        chunk = DecodedSamples.concat([dec.feed(raws[i]) for i in [0, 2, 3, 4, 1, 5]])
        assert dec.stats.packets_lost == 1 and dec.stats.late == 1 and chunk.n_samples == 5 * 19
        assert np.all(np.diff(chunk.t_s) > 0)

    def test_duplicates(self):
        raws, acc, _ = make_stream()
        dec = StreamDecoder(CFG)
        chunk = DecodedSamples.concat([dec.feed(raws[i]) for i in [0, 0, 1, 1, 3, 3, 2, 2, 4]])
        np.testing.assert_allclose(chunk.acc_mps2, acc[:95] * CFG.acc_scale_mps2_per_lsb)
        assert dec.stats.duplicated == 4 and dec.stats.stream_starts == 1 and chunk.gaps == ()

    @pytest.mark.parametrize(
        ("damage", "field"),
        [
            (lambda r: r[:-1], "truncated"),
            (lambda r: r + b"\x00", "oversized"),
            (lambda r: b"\x02" + r[1:], "wrong_version"),
            (lambda r: r[:20] + bytes([r[20] ^ 1]) + r[21:], "corrupt"),
        ],
    )
    def test_bad_packets_are_counted_and_skipped(self, damage, field):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG)
        chunk = DecodedSamples.concat([dec.feed(raws[0]), dec.feed(damage(raws[1])), dec.feed(raws[2]), dec.flush()])
        assert getattr(dec.stats, field) == 1 and dec.stats.packets_bad == 1
        assert chunk.gaps[0].packets_lost == 1 and dec.stats.packets_ok == 2

    def test_errors_raise(self):
        dec = StreamDecoder(CFG, errors="raise")
        with pytest.raises(TruncatedPacketError):
            dec.feed(b"\x01\x00")
        assert dec.stats.truncated == 1

    def test_wraps_of_sequence_and_time(self):
        raws, *_ = make_stream(19 * 8, t0_us=2**32 - 60_000, seq0=65533)
        dec = StreamDecoder(CFG)
        chunk = dec.feed_many(raws)
        assert chunk.n_samples == 152 and chunk.gaps == ()
        np.testing.assert_allclose(np.diff(chunk.t_s), 1 / 416, atol=2e-6)
        assert chunk.t_s[-1] > 2**32 * 1e-6

    def test_restart_with_continuing_clock(self):
        raws, *_ = make_stream()
        later, *_ = make_stream(t0_us=5_000_000, seed=1)
        dec = StreamDecoder(CFG)
        chunk = dec.feed_many(raws[:3] + later[:2])
        (gap,) = chunk.gaps
        assert gap.reason == "restart" and gap.packets_lost == 0 and gap.t_after_s == pytest.approx(5.0)
        assert dec.stats.stream_starts == 2 and dec.stats.samples_lost == 0

    def test_restart_after_device_reboot_keeps_time_increasing(self):
        raws, *_ = make_stream(t0_us=900_000_000)
        rebooted, *_ = make_stream(t0_us=100)
        dec = StreamDecoder(CFG)
        chunk = DecodedSamples.concat(
            [
                dec.feed_many(raws[:2], host_times_s=[10.0, 10.05]),
                dec.feed_many(rebooted[:2], host_times_s=[70.0, 70.05]),
            ]
        )
        assert np.all(np.diff(chunk.t_s) > 0)
        (gap,) = chunk.gaps
        assert gap.reason == "restart" and gap.t_after_s - gap.t_before_s == pytest.approx(60.0, abs=0.1)

    def test_reset_marks_a_reconnect(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG, reorder_window=3)
        dec.feed_many([raws[0], raws[2]])
        held = dec.reset()
        assert held.n_samples == 19 and held.gaps[0].reason == "loss"
        restarted, *_ = make_stream(t0_us=3_000_000, seed=2)
        chunk = dec.feed(restarted[0])  # the usual case: START again after reconnecting
        assert chunk.gaps[0].reason == "reconnect" and dec.stats.stream_starts == 2
        dec.reset()
        nostart = codec.encode_packet(seq=40, t_us=4_000_000, acc=[[0, 0, 2049]], gyr=[[0, 0, 0]])
        assert dec.feed(nostart).gaps[0].reason == "reconnect"

    def test_sequence_jump_back_without_start_resyncs(self):
        raws, *_ = make_stream(19 * 12)
        jumped, *_ = make_stream(19 * 8, t0_us=9_000_000, seq0=3, seed=3)
        jumped = [b"\x01\x00" + r[2:-2] for r in jumped]  # clear the start flag, keep the rest
        jumped = [r + codec.crc16_ccitt_false(r).to_bytes(2, "little") for r in jumped]
        dec = StreamDecoder(CFG)
        chunk = dec.feed_many(raws[:10] + jumped)
        assert dec.stats.resyncs == 1 and dec.stats.late == RESYNC_AFTER - 1
        assert chunk.gaps[0].reason == "resync" and np.all(np.diff(chunk.t_s) > 0)
        assert chunk.n_samples == 19 * (10 + 8 - (RESYNC_AFTER - 1))

    def test_overflow_flag_and_time_jump(self):
        acc, gyr = counts(38)
        a = codec.encode_packet(seq=0, t_us=0, acc=acc[:19], gyr=gyr[:19], flags=Flags.STREAM_START)
        b = codec.encode_packet(seq=1, t_us=round(29 * 1e6 / 416), acc=acc[19:], gyr=gyr[19:], flags=Flags.OVERFLOW)
        dec = StreamDecoder(CFG)
        chunk = dec.feed_many([a, b])
        (gap,) = chunk.gaps
        assert (gap.reason, gap.packets_lost, gap.samples_lost) == ("overflow", 0, 10)
        assert dec.stats.overflows == 1 and dec.stats.samples_lost == 10

    def test_tracks_a_fast_device_clock(self):
        acc, gyr = counts(19 * 200)
        true_rate = 416 * 1.02
        raws = codec.packetize(acc, gyr, t0_us=0, rate_hz=true_rate, samples_per_packet=19)
        dec = StreamDecoder(CFG)
        chunk = dec.feed_many(raws)
        assert dec.stats.rate_hz_estimate == pytest.approx(true_rate, rel=1e-4)
        truth = np.arange(acc.shape[0]) / true_rate
        assert np.abs(chunk.t_s - truth)[19 * 100 :].max() < 1e-5
        assert chunk.gaps == ()

    def test_set_config(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG)
        dec.feed(raws[0])
        slower = codec.DeviceConfig(
            rate_mhz=104000,
            acc_range_g=4,
            gyr_range_dps=500,
            acc_scale_ng_per_lsb=122000,
            gyr_scale_udps_per_lsb=17500,
            samples_per_packet=19,
        )
        dec.set_config(slower)
        new, acc2, _ = make_stream(t0_us=2_000_000, rate_hz=104)
        chunk = dec.feed_many(new[:2])
        np.testing.assert_allclose(chunk.acc_mps2, acc2[:38] * slower.acc_scale_mps2_per_lsb)
        np.testing.assert_allclose(np.diff(chunk.t_s), 1 / 104, atol=2e-6)

    def test_exceptions(self):
        with pytest.raises(
            GaitInputError,
            match=exact(
                "parameter 'config': not a device configuration; expected a firmware_protocol.codec.DeviceConfig "
                "(decode_config of the configuration characteristic), found bytes"
            ),
        ):
            StreamDecoder(codec.encode_config(CFG))  # type: ignore[arg-type]
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'reorder_window': out of range; expected an integer in 0 .. 64, found -1"),
        ):
            StreamDecoder(CFG, reorder_window=-1)
        with pytest.raises(
            GaitInputError, match=exact("parameter 'errors': invalid value; expected 'count' or 'raise', found 'drop'")
        ):
            StreamDecoder(CFG, errors="drop")  # type: ignore[arg-type]
        with pytest.raises(
            GaitInputError,
            match=exact(
                "parameter 'host_times_s': lengths differ; expected 2 host times (one per notification), found 1"
            ),
        ):
            StreamDecoder(CFG).feed_many([b"", b""], host_times_s=[0.0])
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'data': not bytes; expected bytes, bytearray or memoryview, found list"),
        ):
            StreamDecoder(CFG).feed([1, 2])  # type: ignore[arg-type]

    @settings(max_examples=80, deadline=None)
    @given(st.data())
    def test_faults_never_duplicate_or_reorder_output(self, data):
        """Drops, duplicates and local reordering: every surviving packet comes out once, in order."""
        n_packets = data.draw(st.integers(2, 30))
        raws, *_ = make_stream(5 * n_packets, spp=5, seq0=data.draw(st.integers(0, 65535)))
        arrivals: list[int] = []
        for i in range(n_packets):
            if data.draw(st.booleans()) and data.draw(st.booleans()) and i > 0:
                continue  # dropped (about 1 in 4; never the first, which starts the stream)
            arrivals.append(i)
            if data.draw(st.integers(0, 9)) == 0:
                arrivals.append(i)  # duplicated
        k = 1
        while k < len(arrivals) - 1:  # swaps of disjoint neighbours: no packet moves more than one place
            if data.draw(st.integers(0, 4)) == 0:
                arrivals[k], arrivals[k + 1] = arrivals[k + 1], arrivals[k]
                k += 1
            k += 1
        dec = StreamDecoder(CFG, reorder_window=3)
        chunk = DecodedSamples.concat([dec.feed_many([raws[i] for i in arrivals]), dec.flush()])
        received = sorted(set(arrivals))
        idx = np.rint((chunk.t_s - 1.0) * 416.0).astype(int)
        np.testing.assert_array_equal(idx, np.concatenate([np.arange(5 * i, 5 * i + 5) for i in received]))
        s = dec.stats
        assert s.packets_ok == len(received)
        assert s.packets_lost == received[-1] + 1 - len(received)
        assert s.samples_lost == 5 * s.packets_lost


class TestDriftFit:
    def test_drift_and_offset(self):
        rng = np.random.default_rng(4)
        device = np.arange(0, 3600, 0.05)
        host = 100.0 + device * (1 + 40e-6) + rng.exponential(0.01, device.size) + 0.002
        clock = DriftFit()
        for d, h in zip(device, host):
            clock.add(d, h)
        assert clock.drift_ppm == pytest.approx(40, abs=2)
        assert clock.offset_s == pytest.approx(100.002, abs=1e-3)
        assert clock.to_host(1800.0) == pytest.approx(100.002 + 1800 * (1 + 40e-6), abs=2e-3)
        np.testing.assert_allclose(clock.to_host(np.array([0.0, 10.0])), [100.002, 110.0024], atol=2e-3)

    def test_empty(self):
        with pytest.raises(
            GaitInputError,
            match=exact("parameter 'clock': no clock data; expected at least one packet with a host time, found none"),
        ):
            _ = DriftFit().offset_s

    def test_a_stall_then_a_burst_does_not_bend_the_fit(self):
        """Regression: a least-squares clock read -9657 ppm after a 15 s stall (packets queued
        by the link, then delivered at once)."""
        raws, *_ = make_stream(19 * 2000)  # 91 s at 416 Hz
        host = np.array([50.0 + (i + 1) * 19 / 416 + 0.005 for i in range(len(raws))])
        stalled = (host > 80.0) & (host < 95.0)
        host[stalled] = 95.0 + np.arange(stalled.sum()) * 1e-4  # all delivered when the link resumes
        dec = StreamDecoder(CFG)
        dec.feed_many(raws, host_times_s=list(host))
        assert abs(dec.clock.drift_ppm) < 20.0
        assert dec.clock.to_host(2.0) == pytest.approx(50.0 + 1.0 + 1 / 416 + 0.005, abs=2e-3)

    def test_fed_by_the_decoder(self):
        raws, *_ = make_stream()
        dec = StreamDecoder(CFG)
        dec.feed_many(raws, host_times_s=[50.0 + 1.0 + (i + 1) * 19 / 416 + 0.01 for i in range(len(raws))])
        assert dec.clock.to_host(1.0) == pytest.approx(51.0 + 0.01 + 1 / 416, abs=1e-3)
