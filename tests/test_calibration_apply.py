"""Applying a calibration: end to end on a simulated run, once only, and the stored-calibration hook."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from calibration import (
    Calibration,
    CalibrationStore,
    GyroBiasCalibration,
    MountingCalibration,
    apply_calibration,
    apply_stored_calibration,
    calibrate_accelerometer,
    estimate_gyro_bias,
    load_calibration,
    mounting_for,
)
from calibration.simulate import random_sensor_model, simulate_poses, simulate_still
from gait import GaitInputError, read_session, save_session
from gait.constants import RAD_PER_DEG
from gait.simulator import SensorModel, SimulationConfig, simulate


@pytest.fixture(scope="module")
def sensor() -> SensorModel:
    """Consumer-MEMS errors, including a 1 deg rotation of the accelerometer triad."""
    return dataclasses.replace(random_sensor_model(21), acc_misalignment_rad=(0.01, -0.012, 0.008))


@pytest.fixture(scope="module")
def calibration(sensor) -> Calibration:
    gyro = estimate_gyro_bias(simulate_still(sensor=sensor, seed=1, device_id="sim-11").session)
    acc = calibrate_accelerometer(simulate_poses(poses="twelve", sensor=sensor, seed=2, device_id="sim-11").session)
    return Calibration(device_id="sim-11", gyro=gyro, accel=acc)


@pytest.fixture(scope="module")
def runs(sensor):
    cfg = SimulationConfig(duration_s=30.0, seed=11, sensor=sensor)
    raw = simulate(cfg).session
    ideal = simulate(dataclasses.replace(cfg, sensor=dataclasses.replace(
        sensor, acc_bias_mps2=(0, 0, 0), acc_scale=(1, 1, 1), gyr_bias_rads=(0, 0, 0), acc_misalignment_rad=(0, 0, 0)
    ))).session  # fmt: skip
    return raw, ideal


class TestApplyCalibration:
    def test_end_to_end_on_a_run(self, runs, calibration):
        """A run through a biased, mis-scaled, misaligned sensor, corrected, matches the error-free one (same noise)."""
        raw, ideal = runs
        out = apply_calibration(raw, calibration)
        err_raw = np.abs(raw.acc - ideal.acc).mean(axis=0)
        err_acc = np.abs(out.acc - ideal.acc)
        assert err_raw.max() > 0.1  # the errors were there
        # what is left: bias error (< 0.02), scale and axis errors x |signal|, int16 quantisation (0.005)
        assert err_acc.mean(axis=0).max() < 0.02
        lsb = 2000 * RAD_PER_DEG / 32768  # int16 gyroscope quantisation
        assert np.abs(out.gyr - ideal.gyr).max() < 0.2 * RAD_PER_DEG / 4 + lsb

    def test_basic(self, runs, calibration):
        raw, _ = runs
        out = apply_calibration(raw, calibration)
        assert out is not raw and out.frame == "sensor" and out.n_samples == raw.n_samples
        assert out.meta.calibration == calibration.id
        params = out.meta.extra["calibration_parameters"]
        assert params["id"] == calibration.id and params["gyro"]["bias_rads"] == calibration.gyro.bias_rads.tolist()
        assert "poses_mps2" not in params["accel"]
        np.testing.assert_array_equal(raw.t, out.t)
        assert raw.meta.calibration is None  # the input is untouched

    def test_never_applied_twice(self, runs, calibration):
        raw, _ = runs
        once = apply_calibration(raw, calibration)
        assert apply_calibration(once, calibration) is once
        assert apply_stored_calibration(once) is once
        msg = (
            "parameter 'session': session already calibrated; expected a raw session (no 'calibration' in its "
            f"metadata), found calibration {calibration.id!r}. A calibration is never applied twice"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            apply_calibration(once, calibration, on_calibrated="raise")

    def test_survives_a_file_round_trip(self, runs, calibration, tmp_path):
        raw, _ = runs
        out = apply_calibration(raw, calibration)
        save_session(out, tmp_path / "cal.csv.gz")
        back = read_session(tmp_path / "cal.csv.gz")
        assert back.meta.calibration == calibration.id
        assert back.meta.extra["calibration_parameters"]["accel"]["model"] == "full"
        assert apply_calibration(back, calibration) is back

    def test_empty(self, calibration):
        raw = simulate_still(duration_s=1.0, device_id="sim-11").session.slice_time(5.0, 6.0)
        assert raw.n_samples == 0
        out = apply_calibration(raw, calibration)
        assert out.n_samples == 0 and out.meta.calibration == calibration.id

    def test_mounting_only_changes_no_sample(self, runs):
        raw, _ = runs
        cal = Calibration(device_id="sim-11", mounting=MountingCalibration(rotation=np.eye(3), method="auto"))
        out = apply_calibration(raw, cal)
        np.testing.assert_array_equal(out.acc, raw.acc)
        np.testing.assert_array_equal(out.gyr, raw.gyr)
        assert out.meta.calibration == cal.id

    def test_no_gyroscope(self, calibration):
        raw = simulate_still(duration_s=2.0, device_id="sim-11", sensor=SensorModel(has_gyro=False)).session
        out = apply_calibration(raw, calibration)
        assert out.gyr is None

    def test_exceptions(self, runs, calibration):
        raw, _ = runs
        msg = (
            "parameter 'session': cannot calibrate a body-frame session; expected a session in the sensor frame "
            "(sensor errors are per sensor axis), found frame 'body'"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            apply_calibration(raw.replace(frame="body"), calibration)
        msg = (
            "parameter 'calibration': calibration of another device; expected a calibration of device 'other', "
            "found one of device 'sim-11'"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            apply_calibration(raw.with_meta(device_id="other"), calibration)
        acc = raw.acc.copy()
        acc[:, 1] = np.nan
        with pytest.raises(GaitInputError, match=re.escape("cannot apply a 3-axis accelerometer calibration")):
            apply_calibration(raw.replace(acc=acc), calibration)
        with pytest.raises(GaitInputError, match=re.escape("not a calibration; expected a calibration.Calibration")):
            apply_calibration(raw, {"gyro": None})  # type: ignore[arg-type]
        with pytest.raises(GaitInputError, match=re.escape("parameter 'on_calibrated': invalid value")):
            apply_calibration(raw, calibration, on_calibrated="twice")


class TestStoredCalibration:
    def test_applied_automatically(self, runs, calibration, tmp_path):
        raw, _ = runs
        store = CalibrationStore(tmp_path)
        assert apply_stored_calibration(raw, store=store) is raw  # nothing stored yet
        store.save("sim-11", calibration.gyro)
        store.save("sim-11", calibration.accel)
        out = apply_stored_calibration(raw, store=store)
        assert out.meta.calibration == calibration.id
        np.testing.assert_allclose(out.acc, apply_calibration(raw, calibration).acc)

    def test_no_device_or_other_device(self, runs, calibration, tmp_path):
        raw, _ = runs
        store = CalibrationStore(tmp_path)
        store.save("sim-11", calibration.gyro)
        assert apply_stored_calibration(raw.with_meta(device_id=None), store=store).meta.calibration is None
        assert apply_stored_calibration(raw.with_meta(device_id="sim-12"), store=store).meta.calibration is None
        assert apply_stored_calibration(raw.replace(frame="body"), store=store).meta.calibration is None
        assert load_calibration(None, store=store) is None

    def test_latest_gyro_is_used(self, runs, tmp_path):
        raw, _ = runs
        store = CalibrationStore(tmp_path)
        for created, b in (("2025-01-01T00:00:00.000000Z", 0.5), ("2025-02-01T00:00:00.000000Z", 0.1)):
            store.save("sim-11", GyroBiasCalibration(
                bias_rads=(b, 0, 0), noise_rads=(0, 0, 0), duration_s=9, n_samples=900, created=created
            ))  # fmt: skip
        out = apply_stored_calibration(raw, store=store)
        np.testing.assert_allclose(out.gyr[:, 0], raw.gyr[:, 0] - 0.1)

    def test_corrupt_store_is_an_input_error(self, runs, tmp_path):
        raw, _ = runs
        store = CalibrationStore(tmp_path)
        store.path_for("sim-11").write_text("not json")
        with pytest.raises(GaitInputError, match=re.escape("corrupt calibration file")):
            apply_stored_calibration(raw, store=store)


class TestMountingFor:
    def test_fresh_stale_unknown(self, runs):
        raw, _ = runs
        m = MountingCalibration(rotation=np.eye(3), method="standing+walking", created="2025-05-01T08:00:00.000000Z")
        cal = Calibration(device_id="sim-11", mounting=m)
        at = raw.with_meta
        np.testing.assert_array_equal(mounting_for(at(start_time="2025-05-01T09:30:00Z"), cal), np.eye(3))
        assert mounting_for(at(start_time="2025-05-01T07:00:00+00:00"), cal) is not None  # calibrated after the start
        assert mounting_for(at(start_time="2025-05-01T09:30:00"), cal) is not None  # naive: UTC
        assert mounting_for(at(start_time="2025-05-02T09:30:00Z"), cal) is None  # the next day: clipped on again
        assert mounting_for(at(start_time="2025-05-02T09:30:00Z"), cal, max_age_h=48) is not None
        assert mounting_for(at(start_time=None), cal) is None
        assert mounting_for(at(start_time="last tuesday"), cal) is None
        assert mounting_for(at(start_time="2025-05-01T09:30:00Z"), Calibration(device_id="sim-11")) is None
        assert mounting_for(at(start_time="2025-05-01T09:30:00Z"), None) is None
