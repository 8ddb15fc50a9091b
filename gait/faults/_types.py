"""The catalogue's types: texts with their documents, rules, faults and the catalogue."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from ._kinds import SEVERITIES, format_value


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
