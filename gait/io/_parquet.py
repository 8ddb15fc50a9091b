"""Canonical Parquet files: the session's metadata in the file's key-value metadata, with a
content checksum."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..errors import GaitInputError, Where, quoted
from ..session import Session
from ._format import FORMAT_NAME, FORMAT_VERSION, _check_version, _listed
from ._validate import session_from_dataframe
from ._writer import _json_safe_meta, write_bytes_atomic

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")

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
        h.update(np.ascontiguousarray(df[name].to_numpy(), dtype="<f8").data)  # its buffer, not a copy
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
            "cannot read Parquet file", expected="a valid Parquet file", found=quoted(first, 200), where=where
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
                found=quoted(str(e), 120),
                where=where,
            ) from None
        if not isinstance(meta, dict):
            raise GaitInputError(
                "corrupt metadata",
                expected="a JSON object of session metadata under the key 'gait-session'",
                found=f"{quoted(meta)} ({type(meta).__name__})",
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
            expected=f"the values and metadata the file was written with (SHA-256 {quoted(checksum, 20)} in its "
            "metadata)",
            found="different content: the file is damaged",
            where=where,
            hint="Use a backup copy or the original recording",
        )
    return session_from_dataframe(df, meta=meta, where=where, acc_unit=acc_unit, gyr_unit=gyr_unit)
