"""Reader for phyphox exports (RWTH Aachen's phone-as-sensor app): CSV, zipped or not.

phyphox exports one table per "export set" of the experiment. In CSV format the export is a
zip (or, once unpacked, a folder) holding ``<set name>.csv`` for each set, e.g. ``Raw
Data.csv``, plus ``meta/device.csv`` and ``meta/time.csv``; a single table may also be
handed over on its own. Column names, with quotes, and the separators phyphox offers
(comma, tab or semicolon; decimal point, or decimal comma with semicolons or tabs)::

    "Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)", ...
    "Time (s)","Gyroscope x (rad/s)","Gyroscope y (rad/s)","Gyroscope z (rad/s)", ...
    "Time (s)","Linear Acceleration x (m/s^2)", ...      <- "Acceleration (without g)"

Acceleration must include gravity (the "Acceleration with g" experiment, or a custom
experiment with the accelerometer): gravity is what defines vertical, so the "without g"
("linear acceleration") export is refused with a message saying what to record instead. A
table holding several sensors side by side (a custom experiment's single export set) pairs
each sensor with the time column to its left.

Phones sample the accelerometer and the gyroscope at different instants, so the gyroscope is
interpolated linearly onto the accelerometer times within their common span (a
`GaitDataWarning` says so); where the gyroscope stream has a hole longer than three of its
sample periods no sample is invented: the accelerometer samples there are dropped and the
session has a gap. Everything then goes through `gait.io.session_from_dataframe`, which
resamples the phone's jittered time stamps onto a uniform grid and reports gaps.

Notes
-----
Column names: the experiment definitions of phyphox (phyphox/phyphox-android,
``app/src/main/assets/experiments/accelerometer.phyphox``, ``gyroscope.phyphox``,
``linear_accelerometer.phyphox``: export sets named "Raw Data" with "Time (s)",
"Acceleration x (m/s^2)", "Gyroscope x (rad/s)", "Linear Acceleration x (m/s^2)"); newer
versions add "Absolute acceleration (m/s^2)" / "Absolute (rad/s)", which are ignored.
`merge_streams` and the table helpers here are shared with the Sensor Logger reader.
"""

from __future__ import annotations

import csv
import io
import math
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import GaitDataWarning, GaitInputError, Where
from ..io import session_from_dataframe
from ..session import Session
from ._archive import is_zip, read_member_files, zip_names

__all__ = ["Stream", "merge_streams", "read", "sniff"]

_TIME = re.compile(r"^time \(s\)$", re.IGNORECASE)
_ACC = re.compile(r"^acceleration ([xyz]) \(m/s\^?2\)$", re.IGNORECASE)
_LINEAR = re.compile(r"^linear acceleration ([xyz]) \(m/s\^?2\)$", re.IGNORECASE)
_GYR = re.compile(r"^gyroscope ([xyz]) \(rad/s\)$", re.IGNORECASE)
_SNIFF = re.compile(r"time \(s\).*(acceleration [xyz]|gyroscope [xyz])", re.IGNORECASE)
#: A hole in the gyroscope longer than this many of its median periods is not interpolated across.
MAX_GYRO_HOLE_PERIODS = 3.0


@dataclass
class Stream:
    """One sensor's samples: times (s), shape (n,), and x, y, z values, shape (n, 3)."""

    t: np.ndarray
    xyz: np.ndarray
    source: str


# ---------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------
def _is_table(name: str) -> bool:
    low = name.replace("\\", "/").lower()
    return low.endswith(".csv") and not low.startswith("__macosx")


def _members(p: Path, *, head: int | None = None, strict: bool = False) -> dict[str, bytes] | None:
    """CSV contents of a zip, a folder (top level and ``meta/``) or a single file, by relative
    name; only the first ``head`` bytes of each when given. None if there is nothing to read.

    ``strict``: a member that cannot be read raises `GaitInputError` naming it (reading);
    otherwise it is left out (sniffing).
    """
    try:
        if p.is_dir():
            files = sorted(f for f in [*p.glob("*.csv"), *p.glob("meta/*.csv")] if f.is_file())[:64]
            out = {}
            for f in files:
                try:
                    out[str(f.relative_to(p))] = _read_head(f, head)
                except OSError as e:
                    if strict:
                        raise GaitInputError(
                            "cannot read file", expected="a readable file", found=str(e), where=Where(file=f)
                        ) from None
            return out
        if p.is_file() and is_zip(p):
            return read_member_files(p, _is_table, head=head, strict=strict)
        if p.is_file() and p.suffix.lower() in (".csv", ".txt", ".tsv"):
            return {p.name: _read_head(p, head)}
    except OSError as e:
        if strict:
            raise GaitInputError(
                "cannot read file", expected="a readable file", found=str(e), where=Where(file=p)
            ) from None
        return None
    return None


