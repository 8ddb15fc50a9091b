"""The one block of decoded samples every decoder and live link hands on: `DecodedSamples`,
with the holes (`Gap`) found before its samples."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["DecodedSamples", "Gap"]


@dataclass(frozen=True)
class Gap:
    """Samples missing between two emitted samples.

    Attributes
    ----------
    t_before_s, t_after_s
        Device time of the last sample before and the first sample after the gap, s (NaN
        where there is none: a hole before the block's first sample).
    packets_lost
        Packets missing by sequence number (0 for a device overflow, a restart, or a device
        without sequence numbers).
    samples_lost
        Samples missing according to the time stamps.
    reason
        ``"loss"`` (sequence gap), ``"overflow"`` (device dropped samples), ``"restart"``
        (a new stream started), ``"reconnect"`` (after a reset or a new connection),
        ``"resync"`` (the sequence jumped back without a restart), ``"time"`` (time stamps
        jump), ``"invalid"`` (samples dropped as unusable).
    """

    t_before_s: float
    t_after_s: float
    packets_lost: int
    samples_lost: int
    reason: str


@dataclass(frozen=True, eq=False)
class DecodedSamples:
    """Samples decoded from one or more notifications (possibly none), and the holes before them.

    Attributes
    ----------
    t_s
        Device time of each sample, s (the device's own clock where it sends one, else the
        sample count divided by the configured rate), shape ``(n,)``.
    acc_mps2
        Specific force, m/s^2, sensor frame, ``(n, 3)``.
    gyr_rads
        Angular rate, rad/s, ``(n, 3)``; ``None`` for a device without a gyroscope.
    gap_before
        ``gap_before[i]``: samples are missing right before sample ``i`` (bool, ``(n,)``;
        all False when not given).
    gaps
        One `Gap` per True of ``gap_before``, in order.
    new_epoch
        The device clock may have restarted before these samples (a clock fit must not pair
        across it).
    """

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_rads: np.ndarray | None
    gap_before: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    gaps: tuple[Gap, ...] = ()
    new_epoch: bool = False

    def __post_init__(self) -> None:
        if self.gap_before.size != self.t_s.size:
            object.__setattr__(self, "gap_before", np.zeros(self.t_s.size, dtype=bool))

    @property
    def n_samples(self) -> int:
        return int(self.t_s.size)

    def __len__(self) -> int:
        return self.n_samples

    @property
    def samples_lost(self) -> tuple[int, ...]:
        """Samples missing in each hole, in order."""
        return tuple(g.samples_lost for g in self.gaps)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why each hole is there, in order."""
        return tuple(g.reason for g in self.gaps)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``(t_s, acc_mps2, gyr_rads)``, e.g. for `gait.io.SessionCsvWriter.write`."""
        return self.t_s, self.acc_mps2, self.gyr_rads

    @classmethod
    def with_holes(
        cls,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyr_rads: np.ndarray | None,
        gap_before: np.ndarray,
        samples_lost: Sequence[int],
        reasons: Sequence[str],
        *,
        new_epoch: bool = False,
    ) -> DecodedSamples:
        """A block whose holes are given as counts and reasons (a link without sequence numbers):
        each `Gap` gets its times from the samples around it and no lost packets."""
        t = np.asarray(t_s, dtype=float)
        marker = np.asarray(gap_before, dtype=bool)
        pos = np.flatnonzero(marker)
        gaps = tuple(
            Gap(float(t[p - 1]) if p > 0 else math.nan, float(t[p]), 0, int(k), str(r))
            for p, k, r in zip(pos, samples_lost, reasons, strict=True)
        )
        return cls(t, acc_mps2, gyr_rads, marker, gaps, new_epoch)

    @classmethod
    def empty(cls, *, has_gyro: bool = True) -> DecodedSamples:
        return cls(np.zeros(0), np.zeros((0, 3)), np.zeros((0, 3)) if has_gyro else None)

    @classmethod
    def concat(cls, parts: Iterable[DecodedSamples], *, has_gyro: bool = True) -> DecodedSamples:
        """One block holding several, in order (blocks with neither samples nor holes dropped)."""
        ps = [p for p in parts if p.n_samples or p.gaps]
        if not ps:
            return cls.empty(has_gyro=has_gyro)
        gyrs = [p.gyr_rads for p in ps if p.gyr_rads is not None]
        gyr = np.concatenate(gyrs) if len(gyrs) == len(ps) else None
        return cls(
            np.concatenate([p.t_s for p in ps]),
            np.concatenate([p.acc_mps2 for p in ps]),
            gyr,
            np.concatenate([p.gap_before for p in ps]),
            tuple(g for p in ps for g in p.gaps),
            any(p.new_epoch for p in ps),
        )
