"""On-sensor logging in the codec: the configuration extension, the logging commands, the Log
characteristic's messages, session data and the verified-range bookkeeping of downloads."""

from __future__ import annotations

import re
import zlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol import codec
from firmware_protocol import logbook as lb
from gait.errors import GaitInputError
from tests.fuzz_settings import fuzz

CFG = codec.DeviceConfig(
    rate_mhz=416000,
    acc_range_g=16,
    gyr_range_dps=2000,
    acc_scale_ng_per_lsb=488000,
    gyr_scale_udps_per_lsb=70000,
    samples_per_packet=19,
)


def records(n_samples: int, *, per_record: int = 41, rate_hz: float = 416.0, t0_us: int = 5_000_000, seed: int = 0):
    """A session's data: records of ``per_record`` samples; sample i carries i in acc x."""
    rng = np.random.default_rng(seed)
    acc = rng.integers(-32768, 32768, (n_samples, 3)).astype(np.int16)
    acc[:, 0] = np.arange(n_samples) % 32768
    gyr = rng.integers(-32768, 32768, (n_samples, 3)).astype(np.int16)
    out = codec.packetize(acc, gyr, t0_us=t0_us, rate_hz=rate_hz, samples_per_packet=per_record)
    return b"".join(out), acc, gyr


# ---------------------------------------------------------------------------------------
# configuration and commands
# ---------------------------------------------------------------------------------------
class TestConfigExtension:
    def test_plain_version_1_stays_20_bytes(self):
        assert len(codec.encode_config(CFG)) == codec.CONFIG_SIZE and not CFG.can_log

    def test_logging_device_appends_12_bytes(self):
        c = CFG.__class__(
            **{
                **CFG.__dict__,
                "features": codec.Feature.LOG,
                "log_state": 1,
                "log_sessions": 3,
                "log_capacity_bytes": 2084864,
                "log_free_bytes": 1000,
            }
        )
        raw = codec.encode_config(c)
        assert len(raw) == codec.CONFIG_EXT_SIZE and raw[:20] == codec.encode_config(CFG)
        back = codec.decode_config(raw)
        assert back == c and back.can_log and back.logging
        assert codec.decode_config(raw + b"\x00" * 8) == c, "later additions are ignored"

    @pytest.mark.parametrize("extra", [0, 1, 11])
    def test_20_to_31_bytes_is_a_version_1_configuration(self, extra):
        raw = codec.encode_config(CFG) + b"\x01" * extra
        assert codec.decode_config(raw) == CFG

    def test_extension_fields_checked(self):
        with pytest.raises(GaitInputError, match="u16"):
            CFG.__class__(**{**CFG.__dict__, "log_sessions": 70000})


