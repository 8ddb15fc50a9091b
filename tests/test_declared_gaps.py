"""The optional ``gaps`` metadata (docs/session-format.md): written, read back, checked."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from gait.errors import GaitDataWarning, GaitInputError
from gait.io import read_canonical_session, save_session
from gait.session import DeclaredGap, Session, SessionMetadata, parse_gaps

HEADER = "# gait-session: 1\n# sampling_rate_hz: 100.0\n"


def _session_with_gap() -> Session:
    t = np.concatenate([np.arange(0, 200), np.arange(260, 400)]) / 100.0
    acc = np.tile([0.0, 0.0, 9.81], (t.size, 1))
    meta = SessionMetadata(sampling_rate_hz=100.0, gaps=(DeclaredGap(1.99, 2.6, "reconnect", 60),))
    return Session(t=t, acc=acc, gyr=None, frame="sensor", meta=meta)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    p = save_session(_session_with_gap(), tmp_path / f"run{suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # the gap itself is reported
        s = read_canonical_session(p)
    assert s.meta.gaps == (DeclaredGap(1.99, 2.6, "reconnect", 60),)
    if suffix == ".csv":
        assert '# gaps: [{"cause": "reconnect", "end_s": 2.6, "samples_lost": 60, "start_s": 1.99}]' in p.read_text()


def test_pandas_still_opens_the_file(tmp_path: Path) -> None:
    import pandas as pd

    p = save_session(_session_with_gap(), tmp_path / "run.csv")
    assert len(pd.read_csv(p, comment="#")) == 340


def test_absent_or_empty_means_no_declared_gaps(tmp_path: Path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(HEADER + "# gaps: []\nt_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0.0,0,0,9.8\n0.01,0,0,9.8\n")
    assert read_canonical_session(p).meta.gaps == ()
    assert SessionMetadata(sampling_rate_hz=1.0).to_dict()["gaps"] is None


@pytest.mark.parametrize(
    "value, found",
    [
        ('{"start_s": 1}', "{'start_s': 1}"),
        ('[{"start_s": 2, "end_s": 1, "cause": "loss"}]', "entry 0"),
        ('[{"start_s": 1, "end_s": 2}]', "entry 0"),
        ('[{"start_s": 1, "end_s": 2, "cause": "loss", "samples_lost": -3}]', "entry 0"),
        ('[{"start_s": "a", "end_s": 2, "cause": "loss"}]', "entry 0"),
    ],
)
def test_a_bad_gap_list_is_refused_with_where(tmp_path: Path, value: str, found: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(HEADER + f"# gaps: {value}\nt_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0.0,0,0,9.8\n0.01,0,0,9.8\n")
    with pytest.raises(GaitInputError, match="bad metadata value for 'gaps'") as e:
        read_canonical_session(p)
    assert found in str(e.value) and "bad.csv" in str(e.value)


def test_parse_gaps_accepts_none_and_gaps() -> None:
    g = DeclaredGap(0.0, 1.0, "loss")
    assert parse_gaps(None) == () and parse_gaps([g]) == (g,)
    assert parse_gaps([{"start_s": 0, "end_s": 1, "cause": "loss"}]) == (g,)
