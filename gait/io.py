"""Reading and writing sessions: the canonical CSV (optionally gzip) and Parquet formats.

The format is specified in ``docs/session-format.md``. In short, a canonical CSV is::

    # gait-session: 1
    # sampling_rate_hz: 200.0
    # device: "WitMotion WT901BLE"
    t_s,acc_x_m_s2,acc_y_m_s2,acc_z_m_s2,gyr_x_rad_s,gyr_y_rad_s,gyr_z_rad_s
    0.0,0.113,-0.204,9.79,0.0012,-0.0031,0.0004
    ...

``pandas.read_csv(path, comment="#")`` opens it in one call. Units are declared by the column
name suffix; g, mg, deg/s, ms and us are accepted and converted to SI at this edge.

Everything a user can get wrong is checked here, and each problem raises `GaitInputError` with
the file, line and column, what was expected and what was found; repairs that lose nothing
(resampling jittered timestamps, dropping a line cut off by a crash) emit `GaitDataWarning`.
"""

from __future__ import annotations

import gzip
import io
import itertools
import json
import math
import os
import re
import tempfile
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from .constants import ACC_UNITS, BODY_AXES, GYR_UNITS, SENSOR_AXES, TIME_COLUMN, TIME_UNITS, G, acc_columns
from .constants import gyr_columns as _gyr_columns
from .errors import GaitDataWarning, GaitInputError, Where
from .session import GAP_FACTOR, Session, SessionMetadata

FORMAT_NAME = "gait-session"
FORMAT_VERSION = 1

#: Timestamps deviating from the uniform grid by more than this share of a period are
#: resampled onto the grid (linear interpolation within each contiguous segment).
JITTER_TOLERANCE = 0.02
#: A declared sampling rate may differ from the timestamps by at most this fraction.
RATE_TOLERANCE = 0.05

#: pandas < 3 needs float_precision="round_trip" for bit-exact floats; pandas 3 does it by default
_ROUND_TRIP: dict[str, Any] = {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}

_COL_RE = re.compile(r"^(acc|gyr)_([a-z]+)_([a-z0-9_]+)$")
_TIME_RE = re.compile(r"^t_(s|ms|us|ns)$")

__all__ = [
    "SessionCsvWriter",
    "load_session",
    "read_csv_session",
    "read_parquet_session",
    "save_session",
    "session_from_arrays",
    "session_from_dataframe",
    "write_csv_session",
    "write_parquet_session",
]


# ---------------------------------------------------------------------------------------
# public entry points
# ---------------------------------------------------------------------------------------
def load_session(
    path: str | os.PathLike[str],
    *,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
) -> Session:
    """Load a session from a canonical CSV (``.csv``, ``.csv.gz``) or Parquet file.

    Other formats (phone apps, vendor exports, datasets) are read by `gait.readers`, which
    `gait.readers.read_any` dispatches to by content.

    Parameters
    ----------
    path
        File to read.
    acc_unit, gyr_unit
        Override the units declared by the column names (``"m_s2"``, ``"g"``, ``"mg"``;
        ``"rad_s"``, ``"deg_s"``), for files whose header is wrong.

    Raises
    ------
    GaitInputError
        For any input that cannot be read as a session; the message says where and why.
    """
    p = Path(path)
    raw = _read_bytes(p)
    if raw[:4] == b"PAR1":
        return read_parquet_session(p, acc_unit=acc_unit, gyr_unit=gyr_unit)
    return read_csv_session(p, acc_unit=acc_unit, gyr_unit=gyr_unit, _raw=raw)


def save_session(session: Session, path: str | os.PathLike[str], *, decimals: int | None = None) -> Path:
    """Write ``session`` to ``path``; the format follows the extension.

    ``.csv`` and ``.csv.gz`` give the canonical CSV, ``.parquet`` Parquet. The file is written
    to a temporary name and renamed, so an interrupted write never leaves a partial file.
    ``decimals=None`` writes every value exactly (round trip is bit-exact); an integer rounds
    CSV values to that many decimals (smaller files).
    """
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        return write_parquet_session(session, p)
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return write_csv_session(session, p, decimals=decimals)
    raise GaitInputError(
        "unknown output format",
        expected="a name ending in .csv, .csv.gz or .parquet",
        found=repr(p.name),
        where=Where(parameter="path"),
    )


# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------
def _header_lines(session: Session) -> list[str]:
    meta = session.meta.to_dict()
    lines = [f"# {FORMAT_NAME}: {FORMAT_VERSION}"]
    for key, value in meta.items():
        if value is None or value == {}:
            continue
        lines.append(f"# {key}: {json.dumps(value, sort_keys=True)}")
    return lines


