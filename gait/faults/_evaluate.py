"""Form faults: the catalogue, the rules, and the findings of a run.

What the product looks for is data, not code: ``gait/data/faults.toml`` holds one entry per
fault (the metrics, the rule and its published source, the severity levels, the causes and the
advice in the product's own words with the documents they come from, and a short live cue).
It is loaded and validated when this module is imported (`CATALOGUE`); a broken entry raises
`GaitInputError` naming the entry and the field. This module only implements the few *kinds*
of rule the catalogue can use (a threshold on a metric, a drift over the run, surges, the
warm-up, downhill time, weekly volume, shoe wear, the runner's own baseline).

Use::

    from gait.faults import evaluate
    findings = evaluate(analysis)                 # ranked list of Finding
    report = assess(analysis, history=h, elevation=e)   # findings + "cannot be assessed" notes

Both work on a whole run and on a window of a few seconds (the live dashboard): faults that
need a long run (fatigue, surges, warm-up) or a history are then listed as notes, not findings.

Severity is ``low``, ``moderate`` or ``high`` (faults absent are not findings). Confidence
(0..1) is the product of three factors: the number of valid steps ``n / (n + 30)``, how clearly
the median lies beyond the threshold given the spread of the steps (normal probability of the
margin over the standard error of the median, ``1.2533 * IQR / 1.349 / sqrt(n)``), and the
reliability of the metric from a lumbar sensor (set per rule in the catalogue).

Notes
-----
Thresholds and their sources are listed in the catalogue and in ``docs/faults.md``: Garmin
and COROS zones for a waist-worn pod (oscillation, ratio, contact time, cadence), Heiderscheit
2011 (cadence), Napier 2018 (braking), Teng & Powers 2015 (lean), Bramah 2018 (pelvic drop),
Seay 2011 (rotation and rigidity), Schuette 2015 / 2016 (fatigue and surface signatures),
Clermont 2019 and Meyer 2021 (marathon drift), Levine 2007 (downhill), Lee 2010 (asymmetry),
document 004 (weekly volume), documents 000, 002 and 004 (shoes); full references in
``docs/references.md``. Where no published lumbar-sensor norm exists the catalogue says so and
the levels are project conventions calibrated on the simulator (``benchmarks/faults.py``). The
knowledge-base documents are identified by title and publisher in the catalogue's
``[[document]]`` table (`Catalogue.documents`).

Metrics derived here from the analysis (``docs/faults.md``):

- ``derived.late_stance_vibration_mps2``: RMS of the 20-45 Hz band of vertical acceleration
  from 35 % to 85 % of each stance, i.e. after the impact transient, so that heel strikes do not
  read as hard ground (the all-stance ``stance_vibration_mps2`` of the summary mixes the two).
- ``derived.rearfoot_share``: share of the running steps classified ``rearfoot`` among those
  with a decided class; missing (and the foot strike listed as unavailable, with the run's
  transient and confidence) when the run's foot strike is ``uncertain``.
  ``derived.foot_strike_confidence``: the run's foot-strike confidence, which multiplies the
  confidence of a rule on the rearfoot share.
- ``derived.stride_time_cv_pct``: coefficient of variation of stride time (two steps, so that
  a steady left/right difference does not count) in moving windows of 31 steps (so that a
  change of pace does not count), median over the run.
- ``derived.step_time_alternation_pct``, ``derived.contact_time_alternation_pct``: the
  difference between the medians of every other step, % of the median: a left/right
  difference measured even when the side of each step is unknown.
- ``derived.trunk_angle_variability_pct``: step-to-step robust variation (IQR / median, %) of
  the trunk's roll range and rotation range in a moving window of 31 steps (so that a slow
  drift over the run does not count), averaged over the two and the median taken over the run.
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.signal import sosfiltfilt
from scipy.special import ndtr

from ..constants import METRES_PER_MILE
from ..core.filters import stance_vibration_sos
from ..core.metrics import ASYMMETRY_METRICS, STEP_METRICS
from ..core.quality import declared_lowpass_hz
from ..errors import GaitInputError, Where
from ..registry import DISPLAY_UNITS, MINUTE_TABLE, STEP_TABLE
from ..tracks import Track as ElevationTrack
from ..tracks import read_elevation

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..history import History, RunRecord

__all__ = [
    "CATALOGUE",
    "DISPLAYS",
    "DOCUMENTS",
    "SEVERITIES",
    "Assessment",
    "Catalogue",
    "Document",
    "ElevationTrack",
    "Evidence",
    "FaultSpec",
    "Finding",
    "Note",
    "Rule",
    "Text",
    "UnseenCause",
    "assess",
    "declared_lowpass_hz",
    "derived_metrics",
    "evaluate",
    "format_value",
    "implied_requirements",
    "known_metrics",
    "load_catalogue",
    "rank_score",
    "ranked",
    "read_elevation",
]

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


# ---------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    """A cause, a piece of advice or a warning sign, with the documents it comes from."""

    text: str
    documents: tuple[str, ...]

    def cite(self) -> str:
        """The text followed by its document ids, e.g. ``"... [000, 004]"``."""
        return f"{self.text} [{', '.join(self.documents)}]"


@dataclass(frozen=True)
class Document:
    """A knowledge-base document: its id (``"000"``...), title, publisher and address where
    they are known, and a one-line description in the product's own words."""

    id: str
    title: str
    publisher: str | None
    url: str | None
    topic: str

    @property
    def label(self) -> str:
        """Title, publisher and id, e.g. ``"Why Do I Have Lower Back Pain When Jogging? (Biology
        Insights) [004]"``."""
        by = f" ({self.publisher})" if self.publisher else ""
        return f"{self.title}{by} [{self.id}]"


@dataclass(frozen=True)
class UnseenCause:
    """A cause no sensor can see: something for the runner to check."""

    topic: str
    text: str
    documents: tuple[str, ...]


