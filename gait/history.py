"""Run history: a local SQLite store of the runs a runner has analysed.

The history drives what one run cannot show: training load (weekly volume up more than
10-15 %, no lighter weeks, no rest days), shoe wear (distance on a pair, or its age), personal
baselines ("cadence 6 % below your last five runs"), and the runner's own view of it over weeks
(``gait history``: `gait.history_cli`). It stays on the runner's machine:
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

import hashlib
import json
import math
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .errors import GaitError

if TYPE_CHECKING:
    from .core.pipeline import Analysis
    from .faults import Finding
    from .session import Session

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


class HistoryUnavailable(GaitError):
    """The history cannot be used for this run (locked, unreadable, foreign, newer version).

    The run is still analysed; ``reason`` says why its history was left out.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def default_history_path() -> Path:
    """``$GAIT_HISTORY_DB`` if set, else ``<user data dir>/gait-lumbar/history.sqlite``."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "history.sqlite"


@dataclass(frozen=True)
class StoredFinding:
    """What the history keeps of one finding of a run: enough to list and count them."""

    fault: str
    name: str
    severity: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return {"fault": self.fault, "name": self.name, "severity": self.severity, "confidence": self.confidence}

    @classmethod
    def from_finding(cls, f: Finding) -> StoredFinding:
        return cls(f.fault, f.name, f.severity, float(f.confidence))


@dataclass(frozen=True)
class RunRecord:
    """One analysed run as the history keeps it.

    Attributes
    ----------
    content_hash
        SHA-256 of the recording's samples (`session_fingerprint`): the same recording
        analysed twice has the same hash.
    started_at
        When the run started (timezone-aware).
    date_source
        Where ``started_at`` came from, one of `DATE_SOURCES`: ``session start time`` (the
        recording's own clock), ``set by hand`` (``gait history edit --date``), ``given`` (by
        the program that stored it), ``file time`` (the file's modification time, only when
        asked) or ``analysis time`` (no start time in the recording).
    duration_s, running_s
        Length of the recording and running time in it (s).
    distance_m
        Running distance (m) when a speed is known, else None (running time is then the
        volume measure).
    shoes
        Name of the shoes, if given.
    source
        The file it was read from.
    metrics
        Run-level numbers: the per-run medians of the step metrics (``median.cadence_spm`` ...),
        asymmetries (``asymmetry_pct.*``), ``rearfoot_share``, ``step_time_cv_pct``,
        ``ml_sway_rms_mps2`` and the derived metrics of `gait.faults` (``derived.*``). These
        are the personal baselines of the fault rules and the series of ``gait history trend``.
    run_id
        The run's number in the database (None before it is stored); never reused.
    findings
        The run's findings (None: not recorded, e.g. a run stored by layout version 1).
    note
        The runner's note (``gait history edit --note``).
    device
        The recording device, if known.
    running_steps
        Valid running steps the medians are taken over (None for layout-1 rows).
    tool_version
        Version of gait-lumbar that analysed it (None for layout-1 rows).
    """

    content_hash: str
    started_at: datetime
    date_source: str
    duration_s: float
    running_s: float
    distance_m: float | None = None
    shoes: str | None = None
    source: str | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    run_id: int | None = None
    findings: tuple[StoredFinding, ...] | None = None
    note: str | None = None
    device: str | None = None
    running_steps: int | None = None
    tool_version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data (SI units, ISO 8601 dates, NaN never present)."""
        return {
            "id": self.run_id,
            "content_hash": self.content_hash,
            "started_at": self.started_at.isoformat(),
            "date_source": self.date_source,
            "duration_s": self.duration_s,
            "running_s": self.running_s,
            "distance_m": self.distance_m,
            "shoes": self.shoes,
            "note": self.note,
            "device": self.device,
            "source": self.source,
            "running_steps": self.running_steps,
            "tool_version": self.tool_version,
            "findings": None if self.findings is None else [f.to_dict() for f in self.findings],
            "metrics": dict(sorted(self.metrics.items())),
        }