def _columns(frame: str, has_gyro: bool) -> list[str]:
    cols = [TIME_COLUMN, *acc_columns(frame)]
    if has_gyro:
        cols += _gyr_columns(frame)
    return cols


def write_csv_session(session: Session, path: str | os.PathLike[str], *, decimals: int | None = None) -> Path:
    """Write the canonical CSV (gzip when the name ends in ``.gz``), atomically."""
    p = Path(path)
    df = session.to_dataframe()
    text_header = "\n".join(_header_lines(session)) + "\n"
    float_format = None if decimals is None else f"%.{int(decimals)}f"
    buf = io.StringIO()
    buf.write(text_header)
    df.to_csv(buf, index=False, float_format=float_format, lineterminator="\n", na_rep="")
    data = buf.getvalue().encode("utf-8")
    if p.name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    _atomic_write(p, data)
    return p


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_bytes(p: Path) -> bytes:
    where = Where(file=p)
    if not p.exists():
        raise GaitInputError("file not found", expected="an existing file", found="nothing at this path", where=where)
    if p.is_dir():
        raise GaitInputError("not a file", expected="a session file", found="a directory", where=where)
    try:
        return p.read_bytes()
    except OSError as e:
        raise GaitInputError("cannot read file", expected="a readable file", found=str(e), where=where) from None


def _gunzip(raw: bytes, where: Where) -> bytes:
    """Decompress gzip data; a stream cut off by a crash yields what was complete, with a warning."""
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = d.decompress(raw)
        except zlib.error:
            raise GaitInputError("corrupt gzip data", expected="a valid .gz file", found=str(e), where=where) from None
        if not out:
            raise GaitInputError("corrupt gzip data", expected="a valid .gz file", found=str(e), where=where) from None
        warnings.warn(
            f"{where}: the gzip stream ends early (the file was probably cut off); "
            f"read the {len(out)} bytes that were complete",
            GaitDataWarning,
            stacklevel=3,
        )
        return out


def _decode_text(raw: bytes, where: Where) -> str:
    if b"\x00" in raw[:65536]:
        pos = raw.index(b"\x00")
        raise GaitInputError(
            "not a text file",
            expected="a UTF-8 CSV text file",
            found=f"binary data (a NUL byte at offset {pos})",
            where=where,
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise GaitInputError(
            "not a text file",
            expected="a UTF-8 CSV text file",
            found=f"undecodable bytes at offset {e.start} ({raw[e.start : e.start + 8]!r})",
            where=where,
        ) from None


def _parse_header(lines: list[str], where: Where) -> tuple[dict[str, Any], int]:
    """Parse leading ``# key: value`` lines; returns (metadata, number of header lines)."""
    meta: dict[str, Any] = {}
    n = 0
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            break
        n = i + 1
        body = line[1:].strip()
        if not body:
            continue
        key, sep, value = body.partition(":")
        if not sep:
            continue  # a free comment line
        key, value = key.strip(), value.strip()
        try:
            meta[key] = json.loads(value) if value else None
        except json.JSONDecodeError:
            meta[key] = value  # tolerate unquoted strings written by hand
    return meta, n


def read_csv_session(
    path: str | os.PathLike[str],
    *,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
    _raw: bytes | None = None,
) -> Session:
    """Read a canonical session CSV (plain or gzip). See `load_session`."""
    p = Path(path)
    where = Where(file=p)
    raw = _read_bytes(p) if _raw is None else _raw
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, where)
    if not raw.strip():
        raise GaitInputError("empty file", expected="a header line and data rows", found="no content", where=where)
    text = _decode_text(raw, where)
    lines = text.split("\n")
    meta_dict, n_hdr = _parse_header(lines, where)
    if n_hdr >= len(lines) or not lines[n_hdr].strip():
        raise GaitInputError(
            "no column header",
            expected="a line of column names after the '#' metadata",
            found="nothing",
            where=Where(file=p, line=n_hdr + 1),
        )
    header_line_no = n_hdr + 1
    columns = [c.strip() for c in lines[n_hdr].rstrip("\r").split(",")]
    body = lines[n_hdr + 1 :]
    # A file that does not end with a newline may have been cut off mid-line by a crash.
    truncated_note = None
    if body and body[-1] == "":
        body = body[:-1]
    elif body:
        last = body[-1].rstrip("\r")
        fields = last.split(",")
        complete = len(fields) == len(columns) and all(_is_number(f) for f in fields if f != "")
        if not complete:
            truncated_note = (
                f"{Where(file=p, line=n_hdr + 1 + len(body))}: the last line is incomplete "
                f"({last[:40]!r}); the recording was probably cut off. Loaded the "
                f"{len(body) - 1} complete rows before it"
            )
            body = body[:-1]
    if not body or not any(b.strip() for b in body):
        raise GaitInputError(
            "no data rows",
            expected="at least 2 rows of samples after the column header",
            found="a header only",
            where=where,
        )
    first_data_line = n_hdr + 2
    df = _parse_numeric_table(body, columns, first_data_line, where)
    if truncated_note:
        warnings.warn(truncated_note, GaitDataWarning, stacklevel=2)
    return session_from_dataframe(
        df,
        meta=meta_dict,
        where=where,
        acc_unit=acc_unit,
        gyr_unit=gyr_unit,
        header_line=header_line_no,
        first_data_line=first_data_line,
    )


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _parse_numeric_table(body: list[str], columns: list[str], first_line: int, where: Where) -> pd.DataFrame:
    """Parse data lines into a float DataFrame; on failure point at the exact line and column."""
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise GaitInputError(
            "duplicate column names",
            expected="each column once",
            found=", ".join(dup),
            where=Where(file=where.file, line=first_line - 1),
        )
    text = "\n".join(body)
    try:
        df = pd.read_csv(
            io.StringIO(text),
            header=None,
            names=columns,
            dtype=np.float64,
            **_ROUND_TRIP,
            skip_blank_lines=False,
            na_filter=True,
        )
    except (ValueError, pd.errors.ParserError):
        _raise_first_bad_cell(body, columns, first_line, where)
        raise  # pragma: no cover - _raise_first_bad_cell always raises
    if len(df) != len(body):  # pragma: no cover - defensive: pandas dropped lines
        _raise_first_bad_cell(body, columns, first_line, where)
    # pandas fills a short row with NaN: check the field count of rows holding NaN
    nan_rows = np.flatnonzero(df.isna().to_numpy().any(axis=1))
    for i in nan_rows[:1000]:
        fields = body[i].rstrip("\r").split(",")
        if len(fields) != len(columns):
            raise GaitInputError(
                "wrong number of fields",
                expected=f"{len(columns)} comma-separated values",
                found=f"{len(fields)} ({body[i][:60]!r})",
                where=Where(file=where.file, line=first_line + int(i)),
            )
    return df


