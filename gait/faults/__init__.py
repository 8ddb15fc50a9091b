"""Form faults: the catalogue, the rules, and the findings of a run.

What the product looks for is data, not code: ``gait/data/faults.toml`` holds one entry per
fault (the metrics, the rule and its published source, the severity levels, the causes and the
advice in the product's own words with the documents they come from, and a short live cue).
It is loaded and validated when this package is imported (`CATALOGUE`); a broken entry raises
`GaitInputError` naming the entry and the field. This package only implements the few *kinds*
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

The package: `._kinds` (the catalogue's vocabulary), `._types` and `._catalogue` (the catalogue
and its loader), `._derived` (the derived metrics), `._context` (what the rules see),
`._rules` and `._history_rules` (one evaluator per kind of rule), `._results` (findings, notes)
and `._assess` (`assess`, `evaluate`).
"""

from __future__ import annotations

from ..core.quality import declared_lowpass_hz
from ..tracks import Track as ElevationTrack
from ..tracks import read_elevation
from ._assess import assess, evaluate
from ._catalogue import CATALOGUE, load_catalogue
from ._context import EvaluationContext, evaluation_context
from ._derived import derived_metrics
from ._kinds import (
    DERIVED_REQUIRES,
    DISPLAYS,
    DOCUMENTS,
    NEEDS,
    RULE_KINDS,
    SEVERITIES,
    SUMMARY_SCALARS,
    TYPICAL_SPEED_MPS,
    WARMUP_EASY_RATIO,
    format_value,
    implied_requirements,
    known_metrics,
)
from ._results import Assessment, Evidence, Finding, Note, rank_score, ranked
from ._rules import surge_index, warmup_end_s
from ._types import Catalogue, Document, FaultSpec, Rule, Text, UnseenCause

__all__ = [
    "CATALOGUE",
    "DERIVED_REQUIRES",
    "DISPLAYS",
    "DOCUMENTS",
    "NEEDS",
    "RULE_KINDS",
    "SEVERITIES",
    "SUMMARY_SCALARS",
    "TYPICAL_SPEED_MPS",
    "WARMUP_EASY_RATIO",
    "Assessment",
    "Catalogue",
    "Document",
    "ElevationTrack",
    "EvaluationContext",
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
    "evaluation_context",
    "format_value",
    "implied_requirements",
    "known_metrics",
    "load_catalogue",
    "rank_score",
    "ranked",
    "read_elevation",
    "surge_index",
    "warmup_end_s",
]
