"""What the history stores and reports: runs, findings, status; which sessions are the runner's own."""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GaitError
from ._schema import APP_NAME, ENV_DB, NOT_PERSONAL_PURPOSES

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..faults import Finding
    from ..session import Session


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
    from ..faults import derived_metrics

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
