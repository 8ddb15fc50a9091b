"""The end of a recording: clock correction, the gap list in the header, the sidecar.

At the end the drift fit of device against host time is refitted; when the sensor's clock
is off by more than `MIN_CORRECTION` (and less than `MAX_CORRECTION`) the file's times are
rescaled to host time (atomically). Otherwise the file keeps device time and gets its gap
list (``# gaps:``) written into its header. The sidecar ``.recording.json`` holds the
device, settings, clock, link counters, gaps and how the recording ended.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GaitDataWarning, GaitInputError
from ..io import read_canonical_session, write_csv_session
from ..session import DeclaredGap
from ._record_types import RecordResult

if TYPE_CHECKING:
    from ._recorder import Recorder

__all__ = ["finalize", "write_gaps_header"]

#: Drift corrections are applied at the end only when the measured rate is off by more than
#: this (below it the error is irrelevant for gait metrics) and less than ``MAX_CORRECTION``
#: (beyond it the clock is broken or the "device" is a faster-than-real-time simulation).
MIN_CORRECTION = 1e-4
MAX_CORRECTION = 0.05


def finalize(rec: Recorder) -> RecordResult:
    cfg = rec.config
    est = rec._drift.refit()
    f_dev = rec._indexer.device_rate_hz()
    rate = rec._rate_file
    corrected = False
    declared = tuple(DeclaredGap(a, b, r, k) for a, b, k, r in rec._gaps)
    if est.reliable and math.isfinite(f_dev) and rec._link is not None and rec._link.drift_correctable:
        f_true = f_dev / est.host_per_device
        err = f_true / rate - 1.0
        if MIN_CORRECTION < abs(err) <= MAX_CORRECTION:
            try:
                _rewrite(rec, f_true, est.drift_ppm, declared)
            except GaitInputError as e:  # the file as a whole fails a check: keep it as recorded
                warnings.warn(
                    f"{cfg.out}: the times were left on the sensor's clock ({err:+.3%} off the computer's): "
                    f"the file could not be read back to correct them ({e})",
                    GaitDataWarning,
                    stacklevel=3,
                )
            else:
                corrected = True
                rate = f_true
        elif abs(err) > MAX_CORRECTION:
            warnings.warn(
                f"{cfg.out}: the sensor's clock disagrees with the computer's by {err:+.1%}; "
                "that is not a crystal's drift, so the times were left on the sensor's clock",
                GaitDataWarning,
                stacklevel=3,
            )
    link = rec.link_stats()
    gaps = tuple(rec._gaps)
    if corrected:
        scale = rec._rate_file / rate
        gaps = tuple((a * scale, b * scale, k, r) for a, b, k, r in gaps)
    else:  # the gap list (start, end, cause) goes into the file's own header
        write_gaps_header(cfg.out, declared)
    sidecar = cfg.out.with_name(cfg.out.name[: -len(".csv")] + ".recording.json")
    assert rec.found is not None and rec._writer is not None
    info = {
        "file": cfg.out.name,
        "device": {
            "name": rec.found.name,
            "address": rec.found.address,
            "protocol": rec.found.protocol,
            **(rec._link.device_info if rec._link else {}),
        },
        "settings": {"rate_hz": rec._rate_file, **(rec._link.settings() if rec._link else {})},
        "start_time": rec._start_wall,
        "samples": rec._writer.n_rows,
        "sampling_rate_hz": rate,
        "clock": {
            "drift_ppm": est.drift_ppm,
            "reliable": est.reliable,
            "span_s": est.span_s,
            "corrected": corrected,
        },
        "link": {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(link).items()},
        "gaps": [{"start_s": a, "end_s": b, "samples_lost": k, "reason": r} for a, b, k, r in gaps],
        "invalid_samples": {
            "nonfinite_in_decoder": link.samples_invalid - rec._guard.dropped,
            "nonfinite": rec._guard.nonfinite,
            "out_of_range": rec._guard.out_of_range,
        },
        "stopped_by": rec._stopped_by,
        "message": rec.message,
        "live_analysis_error": rec.metrics_error,
    }
    sidecar.write_text(json.dumps(info, indent=2) + "\n")
    return RecordResult(
        path=cfg.out,
        sidecar=sidecar,
        n_samples=rec._writer.n_rows,
        sampling_rate_hz=rate,
        clock_corrected=corrected,
        drift_ppm=est.drift_ppm,
        link=link,
        gaps=gaps,
        stopped_by=rec._stopped_by,
        message=rec.message,
        metrics_error=rec.metrics_error,
        latency=rec._latency,
    )


def _rewrite(rec: Recorder, f_true: float, drift_ppm: float, declared: tuple[DeclaredGap, ...]) -> None:
    """Rescale the file's times to host time (atomically: the old file stays until done)."""
    path = rec.config.out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # its gaps are known and reported
        s = read_canonical_session(path)
    n = np.rint(s.t * rec._rate_file)
    extra = dict(s.meta.extra)
    extra.update(
        {
            "time_base": "device clock corrected to host time",
            "device_clock_drift_ppm": round(drift_ppm, 3),
            "nominal_rate_hz": rec._rate_file,
        }
    )
    scale = rec._rate_file / f_true
    gaps = tuple(replace(g, start_s=g.start_s * scale, end_s=g.end_s * scale) for g in declared)
    meta = replace(s.meta, sampling_rate_hz=f_true, extra=extra, source=None, gaps=gaps)
    write_csv_session(s.replace(t=n / f_true, meta=meta), path)


def write_gaps_header(path: Path, gaps: tuple[DeclaredGap, ...]) -> None:
    """Add the ``# gaps: [...]`` metadata line (``docs/session-format.md``) to a recorded CSV.

    Only the header changes: the rows are copied as bytes into a new file beside it, which is
    fsynced and renamed over the old one, so a crash at any moment leaves either file whole.
    Always written at the end of a recording, ``[]`` when there was no gap (a file without the
    line says nothing about its gaps' causes: a recording cut off by a crash).
    """
    value = json.dumps([g.to_dict() for g in gaps], sort_keys=True)
    tmp = path.with_name(path.name + ".part")
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while True:
            line = src.readline()
            if not line.startswith(b"#"):
                break
            if not line.startswith(b"# gaps:"):
                dst.write(line)
        dst.write(f"# gaps: {value}\n".encode())
        dst.write(line)
        shutil.copyfileobj(src, dst, 1 << 20)
        dst.flush()
        os.fsync(dst.fileno())
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # make the rename durable (POSIX; not on Windows)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
