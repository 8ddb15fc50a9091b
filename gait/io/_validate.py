"""Reading and writing sessions: the canonical CSV (optionally gzip) and Parquet formats.

The format is specified in ``docs/session-format.md``. In short, a canonical CSV is::

    # gait-session: 1
    # sampling_rate_hz: 200.0
    # device: "WitMotion WT901BLE"
    t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads,gyr_y_rads,gyr_z_rads
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
import hashlib
import io
import itertools
import json
import math
import os
import re
import tempfile
import types
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..constants import (
    ACC_UNITS,
    BODY_AXES,
    GYR_UNITS,
    SENSOR_AXES,
    TIME_COLUMN,
    TIME_UNITS,
    G,
    acc_columns,
    unit_token,
)
from ..constants import gyr_columns as _gyr_columns
from ..errors import GaitDataWarning, GaitInputError, Where
from ..session import GAP_FACTOR, TEXT_FIELDS, Session, SessionMetadata, _shown, clean_metadata

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

_FAST_ZLIB: types.ModuleType
try:  # ISA-L inflates gzip about three times faster than zlib, with the same checks
    from isal import isal_zlib as _FAST_ZLIB
except ImportError:  # pragma: no cover - isal is a dependency; zlib does the same, slower
    _FAST_ZLIB = zlib

FORMAT_NAME = "gait-session"
FORMAT_VERSION = 1

#: Timestamps deviating from the uniform grid by more than this share of a period are
#: resampled onto the grid (linear interpolation within each contiguous segment).
JITTER_TOLERANCE = 0.02
#: A declared sampling rate may differ from the timestamps by at most this fraction.
RATE_TOLERANCE = 0.05
#: Times are kept as recorded when the first one lies in [0, MAX_T0_S); otherwise (negative,
#: an epoch, a device clock) they are shifted so that the first sample is at 0 s.
MAX_T0_S = 86_400.0
#: The longest span of timestamps a session may cover, s (7 days).
MAX_SPAN_S = 7 * 86_400.0
#: Magnitudes no sensor reports (1000 g; 1000 rad/s = 57 000 deg/s): refused, they would
#: overflow the analysis.
MAX_ABS_ACC_MPS2 = 1000.0 * G
MAX_ABS_GYR_RADS = 1000.0
#: The highest sampling rate accepted, Hz (a higher one means a wrong time unit).
MAX_RATE_HZ = 20_000.0
#: Resampling jittered timestamps may add at most this share of samples (more means holes,
#: not jitter, and would invent data).
MAX_RESAMPLING_GROWTH = 0.5
_UNIT_TEXT = {"mps2": "m/s^2", "g": "g", "mg": "mg", "rads": "rad/s", "dps": "deg/s"}


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
    "write_bytes_atomic",
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
        Override the units declared by the column names (``"mps2"``, ``"g"``, ``"mg"``;
        ``"rads"``, ``"dps"``), for files whose header is wrong.

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
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 17
    ):
        raise GaitInputError(
            "invalid value",
            expected="a whole number of decimals from 0 to 17 (or none: every value exactly)",
            found=repr(decimals),
            where=Where(parameter="decimals"),
        )
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
def _json_safe_meta(meta: SessionMetadata) -> dict[str, Any]:
    """The metadata as a dict that JSON can hold; `GaitInputError` when it cannot."""
    d = meta.to_dict()
    try:
        json.dumps(d)
    except (TypeError, ValueError) as e:
        raise GaitInputError(
            "metadata cannot be written",
            expected="metadata of JSON types (text, numbers, lists, objects)",
            found=str(e),
            where=Where(parameter="session.meta"),
        ) from None
    return d


def _header_lines(session: Session) -> list[str]:
    meta = _json_safe_meta(session.meta)
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
    write_bytes_atomic(p, data)
    return p


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file, fsync, then rename.

    A process killed at any point leaves either the old file, the new one, or a hidden
    ``.<name>.*.tmp`` that readers ignore (pyarrow skips names starting with ``.``) and the
    batch runner removes. The file gets the usual permissions (0o666 less the umask).
    """
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
    """Decompress gzip data.

    A stream cut off by a crash yields what was complete, with a warning; data after the end
    of the stream are ignored with a warning; a stream whose content does not match its
    checksum (flipped bits) or that cannot be decompressed is refused.
    """
    # the common case, one whole gzip member and nothing after it: one call to the fastest
    # inflater at hand (ISA-L when installed; it checks the CRC-32 and the length like zlib);
    # anything else (several members, bytes after the end, damage) takes the path below
    try:
        d_fast = _FAST_ZLIB.decompressobj(31)
        out = d_fast.decompress(raw)
        if d_fast.eof and not d_fast.unused_data:
            return out
    except Exception:  # any failure is explained (or repaired) by the standard library below
        pass
    try:
        return gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
        first_error = str(e) or type(e).__name__
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw)
    except zlib.error as e:
        found = str(e)
        if "incorrect data check" in found or "incorrect length check" in found:
            found = "content that does not match the stream's checksum (the file is damaged)"
        raise GaitInputError("corrupt gzip data", expected="a valid .gz file", found=found, where=where) from None
    if not out:
        raise GaitInputError("corrupt gzip data", expected="a valid .gz file", found=first_error, where=where)
    if d.eof:
        warnings.warn(
            f"{where}: {len(d.unused_data)} bytes after the end of the gzip stream were ignored",
            GaitDataWarning,
            stacklevel=3,
        )
        return out
    warnings.warn(
        f"{where}: the gzip stream ends early (the file was probably cut off); "
        f"read the {len(out)} bytes that were complete",
        GaitDataWarning,
        stacklevel=3,
    )
    return out


