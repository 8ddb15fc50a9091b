"""Every BLE decoder against random bytes, mutated packets and mixed sequences (property-based).

Subjects: our protocol (`StreamDecoder` and `LumbarImuDecoder`, counting and raising modes),
Polar PMD (Verity Sense with ACC and GYRO: delta frames, float32 GYRO frames, control-point
factors; H10: raw ACC frames), MetaWear, Movesense (IMU6 and IMU9 in two parts) and WitMotion.

Properties:

- **valid streams decode exactly**: the values the encoders put in come out bit for bit, at the
  right times;
- **no bad input gets through**: for any sequence of valid, mutated (bit flips, truncation,
  extension, duplication, splices), random and special notifications (NaN and infinite float
  payloads, absurd scale factors, configurations that do not decode), a decoder in counting
  mode never raises, in raising mode raises only its documented error, never emits a NaN or
  infinite sample, and its sample times increase strictly;
- **garbage leaves no trace**: valid notifications after garbage that the decoder refused
  decode exactly as they would have without it;
- **a bad configuration or control response never poisons later frames**.

Example counts come from ``tests/fuzz_settings.py`` (300 per property and decoder; 1000 on CI; 3000 with
``GAIT_FUZZ=slow``). ``GAIT_FUZZ_REPORT=path.json`` writes the tally of cases, notifications,
samples and non-finite samples (emitted: must be 0; dropped and counted by the decoders).
"""

from __future__ import annotations

import json
import os
import struct
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_protocol import codec
from firmware_protocol.devices import (
    FrameError,
    LumbarImuDecoder,
    MetaWearDecoder,
    MovesenseDecoder,
    PolarPmdDecoder,
    WitMotionDecoder,
    movesense,
    polar,
    witmotion,
)
from firmware_protocol.stream import StreamDecoder
from gait.constants import RAD_PER_DEG, G
from tests.fuzz_settings import fuzz

Note = tuple[bytes, str | None]

CONFIG = codec.DeviceConfig(
    rate_mhz=416000,
    acc_range_g=16,
    gyr_range_dps=2000,
    acc_scale_ng_per_lsb=488000,
    gyr_scale_udps_per_lsb=70000,
    samples_per_packet=19,
)
SPECIALS = (np.nan, np.inf, -np.inf)

# tally for the report (per subject)
TALLY: defaultdict[str, Counter[str]] = defaultdict(Counter)


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    path = os.environ.get("GAIT_FUZZ_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump({k: dict(v) for k, v in sorted(TALLY.items())}, f, indent=2)


# ---------------------------------------------------------------------------------------
# a uniform view of the decoders
# ---------------------------------------------------------------------------------------
@dataclass
class Out:
    """Everything a decoder emitted, in order."""

    t: list[np.ndarray] = field(default_factory=list)
    acc: list[np.ndarray] = field(default_factory=list)
    gyr: list[np.ndarray] = field(default_factory=list)

    def add(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None) -> None:
        self.t.append(np.asarray(t))
        self.acc.append(np.asarray(acc).reshape(-1, 3))
        self.gyr.append(np.zeros((len(t), 0)) if gyr is None else np.asarray(gyr).reshape(-1, 3))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if not self.t:
            return np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3))
        return np.concatenate(self.t), np.concatenate(self.acc), np.concatenate(self.gyr)

    @property
    def n(self) -> int:
        return sum(x.size for x in self.t)


@dataclass(frozen=True)
class Stream:
    """Valid notifications and what they must decode to (``t=None``: times not checked)."""

    notes: tuple[Note, ...]
    acc: np.ndarray
    gyr: np.ndarray | None
    t: np.ndarray | None = None


