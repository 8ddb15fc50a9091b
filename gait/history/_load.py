"""`record_and_load`: store this run (when it is the runner's) and load the history it is judged against."""

from __future__ import annotations

import os
from datetime import datetime
from typing import TYPE_CHECKING

from ._records import History, HistoryStatus, HistoryUnavailable, run_record, session_fingerprint
from ._rows import _date_message
from ._schema import MIN_RUNNING_S
from ._store import HistoryStore

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..session import Session


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
