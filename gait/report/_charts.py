"""The HTML report's charts: each finding's metric over the run with its reference zones and shaded periods, left versus right."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from ..faults import Catalogue, Evidence, Finding

from ._display import num, shown
from ._json import RunReport
from ._page import PALETTE, esc

#: Per-step metrics drawn over the run (each with the catalogue's reference zones behind it);
#: names, units and scales come from `DISPLAY` through `shown`.
PLOT_METRICS = (
    "cadence_spm",
    "contact_time_s",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "braking_velocity_loss_mps",
    "lean_deg",
    "lateral_lean_deg",
    "pelvic_drop_deg",
    "yaw_range_deg",
)
#: Left minus right: the columns compared (those of the summary's ``asymmetry_pct``).
LR_METRICS = (
    "contact_time_s",
    "step_time_s",
    "flight_time_s",
    "impact_peak_mps2",
    "braking_peak_mps2",
    "pelvic_drop_deg",
)
#: Reference-zone fill per severity reached.
_ZONE_FILL = {"low": "#f7dc6f", "moderate": "#f0a35e", "high": "#e74c3c"}
_ZONE_OPACITY = 0.22
#: Per-step series are summarised in about this many time bins (median and quartiles per bin).
_BINS = 240
_MIN_BIN_S = 5.0


def finding_colour(k: int) -> str:
    """The colour of the ``k``-th finding (0-based): distinct for every finding of a run."""
    if k < len(PALETTE):
        return PALETTE[k]
    import colorsys

    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.42, 0.65)
    return f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"


def _binned(t_s: np.ndarray, v: np.ndarray, span_s: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Median and quartiles of ``v`` per time bin: (bin centres in min, q25, q50, q75, steps)."""
    t0, t1 = span_s
    width = max(_MIN_BIN_S, (t1 - t0) / _BINS)
    ok = np.isfinite(t_s) & np.isfinite(v)
    b = np.floor((t_s[ok] - t0) / width).astype(np.int64)
    n_bins = math.floor((t1 - t0) / width) + 1
    if not ok.any():
        nan = np.full(0, np.nan)
        return nan, nan, nan, nan, nan
    g = pd.Series(v[ok]).groupby(b)
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    n = g.size()
    full = np.arange(n_bins)
    q = q.reindex(full)
    n = n.reindex(full, fill_value=0).to_numpy()
    q[n < 3] = np.nan  # a bin with fewer than three steps has no meaningful median
    centre = (t0 + (full + 0.5) * width) / 60.0
    return centre, q[0.25].to_numpy(), q[0.5].to_numpy(), q[0.75].to_numpy(), n


@dataclass(frozen=True)
class _Series:
    """What a chart draws: values in SI over the session clock, per step or per minute."""

    column: str
    label: str
    t_s: np.ndarray
    values: np.ndarray
    per: str  # "step" or "minute"
    levels: tuple[tuple[float, str], ...] = ()  # the finding's level lines: (SI value, name)
    reference: tuple[float, str] | None = None  # e.g. the start-of-run value a drift is measured from
    marks: tuple[tuple[float, str], ...] = ()  # vertical lines: (session time in s, name)
    note: str = ""


def _rule_levels(rule: Any) -> tuple[tuple[float, str], ...]:
    """A threshold rule's levels as lines: (SI value, "low" ...); both signs for ``abs_above``."""
    from ..faults import SEVERITIES

    out = []
    for i, lv in enumerate(rule.levels):
        name = SEVERITIES[i + 1]
        out.append((float(lv), name))
        if rule.direction == "abs_above":
            out.append((-float(lv), name))
    return tuple(out)


