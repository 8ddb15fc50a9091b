"""The history database itself: the layout-1 to layout-2 migration (a database written by the
old code, opened by the new), two processes writing at once, and the store's editing API."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from gait.history import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    HistoryStore,
    HistoryUnavailable,
    RunRecord,
    StoredFinding,
)

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2024, 6, 1, 7, 0, tzinfo=UTC)

#: The layout the code wrote before layout 2, exactly as it wrote it (gait/history.py, layout 1).
V1_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    content_hash TEXT PRIMARY KEY,
    started_at   TEXT NOT NULL,
    date_source  TEXT NOT NULL,
    analysed_at  TEXT NOT NULL,
    source       TEXT,
    duration_s   REAL NOT NULL,
    running_s    REAL NOT NULL,
    distance_m   REAL,
    shoes        TEXT,
    metrics_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_started_at ON runs (started_at);
"""
#: Three runs as layout 1 stored them (the old code's row order), out of date order on purpose.
V1_ROWS = [
    ("b" * 64, "2024-05-20T07:00:00+00:00", "file time", "2024-05-20T09:00:00+00:00", "/runs/b.csv", 1900.0, 1800.0,
     5000.0, "Pegasus", json.dumps({"median.cadence_spm": 171.0, "median.contact_time_s": 0.251})),
    ("a" * 64, "2024-05-10T07:00:00+00:00", "session start time", "2024-05-10T09:00:00+00:00", "/runs/a.csv", 2000.0,
     1700.0, None, None, json.dumps({"median.cadence_spm": 168.5})),
    ("c" * 64, "2024-05-30T18:30:00+02:00", "analysis time", "2024-05-30T19:00:00+02:00", None, 1200.0, 1100.0, None,
     "Trail", json.dumps({})),
]  # fmt: skip


