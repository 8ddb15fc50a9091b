"""Combining a fault's rules into a finding or a note, and `assess` / `evaluate`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..tracks import Track as ElevationTrack
from ._catalogue import CATALOGUE
from ._context import EvaluationContext, evaluation_context
from ._history_rules import _eval_baseline, _eval_history
from ._kinds import _HISTORY_KINDS, NEEDS, SEVERITIES
from ._results import Assessment, Finding, Note, rank_score, ranked
from ._rules import (
    _check_requires,
    _eval_downhill,
    _eval_drift,
    _eval_surges,
    _eval_threshold,
    _eval_warmup,
    _excess,
    _Result,
)
from ._types import Catalogue, FaultSpec

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..history import History

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


def _assess_fault(spec: FaultSpec, ctx: EvaluationContext) -> tuple[Finding | None, list[Note]]:
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
    ctx = evaluation_context(analysis, history, elevation, history_reason)
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
