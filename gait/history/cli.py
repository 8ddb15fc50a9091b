"""Sub-command ``gait history``: the runner's runs over weeks.

Added to the ``gait`` command by `gait.cli.COMMAND_MODULES`. Actions (``docs/history.md``):

- ``list``: the stored runs with their key metrics and findings (``--json`` for scripts);
- ``trend METRIC ...``: a metric over weeks against the runner's own baseline and usual range
  (terminal, ``--html FILE`` for a self-contained page, ``--json``);
- ``compare RUN_A RUN_B`` or ``compare --before DATE --after DATE``: every key metric, and
  whether the difference exceeds the run-to-run noise (`gait.history.stats`);
- ``edit RUN --shoes/--date/--note`` and ``delete RUN ... [--yes]``;
- ``import FOLDER``: past recordings into the history, dated by their own start time.

A ``RUN`` is a run number (from ``list``), a date (``YYYY-MM-DD``, when one run that day) or
the start of a run's fingerprint. Exit status: 0 done, 1 the history could not be used (locked,
foreign, newer version) or a recording of an import failed, 2 unusable arguments.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from ..constants import EXIT_FAILED, EXIT_OK
from ..errors import GaitInputError, Where
from ._cli_common import (
    band_text,
    make_console,
    open_store,
    parse_when,
    resolve,
    with_history,
)
from ._cli_views import cmd_compare, cmd_list, cmd_trend

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``gait history`` to the ``gait`` command."""
    p = subparsers.add_parser(
        "history",
        help="your runs over weeks: list, trends, before/after comparisons, edit, import",
        description=(
            "Look at the run history that gait analyze keeps (training load, shoes, personal baselines): list the "
            "runs, follow a metric over weeks against your own usual range, compare two runs or two periods, fix a "
            "run's shoes, date or note, delete runs, import a folder of past recordings. See docs/history.md."
        ),
    )
    sub = p.add_subparsers(dest="history_action", required=True, metavar="ACTION")
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--history-db",
        type=Path,
        metavar="PATH",
        help="history database (default: $GAIT_HISTORY_DB, else the user data folder)",
    )
    period = argparse.ArgumentParser(add_help=False)
    period.add_argument("--since", metavar="DATE", help="only runs on or after this date (YYYY-MM-DD)")
    period.add_argument("--until", metavar="DATE", help="only runs on or before this date (YYYY-MM-DD)")

    ls = sub.add_parser("list", parents=[db, period], help="the stored runs, their key metrics and findings")
    ls.add_argument(
        "--metric",
        action="append",
        metavar="METRIC",
        help="metric columns to show (repeatable; default: cadence, contact_time, oscillation, lean)",
    )
    ls.add_argument("--json", action="store_true", help="print every run with all its metrics as JSON")
    ls.set_defaults(func=cmd_list)

    tr = sub.add_parser(
        "trend",
        parents=[db, period],
        help="metrics over weeks against your own baseline and usual range",
        description="A metric over weeks: per run, weekly mean, your baseline and usual range. " + band_text(),
    )
    tr.add_argument("metrics", nargs="+", metavar="METRIC", help="e.g. cadence contact_time oscillation lean")
    tr.add_argument("--baseline-since", metavar="DATE", help="baseline period start (default: the period shown)")
    tr.add_argument("--baseline-until", metavar="DATE", help="baseline period end (e.g. the day before a change)")
    tr.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained trends page (no network)")
    tr.add_argument("--json", action="store_true", help="print the trends as JSON")
    tr.set_defaults(func=cmd_trend)

    cp = sub.add_parser(
        "compare",
        parents=[db, period],
        help="two runs, or two periods (--before/--after): which differences exceed the run-to-run noise",
        description=(
            "Compare every key metric between two runs (RUN_A RUN_B) or two periods (--before DATE: the runs before "
            "it; --after DATE: the runs on or after it; one date alone splits at that date). Two runs: the "
            "difference against your run-to-run noise (from your other runs; p from its null distribution). Two "
            "periods: difference of the means, pooled between-run SD and a permutation test. p-values are "
            "Holm-adjusted over the metrics compared. See docs/history.md."
        ),
    )
    cp.add_argument("runs", nargs="*", metavar="RUN", help="two runs: number, date (YYYY-MM-DD) or fingerprint start")
    cp.add_argument("--before", metavar="DATE", help="period A: the runs before this date")
    cp.add_argument("--after", metavar="DATE", help="period B: the runs on or after this date")
    cp.add_argument("--metric", action="append", metavar="METRIC", help="compare only these metrics (repeatable)")
    cp.add_argument("--json", action="store_true", help="print the comparison as JSON")
    cp.set_defaults(func=cmd_compare)

    ed = sub.add_parser("edit", parents=[db], help="change a run's shoes, date or note")
    ed.add_argument("run", metavar="RUN", help="run number, date (YYYY-MM-DD) or fingerprint start")
    ed.add_argument("--shoes", metavar="NAME", help="the shoes worn ('' clears)")
    ed.add_argument(
        "--date", metavar="DATE", help="when the run started: YYYY-MM-DD (keeps the time of day) or YYYY-MM-DDTHH:MM"
    )
    ed.add_argument("--note", metavar="TEXT", help="a note, e.g. 'new insoles' ('' clears)")
    ed.set_defaults(func=_cmd_edit)

    de = sub.add_parser("delete", parents=[db], help="delete runs from the history")
    de.add_argument("runs", nargs="+", metavar="RUN", help="run number, date (YYYY-MM-DD) or fingerprint start")
    de.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    de.set_defaults(func=_cmd_delete)

    im = sub.add_parser(
        "import",
        parents=[db],
        help="analyse a folder of past recordings into the history",
        description=(
            "Analyse every recording in a folder (searched recursively, like gait batch) into the history, oldest "
            "first, each dated by its own start time. Recordings already stored (same samples) are skipped; so are "
            "simulated, sample and test sessions and recordings without a start time, unless asked."
        ),
    )
    im.add_argument("folder", type=Path, metavar="FOLDER", help="folder (or file) of recordings")
    im.add_argument("--shoes", metavar="NAME", help="shoes of every run (default: each recording's metadata)")
    im.add_argument(
        "--file-time",
        action="store_true",
        help="date recordings without a start time by the file's modification time (else they are skipped)",
    )
    im.add_argument(
        "--include-simulated", action="store_true", help="also store simulated, sample and test sessions as your runs"
    )
    im.add_argument("--no-calibration", action="store_true", help="do not apply the stored calibration of the device")
    im.set_defaults(func=_cmd_import)


