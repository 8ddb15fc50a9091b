"""The per-source task of a batch, and the output layout it writes.

`run_task` is what a worker runs (in this process, a process-pool worker or a Dask worker):
read one source, analyse each of its sessions, evaluate the form faults, write the step and
minute tables of each session (one file each, atomically), and, when every session of the
source succeeded, a completion marker (written last, atomically) that a re-run uses to skip
the source. It never raises for a bad input or a bug in the analysis: both come back as rows
of the errors table, so one bad file never stops a batch.

Output layout (``docs/batch.md``)::

    OUT/steps/bucket=NNN/<session_id>.parquet      one file per session (or .csv)
    OUT/minutes/bucket=NNN/<session_id>.parquet
    OUT/_done/<key>.json                           completion markers (one per source)

``session_id`` is the first 16 hex digits of SHA-256 of ``"<input sha256>:<index>"`` (index of
the session within its source): it depends on the recorded data only, not on the file name,
the parameters or the code version. ``bucket`` is ``int(session_id[:2], 16)`` (0-255).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import GaitDataWarning
from ..io import write_bytes_atomic  # re-exported: the batch's writes go through this module

if TYPE_CHECKING:
    import pyarrow as pa


from .._flat import flatten, scalar
from ._layout import LAYOUT_VERSION, N_BUCKETS, PARTITIONED_TABLES, bucket_of, marker_path, partition_file, session_id
from ._rows import FINDING_COLUMNS, error_row, finding_rows, session_row, warning_texts

__all__ = [
    "FINDING_COLUMNS",
    "LAYOUT_VERSION",
    "N_BUCKETS",
    "PARTITIONED_TABLES",
    "SourceOutcome",
    "Task",
    "bucket_of",
    "error_row",
    "finding_rows",
    "flatten",
    "load_marker",
    "marker_path",
    "partition_file",
    "reference_schemas",
    "run_task",
    "serialize_schemas",
    "session_id",
    "write_bytes_atomic",
    "write_table_atomic",
]


#: Version of the output layout; part of every completion key.
def write_table_atomic(df: pd.DataFrame, path: Path, fmt: str, schema: pa.Schema | None = None) -> None:
    """Write a table as Parquet (with ``schema`` when given) or CSV, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if fmt == "parquet":
        table = pa.Table.from_pandas(df, schema=schema, preserve_index=False)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        write_bytes_atomic(path, sink.getvalue().to_pybytes())
    else:
        write_bytes_atomic(path, df.to_csv(index=False, lineterminator="\n").encode())


@functools.lru_cache(maxsize=1)
def reference_schemas() -> dict[str, pa.Schema]:
    """Arrow schemas of the partitioned tables, from a short simulated run.

    Every session's table is written with the same schema (a session without running has an
    empty minute table whose columns pandas would otherwise type as ``object``), so a whole
    folder reads as one table. The columns are whatever `gait.analyze` returns, preceded by
    ``session_id``.
    """
    import pyarrow as pa

    from ..core.pipeline import analyze
    from ..simulator import simulate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        a = analyze(simulate(duration_s=75.0, seed=0).session)
    out = {}
    for name, df in (("steps", a.steps), ("minutes", a.minutes)):
        schema = pa.Schema.from_pandas(df.head(0).astype(df.dtypes.to_dict()), preserve_index=False)
        schema = schema.insert(0, pa.field("session_id", pa.large_string()))
        out[name] = schema.remove_metadata()
    return out


def _conform(df: pd.DataFrame, sid: str, schema: pa.Schema) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "session_id", sid)
    extra = [c for c in df.columns if c not in schema.names]
    if extra:  # the analysis returned a column its reference run did not: a bug, not an input problem
        raise RuntimeError(f"analysis table has columns missing from the reference schema: {', '.join(extra)}")
    return df.reindex(columns=schema.names)


@dataclass(frozen=True)
class Task:
    """Everything a worker needs to process one source (picklable; paths as strings).

    ``source`` is the path as the user gave it (shown in the tables); ``path`` and ``out`` are
    absolute, so that workers started in another folder (a Dask cluster) find them.
    """

    source: str
    path: str
    reader: str
    input_sha256: str
    key: str
    out: str
    fmt: str
    speed_mps: float | None
    calibration_dir: str | None
    schemas: bytes = field(repr=False)


@dataclass(frozen=True)
class SourceOutcome:
    """What a worker returns for a source (small: the big tables are on disk)."""

    source: str
    input_sha256: str
    key: str
    sessions: tuple[dict[str, Any], ...]
    findings: tuple[dict[str, Any], ...]
    errors: tuple[dict[str, Any], ...]
    files: tuple[str, ...]
    timings: Mapping[str, float]
    skipped: bool = False

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["skipped"] = False
        return d


def serialize_schemas(schemas: Mapping[str, pa.Schema]) -> bytes:
    """Schemas as bytes for a `Task` (one Arrow IPC schema message per table)."""
    parts = {name: s.serialize().to_pybytes().hex() for name, s in schemas.items()}
    return json.dumps(parts).encode()