def _read_head(f: Path, head: int | None) -> bytes:
    if head is None:
        return f.read_bytes()
    with open(f, "rb") as fh:
        return fh.read(head)


def _is_meta(name: str) -> bool:
    return "meta/" in name.replace("\\", "/").lower() or name.lower().startswith("meta")


def sniff(p: Path) -> bool:
    """A phyphox export: a table whose header has "Time (s)" and phyphox sensor columns."""
    members = _members(p, head=2048)
    if members:
        for name, data in members.items():
            if _is_meta(name):
                continue
            first = data.decode("utf-8", errors="replace").splitlines()[:1]
            if first and _SNIFF.search(first[0]):
                return True
    if p.is_file() and is_zip(p):  # members that cannot be read: phyphox's meta files tell
        names = {n.replace("\\", "/").lower() for n in zip_names(p) or []}
        return {"meta/device.csv", "meta/time.csv"} <= names
    return False


def _parse_table(name: str, data: bytes, where: Where) -> pd.DataFrame:
    text = data.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    if not lines:
        raise GaitInputError("empty table", expected="a header line", found="an empty file", where=where)
    header = lines[0]
    counts = {"\t": header.count("\t"), ";": header.count(";"), ",": header.count(",")}
    sep = max(counts, key=lambda k: counts[k])
    sample = "\n".join(lines[1:6])
    decimal = "," if sep == ";" or (sep == "\t" and "," in sample and "." not in sample) else "."
    try:
        df = pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, quotechar='"', skipinitialspace=True)
    except (pd.errors.ParserError, ValueError, OverflowError, csv.Error) as e:
        raise GaitInputError(
            "unreadable phyphox table",
            expected="a CSV export of phyphox",
            found=(str(e).splitlines() or [type(e).__name__])[0][:200],
            where=where,
        ) from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _streams(df: pd.DataFrame, where: Where) -> dict[str, list[Stream]]:
    """Sensor groups of a table: {'acc': [...], 'linear': [...], 'gyr': [...]}."""
    out: dict[str, list[Stream]] = {"acc": [], "linear": [], "gyr": []}
    time_col: str | None = None
    groups: dict[tuple[str, str], dict[str, str]] = {}
    for col in df.columns:
        base = re.sub(r"\.\d+$", "", col)  # pandas renames repeated headers "Time (s).1"
        if _TIME.match(base):
            time_col = col
            continue
        for kind, rx in (("acc", _ACC), ("linear", _LINEAR), ("gyr", _GYR)):
            m = rx.match(base)
            if m and time_col is not None:
                groups.setdefault((kind, time_col), {})[m.group(1).lower()] = col
    for (kind, tcol), axes in groups.items():
        if set(axes) != {"x", "y", "z"}:
            raise GaitInputError(
                "incomplete sensor columns",
                expected=f"x, y and z columns of the {kind} sensor",
                found="only " + ", ".join(sorted(axes)),
                where=where,
            )
        try:
            block = df[[tcol, axes["x"], axes["y"], axes["z"]]].apply(pd.to_numeric, errors="coerce").to_numpy(float)
        except (TypeError, ValueError):  # pragma: no cover - to_numeric with coerce does not raise
            raise GaitInputError("not a number", expected="numbers", found="text", where=where) from None
        block = block[~np.isnan(block[:, 0])]  # phyphox pads shorter sets of one table with empty cells
        out[kind].append(Stream(block[:, 0], block[:, 1:], str(where)))
    return out


# ---------------------------------------------------------------------------------------
# cleaning and merging (shared with the Sensor Logger reader)
# ---------------------------------------------------------------------------------------
def clean_stream(s: Stream, what: str, where: Where) -> Stream:
    """Drop rows with NaN, sort by time and drop repeated time stamps (each with a warning)."""
    finite = np.isfinite(s.t) & np.isfinite(s.xyz).all(axis=1)
    if not finite.all():
        warnings.warn(
            f"{where}: {int((~finite).sum())} {what} rows with empty or non-numeric values were left out",
            GaitDataWarning,
            stacklevel=3,
        )
    t, xyz = s.t[finite], s.xyz[finite]
    if t.size > 1 and np.any(np.diff(t) < 0):
        order = np.argsort(t, kind="stable")
        t, xyz = t[order], xyz[order]
        warnings.warn(f"{where}: {what} rows were not in time order; sorted by time", GaitDataWarning, stacklevel=3)
    if t.size > 1:
        dup = np.concatenate([[False], np.diff(t) == 0])
        if dup.any():
            t, xyz = t[~dup], xyz[~dup]
            warnings.warn(
                f"{where}: {int(dup.sum())} {what} rows repeated an earlier time stamp; the repeats were left out",
                GaitDataWarning,
                stacklevel=3,
            )
    if t.size < 2:
        raise GaitInputError("too few rows", expected=f"at least 2 {what} samples", found=str(t.size), where=where)
    return Stream(t, xyz, s.source)


