"""Real walking (Voisard et al. 2023, lower-back IMU at L5, foot-sensor events): documented bounds.

10 adults, 58 trials (stand, walk 10 m, U-turn, walk back, stop). ``benchmarks/walking.py``
reads the files and compares the walking steps of the pipeline with the references; the
measured values are in ``docs/walking.md``. The bounds below are the targets of the walking
detector with some room for the spread between subjects (measured: F1 0.88 / 0.93 / 0.96 at
50 / 100 / 200 ms, bias -7 ms, per-subject bias -18 to +15 ms, cadence error 1.0 spm, side
given for 93 % of the steps and right for 96 %). Skipped when the folder is absent.
"""

from __future__ import annotations

import gzip
import json

import numpy as np
import pytest

from tests._fault_fixtures import SHARED_DATA, load_benchmark

pytestmark = pytest.mark.realdata

VOISARD = SHARED_DATA / "voisard2023_lowback_walking"


@pytest.fixture(scope="module")
def bench():
    if not (VOISARD / "1-1.json.gz").is_file():
        pytest.skip(f"real walking recordings not found at {VOISARD}")
    return load_benchmark("walking")


@pytest.fixture(scope="module")
def results(bench):
    per_trial, loso = bench.run(VOISARD)
    return per_trial, loso, bench.per_subject(per_trial)


def test_event_pairs_are_toe_off_then_contact(bench):
    """Each pair is [toe-off, contact]: the lower-back vertical acceleration rises sharply just
    after the second index (heel strike), not after the first; the pair spans a swing."""
    rises = {0: [], 1: []}
    swing = []
    for code in bench.trials(VOISARD)[:12]:
        s, meta = bench.load_trial(code, VOISARD)
        up = s.acc.mean(axis=0) / np.linalg.norm(s.acc.mean(axis=0))
        a_v = s.acc @ up
        for key in ("LeftFootEvents", "RightFootEvents"):
            ev = np.asarray(meta[key], dtype=float)
            swing += list(np.diff(ev, axis=1)[:, 0] / 100.0)
            for j in (0, 1):
                t_ev = ev[:, j] / 100.0
                after = np.interp(t_ev[:, None] + np.arange(0.0, 0.05, 0.01), s.t, a_v).mean(axis=1)
                before = np.interp(t_ev[:, None] - np.arange(0.01, 0.06, 0.01), s.t, a_v).mean(axis=1)
                rises[j] += list(after - before)
    assert np.median(rises[1]) > 1.0  # a sharp rise after the contact
    assert abs(np.median(rises[0])) < 0.5 * np.median(rises[1])
    assert 0.3 <= np.median(swing) <= 0.5  # toe-off to contact of one foot: its swing


def test_every_trial_is_read(bench):
    codes = bench.trials(VOISARD)
    assert len(codes) == 58
    meta = json.loads(gzip.open(VOISARD / "1-1.json.gz").read())
    assert meta["TrialBoundaries"][0] < meta["UTurnBoundaries"][0] < meta["TrialBoundaries"][1]


def test_contacts_found_and_at_heel_strike(results):
    per_trial, _, summary = results
    allrow = summary.loc["all"]
    assert allrow["f1_50"] >= 0.85
    assert allrow["f1_100"] >= 0.90
    assert allrow["f1_200"] >= 0.94
    assert abs(allrow["bias_ms"]) <= 10.0
    subjects = summary.drop(index="all")
    assert subjects["bias_ms"].abs().max() <= 20.0  # every subject within +-20 ms
    assert subjects["f1_50"].min() >= 0.75
    assert (per_trial["bias_ms"].abs() <= 30.0).all()


def test_leave_one_subject_out(results):
    _, loso, _ = results
    assert len(loso) == 10
    assert loso["f1_50"].mean() >= 0.83
    assert loso["bias_ms"].abs().max() <= 20.0


def test_cadence(results):
    per_trial, _, summary = results
    err = (per_trial["cadence_spm"] - per_trial["cadence_ref_spm"]).abs()
    assert summary.loc["all", "cadence_err_spm"] <= 1.5
    assert (err <= 2.0).mean() >= 0.85


def test_sides(results):
    per_trial, _, summary = results
    # measured: 93 % given, 96 % right (the previous sway-only rule: 90 %, 96 %)
    assert summary.loc["all", "side_rate"] >= 0.91
    assert summary.loc["all", "side_right"] >= 0.95
    # every subject but 4 at least 99 % right; of subject 4's trials, 4-1 and 4-2 are wrong on
    # every cue alike, the yaw rate (which does not depend on the forward axis) included
    per_subject = summary.drop(index="all")
    assert (per_subject.drop(index=4)["side_right"] >= 0.99).all()
    bad = per_trial[per_trial["side_right"] < 0.5]["trial"].tolist()
    assert set(bad) <= {"4-1", "4-2"}


def test_walking_is_labelled_walking(results):
    per_trial, _, _ = results
    assert per_trial["other_share"].mean() <= 0.01
    assert per_trial["walking_share"].mean() >= 0.97