@dataclass(frozen=True)
class Rule:
    """One rule of a fault (see ``docs/faults.md`` for every field)."""

    kind: str
    role: str
    metric: str
    label: str
    display: str
    direction: str
    levels: tuple[float, ...]
    source: str
    reliability: float = 0.8
    step_column: str | None = None
    step_threshold: float | None = None
    minute_column: str | None = None
    requires: tuple[str, ...] = ()
    applies_above: float | None = None
    change: str | None = None
    grade_pct: float | None = None
    only_without: tuple[str, ...] = ()

    def level_of(self, value: float) -> int:
        """Severity level (0..3) of a value: how many of the levels it reaches."""
        if value is None or not math.isfinite(value):
            return 0
        if self.applies_above is not None and value <= self.applies_above:
            return 0
        if self.direction == "above":
            return sum(value >= lv for lv in self.levels)
        if self.direction == "below":
            return sum(value <= lv for lv in self.levels)
        return sum(abs(value) >= lv for lv in self.levels)

    def beyond(self, values: np.ndarray, level: float | None = None) -> np.ndarray:
        """Element-wise: is each value at or beyond ``level`` (default: the lowest level)?"""
        lv = self.levels[0] if level is None else level
        v = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            if self.direction == "above":
                out = v >= lv
            elif self.direction == "below":
                out = v <= lv
            else:
                out = np.abs(v) >= lv
            if self.applies_above is not None:
                out &= v > self.applies_above
        return out & np.isfinite(v)

    def threshold_text(self) -> str:
        """The levels for display, e.g. ``">= 0.45 / 0.60 / 0.80 m/s (low / moderate / high)"``."""
        sign = {"above": ">=", "below": "<=", "abs_above": "|x| >="}[self.direction]
        if self.change is not None:  # drifts and baselines are sized in the worse direction
            sign = {"above": "rise >=", "below": "fall >=", "abs_above": "change >="}[self.direction]
        if self.change == "pct":
            shown = [f"{lv:g} %" for lv in self.levels]
        else:
            shown = [format_value(lv, self.display) for lv in self.levels]
        names = " / ".join(SEVERITIES[1 : 1 + len(self.levels)])
        return f"{sign} {' / '.join(shown)} ({names})"


@dataclass(frozen=True)
class FaultSpec:
    """One catalogue entry: a fault, how it is detected, and what the runner is told."""

    id: str
    name: str
    design_row: str
    documents: tuple[str, ...]
    cue: str
    detection: str
    summary: str
    limitations: str
    rules: tuple[Rule, ...]
    causes: tuple[Text, ...]
    advice: tuple[Text, ...]
    max_severity: str = "high"
    min_running_s: float = 0.0
    combine: str = "max"
    min_agree: int = 2
    suppressed_by: tuple[str, ...] = ()
    #: The live cue in other languages (language code -> text), e.g. ``{"de": "..."}``.
    cues: Mapping[str, str] = field(default_factory=dict)

    def cue_for(self, language: str) -> str:
        """The live cue in ``language`` (``"de"``, ``"fr-CA"`` ...), else in the catalogue's language."""
        for key in (language, language.split("-")[0]):
            if key in self.cues:
                return self.cues[key]
        return self.cue

    @property
    def sources(self) -> tuple[str, ...]:
        """Every document the entry names (the fault, its causes and its advice), sorted."""
        docs = set(self.documents)
        for t in (*self.causes, *self.advice):
            docs.update(t.documents)
        return tuple(sorted(docs))


@dataclass(frozen=True)
class Catalogue:
    """The whole catalogue: faults, and the texts every report shows."""

    version: int
    faults: tuple[FaultSpec, ...]
    disclaimer: str
    warning_signs: tuple[Text, ...]
    unseen_causes: tuple[UnseenCause, ...]
    document_topics: Mapping[str, str]
    path: str
    #: The knowledge-base documents by id (title, publisher, address, description).
    documents: Mapping[str, Document] = field(default_factory=dict)
    language: str = "en"

    @property
    def cue_languages(self) -> tuple[str, ...]:
        """Languages every fault has a cue in (the catalogue's own first)."""
        common = set.intersection(*(set(f.cues) for f in self.faults)) if self.faults else set()
        return (self.language, *sorted(common - {self.language}))

    def __getitem__(self, fault_id: str) -> FaultSpec:
        for f in self.faults:
            if f.id == fault_id:
                return f
        raise KeyError(fault_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.faults)


