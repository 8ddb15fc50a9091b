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
import json
import math
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ..constants import EXIT_FAILED, EXIT_OK
from ..errors import GaitInputError, Where

__all__ = ["register"]

#: Name and version of the JSON written by ``list --json``, ``trend --json``, ``compare --json``.
JSON_SCHEMA = "gait-lumbar-history"
JSON_SCHEMA_VERSION = 1
_SPARK = "▁▂▃▄▅▆▇█"


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
    ls.set_defaults(func=_cmd_list)

    tr = sub.add_parser(
        "trend",
        parents=[db, period],
        help="metrics over weeks against your own baseline and usual range",
        description="A metric over weeks: per run, weekly mean, your baseline and usual range. " + _band_text(),
    )
    tr.add_argument("metrics", nargs="+", metavar="METRIC", help="e.g. cadence contact_time oscillation lean")
    tr.add_argument("--baseline-since", metavar="DATE", help="baseline period start (default: the period shown)")
    tr.add_argument("--baseline-until", metavar="DATE", help="baseline period end (e.g. the day before a change)")
    tr.add_argument("--html", type=Path, metavar="FILE", help="write a self-contained trends page (no network)")
    tr.add_argument("--json", action="store_true", help="print the trends as JSON")
    tr.set_defaults(func=_cmd_trend)

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
    cp.set_defaults(func=_cmd_compare)

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
# helpers
# ---------------------------------------------------------------------------------------
def _band_text() -> str:
    from .stats import BAND_EXPLANATION

    return BAND_EXPLANATION


def _console():
    from rich.console import Console

    return Console()


def _parse_day(text: str | None, parameter: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise GaitInputError(
            "not a date", expected="a date YYYY-MM-DD", found=repr(text), where=Where(parameter=parameter)
        ) from None


def _parse_when(text: str, keep_time_of: datetime, parameter: str) -> datetime:
    """A date (keeps the time of day of ``keep_time_of``) or a date and time (local when naive)."""
    s = text.strip()
    if len(s) == 10:
        day = _parse_day(s, parameter)
        assert day is not None
        return keep_time_of.replace(year=day.year, month=day.month, day=day.day)
    try:
        when = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    except ValueError:
        raise GaitInputError(
            "not a date",
            expected="YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][+HH:MM]",
            found=repr(text),
            where=Where(parameter=parameter),
        ) from None
    return when if when.tzinfo is not None else when.astimezone()


def _check_period(since: date | None, until: date | None, names: tuple[str, str]) -> None:
    if since is not None and until is not None and since > until:
        raise GaitInputError(
            "empty period",
            expected=f"{names[0]} on or before {names[1]}",
            found=f"{since.isoformat()} after {until.isoformat()}",
            where=Where(parameter=names[0]),
        )


def _open(args: argparse.Namespace, *, must_exist: bool):
    """The open store, or None when there is no database yet (read-only actions say so)."""
    from ._records import default_history_path
    from ._store import HistoryStore

    path = args.history_db if args.history_db is not None else default_history_path()
    if must_exist and not Path(path).exists():
        return None, path
    store = HistoryStore(path)
    store.open()
    return store, path


def _no_history(path) -> int:
    print(
        f"no run history yet: {path} does not exist (gait analyze stores your runs; "
        "gait history import FOLDER adds past recordings)"
    )
    return EXIT_OK


def _resolve(store, ref: str, parameter: str = "RUN"):
    found = store.find(ref)
    if not found:
        raise GaitInputError(
            "no run matches",
            expected="a run number from 'gait history list', a date YYYY-MM-DD or the start of a fingerprint",
            found=repr(ref),
            where=Where(parameter=parameter),
        )
    if len(found) > 1:
        raise GaitInputError(
            "several runs match",
            expected="one run",
            found=", ".join(f"run {r.run_id} ({r.started_at:%Y-%m-%d %H:%M})" for r in found),
            where=Where(parameter=parameter),
            hint="Use the run number",
        )
    return found[0]


def _specs(names: Sequence[str] | None, default, parameter: str):
    from .stats import metric_spec

    chosen = [metric_spec(n, parameter=parameter) for n in (names or default)]
    return list(dict.fromkeys(chosen))


def _with_history(fn):
    """Run an action; a history that cannot be used (locked, foreign, newer) exits with 1."""
    from ._records import HistoryUnavailable

    def run(args: argparse.Namespace) -> int:
        try:
            return fn(args)
        except HistoryUnavailable as e:
            print(f"error: history: {e.reason}", file=sys.stderr)
            return EXIT_FAILED

    return run


def _date_mark(r) -> str:
    return "" if r.date_source == "session start time" else "*"


def _findings_text(r) -> str:
    if r.findings is None:
        return "not recorded"
    if not r.findings:
        return "none"
    return ", ".join(f"{f.name} ({f.severity})" for f in r.findings)


def _print_json(doc: dict[str, Any]) -> None:
    print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))