@dataclass(frozen=True)
class Subject:
    name: str
    make: Callable[[str], Any]
    valid: st.SearchStrategy[Stream]
    special: st.SearchStrategy[Note]
    documented: type[Exception]
    device: bool = True  # a DeviceDecoder (else the StreamDecoder)
    #: a data notification the decoder neither decodes nor refuses changes nothing: another
    #: sensor's frame (Polar, MetaWear), or bytes held as an incomplete frame, dropped by the
    #: next notification of whole frames (WitMotion); not so a held Movesense part 1
    ignoring_is_harmless: bool = False

    def feed(self, dec: Any, note: Note, out: Out) -> int:
        data, char = note
        if self.device:
            r = dec.feed(data, characteristic=char)
            out.add(r.t_s, r.acc_mps2, r.gyr_rads)
        else:
            r = dec.feed(data)
            out.add(r.t_s, r.acc_mps2, r.gyr_rads)
        return int(r.t_s.size)

    def flush(self, dec: Any, out: Out) -> None:
        r = dec.flush()
        out.add(r.t_s, r.acc_mps2, r.gyr_rads)

    def refused(self, dec: Any) -> int:
        """Notifications refused so far."""
        s = dec.stats
        return s.frames_bad if self.device else s.packets_bad + s.late + s.time_errors + s.duplicated

    def accepted(self, dec: Any) -> tuple[int, int]:
        """(frames that decoded, time-base resyncs) so far."""
        s = dec.stats
        if self.device:
            return s.frames_ok, s.resyncs
        return s.packets_ok, s.resyncs


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


# ---------------------------------------------------------------------------------------
# valid streams, from the encoders
# ---------------------------------------------------------------------------------------
def _int16(shape: tuple[int, ...], lo: int = -32768, hi: int = 32767) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.int64, shape, elements=st.integers(lo, hi))


@st.composite
def lumbar_stream(draw: st.DrawFn, *, with_config: bool = False) -> Stream:
    n = draw(st.integers(1, 150))
    spp = draw(st.integers(1, codec.MAX_SAMPLES_PER_PACKET))
    c = draw(_int16((n, 6)))
    t0 = draw(st.integers(0, 2**32 - 1))
    packets = codec.packetize(
        c[:, :3], c[:, 3:], t0_us=t0, rate_hz=416, samples_per_packet=spp, seq0=draw(st.integers(0, 0xFFFF))
    )
    notes: tuple[Note, ...] = tuple((p, None) for p in packets)
    if with_config:
        notes = ((codec.encode_config(CONFIG), codec.CONFIG_UUID), *notes)
    acc = c[:, :3].astype(np.float64) * CONFIG.acc_scale_mps2_per_lsb
    gyr = c[:, 3:].astype(np.float64) * CONFIG.gyr_scale_rads_per_lsb
    return Stream(notes, acc, gyr, t=t0 * 1e-6 + np.arange(n) / 416.0)


def _sizes(draw: st.DrawFn, max_frames: int, max_n: int) -> list[int]:
    return draw(st.lists(st.integers(1, max_n), min_size=1, max_size=max_frames))


@st.composite
def polar_h10_stream(draw: st.DrawFn) -> Stream:
    """Raw ACC frames (int16 milli-g), back to back at 200 Hz."""
    sizes = _sizes(draw, 6, 40)
    mg = draw(_int16((sum(sizes), 3)))
    period_ns = 5_000_000
    base = draw(st.integers(10**9, 10**18))
    ends = base + period_ns * np.cumsum(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)])
    notes = tuple(
        (polar.encode_raw_acc_frame(mg[a:b], timestamp_ns=int(e)), None) for a, b, e in zip(starts, starts[1:], ends)
    )
    t = (base + period_ns * (np.arange(sum(sizes)) + 1)).astype(np.float64) * 1e-9
    return Stream(notes, mg.astype(np.float64) * (1e-3 * G), None, t=t)


def _frame_ns(frame: bytes) -> int:
    return struct.unpack_from("<Q", frame, 1)[0]


def _control(meas: int, factor_bits: bytes) -> Note:
    body = bytes([0xF0, 0x02, meas, 0x00, 0x00, polar.SETTING_FACTOR, 1]) + factor_bits
    return body, polar.CONTROL_UUID


def _wrap32(bits: np.ndarray) -> np.ndarray:
    """Float32 bit patterns as samples whose deltas fit 32 bits (equal modulo 2^32, as the
    device codes them)."""
    d = np.diff(bits, axis=0)
    d = (d + 2**31) % 2**32 - 2**31
    return np.concatenate([bits[:1], bits[:1] + np.cumsum(d, axis=0)])


def _delta(meas: int, end_ns: int, ftype: int, samples: np.ndarray, resolution_bits: int = 16) -> Note:
    if resolution_bits == 32:
        samples = _wrap32(samples)
    body = polar.encode_delta_frame(samples, resolution_bits=resolution_bits)
    return bytes([meas]) + struct.pack("<Q", end_ns) + bytes([ftype]) + body, None