def _check_text(raw: bytes, where: Where) -> None:
    """Refuse binary data and bytes that are not UTF-8 (fast: both checks run in C)."""
    pos = raw.find(b"\x00")
    if pos != -1:
        raise GaitInputError(
            "not a text file",
            expected="a UTF-8 CSV text file",
            found=f"binary data (a NUL byte at offset {pos})",
            where=where,
        )
    if raw.isascii():
        return
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GaitInputError(
            "not a text file",
            expected="a UTF-8 CSV text file",
            found=f"undecodable bytes at offset {e.start} ({raw[e.start : e.start + 8]!r})",
            where=where,
        ) from None


def _parse_header(lines: list[str]) -> tuple[dict[str, Any], dict[str, int], int]:
    """Parse leading ``# key: value`` lines.

    Returns (metadata, the line number of each key, number of header lines). A value that is
    not JSON is kept as text; a number given to a text field keeps its text as written.
    """
    meta: dict[str, Any] = {}
    key_lines: dict[str, int] = {}
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
            parsed = json.loads(value) if value else None
        except (ValueError, RecursionError):
            parsed = value  # tolerate unquoted strings written by hand
        if key in TEXT_FIELDS and isinstance(parsed, int | float) and not isinstance(parsed, bool):
            parsed = value  # a serial number written without quotes stays as written ("00123")
        meta[key] = parsed
        key_lines[key] = i + 1
    return meta, key_lines, n


def _check_version(meta: Mapping[str, Any], where: Where) -> None:
    """Refuse a file of another format version (a missing version line means version 1)."""
    if FORMAT_NAME not in meta:
        return
    v = meta[FORMAT_NAME]
    if isinstance(v, int | float) and not isinstance(v, bool) and v == FORMAT_VERSION:
        return
    newer = isinstance(v, int | float) and not isinstance(v, bool) and v > FORMAT_VERSION
    raise GaitInputError(
        "unsupported format version",
        expected=f"'{FORMAT_NAME}: {FORMAT_VERSION}' (the version this gait reads)",
        found=f"{FORMAT_NAME}: {_shown(v)}",
        where=where,
        hint="The file was written by a newer version of gait: upgrade to read it" if newer else None,
    )


def _line_end(raw: bytes, start: int) -> int:
    """Index just past the line that starts at ``start`` (its newline included)."""
    i = raw.find(b"\n", start)
    return len(raw) if i == -1 else i + 1


def read_csv_session(
    path: str | os.PathLike[str],
    *,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
    _raw: bytes | None = None,
) -> Session:
    """Read a canonical session CSV (plain or gzip). See `load_session`.

    The data rows are parsed in one call to pandas' C parser; their structure is then checked
    in bulk (one row per line, the same number of fields on every line). Only when a check
    fails is the file read line by line, to say which line and column are wrong.
    """
    p = Path(path)
    where = Where(file=p)
    raw = _read_bytes(p) if _raw is None else _raw
    if raw[:2] == b"\x1f\x8b":
        raw = _gunzip(raw, where)
    if raw[:3] == b"\xef\xbb\xbf":
        raw = raw[3:]
    if not raw or raw.isspace():  # (without copying the file, as raw.strip() would)
        raise GaitInputError("empty file", expected="a header line and data rows", found="no content", where=where)
    _check_text(raw, where)
    # the '#' metadata lines and the column header (short: read line by line)
    head_lines: list[str] = []
    pos = 0
    while pos < len(raw) and raw[pos : pos + 1] == b"#":
        end = _line_end(raw, pos)
        head_lines.append(raw[pos:end].decode("utf-8").rstrip("\r\n"))
        pos = end
    meta_dict, key_lines, n_hdr = _parse_header(head_lines)
    _check_version(meta_dict, Where(file=p, line=key_lines.get(FORMAT_NAME)))
    end = _line_end(raw, pos)
    header_text = raw[pos:end].decode("utf-8").rstrip("\r\n")
    if not header_text.strip():
        raise GaitInputError(
            "no column header",
            expected="a line of column names after the '#' metadata",
            found="nothing" if pos >= len(raw) else "an empty line",
            where=Where(file=p, line=n_hdr + 1),
        )
    header_line_no = n_hdr + 1
    columns = [c.strip() for c in header_text.split(",")]
    first_data_line = n_hdr + 2
    if {"step", "ic_s", "activity"} <= set(columns) and not any(_TIME_RE.match(c) for c in columns):
        from ..readers import truth_file_error

        raise truth_file_error(p, "the simulator's per-step truth table (columns step, activity, ic_s, ...)")
    _check_duplicates(columns, Where(file=p, line=header_line_no))
    _classify_columns(columns, where, header_line_no)  # name problems before value problems
    stop, truncated_note = _trim_body(raw, end, len(columns), where, first_data_line)
    if stop == end:
        raise GaitInputError(
            "no data rows",
            expected="at least 2 rows of samples after the column header",
            found="only an incomplete line (no line end)" if truncated_note else "a header only",
            where=where,
        )
    df = _parse_numeric_table(raw, end, stop, columns, first_data_line, where)
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
        meta_lines=key_lines,
    )


