"""End to end: a Session in, tables out; accuracy against the simulator's exact truth."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import gait
from gait import GaitInputError, analyze, simulate
from gait.evaluation import agreement, compare_steps
from gait.simulator import MOUNTINGS, Form, SensorModel, SimulationConfig

from .conftest import simulate_cached

METRICS = [
    "contact_time_s",
    "vertical_oscillation_m",
    "lean_deg",
    "lateral_lean_deg",
    "roll_range_deg",
    "yaw_range_deg",
    "braking_peak_mps2",
]


def running_valid(a):
    return a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]


@pytest.fixture(scope="module")
def mounted():
    """The same run (seed 21) with the sensor clipped in every named way and at random."""
    out = {}
    for m in [*sorted(MOUNTINGS), "random"]:
        sim = simulate_cached(
            duration_s=60.0,
            seed=21,
            mounting=m,
            form=Form(rearfoot_share=0.5, yaw_amplitude_deg=8.0, roll_mean_deg=2.0),
        )
        out[m] = (sim, analyze(sim.session))
    return out


class TestAccuracyOnTheSimulator:
    def test_every_mounting_meets_the_targets(self, mounted):
        for name, (sim, a) in mounted.items():
            tru = sim.steps[sim.steps["activity"] == "running"]
            det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
            m, p = compare_steps(
                det, tru, columns={c: c for c in [*METRICS, "ic_s", "to_s", "foot_strike", "side"]} | {"valid": "step"}
            )
            assert m.f1 >= 0.995, name
            p = p[p["valid_est"].astype(bool)]
            mae = {c: agreement(p[f"{c}_est"], p[f"{c}_ref"])["mae"] for c in [*METRICS, "ic_s", "to_s"]}
            assert mae["ic_s"] < 0.003 and mae["to_s"] < 0.003 and mae["contact_time_s"] < 0.004, (name, mae)
            assert mae["vertical_oscillation_m"] < 0.003, (name, mae)
            assert mae["lean_deg"] < 0.3 and mae["yaw_range_deg"] < 0.3 and mae["lateral_lean_deg"] < 0.5, (name, mae)
            assert mae["braking_peak_mps2"] < 0.5, (name, mae)
            assert (p["foot_strike_est"] == p["foot_strike_ref"]).mean() > 0.98
            assert (p["side_est"] == p["side_ref"]).all()

    def test_the_clip_rotation_does_not_change_the_metrics(self, mounted):
        med = pd.DataFrame({name: running_valid(a)[METRICS].median() for name, (_, a) in mounted.items()})
        spread = med.max(axis=1) - med.min(axis=1)
        assert spread["contact_time_s"] < 0.001
        assert spread["vertical_oscillation_m"] < 0.001
        assert spread["lean_deg"] < 0.2
        assert spread["yaw_range_deg"] < 0.2

    def test_frame_information(self, mounted):
        _, a = mounted["upside_down"]
        assert a.frame["mounting"]["vertical_source"] == "standing"
        assert a.frame["mounting"]["forward_source"] == "running"
        assert a.frame["lean_reference"] == "standing in this session"
        assert a.unavailable.keys() == {"speed_mps"}


class TestMissingInputs:
    def test_no_gyroscope(self):
        sim = simulate(SimulationConfig(duration_s=40.0, seed=2, sensor=SensorModel(has_gyro=False)))
        a = analyze(sim.session)
        assert "yaw_range_deg" in a.unavailable
        run = running_valid(a)
        assert run["yaw_range_deg"].isna().all()
        assert run["contact_time_s"].notna().all()
        # the side of a running step needs the roll: without a gyroscope it is unavailable, and
        # the left/right measures with it (the walking steps keep theirs, from the sway)
        assert (run["side"] == "?").all() and (run["side_confidence"] == 0).all()
        for k in ("side", "pelvic_drop_deg"):
            assert a.unavailable[k].startswith("no gyroscope: the side of a running step"), k
        assert np.isnan(a.summary["asymmetry_pct"]["contact_time_s"]) and a.summary["side_share"] == 0.0
        walk = a.steps[a.steps["activity"] == "walking"]
        assert walk["side"].isin(["L", "R"]).mean() > 0.8
        truth = sim.steps[sim.steps["activity"] == "running"]
        # from the accelerometer alone: lean and lateral lean (validated against the gyroscope
        # path, benchmarks/heading.py), never the roll and rotation within each stride
        assert abs(run["lean_deg"].median() - truth["lean_deg"].median()) < 0.5
        assert abs(run["lateral_lean_deg"].median() - truth["lateral_lean_deg"].median()) < 0.3
        assert "lean_accuracy" in a.frame
        for k in ("yaw_range_deg", "roll_range_deg", "pelvic_drop_deg", "ml_sway_rms_mps2"):
            assert k in a.unavailable and a.unavailable[k].startswith("no gyroscope"), k
        for k in ("yaw_range_deg", "roll_range_deg", "pelvic_drop_deg"):
            assert run[k].isna().all() and np.isnan(a.summary["median"][k])
        assert a.minutes["ml_sway_rms_mps2"].isna().all()

    def test_biaxial_body_frame(self, ideal_body_run):
        s = ideal_body_run.session
        acc = s.acc.copy()
        acc[:, 2] = np.nan
        a = analyze(s.replace(acc=acc, gyr=None))
        for k in ("roll_range_deg", "lateral_lean_deg", "pelvic_drop_deg", "yaw_range_deg", "side"):
            assert k in a.unavailable, k
        run = running_valid(a)
        assert len(run) > 100 and (run["side"] == "?").all()
        assert run["contact_time_s"].notna().all() and run["vertical_oscillation_m"].notna().all()

    def test_no_standing_means_no_lean(self):
        sim = simulate(SimulationConfig(duration_s=30.0, seed=3, standing_before_s=0.0, standing_after_s=0.0))
        a = analyze(sim.session)
        assert "lean_deg" in a.unavailable and "stand still" in a.unavailable["lean_deg"]
        assert running_valid(a)["lean_deg"].isna().all()

    def test_known_speed_gives_step_length(self):
        sim = simulate_cached(duration_s=40.0, seed=11)
        a = analyze(sim.session, speed_mps=3.0)
        run = running_valid(a)
        np.testing.assert_allclose(run["step_length_m"], 3.0 * run["step_time_s"])
        assert run["vertical_ratio_pct"].between(5, 12).all()
        assert "speed_mps" not in a.unavailable


class TestInputsAndEdges:
    def test_too_short(self, short_run):
        s = short_run.session.slice_time(0.0, 2.0)
        with pytest.raises(
            GaitInputError, match=r"too short to analyse; expected at least 3 s of samples, found 2\.00 s"
        ):
            analyze(s)

    def test_no_running_when_required(self, short_run):
        s = short_run.session.slice_time(0.0, 18.0)  # standing and walking only
        with pytest.raises(
            GaitInputError,
            match=r"no running found; expected a recording with running .*found still \d+ s, walking \d+ s",
        ):
            analyze(s, require_running=True)
        assert analyze(s).summary["running_steps"] == 0

    def test_a_ten_second_window_works(self, short_run):
        """The live view analyses a sliding window of a few seconds with the same function."""
        s = short_run.session.slice_time(30.0, 40.0)
        a = analyze(s)
        run = running_valid(a)
        truth = short_run.steps[(short_run.steps["ic_s"] > 30) & (short_run.steps["ic_s"] < 40)]
        assert len(run) >= 20
        assert run["cadence_spm"].median() == pytest.approx(truth["cadence_spm"].median(), rel=0.02)
        assert run["contact_time_s"].median() == pytest.approx(truth["contact_time_s"].median(), abs=0.005)

    def test_lost_packets_are_bridged_and_flagged(self):
        sim = simulate(
            SimulationConfig(duration_s=60.0, seed=4, sampling_rate_hz=100.0, sensor=SensorModel(drop_rate=0.005))
        )
        a = analyze(sim.session)
        assert a.frame["bridged_gaps"]["gaps"] == len(sim.session.gaps)
        assert a.steps["near_gap"].sum() >= 1
        assert not (a.steps["near_gap"] & a.steps["valid"]).any()
        assert (a.bouts["kind"] == "running").sum() == 1

    def test_jittered_timestamps_are_regularised_not_taken_for_gaps(self):
        """Regression: in-memory jittered sessions once looked like hundreds of tiny gaps."""
        sim = simulate(SimulationConfig(duration_s=40.0, seed=5, sensor=SensorModel(timestamp_jitter_s=0.001)))
        with pytest.warns(gait.GaitDataWarning, match="timestamps jitter by up to"):
            a = analyze(sim.session)
        run = a.steps[a.steps["activity"] == "running"]
        assert not run["near_gap"].any()
        assert run["valid"].mean() > 0.97

    def test_a_long_gap_splits_the_run(self, short_run):
        s = short_run.session
        keep = (s.t < 30.0) | (s.t > 32.0)
        a = analyze(s.replace(t=s.t[keep], acc=s.acc[keep], gyr=s.gyr[keep]))
        assert (a.bouts["kind"] == "running").sum() == 2
        assert "bridged_gaps" not in a.frame

    def test_deterministic(self, short_run):
        a, b = analyze(short_run.session), analyze(short_run.session)
        pd.testing.assert_frame_equal(a.steps, b.steps)
        assert json.dumps(a.summary.to_dict(), sort_keys=True, default=float) == json.dumps(
            b.summary.to_dict(), sort_keys=True, default=float
        )
