"""What an assessment returns: evidence, findings (ranked), notes and the assessment."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ._kinds import SEVERITIES
from ._types import Text


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
