"""The catalogue's vocabulary: severities, documents, displays, the kinds of rule, what each
metric needs, and which metrics each kind of rule may use."""

from __future__ import annotations

import math
from collections.abc import Iterable

from ..core.metrics import ASYMMETRY_METRICS, STEP_METRICS
from ..registry import DISPLAY_UNITS, STEP_TABLE

#: Severity levels, in order.
SEVERITIES: tuple[str, ...] = ("none", "low", "moderate", "high")
#: The ids of the knowledge-base documents: five articles on running and low back pain, each
#: identified by its title and publisher in the catalogue's ``[[document]]`` table
#: (`Catalogue.documents`; ``docs/references.md``).
DOCUMENTS: tuple[str, ...] = ("000", "001", "002", "003", "004")

#: How a metric is shown: key -> (factor from the SI value, unit shown, decimals, SI unit); the
#: display units of the metric registry (`gait.registry.DISPLAY_UNITS`).
DISPLAYS: dict[str, tuple[float, str, int, str]] = {
    k: (u.factor, u.unit, u.decimals, u.si_unit) for k, u in DISPLAY_UNITS.items()
}

_THRESHOLD_KINDS = ("threshold",)
_RUN_KINDS = ("drift", "surges", "warmup", "downhill")
_HISTORY_KINDS = ("weekly_volume", "lighter_weeks", "rest_days", "shoe_distance", "shoe_age")
RULE_KINDS: tuple[str, ...] = (*_THRESHOLD_KINDS, *_RUN_KINDS, *_HISTORY_KINDS, "baseline")
_ROLES = ("primary", "support", "baseline")
_DIRECTIONS = ("above", "below", "abs_above")
_DETECTIONS = ("sensor", "elevation", "history")

_RAW = "an unclipped recording at 100 samples per second or more that was not low-pass filtered"
_FORWARD = (
    "a known forward direction: calibrate the mounting (gait calibrate mounting) or run straight for a few seconds"
)
#: What input makes a missing measurement possible (keys of ``Analysis.unavailable``: every
#: step metric, and the virtual requirements used by the catalogue).
NEEDS: dict[str, str] = {
    "lean_deg": "stand still for a few seconds before running, or calibrate the mounting (gait calibrate mounting)",
    "yaw_range_deg": "a sensor with a gyroscope",
    "roll_range_deg": "a sensor with a gyroscope",
    "lateral_lean_deg": f"a three-axis accelerometer (medio-lateral axis) and {_FORWARD}",
    "pelvic_drop_deg": "a sensor with a gyroscope and a three-axis accelerometer",
    "side": (
        "a gyroscope and a known forward direction, to tell left running steps from right by the pelvis' roll "
        "(walking steps: a medio-lateral accelerometer axis is enough)"
    ),
    "speed_mps": "a known speed: --track FILE (a watch's FIT, TCX or GPX), --pace 5:30/km or --speed-mps",
    "forward": _FORWARD,
    "braking_peak_mps2": _FORWARD,
    "braking_velocity_loss_mps": _FORWARD,
    "impact_peak_mps2": _RAW,
    "loading_rate_mps3": _RAW,
    "rearfoot_score": _RAW,
    "vertical_oscillation_m": "an unclipped vertical signal (a sensor range of at least +-8 g)",
    "vertical_ratio_pct": "a known speed (--track, --pace or --speed-mps) and an unclipped vertical signal",
    "step_length_m": "a known speed: --track FILE (a watch's FIT, TCX or GPX), --pace 5:30/km or --speed-mps",
    "contact_time_s": "running steps with a clear flight phase",
    "flight_time_s": "running steps with a clear flight phase",
    "duty_factor": "running steps with a clear flight phase",
    "cadence_spm": "running steps",
    "step_time_s": "running steps",
    "step_regularity": "running steps",
    "stride_regularity": "running steps",
    "vibration": "a recording at 100 samples per second or more that was not low-pass filtered",
    "elevation": "an elevation track: --track FILE (a watch's FIT, TCX or GPX; --elevation FILE is the same and also takes a CSV with t_s and elevation_m)",
    "history": "your run history (leave it on, or point --history-db at it)",
    "shoes": "the name of the shoes: --shoes NAME (or 'shoes' in the session header)",
    "trunk_angles": "a sensor with a gyroscope",
    "running": "a recording with running in it",
    "duration": "a longer run",
    "foot_strike": (
        "a landing whose impact stands clear of the stance's own vibration: a firmly attached sensor at 100 "
        "samples per second or more, not low-pass filtered (on real sacral recordings rearfoot and midfoot "
        "landings often look alike, so many runs stay undecided)"
    ),
}

