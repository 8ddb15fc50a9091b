"""Virtual IMU from rigid-segment motion: exact on analytic motion, and its helpers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from gait import GaitInputError
from gait.constants import AP, DEG_PER_RAD, ML, G, V
from gait.core.frames import _tilt_from_gravity
from gait.simulator import MOUNTINGS
from gait.validation import (
    analysis_angles,
    clinical_pelvis_angles,
    ideal_body_frame,
    mounting_matrix,
    orientation_closure,
    pelvis_frame,
    rigid_fit,
    segment_template,
    step_truth,
    velocity_closure,
    virtual_imu,
    zero_lag_lowpass,
)

FS = 150.0


def analytic_motion(seconds: float = 20.0):
    """Translation and a Z-Y-X rotation with closed-form second derivative and body rates."""
    t = np.arange(round(seconds * FS)) / FS
    w1, w2, w3 = 2 * np.pi * 1.3, 2 * np.pi * 0.9, 2 * np.pi * 2.6
    p = np.column_stack([3.0 * t + 0.04 * np.sin(w1 * t), 0.03 * np.sin(w2 * t + 0.4), 1.0 + 0.05 * np.cos(w3 * t)])
    pdd = np.column_stack(
        [-0.04 * w1**2 * np.sin(w1 * t), -0.03 * w2**2 * np.sin(w2 * t + 0.4), -0.05 * w3**2 * np.cos(w3 * t)]
    )
    o1, o2, o3 = 2 * np.pi * 0.7, 2 * np.pi * 1.4, 2 * np.pi * 2.1
    psi, th, ph = 0.3 * np.sin(o1 * t), 0.2 + 0.1 * np.sin(o2 * t), 0.15 * np.cos(o3 * t)
    dpsi, dth, dph = 0.3 * o1 * np.cos(o1 * t), 0.1 * o2 * np.cos(o2 * t), -0.15 * o3 * np.sin(o3 * t)
    R = Rotation.from_euler("ZYX", np.column_stack([psi, th, ph])).as_matrix()
    # body rates of R = Rz(psi) Ry(th) Rx(ph)
    w = np.column_stack(
        [
            dph - dpsi * np.sin(th),
            dth * np.cos(ph) + dpsi * np.cos(th) * np.sin(ph),
            -dth * np.sin(ph) + dpsi * np.cos(th) * np.cos(ph),
        ]
    )
    f_world = pdd + np.array([0.0, 0.0, G])
    f_body = np.einsum("nji,nj->ni", R, f_world)
    return t, p, R, f_body, w, (psi, th, ph)


class TestExact:
    @pytest.mark.parametrize("mounting", ["belt_clip", "upside_down", "sideways", "aligned"])
    def test_unfiltered_is_exact(self, mounting):
        t, p, R, f_body, w, _ = analytic_motion()
        v = virtual_imu(p, R, sampling_rate_hz=FS, mounting=mounting, cutoff_hz=None, trim_s=0.2)
        M = MOUNTINGS[mounting]
        k = round(0.2 * FS)
        np.testing.assert_allclose(v.session.acc, (f_body @ M)[k:-k], atol=1e-5)  # 23 m/s^2 peaks
        np.testing.assert_allclose(v.session.gyr, (w @ M)[k:-k], atol=1e-8)
        np.testing.assert_allclose(v.session.t, t[k:-k], atol=1e-12)

    def test_filtered_is_exact_below_the_cutoff(self):
        # content at 0.7-2.6 Hz: the 20 Hz zero-lag filter passes it to 5e-5
        _, p, R, f_body, w, _ = analytic_motion()
        v = virtual_imu(p, R, sampling_rate_hz=FS, cutoff_hz=20.0)
        M = MOUNTINGS["belt_clip"]
        k = round(0.2 * FS)
        np.testing.assert_allclose(v.session.acc, (f_body @ M)[k:-k], atol=2e-3)
        np.testing.assert_allclose(v.session.gyr, (w @ M)[k:-k], atol=2e-4)

    def test_world_and_segment_signals(self):
        _, p, R, f_body, w, _ = analytic_motion()
        v = virtual_imu(p, R, sampling_rate_hz=FS, cutoff_hz=None, mounting="sideways")
        k = round(0.2 * FS)
        np.testing.assert_allclose(v.gyr_segment_rads, w[k:-k], atol=1e-8)
        np.testing.assert_allclose(np.einsum("nji,nj->ni", v.orientation, v.acc_world_mps2), f_body[k:-k], atol=1e-5)
        np.testing.assert_allclose(v.position_m, p[k:-k], atol=1e-12)

    def test_mounting_is_applied_as_sensor_axes_in_the_segment(self):
        # a belt clip has its y axis up and its x axis to the right: still, y reads +g
        n = 600
        R = np.repeat(np.eye(3)[None], n, axis=0)
        p = np.zeros((n, 3))
        v = virtual_imu(p, R, sampling_rate_hz=FS, mounting="belt_clip")
        np.testing.assert_allclose(v.session.acc, np.tile([0.0, G, 0.0], (v.session.n_samples, 1)), atol=1e-12)
        # turning left (+ about up) is - about the clip's z (out of the back): z = -forward
        yaw_rate = 0.5
        Rz = Rotation.from_euler("Z", yaw_rate * np.arange(n)[:, None] / FS).as_matrix()
        v = virtual_imu(p, Rz, sampling_rate_hz=FS, mounting="belt_clip", cutoff_hz=None)
        np.testing.assert_allclose(v.session.gyr, np.tile([0.0, yaw_rate, 0.0], (v.session.n_samples, 1)), atol=1e-9)

    def test_given_mounting_matrix(self):
        _, p, R, f_body, _, _ = analytic_motion(5.0)
        M = Rotation.from_euler("xyz", [10, -30, 75], degrees=True).as_matrix()
        v = virtual_imu(p, R, sampling_rate_hz=FS, mounting=M, cutoff_hz=None)
        k = round(0.2 * FS)
        np.testing.assert_allclose(v.session.acc, (f_body @ M)[k:-k], atol=1e-5)
        assert v.session.meta.extra["mounting"] == "given"

    def test_standing_reads_plus_g_along_up_and_no_rotation(self):
        # any constant pose: the specific force is minus gravity, +g along the world's up
        n = 1500
        R0 = Rotation.from_euler("ZYX", [0.4, 0.15, -0.1]).as_matrix()
        v = virtual_imu(np.tile([0.2, 0.1, 0.95], (n, 1)), np.repeat(R0[None], n, axis=0), sampling_rate_hz=FS)
        np.testing.assert_allclose(v.acc_world_mps2, np.tile([0.0, 0.0, G], (v.t_s.size, 1)), atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(v.session.acc, axis=1), G, atol=1e-9)
        np.testing.assert_allclose(v.session.gyr, 0.0, atol=1e-12)

    def test_session_is_a_sensor_frame_session(self):
        _, p, R, *_ = analytic_motion(5.0)
        v = virtual_imu(p, R, sampling_rate_hz=FS, t0_s=12.0, extra={"trial": "x"})
        s = v.session
        assert s.frame == "sensor" and s.sampling_rate_hz == FS and s.has_gyro
        assert s.t[0] == pytest.approx(12.0 + 0.2) and np.allclose(np.diff(s.t), 1 / FS)
        assert s.meta.extra["trial"] == "x" and s.meta.extra["cutoff_hz"] == 20.0
        assert np.isfinite(s.acc).all() and np.isfinite(s.gyr).all()


class TestAnglesMatchTheAnalysis:
    @pytest.mark.parametrize("pitch_deg, roll_deg", [(0, 0), (9, 0), (0, -6), (14, 7), (-5, 3)])
    def test_pitch_and_roll_are_the_gravity_angles_of_gait_frames(self, pitch_deg, roll_deg):
        # a still body frame tilted by Z-Y-X angles: gait.core.frames reads the same pitch and roll
        R = Rotation.from_euler("ZYX", [0.7, pitch_deg, roll_deg], degrees=True).as_matrix()[None]
        g_body = np.einsum("nji,j->ni", R, [0.0, 0.0, G])  # (forward, left, up)
        g_vapml = g_body[:, [2, 0, 1]]
        p_frames, r_frames = _tilt_from_gravity(g_vapml)
        p, r, y = analysis_angles(R)
        np.testing.assert_allclose(p * DEG_PER_RAD, pitch_deg, atol=1e-9)
        np.testing.assert_allclose(r * DEG_PER_RAD, roll_deg, atol=1e-9)
        np.testing.assert_allclose(p, p_frames, atol=1e-12)
        np.testing.assert_allclose(r, r_frames, atol=1e-12)
        np.testing.assert_allclose(y * DEG_PER_RAD, 0.7, atol=1e-9)
        assert (V, AP, ML) == (0, 1, 2)

    def test_clinical_angles_rotation_obliquity_tilt(self):
        R = Rotation.from_euler("ZXY", [5.0, -3.0, 12.0], degrees=True).as_matrix()[None]
        tilt, obl, rot = clinical_pelvis_angles(R)
        np.testing.assert_allclose(np.degrees([tilt[0], obl[0], rot[0]]), [12.0, -3.0, 5.0], atol=1e-9)

    def test_ideal_body_frame_levels_the_standing_posture(self):
        stand = Rotation.from_euler("ZYX", [0.0, 12.0, 2.0], degrees=True).as_matrix()
        run = Rotation.from_euler("ZYX", [0.0, 25.0, 2.0], degrees=True).as_matrix()
        R = np.stack([stand] * 10 + [run] * 10)
        mask = np.r_[[True] * 10, [False] * 10]
        C = ideal_body_frame(R, standing=mask, running=~mask)
        p, r, y = analysis_angles(R @ C)
        np.testing.assert_allclose(np.degrees([p[:10], r[:10], y[:10]]), 0.0, atol=1e-9)
        np.testing.assert_allclose(
            np.degrees([p[10:], r[10:], y[10:]]), [[13.0] * 10, [0.0] * 10, [0.0] * 10], atol=1e-9
        )

    def test_ideal_forward_is_the_direction_of_travel(self):
        stand = Rotation.from_euler("ZYX", [0.0, 12.0, 2.0], degrees=True).as_matrix()
        run = Rotation.from_euler("ZYX", [20.0, 25.0, 2.0], degrees=True).as_matrix()
        R = np.stack([stand] * 10 + [run] * 10)
        mask = np.r_[[True] * 10, [False] * 10]
        _, _, y = analysis_angles(R @ ideal_body_frame(R, standing=mask, running=~mask))
        # forward is made horizontal in the standing posture, so it keeps a small heading error
        assert abs(y[10] * DEG_PER_RAD) < 1.5


class TestStepTruth:
    def test_definitions_on_known_signals(self):
        fs = 100.0
        t = np.arange(1000) / fs
        ic = np.array([1.0, 1.4, 1.8, 2.2, 2.6])
        to = ic + 0.2
        side = np.array(["L", "R", "L", "R", "L"], dtype=object)
        pitch = np.deg2rad(5.0 + 0 * t)
        roll = np.deg2rad(1.0 + 2.0 * np.sin(2 * np.pi * (t - 1.0) / 0.8))  # right down in left stance
        yaw = np.deg2rad(3.0 * np.cos(2 * np.pi * (t - 1.0) / 0.8))
        z = 1.0 + 0.04 * np.cos(2 * np.pi * (t - 1.0) / 0.4) + 0.01 * t  # drifting by 4 mm a step
        s = step_truth(
            t_s=t,
            ic_s=ic,
            to_s=to,
            side=side,
            pitch=pitch,
            roll=roll,
            yaw=yaw,
            height_m=z,
            standing_pitch_rad=np.deg2rad(2.0),
        )
        np.testing.assert_allclose(s["lean_deg"][:4], 3.0, atol=1e-9)
        # max - min of the height (drifting up 4 mm a step); the line between the heights at
        # the contacts removes the drift
        np.testing.assert_allclose(s["vertical_oscillation_m"][:4], 0.08 + 0.002, atol=2e-4)
        np.testing.assert_allclose(s["vertical_oscillation_contact_line_m"][:4], 0.08, atol=2e-4)
        np.testing.assert_allclose(s["roll_range_deg"][:3], 4.0, atol=2e-3)
        np.testing.assert_allclose(s["yaw_range_deg"][:3], 6.0, atol=1e-9)
        np.testing.assert_allclose(s["lateral_lean_deg"][:3], 1.0, atol=0.03)
        # left stance (0.2 s of the 0.8 s stride from its start): roll up to 1 + 2 sin(pi/2)
        np.testing.assert_allclose(s["pelvic_drop_deg"][[0, 2]], 2.0, atol=0.03)
        assert s["roll_range_deg"].isna().tolist() == [False, False, False, True, True]
        np.testing.assert_allclose(s["contact_time_s"], 0.2)

    def test_bad_events(self):
        t = np.arange(100) / 100.0
        with pytest.raises(GaitInputError, match="bad events"):
            step_truth(
                t_s=t,
                ic_s=[0.5, 0.4],
                to_s=[0.6, 0.7],
                side=["L", "R"],
                pitch=t,
                roll=t,
                yaw=t,
                height_m=t,
                standing_pitch_rad=0.0,
            )


class TestRigidSegments:
    def test_rigid_fit_recovers_pose_with_missing_markers(self):
        rng = np.random.default_rng(3)
        local = {f"m{i}": rng.normal(0, 0.1, 3) for i in range(5)}
        n = 200
        R = Rotation.random(n, random_state=4).as_matrix()
        o = rng.normal(0, 1, (n, 3))
        markers = {k: o + R @ v for k, v in local.items()}
        markers["m0"][::3] = np.nan  # a marker missing in every third frame
        markers["m1"][5:50] = np.nan
        R_fit, o_fit = rigid_fit(markers, local)
        np.testing.assert_allclose(R_fit, R, atol=1e-10)
        np.testing.assert_allclose(o_fit, o, atol=1e-10)

    def test_segment_template_round_trip(self):
        _, _, R, *_ = analytic_motion(2.0)
        o = np.tile([1.0, 2.0, 3.0], (R.shape[0], 1))
        local = {"a": np.array([0.1, 0.0, 0.0]), "b": np.array([0.0, 0.12, 0.0]), "c": np.array([0.0, 0.0, 0.2])}
        markers = {k: o + R @ v for k, v in local.items()}
        tpl = segment_template(markers, R, o)
        for k in local:
            np.testing.assert_allclose(tpl[k], local[k], atol=1e-12)

    def test_pelvis_frame_axes(self):
        # ASIS 24 cm apart, PSIS 10 cm behind and 6 cm above them, pelvis facing +x
        ra, la = np.array([[0.0, -0.12, 1.0]]), np.array([[0.0, 0.12, 1.0]])
        rp, lp = np.array([[-0.10, -0.05, 1.06]]), np.array([[-0.10, 0.05, 1.06]])
        R, o = pelvis_frame(ra, la, rp, lp)
        np.testing.assert_allclose(o, [[0.0, 0.0, 1.0]])
        np.testing.assert_allclose(R[0, :, 1], [0.0, 1.0, 0.0], atol=1e-12)  # left
        fwd = np.array([0.10, 0.0, -0.06]) / np.hypot(0.10, 0.06)  # forward, tipped as the ASIS-PSIS line
        np.testing.assert_allclose(R[0, :, 0], fwd, atol=1e-12)
        assert np.linalg.det(R[0]) == pytest.approx(1.0)

    def test_too_few_markers(self):
        local = {"a": np.zeros(3), "b": np.ones(3), "c": np.array([1.0, 0.0, 0.0])}
        m = {k: np.tile(v, (10, 1)) for k, v in local.items()}
        m["c"][4] = np.nan
        with pytest.raises(GaitInputError, match="frame 4 of 10: 2 marker"):
            rigid_fit(m, local)
        with pytest.raises(GaitInputError, match="too few markers"):
            rigid_fit({"a": m["a"]}, local)

    def test_collinear_markers(self):
        local = {"a": np.zeros(3), "b": np.array([0.1, 0.0, 0.0]), "c": np.array([0.2, 0.0, 0.0])}
        m = {k: np.tile(v, (10, 1)) for k, v in local.items()}
        with pytest.raises(GaitInputError, match="non-collinear"):
            rigid_fit(m, local)


class TestSelfChecks:
    def test_closures_are_zero_on_exact_periodic_motion(self):
        _, p, R, *_ = analytic_motion()
        v = virtual_imu(p, R, sampling_rate_hz=FS, cutoff_hz=None)
        # whole periods of the vertical motion: 13 periods of 2.6 Hz = 750 samples; rotation over 1 s
        s = np.array([100, 400, 900])
        dv = velocity_closure(v.acc_world_mps2, s, s + 750, sampling_rate_hz=FS)
        np.testing.assert_allclose(dv, 0.0, atol=1e-4)  # trapezoid rule on 0.82 m/s amplitude
        dth = orientation_closure(v.gyr_segment_rads, v.orientation, s, s + 150, sampling_rate_hz=FS)
        np.testing.assert_array_less(dth, 0.01)  # deg over 1 s at rates up to 2 rad/s


class TestInputValidation:
    def test_shapes_and_values(self):
        _, p, R, *_ = analytic_motion(2.0)
        with pytest.raises(GaitInputError, match=r"position_m.*shape \(n, 3\)"):
            virtual_imu(p[:, :2], R, sampling_rate_hz=FS)
        bad = p.copy()
        bad[7, 1] = np.nan
        with pytest.raises(GaitInputError, match=r"non-finite values.*row 7"):
            virtual_imu(bad, R, sampling_rate_hz=FS)
        with pytest.raises(GaitInputError, match="length mismatch"):
            virtual_imu(p[:-1], R, sampling_rate_hz=FS)
        with pytest.raises(GaitInputError, match=r"not a rotation.*row 3"):
            R2 = R.copy()
            R2[3] *= 1.01
            virtual_imu(p, R2, sampling_rate_hz=FS)
        with pytest.raises(GaitInputError, match="not a rotation"):
            virtual_imu(p, -R, sampling_rate_hz=FS)  # a reflection
        with pytest.raises(GaitInputError, match="sampling_rate_hz"):
            virtual_imu(p, R, sampling_rate_hz=0.0)

    def test_cutoff_and_length(self):
        _, p, R, *_ = analytic_motion(2.0)
        with pytest.raises(GaitInputError, match=r"cutoff too high.*below 60.15 Hz"):
            virtual_imu(p, R, sampling_rate_hz=FS, cutoff_hz=70.0)
        with pytest.raises(GaitInputError, match="too short"):
            virtual_imu(p[:70], R[:70], sampling_rate_hz=FS)
        with pytest.raises(GaitInputError, match="bad trim"):
            virtual_imu(p, R, sampling_rate_hz=FS, trim_s=-1.0)
        with pytest.raises(GaitInputError, match="too short to filter"):
            zero_lag_lowpass(np.zeros(10), sampling_rate_hz=FS, cutoff_hz=10.0)

    def test_mountings(self):
        with pytest.raises(GaitInputError, match=r"unknown mounting.*'belt_clip'.*'random'"):
            mounting_matrix("belt")
        with pytest.raises(GaitInputError, match="missing seed"):
            mounting_matrix("random")
        np.testing.assert_array_equal(mounting_matrix("random", seed=5), mounting_matrix("random", seed=5))
        with pytest.raises(GaitInputError, match="not a rotation"):
            mounting_matrix(np.diag([1.0, 1.0, -1.0]))
        with pytest.raises(GaitInputError, match="3x3"):
            mounting_matrix(np.eye(2))
