"""Clipped, saturated and low-pass-filtered input: found, reported, and handled (gait.core.quality).

Real: the Alcantara recordings (documented: 20 Hz low-pass, vertical clipped at 0 g), the raw
Voisard recordings (neither). Simulated: the same runs floored, saturated, filtered."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas.testing as pd_testing
import pytest
from scipy.signal import butter, sosfiltfilt

import gait
from gait.constants import G
from gait.core.quality import assess_signal, bridge_clipped, consequences, declared_lowpass_hz
from gait.report import RunReport, report_document, signal_lines
from gait.session import SessionMetadata
from gait.simulator import Form, SensorModel, SimulationConfig, simulate

from ._fault_fixtures import load_benchmark
from .conftest import IDEAL_SENSOR, SHARED_DATA

VOISARD = SHARED_DATA / "voisard2023_lowback_walking"
UP = 1  # the belt clip's y axis points up

# `found` of quality_simulator_table-like damage, shared by the tests below
_RUN = SimulationConfig(duration_s=60.0, seed=5, speed_mps=3.5, form=Form(rearfoot_share=0.5))


@pytest.fixture(scope="module")
def run():
    sim = simulate(_RUN)
    return sim, gait.analyze(sim.session)


class TestNothingToFind:
    @pytest.mark.parametrize(
        "sensor", [SensorModel(), IDEAL_SENSOR, SensorModel(acc_range_g=8.0)], ids=["typical", "ideal", "8g"]
    )
    @pytest.mark.parametrize("rate", [100.0, 200.0])
    def test_simulated_runs_are_clean(self, sensor, rate):
        s = simulate(SimulationConfig(duration_s=30.0, seed=1, sensor=sensor, sampling_rate_hz=rate)).session
        q, masks = assess_signal(s)
        assert q.ok and not masks and q.bandwidth.floor_ratio is not None and q.bandwidth.floor_ratio > 1e-8

    def test_clean_analysis_reports_nothing(self, run):
        _, a = run
        assert a.quality.ok and a.quality.gravity_source == "recorded" and not a.quality.flagged
        assert a.quality.gravity_mps2 == pytest.approx(G, abs=0.01)
        assert all("held at" not in line for line in signal_lines(a))

    @pytest.mark.realdata
    def test_raw_real_walking_is_clean(self):
        if not VOISARD.is_dir():
            pytest.skip(f"real recordings not found at {VOISARD}")
        bench = load_benchmark("heading")
        for name in bench.voisard_names(VOISARD):
            s, _ = bench.load_voisard(name, VOISARD)
            q, _ = assess_signal(s)
            assert q.ok, (name, q.lines())


class TestClipping:
    def test_floor_above_free_fall(self, run):
        """The vertical floored at 0.3 g: found; gravity from the unclipped standing (the clipped
        mean reads 10.5 m/s^2); loading rate and oscillation unavailable, impact flagged."""
        sim, clean = run
        acc = sim.session.acc.copy()
        acc[:, UP] = np.maximum(acc[:, UP], 0.3 * G)
        a = gait.analyze(sim.session.replace(acc=acc))
        (c,) = a.quality.clipped
        assert (c.name, c.side) == ("acc_y", "low") and c.bound == pytest.approx(0.3 * G)
        assert c.share == pytest.approx(np.mean(acc[:, UP] == 0.3 * G), abs=1e-3)
        assert a.quality.gravity_source == "still"
        assert a.quality.gravity_mps2 == pytest.approx(clean.quality.gravity_mps2, abs=0.01)
        assert a.quality.gravity_unbridged_mps2 > clean.quality.gravity_mps2 + 0.3
        for k in ("loading_rate_mps3", "vertical_oscillation_m", "vertical_ratio_pct"):
            assert k in a.unavailable and a.steps[k].isna().all()
        assert "impact_peak_mps2" in a.quality.flagged

    def test_bridging_without_standing(self, run):
        """No standing: the clipped runs are bridged, the vertical kept above free fall; gravity
        comes back within 0.06 m/s^2 (the clipped mean is 0.65 m/s^2 high)."""
        sim, clean = run
        s = sim.session
        t_end = s.t[-1] - sim.config.standing_after_s - 1.0
        keep = (s.t > s.t[0] + sim.config.standing_before_s + 1.0) & (s.t < t_end)
        acc = s.acc[keep].copy()
        acc[:, UP] = np.maximum(acc[:, UP], 0.3 * G)
        a = gait.analyze(s.replace(t=s.t[keep], acc=acc, gyr=s.gyr[keep]))
        assert a.quality.gravity_source == "bridged"
        assert a.quality.gravity_mps2 == pytest.approx(clean.quality.gravity_mps2, abs=0.06)
        assert a.quality.gravity_unbridged_mps2 > clean.quality.gravity_mps2 + 0.3

    def test_saturated_range(self, run):
        """A +-2 g sensor: flat tops at the range limit in every stance."""
        _, clean = run
        s = simulate(dataclasses.replace(_RUN, sensor=SensorModel(acc_range_g=2.0))).session
        a = gait.analyze(s)
        (c,) = a.quality.clipped
        assert (c.name, c.side, c.full_scale) == ("acc_y", "high", "+-2 g")
        for k in ("impact_peak_mps2", "loading_rate_mps3", "vertical_oscillation_m"):
            assert k in a.unavailable and a.steps[k].isna().all()
        assert a.quality.gravity_mps2 == pytest.approx(clean.quality.gravity_mps2, abs=0.01)
        # what is not lost is still measured
        assert a.running_steps["contact_time_s"].notna().all()

    def test_saturated_gyroscope(self):
        s = simulate(dataclasses.replace(_RUN, duration_s=30.0, sensor=SensorModel(gyr_range_dps=30.0))).session
        a = gait.analyze(s)
        assert any(c.sensor == "gyr" for c in a.quality.clipped)
        for k in ("yaw_range_deg", "roll_range_deg", "pelvic_drop_deg"):
            assert k in a.unavailable and "gyroscope saturated" in a.unavailable[k]

    def test_exact_free_fall_of_noise_free_data_is_not_clipping(self):
        s = simulate(SimulationConfig(duration_s=30.0, seed=1, sensor=IDEAL_SENSOR)).session
        assert np.mean(s.acc[:, UP] == 0.0) > 0.05  # every flight is exactly 0 on all axes
        q, _ = assess_signal(s)
        assert q.ok

    def test_bridge(self):
        x = np.linspace(0, 4 * np.pi, 400)
        y = np.sin(x)
        mask = y > 0.8
        clipped = np.where(mask, 0.8, y)
        out = bridge_clipped(clipped, mask)
        np.testing.assert_array_equal(out[~mask], clipped[~mask])
        assert np.abs(out[mask] - y[mask]).max() < 0.01  # a smooth peak is recovered
        low = np.where(y < -0.5, -0.5, y)
        floored = bridge_clipped(low, y < -0.5, floor=-0.6)
        assert floored.min() == pytest.approx(-0.6) and (floored[y < -0.5] <= -0.5).all()
        edge = np.where(np.arange(400) < 3, 0.8, y)
        np.testing.assert_array_equal(bridge_clipped(edge, np.arange(400) < 3), edge)


class TestLowPass:
    def test_undeclared_filter_is_found(self, run):
        sim, _ = run
        s = sim.session
        sos = butter(4, 20.0, fs=s.sampling_rate_hz, output="sos")
        a = gait.analyze(s.replace(acc=sosfiltfilt(sos, s.acc, axis=0), gyr=sosfiltfilt(sos, s.gyr, axis=0)))
        bw = a.quality.bandwidth
        assert bw.filtered and bw.declared_lowpass_hz is None and bw.floor_ratio < 1e-10
        for k in ("impact_peak_mps2", "loading_rate_mps3"):
            assert k in a.unavailable and "low-pass" in a.unavailable[k]
        assert "foot_strike" in a.quality.flagged

    def test_declared_filter(self):
        assert declared_lowpass_hz(SessionMetadata(sampling_rate_hz=500.0, notes="low-passed at 20 Hz")) == 20.0
        assert declared_lowpass_hz(SessionMetadata(sampling_rate_hz=100.0, extra={"lowpass_hz": 60})) == 60.0
        q, _ = assess_signal(
            simulate(SimulationConfig(duration_s=10.0, seed=1)).session.with_meta(extra={"lowpass_hz": 60.0})
        )
        unav, _ = consequences(q, rotation=None)
        assert q.bandwidth.filtered and "impact_peak_mps2" not in unav  # 60 Hz keeps the impact


@pytest.fixture(scope="module")
def sessions(alcantara_dir):
    return gait.read_sessions(alcantara_dir)


@pytest.mark.realdata
class TestAlcantara:
    """Documented: 20 Hz low-pass, vertical clipped at 0 g in flight."""

    def test_every_trial(self, sessions):
        assert len(sessions) == 19
        for s in sessions:
            a = gait.analyze(s)
            q = a.quality
            (c,) = q.clipped
            zeros = np.mean(s.acc[:, 0] == 0.0)
            assert (c.name, c.side, c.bound) == ("acc_v", "low", 0.0)
            assert c.share == pytest.approx(zeros, abs=1e-9) and 0.08 < c.share < 0.30
            assert c.runs >= 12
            assert q.bandwidth.declared_lowpass_hz == 20.0 and q.bandwidth.filtered
            for k in ("impact_peak_mps2", "loading_rate_mps3"):
                assert k in a.unavailable and a.steps[k].isna().all()
            assert "foot_strike" in q.flagged and "contact_time_s" in q.flagged
            # the sensor reads gravity 1.2-1.4 g: said so
            assert any("reads gravity as" in line for line in q.lines())

    def test_filter_found_without_the_declaration(self, sessions):
        for s in sessions:
            bare = s.with_meta(notes="", extra={k: v for k, v in s.meta.extra.items() if k != "lowpass_hz"})
            q, _ = assess_signal(bare)
            assert q.bandwidth.filtered and q.bandwidth.declared_lowpass_hz is None
            assert q.bandwidth.floor_ratio < 1e-12

    def test_reports_show_it(self, sessions):
        a = gait.analyze(sessions[0])
        rr = RunReport(label="trial", analysis=a, assessment=gait.faults.assess(a))
        doc = report_document([rr])
        sq = doc["runs"][0]["signal_quality"]
        assert (
            not sq["ok"] and sq["clipped"][0]["channel"] == "acc_v" and sq["bandwidth"]["declared_lowpass_hz"] == 20.0
        )
        jsonschema = pytest.importorskip("jsonschema")
        jsonschema.validate(doc, gait.report.load_report_schema())
        html = gait.report.render_html([rr])
        assert "damaged input" in html and "held at its low bound 0.00 g" in html


def test_a_constant_gyroscope_is_treated_as_absent(run):
    """A gyroscope that reads zero (or one stuck value) on every axis is off or broken: its zero
    rates would read as a perfectly still trunk ("very rigid trunk", a huge step-to-step trunk
    variability). The analysis drops it, says so, and gives what a recording without a
    gyroscope gives."""
    s = run[0].session
    for stuck in (0.0, 0.02):
        dead = s.replace(gyr=np.full_like(s.gyr, stuck))
        a = gait.analyze(dead)
        none = gait.analyze(s.replace(gyr=None))
        assert a.quality.gyro_constant and not a.quality.ok
        assert any("gyroscope reads one constant value" in line for line in a.quality.lines())
        assert a.quality.to_dict()["gyro_constant"] is True
        pd_testing.assert_frame_equal(a.steps, none.steps)
        assert a.unavailable["yaw_range_deg"].startswith("no gyroscope")
        found = {f.fault for f in gait.faults.assess(a).findings}
        assert not found & {"rigid_trunk", "uneven_surface", "trunk_rotation"}
    assert not gait.analyze(s).quality.gyro_constant


def test_a_gyroscope_still_at_first_and_moving_later_is_not_constant(run):
    """The quick look at the first samples only ever says "moving"; a gyroscope that starts
    still (a sensor lying on a table) and moves later is checked in full."""
    from gait.core.quality import constant_gyroscope

    s = run[0].session
    g = s.gyr.copy()
    g[:1000] = 0.0
    assert not constant_gyroscope(s.replace(gyr=g))
    g[:] = 0.0
    g[-1, 2] = 1e-3  # one sample moves, at the very end
    assert not constant_gyroscope(s.replace(gyr=g))
    g[-1, 2] = 0.0
    assert constant_gyroscope(s.replace(gyr=g))
