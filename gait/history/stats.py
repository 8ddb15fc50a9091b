"""The runner's own numbers over weeks: key metrics, baseline, run-to-run noise, comparisons.

Pure functions over `gait.history.RunRecord` lists (no database, no printing); used by
``gait history trend`` and ``gait history compare`` (`gait.history.cli`) and documented in
``docs/history.md``.

Every run contributes one value per metric: the median of that metric over the run's valid
running steps, as stored in the history (``RunRecord.metrics``).

Statistics
----------
*Run-to-run noise* ``sigma`` of a metric: how much the per-run value of one runner moves from
one run to the next when nothing changed. It is estimated from the runner's own runs in date
order by the robust successive-difference estimator

    sigma = 1.4826 * median(|x[i+1] - x[i]|) / sqrt(2),

the median absolute deviation (scaled to a normal SD) applied to successive differences
(von Neumann et al. 1941 use the mean square successive difference for the same purpose: it is
insensitive to slow trends, which the plain SD of all runs would count as noise; the median
makes it insensitive to single odd runs). It needs `MIN_RUNS_NOISE` runs with the metric.

*Baseline and band* (``trend``): the baseline is the median of the per-run values in the
baseline period (default: every run shown); the band, the runner's usual range for one run, is
``baseline +- BAND_K * sigma`` (about 95 % of runs when nothing changed and the noise is
normal). A week's value is the mean of its runs; the week is flagged ``higher`` or ``lower``
when that mean lies outside ``baseline +- BAND_K * sigma / sqrt(n)`` (``n`` runs that week).

*Two runs* (``compare_runs``): ``d = b - a``; ``t = d / (sqrt(2) * sigma)`` (both runs carry
noise) with ``sigma`` from the runner's other runs; the two-sided p-value comes from the null
distribution of ``t`` under normal noise for that number of runs, simulated (`N_NULL_DRAWS`
draws, fixed seed), because ``sigma`` is itself an estimate: a normal p-value would call 8 % of
unchanged metrics changed with 20 runs and 15 % with 4, instead of 5 %.

*Two periods* (``compare_periods``): ``d = mean(B) - mean(A)``; the noise is the pooled
between-run SD of the two periods, ``s_p = sqrt(((n_A - 1) s_A^2 + (n_B - 1) s_B^2) /
(n_A + n_B - 2))``, and ``d / s_p`` is the size of the change in units of it (Cohen's d); the
p-value is a two-sided permutation test of the difference of means (exact when the number of
splits is at most `MAX_EXACT_SPLITS`, else `N_RANDOM_PERMUTATIONS` random permutations with a
fixed seed, ``p = (1 + count) / (1 + N)``). No normality is assumed. With 3 runs against 3 the
smallest possible p is 0.1: at least 4 runs per period are needed to reach 0.05.

In both comparisons every key metric is tested, so the p-values are adjusted for the number of
metrics compared (Holm 1979); a difference "exceeds the run-to-run noise" when its adjusted
p-value is below `ALPHA`. Restricting the comparison to the metrics one cares about
(``--metric``) makes the adjustment smaller.

Notes
-----
Per-run medians depend on speed (cadence, contact time, oscillation and impact all change with
pace); the comparisons do not adjust for it, so compare runs at a similar pace (the ``speed``
metric shows it when a speed was known).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from ..constants import G
from ..errors import GaitInputError, Where
from ._records import RunRecord
from ._significance import (
    ALPHA,
    MAX_EXACT_SPLITS,
    MIN_RUNS_NOISE,
    N_NULL_DRAWS,
    N_RANDOM_PERMUTATIONS,
    holm,
    permutation_p,
    run_to_run_noise,
    studentised_p,
)

__all__ = [
    "ALPHA",
    "BAND_K",
    "KEY_METRICS",
    "LIST_METRICS",
    "MAX_EXACT_SPLITS",
    "MIN_RUNS_NOISE",
    "N_NULL_DRAWS",
    "N_RANDOM_PERMUTATIONS",
    "Comparison",
    "MetricDifference",
    "MetricSpec",
    "Trend",
    "WeekPoint",
    "compare_periods",
    "compare_runs",
    "holm",
    "metric_spec",
    "permutation_p",
    "run_to_run_noise",
    "studentised_p",
    "trend",
    "values_of",
]

#: Half-width of the usual range, in run-to-run noise SDs.
BAND_K = 2.0

#: How the baseline, noise and band are computed, in words (terminal, HTML, docs).
BAND_EXPLANATION = (
    "Each dot is one run: the median of the metric over its running steps. Baseline: the median of "
    "the runs in the baseline period. Run-to-run noise: how much your value moves from one run to the "
    "next, estimated from those runs in date order as 1.4826 x the median absolute difference between "
    f"consecutive runs / sqrt(2) (a slow trend does not count as noise; a single odd run barely moves it; "
    f"needs {MIN_RUNS_NOISE} runs). Usual range (shaded): baseline +- {BAND_K:g} x noise, where about 95 % "
    f"of runs fall when nothing changed. A week is marked higher or lower when the mean of its n runs lies "
    f"outside baseline +- {BAND_K:g} x noise / sqrt(n)."
)


@dataclass(frozen=True)
class MetricSpec:
    """A key metric of a run as the history keeps it and as it is shown.

    Attributes
    ----------
    name
        Short name used on the command line (``cadence``).
    key
        Key in `gait.history.RunRecord.metrics` (SI units), e.g. ``median.cadence_spm``.
    label
        What it is, in words.
    factor, unit, decimals
        Display: ``value * factor`` in ``unit`` with ``decimals`` decimals.
    """

    name: str
    key: str
    label: str
    factor: float
    unit: str
    decimals: int

    def show(self, value: float | None, *, signed: bool = False, unit: bool = True, extra_decimals: int = 0) -> str:
        """``value`` (SI) in display units, e.g. ``"253 ms"``; ``n/a`` when missing.

        ``extra_decimals`` shows small quantities (noise, differences) more finely.
        """
        if value is None or not math.isfinite(value):
            return "n/a"
        dec = self.decimals + extra_decimals
        x = round(value * self.factor, dec) + 0.0  # + 0.0: no "-0"
        text = f"{x:{'+' if signed else ''}.{dec}f}"
        return f"{text} {self.unit}" if unit and self.unit else text

    def scaled(self, value: float | None) -> float | None:
        """``value`` in display units (None when missing)."""
        if value is None or not math.isfinite(value):
            return None
        return float(value * self.factor)


#: Every key metric, in the order they are listed and compared.
KEY_METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("cadence", "median.cadence_spm", "cadence", 1.0, "spm", 0),
    MetricSpec("contact_time", "median.contact_time_s", "contact time", 1000.0, "ms", 0),
    MetricSpec("flight_time", "median.flight_time_s", "flight time", 1000.0, "ms", 0),
    MetricSpec("duty_factor", "median.duty_factor", "duty factor", 100.0, "%", 1),
    MetricSpec("oscillation", "median.vertical_oscillation_m", "vertical oscillation", 100.0, "cm", 1),
    MetricSpec("vertical_ratio", "median.vertical_ratio_pct", "vertical ratio", 1.0, "%", 1),
    MetricSpec("impact", "median.impact_peak_mps2", "impact peak", 1.0 / G, "g", 2),
    MetricSpec("loading_rate", "median.loading_rate_mps3", "loading rate", 1.0 / G, "g/s", 0),
    MetricSpec("braking", "median.braking_peak_mps2", "braking peak", 1.0 / G, "g", 2),
    MetricSpec("braking_speed_loss", "median.braking_velocity_loss_mps", "braking (speed lost)", 1.0, "m/s", 2),
    MetricSpec("lean", "median.lean_deg", "forward lean", 1.0, "deg", 1),
    MetricSpec("lateral_lean", "median.lateral_lean_deg", "lateral lean", 1.0, "deg", 1),
    MetricSpec("pelvic_drop", "median.pelvic_drop_deg", "pelvic drop", 1.0, "deg", 1),
    MetricSpec("roll_range", "median.roll_range_deg", "roll range", 1.0, "deg", 1),
    MetricSpec("rotation", "median.yaw_range_deg", "rotation (yaw) range", 1.0, "deg", 1),
    MetricSpec("step_regularity", "median.step_regularity", "step regularity", 1.0, "", 2),
    MetricSpec("stride_regularity", "median.stride_regularity", "stride regularity", 1.0, "", 2),
    MetricSpec("rearfoot_share", "rearfoot_share", "rearfoot strikes", 100.0, "% of steps", 0),
    MetricSpec("step_time_cv", "step_time_cv_pct", "step time variability", 1.0, "% CV", 1),
    MetricSpec("contact_asymmetry", "asymmetry_pct.contact_time_s", "contact time left-right", 1.0, "%", 1),
    MetricSpec("sway", "ml_sway_rms_mps2", "side-to-side sway (RMS)", 1.0, "m/s^2", 2),
    MetricSpec("speed", "median.speed_mps", "speed", 1.0, "m/s", 2),
    MetricSpec("step_length", "median.step_length_m", "step length", 1.0, "m", 2),
)
#: The metrics ``gait history list`` shows by default.
LIST_METRICS: tuple[str, ...] = ("cadence", "contact_time", "oscillation", "lean")

_BY_NAME: dict[str, MetricSpec] = {}
for _m in KEY_METRICS:
    for _alias in (_m.name, _m.key, _m.key.split(".", 1)[-1], _m.label.replace(" ", "_")):
        _BY_NAME.setdefault(_alias.casefold(), _m)


def metric_spec(name: str, *, parameter: str = "METRIC") -> MetricSpec:
    """The key metric called ``name`` (its short name, its history key such as
    ``median.cadence_spm``, or its column name such as ``cadence_spm``).

    Raises
    ------
    GaitInputError
        No key metric has this name (the message lists them).
    """
    spec = _BY_NAME.get(name.strip().casefold().replace("-", "_"))
    if spec is None:
        raise GaitInputError(
            "unknown metric",
            expected="one of " + ", ".join(m.name for m in KEY_METRICS),
            found=repr(name),
            where=Where(parameter=parameter),
        )
    return spec


def values_of(runs: Sequence[RunRecord], spec: MetricSpec) -> np.ndarray:
    """The per-run values (SI) of a metric, NaN where a run has none, in the order given."""
    return np.array([r.metrics.get(spec.key, np.nan) for r in runs], dtype=float)


# ---------------------------------------------------------------------------------------
# trend
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeekPoint:
    """One calendar week (Monday to Sunday, by the runs' own local dates).

    ``mean`` is the mean of the week's per-run values (NaN without runs); ``flag`` is
    ``higher`` / ``lower`` when it lies outside ``baseline +- BAND_K * sigma / sqrt(n)``,
    ``within`` otherwise, None when there is no run or no noise estimate.
    """

    week_start: date
    n: int
    mean: float
    flag: str | None


@dataclass(frozen=True)
class Trend:
    """A metric over weeks against the runner's own baseline (see the module docstring).

    Attributes
    ----------
    spec
        The metric.
    runs
        The runs with a value, oldest first, and ``values`` (SI) in the same order.
    baseline
        Median of the per-run values of the baseline period (NaN without runs).
    n_baseline
        Runs in the baseline period with a value.
    noise_sd
        Run-to-run noise of the baseline period (NaN with fewer than `MIN_RUNS_NOISE` runs).
    band
        The usual range of one run, ``baseline +- BAND_K * noise_sd``.
    weeks
        Every week from the first run to the last (weeks without a run included).
    unavailable
        Why the band could not be computed, or None.
    """

    spec: MetricSpec
    runs: tuple[RunRecord, ...]
    values: tuple[float, ...]
    baseline: float
    n_baseline: int
    noise_sd: float
    band: tuple[float, float]
    weeks: tuple[WeekPoint, ...]
    unavailable: str | None = None


def _week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def trend(runs: Sequence[RunRecord], spec: MetricSpec, *, baseline_runs: Sequence[RunRecord] | None = None) -> Trend:
    """The metric over weeks, with the baseline and band of ``baseline_runs`` (default: ``runs``).

    Parameters
    ----------
    runs
        The runs to show (any order; sorted by date here).
    spec
        The metric.
    baseline_runs
        The runs that define the baseline and the noise (e.g. the runs before a change).
    """
    ordered = sorted(runs, key=lambda r: r.started_at)
    vals = values_of(ordered, spec)
    ok = np.isfinite(vals)
    kept = tuple(r for r, k in zip(ordered, ok) if k)
    values = vals[ok]
    base_runs = sorted(baseline_runs if baseline_runs is not None else ordered, key=lambda r: r.started_at)
    bv = values_of(base_runs, spec)
    bv = bv[np.isfinite(bv)]
    baseline = float(np.median(bv)) if bv.size else float("nan")
    sigma = run_to_run_noise(bv)
    why = None
    if not math.isfinite(sigma):
        why = (
            f"the band needs at least {MIN_RUNS_NOISE} runs with {spec.label} in the baseline period (found {bv.size})"
        )
    band = (baseline - BAND_K * sigma, baseline + BAND_K * sigma)
    weeks: list[WeekPoint] = []
    if kept:
        dates = np.array([_week_start(r.started_at.date()).toordinal() for r in kept])
        first, last = int(dates.min()), int(dates.max())
        for w in range(first, last + 1, 7):
            sel = values[dates == w]
            n = int(sel.size)
            mean = float(sel.mean()) if n else float("nan")
            flag = None
            if n and math.isfinite(sigma) and math.isfinite(baseline):
                half = BAND_K * sigma / math.sqrt(n)
                flag = "higher" if mean > baseline + half else "lower" if mean < baseline - half else "within"
            weeks.append(WeekPoint(date.fromordinal(w), n, mean, flag))
    return Trend(spec, kept, tuple(float(v) for v in values), baseline, int(bv.size), sigma, band, tuple(weeks), why)


# ---------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricDifference:
    """One metric compared between A and B (SI units; see the module docstring).

    Attributes
    ----------
    spec
        The metric.
    a, b
        The value of run A and run B, or the mean of period A and period B.
    n_a, n_b
        Runs behind ``a`` and ``b`` with this metric.
    difference
        ``b - a``.
    noise_sd
        Run-to-run noise (two runs: from the whole history) or pooled between-run SD (two
        periods).
    effect
        ``difference / noise_sd``.
    p, p_adjusted
        Two-sided p-value and its Holm adjustment over the metrics compared.
    beyond_noise
        ``p_adjusted < ALPHA``; None when it could not be tested (``reason`` says why).
    reason
        Why the metric could not be tested, or None.
    """

    spec: MetricSpec
    a: float
    b: float
    n_a: int
    n_b: int
    difference: float
    noise_sd: float
    effect: float
    p: float
    p_adjusted: float
    beyond_noise: bool | None
    reason: str | None = None


@dataclass(frozen=True)
class Comparison:
    """A comparison of two runs or two periods, metric by metric."""

    kind: str  # "runs" or "periods"
    label_a: str
    label_b: str
    items: tuple[MetricDifference, ...]
    method: str
    n_a: int = 1
    n_b: int = 1


def _finish(kind: str, label_a: str, label_b: str, rows: list[dict], method: str, n_a: int, n_b: int) -> Comparison:
    adjusted = holm([r["p"] for r in rows])
    items = []
    for r, pa in zip(rows, adjusted):
        beyond = None if not math.isfinite(pa) else bool(pa < ALPHA)
        items.append(MetricDifference(**r, p_adjusted=float(pa), beyond_noise=beyond))
    return Comparison(kind, label_a, label_b, tuple(items), method, n_a, n_b)


def compare_runs(
    run_a: RunRecord, run_b: RunRecord, history: Sequence[RunRecord], specs: Sequence[MetricSpec] = KEY_METRICS
) -> Comparison:
    """Two runs, metric by metric, against the run-to-run noise of the other runs of ``history``.

    ``sigma`` comes from the runs of ``history`` other than A and B (date order), so it is
    independent of the difference; ``t = (b - a) / (sqrt(2) sigma)``; the p-value is that of
    `studentised_p` (exact under normal noise for that number of runs, up to Monte Carlo
    error), Holm-adjusted over the metrics that both runs have.
    """
    ordered = sorted(
        (r for r in history if r.content_hash not in (run_a.content_hash, run_b.content_hash)),
        key=lambda r: r.started_at,
    )
    rows: list[dict] = []
    for spec in specs:
        a = run_a.metrics.get(spec.key, float("nan"))
        b = run_b.metrics.get(spec.key, float("nan"))
        if not (math.isfinite(a) and math.isfinite(b)):
            continue
        others = values_of(ordered, spec)
        n_others = int(np.isfinite(others).sum())
        sigma = run_to_run_noise(others)
        d = b - a
        reason = None
        if not math.isfinite(sigma):
            reason = f"noise unknown: needs {MIN_RUNS_NOISE} other runs with this metric (found {n_others})"
            p = effect = float("nan")
        elif sigma == 0:
            effect = float("inf") if d else 0.0
            p = 0.0 if d else 1.0
        else:
            effect = d / sigma
            p = studentised_p(d / (math.sqrt(2.0) * sigma), n_others)
        rows.append(
            dict(spec=spec, a=a, b=b, n_a=1, n_b=1, difference=d, noise_sd=sigma, effect=effect, p=p, reason=reason)
        )
    method = (
        "difference b - a against the run-to-run noise sigma of your other runs (robust SD of successive "
        "differences); t = d / (sqrt(2) sigma), two-sided p from its null distribution under normal noise for that "
        f"number of runs ({N_NULL_DRAWS} simulated draws), Holm-adjusted over the metrics compared; beyond noise "
        f"when the adjusted p < {ALPHA:g}"
    )
    return _finish("runs", _run_label(run_a), _run_label(run_b), rows, method, 1, 1)


def compare_periods(
    period_a: Sequence[RunRecord],
    period_b: Sequence[RunRecord],
    specs: Sequence[MetricSpec] = KEY_METRICS,
    *,
    label_a: str = "A",
    label_b: str = "B",
) -> Comparison:
    """Two periods, metric by metric: difference of the means, pooled between-run SD, and a
    two-sided permutation p-value, Holm-adjusted over the metrics compared."""
    rows: list[dict] = []
    for spec in specs:
        xa = values_of(period_a, spec)
        xb = values_of(period_b, spec)
        xa, xb = xa[np.isfinite(xa)], xb[np.isfinite(xb)]
        if xa.size == 0 or xb.size == 0:
            continue
        a, b = float(xa.mean()), float(xb.mean())
        d = b - a
        reason = None
        sp = effect = p = float("nan")
        if xa.size < 2 or xb.size < 2:
            reason = f"needs at least 2 runs in each period (found {xa.size} and {xb.size})"
        else:
            sp = math.sqrt(((xa.size - 1) * xa.var(ddof=1) + (xb.size - 1) * xb.var(ddof=1)) / (xa.size + xb.size - 2))
            effect = d / sp if sp > 0 else (float("inf") if d else 0.0)
            p = permutation_p(xa, xb)
        rows.append(
            dict(
                spec=spec,
                a=a,
                b=b,
                n_a=int(xa.size),
                n_b=int(xb.size),
                difference=d,
                noise_sd=sp,
                effect=effect,
                p=p,
                reason=reason,
            )
        )
    method = (
        "difference of the period means b - a; noise: pooled between-run SD of the two periods; two-sided "
        f"permutation test of the difference of means (exact up to {MAX_EXACT_SPLITS} splits, else "
        f"{N_RANDOM_PERMUTATIONS} random permutations), Holm-adjusted over the metrics compared; beyond noise when "
        f"the adjusted p < {ALPHA:g}"
    )
    return _finish("periods", label_a, label_b, rows, method, len(period_a), len(period_b))


def _run_label(r: RunRecord) -> str:
    num = f"run {r.run_id}" if r.run_id is not None else f"run {r.content_hash[:8]}"
    return f"{num} ({r.started_at.strftime('%Y-%m-%d %H:%M')})"
