"""The rule evaluators on one run: threshold, drift, surges, warm-up and downhill, and the
confidence and severity arithmetic they share."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from ._context import EvaluationContext
from ._kinds import _METRIC_CONFIDENCE, DISPLAYS, NEEDS, SEVERITIES, WARMUP_EASY_RATIO, format_value
from ._results import Evidence
from ._types import Rule


@dataclass(frozen=True)
class _Result:
    rule: Rule
    available: bool
    reason: str = ""
    needs: str | None = None
    cause: str = ""  # the reason without the rule's label (to merge notes of several rules)
    skipped: bool = False  # a fallback rule not needed here (``only_without``)
    level: int = 0
    value: float = float("nan")
    worse: float = float("nan")  # the value measured in the rule's worse direction
    evidence: Evidence | None = None
    periods: tuple[tuple[float, float], ...] = ()
    share: float | None = None
    confidence: float = 0.0


def _unavailable(rule: Rule, reason: str, needs_key: str | None, cause: str | None = None) -> _Result:
    needs = NEEDS.get(needs_key) if needs_key else None
    flags = re.findall(r"--[a-z][a-z-]*|gait \w+ \w+", needs or "")
    if needs and (needs.casefold() in reason.casefold() or (flags and all(f in reason for f in flags))):
        needs = None  # the reason already says what to do
    return _Result(rule, False, reason=reason, needs=needs, cause=cause or reason)


def _check_requires(rule: Rule, ctx: EvaluationContext) -> _Result | None:
    for r in rule.requires:
        if r in ctx.unavailable:
            return _unavailable(rule, f"{rule.label}: {ctx.unavailable[r]}", r, ctx.unavailable[r])
    return None


def _worse(rule: Rule, value: float) -> float:
    if rule.direction == "below":
        return -value
    if rule.direction == "abs_above":
        return abs(value)
    return value


def _excess(rule: Rule, worse: float, level: int) -> float:
    """How far into its level a value sits (0..1), for ranking."""
    lv = [_worse(rule, x) for x in rule.levels]
    if rule.kind in ("drift", "baseline"):
        lv = list(rule.levels)
    if level <= 0 or not math.isfinite(worse):
        return 0.0
    lo = lv[level - 1]
    hi = lv[level] if level < len(lv) else lo + (lo - (lv[level - 2] if level >= 2 else 0.0) or abs(lo) or 1.0)
    span = hi - lo
    return float(min(max((worse - lo) / span, 0.0), 0.999)) if span > 0 else 0.0


def _n_factor(n: int) -> float:
    return n / (n + 30.0) if n > 0 else 0.0


def _margin_p(rule: Rule, value: float, steps: np.ndarray | None) -> float:
    """Probability that the run's value is truly beyond the lowest level, from the steps' spread."""
    if steps is None:
        return 0.8
    x = steps[np.isfinite(steps)]
    if x.size < 5:
        return 0.5
    if rule.step_threshold is not None:
        p = float(np.clip(value, 1e-3, 1 - 1e-3))
        se = math.sqrt(p * (1 - p) / x.size)
    else:
        q1, q3 = np.percentile(x, [25, 75])
        se = 1.2533 * (q3 - q1) / 1.349 / math.sqrt(x.size)
    margin = _worse(rule, value) - _worse(rule, rule.levels[0])
    if se <= 0:
        return 1.0 if margin >= 0 else 0.0
    return float(ndtr(margin / se))


def _periods(t: np.ndarray, flag: np.ndarray, *, merge_s: float = 15.0, min_s: float = 20.0) -> tuple:
    """Contiguous stretches of ``flag`` as ``(start_s, end_s)``, merged across short breaks."""
    if t.size == 0 or not flag.any():
        return ()
    d = np.diff(np.concatenate([[0], flag.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1) - 1
    out: list[list[float]] = []
    for a, b in zip(starts, ends):
        if out and t[a] - out[-1][1] <= merge_s:
            out[-1][1] = float(t[b])
        else:
            out.append([float(t[a]), float(t[b])])
    span = float(t[-1] - t[0]) if t.size > 1 else 0.0
    keep = min(min_s, 0.25 * span)
    return tuple((a, b) for a, b in out if b - a >= keep)


def _step_periods(rule: Rule, ctx: EvaluationContext, steps: np.ndarray) -> tuple[tuple, float | None]:
    """Periods where the rolling median of the steps is beyond the lowest level, and the share
    of steps beyond it."""
    ok = np.isfinite(steps)
    if ok.sum() < 5:
        return (), None
    if rule.step_threshold is not None:
        hit = np.where(ok, steps >= rule.step_threshold, np.nan)
        share = float(np.nanmean(hit))
        roll = pd.Series(hit).rolling(31, center=True, min_periods=5).mean().to_numpy()
    else:
        share = float(rule.beyond(steps[ok]).mean())
        roll = pd.Series(steps).rolling(31, center=True, min_periods=5).median().to_numpy()
    return _periods(ctx.t, rule.beyond(roll)), share


def _minute_periods(rule: Rule, ctx: EvaluationContext) -> tuple:
    m = ctx.analysis.minutes
    if rule.minute_column is None or rule.minute_column not in m.columns or m.empty:
        return ()
    v = m[rule.minute_column].to_numpy(float)
    hit = rule.beyond(v)
    out: list[list[float]] = []
    for a, b, h in zip(m["start_s"].to_numpy(float), m["end_s"].to_numpy(float), hit):
        if not h:
            continue
        a, b = max(a, float(ctx.t[0])) if ctx.n else a, min(b, float(ctx.t[-1])) if ctx.n else b
        if out and a - out[-1][1] <= 1.0:
            out[-1][1] = b
        else:
            out.append([a, b])
    return tuple((a, b) for a, b in out)


def _make_evidence(rule: Rule, value: float, level: int, display: str | None = None) -> Evidence:
    unit = DISPLAYS[rule.display][3]
    if rule.change == "pct":
        unit = "%"
    return Evidence(
        metric=rule.metric,
        label=rule.label,
        value=float(value),
        unit=unit,
        display=display if display is not None else format_value(value, rule.display),
        threshold=rule.threshold_text(),
        level=SEVERITIES[level],
        source=rule.source,
        role=rule.role,
    )


def _eval_threshold(rule: Rule, ctx: EvaluationContext) -> _Result:
    miss = _check_requires(rule, ctx)
    if miss is not None:
        return miss
    value = ctx.metrics.get(rule.metric, float("nan"))
    if not math.isfinite(value):
        return _unavailable(rule, f"{rule.label}: no valid value in this recording", None)
    level = rule.level_of(value)
    steps = ctx.step_values(rule.step_column)
    periods: tuple = ()
    share = None
    if level > 0:
        if steps is not None:
            periods, share = _step_periods(rule, ctx, steps)
        elif rule.minute_column is not None:
            periods = _minute_periods(rule, ctx)
        if not periods and ctx.n >= 2:
            periods = ((float(ctx.t[0]), float(ctx.t[-1])),)
    conf = rule.reliability * _n_factor(ctx.n) * _margin_p(rule, value, steps)
    conf *= ctx.metrics.get(_METRIC_CONFIDENCE.get(rule.metric, ""), 1.0)
    ev = _make_evidence(rule, value, level)
    return _Result(
        rule,
        True,
        level=level,
        value=value,
        worse=_worse(rule, value),
        evidence=ev,
        periods=periods,
        share=share,
        confidence=conf,
    )


def warmup_end_s(ctx: EvaluationContext) -> float:
    """When the warm-up ends (s): the summary's easy minutes after the first running step."""
    w = ctx.analysis.summary.get("warmup") or {}
    easy = float(w.get("easy_minutes", 0) or 0)
    t0 = float(ctx.t[0]) if ctx.n else 0.0
    m = ctx.analysis.minutes
    m0 = float(m["start_s"].iloc[0]) if len(m) else t0
    return max(t0 + 120.0, m0 + 60.0 * easy)