def _raise_first_bad_cell(body: list[str], columns: list[str], first_line: int, where: Where) -> None:
    """Slow path, only on error: find the first line with the wrong field count or a non-number."""
    for i, line in enumerate(body):
        line = line.rstrip("\r")
        fields = line.split(",")
        line_no = first_line + i
        if len(fields) != len(columns):
            raise GaitInputError(
                "wrong number of fields",
                expected=f"{len(columns)} comma-separated values",
                found=f"{len(fields)} ({line[:60]!r})",
                where=Where(file=where.file, line=line_no),
            )
        for col, f in zip(columns, fields):
            if f.strip() != "" and not _is_number(f):
                raise GaitInputError(
                    "not a number",
                    expected="a decimal number",
                    found=repr(f[:40]),
                    where=Where(file=where.file, line=line_no, column=col),
                )
    raise GaitInputError(
        "cannot parse the data rows", expected="comma-separated numbers", found="unparseable text", where=where
    )


# ---------------------------------------------------------------------------------------
# DataFrame -> Session: the one place where columns, units and time are validated
# ---------------------------------------------------------------------------------------
def _classify_columns(columns: list[str], where: Where, header_line: int | None) -> dict[str, Any]:
    hw = Where(file=where.file, line=header_line) if header_line else where
    time_cols = [c for c in columns if _TIME_RE.match(c)]
    expected_hint = (
        "t_s plus acc_x_m_s2, acc_y_m_s2, acc_z_m_s2 (sensor frame) or acc_v_m_s2, acc_ap_m_s2, "
        "acc_ml_m_s2 (body frame), optionally the three gyr_*_rad_s columns"
    )
    if len(time_cols) != 1:
        raise GaitInputError(
            "missing time column" if not time_cols else "more than one time column",
            expected="exactly one of t_s, t_ms, t_us, t_ns",
            found=", ".join(time_cols) or "none among " + ", ".join(repr(c) for c in columns[:8]),
            where=hw,
        )
    acc: dict[str, tuple[str, str]] = {}
    gyr: dict[str, tuple[str, str]] = {}
    unknown = []
    for c in columns:
        if c in time_cols:
            continue
        m = _COL_RE.match(c)
        if not m:
            unknown.append(c)
            continue
        kind, axis, unit = m.groups()
        table = ACC_UNITS if kind == "acc" else GYR_UNITS
        if axis not in SENSOR_AXES + BODY_AXES or unit not in table:
            unknown.append(c)
            continue
        (acc if kind == "acc" else gyr)[axis] = (c, unit)
    if unknown:
        raise GaitInputError(
            "unknown column" + ("s" if len(unknown) > 1 else ""),
            expected=expected_hint + f"; units: acc {sorted(ACC_UNITS)}, gyr {sorted(GYR_UNITS)}",
            found=", ".join(repr(c) for c in unknown),
            where=hw,
        )
    frames = {("sensor" if a in SENSOR_AXES else "body") for a in [*acc, *gyr]}
    if len(frames) != 1:
        raise GaitInputError(
            "columns mix frames" if frames else "missing acceleration columns",
            expected=expected_hint,
            found=", ".join(columns),
            where=hw,
        )
    frame = frames.pop()
    axes = SENSOR_AXES if frame == "sensor" else BODY_AXES
    missing = [f"acc_{a}" for a in axes if a not in acc]
    if missing:
        raise GaitInputError(
            "missing column" + ("s" if len(missing) > 1 else ""),
            expected=f"acceleration on all three {frame}-frame axes ({', '.join(axes)}); leave an axis the sensor lacks empty",
            found="no " + ", ".join(missing),
            where=hw,
        )
    if gyr and len(gyr) != 3:
        raise GaitInputError(
            "incomplete gyroscope columns",
            expected=f"all three gyr_{{{','.join(axes)}}} columns or none",
            found=", ".join(v[0] for v in gyr.values()),
            where=hw,
        )
    for kind, d in (("acc", acc), ("gyr", gyr)):
        units = {u for _, u in d.values()}
        if len(units) > 1:
            raise GaitInputError(
                f"{kind} columns use different units",
                expected="one unit for all three axes",
                found=", ".join(sorted(units)),
                where=hw,
            )
    return {
        "time": time_cols[0],
        "frame": frame,
        "axes": axes,
        "acc": [acc[a][0] for a in axes],
        "acc_unit": next(iter(acc.values()))[1],
        "gyr": [gyr[a][0] for a in axes] if gyr else None,
        "gyr_unit": next(iter(gyr.values()))[1] if gyr else None,
    }


