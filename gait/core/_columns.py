"""The step table's columns and the metrics the summaries use (`gait.core.metrics`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .strike import (  # noqa: F401 (re-exported: the step table's foot-strike columns)
    DECISION_RATIO,
    FOOT_STRIKES,
    FOREFOOT_BELOW_BW,
    REARFOOT_ABOVE_BW,
    classify_foot_strike,
    collision_transient,
    run_foot_strike,
)

#: Metrics summarised per minute and per run (medians over valid running steps).
#: metrics whose steps alternate between two levels by side (the sacrum lands lower after one
#: foot than after the other: 0.9-2.2 cm of vertical oscillation on real treadmill running), so
#: that a median over all steps jumps between the two levels with one step more on either side;
#: the run's value is the mean of the two sides' medians when both are known
SIDE_ALTERNATING = ("vertical_oscillation_m", "vertical_ratio_pct")

STEP_METRICS = [
    "cadence_spm",
    "contact_time_s",
    "flight_time_s",
    "duty_factor",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "impact_peak_mps2",
    "loading_rate_mps3",
    "braking_peak_mps2",
    "braking_velocity_loss_mps",
    "lean_deg",
    "pelvic_drop_deg",
    "lateral_lean_deg",
    "roll_range_deg",
    "yaw_range_deg",
    "step_regularity",
    "stride_regularity",
    "speed_mps",
    "step_length_m",
]


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


#: The step table's columns, in order, with their dtypes (documented in docs/tables.md).
STEP_COLUMNS: dict[str, object] = {
    "step": int,
    "bout": int,
    "activity": object,
    "side": object,
    "side_confidence": float,
    "ic_s": float,
    "to_s": float,
    "step_time_s": float,
    "cadence_spm": float,
    "contact_time_s": float,
    "flight_time_s": float,
    "duty_factor": float,
    "vertical_oscillation_m": float,
    "vertical_ratio_pct": float,
    "impact_peak_mps2": float,
    "loading_rate_mps3": float,
    "impact_transient_bw": float,
    "stance_background_bw": float,
    "collision_bw": float,
    "collision_background_bw": float,
    "foot_strike": object,
    "foot_strike_confidence": float,
    "rearfoot_score": float,
    "braking_peak_mps2": float,
    "braking_velocity_loss_mps": float,
    "lean_deg": float,
    "pelvic_drop_deg": float,
    "lateral_lean_deg": float,
    "roll_range_deg": float,
    "yaw_range_deg": float,
    "step_regularity": float,
    "stride_regularity": float,
    "speed_mps": float,
    "step_length_m": float,
    "toe_off_measured": bool,
    "complete": bool,
    "near_gap": bool,
    "valid": bool,
}
