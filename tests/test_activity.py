"""Activity bouts: still / walking / running from rotation-invariant features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from gait import Session, SessionMetadata
from gait.constants import G
from gait.core.activity import KINDS, RUNNING, STILL, _merge_short, bout_labels, detect_bouts


def still_session(seconds: float = 10.0, fs: float = 100.0) -> Session:
    n = int(seconds * fs)
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, 0.0, G], (n, 1)) + rng.normal(0, 0.02, (n, 3))
    return Session(
        t=np.arange(n) / fs,
        acc=acc,
        gyr=rng.normal(0, 0.003, (n, 3)),
        frame="sensor",
        meta=SessionMetadata(sampling_rate_hz=fs),
    )


class TestBouts:
    def test_still(self):
        b = detect_bouts(still_session())
        assert b["kind"].tolist() == ["still"]
        assert b["duration_s"].iloc[0] == pytest.approx(10.0)

    def test_columns_and_dtypes(self):
        b = detect_bouts(still_session())
        assert list(b.columns) == ["bout", "kind", "start_s", "end_s", "duration_s", "start_idx", "end_idx"]

    def test_simulated_run_sequence_and_boundaries(self, short_run):
        b = detect_bouts(short_run.session)
        assert b["kind"].tolist() == ["still", "walking", "running", "walking", "still"]
        truth = short_run.bouts
        # boundaries within 1.5 s of the simulator's (a 2 s window sets the resolution)
        np.testing.assert_allclose(b["start_s"].to_numpy()[1:], truth["start_s"].to_numpy()[1:], atol=1.5)

    def test_bouts_never_span_a_gap(self, short_run):
        s = short_run.session
        keep = (s.t < 30.0) | (s.t > 31.0)  # a 1 s hole in the run
        s2 = s.replace(t=s.t[keep], acc=s.acc[keep], gyr=s.gyr[keep])
        b = detect_bouts(s2)
        assert not ((b["start_s"] < 30.0) & (b["end_s"] > 31.0)).any()
        assert (b["kind"] == "running").sum() == 2

    @settings(max_examples=8, deadline=None)
    @given(st.integers(0, 2**31 - 1))
    def test_labels_do_not_depend_on_mounting(self, seed):
        from .conftest import simulate_cached

        sim = simulate_cached(duration_s=20.0, seed=5)
        R = Rotation.random(random_state=seed).as_matrix()
        s = sim.session
        rotated = s.replace(acc=s.acc @ R.T, gyr=s.gyr @ R.T)
        np.testing.assert_array_equal(bout_labels(rotated), bout_labels(s))


class TestMergeShort:
    def test_short_bout_merged_into_longer_neighbour(self):
        fs = 10.0
        labels = np.array([STILL] * 50 + [RUNNING] * 5 + [STILL] * 30, dtype=np.int8)
        out = _merge_short(labels.copy(), fs)
        assert (out == STILL).all()

    def test_long_bouts_kept(self):
        labels = np.array([STILL] * 50 + [RUNNING] * 50, dtype=np.int8)
        np.testing.assert_array_equal(_merge_short(labels.copy(), 10.0), labels)


def test_kinds_are_documented():
    assert KINDS == ("still", "walking", "running", "other")