@dataclass(frozen=True)
class History:
    """What the fault rules see: the earlier runs (oldest first) and this run's record."""

    runs: tuple[RunRecord, ...]
    current: RunRecord
    path: str | None = None


def session_fingerprint(session: Session) -> str:
    """SHA-256 (hex) of a session's sample times, acceleration and angular rate.

    Re-reading the same file (or a re-compressed copy of it) gives the same fingerprint.
    """
    h = hashlib.sha256()
    h.update(f"{session.sampling_rate_hz!r}|{session.frame}|".encode())
    for a in (session.t, session.acc, session.gyr):
        if a is None:
            h.update(b"none")
            continue
        arr = np.ascontiguousarray(np.asarray(a, dtype="<f8"))
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def _parse_start(value: str | None) -> datetime | None:
    if not value:
        return None
    s = str(value).strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    return dt if dt.tzinfo is not None else dt.astimezone()


def session_start(session: Session) -> datetime | None:
    """The recording's own start time (timezone-aware), or None when it has none or it cannot be
    read (a naive time is taken as this machine's local time)."""
    return _parse_start(session.meta.start_time)


def _sample_data_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "sample_data"


def not_personal_reason(session: Session, *, source_file: str | os.PathLike[str] | None = None) -> str | None:
    """Why a session is not one of the runner's own runs, or None when nothing says so.

    A session is kept out of the personal history (not stored, not judged against it) when

    - its device is ``simulator`` (every session `gait.simulate` and ``gait simulate`` make,
      the bundled samples included: the simulator writes ``device: "simulator"`` into the
      header);
    - its header declares ``purpose`` as one of `NOT_PERSONAL_PURPOSES` (``test``, ``sample``,
      ``demo`` ...), or ``synthetic: true``;
    - its file lies in the project's ``sample_data/`` folder.

    Parameters
    ----------
    session
        The session as read.
    source_file
        The file it was read from (default: ``session.meta.source``).
    """
    meta = session.meta
    if (meta.device or "").strip().casefold() == "simulator":
        return "a simulated session (device 'simulator')"
    purpose = meta.extra.get("purpose")
    if isinstance(purpose, str) and purpose.strip().casefold() in NOT_PERSONAL_PURPOSES:
        return f"a session marked 'purpose: {purpose.strip()}'"
    if meta.extra.get("synthetic") is True:
        return "a session marked 'synthetic: true'"
    src = source_file if source_file is not None else meta.source
    if src:
        try:
            resolved = Path(src).resolve()
        except (OSError, RuntimeError):
            return None
        if resolved.is_relative_to(_sample_data_dir()):
            return "a sample session bundled with gait-lumbar (sample_data/)"
    return None


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def run_record(
    analysis: Analysis,
    *,
    content_hash: str | None = None,
    shoes: str | None = None,
    started_at: datetime | None = None,
    source_file: str | os.PathLike[str] | None = None,
    file_time: bool = False,
    findings: Sequence[Finding] | None = None,
) -> RunRecord:
    """The history record of an analysed run.

    Parameters
    ----------
    analysis
        From `gait.analyze`.
    content_hash
        Fingerprint of the recording as read (default: of ``analysis.session``).
    shoes
        Shoes worn (default: the session's metadata).
    started_at
        When the run started (``date_source`` ``given``). Default: the session's
        ``start_time``; without one, the modification time of ``source_file`` if ``file_time``,
        else the analysis time (``date_source`` says which).
    source_file
        The file the session came from.
    file_time
        Date a run without a start time by its file's modification time instead of the
        analysis time.
    findings
        The run's findings, if already known (`HistoryStore.set_findings` adds them later).
    """
    from .faults import derived_metrics

    meta = analysis.session.meta
    date_source = "given"
    if started_at is None:
        started_at = _parse_start(meta.start_time)
        date_source = "session start time"
    if started_at is None and file_time and source_file is not None and Path(source_file).exists():
        started_at = datetime.fromtimestamp(Path(source_file).stat().st_mtime).astimezone()
        date_source = "file time"
    if started_at is None:
        started_at = datetime.now().astimezone()
        date_source = "analysis time"
    elif started_at.tzinfo is None:
        started_at = started_at.astimezone()
    s = analysis.summary
    metrics: dict[str, float] = {}
    for group in ("median", "asymmetry_pct"):
        for k, v in (s.get(group) or {}).items():
            if isinstance(v, int | float) and math.isfinite(v):
                metrics[f"{group}.{k}"] = float(v)
    for k in ("rearfoot_share", "step_time_cv_pct", "ml_sway_rms_mps2"):
        v = s.get(k)
        if isinstance(v, int | float) and math.isfinite(v):
            metrics[k] = float(v)
    for k, v in derived_metrics(analysis).values.items():
        if math.isfinite(v):
            metrics[k] = float(v)
    dist = s.get("distance_m")
    return RunRecord(
        content_hash=content_hash or session_fingerprint(analysis.session),
        started_at=started_at,
        date_source=date_source,
        duration_s=float(s.get("duration_s", 0.0) or 0.0),
        running_s=float(s.get("running_s", 0.0) or 0.0),
        distance_m=float(dist) if isinstance(dist, int | float) and math.isfinite(dist) else None,
        shoes=(shoes or meta.shoes or None),
        source=str(source_file) if source_file is not None else meta.source,
        metrics=metrics,
        findings=None if findings is None else tuple(StoredFinding.from_finding(f) for f in findings),
        device=meta.device,
        running_steps=int(s.get("running_steps", 0) or 0),
        tool_version=_tool_version(),
    )