def _row_where(where: Where, row: int, first_data_line: int | None, column: str | None = None) -> Where:
    if first_data_line is not None:
        return Where(file=where.file, line=first_data_line + row, column=column)
    return Where(file=where.file, column=column, parameter=None if where.file else f"row {row}")


def session_from_dataframe(
    df: pd.DataFrame,
    *,
    meta: Mapping[str, Any] | SessionMetadata | None = None,
    where: Where | None = None,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
    header_line: int | None = None,
    first_data_line: int | None = None,
) -> Session:
    """Validate a table with canonical column names and build a `Session` in SI units.

    Checks, in order: columns (names, frame, units), values (numbers, NaN / inf, all-empty
    axes), time (duplicates, order), units (plausible magnitudes for the declared unit),
    sampling rate (declared versus timestamps), jitter (resampled onto a uniform grid) and
    gaps (reported, never filled).
    """
    where = where or Where(parameter="data")
    meta_d: dict[str, Any] = dict(meta.to_dict() if isinstance(meta, SessionMetadata) else (meta or {}))
    meta_d.pop(FORMAT_NAME, None)
    meta_d.pop("frame", None)
    cols = _classify_columns(list(df.columns), where, header_line)
    if acc_unit is not None:
        if acc_unit not in ACC_UNITS:
            raise GaitInputError(
                "unknown unit",
                expected=f"one of {sorted(ACC_UNITS)}",
                found=repr(acc_unit),
                where=Where(parameter="acc_unit"),
            )
        cols["acc_unit"] = acc_unit
    if gyr_unit is not None:
        if gyr_unit not in GYR_UNITS:
            raise GaitInputError(
                "unknown unit",
                expected=f"one of {sorted(GYR_UNITS)}",
                found=repr(gyr_unit),
                where=Where(parameter="gyr_unit"),
            )
        if cols["gyr"] is not None:
            cols["gyr_unit"] = gyr_unit
    n = len(df)
    if n < 2:
        raise GaitInputError("too few rows", expected="at least 2 samples", found=f"{n}", where=where)

    t_raw = df[cols["time"]].to_numpy(dtype=np.float64)
    acc = df[cols["acc"]].to_numpy(dtype=np.float64)
    gyr = None if cols["gyr"] is None else df[cols["gyr"]].to_numpy(dtype=np.float64)

    # -- values: NaN / inf ---------------------------------------------------------------
    _check_finite(t_raw[:, None], [cols["time"]], where, first_data_line, allow_empty_axes=False)
    _check_finite(acc, cols["acc"], where, first_data_line, allow_empty_axes=True)
    if gyr is not None:
        _check_finite(gyr, cols["gyr"], where, first_data_line, allow_empty_axes=False)
    missing_axes = [a for a, col in zip(cols["axes"], acc.T) if np.isnan(col).all()]
    if len(missing_axes) > 1:
        raise GaitInputError(
            "too few accelerometer axes",
            expected="at least two axes with data",
            found="only " + ", ".join(a for a in cols["axes"] if a not in missing_axes),
            where=where,
        )
    if missing_axes and cols["frame"] == "sensor":
        raise GaitInputError(
            "a biaxial sensor needs body-frame columns",
            expected="acc_v/acc_ap/acc_ml columns when an axis is missing (its orientation must be known)",
            found=f"sensor-frame columns with no data on {missing_axes[0]}",
            where=where,
        )

    # -- time ----------------------------------------------------------------------------
    t = t_raw * TIME_UNITS[cols["time"].split("_", 1)[1]]
    dt = np.diff(t)
    bad = np.flatnonzero(dt <= 0)
    if bad.size:
        i = int(bad[0])
        kind = "duplicate timestamp" if dt[i] == 0 else "time goes backwards"
        raise GaitInputError(
            kind,
            expected=f"strictly increasing {cols['time']}",
            found=f"{float(t_raw[i + 1])!r} after {float(t_raw[i])!r}",
            where=_row_where(where, i + 1, first_data_line, cols["time"]),
            hint="Sort the rows by time and remove repeated samples" if dt[i] != 0 else None,
        )

    # -- units ---------------------------------------------------------------------------
    acc_factor = ACC_UNITS[cols["acc_unit"]]
    acc = acc * acc_factor
    _check_acc_units(acc, cols["acc_unit"], acc_unit is not None, where)
    gyr_factor = 1.0
    if gyr is not None:
        gyr_factor = GYR_UNITS[cols["gyr_unit"]]
        gyr = gyr * gyr_factor
        _check_gyr_units(gyr, acc, cols["gyr_unit"], where)

    # -- sampling rate -------------------------------------------------------------------
    median_dt = float(np.median(dt))
    rate_from_t = 1.0 / median_dt
    declared = meta_d.get("sampling_rate_hz")
    if declared is not None:
        try:
            fs = float(declared)
        except (TypeError, ValueError):
            raise GaitInputError(
                "bad metadata value", expected="a number for sampling_rate_hz", found=repr(declared), where=where
            ) from None
        if not (fs > 0 and math.isfinite(fs)):
            raise GaitInputError(
                "bad metadata value", expected="sampling_rate_hz > 0", found=repr(declared), where=where
            )
        if abs(rate_from_t - fs) > RATE_TOLERANCE * fs:
            raise GaitInputError(
                "sampling rate does not match the timestamps",
                expected=f"samples every {1000 / fs:.3g} ms (declared {fs:g} Hz)",
                found=f"a median interval of {median_dt * 1000:.3g} ms ({rate_from_t:.4g} Hz)",
                where=where,
                hint="Fix sampling_rate_hz in the header, or the time column's unit",
            )
    else:
        fs = _round_rate(rate_from_t)
        warnings.warn(
            f"{where}: no sampling_rate_hz declared; using {fs:g} Hz estimated from the timestamps",
            GaitDataWarning,
            stacklevel=2,
        )
    meta_d["sampling_rate_hz"] = fs

    # -- jitter and gaps -----------------------------------------------------------------
    t, acc, gyr = _regularise(t, acc, gyr, fs, where)

    units = dict(meta_d.get("units_as_recorded") or {})
    units.setdefault("acc", cols["acc_unit"])
    if gyr is not None:
        units.setdefault("gyr", cols["gyr_unit"])
    units.setdefault("t", cols["time"].split("_", 1)[1])
    meta_d["units_as_recorded"] = units
    if where.file is not None and not meta_d.get("source"):
        meta_d["source"] = str(where.file)
    md = SessionMetadata.from_dict(meta_d, where=where)
    return Session(t=t, acc=acc, gyr=gyr, frame=cols["frame"], meta=md)