# ---------------------------------------------------------------------------------------
# edit, delete
# ---------------------------------------------------------------------------------------
@with_history
def _cmd_edit(args: argparse.Namespace) -> int:
    from ._records import UNSET

    if args.shoes is None and args.date is None and args.note is None:
        raise GaitInputError(
            "nothing to change", expected="--shoes, --date or --note", found="none", where=Where(parameter="edit")
        )
    store, path = open_store(args, must_exist=True)
    if store is None:
        raise GaitInputError(
            "no run history", expected="an existing history database", found=f"no file {path}", where=Where(file=path)
        )
    with store:
        run = resolve(store, args.run)
        when = UNSET if args.date is None else parse_when(args.date, run.started_at, "--date")
        shoes = UNSET if args.shoes is None else args.shoes
        note = UNSET if args.note is None else args.note
        new = store.update(run.run_id, shoes=shoes, started_at=when, note=note)
    changes = []
    if args.date is not None:
        changes.append(f"date {run.started_at:%Y-%m-%d %H:%M} -> {new.started_at:%Y-%m-%d %H:%M} (set by hand)")
    if args.shoes is not None:
        changes.append(f"shoes {run.shoes or '-'} -> {new.shoes or '-'}")
    if args.note is not None:
        changes.append(f"note {run.note or '-'!r} -> {new.note or '-'!r}")
    print(f"run {new.run_id}: " + "; ".join(changes))
    return EXIT_OK