class _Checker:
    """Validation helpers that name the catalogue entry and field in every message."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, where: str, problem: str, expected: str, found: Any) -> GaitInputError:
        return GaitInputError(
            f"invalid fault catalogue entry: {problem}",
            expected=expected,
            found=repr(found),
            where=Where(file=self.path, parameter=where),
        )

    def keys(self, d: Mapping[str, Any], where: str, required: Iterable[str], optional: Iterable[str]) -> None:
        if not isinstance(d, Mapping):
            raise self.fail(where, "not a table", "a TOML table", type(d).__name__)
        req = list(required)
        allowed = set(req) | set(optional)
        for k in req:
            if k not in d:
                raise self.fail(f"{where}.{k}", "missing field", f"a value for '{k}'", None)
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise self.fail(
                f"{where}.{unknown[0]}", "unknown field", "one of " + ", ".join(sorted(allowed)), unknown[0]
            )

    def text(self, d: Mapping[str, Any], key: str, where: str) -> str:
        v = d.get(key)
        if not isinstance(v, str) or not v.strip():
            raise self.fail(f"{where}.{key}", "empty or not text", "a non-empty string", v)
        return v.strip()

    def docs(self, v: Any, where: str) -> tuple[str, ...]:
        if not isinstance(v, list) or not v or any(x not in DOCUMENTS for x in v):
            raise self.fail(where, "bad document list", "a non-empty list of ids among " + ", ".join(DOCUMENTS), v)
        return tuple(v)

    def number(self, v: Any, where: str) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(float(v)):
            raise self.fail(where, "not a number", "a finite number", v)
        return float(v)

    def choice(self, v: Any, where: str, allowed: Sequence[str]) -> str:
        if v not in allowed:
            raise self.fail(where, "invalid value", "one of " + ", ".join(allowed), v)
        return str(v)

    def texts(self, items: Any, where: str) -> tuple[Text, ...]:
        if not isinstance(items, list) or not items:
            raise self.fail(where, "missing texts", "a non-empty list of tables with text and documents", items)
        out = []
        for k, t in enumerate(items):
            w = f"{where}[{k}]"
            self.keys(t, w, ("text", "documents"), ())
            out.append(Text(self.text(t, "text", w), self.docs(t["documents"], f"{w}.documents")))
        return tuple(out)


_RULE_FIELDS = (
    "role",
    "step_column",
    "step_threshold",
    "minute_column",
    "requires",
    "applies_above",
    "change",
    "grade_pct",
    "reliability",
    "only_without",
)


def _rule(c: _Checker, d: Mapping[str, Any], where: str) -> Rule:
    c.keys(d, where, ("kind", "metric", "label", "display", "direction", "levels", "source"), _RULE_FIELDS)
    kind = c.choice(d["kind"], f"{where}.kind", RULE_KINDS)
    role = c.choice(d.get("role", "baseline" if kind == "baseline" else "primary"), f"{where}.role", _ROLES)
    if (kind == "baseline") != (role == "baseline"):
        raise c.fail(f"{where}.role", "role and kind disagree", "role 'baseline' exactly for kind 'baseline'", role)
    direction = c.choice(d["direction"], f"{where}.direction", _DIRECTIONS)
    levels = d["levels"]
    if not isinstance(levels, list) or not 1 <= len(levels) <= 3:
        raise c.fail(f"{where}.levels", "bad levels", "a list of 1 to 3 numbers (low, moderate, high)", levels)
    lv = tuple(c.number(x, f"{where}.levels[{k}]") for k, x in enumerate(levels))
    increasing = all(b > a for a, b in itertools.pairwise(lv))
    decreasing = all(b < a for a, b in itertools.pairwise(lv))
    change = d.get("change")
    if kind in ("drift", "baseline"):
        change = c.choice(change, f"{where}.change", ("pct", "abs"))
        ok = increasing and lv[0] > 0  # drifts and baselines are sized in the worse direction
    elif direction == "below":
        ok = decreasing
    else:
        ok = increasing and (direction != "abs_above" or lv[0] > 0)
    if not ok:
        raise c.fail(
            f"{where}.levels",
            "levels out of order",
            "levels getting worse from low to high in the rule's direction",
            list(lv),
        )
    display = c.choice(d["display"], f"{where}.display", tuple(DISPLAYS))
    metric = c.text(d, "metric", where)
    if metric not in known_metrics(kind):
        raise c.fail(
            f"{where}.metric",
            f"unknown metric {metric!r} ({_close(metric, known_metrics(kind))})",
            f"a metric a {kind} rule can use (docs/faults.md, docs/tables.md)",
            metric,
        )
    for key, names in (("step_column", (*STEP_TABLE, *_DERIVED)), ("minute_column", MINUTE_TABLE)):
        if isinstance(d.get(key), str) and d[key] not in names:
            raise c.fail(
                f"{where}.{key}",
                f"unknown column {d[key]!r} ({_close(d[key], names)})",
                "a column of the " + ("step" if key == "step_column" else "minute") + " table or a derived metric",
                d[key],
            )
    rel = c.number(d.get("reliability", 0.8), f"{where}.reliability")
    if not 0 < rel <= 1:
        raise c.fail(f"{where}.reliability", "out of range", "a number in (0, 1]", rel)
    requires = d.get("requires", [])
    if not isinstance(requires, list) or any(r not in NEEDS for r in requires):
        raise c.fail(f"{where}.requires", "unknown requirement", "a list among " + ", ".join(NEEDS), requires)
    missing = [r for r in implied_requirements(kind, str(d["metric"])) if r not in requires]
    if missing:
        raise c.fail(
            f"{where}.requires",
            f"the rule's metric {d['metric']} needs {', '.join(missing)}",
            "every measurement the metric is computed from listed in 'requires'",
            requires,
        )
    only_without = d.get("only_without", [])
    if not isinstance(only_without, list) or any(r not in NEEDS for r in only_without):
        raise c.fail(f"{where}.only_without", "unknown requirement", "a list among " + ", ".join(NEEDS), only_without)
    grade = d.get("grade_pct")
    if kind == "downhill":
        grade = c.number(grade, f"{where}.grade_pct")
        if grade >= 0:
            raise c.fail(f"{where}.grade_pct", "not a downhill grade", "a negative grade in %", grade)
    for key in ("step_column", "minute_column"):
        if key in d and (not isinstance(d[key], str) or not d[key]):
            raise c.fail(f"{where}.{key}", "not a column name", "a column name", d[key])
    return Rule(
        kind=kind,
        role=role,
        metric=metric,
        label=c.text(d, "label", where),
        display=display,
        direction=direction,
        levels=lv,
        source=c.text(d, "source", where),
        reliability=rel,
        step_column=d.get("step_column"),
        step_threshold=c.number(d["step_threshold"], f"{where}.step_threshold") if "step_threshold" in d else None,
        minute_column=d.get("minute_column"),
        requires=tuple(requires),
        applies_above=c.number(d["applies_above"], f"{where}.applies_above") if "applies_above" in d else None,
        change=change,
        grade_pct=grade,
        only_without=tuple(only_without),
    )


_FAULT_REQUIRED = (
    "id",
    "name",
    "design_row",
    "documents",
    "cue",
    "detection",
    "summary",
    "limitations",
    "rules",
    "causes",
    "advice",
)
_FAULT_OPTIONAL = ("max_severity", "min_running_s", "combine", "min_agree", "suppressed_by", "cues")
_LANGUAGE_RE = re.compile(r"[a-z]{2,3}(-[A-Za-z]{2,4})?")


def _cues(c: _Checker, raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        raise c.fail(where, "bad cues", 'a table of language codes and texts, e.g. { de = "..." }', raw)
    out = {}
    for lang, text in raw.items():
        if not isinstance(lang, str) or not _LANGUAGE_RE.fullmatch(lang):
            raise c.fail(f"{where}.{lang}", "bad language code", "a code such as de, fr or pt-BR", lang)
        if not isinstance(text, str) or not text.strip() or len(text) > 60:
            raise c.fail(f"{where}.{lang}", "bad cue", "a text of 1 to 60 characters", text)
        out[lang] = text
    return out


def _fault(c: _Checker, d: Mapping[str, Any], k: int) -> FaultSpec:
    where = f"fault[{k}]"
    fid = d.get("id") if isinstance(d, Mapping) else None
    if isinstance(fid, str):
        where = f"fault '{fid}'"
    c.keys(d, where, _FAULT_REQUIRED, _FAULT_OPTIONAL)
    if not isinstance(fid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", fid):
        raise c.fail(f"{where}.id", "bad id", "a lower-case identifier (letters, digits, _)", fid)
    cue = c.text(d, "cue", where)
    if len(cue) > 60:
        raise c.fail(f"{where}.cue", "cue too long for the live display", "at most 60 characters", cue)
    rules_raw = d["rules"]
    if not isinstance(rules_raw, list) or not rules_raw:
        raise c.fail(f"{where}.rules", "no rules", "at least one rule", rules_raw)
    rules = tuple(_rule(c, r, f"{where}.rules[{j}]") for j, r in enumerate(rules_raw))
    combine = c.choice(d.get("combine", "max"), f"{where}.combine", ("max", "agreement"))
    detecting = [r for r in rules if r.role != "baseline"]
    if combine == "max" and not any(r.role == "primary" for r in detecting):
        raise c.fail(f"{where}.rules", "no primary rule", "at least one rule with role 'primary'", len(rules))
    min_agree = int(c.number(d.get("min_agree", 2), f"{where}.min_agree"))
    if combine == "agreement" and not 1 <= min_agree <= len(detecting):
        raise c.fail(f"{where}.min_agree", "out of range", f"1..{len(detecting)}", min_agree)
    min_run = c.number(d.get("min_running_s", 0.0), f"{where}.min_running_s")
    if min_run < 0:
        raise c.fail(f"{where}.min_running_s", "negative", "a duration >= 0 s", min_run)
    supp = d.get("suppressed_by", [])
    if not isinstance(supp, list) or any(not isinstance(s, str) for s in supp):
        raise c.fail(f"{where}.suppressed_by", "bad list", "a list of fault ids", supp)
    return FaultSpec(
        id=fid,
        name=c.text(d, "name", where),
        design_row=c.text(d, "design_row", where),
        documents=c.docs(d["documents"], f"{where}.documents"),
        cue=cue,
        detection=c.choice(d["detection"], f"{where}.detection", _DETECTIONS),
        summary=c.text(d, "summary", where),
        limitations=c.text(d, "limitations", where),
        rules=rules,
        causes=c.texts(d["causes"], f"{where}.causes"),
        advice=c.texts(d["advice"], f"{where}.advice"),
        max_severity=c.choice(d.get("max_severity", "high"), f"{where}.max_severity", SEVERITIES[1:]),
        min_running_s=min_run,
        combine=combine,
        min_agree=min_agree,
        suppressed_by=tuple(supp),
        cues=_cues(c, d.get("cues", {}), f"{where}.cues"),
    )


def load_catalogue(path: str | Path | None = None) -> Catalogue:
    """Load and validate a fault catalogue (default: the one shipped in ``gait/data``).

    Raises
    ------
    GaitInputError
        When the file is not valid TOML or an entry is incomplete or inconsistent; the message
        names the entry (``fault 'overstriding'``) and the field (``rules[0].levels``).
    """
    if path is None:
        res = resources.files("gait") / "data" / "faults.toml"
        raw = res.read_bytes()
        name = "gait/data/faults.toml"
    else:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise GaitInputError("cannot read the fault catalogue", found=str(e), where=Where(file=p)) from None
        name = str(p)
    c = _Checker(name)
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise GaitInputError(
            "the fault catalogue is not valid TOML", expected="a TOML file", found=str(e), where=Where(file=name)
        ) from None
    c.keys(
        doc,
        "catalogue",
        ("catalogue_version", "fault", "disclaimer", "warning_sign", "unseen_cause", "document"),
        ("language",),
    )
    language = doc.get("language", "en")
    if not isinstance(language, str) or not _LANGUAGE_RE.fullmatch(language):
        raise c.fail("language", "bad language code", "a code such as en, de or pt-BR", language)
    if doc["catalogue_version"] != 1:
        raise c.fail("catalogue_version", "unsupported version", "1", doc["catalogue_version"])
    if not isinstance(doc["fault"], list) or not doc["fault"]:
        raise c.fail("fault", "no faults", "a list of [[fault]] tables", doc["fault"])
    faults = tuple(_fault(c, d, k) for k, d in enumerate(doc["fault"]))
    ids = [f.id for f in faults]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise c.fail(f"fault '{dup[0]}'.id", "duplicate id", "each id once", dup[0])
    for f in faults:
        for s in f.suppressed_by:
            if s not in ids or s == f.id:
                raise c.fail(f"fault '{f.id}'.suppressed_by", "unknown fault", "ids of other faults", s)
    unseen = []
    for k, u in enumerate(doc["unseen_cause"]):
        w = f"unseen_cause[{k}]"
        c.keys(u, w, ("topic", "text", "documents"), ())
        unseen.append(
            UnseenCause(c.text(u, "topic", w), c.text(u, "text", w), c.docs(u["documents"], f"{w}.documents"))
        )
    documents: dict[str, Document] = {}
    for k, d in enumerate(doc["document"]):
        w = f"document[{k}]"
        c.keys(d, w, ("id", "title", "topic"), ("publisher", "url"))
        i = c.choice(d["id"], f"{w}.id", DOCUMENTS)
        if i in documents:
            raise c.fail(f"{w}.id", "duplicate id", "each document once", i)
        url = c.text(d, "url", w) if "url" in d else None
        if url is not None and not re.fullmatch(r"https?://\S+", url):
            raise c.fail(f"{w}.url", "not a web address", "an address starting with http:// or https://", url)
        documents[i] = Document(
            id=i,
            title=c.text(d, "title", w),
            publisher=c.text(d, "publisher", w) if "publisher" in d else None,
            url=url,
            topic=c.text(d, "topic", w),
        )
    topics = {i: d.topic for i, d in documents.items()}
    if sorted(topics) != list(DOCUMENTS):
        raise c.fail(
            "document", "documents missing", "one [[document]] for each of " + ", ".join(DOCUMENTS), sorted(topics)
        )
    return Catalogue(
        version=1,
        faults=faults,
        disclaimer=c.text(doc, "disclaimer", "catalogue"),
        warning_signs=c.texts(doc["warning_sign"], "warning_sign"),
        unseen_causes=tuple(unseen),
        document_topics=topics,
        path=name,
        documents=dict(sorted(documents.items())),
        language=language,
    )


#: The shipped catalogue, validated at import.
CATALOGUE: Catalogue = load_catalogue()


# ---------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------
def format_value(value: float | None, display: str) -> str:
    """A value in SI for display, with its unit (``format_value(0.253, "ms") -> "253 ms"``)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    factor, unit, dec, _ = DISPLAYS[display]
    s = f"{value * factor:.{dec}f}"
    return f"{s} {unit}" if unit else s


