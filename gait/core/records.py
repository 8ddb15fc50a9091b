"""Typed records passed between the analysis stages (``docs/tables.md`` documents each field).

The run summary, its warm-up and surges, the frame information and the metrics the data could
not support are frozen dataclasses: their fields are fixed, typed and documented here, and a
misspelt field is an error where it is made rather than a silently missing value where it is
read. Each record also reads like a read-only mapping (``summary["median"]["cadence_spm"]``,
``summary.get("distance_m")``, ``dict(summary)``) because the JSON report, the batch tables and
the findings' context address the same values by their documented key paths; `to_dict` gives
the plain nested dict.

The minute signals are per-sample arrays handed from the pipeline to `gait.core.metrics.minute_table`.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "BridgedGaps",
    "FrameInfo",
    "MinuteSignals",
    "RunSummary",
    "Surge",
    "Unavailable",
    "Warmup",
]

_NAN = math.nan


class _Record(Mapping[str, Any]):
    """Read-only mapping access to a frozen dataclass' fields (in declaration order); a field
    whose value is None (not applicable) is absent from the mapping view, as it is from the
    JSON."""

    __slots__ = ()

    def __getitem__(self, key: str) -> Any:
        if key in self._field_names():
            v = getattr(self, key)
            if v is not None:
                return v
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (k for k in self._field_names() if getattr(self, k) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    @classmethod
    def _field_names(cls) -> tuple[str, ...]:
        names = cls.__dict__.get("_names")
        if names is None:
            names = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
            cls._names = names  # type: ignore[attr-defined]
        return names

    def to_dict(self) -> dict[str, Any]:
        """The record as plain nested dicts and lists (records inside converted too; fields that
        are None left out)."""
        return {k: _plain(v) for k, v in self.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, _Record):
        return v.to_dict()
    if isinstance(v, Mapping):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    return v


@dataclass(frozen=True, eq=True)
class Warmup(_Record):
    """How the run started (`gait.core.metrics.run_summary`; ``docs/tables.md``, "warm-up")."""

    warmup_s: float = _NAN  #: walking plus easy running before full effort, s
    walking_before_s: float = _NAN  #: walking before the first running bout, s
    easy_running_s: float = _NAN  #: running below full effort before it, s
    full_effort_s: float = _NAN  #: time full effort was first reached, s
    easy_minutes: int = 0  #: whole minutes of easy running
    first_minute_effort_ratio: float = _NAN  #: first running minute's effort / the run's median
    first_minute_intensity_ratio: float = _NAN  #: the same for the intensity


@dataclass(frozen=True, eq=True)
class Surge(_Record):
    """An abrupt rise of cadence (a 30-step median more than 6 % above the previous minute's)."""

    start_s: float
    end_s: float
    cadence_change_pct: float


@dataclass(frozen=True, eq=True)
class RunSummary(_Record):
    """The run-level summary (`gait.core.metrics.run_summary`; ``docs/tables.md``, "run summary").

    Per-metric groups (``median``, ``iqr``, ``left``, ``right``, ``asymmetry_pct``,
    ``drift_pct``) map a step column of `gait.core.metrics.STEP_METRICS` to its value; NaN when no
    valid running step has it.
    """

    duration_s: float = 0.0
    running_s: float = 0.0
    walking_s: float = 0.0
    still_s: float = 0.0
    steps: int = 0
    running_steps: int = 0
    median: Mapping[str, float] = field(default_factory=dict)
    iqr: Mapping[str, float] = field(default_factory=dict)
    left: Mapping[str, float] = field(default_factory=dict)
    right: Mapping[str, float] = field(default_factory=dict)
    asymmetry_pct: Mapping[str, float] = field(default_factory=dict)
    rearfoot_share: float = _NAN
    midfoot_share: float = _NAN
    forefoot_share: float = _NAN
    side_share: float = _NAN
    side_confidence: float = 0.0
    foot_strike_confidence: float = 0.0
    foot_strike: str = "uncertain"
    step_time_cv_pct: float = _NAN
    step_regularity: float = _NAN
    stride_regularity: float = _NAN
    distance_m: float = _NAN
    drift_pct: Mapping[str, float] = field(default_factory=dict)
    warmup: Warmup | None = None  #: None when the run is too short to tell
    surges: tuple[Surge, ...] = ()
    ml_sway_rms_mps2: float = _NAN
    stance_vibration_mps2: float = _NAN
    intensity_mps2: float = _NAN

    def with_distance(self, distance_m: float) -> RunSummary:
        """The same summary with the running distance of a track."""
        return dataclasses.replace(self, distance_m=float(distance_m))


@dataclass(frozen=True, eq=True)
class BridgedGaps(_Record):
    """Short gaps of the recording bridged for the analysis (`gait.core.pipeline.analyze`)."""

    gaps: int  #: gaps bridged
    filled_s: float  #: time filled in, s
    steps_excluded: int  #: steps touching a filled stretch (``near_gap``), left out of summaries


@dataclass(frozen=True, eq=True)
class FrameInfo(_Record):
    """How the body frame was set up (``Analysis.frame``; ``docs/tables.md``, "frame")."""

    input_frame: str  #: the session's frame as given (``sensor`` or ``body``)
    mounting: Mapping[str, Any] | None = None  #: `gait.core.mounting.MountingEstimate.to_dict`, or None
    lean_reference: str | None = None  #: where the zero of lean comes from
    lean_accuracy: str | None = None  #: why lean is less accurate than usual, if it is
    bridged_gaps: BridgedGaps | None = None


@dataclass(frozen=True, eq=False)
class Unavailable(Mapping[str, str]):
    """Metrics (step or minute columns, or a group: ``forward``, ``side``) the data cannot
    support, each with the reason and what would make it possible. Read-only; empty reasons
    are dropped."""

    reasons: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        clean = {str(k): str(v) for k, v in self.reasons.items() if v}
        object.__setattr__(self, "reasons", types.MappingProxyType(clean))

    def __getitem__(self, key: str) -> str:
        return self.reasons[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.reasons)

    def __len__(self) -> int:
        return len(self.reasons)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.reasons.items())))

    def to_dict(self) -> dict[str, str]:
        """The reasons as a plain dict."""
        return dict(self.reasons)


@dataclass(frozen=True)
class MinuteSignals:
    """Per-sample signals for the minute table's RMS columns (`gait.core.metrics.minute_table`),
    each 1-D and as long as the sample times; None where the data do not support it."""

    intensity: np.ndarray  #: |f| - g, m/s^2
    running_mask: np.ndarray  #: True where the activity is running
    ml: np.ndarray | None = None  #: levelled medio-lateral acceleration, m/s^2 (needs a gyroscope)
    vibration: np.ndarray | None = None  #: 20-45 Hz vertical acceleration in stance, else NaN

    def arrays(self) -> dict[str, np.ndarray]:
        """The signals present, by name."""
        return {
            k: v
            for k, v in (
                ("intensity", self.intensity),
                ("ml", self.ml),
                ("vibration", self.vibration),
                ("running_mask", self.running_mask),
            )
            if v is not None
        }
