"""Batch processing: many sessions into tidy, partitioned tables, locally or on a Dask cluster.

``gait.batch`` (this module's `batch`) and ``gait batch`` read every session of the inputs
(files, globs, folders of any supported format; a dataset folder is one source of several
sessions), analyse each one, evaluate its form faults, and write:

=========================================  =====================================================
``OUT/steps/bucket=NNN/<id>.parquet``      the step table of each session (``docs/tables.md``)
``OUT/minutes/bucket=NNN/<id>.parquet``    the per-minute table of each session
``OUT/sessions.parquet``                   the cohort: one row per session, run summary flattened
``OUT/findings.parquet``                   one row per form fault found (`gait.faults.evaluate`)
``OUT/errors.parquet``                     one row per failure, with the file and the reason
``OUT/manifest.json``                      inputs with content hashes, versions, parameters
=========================================  =====================================================

Every table has a ``session_id`` column that joins them. ``pd.read_parquet(OUT / "steps")``
reads a whole cohort in one call; `read_table` does the same for CSV output and takes filters.
See ``docs/batch.md`` for the layout, the partitioning and the reproducibility rules.

Execution: in this process (``workers=1``), a spawn-safe process pool (``workers=N``), or a
``dask.distributed`` cluster (``scheduler="tcp://host:8786"``); the same task function runs in
all three. Resumable: a source whose completion marker matches its content hash, the
parameters and the code version is not computed again (``force=True`` recomputes). Outputs are
written to a hidden temporary file and renamed, and the marker is written last, so a killed
batch never leaves a result that a re-run would take as done. A bad file never stops a batch:
it becomes a row of the errors table, and `BatchResult.ok` is False. Files of a searched folder
that are no session (a participants table, a zip of something else) are rows of the errors
table too, of kind ``skipped``, which does not make the batch fail.

Per-user stored data are never used implicitly: no calibration store unless
``calibration_dir`` is given, no run history. Results depend on the inputs, the parameters
and the code only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from ._batch_discover import Source, find_sources, iter_hashes
from ._batch_task import (
    FINDING_COLUMNS,
    LAYOUT_VERSION,
    PARTITIONED_TABLES,
    SourceOutcome,
    Task,
    error_row,
    load_marker,
    reference_schemas,
    run_task,
    serialize_schemas,
    write_bytes_atomic,
    write_table_atomic,
)
from .constants import TABLE_FORMATS
from .errors import GaitInputError, Where, check_choice, check_speed_mps

__all__ = ["FORMATS", "BatchParameters", "BatchResult", "batch", "code_digest", "read_table"]

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
_TIMING_COLUMNS = ("source", "sessions", "read_s", "analyze_s", "faults_s", "write_s")
#: ``kind`` of an errors-table row for a file the folder search passed over as no session.
SKIPPED = "skipped"
_SESSION_LEAD = ("session_id", "bucket", "source", "session_index", "input_sha256")


# ---------------------------------------------------------------------------------------
# parameters and versions
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchParameters:
    """What, besides the input and the code, decides a batch's results.

    Attributes
    ----------
    fmt
        ``"parquet"`` or ``"csv"``.
    speed_mps
        Running speed given for every session (``None``: each session's own, if any).
    calibration_dir
        Calibration store applied to the sessions (``None``: no stored calibration).
    calibration_sha256
        Content hash of that store (part of the completion key; the path is not).
    """

    fmt: str = "parquet"
    speed_mps: float | None = None
    calibration_dir: str | None = None
    calibration_sha256: str | None = None

    def key_dict(self) -> dict[str, Any]:
        """The parameters that enter the completion key (not the store's path)."""
        return {"fmt": self.fmt, "speed_mps": self.speed_mps, "calibration_sha256": self.calibration_sha256}


def _package_roots() -> list[Path]:
    import calibration

    from . import __file__ as gait_init

    return [Path(gait_init).parent, Path(calibration.__file__).parent]


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the analysis code: every ``.py`` and data file of `gait` and `calibration`.

    Part of each completion key, so results computed by other code are never reused, even
    between two commits with the same version number.
    """
    h = hashlib.sha256()
    for root in _package_roots():
        files = sorted(
            f
            for f in root.rglob("*")
            if f.is_file()
            and "__pycache__" not in f.parts
            and f.suffix not in (".pyc", ".tmp")
            and not f.name.startswith(".")
        )
        for f in files:
            h.update(f"{root.name}/{f.relative_to(root).as_posix()}".encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _versions(*, with_dask: bool) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import pyarrow
    import scipy

    from . import __version__

    try:
        dist = version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        dist = __version__
    v = {
        "gait": dist,
        "code_sha256": code_digest(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
    }
    if with_dask:
        import dask
        import distributed

        v["dask"] = dask.__version__
        v["distributed"] = distributed.__version__
    return v


#: Versions that enter the completion key (the others are recorded in the manifest only).
_KEY_VERSIONS = ("gait", "code_sha256", "numpy", "scipy", "pandas")


def _completion_key(source: Source, sha: str, params: BatchParameters, versions: dict[str, str]) -> str:
    doc = {
        "input_sha256": sha,
        "reader": source.reader,
        "parameters": params.key_dict(),
        "versions": {k: versions[k] for k in _KEY_VERSIONS},
        "layout": LAYOUT_VERSION,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def _dir_digest(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        h.update(f.relative_to(d).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------
# result
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# reading the outputs
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# execution
# ---------------------------------------------------------------------------------------
@contextlib.contextmanager
def _one_thread_per_child() -> Iterator[None]:
    """Child processes start with one BLAS / OpenMP thread each (one per core is the pool's job).

    The variables are read when NumPy loads, so they have to be in the environment that the
    spawned workers inherit; they are restored afterwards, and values set by the user win.
    """
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, "1")
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def _worker_failure(task: Task, exc: BaseException) -> SourceOutcome:
    """The outcome of a task whose worker (or cluster) failed before it could report."""
    row = error_row(source=task.source, input_sha256=task.input_sha256, stage="worker", exc=exc)
    row["kind"] = "worker"
    if not row["traceback"]:
        row["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return SourceOutcome(task.source, task.input_sha256, task.key, (), (), (row,), (), {})


#: What the planner yields: a task to compute, an outcome already settled (done earlier, or
#: unreadable), or None for a duplicate (nothing to do but count it).
_Item = Task | SourceOutcome | None
_Done = Callable[[SourceOutcome | None], None]


def _run_inline(items: Iterable[_Item], done: _Done) -> None:
    for item in items:
        done(run_task(item) if isinstance(item, Task) else item)


def _run_pool(items: Iterable[_Item], workers: int, done: _Done) -> None:
    """Tasks go to the pool as soon as they are planned (hashing overlaps the analysis). The
    pool starts at the second task: a re-run that only retries one file starts no process."""
    import itertools
    import multiprocessing
    import queue
    from concurrent.futures import Future, ProcessPoolExecutor

    it = iter(items)
    first_two: list[Task] = []
    for item in it:
        if isinstance(item, Task):
            first_two.append(item)
            if len(first_two) == 2:
                break
        else:
            done(item)
    if len(first_two) < 2:
        for task in first_two:
            done(run_task(task))
        return

    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    pending: dict[Future, Task] = {}

    def collect(block: bool) -> None:
        while pending and (block or not finished.empty()):
            fut = finished.get()
            task = pending.pop(fut)
            # run_task records every failure itself; an exception here means the worker
            # process died (BrokenProcessPool: killed, out of memory, crashed).
            try:
                outcome = fut.result()
            except Exception as e:
                outcome = _worker_failure(task, e)
            done(outcome)

    with _one_thread_per_child():
        # spawn, not fork: forking a process that runs threads is unsafe; spawn works everywhere
        ex = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        try:
            for item in itertools.chain(first_two, it):
                if isinstance(item, Task):
                    fut = ex.submit(run_task, item)
                    pending[fut] = item
                    fut.add_done_callback(finished.put)
                    collect(block=False)
                else:
                    done(item)
            collect(block=True)
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown(wait=True)


#: How often a pool process checks that the batch process still runs, s (where the kernel
#: cannot be asked to end it: not Linux).
PARENT_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Initializer of every pool process: end it as soon as the batch process dies.

    A batch killed with SIGKILL cannot shut its pool down, and its workers would go on writing
    for as long as their queue lasts. On Linux the kernel is asked to send this process SIGKILL
    when its parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread also checks
    every `PARENT_POLL_S` seconds that the parent is still the process that started it. Tables
    a worker was writing stay hidden temporary files, removed by the next run.
    """
    import signal
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)

    def watch() -> None:
        import time

        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="gait-batch-parent-watch", daemon=True).start()


#: Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT_S = 10.0


@contextlib.contextmanager
def _dask_client(scheduler: str) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` (closed afterwards); not the default client."""
    try:
        from distributed import Client
    except ImportError:
        raise GaitInputError(
            "Dask is not installed",
            expected="dask[distributed] (pip install 'gait-lumbar[dask]')",
            found="no module 'distributed'",
            where=Where(parameter="scheduler"),
        ) from None
    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise GaitInputError(
            "cannot connect to the Dask scheduler",
            expected=f"a running scheduler at {scheduler}",
            found=str(e) or type(e).__name__,
            where=Where(parameter="scheduler"),
        ) from None
    try:
        yield client
    finally:
        client.close()


def _run_dask(items: Iterable[_Item], client: Any, done: _Done) -> None:
    """As `_run_pool`, on the cluster: each task is submitted as soon as it is planned."""
    from distributed import as_completed

    ready = as_completed(loop=client.loop)
    pending: dict[str, Task] = {}

    def collect(futures: Iterable[Any]) -> None:
        for fut in futures:
            task = pending.pop(fut.key)
            # As with the pool: a task never raises for its input, so an exception here is the
            # cluster's (KilledWorker, lost connection); it is recorded for that source.
            try:
                outcome = fut.result()
            except Exception as e:
                outcome = _worker_failure(task, e)
            done(outcome)
            fut.release()

    try:
        for item in items:
            if not isinstance(item, Task):
                done(item)
                continue
            fut = client.submit(run_task, item, pure=False)
            pending[fut.key] = item
            ready.add(fut)
            if ready.has_ready():
                collect(ready.next_batch(block=False))
        collect(ready)
    except BaseException:
        client.cancel(list(ready.futures))
        raise


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sources"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("batch", total=total)
        yield lambda: bar.advance(task)


# ---------------------------------------------------------------------------------------
# the output folder
# ---------------------------------------------------------------------------------------
def _check_out(out: Path) -> None:
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
def _locked(out: Path) -> Iterator[None]:
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


def _remove_temporaries(out: Path) -> None:
    for p in out.rglob(".*.tmp"):
        p.unlink(missing_ok=True)


def _remove_outdated(out: Path, live_files: set[str], live_keys: set[str]) -> int:
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


# ---------------------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------------------
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


def _write_cohort_table(df: pd.DataFrame, out: Path, name: str, fmt: str) -> None:
    write_table_atomic(df, out / f"{name}.{fmt}", fmt)


def _plan(
    sources: Sequence[Source],
    params: BatchParameters,
    versions: dict[str, str],
    out: Path,
    *,
    force: bool,
    schemas: bytes,
    inputs: list[dict[str, Any]],
    duplicates: list[dict[str, str]],
) -> Iterator[_Item]:
    """Hash the sources (in threads, ahead of this loop), set duplicates aside, take completed
    ones from their markers, and yield, in input order, what to do with each (see `_Item`).
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
        key = _completion_key(src, sha, params, versions)
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


def _tables(ordered: Sequence[SourceOutcome], skipped: Sequence[Any] = ()) -> _Tables:
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
        columns=list(_TIMING_COLUMNS),
    )
    return _Tables(
        _arrow_safe_frame(sessions),
        _arrow_safe_frame(_frame(found, FINDING_COLUMNS)),
        _arrow_safe_frame(errors),
        timings,
    )


# ---------------------------------------------------------------------------------------
# the batch
# ---------------------------------------------------------------------------------------
def batch(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    out: str | os.PathLike[str],
    workers: int | None = None,
    scheduler: str | None = None,
    fmt: str = "parquet",
    force: bool = False,
    speed_mps: float | None = None,
    calibration_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    command: Sequence[str] | None = None,
) -> BatchResult:
    """Analyse every session of ``inputs`` into tables under ``out``.

    Parameters
    ----------
    inputs
        Files, glob patterns (``data/**/*.csv.gz``) and folders, of any supported format. A
        folder is searched recursively; a folder that is a dataset layout (the Alcantara 2022
        one, an unpacked phone export) is one source holding several sessions.
    out
        Output folder (created; an existing one must be the output of an earlier batch).
    workers
        Processes on this machine: ``1`` runs in this process, ``N > 1`` a process pool;
        ``None``: one per CPU core. Not used with ``scheduler``.
    scheduler
        Address of a ``dask.distributed`` scheduler (``"tcp://host:8786"``): the same tasks
        run on its workers, which must have this package installed and see ``inputs`` and
        ``out`` at the same paths (a shared file system).
    fmt
        ``"parquet"`` (default) or ``"csv"``.
    force
        Recompute sources that an earlier run already completed.
    speed_mps
        Known running speed for every session (treadmill studies); ``None``: each session's
        own (``speed_mps`` in its metadata), else no speed.
    calibration_dir
        Apply the stored calibration of each session's device from this calibration store
        (`calibration.CalibrationStore`). ``None`` (default): no stored calibration, so
        results never depend on the user data of the machine that ran the batch.
    progress
        Show a progress bar with an ETA on stderr.
    command
        The command line, recorded in the manifest (the CLI passes it).

    Returns
    -------
    BatchResult
        ``sessions``, ``findings``, ``errors`` and ``timings`` DataFrames; ``steps`` and
        ``minutes`` are read from ``out`` on access.

    Raises
    ------
    GaitInputError
        Invalid parameters, an input that does not exist, a pattern that matches nothing, an
        output folder that holds other files, an unreachable scheduler. Problems *in* the
        inputs never raise: they are rows of ``errors``.
    """
    check_choice(fmt, "fmt", FORMATS)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise GaitInputError(
            "invalid value", expected="an integer >= 1", found=repr(workers), where=Where(parameter="workers")
        )
    if scheduler is not None and workers is not None:
        raise GaitInputError(
            "conflicting parameters",
            expected="either workers (this machine) or scheduler (a Dask cluster)",
            found=f"workers={workers!r} and scheduler={scheduler!r}",
            where=Where(parameter="workers"),
        )
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise GaitInputError(
            "invalid value",
            expected="a scheduler address such as 'tcp://host:8786'",
            found=repr(scheduler),
            where=Where(parameter="scheduler"),
        )
    speed = None if speed_mps is None else check_speed_mps(speed_mps, "speed_mps")
    cal_dir = None
    cal_sha = None
    if calibration_dir is not None:
        cal_dir = Path(calibration_dir)
        if not cal_dir.is_dir():
            raise GaitInputError(
                "calibration store not found",
                expected="a folder written by 'gait calibrate'",
                found="no folder at this path",
                where=Where(file=cal_dir),
            )
        cal_sha = _dir_digest(cal_dir)
    out_dir = Path(out)
    _check_out(out_dir)
    if scheduler is None and workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    sources, skipped_files = find_sources(inputs, exclude=[out_dir])
    params = BatchParameters(
        fmt=fmt,
        speed_mps=speed,
        calibration_dir=None if cal_dir is None else str(cal_dir),
        calibration_sha256=cal_sha,
    )
    versions = _versions(with_dask=scheduler is not None)

    with contextlib.ExitStack() as stack:
        client = stack.enter_context(_dask_client(scheduler)) if scheduler is not None else None
        stack.enter_context(_locked(out_dir))
        _remove_temporaries(out_dir)
        schemas = reference_schemas()
        inputs_doc: list[dict[str, Any]] = []
        duplicates: list[dict[str, str]] = []
        items = _plan(
            sources,
            params,
            versions,
            out_dir,
            force=force,
            schemas=serialize_schemas(schemas),
            inputs=inputs_doc,
            duplicates=duplicates,
        )
        outcomes: dict[str, SourceOutcome] = {}
        with _progress(progress, len(sources)) as advance:

            def done(o: SourceOutcome | None) -> None:
                if o is not None:
                    outcomes[o.source] = o
                advance()

            if client is not None:
                _run_dask(items, client, done)
            elif workers == 1:
                _run_inline(items, done)
            else:
                _run_pool(items, workers or 1, done)

        ordered = [outcomes[e["source"]] for e in inputs_doc if e["source"] in outcomes]
        tables = _tables(ordered, skipped_files)
        live_files = {f for o in ordered for f in o.files}
        live_keys = {o.key for o in ordered if not o.errors and o.key}
        removed = _remove_outdated(out_dir, live_files, live_keys)
        for name, df in (("sessions", tables.sessions), ("findings", tables.findings), ("errors", tables.errors)):
            _write_cohort_table(df, out_dir, name, fmt)
        for other in FORMATS:  # a cohort table of the other format is outdated
            if other != fmt:
                for t in COHORT_TABLES:
                    (out_dir / f"{t}.{other}").unlink(missing_ok=True)
        n_failed = sum(bool(o.errors) for o in ordered)
        n_skipped = sum(o.skipped for o in ordered)
        n_analysed = len(ordered) - n_failed - n_skipped
        status = {o.source: ("failed" if o.errors else "already_done" if o.skipped else "analysed") for o in ordered}
        for e in inputs_doc:
            if "duplicate_of" in e:
                e["status"] = "duplicate"
                continue
            e["status"] = status.get(e["source"], "failed")
            e["sessions"] = [r["session_id"] for r in outcomes[e["source"]].sessions] if e["source"] in outcomes else []
        manifest = {
            "format": "gait-batch",
            "layout_version": LAYOUT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": list(command) if command is not None else None,
            "parameters": {
                **dataclasses.asdict(params),
                "force": force,
                "workers": workers,
                "scheduler": scheduler,
                "stored_calibration": "from calibration_dir" if cal_dir else "none (stores are never used implicitly)",
                "history": "none (run histories are per-user data)",
            },
            "versions": versions,
            "platform": {"system": platform.system(), "machine": platform.machine(), "executable": sys.executable},
            "partitioning": {
                "tables": list(PARTITIONED_TABLES),
                "path": "<table>/bucket=NNN/<session_id>.<fmt>",
                "bucket": "int(session_id[:2], 16), 0-255, zero-padded to 3 digits in the folder name",
                "session_id": "sha256('<input sha256>:<index of the session in its source>')[:16]",
            },
            "schemas": {n: [[f.name, str(f.type)] for f in sch] for n, sch in schemas.items()},
            "counts": {
                "sources": len(inputs_doc),
                "analysed": n_analysed,
                "already_done": n_skipped,
                "failed": n_failed,
                "duplicates": len(duplicates),
                "sessions": len(tables.sessions),
                "findings": len(tables.findings),
                "errors": len(tables.errors),
                "skipped_files": len(skipped_files),
                "outdated_files_removed": removed,
            },
            "timings_s": {c: float(tables.timings[c].sum()) for c in _TIMING_COLUMNS[2:]},
            "inputs": inputs_doc,
            "duplicates": duplicates,
            "skipped_files": [{"path": str(sk.path), "reason": sk.reason} for sk in skipped_files],
        }
        write_bytes_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=1).encode())

    return BatchResult(
        out=out_dir,
        sessions=tables.sessions,
        findings=tables.findings,
        errors=tables.errors,
        timings=tables.timings,
        manifest=manifest,
        analysed=n_analysed,
        skipped=n_skipped,
        failed=n_failed,
    )
