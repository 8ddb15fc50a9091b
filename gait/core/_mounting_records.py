"""What the mounting and heading estimation returns (`gait.core.mounting`): the heading of
each segment, the run's heading, the mounting estimate; typed, frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Below this forward confidence the direction is not trusted: every metric whose value or
#: sign depends on it (lean, lateral lean, pelvic drop, braking, the side from the
#: medio-lateral axis) is reported unavailable. Chosen on the simulator (correct estimates
#: score 0.55-0.95) and checked on real walking (``benchmarks/heading.py``).
FORWARD_MIN_CONFIDENCE = 0.35


@dataclass(frozen=True)
class HeadingSegment:
    """One straight stretch of walking or running and what it says about forward.

    Attributes
    ----------
    start_s, end_s
        Where the stretch lies (seconds from the first sample).
    activity
        ``"running"`` or ``"walking"`` (which sign rule applies).
    forward
        Its forward direction, sensor coordinates (unit, horizontal).
    clarity
        ``1 - minor / major`` of the step-periodic horizontal acceleration (0..1).
    sign_strength
        Correlation of the forward acceleration with the vertical velocity, with the sign the
        activity predicts (+: consistent). Its size is how clearly the stretch fixed the sign.
    """

    start_s: float
    end_s: float
    activity: str
    forward: np.ndarray
    clarity: float
    sign_strength: float

    def to_dict(self) -> dict:
        return {
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "activity": self.activity,
            "forward": np.round(self.forward, 6).tolist(),
            "clarity": round(self.clarity, 4),
            "sign_strength": round(self.sign_strength, 4),
        }


@dataclass(frozen=True)
class HeadingEstimate:
    """The forward direction in sensor coordinates, from every straight stretch, combined.

    Attributes
    ----------
    forward
        Unit vector, horizontal (perpendicular to the vertical used).
    confidence
        0..1, the smaller of `axis_confidence` and `sign_confidence`; compare with
        `FORWARD_MIN_CONFIDENCE`.
    axis_confidence
        How clearly and consistently the stretches found the antero-posterior line.
    sign_confidence
        How strongly and consistently they found which way along it is forward.
    segments
        The stretches used.
    turns
        Turns detected (gyroscope only).
    spread_deg
        Weighted spread of the stretches' axes around the combined one (deg).
    """

    forward: np.ndarray
    confidence: float
    axis_confidence: float
    sign_confidence: float
    segments: tuple[HeadingSegment, ...] = ()
    turns: int = 0
    spread_deg: float = float("nan")

    @property
    def trusted(self) -> bool:
        """Whether the direction is good enough for the metrics that depend on it."""
        return self.confidence >= FORWARD_MIN_CONFIDENCE

    def to_dict(self) -> dict:
        return {
            "forward": np.round(self.forward, 6).tolist(),
            "confidence": round(float(self.confidence), 4),
            "axis_confidence": round(float(self.axis_confidence), 4),
            "sign_confidence": round(float(self.sign_confidence), 4),
            "min_confidence": FORWARD_MIN_CONFIDENCE,
            "trusted": self.trusted,
            "turns": int(self.turns),
            "spread_deg": None if not np.isfinite(self.spread_deg) else round(float(self.spread_deg), 2),
            "segments": [g.to_dict() for g in self.segments],
        }


@dataclass(frozen=True)
class MountingEstimate:
    """Sensor-to-body rotation and how it was obtained.

    Attributes
    ----------
    rotation
        3x3 matrix whose rows are the body axes (``v``, ``ap``, ``ml``) expressed in sensor
        coordinates: ``body = sensor @ rotation.T``.
    vertical_source
        ``"standing"`` (a still posture; lean is measured against it) or ``"activity"`` (mean
        posture while moving; lean is unavailable).
    forward_source
        ``"running"``, ``"walking"`` or ``"none"`` (no periodic activity: forward unknown).
    forward_confidence
        0..1 (`HeadingEstimate.confidence`); 1 for a stored or given mounting.
    still_s, moving_s
        Seconds of data each estimate used.
    heading
        The forward estimate in detail (``None`` for a stored or given mounting).
    """

    rotation: np.ndarray
    vertical_source: str
    forward_source: str
    forward_confidence: float
    still_s: float
    moving_s: float
    heading: HeadingEstimate | None = field(default=None, repr=False)

    @property
    def has_lean_reference(self) -> bool:
        return self.vertical_source == "standing"

    @property
    def forward_trusted(self) -> bool:
        """Forward is known well enough (a stored / given mounting, or a confident estimate)."""
        if self.forward_source == "none":
            return False
        return self.heading is None or self.heading.trusted

    def to_dict(self) -> dict:
        out = {
            "rotation": np.round(self.rotation, 12).tolist(),
            "vertical_source": self.vertical_source,
            "forward_source": self.forward_source,
            "forward_confidence": round(float(self.forward_confidence), 4),
            "still_s": round(float(self.still_s), 3),
            "moving_s": round(float(self.moving_s), 3),
        }
        if self.heading is not None:
            out["heading"] = self.heading.to_dict()
        return out
