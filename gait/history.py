"""Run history: a local SQLite store of the runs a runner has analysed.

The history drives what one run cannot show: training load (weekly volume up more than
10-15 %, no lighter weeks, no rest days), shoe wear (distance on a pair, or its age) and
personal baselines ("cadence 6 % below your last five runs"). It stays on the runner's
machine: ``<user data dir>/gait-lumbar/history.sqlite`` (platformdirs), or ``$GAIT_HISTORY_DB``,
or ``--history-db PATH``.

Safety of the data comes first:

- every write is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``), so a crash leaves the
  previous state;
- a run is keyed by a hash of its samples, so analysing the same recording again updates it
  instead of counting it twice (its date is kept);
- a database that another program holds locked is retried, then the run is analysed without
  history and the caller is told (`HistoryUnavailable`);
- a corrupt file is never deleted or overwritten: it is renamed to
  ``history.sqlite.corrupt-<time>`` (the rows that can still be read are copied into the new
  database) and a fresh database is started;
- a file that is an SQLite database of another program, or of a newer version of this one,
  is left untouched.

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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .pipeline import Analysis
    from .session import Session

__all__ = [
    "APPLICATION_ID",
    "ENV_DB",
    "MIN_RUNNING_S",
    "SCHEMA_VERSION",
    "History",
    "HistoryStatus",
    "HistoryStore",
    "HistoryUnavailable",
    "RunRecord",
    "default_history_path",
    "record_and_load",
    "run_record",
    "session_fingerprint",
]

#: Environment variable that overrides the database path.
ENV_DB = "GAIT_HISTORY_DB"
APP_NAME = "gait-lumbar"
#: Version of the database layout (``PRAGMA user_version``).
SCHEMA_VERSION = 1
#: ``PRAGMA application_id`` of our databases ("GAIT"), to recognise files of other programs.
APPLICATION_ID = 0x47414954
#: Recordings with less running than this are analysed but not stored (a test trial is not a run).
MIN_RUNNING_S = 60.0

_SCHEMA = """
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


class HistoryUnavailable(Exception):
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
        Where ``started_at`` came from: ``session start time``, ``file time`` or
        ``analysis time``.
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
        Run-level numbers used as personal baselines (flattened summary keys such as
        ``median.cadence_spm`` and the derived metrics of `gait.faults`).
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


