"""Reader for Sensor Logger exports (Kelvin Choi's app, iOS and Android): zipped CSV.

A recording exports as a zip (or, unpacked, a folder) with one CSV per sensor. The motion
files share one layout, ``time`` in nanoseconds since the Unix epoch (UTC), then
``seconds_elapsed`` and the axes, z first::

    time,seconds_elapsed,z,y,x

Which file holds acceleration *with* gravity depends on the platform:

==========================  =================================================================
file                        content
==========================  =================================================================
``TotalAcceleration.csv``   Android: the raw accelerometer, gravity included, m/s^2. Used as is.
``Accelerometer.csv``       acceleration WITHOUT gravity (user acceleration), m/s^2
``Gravity.csv``             the gravity vector, m/s^2
``AccelerometerUncalibrated.csv``  raw accelerometer: g on iOS, m/s^2 on Android or with
                            "Standardise Units & Frames"
``Gyroscope.csv``           angular rate, rad/s (same definition on both platforms)
``Metadata.csv``            ``platform`` (ios / android), ``standardisation``, device name, ...
==========================  =================================================================

Acceleration with gravity is taken from ``TotalAcceleration.csv``, else rebuilt as
``Accelerometer + Gravity`` (interpolated onto the accelerometer times if they differ), else
from ``AccelerometerUncalibrated.csv``. Gravity defines vertical, so an export with only
``Accelerometer.csv`` is refused with a message saying what to enable. iOS reports
acceleration with the opposite sign on all three axes (Core Motion's convention) unless
"Standardise Units & Frames" was on; it is negated here so every session holds specific force
(+1 g up at rest), which is why the platform must be known from ``Metadata.csv``.

The gyroscope is interpolated onto the accelerometer times within their common span (a
`GaitDataWarning` says so) and everything goes through `gait.io.session_from_dataframe`
(jittered time stamps resampled, gaps reported). Rows that repeat a time stamp, which
Sensor Logger can write, are dropped with a warning.

Notes
-----
Sources: tszheichoi/awesome-sensor-logger, ``README.md`` (time stamps, file handling,
``metadata.csv``), ``UNITS.md`` (Accelerometer vs TotalAcceleration, units),
``COORDINATES.md`` and ``CROSSPLATFORM.md`` (the iOS / Android sign difference and
"Standardise Units & Frames"). Metadata columns as written by the app: ``version, device
name, recording epoch time, recording time, recording timezone, platform, appVersion, device
id, sensors, sampleRateMs, standardisation, platform version``.
"""

from __future__ import annotations

import io
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..constants import G
from ..errors import GaitDataWarning, GaitInputError, Where
from ..session import Session
from ._archive import is_zip, read_member_files, zip_names
from ._phyphox import Stream, build_session, clean_stream, merge_streams

__all__ = ["read", "sniff"]

_MOTION_HEADER = ("time", "seconds_elapsed")
_NAMES = ("totalacceleration", "accelerometer", "gravity", "accelerometeruncalibrated", "gyroscope", "metadata")
_MOTION = ("totalacceleration", "accelerometer", "accelerometeruncalibrated", "gyroscope")


def _stem(name: str) -> str:
    return Path(name.replace("\\", "/")).stem.lower()


def _is_sl_csv(name: str) -> bool:
    return name.lower().endswith(".csv") and _stem(name) in _NAMES and not name.startswith("__MACOSX")


