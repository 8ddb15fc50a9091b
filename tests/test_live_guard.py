"""The recorder never writes a line its own loader refuses: `SampleGuard`, the writer's own check,
and round trips (the recorder's data path writes a file, `gait.io.read_canonical_session` reads it back).

The decoders already drop NaN and infinite samples; these tests feed the recorder samples that
slipped through anyway (a NaN, an infinite or an absurd value, times of any kind of gap) and
check that the file loads, holds exactly the good samples at their exact places, and declares
the dropped ones as gaps.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from firmware_protocol.devices import movesense, polar
from firmware_protocol.profiles import get_profile
from firmware_protocol.samples import DecodedSamples
from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitDataWarning, GaitInputError
from gait.io import SessionCsvWriter, read_canonical_session
from gait.live import FoundDevice, RecordConfig, Recorder
from gait.live._guard import MAX_ACC_MPS2, MAX_GYR_RADS, SampleGuard
from gait.live._links import ProfileLink
from gait.session import SessionMetadata
from tests.fuzz_settings import fuzz

RATE = 208.0


def decoded(t, acc, gyr, gap_before=None, lost=(), reasons=(), new_epoch=False) -> DecodedSamples:
    t = np.asarray(t, dtype=float)
    gb = np.zeros(t.size, dtype=bool) if gap_before is None else np.asarray(gap_before, dtype=bool)
    return DecodedSamples.with_holes(
        t,
        np.asarray(acc, float),
        None if gyr is None else np.asarray(gyr, float),
        gb,
        lost,
        reasons,
        new_epoch=new_epoch,
    )


def rows(n: int, bad: dict[int, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    acc = np.tile([0.1, 0.2, 9.8], (n, 1)) + np.arange(n)[:, None] * 1e-3
    gyr = np.tile([0.01, -0.02, 0.03], (n, 1))
    for i, v in (bad or {}).items():
        acc[i, 1] = v
    return acc, gyr


# ---------------------------------------------------------------------------------------
# SampleGuard
# ---------------------------------------------------------------------------------------
class TestSampleGuard:
    def test_clean_blocks_pass_unchanged(self):
        acc, gyr = rows(5)
        d = decoded(np.arange(5) / RATE, acc, gyr, [False, False, True, False, False], (3,), ("loss",))
        g = SampleGuard()
        assert g.clean(d) is d and g.dropped == 0

    @pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
    def test_a_non_finite_sample_becomes_a_gap_of_one(self, value):
        acc, gyr = rows(5, {2: value})
        g = SampleGuard()
        out = g.clean(decoded(np.arange(5) / RATE, acc, gyr))
        np.testing.assert_array_equal(out.t_s, np.array([0, 1, 3, 4]) / RATE)
        np.testing.assert_array_equal(out.acc_mps2, acc[[0, 1, 3, 4]])
        np.testing.assert_array_equal(out.gap_before, [False, False, True, False])
        assert out.samples_lost == (1,) and out.reasons == ("invalid",)
        assert (g.nonfinite, g.out_of_range) == (1, 0)

    def test_impossible_values_are_dropped(self):
        acc, gyr = rows(4)
        acc[1] = [MAX_ACC_MPS2, 1.0, 0.0]  # just beyond 64 g
        gyr[2] = [0.0, MAX_GYR_RADS, 0.1]  # just beyond 35 rad/s
        g = SampleGuard()
        out = g.clean(decoded(np.arange(4) / RATE, acc, gyr))
        assert out.n_samples == 2 and out.samples_lost == (2,) and g.out_of_range == 2
        ok = g.clean(decoded([5 / RATE], [[0.0, 0.0, MAX_ACC_MPS2]], [[0.0, 0.0, MAX_GYR_RADS]]))
        assert ok.n_samples == 1, "the limits themselves are kept"

    def test_a_dropped_sample_joins_the_gap_after_it_and_keeps_its_cause(self):
        acc, gyr = rows(4, {1: np.nan})
        d = decoded(np.arange(4) / RATE, acc, gyr, [False, True, True, False], (5, 2), ("reconnect", "loss"))
        out = SampleGuard().clean(d)
        # sample 1 (after a 5-sample reconnect gap) dropped: sample 2 follows 5 + 1 + 2 missing samples
        assert out.samples_lost == (8,) and out.reasons == ("reconnect",)
        np.testing.assert_array_equal(out.gap_before, [False, True, False])

    def test_dropped_samples_at_the_end_of_a_block_carry_over(self):
        g = SampleGuard()
        acc, gyr = rows(3, {2: np.inf})
        first = g.clean(decoded(np.arange(3) / RATE, acc, gyr))
        assert first.n_samples == 2 and not first.gap_before.any()
        acc, gyr = rows(2, {0: np.nan, 1: -np.inf})
        second = g.clean(decoded([3 / RATE, 4 / RATE], acc, gyr, new_epoch=True))
        assert second.n_samples == 0 and not second.new_epoch
        acc, gyr = rows(2)
        third = g.clean(decoded([6 / RATE, 7 / RATE], acc, gyr, [True, False], (1,), ("loss",)))
        # 1 + 2 dropped, then 1 lost: the clock restart and the loss's cause carry over
        assert third.samples_lost == (4,) and third.reasons == ("loss",) and third.new_epoch
        np.testing.assert_array_equal(third.gap_before, [True, False])

    def test_a_negative_hole_is_never_declared(self):
        acc, gyr = rows(2)
        out = SampleGuard().clean(decoded([0, 1 / RATE], acc, gyr, [False, True], (-3,), ("time",)))
        assert out.samples_lost == (0,)


# ---------------------------------------------------------------------------------------
# the writer's own check
# ---------------------------------------------------------------------------------------
def _writer(path: Path) -> SessionCsvWriter:
    return SessionCsvWriter(path, SessionMetadata(sampling_rate_hz=100.0, device="test"), frame="sensor")


@pytest.mark.parametrize(
    ("t", "bad_col", "match"),
    [
        ([0.02, 0.03], ("acc", 1), r"parameter 'acc': a sample the session file cannot hold"),
        ([0.02, 0.03], ("gyr", 0), r"parameter 'gyr': a sample the session file cannot hold"),
        ([0.02, np.nan], None, r"parameter 't': a sample the session file cannot hold"),
        ([0.01, 0.02], None, r"parameter 't': .*found \[0\.01, .* as row 2 \(the previous time: 0\.01 s\)"),
        ([0.03, 0.025], None, r"parameter 't'"),
    ],
)
def test_the_writer_refuses_a_line_its_loader_would_refuse(tmp_path, t, bad_col, match):
    path = tmp_path / "w.csv"
    acc, gyr = rows(4)
    with _writer(path) as w:
        w.write(np.array([0.0, 0.01]), acc[:2], gyr[:2])
        acc2, gyr2 = acc[2:].copy(), gyr[2:].copy()
        if bad_col is not None:
            (acc2 if bad_col[0] == "acc" else gyr2)[1, bad_col[1]] = np.nan
        with pytest.raises(GaitInputError, match=match):
            w.write(np.array(t), acc2, gyr2)
        assert w.n_rows == 2
        w.write(np.array([0.02, 0.03]), acc[2:], gyr[2:])
    s = read_canonical_session(path)
    np.testing.assert_array_equal(s.acc, acc)


# ---------------------------------------------------------------------------------------
# round trips through the recorder's data path
# ---------------------------------------------------------------------------------------
def _recorder(out: Path, profile_key: str = "movesense", rate_hz: float = RATE) -> Recorder:
    rec = Recorder(RecordConfig(out=out))
    rec.found = FoundDevice(name="sensor", address="00:00:00:C0:00:01", rssi_dbm=-50, protocol=profile_key)
    link = ProfileLink(
        get_profile(profile_key), rate_hz=int(rate_hz), acc_range_g=16, gyr_range_dps=2000, describe="sensor"
    )
    asyncio.run(link.configure(None, resume_ok=False))  # type: ignore[arg-type]
    rec._link = link
    return rec


def _finish(rec: Recorder):
    assert rec._writer is not None
    rec._writer.close()
    result = rec._finalize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GaitDataWarning)
        session = read_canonical_session(result.path)
    return result, session, [str(w.message) for w in caught]


@st.composite
def blocks(draw: st.DrawFn, *, hostile: bool):
    """DecodedSamples blocks as a link emits them, with NaN, infinite and absurd values mixed in.

    Returns the blocks and, per sample, its true slot on the sampling grid and whether it is
    a good sample (finite, within the limits)."""
    n_blocks = draw(st.integers(1, 8))
    out, slots, good = [], [], []
    slot = -1
    for b in range(n_blocks):
        n = draw(st.integers(1, 20))
        acc = draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-15, 15))) + np.array([0.0, 0.0, G])
        gyr = draw(hnp.arrays(np.float64, (n, 3), elements=st.floats(-5, 5)))
        marker = draw(hnp.arrays(np.bool_, n))
        lost = [draw(st.integers(0 if hostile else 1, 30)) for _ in range(int(marker.sum()))]
        specials = st.sampled_from([np.nan, np.inf, -np.inf, 1e6, -1e300, 2 * MAX_ACC_MPS2])
        n_bad = draw(st.integers(0, n))
        for i in draw(st.lists(st.integers(0, n - 1), min_size=n_bad, max_size=n_bad)):
            block = acc if draw(st.booleans()) else gyr
            block[i, draw(st.integers(0, 2))] = draw(specials)
        steps = np.ones(n, dtype=int)
        steps[np.flatnonzero(marker)] += np.asarray(lost, dtype=int)
        if b == 0 and slot < 0:
            steps[0] = 1
        s = slot + np.cumsum(steps)
        slot = int(s[-1])
        t = s / RATE  # device time on the grid
        ok = np.isfinite(acc).all(1) & np.isfinite(gyr).all(1)
        with np.errstate(over="ignore", invalid="ignore"):
            ok &= (np.linalg.norm(acc, axis=1) <= MAX_ACC_MPS2) & (np.linalg.norm(gyr, axis=1) <= MAX_GYR_RADS)
        reasons = tuple(draw(st.sampled_from(["loss", "reconnect", "time"])) for _ in lost)
        out.append(decoded(t, acc, gyr, marker, tuple(lost), reasons))
        slots.append(s)
        good.append(ok)
    return out, np.concatenate(slots), np.concatenate(good)


@fuzz
@given(blocks(hostile=False))
def test_round_trip_the_file_holds_exactly_the_good_samples(case):
    """Whatever the link emits, the file loads and holds every good sample, bit for bit, at its
    place on the sampling grid; every dropped sample is part of a declared gap."""
    ds, slots, good = case
    if good.sum() < 2:
        return  # a file needs two samples; nothing to compare
    kept = slots[good]
    with tempfile.TemporaryDirectory() as tmp:
        rec = _recorder(Path(tmp) / "run.csv")
        for d in ds:
            rec._process(d, 0.0)
        if np.mean(np.diff(kept) == 1) < 0.2:
            # fewer than a fifth of the intervals on the sampling grid: the loader cannot tell
            # the declared rate from the timestamps and refuses the file (a whole-file check)
            with pytest.raises(GaitInputError, match="sampling rate does not match the timestamps"):
                _finish(rec)
            return
        result, s, msgs = _finish(rec)
        sidecar = json.loads(result.sidecar.read_text())
    acc = np.concatenate([d.acc_mps2 for d in ds])[good]
    gyr = np.concatenate([d.gyr_rads for d in ds])[good]
    np.testing.assert_array_equal(s.acc, acc)
    np.testing.assert_array_equal(s.gyr, gyr)
    np.testing.assert_array_equal(np.rint(s.t * RATE).astype(int), kept - kept[0])
    missing = int(np.sum(np.diff(kept) - 1))
    in_file = [lost for start, _, lost, _ in result.gaps if math.isfinite(start)]  # not before the first sample
    assert sum(in_file) == missing
    assert result.link.samples_invalid == int((~good).sum())
    assert sidecar["invalid_samples"]["nonfinite"] + sidecar["invalid_samples"]["out_of_range"] == int((~good).sum())
    assert (missing > 0) == any("gap" in m for m in msgs), (msgs, s.n_samples, kept)


@fuzz
@given(blocks(hostile=True))
def test_round_trip_never_a_line_the_loader_refuses(case):
    """Any values, any gaps (zero-length, at the start): the loader may find the whole file
    implausible, but never refuses a line of it."""
    ds, _, good = case
    with tempfile.TemporaryDirectory() as tmp:
        rec = _recorder(Path(tmp) / "run.csv")
        for d in ds:
            rec._process(d, 0.0)
        if rec._writer is None:
            assert not good.any()
            return
        rec._writer.close()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            try:
                s = read_canonical_session(rec.config.out)
            except GaitInputError as e:  # too few rows, implausible units or rate: the file as a whole
                # (a whole-file refusal may point at the header line that declares the rate)
                header = rec.config.out.read_text().splitlines()
                data_start = next(k for k, line in enumerate(header, 1) if not line.startswith("#")) + 1
                assert e.where.column is None and (e.where.line is None or e.where.line < data_start), (
                    f"the loader refused a line: {e}"
                )
            else:
                assert s.n_samples == int(good.sum())


# ---------------------------------------------------------------------------------------
# end to end: notifications with NaN, through a real decoder, into a file that loads
# ---------------------------------------------------------------------------------------
def test_a_movesense_nan_sample_costs_one_sample_not_the_run(tmp_path):
    rec = _recorder(tmp_path / "run.csv")
    rng = np.random.default_rng(3)
    sent_acc, sent_gyr = [], []
    for k in range(60):
        acc = rng.normal([0, 0, G], 1.0, (8, 3)).astype(np.float32)
        gyr = rng.normal(0, 30, (8, 3)).astype(np.float32)
        if k == 20:
            gyr[3, 0] = np.nan
        if k == 40:
            acc[:] = np.inf  # a whole notification without a finite sample
        (note,) = movesense.encode_imu(10_000 + round(k * 8 * 1000 / RATE), acc, gyr)
        rec._on_notify(movesense.NOTIFY_UUID, None, bytearray(note))
        sent_acc.append(acc)
        sent_gyr.append(gyr)
    result, s, msgs = _finish(rec)
    acc = np.concatenate(sent_acc).astype(np.float64)
    good = np.isfinite(acc).all(1) & np.isfinite(np.concatenate(sent_gyr)).all(1)
    assert s.n_samples == 60 * 8 - 1 - 8 == good.sum()
    np.testing.assert_array_equal(s.acc, acc[good])
    assert [g[2] for g in result.gaps] == [1, 8]
    assert result.link.samples_invalid == 1 + 8
    assert any("2 gaps" in m for m in msgs)


def test_a_polar_nan_gyroscope_frame_leaves_a_loadable_file(tmp_path):
    """The case that lost whole runs: a float GYRO frame with a NaN made the file unloadable
    ("line 305, column 'gyr_x_rads': missing or non-finite value")."""
    rec = _recorder(tmp_path / "run.csv", "polar_verity_sense", RATE)
    rng = np.random.default_rng(4)
    n, end = 18, 10**12
    for k in range(30):
        end += round(n * 1e9 / RATE)
        gyr = rng.normal(0, 20, (n, 3)).astype(np.float32)
        if k == 12:
            gyr[5, 0] = np.nan
        bits = gyr.view(np.int32).astype(np.int64)
        d = np.diff(bits, axis=0)
        bits = np.concatenate([bits[:1], bits[:1] + np.cumsum((d + 2**31) % 2**32 - 2**31, axis=0)])
        frames = [
            bytes([polar.MEAS_GYRO])
            + struct.pack("<Q", end)
            + b"\x81"
            + polar.encode_delta_frame(bits, resolution_bits=32),
            bytes([polar.MEAS_ACC])
            + struct.pack("<Q", end)
            + b"\x81"
            + polar.encode_delta_frame(rng.normal([0, 0, 1000], 100, (n, 3)).round().astype(int)),
        ]
        for f in frames:
            rec._on_notify(polar.DATA_UUID, None, bytearray(f))
    result, s, msgs = _finish(rec)
    # the NaN gyroscope sample is dropped; the accelerometer sample at its time takes the
    # gyroscope interpolated between its neighbours (two periods apart)
    assert np.isfinite(s.gyr).all() and s.n_samples == 30 * n
    assert result.link.samples_invalid == 1 and result.gaps == () and not msgs
    assert np.abs(s.gyr).max() < 200 * RAD_PER_DEG


@pytest.mark.parametrize("raw", [b"\x02" + bytes(19), b"\x01" + bytes(19), b"\x01\x00"])
def test_a_configuration_that_does_not_decode_is_refused_with_its_reason(raw):
    """Our protocol's configuration read while connecting: the recording ends with a message
    (`RecordingError`), never with a traceback."""
    from gait.live._links import SensorRefused

    class Client:
        async def read_gatt_char(self, uuid):
            return bytearray(raw)

    link = ProfileLink(
        get_profile("lumbar_imu"), rate_hz=416, acc_range_g=16, gyr_range_dps=2000, describe="LumbarIMU-1A2B"
    )
    with pytest.raises(
        SensorRefused, match=r"^LumbarIMU-1A2B sent a configuration that does not decode \(parameter 'config': "
    ):
        asyncio.run(link.configure(Client(), resume_ok=False))  # type: ignore[arg-type]


def test_a_gap_before_the_first_sample_is_not_declared_inside_the_file(tmp_path):
    """A loss (or a dropped bad sample) before the file's first sample lies outside the file:
    the header's gap list holds only gaps between two written samples, never a NaN start."""
    n = 40
    t = np.arange(n) / RATE
    acc = np.tile([0.0, 0.0, G], (n, 1))
    gyr = np.zeros((n, 3))
    gyr[0, 0] = np.nan  # the guard drops it: the next sample carries a gap before it
    marker = np.zeros(n, dtype=bool)
    marker[0] = True  # and the link itself lost one before the first
    rec = _recorder(tmp_path / "run.csv")
    rec._process(decoded(t, acc, gyr, marker, (1,), ("loss",)), 0.0)
    result, s, _ = _finish(rec)
    assert s.n_samples == n - 1
    assert result.gaps == ()
    assert s.meta.gaps == ()
    assert "nan" not in (tmp_path / "run.csv").read_text().split("\n# t_s", 1)[0].lower()
