"""Vertical oscillation: the height integrated over each bout, max - min from a contact to the next.

The simulator's truth is exact (the double integral of its own vertical acceleration between
its contacts); the real-data bounds are in ``tests/test_rbds.py`` and ``tests/test_realdata.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import gait
import gait.core.pipeline
from gait.constants import V
from gait.core.metrics import step_table
from gait.evaluation import compare_steps
from gait.validation.truth import step_truth

from .conftest import simulate_cached


def _analysed(sim):
    """The analysis of a simulated session and the inputs its step table was given."""
    seen: dict = {}
    real = gait.core.pipeline.step_table

    def spy(events, **kw):
        seen.update(kw, events=events)
        return real(events, **kw)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(gait.core.pipeline, "step_table", spy)
        a = gait.analyze(sim.session)
    return a, seen


def _vo(inputs: dict, **changes) -> np.ndarray:
    kw = {k: v for k, v in inputs.items() if k != "events"} | changes
    events = kw.pop("events_", inputs["events"])
    return step_table(events, **kw)["vertical_oscillation_m"].to_numpy()


def _running_valid(steps):
    return steps[(steps["activity"] == "running") & steps["valid"]]


@pytest.mark.parametrize(
    "config",
    [
        {"duration_s": 120.0, "seed": 1},
        {"duration_s": 120.0, "seed": 2, "sampling_rate_hz": 100.0, "mounting": "random", "speed_mps": 4.2},
    ],
)
def test_exact_truth_on_the_simulator(config):
    sim = simulate_cached(**config)
    a = gait.analyze(sim.session)
    tru = sim.steps[sim.steps["activity"] == "running"]
    m, p = compare_steps(_running_valid(a.steps), tru, columns={"vertical_oscillation_m": "vertical_oscillation_m"})
    assert m.true_positives > 250
    err = (p["vertical_oscillation_m_est"] - p["vertical_oscillation_m_ref"]).to_numpy()
    # measured (200 Hz belt clip; 100 Hz, random mounting, 4.2 m/s): MAE 0.30, 0.70 mm, 95th
    # percentile 0.67, 1.40 mm, bias -0.18, -0.65 mm (per-step integration before: MAE 0.57,
    # 1.32 mm); the worst steps (up to 5 mm) are the last running steps before the simulated
    # runner slows to a walk
    assert np.mean(np.abs(err)) < 0.001
    assert np.percentile(np.abs(err), 95) < 0.002
    assert abs(np.mean(err)) < 0.0008


@pytest.fixture(scope="module")
def run_inputs():
    a, inputs = _analysed(simulate_cached(duration_s=120.0, seed=1))
    return a, inputs


def test_contacts_late_by_side_do_not_move_it(run_inputs):
    # contacts late by 19 ms after one foot and 5 ms after the other (the RBDS pattern): the
    # step times change by 14 ms, the oscillation by well under a millimetre
    a, inputs = run_inputs
    ev = inputs["events"].copy()
    fs = inputs["sampling_rate_hz"]
    late_s = np.where(np.arange(len(ev)) % 2 == 0, 0.019, 0.005)
    ev["ic_idx"] = ev["ic_idx"] + late_s * fs
    ev["to_idx"] = np.maximum(ev["to_idx"], ev["ic_idx"] + 1)
    shifted = _vo(inputs, events_=ev)
    base = a.steps["vertical_oscillation_m"].to_numpy()
    run = (a.steps["activity"] == "running").to_numpy() & a.steps["valid"].to_numpy()
    st = step_table(ev, **{k: v for k, v in inputs.items() if k != "events"})["step_time_s"].to_numpy()
    assert np.nanmax(np.abs(st - a.steps["step_time_s"].to_numpy())[run]) > 0.013
    d = np.abs(shifted - base)[run]
    # measured: mean 0.02 mm, 95th percentile 0.5 mm; worst 3 mm, on the bout's last step,
    # where the stride repeated beyond the bout's end moves with the contacts
    assert np.nanmean(d) < 0.0002 and np.nanpercentile(d, 95) < 0.0008 and np.nanmax(d) < 0.004


def test_drift_and_slow_height_changes_do_not_move_it(run_inputs):
    a, inputs = run_inputs
    base = a.steps["vertical_oscillation_m"].to_numpy()
    run = (a.steps["activity"] == "running").to_numpy() & a.steps["valid"].to_numpy()
    # gravity wrong by 1 % (a velocity drifting by 0.1 m/s every second)
    g = inputs["gravity"] + 0.098
    d = np.abs(_vo(inputs, gravity=g) - base)[run]
    # measured: mean and 95th percentile 0.02 mm; 1.3 mm on the bout's first and last steps,
    # next to the repeated stride (whose mean acceleration is removed)
    assert np.nanpercentile(d, 95) < 0.0002 and np.nanmax(d) < 0.002
    # the path rising and falling by 5 cm over 10 s (per step, up to 1 cm if not removed)
    t = inputs["t"]
    acc = inputs["acc_level"].copy()
    acc[:, V] += -0.05 * (2 * np.pi * 0.1) ** 2 * np.sin(2 * np.pi * 0.1 * t)
    d = np.abs(_vo(inputs, acc_level=acc) - base)[run]
    assert np.nanmax(d) < 0.0005  # measured 0.06 mm


def test_a_bridged_gap_cuts_the_integration(run_inputs):
    # 0.1 s lost in mid-flight and bridged by interpolation (as `gait.core.pipeline` does): the step
    # across it has no oscillation, the others keep theirs
    a, inputs = run_inputs
    steps = a.steps
    k = int(np.flatnonzero(((steps["activity"] == "running") & steps["valid"]).to_numpy())[150])
    t = inputs["t"]
    i0 = int(np.searchsorted(t, steps["to_s"].iloc[k] + 0.02))
    i1 = i0 + int(0.1 * inputs["sampling_rate_hz"])
    acc = inputs["acc_level"].copy()
    w = np.linspace(0.0, 1.0, i1 - i0 + 2)[1:-1, None]
    acc[i0:i1] = acc[i0 - 1] * (1 - w) + acc[i1] * w
    filled = np.zeros(t.size, bool)
    filled[i0:i1] = True
    vo = _vo(inputs, acc_level=acc, filled=filled)
    base = steps["vertical_oscillation_m"].to_numpy()
    assert np.isnan(vo[k]) and np.isfinite(base[k])
    run = (steps["activity"] == "running").to_numpy() & steps["valid"].to_numpy()
    d = np.abs(vo - base)
    # measured: 1.0 and 0.9 mm on the steps either side of the gap (each part ends there, with
    # its end stride repeated), at most 0.23 mm further away; without the cut the steps
    # either side move by 2 mm and the step across the gap by 6 mm
    assert np.nanmax(d[[k - 1, k + 2]]) < 0.002
    others = run & (np.abs(np.arange(len(steps)) - k) > 2)
    assert np.nanmax(d[others]) < 0.0005 and np.nanmean(d[others]) < 0.00005


class TestTruthDefinition:
    """`gait.validation.truth.step_truth`: the reference does not hang on its own contacts."""

    @staticmethod
    def _truth(ic_s: np.ndarray, z: np.ndarray, t: np.ndarray):
        n = t.size
        zeros = np.zeros(n)
        side = np.where(np.arange(ic_s.size) % 2 == 0, "L", "R").astype(object)
        return step_truth(
            t_s=t,
            ic_s=ic_s,
            to_s=ic_s + 0.1,
            side=side,
            pitch=zeros,
            roll=zeros,
            yaw=zeros,
            height_m=z,
            standing_pitch_rad=0.0,
        )

    def test_contact_timing(self):
        # running steps of 0.35 s, lowest at mid-stance (0.05 s after contact) and highest in
        # mid-flight, with a stride component: the sacrum lands lower after one foot
        fs = 1000.0
        t = np.arange(int(12 * fs)) / fs
        T = 0.35
        ic = np.arange(0.5, 11.0, T)
        z = 0.04 * np.cos(2 * np.pi * (t - ic[0] - 0.05 - T / 2) / T) + 0.005 * np.cos(np.pi * (t - ic[0]) / T)
        true = self._truth(ic, z, t)
        # contacts 12 ms late after one foot and 2 ms after the other
        late = self._truth(ic + np.where(np.arange(ic.size) % 2 == 0, 0.012, 0.002), z, t)
        vo, vo_late = true["vertical_oscillation_m"].to_numpy(), late["vertical_oscillation_m"].to_numpy()
        np.testing.assert_allclose(vo_late[:-1], vo[:-1], atol=1e-5)
        assert np.ptp(vo[:-1:2]) < 1e-6 and 0.07 < vo[0] < 0.09
        line = true["vertical_oscillation_contact_line_m"].to_numpy()
        line_late = late["vertical_oscillation_contact_line_m"].to_numpy()
        # the previous definition takes the landing-height difference for drift and moves
        # with the contacts by millimetres
        assert np.nanmean(np.abs(line - vo)) > 0.003
        assert np.nanmean(np.abs(line_late - line)) > 0.002


def test_the_run_value_does_not_jump_between_the_sides(short_run):
    """Steps alternating between two levels by side: the run's value is the mean of the two
    sides' medians, whichever side has one step more."""
    from gait.core.metrics import run_summary

    a = gait.analyze(short_run.session)
    steps = a.steps.copy()
    steps["vertical_oscillation_m"] = np.where(steps["side"] == "L", 0.08, 0.10)
    run = steps.index[(steps["activity"] == "running") & steps["valid"]]
    for extra in ("L", "R"):
        drop = steps.loc[run][steps.loc[run, "side"] != extra].index[:3]  # the other side loses 3 steps
        s = run_summary(steps.drop(index=drop), a.minutes, a.bouts)
        assert s["median"]["vertical_oscillation_m"] == pytest.approx(0.09, abs=1e-12)
        assert s["left"]["vertical_oscillation_m"] == pytest.approx(0.08)


@pytest.mark.parametrize("n", [2, 3, 17, 5000])
def test_the_closed_form_detrend_equals_scipys(n):
    from scipy.signal import detrend

    from gait.core._steps import _detrend

    y = np.random.default_rng(n).normal(size=n).cumsum() + 3.0 * np.arange(n)
    np.testing.assert_allclose(_detrend(y), detrend(y), atol=1e-10)
