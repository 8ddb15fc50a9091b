"""`gait sync`: check a downloaded session and write it as a session file.

A session whose bytes match the sensor's CRC-32 digest is parsed into records (each checked:
CRC, sequence, time stamps) and written with the same writer and format as ``gait record``:
times = sample index / rate on the sensor's sampling grid, the start time from the sensor's
clock corrected for the drift measured since the clock was last set (see `gait.live.Syncer`,
Notes), the rate corrected when the records' time stamps and the drift move it by more than
0.01 %. A sidecar ``.recording.json`` holds the device, the log entry, the download and the
gaps. A digest mismatch downloads the session once more, then fails it. The functions act on
a `gait.live.Syncer`.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_protocol import logbook as lb

from ..io import SessionCsvWriter
from ..session import SessionMetadata
from ._scan import OUR_PROTOCOL
from ._sync_state import _Job, _safe
from ._sync_types import _MAX_CORRECTION, _MIN_CORRECTION

if TYPE_CHECKING:
    from ._sync import Syncer

__all__ = ["verify_and_write", "write_session"]

_WRITE_CHUNK = 50_000


def verify_and_write(sy: Syncer, job: _Job) -> None:
    e = job.entry
    part = job.partial
    assert part is not None and sy.found is not None
    raw = part.data()
    digest = lb.crc32(raw)
    if digest != e.digest:
        job.digest_failures += 1
        part.discard()
        job.partial = None
        if job.digest_failures < 2:
            sy._say(f"session {e.session_id}: digest mismatch (every block had passed its CRC); downloading again")
            return
        job.status = "failed"
        job.message = f"the data do not match the sensor's digest (0x{digest:08x}, expected 0x{e.digest:08x})"
        return
    try:
        run = lb.parse_session_data(raw, rate_hz=e.rate_hz)
    except lb.LogDataError as err:
        job.status = "failed"
        job.message = f"the session's records are not valid ({err}); kept in {part.path}"
        part.close()
        return
    path, info = write_session(sy, job, run)
    job.status = "written"
    job.result = {"path": path, **info}
    job.verified_digest = digest
    sy._index.add(sy.found.address, e, path.name)
    part.discard()
    job.partial = None
    sy._say(
        f"session {e.session_id}: {e.size_bytes} bytes verified (CRC-32 0x{digest:08x}); wrote {path.name} "
        f"({run.n_samples} samples, {run.n_samples / info['rate']:.1f} s at {info['rate']:.6g} Hz)"
    )


def start_time(sy: Syncer, e: lb.LogEntry) -> tuple[float | None, bool, str]:
    """(UTC seconds of the first sample, corrected?, how) from the sensor's clock."""
    c = sy._clock
    if not e.clock_set or e.start_utc_us == 0:
        return None, False, "unknown: the sensor's clock was not set when the session started"
    start = e.start_utc_us / 1e6
    if c is None or not c.is_set:
        return start, False, "the sensor's clock, uncorrected (its clock was not set at the sync)"
    if e.clock_set_utc_us != round(c.set_utc_s * 1e6):
        return start, False, "the sensor's clock, uncorrected (the clock was set again since)"
    d = c.drift_ppm * 1e-6
    if not math.isfinite(d) or abs(d) > _MAX_CORRECTION:
        return (
            start,
            False,
            (
                f"the sensor's clock, uncorrected (it disagrees with this computer's by {c.drift_ppm:+.0f} ppm: "
                "not a crystal's drift)"
            ),
        )
    corrected = c.set_utc_s + (start - c.set_utc_s) * (1.0 + d)
    err_ms = abs(start - c.set_utc_s) * c.drift_uncertainty_ppm * 1e-6 * 1000 + 0.5 * c.round_trip_s * 1000
    return (
        corrected,
        True,
        (
            f"the sensor's clock corrected for its drift ({c.drift_ppm:+.1f} ppm; moved "
            f"{(corrected - start) * 1000:+.0f} ms, known to +-{err_ms:.0f} ms)"
        ),
    )


def file_name(sy: Syncer, e: lb.LogEntry, start_s: float | None) -> Path:
    out = sy.config.out_dir
    assert sy.found is not None
    if start_s is not None:
        stem = "run-" + _dt.datetime.fromtimestamp(start_s).strftime("%Y%m%d-%H%M%S")
    else:
        stem = f"run-{_safe(sy.found.address)}-session{e.session_id}"
    path, k = out / f"{stem}.csv", 2
    while path.exists():
        path = out / f"{stem}-{k}.csv"
        k += 1
    return path


