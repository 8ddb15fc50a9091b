"""`gait.run`: the one orchestrator, and the error tree."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import gait
from gait._run import prepare
from gait.faults import evaluate
from gait.history import HistoryUnavailable

REPO = Path(__file__).resolve().parents[1]


def test_run_equals_the_stages_it_replaces():
    s = gait.read_session(REPO / "sample_data" / "easy_run.csv.gz")
    r = gait.run(s, calibration=None, faults="evaluate")
    a = gait.analyze(s)
    assert r.analysis.steps.equals(a.steps) and r.analysis.minutes.equals(a.minutes)
    assert [f.to_dict() for f in r.findings] == [f.to_dict() for f in evaluate(a)]
    assert r.assessment is None and r.calibration is None
    assessed = gait.run(s, calibration=None, faults="assess", history_reason="no history here")
    assert assessed.assessment is not None and [f.fault for f in assessed.findings] == [f.fault for f in r.findings]


def test_run_names_each_stage_as_it_starts():
    s = gait.simulate(duration_s=20, seed=2).session
    seen: list[str] = []
    gait.run(s, calibration=None, faults="evaluate", on_stage=seen.append)
    assert seen == ["calibrate", "analyze", "faults"]
    seen.clear()
    gait.run(s, calibration=None, faults=None, on_stage=seen.append)
    assert seen == ["calibrate", "analyze"]
    seen.clear()
    with pytest.raises(gait.GaitInputError):
        gait.run(s.slice_time(0.0, 0.2), calibration=None, on_stage=seen.append)  # too short
    assert seen[-1] == "analyze"


def test_prepare_without_calibration_keeps_the_session_and_the_given_mounting():
    s = gait.simulate(duration_s=20, seed=2).session
    p = prepare(s, calibration=None, mounting="given")
    assert p.session is s and p.mounting == "given" and p.calibration is None


def test_prepare_skips_a_calibrated_session():
    import dataclasses

    s = gait.simulate(duration_s=20, seed=2).session
    s = dataclasses.replace(s, meta=dataclasses.replace(s.meta, calibration="lab 2024"))
    p = prepare(s, calibration="stored", if_calibrated="skip")
    assert p.session is s and p.calibration is None


@pytest.mark.parametrize(
    "name",
    [
        "gait.live._record_types:RecordingError",
        "gait.live._links:SensorRefused",
        "gait.live._scan:BluetoothUnavailable",
        "gait.live._phyphox:PhyphoxError",
        "gait.live._sync_types:SyncError",
        "gait.live._voice:VoiceUnavailable",
        "firmware_protocol.gatt_server:PeripheralError",
    ],
)
def test_device_errors_share_the_root(name):
    import importlib

    module, cls = name.split(":")
    c = getattr(importlib.import_module(module), cls)
    assert issubclass(c, gait.GaitError) and issubclass(c, RuntimeError) and c.__name__ == cls


def test_input_and_history_errors_share_the_root():
    e = gait.GaitInputError("bad", expected="good", found="bad")
    assert isinstance(e, gait.GaitError) and isinstance(e, ValueError)
    again = pickle.loads(pickle.dumps(e))
    assert str(again) == str(e) == "input: bad; expected good, found bad"
    assert issubclass(HistoryUnavailable, gait.GaitError)
    with pytest.raises(gait.GaitError, match="expected good"):
        raise e