@st.composite
def polar_verity_stream(draw: st.DrawFn) -> Stream:
    """Control responses with factors, then GYRO and ACC frames covering the same times."""
    sizes = _sizes(draw, 5, 30)
    n = sum(sizes)
    acc_factor = _f32(draw(st.sampled_from([6.1e-5, 1.22e-4, 2.44e-4, 4.88e-4])))
    float_gyro = draw(st.booleans())
    gyr_factor = 1.0 if float_gyro else _f32(draw(st.sampled_from([7.63e-3, 0.0153, 0.0305, 0.061])))
    acc = draw(_int16((n, 3), -30000, 30000))
    if float_gyro:
        gyr_vals = draw(hnp.arrays(np.float32, (n, 3), elements=st.floats(-2000, 2000, width=32)))
    else:
        gyr_vals = draw(_int16((n, 3), -30000, 30000))
    period_ns = 1e9 / 208
    end = draw(st.integers(10**9, 10**18))
    notes: list[Note] = [
        _control(polar.MEAS_ACC, struct.pack("<f", acc_factor)),
        _control(polar.MEAS_GYRO, struct.pack("<f", gyr_factor)),
    ]
    k, cum = 0, 0
    for m in sizes:
        cum += m
        frame_end = end + round(cum * period_ns)
        if float_gyro:
            bits = gyr_vals[k : k + m].view(np.int32).astype(np.int64)
            notes.append(_delta(polar.MEAS_GYRO, frame_end, 0x81, bits, resolution_bits=32))
        else:
            notes.append(_delta(polar.MEAS_GYRO, frame_end, 0x80, gyr_vals[k : k + m]))
        notes.append(_delta(polar.MEAS_ACC, frame_end, 0x80, acc[k : k + m]))
        k += m
    acc_si = acc.astype(np.float64) * acc_factor * 1000.0 * (1e-3 * G)
    gyr_si = gyr_vals.astype(np.float64) * gyr_factor * RAD_PER_DEG
    return Stream(tuple(notes), acc_si, gyr_si)


@st.composite
def metawear_stream(draw: st.DrawFn) -> Stream:
    k = draw(st.integers(1, 12))
    acc = draw(_int16((3 * k, 3)))
    gyr = draw(_int16((3 * k, 3)))
    notes: list[Note] = []
    for i in range(k):
        notes.append((bytes([0x03, 0x1C]) + acc[3 * i : 3 * i + 3].astype("<i2").tobytes(), None))
        notes.append((bytes([0x13, 0x07]) + gyr[3 * i : 3 * i + 3].astype("<i2").tobytes(), None))
    dec = MetaWearDecoder()
    return Stream(
        tuple(notes),
        acc.astype(np.float64) * dec.acc_scale,
        gyr.astype(np.float64) * dec.gyr_scale,
        t=np.arange(3 * k) / 200.0,
    )


def movesense_stream(arrays: int) -> st.SearchStrategy[Stream]:
    @st.composite
    def stream(draw: st.DrawFn) -> Stream:
        sizes = _sizes(draw, 6, 9)
        n = sum(sizes)
        vals = draw(hnp.arrays(np.float32, (arrays, n, 3), elements=st.floats(-1e4, 1e4, width=32)))
        ts0 = draw(st.integers(0, 2**32 - 1))
        notes: list[Note] = []
        t: list[np.ndarray] = []
        k = 0
        for m in sizes:
            ts = ts0 + round(k * 1000 / 208)
            mag = vals[2, k : k + m] if arrays == 3 else None
            for note in movesense.encode_imu(ts % 2**32, vals[0, k : k + m], vals[1, k : k + m], mag, mtu_payload=244):
                notes.append((note, None))
            t.append(ts * 1e-3 + np.arange(m) / 208.0)
            k += m
        return Stream(
            tuple(notes),
            vals[0].astype(np.float64),
            vals[1].astype(np.float64) * RAD_PER_DEG,
            t=np.concatenate(t),
        )

    return stream()


@st.composite
def witmotion_stream(draw: st.DrawFn) -> Stream:
    per_note = _sizes(draw, 8, 3)
    raw = draw(_int16((sum(per_note), 9)))
    frames = [witmotion.HEADER + r.astype("<i2").tobytes() for r in raw]
    notes, k = [], 0
    for m in per_note:
        notes.append((b"".join(frames[k : k + m]), None))
        k += m
    acc = raw[:, 0:3].astype(np.float64) / 32768.0 * witmotion.ACC_RANGE_G * G
    gyr = raw[:, 3:6].astype(np.float64) / 32768.0 * witmotion.GYR_RANGE_DPS * RAD_PER_DEG
    return Stream(tuple(notes), acc, gyr, t=np.arange(len(frames)) / 100.0)


