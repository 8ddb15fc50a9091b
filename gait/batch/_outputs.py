"""The output folder: `BatchResult`, reading the tables back, locking and cleaning the folder, the cohort tables."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ..constants import TABLE_FORMATS
from ..errors import GaitInputError, Where, check_choice
from ._discover import Source, iter_hashes
from ._params import BatchParameters, completion_key
from ._pool import Item
from ._task import (
    FINDING_COLUMNS,
    PARTITIONED_TABLES,
    SourceOutcome,
    Task,
    error_row,
    load_marker,
    write_table_atomic,
)

#: Output formats.
FORMATS: tuple[str, ...] = TABLE_FORMATS
#: Tables written as one file each (``OUT/<name>.<fmt>``).
COHORT_TABLES: tuple[str, ...] = ("sessions", "findings", "errors")
MANIFEST = "manifest.json"
_OURS = {*PARTITIONED_TABLES, "_done", MANIFEST, ".lock", *(f"{t}.{f}" for t in COHORT_TABLES for f in FORMATS)}
_PART_FILE = re.compile(r"^[0-9a-f]{16}\.(parquet|csv)$")
_ERROR_COLUMNS = (
    "source",
    "session_index",
    "session_id",
    "input_sha256",
    "stage",
    "kind",
    "error_type",
    "message",
    "traceback",
)
TIMING_COLUMNS = ("source", "sessions", "read_s", "analyze_s", "faults_s", "write_s")
#: ``kind`` of an errors-table row for a file the folder search passed over as no session.
SKIPPED = "skipped"
_SESSION_LEAD = ("session_id", "bucket", "source", "session_index", "input_sha256")


@dataclass(frozen=True, eq=False)
class BatchResult:
    """What a batch produced. The cohort-level tables are in memory; the large ones on disk.

    Attributes
    ----------
    out
        The output folder.
    sessions
        The cohort: one row per analysed session (``session_id``, source, metadata, the run
        summary flattened to dotted columns such as ``median.contact_time_s``, the faults).
    findings
        One row per form fault found, most important first within each session.
    errors
        One row per input that could not be analysed: ``source``, ``session_index``,
        ``stage``, ``kind`` (``input``: unusable input; ``bug``: an unexpected exception, with
        its traceback; ``worker``: a worker process or the cluster failed; ``skipped``: a file
        the folder search found that is no session, such as a participants table),
        ``error_type``, ``message``, ``traceback``.
    timings
        Per source computed in this run: ``read_s`` (parsing), ``analyze_s``, ``faults_s``,
        ``write_s`` (seconds of worker time).
    manifest
        The manifest written to ``OUT/manifest.json``.
    analysed, skipped, failed
        Sources analysed without error in this run, sources already done by an earlier run
        (not computed again), and sources with at least one failure (retried by a re-run).
    """

    out: Path
    sessions: pd.DataFrame
    findings: pd.DataFrame
    errors: pd.DataFrame
    timings: pd.DataFrame
    manifest: dict[str, Any]
    analysed: int
    skipped: int
    failed: int

    @property
    def ok(self) -> bool:
        """True when nothing failed (files passed over as no session, kind ``skipped``, are not failures)."""
        return self.errors.empty or bool((self.errors["kind"] == SKIPPED).all())

    @cached_property
    def steps(self) -> pd.DataFrame:
        """The step tables of every session (read from ``OUT/steps`` on first access)."""
        return read_table(self.out, "steps")

    @cached_property
    def minutes(self) -> pd.DataFrame:
        """The per-minute tables of every session (read from ``OUT/minutes`` on first access)."""
        return read_table(self.out, "minutes")


def _read_manifest(out: Path) -> dict[str, Any]:
    p = out / MANIFEST
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GaitInputError(
            "not a batch output folder", expected=f"a folder with {MANIFEST}", found="none", where=Where(file=out)
        ) from None
    except (OSError, ValueError) as e:
        raise GaitInputError(
            "unreadable manifest", expected="the JSON written by gait batch", found=str(e), where=Where(file=p)
        ) from None


def _schema_from_manifest(manifest: dict[str, Any], name: str):
    import pyarrow as pa

    fields = manifest["schemas"][name]
    return pa.schema([pa.field(n, pa.type_for_alias(t)) for n, t in fields])


def read_table(
    out: str | os.PathLike[str],
    name: str,
    *,
    columns: Sequence[str] | None = None,
    filters: list[tuple[str, str, Any]] | None = None,
) -> pd.DataFrame:
    """Read one output table of a batch, Parquet or CSV, in one call.

    Parameters
    ----------
    out
        The batch's output folder.
    name
        ``"steps"``, ``"minutes"``, ``"sessions"``, ``"findings"`` or ``"errors"``.
    columns
        Only these columns.
    filters
        Row filters in the pyarrow / pandas form, e.g. ``[("session_id", "in", ids)]`` or
        ``[("bucket", "==", 17)]``; only files that can match are read.

    Returns
    -------
    pandas.DataFrame
        For ``steps`` and ``minutes``, the partition column ``bucket`` is included.
    """
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    check_choice(name, "name", (*PARTITIONED_TABLES, *COHORT_TABLES))
    root = Path(out)
    manifest = _read_manifest(root)
    fmt = manifest["parameters"]["fmt"]
    expr = pq.filters_to_expression(filters) if filters else None
    if name in COHORT_TABLES:
        path = root / f"{name}.{fmt}"
        fmt_obj: Any = "parquet" if fmt == "parquet" else ds.CsvFileFormat()
        table = ds.dataset(path, format=fmt_obj).to_table(columns=columns, filter=expr)
        return table.to_pandas()
    schema = _schema_from_manifest(manifest, name)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    part = ds.partitioning(pa.schema([pa.field("bucket", pa.int32())]), flavor="hive")
    full = schema.append(pa.field("bucket", pa.int32()))
    if fmt == "csv":
        fmt_obj = ds.CsvFileFormat(convert_options=pacsv.ConvertOptions(column_types=schema))
    else:
        fmt_obj = "parquet"
    folder = root / name
    if not folder.is_dir():
        return full.empty_table().to_pandas() if columns is None else full.empty_table().select(columns).to_pandas()
    dataset = ds.dataset(folder, format=fmt_obj, schema=full, partitioning=part)
    return dataset.to_table(columns=columns, filter=expr).to_pandas()


def check_out_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise GaitInputError("not a folder", expected="an output folder", found="a file", where=Where(file=out))
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _OURS and not p.name.startswith("."))
        if foreign:
            raise GaitInputError(
                "not a batch output folder",
                expected="an empty folder or the output of an earlier gait batch",
                found="other files: " + ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else ""),
                where=Where(file=out),
                hint="Choose a new folder: the batch removes outdated results from its output folder",
            )


@contextlib.contextmanager
def locked_folder(out: Path) -> Iterator[None]:
    """One batch at a time per output folder (an advisory lock, released if the process dies)."""
    out.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    with open(out / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise GaitInputError(
                "output folder in use",
                expected="no other batch writing to it",
                found="a lock held by another process",
                where=Where(file=out),
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def remove_temporaries(out: Path) -> None:
    for p in out.rglob(".*.tmp"):
        p.unlink(missing_ok=True)


def remove_outdated(out: Path, live_files: set[str], live_keys: set[str]) -> int:
    """Delete per-session files and markers that this run did not produce or confirm."""
    removed = 0
    for table in PARTITIONED_TABLES:
        folder = out / table
        if not folder.is_dir():
            continue
        for bucket in folder.iterdir():
            if not (bucket.is_dir() and bucket.name.startswith("bucket=")):
                continue
            for f in bucket.iterdir():
                if _PART_FILE.match(f.name) and f"{table}/{bucket.name}/{f.name}" not in live_files:
                    f.unlink()
                    removed += 1
            if not any(bucket.iterdir()):
                bucket.rmdir()
    done = out / "_done"
    if done.is_dir():
        for f in done.glob("*.json"):
            if f.stem not in live_keys:
                f.unlink()
    return removed


def _session_columns(rows: list[dict[str, Any]]) -> list[str]:
    seen = list(dict.fromkeys(k for r in rows for k in r))

    def group(c: str) -> int:
        if c in _SESSION_LEAD:
            return 0
        if c.startswith("meta."):
            return 3
        if "." in c:
            return 2
        return 1

    return sorted(seen, key=lambda c: (group(c), _SESSION_LEAD.index(c) if c in _SESSION_LEAD else 0))


def _frame(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> pd.DataFrame:
    rows = list(rows)
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame(rows)


def _arrow_safe(col: pd.Series) -> pd.Series:
    """An object column Arrow can store: all-missing -> float, mixed types -> text."""
    values = col.dropna()
    if values.empty:
        return col.astype("str") if col.empty else col.astype("float64")
    kinds = {type(v) for v in values}
    if kinds <= {bool} or kinds <= {str}:
        return col
    if kinds <= {int, float}:
        return pd.to_numeric(col)
    return col.map(lambda v: v if pd.isna(v) else str(v))


def _arrow_safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The same table with every object column storable in Parquet (what is returned is what is written)."""
    df = df.copy()
    for c in df.columns:
        if df[c].dtype == object:
            df[c] = _arrow_safe(df[c])
    return df


