"""The scoring of ``benchmarks/compare.py`` (side by side with other pipelines)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gait.simulator import preset, simulate

from ._fault_fixtures import load_benchmark


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("compare")


@pytest.fixture(scope="module")
def sim():
    return simulate(preset("easy", duration_s=90.0, sampling_rate_hz=100.0, seed=3), frame="body")


def _truth(sim, activity):
    st = sim.steps
    return st[st["activity"] == activity]


def test_a_constant_timing_offset_is_reported_as_bias_not_as_missed_steps(bench, sim):
    run = _truth(sim, "running")
    out = bench.Output(ic_s=run["ic_s"].to_numpy() + 0.085)
    r = bench.score(out, sim, "running")
    assert r["F1"] == pytest.approx(1.0)
    assert r["bias_ms"] == pytest.approx(85.0, abs=1e-6)
    assert r["ic_mae_ms"] == pytest.approx(0.0, abs=1e-6)
    assert np.isnan(r["contact_mae_ms"])  # no contact times reported


def test_missed_steps_extra_events_and_contact_error(bench, sim):
    run = _truth(sim, "running")
    ic = run["ic_s"].to_numpy()[::2]  # every other step found
    extra = np.array([sim.steps["ic_s"].min() - 5.0])  # outside every span: not counted
    contact = pd.Series(run["contact_time_s"].to_numpy()[::2] + 0.010, index=ic)
    r = bench.score(bench.Output(ic_s=np.r_[extra, ic], contact_s=contact), sim, "running")
    n = len(run)
    assert r["found"] == pytest.approx(ic.size / n)
    assert r["F1"] == pytest.approx(2 * ic.size / (ic.size + n))
    assert r["contact_mae_ms"] == pytest.approx(10.0, abs=1e-6)


def test_nothing_found(bench, sim):
    r = bench.score(bench.Output(ic_s=np.array([])), sim, "walking")
    assert r["F1"] == 0.0 and r["found"] == 0.0 and np.isnan(r["bias_ms"])


def test_this_project_row_on_a_short_run(bench, sim, capsys):
    assert bench.main(["--minutes", "1", "--repeat", "1", "--seed", "3"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| gait-lumbar"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert float(cells[4]) >= 0.99  # running steps F1
    assert float(cells[9]) >= 0.9  # walking steps F1