def run_record(
    analysis: Analysis,
    *,
    content_hash: str | None = None,
    shoes: str | None = None,
    started_at: datetime | None = None,
    source_file: str | os.PathLike[str] | None = None,
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
        When the run started. Default: the session's ``start_time``, else the modification
        time of ``source_file``, else now (``date_source`` says which).
    source_file
        The file the session came from.
    """
    from .faults import derived_metrics

    meta = analysis.session.meta
    date_source = "given"
    if started_at is None:
        started_at = _parse_start(meta.start_time)
        date_source = "session start time"
    if started_at is None and source_file is not None and Path(source_file).exists():
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
    )


@dataclass(frozen=True)
class HistoryStatus:
    """What happened with the run history for one report.

    ``status``: ``used`` (history read and this run stored or updated), ``read_only`` (read,
    this run not stored: too short), ``off`` (``--no-history``) or ``unavailable`` (locked,
    unreadable, foreign: the run was analysed without it).
    """

    status: str = "off"
    messages: tuple[str, ...] = ()
    database: str | None = None
    earlier_runs: int = 0
    stored: str | None = None  # "new", "updated" or None

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "messages": list(self.messages),
            "database": self.database,
            "earlier_runs": self.earlier_runs,
            "stored": self.stored,
        }


def _is_lock_error(e: sqlite3.Error) -> bool:
    msg = str(e).lower()
    return isinstance(e, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


class HistoryStore:
    """The SQLite history database.

    Parameters
    ----------
    path
        Database file (default: `default_history_path`).
    timeout_s
        How long SQLite waits for a lock before reporting it (per attempt).
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
        self._salvaged: list[tuple[Any, ...]] = []

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
        """Open (or create) the database; returns what happened, for the user.

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

    def _init_schema(self) -> None:
        conn = self._conn
        assert conn is not None
        with self._transaction(conn):
            for stmt in _SCHEMA.strip().split(";"):
                if stmt.strip():
                    conn.execute(stmt)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _insert_salvaged(self, rows: list[tuple[Any, ...]]) -> None:
        conn = self._require()
        with self._transaction(conn):
            conn.executemany(f"INSERT OR IGNORE INTO runs ({_COLUMNS}) VALUES ({_MARKS})", rows)

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

    def _salvage(self, old: Path) -> list[tuple[Any, ...]]:
        try:
            conn = sqlite3.connect(f"file:{old}?mode=ro", uri=True, timeout=self.timeout_s)
        except sqlite3.Error:
            return []
        try:
            return list(conn.execute(f"SELECT {_COLUMNS} FROM runs"))
        except sqlite3.Error:
            return []
        finally:
            conn.close()

    def _with_retries(self, fn, what: str):
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
        return None  # pragma: no cover

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    @contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- reading and writing --------------------------------------------------------------
    def add(self, record: RunRecord) -> bool:
        """Store a run; returns True if it is new, False if this recording was already stored
        (then its numbers and shoes are updated, its date is kept, and it is not counted twice).
        """
        conn = self._require()

        def write() -> bool:
            with self._transaction(conn):
                old = conn.execute("SELECT shoes FROM runs WHERE content_hash = ?", (record.content_hash,)).fetchone()
                row = _row(record)
                if old is None:
                    conn.execute(f"INSERT INTO runs ({_COLUMNS}) VALUES ({_MARKS})", row)
                    return True
                conn.execute(
                    "UPDATE runs SET analysed_at = ?, source = ?, duration_s = ?, running_s = ?, distance_m = ?,"
                    " shoes = COALESCE(?, shoes), metrics_json = ? WHERE content_hash = ?",
                    (row[3], row[4], row[5], row[6], row[7], row[8], row[9], record.content_hash),
                )
                return False

        return bool(self._with_retries(write, "write to"))

    def runs(self) -> list[RunRecord]:
        """Every stored run, oldest first."""
        conn = self._require()
        rows = self._with_retries(
            lambda: conn.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY started_at").fetchall(), "read"
        )
        out = [_record(r) for r in rows or []]
        out.sort(key=lambda r: r.started_at)
        return out

    def get(self, content_hash: str) -> RunRecord | None:
        """The stored run with this fingerprint, if any."""
        conn = self._require()
        row = self._with_retries(
            lambda: conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE content_hash = ?", (content_hash,)).fetchone(),
            "read",
        )
        return _record(row) if row else None

    def history_for(self, record: RunRecord) -> History:
        """The runs before ``record`` (by date; the record itself excluded) and the record as
        stored (with its original date if it was analysed before)."""
        stored = self.get(record.content_hash)
        current = stored if stored is not None else record
        earlier = tuple(
            r for r in self.runs() if r.content_hash != record.content_hash and r.started_at <= current.started_at
        )
        return History(runs=earlier, current=current, path=str(self.path))


_COLUMNS = (
    "content_hash, started_at, date_source, analysed_at, source, duration_s, running_s, distance_m, shoes, metrics_json"
)
_MARKS = ", ".join("?" * 10)


def _row(r: RunRecord) -> tuple[Any, ...]:
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
    )


def _record(row: tuple[Any, ...]) -> RunRecord:
    started = _parse_start(row[1]) or datetime.now().astimezone()
    try:
        metrics = json.loads(row[9]) if row[9] else {}
    except json.JSONDecodeError:
        metrics = {}
    return RunRecord(
        content_hash=row[0],
        started_at=started,
        date_source=row[2],
        duration_s=float(row[5]),
        running_s=float(row[6]),
        distance_m=None if row[7] is None else float(row[7]),
        shoes=row[8],
        source=row[4],
        metrics={k: float(v) for k, v in metrics.items() if isinstance(v, int | float)},
    )


def record_and_load(
    store: HistoryStore | None,
    analysis: Analysis,
    *,
    session: Session,
    shoes: str | None = None,
    source_file: str | os.PathLike[str] | None = None,
    first_messages: tuple[str, ...] = (),
    off_reason: str = "",
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
    shoes, source_file
        As in `run_record`.
    first_messages
        Messages to show first (e.g. from `HistoryStore.open`).

    Returns
    -------
    history, status
        The `History` for `gait.faults.assess` (None without history) and what happened.
    """
    if store is None:
        status = "off" if "--no-history" in off_reason else "unavailable"
        return None, HistoryStatus(status, (*first_messages, off_reason) if off_reason else first_messages)
    msgs = list(first_messages)
    try:
        rec = run_record(analysis, content_hash=session_fingerprint(session), shoes=shoes, source_file=source_file)
        stored = None
        if rec.running_s >= MIN_RUNNING_S:
            stored = "new" if store.add(rec) else "updated"
        history = store.history_for(rec)
    except HistoryUnavailable as e:
        reason = f"{e.reason}; analysed without history"
        return None, HistoryStatus("unavailable", (*msgs, reason), str(store.path))
    n = len(history.runs)
    if stored == "updated":
        msgs.append(
            f"history: this recording was already in your history: updated, not counted twice ({n} earlier runs)"
        )
    elif stored == "new":
        msgs.append(f"history: run stored in {store.path} ({n} earlier runs)")
    else:
        msgs.append(
            f"history: not stored (under {MIN_RUNNING_S / 60:g} min of running); compared with {n} earlier runs"
        )
    if rec.distance_m is None:
        msgs.append("history: no speed known, so running time (not distance) is this run's training volume")
    return history, HistoryStatus("used" if stored else "read_only", tuple(msgs), str(store.path), n, stored)