def make_v1_database(path: Path, rows=V1_ROWS) -> Path:
    """A history database as the layout-1 code created and filled it."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("BEGIN IMMEDIATE")
    for stmt in V1_DDL.strip().split(";"):
        if stmt.strip():
            con.execute(stmt)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("PRAGMA user_version = 1")
    con.execute("COMMIT")
    con.execute("BEGIN IMMEDIATE")
    con.executemany(
        "INSERT INTO runs (content_hash, started_at, date_source, analysed_at, source, duration_s, running_s, "
        "distance_m, shoes, metrics_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.execute("COMMIT")
    con.close()
    return path


def _run(key: str, days_ago: float, **kw) -> RunRecord:
    return RunRecord(key, NOW - timedelta(days=days_ago), "given", 1900.0, 1800.0, 5000.0, **kw)


# ---------------------------------------------------------------------------------------
# migration
# ---------------------------------------------------------------------------------------
class TestMigration:
    def test_version_1_database_is_migrated_and_nothing_is_lost(self, tmp_path):
        p = make_v1_database(tmp_path / "history.sqlite")
        assert SCHEMA_VERSION == 2
        with HistoryStore(p) as st:
            msg = " ".join(st.messages)
            assert "upgraded the database from layout 1 to 2 (3 runs kept" in msg
            assert "history.sqlite.v1-backup-" in msg and "no findings recorded" in msg
            assert st.schema_version == 2
            runs = st.runs()
        # every row, every value, in date order, numbered by date
        assert [r.content_hash for r in runs] == ["a" * 64, "b" * 64, "c" * 64]
        assert [r.run_id for r in runs] == [1, 2, 3]
        a, b, c = runs
        assert b.started_at == datetime(2024, 5, 20, 7, tzinfo=UTC) and b.date_source == "file time"
        assert b.distance_m == 5000.0 and b.shoes == "Pegasus" and b.source == "/runs/b.csv"
        assert b.metrics == {"median.cadence_spm": 171.0, "median.contact_time_s": 0.251}
        assert a.distance_m is None and a.shoes is None and a.metrics == {"median.cadence_spm": 168.5}
        assert a.running_s == 1700.0 and a.duration_s == 2000.0
        assert c.started_at.utcoffset() == timedelta(hours=2) and c.date_source == "analysis time"
        assert all(r.findings is None and r.note is None and r.running_steps is None for r in runs)
        # the file is our layout 2 now, and a consistent copy of the old one is kept
        con = sqlite3.connect(p)
        assert con.execute("PRAGMA user_version").fetchone()[0] == 2
        assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        cols = [r[1] for r in con.execute("PRAGMA table_info(runs)")]
        assert cols[:2] == ["id", "content_hash"] and {"findings_json", "note", "edited_at"} <= set(cols)
        con.close()
        (backup,) = [f for f in tmp_path.iterdir() if ".v1-backup-" in f.name]
        old = sqlite3.connect(backup)
        assert old.execute("PRAGMA user_version").fetchone()[0] == 1
        assert sorted(old.execute("SELECT * FROM runs").fetchall(), key=str) == sorted(
            [tuple(r) for r in V1_ROWS], key=str
        )
        old.close()
        # opening again does nothing more
        with HistoryStore(p) as st:
            assert not any("upgraded" in m for m in st.messages)
            assert len(st.runs()) == 3

    def test_migrated_database_keeps_working(self, tmp_path):
        p = make_v1_database(tmp_path / "h.sqlite")
        with HistoryStore(p) as st:
            assert st.add(_run("d" * 64, 0)) is True
            new = st.get("d" * 64)
            assert new is not None and new.run_id == 4
            # the same recording again: still not counted twice
            assert st.add(dataclasses.replace(V1_ROWS_AS_RECORD(), shoes="Other")) is False
            assert len(st.runs()) == 4
            st.update(1, note="after the migration")
            assert st.get_id(1).note == "after the migration"

    def test_empty_version_1_database_needs_no_backup(self, tmp_path):
        p = make_v1_database(tmp_path / "h.sqlite", rows=[])
        with HistoryStore(p) as st:
            assert st.schema_version == 2 and st.runs() == []
            assert "(0 runs kept)" in " ".join(st.messages)
        assert not [f for f in tmp_path.iterdir() if "backup" in f.name]

    def test_a_failed_migration_changes_nothing(self, tmp_path, monkeypatch):
        import gait.history._schema as gh

        p = make_v1_database(tmp_path / "h.sqlite")

        def broken(conn):
            conn.execute(gh._RUNS_V2.format(name="runs_v2"))
            conn.execute("DROP TABLE runs")  # half done ...
            raise sqlite3.OperationalError("disk I/O error")  # ... then the disk fails

        monkeypatch.setitem(gh._MIGRATIONS, 1, broken)
        with pytest.raises(HistoryUnavailable, match="disk I/O error"):
            HistoryStore(p).open()
        con = sqlite3.connect(p)  # still layout 1, every row there
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1
        assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 3
        assert "runs_v2" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        con.close()
        monkeypatch.undo()
        with HistoryStore(p) as st:  # and the real migration still works afterwards
            assert len(st.runs()) == 3 and st.schema_version == 2

    def test_rows_of_a_corrupt_version_1_file_are_salvaged(self, tmp_path, monkeypatch):
        p = make_v1_database(tmp_path / "h.sqlite")
        real_connect = sqlite3.connect
        calls = {"n": 0}

        class Failing:
            def __init__(self, con):
                self.con = con

            def execute(self, sql, *a):
                if sql.startswith("PRAGMA quick_check"):
                    raise sqlite3.DatabaseError("database disk image is malformed")
                return self.con.execute(sql, *a)

            def __getattr__(self, name):
                return getattr(self.con, name)

        def connect(*a, **k):
            con = real_connect(*a, **k)
            calls["n"] += 1
            return Failing(con) if calls["n"] == 1 else con

        monkeypatch.setattr(sqlite3, "connect", connect)
        with HistoryStore(p) as st:
            assert "3 earlier run(s) could be read from it" in st.messages[0]
            assert {r.content_hash for r in st.runs()} == {"a" * 64, "b" * 64, "c" * 64}


def V1_ROWS_AS_RECORD() -> RunRecord:
    """The first layout-1 row as a record (the same recording analysed again)."""
    r = V1_ROWS[0]
    return RunRecord(r[0], datetime.fromisoformat(r[1]), r[2], r[5], r[6], r[7], r[8])


# ---------------------------------------------------------------------------------------
# two processes at once
# ---------------------------------------------------------------------------------------
WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from pathlib import Path
    from gait.history import HistoryStore, RunRecord, StoredFinding

    db, name, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    while not go.exists():
        time.sleep(0.005)
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    seen = 0
    with HistoryStore(db) as st:
        for k in range(n):
            rec = RunRecord(f"{name}-{k:03d}", t0 + timedelta(hours=k), "given", 100.0, 90.0, None, name,
                            metrics={"median.cadence_spm": 170.0 + k})
            assert st.add(rec) is True
            st.set_findings(rec.content_hash, [StoredFinding("fatigue", "Fatigue", "low", 0.5)])
            seen = max(seen, len(st.runs()))  # reading while the other process writes
    print(seen)
    """
)


