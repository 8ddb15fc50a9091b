"""The FIT reader of a run's track (Garmin FIT SDK): its records, pauses from the timer
events, the track."""

from __future__ import annotations

import struct
import warnings
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GaitDataWarning, GaitInputError, Where
from ._assemble import _assemble
from ._track import _SEMICIRCLE_DEG, Track, _epoch, _iso

if TYPE_CHECKING:
    pass


# --- FIT ---------------------------------------------------------------------------------
_FIT_STOPS = ("stop", "stop_all", "stop_disable", "stop_disable_all")


def _read_fit(p: Path, window_s: float) -> Track:
    from garmin_fit_sdk import Decoder, Stream

    data = p.read_bytes()
    where = Where(file=p)

    def decoder() -> Any:
        return Decoder(Stream.from_byte_array(bytearray(data)))

    try:
        if not decoder().is_fit():
            raise GaitInputError(
                "not a FIT file", expected="a FIT file (a header ending in '.FIT')", found=repr(data[:14]), where=where
            )
        intact = decoder().check_integrity()
        messages, errors = decoder().read(convert_types_to_strings=True, merge_heart_rates=False)
    except (IndexError, KeyError, TypeError, ValueError, struct.error, RuntimeError, OverflowError) as e:
        raise GaitInputError(
            "cannot decode the FIT file",
            expected="a FIT activity file",
            found=f"{type(e).__name__}: {e}"[:200],
            where=where,
        ) from None
    records = list(messages.get("record_mesgs") or [])
    notes: list[str] = []
    if errors or not intact:
        problem = str(errors[0])[:160] if errors else "the file's checksum does not match its content"
        if len(records) < 2:
            raise GaitInputError(
                "damaged FIT file", expected="a complete FIT activity file", found=problem, where=where
            )
        notes.append(f"damaged or cut-off FIT file ({problem}): read {len(records)} records before the damage")
        warnings.warn(f"{p}: {notes[-1]}", GaitDataWarning, stacklevel=3)

    def get(rec: Mapping[str, Any], *keys: str, scale: float = 1.0) -> float:
        for k in keys:
            v = rec.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return float(v) * scale
        return np.nan

    t, lat, lon, ele, dist, speed, labels = [], [], [], [], [], [], []
    skipped = 0
    for k, rec in enumerate(records):
        ts = rec.get("timestamp")
        if not isinstance(ts, datetime):
            skipped += 1
            continue
        t.append(_epoch(ts))
        lat.append(get(rec, "position_lat", scale=_SEMICIRCLE_DEG))
        lon.append(get(rec, "position_long", scale=_SEMICIRCLE_DEG))
        ele.append(get(rec, "enhanced_altitude", "altitude"))
        dist.append(get(rec, "distance"))
        speed.append(get(rec, "enhanced_speed", "speed"))
        labels.append(f"record {k + 1} ({_iso(t[-1])})")
    if skipped:
        notes.append(f"{skipped} record(s) without a timestamp skipped")
    pauses: list[tuple[float, float]] = []
    stopped_at: float | None = None
    events = [e for e in messages.get("event_mesgs") or [] if e.get("event") == "timer"]
    timed = [ev for ev in events if isinstance(ev.get("timestamp"), datetime)]
    for ev in sorted(timed, key=lambda ev: _epoch(ev["timestamp"])):  # a few timer events per run
        ts = ev["timestamp"]
        if ev.get("event_type") in _FIT_STOPS and stopped_at is None:
            stopped_at = _epoch(ts)
        elif ev.get("event_type") == "start" and stopped_at is not None:
            pauses.append((stopped_at, _epoch(ts)))
            stopped_at = None
    sport = None
    sessions = messages.get("session_mesgs") or []
    if sessions:
        s0 = sessions[0]
        sport = "/".join(str(s0[k]) for k in ("sport", "sub_sport") if s0.get(k) not in (None, "generic"))
        sport = sport or None
    names = {
        "time": "record timestamps (UTC)",
        "position": "record position_lat/position_long",
        "elevation": "record enhanced_altitude",
        "distance": "device distance records",
        "speed": "device speed records (enhanced_speed)",
    }
    tt = np.asarray(t, dtype=float)
    return _assemble(
        t=tt,
        lat=np.asarray(lat, dtype=float),
        lon=np.asarray(lon, dtype=float),
        ele=np.asarray(ele, dtype=float),
        dist=np.asarray(dist, dtype=float),
        speed=np.asarray(speed, dtype=float),
        breaks_before=np.zeros(tt.size, bool),
        declared_pauses=pauses,
        names=names,
        labels=labels,
        fmt="fit",
        path=p,
        sport=sport,
        notes=notes,
        speed_window_s=window_s,
    )
