"""Contact time across stance shapes and slopes, the toe-off invariant, and the foot strike.

Simulator: exact truth, tight bounds (any stance shape, three strike classes). Real recordings
(skipped when absent): documented bounds, the measured values being in
``python benchmarks/accuracy.py`` and the README.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import gait
from gait.constants import G
from gait.core.events import running_events
from gait.errors import GaitDataWarning, GaitInputError
from gait.evaluation import compare_steps, force_plate_contacts, match_events
from gait.faults import assess
from gait.simulator import Form, SimulationConfig, simulate, stance_shape

from .conftest import SHARED_DATA

STRIKES = ("rearfoot", "midfoot", "forefoot")


def _run(form: Form, *, seed: int = 3, speed: float = 3.0, fs: float = 200.0, **cfg) -> gait.Simulation:
    return simulate(
        SimulationConfig(duration_s=60.0, seed=seed, speed_mps=speed, sampling_rate_hz=fs, form=form, **cfg)
    )


def _pairs(sim: gait.Simulation, a: gait.Analysis) -> pd.DataFrame:
    det = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
    tru = sim.steps[sim.steps["activity"] == "running"]
    _, p = compare_steps(det, tru, columns={c: c for c in ("ic_s", "to_s", "contact_time_s", "foot_strike")})
    return p


# ---------------------------------------------------------------------------------------
# contact time: any stance shape
# ---------------------------------------------------------------------------------------
class TestContactTimeAcrossStanceShapes:
    @pytest.mark.parametrize("skew", [0.0, 0.35])
    @pytest.mark.parametrize("rearfoot", [0.0, 1.0])
    @pytest.mark.parametrize("speed", [2.5, 4.2])
    def test_within_a_few_ms_whatever_the_shape(self, skew, rearfoot, speed):
        """A symmetric half sine (skew 0) and the skewed default (0.35), with and without heel
        strikes: the toe-off of a ballistic flight is measured where the trunk returns to free
        fall, unless the descent's share (fitted on real sensors, 0.270) puts it earlier: on the
        skewed default, which needs 0.28, up to 3.7 ms early (measured -3.7 ms with heel strikes
        at 2.5 m/s, within 1.7 ms elsewhere; the target is 5 ms)."""
        sim = _run(Form(stance_skew=skew, rearfoot_share=rearfoot), speed=speed)
        p = _pairs(sim, gait.analyze(sim.session))
        assert len(p) > 100
        err = (p["contact_time_s_est"] - p["contact_time_s_ref"]).to_numpy()
        assert abs(err.mean()) < 0.0045
        assert np.abs(err).mean() < 0.0045
        assert np.percentile(np.abs(err), 95) < 0.008

    def test_symmetric_and_skewed_agree(self):
        """The same runner with two stance shapes: the contact-time biases differ by < 3 ms (the
        previous toe-off rule, one share fitted to the skewed shape, was 25 ms long on the
        half sine)."""
        bias = []
        for skew in (0.0, 0.35):
            sim = _run(Form(stance_skew=skew), seed=11)
            p = _pairs(sim, gait.analyze(sim.session))
            bias.append(float((p["contact_time_s_est"] - p["contact_time_s_ref"]).mean()))
        assert abs(bias[0] - bias[1]) < 0.003

    def test_pure_shapes_on_the_event_detector(self):
        """Noise-free stances of each shape straight into the detector: toe-off within 1 ms."""
        fs = 500.0
        for skew in (0.0, 0.35):
            t = np.arange(0.0, 6.0, 1 / fs)
            x = np.zeros_like(t)
            ics = np.arange(0.3, 5.6, 0.36)
            tc = 0.24
            for ic in ics:
                tau = t - ic
                st = (tau >= 0) & (tau < tc)
                x[st] = 2.6 * G * stance_shape(tau[st] / tc, skew)
            ev = running_events(x, sampling_rate_hz=fs)
            ev = ev[ev["ok"]]
            m = match_events(ev["ic_s"].to_numpy(), ics, tolerance_s=0.01)
            assert m.recall > 0.85 and m.precision == 1.0
            to_err = ev["to_s"].to_numpy()[m.detected_idx] - (ics[m.reference_idx] + tc)
            assert np.abs(to_err).max() < 0.001, skew


# ---------------------------------------------------------------------------------------
# the toe-off invariant: never after the next contact
# ---------------------------------------------------------------------------------------
class TestToeOffInvariant:
    def test_overlapping_stances_have_no_contact_time(self):
        """Stances whose slow descent runs into the next contact: the toe-off cannot be placed
        before it, so contact, flight and duty factor are missing and the step is not valid."""
        fs = 200.0
        t = np.arange(0.0, 12.0, 1 / fs)
        x = np.zeros_like(t)
        ics = np.arange(0.5, 11.5, 0.34)
        for ic in ics:
            tau = t - ic
            st = (tau >= 0) & (tau < 0.26)
            x[st] = 2.4 * G * stance_shape(tau[st] / 0.26, 0.35)
            # a long, slow tail reaching into the next stance (no flight at the free-fall level)
            tail = (tau >= 0.18) & (tau < 0.40)
            x[tail] = np.maximum(x[tail], 0.9 * G * np.exp(-(tau[tail] - 0.18) / 0.2))
        acc = np.column_stack([x, np.zeros_like(x), np.zeros_like(x)])
        s = gait.session_from_arrays(t, acc, sampling_rate_hz=fs, frame="body")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            a = gait.analyze(s)
        run = a.steps[a.steps["activity"] == "running"]
        assert len(run) > 10
        self._check_invariant(a.steps)

    @staticmethod
    def _check_invariant(steps: pd.DataFrame) -> None:
        run = steps[steps["activity"] == "running"]
        nxt = run["ic_s"] + run["step_time_s"]
        valid = run[run["valid"]]
        assert (valid["flight_time_s"] >= 0).all()
        assert (valid["to_s"] < (valid["ic_s"] + valid["step_time_s"])).all()
        assert (valid["to_s"] > valid["ic_s"]).all()
        # a toe-off at or after the next contact leaves the step's timing missing
        bad = run[(run["to_s"] >= nxt) | (run["to_s"] <= run["ic_s"])]
        assert bad["contact_time_s"].isna().all() and bad["flight_time_s"].isna().all()
        assert bad["duty_factor"].isna().all() and not bad["valid"].any()

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_invariant_on_varied_runs(self, seed):
        rng = np.random.default_rng(seed)
        form = Form(
            stance_skew=float(rng.uniform(0.0, 0.5)),
            rearfoot_share=float(rng.uniform(0, 1)),
            contact_time_s=float(rng.uniform(0.22, 0.34)),
        )
        sim = _run(form, seed=seed, speed=float(rng.uniform(2.3, 4.5)), surface_roughness=0.5)
        self._check_invariant(gait.analyze(sim.session).steps)


# ---------------------------------------------------------------------------------------
# foot strike: three classes on the simulator
# ---------------------------------------------------------------------------------------
def _strike_form(kind: str) -> Form:
    return Form(rearfoot_share=float(kind == "rearfoot"), midfoot_share=float(kind == "midfoot"))


class TestFootStrikeOnTheSimulator:
    @pytest.mark.parametrize("kind", STRIKES)
    @pytest.mark.parametrize("speed", [2.5, 4.2])
    def test_each_class_exactly(self, kind, speed):
        sim = _run(_strike_form(kind), speed=speed)
        assert set(sim.steps.loc[sim.steps["activity"] == "running", "foot_strike"]) == {kind}
        a = gait.analyze(sim.session)
        p = _pairs(sim, a)
        assert (p["foot_strike_est"] == kind).mean() >= 0.99
        assert set(p["foot_strike_est"]) <= {kind, "uncertain"}  # never a wrong class
        # the run's dominant strike: rearfoot and forefoot decided from the median transient;
        # a run in the middle band stays uncertain (uphill heel strikes land there too)
        assert a.summary["foot_strike"] == (kind if kind != "midfoot" else "uncertain")
        if kind != "midfoot":
            assert a.summary["foot_strike_confidence"] >= 0.9
        assert a.summary[f"{kind}_share"] == pytest.approx(1.0)
        assert (a.minutes[f"{kind}_share"] == 1.0).all()

    def test_mixed_run_step_by_step(self):
        """Heel and forefoot landings mixed in one run: each step's own class (a clear collision
        or none decides a single step)."""
        sim = _run(Form(rearfoot_share=0.5), seed=5)
        a = gait.analyze(sim.session)
        p = _pairs(sim, a)
        decided = p["foot_strike_est"] != "uncertain"
        assert decided.mean() >= 0.98
        assert (p.loc[decided, "foot_strike_est"] == p.loc[decided, "foot_strike_ref"]).all()
        assert a.summary["rearfoot_share"] == pytest.approx(0.5, abs=0.08)

    def test_midfoot_steps_in_a_mixed_run_are_never_wrong(self):
        """A quarter of the steps midfoot among heel strikes: a lone midfoot-sized transient is
        not asserted (it is also what a weak heel strike gives), and nothing is called wrong."""
        sim = _run(Form(rearfoot_share=0.75, midfoot_share=0.25), seed=6)
        p = _pairs(sim, gait.analyze(sim.session))
        decided = p["foot_strike_est"] != "uncertain"
        assert (p.loc[decided, "foot_strike_est"] == p.loc[decided, "foot_strike_ref"]).all()
        rear = p["foot_strike_ref"] == "rearfoot"
        assert (p.loc[rear, "foot_strike_est"] == "rearfoot").mean() >= 0.98

    def test_vibrating_stance_makes_it_uncertain(self):
        """A midfoot runner on ground that shakes the stance (20-45 Hz, 5 m/s^2 RMS): the small
        collision no longer stands clear of the stance's vibration, so the run is undecided and
        no class is asserted."""
        sim = _run(_strike_form("midfoot"), surface_vibration_mps2=5.0)
        a = gait.analyze(sim.session)
        run = a.running_steps
        assert (run["foot_strike"] == "uncertain").mean() > 0.9
        assert set(run["foot_strike"]) <= {"midfoot", "uncertain"}
        assert a.summary["foot_strike"] == "uncertain"
        assert np.isnan(a.summary["rearfoot_share"]) or a.summary["rearfoot_share"] == 0.0

    def test_walking_has_no_foot_strike(self):
        sim = _run(_strike_form("rearfoot"))
        steps = gait.analyze(sim.session).steps
        walk = steps[steps["activity"] == "walking"]
        assert len(walk) and walk["foot_strike"].isna().all() and walk["impact_transient_bw"].isna().all()

    def test_shares_must_add_up(self):
        with pytest.raises(GaitInputError, match="foot-strike shares"):
            _run(Form(rearfoot_share=0.7, midfoot_share=0.5))


class TestHeelStrikeFault:
    def test_found_on_heel_strikes_not_on_forefoot(self):
        heel = gait.analyze(_run(_strike_form("rearfoot"), seed=2).session)
        fore = gait.analyze(_run(_strike_form("forefoot"), seed=2).session)
        assert "heel_strike" in {f.fault for f in assess(heel).findings}
        found = assess(fore)
        assert "heel_strike" not in {f.fault for f in found.findings}
        assert "heel_strike" not in {n.fault for n in found.notes}  # assessed: just not found

    def test_midfoot_run_is_not_assessed(self):
        """A run in the middle band is uncertain, so the fault is not assessed rather than
        assessed on a class the evidence does not support."""
        mid = assess(gait.analyze(_run(_strike_form("midfoot"), seed=2).session))
        assert "heel_strike" not in {f.fault for f in mid.findings}
        assert {n.fault: n for n in mid.notes}["heel_strike"].status == "cannot_assess"

    def test_not_assessed_when_undecided(self):
        a = gait.analyze(_run(_strike_form("midfoot"), surface_vibration_mps2=5.0).session)
        res = assess(a)
        assert "heel_strike" not in {f.fault for f in res.findings}
        note = {n.fault: n for n in res.notes}["heel_strike"]
        assert note.status == "cannot_assess" and "foot strike is undecided" in note.reason


# ---------------------------------------------------------------------------------------
# real recordings
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def per_step(alcantara_dir) -> pd.DataFrame:
    from gait.readers import _alcantara

    trials = _alcantara.read_trials(alcantara_dir)
    force = _alcantara.read_force(alcantara_dir)
    rows = []
    for k, s in enumerate(gait.read_sessions(alcantara_dir)):
        a = gait.analyze(s)
        det = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
        c = force_plate_contacts(force[k], _alcantara.FS_HZ)
        m = match_events(det["ic_s"].to_numpy(), c[:, 0], tolerance_s=0.04)
        d = det.iloc[m.detected_idx]
        r = c[m.reference_idx]
        rows.append(
            pd.DataFrame(
                {
                    "trial": k,
                    "slope": trials["Slope"].iloc[k],
                    "err_ms": 1000 * (d["contact_time_s"].to_numpy() - (r[:, 1] - r[:, 0])),
                    "strike": d["foot_strike"].to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


@pytest.mark.realdata
class TestAlcantaraSlopes:
    """One rearfoot runner, 19 trials on -5, 0 and +5 deg (Alcantara et al. 2022)."""

    def test_contact_time_does_not_move_with_slope(self, per_step):
        """Measured (in sample): bias +8.6 / -0.9 / -1.9 ms and MAE 13.4 / 10.4 / 9.7 ms at
        -5 / 0 / +5 deg (previously -0.8 / -0.3 / +8.1 and 13.8 / 12.5 /
        10.9, with the toe-off from the descent alone): downhill the end of propulsion comes later
        in the contact."""
        g = per_step.groupby("slope")["err_ms"]
        bias, mae = g.mean(), g.apply(lambda e: e.abs().mean())
        assert set(bias.index) == {-5, 0, 5}
        assert (bias.abs() <= 10.0).all(), bias.to_dict()
        assert (mae <= 15.0).all(), mae.to_dict()
        assert bias.max() - bias.min() <= 12.0

    def test_strike_never_wrong(self, per_step):
        assert set(per_step["strike"]) <= {"rearfoot", "uncertain"}
        by_slope = per_step.groupby("slope")["strike"].agg(lambda x: (x == "rearfoot").mean())
        # the hard downhill landings are decided (measured 0.89: one trial's stance background,
        # measured over its mid-stance, rose from 0.23 to 0.28 body weights with the new contact
        # windows, leaving its ten marginal steps uncertain; 1.0 before)
        assert by_slope[-5] >= 0.85


RBDS_DIR = SHARED_DATA / "rbds2017_treadmill_mocap"


@pytest.fixture(scope="module")
def rbds_trials():
    from gait.validation import rbds

    if not (RBDS_DIR / rbds.TRIALS[0].markers).is_file():
        pytest.skip(f"RBDS files not found at {RBDS_DIR}")
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        for tr in rbds.TRIALS:
            d = rbds.load_trial(tr, RBDS_DIR, seed=7)
            a = gait.analyze(d.session)
            det = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
            m = match_events(det["ic_s"].to_numpy(), d.steps["ic_s"].to_numpy(), tolerance_s=0.06)
            out[tr.key] = (det.iloc[m.detected_idx].reset_index(drop=True), d.steps.iloc[m.reference_idx])
            out[tr.key + " force"] = d.force_n
    return out


@pytest.mark.realdata
class TestRbdsVirtualImu:
    """Three runners as a virtual sacral IMU (Fukuchi et al. 2017); runner 1 lands on the
    midfoot / forefoot, runners 2 and 3 on the heel (foot markers)."""

    def test_no_wrong_foot_strike(self, rbds_trials):
        """The virtual sensor carries little of the landing's transient (markers low-passed at
        20 Hz): most steps are undecided, and no decided step contradicts the foot markers."""
        for key, (det, tru) in ((k, v) for k, v in rbds_trials.items() if not k.endswith("force")):
            decided = (det["foot_strike"] != "uncertain").to_numpy()
            called = det["foot_strike"].to_numpy()[decided]
            assert (called == tru["foot_strike_class"].to_numpy()[decided]).all(), key
        det1, _ = rbds_trials["r1_2.5"]
        assert not (det1["foot_strike"] == "rearfoot").any()

    def test_contact_time_on_force_trials(self, rbds_trials):
        """The flight level from the run and the end of propulsion: measured bias -4.1 ms
        (runner 1) and -0.2 ms (runner 2) (previously -24.7 and -60.3; the virtual pelvis still
        rises 12-14 ms after the force, its contact 8-12 ms late)."""
        for key, lim in (("r1_2.5", 8.0), ("r2_2.5", 8.0)):
            det, tru = rbds_trials[key]
            err = 1000 * (det["contact_time_s"].to_numpy() - tru["contact_time_s"].to_numpy())
            assert abs(err.mean()) <= lim, (key, err.mean())

    def test_the_force_itself_is_not_called_wrong(self, rbds_trials):
        """The treadmill's force as the signal (a perfect centre-of-mass accelerometer): runner
        2's heel strike leaves a real but gentle transient (about 0.3 body weights over the 10 Hz
        low-pass), inside the midfoot band; it must stay undecided, not be called midfoot."""
        from gait.validation import rbds

        for key in ("r1_2.5", "r2_2.5"):
            f = rbds_trials[key + " force"]
            v = np.concatenate([np.full(3000, G), f / f.mean() * G])
            s = gait.Session(
                t=np.arange(v.size) / rbds.FORCE_FS_HZ,
                acc=np.column_stack([v, np.zeros_like(v), np.zeros_like(v)]),
                gyr=None,
                frame="body",
                meta=gait.SessionMetadata(sampling_rate_hz=rbds.FORCE_FS_HZ),
            )
            st = gait.analyze(s).running_steps
            assert len(st) > 50
            assert set(st["foot_strike"]) == {"uncertain"}, key