_SPACE = b" \t\r\n\x0b\x0c"


def _trim_body(raw: bytes, start: int, n_columns: int, where: Where, first_line: int) -> tuple[int, str | None]:
    """Where the data rows ``raw[start:stop]`` end (after a newline): blank lines at the end
    left out; a last line cut off by a crash left out (and described, for a warning).

    A last line without a line end is always treated as cut off: a number cut short
    (``0.264`` of ``0.26417``) would look complete. A last line that does end with a newline is
    treated as cut off when it holds fewer fields than the header, the complete ones numbers
    and the last one the beginning of a number. Works on offsets: the rows are not copied.
    """
    note = None
    stop = len(raw)
    if stop > start and raw[stop - 1] != 0x0A:  # no newline at the end
        cut = raw.rfind(b"\n", start, stop) + 1 or start
        tail = raw[cut:stop]
        stop = cut
        if tail.strip(_SPACE):
            note = _cut_note(tail, "no line end", raw.count(b"\n", start, stop), where, first_line)
    # blank lines (or spaces) at the end are left out
    i = stop
    while i > start and raw[i - 1] in _SPACE:
        i -= 1
    if i == start:
        return start, note
    stop = raw.find(b"\n", i, stop) + 1
    last_start = raw.rfind(b"\n", start, stop - 1) + 1 or start
    last = raw[last_start : stop - 1].rstrip(b"\r")
    fields = last.split(b",")
    if len(fields) < n_columns and note is None:
        complete = [f.strip(_SPACE) for f in fields[:-1]]
        if all(_PANDAS_NUMBER.match(f) for f in complete) and _NUMBER_PREFIX.match(fields[-1].strip(_SPACE)):
            stop = last_start
            note = _cut_note(
                last, f"{len(fields)} of {n_columns} values", raw.count(b"\n", start, stop), where, first_line
            )
    return stop, note


def _cut_note(last: bytes, why: str, n_kept: int, where: Where, first_line: int) -> str:
    shown = last[:40].decode("utf-8", errors="replace")
    return (
        f"{Where(file=where.file, line=first_line + n_kept)}: the last line is incomplete ({why}: {shown!r}); "
        f"the recording was probably cut off. Loaded the {n_kept} complete rows before it"
    )


#: A cell pandas' C parser reads as a number (ASCII digits; NaN and inf are refused later, by
#: name and line) and the beginning of one (a cut-off last line).
_PANDAS_NUMBER = re.compile(rb"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
_NUMBER_PREFIX = re.compile(rb"^[+-]?(?:\d+\.?\d*|\.\d*)?(?:[eE][+-]?\d*)?$")
_NUM = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_CELL = re.compile(
    rf"""^[ \t\x0b\x0c]*(?:{_NUM}|"[ \t]*{_NUM}[ \t]*"|[+-]?(?i:inf|infinity)|)[ \t\x0b\x0c]*$""", re.ASCII
)
#: Texts pandas reads as missing (refused afterwards as missing values, with their line).
_NA_TEXTS = frozenset(
    "#N/A|#N/A N/A|#NA|-1.#IND|-1.#QNAN|-NaN|-nan|1.#IND|1.#QNAN|<NA>|N/A|NA|NULL|NaN|None|n/a|nan|null".split("|")
)


def _check_duplicates(columns: list[str], where: Where) -> None:
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise GaitInputError("duplicate column names", expected="each column once", found=_listed(dup), where=where)


#: Bytes counted per block by `_count_lines_and_commas` (small enough to stay in the cache).
_COUNT_BLOCK = 1 << 18


def _count_lines_and_commas(raw: bytes, start: int, stop: int) -> tuple[int, int]:
    """The numbers of newlines and of commas in ``raw[start:stop]``, in one pass over blocks.

    NumPy compares a block at a time with SIMD instructions (about five times faster than
    ``bytes.count`` for a byte this frequent), without copying the data.
    """
    data = np.frombuffer(raw, dtype=np.uint8, count=stop - start, offset=start)
    hits = np.empty(min(_COUNT_BLOCK, data.size), dtype=bool)
    n_lines = n_commas = 0
    for k in range(0, data.size, _COUNT_BLOCK):
        block = data[k : k + _COUNT_BLOCK]
        h = hits[: block.size]
        np.equal(block, 0x0A, out=h)
        n_lines += int(np.count_nonzero(h))
        np.equal(block, 0x2C, out=h)
        n_commas += int(np.count_nonzero(h))
    return n_lines, n_commas


def _round_trip() -> dict[str, Any]:
    """pandas < 3 needs ``float_precision="round_trip"`` for bit-exact floats; pandas 3 does it by default."""
    return {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}


def _parse_numeric_table(
    raw: bytes, start: int, stop: int, columns: list[str], first_line: int, where: Where
) -> pd.DataFrame:
    """Parse the data lines ``raw[start:stop]`` into a float DataFrame; on failure point at the
    exact line and column.

    The lines are whole, each ending with a newline. The bytes go to pandas' C parser in one
    call, without a copy when they run to the end of the file; the line-by-line reading of
    `_check_lines` runs only when a check fails, to say where.
    """
    if stop == len(raw):
        stream = io.BytesIO(raw)  # shares the bytes (no copy)
        stream.seek(start)
    else:
        stream = io.BytesIO(raw[start:stop])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            df = pd.read_csv(
                stream,
                header=None,
                names=columns,
                index_col=False,
                dtype=np.float64,
                skip_blank_lines=False,
                na_filter=True,
                engine="c",
                **_round_trip(),
            )
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError, pd.errors.ParserWarning):
        df = None
    n_lines, n_commas = _count_lines_and_commas(raw, start, stop)
    # pandas pads short rows with NaN, splits lines at a lone '\r', joins quoted line breaks
    # and ignores the extra field of a first row: one row per line and the same number of
    # commas on every line rule all of these out in one pass over the bytes.
    if (
        df is None
        or len(df) != n_lines
        or n_commas != n_lines * (len(columns) - 1)
        or raw.find(b'"', start, stop) != -1
    ):
        _check_lines(raw[start:stop], columns, first_line, where)
        if df is None or len(df) != n_lines:
            raise GaitInputError(
                "cannot parse the data rows",
                expected="comma-separated decimal numbers, one row per line",
                found="text the CSV parser could not read as rows of numbers",
                where=where,
            )
    return df


