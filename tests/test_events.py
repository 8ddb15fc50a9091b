"""Gait events: initial contact, toe-off, side."""

from __future__ import annotations

import numpy as np
import pytest

from gait.constants import G
from gait.core._ranges import _block_argmin, _interval_ids
from gait.core.events import EVENT_COLUMNS, running_events, walking_events
from gait.evaluation import match_events
from gait.simulator import Form, SimulationConfig, simulate

from .conftest import IDEAL_SENSOR


def running_truth(sim):
    return sim.steps[sim.steps["activity"] == "running"]


@pytest.fixture(scope="module")
def ideal_vertical():
    """Noise-free body-frame run without trunk rotation: acc_v is the level vertical."""
    sims = {}
    for rf in (0.0, 1.0):
        cfg = SimulationConfig(
            duration_s=40.0,
            seed=8,
            standing_pitch_deg=0.0,
            sensor=IDEAL_SENSOR,
            form=Form(lean_deg=0, pitch_amplitude_deg=0, roll_amplitude_deg=0, yaw_amplitude_deg=0, rearfoot_share=rf),
        )
        sims[rf] = simulate(cfg, frame="body")
    return sims


class TestRunningEvents:
    def test_empty_and_too_short(self):
        for x in (np.zeros(0), np.zeros(10), np.full(1000, G)):
            ev = running_events(x, sampling_rate_hz=200.0)
            assert ev.empty and list(ev.columns) == EVENT_COLUMNS

    @pytest.mark.parametrize("rearfoot", [0.0, 1.0])
    def test_exact_timing_on_the_model(self, ideal_vertical, rearfoot):
        sim = ideal_vertical[rearfoot]
        s = sim.session
        ev = running_events(s.acc[:, 0], sampling_rate_hz=s.sampling_rate_hz, t0=float(s.t[0]))
        ev = ev[ev["ok"]]
        tru = running_truth(sim)
        m = match_events(ev["ic_s"].to_numpy(), tru["ic_s"].to_numpy())
        assert m.recall > 0.99 and m.precision == 1.0
        ic_err = ev["ic_s"].to_numpy()[m.detected_idx] - tru["ic_s"].to_numpy()[m.reference_idx]
        to_err = ev["to_s"].to_numpy()[m.detected_idx] - tru["to_s"].to_numpy()[m.reference_idx]
        # sub-sample: within a millisecond at 200 Hz (heel strikes shift IC by < 3 ms); toe-off
        # at the return to free fall, or up to 3 ms before it where the descent's share (fitted
        # on real sensors, 0.270) is earlier on the model's default shape (measured 2.5 ms)
        assert np.abs(np.median(ic_err)) < (0.003 if rearfoot else 0.001)
        assert np.percentile(np.abs(to_err), 95) < 0.003

    def test_double_peaked_impact_keeps_contact_at_the_first_rise(self):
        fs = 500.0
        t = np.arange(0, 3.0, 1 / fs)
        x = np.zeros_like(t)
        ics = np.arange(0.2, 2.8, 0.33)
        for ic in ics:
            tau = t - ic
            st = (tau >= 0) & (tau < 0.24)
            x[st] += 2.3 * G * np.sin(np.pi * (tau[st] / 0.24 + 0.35 * tau[st] / 0.24 * (1 - tau[st] / 0.24)))
            spike = (tau >= 0) & (tau < 0.02)  # a small, sharp first impact, then a dip
            x[spike] += 1.2 * G * np.sin(np.pi * tau[spike] / 0.02)
            dip = (tau >= 0.02) & (tau < 0.05)
            x[dip] -= 0.6 * G * np.sin(np.pi * (tau[dip] - 0.02) / 0.03)
        ev = running_events(x, sampling_rate_hz=fs)
        ev = ev[ev["ok"]]
        m = match_events(ev["ic_s"].to_numpy(), ics, tolerance_s=0.005)
        assert m.recall >= 0.85 and m.precision == 1.0

    def test_stance_cut_by_the_end_is_incomplete(self, ideal_vertical):
        s = ideal_vertical[0.0].session
        tru = running_truth(ideal_vertical[0.0])
        cut = float(tru["ic_s"].iloc[50] + 0.7 * tru["contact_time_s"].iloc[50])  # past the stance's peak
        keep = s.t < cut
        ev = running_events(s.acc[keep, 0], sampling_rate_hz=s.sampling_rate_hz)
        assert not ev["ok"].iloc[-1]
        assert ev["ok"].iloc[-3:-1].all()


