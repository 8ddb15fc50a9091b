"""Simulated calibration recordings: the truth they state is the signal they contain."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from calibration.simulate import (
    SIX_FACES,
    gain_matrix,
    nonorthogonal_triad,
    random_sensor_model,
    simulate_poses,
    simulate_still,
)
from gait import GaitInputError
from gait.constants import G
from gait.simulator import SensorModel

EXACT = SensorModel(acc_noise_mps2=0.0, gyr_noise_rads=0.0, quantize=False)


def test_holds_read_gain_times_gravity_plus_bias():
    sm = dataclasses.replace(random_sensor_model(3, misalignment_sd_rad=0.03, base=EXACT), acc_scale=(1.02, 0.97, 1.01))
    nonorth = (0.01, -0.02, 0.015)
    rec = simulate_poses(poses="twelve", sensor=sm, seed=3, nonorthogonality_rad=nonorth)
    s = rec.session
    for (a, b), up in zip(rec.holds_s, rec.up_sensor):
        m = (s.t >= a) & (s.t < b)
        expected = rec.gain @ (G * up) + rec.acc_bias_mps2
        np.testing.assert_allclose(s.acc[m], np.broadcast_to(expected, (int(m.sum()), 3)), atol=1e-9)
        np.testing.assert_allclose(s.gyr[m], np.broadcast_to(rec.gyr_bias_rads, (int(m.sum()), 3)), atol=1e-12)


def test_gyroscope_integrates_to_the_next_pose():
    rec = simulate_poses(poses="random", n_random=5, sensor=EXACT, seed=4, tilt_deg=0.0, transition_s=2.0)
    s, fs = rec.session, rec.session.sampling_rate_hz
    for i in range(4):
        m = (s.t >= rec.holds_s[i][1]) & (s.t < rec.holds_s[i + 1][0])
        # the rate keeps one axis in the sensor frame, so its integral is the rotation vector of the move
        rv = s.gyr[m].sum(axis=0) / fs
        up_next = Rotation.from_rotvec(rv).inv().apply(rec.up_sensor[i])
        np.testing.assert_allclose(up_next, rec.up_sensor[i + 1], atol=2e-4)


def test_nonorthogonal_triad():
    angles = np.array([0.01, -0.02, 0.03])
    u = nonorthogonal_triad(angles)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.arcsin([u[1] @ u[2], u[2] @ u[0], u[0] @ u[1]]), angles, atol=1e-12)
    np.testing.assert_allclose(nonorthogonal_triad((0, 0, 0)), np.eye(3))


def test_gain_matrix_of_the_simulator_model():
    sm = SensorModel(acc_scale=(1.1, 0.9, 1.0), acc_misalignment_rad=(0.0, 0.0, 0.0))
    np.testing.assert_allclose(gain_matrix(sm), np.diag([1.1, 0.9, 1.0]), atol=1e-12)
    rec = simulate_poses(poses="six", sensor=sm, nonorthogonality_rad=(0.01, 0.02, -0.01))
    np.testing.assert_allclose(rec.misalignment_rad, [0.01, 0.02, -0.01], atol=1e-12)
    np.testing.assert_allclose(rec.scale, [1.1, 0.9, 1.0], atol=1e-12)


def test_deterministic():
    a = simulate_poses(poses="six", seed=5).session
    b = simulate_poses(poses="six", seed=5).session
    c = simulate_poses(poses="six", seed=6).session
    np.testing.assert_array_equal(a.acc, b.acc)
    assert not np.array_equal(a.acc, c.acc)
    assert random_sensor_model(1).acc_bias_mps2 == random_sensor_model(1).acc_bias_mps2


def test_still_bump_and_default_up():
    rec = simulate_still(sensor=EXACT, seed=2, bump=(1.0, 1.0, 10.0), duration_s=3.0)
    s = rec.session
    quiet = (s.t < 1.0) | (s.t > 2.0)
    np.testing.assert_allclose(s.acc[quiet], np.broadcast_to(G * rec.up_sensor[0], (int(quiet.sum()), 3)), atol=1e-9)
    peak = np.linalg.norm(s.gyr, axis=1).max() * 180 / np.pi
    assert peak == pytest.approx(10.0 * np.pi, rel=0.01)  # amp * pi / dur, deg/s
    assert np.isclose(np.linalg.norm(rec.up_sensor[0]), 1.0)


def test_exceptions():
    msg = "parameter 'poses': invalid value; expected 'six', 'twelve', 'random' or an (n, 3) array of up directions"
    with pytest.raises(GaitInputError, match=re.escape(msg)):
        simulate_poses(poses="eight")
    with pytest.raises(GaitInputError, match=re.escape("parameter 'poses': bad poses; expected an (n, 3) array")):
        simulate_poses(poses=np.zeros((3, 3)))
    with pytest.raises(GaitInputError, match=re.escape("parameter 'hold_s': out of range")):
        simulate_poses(poses=SIX_FACES, hold_s=0.0)
    with pytest.raises(GaitInputError, match=re.escape("parameter 'duration_s': out of range")):
        simulate_still(duration_s=-1.0)
