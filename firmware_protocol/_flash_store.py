"""The virtual sensor's persistent state: its flash store of logged sessions and its clock.

Part of `firmware_protocol.virtual_logging` (import from there). `FlashStore` keeps the
sessions in memory or in a folder with the reference firmware's capacity rules
(``firmware/.../src/lip_log.h``): sessions start on a 4096-byte sector, one sector is kept
erased ahead of the head, space comes back in logging order, nothing stored is ever
overwritten. `VirtualClock` is the sensor's UTC clock, set by SET_CLOCK and running slow by
its drift.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from gait.errors import GaitInputError, Where

from . import codec
from . import logbook as lb

__all__ = ["XIAO_CAPACITY_BYTES", "FlashStore", "LoggedSession", "VirtualClock"]

logger = logging.getLogger("firmware_protocol.virtual_logging")

_U32 = 1 << 32
#: Capacity of the reference board's store: a 2 MiB flash less two directory sectors, less the
#: sector kept erased ahead.
XIAO_CAPACITY_BYTES = 509 * 4096


# ---------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------
@dataclass
class LoggedSession:
    """One session in a `FlashStore`: its list entry, its bytes, where it starts in the ring."""

    entry: lb.LogEntry
    data: bytearray
    start: int
    erased: bool = False


class FlashStore:
    """Sessions of a virtual sensor, in memory or in a folder, with the firmware's capacity rules.

    Parameters
    ----------
    capacity_bytes
        Bytes of session data the empty store holds (default: the reference board's 2 MiB
        flash, 2,084,864 bytes; about 7 minutes at 416 Hz).
    sector_bytes
        Flash sector: every session starts on one, and one is kept erased ahead of the head.
    max_sessions
        Directory slots (sessions stored, erased ones still holding space included).
    path
        A folder to keep the store in (created; an existing store there is loaded); ``None``:
        in memory only.
    """

    def __init__(
        self,
        *,
        capacity_bytes: int = XIAO_CAPACITY_BYTES,
        sector_bytes: int = 4096,
        max_sessions: int = 48,
        path: str | os.PathLike[str] | None = None,
    ) -> None:
        for name, v, low in (
            ("capacity_bytes", capacity_bytes, 1),
            ("sector_bytes", sector_bytes, 512),
            ("max_sessions", max_sessions, 1),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise GaitInputError(
                    "out of range", expected=f"an integer >= {low}", found=repr(v), where=Where(parameter=name)
                )
        if capacity_bytes % sector_bytes or capacity_bytes >= _U32:
            raise GaitInputError(
                "bad capacity",
                expected=f"a multiple of the sector ({sector_bytes} bytes) below 4 GiB",
                found=str(capacity_bytes),
                where=Where(parameter="capacity_bytes"),
            )
        self.capacity_bytes = capacity_bytes
        self.sector_bytes = sector_bytes
        self.max_sessions = max_sessions
        self.path = None if path is None else Path(path)
        self.slots: list[LoggedSession] = []
        self.head = 0
        self.next_id = 1
        self.active: LoggedSession | None = None
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            if (self.path / "store.json").exists():
                self._load()

    # -- space --------------------------------------------------------------------------------
    @property
    def ring_bytes(self) -> int:
        return self.capacity_bytes + self.sector_bytes

    def _align(self, pos: int) -> int:
        s = self.sector_bytes
        return -(-pos // s) * s

    def _limit(self) -> int:
        tail = self.slots[0].start if self.slots else self._align(self.head)
        return tail + self.ring_bytes - self.sector_bytes

    @property
    def free_bytes(self) -> int:
        """Bytes the session being logged (or a new one) can still fill."""
        start = self.head if self.active is not None else self._align(self.head)
        return max(0, self._limit() - start)

    @property
    def sessions(self) -> list[LoggedSession]:
        """The sessions a host sees (erased ones hidden), oldest first."""
        return [s for s in self.slots if not s.erased]

    def find(self, session_id: int) -> LoggedSession | None:
        return next((s for s in self.sessions if s.entry.session_id == session_id), None)

    # -- logging ------------------------------------------------------------------------------
    def begin(self, template: lb.LogEntry) -> codec.Status:
        """Start a session with ``template``'s settings and clock fields (id, size, digest and
        flags are the store's). ``STORE_FULL`` when no record of 41 samples fits, or no slot."""
        if self.active is not None:
            return codec.Status.BUSY
        start = self._align(self.head)
        if len(self.slots) >= self.max_sessions or start + codec.OVERHEAD + 12 * lb.RECORD_SAMPLES > self._limit():
            return codec.Status.STORE_FULL
        entry = dataclasses.replace(
            template,
            session_id=self.next_id,
            flags=template.flags | lb.EntryFlags.ACTIVE,
            size_bytes=0,
            digest=0,
            format=lb.RECORD_FORMAT_PACKETS,
        )
        self.next_id = 1 if self.next_id == 0xFFFF else self.next_id + 1
        self.head = start
        self.active = LoggedSession(entry, bytearray(), start)
        self.slots.append(self.active)
        self._save()
        return codec.Status.OK

    def append(self, record: bytes, **entry_changes: int) -> bool:
        """Append one record to the active session (False, nothing written, when it does not fit);
        ``entry_changes`` update its list entry (sample count, duration, flags ...)."""
        a = self.active
        if a is None:
            raise RuntimeError("no session is being logged")
        if self.head + len(record) > self._limit():
            return False
        a.data += record
        a.entry = dataclasses.replace(
            a.entry,
            size_bytes=len(a.data),
            digest=lb.crc32(record, a.entry.digest),
            **entry_changes,
        )
        self.head += len(record)
        if self.path is not None:
            with open(self.path / f"session-{a.entry.session_id}.bin", "ab") as fh:
                fh.write(record)
        return True

    def update_active(self, **entry_changes: int) -> None:
        assert self.active is not None
        self.active.entry = dataclasses.replace(self.active.entry, **entry_changes)
        self._save()

    def end(self, flags: int = 0) -> lb.LogEntry | None:
        """End the active session (adding ``flags``); an empty one is forgotten. Returns its entry."""
        a = self.active
        if a is None:
            return None
        self.active = None
        if not a.data:
            self.slots.remove(a)
            self._save()
            return None
        a.entry = dataclasses.replace(a.entry, flags=(a.entry.flags | flags) & ~lb.EntryFlags.ACTIVE)
        self._save()
        return a.entry

    def erase(self, session_id: int, digest: int) -> codec.Status:
        """Erase a session when ``digest`` equals its CRC-32 (``DIGEST_MISMATCH`` otherwise)."""
        s = self.find(session_id)
        if s is None:
            return codec.Status.NOT_FOUND
        if s is self.active:
            return codec.Status.BUSY
        if s.entry.digest != digest:
            return codec.Status.DIGEST_MISMATCH
        s.erased = True
        while self.slots and self.slots[0].erased:  # space comes back in logging order
            gone = self.slots.pop(0)
            if self.path is not None:
                (self.path / f"session-{gone.entry.session_id}.bin").unlink(missing_ok=True)
        self._save()
        return codec.Status.OK

    # -- persistence --------------------------------------------------------------------------
    def _save(self) -> None:
        if self.path is None:
            return
        state = {
            "capacity_bytes": self.capacity_bytes,
            "sector_bytes": self.sector_bytes,
            "head": self.head,
            "next_id": self.next_id,
            "slots": [{"entry": dataclasses.asdict(s.entry), "start": s.start, "erased": s.erased} for s in self.slots],
        }
        tmp = self.path / "store.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.path / "store.json")

    def _load(self) -> None:
        assert self.path is not None
        state = json.loads((self.path / "store.json").read_text())
        self.head, self.next_id = int(state["head"]), int(state["next_id"])
        for s in state["slots"]:
            entry = lb.LogEntry(**s["entry"])
            f = self.path / f"session-{entry.session_id}.bin"
            data = bytearray(f.read_bytes()) if f.exists() else bytearray()
            slot = LoggedSession(entry, data, int(s["start"]), bool(s["erased"]))
            if entry.active:  # the process died while logging: close at the data kept (as the firmware recovers)
                slot.entry = dataclasses.replace(
                    entry,
                    flags=(entry.flags & ~lb.EntryFlags.ACTIVE) | lb.EntryFlags.RECOVERED,
                    size_bytes=len(data),
                    digest=lb.crc32(data),
                )
                self.head = slot.start + len(data)
            self.slots.append(slot)
        self.slots = [s for s in self.slots if s.data or s.erased]


# ---------------------------------------------------------------------------------------
# clock, faults, what was served
# ---------------------------------------------------------------------------------------
@dataclass
class VirtualClock:
    """The sensor's UTC clock: set at a wall-clock moment, then running ``drift_ppm`` slow."""

    drift_ppm: float = 0.0
    set_utc_us: int = 0
    set_wall_s: float = math.nan

    @property
    def is_set(self) -> bool:
        return self.set_utc_us != 0

    def set(self, utc_us: int, *, wall_s: float | None = None) -> None:
        self.set_utc_us = int(utc_us)
        self.set_wall_s = time.time() if wall_s is None else float(wall_s)

    def utc_us(self, wall_s: float | None = None) -> int:
        """The clock's reading at wall-clock time ``wall_s`` (now by default); 0 when not set."""
        if not self.is_set:
            return 0
        w = time.time() if wall_s is None else wall_s
        return self.set_utc_us + round((w - self.set_wall_s) * 1e6 / (1.0 + self.drift_ppm * 1e-6))