# ---------------------------------------------------------------------------------------
# special garbage: non-finite payloads, absurd factors, configurations that do not decode
# ---------------------------------------------------------------------------------------
ABSURD_FACTORS = [np.nan, np.inf, -np.inf, 0.0, -0.0, -2.44e-4, -1.0, 1e30, 3.4e38, 1e-30, 1e-45]
factor_bits = st.one_of(
    st.sampled_from([struct.pack("<f", f) for f in ABSURD_FACTORS]),
    st.binary(min_size=4, max_size=4),
)


@st.composite
def special_float_frame(draw: st.DrawFn) -> Note:
    """A float32 GYRO frame with NaN / inf values in it."""
    n = draw(st.integers(1, 20))
    vals = draw(hnp.arrays(np.float32, (n, 3), elements=st.floats(-2000, 2000, width=32)))
    mask = draw(hnp.arrays(np.bool_, (n, 3)))
    vals[mask] = draw(st.sampled_from(SPECIALS))
    end = draw(st.integers(10**9, 10**18))
    return _delta(polar.MEAS_GYRO, end, 0x81, vals.view(np.int32).astype(np.int64), resolution_bits=32)


polar_special = st.one_of(
    st.builds(_control, st.sampled_from([polar.MEAS_ACC, polar.MEAS_GYRO]), factor_bits),
    special_float_frame(),
)


def movesense_special(arrays: int) -> st.SearchStrategy[Note]:
    @st.composite
    def note(draw: st.DrawFn) -> Note:
        n = draw(st.integers(1, 8))
        vals = draw(hnp.arrays(np.float32, (arrays, n, 3), elements=st.floats(-1e4, 1e4, width=32)))
        mask = draw(hnp.arrays(np.bool_, (arrays, n, 3)))
        vals[mask] = draw(st.sampled_from(SPECIALS))
        ts = draw(st.integers(0, 2**32 - 1))
        mag = vals[2] if arrays == 3 else None
        return movesense.encode_imu(ts, vals[0], vals[1], mag)[0], None

    return note()


lumbar_config_garbage = st.one_of(
    st.binary(max_size=40),
    st.binary(min_size=19, max_size=19).map(lambda b: b"\x02" + b),  # another protocol version
    st.binary(min_size=19, max_size=19).map(lambda b: b"\x01" + b),
    st.just(b"\x01" + bytes(19)),  # zero rate and scales
).map(lambda b: (b, codec.CONFIG_UUID))

no_special: st.SearchStrategy[Note] = st.nothing()

SUBJECTS = [
    Subject(
        "our protocol, StreamDecoder",
        lambda e: StreamDecoder(CONFIG, errors=e),
        lumbar_stream(),
        no_special,
        codec.PacketError,
        device=False,
    ),
    Subject(
        "our protocol, LumbarImuDecoder",
        lambda e: LumbarImuDecoder(config=CONFIG, errors=e),
        lumbar_stream(with_config=True),
        lumbar_config_garbage,
        FrameError,
    ),
    Subject(
        "Polar Verity Sense",
        lambda e: PolarPmdDecoder(rate_hz=208, errors=e),
        polar_verity_stream(),
        polar_special,
        FrameError,
    ),
    Subject(
        "Polar H10",
        lambda e: PolarPmdDecoder(rate_hz=200, with_gyro=False, errors=e),
        polar_h10_stream(),
        st.builds(_control, st.just(polar.MEAS_ACC), factor_bits),
        FrameError,
        ignoring_is_harmless=True,
    ),
    Subject(
        "MetaWear",
        lambda e: MetaWearDecoder(rate_hz=200, errors=e),
        metawear_stream(),
        no_special,
        FrameError,
        ignoring_is_harmless=True,
    ),
    Subject(
        "Movesense IMU6",
        lambda e: MovesenseDecoder(rate_hz=208, errors=e),
        movesense_stream(2),
        movesense_special(2),
        FrameError,
    ),
    Subject(
        "Movesense IMU9",
        lambda e: MovesenseDecoder(rate_hz=208, channels="IMU9", errors=e),
        movesense_stream(3),
        movesense_special(3),
        FrameError,
    ),
    Subject(
        "WitMotion",
        lambda e: WitMotionDecoder(rate_hz=100, errors=e),
        witmotion_stream(),
        no_special,
        FrameError,
        ignoring_is_harmless=True,
    ),
]
IDS = [s.name for s in SUBJECTS]


