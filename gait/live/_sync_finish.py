"""`gait sync` after the downloads: erase what was verified, set the clock, start a new
session, and the result.

A session is erased only once verified (LOG_ERASE carries the digest the host computed; the
sensor refuses any other). The clock is set only when no session is left half-downloaded or
still logging (their start times need the clock reference they started with). The functions
act on a `gait.live.Syncer`.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from bleak import BleakClient

from firmware_protocol import codec
from firmware_protocol import logbook as lb

from ._sync_state import _Job
from ._sync_types import SyncedSession, SyncResult, _Refused, _status_name

if TYPE_CHECKING:
    from ._sync import Syncer

__all__ = ["erase_session", "finish_sync", "sync_result"]


async def erase_session(sy: Syncer, client: BleakClient, job: _Job) -> None:
    e = job.entry
    if job.status == "written":
        digest = job.verified_digest
    else:  # synced before: verified then; the index holds the digest it verified
        assert sy.found is not None
        it = sy._index.find(sy.found.address, e)
        digest = None if it is None else int(it["digest"])
    if digest is None:
        job.erased = False
        job.erase_message = "not erased: no verified download"
        return
    dc = await sy._command(client, codec.encode_log_erase(session_id=e.session_id, digest=digest), check=False)
    if dc.last_status == codec.Status.OK:
        job.erased = True
        sy._say(f"session {e.session_id}: erased on the sensor")
    else:
        job.erased = False
        job.erase_message = f"the sensor refused to erase it ({_status_name(dc.last_status)})"
        sy._say(f"session {e.session_id}: {job.erase_message}")
    sy._last_progress = time.monotonic()


async def finish_sync(sy: Syncer, client: BleakClient) -> None:
    cfg = sy.config
    jobs = sy._jobs or []
    # a session still being logged (--keep-logging) or not fully fetched needs the clock
    # reference it started with: setting the clock now would lose its start time correction
    unfinished = [j for j in jobs if j.status in ("pending", "partial", "logging")]
    if cfg.start_log:
        try:
            if cfg.rate_hz is not None:
                await sy._command(client, codec.encode_set_rate(rate_hz=cfg.rate_hz))
            await sy._command(
                client, codec.encode_set_range(acc_range_g=cfg.acc_range_g, gyr_range_dps=cfg.gyr_range_dps)
            )
        except _Refused as r:
            sy._message = f"the sensor refused the settings for the new session ({r}); check --rate-hz and the ranges"
            return
    if (cfg.set_clock and not unfinished) or cfg.start_log:
        if unfinished:
            sy._say("setting the clock: the unfinished downloads' start times will not be drift-corrected")
        await sy._command(client, codec.encode_set_clock(utc_us=round(time.time() * 1e6)))
        sy._clock_set = True
    elif cfg.set_clock:
        sy._say(
            "the sensor's clock was left as it is: a session is unfinished or still logging (its start time needs it)"
        )
    if cfg.start_log:
        try:
            dc = await sy._command(client, codec.encode_log_start())
        except _Refused as r:
            sy._message = f"the sensor refused to start logging ({_status_name(r.status)})"
            if r.status == codec.Status.STORE_FULL:
                sy._message += ": its store is full; sync with --erase first"
            return
        sy._logging_started = True
        minutes = dc.log_free_bytes / (dc.rate_hz * 12 * (1 + 11 / (12 * lb.RECORD_SAMPLES))) / 60
        sy._say(
            f"logging started at {dc.rate_hz:g} Hz, +-{dc.acc_range_g} g, +-{dc.gyr_range_dps} dps; "
            f"the store holds about {minutes:.0f} min at this rate"
        )


def sync_result(sy: Syncer) -> SyncResult:
    out = []
    for j in sy._jobs or []:
        r = j.result
        out.append(
            SyncedSession(
                entry=j.entry,
                status="partial" if j.status == "pending" else j.status,
                path=r.get("path"),
                message=j.message,
                n_samples=r.get("n", 0),
                sampling_rate_hz=r.get("rate", math.nan),
                start_time=r.get("start"),
                start_time_corrected=r.get("corrected", False),
                bytes_downloaded=j.downloaded,
                bytes_verified_before=j.verified_before,
                blocks_corrupt=j.corrupt,
                blocks_missing=j.missing,
                bytes_requested=j.requested,
                gaps=r.get("gaps", ()),
                erased=j.erased,
                erase_message=j.erase_message,
            )
        )
    f = sy.found
    return SyncResult(
        device=(f.name if f else "") or "",
        address=f.address if f else "",
        sessions=tuple(out),
        clock=sy._clock,
        reconnects=sy._reconnects,
        bytes_downloaded=sum(j.downloaded for j in sy._jobs or []),
        download_s=sy._download_s,
        logging_stopped=sy._logging_stopped,
        clock_set=sy._clock_set,
        logging_started=sy._logging_started,
        log_capacity_bytes=sy._store[0],
        log_free_bytes=sy._store[1],
        message=sy._message,
    )
