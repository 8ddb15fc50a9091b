"""The mounting procedure (`calibrate_mounting`, ``gait calibrate mounting``) after sensor calibration."""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calibration import (
    Calibration,
    CalibrationStore,
    apply_calibration,
    calibrate_accelerometer,
    calibrate_mounting,
    estimate_gyro_bias,
    mounting_from_estimate,
)
from calibration.simulate import random_sensor_model, simulate_poses, simulate_still
from gait import GaitInputError, save_session
from gait.cli import main
from gait.constants import DEG_PER_RAD
from gait.simulator import SimulationConfig, simulate


def truth_rows(sim) -> np.ndarray:
    """The simulator's mounting (sensor -> forward, left, up) as rows (v, ap, ml) in sensor axes."""
    return sim.mounting[[2, 0, 1]]


def angle_deg(a: np.ndarray, b: np.ndarray) -> float:
    return float(Rotation.from_matrix(a @ b.T).magnitude() * DEG_PER_RAD)


def sensor_calibration(sm, device_id: str) -> Calibration:
    gyro = estimate_gyro_bias(simulate_still(sensor=sm, seed=1).session)
    acc = calibrate_accelerometer(simulate_poses(poses="twelve", sensor=sm, seed=2).session)
    return Calibration(device_id=device_id, gyro=gyro, accel=acc)


def run(sm, mounting, seed: int = 3, **kw):
    cfg = SimulationConfig(duration_s=25.0, seed=seed, sensor=sm, mounting=mounting, standing_pitch_deg=0.0, **kw)
    return simulate(cfg)


@pytest.mark.parametrize("mounting", ["belt_clip", "upside_down", "sideways", "random"])
def test_recovered_within_one_degree(mounting):
    """Sensor with bias, scale error, misalignment (1.1 deg sd); mounting within 1 deg of the truth (2 seeds)."""
    for seed in (1, 2):
        sm = random_sensor_model(40 + seed, misalignment_sd_rad=0.02)
        sim = run(sm, mounting, seed=seed)
        s = apply_calibration(sim.session, sensor_calibration(sm, sim.session.meta.device_id))
        rec = calibrate_mounting(s)
        assert rec.method == "standing+running"
        assert angle_deg(rec.rotation, truth_rows(sim)) < 1.0
        assert rec.quality["forward_confidence"] > 0.5 and rec.quality["still_s"] >= 1.0


def test_uncalibrated_sensor_is_worse():
    sm = random_sensor_model(41, misalignment_sd_rad=0.02)
    sim = run(sm, "upside_down", seed=1)
    raw = calibrate_mounting(sim.session)
    cal = calibrate_mounting(apply_calibration(sim.session, sensor_calibration(sm, sim.session.meta.device_id)))
    assert angle_deg(raw.rotation, truth_rows(sim)) > angle_deg(cal.rotation, truth_rows(sim))


def test_exceptions():
    sm = random_sensor_model(42)
    sim = run(sm, "belt_clip", standing_before_s=0.0, standing_after_s=0.0)
    msg = (
        "parameter 'session': no standing still in the mounting recording; expected at least 1 s standing still "
        "(5 s recommended), found 0.0 s. Clip the sensor on, stand upright and still for 5 s, then walk or run "
        "straight ahead for at least 10 steps"
    )
    with pytest.raises(GaitInputError, match=re.escape(msg)):
        calibrate_mounting(sim.session)
    still = simulate_still(duration_s=10.0, sensor=sm).session
    msg = (
        "parameter 'session': no walking or running in the mounting recording; expected at least 4 s of walking or "
        "running straight ahead, found 0.0 s"
    )
    with pytest.raises(GaitInputError, match=re.escape(msg)):
        calibrate_mounting(still)
    with pytest.raises(GaitInputError, match=re.escape("mounting calibration needs raw sensor axes")):
        calibrate_mounting(still.replace(frame="body"))


def test_from_estimate():
    from gait.core.mounting import MountingEstimate

    est = MountingEstimate(np.eye(3), "standing", "walking", 0.8, 5.0, 12.0)
    rec = mounting_from_estimate(est, source="x.csv")
    assert rec.method == "standing+walking" and rec.source == "x.csv"
    assert rec.quality == {"forward_confidence": 0.8, "still_s": 5.0, "moving_s": 12.0}


def test_cli(capsys, tmp_path):
    sm = random_sensor_model(43, misalignment_sd_rad=0.02)
    sim = run(sm, "sideways")
    dev = sim.session.meta.device_id
    store = CalibrationStore(tmp_path / "store")
    cal = sensor_calibration(sm, dev)
    store.save(dev, cal.gyro)
    store.save(dev, cal.accel)
    save_session(sim.session, tmp_path / "run.csv")
    code = main(["calibrate", "mounting", str(tmp_path / "run.csv"), "--store", str(store.root)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"sensor errors corrected first with {cal.id}" in out
    assert "sensor on the back: up = +x (" in out and "forward = -z (" in out and "left = +y (" in out
    current = store.current(dev)
    assert current.mounting is not None and current.mounting.method == "standing+running"
    assert angle_deg(current.mounting.rotation, truth_rows(sim)) < 1.0
    code = main(["calibrate", "show", "--store", str(store.root)])
    out, _ = capsys.readouterr()
    assert "mounting (mounting-" in out and "not calibrated" not in out
    code = main(["calibrate", "mounting", str(tmp_path / "run.csv"), "--store", str(store.root), "--no-calibration",
                 "--dry-run"])  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0 and "sensor errors corrected first" not in out and "not stored (--dry-run)" in out
