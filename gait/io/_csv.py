"""Reading a canonical CSV (optionally gzip): bytes, header, body checks and the fast numeric
parser; the table then goes to `gait.io.session_from_dataframe`."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import types
import warnings
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..errors import GaitDataWarning, GaitInputError, Where
from ..session import TEXT_FIELDS, Session
from ._format import _TIME_RE, FORMAT_NAME, _check_duplicates, _check_version
from ._units import _classify_columns
from ._validate import session_from_dataframe

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

_FAST_ZLIB: types.ModuleType
try:  # ISA-L inflates gzip about three times faster than zlib, with the same checks
    from isal import isal_zlib as _FAST_ZLIB
except ImportError:  # pragma: no cover - isal is a dependency; zlib does the same, slower
    _FAST_ZLIB = zlib


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