#: The first minute of a run counts as easy below this share of the run's full effort (the
#: confidence of "no warm-up" is the probability that it was above it).
WARMUP_EASY_RATIO = 0.9
#: Metrics whose own confidence (0..1, another metric) scales the confidence of a rule on them.
_METRIC_CONFIDENCE: dict[str, str] = {"derived.rearfoot_share": "derived.foot_strike_confidence"}
#: Derived metrics and what each is computed from (see the module docstring).
DERIVED_REQUIRES: dict[str, tuple[str, ...]] = {
    "derived.late_stance_vibration_mps2": ("vibration",),
    "derived.confident_rearfoot_share": ("rearfoot_score",),
    "derived.rearfoot_share": ("foot_strike", "rearfoot_score"),
    "derived.stride_time_cv_pct": ("step_time_s",),
    "derived.step_time_alternation_pct": ("step_time_s",),
    "derived.contact_time_alternation_pct": ("contact_time_s",),
    "derived.trunk_angle_variability_pct": ("roll_range_deg", "yaw_range_deg", "trunk_angles"),
}


def implied_requirements(kind: str, metric: str) -> tuple[str, ...]:
    """The measurements a rule on ``metric`` cannot do without (keys of `NEEDS`).

    A rule on a step metric (``median.X``, ``iqr.X``, ``left.X``, ``right.X``, a drift or a
    baseline of ``X``) needs ``X``; an asymmetry also needs the side of each step; a derived
    metric needs what it is computed from (`DERIVED_REQUIRES`). Run-level rules (surges,
    warm-up, downhill) and history rules need none. The catalogue must list these in each
    rule's ``requires`` (checked when it is loaded), and `assess` enforces them: a rule whose
    requirement is in ``Analysis.unavailable`` is never evaluated.
    """
    if kind in _HISTORY_KINDS or kind in ("surges", "warmup", "downhill"):
        return ()
    if metric in DERIVED_REQUIRES:
        return DERIVED_REQUIRES[metric]
    head, _, base = metric.partition(".")
    if not base:
        base, head = head, ""
    if head == "asymmetry_pct":
        return (base, "side") if base in NEEDS else ("side",)
    return (base,) if base in NEEDS and base not in ("forward", "side") else ()


#: Run-summary values that are not per-metric tables (``Analysis.summary``, ``docs/tables.md``).
SUMMARY_SCALARS: tuple[str, ...] = (
    "duration_s",
    "running_s",
    "walking_s",
    "still_s",
    "steps",
    "running_steps",
    "distance_m",
    "side_share",
    "side_confidence",
    "foot_strike_confidence",
    "step_time_cv_pct",
    "step_regularity",
    "stride_regularity",
    "rearfoot_share",
    "midfoot_share",
    "forefoot_share",
    "intensity_mps2",
    "ml_sway_rms_mps2",
    "stance_vibration_mps2",
)
_WARMUP_KEYS = (
    "warmup_s",
    "walking_before_s",
    "easy_running_s",
    "full_effort_s",
    "easy_minutes",
    "first_minute_effort_ratio",
    "first_minute_intensity_ratio",
)
#: The values rules of the run-level and history kinds are about.
_KIND_METRICS: dict[str, tuple[str, ...]] = {
    "surges": ("surge_index_pct",),
    "warmup": tuple(f"warmup.{k}" for k in _WARMUP_KEYS),
    "downhill": ("downhill_share_pct", "steep_downhill_share_pct"),
    "weekly_volume": ("weekly_increase_pct",),
    "lighter_weeks": ("weeks_without_lighter_week",),
    "rest_days": ("days_without_rest",),
    "shoe_distance": ("shoe_distance_m",),
    "shoe_age": ("shoe_age_days",),
}
_DERIVED = (*DERIVED_REQUIRES, "derived.foot_strike_confidence")


def known_metrics(kind: str) -> tuple[str, ...]:
    """The metric names a rule of ``kind`` can use: run-summary values (``median.X``,
    ``asymmetry_pct.X``, ...) and derived metrics for thresholds and baselines, step columns and
    derived metrics for drifts, a kind's own value for the others."""
    if kind in _KIND_METRICS:
        return _KIND_METRICS[kind]
    if kind == "drift":
        return (*STEP_TABLE, *_DERIVED)
    tables = [f"{head}.{m}" for head in ("median", "iqr", "left", "right", "drift_pct") for m in STEP_METRICS]
    return (
        *tables,
        *(f"asymmetry_pct.{m}" for m in ASYMMETRY_METRICS),
        *SUMMARY_SCALARS,
        *_KIND_METRICS["warmup"],
        *_DERIVED,
    )


def _close(name: str, names: Iterable[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(names), n=3, cutoff=0.6)
    return f"did you mean {' or '.join(close)}?" if close else "no registered name is close"


#: Typical easy running speed used to estimate the distance of runs without a known speed.
TYPICAL_SPEED_MPS = 2.9


def format_value(value: float | None, display: str) -> str:
    """A value in SI for display, with its unit (``format_value(0.253, "ms") -> "253 ms"``)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    factor, unit, dec, _ = DISPLAYS[display]
    s = f"{value * factor:.{dec}f}"
    return f"{s} {unit}" if unit else s