def _round_rate(rate: float) -> float:
    """Snap an estimated rate to a nearby round number when within 0.5 %."""
    for nice in (1, 5, 10, 25, 50, 100, 104, 200, 208, 250, 400, 416, 500, 512, 800, 833, 1000, 1600, 1666):
        if abs(rate - nice) <= 0.005 * nice:
            return float(nice)
    return float(f"{rate:.6g}")


def _check_finite(
    arr: np.ndarray, names: list[str], where: Where, first_data_line: int | None, *, allow_empty_axes: bool
) -> None:
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    for j, name in enumerate(names):
        col_bad = bad[:, j]
        if not col_bad.any():
            continue
        if allow_empty_axes and np.isnan(arr[:, j]).all():
            continue  # an axis the sensor does not have
        i = int(np.argmax(col_bad))
        v = arr[i, j]
        found = "an empty or NaN value" if np.isnan(v) else repr(float(v))
        raise GaitInputError(
            "missing or non-finite value",
            expected="a finite number"
            + (" (an axis the sensor lacks must be empty on every row)" if allow_empty_axes else ""),
            found=found + (f" ({int(col_bad.sum())} such values in this column)" if col_bad.sum() > 1 else ""),
            where=_row_where(where, i, first_data_line, name),
        )


def _check_acc_units(acc_si: np.ndarray, unit: str, overridden: bool, where: Where) -> None:
    """Refuse acceleration whose magnitude contradicts the declared unit."""
    mag = np.sqrt(np.nansum(acc_si**2, axis=1))
    med = float(np.median(mag))
    if 3.0 <= med <= 40.0:
        return
    if unit == "m_s2" and 0.3 <= med * 1.0 <= 4.0:
        guess = "g (the median |acc| is about 1, i.e. gravity in g)"
        fix = "Rename the columns to acc_*_g, or pass acc_unit='g' (--acc-unit g)"
    elif unit == "g" and 3.0 * G <= med <= 40.0 * G:
        guess = "m/s^2 (the median |acc| is about 9.8 g, i.e. gravity in m/s^2 read as g)"
        fix = "Rename the columns to acc_*_m_s2, or pass acc_unit='m_s2' (--acc-unit m_s2)"
    elif unit == "mg" and 0.3 * G / 1000 <= med <= 4.0 * G / 1000:
        guess = "g"
        fix = "Rename the columns to acc_*_g"
    else:
        guess = "an unknown unit, or a sensor that is not an accelerometer"
        fix = "Check the acceleration columns and their unit"
    raise GaitInputError(
        "acceleration units look wrong",
        expected=f"a median |acc| near 9.8 m/s^2 (1 g) for columns declared in {unit}{' (overridden)' if overridden else ''}",
        found=f"a median |acc| of {med:.3g} m/s^2, which looks like {guess}",
        where=where,
        hint=fix + "; nothing was converted",
    )