# ---------------------------------------------------------------------------------------
# mutations of valid notifications
# ---------------------------------------------------------------------------------------
def _flip(data: bytes, positions: list[int]) -> bytes:
    b = bytearray(data)
    for p in positions:
        b[(p // 8) % len(b)] ^= 1 << (p % 8)
    return bytes(b)


@st.composite
def mutated(draw: st.DrawFn, notes: tuple[Note, ...]) -> list[Note]:
    data, char = notes[draw(st.integers(0, len(notes) - 1))]
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "duplicate", "splice", "replace"]))
    if kind == "flip" and data:
        return [(_flip(data, draw(st.lists(st.integers(0, 8 * len(data) - 1), min_size=1, max_size=3))), char)]
    if kind == "truncate":
        return [(data[: draw(st.integers(0, max(0, len(data) - 1)))], char)]
    if kind == "extend":
        return [(data + draw(st.binary(min_size=1, max_size=30)), char)]
    if kind == "duplicate":
        return [(data, char), (data, char)]
    if kind == "splice":
        other, _ = notes[draw(st.integers(0, len(notes) - 1))]
        return [(data[: draw(st.integers(0, len(data)))] + other[draw(st.integers(0, len(other))) :], char)]
    if data:
        i = draw(st.integers(0, len(data) - 1))
        return [(data[:i] + bytes([draw(st.integers(0, 255))]) + data[i + 1 :], char)]
    return [(data, char)]


def garbage(subject: Subject, stream: Stream) -> st.SearchStrategy[list[Note]]:
    """Mutated valid notifications, random bytes, and the subject's special cases."""
    return st.one_of(
        mutated(stream.notes),
        st.binary(max_size=300).map(lambda b: [(b, None)]),
        subject.special.map(lambda n: [n]),
    )


# ---------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------
def _check_output(subject: Subject, out: Out) -> None:
    t, acc, gyr = out.arrays()
    TALLY[subject.name]["samples"] += int(t.size)
    nonfinite = ~(np.isfinite(t) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1))
    TALLY[subject.name]["nonfinite emitted"] += int(nonfinite.sum())
    assert not nonfinite.any(), "a NaN or infinite sample was emitted"
    assert np.all(np.diff(t) > 0), "sample times must increase strictly"
    assert acc.shape == (t.size, 3)


def _same(a: Out, b: Out) -> None:
    ta, aa, ga = a.arrays()
    tb, ab, gb = b.arrays()
    np.testing.assert_array_equal(ta, tb)
    np.testing.assert_array_equal(aa, ab)
    np.testing.assert_array_equal(ga, gb)


def _tally_decoder(subject: Subject, dec: Any) -> None:
    s = dec.stats
    TALLY[subject.name]["nonfinite dropped"] += getattr(s, "nonfinite", 0)
    TALLY[subject.name]["resyncs"] += s.resyncs


# ---------------------------------------------------------------------------------------
# properties
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("subject", SUBJECTS, ids=IDS)
def test_valid_streams_decode_exactly(subject: Subject) -> None:
    @fuzz
    @given(subject.valid)
    def check(stream: Stream) -> None:
        TALLY[subject.name]["cases valid"] += 1
        dec = subject.make("raise")
        out = Out()
        for note in stream.notes:
            subject.feed(dec, note, out)
        subject.flush(dec, out)
        TALLY[subject.name]["notifications"] += len(stream.notes)
        _check_output(subject, out)
        t, acc, gyr = out.arrays()
        np.testing.assert_array_equal(acc, stream.acc)
        if stream.gyr is not None:
            np.testing.assert_array_equal(gyr, stream.gyr)
        if stream.t is not None:
            np.testing.assert_allclose(t, stream.t, rtol=0, atol=2e-6)

    check()