def merge_streams(acc: Stream, gyr: Stream | None, where: Where) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Gyroscope interpolated onto accelerometer times within their common span.

    Returns ``(t, acc, gyr)``; accelerometer samples outside the gyroscope's span, or inside a
    gyroscope hole longer than `MAX_GYRO_HOLE_PERIODS` periods, are dropped. Warns once.
    """
    if gyr is None:
        return acc.t, acc.xyz, None
    lo, hi = max(acc.t[0], gyr.t[0]), min(acc.t[-1], gyr.t[-1])
    if not hi > lo:
        raise GaitInputError(
            "accelerometer and gyroscope do not overlap in time",
            expected="two recordings of the same run",
            found=f"accelerometer {acc.t[0]:.3f}..{acc.t[-1]:.3f} s, gyroscope {gyr.t[0]:.3f}..{gyr.t[-1]:.3f} s",
            where=where,
        )
    keep = (acc.t >= lo) & (acc.t <= hi)
    gdt = np.diff(gyr.t)
    period = float(np.median(gdt))
    right = np.clip(np.searchsorted(gyr.t, acc.t, side="left"), 1, gyr.t.size - 1)
    bracket = gyr.t[right] - gyr.t[right - 1]
    keep &= bracket <= MAX_GYRO_HOLE_PERIODS * period
    t = acc.t[keep]
    if t.size < 2:
        raise GaitInputError(
            "too few samples where both sensors recorded",
            expected="at least 2 accelerometer samples inside the gyroscope's span",
            found=str(t.size),
            where=where,
        )
    g = np.column_stack([np.interp(t, gyr.t, gyr.xyz[:, k]) for k in range(3)])
    rate_a = 1.0 / float(np.median(np.diff(acc.t)))
    warnings.warn(
        f"{where}: the phone sampled the accelerometer ({rate_a:.4g} Hz) and the gyroscope ({1 / period:.4g} Hz) "
        f"at different instants; the gyroscope was interpolated linearly onto the accelerometer times within "
        f"their common span ({t[-1] - t[0]:.1f} s of the accelerometer's {acc.t[-1] - acc.t[0]:.1f} s kept, "
        f"{int(acc.t.size - t.size)} accelerometer samples left out)",
        GaitDataWarning,
        stacklevel=3,
    )
    return t, acc.xyz[keep], g


def nominal_rate(t: np.ndarray) -> float:
    """The rate of jittered phone time stamps: the mean rate over intervals that are not gaps
    (at most 1.5 median intervals), snapped to a whole Hz within 1 %."""
    dt = np.diff(t)
    ok = dt <= 1.5 * float(np.median(dt))
    with np.errstate(divide="ignore", over="ignore"):
        rate = float(ok.sum() / dt[ok].sum())
    if not math.isfinite(rate):
        return rate  # refused by gait.io with the file's name
    whole = round(rate)
    return float(whole) if whole > 0 and abs(rate - whole) <= 0.01 * rate else float(f"{rate:.4g}")


def build_session(
    t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, *, meta: dict[str, Any], where: Where
) -> Session:
    """Hand the merged streams to `gait.io.session_from_dataframe` (all checks apply)."""
    rate = nominal_rate(t)
    if not (math.isfinite(rate) and rate > 0):
        raise GaitInputError(
            "no sampling rate", expected="time stamps that increase", found=f"a rate of {rate!r} Hz", where=where
        )
    data = {"t_s": t - t[0], "acc_x_mps2": acc[:, 0], "acc_y_mps2": acc[:, 1], "acc_z_mps2": acc[:, 2]}
    if gyr is not None:
        data |= {"gyr_x_rads": gyr[:, 0], "gyr_y_rads": gyr[:, 1], "gyr_z_rads": gyr[:, 2]}
    meta = {"sampling_rate_hz": rate, **meta}
    return session_from_dataframe(pd.DataFrame(data), meta=meta, where=where)


# ---------------------------------------------------------------------------------------
# phyphox
# ---------------------------------------------------------------------------------------
def _meta(members: dict[str, bytes], where: Where) -> dict[str, Any]:
    """Device and start time from ``meta/device.csv`` and ``meta/time.csv``. These only add
    metadata: one that cannot be read is left out with a warning, the samples still load."""
    meta: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for name, data in members.items():
        lname = name.replace("\\", "/").lower()
        if not lname.endswith(("device.csv", "time.csv")):
            continue
        try:
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline="")))
        except csv.Error as e:
            _meta_warning(where, name, f"it is not a readable CSV table ({e})")
            continue
        if lname.endswith("device.csv"):
            props = {r[0].strip(): r[1].strip() for r in rows[1:] if len(r) >= 2}
            model = " ".join(v for v in (props.get("deviceBrand"), props.get("deviceModel")) if v)
            if model:
                meta["device"] = f"phyphox on {model}"
            if props.get("version"):
                extra["phyphox_version"] = props["version"]
        else:
            for r in rows[1:]:
                if len(r) >= 3 and r[0].strip().upper() == "START":
                    start = _epoch_text(r[2])
                    if start is None:
                        _meta_warning(where, name, f"its START time {r[2][:40]!r} is not a time (seconds since 1970)")
                    else:
                        meta["start_time"] = start
                    break
    if extra:
        meta["extra"] = extra
    return meta


def _epoch_text(value: str) -> str | None:
    """ISO 8601 (UTC) of a Unix time in seconds, or None when it is not one (NaN, inf, beyond
    the years 1-9999, text)."""
    try:
        epoch = float(value)
        return datetime.fromtimestamp(epoch, tz=UTC).isoformat()
    except (ValueError, OverflowError, OSError):
        return None


def _meta_warning(where: Where, name: str, why: str) -> None:
    warnings.warn(f"{where}: {name} was left out: {why}", GaitDataWarning, stacklevel=4)


def read(p: Path) -> list[Session]:
    """Read a phyphox export (zip, folder or single CSV) into one session."""
    where = Where(file=p)
    members = _members(p, strict=True)
    if not members:
        raise GaitInputError(
            "no CSV tables", expected="a phyphox CSV export (zip, folder or .csv)", found="none", where=where
        )
    found: dict[str, list[Stream]] = {"acc": [], "linear": [], "gyr": []}
    for name, data in members.items():
        if _is_meta(name):
            continue
        table_where = Where(file=f"{p}/{name}" if p.is_dir() or is_zip(p) else p)
        for kind, streams in _streams(_parse_table(name, data, table_where), table_where).items():
            found[kind].extend(streams)
    if not found["acc"]:
        if found["linear"]:
            raise GaitInputError(
                "acceleration without gravity",
                expected="the raw accelerometer, with gravity ('Acceleration x (m/s^2)' columns)",
                found="'Linear Acceleration x (m/s^2)' columns: phyphox's 'Acceleration (without g)' experiment",
                where=where,
                hint="Gravity is what defines vertical, so it cannot be left out. Record with phyphox's "
                "'Acceleration with g' experiment (or a custom experiment with the accelerometer and the gyroscope) "
                "and export it again",
            )
        raise GaitInputError(
            "no accelerometer data",
            expected="a table with 'Time (s)' and 'Acceleration x/y/z (m/s^2)' columns",
            found="gyroscope data only" if found["gyr"] else "no phyphox sensor columns",
            where=where,
        )
    for kind, label in (("acc", "accelerometer"), ("gyr", "gyroscope")):
        if len(found[kind]) > 1:
            raise GaitInputError(
                f"more than one {label} table",
                expected=f"one {label} recording per export",
                found=f"{len(found[kind])} ({', '.join(s.source for s in found[kind])})",
                where=where,
            )
    acc = clean_stream(found["acc"][0], "accelerometer", where)
    gyr = clean_stream(found["gyr"][0], "gyroscope", where) if found["gyr"] else None
    t, a, g = merge_streams(acc, gyr, where)
    meta = {
        "device": "phyphox",
        "source": str(p),
        "units_as_recorded": {"acc": "mps2", "gyr": "rads", "t": "s"} if g is not None else {"acc": "mps2", "t": "s"},
        "notes": "phyphox export"
        + ("; gyroscope interpolated onto the accelerometer times" if g is not None else "; no gyroscope"),
        **_meta(members, where),
    }
    return [build_session(t, a, g, meta=meta, where=where)]