@dataclass(frozen=True)
class HistoryStatus:
    """What happened with the run history for one report.

    ``status``: ``used`` (history read and this run stored or updated), ``read_only`` (read,
    this run not stored: too short), ``off`` (``--no-history``, or a simulated, sample or test
    session kept out of the personal history) or ``unavailable`` (locked, unreadable, foreign:
    the run was analysed without it). ``run_id``, ``started_at`` and ``date_source``: the run as
    the history has it (its number, its date and where the date came from), when it was used.
    """

    status: str = "off"
    messages: tuple[str, ...] = ()
    database: str | None = None
    earlier_runs: int = 0
    stored: str | None = None  # "new", "updated" or None
    run_id: int | None = None
    started_at: str | None = None
    date_source: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "messages": list(self.messages),
            "database": self.database,
            "earlier_runs": self.earlier_runs,
            "stored": self.stored,
            "run_id": self.run_id,
            "started_at": self.started_at,
            "date_source": self.date_source,
        }


def skipped_status(reason: str) -> HistoryStatus:
    """The status of a session kept out of the personal history (see `not_personal_reason`)."""
    return HistoryStatus(
        "off",
        (
            f"history: not used: this is {reason}; your run history was neither read nor changed "
            "(--store-history stores it as one of your runs)",
        ),
    )


def _is_lock_error(e: sqlite3.Error) -> bool:
    msg = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


class _Unset:
    """Marker for "not given" in `HistoryStore.update` (None means "clear")."""


UNSET: Any = _Unset()


