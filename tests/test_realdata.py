"""The real recordings in ../shared/data: documented bounds (skipped when absent).

Alcantara et al. (2022): one runner, 19 five-second treadmill trials at 2.5-4.2 m/s on -5, 0 and
+5 deg slopes; sacral accelerometer (vertical and antero-posterior, 500 Hz, 20 Hz low-passed,
vertical clipped at 0 g) against the treadmill's normal force. The bounds below are the targets
of the signal core; the measured values are in benchmarks/accuracy.py and the README.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gait
from gait.evaluation import agreement, com_excursion_from_force, force_plate_contacts, match_events

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def paired(alcantara_dir):
    from gait.readers import _alcantara

    sessions = gait.read_sessions(alcantara_dir)
    force = _alcantara.read_force(alcantara_dir)
    rows, counts = [], []
    for k, s in enumerate(sessions):
        a = gait.analyze(s)
        det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
        c = force_plate_contacts(force[k], _alcantara.FS_HZ)
        osc = np.concatenate([com_excursion_from_force(force[k], _alcantara.FS_HZ, c[:, 0]), [np.nan]])
        m = match_events(det["ic_s"].to_numpy(), c[:, 0])
        counts.append((m.true_positives, m.n_detected, m.n_reference))
        d = det.iloc[m.detected_idx]
        rows.append(
            pd.DataFrame(
                {
                    "tc_est": (d["to_s"] - d["ic_s"]).to_numpy(),
                    "tc_ref": c[m.reference_idx, 1] - c[m.reference_idx, 0],
                    "osc_est": d["vertical_oscillation_m"].to_numpy(),
                    "osc_ref": osc[m.reference_idx],
                    "strike": d["foot_strike"].to_numpy(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True), np.sum(counts, axis=0), sessions


def test_all_trials_are_read(paired):
    _, _, sessions = paired
    assert len(sessions) == 19
    assert all(s.missing_acc_axes == ("ml",) and s.gyr is None and s.sampling_rate_hz == 500.0 for s in sessions)


def test_steps_f1_at_least_0_99(paired):
    _, (tp, nd, nr), _ = paired
    p, r = tp / nd, tp / nr
    assert 2 * p * r / (p + r) >= 0.99


def test_contact_time_mae_at_most_15_ms(paired):
    p, _, _ = paired
    assert agreement(p["tc_est"], p["tc_ref"])["mae"] <= 0.015


def test_oscillation_mae_at_most_1_cm(paired):
    p, _, _ = paired
    assert agreement(p["osc_est"], p["osc_ref"])["mae"] <= 0.01


def test_rearfoot_strikes_are_recognised(paired):
    p, _, _ = paired
    assert (p["strike"] == "rearfoot").mean() >= 0.95


def test_biaxial_limits_are_explained(paired):
    _, _, sessions = paired
    a = gait.analyze(sessions[0])
    for k in ("yaw_range_deg", "roll_range_deg", "lean_deg", "side"):
        assert k in a.unavailable


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
    # about 3 m/s: a plausible cadence and contact time for a runner at that speed
    assert 150 <= run["cadence_spm"].median() <= 190
    assert 0.18 <= run["contact_time_s"].median() <= 0.32
    assert 0.04 <= run["vertical_oscillation_m"].median() <= 0.12