def _check_gyr_units(gyr_si: np.ndarray, acc_si: np.ndarray, unit: str, where: Where) -> None:
    """Refuse angular rates that only make sense in the other unit.

    A lumbar sensor while running turns at most a few rad/s; rates above 35 rad/s
    (2000 deg/s, the largest common gyroscope range) mean deg/s values were declared as
    rad/s. Conversely, a moving sensor (|acc| varying by more than 2 m/s^2 RMS) whose
    99th-percentile rate is below 0.15 rad/s (8.6 deg/s) was declared in deg/s but recorded
    in rad/s.
    """
    mag = np.sqrt(np.sum(gyr_si**2, axis=1))
    p99 = float(np.percentile(mag, 99))
    if unit == "rad_s" and p99 > 35.0:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of at most a few rad/s from a sensor on the lower back (columns declared rad/s)",
            found=f"a 99th-percentile |gyr| of {p99:.4g} rad/s ({p99 * 57.3:.4g} deg/s), which only makes sense in deg/s",
            where=where,
            hint="Rename the columns to gyr_*_deg_s, or pass gyr_unit='deg_s' (--gyr-unit deg_s); nothing was converted",
        )
    acc_motion = float(np.nanstd(np.sqrt(np.nansum(acc_si**2, axis=1))))
    if unit == "deg_s" and acc_motion > 2.0 and p99 < 0.15:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of tens of deg/s from a moving sensor (columns declared deg/s)",
            found=f"a 99th-percentile |gyr| of {p99 / np.deg2rad(1):.3g} deg/s while the accelerometer shows motion, which looks like rad/s",
            where=where,
            hint="Rename the columns to gyr_*_rad_s, or pass gyr_unit='rad_s' (--gyr-unit rad_s); nothing was converted",
        )


def regularise(session: Session) -> Session:
    """The session on a uniform time grid per contiguous segment (jittered timestamps resampled).

    A session whose timestamps already sit on the grid is returned unchanged. Files are
    regularised when they are loaded; this is for sessions built in memory (a simulated
    session with jitter, a live window). Gaps are kept; resampling emits `GaitDataWarning`.
    """
    dt = np.diff(session.t)
    period = 1.0 / session.sampling_rate_hz
    if dt.size and np.all(np.abs(dt - period) <= JITTER_TOLERANCE * period):
        return session  # uniform already (the common case: loaded files are regularised)
    where = Where(file=session.meta.source) if session.meta.source else Where(parameter="session")
    t, acc, gyr = _regularise(session.t, session.acc, session.gyr, session.sampling_rate_hz, where, report_gaps=False)
    if t is session.t:
        return session
    return Session(t=t, acc=acc, gyr=gyr, frame=session.frame, meta=session.meta)


