"""The rule evaluators on the run history: weekly volume, lighter weeks, rest days, shoe
distance and age, and the runner's own baseline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ..constants import METRES_PER_MILE
from ._context import EvaluationContext
from ._kinds import TYPICAL_SPEED_MPS, format_value
from ._rules import _make_evidence, _n_factor, _Result, _unavailable, _worse
from ._types import Rule

if TYPE_CHECKING:
    from ..history import History, RunRecord


def _all_runs(h: History) -> list[RunRecord]:
    return [*h.runs, h.current]


def _volume(runs: Sequence[RunRecord]) -> tuple[float, str]:
    if runs and all(r.distance_m is not None and math.isfinite(r.distance_m) for r in runs):
        return float(sum(r.distance_m or 0.0 for r in runs)), "distance"
    return float(sum(r.running_s for r in runs)), "running time"


def _in(runs: Sequence[RunRecord], a: datetime, b: datetime) -> list[RunRecord]:
    return [r for r in runs if a < r.started_at <= b]


def _fmt_volume(v: float, kind: str) -> str:
    return f"{v / 1000:.1f} km" if kind == "distance" else f"{v / 3600:.1f} h"


def _eval_history(rule: Rule, ctx: EvaluationContext) -> _Result:
    h = ctx.history
    if h is None:
        return _unavailable(rule, f"{rule.label}: {ctx.history_reason}", "history", ctx.history_reason)
    runs = _all_runs(h)
    now = h.current.started_at
    week = timedelta(days=7)
    n_hist = len(runs)
    if rule.kind == "weekly_volume":
        this = _in(runs, now - week, now)
        prev = _in(runs, now - 2 * week, now - week)
        if not prev:
            return _unavailable(rule, "weekly volume: needs runs in each of the last two weeks", "history")
        kind = _volume(this + prev)[1]
        v_this = _volume(this)[0] if kind == "distance" else sum(r.running_s for r in this)
        v_prev = _volume(prev)[0] if kind == "distance" else sum(r.running_s for r in prev)
        value = 100.0 * (v_this / v_prev - 1.0) if v_prev > 0 else float("nan")
        shown = f"{value:+.0f} % ({_fmt_volume(v_prev, kind)} -> {_fmt_volume(v_this, kind)} of {kind}" + (
            "; no speed known for every run, so running time is the measure)" if kind != "distance" else ")"
        )
    elif rule.kind == "lighter_weeks":
        earliest = min(r.started_at for r in runs)
        if now - earliest < 4 * week - timedelta(days=1):
            return _unavailable(rule, "lighter weeks: needs at least four weeks of history", "history")
        kind = _volume(runs)[1]
        vols = []
        for k in range(0, 16):
            sel = _in(runs, now - (k + 1) * week, now - k * week)
            vols.append(_volume(sel)[0] if kind == "distance" else sum(r.running_s for r in sel))
            if now - (k + 1) * week < earliest:
                break
        streak = 0
        for k in range(len(vols) - 1):
            if vols[k + 1] > 0 and vols[k] >= 0.9 * vols[k + 1]:
                streak += 1
            else:
                break
        value = float(streak + 1 if streak else 0)
        shown = (
            f"{int(value)} weeks in a row without a lighter week (weekly {kind}: "
            + ", ".join(_fmt_volume(v, kind) for v in reversed(vols[: int(value) or 1]))
            + ")"
        )
    elif rule.kind == "rest_days":
        days = {r.started_at.date() for r in runs}
        d = now.date()
        streak = 0
        while d in days:
            streak += 1
            d -= timedelta(days=1)
        value = float(streak)
        shown = f"{streak} day{'s' if streak != 1 else ''} in a row with a run"
    elif rule.kind in ("shoe_distance", "shoe_age"):
        shoes = h.current.shoes
        if not shoes:
            return _unavailable(
                rule, f"{rule.label}: no shoes named for this run", "shoes", "no shoes named for this run"
            )
        key = shoes.strip().casefold()
        mine = [r for r in runs if r.shoes and r.shoes.strip().casefold() == key]
        if rule.kind == "shoe_age":
            first = min(r.started_at for r in mine)
            value = float((now - first).total_seconds() / 86400.0)
            shown = f"{value:.0f} days since the first run in '{shoes}' ({first.date().isoformat()})"
        else:
            speeds = [r.distance_m / r.running_s for r in runs if r.distance_m and r.running_s > 0]
            typical = float(np.median(speeds)) if speeds else TYPICAL_SPEED_MPS
            known = sum(r.distance_m for r in mine if r.distance_m is not None and math.isfinite(r.distance_m))
            unknown = [r for r in mine if r.distance_m is None or not math.isfinite(r.distance_m)]
            estimated = sum(r.running_s for r in unknown) * typical
            value = float(known + estimated)
            shown = f"{value / METRES_PER_MILE:.0f} miles ({value / 1000:.0f} km) on '{shoes}' over {len(mine)} runs"
            if unknown:
                shown += (
                    f"; {len(unknown)} run(s) without a known speed counted at {typical:.1f} m/s "
                    f"({estimated / 1000:.0f} km estimated)"
                )
    else:  # pragma: no cover - kinds are validated at load
        raise AssertionError(rule.kind)
    if not math.isfinite(value):
        return _unavailable(rule, f"{rule.label}: not enough history", "history")
    level = rule.level_of(value)
    conf = rule.reliability * (n_hist / (n_hist + 2.0))
    ev = _make_evidence(rule, value, level, shown)
    return _Result(rule, True, level=level, value=value, worse=_worse(rule, value), evidence=ev, confidence=conf)


def _eval_baseline(rule: Rule, ctx: EvaluationContext) -> _Result:
    h = ctx.history
    if h is None:
        return _unavailable(rule, f"personal baseline: {ctx.history_reason}", "history", ctx.history_reason)
    cur = ctx.metrics.get(rule.metric, float("nan"))
    if not math.isfinite(cur):
        return _unavailable(rule, f"{rule.label}: no value in this run", None)
    prev = sorted(h.runs, key=lambda r: r.started_at, reverse=True)
    raw = [r.metrics.get(rule.metric) for r in prev]
    vals = [float(v) for v in raw if v is not None and math.isfinite(v)][:5]
    if len(vals) < 3:
        return _unavailable(
            rule, f"personal baseline for {rule.label}: needs 3 earlier runs (found {len(vals)})", "history"
        )
    base = float(np.median(vals))
    if rule.change == "pct":
        if base == 0:
            return _unavailable(rule, f"{rule.label}: baseline is zero", None)
        change = 100.0 * (cur / base - 1.0)
    else:
        change = cur - base
    worse = change if rule.direction == "above" else -change
    level = sum(worse >= lv for lv in rule.levels)
    word = ("above" if change > 0 else "below") if rule.direction != "abs_above" else "away from"
    amount = f"{abs(change):.0f} %" if rule.change == "pct" else format_value(abs(change), rule.display)
    shown = (
        f"{rule.label} {format_value(cur, rule.display)}: {amount} {word} your last {len(vals)} runs "
        f"({format_value(base, rule.display)})"
    )
    conf = rule.reliability * _n_factor(ctx.n) * (len(vals) / 5.0)
    ev = _make_evidence(rule, change, level, shown)
    return _Result(rule, True, level=level, value=change, worse=worse, evidence=ev, confidence=conf)
