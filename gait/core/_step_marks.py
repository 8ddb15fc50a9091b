"""What the analysis marks in the step table once the metrics are computed: columns the data
cannot support blanked, the sides of running steps withdrawn when they are not reliable,
steps inside filled gaps flagged."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import STEP_COLUMNS

#: Fewest share of a run's valid running steps with a side for its left/right measures (pelvic
#: drop, asymmetries) to be reported; below it they are unavailable, with the reason.
MIN_SIDE_SHARE = 0.5
#: why the metrics that need a gyroscope are unavailable without one
NO_GYRO = (
    "no gyroscope: the roll and rotation within each stride need one (the accelerometer alone "
    "cannot tell them from sideways and forward acceleration)"
)


def _blank_unavailable(steps: pd.DataFrame, unavailable: dict[str, str]) -> pd.DataFrame:
    """Unavailable metrics are NaN (or ``?`` for the side) in the step table, never a number."""
    for k in unavailable:
        if k == "side" and "side" in steps:
            steps["side"] = "?"
            steps["side_confidence"] = 0.0
            steps["pelvic_drop_deg"] = np.nan
        elif k in steps and STEP_COLUMNS.get(k) is float:
            steps[k] = np.nan
    return steps


def _running_sides(steps: pd.DataFrame, unavailable: dict[str, str], *, roll_lost: str | None) -> pd.DataFrame:
    """The run's left/right measures are unavailable, with the reason, when fewer than
    `MIN_SIDE_SHARE` of its valid running steps have a side; the running steps' sides are then
    blanked (their pelvic drop and every left/right asymmetry with them). ``roll_lost``: why the
    roll within a stride is unknown (no gyroscope, or a saturated one), or None."""
    run = (steps["activity"] == "running").to_numpy(bool) & steps["valid"].to_numpy(bool)
    if "side" in unavailable or not run.any():
        return steps
    share = float(np.isin(steps["side"].to_numpy(object)[run], ["L", "R"]).mean())
    if share >= MIN_SIDE_SHARE:
        return steps
    if roll_lost == NO_GYRO:
        why = (
            "no gyroscope: the side of a running step comes from the pelvis' roll in stance (the sideways "
            "acceleration at the sacrum changes sign between runners); record with a gyroscope"
        )
    elif roll_lost is not None:
        why = f"the side of a running step comes from the pelvis' roll in stance, and {roll_lost}"
    else:
        why = (
            f"left and right steps could not be told apart ({100 * share:.0f} % of running steps decided): the "
            "pelvis' roll did not show a consistent drop of the swing side in loading and rise in late stance; "
            "check that the sensor sits firmly at the centre of the lower back"
        )
    unavailable["side"] = why
    unavailable["pelvic_drop_deg"] = why
    sel = (steps["activity"] == "running").to_numpy(bool)
    steps.loc[sel, "side"] = "?"
    steps.loc[sel, "side_confidence"] = 0.0
    steps.loc[sel, "pelvic_drop_deg"] = np.nan
    return steps


def _flag_filled(steps: pd.DataFrame, t: np.ndarray, filled: np.ndarray) -> pd.DataFrame:
    """Mark steps whose interval (contact to next contact) touches a bridged gap."""
    near = np.zeros(len(steps), bool)
    if filled.any() and len(steps):
        c = np.concatenate([[0], np.cumsum(filled)])
        a = np.searchsorted(t, steps["ic_s"].to_numpy(), side="left")
        end = steps["ic_s"].to_numpy() + np.nan_to_num(steps["step_time_s"].to_numpy(), nan=0.0)
        b = np.searchsorted(t, np.maximum(end, steps["to_s"].to_numpy()), side="right")
        near = (c[np.clip(b, 0, t.size)] - c[np.clip(a - 1, 0, t.size)]) > 0
    steps["near_gap"] = near
    steps["valid"] = steps["valid"] & ~near
    return steps