def _zones(column: str, cat: Catalogue) -> list[tuple[float, float, str, str]]:
    """The reference zones of a step column: every primary threshold rule of the catalogue on
    it, as (low, high, severity, "fault: source") in SI; the published or declared levels of
    ``gait/data/faults.toml``."""
    from ..faults import SEVERITIES

    out: list[tuple[float, float, str, str]] = []
    for f in cat.faults:
        for r in f.rules:
            if r.kind != "threshold" or r.role != "primary" or r.step_column != column:
                continue
            tip = f"{f.name}: {r.source}"
            if r.step_threshold is not None:
                out.append((float(r.step_threshold), math.inf, "low", tip))
                continue
            lv = [float(x) for x in r.levels]
            for i, a in enumerate(lv):
                sev = SEVERITIES[i + 1]
                nxt = lv[i + 1] if i + 1 < len(lv) else None
                if r.direction in ("above", "abs_above"):
                    out.append((a, nxt if nxt is not None else math.inf, sev, tip))
                if r.direction == "abs_above":
                    out.append((-nxt if nxt is not None else -math.inf, -a, sev, tip))
                if r.direction == "below":
                    out.append((nxt if nxt is not None else -math.inf, a, sev, tip))
    return out


def _step_series(column: str, ctx: Any) -> np.ndarray | None:
    v = ctx.step_values(column)
    return None if v is None or np.isfinite(v).sum() < 3 else np.asarray(v, float)


def _matching_rules(f: Finding, cat: Catalogue) -> list[tuple[Any, Evidence]]:
    """The rules behind a finding's evidence, those that reached a level first."""
    spec = next((s for s in cat.faults if s.id == f.fault), None)
    if spec is None:
        return []
    out = []
    for ev in sorted(f.evidence, key=lambda e: e.level == "none"):
        rule = next((r for r in spec.rules if r.metric == ev.metric and r.role == ev.role), None)
        if rule is not None:
            out.append((rule, ev))
    return out


