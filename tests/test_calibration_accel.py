"""Accelerometer calibration: recovery tables against exact truth, still detection, bad recordings."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import polar
from scipy.spatial.transform import Rotation

from calibration import (
    AccelCalibration,
    calibrate_accelerometer,
    count_distinct_poses,
    find_still_segments,
    fit_accelerometer,
    rolling_mean,
    rolling_std,
)
from calibration.simulate import SIX_FACES, TWELVE_POSES, random_sensor_model, simulate_poses
from gait import GaitInputError, Session, SessionMetadata
from gait.constants import DEG_PER_RAD, G
from gait.simulator import SensorModel

BIAS_TOL = 0.02  # m/s^2, the target
SCALE_TOL = 0.005  # 0.5 %
POSE_HINT = (
    "Lay the sensor still on each of its six faces in turn (x, y and z axis up, then down), 2-3 s each; add six "
    "poses resting on an edge (about 45 degrees) to also estimate misalignment"
)


def exact_means(gain: np.ndarray, bias: np.ndarray, ups: np.ndarray) -> np.ndarray:
    """Noise-free mean readings of still poses: a = gain @ (g * up) + bias."""
    return (G * ups) @ gain.T + bias


def recover(poses, seed: int, **kw):
    rng = np.random.default_rng(1000 + seed)
    sm = random_sensor_model(rng)
    nonorth = tuple(rng.normal(0, 0.01, 3).tolist()) if kw.pop("nonorth", False) else (0.0, 0.0, 0.0)
    rec = simulate_poses(poses=poses, sensor=sm, seed=seed, n_random=20, nonorthogonality_rad=nonorth, **kw)
    return rec, calibrate_accelerometer(rec.session)


# ---------------------------------------------------------------------------------------
class TestRecovery:
    @pytest.mark.parametrize(
        ("poses", "nonorth", "model"),
        [("six", False, "bias_scale"), ("twelve", False, "full"), ("twelve", True, "full"), ("random", True, "full")],
    )
    def test_table_over_seeds(self, poses, nonorth, model):
        """40 seeds each: bias 0.3 m/s^2, scale 2 %, misalignment 0.6 deg (sd), noise, int16 quantisation, tilt 2 deg."""
        rows = []
        for seed in range(40):
            rec, cal = recover(poses, seed, nonorth=nonorth)
            assert cal.model == model
            rows.append(
                (
                    np.abs(cal.bias_mps2 - rec.acc_bias_mps2).max(),
                    np.abs(cal.scale / rec.scale - 1).max(),
                    np.abs(cal.misalignment_rad - rec.misalignment_rad).max() * DEG_PER_RAD,
                    np.abs((cal.bias_mps2 - rec.acc_bias_mps2) / cal.bias_std_mps2).max(),
                )
            )
        r = np.array(rows)
        assert r[:, 0].max() < BIAS_TOL
        assert r[:, 1].max() < SCALE_TOL
        if model == "full":
            assert r[:, 2].max() < 0.25  # deg
        assert r[:, 3].max() < 5.0  # the stated uncertainty is honest

    def test_full_correction_is_a_rotation_of_the_truth(self):
        """Gravity alone fixes the correction up to a rotation: matrix @ true gain is orthonormal."""
        for seed in range(10):
            rng = np.random.default_rng(seed)
            rec = simulate_poses(poses="twelve", sensor=random_sensor_model(rng), seed=seed)
            cal = calibrate_accelerometer(rec.session, align_gyroscope=False)
            assert cal.axes == "accelerometer" and cal.alignment_note == "not requested"
            q = cal.matrix @ rec.gain
            np.testing.assert_allclose(q.T @ q, np.eye(3), atol=2e-3)
            assert np.linalg.det(q) > 0
            np.testing.assert_allclose(cal.matrix, cal.matrix.T, atol=1e-12)


class TestAlignmentWithGyroscope:
    @pytest.mark.parametrize("poses", ["six", "twelve", "random"])
    def test_table_over_seeds(self, poses):
        """15 seeds each, misalignment 1.1 deg (sd): matrix @ true gain is the identity, gyroscope scale 1."""
        worst_deg, worst_scale = 0.0, 0.0
        for seed in range(15):
            rng = np.random.default_rng(seed)
            sm = random_sensor_model(rng, misalignment_sd_rad=0.02)
            rec = simulate_poses(poses=poses, sensor=sm, seed=seed, n_random=20)
            cal = calibrate_accelerometer(rec.session)
            assert cal.axes == "gyroscope" and cal.alignment_note == ""
            assert cal.alignment_residual_deg < 0.1
            full = cal.matrix @ rec.gain
            worst_deg = max(worst_deg, Rotation.from_matrix(polar(full)[0]).magnitude() * DEG_PER_RAD)
            assert np.abs(full - np.eye(3)).max() < 2e-3
            worst_scale = max(worst_scale, np.abs(cal.gyr_scale - 1).max())
        assert worst_deg < 0.1
        assert worst_scale < 0.003

    def test_gyroscope_scale_recovered(self):
        rec = simulate_poses(poses="twelve", sensor=random_sensor_model(3), seed=3)
        k = np.array([1.02, 0.98, 1.01])
        cal = calibrate_accelerometer(rec.session.replace(gyr=rec.session.gyr * k))
        np.testing.assert_allclose(cal.gyr_scale * k, 1.0, atol=2e-3)

    def test_six_faces_of_a_non_square_triad_not_aligned(self):
        nonorth = (0.01, -0.01, 0.01)
        rec = simulate_poses(poses="six", sensor=random_sensor_model(3), seed=3, nonorthogonality_rad=nonorth)
        cal = calibrate_accelerometer(rec.session)
        assert cal.axes == "accelerometer"
        assert re.fullmatch(
            r"the gyroscope and the poses disagree by 0\.\d\d deg RMS \(at most 0\.1; add tilted poses if only the "
            r"six faces were recorded\)",
            cal.alignment_note,
        ), cal.alignment_note
        assert cal.alignment_residual_deg is None
        np.testing.assert_array_equal(cal.gyr_scale, 1.0)

    def test_not_aligned(self):
        sm = dataclasses.replace(random_sensor_model(3), has_gyro=False)
        cal = calibrate_accelerometer(simulate_poses(poses="twelve", sensor=sm, seed=3).session)
        assert cal.axes == "accelerometer" and cal.alignment_note == "no gyroscope"
        # the movements lost (a gap in each): poses separately recorded, as in the live procedure
        s = simulate_poses(poses="twelve", sensor=random_sensor_model(3), seed=3).session
        moving = np.zeros(s.n_samples, bool)
        for sl in find_still_segments(s):
            moving[sl] = True
        kept = s.replace(t=s.t[moving], acc=s.acc[moving], gyr=s.gyr[moving])
        cal = calibrate_accelerometer(kept)
        assert cal.axes == "accelerometer"
        assert cal.alignment_note == "0 movements between poses without a gap (at least 4 needed)"

    def test_implausible_gyroscope_scale_is_not_used(self):
        rec = simulate_poses(poses="twelve", sensor=random_sensor_model(3), seed=3)
        cal = calibrate_accelerometer(rec.session.replace(gyr=rec.session.gyr * 1.1))
        assert cal.axes == "accelerometer" and cal.alignment_note.startswith("implausible gyroscope scale [0.909")

    def test_disagreeing_gyroscope_is_not_used(self):
        rec = simulate_poses(poses="twelve", sensor=random_sensor_model(3), seed=3)
        gyr = rec.session.gyr[:, [1, 0, 2]]  # axes swapped: no rotation explains it
        cal = calibrate_accelerometer(rec.session.replace(gyr=gyr))
        assert cal.axes == "accelerometer"
        assert cal.alignment_note.startswith("the gyroscope and the poses disagree by")

    def test_large_errors_low_rate(self):
        sm = random_sensor_model(5, acc_bias_sd_mps2=1.0, scale_sd=0.05, misalignment_sd_rad=0.03)
        rec = simulate_poses(poses="twelve", sensor=sm, seed=5, sampling_rate_hz=50.0, hold_s=2.0)
        cal = calibrate_accelerometer(rec.session)
        assert np.abs(cal.bias_mps2 - rec.acc_bias_mps2).max() < BIAS_TOL
        assert np.abs(cal.scale / rec.scale - 1).max() < SCALE_TOL

    def test_noisy_2g_sensor(self):
        sm = dataclasses.replace(random_sensor_model(6), acc_noise_mps2=0.12, acc_range_g=2.0)
        rec = simulate_poses(poses="twelve", sensor=sm, seed=6, sampling_rate_hz=100.0)
        cal = calibrate_accelerometer(rec.session)
        assert np.abs(cal.bias_mps2 - rec.acc_bias_mps2).max() < BIAS_TOL
        assert np.abs(cal.scale / rec.scale - 1).max() < SCALE_TOL


# ---------------------------------------------------------------------------------------
class TestFitAccelerometer:
    def test_empty(self):
        msg = (
            "parameter 'means_mps2': too few distinct poses; expected at least 6 still poses in different "
            f"orientations, found 0 (from 0 still segments). {POSE_HINT}"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            fit_accelerometer(np.zeros((0, 3)))

    def test_basic_exact(self):
        gain = np.diag([1.01, 0.98, 1.02])
        bias = np.array([0.1, -0.2, 0.3])
        cal = fit_accelerometer(exact_means(gain, bias, SIX_FACES))
        assert isinstance(cal, AccelCalibration)
        assert cal.model == "bias_scale" and cal.n_poses == 6
        np.testing.assert_allclose(cal.bias_mps2, bias, atol=1e-9)
        np.testing.assert_allclose(cal.scale, [1.01, 0.98, 1.02], atol=1e-9)
        np.testing.assert_allclose(cal.misalignment_rad, 0.0, atol=1e-12)
        assert cal.residual_mps2 < 1e-9

    @settings(max_examples=30, deadline=None)
    @given(
        bias=st.tuples(*[st.floats(-1.0, 1.0)] * 3),
        scale=st.tuples(*[st.floats(0.9, 1.1)] * 3),
        skew=st.tuples(*[st.floats(-0.05, 0.05)] * 6),
        turn=st.tuples(*[st.floats(-3.0, 3.0)] * 3),
    )
    def test_exact_recovery_property(self, bias, scale, skew, turn):
        """Noise-free poses in any orientation: bias, scale and non-orthogonality exactly."""
        off = np.zeros((3, 3))
        off[np.triu_indices(3, 1)] = skew[:3]
        off[np.tril_indices(3, -1)] = skew[3:]
        gain = np.diag(scale) @ (np.eye(3) + off)
        ups = Rotation.from_rotvec(turn).apply(TWELVE_POSES)
        cal = fit_accelerometer(exact_means(gain, np.asarray(bias), ups))
        assert cal.model == "full"
        np.testing.assert_allclose(cal.bias_mps2, bias, atol=1e-8)
        np.testing.assert_allclose(cal.scale, np.linalg.norm(gain, axis=1), atol=1e-9)
        u = gain / np.linalg.norm(gain, axis=1, keepdims=True)
        truth = np.arcsin([u[1] @ u[2], u[2] @ u[0], u[0] @ u[1]])
        np.testing.assert_allclose(cal.misalignment_rad, truth, atol=1e-9)
        np.testing.assert_allclose(cal.matrix, cal.matrix.T, atol=1e-12)  # the symmetric solution

    def test_order_of_poses_does_not_matter(self):
        means = exact_means(np.diag([1.01, 0.99, 1.0]), np.array([0.2, 0.0, -0.1]), TWELVE_POSES)
        a = fit_accelerometer(means)
        b = fit_accelerometer(means[::-1])
        np.testing.assert_allclose(a.bias_mps2, b.bias_mps2, atol=1e-10)
        np.testing.assert_allclose(a.matrix, b.matrix, atol=1e-10)

    def test_model_choice(self):
        means = exact_means(np.eye(3), np.zeros(3), TWELVE_POSES)
        assert fit_accelerometer(means).model == "full"
        assert fit_accelerometer(means, model="bias_scale").model == "bias_scale"
        assert fit_accelerometer(exact_means(np.eye(3), np.zeros(3), SIX_FACES)).model == "bias_scale"

    def test_exceptions(self):
        six = exact_means(np.eye(3), np.zeros(3), SIX_FACES)
        msg = (
            "parameter 'means_mps2': too few distinct poses; expected at least 9 still poses in different "
            f"orientations, found 6 (from 6 still segments). {POSE_HINT}"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            fit_accelerometer(six, model="full")
        # ten distinct poses, none with x or y together with z: the x-z and y-z misalignment undetermined
        ring = np.column_stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4), np.zeros(8)])
        ten = exact_means(np.eye(3), np.zeros(3), np.vstack([ring, SIX_FACES[4:]]))
        msg = (
            "parameter 'means_mps2': the poses do not determine the axis misalignment; expected tilted poses as "
            "well as the six faces (condition number at most 200), found condition number inf with 10 distinct poses"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            fit_accelerometer(ten, model="full")
        assert fit_accelerometer(ten).model == "bias_scale"  # auto falls back
        # no pose with z down
        ups = np.vstack([SIX_FACES[:5], [[0.7, 0, 0.7], [0, 0.7, 0.7], [-0.7, 0, 0.7], [0, -0.7, 0.7]]])
        msg = (
            "parameter 'means_mps2': the poses do not cover axis 'z'; expected axis z seen pointing up and pointing "
            "down (readings beyond -0.3 g and +0.3 g), found readings from +0.00 g to +1.00 g. Add a still pose "
            "with the z axis pointing down"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            fit_accelerometer(exact_means(np.eye(3), np.zeros(3), ups))
        # one pose 2 m/s^2 off: a pose that was moving
        bad = exact_means(np.eye(3), np.zeros(3), TWELVE_POSES)
        bad[3] *= 1.2
        with pytest.raises(GaitInputError, match=re.escape("the still poses do not agree with one gravity")):
            fit_accelerometer(bad)
        with pytest.raises(GaitInputError, match=re.escape("parameter 'model': invalid value; expected one of")):
            fit_accelerometer(six, model="ellipsoid")
        with pytest.raises(
            GaitInputError, match=re.escape("bad pose readings; expected shape (n, 3), found shape (6,)")
        ):
            fit_accelerometer(np.zeros(6))
        six_nan = six.copy()
        six_nan[0, 0] = np.nan
        with pytest.raises(GaitInputError, match=re.escape("expected finite readings, found NaN or infinite values")):
            fit_accelerometer(six_nan)

    def test_bunched_poses_refused(self, monkeypatch):
        monkeypatch.setattr("calibration._accel.MAX_NOISE_GAIN", 0.1)
        msg = (
            "parameter 'means_mps2': the poses are too close together; expected poses spread over every direction "
            f"(noise gain of the bias at most 0.1), found noise gain 0.53 with 12 distinct poses. {POSE_HINT}"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            fit_accelerometer(exact_means(np.eye(3), np.zeros(3), TWELVE_POSES))

    def test_count_distinct_poses(self):
        assert count_distinct_poses(np.zeros((0, 3))) == 0
        assert count_distinct_poses(SIX_FACES) == 6
        near = Rotation.from_rotvec(np.full(3, 0.1 / np.sqrt(3))).apply(SIX_FACES)  # 4.7 deg away: the same poses
        assert count_distinct_poses(np.vstack([SIX_FACES, near])) == 6
        assert count_distinct_poses(np.vstack([SIX_FACES, near]), min_separation_deg=3.0) == 12


# ---------------------------------------------------------------------------------------
class TestCalibrateAccelerometer:
    def test_empty(self):
        s = Session(
            t=np.zeros(0), acc=np.zeros((0, 3)), gyr=None, frame="sensor", meta=SessionMetadata(sampling_rate_hz=100.0)
        )
        msg = (
            "parameter 'session': no still poses found; expected still stretches of at least 1 s (accelerometer "
            f"standard deviation below 0.15 m/s^2), found none in 0.0 s. {POSE_HINT}"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            calibrate_accelerometer(s)

    def test_basic(self):
        rec = simulate_poses(poses="twelve", sensor=random_sensor_model(2), seed=2)
        cal = calibrate_accelerometer(rec.session)
        assert cal.n_poses == 12 and len(cal.poses_mps2) == 12 and cal.model == "full"
        assert cal.residual_mps2 < 0.01 and cal.max_residual_mps2 >= cal.residual_mps2
        assert cal.residuals_mps2.shape == (12,)

    def test_without_gyroscope(self):
        sm = dataclasses.replace(random_sensor_model(3), has_gyro=False)
        rec = simulate_poses(poses="six", sensor=sm, seed=3)
        assert rec.session.gyr is None
        cal = calibrate_accelerometer(rec.session)
        assert np.abs(cal.bias_mps2 - rec.acc_bias_mps2).max() < BIAS_TOL

    def test_saturated_axis(self):
        sm = dataclasses.replace(random_sensor_model(1), acc_range_g=0.97)
        rec = simulate_poses(poses="twelve", sensor=sm, seed=1)
        msg = (
            "parameter 'session': axis 'x' saturated; expected readings inside the sensor's range, found a flat, "
            "clipped signal at +9.512 m/s^2 during the pose at t=0.2-2.5 s. Set the accelerometer range to +-4 g "
            "or more and record again"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            calibrate_accelerometer(rec.session)
        with pytest.raises(GaitInputError, match=re.escape("axis 'x' saturated")):
            calibrate_accelerometer(rec.session, acc_range_mps2=0.97 * G)

    def test_low_noise_sensor_is_not_saturated(self):
        """Noise below one LSB gives constant readings on every axis: not saturation."""
        sm = dataclasses.replace(random_sensor_model(4), acc_noise_mps2=1e-5, gyr_noise_rads=1e-6)
        rec = simulate_poses(poses="six", sensor=sm, seed=4)
        cal = calibrate_accelerometer(rec.session)
        assert np.abs(cal.bias_mps2 - rec.acc_bias_mps2).max() < BIAS_TOL

    def test_too_few_poses(self):
        rec = simulate_poses(poses=SIX_FACES[[0, 1, 2, 3, 4, 4, 0]], sensor=random_sensor_model(1), seed=1)
        msg = (
            "parameter 'session': too few distinct poses; expected at least 6 still poses in different "
            f"orientations, found 5 (from 7 still segments). {POSE_HINT}"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            calibrate_accelerometer(rec.session)

    def test_never_still(self):
        rec = simulate_poses(poses="six", sensor=SensorModel(), seed=1, hold_s=0.3, transition_s=1.0)
        with pytest.raises(GaitInputError, match=re.escape("no still poses found")):
            calibrate_accelerometer(rec.session)

    def test_exceptions(self):
        rec = simulate_poses(poses="six", sensor=SensorModel(), seed=1)
        with pytest.raises(GaitInputError, match=re.escape("accelerometer calibration needs raw sensor axes")):
            calibrate_accelerometer(rec.session.replace(frame="body"))
        acc = rec.session.acc.copy()
        acc[:, 2] = np.nan
        msg = "accelerometer axes missing; expected three accelerometer axes, found no data for axis z"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            calibrate_accelerometer(rec.session.replace(acc=acc))
        with pytest.raises(GaitInputError, match=re.escape("parameter 'acc_range_mps2': out of range")):
            calibrate_accelerometer(rec.session, acc_range_mps2=0.0)


# ---------------------------------------------------------------------------------------
class TestStillSegments:
    def test_empty(self):
        s = Session(
            t=np.zeros(0), acc=np.zeros((0, 3)), gyr=None, frame="sensor", meta=SessionMetadata(sampling_rate_hz=100.0)
        )
        assert find_still_segments(s) == []
        assert rolling_std(np.zeros((0, 3)), 5).shape == (0, 3)

    def test_basic_holds_found_inside_their_intervals(self):
        rec = simulate_poses(poses="twelve", sensor=SensorModel(), seed=7)
        segs = find_still_segments(rec.session)
        assert len(segs) == 12
        t = rec.session.t
        for sl, (a, b) in zip(segs, rec.holds_s):
            assert a <= t[sl.start] and t[sl.stop - 1] < b
            assert t[sl.stop - 1] - t[sl.start] > 0.6 * (b - a)

    def test_segments_are_cut_at_gaps(self):
        rec = simulate_poses(poses="six", sensor=SensorModel(), seed=7, hold_s=6.0)
        s = rec.session
        keep = np.ones(s.n_samples, bool)
        keep[500:520] = False  # 0.1 s lost in the middle of the first hold
        s2 = Session(t=s.t[keep], acc=s.acc[keep], gyr=s.gyr[keep], frame="sensor", meta=s.meta)
        segs = find_still_segments(s2)
        assert len(segs) == 7
        assert all(not (sl.start < 500 <= sl.stop) for sl in segs)

    @settings(max_examples=20, deadline=None)
    @given(n=st.integers(1, 40), w=st.integers(1, 10), seed=st.integers(0, 100))
    def test_rolling_stats_match_naive(self, n, w, seed):
        x = np.random.default_rng(seed).normal(5.0, 2.0, (n, 3))
        m, s = rolling_mean(x, w), rolling_std(x, w)
        if n < w:
            assert m.shape == s.shape == (0, 3)
            return
        naive_m = np.array([x[i : i + w].mean(axis=0) for i in range(n - w + 1)])
        naive_s = np.array([x[i : i + w].std(axis=0) for i in range(n - w + 1)])
        np.testing.assert_allclose(m, naive_m, atol=1e-9)
        np.testing.assert_allclose(s, naive_s, atol=1e-6)

    def test_exceptions(self):
        rec = simulate_poses(poses="six", sensor=SensorModel(), seed=1)
        msg = "parameter 'window_s': out of range; expected a finite number > 0, found 0"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            find_still_segments(rec.session, window_s=0)
