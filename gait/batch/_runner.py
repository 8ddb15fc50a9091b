"""`batch`: discover the sources, plan, run the tasks, write the cohort tables and the manifest."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import GaitInputError, Where, check_choice, check_speed_mps
from ._dask import dask_client, run_dask
from ._discover import find_sources
from ._outputs import (
    COHORT_TABLES,
    FORMATS,
    MANIFEST,
    TIMING_COLUMNS,
    BatchResult,
    check_out_folder,
    cohort_tables,
    locked_folder,
    plan,
    remove_outdated,
    remove_temporaries,
    write_cohort_table,
)
from ._params import BatchParameters, collect_versions, dir_digest
from ._pool import progress_bar, run_inline, run_pool
from ._task import (
    LAYOUT_VERSION,
    PARTITIONED_TABLES,
    SourceOutcome,
    reference_schemas,
    serialize_schemas,
    write_bytes_atomic,
)


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
        cal_sha = dir_digest(cal_dir)
    out_dir = Path(out)
    check_out_folder(out_dir)
    if scheduler is None and workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    sources, skipped_files = find_sources(inputs, exclude=[out_dir])
    params = BatchParameters(
        fmt=fmt,
        speed_mps=speed,
        calibration_dir=None if cal_dir is None else str(cal_dir),
        calibration_sha256=cal_sha,
    )
    versions = collect_versions(with_dask=scheduler is not None)

    with contextlib.ExitStack() as stack:
        client = stack.enter_context(dask_client(scheduler)) if scheduler is not None else None
        stack.enter_context(locked_folder(out_dir))
        remove_temporaries(out_dir)
        schemas = reference_schemas()
        inputs_doc: list[dict[str, Any]] = []
        duplicates: list[dict[str, str]] = []
        items = plan(
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
        with progress_bar(progress, len(sources)) as advance:

            def done(o: SourceOutcome | None) -> None:
                if o is not None:
                    outcomes[o.source] = o
                advance()

            if client is not None:
                run_dask(items, client, done)
            elif workers == 1:
                run_inline(items, done)
            else:
                run_pool(items, workers or 1, done)

        ordered = [outcomes[e["source"]] for e in inputs_doc if e["source"] in outcomes]
        tables = cohort_tables(ordered, skipped_files)
        live_files = {f for o in ordered for f in o.files}
        live_keys = {o.key for o in ordered if not o.errors and o.key}
        removed = remove_outdated(out_dir, live_files, live_keys)
        for name, df in (("sessions", tables.sessions), ("findings", tables.findings), ("errors", tables.errors)):
            write_cohort_table(df, out_dir, name, fmt)
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
            "timings_s": {c: float(tables.timings[c].sum()) for c in TIMING_COLUMNS[2:]},
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