def _eval_drift(rule: Rule, ctx: EvaluationContext) -> _Result:
    miss = _check_requires(rule, ctx)
    if miss is not None:
        return miss
    x = ctx.step_values(rule.metric)
    if x is None:
        return _unavailable(rule, f"{rule.label}: not in the step table", None)
    t = ctx.t
    after = t >= warmup_end_s(ctx)
    if after.sum() < 100:
        after = np.ones_like(after)
    xs, ts = x[after], t[after]
    ok = np.isfinite(xs)
    if ok.sum() < 50:
        return _unavailable(rule, f"{rule.label}: too few valid steps to compare the start and the end", None)
    xs, ts = xs[ok], ts[ok]
    k = max(xs.size // 5, 20)
    first, last = float(np.median(xs[:k])), float(np.median(xs[-k:]))
    if rule.change == "pct":
        if first == 0:
            return _unavailable(rule, f"{rule.label}: zero at the start of the run", None)
        change = 100.0 * (last / first - 1.0)
        roll = 100.0 * (pd.Series(xs).rolling(61, min_periods=20).median().to_numpy() / first - 1.0)
        shown = f"{change:+.1f} % ({format_value(first, rule.display)} -> {format_value(last, rule.display)})"
    else:
        change = last - first
        roll = pd.Series(xs).rolling(61, min_periods=20).median().to_numpy() - first
        shown = f"{change:+.1f} ({format_value(first, rule.display)} -> {format_value(last, rule.display)})"
    worse = change if rule.direction == "above" else -change
    roll_worse = roll if rule.direction == "above" else -roll
    level = sum(worse >= lv for lv in rule.levels)
    periods: tuple = ()
    if level > 0:
        beyond = np.nan_to_num(roll_worse, nan=-np.inf) >= rule.levels[0]
        # onset: from the first step after which the drift stays beyond the lowest level
        tail_ok = np.flip(np.cumprod(np.flip(beyond)))
        onset = int(np.argmax(tail_ok)) if tail_ok.any() else max(xs.size - k, 0)
        periods = ((float(ts[onset]), float(ts[-1])),)
    # confidence: the change against the step-to-step spread of the two fifths
    q1, q3 = np.percentile(xs[:k], [25, 75])
    se = 1.2533 * (q3 - q1) / 1.349 * math.sqrt(2.0 / k)
    if rule.change == "pct":
        se = 100.0 * se / abs(first)
    p = float(ndtr((worse - rule.levels[0]) / se)) if se > 0 else 1.0
    conf = rule.reliability * _n_factor(int(xs.size)) * p
    unit = "%" if rule.change == "pct" else DISPLAYS[rule.display][3]
    ev = Evidence(
        rule.metric,
        f"change in {rule.label}, first to last fifth",
        change,
        unit,
        shown,
        rule.threshold_text(),
        SEVERITIES[level],
        rule.source,
        "primary",
    )
    return _Result(rule, True, level=level, value=change, worse=worse, evidence=ev, periods=periods, confidence=conf)


def surge_index(run: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Pace index per step: cadence rise + contact-time fall (%) of the last 8 s against the
    30 s before them, computed per bout."""
    ts, idx = [], []
    for _, b in run.groupby("bout", sort=True):
        if len(b) < 40:
            continue
        t = b["ic_s"].to_numpy(float)
        ti = pd.to_timedelta(t - t[0], unit="s")
        cad = pd.Series(b["cadence_spm"].to_numpy(float), index=ti)
        ct = pd.Series(b["contact_time_s"].to_numpy(float), index=ti)
        now_c = cad.rolling("8s", min_periods=10).median().to_numpy()
        now_t = ct.rolling("8s", min_periods=10).median().to_numpy()
        base_c = cad.rolling("30s", min_periods=40).median().to_numpy()
        base_t = ct.rolling("30s", min_periods=40).median().to_numpy()
        prev = t - 8.0
        valid = prev >= t[0] + 30.0
        k = np.clip(np.searchsorted(t, prev, side="right") - 1, 0, t.size - 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            s = 100.0 * (now_c / base_c[k] - 1.0) + 100.0 * (base_t[k] / now_t - 1.0)
        ts.append(t)
        idx.append(np.where(valid, s, np.nan))
    if not ts:
        return np.zeros(0), np.zeros(0)
    return np.concatenate(ts), np.concatenate(idx)


def _eval_surges(rule: Rule, ctx: EvaluationContext) -> _Result:
    t, s = surge_index(ctx.run)
    # the pick-up of pace that ends a warm-up is the gradual start the documents advise, not a
    # surge: no step is judged while its 38 s comparison window still reaches into the warm-up
    full = float((ctx.analysis.summary.get("warmup") or {}).get("full_effort_s", float("nan")))
    if math.isfinite(full):
        s = np.where(t < full + 38.0, np.nan, s)
    if not np.isfinite(s).any():
        return _unavailable(rule, "surges: needs at least 40 s of continuous running", "duration")
    flag = rule.beyond(s)
    periods = _periods(t, flag, merge_s=20.0, min_s=0.0)
    events = []
    for a, b in periods:
        sel = (t >= a) & (t <= b)
        events.append((max(a - 8.0, float(ctx.t[0])), b, float(np.nanmax(s[sel]))))
    value = float(np.nanmax(s))
    level = rule.level_of(value)
    if events:
        shown = f"{len(events)} surge{'s' if len(events) > 1 else ''}: " + ", ".join(
            f"+{e[2]:.0f} % at {_clock(e[0])}" for e in events[:6]
        )
    else:
        shown = f"largest {value:+.1f} %"
    conf = rule.reliability * _n_factor(ctx.n) * (1.0 if level else 0.5)
    ev = _make_evidence(rule, value, level, shown)
    return _Result(
        rule,
        True,
        level=level,
        value=value,
        worse=value,
        evidence=ev,
        periods=tuple((a, b) for a, b, _ in events),
        confidence=conf,
    )


def _clock(t_s: float) -> str:
    m, s = divmod(round(t_s), 60)
    return f"{m}:{s:02d}"


def _eval_warmup(rule: Rule, ctx: EvaluationContext) -> _Result:
    """No warm-up: too little walking and easy running before full effort (`gait.core._summary._warmup`).

    Confidence: the rule's reliability x ``n / (n + 30)`` x the normal probability that the
    first minute of running is truly above the easy level (``WARMUP_EASY_RATIO`` of the run's
    full effort), given the spread of the steps' effort in that minute.
    """
    w = ctx.analysis.summary.get("warmup") or {}
    warm = float(w.get("warmup_s", float("nan")))
    if not math.isfinite(warm):
        return _unavailable(rule, "warm-up: the start of the run could not be compared with the rest of it", "duration")
    level = rule.level_of(warm)
    walked = float(w.get("walking_before_s", 0.0) or 0.0)
    easy = float(w.get("easy_running_s", 0.0) or 0.0)
    ratio = float(w.get("first_minute_effort_ratio", float("nan")))
    shown = f"{walked / 60:.1f} min of walking and {easy / 60:.1f} min of easier running before full effort"
    if math.isfinite(ratio):
        shown += f"; first minute of running at {100 * ratio:.0f} % of the run's full effort"
    # how clearly the first minute was already hard: its steps' effort against the easy level
    p = 0.5
    run = ctx.run
    if ctx.n:
        t = ctx.t
        with np.errstate(divide="ignore", invalid="ignore"):
            e = run["step_time_s"].to_numpy(float) / run["contact_time_s"].to_numpy(float)
        ok = np.isfinite(e) & (e > 0)
        full = float(w.get("first_minute_effort_ratio", float("nan")))
        if ok.sum() >= 10 and math.isfinite(full) and full > 0:
            first = e[ok & (t < t[0] + 60.0)]
            first = first / (float(np.median(first)) / full)  # in units of the run's full effort
            if first.size >= 5:
                q1, q3 = np.percentile(first, [25, 75])
                se = 1.2533 * (q3 - q1) / 1.349 / math.sqrt(first.size)
                margin = float(np.median(first)) - WARMUP_EASY_RATIO
                p = float(ndtr(margin / se)) if se > 0 else float(margin >= 0)
    conf = rule.reliability * _n_factor(ctx.n) * (p if level else 1.0 - p)
    ev = _make_evidence(rule, warm, level, f"{format_value(warm, rule.display)} ({shown})")
    t0 = float(ctx.t[0]) if ctx.n else 0.0
    return _Result(
        rule,
        True,
        level=level,
        value=warm,
        worse=_worse(rule, warm),
        evidence=ev,
        periods=((t0, t0 + 60.0),) if level else (),
        confidence=conf,
    )


def _grades(ctx: EvaluationContext) -> tuple[np.ndarray | None, str]:
    if ctx.elevation is not None:
        speed = ctx.metrics.get("median.speed_mps", float("nan"))
        g, how = ctx.elevation.grade_pct(ctx.t, speed_mps=speed if math.isfinite(speed) else None)
        return g, f"elevation track {Path(ctx.elevation.source).name or ''} ({ctx.elevation.alignment}; {how})"
    slope = ctx.analysis.session.meta.extra.get("slope_deg")
    if slope is not None:
        try:
            grade = 100.0 * math.tan(math.radians(float(slope)))
        except (TypeError, ValueError):
            return None, ""
        return np.full(ctx.n, grade), f"the session's declared slope ({float(slope):g} deg, treadmill)"
    return None, ""


def _eval_downhill(rule: Rule, ctx: EvaluationContext) -> _Result:
    grades, how = _grades(ctx)
    if grades is None:
        return _unavailable(
            rule,
            "downhill landings are harder, but a harder surface, a heavier heel strike or a faster pace look the same to the sensor",
            "elevation",
        )
    dt = ctx.run["step_time_s"].to_numpy(float)
    cover = np.isfinite(grades) & np.isfinite(dt)
    if cover.sum() < 5:
        return _unavailable(rule, "the elevation track does not cover the running in this session", "elevation")
    assert rule.grade_pct is not None
    down = cover & (np.nan_to_num(grades, nan=0.0) <= rule.grade_pct)
    share = float(100.0 * dt[down].sum() / dt[cover].sum())
    level = rule.level_of(share)
    periods = _periods(ctx.t, down, merge_s=10.0, min_s=5.0) if level else ()
    shown = (
        f"{share:.0f} % of running time ({dt[down].sum() / 60:.1f} min) at {rule.grade_pct:g} % or steeper; from {how}"
    )
    conf = rule.reliability * min(1.0, float(cover.mean()))
    ev = _make_evidence(rule, share, level, shown)
    return _Result(
        rule,
        True,
        level=level,
        value=share,
        worse=share,
        evidence=ev,
        periods=periods,
        share=float(down.sum() / max(cover.sum(), 1)),
        confidence=conf,
    )


# --- history ------------------------------------------------------------------------------