def finding_series(rr: RunReport, f: Finding, ctx: Any, cat: Catalogue) -> tuple[_Series | None, str]:
    """The metric a finding is about, over the run, with the finding's level lines; or None
    and why there is no such plot."""
    from ..faults import WARMUP_EASY_RATIO, format_value, surge_index, warmup_end_s

    reasons = []
    for rule, _ev in _matching_rules(f, cat):
        kind = rule.kind
        if kind == "threshold":
            col = rule.step_column
            if col is None and rule.metric.startswith(("median.", "derived.")):
                col = rule.metric.removeprefix("median.")
            v = _step_series(col, ctx) if col else None
            if v is not None:
                levels = (
                    ((float(rule.step_threshold), "per-step level"),)
                    if rule.step_threshold is not None
                    else _rule_levels(rule)
                )
                note = (
                    f"the {shown(col, rule.label)[0]} of each step; the finding counts the share of steps beyond the line"
                    if rule.step_threshold is not None
                    else ""
                )
                return _Series(col, rule.label, ctx.t, v, "step", levels, note=note), ""
            m = rr.analysis.minutes
            if rule.minute_column and rule.minute_column in m.columns and len(m):
                t = 0.5 * (m["start_s"].to_numpy(float) + m["end_s"].to_numpy(float))
                mv = m[rule.minute_column].to_numpy(float)
                if np.isfinite(mv).any():
                    return _Series(rule.minute_column, rule.label, t, mv, "minute", _rule_levels(rule)), ""
            reasons.append(f"{rule.label} is a whole-run number (no per-step or per-minute value)")
        elif kind in ("drift", "baseline"):
            col = rule.metric.removeprefix("median.")
            v = _step_series(col, ctx)
            if v is None:
                reasons.append(f"{rule.label}: no per-step values")
                continue
            if kind == "baseline":
                return _Series(
                    col,
                    rule.label,
                    ctx.t,
                    v,
                    "step",
                    note="the levels of this finding are changes from your own usual value (in the evidence above)",
                ), ""
            after = ctx.t >= warmup_end_s(ctx)
            if after.sum() < 100:
                after = np.ones_like(after)
            xs = v[after]
            xs = xs[np.isfinite(xs)]
            k = max(xs.size // 5, 20)
            if xs.size < 50:
                reasons.append(f"{rule.label}: too few steps")
                continue
            first = float(np.median(xs[:k]))
            sign = 1.0 if rule.direction == "above" else -1.0
            if rule.change == "pct":
                levels = tuple((first * (1.0 + sign * lv / 100.0), name) for lv, name in _rule_levels(rule))
            else:
                levels = tuple((first + sign * lv, name) for lv, name in _rule_levels(rule))
            return _Series(
                col,
                rule.label,
                ctx.t,
                v,
                "step",
                levels,
                reference=(first, "start of the run"),
                note="the levels are changes from the first fifth of the run after the warm-up",
            ), ""
        elif kind == "surges":
            t, s = surge_index(ctx.run)
            if np.isfinite(s).sum() >= 3:
                return _Series("surge_index_pct", rule.label, t, s, "step", _rule_levels(rule)), ""
            reasons.append("too little continuous running for a pace index")
        elif kind == "downhill":
            trk = rr.elevation_track
            if trk is not None and ctx.n:
                speed = num(rr.analysis.summary["median"].get("speed_mps"))
                g, _how = trk.grade_pct(ctx.t, speed_mps=speed)
                if np.isfinite(g).sum() >= 3:
                    assert rule.grade_pct is not None
                    return _Series(
                        "grade_pct", "grade", ctx.t, g, "step", ((float(rule.grade_pct), "downhill level"),)
                    ), ""
            reasons.append("the grade over the run needs the elevation track (a declared treadmill slope is constant)")
        elif kind == "warmup":
            m = rr.analysis.minutes
            if "intensity_mps2" in m.columns and len(m):
                t = 0.5 * (m["start_s"].to_numpy(float) + m["end_s"].to_numpy(float))
                w = rr.analysis.summary.get("warmup") or {}
                marks = []
                full = num(w.get("full_effort_s"))
                if full is not None:
                    marks.append((full, "full effort"))
                return _Series(
                    "intensity_mps2",
                    "effort (intensity)",
                    t,
                    m["intensity_mps2"].to_numpy(float),
                    "minute",
                    marks=tuple(marks),
                    note=f"easy effort is below {WARMUP_EASY_RATIO:.0%} of the run's full effort; "
                    f"the finding needs {', '.join(format_value(lv, rule.display) for lv in rule.levels)} of walking or easy running before it",
                ), ""
            reasons.append("no per-minute effort")
        else:
            reasons.append("this finding is about your training history, not about the course of this run")
    return None, reasons[0] if reasons else "no measurement of this finding varies over the run"


def _y_range(lo_vals: np.ndarray, hi_vals: np.ndarray, must: list[float], near: list[float]) -> tuple[float, float]:
    """A y range covering the data's quartile band (2nd to 98th percentile), the values in
    ``must`` and those of ``near`` that lie close to the data."""
    lo_ok, hi_ok = lo_vals[np.isfinite(lo_vals)], hi_vals[np.isfinite(hi_vals)]
    if lo_ok.size and hi_ok.size:
        lo, hi = float(np.percentile(lo_ok, 2)), float(np.percentile(hi_ok, 98))
    else:
        lo, hi = (min(must), max(must)) if must else (0.0, 1.0)
    span = hi - lo or abs(hi) * 0.1 or 1.0
    for x in near:
        if lo - 1.0 * span <= x <= hi + 1.0 * span:
            lo, hi = min(lo, x), max(hi, x)
    for x in must:
        lo, hi = min(lo, x), max(hi, x)
    span = hi - lo or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def series_panel(
    s: _Series,
    span_s: tuple[float, float],
    cat: Catalogue,
    uid: str,
    *,
    colour: str | None = None,
    periods: tuple[tuple[float, float], ...] = (),
    title: str = "",
    data: dict[str, str] | None = None,
    height: int = 170,
) -> str:
    """One metric over the run: reference zones, the finding's periods (in its colour), the
    quartile band and median per time bin (per step data) or per minute, and level lines."""
    from ._svg import Panel

    label, factor, unit, dec = shown(s.column, s.label)
    if s.per == "step":
        x, q1, med, q3, _n = _binned(s.t_s, s.values, span_s)
    else:
        x, med = s.t_s / 60.0, s.values
        q1 = q3 = np.full(med.shape, np.nan)
    q1, med, q3 = q1 * factor, med * factor, q3 * factor
    levels = [(lv * factor, name) for lv, name in s.levels]
    zones = [(a * factor, b * factor, sev, tip) for a, b, sev, tip in _zones(s.column, cat)] if factor > 0 else []
    must = [levels[0][0]] if levels else []
    near = [lv for lv, _ in levels] + [z for a, b, _, _ in zones for z in (a, b) if math.isfinite(z)]
    if s.reference is not None:
        must.append(s.reference[0] * factor)
    band_lo = np.where(np.isfinite(q1), q1, med)
    band_hi = np.where(np.isfinite(q3), q3, med)
    y0, y1 = _y_range(band_lo, band_hi, must, near)
    p = Panel(
        uid=uid,
        x_range=(span_s[0] / 60.0, span_s[1] / 60.0),
        y_range=(y0, y1),
        height=height,
        x_label="time (min, session clock)",
        y_label=f"{label} ({unit})" if unit else label,
        title=title,
        data={"metric": s.column, "unit": unit, **(data or {})},
    )
    for a, b, sev, tip in zones:
        p.band_y(a, b, fill=_ZONE_FILL[sev], opacity=_ZONE_OPACITY, cls="zone", tip=f"{sev}: {tip}", severity=sev)
    for a, b in periods:
        p.span_x(a / 60.0, b / 60.0, fill=colour or "#999", opacity=0.13, cls="period", tip="when the finding occurred")
    p.area(x, q1, q3, fill="#5d6d7e", opacity=0.28, cls="spread")
    p.line(x, med, stroke="#1b2631", cls="median")
    if s.per == "minute":
        p.markers(x, med, fill="#1b2631", cls="median")
    if s.reference is not None:
        p.hline(
            s.reference[0] * factor,
            stroke="#566573",
            cls="reference",
            dash="2 2",
            label=f"{s.reference[1]} {s.reference[0] * factor:.{dec}f}",
        )
    for lv, name in levels:
        if y0 <= lv <= y1:
            p.hline(
                lv,
                stroke=colour or "#7b7d7d",
                cls="level",
                label=f"{name} {lv:.{dec}f} {unit}".strip(),
                value=f"{lv:.{dec}f}",
                severity=name,
            )
    for t, name in s.marks:
        p.vline(t / 60.0, stroke="#1b2631", cls="mark", label=name)
    return p.render()


def lr_panel(rr: RunReport, uid: str, cat: Catalogue) -> tuple[str | None, list[str]]:
    """Left minus right per metric, in % of the mean of the sides, with a 95 % interval from
    the spread of the steps of each side; behind each row, the catalogue's asymmetry levels
    for it. Returns the chart and one line per metric in display units."""
    from ._svg import Panel

    run = rr.analysis.running_steps
    if "side" in rr.analysis.unavailable or not len(run):
        return None, []
    side = run["side"].to_numpy()
    rows = []
    for col in LR_METRICS:
        if col in rr.analysis.unavailable or col not in run.columns:
            continue
        v = run[col].to_numpy(float)
        lv, rv = v[(side == "L") & np.isfinite(v)], v[(side == "R") & np.isfinite(v)]
        if lv.size < 10 or rv.size < 10:
            continue
        ml, mr = float(np.median(lv)), float(np.median(rv))
        mean = 0.5 * (ml + mr)
        if mean == 0:
            continue
        # standard error of a median from the quartiles (normal approximation: 1.2533 sigma / sqrt(n))
        se = [1.2533 * float(np.subtract(*np.percentile(x, [75, 25]))) / 1.349 / math.sqrt(x.size) for x in (lv, rv)]
        d_pct = 100.0 * (ml - mr) / mean
        ci_pct = 1.96 * 100.0 * math.hypot(*se) / abs(mean)
        levels = []
        for f in cat.faults:
            for r in f.rules:
                if r.kind == "threshold" and r.metric == f"asymmetry_pct.{col}":
                    levels = [float(x) for x in r.levels]
        rows.append((col, ml, mr, d_pct, ci_pct, 1.96 * math.hypot(*se), levels))
    if not rows:
        return None, []
    reach = max(max(abs(d) + c for _, _, _, d, c, _, _ in rows), *(r[6][0] * 1.2 for r in rows if r[6]), 3.0)
    reach = min(reach * 1.1, 60.0)
    row_h = 30
    p = Panel(
        uid=uid,
        x_range=(-reach, reach),
        y_range=(0.0, float(len(rows))),
        height=row_h * len(rows) + 44,
        x_label="left minus right, % of the mean of the sides (bar: 95 % interval)",
        left=170,
        data={"chart": "left-right"},
    )
    lines = []
    for i, (col, ml, mr, d, c, ci_abs, levels) in enumerate(rows):
        y_top, y_bot = len(rows) - i, len(rows) - i - 1
        for j, lv in enumerate(levels):
            hi = levels[j + 1] if j + 1 < len(levels) else math.inf
            sev = ("low", "moderate", "high")[min(j, 2)]
            for a, b in ((lv, hi), (-hi, -lv)):
                xa, xb = p._clip_x(a), p._clip_x(b)
                if xb - xa > 0.5:
                    p.raw(
                        f'<rect class="zone" data-severity="{sev}" x="{xa:.1f}" y="{float(p.py(y_top)):.1f}" '
                        f'width="{xb - xa:.1f}" height="{row_h:.1f}" fill="{_ZONE_FILL[sev]}" '
                        f'fill-opacity="{_ZONE_OPACITY}"/>'
                    )
        label, factor, unit, dec = shown(col)
        yc = float(p.py(0.5 * (y_top + y_bot)))
        x0, x1, xd = p._clip_x(d - c), p._clip_x(d + c), p._clip_x(d)
        p.raw(
            f'<line class="ci" x1="{x0:.1f}" x2="{x1:.1f}" y1="{yc:.1f}" y2="{yc:.1f}" stroke="#1b2631" '
            f'stroke-width="2"/><circle class="diff" data-metric="{col}" data-value="{d:.2f}" data-ci="{c:.2f}" '
            f'cx="{xd:.1f}" cy="{yc:.1f}" r="4" fill="#1f618d"><title>{esc(label)}: {d:+.1f} % ± {c:.1f}</title></circle>'
            f'<text x="{p.ml - 6}" y="{yc + 3.5:.1f}" text-anchor="end" font-size="10.5" fill="#1b2631" '
            f'font-family="system-ui,Helvetica,Arial,sans-serif">{esc(label)}</text>'
        )
        dd = (ml - mr) * factor
        lines.append(
            f"{label}: left {ml * factor:.{dec}f}, right {mr * factor:.{dec}f} {unit}; "
            f"difference {dd:+.{dec}f} {unit} ± {ci_abs * factor:.{dec}f} ({d:+.1f} % ± {c:.1f})".replace(" ;", ";")
        )
    zx = float(p.px(0.0))
    p.raw(f'<line x1="{zx:.1f}" x2="{zx:.1f}" y1="{p.mt}" y2="{p.mt + p.ph:.1f}" stroke="#7f8c8d" stroke-width="1"/>')
    return p.render(), lines


def run_span(rr: RunReport, ctx: Any) -> tuple[float, float]:
    if ctx.n >= 2:
        return float(ctx.t[0]), float(ctx.t[-1])
    return 0.0, float(rr.analysis.session.duration_s or 1.0)


def overview_plots(rr: RunReport, ctx: Any, k: int, cat: Catalogue) -> list[str]:
    span = run_span(rr, ctx)
    out = []
    for col in PLOT_METRICS:
        if col in rr.analysis.unavailable:
            continue
        v = _step_series(col, ctx)
        if v is None:
            continue
        out.append(series_panel(_Series(col, shown(col)[0], ctx.t, v, "step"), span, cat, f"r{k}-m-{col}", height=150))
    return out