def _regularise(
    t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, fs: float, where: Where, *, report_gaps: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Resample jittered timestamps onto a uniform grid per contiguous segment; report gaps."""
    period = 1.0 / fs
    dt = np.diff(t)
    # a gap is a step in time beyond what the timing jitter explains (1.5 periods when exact)
    sigma = 1.4826 * float(np.median(np.abs(dt - np.median(dt)))) if dt.size else 0.0
    cuts = np.flatnonzero(dt > max(GAP_FACTOR * period, period + 8.0 * sigma)) + 1
    bounds = np.concatenate([[0], cuts, [t.size]])
    if cuts.size and report_gaps:
        gap_lengths = t[cuts] - t[cuts - 1]
        longest = int(np.argmax(gap_lengths))
        warnings.warn(
            f"{where}: {cuts.size} gap{'s' if cuts.size > 1 else ''} in the samples "
            f"({float(np.sum(gap_lengths - period)):.3f} s missing in total; the longest, "
            f"{float(gap_lengths[longest]):.3f} s, starts at t={float(t[cuts[longest] - 1]):.3f} s). "
            "Gaps are kept as gaps: no samples are invented, and each segment is analysed on its own",
            GaitDataWarning,
            stacklevel=3,
        )
    # deviation from each segment's own grid (first sample of the segment + k * period)
    seg_id = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
    seg_start = t[bounds[:-1]][seg_id]
    k = np.rint((t - seg_start) / period)
    dev = np.abs(t - (seg_start + k * period))
    if float(dev.max(initial=0.0)) <= JITTER_TOLERANCE * period:
        return t, acc, gyr
    # resample each segment onto its grid by linear interpolation
    new_t, new_acc, new_gyr = [], [], []
    for a, b in itertools.pairwise(bounds):
        ts = t[a:b]
        n_grid = int(np.floor((ts[-1] - ts[0]) / period + 1e-9)) + 1
        grid = ts[0] + np.arange(n_grid) * period
        new_t.append(grid)
        new_acc.append(np.column_stack([np.interp(grid, ts, c) for c in acc[a:b].T]))
        if gyr is not None:
            new_gyr.append(np.column_stack([np.interp(grid, ts, c) for c in gyr[a:b].T]))
    warnings.warn(
        f"{where}: timestamps jitter by up to {float(dev.max()) * 1000:.3g} ms "
        f"({float(dev.max()) / period:.0%} of a sample period); resampled onto a uniform "
        f"{fs:g} Hz grid by linear interpolation",
        GaitDataWarning,
        stacklevel=3,
    )
    return (
        np.concatenate(new_t),
        np.concatenate(new_acc),
        None if gyr is None else np.concatenate(new_gyr),
    )


def session_from_arrays(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None = None,
    *,
    sampling_rate_hz: float,
    frame: str = "sensor",
    acc_unit: str = "m_s2",
    gyr_unit: str = "rad_s",
    **meta: Any,
) -> Session:
    """Build a validated `Session` from arrays (times in s), with the same checks as a file."""
    from .constants import axes_for

    axes = axes_for(frame)
    data: dict[str, Any] = {TIME_COLUMN: np.asarray(t, dtype=float)}
    acc = np.asarray(acc, dtype=float)
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise GaitInputError(
            "bad acceleration array", expected="shape (n, 3)", found=f"shape {acc.shape}", where=Where(parameter="acc")
        )
    for a, col in zip(axes, acc.T):
        data[f"acc_{a}_{acc_unit}"] = col
    if gyr is not None:
        gyr = np.asarray(gyr, dtype=float)
        if gyr.ndim != 2 or gyr.shape[1] != 3:
            raise GaitInputError(
                "bad angular-rate array",
                expected="shape (n, 3)",
                found=f"shape {gyr.shape}",
                where=Where(parameter="gyr"),
            )
        for a, col in zip(axes, gyr.T):
            data[f"gyr_{a}_{gyr_unit}"] = col
    try:
        df = pd.DataFrame(data)
    except ValueError as e:
        raise GaitInputError(
            "arrays of different lengths",
            expected="t, acc and gyr with the same number of rows",
            found=str(e),
            where=Where(parameter="t"),
        ) from None
    return session_from_dataframe(
        df, meta={"sampling_rate_hz": sampling_rate_hz, **meta}, where=Where(parameter="arrays")
    )


# ---------------------------------------------------------------------------------------
# Parquet
# ---------------------------------------------------------------------------------------
_PARQUET_META_KEY = b"gait-session"


def write_parquet_session(session: Session, path: str | os.PathLike[str]) -> Path:
    """Write a session as Parquet (metadata in the schema's key-value metadata), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    table = pa.Table.from_pandas(session.to_dataframe(), preserve_index=False)
    header = {FORMAT_NAME: FORMAT_VERSION, **session.meta.to_dict()}
    md = dict(table.schema.metadata or {})
    md[_PARQUET_META_KEY] = json.dumps(header, sort_keys=True).encode()
    table = table.replace_schema_metadata(md)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd")
    _atomic_write(p, buf.getvalue())
    return p


def read_parquet_session(
    path: str | os.PathLike[str], *, acc_unit: str | None = None, gyr_unit: str | None = None
) -> Session:
    """Read a session written by `write_parquet_session` (or any Parquet with canonical columns)."""
    import pyarrow.parquet as pq

    p = Path(path)
    where = Where(file=p)
    try:
        table = pq.read_table(p)
    except Exception as e:  # pyarrow raises several unrelated types for corrupt files
        raise GaitInputError(
            "cannot read Parquet file", expected="a valid Parquet file", found=str(e).splitlines()[0], where=where
        ) from None
    md = table.schema.metadata or {}
    meta: dict[str, Any] = {}
    if _PARQUET_META_KEY in md:
        try:
            meta = json.loads(md[_PARQUET_META_KEY])
        except json.JSONDecodeError as e:
            raise GaitInputError(
                "corrupt metadata", expected="JSON session metadata", found=str(e), where=where
            ) from None
    df = table.to_pandas()
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise GaitInputError(
            "not a number", expected="numeric columns", found=f"non-numeric column(s) {non_numeric}", where=where
        )
    return session_from_dataframe(df.astype(np.float64), meta=meta, where=where, acc_unit=acc_unit, gyr_unit=gyr_unit)


# ---------------------------------------------------------------------------------------
# streaming writer (live recording)
# ---------------------------------------------------------------------------------------
class SessionCsvWriter:
    """Append samples to a canonical CSV as they arrive; crash-safe at every flush.

    The header is written and flushed on open. `write` appends whole lines; `flush` pushes them
    to the operating system and fsyncs, so after a kill at any moment the file loads up to the
    last flush (a line cut mid-way is dropped by the reader with a warning).

    Parameters
    ----------
    path
        Output file (plain ``.csv``: gzip streams cannot be flushed safely line by line).
    meta
        Session metadata; ``sampling_rate_hz`` is required.
    frame
        ``"sensor"`` or ``"body"``.
    has_gyro
        Whether gyroscope columns are written.
    """

    def __init__(
        self, path: str | os.PathLike[str], meta: SessionMetadata, *, frame: str = "sensor", has_gyro: bool = True
    ) -> None:
        self.path = Path(path)
        if self.path.name.lower().endswith(".gz"):
            raise GaitInputError(
                "cannot stream to gzip",
                expected="a plain .csv output for live recording",
                found=self.path.name,
                where=Where(parameter="out"),
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frame = frame
        self.has_gyro = has_gyro
        self.n_rows = 0
        self._fh: IO[str] | None = open(self.path, "x", encoding="utf-8", newline="\n")  # never overwrite a recording
        dummy = Session(
            t=np.zeros(0), acc=np.zeros((0, 3)), gyr=np.zeros((0, 3)) if has_gyro else None, frame=frame, meta=meta
        )
        self._fh.write("\n".join(_header_lines(dummy)) + "\n")
        self._fh.write(",".join(_columns(frame, has_gyro)) + "\n")
        self.flush()

    def write(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None = None) -> None:
        """Append a block of samples (t in s, acc in m/s^2, gyr in rad/s)."""
        if self._fh is None:
            raise RuntimeError("writer is closed")
        t = np.asarray(t, dtype=float).reshape(-1, 1)
        parts = [t, np.asarray(acc, dtype=float).reshape(-1, 3)]
        if self.has_gyro:
            if gyr is None:
                raise GaitInputError(
                    "missing gyroscope block", expected="gyr samples", found="None", where=Where(parameter="gyr")
                )
            parts.append(np.asarray(gyr, dtype=float).reshape(-1, 3))
        block = np.hstack(parts)
        if block.size == 0:
            return
        text = "\n".join(",".join(_fmt(v) for v in row) for row in block.tolist()) + "\n"
        self._fh.write(text)
        self.n_rows += block.shape[0]

    def flush(self, *, sync: bool = True) -> int | None:
        """Push the written lines to the operating system and (``sync``) fsync them. Returns
        the file descriptor, for a caller that fsyncs it itself (off its event loop)."""
        if self._fh is None:
            return None
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())
        return self._fh.fileno()

    def close(self) -> None:
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> SessionCsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(v: float) -> str:
    return "" if v != v else repr(v)
