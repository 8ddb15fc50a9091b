"""The canonical session format's constants (name, version, tolerances, limits, column
patterns), and the checks and message helpers its readers share (version, duplicate columns,
message wording)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..constants import G
from ..errors import GaitInputError, Where, quoted

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


def _row_where(where: Where, row: int, first_data_line: int | None, column: str | None = None) -> Where:
    if first_data_line is not None:
        return Where(file=where.file, line=first_data_line + row, column=column)
    return Where(file=where.file, line=where.line, column=column, parameter=where.parameter)


def _row_text(row: int, first_data_line: int | None) -> str:
    """Where in a table without line numbers (Parquet, arrays) a value is: its row, from 1."""
    return "" if first_data_line is not None else f" in row {row + 1}"


def _listed(items: list[Any], limit: int = 8) -> str:
    shown = ", ".join(quoted(x, 40) for x in items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def _duration(span_s: float) -> str:
    if span_s < 3 * 86_400:
        return f"{span_s:.6g} s"
    days = span_s / 86_400
    return f"{days:.4g} days" if days < 3 * 365 else f"{days / 365.25:.4g} years"


def _check_duplicates(columns: list[str], where: Where) -> None:
    if len(set(columns)) != len(columns):
        dup = sorted({c for c in columns if columns.count(c) > 1})
        raise GaitInputError("duplicate column names", expected="each column once", found=_listed(dup), where=where)


#: Bytes counted per block by `_count_lines_and_commas` (small enough to stay in the cache).


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
        found=f"{FORMAT_NAME}: {quoted(v)}",
        where=where,
        hint="The file was written by a newer version of gait: upgrade to read it" if newer else None,
    )
