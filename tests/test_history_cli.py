"""``gait history`` end to end through ``gait.cli.main`` on a history filled by analysing short
simulated runs dated over six weeks (cadence raised by 10 spm from 1 March, new shoes), the
rule that sample, simulated and test sessions stay out of the personal history, and the trends
page in headless Chromium."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from gait.cli import main
from gait.history import HistoryStore
from gait.io import save_session
from gait.simulator import Form, SimulationConfig, simulate
from tests.test_report import NETWORK, _render

REPO = Path(__file__).resolve().parents[1]
TZ = timezone(timedelta(hours=1))
T0 = datetime(2024, 2, 5, 7, 0, tzinfo=TZ)  # a Monday
CHANGE = date(2024, 3, 1)
#: Run-to-run variation of the simulated runner's cadence (spm), fixed so the tests are exact.
OFFSETS = (0.8, -0.6, 1.2, -1.0, 0.3, -0.9, 0.7, -0.4, 0.9, -0.7, 0.4, -0.8)


def _config(k: int) -> tuple[datetime, float, SimulationConfig]:
    start = T0 + timedelta(days=3.5 * k)
    cadence = (164.0 if start.date() < CHANGE else 174.0) + OFFSETS[k]
    cfg = SimulationConfig(
        duration_s=75.0,
        sampling_rate_hz=100.0,
        seed=500 + k,
        standing_before_s=4.0,
        walking_before_s=4.0,
        walking_after_s=2.0,
        standing_after_s=2.0,
        warmup_s=0.0,
        form=Form(cadence_spm=cadence),
        shoes="Pegasus" if start.date() < CHANGE else "Novablast",
    )
    return start, cadence, cfg


def _write(folder: Path, name: str, session, *, start: datetime | None, **meta) -> Path:
    m = dataclasses.replace(session.meta, start_time=None if start is None else start.isoformat(), **meta)
    return save_session(dataclasses.replace(session, meta=m), folder / name)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory) -> tuple[Path, list[float]]:
    """12 recordings, two a week from Monday 5 February 2024, each with its start time."""
    folder = tmp_path_factory.mktemp("runs")
    cadences = []
    for k in range(12):
        start, cadence, cfg = _config(k)
        _write(folder, f"run{k:02d}.parquet", simulate(cfg).session, start=start)
        cadences.append(cadence)
    return folder, cadences


@pytest.fixture(scope="module")
def filled_db(recordings, tmp_path_factory) -> Path:
    """The history after ``gait analyze --store-history`` of every recording, in date order."""
    folder, _ = recordings
    db = tmp_path_factory.mktemp("db") / "history.sqlite"
    for f in sorted(folder.glob("*.parquet")):
        assert main(["analyze", str(f), "--history-db", str(db), "--store-history"]) == 0
    return db


@pytest.fixture
def db(filled_db, tmp_path) -> Path:
    """A private copy of the filled history (tests may change it)."""
    copy = tmp_path / "history.sqlite"
    shutil.copy(filled_db, copy)
    return copy


@pytest.fixture(autouse=True)
def _wide(monkeypatch):
    monkeypatch.setenv("COLUMNS", "220")


def _json(capsys, args: list[str]) -> dict:
    capsys.readouterr()
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)


def _text(capsys, args: list[str], code: int = 0) -> str:
    capsys.readouterr()
    assert main(args) == code
    out = capsys.readouterr()
    return " ".join((out.out + out.err).split())


# ---------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------
def test_list(db, recordings, capsys):
    _, cadences = recordings
    doc = _json(capsys, ["history", "list", "--history-db", str(db), "--json"])
    assert doc["schema"] == "gait-lumbar-history" and doc["database_layout"] == 2
    runs = doc["runs"]
    assert [r["id"] for r in runs] == list(range(1, 13))
    assert [datetime.fromisoformat(r["started_at"]) for r in runs] == [_config(k)[0] for k in range(12)]
    assert {r["date_source"] for r in runs} == {"session start time"}
    assert [r["shoes"] for r in runs] == ["Pegasus"] * 8 + ["Novablast"] * 4
    got = np.array([r["metrics"]["median.cadence_spm"] for r in runs])
    assert np.abs(got - np.array(cadences)).max() < 0.5  # each run's median cadence, against the truth
    assert all(isinstance(r["findings"], list) for r in runs) and all(r["running_steps"] > 150 for r in runs)
    assert all(r["device"] == "simulator" and r["tool_version"] for r in runs)

    text = _text(capsys, ["history", "list", "--history-db", str(db), "--since", "2024-03-01"])
    assert "Runs from 2024-03-01 (4;" in text and "2024-03-04 07:00" in text and "2024-02-29" not in text
    assert "cadence (spm)" in text and "contact time (ms)" in text and "Novablast" in text
    assert "4 runs, 0.1 h of running" in text
    text = _text(capsys, ["history", "list", "--history-db", str(db), "--until", "2024-02-08", "--metric", "rotation"])
    assert "rotation (yaw) range (deg)" in text and "cadence (spm)" not in text and "(2;" in text


def test_list_errors_and_empty(tmp_path, capsys, db):
    missing = tmp_path / "none" / "h.sqlite"
    text = _text(capsys, ["history", "list", "--history-db", str(missing)])
    assert "no run history yet" in text and not missing.exists()  # a read never creates a database
    text = _text(capsys, ["history", "list", "--history-db", str(db), "--since", "1 March"], code=2)
    assert "parameter '--since': not a date; expected a date YYYY-MM-DD, found '1 March'" in text
    text = _text(
        capsys, ["history", "list", "--history-db", str(db), "--since", "2024-03-02", "--until", "2024-03-01"], 2
    )
    assert "empty period" in text
    text = _text(capsys, ["history", "list", "--history-db", str(db), "--metric", "speediness"], code=2)
    assert "unknown metric" in text and "cadence, contact_time" in text
    foreign = tmp_path / "photos.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE photos (id)")
    con.commit()
    con.close()
    text = _text(capsys, ["history", "list", "--history-db", str(foreign)], code=1)
    assert "error: history:" in text and "another program" in text


# ---------------------------------------------------------------------------------------
# trend
# ---------------------------------------------------------------------------------------
def test_trend(db, recordings, capsys, tmp_path):
    _, cadences = recordings
    args = ["history", "trend", "cadence", "lean", "--history-db", str(db), "--baseline-until", "2024-02-29"]
    doc = _json(capsys, [*args, "--json"])
    cad, lean = doc["trends"]
    assert cad["metric"] == "cadence" and lean["metric"] == "lean"
    values = [r["value"] for r in cad["runs"]]
    assert cad["baseline"] == pytest.approx(float(np.median(values[:8])))
    assert abs(cad["baseline"] - np.median(cadences[:8])) < 0.5
    diffs = np.abs(np.diff(values[:8]))
    assert cad["noise_sd"] == pytest.approx(1.482602218505602 * np.median(diffs) / np.sqrt(2))
    assert 0.5 < cad["noise_sd"] < 2.5  # the runner's own run-to-run variation (OFFSETS)
    assert [w["week_start"] for w in cad["weeks"]] == [
        (date(2024, 2, 5) + timedelta(weeks=k)).isoformat() for k in range(6)
    ]
    assert [w["runs"] for w in cad["weeks"]] == [2] * 6
    assert [w["flag"] for w in cad["weeks"]] == ["within"] * 4 + ["higher"] * 2  # the change of 1 March
    assert doc["baseline_period"] == "the start to 2024-02-29"

    html = tmp_path / "trends.html"
    text = _text(capsys, [*args, "--html", str(html)])
    assert "Cadence (12 runs, 2024-02-05 to 2024-03-14)" in text
    assert "baseline 164 spm (median of 8 runs of the start to 2024-02-29)" in text
    assert "higher" in text and "within" in text and "weekly means:" in text
    assert f"wrote {html}" in text and "1.4826 x the median absolute difference" in text
    page = html.read_text(encoding="utf-8")
    assert not NETWORK.search(page) and "default-src 'none'" in page
    assert page.count("<svg") == 2 and "See a clinician" in page and "does not diagnose" in page
    assert "Pegasus" in page and "Novablast" in page  # runs coloured by shoes


def test_trend_with_too_few_runs(db, capsys):
    text = _text(capsys, ["history", "trend", "cadence", "--history-db", str(db), "--until", "2024-02-08"])
    assert "no usual range: the band needs at least 4 runs with cadence in the baseline period (found 2)" in text
    text = _text(capsys, ["history", "trend", "--history-db", str(db), "cadance"], code=2)
    assert "unknown metric" in text and "'cadance'" in text


@pytest.mark.browser
def test_trends_page_renders_in_chromium(db, capsys, tmp_path):
    html = tmp_path / "trends.html"
    metrics = ["cadence", "contact_time", "oscillation", "lean"]
    assert main(["history", "trend", *metrics, "--history-db", str(db), "--html", str(html)]) == 0
    png = tmp_path / "trends.png"
    log = _render(html, png, height=2400)
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console  # no script errors, no blocked (network) requests
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[1] == 1200
    dark = (img[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.01 < dark < 0.5, f"page looks empty ({dark:.3%} dark pixels)"
    assert html.read_text(encoding="utf-8").count("<svg") == len(metrics)


# ---------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------
def test_compare_periods(db, capsys):
    doc = _json(capsys, ["history", "compare", "--before", "2024-03-01", "--history-db", str(db), "--json"])
    assert doc["comparison"] == "periods" and doc["a"] == "before 2024-03-01 (8 runs)"
    m = {d["metric"]: d for d in doc["metrics"]}
    cad = m["cadence"]
    assert cad["n_a"] == 8 and cad["n_b"] == 4
    assert cad["difference"] == pytest.approx(10.0 + np.mean(OFFSETS[8:]) - np.mean(OFFSETS[:8]), abs=0.5)
    # exact test: of the 495 ways to split 12 runs into 8 and 4, only the observed one is as extreme
    assert cad["beyond_noise"] is True and cad["p"] == pytest.approx(1 / 495)
    assert m["lean"]["beyond_noise"] is False and m["rotation"]["beyond_noise"] is False
    assert "permutation test" in doc["method"] and "Holm" in doc["method"]
    # one metric only: no adjustment for the others
    doc = _json(
        capsys,
        ["history", "compare", "--before", "2024-03-01", "--after", "2024-03-05", "--metric", "cadence",
         "--history-db", str(db), "--json"],
    )  # fmt: skip
    (only,) = doc["metrics"]
    assert only["n_b"] == 3 and only["p_adjusted"] == only["p"]
    text = _text(capsys, ["history", "compare", "--before", "2024-03-01", "--history-db", str(db)])
    assert "A: before 2024-03-01 (8 runs) -> B: from 2024-03-01 (4 runs)" in text
    assert "beyond noise" in text and "within noise" in text and "metrics changed beyond the run-to-run noise" in text


def test_compare_two_runs(db, capsys):
    doc = _json(capsys, ["history", "compare", "2", "2024-03-14", "--history-db", str(db), "--json"])
    assert doc["comparison"] == "runs" and doc["a"].startswith("run 2 (2024-02-08 19:00")
    assert doc["b"].startswith("run 12 (2024-03-14")
    m = {d["metric"]: d for d in doc["metrics"]}
    cad = m["cadence"]
    assert cad["difference"] == pytest.approx(10.0 + OFFSETS[11] - OFFSETS[1], abs=0.5)
    assert cad["n_a"] == cad["n_b"] == 1 and cad["p"] < 0.01
    assert m["lean"]["beyond_noise"] is False and m["pelvic_drop"]["beyond_noise"] is False
    # one pair of runs, twenty metrics: the adjustment is large; asked about cadence alone, it is clear
    doc = _json(capsys, ["history", "compare", "2", "12", "--metric", "cadence", "--history-db", str(db), "--json"])
    (cad,) = doc["metrics"]
    assert cad["beyond_noise"] is True and cad["p_adjusted"] == cad["p"] < 0.01
    assert "other runs" in doc["method"]
    doc = _json(capsys, ["history", "compare", "1", "3", "--metric", "cadence", "--history-db", str(db), "--json"])
    (same,) = doc["metrics"]  # two runs before the change: the difference is run-to-run variation
    assert abs(same["difference"]) < 1.0 and same["beyond_noise"] is False


def test_compare_errors(db, capsys):
    text = _text(capsys, ["history", "compare", "1", "--history-db", str(db)], code=2)
    assert "nothing to compare" in text
    text = _text(capsys, ["history", "compare", "1", "2", "--before", "2024-03-01", "--history-db", str(db)], code=2)
    assert "two kinds of comparison at once" in text
    text = _text(capsys, ["history", "compare", "1", "99", "--history-db", str(db)], code=2)
    assert "parameter 'RUN_B': no run matches" in text
    text = _text(
        capsys, ["history", "compare", "--before", "2024-03-05", "--after", "2024-03-01", "--history-db", str(db)], 2
    )
    assert "overlapping periods" in text


# ---------------------------------------------------------------------------------------
# edit, delete
# ---------------------------------------------------------------------------------------
def test_edit(db, capsys):
    text = _text(capsys, ["history", "edit", "3", "--shoes", "Trail 2", "--note", "icy road", "--history-db", str(db)])
    assert "run 3: shoes Pegasus -> Trail 2; note '-' -> 'icy road'" in text
    text = _text(capsys, ["history", "edit", "#3", "--date", "2024-02-13", "--history-db", str(db)])
    assert "date 2024-02-12 07:00 -> 2024-02-13 07:00 (set by hand)" in text
    text = _text(capsys, ["history", "edit", "3", "--date", "2024-02-13T18:15+01:00", "--history-db", str(db)])
    with HistoryStore(db) as st:
        run = st.get_id(3)
    assert run.started_at == datetime(2024, 2, 13, 18, 15, tzinfo=TZ) and run.date_source == "set by hand"
    assert run.shoes == "Trail 2" and run.note == "icy road"
    text = _text(capsys, ["history", "list", "--history-db", str(db)])
    assert "2024-02-13 18:15*" in text and "* date not from the recording's start time (set by hand)" in text
    assert "note, run 3: icy road" in text
    _text(capsys, ["history", "edit", "3", "--shoes", "", "--history-db", str(db)])
    with HistoryStore(db) as st:
        assert st.get_id(3).shoes is None
    text = _text(capsys, ["history", "edit", "3", "--history-db", str(db)], code=2)
    assert "nothing to change" in text
    text = _text(capsys, ["history", "edit", "2024-02-26", "--date", "26/02", "--history-db", str(db)], code=2)
    assert "parameter '--date': not a date" in text


class _Tty:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer + "\n"


def test_delete(db, capsys, monkeypatch):
    text = _text(capsys, ["history", "delete", "5", "--history-db", str(db)], code=2)
    assert "not confirmed" in text and "--yes" in text  # no terminal to ask on: nothing deleted
    monkeypatch.setattr("sys.stdin", _Tty("n"))
    assert "nothing deleted" in _text(capsys, ["history", "delete", "5", "--history-db", str(db)])
    monkeypatch.setattr("sys.stdin", _Tty("y"))
    text = _text(capsys, ["history", "delete", "5", "2024-03-04", "--history-db", str(db)])
    assert "deleted 2 run(s): run 5 (2024-02-19 07:00" in text and "run 9 (2024-03-04 07:00" in text
    text = _text(capsys, ["history", "delete", "6", "--yes", "--history-db", str(db)])
    assert "deleted 1 run(s)" in text
    with HistoryStore(db) as st:
        assert [r.run_id for r in st.runs()] == [1, 2, 3, 4, 7, 8, 10, 11, 12]
    text = _text(capsys, ["history", "delete", "5", "--yes", "--history-db", str(db)], code=2)
    assert "no run matches" in text


# ---------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------
def test_import(recordings, tmp_path, capsys):
    folder, _ = recordings
    past = tmp_path / "past"
    (past / "2024").mkdir(parents=True)
    # names in reverse date order: the import still stores them oldest first
    for k, name in ((3, "c.parquet"), (1, "b.parquet"), (0, "2024/a.parquet")):
        shutil.copy(folder / f"run{k:02d}.parquet", past / name)
    start, _, cfg = _config(5)
    sim = simulate(cfg).session
    undated = _write(past, "undated.csv.gz", sim, start=None)
    os.utime(undated, (start.timestamp(), start.timestamp()))
    short = simulate(dataclasses.replace(cfg, duration_s=20.0, seed=77)).session
    _write(past, "trial.parquet", short, start=start + timedelta(hours=2))
    (past / "participants.csv").write_text("name,age\nA,30\n")
    db = tmp_path / "h.sqlite"

    text = _text(capsys, ["history", "import", str(past), "--history-db", str(db)])
    assert "0 imported, 6 skipped, 0 failed" in text  # simulated sessions stay out unless asked
    assert "a simulated session (device 'simulator') (--include-simulated stores it)" in text
    assert "a CSV table without a time column" in text

    text = _text(capsys, ["history", "import", str(past), "--history-db", str(db), "--include-simulated"])
    assert "3 imported" in text and "0 failed" in text
    assert "no start time: its date is unknown (--file-time dates it by the file)" in text
    assert "under 1 min of running: not a run" in text
    with HistoryStore(db) as st:
        runs = st.runs()
    assert [r.started_at for r in runs] == [_config(k)[0] for k in (0, 1, 3)]
    assert [r.run_id for r in runs] == [1, 2, 3] and all(r.findings is not None for r in runs)
    assert [Path(r.source).name for r in runs] == ["a.parquet", "b.parquet", "c.parquet"]

    text = _text(
        capsys, ["history", "import", str(past), "--history-db", str(db), "--include-simulated", "--file-time"]
    )
    assert "1 imported" in text and "already in the history (run 1)" in text
    with HistoryStore(db) as st:
        new = st.get_id(4)
    assert new.date_source == "file time" and new.started_at.timestamp() == start.timestamp()
    assert "(file time)" in text


def test_import_errors(tmp_path, capsys):
    text = _text(capsys, ["history", "import", str(tmp_path / "nowhere"), "--history-db", str(tmp_path / "h")], 2)
    assert "input not found" in text
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.csv").write_text("t_s,acc_x_mps2\n0,1\n")
    text = _text(capsys, ["history", "import", str(bad), "--history-db", str(tmp_path / "h.sqlite")], code=1)
    assert "failed" in text and "broken.csv" in text and "0 imported, 0 skipped, 1 failed" in text


# ---------------------------------------------------------------------------------------
# no pollution: sample, simulated and test sessions; the date of a run
# ---------------------------------------------------------------------------------------
SAMPLE = REPO / "sample_data" / "easy_run.csv.gz"


def test_the_readme_first_command_leaves_the_history_untouched(tmp_path, capsys):
    db = Path(os.environ["GAIT_HISTORY_DB"])  # the default database of this test (conftest)
    assert not db.exists()
    text = _text(capsys, ["analyze", str(SAMPLE)])
    assert not db.exists()  # not even created
    assert "history: not used: this is a simulated session (device 'simulator')" in text
    assert "Training load jumps: cannot be assessed: not compared with your run history" in text


def test_a_sample_never_changes_an_existing_history(filled_db, tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    shutil.copy(filled_db, db)
    before = db.read_bytes()
    for sample in sorted((REPO / "sample_data").glob("*.csv.gz")):
        if ".truth." in sample.name:
            continue
        assert main(["analyze", str(sample), "--history-db", str(db), "--json", str(tmp_path / "r.json")]) == 0
        run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
        assert run["history"]["status"] == "off" and run["history"]["earlier_runs"] == 0
        assert run["history"]["run_id"] is None and run["history"]["date_source"] is None
    assert db.read_bytes() == before and not Path(f"{db}-wal").exists()


def test_store_history_stores_a_sample_and_says_how_it_is_dated(tmp_path, capsys):
    db = tmp_path / "h.sqlite"
    json_path = tmp_path / "r.json"
    text = _text(capsys, ["analyze", str(SAMPLE), "--history-db", str(db), "--store-history", "--json", str(json_path)])
    assert "run 1 stored in" in text
    assert "run dated" in text and "by the analysis time: the recording has no start time" in text
    assert "correct it with: gait history edit 1 --date YYYY-MM-DD" in text
    hist = json.loads(json_path.read_text())["runs"][0]["history"]
    assert hist["status"] == "used" and hist["run_id"] == 1 and hist["date_source"] == "analysis time"
    with HistoryStore(db) as st:
        (run,) = st.runs()
    assert run.date_source == "analysis time" and run.shoes == "Daily trainer"


def test_a_recording_is_dated_by_its_own_start_time(recordings, tmp_path, capsys):
    folder, _ = recordings
    src = tmp_path / "run.parquet"
    shutil.copy(folder / "run04.parquet", src)
    os.utime(src, (0, 0))  # a copied file's time says nothing about the run
    json_path, html_path = tmp_path / "r.json", tmp_path / "r.html"
    args = ["analyze", str(src), "--history-db", str(tmp_path / "h.sqlite"), "--store-history"]
    text = _text(capsys, [*args, "--json", str(json_path), "--html", str(html_path)])
    assert "run dated 2024-02-19 07:00 +0100 (from the recording's start time)" in text
    hist = json.loads(json_path.read_text())["runs"][0]["history"]
    assert hist["date_source"] == "session start time"
    assert datetime.fromisoformat(hist["started_at"]) == _config(4)[0]
    assert "from the recording&#x27;s start time" in html_path.read_text(encoding="utf-8")


def test_sessions_marked_as_tests_stay_out(recordings, tmp_path, capsys):
    folder, _ = recordings
    db = tmp_path / "h.sqlite"
    src = tmp_path / "bench.csv.gz"
    from gait.io import read_canonical_session

    s = read_canonical_session(folder / "run00.parquet")
    _write(tmp_path, "device.csv.gz", s, start=T0, device="WitMotion WT901BLE", device_id="AA:BB")
    with gzip.open(tmp_path / "device.csv.gz", "rt") as fh:
        lines = fh.read().splitlines()
    with gzip.open(src, "wt") as fh:
        fh.write("\n".join([lines[0], '# purpose: "test"', *lines[1:]]) + "\n")
    text = _text(capsys, ["analyze", str(src), "--history-db", str(db)])
    assert "not used: this is a session marked 'purpose: test'" in text and not db.exists()
    # the same recording without the mark is a personal run (a real device): stored
    text = _text(capsys, ["analyze", str(tmp_path / "device.csv.gz"), "--history-db", str(db)])
    assert "run 1 stored in" in text and "from the recording's start time" in text


def test_a_run_keyed_by_its_calibrated_samples_is_not_counted_twice(recordings, tmp_path, capsys):
    """Runs analysed with a device calibration used to be keyed by the calibrated samples; the
    key is now the samples as read. Such a run is re-keyed when analysed again, not added."""
    from calibration import CalibrationStore, GyroBiasCalibration, apply_calibration, load_calibration
    from gait.history import RunRecord, session_fingerprint
    from gait.io import read_canonical_session

    folder, _ = recordings
    raw = read_canonical_session(folder / "run02.parquet")
    device = raw.meta.device_id
    CalibrationStore().save(  # the default store of this test (conftest)
        device, GyroBiasCalibration(bias_rads=(0.01, 0, 0), noise_rads=(0.003,) * 3, duration_s=9.0, n_samples=900)
    )
    calibrated = apply_calibration(raw, load_calibration(device))
    old_key = session_fingerprint(calibrated)
    assert old_key != session_fingerprint(raw)
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as st:  # as an earlier version stored it
        st.add(RunRecord(old_key, _config(2)[0], "session start time", 80.0, 70.0, shoes="Pegasus", note="kept"))
    text = _text(capsys, ["analyze", str(folder / "run02.parquet"), "--history-db", str(db), "--store-history"])
    assert "calibration: applied" in text and "already in your history (run 1)" in text
    with HistoryStore(db) as st:
        (run,) = st.runs()
    assert run.content_hash == session_fingerprint(raw) and run.note == "kept" and run.run_id == 1
    text = _text(capsys, ["history", "import", str(folder), "--history-db", str(db), "--include-simulated"])
    assert "already in the history (run 1)" in text and "11 imported" in text
