"""The side of each step (`gait.core.sides`): signals with a known answer, the simulator with its
pelvis' timing varied (exact truth), and what the analysis reports when the side is unknown."""

from __future__ import annotations

import numpy as np
import pytest

import gait
from gait.core.sides import assign_sides, side_cues
from gait.evaluation import match_events
from gait.session import Session
from gait.simulator import Form, SensorModel, SimulationConfig, simulate

NOISY = SensorModel(
    acc_noise_mps2=0.12,
    gyr_noise_rads=0.01,
    acc_bias_mps2=(0.15, -0.1, 0.2),
    gyr_bias_rads=(0.02, -0.01, 0.015),
    acc_scale=(1.01, 0.99, 1.005),
)


def running_sides(cfg: SimulationConfig) -> tuple[np.ndarray, np.ndarray, gait.Analysis]:
    """The valid running steps' sides (analysis, truth) of a simulated run, and the analysis."""
    sim = simulate(cfg)
    a = gait.analyze(sim.session)
    run = a.running_steps
    tru = sim.steps[sim.steps["activity"] == "running"]
    m = match_events(run["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.04)
    assert m.recall > 0.95
    return run["side"].to_numpy(object)[m.detected_idx], tru["side"].to_numpy(object)[m.reference_idx], a


class TestSides:
    """`gait.core.sides.assign_sides` on signals with a known answer."""

    @staticmethod
    def roll_of(sides, *, step=100, shape="cycle"):
        """Roll per sample for steps of ``step`` samples with the given sides (+ = right side
        down). ``cycle``: the swing side drops to a quarter of the step and rises to three
        quarters (a full sine per step, sign by side); ``drop_only``: it drops through the
        whole step (a half sine), so it still drops in late stance."""
        tau = np.arange(step) / step
        wave = np.sin(2 * np.pi * tau) if shape == "cycle" else np.sin(np.pi * tau)
        return np.concatenate([(1.0 if sd == "L" else -1.0) * wave for sd in sides] + [np.zeros(step)])

    def test_alternating_from_the_roll(self):
        sides = ["L", "R"] * 5
        ic = np.arange(10) * 100.0
        side, conf = assign_sides(ic, ic + 60, np.zeros(10, int), roll_rad=self.roll_of(sides), acc_level_ml=None)
        assert side.tolist() == sides
        np.testing.assert_allclose(conf, 1.0)
        # the other parity: the first step is a right one
        side, _ = assign_sides(ic, ic + 60, np.zeros(10, int), roll_rad=self.roll_of(["R", "L"] * 5), acc_level_ml=None)
        assert side.tolist() == ["R", "L"] * 5

    def test_cues_that_disagree_leave_the_side_undecided(self):
        # the swing side keeps dropping to toe-off: the drop says left, the rise says right
        ic = np.arange(10) * 100.0
        roll = self.roll_of(["L", "R"] * 5, shape="drop_only")
        side, conf = assign_sides(ic, ic + 60, np.zeros(10, int), roll_rad=roll, acc_level_ml=None)
        assert set(side) == {"?"} and (conf == 0.0).all()

    def test_running_without_a_roll_is_undecided(self):
        # the sideways acceleration alone does not decide running steps
        ic = np.arange(10) * 100.0
        ml = np.concatenate([np.full(100, -1.0 if k % 2 == 0 else 1.0) for k in range(11)])
        side, conf = assign_sides(ic, ic + 60, np.zeros(10, int), roll_rad=None, acc_level_ml=ml)
        assert set(side) == {"?"} and (conf == 0.0).all()
        side, _ = assign_sides(np.arange(4.0), np.arange(4.0) + 1, np.zeros(4, int), roll_rad=None, acc_level_ml=None)
        assert side.tolist() == ["?"] * 4

    def test_walking_sides_from_the_sway_and_a_missed_step(self):
        """Walking: minus the mean medio-lateral acceleration over each step (+ = left). A missed
        step halfway flips the alternation; the local fit follows it and decides the rest."""
        ic = np.arange(20) * 100.0
        ml = np.zeros(2100)
        sides = ["L", "R"] * 5 + ["R", "L"] * 5  # a step lost between 9 and 10
        for a, sd in zip(ic.astype(int), sides):
            ml[a : a + 100] = -1.0 if sd == "L" else 1.0
        walk = np.ones(20, bool)
        side, _ = assign_sides(ic, ic + 124, np.zeros(20, int), roll_rad=None, acc_level_ml=ml, walking=walk)
        decided = side != "?"
        assert decided.sum() >= 14
        assert (side[decided] == np.array(sides)[decided]).all()
        # with the roll too (its drop agrees): the same sides
        roll = self.roll_of(sides)
        side_r, _ = assign_sides(ic, ic + 124, np.zeros(20, int), roll_rad=roll, acc_level_ml=ml, walking=walk)
        assert (side_r[decided] == side[decided]).all()
        # the forward axis was backward: the medio-lateral axis and the roll too, said by ml_sign
        side_f, _ = assign_sides(
            ic, ic + 124, np.zeros(20, int), roll_rad=-roll, acc_level_ml=-ml, walking=walk, ml_sign=-np.ones(20)
        )
        assert (side_f == side_r).all()
        # a roll whose drop contradicts the sway: undecided
        side_c, conf_c = assign_sides(ic, ic + 124, np.zeros(20, int), roll_rad=-roll, acc_level_ml=ml, walking=walk)
        assert set(side_c) == {"?"} and (conf_c == 0.0).all()

    def test_inconsistent_evidence_is_undecided(self):
        ic = np.arange(10) * 100.0
        rng = np.random.default_rng(0)
        roll = np.cumsum(rng.normal(size=1100)) * 0.01
        side, conf = assign_sides(ic, ic + 60, np.zeros(10, int), roll_rad=roll, acc_level_ml=None)
        assert set(side) == {"?"} and (conf < 0.5).all()

    def test_each_bout_alternates_on_its_own(self):
        # the second bout starts with a right step: its parity is its own
        sides = ["L", "R"] * 5 + ["R", "L"] * 5
        ic = np.arange(20) * 100.0
        bout = np.repeat([0, 1], 10)
        side, _ = assign_sides(ic, ic + 60, bout, roll_rad=self.roll_of(sides), acc_level_ml=None)
        assert side.tolist() == sides


class TestSimulatedPelvis:
    """Exact truth over the pelvis timings the real runners show (and the simulator's old one)."""

    @pytest.mark.parametrize(
        "yaw_phase, roll_phase, third",
        [
            (0.0, 90.0, 0.8),  # the default roll; the pelvis turns towards the swing side in stance
            (180.0, 90.0, 0.8),  # ... towards the stance side (two of the three RBDS runners)
            (105.0, 80.0, 1.9),  # RBDS runner 1's yaw timing, runner 3's strong third harmonic
        ],
    )
    def test_every_step_right_whatever_the_yaw(self, yaw_phase, roll_phase, third):
        cfg = SimulationConfig(
            duration_s=40.0,
            seed=21,
            speed_mps=3.6,
            sampling_rate_hz=100.0,
            mounting="random",
            sensor=NOISY,
            form=Form(yaw_phase_deg=yaw_phase, roll_phase_deg=roll_phase, roll_third_harmonic=third),
        )
        est, ref, a = running_sides(cfg)
        assert len(est) > 100 and (est == ref).all()
        assert a.summary["side_share"] == 1.0 and a.summary["side_confidence"] > 0.95
        assert "side" not in a.unavailable and "pelvic_drop_deg" not in a.unavailable

    def test_a_roll_that_drops_through_late_stance_is_undecided_not_wrong(self):
        # the old half sine per step at 4.2 m/s: the swing side still drops after mid-stance, so
        # the rise contradicts the drop. A few steps of the warm-up (slower, longer contacts) are
        # decided (and right), too few for the run: its left/right measures are withheld, with why
        cfg = SimulationConfig(
            duration_s=40.0, seed=22, speed_mps=4.2, form=Form(roll_phase_deg=0.0, roll_third_harmonic=0.0)
        )
        est, _, a = running_sides(cfg)
        assert (est == "?").all() and (a.running_steps["side_confidence"] == 0.0).all()
        for k in ("side", "pelvic_drop_deg"):
            assert a.unavailable[k].startswith("left and right steps could not be told apart ("), k
        assert a.running_steps["pelvic_drop_deg"].isna().all()
        assert np.isnan(a.summary["asymmetry_pct"]["contact_time_s"]) and np.isnan(a.summary["left"]["contact_time_s"])
        # the same runner with the real roll timing
        est, ref, _ = running_sides(SimulationConfig(duration_s=40.0, seed=22, speed_mps=4.2))
        assert (est == ref).all()

    def test_no_roll_no_side(self):
        est, _, a = running_sides(SimulationConfig(duration_s=30.0, seed=23, form=Form(roll_amplitude_deg=0.0)))
        assert (est == "?").all() and "side" in a.unavailable and a.summary["side_share"] == 0.0

    def test_pelvic_drop_on_the_right_side(self):
        # measured towards the swing side of the right step: the simulated drop (3.5 deg)
        sim = simulate(SimulationConfig(duration_s=40.0, seed=24, form=Form(roll_amplitude_deg=4.0)))
        a = gait.analyze(sim.session)
        tru = sim.steps[sim.steps["activity"] == "running"]
        run = a.running_steps
        m = match_events(run["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.04)
        err = run["pelvic_drop_deg"].to_numpy()[m.detected_idx] - tru["pelvic_drop_deg"].to_numpy()[m.reference_idx]
        assert np.nanmedian(np.abs(err)) < 0.3 and np.isfinite(err).mean() > 0.95
        assert a.summary["median"]["pelvic_drop_deg"] == pytest.approx(4.0, abs=0.3)


class TestUnknownForward:
    def test_a_forward_direction_in_doubt_withholds_the_side(self):
        """Re-clipped half-way, turned 180 deg about the vertical, with a gyroscope: the roll's
        sign depends on which way is forward, so the side is unavailable, not guessed."""
        a = simulate(SimulationConfig(duration_s=40.0, seed=8, walking_after_s=0.0, standing_after_s=0.0))
        b = simulate(SimulationConfig(duration_s=40.0, seed=9, standing_before_s=0.0, walking_before_s=0.0))
        s1, s2 = a.session, b.session
        turn = np.diag([-1.0, 1.0, -1.0])  # 180 deg about the belt clip's y axis (up)
        s = Session(
            t=np.concatenate([s1.t, s1.t[-1] + 0.01 + s2.t]),
            acc=np.vstack([s1.acc, s2.acc @ turn.T]),
            gyr=np.vstack([s1.gyr, s2.gyr @ turn.T]),
            frame="sensor",
            meta=s1.meta,
        )
        an = gait.analyze(s)
        assert "forward" in an.unavailable
        assert "gait calibrate mounting" in an.unavailable["side"]
        assert (an.steps["side"] == "?").all() and an.steps["pelvic_drop_deg"].isna().all()


def test_side_cues_signs_on_the_simulator():
    """The cues themselves, per step, on the noise-free model: positive on left steps."""
    sim = simulate(SimulationConfig(duration_s=30.0, seed=25))
    a = gait.analyze(sim.session)
    st = a.steps
    t = a.session.t
    pos = np.arange(t.size, dtype=float)
    cues = side_cues(
        np.interp(st["ic_s"], t, pos),
        np.interp(st["to_s"], t, pos),
        st["bout"].to_numpy(),
        roll_rad=a.signals.roll,
        acc_level_ml=a.signals.acc[:, 2],
        walking=(st["activity"] == "walking").to_numpy(),
    )
    tru = sim.steps
    m = match_events(st["ic_s"].to_numpy(), tru["ic_s"].to_numpy(), tolerance_s=0.04)
    sign = np.where(tru["side"].to_numpy()[m.reference_idx] == "L", 1.0, -1.0)
    walk = (st["activity"] == "walking").to_numpy()[m.detected_idx]
    for name, rows in (("drop", slice(None)), ("rise", ~walk), ("sway", walk)):
        v = cues[name][m.detected_idx][rows]
        assert np.mean(np.sign(v) == sign[rows]) > 0.97, name


def test_a_saturated_gyroscope_withholds_the_side():
    # the roll within a stride is lost with the gyroscope's range: the side is not guessed
    sim = simulate(SimulationConfig(duration_s=30.0, seed=26, sensor=SensorModel(gyr_range_dps=30.0)))
    a = gait.analyze(sim.session)
    assert any(c.sensor == "gyr" for c in a.quality.clipped)
    assert (a.running_steps["side"] == "?").all()
    assert "gyroscope saturated" in a.unavailable["side"] and "pelvic_drop_deg" in a.unavailable
