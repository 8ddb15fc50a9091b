"""Per-step metrics, per-minute and per-run summaries (columns: ``docs/tables.md``).

All per-step quantities are computed at once for every step with "ragged" reductions: the
samples of all steps are gathered into one flat array with an owner index, and maxima, minima
and sums are taken with ``np.maximum.reduceat`` and friends. No Python loop runs per step or
per sample.

Definitions (level frame, see `gait.core.frames`):

- *Vertical oscillation*: max - min of the sensor's height from a contact to the next. The
  height comes from the vertical acceleration (vertical specific force minus the measured
  gravity magnitude, which absorbs sensor scale and bias) integrated twice over the whole bout,
  each integral with its linear trend and its content below `gait.core._steps.HEIGHT_HIGHPASS_HZ` removed
  (`_height`). The extremes (mid-stance, mid-flight) lie well inside the step, so the value
  does not depend on where the contacts are placed.
- *Impact peak*: the largest vertical acceleration (gravity removed) in the first 25 % of
  stance; *loading rate*: its rise from the flight level divided by the time from contact.
- *Foot strike*: the landing's collision transient, the largest excess of the vertical
  specific force over its own 10 Hz low-pass in the first 25 % of stance, in body weights:
  ``rearfoot`` from 0.6, ``forefoot`` below 0.2, ``midfoot`` between, each decided only when
  it stands three times the stance's own vibration (40-80 % of stance) clear of the class
  boundaries, else ``uncertain`` (`classify_foot_strike`).
- *Braking*: the antero-posterior acceleration with the step's mean removed; its most negative
  value in stance (peak deceleration) and the forward speed lost from contact to its lowest
  point in stance.
- *Lean*: mean pitch over the step minus the standing reference. *Lateral lean*: mean roll
  over the stride. *Pelvic drop*: the largest roll excursion in stance towards the swing side,
  relative to the stride's mean. *Roll / yaw range*: max - min over the stride.
- *Step / stride regularity*: correlation of the vertical acceleration over the stride from
  the contact with itself one step (one stride) later (Moe-Nilssen & Helbostad 2004, computed
  per step). A step regularity well below the stride regularity means the left
  and right steps differ.

Notes
-----
Vertical oscillation by double integration of the vertical acceleration with a zero-phase
high-pass after each integration, as Zijlstra & Hof (2003) did for walking. Deviations: a
2nd-order Butterworth run forward and backward at 0.3 Hz (theirs: 4th order; the cutoff is
this project's, set from the stride frequency), the linear trend removed before each filter,
over each bout rather than the whole recording (a change of gait shifts the mean height), the
bout extended at each end by repeating its first and last stride (so the filter's ends fall
outside the steps), and the range taken per step. The force-plate reference integrates
``(F / BW - 1) g`` twice (Cavagna 1975). There
is no published, validated method for foot-strike type from a trunk sensor. The physical basis:
heel-first landings produce a distinct impact transient in the vertical force, forefoot
landings none and midfoot landings a small one (Lieberman et al. 2010, Nature 463:531-535);
loading rates fall from rearfoot to forefoot (Almeida, Davis & Lopes 2015, J Orthop Sports
Phys Ther 45:738-755). Deviations: the class bands are this project's, set on its simulator;
on real sacral recordings the transient moves with slope and speed as much as with the strike,
which the decision rule (a margin over the stance's own vibration) answers with ``uncertain``
rather than a class (measured in ``benchmarks/accuracy.py``).
"""

from __future__ import annotations

from ._columns import ASYMMETRY_METRICS, STEP_COLUMNS, STEP_METRICS
from ._minutes import MINUTE_COLUMNS, minute_table
from ._steps import step_table
from ._summary import run_summary

__all__ = [
    "ASYMMETRY_METRICS",
    "MINUTE_COLUMNS",
    "STEP_COLUMNS",
    "STEP_METRICS",
    "minute_table",
    "run_summary",
    "step_table",
]