class TestLogCommands:
    def test_basic(self):
        assert codec.encode_log_start() == b"\x10" and codec.encode_log_stop() == b"\x11"
        assert codec.encode_log_list() == b"\x12" and codec.encode_get_clock() == b"\x16"
        assert codec.encode_log_read(session_id=3, offset=4620, length=0).hex() == "1303000c12000000000000"
        assert codec.encode_log_erase(session_id=0xBEEF, digest=0xCBF43926).hex() == "14efbe2639f4cb"
        assert codec.encode_set_clock(utc_us=1).hex() == "150100000000000000"

    @given(
        st.sampled_from(["read", "erase", "clock", "plain"]),
        st.integers(0, 0xFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.integers(1, (1 << 64) - 1),
        st.sampled_from([codec.Opcode.LOG_START, codec.Opcode.LOG_STOP, codec.Opcode.LOG_LIST, codec.Opcode.GET_CLOCK]),
    )
    def test_round_trip(self, kind, sid, a, b, utc, plain):
        raw = {
            "read": lambda: codec.encode_log_read(session_id=sid, offset=a, length=b),
            "erase": lambda: codec.encode_log_erase(session_id=sid, digest=a),
            "clock": lambda: codec.encode_set_clock(utc_us=utc),
            "plain": lambda: bytes([plain]),
        }[kind]()
        assert codec.encode_command(codec.decode_command(raw)) == raw

    @pytest.mark.parametrize(
        ("raw", "reason", "message"),
        [
            (b"\x13\x01\x00", "bad_length", "bad length for LOG_READ"),
            (b"\x14" + b"\x00" * 7, "bad_length", "bad length for LOG_ERASE"),
            (b"\x10\x00", "bad_length", "bad length for LOG_START"),
            (b"\x15" + b"\x00" * 8, "bad_argument", "zero time"),
        ],
    )
    def test_decode_exceptions(self, raw, reason, message):
        with pytest.raises(codec.CommandError, match=re.escape(f"{message}; expected")) as e:
            codec.decode_command(raw)
        assert e.value.reason == reason

    def test_encode_exceptions(self):
        with pytest.raises(GaitInputError, match="u16"):
            codec.encode_log_read(session_id=70000, offset=0)
        with pytest.raises(GaitInputError, match="u32"):
            codec.encode_log_erase(session_id=1, digest=1 << 32)
        with pytest.raises(GaitInputError, match="after 1970"):
            codec.encode_set_clock(utc_us=0)


# ---------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------
u16, u32, u64 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF), st.integers(0, (1 << 64) - 1)
entries = st.builds(
    lb.LogEntry,
    session_id=u16,
    size_bytes=u32,
    start_utc_us=u64,
    n_samples=u32,
    duration_ms=u32,
    rate_mhz=u32,
    acc_range_g=st.integers(0, 255),
    gyr_range_dps=u16,
    acc_scale_ng_per_lsb=u32,
    gyr_scale_udps_per_lsb=u32,
    digest=u32,
    flags=st.integers(0, 255),
    clock_set_utc_us=u64,
    format=st.integers(0, 255),
)
messages = st.one_of(
    entries,
    st.builds(lb.LogListEnd, n_sessions=u16, capacity_bytes=u32, free_bytes=u32),
    st.builds(lb.LogBlock, session_id=u16, seq=u16, offset=u32, payload=st.binary(min_size=1, max_size=498)),
    st.builds(lb.LogReadEnd, session_id=u16, offset=u32, end=u32, blocks=u16),
    st.builds(lb.LogClock, now_utc_us=u64, set_utc_us=u64, flags=st.integers(0, 255)),
)


class TestMessages:
    def test_crc32_check_value_and_chaining(self):
        assert lb.crc32(b"123456789") == 0xCBF43926
        assert lb.crc32(b"6789", lb.crc32(b"12345")) == lb.crc32(b"123456789") == zlib.crc32(b"123456789")

    @pytest.mark.parametrize(
        ("mtu", "payload"), [(23, 0), (63, 0), (64, 47), (185, 168), (247, 230), (517, 498), (1000, 498)]
    )
    def test_block_payload_size(self, mtu, payload):
        assert lb.block_payload_size(mtu) == payload

    @given(messages)
    def test_round_trip(self, m):
        raw = lb.encode_message(m)
        assert lb.decode_message(raw) == m
        sizes = {lb.LogEntry: 54, lb.LogListEnd: 14, lb.LogReadEnd: 16, lb.LogClock: 26}
        want = lb.BLOCK_OVERHEAD + len(m.payload) if isinstance(m, lb.LogBlock) else sizes[type(m)]
        assert (
            len(raw) == want
            and raw[0] == {lb.LogEntry: 1, lb.LogListEnd: 2, lb.LogBlock: 3, lb.LogReadEnd: 4, lb.LogClock: 5}[type(m)]
        )

    def test_sizes(self):
        e = lb.LogEntry(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)
        assert len(lb.encode_message(e)) == lb.ENTRY_SIZE == 54
        assert len(lb.encode_message(lb.LogListEnd(1, 2, 3))) == lb.LIST_END_SIZE == 14
        assert len(lb.encode_message(lb.LogReadEnd(1, 2, 3, 4))) == lb.READ_END_SIZE == 16
        assert len(lb.encode_message(lb.LogClock(1, 2))) == lb.CLOCK_SIZE == 26
        assert lb.ENTRY_SIZE + 3 <= lb.MIN_ATT_MTU, "an entry fits one notification at the smallest MTU served"

    @fuzz
    @given(messages, st.data())
    def test_any_single_byte_corruption_is_detected(self, m, data):
        raw = bytearray(lb.encode_message(m))
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] ^= data.draw(st.integers(1, 255))
        with pytest.raises(lb.LogMessageError):
            lb.decode_message(bytes(raw))

    @fuzz
    @given(messages, st.data())
    def test_truncation_and_extension_are_detected(self, m, data):
        raw = lb.encode_message(m)
        cut = data.draw(st.integers(0, len(raw) - 1))
        with pytest.raises(lb.LogMessageError):
            lb.decode_message(raw[:cut])
        with pytest.raises(lb.LogMessageError, match=r"oversized|CRC"):
            lb.decode_message(raw + data.draw(st.binary(min_size=1, max_size=8)))

    @fuzz
    @given(st.binary(max_size=600))
    def test_random_bytes_never_decode_silently(self, raw):
        try:
            m = lb.decode_message(raw)
        except lb.LogMessageError as e:
            assert e.reason in ("truncated", "oversized", "corrupt", "kind")
        else:  # only a byte-exact valid message decodes
            assert lb.encode_message(m) == raw

    @pytest.mark.parametrize(
        ("raw", "reason", "message"),
        [
            (b"", "truncated", "empty message"),
            (b"\x09\x00", "kind", "unknown message kind"),
            (b"\x02" + b"\x00" * 12, "truncated", "truncated LIST_END"),
            (b"\x03" + b"\x00" * 10, "truncated", "truncated block"),
        ],
    )
    def test_exceptions(self, raw, reason, message):
        with pytest.raises(lb.LogMessageError, match=re.escape(f"'log message': {message}")) as e:
            lb.decode_message(raw)
        assert e.value.reason == reason

    def test_crc_message_names_the_kind(self):
        raw = bytearray(lb.encode_message(lb.LogReadEnd(1, 0, 82, 2)))
        raw[5] ^= 1
        with pytest.raises(lb.LogMessageError, match=r"CRC mismatch \(corrupt READ_END\); expected CRC 0x"):
            lb.decode_message(bytes(raw))

    def test_encode_exceptions(self):
        with pytest.raises(lb.LogMessageError, match="bad block length"):
            lb.encode_message(lb.LogBlock(1, 0, 0, b""))
        with pytest.raises(lb.LogMessageError, match="bad block length"):
            lb.encode_message(lb.LogBlock(1, 0, 0, b"x" * 499))
        with pytest.raises(lb.LogMessageError, match="u16"):
            lb.encode_message(lb.LogListEnd(70000, 0, 0))
        with pytest.raises(lb.LogMessageError, match="not a Log message"):
            lb.encode_message("entry")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# verified ranges