def write_session(sy: Syncer, job: _Job, run: lb.LoggedRun) -> tuple[Path, dict[str, Any]]:
    e = job.entry
    assert sy.found is not None
    start_s, corrected, how = start_time(sy, e)
    nominal = e.rate_hz
    rate, time_base = nominal, "sensor sample clock (sample index / nominal rate)"
    f_dev = run.device_rate_hz
    c = sy._clock
    drift_ok = c is not None and c.drift_reliable and e.clock_set_utc_us == round(c.set_utc_s * 1e6)
    if math.isfinite(f_dev):
        f_true = f_dev / (1.0 + c.drift_ppm * 1e-6) if drift_ok and c is not None else f_dev
        err = f_true / nominal - 1.0
        if _MIN_CORRECTION < abs(err) <= _MAX_CORRECTION:
            rate = f_true
            time_base = "sensor sample clock, rate from its time stamps" + (
                ", corrected for the clock's drift" if drift_ok else ""
            )
    cfg = e.config()
    acc = run.acc.astype(np.float64) * cfg.acc_scale_mps2_per_lsb
    gyr = run.gyr.astype(np.float64) * cfg.gyr_scale_rads_per_lsb
    t = run.index / rate
    iso = (
        None if start_s is None else _dt.datetime.fromtimestamp(start_s, tz=_dt.UTC).isoformat(timespec="milliseconds")
    )
    model = sy.device_info.get("model")
    clock = c.to_dict() if c is not None else None
    extra: dict[str, Any] = {
        "recorder": "gait sync",
        "protocol": "lumbar-imu v1, on-sensor log",
        "acc_range_g": e.acc_range_g,
        "gyr_range_dps": e.gyr_range_dps,
        "log_session_id": e.session_id,
        "log_digest_crc32": f"{e.digest:08x}",
        "time_base": time_base,
        "start_time_source": how,
        "nominal_rate_hz": nominal,
        **{f"device_{k}": v for k, v in sy.device_info.items()},
    }
    if c is not None and math.isfinite(c.drift_ppm):
        extra["device_clock_drift_ppm"] = round(c.drift_ppm, 3)
    meta = SessionMetadata(
        sampling_rate_hz=rate,
        device=f"{sy.found.name or 'BLE sensor'}" + (f" ({model})" if model else ""),
        device_id=sy.found.address,
        start_time=iso,
        units_as_recorded={"acc": "g", "gyr": "dps", "t": "s"},
        extra=extra,
    )
    final = file_name(sy, e, start_s)
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.unlink(missing_ok=True)
    writer = SessionCsvWriter(tmp, meta, frame="sensor", has_gyro=True)
    try:
        for a in range(0, t.size, _WRITE_CHUNK):
            writer.write(t[a : a + _WRITE_CHUNK], acc[a : a + _WRITE_CHUNK], gyr[a : a + _WRITE_CHUNK])
    finally:
        writer.close()
    if final.exists():  # appeared meanwhile: never overwrite a session file
        final = file_name(sy, e, start_s)
    tmp.replace(final)
    gaps = tuple((ia / rate, ib / rate, k, reason) for ia, ib, k, reason in run.gaps)
    flags = [(f.name or "").lower() for f in lb.EntryFlags if f and e.flags & f and f != lb.EntryFlags.CLOCK_SET]
    sidecar = final.with_name(final.name[: -len(".csv")] + ".recording.json")
    info = {
        "file": final.name,
        "device": {
            "name": sy.found.name,
            "address": sy.found.address,
            "protocol": OUR_PROTOCOL,
            **sy.device_info,
        },
        "settings": {"rate_hz": nominal, "acc_range_g": e.acc_range_g, "gyr_range_dps": e.gyr_range_dps},
        "start_time": iso,
        "start_time_source": how,
        "samples": int(run.n_samples),
        "sampling_rate_hz": rate,
        "clock": {**(clock or {}), "corrected": corrected, "rate_corrected": rate != nominal},
        "log": {
            "session_id": e.session_id,
            "size_bytes": e.size_bytes,
            "digest_crc32": f"{e.digest:08x}",
            "records": run.n_records,
            "flags": flags,
            "duration_ms": e.duration_ms,
        },
        "download": {
            "bytes_this_sync": job.downloaded,
            "bytes_verified_before": job.verified_before,
            "bytes_requested": job.requested,
            "corrupt_blocks": job.corrupt,
            "missing_blocks": job.missing,
            "reconnects": sy._reconnects,
        },
        "gaps": [{"start_s": a, "end_s": b, "samples_lost": k, "reason": r} for a, b, k, r in gaps],
        "stopped_by": "store_full" if e.flags & lb.EntryFlags.FULL else "log_stop",
    }
    sidecar.write_text(json.dumps(info, indent=2) + "\n")
    return final, {
        "rate": rate,
        "n": int(run.n_samples),
        "start": iso,
        "corrected": corrected,
        "gaps": gaps,
    }