@with_history
def _cmd_delete(args: argparse.Namespace) -> int:
    store, path = open_store(args, must_exist=True)
    if store is None:
        raise GaitInputError(
            "no run history", expected="an existing history database", found=f"no file {path}", where=Where(file=path)
        )
    with store:
        runs = list({r.run_id: r for r in (resolve(store, ref) for ref in args.runs)}.values())
        listing = "; ".join(
            f"run {r.run_id} ({r.started_at:%Y-%m-%d %H:%M}, {r.running_s / 60:.0f} min, shoes {r.shoes or '-'})"
            for r in runs
        )
        if not args.yes:
            if not sys.stdin.isatty():
                raise GaitInputError(
                    "not confirmed",
                    expected="--yes to delete without a question",
                    found="no terminal to ask on",
                    where=Where(parameter="--yes"),
                )
            answer = input(f"delete {listing}? This cannot be undone [y/N] ").strip().casefold()
            if answer not in ("y", "yes"):
                print("nothing deleted")
                return EXIT_OK
        n = store.delete([r.run_id for r in runs])
    print(f"deleted {n} run(s): {listing}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# import
# ---------------------------------------------------------------------------------------
@with_history
def _cmd_import(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from .._run import calibration_line, run
    from ..batch._discover import find_sources
    from ..faults import assess
    from ..readers import read_sessions
    from ._load import record_and_load
    from ._records import not_personal_reason, session_fingerprint, session_start
    from ._schema import MIN_RUNNING_S

    if not args.folder.exists():
        raise GaitInputError(
            "input not found", expected="an existing folder or file", found="nothing", where=Where(file=args.folder)
        )
    console = make_console()
    sources, passed_over = find_sources(args.folder)
    store, path = open_store(args, must_exist=False)
    skipped: list[tuple[str, str]] = [(str(s.path), s.reason) for s in passed_over]
    failed: list[tuple[str, str]] = []
    todo: list[tuple[datetime | None, str, int, Path]] = []  # (start, fingerprint, index in source, source)
    with store:
        for m in store.messages:
            console.print(f"[dim]{escape(m)}[/dim]")
        known = {r.content_hash: r for r in store.runs()}
        queued: dict[str, str] = {}
        # pass 1: what each recording is (samples are not kept: a folder may hold hours of data)
        for src in sources:
            try:
                sessions = read_sessions(src.path)
            except GaitInputError as e:
                failed.append((str(src.path), str(e)))
                continue
            for k, s in enumerate(sessions):
                name = f"{src.path}" + (f"#{k}" if len(sessions) > 1 else "")
                fp = session_fingerprint(s)
                start = session_start(s)
                why = None if args.include_simulated else not_personal_reason(s, source_file=src.path)
                if fp in known:
                    skipped.append((name, f"already in the history (run {known[fp].run_id})"))
                elif why is not None:
                    skipped.append((name, f"{why} (--include-simulated stores it)"))
                elif start is None and not args.file_time:
                    what = "an unreadable start time" if s.meta.start_time else "no start time"
                    skipped.append((name, f"{what}: its date is unknown (--file-time dates it by the file)"))
                elif fp in queued:
                    skipped.append((name, f"the same recording as {queued[fp]}"))
                else:
                    queued[fp] = name
                    todo.append((start, fp, k, src.path))
        # pass 2: oldest first, so each run is judged against the runs before it
        far = datetime.max.replace(tzinfo=datetime.now().astimezone().tzinfo)
        todo.sort(key=lambda t: (t[0] or far, str(t[3]), t[2]))
        imported = 0
        for _start, fp, k, src_path in todo:
            name = queued[fp]
            try:
                raw = read_sessions(src_path)[k]
                r = run(
                    raw,
                    calibration=None if args.no_calibration else "stored",
                    if_calibrated="skip",
                    apply_empty=True,
                    faults=None,
                )
                s, a = r.session, r.analysis
                if (line := calibration_line(r)) is not None:
                    console.print(line)
            except GaitInputError as e:
                failed.append((name, str(e)))
                continue
            history, status = record_and_load(
                store,
                a,
                session=raw,
                shoes=args.shoes or raw.meta.shoes,
                source_file=src_path,
                file_time=args.file_time,
                former_key=session_fingerprint(s) if s is not raw else None,
            )
            if status.stored is None:
                skipped.append((name, f"under {MIN_RUNNING_S / 60:g} min of running: not a run"))
                continue
            if status.stored == "updated":  # stored before under its calibrated samples' key
                skipped.append((name, f"already in the history (run {status.run_id})"))
                continue
            assessment = assess(a, history=history)
            store.set_findings(fp, assessment.findings)
            imported += 1
            dated = f"{status.started_at[:16].replace('T', ' ')}" if status.started_at else "?"
            console.print(
                f"imported run {status.run_id}: {dated} ({status.date_source}) {escape(name)}: "
                f"{len(assessment.findings)} finding(s)"
            )
    for name, why in skipped:
        console.print(f"[dim]skipped {escape(name)}: {escape(why)}[/dim]")
    for name, why in failed:
        console.print(f"[red]failed[/red] {escape(name)}: {escape(why)}")
    console.print(f"{imported} imported, {len(skipped)} skipped, {len(failed)} failed ({escape(str(path))})")
    return EXIT_FAILED if failed else EXIT_OK
