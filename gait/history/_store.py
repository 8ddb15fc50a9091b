"""`HistoryStore`: the SQLite store (transactions, locking, migration on open, queries and edits)."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._records import (
    UNSET,
    History,
    HistoryUnavailable,
    RunRecord,
    StoredFinding,
    _is_lock_error,
    _Unset,
    default_history_path,
)
from ._rows import _record, _row, _within
from ._schema import (
    _COLUMNS,
    _COLUMNS_T,
    _INSERT,
    _MIGRATIONS,
    _T,
    _V1_COLUMNS,
    APPLICATION_ID,
    SCHEMA_VERSION,
    _create_current,
)

if TYPE_CHECKING:
    from ..faults import Finding


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
