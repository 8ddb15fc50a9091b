"""The sync's bookkeeping on disk: a partial download kept for resuming, the index of what was
downloaded, one job per session to fetch."""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_protocol import logbook as lb

from ..errors import GaitInputError, Where

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------
# on disk: the index of synced sessions, partial downloads
# ---------------------------------------------------------------------------------------
def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "", text)[-12:] or "sensor"


class _Partial:
    """A download in progress: the bytes at their offsets in ``<key>.part``, the verified ranges in
    ``<key>.part.json`` (written after every window: what is listed there is on disk)."""

    def __init__(self, state_dir: Path, address: str, entry: lb.LogEntry) -> None:
        key = f"{_safe(address)}-s{entry.session_id}-{entry.digest:08x}"
        self.path = state_dir / f"{key}.part"
        self.meta = state_dir / f"{key}.part.json"
        self.entry = entry
        self.ranges = lb.RangeSet()
        if self.path.exists() and self.meta.exists():
            try:
                m = json.loads(self.meta.read_text())
                if m.get("entry") == dataclasses.asdict(entry) and self.path.stat().st_size == entry.size_bytes:
                    for a, b in m.get("ranges", []):
                        self.ranges.add(int(a), int(b))
            except (ValueError, OSError, TypeError) as e:  # a damaged state file: start again
                logger.warning("partial download %s unusable (%s); downloading again", self.meta, e)
                self.ranges = lb.RangeSet()
        if not self.ranges.ranges:
            state_dir.mkdir(parents=True, exist_ok=True)
            with open(self.path, "wb") as fh:
                fh.truncate(entry.size_bytes)
        self._fh = open(self.path, "r+b")

    def write(self, offset: int, payload: bytes) -> None:
        self._fh.seek(offset)
        self._fh.write(payload)
        self.ranges.add(offset, offset + len(payload))

    def save(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())
        tmp = self.meta.with_name(self.meta.name + ".tmp")
        tmp.write_text(json.dumps({"entry": dataclasses.asdict(self.entry), "ranges": self.ranges.ranges}))
        tmp.replace(self.meta)

    def data(self) -> bytes:
        self._fh.flush()
        return self.path.read_bytes()

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)
        self.meta.unlink(missing_ok=True)


class _Index:
    """``.gait-sync/index.json``: every session fetched, by sensor, id and digest."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "index.json"
        self.items: list[dict[str, Any]] = []
        if self.path.exists():
            try:
                self.items = list(json.loads(self.path.read_text()).get("sessions", []))
            except (ValueError, OSError) as e:
                raise GaitInputError(
                    "unreadable sync index",
                    expected="the JSON file gait sync writes",
                    found=str(e),
                    where=Where(file=str(self.path)),
                    hint="Move it away to sync everything the sensor holds again",
                ) from None

    def find(self, address: str, entry: lb.LogEntry) -> dict[str, Any] | None:
        for it in self.items:
            if it["address"] == address and it["session_id"] == entry.session_id and it["digest"] == entry.digest:
                return it
        return None

    def add(self, address: str, entry: lb.LogEntry, file: str) -> None:
        self.items.append(
            {
                "address": address,
                "session_id": entry.session_id,
                "digest": entry.digest,
                "size_bytes": entry.size_bytes,
                "start_utc_us": entry.start_utc_us,
                "file": file,
                "synced_at": _dt.datetime.now(tz=_dt.UTC).isoformat(timespec="seconds"),
            }
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name("index.json.tmp")
        tmp.write_text(json.dumps({"sessions": self.items}, indent=1) + "\n")
        tmp.replace(self.path)


@dataclass
class _Job:
    """One session being synced (state kept across reconnections)."""

    entry: lb.LogEntry
    status: str = "pending"  # pending, written, already, partial, failed, logging
    partial: _Partial | None = None
    result: dict[str, Any] = field(default_factory=dict)
    verified_before: int = 0
    downloaded: int = 0
    requested: int = 0
    corrupt: int = 0
    missing: int = 0
    attempts: int = 0
    erased: bool | None = None
    erase_message: str = ""
    message: str = ""
    digest_failures: int = 0
    verified_digest: int | None = None