@pytest.mark.parametrize("subject", SUBJECTS, ids=IDS)
@pytest.mark.parametrize("errors", ["count", "raise"])
def test_no_bad_input_gets_through(subject: Subject, errors: str) -> None:
    """Valid, mutated, random and special notifications in any order: never an undocumented
    exception (none at all when counting), never a non-finite sample, times always increasing."""

    @fuzz
    @given(subject.valid, st.data())
    def check(stream: Stream, data: st.DataObject) -> None:
        TALLY[subject.name][f"cases mixed ({errors})"] += 1
        pieces = data.draw(
            st.lists(st.one_of(st.sampled_from(stream.notes).map(lambda n: [n]), garbage(subject, stream)), max_size=25)
        )
        dec = subject.make(errors)
        out = Out()
        for note in [n for piece in pieces for n in piece]:
            TALLY[subject.name]["notifications"] += 1
            try:
                subject.feed(dec, note, out)
            except subject.documented:
                assert errors == "raise", "counting mode must never raise"
        subject.flush(dec, out)
        _check_output(subject, out)
        _tally_decoder(subject, dec)

    check()


@pytest.mark.parametrize("subject", SUBJECTS, ids=IDS)
def test_garbage_leaves_no_trace(subject: Subject) -> None:
    """Valid notifications after refused garbage decode exactly as without the garbage."""

    @fuzz
    @given(subject.valid, st.data())
    def check(stream: Stream, data: st.DataObject) -> None:
        cut = data.draw(st.integers(0, len(stream.notes)))
        junk = [n for piece in data.draw(st.lists(garbage(subject, stream), min_size=1, max_size=6)) for n in piece]
        dec, ref = subject.make("count"), subject.make("count")
        out, ref_out = Out(), Out()
        for note in stream.notes[:cut]:
            subject.feed(dec, note, out)
            subject.feed(ref, note, ref_out)
        before = subject.accepted(dec)
        emitted, taken = 0, False
        for note in junk:
            bad = subject.refused(dec)
            emitted += subject.feed(dec, note, Out())
            # a notification neither refused nor decoded is ignored (another sensor's data), held
            # (the first part of a Movesense message) or a setting (a configuration, a control
            # response); only the first leaves no trace for sure
            ignored = subject.refused(dec) == bad
            taken |= ignored and (note[1] is not None or not subject.ignoring_is_harmless)
        if emitted or taken or subject.accepted(dec) != before:
            TALLY[subject.name]["cases garbage accepted (skipped)"] += 1  # a mutation that is itself valid
            return
        TALLY[subject.name]["cases garbage then valid"] += 1
        TALLY[subject.name]["garbage refused"] += len(junk)
        tail, ref_tail = Out(), Out()
        for note in stream.notes[cut:]:
            subject.feed(dec, note, tail)
            subject.feed(ref, note, ref_tail)
        subject.flush(dec, tail)
        subject.flush(ref, ref_tail)
        _same(tail, ref_tail)
        _check_output(subject, tail)

    check()


POISONERS = {
    "our protocol, LumbarImuDecoder": lumbar_config_garbage.filter(lambda n: _config_fails(n[0])),
    "Polar Verity Sense": st.builds(
        _control,
        st.sampled_from([polar.MEAS_ACC, polar.MEAS_GYRO]),
        st.sampled_from(ABSURD_FACTORS).map(lambda f: struct.pack("<f", f)),
    ),
    "Polar H10": st.builds(
        _control, st.just(polar.MEAS_ACC), st.sampled_from(ABSURD_FACTORS).map(lambda f: struct.pack("<f", f))
    ),
}


def _config_fails(data: bytes) -> bool:
    try:
        codec.decode_config(data)
    except codec.ProtocolError:
        return True
    return False


@pytest.mark.parametrize("subject", [s for s in SUBJECTS if s.name in POISONERS], ids=lambda s: s.name)
def test_a_bad_configuration_never_poisons_later_frames(subject: Subject) -> None:
    @fuzz
    @given(subject.valid, st.data())
    def check(stream: Stream, data: st.DataObject) -> None:
        TALLY[subject.name]["cases bad configuration"] += 1
        cut = data.draw(st.integers(0, len(stream.notes)))
        bad = data.draw(st.lists(POISONERS[subject.name], min_size=1, max_size=3))
        dec, ref = subject.make("count"), subject.make("count")
        out, ref_out = Out(), Out()
        for note in stream.notes[:cut]:
            subject.feed(dec, note, out)
            subject.feed(ref, note, ref_out)
        for note in bad:
            assert subject.feed(dec, note, out) == 0
        assert dec.stats.frames_bad == ref.stats.frames_bad + len(bad), "every bad response is counted"
        for note in stream.notes[cut:]:
            subject.feed(dec, note, out)
            subject.feed(ref, note, ref_out)
        _same(out, ref_out)

    check()
