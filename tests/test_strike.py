"""The run's dominant foot strike (`gait.core.strike.run_foot_strike`) and its confidence.

Exact behaviour on constructed transients and on the simulator; real recordings (skipped when
absent) with the bounds measured by ``python benchmarks/accuracy.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

import gait
from gait.core import strike as gs
from gait.simulator import Form, SimulationConfig, simulate

from .conftest import SHARED_DATA


def _steps(centre: float, sd: float, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(centre, sd, n)


class TestRunFootStrike:
    def test_clear_heel_strikes_are_rearfoot(self):
        cls, conf, med, se = gs.run_foot_strike(_steps(1.2, 0.2, 40))
        assert cls == "rearfoot" and conf > 0.999
        assert med == pytest.approx(1.2, abs=0.1)
        assert se == pytest.approx(1.2533 * 0.2 / np.sqrt(40), rel=0.3)

    def test_no_collision_is_forefoot(self):
        cls, conf, _, _ = gs.run_foot_strike(_steps(0.08, 0.03, 40))
        assert cls == "forefoot" and conf > 0.99

    def test_middle_band_is_uncertain_with_no_confidence(self):
        """Uphill heel strikes and a forefoot runner's virtual sensor both land here."""
        cls, conf, med, _ = gs.run_foot_strike(_steps(0.35, 0.05, 60))
        assert cls == "uncertain" and conf == 0.0
        assert gs.FOREFOOT_BELOW_BW < med < gs.REARFOOT_ABOVE_BW

    def test_close_to_the_boundary_needs_more_steps(self):
        """The same median just above the boundary: uncertain over a few scattered steps,
        decided over many (the median's standard error shrinks as 1 / sqrt(n))."""
        rng = np.random.default_rng(1)
        few = 0.7 + 0.4 * rng.standard_normal(10)
        many = 0.7 + 0.4 * rng.standard_normal(2000)
        few -= np.median(few) - 0.7
        many -= np.median(many) - 0.7
        c_few = gs.run_foot_strike(few)
        c_many = gs.run_foot_strike(many)
        assert c_few[0] == "uncertain" and c_few[1] < gs.RUN_DECISION_CONFIDENCE
        assert c_many[0] == "rearfoot" and c_many[1] > 0.99

    def test_too_few_steps(self):
        cls, conf, med, _ = gs.run_foot_strike(np.r_[np.full(gs.MIN_STRIKE_STEPS - 1, 1.5), np.nan, np.nan])
        assert cls == "uncertain" and conf == 0.0 and np.isnan(med)

    def test_metrics_uses_this_module(self):
        from gait.core import _steps, _summary

        assert _steps.classify_foot_strike is gs.classify_foot_strike
        assert _summary.run_foot_strike is gs.run_foot_strike


@pytest.mark.parametrize(("rear", "expected"), [(1.0, "rearfoot"), (0.0, "forefoot"), (0.5, None)])
def test_simulated_runs(rear, expected):
    """Heel strikes and forefoot landings exactly; a half-and-half mix is whichever side its
    median lands on, never with a confidence it does not have."""
    sim = simulate(SimulationConfig(duration_s=60.0, seed=4, speed_mps=3.2, form=Form(rearfoot_share=rear)))
    a = gait.analyze(sim.session)
    st = a.running_steps
    cls, conf, _, _ = gs.run_foot_strike(
        st["collision_bw"].to_numpy(float), st["collision_background_bw"].to_numpy(float)
    )
    assert a.summary["foot_strike"] == cls
    assert a.summary["foot_strike_confidence"] == pytest.approx(conf)
    if expected is not None:
        assert cls == expected and conf >= 0.99
    else:
        assert cls == "uncertain" or conf >= gs.RUN_DECISION_CONFIDENCE


ALC_DIR = SHARED_DATA / "alcantara2022_sacral_running"


@pytest.mark.realdata
def test_alcantara_rearfoot_runner_never_called_otherwise():
    """One rearfoot runner, 19 trials (Alcantara et al. 2022), the run's call from the sagittal
    collision: measured 15 trials rearfoot (every level and downhill trial and the uphill A1 and
    A27), 4 uncertain (uphill: collision 0.43-0.60 body weights, below the rearfoot band or
    its 90 % confidence), none wrong. With the vertical transient alone: 11 rearfoot, 8 uncertain."""
    if not (ALC_DIR / "trials.csv").is_file():
        pytest.skip(f"Alcantara recordings not found at {ALC_DIR}")
    calls = [gait.analyze(s).summary["foot_strike"] for s in gait.read_sessions(ALC_DIR)]
    assert len(calls) == 19
    assert set(calls) <= {"rearfoot", "uncertain"}
    assert calls.count("rearfoot") >= 14


def test_a_shaking_stance_is_not_a_heel_strike():
    """Transients as large as the stance's own vibration: not rearfoot, however large."""
    t = _steps(1.0, 0.1, 60)
    assert gs.run_foot_strike(t)[0] == "rearfoot"
    cls, conf, _, _ = gs.run_foot_strike(t, np.full(60, 0.9))
    assert cls == "uncertain" and conf == 0.0
    assert gs.run_foot_strike(t, np.full(60, 0.3))[0] == "rearfoot"