def write_cohort_table(df: pd.DataFrame, out: Path, name: str, fmt: str) -> None:
    write_table_atomic(df, out / f"{name}.{fmt}", fmt)


def plan(
    sources: Sequence[Source],
    params: BatchParameters,
    versions: dict[str, str],
    out: Path,
    *,
    force: bool,
    schemas: bytes,
    inputs: list[dict[str, Any]],
    duplicates: list[dict[str, str]],
) -> Iterator[Item]:
    """Hash the sources (in threads, ahead of this loop), set duplicates aside, take completed
    ones from their markers, and yield, in input order, what to do with each (see `Item`).
    The manifest's ``inputs`` and ``duplicates`` entries are appended as it goes."""
    first_by_hash: dict[str, str] = {}
    for src, h in zip(sources, iter_hashes(sources), strict=True):
        name = str(src.path)
        entry: dict[str, Any] = {"source": name, "kind": src.kind, "reader": src.reader}
        inputs.append(entry)
        if isinstance(h, OSError):
            entry.update(sha256=None, bytes=None, key=None)
            row = error_row(source=name, input_sha256=None, stage="hash", exc=h)
            yield SourceOutcome(name, "", "", (), (), (row,), (), {})
            continue
        sha, size = h
        key = completion_key(src, sha, params, versions)
        entry.update(sha256=sha, bytes=size, key=key)
        if sha in first_by_hash:
            entry["duplicate_of"] = first_by_hash[sha]
            duplicates.append({"source": name, "duplicate_of": first_by_hash[sha]})
            yield None
            continue
        first_by_hash[sha] = name
        stored = None if force else load_marker(out, key)
        if stored is not None:
            if stored.source != name:  # moved or renamed since: same content, same results
                rows = tuple({**r, "source": name} for r in stored.sessions)
                stored = dataclasses.replace(stored, source=name, sessions=rows)
            yield stored
            continue
        yield Task(
            source=name,
            path=str(src.path.resolve()),
            reader=src.reader,
            input_sha256=sha,
            key=key,
            out=str(out.resolve()),
            fmt=params.fmt,
            speed_mps=params.speed_mps,
            calibration_dir=None if params.calibration_dir is None else str(Path(params.calibration_dir).resolve()),
            schemas=schemas,
        )


