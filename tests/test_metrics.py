"""Per-step metrics and summaries; the tables match their documentation."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gait import analyze
from gait.core._steps import _empty_steps, _ragged
from gait.core.metrics import STEP_METRICS, minute_table, run_summary

DOCS = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


def documented_columns(section: str) -> list[str]:
    text = DOCS.read_text()
    block = text.split(f"## `{section}`")[1].split("\n## ")[0]
    cols = []
    for line in block.splitlines():
        m = re.match(r"\| (`[^|]+`) \|", line)
        if m:
            cols += re.findall(r"`([a-z_0-9.<>]+)`", m.group(1))
    return cols


class TestStepTable:
    def test_columns_are_the_documented_ones(self, short_run):
        a = analyze(short_run.session)
        assert list(a.steps.columns) == documented_columns("steps")
        assert list(_empty_steps().columns) == documented_columns("steps")

    def test_minute_columns_are_documented(self, short_run):
        a = analyze(short_run.session)
        documented = set(documented_columns("minutes"))
        assert set(a.minutes.columns) == documented

    def test_units_in_names(self):
        for c in STEP_METRICS:
            assert re.search(r"_(spm|s|m|pct|mps2|mps3|mps|deg)$", c) or c in (
                "duty_factor",
                "step_regularity",
                "stride_regularity",
            ), c

    def test_empty(self):
        e = _empty_steps()
        assert e.empty and e["valid"].dtype == bool

    def test_ideal_oscillation_within_a_millimetre(self, ideal_body_run):
        a = analyze(ideal_body_run.session)
        run = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
        tru = ideal_body_run.steps
        from gait.evaluation import compare_steps

        m, p = compare_steps(
            run, tru[tru["activity"] == "running"], columns={"vertical_oscillation_m": "vertical_oscillation_m"}
        )
        assert m.true_positives > 100
        err = p["vertical_oscillation_m_est"] - p["vertical_oscillation_m_ref"]
        assert np.percentile(np.abs(err), 95) < 0.002
        assert abs(np.median(err)) < 0.001


class TestRagged:
    def test_blocks(self):
        idx, owner, offs, ne = _ragged(np.array([0, 4, 6]), np.array([2, 4, 9]), 10)
        assert idx.tolist() == [0, 1, 4, 6, 7, 8]
        assert owner.tolist() == [0, 0, 1, 2, 2, 2]
        assert offs.tolist() == [0, 2, 3]
        assert ne.tolist() == [True, False, True]


class TestSummaries:
    def test_summary_keys(self, short_run):
        a = analyze(short_run.session)
        s = a.summary
        for key in (
            "duration_s",
            "running_s",
            "steps",
            "running_steps",
            "median",
            "iqr",
            "left",
            "right",
            "asymmetry_pct",
            "drift_pct",
            "warmup",
            "surges",
            "step_time_cv_pct",
        ):
            assert key in s
        assert set(s["median"]) == set(STEP_METRICS)
        assert s["running_s"] == pytest.approx(40.0, abs=2.0)

    def test_asymmetry_is_measured(self):
        from gait.simulator import Form, SimulationConfig, simulate

        sim = simulate(SimulationConfig(duration_s=60.0, seed=2, form=Form(asymmetry=0.10)))
        a = analyze(sim.session)
        truth = sim.steps[sim.steps["activity"] == "running"]
        t_l = truth[truth["side"] == "L"]["contact_time_s"].median()
        t_r = truth[truth["side"] == "R"]["contact_time_s"].median()
        expected = 100 * (t_l - t_r) / ((t_l + t_r) / 2)
        assert a.summary["asymmetry_pct"]["contact_time_s"] == pytest.approx(expected, abs=1.0)

    def test_fatigue_drift_and_warmup(self):
        from gait.simulator import preset, simulate

        sim = simulate(preset("fatigue", duration_s=900.0, seed=4))
        a = analyze(sim.session)
        s = a.summary
        assert s["drift_pct"]["contact_time_s"] > 4.0
        assert s["drift_pct"]["yaw_range_deg"] > 15.0
        assert s["warmup"]["easy_minutes"] >= 1

    def test_surge_is_found(self):
        from gait.simulator import SimulationConfig, simulate

        sim = simulate(SimulationConfig(duration_s=300.0, seed=6, warmup_s=0.0, surges=((150.0, 40.0, 1.35),)))
        a = analyze(sim.session)
        surges = a.summary["surges"]
        t0 = sim.steps[sim.steps["activity"] == "running"]["ic_s"].iloc[0]
        assert len(surges) == 1
        assert surges[0]["start_s"] == pytest.approx(t0 + 150.0, abs=15.0)

    def test_minute_table_of_nothing(self):
        empty = minute_table(_empty_steps())
        assert empty.empty
        s = run_summary(_empty_steps(), empty, pd.DataFrame({"kind": [], "duration_s": []}))
        assert s["running_steps"] == 0 and np.isnan(s["median"]["cadence_spm"])
