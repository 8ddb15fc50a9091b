"""The Alcantara 2022 dataset reader: its three layouts, and every damaged table with its message."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from gait import GaitInputError, read_sessions
from gait.readers import _alcantara

from .conftest import ALCANTARA
from .test_fuzz_loaders import ALCANTARA_LAYOUTS, alcantara_files, write_folder


@pytest.fixture(params=sorted(ALCANTARA_LAYOUTS))
def layout(request):
    return request.param


def folder(tmp_path, layout, **changes):
    files = alcantara_files(layout)
    names = ALCANTARA_LAYOUTS[layout]
    for role, data in changes.items():
        name = names[("trials", "accel", "force").index(role)]
        if data is None:
            del files[name]
        else:
            files[name] = data
    return write_folder(tmp_path / "ds", files), names


def test_every_layout_reads(tmp_path, layout):
    d, names = folder(tmp_path, layout)
    assert _alcantara.sniff(d) and _alcantara.sniff(d / names[1]) and not _alcantara.sniff(d / names[2])
    sessions = read_sessions(d)
    assert len(sessions) == 2
    for k, s in enumerate(sessions):
        assert s.sampling_rate_hz == 500.0 and s.frame == "body" and s.missing_acc_axes == ("ml",)
        assert s.meta.device_id == "alcantara2022-sub2" and s.meta.source == str(d / names[1])
        assert s.meta.extra["speed_mps"] == 3.0 + 0.5 * k and s.meta.extra["row"] == k
        # the subset names the trial's index in the runner's full set; the authors' tables are that set
        assert s.meta.extra["trial"] == (k + 1 if layout == "subset" else k)
    assert sessions[1].meta.extra["slope_deg"] == (0.0 if layout == "subset" else 5.0)
    assert _alcantara.read_force(d).shape == (2, 2480)


@pytest.mark.realdata
def test_authors_layout_of_the_real_recordings_reads_as_the_subset(tmp_path):
    if not (ALCANTARA / "trials.csv").is_file():
        pytest.skip(f"real recordings not found at {ALCANTARA}")
    d = tmp_path / "data"
    d.mkdir()
    trials = pd.read_csv(ALCANTARA / "trials.csv")
    trials.drop(columns=["trial"]).to_csv(d / "Sub_Info_one_sub.csv", index=False)
    shutil.copy(ALCANTARA / "sacral_accel_g.csv", d / "Accelerometer_one_sub.csv")
    shutil.copy(ALCANTARA / "normal_grf_bw.csv", d / "GRF_one_sub.csv")
    ours, theirs = read_sessions(ALCANTARA), read_sessions(d)
    assert len(ours) == len(theirs) == 19
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a.acc, b.acc)
        assert a.meta.extra["speed_mps"] == b.meta.extra["speed_mps"]
    np.testing.assert_array_equal(_alcantara.read_force(d), _alcantara.read_force(ALCANTARA))


TRIALS_HEAD = "Sub,Condition,Sex,Age,Height,Mass,RFS,MFS,FFS,Speed,Slope,StepFreq,trial\n"


@pytest.mark.parametrize(
    ("trials", "message"),
    [
        (
            "Sub,Mass,Slope\n2,76.8,0\n2,76.8,0\n",
            "trials.csv, line 1: missing column; expected columns Sub, Speed, Slope (and optionally Mass, RFS, "
            "Condition, trial), found no Speed among 'Sub', 'Mass', 'Slope'",
        ),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,fast,0,,1\n2,,m,,173,76.8,100,0,0,3.5,0,,2\n",
            "trials.csv, line 2, column 'Speed': not a number; expected a number between 0 and 12 (exclusive) m/s, "
            "found 'fast'",
        ),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,3.0,0,,1\n2,,m,,173\n",
            "trials.csv, line 3: wrong number of fields; expected 13 comma-separated values, as in the header, "
            "found 5 ('2,,m,,173')",
        ),
        ("", "trials.csv: empty file; expected a header row and one row per trial, found no rows"),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,3.0,0,,1e300\n2,,m,,173,76.8,100,0,0,3.5,0,,2\n",
            "trials.csv, line 2, column 'trial': value out of range; expected a number from 0 to 1e+06 (a row "
            "index), found '1e300'",
        ),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,3.0,0,,1.5\n2,,m,,173,76.8,100,0,0,3.5,0,,2\n",
            "trials.csv, line 2, column 'trial': not a whole number; expected a trial index (0, 1, 2 ...), found '1.5'",
        ),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,NaN,0,,1\n2,,m,,173,76.8,100,0,0,3.5,0,,2\n",
            "trials.csv, line 2, column 'Speed': not a number; expected a number between 0 and 12 (exclusive) m/s, "
            "found 'NaN'",
        ),
        (
            TRIALS_HEAD + "2,,m,,173,76.8,100,0,0,3.0,0,,1\n",
            "sacral_accel_g.csv: row counts differ; expected one row per trial of trials.csv (1), found 2 rows",
        ),
    ],
)
def test_damaged_trial_table(tmp_path, trials, message):
    d, _ = folder(tmp_path, "subset", trials=trials.encode())
    with pytest.raises(GaitInputError, match=re.escape(f"{d}/{message}") + "$"):
        read_sessions(d)


def test_trial_table_that_is_not_utf8(tmp_path):
    d, _ = folder(tmp_path, "authors", trials=b"Sub,Speed,Slope\n2,3.0,\xe9\n")
    with pytest.raises(
        GaitInputError,
        match=re.escape(
            f"{d}/Sub_Info_one_sub.csv: not a text file; expected a UTF-8 CSV text file, found undecodable bytes "
            "at offset 22 (b'\\xe9\\n')"
        ),
    ):
        read_sessions(d)


def _accel_rows(edit) -> bytes:
    lines = alcantara_files("subset")["sacral_accel_g.csv"].decode().splitlines()
    lines = edit(lines)
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda ls: [ls[0], ",".join(ls[1].split(",")[:-3])],
            "sacral_accel_g.csv, line 2: wrong number of values; expected 4960 comma-separated values (vertical "
            "then antero-posterior acceleration, g), found 4957",
        ),
        (
            lambda ls: [",".join(["1", "1_000", *ls[0].split(",")[2:]]), ls[1]],
            "sacral_accel_g.csv, line 1: not a number; expected a decimal number, found '1_000' (value 2 of 4960)",
        ),
        (
            lambda ls: [ls[0], ",".join(["nan", *ls[1].split(",")[1:]])],
            "sacral_accel_g.csv, line 2: not a number; expected a decimal number, found 'nan' (value 1 of 4960)",
        ),
        (
            lambda ls: [ls[0], ",".join(["1e400", *ls[1].split(",")[1:]])],
            "sacral_accel_g.csv, line 2: value out of range; expected a finite number, found '1e400' (value 1 of "
            "4960)",
        ),
        (lambda ls: [], "sacral_accel_g.csv: empty file; expected one row of 4960 values (vertical then "
         "antero-posterior acceleration, g) per trial, found no rows"),
    ],
)  # fmt: skip
def test_damaged_accelerometer_file(tmp_path, edit, message):
    d, _ = folder(tmp_path, "subset", accel=_accel_rows(edit))
    with pytest.raises(GaitInputError, match=re.escape(f"{d}/{message}") + "$"):
        read_sessions(d)


def test_absurd_acceleration_is_refused_with_its_trial(tmp_path):
    d, _ = folder(tmp_path, "subset", accel=_accel_rows(lambda ls: [ls[0], ",".join(["2000", *ls[1].split(",")[1:]])]))
    with pytest.raises(
        GaitInputError,
        match=re.escape(
            f"{d}/sacral_accel_g.csv, line 2, column 'acc_v_g': value out of range; expected a magnitude of at most "
            "9806.65 m/s^2 (1000 g), beyond the range of any IMU, found 2000.0 g in row 1"
        ),
    ):
        read_sessions(d)


def test_missing_force_file_only_matters_for_the_force(tmp_path):
    d, names = folder(tmp_path, "zenodo", force=None)
    assert len(read_sessions(d)) == 2
    with pytest.raises(GaitInputError, match=re.escape(f"{d / names[2]}: cannot read file")):
        _alcantara.read_force(d)