@dataclass(frozen=True)
class Evidence:
    """One number behind a finding.

    Attributes
    ----------
    metric
        The metric's name (a summary key, a step column, or a derived metric).
    label
        What it is, in words.
    value
        The value in SI units (``unit``); for drifts and baselines the change (``%`` or the unit).
    unit
        SI unit of ``value``.
    display
        The value as the runner reads it, e.g. ``"0.86 m/s"`` or ``"+7.6 % (254 -> 273 ms)"``.
    threshold
        The rule's levels, e.g. ``">= 0.45 / 0.6 / 0.8 m/s (low / moderate / high)"``.
    level
        The severity this number alone reaches.
    source
        The published source (or the convention) of the levels.
    role
        ``primary``, ``support`` or ``baseline``.
    """

    metric: str
    label: str
    value: float
    unit: str
    display: str
    threshold: str
    level: str
    source: str
    role: str = "primary"

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "label": self.label,
            "value": _json_num(self.value),
            "unit": self.unit,
            "display": self.display,
            "threshold": self.threshold,
            "level": self.level,
            "source": self.source,
            "role": self.role,
        }


@dataclass(frozen=True)
class Finding:
    """A fault found in a run (severity at least ``low``).

    Attributes
    ----------
    fault, name
        Catalogue id and name.
    severity
        ``low``, ``moderate`` or ``high``.
    confidence
        0..1 (see the module docstring).
    cue
        The short live cue, e.g. ``"overstriding: shorten your step"``.
    headline
        One sentence with the main number.
    evidence
        The numbers, with units, thresholds and sources.
    periods_s
        When in the run, as ``(start_s, end_s)`` on the session clock.
    share_of_steps
        Share of the valid running steps beyond the threshold (None when not per step).
    causes, advice
        From the catalogue, each with its document ids.
    documents
        Every document the finding draws on.
    limitations
        What this sensor cannot tell about it.
    score
        Ranking score, `rank_score` of the severity, confidence and margin: findings are
        ranked by severity, then confidence, then margin (``docs/faults.md``).
    margin
        How far into its severity level the leading number sits (0: at the level's lower
        threshold, towards 1: near the next level), rounded to 3 decimals.
    """

    fault: str
    name: str
    severity: str
    confidence: float
    cue: str
    headline: str
    evidence: tuple[Evidence, ...]
    periods_s: tuple[tuple[float, float], ...]
    share_of_steps: float | None
    causes: tuple[Text, ...]
    advice: tuple[Text, ...]
    documents: tuple[str, ...]
    limitations: str
    score: float
    margin: float = 0.0

    @property
    def level(self) -> int:
        return SEVERITIES.index(self.severity)

    @property
    def when(self) -> str:
        """The periods as minute ranges of the session clock, e.g. ``"min 2.0-5.5, 8.0-9.0"``."""
        if not self.periods_s:
            return ""
        return "min " + ", ".join(f"{a / 60:.1f}-{b / 60:.1f}" for a, b in self.periods_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "name": self.name,
            "severity": self.severity,
            "confidence": self.confidence,
            "cue": self.cue,
            "headline": self.headline,
            "evidence": [e.to_dict() for e in self.evidence],
            "periods": [{"start_s": a, "end_s": b} for a, b in self.periods_s],
            "when": self.when,
            "share_of_steps": _json_num(self.share_of_steps),
            "causes": [{"text": t.text, "documents": list(t.documents)} for t in self.causes],
            "advice": [{"text": t.text, "documents": list(t.documents)} for t in self.advice],
            "documents": list(self.documents),
            "limitations": self.limitations,
            "margin": self.margin,
            "score": self.score,
        }


