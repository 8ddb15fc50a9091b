"""The database's constants, layouts and migrations."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    pass


#: Environment variable that overrides the database path.
ENV_DB = "GAIT_HISTORY_DB"
APP_NAME = "gait-lumbar"
#: Version of the database layout (``PRAGMA user_version``); ``docs/history.md`` lists them.
SCHEMA_VERSION = 2
#: ``PRAGMA application_id`` of our databases ("GAIT"), to recognise files of other programs.
APPLICATION_ID = 0x47414954
#: Recordings with less running than this are analysed but not stored (a test trial is not a run).
MIN_RUNNING_S = 60.0
#: Where a run's date came from (``RunRecord.date_source``).
DATE_SOURCES = ("session start time", "set by hand", "given", "file time", "analysis time")
#: Values of a ``purpose`` header entry that mark a session as not one of the runner's runs.
NOT_PERSONAL_PURPOSES = ("test", "sample", "demo", "simulated", "synthetic", "example")

_T = TypeVar("_T")

#: Layout version 1 (kept for the migration and its test): one row per run.
_SCHEMA_V1 = """
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

#: Layout version 2: a stable run number for the command line (never reused after a delete),
#: the findings of each run, a note, the device, the number of running steps, the version of
#: the tool that analysed it and when the row was last edited by hand.
_RUNS_V2 = """
CREATE TABLE {name} (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    content_hash  TEXT NOT NULL UNIQUE,
    started_at    TEXT NOT NULL,
    date_source   TEXT NOT NULL,
    analysed_at   TEXT NOT NULL,
    source        TEXT,
    duration_s    REAL NOT NULL,
    running_s     REAL NOT NULL,
    distance_m    REAL,
    shoes         TEXT,
    metrics_json  TEXT NOT NULL,
    findings_json TEXT,
    note          TEXT,
    device        TEXT,
    running_steps INTEGER,
    tool_version  TEXT,
    edited_at     TEXT
)
"""
_V1_COLUMNS = (
    "content_hash",
    "started_at",
    "date_source",
    "analysed_at",
    "source",
    "duration_s",
    "running_s",
    "distance_m",
    "shoes",
    "metrics_json",
)
_COLUMNS_T = (
    "id",
    *_V1_COLUMNS,
    "findings_json",
    "note",
    "device",
    "running_steps",
    "tool_version",
    "edited_at",
)
_COLUMNS = ", ".join(_COLUMNS_T)
_INSERT_COLUMNS_T = _COLUMNS_T[1:]  # the id is given by SQLite
_INSERT = f"INSERT INTO runs ({', '.join(_INSERT_COLUMNS_T)}) VALUES ({', '.join('?' * len(_INSERT_COLUMNS_T))})"


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    cols = ", ".join(_V1_COLUMNS)
    conn.execute(_RUNS_V2.format(name="runs_v2"))
    conn.execute(f"INSERT INTO runs_v2 ({cols}) SELECT {cols} FROM runs ORDER BY started_at, content_hash")
    conn.execute("DROP INDEX IF EXISTS runs_started_at")
    conn.execute("DROP TABLE runs")
    conn.execute("ALTER TABLE runs_v2 RENAME TO runs")
    conn.execute("CREATE INDEX runs_started_at ON runs (started_at)")


def _create_current(conn: sqlite3.Connection) -> None:
    conn.execute(_RUNS_V2.format(name="runs"))
    conn.execute("CREATE INDEX runs_started_at ON runs (started_at)")


#: ``from version -> step to the next``; applied in order, all in one transaction.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _migrate_1_to_2}