class HistoryStore:
    """The SQLite history database.

    Parameters
    ----------
    path
        Database file (default: `default_history_path`).
    timeout_s
        How long SQLite waits for a lock before reporting it (per attempt; the busy timeout).
    retries
        Attempts when the database is locked, with a growing pause between them.
    retry_wait_s
        First pause between attempts (doubled each time).

    Examples
    --------
    >>> with HistoryStore(tmp_path / "h.sqlite") as store:  # doctest: +SKIP
    ...     store.add(record)
    ...     history = store.history_for(record)
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout_s: float = 2.0,
        retries: int = 3,
        retry_wait_s: float = 0.25,
    ) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        self.timeout_s = float(timeout_s)
        self.retries = max(int(retries), 1)
        self.retry_wait_s = float(retry_wait_s)
        self.messages: list[str] = []
        self._conn: sqlite3.Connection | None = None
        self._salvaged: list[dict[str, Any]] = []

    # --- opening --------------------------------------------------------------------------
    def __enter__(self) -> HistoryStore:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def open(self) -> list[str]:
        """Open (or create, or migrate) the database; returns what happened, for the user.

        Raises
        ------
        HistoryUnavailable
            Locked after the retries, not writable, another program's database, or made by a
            newer version of this program.
        """
        if self._conn is not None:
            return self.messages
        if self.path.exists() and self.path.is_dir():
            raise HistoryUnavailable(f"{self.path} is a folder, not a history database")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise HistoryUnavailable(f"cannot create the folder of {self.path}: {e.strerror or e}") from None
        created = not self.path.exists() or self.path.stat().st_size == 0
        conn = self._with_retries(lambda: self._connect_checked(), "open")
        if conn is None:  # corrupt: kept aside, start again
            conn = self._with_retries(lambda: self._connect_checked(), "open")
            assert conn is not None
        self._conn = conn
        self._with_retries(self._enable_wal, "prepare")
        self._with_retries(self._init_schema, "prepare")
        if self._salvaged:
            rows = self._salvaged
            self._with_retries(lambda: self._insert_salvaged(rows), "write to")
            self._salvaged = []
        if created:
            self.messages.append(f"history: started a new database at {self.path}")
        return self.messages

    def _connect_checked(self) -> sqlite3.Connection | None:
        """Connect and check integrity; on corruption, move the file aside and return None."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        except sqlite3.OperationalError as e:
            if _is_lock_error(e):
                raise
            raise HistoryUnavailable(f"cannot open {self.path}: {e}") from None
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()
            if check is None or check[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {check[0] if check else 'no answer'}")
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.Error as e:
            conn.close()
            if _is_lock_error(e):
                raise
            self._set_aside(str(e))
            return None
        if app_id != APPLICATION_ID and tables:
            conn.close()
            raise HistoryUnavailable(
                f"{self.path} is a database of another program (left untouched); choose another file with --history-db"
            )
        if version > SCHEMA_VERSION:
            conn.close()
            raise HistoryUnavailable(
                f"{self.path} was written by a newer version of gait (layout {version}); left untouched"
            )
        return conn

    def _enable_wal(self) -> None:
        """Write-ahead log: readers never block the writer and the writer never blocks readers.

        Set only on our own database (after the checks above), so a foreign or newer file is
        never changed. Where WAL is not possible (some network file systems) SQLite keeps its
        rollback journal, which is just as safe, only less concurrent.
        """
        conn = self._require_conn()
        conn.execute("PRAGMA journal_mode = WAL").fetchone()

    def _init_schema(self) -> None:
        conn = self._require_conn()
        # the copy of an older layout is taken before the write transaction (SQLite's online
        # backup cannot read a database its own connection holds for writing); the migration
        # itself re-checks the version inside the transaction, so two programs opening an old
        # database at once migrate it once
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        backup: Path | None = None
        if 0 < version < SCHEMA_VERSION and conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]:
            backup = self._backup(conn, int(version))
        with self._transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "runs" not in tables:
                _create_current(conn)
            elif version < SCHEMA_VERSION:
                old = max(int(version), 1)  # layout 1 wrote user_version 1; 0 with a table is 1 too
                n = conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
                for v in range(old, SCHEMA_VERSION):
                    _MIGRATIONS[v](conn)
                msg = f"history: upgraded the database from layout {old} to {SCHEMA_VERSION} ({n} runs kept"
                msg += f"; the old file is kept as {backup.name})" if backup is not None else ")"
                if old < 2 and n:
                    msg += "; runs stored before layout 2 have no findings recorded until they are analysed again"
                self.messages.append(msg)
                backup = None
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        if backup is not None:  # another program migrated it in the meantime (and kept its own copy)
            backup.unlink(missing_ok=True)

    def _backup(self, conn: sqlite3.Connection, version: int) -> Path:
        """A copy of the database before a migration (SQLite's online backup: consistent)."""
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.v{version}-backup-{stamp}")
        k = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.v{version}-backup-{stamp}-{k}")
            k += 1
        dst = sqlite3.connect(target)
        try:
            conn.backup(dst)
        finally:
            dst.close()
        return target

    def _insert_salvaged(self, rows: list[dict[str, Any]]) -> None:
        conn = self._require()
        with self._transaction(conn):
            for row in rows:
                cols = [c for c in _COLUMNS_T if c in row]
                conn.execute(
                    f"INSERT OR IGNORE INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    [row[c] for c in cols],
                )

    def _set_aside(self, why: str) -> None:
        stamp = datetime.now().strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        k = 1
        while target.exists():
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{k}")
            k += 1
        try:
            os.replace(self.path, target)
        except OSError as e:
            raise HistoryUnavailable(f"{self.path} is unreadable ({why}) and could not be set aside: {e}") from None
        for suffix in ("-journal", "-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                try:
                    os.replace(side, target.with_name(target.name + suffix))
                except OSError:
                    pass  # the main file is safe; a stale journal is only a companion
        salvaged = self._salvage(target)
        msg = f"history: the database was unreadable ({why}); it is kept as {target.name} and a new one was started"
        if salvaged:
            msg += f"; {len(salvaged)} earlier run(s) could be read from it and were copied over"
        self.messages.append(msg)
        self._salvaged = salvaged

    def _salvage(self, old: Path) -> list[dict[str, Any]]:
        """The rows that can still be read from a set-aside file (any layout version)."""
        try:
            conn = sqlite3.connect(f"file:{old}?mode=ro", uri=True, timeout=self.timeout_s)
        except sqlite3.Error:
            return []
        try:
            have = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
            cols = [c for c in _COLUMNS_T if c in have]
            if not set(_V1_COLUMNS) <= set(cols):
                return []
            return [dict(zip(cols, r)) for r in conn.execute(f"SELECT {', '.join(cols)} FROM runs")]
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    def _with_retries(self, fn: Callable[[], _T], what: str) -> _T:
        wait = self.retry_wait_s
        for attempt in range(self.retries):
            try:
                return fn()
            except sqlite3.Error as e:
                if not _is_lock_error(e):
                    raise HistoryUnavailable(f"cannot {what} the history database {self.path}: {e}") from None
                if attempt == self.retries - 1:
                    raise HistoryUnavailable(
                        f"the history database {self.path} is locked by another program "
                        f"(tried {self.retries} times); this run was analysed without history"
                    ) from None
                time.sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _require_conn(self) -> sqlite3.Connection:
        assert self._conn is not None
        return self._conn

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        return self._require_conn()

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @property
    def schema_version(self) -> int:
        """The layout version of the open database."""
        conn = self._require()
        return int(self._with_retries(lambda: conn.execute("PRAGMA user_version").fetchone()[0], "read"))

    # --- reading and writing --------------------------------------------------------------
    def add(self, record: RunRecord) -> bool:
        """Store a run; returns True if it is new, False if this recording was already stored
        (then its numbers, shoes and findings are updated, its date, note and id are kept, and
        it is not counted twice).
        """
        conn = self._require()

        def write() -> bool:
            with self._transaction(conn):
                old = conn.execute("SELECT id FROM runs WHERE content_hash = ?", (record.content_hash,)).fetchone()
                row = _row(record)
                if old is None:
                    conn.execute(_INSERT, row)
                    return True
                conn.execute(
                    "UPDATE runs SET analysed_at = ?, source = ?, duration_s = ?, running_s = ?, distance_m = ?,"
                    " shoes = COALESCE(?, shoes), metrics_json = ?, findings_json = COALESCE(?, findings_json),"
                    " device = COALESCE(?, device), running_steps = ?, tool_version = ? WHERE content_hash = ?",
                    (*row[3:11], row[12], row[13], row[14], record.content_hash),
                )
                return False

        return bool(self._with_retries(write, "write to"))

    def rekey(self, old_hash: str, new_hash: str) -> bool:
        """Give a stored run a new fingerprint (nothing else changes); False when no run has
        ``old_hash`` or a run already has ``new_hash``.

        Runs analysed with a device calibration were once keyed by the calibrated samples; they
        are keyed by the samples as read now, and this moves an old key to the new one so that
        re-analysing such a run updates it instead of storing it twice.
        """
        conn = self._require()

        def write() -> bool:
            with self._transaction(conn):
                if conn.execute("SELECT 1 FROM runs WHERE content_hash = ?", (new_hash,)).fetchone():
                    return False
                cur = conn.execute("UPDATE runs SET content_hash = ? WHERE content_hash = ?", (new_hash, old_hash))
                return cur.rowcount > 0

        return bool(self._with_retries(write, "write to"))

    def set_findings(self, content_hash: str, findings: Iterable[Finding | StoredFinding]) -> bool:
        """Record the findings of a stored run; returns False when no run has this hash."""
        stored = [f if isinstance(f, StoredFinding) else StoredFinding.from_finding(f) for f in findings]
        text = json.dumps([f.to_dict() for f in stored])
        conn = self._require()

        def write() -> bool:
            with self._transaction(conn):
                cur = conn.execute("UPDATE runs SET findings_json = ? WHERE content_hash = ?", (text, content_hash))
                return cur.rowcount > 0

        return bool(self._with_retries(write, "write to"))

    def update(
        self,
        run_id: int,
        *,
        shoes: str | _Unset | None = UNSET,
        started_at: datetime | _Unset = UNSET,
        note: str | _Unset | None = UNSET,
    ) -> RunRecord:
        """Change a stored run by hand (``gait history edit``); None clears shoes or note.

        A new date marks the run's ``date_source`` as ``set by hand``. Returns the run as
        stored afterwards.

        Raises
        ------
        KeyError
            No run has this number.
        """
        sets: list[str] = []
        values: list[Any] = []
        if not isinstance(shoes, _Unset):
            sets.append("shoes = ?")
            values.append(shoes.strip() if isinstance(shoes, str) and shoes.strip() else None)
        if not isinstance(note, _Unset):
            sets.append("note = ?")
            values.append(note.strip() if isinstance(note, str) and note.strip() else None)
        if not isinstance(started_at, _Unset):
            when = started_at if started_at.tzinfo is not None else started_at.astimezone()
            sets += ["started_at = ?", "date_source = ?"]
            values += [when.isoformat(), "set by hand"]
        sets.append("edited_at = ?")
        values.append(datetime.now().astimezone().isoformat())
        conn = self._require()

        def write() -> int:
            with self._transaction(conn):
                cur = conn.execute(f"UPDATE runs SET {', '.join(sets)} WHERE id = ?", (*values, int(run_id)))
                return cur.rowcount

        if not self._with_retries(write, "write to"):
            raise KeyError(run_id)
        rec = self.get_id(run_id)
        assert rec is not None
        return rec

    def delete(self, run_ids: Iterable[int]) -> int:
        """Delete runs by number (one transaction); returns how many were deleted."""
        ids = [int(i) for i in run_ids]
        conn = self._require()

        def write() -> int:
            with self._transaction(conn):
                return sum(conn.execute("DELETE FROM runs WHERE id = ?", (i,)).rowcount for i in ids)

        return int(self._with_retries(write, "write to"))

    def runs(self, *, since: date | datetime | None = None, until: date | datetime | None = None) -> list[RunRecord]:
        """Stored runs, oldest first; ``since`` / ``until`` bound the run's own (local) date,
        both inclusive (a `datetime` bounds the exact time)."""
        conn = self._require()
        rows = self._with_retries(lambda: conn.execute(f"SELECT {_COLUMNS} FROM runs").fetchall(), "read")
        out = [_record(r) for r in rows or []]
        out = [r for r in out if _within(r.started_at, since, until)]
        out.sort(key=lambda r: (r.started_at, r.run_id or 0))
        return out

    def get(self, content_hash: str) -> RunRecord | None:
        """The stored run with this fingerprint, if any."""
        conn = self._require()
        row = self._with_retries(
            lambda: conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE content_hash = ?", (content_hash,)).fetchone(),
            "read",
        )
        return _record(row) if row else None

    def get_id(self, run_id: int) -> RunRecord | None:
        """The stored run with this number, if any."""
        conn = self._require()
        row = self._with_retries(
            lambda: conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id = ?", (int(run_id),)).fetchone(), "read"
        )
        return _record(row) if row else None

    def find(self, ref: str) -> list[RunRecord]:
        """The runs a reference names: a run number (``12`` or ``#12``), the start of a
        fingerprint (at least 6 hex digits; digits only when no run has that number), or a date
        (``YYYY-MM-DD``: every run that day)."""
        text = ref.strip().lstrip("#")
        if text.isdigit():
            rec = self.get_id(int(text))
            if rec is not None or len(text) < 6 or ref.strip().startswith("#"):
                return [rec] if rec is not None else []
        try:
            day = date.fromisoformat(text)
        except ValueError:
            day = None
        if day is not None and len(text) == 10:
            return self.runs(since=day, until=day)
        low = text.lower()
        if len(low) >= 6 and all(c in "0123456789abcdef" for c in low):
            return [r for r in self.runs() if r.content_hash.startswith(low)]
        return []

    def history_for(self, record: RunRecord) -> History:
        """The runs before ``record`` (by date; the record itself excluded) and the record as
        stored (with its original date if it was analysed before)."""
        stored = self.get(record.content_hash)
        current = stored if stored is not None else record
        earlier = tuple(
            r for r in self.runs() if r.content_hash != record.content_hash and r.started_at <= current.started_at
        )
        return History(runs=earlier, current=current, path=str(self.path))


def _within(when: datetime, since: date | datetime | None, until: date | datetime | None) -> bool:
    if since is not None:
        if isinstance(since, datetime):
            if when < (since if since.tzinfo else since.astimezone()):
                return False
        elif when.date() < since:
            return False
    if until is not None:
        if isinstance(until, datetime):
            if when > (until if until.tzinfo else until.astimezone()):
                return False
        elif when.date() > until:
            return False
    return True


def _row(r: RunRecord) -> tuple[Any, ...]:
    """The row of a record in `_INSERT_COLUMNS_T` order."""
    return (
        r.content_hash,
        r.started_at.isoformat(),
        r.date_source,
        datetime.now().astimezone().isoformat(),
        r.source,
        float(r.duration_s),
        float(r.running_s),
        r.distance_m,
        r.shoes,
        json.dumps(dict(r.metrics), sort_keys=True),
        None if r.findings is None else json.dumps([f.to_dict() for f in r.findings]),
        r.note,
        r.device,
        r.running_steps,
        r.tool_version,
        None,
    )


def _findings(text: str | None) -> tuple[StoredFinding, ...] | None:
    if text is None:
        return None
    try:
        items = json.loads(text)
        return tuple(
            StoredFinding(str(d["fault"]), str(d["name"]), str(d["severity"]), float(d["confidence"])) for d in items
        )
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _record(row: Sequence[Any]) -> RunRecord:
    d = dict(zip(_COLUMNS_T, row))
    started = _parse_start(d["started_at"]) or datetime.now().astimezone()
    try:
        metrics = json.loads(d["metrics_json"]) if d["metrics_json"] else {}
    except json.JSONDecodeError:
        metrics = {}
    return RunRecord(
        content_hash=d["content_hash"],
        started_at=started,
        date_source=d["date_source"],
        duration_s=float(d["duration_s"]),
        running_s=float(d["running_s"]),
        distance_m=None if d["distance_m"] is None else float(d["distance_m"]),
        shoes=d["shoes"],
        source=d["source"],
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
        run_id=d["id"],
        findings=_findings(d["findings_json"]),
        note=d["note"],
        device=d["device"],
        running_steps=None if d["running_steps"] is None else int(d["running_steps"]),
        tool_version=d["tool_version"],
    )


_DATE_WORDS = {
    "session start time": "from the recording's start time",
    "set by hand": "set by hand",
    "given": "as given",
    "file time": "from the file's modification time",
    "analysis time": "by the analysis time: the recording has no start time",
}


def _date_message(rec: RunRecord, stored: str | None) -> str:
    when = rec.started_at.strftime("%Y-%m-%d %H:%M %z")
    msg = f"history: run dated {when} ({_DATE_WORDS.get(rec.date_source, rec.date_source)})"
    if stored == "updated":
        msg += ", as when it was first stored"
    if rec.date_source in ("analysis time", "file time") and rec.run_id is not None:
        msg += f"; correct it with: gait history edit {rec.run_id} --date YYYY-MM-DD"
    return msg


def record_and_load(
    store: HistoryStore | None,
    analysis: Analysis,
    *,
    session: Session,
    shoes: str | None = None,
    source_file: str | os.PathLike[str] | None = None,
    first_messages: tuple[str, ...] = (),
    off_reason: str = "",
    started_at: datetime | None = None,
    file_time: bool = False,
    former_key: str | None = None,
) -> tuple[History | None, HistoryStatus]:
    """Store a run (unless it is shorter than `MIN_RUNNING_S`) and load the history it is
    judged against; never raises for history problems.

    Parameters
    ----------
    store
        An open `HistoryStore`, or None when the history is off or unavailable
        (``off_reason`` says why).
    analysis, session
        The analysis, and the session as read (its fingerprint keys the run).
    shoes, source_file, started_at, file_time
        As in `run_record`.
    former_key
        Another fingerprint the same run may be stored under (the calibrated session's, as
        earlier versions keyed it); such a run is re-keyed, not stored twice.
    first_messages
        Messages to show first (e.g. from `HistoryStore.open`).

    Returns
    -------
    history, status
        The `History` for `gait.faults.assess` (None without history) and what happened.
        Record the run's findings afterwards with `HistoryStore.set_findings`.
    """
    if store is None:
        status = "off" if "--no-history" in off_reason else "unavailable"
        return None, HistoryStatus(status, (*first_messages, off_reason) if off_reason else first_messages)
    msgs = list(first_messages)
    try:
        rec = run_record(
            analysis,
            content_hash=session_fingerprint(session),
            shoes=shoes,
            source_file=source_file,
            started_at=started_at,
            file_time=file_time,
        )
        if former_key is not None and former_key != rec.content_hash:
            store.rekey(former_key, rec.content_hash)
        stored = None
        if rec.running_s >= MIN_RUNNING_S:
            stored = "new" if store.add(rec) else "updated"
        history = store.history_for(rec)
    except HistoryUnavailable as e:
        reason = f"{e.reason}; analysed without history"
        return None, HistoryStatus("unavailable", (*msgs, reason), str(store.path))
    n = len(history.runs)
    cur = history.current
    if stored == "updated":
        msgs.append(
            f"history: this recording was already in your history (run {cur.run_id}): updated, not counted twice "
            f"({n} earlier runs)"
        )
    elif stored == "new":
        msgs.append(f"history: run {cur.run_id} stored in {store.path} ({n} earlier runs)")
    else:
        msgs.append(
            f"history: not stored (under {MIN_RUNNING_S / 60:g} min of running); compared with {n} earlier runs"
        )
    msgs.append(_date_message(cur, stored))
    if rec.distance_m is None:
        msgs.append("history: no speed known, so running time (not distance) is this run's training volume")
    return history, HistoryStatus(
        "used" if stored else "read_only",
        tuple(msgs),
        str(store.path),
        n,
        stored,
        run_id=cur.run_id if stored else None,
        started_at=cur.started_at.isoformat(),
        date_source=cur.date_source,
    )