@dataclass(frozen=True)
class _Tables:
    sessions: pd.DataFrame
    findings: pd.DataFrame
    errors: pd.DataFrame
    timings: pd.DataFrame


def _skipped_row(sk: Any) -> dict[str, Any]:
    return {
        "source": str(sk.path),
        "session_index": None,
        "session_id": None,
        "input_sha256": None,
        "stage": "discover",
        "kind": SKIPPED,
        "error_type": "NotASession",
        "message": f"{sk.path}: not taken as a session: {sk.reason}",
        "traceback": "",
    }


def cohort_tables(ordered: Sequence[SourceOutcome], skipped: Sequence[Any] = ()) -> _Tables:
    """The cohort-level tables, in a stable order (source, session index, rank); files passed
    over as no session come last in the errors table."""
    rows = sorted((r for o in ordered for r in o.sessions), key=lambda r: (r["source"], r["session_index"]))
    order = {r["session_id"]: k for k, r in enumerate(rows)}
    found = sorted((r for o in ordered for r in o.findings), key=lambda r: (order.get(r["session_id"], -1), r["rank"]))
    sessions = _frame(rows, _SESSION_LEAD)
    if rows:
        sessions = sessions[_session_columns(rows)]
    errors = _frame([*(r for o in ordered for r in o.errors), *(_skipped_row(sk) for sk in skipped)], _ERROR_COLUMNS)
    if not errors.empty:
        errors["session_index"] = errors["session_index"].astype("Int64")
    timings = pd.DataFrame(
        [
            {"source": o.source, "sessions": len(o.sessions), **o.timings}
            for o in ordered
            if o.timings and not o.skipped
        ],
        columns=list(TIMING_COLUMNS),
    )
    return _Tables(
        _arrow_safe_frame(sessions),
        _arrow_safe_frame(_frame(found, FINDING_COLUMNS)),
        _arrow_safe_frame(errors),
        timings,
    )
