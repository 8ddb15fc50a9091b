"""gait._flat.flatten: the one helper that flattens a run summary, for the batch's tables (every
value) and for the findings' metric lookup (numbers only, as floats)."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import gait
from gait._flat import flatten, jsonable, scalar
from gait.batch import _rows, _task
from gait.faults import evaluation_context

SUMMARY = {
    "n_steps": np.int64(812),
    "running_s": 1800.0,
    "median": {"contact_time_s": np.float64(0.251), "foot_strike": "rearfoot", "cadence_spm": np.nan},
    "gyroscope": True,
    "flag": np.bool_(True),
    "surges": [{"start_s": 60.0, "end_s": np.float64(90.5)}],
    "note": None,
}


def test_the_batch_uses_this_helper():
    assert _task.flatten is flatten and _rows.flatten is flatten


def test_all_values():
    out = flatten(SUMMARY)
    assert out["n_steps"] == 812 and type(out["n_steps"]) is int
    assert out["median.contact_time_s"] == 0.251 and type(out["median.contact_time_s"]) is float
    assert out["median.foot_strike"] == "rearfoot" and math.isnan(out["median.cadence_spm"])
    assert out["gyroscope"] is True and out["flag"] is True and out["note"] is None
    assert out["surges.count"] == 1
    assert json.loads(out["surges.json"]) == [{"end_s": 90.5, "start_s": 60.0}]


def test_numbers_only():
    """Numbers as floats (NaN kept: a metric that could not be measured); booleans, text, lists
    and None left out."""
    out = flatten(SUMMARY, numbers_only=True)
    assert set(out) == {"n_steps", "running_s", "median.contact_time_s", "median.cadence_spm"}
    assert all(type(v) is float for v in out.values())
    assert out["n_steps"] == 812.0 and out["median.contact_time_s"] == 0.251
    assert math.isnan(out["median.cadence_spm"])


@settings(max_examples=50, deadline=None)
@given(
    st.recursive(
        st.floats() | st.integers(-(10**6), 10**6) | st.booleans() | st.text(max_size=3) | st.none(),
        lambda ch: st.dictionaries(st.text("ab_", min_size=1, max_size=3), ch, max_size=3) | st.lists(ch, max_size=2),
        max_leaves=12,
    ).filter(lambda x: isinstance(x, dict))
)
def test_numbers_only_is_the_numeric_part_of_the_whole(d):
    whole, numbers = flatten(d), flatten(d, numbers_only=True)
    expected = {k: float(v) for k, v in whole.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    expected = {k: v for k, v in expected.items() if not k.endswith(".count")}  # list sizes are no metric
    assert numbers.keys() == expected.keys()
    assert all(v == expected[k] or (math.isnan(v) and math.isnan(expected[k])) for k, v in numbers.items())


def test_jsonable_and_scalar():
    assert jsonable({"a": (np.float64(1.5), float("inf"), {1: np.int32(2)})}) == {"a": [1.5, None, {"1": 2}]}
    assert type(scalar(np.float32(0.5))) is float and scalar("x") == "x"


def test_the_findings_see_the_summary_flattened():
    """The evaluation context's metrics hold every number of the run summary by dotted name."""
    a = gait.analyze(gait.simulate(duration_s=40, seed=3).session)
    metrics = evaluation_context(a).metrics
    flat = flatten(a.summary, numbers_only=True)
    assert flat and all(
        metrics[k] == v or (math.isnan(v) and math.isnan(metrics[k])) for k, v in flat.items() if k in metrics
    )
    assert set(flat) <= set(metrics)
