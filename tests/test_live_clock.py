"""Sample-time reconstruction (device clock + drift fit) and the recorder's buffers."""

from __future__ import annotations

import numpy as np
import pytest

from gait.live._buffer import ReorderBuffer, RingBuffer
from gait.live._clock import SampleClock

RATE = 400.0
K = 8  # samples per packet


def _stream(duration_s: float, *, drift_ppm: float = 0.0, seed: int = 0, t0_dev: float = 12.5, host0: float = 1000.0):
    """Packets (device times of their samples, host arrival) of a device whose clock drifts."""
    rng = np.random.default_rng(seed)
    n_packets = int(duration_s * RATE / K)
    b = 1.0 + drift_ppm * 1e-6  # host seconds per device second
    out = []
    for p in range(n_packets):
        tau = t0_dev + (p * K + np.arange(K)) / RATE
        delay = 0.004 + rng.exponential(0.008)  # radio + scheduling, always > 0
        out.append((tau, host0 + b * (tau[-1] - t0_dev) + delay))
    return out


class TestSampleClock:
    def test_indices_follow_the_device_grid_not_arrival(self) -> None:
        clk = SampleClock(rate_hz=RATE)
        got = np.concatenate([clk.place(tau, host_s=h) for tau, h in _stream(5.0)])
        assert np.array_equal(got, np.arange(got.size))
        assert clk.n_epochs == 1

    def test_lost_packets_leave_holes(self) -> None:
        clk = SampleClock(rate_hz=RATE)
        pk = _stream(2.0)
        kept = [p for i, p in enumerate(pk) if i not in (10, 11, 40)]
        got = np.concatenate([clk.place(tau, host_s=h) for tau, h in kept])
        expected = np.setdiff1d(np.arange(len(pk) * K), np.r_[80:96, 320:328])
        assert np.array_equal(got, expected)

    @pytest.mark.parametrize("drift_ppm", [0.0, 150.0, -80.0, 20000.0])
    def test_drift_is_measured_against_host_time(self, drift_ppm: float) -> None:
        clk = SampleClock(rate_hz=RATE)
        for tau, h in _stream(60.0, drift_ppm=drift_ppm, seed=2):
            clk.place(tau, host_s=h)
        est = clk.refit()
        assert est.reliable
        assert est.drift_ppm == pytest.approx(drift_ppm, abs=10.0)

    def test_unreliable_before_twenty_seconds(self) -> None:
        clk = SampleClock(rate_hz=RATE)
        for tau, h in _stream(5.0):
            clk.place(tau, host_s=h)
        assert not clk.refit().reliable

    def test_a_device_reset_starts_an_epoch_placed_by_host_time(self) -> None:
        clk = SampleClock(rate_hz=RATE)
        first = _stream(30.0, seed=3)
        for tau, h in first:
            clk.place(tau, host_s=h)
        last_n = clk.last_index
        # the device reboots: 5 s of silence, then its clock restarts near zero
        second = _stream(10.0, seed=4, t0_dev=0.001, host0=first[-1][1] + 5.0)
        n2 = np.concatenate([clk.place(tau, host_s=h) for tau, h in second])
        assert clk.n_epochs == 2
        assert n2[0] > last_n
        # ~5 s of silence at 400 Hz, give or take the arrival jitter of two packets (< 0.1 s)
        assert abs((n2[0] - last_n) - 5.0 * RATE) < 0.1 * RATE
        assert np.array_equal(np.diff(n2), np.ones(n2.size - 1))

    def test_reordered_packets_keep_their_place(self) -> None:
        clk = SampleClock(rate_hz=RATE)
        pk = _stream(1.0)
        pk[5], pk[6] = pk[6], pk[5]
        got = [clk.place(tau, host_s=h) for tau, h in pk]
        assert np.array_equal(got[5], np.arange(6 * K, 7 * K))
        assert clk.n_epochs == 1

    def test_rejects_a_bad_rate(self) -> None:
        with pytest.raises(ValueError, match="rate_hz"):
            SampleClock(rate_hz=0)


class TestReorderBuffer:
    def _push(self, buf: ReorderBuffer, n: np.ndarray) -> None:
        buf.push(n, np.c_[n, n, n].astype(float), -np.c_[n, n, n].astype(float))

    def test_releases_in_order_after_the_horizon(self) -> None:
        buf = ReorderBuffer(horizon=16)
        self._push(buf, np.arange(8, 16))
        self._push(buf, np.arange(0, 8))  # arrived late but within the horizon
        self._push(buf, np.arange(16, 40))
        out = buf.pop_ready()
        assert np.array_equal(out.n, np.arange(0, 24))
        assert np.array_equal(out.acc[:, 0], out.n)
        rest = buf.pop_all()
        assert np.array_equal(rest.n, np.arange(24, 40))

    def test_counts_duplicates_and_late_samples(self) -> None:
        buf = ReorderBuffer(horizon=8)
        self._push(buf, np.arange(0, 8))
        self._push(buf, np.arange(0, 8))  # duplicate still held
        self._push(buf, np.arange(16, 32))
        out = buf.pop_ready()  # newest 31, horizon 8: up to 23
        assert np.array_equal(out.n, np.r_[0:8, 16:24]) and buf.n_duplicate == 8
        self._push(buf, np.arange(0, 4))  # duplicate of released samples
        self._push(buf, np.arange(8, 12))  # their place was released: late
        assert buf.n_duplicate == 12 and buf.n_late == 4
        assert np.array_equal(buf.pop_all().n, np.arange(24, 32))


def test_ring_buffer_keeps_the_last_samples_in_order() -> None:
    ring = RingBuffer(10)
    for start in range(0, 23, 4):
        t = np.arange(start, start + 4, dtype=float)
        ring.append(t, np.c_[t, t, t], np.c_[t, t, t])
    t, acc, _ = ring.snapshot()
    assert np.array_equal(t, np.arange(14, 24, dtype=float)) and np.array_equal(acc[:, 1], t)
    ring.append(np.arange(100, 130, dtype=float), np.zeros((30, 3)), np.zeros((30, 3)))
    assert np.array_equal(ring.snapshot()[0], np.arange(120, 130, dtype=float))
