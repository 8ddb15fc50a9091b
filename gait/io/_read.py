"""The canonical reader's entry point: a CSV (``.csv``, ``.csv.gz``) or a Parquet file, told
apart by content; and the former name `load_session`, deprecated."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from ..session import Session
from ._csv import _read_bytes, read_csv_session
from ._parquet import read_parquet_session


def read_canonical_session(
    path: str | os.PathLike[str],
    *,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
) -> Session:
    """Read a session from a canonical CSV (``.csv``, ``.csv.gz``) or Parquet file.

    `gait.read_session` is the entry point for every format (phone apps, vendor exports,
    datasets, and these canonical files, which it hands to this function).

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


def load_session(
    path: str | os.PathLike[str],
    *,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
) -> Session:
    """Deprecated: use `gait.read_session` (any format) or `gait.io.read_canonical_session`.

    Reads a canonical file exactly as `read_canonical_session` does, after a
    `DeprecationWarning`.
    """
    warnings.warn(
        "gait.load_session is deprecated: use gait.read_session (every format) "
        "or gait.io.read_canonical_session (canonical CSV and Parquet only)",
        DeprecationWarning,
        stacklevel=2,
    )
    return read_canonical_session(path, acc_unit=acc_unit, gyr_unit=gyr_unit)
