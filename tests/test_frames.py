"""Frames: rotations, the mounting estimate and the level frame."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from calibration.mounting import estimate_mounting, rotation_from_axes
from gait import GaitInputError, Session, SessionMetadata
from gait.activity import RUNNING, STILL, WALKING, bout_labels
from gait.constants import DEG_PER_RAD, G
from gait.frames import apply_matrix, level_frame, rotate, to_body_frame
from gait.simulator import MOUNTINGS, SimulationConfig, simulate

finite = st.floats(-3.0, 3.0, allow_nan=False)


class TestRotate:
    @settings(max_examples=50, deadline=None)
    @given(arrays(float, (20, 3), elements=finite), arrays(float, (20, 3), elements=st.floats(-2.0, 2.0)))
    def test_matches_scipy(self, vectors, rotvecs):
        np.testing.assert_allclose(rotate(vectors, rotvecs), Rotation.from_rotvec(rotvecs).apply(vectors), atol=1e-12)

    def test_zero_rotation(self):
        v = np.arange(12.0).reshape(4, 3)
        np.testing.assert_array_equal(rotate(v, np.zeros((4, 3))), v)

    def test_apply_matrix(self):
        rng = np.random.default_rng(1)
        a, R = rng.normal(size=(50, 3)), rng.normal(size=(3, 3))
        np.testing.assert_allclose(apply_matrix(R, a), a @ R.T, atol=1e-12)


def static_session(pitch_deg: float, roll_deg: float, seconds: float = 30.0, fs: float = 100.0) -> Session:
    """A body-frame sensor standing still, tilted forward by pitch and to the right by roll."""
    p, r = np.deg2rad(pitch_deg), np.deg2rad(roll_deg)
    # specific force of gravity seen by a body pitched forward by p and rolled right by r
    g_body = G * np.array([np.cos(p) * np.cos(r), -np.sin(p), np.cos(p) * np.sin(r)])
    n = int(seconds * fs)
    return Session(
        t=np.arange(n) / fs,
        acc=np.tile(g_body, (n, 1)),
        gyr=np.zeros((n, 3)),
        frame="body",
        meta=SessionMetadata(sampling_rate_hz=fs),
    )


class TestLevelFrame:
    @pytest.mark.parametrize("pitch, roll", [(0.0, 0.0), (8.0, 0.0), (0.0, -5.0), (12.0, 6.0)])
    def test_static_tilt_is_recovered_exactly(self, pitch, roll):
        lv = level_frame(static_session(pitch, roll))
        np.testing.assert_allclose(lv.acc, np.tile([G, 0.0, 0.0], (lv.acc.shape[0], 1)), atol=1e-9)
        np.testing.assert_allclose(lv.pitch * DEG_PER_RAD, pitch, atol=1e-9)
        np.testing.assert_allclose(lv.roll * DEG_PER_RAD, roll, atol=1e-9)

    def test_short_window_uses_its_mean(self):
        lv = level_frame(static_session(5.0, 0.0, seconds=4.0))
        np.testing.assert_allclose(lv.pitch * DEG_PER_RAD, 5.0, atol=1e-9)

    def test_refuses_sensor_frame(self, short_run):
        with pytest.raises(ValueError, match="body-frame session"):
            level_frame(short_run.session)

    def test_no_gyro_gives_no_yaw(self):
        s = static_session(3.0, 0.0)
        lv = level_frame(s.replace(gyr=None))
        assert np.isnan(lv.yaw).all()
        np.testing.assert_allclose(lv.pitch * DEG_PER_RAD, 3.0, atol=1e-9)

    def test_to_body_frame_keeps_body_sessions(self):
        s = static_session(0.0, 0.0)
        assert to_body_frame(s, np.eye(3)) is s


def _masks(session):
    lab = bout_labels(session)
    return dict(still=lab == STILL, running=lab == RUNNING, walking=lab == WALKING)


def _angle_deg(u, v):
    return np.degrees(np.arccos(np.clip(np.dot(u, v) / np.linalg.norm(u) / np.linalg.norm(v), -1, 1)))


class TestMounting:
    @pytest.mark.parametrize("mounting", [*sorted(MOUNTINGS), "random"])
    def test_recovers_the_sensor_rotation_within_1_deg(self, mounting):
        sim = simulate(SimulationConfig(duration_s=40.0, seed=3, mounting=mounting))
        s = sim.session
        est = estimate_mounting(s.acc, sampling_rate_hz=s.sampling_rate_hz, **_masks(s))
        assert est.vertical_source == "standing" and est.forward_source == "running"
        # truth: the standing trunk's up axis and the forward axis, in sensor coordinates
        R_sb = sim.mounting  # sensor -> body (forward, left, up)
        stand = np.deg2rad(sim.config.standing_pitch_deg)
        up_body = np.array([-np.sin(stand), 0.0, np.cos(stand)])  # gravity seen by a trunk pitched forward
        fwd_body = np.array([1.0, 0.0, 0.0])
        up_sensor, fwd_sensor = R_sb.T @ up_body, R_sb.T @ fwd_body
        assert _angle_deg(est.rotation[0], up_sensor) < 0.5
        fwd_h = fwd_sensor - up_sensor * (fwd_sensor @ up_sensor)
        assert _angle_deg(est.rotation[1], fwd_h) < 1.0
        np.testing.assert_allclose(est.rotation @ est.rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(est.rotation) == pytest.approx(1.0)

    def test_without_standing_the_vertical_is_the_running_posture(self):
        sim = simulate(SimulationConfig(duration_s=30.0, seed=3, standing_before_s=0.0, standing_after_s=0.0))
        s = sim.session
        est = estimate_mounting(s.acc, sampling_rate_hz=s.sampling_rate_hz, **_masks(s))
        assert est.vertical_source == "activity"
        assert not est.has_lean_reference

    def test_without_movement_forward_is_unknown(self):
        s = static_session(0.0, 0.0).replace(frame="sensor")
        est = estimate_mounting(s.acc, sampling_rate_hz=100.0, **_masks(s))
        assert est.forward_source == "none" and est.forward_confidence == 0.0

    def test_no_gravity_is_an_error(self):
        acc = np.zeros((1000, 3))
        z = np.zeros(1000, bool)
        with pytest.raises(GaitInputError, match=r"cannot find vertical; expected a mean specific force near 1 g"):
            estimate_mounting(acc, sampling_rate_hz=100.0, still=~z, running=z)

    def test_rotation_from_axes(self):
        R = rotation_from_axes(np.array([0.0, 0.0, 2.0]), np.array([1.0, 0.0, 0.5]))
        np.testing.assert_allclose(R, [[0, 0, 1], [1, 0, 0], [0, 1, 0]], atol=1e-12)
        with pytest.raises(GaitInputError, match="degenerate axes"):
            rotation_from_axes(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 3.0]))