def _check_lines(body: bytes, columns: list[str], first_line: int, where: Where) -> None:
    """Slow path, only when the bulk checks fail: raise for the first line with the wrong number
    of fields or a cell that is not a decimal number."""
    text = body.decode("utf-8")
    for i, line in enumerate(text.split("\n")[:-1]):
        line = line.removesuffix("\r")
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
            if not _CELL.match(f) and f.strip(" \t\x0b\x0c") not in _NA_TEXTS:
                raise GaitInputError(
                    "not a number",
                    expected="a decimal number (digits 0-9, '.', optional exponent)",
                    found=repr(f[:40]),
                    where=Where(file=where.file, line=line_no, column=col),
                )


# ---------------------------------------------------------------------------------------
# DataFrame -> Session: the one place where columns, units and time are validated
# ---------------------------------------------------------------------------------------
def _classify_columns(columns: list[str], where: Where, header_line: int | None) -> dict[str, Any]:
    hw = Where(file=where.file, line=header_line) if header_line else where
    time_cols = [c for c in columns if _TIME_RE.match(c)]
    expected_hint = (
        "t_s plus acc_x_mps2, acc_y_mps2, acc_z_mps2 (sensor frame) or acc_v_mps2, acc_ap_mps2, "
        "acc_ml_mps2 (body frame), optionally the three gyr_*_rads columns"
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
        unit = unit_token(unit)
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
    return Where(file=where.file, line=where.line, column=column, parameter=where.parameter)


def _row_text(row: int, first_data_line: int | None) -> str:
    """Where in a table without line numbers (Parquet, arrays) a value is: its row, from 1."""
    return "" if first_data_line is not None else f" in row {row + 1}"


def _listed(items: list[Any], limit: int = 8) -> str:
    shown = ", ".join(_shown(x, 40) for x in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _as_float_columns(df: pd.DataFrame, names: list[str], where: Where, first_data_line: int | None) -> np.ndarray:
    try:
        return df[names].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        for name in names:
            col = pd.to_numeric(df[name], errors="coerce")
            bad = col.isna() & df[name].notna()
            if bad.any():
                i = int(np.argmax(bad.to_numpy()))
                raise GaitInputError(
                    "not a number",
                    expected="numeric columns",
                    found=f"{_shown(df[name].iloc[i], 40)}{_row_text(i, first_data_line)}",
                    where=_row_where(where, i, first_data_line, name),
                ) from None
        raise GaitInputError(  # pragma: no cover - to_numpy failed but every value converts
            "not a number", expected="numeric columns", found=_listed(names), where=where
        ) from None


def session_from_dataframe(
    df: pd.DataFrame,
    *,
    meta: Mapping[str, Any] | SessionMetadata | None = None,
    where: Where | None = None,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
    header_line: int | None = None,
    first_data_line: int | None = None,
    meta_lines: Mapping[str, int] | None = None,
) -> Session:
    """Validate a table with canonical column names and build a `Session` in SI units.

    Checks, in order: columns (names, frame, units), metadata (types), values (numbers, NaN /
    inf, all-empty axes), time (order, span, far from zero), values again in SI (magnitudes
    no sensor reports, units contradicted by the magnitudes), sampling rate (declared versus
    timestamps), jitter (resampled onto a uniform grid) and gaps (reported, never filled).
    ``meta_lines`` maps metadata keys to their header lines, for the messages.
    """
    where = where or Where(parameter="data")
    if isinstance(meta, SessionMetadata):
        meta_d: dict[str, Any] = meta.to_dict()
    elif meta is None:
        meta_d = {}
    elif isinstance(meta, Mapping):
        meta_d = dict(meta)
    else:
        raise GaitInputError(
            "bad metadata",
            expected="an object of keys and values (JSON)",
            found=f"{_shown(meta)} ({type(meta).__name__})",
            where=where,
        )
    meta_d.pop(FORMAT_NAME, None)
    meta_d.pop("frame", None)
    # types of every metadata value (the rate is checked here if given, estimated below if not)
    declared = meta_d.get("sampling_rate_hz")
    checked = clean_metadata(
        {**meta_d, "sampling_rate_hz": 1.0 if declared is None else declared}, where=where, lines=meta_lines
    )
    names = list(df.columns)
    if not all(isinstance(c, str) for c in names):
        raise GaitInputError(
            "column names must be text", expected="names such as t_s, acc_x_mps2", found=_listed(names), where=where
        )
    hw = Where(file=where.file, line=header_line) if header_line else where
    _check_duplicates(names, hw)
    cols = _classify_columns(names, where, header_line)
    if acc_unit is not None:
        acc_unit = unit_token(acc_unit)
        if acc_unit not in ACC_UNITS:
            raise GaitInputError(
                "unknown unit",
                expected=f"one of {sorted(ACC_UNITS)}",
                found=repr(acc_unit),
                where=Where(parameter="acc_unit"),
            )
        cols["acc_unit"] = acc_unit
    if gyr_unit is not None:
        gyr_unit = unit_token(gyr_unit)
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

    t_raw = _as_float_columns(df, [cols["time"]], where, first_data_line)[:, 0]
    acc_raw = _as_float_columns(df, cols["acc"], where, first_data_line)
    gyr_raw = None if cols["gyr"] is None else _as_float_columns(df, cols["gyr"], where, first_data_line)

    # -- values: NaN / inf ---------------------------------------------------------------
    _check_finite(t_raw[:, None], [cols["time"]], where, first_data_line, allow_empty_axes=False)
    _check_finite(acc_raw, cols["acc"], where, first_data_line, allow_empty_axes=True)
    if gyr_raw is not None:
        _check_finite(gyr_raw, cols["gyr"], where, first_data_line, allow_empty_axes=False)
    missing_axes = [a for a, col in zip(cols["axes"], acc_raw.T) if np.isnan(col).all()]
    if len(missing_axes) > 1:
        raise GaitInputError(
            "too few accelerometer axes",
            expected="at least two axes with data",
            found="only " + (", ".join(a for a in cols["axes"] if a not in missing_axes) or "none"),
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
    t_unit = cols["time"].split("_", 1)[1]
    t = t_raw * TIME_UNITS[t_unit]
    dt = np.diff(t)
    bad = np.flatnonzero(~(dt > 0))
    if bad.size:
        i = int(bad[0])
        kind = "duplicate timestamp" if dt[i] == 0 else "time goes backwards"
        raise GaitInputError(
            kind,
            expected=f"strictly increasing {cols['time']}",
            found=f"{float(t_raw[i + 1])!r} after {float(t_raw[i])!r}{_row_text(i + 1, first_data_line)}",
            where=_row_where(where, i + 1, first_data_line, cols["time"]),
            hint="Sort the rows by time and remove repeated samples" if dt[i] != 0 else None,
        )
    span = float(t[-1] - t[0])
    if not span <= MAX_SPAN_S:
        i = int(np.argmax(np.diff(t)))
        raise GaitInputError(
            "timestamps span too long a time",
            expected=f"a recording of at most {MAX_SPAN_S / 86_400:g} days",
            found=f"{cols['time']} from {float(t_raw[0])!r} to {float(t_raw[-1])!r} ({_duration(span)}; the longest "
            f"step is from {float(t_raw[i])!r} to {float(t_raw[i + 1])!r}{_row_text(i + 1, first_data_line)})",
            where=_row_where(where, i + 1, first_data_line, cols["time"]),
            hint="Check the time column's values and its unit (t_s, t_ms, t_us or t_ns)",
        )
    extra = dict(checked["extra"])
    if not (0.0 <= t[0] < MAX_T0_S):
        offset = float(t[0])
        t = t - offset
        extra["time_offset_s"] = float(extra.get("time_offset_s", 0.0) or 0.0) + offset
        warnings.warn(
            f"{where}: the first timestamp is {offset:.10g} s, far from zero; times were shifted so that the "
            f"first sample is at 0 s (the offset is kept in the metadata as extra.time_offset_s)",
            GaitDataWarning,
            stacklevel=2,
        )

    # -- values in SI --------------------------------------------------------------------
    acc_factor = ACC_UNITS[cols["acc_unit"]]
    acc = _to_si(acc_raw, acc_factor, MAX_ABS_ACC_MPS2, "m/s^2", cols["acc"], cols["acc_unit"], where, first_data_line)
    acc_mag = np.sqrt(np.sum(np.square(acc), axis=1) if not missing_axes else np.nansum(np.square(acc), axis=1))
    _check_acc_units(acc_mag, cols["acc_unit"], acc_unit is not None, where)
    gyr = None
    if gyr_raw is not None:
        gyr = _to_si(
            gyr_raw, GYR_UNITS[cols["gyr_unit"]], MAX_ABS_GYR_RADS, "rad/s", cols["gyr"], cols["gyr_unit"], where,
            first_data_line,
        )  # fmt: skip
        _check_gyr_units(gyr, acc_mag, cols["gyr_unit"], where)

    # -- sampling rate -------------------------------------------------------------------
    dts = np.diff(t)
    median_dt = float(np.median(dts))
    rate_where = Where(file=where.file, line=(meta_lines or {}).get("sampling_rate_hz")) if where.file else where
    if declared is not None:
        fs = checked["sampling_rate_hz"]
        # intervals on the declared grid (the others are gaps, declared as such below): a
        # recording with many lost samples keeps its rate; a wrong rate or unit has none there
        on_grid = dts[(dts > 0.5 / fs) & (dts < GAP_FACTOR / fs)]
        if on_grid.size >= max(0.2 * dts.size, 1):
            median_dt = float(np.median(on_grid))
        rate_from_t = 1.0 / median_dt
        if abs(rate_from_t - fs) > RATE_TOLERANCE * fs:
            raise GaitInputError(
                "sampling rate does not match the timestamps",
                expected=f"samples every {1000 / fs:.3g} ms (declared {fs:g} Hz)",
                found=f"a median interval of {median_dt * 1000:.3g} ms ({rate_from_t:.4g} Hz)",
                where=rate_where,
                hint="Fix sampling_rate_hz in the header, or the time column's unit",
            )
    else:
        fs = _round_rate(1.0 / median_dt)
        warnings.warn(
            f"{where}: no sampling_rate_hz declared; using {fs:g} Hz estimated from the timestamps",
            GaitDataWarning,
            stacklevel=2,
        )
    if fs > MAX_RATE_HZ:
        raise GaitInputError(
            "sampling rate too high for an IMU",
            expected=f"at most {MAX_RATE_HZ:g} Hz",
            found=f"{fs:.4g} Hz (samples every {1e6 / fs:.3g} us)",
            where=rate_where,
            hint="Check the time column's unit (t_s, t_ms, t_us or t_ns)",
        )

    # -- jitter and gaps -----------------------------------------------------------------
    t, acc, gyr = _regularise(t, acc, gyr, fs, where)

    units = dict(checked["units_as_recorded"])
    units.setdefault("acc", cols["acc_unit"])
    if gyr is not None:
        units.setdefault("gyr", cols["gyr_unit"])
    units.setdefault("t", t_unit)
    checked.update(sampling_rate_hz=fs, units_as_recorded=units, extra=extra)
    if where.file is not None and not checked.get("source"):
        checked["source"] = str(where.file)
    return Session(t=t, acc=acc, gyr=gyr, frame=cols["frame"], meta=SessionMetadata(**checked))


def _duration(span_s: float) -> str:
    if span_s < 3 * 86_400:
        return f"{span_s:.6g} s"
    days = span_s / 86_400
    return f"{days:.4g} days" if days < 3 * 365 else f"{days / 365.25:.4g} years"


def _to_si(
    raw: np.ndarray,
    factor: float,
    limit: float,
    si_unit: str,
    names: list[str],
    unit: str,
    where: Where,
    first_data_line: int | None,
) -> np.ndarray:
    """``raw * factor``, refusing magnitudes no sensor reports (they would overflow the analysis)."""
    with np.errstate(over="ignore", invalid="ignore"):
        si = raw if factor == 1.0 else raw * factor  # (x * 1.0 is x, bit for bit)
        too_big = np.abs(si) > limit  # inf too; NaN (an empty axis) is not
    if too_big.any():
        i, j = (int(k) for k in np.argwhere(too_big)[0])
        raise GaitInputError(
            "value out of range",
            expected=f"a magnitude of at most {limit:g} {si_unit} ({limit / factor:.6g} {_UNIT_TEXT[unit]}), "
            "beyond the range of any IMU",
            found=f"{float(raw[i, j])!r} {_UNIT_TEXT[unit]}{_row_text(i, first_data_line)}"
            + (f" ({int(too_big.sum())} such values)" if too_big.sum() > 1 else ""),
            where=_row_where(where, i, first_data_line, names[j]),
        )
    return si


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
        found = ("an empty or NaN value" if np.isnan(v) else repr(float(v))) + _row_text(i, first_data_line)
        raise GaitInputError(
            "missing or non-finite value",
            expected="a finite number"
            + (" (an axis the sensor lacks must be empty on every row)" if allow_empty_axes else ""),
            found=found + (f" ({int(col_bad.sum())} such values in this column)" if col_bad.sum() > 1 else ""),
            where=_row_where(where, i, first_data_line, name),
        )


def _check_acc_units(acc_mag: np.ndarray, unit: str, overridden: bool, where: Where) -> None:
    """Refuse acceleration whose magnitude (``acc_mag``, m/s^2, per sample) contradicts the
    declared unit."""
    med = float(np.median(acc_mag))
    if 3.0 <= med <= 40.0:
        return
    if unit == "mps2" and 0.3 <= med * 1.0 <= 4.0:
        guess = "g (the median |acc| is about 1, i.e. gravity in g)"
        fix = "Rename the columns to acc_*_g, or pass acc_unit='g' (--acc-unit g)"
    elif unit == "g" and 3.0 * G <= med <= 40.0 * G:
        guess = "m/s^2 (the median |acc| is about 9.8 g, i.e. gravity in m/s^2 read as g)"
        fix = "Rename the columns to acc_*_mps2, or pass acc_unit='mps2' (--acc-unit mps2)"
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


def _check_gyr_units(gyr_si: np.ndarray, acc_mag: np.ndarray, unit: str, where: Where) -> None:
    """Refuse angular rates that only make sense in the other unit.

    A lumbar sensor while running turns at most a few rad/s; rates above 35 rad/s
    (2000 deg/s, the largest common gyroscope range) mean deg/s values were declared as
    rad/s. Conversely, a moving sensor (|acc| varying by more than 2 m/s^2 RMS) whose
    99th-percentile rate is below 0.15 rad/s (8.6 deg/s) was declared in deg/s but recorded
    in rad/s.
    """
    mag = np.sqrt(np.sum(np.square(gyr_si), axis=1))
    p99 = float(np.percentile(mag, 99))
    if unit == "rads" and p99 > 35.0:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of at most a few rad/s from a sensor on the lower back (columns declared rad/s)",
            found=f"a 99th-percentile |gyr| of {p99:.4g} rad/s ({p99 * 57.3:.4g} deg/s), which only makes sense in deg/s",
            where=where,
            hint="Rename the columns to gyr_*_dps, or pass gyr_unit='dps' (--gyr-unit dps); nothing was converted",
        )
    if p99 > 35.0:  # declared deg/s: beyond 2000 deg/s in any unit
        raise GaitInputError(
            "angular rates too high",
            expected="rates of at most a few hundred deg/s from a sensor on the lower back "
            "(2000 deg/s is the largest common gyroscope range)",
            found=f"a 99th-percentile |gyr| of {p99 / np.deg2rad(1):.4g} deg/s",
            where=where,
            hint="Check the angular-rate columns and their unit",
        )
    if unit == "dps" and p99 < 0.15 and float(np.std(acc_mag)) > 2.0:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of tens of deg/s from a moving sensor (columns declared deg/s)",
            found=f"a 99th-percentile |gyr| of {p99 / np.deg2rad(1):.3g} deg/s while the accelerometer shows motion, which looks like rad/s",
            where=where,
            hint="Rename the columns to gyr_*_rads, or pass gyr_unit='rads' (--gyr-unit rads); nothing was converted",
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
    # (the jitter is measured on the intervals that are not gaps already, so that many lost
    # samples do not pass for jitter)
    on_grid = dt[dt < GAP_FACTOR * period]
    sigma = 1.4826 * float(np.median(np.abs(on_grid - np.median(on_grid)))) if on_grid.size else 0.0
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
    if cuts.size:
        seg_id = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
        seg_start: np.ndarray | float = t[bounds[:-1]][seg_id]
    else:  # one segment (the common case): its first time, without an array of copies
        seg_start = t[0]
    k = np.rint((t - seg_start) / period)
    dev = np.abs(t - (seg_start + k * period))
    if float(dev.max(initial=0.0)) <= JITTER_TOLERANCE * period:
        return t, acc, gyr
    # resample each segment onto its grid by linear interpolation
    sizes = np.floor((t[bounds[1:] - 1] - t[bounds[:-1]]) / period + 1e-9) + 1
    grow = float(sizes.sum()) / max(t.size, 1)
    # jitter moves samples, it neither adds nor removes many: beyond these the grid is not the data's
    if not (0.8 - 10 / t.size <= grow <= 1 + MAX_RESAMPLING_GROWTH + 10 / t.size):
        raise GaitInputError(
            "timestamps too irregular to resample",
            expected=f"samples every {period * 1000:.4g} ms with some jitter (declared or estimated {fs:g} Hz)",
            found=f"{t.size} samples whose uniform grid would need {float(sizes.sum()):.4g}: "
            + ("holes, not jitter" if grow > 1 else "samples crowded closer than the rate allows, not jitter"),
            where=where,
            hint="Check the time column; a recording with lost samples keeps them as gaps (intervals beyond "
            f"{GAP_FACTOR} periods)",
        )
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
    acc_unit: str = "mps2",
    gyr_unit: str = "rads",
    **meta: Any,
) -> Session:
    """Build a validated `Session` from arrays (times in s), with the same checks as a file."""
    from ..constants import axes_for

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
#: Key of the content checksum in the Parquet metadata (SHA-256 of the metadata and the columns).
_CHECKSUM_KEY = "content_sha256"


def _content_sha256(header: Mapping[str, Any], df: pd.DataFrame) -> str:
    """SHA-256 of the metadata (canonical JSON, without the checksum) and of every column's name
    and float64 values (little-endian bytes), in order."""
    h = hashlib.sha256()
    doc = {k: v for k, v in header.items() if k != _CHECKSUM_KEY}
    h.update(json.dumps(doc, sort_keys=True, default=repr).encode())
    for name in df.columns:
        h.update(b"\0" + str(name).encode() + b"\0")
        h.update(np.ascontiguousarray(df[name].to_numpy(), dtype="<f8").tobytes())
    return h.hexdigest()


def write_parquet_session(session: Session, path: str | os.PathLike[str]) -> Path:
    """Write a session as Parquet, atomically.

    The metadata is JSON under the schema's key-value metadata (``gait-session``), with a
    SHA-256 of the metadata and the columns (``content_sha256``); every data page carries a
    CRC-32 page checksum. Both are verified on reading, so a damaged file is refused instead of
    loading different numbers.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    df = session.to_dataframe()
    table = pa.Table.from_pandas(df, preserve_index=False)
    header = {FORMAT_NAME: FORMAT_VERSION, **_json_safe_meta(session.meta)}
    header[_CHECKSUM_KEY] = _content_sha256(header, df)
    md = dict(table.schema.metadata or {})
    md[_PARQUET_META_KEY] = json.dumps(header, sort_keys=True).encode()
    table = table.replace_schema_metadata(md)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_page_checksum=True)
    write_bytes_atomic(p, buf.getvalue())
    return p


def read_parquet_session(
    path: str | os.PathLike[str], *, acc_unit: str | None = None, gyr_unit: str | None = None
) -> Session:
    """Read a session written by `write_parquet_session` (or any Parquet with canonical columns).

    Page checksums and the content checksum are verified when the file has them (files
    written by other tools may not; they are read without).
    """
    import pyarrow.parquet as pq

    p = Path(path)
    where = Where(file=p)
    # pyarrow raises many unrelated types (OSError, ArrowInvalid, ArrowNotImplementedError,
    # MemoryError for a damaged footer ...) for files it cannot read: all of them mean "damaged".
    try:
        table = pq.read_table(p, page_checksum_verification=True)
        df = table.to_pandas()
    except Exception as e:
        first = (str(e).splitlines() or [type(e).__name__])[0]
        raise GaitInputError(
            "cannot read Parquet file", expected="a valid Parquet file", found=_shown(first, 200), where=where
        ) from None
    md = table.schema.metadata or {}
    meta: Any = {}
    if _PARQUET_META_KEY in md:
        try:
            meta = json.loads(md[_PARQUET_META_KEY])
        except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise GaitInputError(
                "corrupt metadata",
                expected="JSON session metadata under the key 'gait-session'",
                found=_shown(str(e), 120),
                where=where,
            ) from None
        if not isinstance(meta, dict):
            raise GaitInputError(
                "corrupt metadata",
                expected="a JSON object of session metadata under the key 'gait-session'",
                found=f"{_shown(meta)} ({type(meta).__name__})",
                where=where,
            )
        _check_version(meta, where)
    checksum = meta.pop(_CHECKSUM_KEY, None)
    non_numeric = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if non_numeric:
        raise GaitInputError(
            "not a number",
            expected="numeric columns",
            found=f"non-numeric column(s) {_listed(non_numeric)}",
            where=where,
        )
    df = df.astype(np.float64)
    if checksum is not None and checksum != _content_sha256(meta, df):
        raise GaitInputError(
            "content does not match its checksum",
            expected=f"the values and metadata the file was written with (SHA-256 {_shown(checksum, 20)} in its "
            "metadata)",
            found="different content: the file is damaged",
            where=where,
            hint="Use a backup copy or the original recording",
        )
    return session_from_dataframe(df, meta=meta, where=where, acc_unit=acc_unit, gyr_unit=gyr_unit)


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
        # never write a line the loader refuses: check the whole block before any of it is written
        last_t = getattr(self, "_last_t_s", -math.inf)
        bad = ~np.isfinite(block).all(axis=1)
        steps = np.diff(np.concatenate([[last_t], block[:, 0]]))
        if bad.any() or not (steps > 0).all():
            i = int(np.argmax(bad)) if bad.any() else int(np.argmax(~(steps > 0)))
            j = int(np.argmax(~np.isfinite(block[i]))) if bad.any() else 0
            raise GaitInputError(
                "a sample the session file cannot hold",
                expected="finite values, and times that increase from one row to the next",
                found=f"{block[i].tolist()} as row {self.n_rows + i} (the previous time: {last_t!r} s)",
                where=Where(file=self.path, parameter=("t", "acc", "acc", "acc", "gyr", "gyr", "gyr")[j]),
                hint="Nothing of this block was written; the file still loads",
            )
        text = "\n".join(",".join(_fmt(v) for v in row) for row in block.tolist()) + "\n"
        self._fh.write(text)
        self.n_rows += block.shape[0]
        self._last_t_s = float(block[-1, 0])

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
