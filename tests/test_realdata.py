"""The real recordings (GAIT_SHARED_DATA, docs/validation.md): documented bounds (skipped when absent).

Alcantara et al. (2022): one runner, 19 five-second treadmill trials at 2.5-4.2 m/s on -5, 0 and
+5 deg slopes; sacral accelerometer (vertical and antero-posterior, 500 Hz, 20 Hz low-passed,
vertical clipped at 0 g) against the treadmill's normal force. The bounds below are the targets
of the signal core; the measured values are in benchmarks/accuracy.py and the README.
"""

from __future__ import annotations

import pandas as pd
import pytest

import gait
from gait.evaluation import agreement, pair_with_force_plate

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def paired(alcantara_dir):
    from gait.readers import _alcantara

    sessions = gait.read_sessions(alcantara_dir)
    pairs, match = pair_with_force_plate(sessions, _alcantara.read_force(alcantara_dir), _alcantara.FS_HZ)
    return pairs, match, sessions


def test_all_trials_are_read(paired):
    _, _, sessions = paired
    assert len(sessions) == 19
    assert all(s.missing_acc_axes == ("ml",) and s.gyr is None and s.sampling_rate_hz == 500.0 for s in sessions)


def test_steps_f1_at_least_0_99(paired):
    _, match, _ = paired
    assert match.n_reference == 285
    assert match.f1 >= 0.99


def test_contact_time_mae_at_most_15_ms(paired):
    p, _, _ = paired
    assert agreement(p["contact_time_s_est"], p["contact_time_s_ref"])["mae"] <= 0.015


def test_oscillation_mae_at_most_1_cm(paired):
    p, _, _ = paired
    assert agreement(p["vertical_oscillation_m_est"], p["vertical_oscillation_m_ref"])["mae"] <= 0.01


def test_rearfoot_runner_is_never_called_midfoot_or_forefoot(paired):
    """All trials are 100 % rearfoot (shoe sensors). The lumbar transient decides the hard
    landings (downhill, faster level trials) and leaves the rest undecided: no wrong class."""
    p, _, _ = paired
    assert set(p["foot_strike"]) <= {"rearfoot", "uncertain"}
    assert (p["foot_strike"] == "rearfoot").mean() >= 0.35  # measured 0.42
    per_trial = p.groupby("trial")["foot_strike"].agg(lambda x: (x == "rearfoot").mean())
    assert (per_trial >= 0.5).sum() >= 7  # measured: 8 of 19 trials decided rearfoot


def test_biaxial_limits_are_explained(paired):
    _, _, sessions = paired
    a = gait.analyze(sessions[0])
    for k in ("yaw_range_deg", "roll_range_deg", "lean_deg", "side"):
        assert k in a.unavailable
    # no medio-lateral axis and no gyroscope: no step of any trial gets a side
    for s in sessions:
        assert (gait.analyze(s).steps["side"] == "?").all()


def test_raw_unclipped_triaxial_recording(alcantara_dir):
    """A raw Shimmer recording with an unknown mounting and no standing: a smoke test."""
    df = pd.read_csv(alcantara_dir / "raw_triaxial_unlabelled_512hz.csv")
    t = (df["System_Timestamp_Plot_Zeroed"] - df["System_Timestamp_Plot_Zeroed"].iloc[0]).to_numpy() / 1000.0
    acc = df[["Accel_LN_X", "Accel_LN_Y", "Accel_LN_Z"]].to_numpy()
    with pytest.warns(gait.GaitDataWarning):  # the logger's timestamps jitter: resampled
        s = gait.session_from_arrays(t, acc, sampling_rate_hz=512.0)
    a = gait.analyze(s)
    assert a.frame["mounting"]["vertical_source"] == "activity"  # no standing in this recording
    run = a.steps[(a.steps["activity"] == "running") & a.steps["valid"]]
    assert len(run) >= 10
    # about 3 m/s: a plausible cadence and contact time for a runner at that speed. Contact
    # time measured 0.334 s (0.290 s before the flight level was taken from the run: this sensor
    # reads -0.68 g in flight); its step time, 0.38 s, is the RBDS runners' at 2.5 m/s, whose
    # force contact times are 0.28-0.32 s
    assert 150 <= run["cadence_spm"].median() <= 190
    assert 0.18 <= run["contact_time_s"].median() <= 0.35
    assert 0.04 <= run["vertical_oscillation_m"].median() <= 0.12
    # a medio-lateral axis but no gyroscope: the running steps' sides stay unknown, with why
    assert (run["side"] == "?").all() and a.unavailable["side"].startswith("no gyroscope")
