"""``gait analyze``: read, calibrate, analyse, compare with the run history, report.

The command's work (`run_analyze`) and its option helpers (speed or pace, a watch track and
its offset, found from the run itself with ``--track-offset-s auto``); the parser is built in
`gait.cli`.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from .constants import EXIT_OK
from .errors import GaitInputError, check_speed_mps


def run_analyze(args: argparse.Namespace) -> int:
    from ._lazy import prefetch

    prefetch("scipy.signal", "scipy.special", "scipy.ndimage")  # imported while the file is read

    import pandas as pd
    from rich.console import Console

    from .history import (
        HistoryStore,
        HistoryUnavailable,
        not_personal_reason,
        record_and_load,
        session_fingerprint,
        skipped_status,
    )
    from .readers import read_sessions
    from .report import (
        RunReport,
        print_analysis_summary,
        print_findings,
        print_report_footer,
        print_run_summary,
        print_session_summary,
        report_document,
        write_html,
        write_json,
        write_table,
    )

    console = Console()
    speed_given, track, split_unit = _speed_options(args)
    sessions = read_sessions(args.file, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit)
    from ._run import calibration_line, run
    from .faults import assess

    # the history is opened only when a session needs it: a simulated, sample or test session
    # (gait.history.not_personal_reason) neither reads nor creates it unless --store-history
    store: HistoryStore | None = None
    tried = False
    opened: list[str] = []
    no_history = "history is off (--no-history)" if args.no_history else ""

    def history_store() -> HistoryStore | None:
        nonlocal store, tried, no_history
        if not tried and not args.no_history:
            tried = True
            store = HistoryStore(args.history_db)
            try:
                opened.extend(store.open())
            except HistoryUnavailable as e:
                store = None
                no_history = f"{e.reason}; analysed without history"
                print(f"warning: history: {no_history}", file=sys.stderr)
        return store

    steps, minutes, reports = [], [], []
    try:
        for k, raw in enumerate(sessions):
            if args.details:
                print_session_summary(raw, console)
            # the track is aligned on the session's clock, which calibration leaves as it is
            aligned, speed = _aligned_track(track, raw, args, speed_given, console)
            r = run(
                raw,
                calibration=None if args.no_calibration else "stored",
                if_calibrated="skip",
                apply_empty=True,
                speed=speed,
                faults=None,
            )
            s, mounting, a = r.session, r.mounting, r.analysis
            if (line := calibration_line(r)) is not None:
                console.print(line)
            if aligned is not None and args.track_offset_s == "auto":
                aligned, a = _auto_offset(a, aligned, track, s, speed_given, mounting, console)
            if args.details:
                print_analysis_summary(a, console, split_unit=split_unit)
            elevation = aligned if aligned is not None and aligned.elevation_m is not None else None
            label = s.meta.source or str(args.file)
            title = label
            if len(sessions) > 1:
                title = f"{Path(label).name}#{k}" + (f" ({s.meta.notes.split(';')[0]})" if s.meta.notes else "")
                label = f"{label}#{k}"
            shoes = args.shoes or s.meta.shoes
            # a run is keyed by the samples as read (before any calibration), so re-analysing it
            # with another calibration updates it instead of counting it twice
            fingerprint = session_fingerprint(raw)
            not_mine = None if args.no_history or args.store_history else not_personal_reason(raw)
            if not_mine is not None:
                history, status = None, skipped_status(not_mine)
                reason: str | None = f"not compared with your run history: this is {not_mine}"
            else:
                first = not tried
                st = history_store()
                history, status = record_and_load(
                    st,
                    a,
                    session=raw,
                    shoes=shoes,
                    source_file=s.meta.source or args.file,
                    first_messages=tuple(opened) if first else (),
                    off_reason=no_history,
                    former_key=session_fingerprint(s) if s is not raw else None,
                )
                reason = status.messages[-1] if status.status in ("off", "unavailable") and status.messages else None
            assessment = assess(a, history=history, elevation=elevation, history_reason=reason)
            if store is not None and status.stored is not None:
                try:
                    store.set_findings(fingerprint, assessment.findings)
                except HistoryUnavailable as e:
                    print(f"warning: history: the findings of this run were not stored: {e.reason}", file=sys.stderr)
            rr = RunReport(
                label=title,
                analysis=a,
                assessment=assessment,
                history=status,
                elevation=None if elevation is None else elevation.describe(),
                shoes=shoes,
                split_unit=split_unit,
                elevation_track=elevation,
            )
            if args.details:
                print_findings(rr, console)
            else:
                print_run_summary(rr, console)
            reports.append(rr)
            steps.append(a.steps.assign(session=label))
            minutes.append(a.minutes.assign(session=label))
    finally:
        if store is not None:
            store.close()
    print_report_footer(console)
    if args.json:
        print(f"wrote {write_json(report_document(reports), args.json)}")
    if args.html:
        print(f"wrote {write_html(reports, args.html)}")
    if args.steps:
        print(f"wrote {write_table(pd.concat(steps, ignore_index=True), args.steps)}")
    if args.minutes:
        print(f"wrote {write_table(pd.concat(minutes, ignore_index=True), args.minutes)}")
    return EXIT_OK


def _speed_options(args: argparse.Namespace):
    """The constant speed (``--pace`` or ``--speed-mps``), the track (``--track`` or
    ``--elevation``) and the split unit, checked once before any session is read."""
    from .errors import Where
    from .tracks import read_track
    from .units import parse_pace

    if args.pace is not None and args.speed_mps is not None:
        raise GaitInputError(
            "speed given twice",
            expected="either --pace or --speed-mps",
            found=f"--pace {args.pace} and --speed-mps {args.speed_mps:g}",
            where=Where(parameter="--pace"),
        )
    if args.track is not None and args.elevation is not None:
        raise GaitInputError(
            "two tracks",
            expected="either --track or --elevation (the same option; --elevation is its older name)",
            found=f"--track {args.track} and --elevation {args.elevation}",
            where=Where(parameter="--track"),
        )
    if args.speed_mps is not None:
        args.speed_mps = check_speed_mps(args.speed_mps, "--speed-mps")
    speed = parse_pace(args.pace) if args.pace is not None else args.speed_mps
    path = args.track if args.track is not None else args.elevation
    track = read_track(path) if path is not None else None
    unit = args.splits or (
        "mi" if args.pace is not None and args.pace.strip().lower().endswith(("mi", "mile", "miles")) else "km"
    )
    return speed, track, unit


def _aligned_track(track, session, args: argparse.Namespace, speed, console):
    """The track on this session's clock, and the speed to analyse with (the constant wins)."""
    from .tracks import align_track

    if track is None:
        return None, speed
    offset = 0.0 if args.track_offset_s == "auto" else args.track_offset_s
    aligned = align_track(track, session, offset_s=offset)
    console.print(f"track: {aligned.describe()}")
    for note in aligned.notes:
        console.print(f"[dim]track: {note}[/dim]")
    if speed is not None:
        if aligned.speed_mps is not None:
            console.print(
                "[dim]track: speed from --pace / --speed-mps (a constant); the track gives elevation only[/dim]"
            )
        return aligned, speed
    return aligned, aligned if aligned.speed_mps is not None else None


def _auto_offset(a, aligned, track, session, speed, mounting, console):
    """``--track-offset-s auto``: the offset found from the run itself, and the analysis with it."""
    import dataclasses

    from .core.pipeline import analyze
    from .tracks import align_track, estimate_offset

    est = estimate_offset(a, aligned)
    if est.offset_s is None:
        console.print(f"[yellow]track offset: not found from the run ({est.reason}); none applied[/yellow]")
        return aligned, a
    aligned = align_track(track, session, offset_s=est.offset_s)
    aligned = dataclasses.replace(aligned, alignment=f"{aligned.alignment} (found from the run: {est.reason})")
    console.print(f"track offset: {est.offset_s:+.1f} s, found from the run ({est.reason})")
    if speed is None and aligned.speed_mps is not None:
        a = analyze(session, speed=aligned, mounting=mounting)
    return aligned, a


def track_offset(text: str) -> float | str:
    """``--track-offset-s``: seconds, or ``auto``."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a number of seconds or 'auto', found {text!r}")
    return value
