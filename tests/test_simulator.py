"""The simulator: physical consistency of the signals with the stated truth, determinism."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.transform import Rotation

from gait import GaitInputError, read_session
from gait.constants import G
from gait.simulator import (
    MOUNTINGS,
    Form,
    SensorModel,
    SimulationConfig,
    config_from_dict,
    load_truth,
    preset,
    simulate,
)
from gait.simulator._body import body_signals, orientation, step_index
from gait.simulator._steps import build_steps

from .conftest import IDEAL_SENSOR


def running(steps: pd.DataFrame) -> pd.DataFrame:
    return steps[steps["activity"] == "running"]


class TestVerticalMotion:
    def test_integrated_acceleration_reproduces_oscillation_within_1mm(self, ideal_body_run):
        """Double-integrating the sampled vertical acceleration per step gives the truth."""
        s, st = ideal_body_run.session, running(ideal_body_run.steps)
        t, a = s.t, s.acc[:, 0] - G
        v = np.concatenate([[0.0], np.cumsum((a[1:] + a[:-1]) / 2 * np.diff(t))])
        z = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(t))])
        err = []
        for t0, T, osc in zip(st.ic_s, st.step_time_s, st.vertical_oscillation_m):
            z0, z1 = np.interp([t0, t0 + T], t, z)
            m = (t > t0) & (t < t0 + T)
            # zero mean vertical velocity over the step (no net height change)
            zs = np.concatenate([[0.0], z[m] - z0 - (z1 - z0) / T * (t[m] - t0), [0.0]])
            err.append(zs.max() - zs.min() - osc)
        assert len(err) > 100
        assert np.max(np.abs(err)) < 1e-3

    def test_contact_times_match_stance_phases(self, ideal_body_run):
        """The sensor is in free fall (|f| = 0) exactly outside the stated stance phases."""
        s, st = ideal_body_run.session, running(ideal_body_run.steps)
        t = s.t
        in_stance = np.zeros(t.size, bool)
        for ic, to in zip(st.ic_s, st.to_s):
            in_stance |= (t >= ic) & (t < to)
        span = (t >= st.ic_s.iloc[0]) & (t < st.ic_s.iloc[-1] + st.step_time_s.iloc[-1])
        loaded = np.linalg.norm(s.acc, axis=1) > 1e-9
        assert np.array_equal(loaded[span], in_stance[span])
        np.testing.assert_allclose(st.to_s - st.ic_s, st.contact_time_s, atol=1e-12)
        np.testing.assert_allclose(st.flight_time_s, st.step_time_s - st.contact_time_s, atol=1e-12)

    def test_mean_vertical_force_is_body_weight(self, ideal_body_run):
        s, st = ideal_body_run.session, running(ideal_body_run.steps)
        t0, t1 = st.ic_s.iloc[0], st.ic_s.iloc[-1] + st.step_time_s.iloc[-1]
        m = (s.t >= t0) & (s.t < t1)
        assert np.mean(s.acc[m, 0]) == pytest.approx(G, rel=2e-3)

    def test_oscillation_is_realistic(self, short_run):
        st = running(short_run.steps)
        assert 0.06 < st.vertical_oscillation_m.median() < 0.11  # Garmin waist-pod norms (docs/references.md)


class TestOrientation:
    @pytest.mark.parametrize(
        "timing", [{}, {"roll_phase_deg": 30.0, "roll_third_harmonic": 0.3, "yaw_phase_deg": -70.0}]
    )
    def test_gyroscope_is_derivative_of_orientation(self, timing):
        # over walking, running and the changes between them (where the roll and yaw timing
        # move from walking's to running's)
        cfg = SimulationConfig(
            duration_s=10,
            seed=2,
            turn_rate_dps=10,
            sampling_rate_hz=1000,
            form=Form(yaw_amplitude_deg=12, roll_amplitude_deg=6, roll_mean_deg=3, **timing),
            sensor=IDEAL_SENSOR,
        )
        rng = np.random.default_rng(0)
        steps, _, t_end = build_steps(cfg, rng)
        t = np.arange(0, t_end, 0.001)
        _, w = body_signals(t, steps, cfg, rng)
        o = orientation(t, steps, cfg, step_index(t, steps))
        truth = Rotation.from_euler("ZYX", np.column_stack([o["yaw"] + o["heading"], o["pitch"], o["roll"]]))
        # integrate body rates: R_{k+1} = R_k exp(w dt) (midpoint), vectorised per block
        incr = Rotation.from_rotvec((w[1:] + w[:-1]) / 2 * 0.001)
        R = truth[0]
        worst = 0.0
        for k in range(0, t.size - 1):
            R = R * incr[k]
            if k % 500 == 0:
                worst = max(worst, np.rad2deg((R.inv() * truth[k + 1]).magnitude()))
        assert worst < 0.05

    def test_truth_angles(self):
        cfg = SimulationConfig(
            duration_s=60,
            seed=4,
            form=Form(lean_deg=7, roll_mean_deg=-2, roll_amplitude_deg=5, yaw_amplitude_deg=9),
            sensor=IDEAL_SENSOR,
        )
        st = running(simulate(cfg).steps).iloc[5:-5]
        assert st.lean_deg.median() == pytest.approx(7.0, abs=0.05)
        assert st.lateral_lean_deg.median() == pytest.approx(-2.0, abs=0.05)
        assert st.roll_range_deg.median() == pytest.approx(10.0, abs=0.6)
        assert st.yaw_range_deg.median() == pytest.approx(18.0, abs=1.0)

    def test_pelvic_drop_is_contralateral(self):
        # the swing side drops in stance by the roll amplitude (default 3.5 deg; its peak lies
        # inside stance), whichever the side
        st = running(simulate(duration_s=30, seed=1, form=Form(angle_cv=0.0)).steps).iloc[2:-2]
        for sd in "LR":
            np.testing.assert_allclose(st[st.side == sd].pelvic_drop_deg, 3.5, atol=0.02)
        # with the per-step variation of the amplitude (5 %)
        st = running(simulate(duration_s=30, seed=1).steps).iloc[2:-2]
        assert 2.9 < st.pelvic_drop_deg.min() and st.pelvic_drop_deg.max() < 4.1
        assert st.pelvic_drop_deg.median() == pytest.approx(3.5, abs=0.1)

    @staticmethod
    def one_left_step(form: Form) -> dict[str, np.ndarray]:
        cfg = SimulationConfig(duration_s=20, seed=3, form=dataclasses.replace(form, angle_cv=0.0), sensor=IDEAL_SENSOR)
        steps, _, _ = build_steps(cfg, np.random.default_rng(0))
        k = int(np.flatnonzero(steps.run & steps.left)[10])
        t = steps.ic[k] + np.linspace(0.0, 1.0, 1001)[:-1] * steps.T[k]
        o = orientation(t, steps, cfg, np.full(t.size, k))
        o["stance"] = (t - steps.ic[k]) <= steps.tc[k]
        o["x"] = (t - steps.ic[k]) / steps.T[k]
        return o

    def test_roll_timing(self):
        # default: the swing side lowest a third of a step after a left contact, highest at
        # two thirds (roll + right side down); the old half sine: lowest at mid-step
        o = self.one_left_step(Form(roll_mean_deg=0.0))
        assert o["x"][np.argmax(o["roll"])] == pytest.approx(0.30, abs=0.02)
        assert o["x"][np.argmin(o["roll"])] == pytest.approx(0.70, abs=0.02)
        o = self.one_left_step(Form(roll_mean_deg=0.0, roll_phase_deg=0.0, roll_third_harmonic=0.0))
        assert o["x"][np.argmax(o["roll"])] == pytest.approx(0.5, abs=0.02)
        assert o["roll"].min() >= -1e-9

    @pytest.mark.parametrize("phase, turning_left", [(0.0, True), (180.0, False), (160.0, False)])
    def test_yaw_phase(self, phase, turning_left):
        # phase 0 (default): the pelvis turns towards the swing side (left: yaw rate > 0) through
        # a left stance; 180 (and 160, as two of the real runners): towards the stance side
        o = self.one_left_step(Form(yaw_phase_deg=phase))
        assert (o["dyaw"][o["stance"]].mean() > 0) == turning_left


class TestSensor:
    @pytest.mark.parametrize("mounting", sorted(MOUNTINGS))
    def test_mounting_rotates_the_body_signals(self, mounting):
        cfg = SimulationConfig(duration_s=20, seed=5, mounting=mounting, sensor=IDEAL_SENSOR)
        sensor = simulate(cfg).session
        body = simulate(cfg, frame="body").session
        R = MOUNTINGS[mounting]
        flu = sensor.acc @ R.T  # sensor -> body (forward, left, up)
        np.testing.assert_allclose(flu[:, [2, 0, 1]], body.acc, atol=1e-9)
        np.testing.assert_allclose((sensor.gyr @ R.T)[:, [2, 0, 1]], body.gyr, atol=1e-9)

    def test_standing_reads_gravity(self, short_run):
        s = short_run.session
        still = s.t < 5.0
        np.testing.assert_allclose(np.linalg.norm(s.acc[still], axis=1).mean(), G, atol=0.01)

    def test_bias_scale_noise(self):
        sm = SensorModel(
            acc_noise_mps2=0.0,
            gyr_noise_rads=0.0,
            quantize=False,
            acc_bias_mps2=(0.3, -0.2, 0.1),
            gyr_bias_rads=(0.01, 0.0, -0.02),
            acc_scale=(1.02, 1.0, 0.98),
        )
        base = simulate(duration_s=10, seed=1, sensor=IDEAL_SENSOR).session
        off = simulate(duration_s=10, seed=1, sensor=sm).session
        np.testing.assert_allclose(off.acc, base.acc * [1.02, 1.0, 0.98] + [0.3, -0.2, 0.1], atol=1e-12)
        np.testing.assert_allclose(off.gyr, base.gyr + np.array([0.01, 0.0, -0.02]), atol=1e-12)

    def test_quantisation_and_saturation(self):
        s = simulate(duration_s=10, seed=1, sensor=SensorModel(acc_range_g=2.0)).session
        lsb = 2.0 * G / 32768
        np.testing.assert_allclose(np.round(s.acc / lsb) * lsb, s.acc, atol=1e-12)
        assert s.acc.max() <= 2.0 * G

    def test_dropped_packets_leave_gaps(self):
        s = simulate(duration_s=20, seed=1, sensor=SensorModel(drop_rate=0.05, packet_samples=5)).session
        gaps = s.gaps
        assert len(gaps) > 10
        lengths = np.array([b - a for a, b in gaps]) * s.sampling_rate_hz
        assert np.all(np.isclose(lengths % 5, 1.0))  # whole packets of 5 samples lost

    def test_jittered_sampling_instants(self, tmp_path):
        sim = simulate(duration_s=10, seed=1, sensor=SensorModel(timestamp_jitter_s=0.0008))
        dt = np.diff(sim.session.t)
        assert 0.0002 < np.std(dt) < 0.002

    def test_no_gyro(self):
        assert simulate(duration_s=10, seed=1, sensor=SensorModel(has_gyro=False)).session.gyr is None


class TestDeterminismAndConfig:
    def test_same_seed_same_session(self):
        a, b = simulate(duration_s=20, seed=9), simulate(duration_s=20, seed=9)
        np.testing.assert_array_equal(a.session.acc, b.session.acc)
        np.testing.assert_array_equal(a.session.gyr, b.session.gyr)
        pd.testing.assert_frame_equal(a.steps, b.steps)

    def test_different_seed_differs(self):
        a, b = simulate(duration_s=20, seed=9), simulate(duration_s=20, seed=10)
        assert not np.array_equal(a.steps.ic_s, b.steps.ic_s)

    def test_unknown_parameter(self):
        with pytest.raises(GaitInputError, match="parameter 'speed': unknown simulation parameter"):
            simulate(speed=3)

    def test_bad_values(self):
        with pytest.raises(
            GaitInputError, match=r"parameter 'sampling_rate_hz': out of range; expected a finite number > 0, found -1"
        ):
            simulate(sampling_rate_hz=-1)
        with pytest.raises(GaitInputError, match="unknown mounting"):
            simulate(duration_s=10, mounting="on the head")
        with pytest.raises(GaitInputError, match="unknown preset"):
            preset("marathon")

    def test_save_and_load_truth(self, tmp_path, short_run):
        p, _steps_path, _json_path = short_run.save(tmp_path / "run.csv.gz", decimals=4)
        s = read_session(p)
        assert s.n_samples == short_run.session.n_samples
        steps, doc = load_truth(p)
        np.testing.assert_allclose(steps.ic_s, short_run.steps.ic_s, rtol=1e-5)
        assert config_from_dict(doc["config"]) == short_run.config
        assert [b["kind"] for b in doc["bouts"]] == ["standing", "walking", "running", "walking", "standing"]


class TestRunProfiles:
    def test_fatigue_degrades_form(self):
        st = running(simulate(preset("fatigue", duration_s=600, seed=2)).steps)
        t_run = st.ic_s - st.ic_s.iloc[0]
        first, last = st[(t_run > 150) & (t_run < 250)], st[t_run > 500]  # after the 90 s warm-up
        assert last.contact_time_s.median() > 1.05 * first.contact_time_s.median()
        assert last.lean_deg.median() > first.lean_deg.median() + 2
        assert last.yaw_range_deg.median() > 1.25 * first.yaw_range_deg.median()

    def test_heel_strike_preset(self):
        st = running(simulate(preset("heel_overstride", duration_s=60, seed=1)).steps)
        assert (st.foot_strike == "rearfoot").mean() > 0.9
        assert st.braking_peak_mps2.median() > 8.0
        assert st.cadence_spm.median() < 152

    def test_surge_speeds_up(self):
        cfg = dataclasses.replace(SimulationConfig(duration_s=120, seed=1, warmup_s=0), surges=((60.0, 20.0, 1.3),))
        st = running(simulate(cfg).steps)
        t_run = st.ic_s - st.ic_s.iloc[0]
        assert st[(t_run > 65) & (t_run < 75)].speed_mps.mean() == pytest.approx(3.0 * 1.3, rel=0.03)
        assert st[t_run < 50].speed_mps.mean() == pytest.approx(3.0, rel=0.01)

    def test_asymmetry(self):
        st = running(simulate(duration_s=60, seed=1, form=Form(asymmetry=0.1)).steps)
        ratio = st[st.side == "L"].contact_time_s.median() / st[st.side == "R"].contact_time_s.median()
        assert ratio == pytest.approx(1.05 / 0.95, rel=0.02)
