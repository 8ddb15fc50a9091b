"""Run history: a local SQLite store of the runs a runner has analysed.

The history drives what one run cannot show: training load (weekly volume up more than
10-15 %, no lighter weeks, no rest days), shoe wear (distance on a pair, or its age), personal
baselines ("cadence 6 % below your last five runs"), and the runner's own view of it over weeks
(``gait history``: `gait.history.cli`). It stays on the runner's machine:
``<user data dir>/gait-lumbar/history.sqlite`` (platformdirs), or ``$GAIT_HISTORY_DB``, or
``--history-db PATH``.

Only the runner's own runs belong in it. A session that says it is not one (the simulator's
output, the bundled sample sessions, a file whose header declares ``purpose: test``) is neither
stored nor judged against the history unless asked (``--store-history``): see
`not_personal_reason`.

A run is dated by the recording's own start time (``session.meta.start_time``). Without one it
is dated by the analysis time, and the report and ``gait history list`` say so
(``date_source``); ``gait history edit RUN --date`` corrects it. The file's modification time is
used only when asked (``gait history import --file-time``): a copied or downloaded file carries
the time of the copy.

Safety of the data comes first:

- every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a crash leaves the
  previous state; the database runs in write-ahead-log mode with a busy timeout, so two
  programs (two ``gait analyze`` at once, or an analysis during ``gait history list``) can use
  it together: readers never wait, writers wait their turn;
- a run is keyed by a hash of its samples, so analysing the same recording again updates it
  instead of counting it twice (its date, note and id are kept);
- a database that another program holds locked is retried, then the run is analysed without
  history and the caller is told (`HistoryUnavailable`);
- a corrupt file is never deleted or overwritten: it is renamed to
  ``history.sqlite.corrupt-<time>`` (the rows that can still be read are copied into the new
  database) and a fresh database is started;
- a file that is an SQLite database of another program, or of a newer version of this one,
  is left untouched;
- the layout is versioned (``PRAGMA user_version``, `SCHEMA_VERSION`); an older layout is
  migrated in one transaction when the database is opened, after a copy of the file is kept
  beside it (``history.sqlite.v<old>-backup-<time>``). ``docs/history.md`` lists the versions.

Volume is distance when the run's speed is known (``--speed-mps`` or a speed in the session
metadata), otherwise running time; findings say which.
"""

from __future__ import annotations

from ._load import record_and_load
from ._records import (
    History,
    HistoryStatus,
    HistoryUnavailable,
    RunRecord,
    StoredFinding,
    default_history_path,
    not_personal_reason,
    run_record,
    session_fingerprint,
    session_start,
    skipped_status,
)
from ._schema import APPLICATION_ID, DATE_SOURCES, ENV_DB, MIN_RUNNING_S, NOT_PERSONAL_PURPOSES, SCHEMA_VERSION
from ._store import HistoryStore

__all__ = [
    "APPLICATION_ID",
    "DATE_SOURCES",
    "ENV_DB",
    "MIN_RUNNING_S",
    "NOT_PERSONAL_PURPOSES",
    "SCHEMA_VERSION",
    "History",
    "HistoryStatus",
    "HistoryStore",
    "HistoryUnavailable",
    "RunRecord",
    "StoredFinding",
    "default_history_path",
    "not_personal_reason",
    "record_and_load",
    "run_record",
    "session_fingerprint",
    "session_start",
    "skipped_status",
]
