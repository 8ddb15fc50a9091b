"""Sub-command ``gait batch``: a thin wrapper over `gait.batch.batch`.

Added to the ``gait`` command by `gait.cli.COMMAND_MODULES`. Exit status: 0 when every source
was analysed, 1 when any failed (the errors table says which and why), 2 for unusable
arguments (printed by `gait.cli.main`, no traceback).
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

__all__ = ["register"]

EXIT_OK = 0
EXIT_FAILED = 1
#: Errors listed on the terminal; the rest are in the errors table.
SHOWN_ERRORS = 10


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gait batch`` to the ``gait`` command."""
    from ..constants import TABLE_FORMATS as FORMATS

    p = subparsers.add_parser(
        "batch",
        help="analyse many sessions into partitioned tables (this machine or a Dask cluster)",
        description=(
            "Analyse every session of the inputs (files, quoted glob patterns, folders searched recursively; a "
            "dataset folder is one source of several sessions) into per-step, per-minute, per-session, findings and "
            "errors tables with a manifest. Resumable: sources already done with the same content, parameters and "
            "code are skipped. Stored per-user calibrations and run histories are not used. See docs/batch.md."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="session file, glob pattern (quote it) or folder")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--workers", type=int, metavar="N", help="processes on this machine (default: one per core; 1: no pool)"
    )
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786")
    p.add_argument("--format", dest="fmt", choices=FORMATS, default="parquet", help="output format (default parquet)")
    p.add_argument("--force", action="store_true", help="recompute sources that are already done")
    p.add_argument(
        "--speed-mps", type=float, metavar="X", help="known running speed of every session (treadmill studies)"
    )
    p.add_argument(
        "--calibration-dir",
        type=Path,
        metavar="DIR",
        help="apply each device's stored calibration from this store (default: none, for reproducibility)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_batch)


def _command_line(args: argparse.Namespace) -> list[str]:
    cmd = ["gait", "batch", *args.inputs, "--out", str(args.out), "--format", args.fmt]
    for flag, value in (
        ("--workers", args.workers),
        ("--scheduler", args.scheduler),
        ("--speed-mps", args.speed_mps),
        ("--calibration-dir", args.calibration_dir),
    ):
        if value is not None:
            cmd += [flag, str(value)]
    if args.force:
        cmd.append("--force")
    return cmd


def _cmd_batch(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..errors import check_speed_mps
    from ._runner import batch

    if args.speed_mps is not None:
        check_speed_mps(args.speed_mps, "--speed-mps")  # named as the user typed it
    r = batch(
        args.inputs,
        out=args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        fmt=args.fmt,
        force=args.force,
        speed_mps=args.speed_mps,
        calibration_dir=args.calibration_dir,
        progress=not args.quiet,
        command=_command_line(args),
    )
    c = r.manifest["counts"]
    print(
        f"{c['sessions']} sessions from {c['sources']} sources: {r.analysed} analysed now, "
        f"{r.skipped} already done, {r.failed} failed"
    )
    if c["duplicates"]:
        print(f"{c['duplicates']} duplicate files (same content as another input) analysed once; see manifest.json")
    ext = args.fmt
    if r.manifest["skipped_files"]:
        n = len(r.manifest["skipped_files"])
        print(
            f"{n} file{'s' if n > 1 else ''} in the folders not taken as sessions (no time column, or a zip of "
            f"something else); listed in errors.{ext} (kind 'skipped') and manifest.json"
        )
    print(
        f"wrote {args.out}: steps/ and minutes/ (partitioned by bucket), sessions.{ext}, "
        f"findings.{ext} ({c['findings']} finding{'' if c['findings'] == 1 else 's'}), errors.{ext}, manifest.json"
    )
    if r.ok:
        return EXIT_OK
    failures = r.errors[r.errors["kind"] != "skipped"]
    print(f"{len(failures)} failure{'s' if len(failures) > 1 else ''} (errors.{ext} has every one):")
    for e in failures.head(SHOWN_ERRORS).itertuples(index=False):
        where = e.source if pd.isna(e.session_index) else f"{e.source}#{e.session_index}"
        if e.kind == "input":
            print(f"  {where}: {e.message}")
        else:
            print(f"  {where}: {e.kind} in {e.stage}: {e.error_type}: {e.message}")
    if len(failures) > SHOWN_ERRORS:
        print(f"  ... and {len(failures) - SHOWN_ERRORS} more")
    if (failures["kind"] != "input").any():
        print("unexpected exceptions are bugs: please report them with the traceback column of the errors table")
    print(
        "re-run the same command to retry the failed sources (done ones are skipped): "
        + shlex.join(_command_line(args))
    )
    return EXIT_FAILED