def _members(p: Path, *, head: int | None = None, strict: bool = False) -> dict[str, bytes] | None:
    """The Sensor Logger CSVs of a zip or folder (or the folder of one of its CSVs), by stem.

    ``strict``: a file that cannot be read raises `GaitInputError` naming it (reading);
    otherwise it is left out (sniffing).
    """
    out: dict[str, bytes] = {}
    if p.is_file() and is_zip(p):
        files = read_member_files(p, _is_sl_csv, head=head, strict=strict)
        for n, data in files.items():
            out.setdefault(_stem(n), data)
        return out or None
    try:
        folder = p if p.is_dir() else p.parent if p.suffix.lower() == ".csv" and _stem(p.name) in _NAMES else None
        if folder is None:
            return None
        candidates = sorted(f for f in folder.glob("*.csv") if f.is_file() and _stem(f.name) in _NAMES)
    except OSError:
        return None
    for f in candidates:
        try:
            with open(f, "rb") as fh:
                out.setdefault(_stem(f.name), fh.read(head) if head else fh.read())
        except OSError as e:
            if strict:
                raise GaitInputError(
                    "cannot read file", expected="a readable file", found=str(e), where=Where(file=f)
                ) from None
    return out or None


def sniff(p: Path) -> bool:
    """A Sensor Logger export: its motion CSVs start ``time,seconds_elapsed``."""
    members = _members(p, head=256)
    if members:
        for stem in ("totalacceleration", "accelerometer", "gyroscope", "accelerometeruncalibrated"):
            if stem in members:
                first = members[stem].decode("utf-8", errors="replace").splitlines()[:1]
                cols = [c.strip().strip('"').lower() for c in first[0].split(",")] if first else []
                if tuple(cols[:2]) == _MOTION_HEADER and {"x", "y", "z"} <= set(cols):
                    return True
    if p.is_file() and is_zip(p):  # members that cannot be read: their names tell
        stems = {_stem(n) for n in zip_names(p) or [] if _is_sl_csv(n)}
        return "metadata" in stems and bool(stems & set(_MOTION))
    return False


def _table(stem: str, data: bytes, where: Where) -> tuple[np.ndarray, np.ndarray]:
    """Time in ns (int64) and x, y, z (float) of one motion CSV."""
    try:
        df = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, ValueError, OverflowError) as e:  # EmptyDataError, UnicodeDecodeError too
        raise GaitInputError(
            "unreadable CSV",
            expected="a Sensor Logger CSV (time,seconds_elapsed,z,y,x)",
            found=(str(e).splitlines() or [type(e).__name__])[0][:200],
            where=where,
        ) from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in ("time", "x", "y", "z") if c not in df.columns]
    if missing:
        raise GaitInputError(
            "missing columns", expected="time, seconds_elapsed, z, y, x", found="no " + ", ".join(missing), where=where
        )
    t_ns = pd.to_numeric(df["time"], errors="coerce").to_numpy(dtype=float)
    xyz = df[["x", "y", "z"]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return t_ns, xyz


def _metadata(data: bytes | None) -> dict[str, str]:
    if data is None:
        return {}
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str)
    except (pd.errors.ParserError, ValueError, OverflowError):  # EmptyDataError, UnicodeDecodeError too
        return {}
    if df.empty:
        return {}
    return {str(k).strip().lower(): str(v).strip() for k, v in df.iloc[0].items() if isinstance(v, str)}