@pytest.mark.slow
def test_two_processes_writing_at_once(tmp_path):
    db = tmp_path / "h.sqlite"
    go = tmp_path / "go"
    n = 60
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), name, str(n), str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("left", "right")
    ]
    go.touch()  # both start writing together
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    with HistoryStore(db) as st:
        runs = st.runs()
    assert len(runs) == 2 * n
    assert sorted(r.run_id for r in runs) == list(range(1, 2 * n + 1))  # every write got its own number
    assert {r.shoes for r in runs} == {"left", "right"}
    assert all(r.findings == (StoredFinding("fatigue", "Fatigue", "low", 0.5),) for r in runs)
    for name in ("left", "right"):
        mine = sorted((r for r in runs if r.shoes == name), key=lambda r: r.content_hash)
        assert [r.metrics["median.cadence_spm"] for r in mine] == [170.0 + k for k in range(n)]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # at least one process read while the other had written (the two really overlapped)
    assert max(int(out.strip()) for out, _ in outs) > n


def test_wal_mode_and_busy_timeout(tmp_path):
    p = tmp_path / "h.sqlite"
    with HistoryStore(p, timeout_s=1.5) as st:
        st.add(_run("a", 1))
        assert st._require().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st._require().execute("PRAGMA busy_timeout").fetchone()[0] == 1500
        # a reader is never blocked by a writer holding its transaction (write-ahead log)
        holder = sqlite3.connect(p, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE runs SET shoes = 'X'")
        try:
            assert [r.shoes for r in st.runs()] == [None]  # the committed state
        finally:
            holder.execute("ROLLBACK")
            holder.close()


# ---------------------------------------------------------------------------------------
# the store's API for gait history
# ---------------------------------------------------------------------------------------
class TestEditing:
    def test_update_delete_find(self, tmp_path):
        with HistoryStore(tmp_path / "h.sqlite") as st:
            for k, d in enumerate((30, 20, 10, 10.2)):
                st.add(_run(f"{k:x}" * 64, d, shoes="Pegasus"))
            runs = st.runs()
            assert [r.run_id for r in runs] == [1, 2, 4, 3]  # numbered as stored, listed by date
            assert st.find("2") == st.find("#2") == [st.get_id(2)]
            assert st.find("1" * 8) == [st.get_id(2)]  # start of a fingerprint
            day = (NOW - timedelta(days=10)).date().isoformat()
            assert {r.run_id for r in st.find(day)} == {3, 4}  # a date with two runs
            assert st.find("99") == [] and st.find("zz") == [] and st.find("12345") == []
            new = st.update(2, shoes="  Novablast ", note="new shoes", started_at=datetime(2024, 5, 1, 6, 0))
            assert new.shoes == "Novablast" and new.note == "new shoes" and new.date_source == "set by hand"
            assert new.started_at.replace(tzinfo=None) == datetime(2024, 5, 1, 6, 0) and new.started_at.tzinfo
            assert st.update(2, shoes="", note=None).shoes is None and st.get_id(2).note is None
            with pytest.raises(KeyError):
                st.update(99, note="x")
            assert st.delete([1, 3, 99]) == 2
            assert [r.run_id for r in st.runs()] == [2, 4]
            st.add(_run("f" * 64, 0))
            assert st.get("f" * 64).run_id == 5  # numbers are never reused after a delete

    def test_since_until_are_the_runs_own_dates(self, tmp_path):
        tz = datetime(2024, 3, 1, 23, 30).astimezone().tzinfo
        with HistoryStore(tmp_path / "h.sqlite") as st:
            for k, (d, h) in enumerate(((28, 23), (29, 6), (1, 0), (2, 12))):
                month = 2 if d > 20 else 3
                st.add(RunRecord(f"r{k}", datetime(2024, month, d, h, 30, tzinfo=tz), "given", 100, 90))
            assert [r.content_hash for r in st.runs(since=date(2024, 2, 29))] == ["r1", "r2", "r3"]
            assert [r.content_hash for r in st.runs(until=date(2024, 2, 29))] == ["r0", "r1"]
            assert [r.content_hash for r in st.runs(since=date(2024, 3, 1), until=date(2024, 3, 1))] == ["r2"]

    def test_findings_are_stored_and_kept_when_not_given(self, tmp_path):
        with HistoryStore(tmp_path / "h.sqlite") as st:
            st.add(_run("a", 1))
            assert st.get("a").findings is None  # not recorded yet
            f = StoredFinding("overstriding", "Overstriding", "moderate", 0.8)
            assert st.set_findings("a", [f]) is True and st.set_findings("zz", [f]) is False
            assert st.get("a").findings == (f,)
            st.add(_run("a", 1))  # analysed again, findings not given: kept
            assert st.get("a").findings == (f,)
            st.add(_run("a", 1, findings=()))  # analysed again and nothing found
            assert st.get("a").findings == ()
            d = st.get("a").to_dict()
            assert d["id"] == 1 and d["findings"] == [] and d["started_at"].startswith("2024-05-31")
