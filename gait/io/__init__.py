# ruff: noqa: F401
"""Package moved from the single module; split follows."""

from . import _validate
from ._validate import (
    _COUNT_BLOCK,
    SessionCsvWriter,
    _count_lines_and_commas,
    _gunzip,
    load_session,
    os,
    read_csv_session,
    read_parquet_session,
    regularise,
    save_session,
    session_from_arrays,
    session_from_dataframe,
    write_bytes_atomic,
    write_csv_session,
    write_parquet_session,
)

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
