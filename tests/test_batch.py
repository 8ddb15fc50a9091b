"""gait.batch / gait batch: outputs, identities, resumability, failures, CLI (in this process).

The process-pool and Dask paths, and a real kill, are in ``test_batch_parallel.py``; finding
the sources in ``test_batch_discover.py``. Sessions are short simulated runs (20 s of running).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gait
import gait.batch._dask as dask_mod
import gait.batch._task as task_mod
from gait import GaitInputError
from gait.batch import BatchResult, read_table
from gait.batch._task import (
    FINDING_COLUMNS,
    bucket_of,
    error_row,
    flatten,
    load_marker,
    marker_path,
    partition_file,
    session_id,
    write_bytes_atomic,
)
from gait.cli import main
from gait.simulator import Form, SensorModel, SimulationConfig

BAD_CSV = "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n0.01,0,0,nine\n"


# ---------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------
def write_dataset(folder: Path, n_trials: int = 2) -> Path:
    """A small folder in the Alcantara 2022 layout (biaxial, 500 Hz, one trial per row)."""
    sim = gait.simulate(
        SimulationConfig(
            duration_s=8,
            sampling_rate_hz=500,
            standing_before_s=0,
            walking_before_s=0,
            walking_after_s=0,
            standing_after_s=0,
            warmup_s=0,
            seed=5,
        ),
        frame="body",
    )
    acc = sim.session.acc[:2480] / 9.80665
    row = np.concatenate([acc[:, 0], acc[:, 1]])
    folder.mkdir(parents=True)
    np.savetxt(
        folder / "sacral_accel_g.csv",
        np.vstack([row * (1 + 0.01 * k) for k in range(n_trials)]),
        delimiter=",",
        fmt="%.5f",
    )
    head = "Sub,Condition,Sex,Age,Height,Mass,RFS,MFS,FFS,Speed,Slope,StepFreq,trial\n"
    rows = "".join(f"2,,m,,173,76.8,100,0.0,0.0,{3.0 + 0.5 * k},0,,{k + 1}\n" for k in range(n_trials))
    (folder / "trials.csv").write_text(head + rows)
    return folder


def make_inputs(root: Path) -> Path:
    """Three simulated sessions (CSV.gz, Parquet, CSV without gyroscope, with truth sidecars),
    a dataset folder of two trials, a participants table and a hidden folder."""
    root.mkdir(parents=True, exist_ok=True)
    gait.save_session(gait.simulate(duration_s=20, seed=11).session, root / "run_a.csv.gz", decimals=4)
    gait.save_session(gait.simulate(duration_s=20, seed=12, mounting="sideways").session, root / "run_b.parquet")
    (root / "sub").mkdir()
    # a heel striker without a gyroscope: a finding the accelerometer alone supports
    heel = Form(rearfoot_share=0.97, impact_mps2=22.0)
    gait.simulate(SimulationConfig(duration_s=20, seed=13, sensor=SensorModel(has_gyro=False), form=heel)).save(
        root / "sub" / "run_c.csv", decimals=4
    )
    write_dataset(root / "sub" / "dataset")
    (root / "participants.csv").write_text("id,age\n1,30\n")
    (root / ".hidden").mkdir()
    shutil.copy(root / "run_a.csv.gz", root / ".hidden" / "run_a.csv.gz")
    return root


@pytest.fixture(scope="module")
def inputs_master(tmp_path_factory) -> Path:
    return make_inputs(tmp_path_factory.mktemp("batch") / "inputs")


@pytest.fixture
def inputs(tmp_path, inputs_master) -> Path:
    """A private copy of the inputs (tests add and change files)."""
    return Path(shutil.copytree(inputs_master, tmp_path / "inputs"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, inputs_master) -> BatchResult:
    """One batch of the inputs, in this process, shared by the read-only tests."""
    return gait.batch(inputs_master, out=tmp_path_factory.mktemp("ref") / "out", workers=1)


N_SESSIONS = 5  # run_a, run_b, run_c and the two trials of the dataset


# ---------------------------------------------------------------------------------------
# identities, paths, rows
# ---------------------------------------------------------------------------------------
class TestIdentities:
    def test_session_id_basic(self):
        sid = session_id("ab" * 32, 0)
        assert re.fullmatch(r"[0-9a-f]{16}", sid)
        assert sid == hashlib.sha256(("ab" * 32 + ":0").encode()).hexdigest()[:16]
        assert session_id("ab" * 32, 1) != sid

    @given(st.text(min_size=1, max_size=70), st.integers(0, 10_000))
    def test_session_id_properties(self, sha, index):
        sid = session_id(sha, index)
        assert sid == session_id(sha, index) and len(sid) == 16
        assert 0 <= bucket_of(sid) <= 255

    def test_bucket_and_partition_file(self, tmp_path):
        assert bucket_of("00ffffffffffffff") == 0 and bucket_of("ff00000000000000") == 255
        assert partition_file(tmp_path, "steps", "0a12345678901234", "parquet") == (
            tmp_path / "steps" / "bucket=010" / "0a12345678901234.parquet"
        )


class TestFlatten:
    def test_empty(self):
        assert flatten({}) == {}

    def test_basic(self):
        d = {"a": 1, "median": {"x_s": np.float64(0.5), "y": float("nan")}, "surges": [{"start_s": 1.0}], "w": {}}
        out = flatten(d)
        assert out["a"] == 1 and out["median.x_s"] == 0.5 and type(out["median.x_s"]) is float
        assert math.isnan(out["median.y"])
        assert out["surges.count"] == 1 and json.loads(out["surges.json"]) == [{"start_s": 1.0}]
        assert "w" not in out

    @settings(max_examples=50)
    @given(
        st.recursive(
            st.floats(allow_nan=False) | st.integers() | st.text(max_size=5),
            lambda ch: st.dictionaries(st.text("abc_", min_size=1, max_size=4), ch, max_size=4),
            max_leaves=20,
        ).filter(lambda x: isinstance(x, dict))
    )
    def test_properties(self, d):
        def leaves(x, path=()):
            if isinstance(x, dict):
                for k, v in x.items():
                    yield from leaves(v, (*path, k))
            else:
                yield ".".join(path), x

        assert flatten(d) == dict(leaves(d))


class TestErrorRow:
    def test_input_error(self):
        e = GaitInputError("bad", expected="good", found="bad", where=gait.errors.Where(file="f.csv"))
        row = error_row(source="f.csv", input_sha256="h", stage="read", exc=e)
        assert row["kind"] == "input" and row["message"] == "f.csv: bad; expected good, found bad"
        assert row["traceback"] == "" and row["error_type"] == "GaitInputError"

    def test_bug_has_traceback(self):
        try:
            {}["missing"]
        except KeyError as e:
            row = error_row(source="f.csv", input_sha256=None, stage="analyze", exc=e, session_index=2, sid="x")
        assert row["kind"] == "bug" and row["error_type"] == "KeyError" and row["message"] == "'missing'"
        assert row["traceback"].startswith("Traceback") and "test_bug_has_traceback" in row["traceback"]
        assert row["session_index"] == 2 and row["session_id"] == "x"


class TestAtomicWrites:
    def test_basic(self, tmp_path):
        p = tmp_path / "a" / "b.bin"
        write_bytes_atomic(p, b"123")
        assert p.read_bytes() == b"123" and list(p.parent.iterdir()) == [p]

    def test_interrupted_write_leaves_old_file(self, tmp_path, monkeypatch):
        p = tmp_path / "b.bin"
        write_bytes_atomic(p, b"old")

        def killed(*a, **k):
            raise KeyboardInterrupt

        monkeypatch.setattr(gait.io._writer.os, "replace", killed)
        with pytest.raises(KeyboardInterrupt):
            write_bytes_atomic(p, b"new")
        assert p.read_bytes() == b"old" and list(tmp_path.iterdir()) == [p]


class TestLoadMarker:
    def test_missing_truncated_or_wrong_key(self, tmp_path):
        assert load_marker(tmp_path, "k1") is None
        m = marker_path(tmp_path, "k1")
        m.parent.mkdir()
        doc = {"key": "k1", "source": "s", "input_sha256": "h", "sessions": [], "findings": [], "files": []}
        m.write_text(json.dumps(doc)[:20])
        assert load_marker(tmp_path, "k1") is None
        m.write_text(json.dumps({**doc, "key": "other"}))
        assert load_marker(tmp_path, "k1") is None
        m.write_text(json.dumps(doc))
        assert load_marker(tmp_path, "k1").skipped

    def test_missing_output_file(self, tmp_path):
        m = marker_path(tmp_path, "k1")
        m.parent.mkdir()
        doc = {"key": "k1", "source": "s", "input_sha256": "h", "sessions": [], "findings": [], "files": ["steps/x"]}
        m.write_text(json.dumps(doc))
        assert load_marker(tmp_path, "k1") is None


# ---------------------------------------------------------------------------------------
# batch: basic, outputs, properties
# ---------------------------------------------------------------------------------------
class TestBatchBasic:
    def test_tables(self, reference, inputs_master):
        r = reference
        assert r.ok and r.analysed == 4 and r.skipped == 0 and r.failed == 0
        s = r.sessions
        assert len(s) == N_SESSIONS and s["session_id"].is_unique
        assert list(s.columns[:5]) == ["session_id", "bucket", "source", "session_index", "input_sha256"]
        assert {"median.contact_time_s", "drift_pct.cadence_spm", "warmup.easy_minutes", "surges.count"} <= set(s)
        assert (s["bucket"] == s["session_id"].map(bucket_of)).all()
        assert list(s["source"]) == sorted(s["source"])  # stable order
        by_name = s.set_index(s["source"].map(lambda p: Path(p).name))
        assert not by_name.loc["run_c.csv", "has_gyroscope"] and by_name.loc["run_a.csv.gz", "has_gyroscope"]
        assert "yaw_range_deg" in by_name.loc["run_c.csv", "unavailable"]
        ds_rows = s[s["reader"] == "alcantara2022"]
        assert list(ds_rows["session_index"]) == [0, 1] and list(ds_rows["meta.speed_mps"]) == [3.0, 3.5]
        assert (s["calibration"].isna()).all()  # no stored calibration unless asked for

    def test_session_ids_follow_content(self, reference, inputs_master):
        row = reference.sessions[reference.sessions["source"].str.endswith("run_a.csv.gz")].iloc[0]
        sha = hashlib.sha256((inputs_master / "run_a.csv.gz").read_bytes()).hexdigest()
        assert row["input_sha256"] == sha and row["session_id"] == session_id(sha, 0)

    def test_steps_equal_direct_analysis(self, reference, inputs_master):
        sid = reference.sessions.loc[reference.sessions["source"].str.endswith("run_b.parquet"), "session_id"].item()
        got = read_table(reference.out, "steps", filters=[("session_id", "==", sid)])
        a = gait.analyze(gait.read_session(inputs_master / "run_b.parquet"))
        assert got["bucket"].unique().tolist() == [bucket_of(sid)]
        pd.testing.assert_frame_equal(got.drop(columns=["session_id", "bucket"]), a.steps, check_dtype=False)
        mins = read_table(reference.out, "minutes", filters=[("session_id", "==", sid)])
        pd.testing.assert_frame_equal(mins.drop(columns=["session_id", "bucket"]), a.minutes, check_dtype=False)

    def test_readable_in_one_call(self, reference):
        out = reference.out
        steps = pd.read_parquet(out / "steps")
        assert len(steps) == len(reference.steps) > 0
        assert pq.read_table(out / "minutes").num_rows == len(reference.minutes) > 0
        assert ds.dataset(out / "steps", partitioning="hive").count_rows() == len(steps)
        assert set(steps["session_id"]) == set(reference.sessions["session_id"])
        assert set(pd.read_parquet(out / "findings.parquet")["session_id"]) <= set(steps["session_id"])
        pd.testing.assert_frame_equal(pd.read_parquet(out / "sessions.parquet"), reference.sessions, check_dtype=False)
        errors = pd.read_parquet(out / "errors.parquet")
        assert errors["kind"].tolist() == ["skipped"] and errors["source"].str.endswith("participants.csv").all()

    def test_findings(self, reference):
        f = reference.findings
        assert list(f.columns) == list(FINDING_COLUMNS) and len(f) > 0
        assert list(f.columns[:7]) == ["session_id", "rank", "fault", "name", "severity", "confidence", "headline"]
        assert f["severity"].isin(["low", "moderate", "high"]).all()
        counts = f.groupby("session_id").size()
        s = reference.sessions.set_index("session_id")
        assert (s.loc[counts.index, "n_findings"] == counts).all()
        for _, row in f.iterrows():
            assert isinstance(json.loads(row["evidence_json"]), list)

    def test_manifest(self, reference, inputs_master):
        m = json.loads((reference.out / "manifest.json").read_text())
        assert m == reference.manifest
        assert m["parameters"]["fmt"] == "parquet" and m["parameters"]["calibration_dir"] is None
        assert set(m["versions"]) >= {"gait", "code_sha256", "numpy", "scipy", "pandas", "pyarrow", "python"}
        files = {Path(e["source"]).name: e for e in m["inputs"]}
        assert set(files) == {"run_a.csv.gz", "run_b.parquet", "run_c.csv", "dataset"}
        assert (
            files["run_b.parquet"]["sha256"]
            == hashlib.sha256((inputs_master / "run_b.parquet").read_bytes()).hexdigest()
        )
        assert files["dataset"]["kind"] == "folder" and len(files["dataset"]["sessions"]) == 2
        assert [Path(s["path"]).name for s in m["skipped_files"]] == ["participants.csv"]
        assert m["counts"]["sessions"] == N_SESSIONS and m["counts"]["failed"] == 0
        assert [f[0] for f in m["schemas"]["steps"]][:3] == ["session_id", "step", "bout"]

    def test_empty(self, tmp_path):
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "notes.csv").write_text("a,b\n1,2\n")
        r = gait.batch(tmp_path / "in", out=tmp_path / "out", workers=1)
        assert r.ok and len(r.sessions) == 0 and len(r.findings) == 0
        (e,) = r.errors.itertuples(index=False)
        assert (e.kind, e.stage, e.error_type) == ("skipped", "discover", "NotASession")
        assert e.message == (
            f"{tmp_path / 'in' / 'notes.csv'}: not taken as a session: a CSV table without a time column "
            "(t_s, t_ms, t_us, t_ns): a, b"
        )
        assert list(pd.read_parquet(tmp_path / "out" / "findings.parquet").columns) == list(FINDING_COLUMNS)
        assert r.steps.empty and "contact_time_s" in r.steps.columns and "bucket" in r.steps.columns
        assert pd.read_parquet(tmp_path / "out" / "sessions.parquet").empty
        assert len(r.manifest["skipped_files"]) == 1

    def test_warnings_are_recorded_per_session(self, inputs, tmp_path):
        raw = (inputs / "run_a.csv.gz").read_bytes()
        (inputs / "cut.csv.gz").write_bytes(raw[: int(len(raw) * 0.7)])  # a recording cut off by a crash
        r = gait.batch(inputs / "cut.csv.gz", out=tmp_path / "out", workers=1)
        assert r.ok
        row = r.sessions.iloc[0]
        assert row["n_warnings"] >= 1 and "the gzip stream ends early" in row["warnings"]

    def test_duplicates_analysed_once(self, inputs, tmp_path):
        shutil.copy(inputs / "run_a.csv.gz", inputs / "copy_of_a.csv.gz")
        r = gait.batch(inputs, out=tmp_path / "out", workers=1)
        assert len(r.sessions) == N_SESSIONS and r.manifest["counts"]["duplicates"] == 1
        (dup,) = r.manifest["duplicates"]
        assert Path(dup["source"]).name == "run_a.csv.gz" and Path(dup["duplicate_of"]).name == "copy_of_a.csv.gz"

    def test_speed_parameter(self, inputs, tmp_path):
        r = gait.batch(inputs / "run_a.csv.gz", out=tmp_path / "out", workers=1, speed_mps=3.0)
        assert r.sessions["median.step_length_m"].notna().all()
        assert r.manifest["parameters"]["speed_mps"] == 3.0


# ---------------------------------------------------------------------------------------
# batch: parameter errors
# ---------------------------------------------------------------------------------------
class TestBatchExceptions:
    @pytest.mark.parametrize(
        "kwargs, message",
        [
            ({"fmt": "xml"}, "parameter 'fmt': invalid value; expected one of 'parquet', 'csv', found 'xml'"),
            ({"workers": 0}, "parameter 'workers': invalid value; expected an integer >= 1, found 0"),
            ({"workers": 1.5}, "parameter 'workers': invalid value; expected an integer >= 1, found 1.5"),
            (
                {"workers": 2, "scheduler": "tcp://x:1"},
                "parameter 'workers': conflicting parameters; expected either workers (this machine) or scheduler "
                "(a Dask cluster), found workers=2 and scheduler='tcp://x:1'",
            ),
            (
                {"scheduler": " "},
                "parameter 'scheduler': invalid value; expected a scheduler address such as 'tcp://host:8786', found ' '",
            ),
            (
                {"speed_mps": -1},
                "parameter 'speed_mps': running speed out of range; expected a speed in m/s between 0 and 12 "
                "(exclusive; 3.5 m/s is 12.6 km/h), found -1. A speed is a positive number (the treadmill's or the "
                "GPS's speed)",
            ),
            (
                {"speed_mps": 15},
                "parameter 'speed_mps': running speed out of range; expected a speed in m/s between 0 and 12 "
                "(exclusive; 3.5 m/s is 12.6 km/h), found 15. 15 looks like km/h: 15 km/h is 4.17 m/s, so pass "
                "speed_mps=4.17",
            ),
        ],
    )
    def test_parameters(self, tmp_path, inputs_master, kwargs, message):
        with pytest.raises(GaitInputError, match=re.escape(message) + "$"):
            gait.batch(inputs_master, out=tmp_path / "out", **kwargs)
        assert not (tmp_path / "out").exists()

    def test_inputs(self, tmp_path):
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{tmp_path / 'nope'}: input not found; expected an existing file or folder, found nothing"
            ),
        ):
            gait.batch(tmp_path / "nope", out=tmp_path / "out")
        with pytest.raises(
            GaitInputError,
            match=re.escape("parameter 'inputs': no input; expected at least one file, folder or pattern, found none"),
        ):
            gait.batch([], out=tmp_path / "out")

    def test_calibration_dir_missing(self, tmp_path, inputs_master):
        p = tmp_path / "store"
        msg = f"{p}: calibration store not found; expected a folder written by 'gait calibrate', found no folder at this path"
        with pytest.raises(GaitInputError, match=re.escape(msg) + "$"):
            gait.batch(inputs_master, out=tmp_path / "out", calibration_dir=p)

    def test_out_is_a_file_or_foreign(self, tmp_path, inputs_master):
        f = tmp_path / "file"
        f.write_text("x")
        with pytest.raises(
            GaitInputError, match=re.escape(f"{f}: not a folder; expected an output folder, found a file")
        ):
            gait.batch(inputs_master, out=f)
        d = tmp_path / "docs"
        d.mkdir()
        (d / "notes.txt").write_text("mine")
        msg = (
            f"{d}: not a batch output folder; expected an empty folder or the output of an earlier gait batch, found "
            "other files: notes.txt. Choose a new folder: the batch removes outdated results from its output folder"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg) + "$"):
            gait.batch(inputs_master, out=d)
        assert (d / "notes.txt").read_text() == "mine" and sorted(p.name for p in d.iterdir()) == ["notes.txt"]

    def test_folder_in_use(self, tmp_path, inputs_master):
        import fcntl

        out = tmp_path / "out"
        out.mkdir()
        with open(out / ".lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            msg = f"{out}: output folder in use; expected no other batch writing to it, found a lock held by another process"
            with pytest.raises(GaitInputError, match=re.escape(msg) + "$"):
                gait.batch(inputs_master, out=out, workers=1)

    def test_unreachable_scheduler(self, tmp_path, inputs_master, monkeypatch):
        monkeypatch.setattr(dask_mod, "DASK_CONNECT_TIMEOUT_S", 0.5)
        msg = "parameter 'scheduler': cannot connect to the Dask scheduler; expected a running scheduler at tcp://127.0.0.1:9, found "
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            gait.batch(inputs_master, out=tmp_path / "out", scheduler="tcp://127.0.0.1:9")

    def test_read_table(self, tmp_path, reference):
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                "parameter 'name': invalid value; expected one of 'steps', 'minutes', 'sessions', 'findings', 'errors', found 'foo'"
            ),
        ):
            read_table(reference.out, "foo")
        with pytest.raises(
            GaitInputError,
            match=re.escape(f"{tmp_path}: not a batch output folder; expected a folder with manifest.json, found none"),
        ):
            read_table(tmp_path, "steps")


# ---------------------------------------------------------------------------------------
# failures never stop a batch
# ---------------------------------------------------------------------------------------
class TestFailures:
    def test_bad_file_among_good_ones(self, inputs, tmp_path):
        (inputs / "bad.csv").write_text(BAD_CSV)
        r = gait.batch(inputs, out=tmp_path / "out", workers=1)
        assert not r.ok and r.failed == 1 and r.analysed == 4 and len(r.sessions) == N_SESSIONS
        (e, skipped) = r.errors.itertuples(index=False)  # failures first, then files that are no session
        assert skipped.kind == "skipped" and skipped.source.endswith("participants.csv")
        assert e.source == str(inputs / "bad.csv") and e.stage == "read" and e.kind == "input"
        assert (
            e.message == f"{inputs / 'bad.csv'}, line 3, column 'acc_z_mps2': not a number; expected a decimal number "
            "(digits 0-9, '.', optional exponent), found 'nine'"
        )
        assert pd.isna(e.session_index) and e.traceback == ""
        assert pd.read_parquet(tmp_path / "out" / "errors.parquet")["message"].tolist() == [e.message, skipped.message]
        entry = next(i for i in r.manifest["inputs"] if i["source"].endswith("bad.csv"))
        assert entry["status"] == "failed"

    def test_every_file_that_cannot_be_analysed_is_a_row(self, tmp_path):
        """Unreadable files of a searched folder are failures with the reader's message; files
        of another kind are rows too (kind 'skipped'), which do not fail the batch."""
        d = tmp_path / "in"
        d.mkdir()
        (d / "garbage.csv").write_bytes(bytes(range(256)) * 8)
        (d / "utf16.csv").write_text("# gait-session: 1\nt_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n", "utf-16")
        (d / "corrupt.zip").write_bytes(b"PK\x03\x04" + b"\xff" * 100)
        with zipfile.ZipFile(d / "photos.zip", "w") as z:
            z.writestr("a.txt", "not an export")
        (d / "participants.csv").write_text("id,age\n1,30\n")
        r = gait.batch(d, out=tmp_path / "out", workers=1)
        assert not r.ok and r.failed == 3 and len(r.sessions) == 0
        rows = {Path(e.source).name: (e.kind, e.stage, e.message) for e in r.errors.itertuples(index=False)}
        assert rows == {
            "corrupt.zip": (
                "input",
                "read",
                f"{d / 'corrupt.zip'}: damaged zip archive; expected a phyphox or Sensor Logger export (a zip of "
                "their CSV files), found an archive that cannot be opened",
            ),
            "garbage.csv": (
                "input",
                "read",
                f"{d / 'garbage.csv'}: not a text file; expected a UTF-8 CSV text file, found binary data (a NUL "
                "byte at offset 0)",
            ),
            "utf16.csv": (
                "input",
                "read",
                f"{d / 'utf16.csv'}: not a text file; expected a UTF-8 CSV text file, found binary data (a NUL "
                "byte at offset 3)",
            ),
            "participants.csv": (
                "skipped",
                "discover",
                f"{d / 'participants.csv'}: not taken as a session: a CSV table without a time column (t_s, t_ms, "
                "t_us, t_ns): id, age",
            ),
            "photos.zip": (
                "skipped",
                "discover",
                f"{d / 'photos.zip'}: not taken as a session: a zip archive that is no supported export (phyphox, "
                "Sensor Logger)",
            ),
        }
        assert list(r.errors["kind"])[-2:] == ["skipped", "skipped"]  # failures first
        assert r.manifest["counts"]["skipped_files"] == 2 and r.manifest["counts"]["failed"] == 3

    def test_bug_is_recorded_with_traceback(self, inputs, tmp_path, monkeypatch):
        real = gait.core.pipeline.analyze

        def buggy(session, **kw):
            if session.meta.device_id == "sim-12":  # run_b.parquet
                return 1 / 0
            return real(session, **kw)

        monkeypatch.setattr(gait.core.pipeline, "analyze", buggy)
        r = gait.batch(inputs, out=tmp_path / "out", workers=1)
        (e, _) = r.errors.itertuples(index=False)
        assert (e.kind, e.stage, e.error_type, e.message) == ("bug", "analyze", "ZeroDivisionError", "division by zero")
        assert e.session_index == 0 and e.session_id == session_id(e.input_sha256, 0)
        assert e.traceback.startswith("Traceback") and "in buggy" in e.traceback and "ZeroDivisionError" in e.traceback
        assert len(r.sessions) == N_SESSIONS - 1 and not r.sessions["source"].str.endswith("run_b.parquet").any()
        # the failed session leaves no table behind, and its source is retried by the next run
        assert set(r.steps["session_id"]) == set(r.sessions["session_id"])
        monkeypatch.setattr(gait.core.pipeline, "analyze", real)
        r2 = gait.batch(inputs, out=tmp_path / "out", workers=1)
        assert r2.ok and r2.analysed == 1 and r2.skipped == 3 and len(r2.sessions) == N_SESSIONS

    def test_one_bad_trial_of_a_dataset(self, inputs, tmp_path, monkeypatch):
        real = gait.core.pipeline.analyze

        def picky(session, **kw):
            if session.meta.extra.get("trial") == 2:
                raise GaitInputError("no running found", expected="running", found="nothing")
            return real(session, **kw)

        monkeypatch.setattr(gait.core.pipeline, "analyze", picky)
        r = gait.batch(inputs / "sub" / "dataset", out=tmp_path / "out", workers=1)
        assert r.failed == 1 and len(r.sessions) == 1
        (e,) = r.errors.itertuples(index=False)
        assert (e.kind, e.stage, e.session_index, e.message) == (
            "input",
            "analyze",
            1,
            "input: no running found; expected running, found nothing",
        )


# ---------------------------------------------------------------------------------------
# resumability
# ---------------------------------------------------------------------------------------
def _mtimes(out: Path) -> dict[str, int]:
    return {str(p.relative_to(out)): p.stat().st_mtime_ns for p in out.glob("*/bucket=*/*")}


class TestResume:
    def test_second_run_skips_and_force_recomputes(self, inputs, tmp_path):
        out = tmp_path / "out"
        r1 = gait.batch(inputs, out=out, workers=1)
        before = _mtimes(out)
        r2 = gait.batch(inputs, out=out, workers=1)
        assert (r2.analysed, r2.skipped) == (0, 4) and r2.timings.empty
        assert _mtimes(out) == before
        pd.testing.assert_frame_equal(r2.sessions, r1.sessions)
        pd.testing.assert_frame_equal(r2.findings, r1.findings)
        r3 = gait.batch(inputs, out=out, workers=1, force=True)
        assert (r3.analysed, r3.skipped) == (4, 0)
        assert all(_mtimes(out)[k] > before[k] for k in before)
        pd.testing.assert_frame_equal(r3.sessions, r1.sessions)

    def test_changed_input_or_parameters_recompute(self, inputs, tmp_path):
        out = tmp_path / "out"
        gait.batch(inputs, out=out, workers=1)
        gait.save_session(gait.simulate(duration_s=20, seed=99).session, inputs / "run_a.csv.gz", decimals=4)
        r = gait.batch(inputs, out=out, workers=1)
        assert (r.analysed, r.skipped) == (1, 3)
        assert set(r.steps["session_id"]) == set(r.sessions["session_id"])  # the old run_a is gone
        r = gait.batch(inputs, out=out, workers=1, speed_mps=3.2)
        assert (r.analysed, r.skipped) == (4, 0)

    def test_one_task_left_starts_no_pool(self, inputs, tmp_path, monkeypatch):
        import concurrent.futures

        out = tmp_path / "out"
        gait.batch(inputs, out=out, workers=1)
        (inputs / "bad.csv").write_text(BAD_CSV)

        def no_pool(*a, **k):
            raise AssertionError("a process pool was started for one task")

        monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
        r = gait.batch(inputs, out=out, workers=2)
        assert (r.analysed, r.skipped, r.failed) == (0, 4, 1)

    def test_moved_file_is_still_done(self, inputs, tmp_path):
        out = tmp_path / "out"
        r1 = gait.batch(inputs, out=out, workers=1)
        (inputs / "run_a.csv.gz").rename(inputs / "sub" / "renamed.csv.gz")
        r2 = gait.batch(inputs, out=out, workers=1)
        assert (r2.analysed, r2.skipped) == (0, 4)
        moved = r2.sessions[r2.sessions["source"] == str(inputs / "sub" / "renamed.csv.gz")]
        before = r1.sessions[r1.sessions["source"] == str(inputs / "run_a.csv.gz")]
        assert moved["session_id"].tolist() == before["session_id"].tolist() and len(moved) == 1

    def test_interrupted_batch_is_not_taken_as_done(self, inputs, tmp_path, monkeypatch):
        out = tmp_path / "out"
        real = task_mod.write_bytes_atomic
        calls = []

        def killed_at_third_file(path, data):
            calls.append(path)
            if len(calls) == 5:  # run_a done (steps, minutes, marker); run_b's steps on disk, not its minutes
                raise KeyboardInterrupt
            real(path, data)

        monkeypatch.setattr(task_mod, "write_bytes_atomic", killed_at_third_file)
        with pytest.raises(KeyboardInterrupt):
            gait.batch(inputs, out=out, workers=1)
        monkeypatch.setattr(task_mod, "write_bytes_atomic", real)
        assert len(list((out / "_done").glob("*.json"))) == 1 and len(list(out.glob("steps/bucket=*/*"))) == 2
        (out / "steps" / "bucket=000").mkdir(parents=True, exist_ok=True)
        (out / "steps" / "bucket=000" / ".0000000000000000.parquet.x.tmp").write_bytes(b"half")
        r = gait.batch(inputs, out=out, workers=1)
        assert r.ok and (r.analysed, r.skipped) == (3, 1)
        assert not list(out.rglob("*.tmp"))
        assert sorted(set(r.steps["session_id"])) == sorted(r.sessions["session_id"])

    def test_marker_cut_off_or_table_missing(self, inputs, tmp_path):
        out = tmp_path / "out"
        r = gait.batch(inputs, out=out, workers=1)
        markers = sorted((out / "_done").glob("*.json"))
        assert len(markers) == 4
        markers[0].write_text(markers[0].read_text()[:50])
        next(out.glob("minutes/bucket=*/*.parquet")).unlink()
        r = gait.batch(inputs, out=out, workers=1)
        assert r.ok and 1 <= r.analysed <= 2 and r.analysed + r.skipped == 4
        assert len(list(out.glob("minutes/bucket=*/*.parquet"))) == N_SESSIONS

    def test_outdated_results_are_removed(self, inputs, tmp_path):
        out = tmp_path / "out"
        gait.batch(inputs, out=out, workers=1)
        r = gait.batch(inputs / "run_a.csv.gz", out=out, workers=1)
        assert r.skipped == 1 and len(r.sessions) == 1
        assert len(list(out.glob("steps/bucket=*/*"))) == 1 and len(list((out / "_done").iterdir())) == 1
        assert r.manifest["counts"]["outdated_files_removed"] == 2 * (N_SESSIONS - 1)


# ---------------------------------------------------------------------------------------
# calibration: never implicit
# ---------------------------------------------------------------------------------------
def test_stored_calibration_only_when_asked(inputs, tmp_path, monkeypatch):
    from calibration import CalibrationStore, GyroBiasCalibration

    store = tmp_path / "store"
    CalibrationStore(store).save(
        "sim-11", GyroBiasCalibration(bias_rads=(0.01, 0, 0), noise_rads=(0.003,) * 3, duration_s=9.0, n_samples=1800)
    )
    monkeypatch.setenv("GAIT_CALIBRATION_DIR", str(store))  # the user's default store
    r = gait.batch(inputs / "run_a.csv.gz", out=tmp_path / "out", workers=1)
    assert r.sessions["calibration"].isna().all()
    r = gait.batch(inputs / "run_a.csv.gz", out=tmp_path / "out", workers=1, calibration_dir=store)
    assert r.analysed == 1  # another store is another result
    cal = CalibrationStore(store).current("sim-11")
    assert r.sessions["calibration"].tolist() == [cal.id]
    assert r.manifest["parameters"]["calibration_dir"] == str(store)


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
class TestCli:
    def test_ok(self, inputs, tmp_path, capsys):
        out = tmp_path / "out"
        assert main(["batch", str(inputs), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        text = capsys.readouterr().out
        assert f"{N_SESSIONS} sessions from 4 sources: 4 analysed now, 0 already done, 0 failed" in text
        assert (
            "1 file in the folders not taken as sessions (no time column, or a zip of something else); listed in "
            "errors.parquet (kind 'skipped') and manifest.json"
        ) in text
        m = json.loads((out / "manifest.json").read_text())
        assert m["command"] == [
            "gait",
            "batch",
            str(inputs),
            "--out",
            str(out),
            "--format",
            "parquet",
            "--workers",
            "1",
        ]
        assert main(["batch", str(inputs), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        assert "0 analysed now, 4 already done, 0 failed" in capsys.readouterr().out

    def test_failure_exit_1(self, inputs, tmp_path, capsys):
        (inputs / "bad.csv").write_text(BAD_CSV)
        assert main(["batch", str(inputs), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"]) == 1
        text = capsys.readouterr().out
        assert "4 analysed now, 0 already done, 1 failed" in text
        assert f"  {inputs / 'bad.csv'}: {inputs / 'bad.csv'}, line 3, column 'acc_z_mps2': not a number" in text
        assert "re-run the same command to retry the failed sources" in text

    def test_input_error_exit_2(self, tmp_path, capsys):
        assert main(["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert (
            err == f"error: {tmp_path / 'nope'}: input not found; expected an existing file or folder, found nothing\n"
        )

    def test_csv_format(self, inputs, tmp_path, capsys):
        out = tmp_path / "out"
        assert (
            main(
                [
                    "batch",
                    str(inputs / "run_a.csv.gz"),
                    str(inputs / "sub"),
                    "--out",
                    str(out),
                    "--workers",
                    "1",
                    "--format",
                    "csv",
                    "--quiet",
                ]
            )
            == 0
        )
        assert "sessions.csv" in capsys.readouterr().out
        assert len(list(out.glob("steps/bucket=*/*.csv"))) == 4 and not list(out.glob("**/*.parquet"))
        steps = read_table(out, "steps")
        assert steps["valid"].dtype == bool and steps["side"].notna().all() and len(steps) > 100
        sessions = pd.read_csv(out / "sessions.csv")
        assert set(steps["session_id"]) == set(sessions["session_id"]) and len(sessions) == 4
        # switching format replaces the outputs
        assert main(["batch", str(inputs / "run_a.csv.gz"), "--out", str(out), "--workers", "1", "--quiet"]) == 0
        assert not list(out.glob("**/*.csv")) and len(list(out.glob("steps/bucket=*/*.parquet"))) == 1
