"""The typed records between stages (`gait.core.records`): frozen, typed, with a read-only mapping
view over the documented key paths."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import gait
from gait.core.records import BridgedGaps, FrameInfo, MinuteSignals, RunSummary, Surge, Unavailable, Warmup


def test_records_are_frozen():
    s = RunSummary(running_s=60.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.running_s = 1.0  # type: ignore[misc]
    u = Unavailable({"side": "no gyroscope"})
    with pytest.raises(TypeError):
        u["side"] = "x"  # type: ignore[index]


def test_a_misspelt_field_is_an_error_where_the_record_is_made():
    with pytest.raises(TypeError, match="unexpected keyword argument 'runing_s'"):
        RunSummary(runing_s=1.0)  # type: ignore[call-arg]


def test_mapping_view_reads_the_documented_key_paths_and_leaves_out_what_does_not_apply():
    s = RunSummary(median={"cadence_spm": 170.0}, warmup=None, surges=(Surge(10.0, 40.0, 7.5),))
    assert s["median"]["cadence_spm"] == 170.0 and s.median["cadence_spm"] == 170.0
    assert "warmup" not in s and s.get("warmup") is None
    with pytest.raises(KeyError):
        s["warmup"]
    d = s.to_dict()
    assert d["surges"] == [{"start_s": 10.0, "end_s": 40.0, "cadence_change_pct": 7.5}]
    assert "warmup" not in d and len(s) == len(d)
    json.dumps(d, allow_nan=True)  # plain data
    f = FrameInfo(input_frame="sensor", bridged_gaps=BridgedGaps(gaps=2, filled_s=0.1, steps_excluded=3))
    assert list(f) == ["input_frame", "bridged_gaps"]
    assert f.to_dict() == {"input_frame": "sensor", "bridged_gaps": {"gaps": 2, "filled_s": 0.1, "steps_excluded": 3}}
    w = Warmup(full_effort_s=120.0)
    assert w["full_effort_s"] == 120.0 and math.isnan(w["warmup_s"])


def test_unavailable_drops_empty_reasons_and_compares_as_a_mapping():
    u = Unavailable({"side": "no gyroscope", "lean_deg": ""})
    assert dict(u) == {"side": "no gyroscope"} and u == {"side": "no gyroscope"}
    assert u.to_dict() == {"side": "no gyroscope"} and "lean_deg" not in u


def test_minute_signals_lists_what_is_present():
    m = MinuteSignals(intensity=np.zeros(3), running_mask=np.ones(3, bool))
    assert list(m.arrays()) == ["intensity", "running_mask"]


def test_the_analysis_hands_out_records(short_run):
    a = gait.analyze(short_run.session)
    assert isinstance(a.summary, RunSummary) and isinstance(a.frame, FrameInfo)
    assert isinstance(a.unavailable, Unavailable) and isinstance(a.summary.warmup, Warmup | None)
    assert a.summary["running_steps"] == a.summary.running_steps > 0
    assert a.frame["input_frame"] == short_run.session.frame