# ---------------------------------------------------------------------------------------
class TestRangeSet:
    def test_basic(self):
        r = lb.RangeSet()
        assert r.missing(10) == [(0, 10)] and r.covered == 0
        r.add(2, 4)
        r.add(6, 8)
        assert r.missing(10) == [(0, 2), (4, 6), (8, 10)]
        r.add(3, 7)
        assert r.ranges == [(2, 8)] and r.covered == 6
        r.add(0, 2)
        r.add(8, 10)
        assert r.ranges == [(0, 10)] and r.complete(10) and r.missing(10) == []
        r.add(5, 5)
        assert r.ranges == [(0, 10)]

    @given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 60)), max_size=30))
    def test_equals_a_byte_map(self, adds):
        r = lb.RangeSet()
        held = np.zeros(260, dtype=bool)
        for a, n in adds:
            r.add(a, a + n)
            held[a : a + n] = True
        assert r.covered == held.sum()
        miss = np.zeros(260, dtype=bool)
        for a, b in r.missing(260):
            miss[a:b] = True
        np.testing.assert_array_equal(miss, ~held)
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(r.ranges, r.ranges[1:])), "disjoint, sorted, not touching"


# ---------------------------------------------------------------------------------------
# session data
# ---------------------------------------------------------------------------------------
class TestParseSessionData:
    def test_empty(self):
        run = lb.parse_session_data(b"", rate_hz=416)
        assert run.n_samples == 0 and run.acc.dtype == np.int16 and run.index.dtype == np.int64

    @pytest.mark.parametrize(("n", "per"), [(1, 41), (41, 41), (1000, 41), (1000, 7)])
    def test_basic(self, n, per):
        raw, acc, gyr = records(n, per_record=per)
        run = lb.parse_session_data(raw, rate_hz=416)
        np.testing.assert_array_equal(run.acc, acc)
        np.testing.assert_array_equal(run.gyr, gyr)
        np.testing.assert_array_equal(run.index, np.arange(n))
        assert run.gaps == () and run.n_records == -(-n // per) and run.t_first_us == 5_000_000
        if n > per:
            assert run.device_rate_hz == pytest.approx(416, rel=1e-5)

    def test_time_stamps_wrap_past_2_32_us(self):
        raw, _, _ = records(3000, t0_us=(1 << 32) - 1_000_000)
        run = lb.parse_session_data(raw, rate_hz=416)
        np.testing.assert_array_equal(run.index, np.arange(3000))
        assert run.device_rate_hz == pytest.approx(416, rel=1e-5)

    def test_the_sample_clock_measured_off_nominal(self):
        raw, _, _ = records(4100, rate_hz=416 * 1.012)  # the sensor runs 1.2 % fast
        run = lb.parse_session_data(raw, rate_hz=416)
        assert run.gaps == () and run.device_rate_hz == pytest.approx(416 * 1.012, rel=1e-5)

    def test_device_overflow_is_a_gap_of_the_right_size(self):
        rng = np.random.default_rng(1)
        acc = rng.integers(-100, 100, (200, 3))
        gyr = rng.integers(-100, 100, (200, 3))
        first = codec.packetize(acc[:82], gyr[:82], t0_us=0, rate_hz=400, samples_per_packet=41)
        # 37 samples lost in the device; the next record flagged overflow, stamped where it belongs
        second = codec.packetize(
            acc[119:], gyr[119:], t0_us=119 * 2500, rate_hz=400, samples_per_packet=41, seq0=2, stream_start=False
        )
        b = bytearray(second[0])
        b[1] |= codec.Flags.OVERFLOW
        b[-2:] = codec.crc16_ccitt_false(bytes(b[:-2])).to_bytes(2, "little")
        second[0] = bytes(b)
        run = lb.parse_session_data(b"".join(first + second), rate_hz=400)
        assert run.gaps == ((81, 119, 37, "overflow"),)
        np.testing.assert_array_equal(run.index, np.r_[0:82, 119:200])
        assert run.device_rate_hz == pytest.approx(400, rel=1e-6)

    @pytest.mark.parametrize(
        ("mangle", "message"),
        [
            (lambda r: r[:-5], "truncated record"),
            (lambda r: r[:100] + bytes([r[100] ^ 1]) + r[101:], "a record does not decode"),
            (lambda r: r[:8] + b"\x00" + r[9:], "impossible sample count in a record"),
        ],
    )
    def test_bad_data_never_become_samples(self, mangle, message):
        raw, _, _ = records(200)
        with pytest.raises(lb.LogDataError, match=re.escape(f"'data': {message};")):
            lb.parse_session_data(mangle(raw), rate_hz=416)

    def test_records_out_of_sequence(self):
        raw, _, _ = records(123)
        size = 11 + 12 * 41
        swapped = raw[:size] + raw[2 * size :] + raw[size : 2 * size]
        with pytest.raises(lb.LogDataError, match=r"record out of sequence; expected sequence number 1,"):
            lb.parse_session_data(swapped, rate_hz=416)

    def test_stream_start_only_first(self):
        acc, gyr = np.zeros((82, 3)), np.zeros((82, 3))
        a = codec.packetize(acc, gyr, t0_us=0, rate_hz=400, samples_per_packet=41, stream_start=False)
        with pytest.raises(lb.LogDataError, match="stream-start flag misplaced"):
            lb.parse_session_data(b"".join(a), rate_hz=400)

    def test_time_going_backwards(self):
        acc, gyr = np.zeros((41, 3)), np.zeros((41, 3))
        a = codec.packetize(acc, gyr, t0_us=1_000_000, rate_hz=400, samples_per_packet=41)
        b = codec.packetize(acc, gyr, t0_us=1_000_000, rate_hz=400, samples_per_packet=41, seq0=1, stream_start=False)
        with pytest.raises(lb.LogDataError, match="time goes backwards"):
            lb.parse_session_data(b"".join(a + b), rate_hz=400)

    def test_bad_rate(self):
        with pytest.raises(lb.LogDataError, match="bad rate"):
            lb.parse_session_data(b"", rate_hz=0)

    def test_entry_config_converts_counts(self):
        e = lb.LogEntry(1, 0, 0, 0, 0, 416000, 16, 2000, 488000, 70000, 0)
        c = e.config()
        assert c.acc_scale_mps2_per_lsb == CFG.acc_scale_mps2_per_lsb and e.rate_hz == 416.0