def read(p: Path) -> list[Session]:
    """Read a Sensor Logger export (zip, folder, or one of its CSVs) into one session."""
    where = Where(file=p)
    members = _members(p, strict=True)
    if not members:
        raise GaitInputError(
            "no Sensor Logger files", expected="a zip or folder of Sensor Logger CSVs", found="none", where=where
        )
    meta_row = _metadata(members.get("metadata"))
    platform = meta_row.get("platform", "").lower()
    standardised = meta_row.get("standardisation", "").lower() == "true"

    def stream(stem: str) -> tuple[np.ndarray, np.ndarray]:
        return _table(stem, members[stem], Where(file=f"{p}/{stem}"))

    if "totalacceleration" in members:
        t_ns, acc = stream("totalacceleration")  # Android: with gravity, specific force
        acc_source = "TotalAcceleration.csv"
    elif "accelerometer" in members and "gravity" in members:
        t_ns, user = stream("accelerometer")
        tg_ns, grav = stream("gravity")
        if t_ns.shape == tg_ns.shape and np.array_equal(t_ns, tg_ns):
            acc = user + grav
        else:
            gs = clean_stream(Stream(tg_ns, grav, "Gravity.csv"), "gravity", Where(file=f"{p}/gravity"))
            acc = user + np.column_stack([np.interp(t_ns, gs.t, gs.xyz[:, k]) for k in range(3)])
        acc = _specific_force(acc, platform, standardised, where, "Accelerometer.csv + Gravity.csv")
        acc_source = "Accelerometer.csv + Gravity.csv"
    elif "accelerometeruncalibrated" in members:
        t_ns, raw = stream("accelerometeruncalibrated")
        if platform == "ios" and not standardised:
            raw = raw * G  # iOS reports the uncalibrated accelerometer in g
        acc = _specific_force(raw, platform, standardised, where, "AccelerometerUncalibrated.csv")
        acc_source = "AccelerometerUncalibrated.csv"
    elif "accelerometer" in members:
        raise GaitInputError(
            "acceleration without gravity",
            expected="acceleration with gravity: TotalAcceleration.csv (Android), Accelerometer.csv with Gravity.csv (iOS), "
            "or AccelerometerUncalibrated.csv",
            found="only Accelerometer.csv, which Sensor Logger writes without gravity",
            where=where,
            hint="Gravity is what defines vertical. In Sensor Logger enable the Gravity sensor (iOS) or export "
            "Total Acceleration (Android) alongside the Accelerometer, or enable uncalibrated accelerometer logging, "
            "and record again",
        )
    else:
        raise GaitInputError(
            "no accelerometer data",
            expected="TotalAcceleration.csv, Accelerometer.csv with Gravity.csv, or AccelerometerUncalibrated.csv",
            found="only " + ", ".join(sorted(members)),
            where=where,
        )

    t0_ns = float(np.nanmin(t_ns)) if np.isfinite(t_ns).any() else 0.0
    acc_s = clean_stream(Stream((t_ns - t0_ns) * 1e-9, acc, acc_source), "accelerometer", where)
    gyr_s = None
    if "gyroscope" in members:
        tg, gyr = stream("gyroscope")
        gyr_s = clean_stream(Stream((tg - t0_ns) * 1e-9, gyr, "Gyroscope.csv"), "gyroscope", where)
    t, a, g = merge_streams(acc_s, gyr_s, where)
    name = meta_row.get("device name")
    try:
        start = datetime.fromtimestamp((t0_ns + t[0] * 1e9) * 1e-9, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        start = None
        warnings.warn(
            f"{where}: the time column ({t0_ns:.6g} ns) is not a time since 1970; the start time was left out",
            GaitDataWarning,
            stacklevel=2,
        )
    meta: dict[str, Any] = {
        "device": f"Sensor Logger on {name}" if name else "Sensor Logger",
        "device_id": meta_row.get("device id") or None,
        "start_time": start,
        "source": str(p),
        "units_as_recorded": {"acc": "mps2", "gyr": "rads", "t": "ns"} if g is not None else {"acc": "mps2", "t": "ns"},
        "notes": f"Sensor Logger export; acceleration from {acc_source}"
        + ("; gyroscope interpolated onto the accelerometer times" if g is not None else "; no gyroscope"),
        "extra": {k: meta_row[k] for k in ("platform", "appversion", "standardisation", "version") if k in meta_row},
    }
    return [build_session(t, a, g, meta=meta, where=where)]


def _specific_force(acc: np.ndarray, platform: str, standardised: bool, where: Where, source: str) -> np.ndarray:
    """Android convention (specific force) as is; iOS convention negated."""
    if standardised or platform == "android":
        return acc
    if platform == "ios":
        return -acc
    raise GaitInputError(
        "unknown platform",
        expected="Metadata.csv with a 'platform' of ios or android (iOS reports acceleration with the opposite sign)",
        found=f"{source} without Metadata.csv" if not platform else f"platform {platform!r}",
        where=where,
        hint="Export the whole recording (the zip), which includes Metadata.csv",
    )