def rank_score(severity: str, confidence: float, margin: float) -> float:
    """The ranking score of a finding: ``level + 0.9 confidence + 0.009 margin``.

    ``level`` is 1, 2, 3 for low, moderate, high; ``confidence`` is the finding's confidence as
    reported (two decimals) and ``margin`` its margin as reported (three decimals, 0..1). The
    weights make the score sort exactly as the triple (severity, confidence, margin): a
    confidence step of 0.01 is worth 0.009, more than any margin (at most 0.009 x 0.999), and
    the whole stays below the next level. Findings with equal scores are ordered by fault id.
    Everything needed is in the JSON report, so the order can be recomputed from it.
    """
    return round(SEVERITIES.index(severity) + 0.9 * round(confidence, 2) + 0.009 * round(margin, 3), 6)


def ranked(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in report order: by `rank_score` (highest first), ties by fault id."""
    return sorted(findings, key=lambda f: (-rank_score(f.severity, f.confidence, f.margin), f.fault))


@dataclass(frozen=True)
class Note:
    """A fault that could not be assessed (or only in part), and what would make it possible.

    ``status`` is ``cannot_assess``, ``partial`` (some of its rules were skipped) or
    ``not_reported`` (another finding explains the same signal).
    """

    fault: str
    name: str
    status: str
    reason: str
    needs: str | None = None

    @property
    def message(self) -> str:
        head = {"cannot_assess": "cannot be assessed", "partial": "partly assessed", "not_reported": "not reported"}[
            self.status
        ]
        msg = f"{self.name}: {head}: {self.reason}"
        return msg + (f" (needs {self.needs})" if self.needs else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "fault": self.fault,
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "needs": self.needs,
            "message": self.message,
        }


@dataclass(frozen=True)
class Assessment:
    """Everything `assess` found: ranked findings, notes, and the faults checked and absent."""

    findings: tuple[Finding, ...]
    notes: tuple[Note, ...]
    checked: tuple[str, ...]
    catalogue_version: int = 1


def _json_num(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# ---------------------------------------------------------------------------------------
# derived metrics
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Derived:
    values: dict[str, float]
    per_step: dict[str, np.ndarray]
    unavailable: dict[str, str]


def _late_stance_vibration(analysis: Analysis, run: pd.DataFrame) -> tuple[np.ndarray | None, str | None]:
    session = analysis.session
    fs = session.sampling_rate_hz
    if fs < 90.0:
        return None, f"the sampling rate ({fs:g} Hz) is too low for the 20-45 Hz surface band"
    cut = declared_lowpass_hz(session.meta)
    if cut is not None and cut < 45.0:
        return None, f"the recording was low-pass filtered at {cut:g} Hz, which removes the 20-45 Hz surface band"
    if run.empty:
        return None, "no valid running steps"
    x = np.nan_to_num(analysis.signals.acc[:, 0])
    y = np.zeros_like(x)
    sos = stance_vibration_sos(fs)  # rules: gait.core.filters
    for seg in session.segments():
        if seg.stop - seg.start > 60:
            y[seg] = sosfiltfilt(sos, x[seg])
    c = np.concatenate([[0.0], np.cumsum(y * y)])
    t = session.t
    ic = run["ic_s"].to_numpy(float)
    tc = (run["to_s"] - run["ic_s"]).to_numpy(float)
    a = np.searchsorted(t, ic + 0.35 * tc)
    b = np.searchsorted(t, ic + 0.85 * tc)
    n = np.maximum(b - a, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rms = np.sqrt((c[b] - c[a]) / n)
    rms = np.where(n >= 2, rms, np.nan)
    if np.isfinite(rms).any() and float(np.nanmedian(rms)) < 0.005:
        return (
            None,
            "the signal holds almost no energy above 20 Hz (it was low-pass filtered before it reached the product)",
        )
    return rms, None


def _rolling_robust_cv_pct(x: np.ndarray, window: int) -> np.ndarray:
    s = pd.Series(x)
    r = s.rolling(window, center=True, min_periods=max(window // 2, 8))
    med = r.median().to_numpy()
    iqr = (r.quantile(0.75) - r.quantile(0.25)).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * iqr / med


def _timing_metrics(run: pd.DataFrame, values: dict[str, float], per_step: dict[str, np.ndarray]) -> None:
    """Stride-time variability and left/right alternation of step and contact time."""
    n = len(run)
    step_no = run["step"].to_numpy(np.int64) if n else np.zeros(0, np.int64)
    bout = run["bout"].to_numpy() if n else np.zeros(0)
    st = run["step_time_s"].to_numpy(float) if n else np.zeros(0)
    nxt = np.zeros(n, bool)
    if n > 1:
        nxt[:-1] = (np.diff(step_no) == 1) & (bout[1:] == bout[:-1])
    stride = np.where(nxt, st + np.roll(st, -1), np.nan)
    key = "derived.stride_time_cv_pct"
    ok = np.isfinite(stride)
    values[key] = float("nan")
    if ok.sum() >= 8:
        # local variability (31-step windows), so that a change of pace does not count
        sr = pd.Series(stride).rolling(min(31, n), center=True, min_periods=8)
        local = (100.0 * sr.std() / sr.mean()).to_numpy()
        per_step[key] = local
        if np.isfinite(local).any():
            values[key] = float(np.nanmedian(local))
    for col, key in (
        ("step_time_s", "derived.step_time_alternation_pct"),
        ("contact_time_s", "derived.contact_time_alternation_pct"),
    ):
        diffs, weights, level = [], [], []
        for _, b in run.groupby("bout", sort=False):
            x = b[col].to_numpy(float)
            par = b["step"].to_numpy(np.int64) % 2
            even, odd = x[(par == 0) & np.isfinite(x)], x[(par == 1) & np.isfinite(x)]
            if even.size >= 3 and odd.size >= 3:
                diffs.append(abs(float(np.median(even) - np.median(odd))))
                weights.append(even.size + odd.size)
                level.append(float(np.median(x[np.isfinite(x)])))
        if diffs:
            w = np.asarray(weights, float)
            values[key] = float(100.0 * np.average(diffs, weights=w) / np.average(level, weights=w))
        else:
            values[key] = float("nan")


def _foot_strike_metrics(analysis: Analysis, run: pd.DataFrame, values: dict[str, float], unav: dict[str, str]) -> None:
    """``derived.rearfoot_share`` and ``derived.foot_strike_confidence``, or why not."""
    summary = analysis.summary
    conf = float(summary.get("foot_strike_confidence", 0.0) or 0.0)
    values["derived.foot_strike_confidence"] = conf
    strike = np.asarray(run["foot_strike"], dtype=object) if len(run) else np.zeros(0, object)
    decided = np.isin(strike, ["rearfoot", "midfoot", "forefoot"])
    if summary.get("foot_strike", "uncertain") != "uncertain" and decided.sum() >= 5:
        values["derived.rearfoot_share"] = float(np.mean(strike[decided] == "rearfoot"))
        return
    values["derived.rearfoot_share"] = float("nan")
    tr = run["impact_transient_bw"].to_numpy(float) if "impact_transient_bw" in run and len(run) else np.zeros(0)
    if np.isfinite(tr).sum() >= 5:
        unav["foot_strike"] = (
            f"the landing's impact transient (median {np.nanmedian(tr):.2f} body weights) does not stand clear "
            f"of the stance's own vibration, so this run's foot strike is undecided (confidence {conf:.2f})"
        )
    else:
        unav["foot_strike"] = "too few running steps to tell the foot strike"


def derived_metrics(analysis: Analysis) -> _Derived:
    """The metrics this module derives from an analysis (see the module docstring).

    Returns run values (``derived.<name>``), per-step series aligned with
    ``analysis.running_steps``, and the reason for each that could not be computed.
    """
    run = analysis.running_steps
    values: dict[str, float] = {}
    per_step: dict[str, np.ndarray] = {}
    unav: dict[str, str] = {}
    vib, why = _late_stance_vibration(analysis, run)
    key = "derived.late_stance_vibration_mps2"
    if vib is None:
        unav["vibration"] = why or "not available"
        values[key] = float("nan")
    else:
        per_step[key] = vib
        values[key] = float(np.nanmedian(vib)) if np.isfinite(vib).any() else float("nan")
    _timing_metrics(run, values, per_step)
    _foot_strike_metrics(analysis, run, values, unav)
    series = []
    window = int(min(31, max(len(run), 1)))
    angles = ("roll_range_deg", "yaw_range_deg")
    # both angles or none: the metric is defined as their average (its evidence names both)
    if not any(col in analysis.unavailable for col in angles):
        for col in angles:
            x = run[col].to_numpy(float)
            if np.isfinite(x).sum() >= 8:
                series.append(_rolling_robust_cv_pct(x, window))
    key = "derived.trunk_angle_variability_pct"
    values[key] = float("nan")
    if len(series) < len(angles):
        series = []
        reasons = [analysis.unavailable[c] for c in angles if c in analysis.unavailable]
        unav["trunk_angles"] = " and ".join(dict.fromkeys(reasons)) if reasons else "too few steps with trunk angles"
    if series:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN edges give NaN, as intended
            local = np.nanmean(np.vstack(series), axis=0)
        per_step[key] = local
        if np.isfinite(local).any():
            values[key] = float(np.nanmedian(local))
    return _Derived(values, per_step, unav)


# ---------------------------------------------------------------------------------------
# the evaluation context
# ---------------------------------------------------------------------------------------
def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        elif isinstance(v, bool):
            continue
        elif isinstance(v, int | float | np.floating | np.integer):
            out[key] = float(v)
    return out


@dataclass(frozen=True)
class _Ctx:
    analysis: Analysis
    run: pd.DataFrame
    t: np.ndarray
    n: int
    running_s: float
    metrics: dict[str, float]
    per_step: dict[str, np.ndarray]
    unavailable: dict[str, str]
    history: History | None
    elevation: ElevationTrack | None
    history_reason: str

    def step_values(self, column: str | None) -> np.ndarray | None:
        if column is None:
            return None
        if column in self.per_step:
            return self.per_step[column]
        if column in self.run.columns:
            return self.run[column].to_numpy(float)
        return None


def _context(
    analysis: Analysis, history: History | None, elevation: ElevationTrack | None, history_reason: str | None
) -> _Ctx:
    run = analysis.running_steps.sort_values("ic_s")
    der = derived_metrics(analysis)
    metrics = _flatten(analysis.summary)
    metrics.update(der.values)
    unav = dict(analysis.unavailable)
    unav.update(der.unavailable)
    if "side" not in unav and len(run) and not run["side"].isin(["L", "R"]).any():
        unav["side"] = "the side of each step could not be determined"
    running_s = float(analysis.summary.get("running_s", 0.0) or 0.0)
    return _Ctx(
        analysis=analysis,
        run=run,
        t=run["ic_s"].to_numpy(float),
        n=len(run),
        running_s=running_s,
        metrics=metrics,
        per_step=der.per_step,
        unavailable=unav,
        history=history,
        elevation=elevation,
        history_reason=history_reason or "no run history was given",
    )


# ---------------------------------------------------------------------------------------
# rule evaluation
# ---------------------------------------------------------------------------------------
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


def _check_requires(rule: Rule, ctx: _Ctx) -> _Result | None:
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


def _step_periods(rule: Rule, ctx: _Ctx, steps: np.ndarray) -> tuple[tuple, float | None]:
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


def _minute_periods(rule: Rule, ctx: _Ctx) -> tuple:
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


def _eval_threshold(rule: Rule, ctx: _Ctx) -> _Result:
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


def _warmup_end_s(ctx: _Ctx) -> float:
    w = ctx.analysis.summary.get("warmup") or {}
    easy = float(w.get("easy_minutes", 0) or 0)
    t0 = float(ctx.t[0]) if ctx.n else 0.0
    m = ctx.analysis.minutes
    m0 = float(m["start_s"].iloc[0]) if len(m) else t0
    return max(t0 + 120.0, m0 + 60.0 * easy)


def _eval_drift(rule: Rule, ctx: _Ctx) -> _Result:
    miss = _check_requires(rule, ctx)
    if miss is not None:
        return miss
    x = ctx.step_values(rule.metric)
    if x is None:
        return _unavailable(rule, f"{rule.label}: not in the step table", None)
    t = ctx.t
    after = t >= _warmup_end_s(ctx)
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


def _surge_index(run: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
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


def _eval_surges(rule: Rule, ctx: _Ctx) -> _Result:
    t, s = _surge_index(ctx.run)
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


def _eval_warmup(rule: Rule, ctx: _Ctx) -> _Result:
    """No warm-up: too little walking and easy running before full effort (`metrics._warmup`).

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


def _grades(ctx: _Ctx) -> tuple[np.ndarray | None, str]:
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


def _eval_downhill(rule: Rule, ctx: _Ctx) -> _Result:
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


def _eval_history(rule: Rule, ctx: _Ctx) -> _Result:
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


def _eval_baseline(rule: Rule, ctx: _Ctx) -> _Result:
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


_EVALUATORS = {
    "threshold": _eval_threshold,
    "drift": _eval_drift,
    "surges": _eval_surges,
    "warmup": _eval_warmup,
    "downhill": _eval_downhill,
    "baseline": _eval_baseline,
    **dict.fromkeys(_HISTORY_KINDS, _eval_history),
}


# ---------------------------------------------------------------------------------------
# faults
# ---------------------------------------------------------------------------------------
def _combine(spec: FaultSpec, results: list[_Result]) -> tuple[int, list[_Result]]:
    """Severity level of a fault from its rules' results, and the results that set it."""
    avail = [r for r in results if r.available and r.rule.role != "baseline"]
    if spec.combine == "agreement":
        level = 0
        for lv in (3, 2, 1):
            agree = [r for r in avail if r.level >= lv]
            if len(agree) >= spec.min_agree:
                level = lv
                break
        drivers = [r for r in avail if r.level >= max(level, 1)]
    else:
        prim = [r for r in avail if r.rule.role == "primary"]
        sup = [r for r in avail if r.rule.role == "support"]
        level = max((r.level for r in prim), default=0)
        drivers = [r for r in prim if r.level == level and level > 0]
        if level > 0 and any(r.level >= 2 for r in sup):
            level = min(level + 1, 3)
        elif level == 0 and len(sup) >= 2 and all(r.level >= 1 for r in sup):
            level = 1
            drivers = list(sup)
        drivers += [r for r in sup if r.level > 0 and r not in drivers]
    base = [r for r in results if r.available and r.rule.role == "baseline" and r.level > 0]
    if base:
        b = max(r.level for r in base)
        if b > level:
            level = b
        drivers += base
    level = min(level, SEVERITIES.index(spec.max_severity))
    return level, drivers


def _assess_fault(spec: FaultSpec, ctx: _Ctx) -> tuple[Finding | None, list[Note]]:
    notes: list[Note] = []
    sensor_needed = spec.detection == "sensor" or any(
        r.kind in ("threshold", "drift", "surges", "warmup") for r in spec.rules
    )
    if sensor_needed and ctx.n == 0:
        return None, [
            Note(spec.id, spec.name, "cannot_assess", "no valid running steps in this recording", NEEDS["running"])
        ]
    if ctx.running_s < spec.min_running_s:
        return None, [
            Note(
                spec.id,
                spec.name,
                "cannot_assess",
                f"needs at least {spec.min_running_s / 60:g} min of running (this recording has {ctx.running_s / 60:.1f} min)",
                NEEDS["duration"],
            )
        ]
    results = [
        (_check_requires(r, ctx) or _EVALUATORS[r.kind](r, ctx))
        if not r.only_without or any(k in ctx.unavailable for k in r.only_without)
        else _Result(r, False, skipped=True)
        for r in spec.rules
    ]
    results = [r for r in results if not r.skipped]
    detecting = [r for r in results if r.rule.role != "baseline"]
    usable = [r for r in detecting if r.available]
    primaries_ok = any(r.available and r.rule.role in ("primary",) for r in detecting)
    enough = len(usable) >= spec.min_agree if spec.combine == "agreement" else primaries_ok
    missing = [r for r in detecting if not r.available]
    if not enough:
        if missing and all(r.needs == NEEDS["history"] for r in missing):
            return None, [Note(spec.id, spec.name, "cannot_assess", ctx.history_reason, NEEDS["history"])]
        reasons, needs = _note_text(missing)
        return None, [Note(spec.id, spec.name, "cannot_assess", reasons or "no usable measurement", needs)]
    if missing:
        reasons, needs = _note_text(missing)
        notes.append(Note(spec.id, spec.name, "partial", reasons, needs))
    level, drivers = _combine(spec, results)
    if level == 0:
        return None, notes
    lead = drivers[0] if drivers else max(usable, key=lambda r: r.level)
    conf = float(np.mean([r.confidence for r in drivers])) if drivers else lead.confidence
    conf = round(float(min(max(conf, 0.0), 1.0)), 2)
    periods: list[tuple[float, float]] = []
    for r in drivers:
        periods.extend(r.periods)
    periods = _merge(periods)
    evidence = [r.evidence for r in drivers if r.evidence is not None]
    # always show the primary numbers, even when a support or baseline rule set the level
    for r in usable:
        if r.evidence is not None and r.rule.role == "primary" and r.evidence not in evidence:
            evidence.append(r.evidence)
    share = next((r.share for r in drivers if r.share is not None), None)
    excess = _excess(lead.rule, lead.worse, min(lead.level, level) or 1)
    headline = f"{spec.name}: {lead.evidence.label} {lead.evidence.display}" if lead.evidence else spec.name
    finding = Finding(
        fault=spec.id,
        name=spec.name,
        severity=SEVERITIES[level],
        confidence=conf,
        cue=spec.cue,
        headline=headline,
        evidence=tuple(evidence),
        periods_s=tuple(periods),
        share_of_steps=None if share is None else round(float(share), 3),
        causes=spec.causes,
        advice=spec.advice,
        documents=spec.sources,
        limitations=spec.limitations,
        score=rank_score(SEVERITIES[level], conf, excess),
        margin=round(float(excess), 3),
    )
    return finding, notes


def _note_text(missing: list[_Result]) -> tuple[str, str | None]:
    """One reason and one 'needs' for several unavailable rules (merged when they share a cause)."""
    causes = list(dict.fromkeys(r.cause for r in missing))
    reasons = causes[0] if len(causes) == 1 else "; ".join(dict.fromkeys(r.reason for r in missing))
    needs = "; ".join(dict.fromkeys(r.needs for r in missing if r.needs)) or None
    return reasons, needs


def _merge(periods: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(periods):
        if out and a <= out[-1][1] + 1.0:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(round(a, 2), round(b, 2)) for a, b in out]


def assess(
    analysis: Analysis,
    *,
    history: History | None = None,
    elevation: ElevationTrack | None = None,
    catalogue: Catalogue | None = None,
    history_reason: str | None = None,
) -> Assessment:
    """Assess every fault of the catalogue on an analysis.

    Parameters
    ----------
    analysis
        From `gait.analyze`: a whole run, or a window of a few seconds (live).
    history
        Earlier runs of this runner and this run's record (`gait.history.History`); enables
        training load, shoe wear and personal baselines.
    elevation
        An elevation track (`read_elevation`); makes downhill detection exact.
    catalogue
        Another catalogue (default: the shipped `CATALOGUE`).
    history_reason
        Why there is no history (shown in the notes), e.g. "history is off (--no-history)".

    Returns
    -------
    Assessment
        Findings ranked by `rank_score` (severity, then confidence, then margin); notes for
        faults that could not be assessed (with the reason and what input would make them
        possible); ids checked and absent.
    """
    cat = catalogue or CATALOGUE
    ctx = _context(analysis, history, elevation, history_reason)
    findings: list[Finding] = []
    notes: list[Note] = []
    checked: list[str] = []
    for spec in cat.faults:
        f, ns = _assess_fault(spec, ctx)
        notes.extend(ns)
        if f is not None:
            findings.append(f)
        elif not any(n.status == "cannot_assess" for n in ns):
            checked.append(spec.id)
    present = {f.fault for f in findings}
    kept = []
    for f in findings:
        by = [s for s in cat[f.fault].suppressed_by if s in present]
        if by:
            names = ", ".join(cat[s].name.lower() for s in by)
            notes.append(Note(f.fault, f.name, "not_reported", f"the same signal is explained by {names}"))
        else:
            kept.append(f)
    return Assessment(
        findings=tuple(ranked(kept)), notes=tuple(notes), checked=tuple(checked), catalogue_version=cat.version
    )


def evaluate(
    analysis: Analysis,
    *,
    history: History | None = None,
    elevation: ElevationTrack | None = None,
) -> list[Finding]:
    """The faults found in a run (or a live window), most important first.

    ``evaluate(analysis)`` is `assess` without the notes; see `assess` for the parameters.
    The live dashboard shows ``[f.cue for f in evaluate(window_analysis)]``.
    """
    return list(assess(analysis, history=history, elevation=elevation).findings)
