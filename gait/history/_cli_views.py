"""The `gait history` commands that read: list, trend and compare."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from datetime import date

from ..constants import EXIT_OK
from ..errors import GaitInputError, Where
from ._cli_common import (
    SPARK,
    check_period,
    date_mark,
    findings_text,
    json_doc,
    json_number,
    make_console,
    metric_specs,
    no_history,
    open_store,
    parse_day,
    print_json,
    resolve,
    with_history,
)


# ---------------------------------------------------------------------------------------
# list
# ---------------------------------------------------------------------------------------
@with_history
def cmd_list(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from .stats import KEY_METRICS, LIST_METRICS

    since, until = parse_day(args.since, "--since"), parse_day(args.until, "--until")
    check_period(since, until, ("--since", "--until"))
    specs = metric_specs(args.metric, LIST_METRICS, "--metric")
    store, path = open_store(args, must_exist=True)
    if store is None:
        if args.json:
            print_json(json_doc("runs", path, runs=[]))
            return EXIT_OK
        return no_history(path)
    with store:
        runs = store.runs(since=since, until=until)
    if args.json:
        metrics = [{"metric": m.name, "key": m.key, "label": m.label} for m in KEY_METRICS]
        print_json(
            json_doc(
                "runs",
                path,
                since=None if since is None else since.isoformat(),
                until=None if until is None else until.isoformat(),
                key_metrics=metrics,
                runs=[r.to_dict() for r in runs],
            )
        )
        return EXIT_OK
    console = make_console()
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
            f"{r.started_at:%Y-%m-%d %H:%M}{date_mark(r)}",
            f"{r.running_s / 60:.0f} min",
            f"{r.distance_m / 1000:.1f} km" if r.distance_m is not None else "-",
            escape(r.shoes or "-"),
            *[m.show(r.metrics.get(m.key), unit=False) for m in specs],
            escape(findings_text(r)),
        )
    console.print(table)
    odd = [r for r in runs if date_mark(r)]
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
def sparkline(values: Sequence[float]) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return ""
    lo, hi = min(finite), max(finite)
    out = []
    for v in values:
        if not math.isfinite(v):
            out.append(" ")
        elif hi == lo:
            out.append(SPARK[3])
        else:
            out.append(SPARK[min(int((v - lo) / (hi - lo) * len(SPARK)), len(SPARK) - 1)])
    return "".join(out)


@with_history
def cmd_trend(args: argparse.Namespace) -> int:
    from rich.table import Table

    from ..report.history import BAND_EXPLANATION, trend_dict, write_trends_html
    from .stats import trend

    specs = metric_specs(args.metrics, (), "METRIC")
    since, until = parse_day(args.since, "--since"), parse_day(args.until, "--until")
    b_since, b_until = (
        parse_day(args.baseline_since, "--baseline-since"),
        parse_day(args.baseline_until, "--baseline-until"),
    )
    check_period(since, until, ("--since", "--until"))
    check_period(b_since, b_until, ("--baseline-since", "--baseline-until"))
    store, path = open_store(args, must_exist=True)
    if store is None:
        return no_history(path)
    with store:
        runs = store.runs(since=since, until=until)
        custom = b_since is not None or b_until is not None
        base = store.runs(since=b_since or since, until=b_until or until) if custom else None
    trends = [trend(runs, s, baseline_runs=base) for s in specs]
    period = period_words(runs, since, until)
    base_words = period_words(base, b_since, b_until) if base is not None else "the period shown"
    if args.json:
        print_json(
            json_doc(
                "trend",
                path,
                method=BAND_EXPLANATION,
                baseline_period=base_words,
                trends=[trend_dict(t) for t in trends],
            )
        )
    else:
        console = make_console()
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
            console.print(f"weekly means: {sparkline([w.mean for w in t.weeks])}")
        console.print(f"[dim]{BAND_EXPLANATION}[/dim]")
    if args.html:
        out = write_trends_html(
            trends, args.html, period=period, baseline_period=base_words if base is not None else "", database=str(path)
        )
        print(f"wrote {out}", file=sys.stderr if args.json else sys.stdout)
    return EXIT_OK


def period_words(runs, since: date | None, until: date | None) -> str:
    if since or until:
        return f"{since.isoformat() if since else 'the start'} to {until.isoformat() if until else 'today'}"
    if runs:
        return f"{runs[0].started_at:%Y-%m-%d} to {runs[-1].started_at:%Y-%m-%d}"
    return "all runs"


# ---------------------------------------------------------------------------------------
# compare
# ---------------------------------------------------------------------------------------
@with_history
def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .stats import ALPHA, KEY_METRICS, compare_periods, compare_runs

    specs = metric_specs(args.metric, [m.name for m in KEY_METRICS], "--metric")
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
    since, until = parse_day(args.since, "--since"), parse_day(args.until, "--until")
    check_period(since, until, ("--since", "--until"))
    store, path = open_store(args, must_exist=True)
    if store is None:
        return no_history(path)
    with store:
        if periods:
            before = parse_day(args.before or args.after, "--before")
            after = parse_day(args.after or args.before, "--after")
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
            run_a = resolve(store, args.runs[0], "RUN_A")
            run_b = resolve(store, args.runs[1], "RUN_B")
            cmp = compare_runs(run_a, run_b, store.runs(), specs)
    if args.json:
        print_json(
            json_doc(
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
                        "a": json_number(d.a),
                        "b": json_number(d.b),
                        "n_a": d.n_a,
                        "n_b": d.n_b,
                        "difference": json_number(d.difference),
                        "noise_sd": json_number(d.noise_sd),
                        "effect": json_number(d.effect),
                        "p": json_number(d.p),
                        "p_adjusted": json_number(d.p_adjusted),
                        "beyond_noise": d.beyond_noise,
                        "reason": d.reason,
                    }
                    for d in cmp.items
                ],
            )
        )
        return EXIT_OK
    console = make_console()
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
