"""Gyroscope bias: recovery against the simulator's exact truth, motion detection, bad input."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration import GyroBiasCalibration, estimate_gyro_bias
from calibration.simulate import random_sensor_model, simulate_still
from gait import GaitInputError, Session, SessionMetadata
from gait.constants import RAD_PER_DEG, G
from gait.simulator import SensorModel

TOL_RADS = 0.2 * RAD_PER_DEG  # the target


def still_session(n: int, *, fs: float = 100.0, gyr=None, acc=None, source: str | None = None) -> Session:
    rng = np.random.default_rng(0)
    g = rng.normal(0, 0.003, (n, 3)) + np.array([0.01, -0.02, 0.03]) if gyr is None else gyr
    a = np.tile([0.0, 0.0, G], (n, 1)) + rng.normal(0, 0.03, (n, 3)) if acc is None else acc
    return Session(
        t=np.arange(n) / fs, acc=a, gyr=g, frame="sensor", meta=SessionMetadata(sampling_rate_hz=fs, source=source)
    )


class TestEstimateGyroBias:
    def test_empty(self):
        s = Session(t=np.zeros(0), acc=np.zeros((0, 3)), gyr=np.zeros((0, 3)), frame="sensor",
                    meta=SessionMetadata(sampling_rate_hz=100.0))  # fmt: skip
        msg = (
            "parameter 'session': recording too short for a gyroscope bias; expected at least 5 s of the sensor "
            "lying still (plus 0.5 s at each end), found 0.0 s. Record for longer"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            estimate_gyro_bias(s)

    def test_basic(self):
        sm = dataclasses.replace(SensorModel(), gyr_bias_rads=(0.05, -0.02, 0.01))
        rec = simulate_still(sensor=sm, seed=4, duration_s=10.0)
        cal = estimate_gyro_bias(rec.session)
        assert isinstance(cal, GyroBiasCalibration)
        np.testing.assert_allclose(cal.bias_rads, [0.05, -0.02, 0.01], atol=TOL_RADS / 10)
        np.testing.assert_allclose(cal.noise_rads, sm.gyr_noise_rads, rtol=0.1)
        assert cal.n_samples == 1800  # 10 s at 200 Hz minus 0.5 s at each end
        assert cal.duration_s == pytest.approx(9.0)
        assert cal.created.endswith("Z") and cal.id.startswith("gyro-")
        assert cal.bias_std_rads.max() < 1e-4
        with pytest.raises(ValueError):
            cal.bias_rads[0] = 1.0  # frozen record, read-only arrays

    @pytest.mark.parametrize("rate_hz", [50.0, 100.0, 200.0])
    def test_recovery_over_seeds(self, rate_hz):
        """30 seeds per rate: consumer-MEMS biases (2 deg/s sd), noise and int16 quantisation."""
        errs, z = [], []
        for seed in range(30):
            sm = random_sensor_model(seed, base=SensorModel(gyr_noise_rads=0.005))
            rec = simulate_still(sensor=sm, seed=seed, sampling_rate_hz=rate_hz, duration_s=8.0)
            cal = estimate_gyro_bias(rec.session)
            errs.append(np.abs(cal.bias_rads - rec.gyr_bias_rads).max())
            z.append(np.abs(cal.bias_rads - rec.gyr_bias_rads).max() / cal.bias_std_rads.max())
        assert max(errs) < TOL_RADS / 2
        assert max(z) < 5.0  # the stated uncertainty is honest

    def test_noisy_sensor_is_not_taken_for_motion(self):
        """A noisy gyroscope (1 deg/s per sample) raises the threshold, not a false alarm."""
        for seed in range(10):
            sm = random_sensor_model(seed, base=SensorModel(gyr_noise_rads=1.0 * RAD_PER_DEG, acc_noise_mps2=0.1))
            rec = simulate_still(sensor=sm, seed=seed, sampling_rate_hz=100.0)
            cal = estimate_gyro_bias(rec.session)
            assert np.abs(cal.bias_rads - rec.gyr_bias_rads).max() < TOL_RADS

    @pytest.mark.parametrize(("start_s", "dur_s", "angle_deg"), [(4.0, 0.5, 3.0), (2.0, 1.0, 1.5), (7.0, 2.0, 20.0)])
    def test_motion_detected(self, start_s, dur_s, angle_deg):
        rec = simulate_still(sensor=random_sensor_model(1), seed=1, bump=(start_s, dur_s, angle_deg))
        with pytest.raises(GaitInputError, match="the sensor moved during the gyroscope bias recording") as e:
            estimate_gyro_bias(rec.session)
        assert e.value.hint == "Put the sensor on a table or the floor, do not touch it, and record again"
        t0, t1 = (float(x) for x in re.findall(r"t=([0-9.]+) s", e.value.found))
        assert start_s - 0.6 <= t0 <= start_s + dur_s and start_s <= t1 <= start_s + dur_s + 0.6

    def test_motion_message(self):
        rec = simulate_still(sensor=SensorModel(), seed=2, bump=(4.0, 0.5, 3.0))
        msg = (
            "parameter 'session': the sensor moved during the gyroscope bias recording; expected the sensor lying "
            "still (angular rate steady within 0.50 deg/s, tilt within 1.0 deg), found movement between t="
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            estimate_gyro_bias(rec.session)

    def test_knock_detected_by_accelerometer(self):
        s = still_session(1000)
        acc = s.acc.copy()
        acc[500:505] += 5.0  # a knock on the table: no rotation
        with pytest.raises(GaitInputError, match="moved"):
            estimate_gyro_bias(s.replace(acc=acc))

    def test_exceptions(self):
        s = still_session(1000, source="still.csv")
        with pytest.raises(GaitInputError, match=re.escape("still.csv: no gyroscope; expected angular-rate columns")):
            estimate_gyro_bias(s.replace(gyr=None))
        with pytest.raises(GaitInputError, match=re.escape("still.csv: gyroscope bias calibration needs raw sensor")):
            estimate_gyro_bias(s.replace(frame="body"))
        g = s.gyr.copy()
        g[500, 1] = np.nan
        msg = (
            "still.csv: missing samples in a gyroscope bias recording; expected finite acceleration and angular "
            "rate throughout, found 1 NaN or infinite values"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            estimate_gyro_bias(s.replace(gyr=g))
        msg = "parameter 'motion_threshold_rads': out of range; expected a finite number > 0, found -1.0"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            estimate_gyro_bias(s, motion_threshold_rads=-1.0)
        with pytest.raises(GaitInputError, match=re.escape("parameter 'trim_s': out of range")):
            estimate_gyro_bias(s, trim_s=-1.0)

    @settings(max_examples=25, deadline=None)
    @given(offset=st.tuples(*[st.floats(-0.5, 0.5)] * 3))
    def test_equivariant_to_a_constant_offset(self, offset):
        s = still_session(800)
        a = estimate_gyro_bias(s).bias_rads
        b = estimate_gyro_bias(s.replace(gyr=s.gyr + np.asarray(offset))).bias_rads
        np.testing.assert_allclose(b - a, offset, atol=1e-12)

    def test_trim_excludes_handling_at_the_ends(self):
        """Picking the sensor up in the last 0.3 s does not spoil a recording."""
        rec = simulate_still(sensor=random_sensor_model(3), seed=3, duration_s=10.0, bump=(9.75, 0.25, 10.0))
        cal = estimate_gyro_bias(rec.session)
        assert np.abs(cal.bias_rads - rec.gyr_bias_rads).max() < TOL_RADS / 5