@pytest.fixture
def long_walk():
    """40 s of walking, a 30 s run, 30 s of walking (cached per test run)."""
    from .conftest import simulate_cached

    return simulate_cached(duration_s=30.0, seed=3, walking_before_s=40.0, walking_after_s=30.0)


class TestWalkingEvents:
    def test_walking_contacts(self, short_run):
        from gait import analyze

        a = analyze(short_run.session)
        walk = a.steps[a.steps["activity"] == "walking"]
        tru = short_run.steps[short_run.steps["activity"] == "walking"]
        m = match_events(walk["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.08)
        assert m.recall > 0.8
        assert not walk["toe_off_measured"].any()

    def test_empty(self):
        assert walking_events(np.zeros(10), sampling_rate_hz=100.0).empty
        assert walking_events(np.zeros(10), sampling_rate_hz=100.0, acc_ap=np.zeros(10)).empty

    def test_contacts_at_heel_strike(self, long_walk):
        """Contacts within 12 ms of the truth (the 20 Hz low-pass rounds the modelled forward
        peak at heel strike by about 9 ms), every matched one within 50 ms."""
        from gait import analyze

        a = analyze(long_walk.session)
        walk = a.steps[a.steps["activity"] == "walking"]
        tru = long_walk.steps[long_walk.steps["activity"] == "walking"]
        m = match_events(walk["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.05)
        err = walk["ic_s"].to_numpy()[m.detected_idx] - tru["ic_s"].to_numpy()[m.reference_idx]
        assert m.f1 >= 0.95
        assert abs(err.mean()) <= 0.012 and np.abs(err).max() <= 0.02
        side = walk["side"].to_numpy()[m.detected_idx]
        assert (side == tru["side"].to_numpy()[m.reference_idx]).all()
        assert not walk["toe_off_measured"].any()

    def test_backward_forward_axis_gives_the_same_contacts(self, long_walk):
        from gait import analyze
        from gait.constants import AP, V

        a = analyze(long_walk.session)
        b = a.bouts[a.bouts["kind"] == "walking"].iloc[0]
        t = a.session.t
        sl = slice(*np.searchsorted(t, [b.start_s, b.end_s]))
        f_v, ap = a.signals.acc[sl, V], a.signals.acc[sl, AP]
        fs = a.session.sampling_rate_hz
        fwd = walking_events(f_v, sampling_rate_hz=fs, acc_ap=ap)
        back = walking_events(f_v, sampling_rate_hz=fs, acc_ap=-ap)
        np.testing.assert_array_equal(fwd["ic_idx"], back["ic_idx"])
        assert (fwd["ap_sign"] == 1.0).all() and (back["ap_sign"] == -1.0).all()

    def test_without_forward_axis_the_vertical_rise(self, long_walk):
        """The fallback (no forward axis) marks the steepest vertical rise before each load peak."""
        from gait import analyze
        from gait.constants import V

        a = analyze(long_walk.session)
        fs = a.session.sampling_rate_hz
        b = a.bouts[a.bouts["kind"] == "walking"].iloc[0]
        t = a.session.t
        i0, i1 = np.searchsorted(t, [b.start_s, b.end_s])
        ev = walking_events(a.signals.acc[i0:i1, V], sampling_rate_hz=fs, t0=float(t[i0]))
        tru = long_walk.steps
        m = match_events(ev["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.05)
        err = ev["ic_s"].to_numpy()[m.detected_idx] - tru["ic_s"].to_numpy()[m.reference_idx]
        assert m.true_positives == ev.shape[0] >= 60  # every step of the 40 s walk
        assert abs(np.median(err)) <= 0.02 and np.abs(err).max() <= 0.03


def test_interval_ids():
    ids = _interval_ids(10, np.array([1, 5]), np.array([2, 7]))
    assert ids.tolist() == [-1, 0, 0, -1, -1, 1, 1, 1, -1, -1]


def test_block_argmin():
    x = np.array([3.0, 1.0, 2.0, 5.0, 0.5, 0.5, 4.0])
    assert _block_argmin(x, np.array([0, 3, 7])).tolist() == [1, 4]
