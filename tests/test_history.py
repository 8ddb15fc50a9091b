"""The run history: storage, never losing runs (locked, corrupt, foreign databases), no double
counting, and the findings it drives (training load, shoes, personal baselines)."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gait.faults import assess
from gait.history import (
    APPLICATION_ID,
    ENV_DB,
    History,
    HistoryStore,
    HistoryUnavailable,
    RunRecord,
    default_history_path,
    record_and_load,
    run_record,
    session_fingerprint,
    session_start,
)
from tests import _fault_fixtures as fx

NOW = datetime(2024, 6, 1, 7, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def clean_analysis():
    return fx.clean_analysis()


def _run(key: str, days_ago: float, running_s: float = 1800.0, distance_m: float | None = 5000.0, **kw) -> RunRecord:
    return RunRecord(key, NOW - timedelta(days=days_ago), "given", running_s + 60, running_s, distance_m, **kw)


def _findings(analysis, runs, current, **kw):
    r = assess(analysis, history=History(tuple(sorted(runs, key=lambda r: r.started_at)), current), **kw)
    return {f.fault: f for f in r.findings}, {n.fault: n for n in r.notes}


# ---------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------
class TestStore:
    def test_add_read_and_no_double_counting(self, tmp_path):
        p = tmp_path / "sub" / "history.sqlite"
        with HistoryStore(p) as st:
            assert "started a new database" in st.messages[0]
            assert st.add(_run("a", 3, shoes=None)) is True
            assert st.add(_run("b", 1)) is True
            again = dataclasses.replace(_run("a", 0), shoes="Trail 2", metrics={"median.cadence_spm": 170.0})
            assert st.add(again) is False  # same recording: updated, not counted twice
            runs = st.runs()
            assert [r.content_hash for r in runs] == ["a", "b"]
            assert runs[0].started_at == NOW - timedelta(days=3)  # the date is kept
            assert runs[0].shoes == "Trail 2" and runs[0].metrics == {"median.cadence_spm": 170.0}
            h = st.history_for(again)
            assert h.current.content_hash == "a" and [r.content_hash for r in h.runs] == []
            assert [r.content_hash for r in st.history_for(_run("b", 1)).runs] == ["a"]
        con = sqlite3.connect(p)
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
        con.close()

    def test_default_path_and_env(self, monkeypatch, tmp_path):
        monkeypatch.setenv(ENV_DB, str(tmp_path / "h.sqlite"))
        assert default_history_path() == tmp_path / "h.sqlite"
        monkeypatch.delenv(ENV_DB)
        p = default_history_path()
        assert p.name == "history.sqlite" and "gait-lumbar" in str(p)

    def test_locked_database_is_retried_then_left_out(self, tmp_path):
        p = tmp_path / "h.sqlite"
        with HistoryStore(p) as st:
            st.add(_run("a", 2))
        holder = sqlite3.connect(p, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            st = HistoryStore(p, timeout_s=0.05, retries=3, retry_wait_s=0.01)
            with pytest.raises(HistoryUnavailable, match=r"locked by another program.*tried 3 times"):
                st.open()
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        with HistoryStore(p) as st:  # nothing was lost
            assert [r.content_hash for r in st.runs()] == ["a"]

    def test_lock_during_a_write(self, tmp_path):
        p = tmp_path / "h.sqlite"
        st = HistoryStore(p, timeout_s=0.05, retries=2, retry_wait_s=0.01)
        st.open()
        holder = sqlite3.connect(p, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(HistoryUnavailable, match="locked"):
                st.add(_run("a", 1))
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert st.add(_run("a", 1)) is True
        st.close()

    def test_corrupt_file_is_kept_aside_never_deleted(self, tmp_path):
        p = tmp_path / "history.sqlite"
        junk = b"this is not a database, but it may be the only copy of someone's runs" * 50
        p.write_bytes(junk)
        with HistoryStore(p) as st:
            assert "unreadable" in st.messages[0] and "kept as history.sqlite.corrupt-" in st.messages[0]
            assert st.runs() == []
            st.add(_run("new", 0))
        kept = [f for f in tmp_path.iterdir() if f.name.startswith("history.sqlite.corrupt-")]
        assert len(kept) == 1 and kept[0].read_bytes() == junk
        # a second corruption does not overwrite the first copy
        p.write_bytes(b"garbage again" * 100)
        with HistoryStore(p):
            pass
        assert len([f for f in tmp_path.iterdir() if ".corrupt-" in f.name]) == 2
        assert kept[0].read_bytes() == junk

    def test_readable_rows_of_a_damaged_database_are_salvaged(self, tmp_path, monkeypatch):
        p = tmp_path / "h.sqlite"
        with HistoryStore(p) as st:
            st.add(_run("a", 3))
            st.add(_run("b", 2))
        # an integrity check that fails while the rows can still be read
        real_connect = sqlite3.connect

        class Failing:
            def __init__(self, con):
                self.con = con

            def execute(self, sql, *a):
                if sql.startswith("PRAGMA quick_check"):
                    raise sqlite3.DatabaseError("database disk image is malformed")
                return self.con.execute(sql, *a)

            def __getattr__(self, name):
                return getattr(self.con, name)

        calls = {"n": 0}

        def connect(*a, **k):
            con = real_connect(*a, **k)
            calls["n"] += 1
            return Failing(con) if calls["n"] == 1 else con

        monkeypatch.setattr(sqlite3, "connect", connect)
        with HistoryStore(p) as st:
            assert "2 earlier run(s) could be read from it and were copied over" in st.messages[0]
            assert [r.content_hash for r in st.runs()] == ["a", "b"]

    def test_foreign_database_is_left_untouched(self, tmp_path):
        p = tmp_path / "other.sqlite"
        con = sqlite3.connect(p)
        con.execute("CREATE TABLE photos (id INTEGER)")
        con.commit()
        con.close()
        before = p.read_bytes()
        with pytest.raises(HistoryUnavailable, match="another program"):
            HistoryStore(p).open()
        assert p.read_bytes() == before

    def test_newer_version_is_left_untouched(self, tmp_path):
        p = tmp_path / "h.sqlite"
        with HistoryStore(p):
            pass
        con = sqlite3.connect(p)
        con.execute("PRAGMA user_version = 99")
        con.close()
        with pytest.raises(HistoryUnavailable, match="newer version"):
            HistoryStore(p).open()

    def test_folder_instead_of_file(self, tmp_path):
        with pytest.raises(HistoryUnavailable, match="is a folder"):
            HistoryStore(tmp_path).open()


# ---------------------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------------------
class TestRecords:
    def test_run_record(self, clean_analysis, tmp_path):
        src = tmp_path / "run.csv"
        src.write_text("x")
        os.utime(src, (NOW.timestamp(), NOW.timestamp()))
        before = datetime.now().astimezone()
        rec = run_record(clean_analysis, source_file=src, shoes="Daily")
        # no start time in the recording: the analysis time, never silently the file's time
        assert rec.date_source == "analysis time" and rec.started_at >= before
        rec = run_record(clean_analysis, source_file=src, shoes="Daily", file_time=True)
        assert rec.date_source == "file time" and rec.started_at.timestamp() == NOW.timestamp()
        assert rec.distance_m is None  # no speed known: running time is the volume
        assert rec.running_s == pytest.approx(clean_analysis.summary["running_s"])
        assert rec.shoes == "Daily" and rec.device == "simulator"
        assert rec.running_steps == clean_analysis.summary["running_steps"] > 300
        assert {"median.cadence_spm", "derived.stride_time_cv_pct", "asymmetry_pct.contact_time_s"} <= set(rec.metrics)
        assert rec.metrics["median.cadence_spm"] == clean_analysis.summary["median"]["cadence_spm"]
        assert run_record(clean_analysis).date_source == "analysis time"

    def test_date_from_the_session_start_time(self, clean_analysis, tmp_path):
        start = "2024-03-01T07:30:00+01:00"
        a = dataclasses.replace(
            clean_analysis,
            session=dataclasses.replace(
                clean_analysis.session, meta=dataclasses.replace(clean_analysis.session.meta, start_time=start)
            ),
        )
        src = tmp_path / "run.csv"
        src.write_text("x")
        os.utime(src, (NOW.timestamp(), NOW.timestamp()))
        rec = run_record(a, source_file=src, file_time=True)  # the start time wins over the file time
        assert rec.date_source == "session start time" and rec.started_at == datetime.fromisoformat(start)
        assert session_start(a.session) == datetime.fromisoformat(start)
        naive = dataclasses.replace(a.session.meta, start_time="2024-03-01T07:30:00")
        assert session_start(dataclasses.replace(a.session, meta=naive)).tzinfo is not None  # local time
        bad = dataclasses.replace(a.session.meta, start_time="yesterday morning")
        assert session_start(dataclasses.replace(a.session, meta=bad)) is None

    def test_fingerprint_is_stable_and_content_based(self):
        sim = fx.clean_sim()
        assert session_fingerprint(sim.session) == session_fingerprint(sim.session)
        other = dataclasses.replace(sim.session, acc=sim.session.acc * 1.0001)
        assert session_fingerprint(other) != session_fingerprint(sim.session)

    def test_record_and_load_messages(self, clean_analysis, tmp_path):
        sim = fx.clean_sim()
        st = HistoryStore(tmp_path / "h.sqlite")
        st.open()
        h, status = record_and_load(st, clean_analysis, session=sim.session, shoes="X")
        assert status.status == "used" and status.stored == "new" and h is not None and h.runs == ()
        assert status.run_id == 1 and status.date_source == "analysis time"
        assert any("running time (not distance)" in m for m in status.messages)
        dated = next(m for m in status.messages if "run dated" in m)
        assert "the recording has no start time" in dated and "gait history edit 1 --date" in dated
        h, status = record_and_load(st, clean_analysis, session=sim.session)
        assert status.stored == "updated" and any("not counted twice" in m for m in status.messages)
        assert any("as when it was first stored" in m for m in status.messages)
        assert len(st.runs()) == 1 and h.current.shoes == "X" and h.current.run_id == 1
        st.close()
        h, status = record_and_load(
            None, clean_analysis, session=sim.session, off_reason="history is off (--no-history)"
        )
        assert h is None and status.status == "off"


# ---------------------------------------------------------------------------------------
# findings driven by the history
# ---------------------------------------------------------------------------------------
class TestHistoryFindings:
    def test_weekly_volume_jump(self, clean_analysis):
        prev = [_run(f"p{k}", d) for k, d in enumerate((8, 10, 12))]  # 15 km the week before
        this = [_run(f"t{k}", d) for k, d in enumerate((2, 4, 6))]  # 15 km + today
        current = _run("now", 0, distance_m=4000.0)
        found, _ = _findings(clean_analysis, prev + this, current)
        f = found["training_load"]
        assert f.severity == "moderate"  # +27 % (19 km against 15 km): above 15 %, under 30 %
        ev = {e.metric: e for e in f.evidence}
        assert ev["weekly_increase_pct"].value == pytest.approx(100 * (19 / 15 - 1))
        assert "15.0 km -> 19.0 km of distance" in ev["weekly_increase_pct"].display
        assert ev["weekly_increase_pct"].level == "moderate"

    def test_small_increase_is_fine_and_time_is_the_measure_without_speed(self, clean_analysis):
        prev = [_run(f"p{k}", d, distance_m=None) for k, d in enumerate((8, 10, 12))]
        this = [_run(f"t{k}", d, distance_m=None) for k, d in enumerate((2, 4))]
        current = _run("now", 0, running_s=1900.0, distance_m=None)  # 3 x 30 min -> 2 x 30 + 31.7 min
        found, _ = _findings(clean_analysis, prev + this, current)
        assert "training_load" not in found

    def test_no_lighter_week_and_no_rest_days(self, clean_analysis):
        runs = [_run(f"d{d}", d, distance_m=None, running_s=1800 + 10 * (30 - d)) for d in range(1, 36)]
        found, _ = _findings(clean_analysis, runs, _run("now", 0, distance_m=None, running_s=2200))
        ev = {e.metric: e for e in found["training_load"].evidence}
        assert ev["days_without_rest"].value == 36 and ev["days_without_rest"].level == "moderate"
        assert ev["weeks_without_lighter_week"].value >= 5

    def test_needs_history(self, clean_analysis):
        r = assess(clean_analysis, history_reason="history is off (--no-history)")
        notes = {n.fault: n for n in r.notes}
        assert notes[
            "training_load"
        ].message == "Training load jumps: cannot be assessed: history is off (--no-history)" + (
            f" (needs {notes['training_load'].needs})"
        )
        assert notes["worn_shoes"].status == "cannot_assess"

    def test_worn_shoes_by_distance_with_estimates(self, clean_analysis):
        runs = [_run(f"s{k}", 2 * k + 1, distance_m=10_000.0, shoes="Pegasus") for k in range(40)]  # 400 km
        runs += [_run(f"u{k}", 2 * k + 2, running_s=3600.0, distance_m=None, shoes="pegasus ") for k in range(20)]
        current = _run("now", 0, distance_m=8000.0, shoes="Pegasus")
        found, _ = _findings(clean_analysis, runs, current)
        f = found["worn_shoes"]
        ev = f.evidence[0]
        # 408 km known + 20 h at the typical speed of the runs with a distance (10 km / 30 min)
        assert ev.value == pytest.approx(408_000 + 20 * 3600 * (10_000 / 1800), rel=1e-6)
        assert "estimated" in ev.display and f.severity == "high"

    def test_worn_shoes_by_age(self, clean_analysis):
        runs = [_run("old", 400, shoes="Trail"), _run("mid", 100, shoes="Trail")]
        found, _ = _findings(clean_analysis, runs, _run("now", 0, shoes="Trail"))
        f = found["worn_shoes"]
        assert any(e.metric == "shoe_age_days" and e.value == pytest.approx(400) for e in f.evidence)

    def test_no_shoes_named(self, clean_analysis):
        _, notes = _findings(clean_analysis, [_run("a", 2)], _run("now", 0))
        assert notes["worn_shoes"].reason == "no shoes named for this run" and "--shoes" in notes["worn_shoes"].needs

    def test_personal_baseline(self, clean_analysis):
        cad = clean_analysis.summary["median"]["cadence_spm"]
        runs = [_run(f"b{k}", k + 1, metrics={"median.cadence_spm": cad * 1.08}) for k in range(6)]
        found, _ = _findings(clean_analysis, runs, _run("now", 0))
        f = found["overstriding"]
        assert f.severity == "low"
        ev = next(e for e in f.evidence if e.role == "baseline")
        assert ev.value == pytest.approx(100 * (1 / 1.08 - 1))
        assert "7 % below your last 5 runs" in ev.display

    def test_baseline_needs_three_runs(self, clean_analysis):
        cad = clean_analysis.summary["median"]["cadence_spm"]
        runs = [_run(f"b{k}", k + 1, metrics={"median.cadence_spm": cad * 1.2}) for k in range(2)]
        found, _ = _findings(clean_analysis, runs, _run("now", 0))
        assert "overstriding" not in found


def test_cli_analyse_twice_does_not_double_count(tmp_path):
    from gait.cli import main

    sim = fx.clean_sim()
    src = tmp_path / "run.csv.gz"
    sim.save(src, decimals=4)
    db = tmp_path / "h.sqlite"
    for _ in range(2):
        assert main(["analyze", str(src), "--history-db", str(db), "--shoes", "Daily", "--store-history"]) == 0
    with HistoryStore(db) as st:
        runs = st.runs()
    assert len(runs) == 1 and runs[0].shoes == "Daily"
    assert runs[0].findings is not None  # the findings of the run are recorded with it


def test_cli_locked_history_still_analyses(tmp_path, capsys):
    from gait.cli import main

    sim = fx.clean_sim()
    src = tmp_path / "run.csv.gz"
    sim.save(src, decimals=4)
    db = tmp_path / "h.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE other (x)")
    con.commit()
    con.close()
    assert main(["analyze", str(src), "--history-db", str(db), "--store-history"]) == 0
    out = capsys.readouterr()
    assert "another program" in out.err and "analysed without history" in out.err
    assert "Training load jumps: cannot be assessed" in " ".join(out.out.split())


def test_history_path_is_a_path(tmp_path):
    assert isinstance(HistoryStore(tmp_path / "x.sqlite").path, Path)
