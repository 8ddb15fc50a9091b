"""Guided procedures driven by a fake recorder: prompts, repeats, and the records they return."""

from __future__ import annotations

import re

import numpy as np
import pytest

from calibration import GUIDES, accel_procedure, gyro_procedure
from calibration.procedures import face_name
from calibration.simulate import SIX_FACES, TWELVE_POSES, random_sensor_model, simulate_still
from gait import GaitInputError
from gait.constants import RAD_PER_DEG

SENSOR = random_sensor_model(31)


class FakeRecorder:
    """``record(duration_s)``: the next scripted recording (an "up" direction, optionally a bump)."""

    def __init__(self, script):
        self.script = list(script)
        self.calls: list[float] = []

    def __call__(self, duration_s: float):
        up, bump = self.script.pop(0)
        self.calls.append(duration_s)
        seed = len(self.calls)
        return simulate_still(duration_s=duration_s, sensor=SENSOR, up=up, bump=bump, seed=seed).session


def collect():
    said: list[str] = []
    asked: list[str] = []
    return said, asked, said.append, asked.append


class TestGyroProcedure:
    def test_repeats_after_motion(self):
        said, asked, say, ask = collect()
        rec = FakeRecorder([((0, 0, 1), (3.0, 0.5, 5.0)), ((0, 0, 1), None)])
        cal = gyro_procedure(rec, duration_s=6.0, say=say, ask=ask)
        assert rec.calls == [7.0, 7.0]
        assert np.abs(cal.bias_rads - SENSOR.gyr_bias_rads).max() < 0.2 * RAD_PER_DEG
        assert cal.source == "live"
        assert said[0] == GUIDES["gyro"]
        assert any(s.startswith("Not usable: the sensor moved during the gyroscope bias recording") for s in said)
        assert said[-1].startswith("Gyroscope bias: x ")
        assert asked == ["Attempt 1: put the sensor down and let go", "Attempt 2: put the sensor down and let go"]

    def test_gives_up(self):
        _, _, say, ask = collect()
        rec = FakeRecorder([((0, 0, 1), (3.0, 0.5, 5.0))] * 2)
        with pytest.raises(GaitInputError, match=re.escape("the sensor moved during the gyroscope bias recording")):
            gyro_procedure(rec, duration_s=6.0, attempts=2, say=say, ask=ask)

    def test_exceptions(self):
        with pytest.raises(GaitInputError, match=re.escape("parameter 'duration_s': out of range")):
            gyro_procedure(FakeRecorder([]), duration_s=0.0, say=print, ask=print)


class TestAccelProcedure:
    def test_faces_and_edges(self):
        said, asked, say, ask = collect()
        script = [(u, None) for u in TWELVE_POSES]
        script.insert(2, (SIX_FACES[0], None))  # a face done twice: asked again
        script.insert(8, ((0.5, 0.5, 0.7), (0.5, 2.0, 30.0)))  # an edge pose while moving: asked again
        rec = FakeRecorder(script)
        cal = accel_procedure(rec, edges=6, hold_s=2.0, say=say, ask=ask)
        assert cal.model == "full" and cal.n_poses == 12 and cal.source == "live"
        assert np.abs(cal.bias_mps2 - np.asarray(SENSOR.acc_bias_mps2)).max() < 0.02
        assert "This pose (+x up) was already recorded. Turn the sensor to another one." in said
        assert "The sensor was not still. Rest it on a firm surface and let go." in said
        assert said[1] == "Recorded: +x up. Still to do: -x, +y, -y, +z, -z."
        assert asked[0] == "Face 1 of 6: lay the sensor flat on a face not done yet (+x, -x, +y, -y, +z, -z)"
        assert asked[-1] == "Edge 6 of 6: rest the sensor on an edge, tilted about 45 degrees"
        assert said[-1].startswith("Accelerometer: bias [")

    def test_six_faces_only(self):
        _, _, say, ask = collect()
        cal = accel_procedure(FakeRecorder([(u, None) for u in SIX_FACES]), edges=0, hold_s=2.0, say=say, ask=ask)
        assert cal.model == "bias_scale"

    def test_tilted_pose_is_not_a_face(self):
        said, _, say, ask = collect()
        script = [((1.0, 0.0, 1.0), None)] + [(u, None) for u in SIX_FACES]
        accel_procedure(FakeRecorder(script), edges=0, hold_s=2.0, say=say, ask=ask)
        assert any(s.startswith("Expected a flat face from +x, -x, +y, -y, +z, -z") for s in said)

    def test_gives_up(self):
        rec = FakeRecorder([(SIX_FACES[0], None)] * 4)
        msg = (
            "parameter 'live': accelerometer calibration stopped; expected a still, new pose, found none in 3 tries. "
            "Start again with the sensor resting on a firm surface"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            accel_procedure(rec, edges=0, hold_s=2.0, say=lambda s: None, ask=lambda s: None)

    def test_exceptions(self):
        with pytest.raises(GaitInputError, match=re.escape("parameter 'edges': out of range; expected edges >= 0")):
            accel_procedure(FakeRecorder([]), edges=-1, say=print, ask=print)


def test_face_name():
    assert [face_name(u) for u in SIX_FACES] == ["+x", "-x", "+y", "-y", "+z", "-z"]
    assert face_name(np.array([0.1, -9.7, 0.5])) == "-y"
