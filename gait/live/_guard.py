"""The recorder's last line of defence: no sample the session loader would refuse reaches the file.

The decoders already drop NaN and infinite values (`firmware_protocol.devices`), but the file
is what a run is kept in, so the recorder checks every sample once more before it is indexed,
written, shown or analysed. `SampleGuard.clean` drops a sample when

- its device time, an acceleration or an angular-rate value is NaN or infinite: the loader
  refuses a file with such a line ("missing or non-finite value"), so one bad sample would
  make the whole run unreadable;
- its acceleration is beyond `MAX_ACC_MPS2` (64 g, four times the +-16 g of the widest range
  of any supported sensor) or its angular rate beyond `MAX_GYR_RADS` (35 rad/s, 2000 deg/s,
  the largest range of any supported sensor): no lumbar sensor measures that, so the value is
  corruption. The loader takes a file whose 99th-percentile angular rate exceeds 35 rad/s for
  deg/s mislabelled as rad/s and refuses it, so such values must not reach the file either.

A dropped sample is never written and never invented: it becomes part of a gap before the next
kept sample (reason ``"invalid"`` unless the gap has a cause of its own, e.g. ``"loss"``), so
the sample times of everything after it stay exact, the file shows the hole, and the
recording's JSON lists it.
"""

from __future__ import annotations

import numpy as np

from firmware_protocol.samples import DecodedSamples
from gait.constants import G

__all__ = ["MAX_ACC_MPS2", "MAX_GYR_RADS", "SampleGuard"]

#: Largest acceleration magnitude kept, m/s^2 (64 g).
MAX_ACC_MPS2 = 64.0 * G
#: Largest angular-rate magnitude kept, rad/s (2000 deg/s; see the module docstring).
MAX_GYR_RADS = 35.0


class SampleGuard:
    """Drop samples the file must not hold and turn them into declared gaps (see the module).

    Parameters
    ----------
    max_acc_mps2, max_gyr_rads
        Largest magnitudes kept.

    Attributes
    ----------
    nonfinite, out_of_range
        Samples dropped so far for each cause.
    """

    def __init__(self, *, max_acc_mps2: float = MAX_ACC_MPS2, max_gyr_rads: float = MAX_GYR_RADS) -> None:
        self.max_acc_mps2 = float(max_acc_mps2)
        self.max_gyr_rads = float(max_gyr_rads)
        self.nonfinite = 0
        self.out_of_range = 0
        # a gap still to be declared: samples dropped at the end of the last block
        self._carry_lost = 0
        self._carry_gap = False
        self._carry_reason: str | None = None
        self._carry_epoch = False

    @property
    def dropped(self) -> int:
        """Samples dropped so far."""
        return self.nonfinite + self.out_of_range

    def clean(self, d: DecodedSamples) -> DecodedSamples:
        """``d`` without the samples the file must not hold; their places become gaps."""
        m = d.n_samples
        if m == 0:
            return d
        t = np.asarray(d.t_s, dtype=np.float64)
        acc = np.asarray(d.acc_mps2, dtype=np.float64)
        gyr = None if d.gyr_rads is None else np.asarray(d.gyr_rads, dtype=np.float64)
        finite = np.isfinite(t) & np.isfinite(acc).all(axis=1)
        if gyr is not None:
            finite &= np.isfinite(gyr).all(axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            in_range = np.sqrt(np.sum(acc**2, axis=1)) <= self.max_acc_mps2
            if gyr is not None:
                in_range &= np.sqrt(np.sum(gyr**2, axis=1)) <= self.max_gyr_rads
        keep = finite & in_range
        self.nonfinite += int((~finite).sum())
        self.out_of_range += int((finite & ~in_range).sum())

        marker = np.asarray(d.gap_before, dtype=bool)
        pos = np.flatnonzero(marker)
        lost = np.zeros(m, dtype=np.int64)
        lost[pos] = np.maximum(np.asarray(d.samples_lost, dtype=np.int64), 0)  # never a negative hole
        reason: list[str | None] = [None] * m
        for p, r in zip(pos, d.reasons):
            reason[p] = r
        if keep.all() and not self._carry_gap and not self._carry_epoch:
            if np.array_equal(lost[pos], np.asarray(d.samples_lost, dtype=np.int64)):
                return d
            return DecodedSamples.with_holes(
                d.t_s, d.acc_mps2, d.gyr_rads, marker, [int(k) for k in lost[pos]], d.reasons, new_epoch=d.new_epoch
            )

        # each kept sample absorbs the dropped samples (and their own gaps) since the previous kept one
        cost = lost + (~keep).astype(np.int64)
        flag = marker | ~keep
        kept = np.flatnonzero(keep)
        out_lost: list[int] = []
        out_reason: list[str] = []
        out_marker = np.zeros(kept.size, dtype=bool)
        start = 0
        for j, k in enumerate(kept):
            run = slice(start, k + 1)
            total = int(cost[run].sum())
            has_gap = bool(flag[run].any())
            why = next((r for r in reason[run] if r is not None), None)
            if j == 0 and self._carry_gap:
                total += self._carry_lost
                has_gap = True
                why = self._carry_reason or why
                self._carry_lost, self._carry_gap, self._carry_reason = 0, False, None
            if has_gap:
                out_marker[j] = True
                out_lost.append(total)
                out_reason.append(why or "invalid")
            start = int(k) + 1
        new_epoch = d.new_epoch or self._carry_epoch
        self._carry_epoch = new_epoch and kept.size == 0  # the clock restart applies to the next kept sample
        tail = slice(start, m)
        if start < m:  # dropped samples at the end: the next block's first sample carries them
            self._carry_lost += int(cost[tail].sum())
            self._carry_gap = True
            self._carry_reason = self._carry_reason or next((r for r in reason[tail] if r is not None), None)
        return DecodedSamples.with_holes(
            t[keep],
            acc[keep],
            None if gyr is None else gyr[keep],
            out_marker,
            out_lost,
            out_reason,
            new_epoch=new_epoch and kept.size > 0,
        )