def _doc(kind: str, path, **body: Any) -> dict[str, Any]:
    from ._schema import SCHEMA_VERSION

    return {
        "schema": JSON_SCHEMA,
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": kind,
        "database": str(path),
        "database_layout": SCHEMA_VERSION,
        **body,
    }


def _num(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------
@_with_history
def _cmd_list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from .stats import KEY_METRICS, LIST_METRICS

    since, until = _parse_day(args.since, "--since"), _parse_day(args.until, "--until")
    _check_period(since, until, ("--since", "--until"))
    specs = _specs(args.metric, LIST_METRICS, "--metric")
    store, path = _open(args, must_exist=True)
    if store is None:
        if args.json:
            _print_json(_doc("runs", path, runs=[]))
            return EXIT_OK
        return _no_history(path)
    with store:
        runs = store.runs(since=since, until=until)
    if args.json:
        metrics = [{"metric": m.name, "key": m.key, "label": m.label} for m in KEY_METRICS]
        _print_json(
            _doc(
                "runs",
                path,
                since=None if since is None else since.isoformat(),
                until=None if until is None else until.isoformat(),
                key_metrics=metrics,
                runs=[r.to_dict() for r in runs],
            )
        )
        return EXIT_OK
    console = _console()
    span = f" from {since}" if since else ""
    span += f" until {until}" if until else ""
    if not runs:
        console.print(f"no runs stored{span} in {escape(str(path))}")
        return EXIT_OK
    table = Table(title=f"Runs{span} ({len(runs)}; {escape(str(path))})")
    for col, justify in (("run", "right"), ("date", "left"), ("running", "right"), ("distance", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    table.add_column("shoes")
    for m in specs:
        table.add_column(f"{m.label} ({m.unit})" if m.unit else m.label, justify="right")
    table.add_column("findings")
    for r in runs:
        table.add_row(
            str(r.run_id),
            f"{r.started_at:%Y-%m-%d %H:%M}{_date_mark(r)}",
            f"{r.running_s / 60:.0f} min",
            f"{r.distance_m / 1000:.1f} km" if r.distance_m is not None else "-",
            escape(r.shoes or "-"),
            *[m.show(r.metrics.get(m.key), unit=False) for m in specs],
            escape(_findings_text(r)),
        )
    console.print(table)
    odd = [r for r in runs if _date_mark(r)]
    if odd:
        kinds = sorted({r.date_source for r in odd})
        console.print(
            f"* date not from the recording's start time ({', '.join(kinds)}): "
            "fix it with gait history edit RUN --date YYYY-MM-DD"
        )
    total_h = sum(r.running_s for r in runs) / 3600
    known = [r.distance_m for r in runs if r.distance_m is not None]
    line = f"{len(runs)} runs, {total_h:.1f} h of running"
    if known:
        line += f", {sum(known) / 1000:.1f} km over the {len(known)} run(s) with a known speed"
    console.print(line)
    noted = [r for r in runs if r.note]
    for r in noted:
        console.print(f"note, run {r.run_id}: {escape(r.note or '')}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# trend
# ---------------------------------------------------------------------------------------
def _sparkline(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(_SPARK[3])
        else:
            out.append(_SPARK[min(int((v - lo) / (hi - lo) * len(_SPARK)), len(_SPARK) - 1)])
    return "".join(out)


@_with_history
def _cmd_trend(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..report.history import BAND_EXPLANATION, trend_dict, write_trends_html
    from .stats import trend

    specs = _specs(args.metrics, (), "METRIC")
    since, until = _parse_day(args.since, "--since"), _parse_day(args.until, "--until")
    b_since, b_until = (
        _parse_day(args.baseline_since, "--baseline-since"),
        _parse_day(args.baseline_until, "--baseline-until"),
    )
    _check_period(since, until, ("--since", "--until"))
    _check_period(b_since, b_until, ("--baseline-since", "--baseline-until"))
    store, path = _open(args, must_exist=True)
    if store is None:
        return _no_history(path)
    with store:
        runs = store.runs(since=since, until=until)
        custom = b_since is not None or b_until is not None
        base = store.runs(since=b_since or since, until=b_until or until) if custom else None
    trends = [trend(runs, s, baseline_runs=base) for s in specs]
    period = _period_words(runs, since, until)
    base_words = _period_words(base, b_since, b_until) if base is not None else "the period shown"
    if args.json:
        _print_json(
            _doc(
                "trend",
                path,
                method=BAND_EXPLANATION,
                baseline_period=base_words,
                trends=[trend_dict(t) for t in trends],
            )
        )
    else:
        console = _console()
        if not runs:
            console.print(f"no runs stored {period}")
        for t in trends:
            m = t.spec
            console.rule(f"[bold]{m.label.capitalize()}[/bold] ({len(t.runs)} runs, {period})")
            if not t.runs:
                console.print(f"no run has a value for {m.label}")
                continue
            line = f"baseline {m.show(t.baseline)} (median of {t.n_baseline} runs of {base_words})"
            if t.unavailable is None:
                line += (
                    f"; run-to-run noise {m.show(t.noise_sd, extra_decimals=1)}; usual range "
                    f"{m.show(t.band[0], unit=False, extra_decimals=1)} to {m.show(t.band[1], extra_decimals=1)}"
                )
            else:
                line += f"; no usual range: {t.unavailable}"
            console.print(line)
            table = Table()
            table.add_column("week of")
            table.add_column("runs", justify="right")
            table.add_column(f"mean ({m.unit})" if m.unit else "mean", justify="right")
            table.add_column("against baseline", justify="right")
            table.add_column("")
            for w in t.weeks:
                flag = w.flag or ("no run" if not w.n else "")
                style = {"higher": "bold red", "lower": "bold blue"}.get(flag)
                table.add_row(
                    w.week_start.isoformat(),
                    str(w.n),
                    m.show(w.mean, unit=False, extra_decimals=1) if w.n else "",
                    m.show(w.mean - t.baseline, signed=True, unit=False, extra_decimals=1) if w.n else "",
                    f"[{style}]{flag}[/{style}]" if style else flag,
                )
            console.print(table)
            console.print(f"weekly means: {_sparkline([w.mean for w in t.weeks])}")
        console.print(f"[dim]{BAND_EXPLANATION}[/dim]")
    if args.html:
        out = write_trends_html(
            trends, args.html, period=period, baseline_period=base_words if base is not None else "", database=str(path)
        )
        print(f"wrote {out}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def _period_words(runs, since: date | None, until: date | None) -> str:
    if since or until:
        return f"{since.isoformat() if since else 'the start'} to {until.isoformat() if until else 'today'}"
    if runs:
        return f"{runs[0].started_at:%Y-%m-%d} to {runs[-1].started_at:%Y-%m-%d}"
    return "all runs"


# ---------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------
@_with_history
def _cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .stats import ALPHA, KEY_METRICS, compare_periods, compare_runs

    specs = _specs(args.metric, [m.name for m in KEY_METRICS], "--metric")
    periods = args.before is not None or args.after is not None
    if periods and args.runs:
        raise GaitInputError(
            "two kinds of comparison at once",
            expected="either two runs or --before/--after",
            found=f"runs {' '.join(args.runs)} and a period",
            where=Where(parameter="RUN"),
        )
    if not periods and len(args.runs) != 2:
        raise GaitInputError(
            "nothing to compare",
            expected="two runs (RUN_A RUN_B) or --before DATE / --after DATE",
            found=f"{len(args.runs)} run(s)",
            where=Where(parameter="RUN"),
        )
    since, until = _parse_day(args.since, "--since"), _parse_day(args.until, "--until")
    _check_period(since, until, ("--since", "--until"))
    store, path = _open(args, must_exist=True)
    if store is None:
        return _no_history(path)
    with store:
        if periods:
            before = _parse_day(args.before or args.after, "--before")
            after = _parse_day(args.after or args.before, "--after")
            assert before is not None and after is not None
            if after < before:
                raise GaitInputError(
                    "overlapping periods",
                    expected="--after on or after --before",
                    found=f"--before {before}, --after {after}",
                    where=Where(parameter="--after"),
                )
            runs = store.runs(since=since, until=until)
            group_a = [r for r in runs if r.started_at.date() < before]
            group_b = [r for r in runs if r.started_at.date() >= after]
            cmp = compare_periods(
                group_a,
                group_b,
                specs,
                label_a=f"before {before} ({len(group_a)} runs)",
                label_b=f"from {after} ({len(group_b)} runs)",
            )
        else:
            run_a = _resolve(store, args.runs[0], "RUN_A")
            run_b = _resolve(store, args.runs[1], "RUN_B")
            cmp = compare_runs(run_a, run_b, store.runs(), specs)
    if args.json:
        _print_json(
            _doc(
                "compare",
                path,
                comparison=cmp.kind,
                a=cmp.label_a,
                b=cmp.label_b,
                method=cmp.method,
                alpha=ALPHA,
                metrics=[
                    {
                        "metric": d.spec.name,
                        "key": d.spec.key,
                        "label": d.spec.label,
                        "a": _num(d.a),
                        "b": _num(d.b),
                        "n_a": d.n_a,
                        "n_b": d.n_b,
                        "difference": _num(d.difference),
                        "noise_sd": _num(d.noise_sd),
                        "effect": _num(d.effect),
                        "p": _num(d.p),
                        "p_adjusted": _num(d.p_adjusted),
                        "beyond_noise": d.beyond_noise,
                        "reason": d.reason,
                    }
                    for d in cmp.items
                ],
            )
        )
        return EXIT_OK
    console = _console()
    console.rule(f"[bold]A: {cmp.label_a}  ->  B: {cmp.label_b}[/bold]")
    if not cmp.items:
        console.print("no metric has values on both sides")
        return EXIT_OK
    table = Table()
    for col, justify in (
        ("metric", "left"),
        ("A", "right"),
        ("B", "right"),
        ("B - A", "right"),
        ("noise SD", "right"),
        ("(B - A) / noise", "right"),
        ("p (adjusted)", "right"),
        ("", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for d in cmp.items:
        m = d.spec
        if d.beyond_noise is None:
            verdict = f"[dim]{d.reason}[/dim]"
        elif d.beyond_noise:
            verdict = "[bold]beyond noise[/bold]"
        else:
            verdict = "within noise"
        table.add_row(
            f"{m.label} ({m.unit})" if m.unit else m.label,
            m.show(d.a, unit=False),
            m.show(d.b, unit=False),
            m.show(d.difference, signed=True, unit=False, extra_decimals=1),
            m.show(d.noise_sd, unit=False, extra_decimals=1),
            f"{d.effect:+.1f}" if math.isfinite(d.effect) else "n/a",
            f"{d.p_adjusted:.3f}" if math.isfinite(d.p_adjusted) else "n/a",
            verdict,
        )
    console.print(table)
    beyond = [d.spec.label for d in cmp.items if d.beyond_noise]
    console.print(
        f"{len(beyond)} of {len(cmp.items)} metrics changed beyond the run-to-run noise"
        + (f": {', '.join(beyond)}" if beyond else "")
    )
    console.print(f"[dim]Method: {cmp.method}. Per-run values depend on pace: compare runs at a similar speed.[/dim]")
    if cmp.kind == "runs":
        console.print(
            "[dim]Two single runs: one odd run (a hill, a slipped clip) can look like a change; compare two periods "
            "(--before/--after) before deciding anything.[/dim]"
        )
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# edit, delete
# ---------------------------------------------------------------------------------------
@_with_history
def _cmd_edit(args: argparse.Namespace) -> int:
    from ._records import UNSET

    if args.shoes is None and args.date is None and args.note is None:
        raise GaitInputError(
            "nothing to change", expected="--shoes, --date or --note", found="none", where=Where(parameter="edit")
        )
    store, path = _open(args, must_exist=True)
    if store is None:
        raise GaitInputError(
            "no run history", expected="an existing history database", found=f"no file {path}", where=Where(file=path)
        )
    with store:
        run = _resolve(store, args.run)
        when = UNSET if args.date is None else _parse_when(args.date, run.started_at, "--date")
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


@_with_history
def _cmd_delete(args: argparse.Namespace) -> int:
    store, path = _open(args, must_exist=True)
    if store is None:
        raise GaitInputError(
            "no run history", expected="an existing history database", found=f"no file {path}", where=Where(file=path)
        )
    with store:
        runs = list({r.run_id: r for r in (_resolve(store, ref) for ref in args.runs)}.values())
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
@_with_history
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
    console = _console()
    sources, passed_over = find_sources(args.folder)
    store, path = _open(args, must_exist=False)
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