def _deserialize_schemas(data: bytes) -> dict[str, pa.Schema]:
    import pyarrow as pa

    return {name: pa.ipc.read_schema(pa.py_buffer(bytes.fromhex(h))) for name, h in json.loads(data).items()}


def load_marker(out: Path, key: str) -> SourceOutcome | None:
    """The outcome stored by a completed task, or None when the source is not done.

    Done means: the marker exists, is complete JSON for this key, and every output file it
    lists exists. Anything else (no marker, a marker cut off, a missing table file) means the
    source is computed again.
    """
    p = marker_path(out, key)
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(d, dict) or d.get("key") != key:
        return None
    files = d.get("files") or []
    if not all((out / f).is_file() for f in files):
        return None
    return SourceOutcome(
        source=d["source"],
        input_sha256=d["input_sha256"],
        key=key,
        sessions=tuple(d["sessions"]),
        findings=tuple(d["findings"]),
        errors=(),
        files=tuple(files),
        timings=d.get("timings", {}),
        skipped=True,
    )


def run_task(task: Task) -> SourceOutcome:
    """Process one source; see the module docstring. Never raises for a bad input or a bug."""
    from calibration import CalibrationStore

    from .._run import run
    from ..readers import read_sessions

    out = Path(task.out)
    schemas = _deserialize_schemas(task.schemas)
    timings = {"read_s": 0.0, "analyze_s": 0.0, "faults_s": 0.0, "write_s": 0.0}
    rows: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    files: list[str] = []

    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            sessions = read_sessions(task.path)
        # A bad input (GaitInputError) is an "input" row; anything else is a bug of the reader,
        # recorded with its traceback (kind "bug", non-zero exit): `error_row` tells them apart,
        # and either way the rest of the batch goes on.
        except Exception as e:
            errors.append(error_row(source=task.source, input_sha256=task.input_sha256, stage="read", exc=e))
            sessions = []
    read_warnings = warning_texts(caught)
    timings["read_s"] = time.perf_counter() - t0
    store = CalibrationStore(task.calibration_dir) if task.calibration_dir else None

    marks: dict[str, float] = {}  # the stages gait.run has started for this session, and when
    for index, session in enumerate(sessions):
        sid = session_id(task.input_sha256, index)
        stage = "run"
        marks.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                r = run(
                    session,
                    calibration="stored" if store is not None else None,
                    store=store,
                    if_calibrated="mounting",
                    apply_empty=False,
                    sensor_frame_only=True,
                    speed=task.speed_mps,
                    faults="evaluate",
                    on_stage=lambda name: marks.__setitem__(name, time.perf_counter()),
                )
                session, a, findings = r.session, r.analysis, r.findings
                t1, t2, t3 = marks["analyze"], marks["faults"], time.perf_counter()
                stage = "write"
                written = []
                for name, df in (("steps", a.steps), ("minutes", a.minutes)):
                    path = partition_file(out, name, sid, task.fmt)
                    write_table_atomic(_conform(df, sid, schemas[name]), path, task.fmt, schemas[name])
                    written.append(path.relative_to(out).as_posix())
                t4 = time.perf_counter()
            # The one blanket handler of the batch, around one session: a bad input
            # (GaitInputError) is an "input" row; any other exception is a bug in the analysis,
            # recorded precisely (type, message, innermost frames; kind "bug"; the batch exits
            # non-zero); `error_row` tells them apart. Either way the other sessions go on, as
            # the batch contract requires.
            except Exception as e:
                errors.append(
                    error_row(
                        source=task.source,
                        input_sha256=task.input_sha256,
                        stage=stage if stage == "write" else next(reversed(marks), "calibrate"),
                        exc=e,
                        session_index=index,
                        sid=sid,
                    )
                )
                continue
        texts = read_warnings + [t for t in warning_texts(caught) if t not in read_warnings]
        timings["analyze_s"] += t2 - t1
        timings["faults_s"] += t3 - t2
        timings["write_s"] += t4 - t3
        files.extend(written)
        rows.append(session_row(task, index, sid, session, a, findings, texts))
        found.extend(finding_rows(sid, findings))

    outcome = SourceOutcome(
        source=task.source,
        input_sha256=task.input_sha256,
        key=task.key,
        sessions=tuple(rows),
        findings=tuple(found),
        errors=tuple(errors),
        files=tuple(files),
        timings=timings,
    )
    if not errors:
        doc = outcome.to_json()
        del doc["errors"], doc["skipped"]
        data = json.dumps(doc, allow_nan=True, default=_json_default).encode()
        write_bytes_atomic(marker_path(out, task.key), data)
    return outcome


def _json_default(v: Any) -> Any:
    v2 = scalar(v)
    if v2 is v:
        raise TypeError(f"not JSON serialisable: {type(v).__name__}")
    return v2
