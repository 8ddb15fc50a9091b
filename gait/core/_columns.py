"""The step table's columns and the metrics the summaries use (`gait.core.metrics`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry import METRICS, PYTHON_TYPES, STEP_TABLE, SUMMARISED
from .strike import (  # noqa: F401 (re-exported: the step table's foot-strike columns)
    DECISION_RATIO,
    FOOT_STRIKES,
    FOREFOOT_BELOW_BW,
    REARFOOT_ABOVE_BW,
    classify_foot_strike,
    collision_transient,
    run_foot_strike,
)

#: Metrics whose steps alternate between two levels by side (the sacrum lands lower after one
#: foot than after the other: 0.9-2.2 cm of vertical oscillation on real treadmill running), so
#: that a median over all steps jumps between the two levels with one step more on either side;
#: the run's value is the mean of the two sides' medians when both are known
SIDE_ALTERNATING = ("vertical_oscillation_m", "vertical_ratio_pct")

#: Metrics summarised per minute and per run (medians over valid running steps; `gait.registry`).
STEP_METRICS = list(SUMMARISED)


#: Metrics whose left/right asymmetry the run summary gives (``asymmetry_pct.<metric>``).
ASYMMETRY_METRICS = (
    "contact_time_s",
    "step_time_s",
    "flight_time_s",
    "impact_peak_mps2",
    "braking_peak_mps2",
    "pelvic_drop_deg",
)


def _running_valid(steps: pd.DataFrame) -> np.ndarray:
    """Boolean mask of the valid running steps."""
    return (np.asarray(steps["activity"], dtype=object) == "running") & steps["valid"].to_numpy(bool)


#: The step table's columns, in order, with their types (`gait.registry`, docs/tables.md).
STEP_COLUMNS: dict[str, object] = {name: PYTHON_TYPES[METRICS[name].dtype] for name in STEP_TABLE}
