"""Sample indices from the stream decoder's output, the robust drift fit, the ring buffer."""

from __future__ import annotations

import numpy as np
import pytest

from firmware_protocol import codec
from firmware_protocol.stream import StreamDecoder
from gait.live._buffer import RingBuffer
from gait.live._clock import DriftFit, SampleIndexer

RATE = 400.0
K = 8  # samples per packet
CONFIG = codec.DeviceConfig(
    rate_mhz=400_000,
    acc_range_g=16,
    gyr_range_dps=2000,
    acc_scale_ng_per_lsb=488_000,
    gyr_scale_udps_per_lsb=70_000,
    samples_per_packet=K,
    state=codec.State.STREAMING,
)


def _arrivals(duration_s: float, *, drift_ppm: float = 0.0, seed: int = 0, stall: bool = False):
    """(device time of each packet's newest sample, host arrival) of a drifting device."""
    rng = np.random.default_rng(seed)
    b = 1.0 + drift_ppm * 1e-6
    out = []
    for p in range(int(duration_s * RATE / K)):
        tau = 12.5 + (p * K + K - 1) / RATE
        delay = 0.004 + rng.exponential(0.008)  # radio + scheduling, always > 0
        if rng.random() < 0.02:
            delay += rng.exponential(0.3)  # retries
        if stall and 20 < tau - 12.5 < 35:
            delay += 35 - (tau - 12.5)  # 15 s queued in the stack, then delivered in a burst
        out.append((tau, 1000.0 + b * (tau - 12.5) + delay))
    return out


class TestDriftFit:
    @pytest.mark.parametrize("drift_ppm", [0.0, 150.0, -80.0, 20000.0])
    @pytest.mark.parametrize("stall", [False, True])
    def test_drift_is_measured_against_host_time(self, drift_ppm: float, stall: bool) -> None:
        fit = DriftFit()
        for tau, h in _arrivals(120.0, drift_ppm=drift_ppm, seed=2, stall=stall):
            fit.add(tau, h)
        est = fit.refit()
        assert est.reliable
        assert est.drift_ppm == pytest.approx(drift_ppm, abs=5.0)

    def test_unreliable_before_twenty_seconds(self) -> None:
        fit = DriftFit()
        for tau, h in _arrivals(5.0):
            fit.add(tau, h)
        assert not fit.estimate().reliable

    def test_epochs_are_not_paired(self) -> None:
        fit = DriftFit()
        for tau, h in _arrivals(40.0, drift_ppm=100.0, seed=1):
            fit.add(tau, h)
        fit.new_epoch()  # device restarted: its clock begins again near zero, 50 s later
        for tau, h in _arrivals(40.0, drift_ppm=100.0, seed=2):
            fit.add(tau - 12.0, h + 50.0)
        assert fit.n_epochs == 2
        assert fit.refit().drift_ppm == pytest.approx(100.0, abs=5.0)

    def test_memory_is_bounded_by_windows_and_the_fit_is_unchanged(self) -> None:
        """Each closed 2-s window keeps only its lower-hull points; the fit equals the one over
        every packet (the reference below keeps them all), late packets included."""
        from firmware_protocol.clock import _window_minima

        pts = _arrivals(600.0, drift_ppm=300.0, seed=4)
        rng = np.random.default_rng(9)
        late = rng.choice(len(pts), 40, replace=False)  # some packets arrive after later ones
        order = np.argsort(np.arange(len(pts)) + np.isin(np.arange(len(pts)), late) * 300)
        fit = DriftFit()
        for i in order:
            fit.add(*pts[i])
        tau = np.array([p[0] for p in pts])
        host = np.array([p[1] for p in pts])
        b = 1.0
        for _ in range(2):  # the same two passes over every point
            idx = _window_minima(tau, host, b, 2.0)
            pt, ph = tau[idx], host[idx]
            sel = np.linspace(0, idx.size - 1, 300).round().astype(int)
            i, j = np.triu_indices(300, k=1)
            b = float(np.median((ph[sel][j] - ph[sel][i]) / (pt[sel][j] - pt[sel][i])))
        assert fit.refit().host_per_device == b
        assert fit.n_points_kept < len(pts) / 3, "a few points per window, not every packet"

    def test_rejects_a_bad_window(self) -> None:
        with pytest.raises(ValueError, match="window_s"):
            DriftFit(window_s=0.0)


def _packets(n_packets: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    acc = rng.integers(-2000, 2000, size=(n_packets * K, 3))
    gyr = rng.integers(-2000, 2000, size=(n_packets * K, 3))
    return codec.packetize(acc, gyr, t0_us=5_000_000, rate_hz=RATE, samples_per_packet=K)


def _index(packets: list[bytes], decoder: StreamDecoder, ix: SampleIndexer) -> np.ndarray:
    out = []
    for i, p in enumerate(packets):
        c = decoder.feed(p, host_time_s=i * K / RATE)
        out.append(ix.indices(c.t_s, c.gap_before, [g.samples_lost for g in c.gaps]))
    c = decoder.flush()
    out.append(ix.indices(c.t_s, c.gap_before, [g.samples_lost for g in c.gaps]))
    return np.concatenate(out)


class TestSampleIndexer:
    def test_contiguous_stream(self) -> None:
        ix = SampleIndexer()
        n = _index(_packets(50), StreamDecoder(CONFIG), ix)
        assert np.array_equal(n, np.arange(50 * K))
        assert ix.device_rate_hz() == pytest.approx(RATE, rel=1e-9)

    def test_lost_packets_leave_holes_of_their_size(self) -> None:
        pk = _packets(60)
        kept = [p for i, p in enumerate(pk) if i not in (10, 11, 40)]
        ix = SampleIndexer()
        n = _index(kept, StreamDecoder(CONFIG), ix)
        assert np.array_equal(n, np.setdiff1d(np.arange(60 * K), np.r_[80:96, 320:328]))
        assert ix.device_rate_hz() == pytest.approx(RATE, rel=1e-9)

    def test_reordered_and_duplicated_packets(self) -> None:
        pk = _packets(30)
        pk[5], pk[6] = pk[6], pk[5]
        pk.insert(20, pk[19])
        n = _index(pk, StreamDecoder(CONFIG), SampleIndexer())
        assert np.array_equal(n, np.arange(30 * K))

    def test_marker_count_must_match(self) -> None:
        with pytest.raises(ValueError, match="gap markers"):
            SampleIndexer().indices(np.arange(3.0), np.array([False, True, False]), [])


def test_ring_buffer_keeps_the_last_samples_in_order() -> None:
    ring = RingBuffer(10)
    for start in range(0, 23, 4):
        t = np.arange(start, start + 4, dtype=float)
        ring.append(t, np.c_[t, t, t], np.c_[t, t, t])
    t, acc, _ = ring.snapshot()
    assert np.array_equal(t, np.arange(14, 24, dtype=float)) and np.array_equal(acc[:, 1], t)
    ring.append(np.arange(100, 130, dtype=float), np.zeros((30, 3)), np.zeros((30, 3)))
    assert np.array_equal(ring.snapshot()[0], np.arange(120, 130, dtype=float))
