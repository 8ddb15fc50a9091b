"""Rows of the runs table to records and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from ._records import (
    RunRecord,
    StoredFinding,
    _parse_start,
)
from ._schema import (
    _COLUMNS_T,
)

if TYPE_CHECKING:
    pass


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
