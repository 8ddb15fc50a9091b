"""Every metric of the step and minute tables, as data: one `Metric` per column, in column
order. `gait.registry` looks them up and derives the table lists from them."""

from __future__ import annotations

from ._metric_types import Metric

_GYRO = "; needs a gyroscope"
#: the tables a metric is a column of
_S = ("steps",)
STEPS_AND_MINUTES = ("steps", "minutes")
MINUTES_ONLY = ("minutes",)
#: bounds of a share
_01 = (0.0, 1.0)

ALL_METRICS: tuple[Metric, ...] = (
    # --- the step table, in column order
    Metric("step", "", "step", "index over the session", dtype="int"),
    Metric("bout", "", "bout", "index into `bouts`", dtype="int"),
    Metric("activity", "", "activity", "`running` or `walking`", dtype="text"),
    Metric(
        "side",
        "",
        "side",
        "`L`, `R` (foot in contact), or `?` when undecided: running steps from the pelvis' roll (the swing "
        "side's drop in loading and its rise in late stance; needs a gyroscope, unsaturated), walking steps from "
        "the roll's drop and the lateral sway; a step whose cues disagree is `?` ([`gait.core.sides`](../gait/core/sides.py))",
        needs_gyroscope=True,
        dtype="text",
    ),
    Metric(
        "side_confidence",
        "1",
        "side confidence",
        "how consistently the evidence of the steps around this one (four either side, in its bout) alternates, "
        "for its strongest cue; 0 when the cues disagree or there is none. A side is given above 0.3 (with at "
        "least 70 % of those steps agreeing)",
        display="ratio",
        bounds=_01,
    ),
    Metric("ic_s", "s", "initial contact", "initial contact", display="s"),
    Metric("to_s", "s", "toe-off", "toe-off", display="s"),
    Metric(
        "step_time_s",
        "s",
        "step time",
        "to the next initial contact (NaN for the last step of a bout)",
        display="ms",
    ),
    Metric("cadence_spm", "steps/min", "cadence", "60 / step time", display="spm", tables=STEPS_AND_MINUTES),
    Metric(
        "contact_time_s",
        "s",
        "contact time",
        "stance; missing (and the step not valid) when a running step's toe-off does not fall between its "
        "contact and the next one. Typically within 12 ms; about 10 ms long on downhill running, and up to "
        "20 ms short at slow and long at fast speeds (docs/validation.md): compare runs of similar slope "
        "and speed",
        display="ms",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "flight_time_s",
        "s",
        "flight time",
        "time to the next contact after toe-off; missing (and the step not valid) when a running step's "
        "toe-off does not fall between its contact and the next one",
        display="ms",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "duty_factor",
        "1",
        "duty factor",
        "contact time / stride time (stride = 2 steps)",
        display="duty_pct",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "vertical_oscillation_m",
        "m",
        "vertical oscillation",
        "centre-of-mass excursion between this contact and the next",
        display="cm",
        tables=STEPS_AND_MINUTES,
        short_label="bounce",
    ),
    Metric(
        "vertical_ratio_pct",
        "%",
        "vertical ratio",
        "oscillation / step length (NaN without a speed estimate)",
        display="pct_points",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "impact_peak_mps2",
        "m/s^2",
        "impact peak",
        "largest vertical acceleration in the first 25 % of stance (gravity removed)",
        display="g",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "loading_rate_mps3",
        "m/s^3",
        "loading rate",
        "mean slope of vertical acceleration from contact to that peak",
        display="g_per_s",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "impact_transient_bw",
        "body weights",
        "impact transient",
        "the landing's collision transient: the largest excess of the vertical specific force over its own 10 Hz "
        "low-pass in the first 25 % of stance, divided by the bout's body weight in the sensor's units (running "
        "steps)",
        display="bw",
    ),
    Metric(
        "stance_background_bw",
        "body weights",
        "stance vibration",
        "the stance's own vibration: the largest difference between the vertical specific force and its 10 Hz "
        "low-pass from 40 to 80 % of stance (no collision there); a transient must stand clear of it",
        display="bw",
    ),
    Metric(
        "collision_bw",
        "body weights",
        "sagittal collision",
        "the landing's collision in the sagittal plane: the largest magnitude, in the first 25 % of stance, of the "
        "vertical excess over the 10 Hz low-pass (as `impact_transient_bw`) and the antero-posterior specific "
        "force's difference from its own 10 Hz low-pass, in body weights (running steps); the run's dominant foot "
        "strike is decided from these. See `gait.core.strike.collision_transient`",
        display="bw",
    ),
    Metric(
        "collision_background_bw",
        "body weights",
        "sagittal stance vibration",
        "the stance's own sagittal vibration: the largest magnitude of the vertical and antero-posterior "
        "differences from their 10 Hz low-passes from 40 to 80 % of stance; the run's median collision must be "
        "at least 1.5 times its median (`gait.core.strike.RUN_CLEAR_RATIO`)",
        display="bw",
    ),
    Metric(
        "foot_strike",
        "",
        "foot strike",
        "`rearfoot` (transient >= 0.6 body weights), `midfoot` (0.2-0.6), `forefoot` (< 0.2) when decided; "
        "`uncertain` when neither the step's transient nor its bout's median stands at least 3 background "
        "vibrations (`stance_background_bw`, the bout's median) clear of the class boundaries; None for walking. "
        "See `gait.core.strike.classify_foot_strike`",
        dtype="text",
    ),
    Metric(
        "foot_strike_confidence",
        "1",
        "foot-strike confidence",
        "confidence of the step's class (>= 0.5: decided)",
        display="ratio",
        bounds=_01,
    ),
    Metric(
        "rearfoot_score",
        "1",
        "rearfoot score",
        "how rearfoot-like the step's transient is (logistic around 0.6 body weights, width 0.1); a step score, "
        "not the decision",
        display="ratio",
        bounds=_01,
    ),
    Metric(
        "braking_peak_mps2",
        "m/s^2",
        "braking (peak)",
        "largest forward deceleration in stance (positive number)",
        display="g",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "braking_velocity_loss_mps",
        "m/s",
        "braking (speed lost)",
        "forward speed lost from contact to its lowest point in stance",
        display="mps",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "lean_deg",
        "deg",
        "forward lean",
        "mean trunk pitch over the step minus the standing reference (+ forward; [angles](#trunk-angles))",
        display="deg",
        tables=STEPS_AND_MINUTES,
        signed=True,
        short_label="lean",
    ),
    Metric(
        "pelvic_drop_deg",
        "deg",
        "pelvic drop",
        "roll excursion in stance towards the swing side (+: swing side drops), relative to the stride's mean "
        "roll; needs a gyroscope and the step's side (NaN when the side is `?`)",
        display="deg",
        needs_gyroscope=True,
        tables=STEPS_AND_MINUTES,
        signed=True,
    ),
    Metric(
        "lateral_lean_deg",
        "deg",
        "lateral lean",
        "mean trunk roll over the stride starting at this step (+ right)",
        display="deg",
        tables=STEPS_AND_MINUTES,
        signed=True,
    ),
    Metric(
        "roll_range_deg",
        "deg",
        "roll range",
        "roll range over that stride" + _GYRO,
        display="deg",
        needs_gyroscope=True,
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "yaw_range_deg",
        "deg",
        "rotation (yaw) range",
        "rotation (yaw) range over that stride, heading change removed" + _GYRO,
        display="deg",
        needs_gyroscope=True,
        tables=STEPS_AND_MINUTES,
        short_label="rotation",
    ),
    Metric(
        "step_regularity",
        "1",
        "step regularity",
        "vertical autocorrelation at one step lag, over the stride from this contact",
        display="ratio",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "stride_regularity",
        "1",
        "stride regularity",
        "vertical autocorrelation at one stride lag, over the stride from this contact",
        display="ratio",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "speed_mps",
        "m/s",
        "speed",
        "running speed: the constant given (`--pace`, `--speed-mps`), or the track's speed at this contact "
        "(`--track`, [gps.md](gps.md)); NaN without a speed, for walking, outside the track, in its pauses, or "
        "where the track is below 1 m/s",
        display="mps",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "step_length_m",
        "m",
        "step length",
        "speed x step time (NaN when the speed is)",
        display="m",
        tables=STEPS_AND_MINUTES,
    ),
    Metric(
        "toe_off_measured",
        "",
        "toe-off measured",
        "False for walking, where toe-off is estimated (24 % of a step after the next contact)",
        dtype="bool",
    ),
    Metric(
        "complete",
        "",
        "complete",
        "the stance is bounded by flight (or a clear valley) on both sides within the data",
        dtype="bool",
    ),
    Metric(
        "near_gap",
        "",
        "near a gap",
        "the step touches a short gap (lost packets) that the analysis bridged",
        dtype="bool",
    ),
    Metric(
        "valid",
        "",
        "valid",
        "complete, not near a gap, not the first or last step of a bout, with a next contact: the steps that "
        "summaries use",
        dtype="bool",
    ),
    # --- the minute table's own columns
    Metric("minute", "", "minute", "0-based minute of the session clock", tables=MINUTES_ONLY, dtype="int"),
    Metric("start_s", "s", "start", "start of the minute", display="s", tables=MINUTES_ONLY),
    Metric("end_s", "s", "end", "end of the minute", display="s", tables=MINUTES_ONLY),
    Metric("running_s", "s", "running time", "running time in the minute", display="s", tables=MINUTES_ONLY),
    Metric("steps", "", "steps", "valid running steps", tables=MINUTES_ONLY, dtype="int"),
    Metric(
        "rearfoot_share",
        "1",
        "rearfoot share",
        "share of rearfoot strikes among the minute's valid running steps with a decided class (NaN when none is "
        "decided)",
        display="pct",
        tables=MINUTES_ONLY,
        bounds=_01,
    ),
    Metric(
        "midfoot_share",
        "1",
        "midfoot share",
        "share of midfoot strikes, as `rearfoot_share`",
        display="pct",
        tables=MINUTES_ONLY,
        bounds=_01,
    ),
    Metric(
        "forefoot_share",
        "1",
        "forefoot share",
        "share of forefoot strikes, as `rearfoot_share`",
        display="pct",
        tables=MINUTES_ONLY,
        bounds=_01,
    ),
    Metric(
        "step_time_cv_pct",
        "%",
        "step time variability",
        "coefficient of variation of step time",
        display="pct_points",
        tables=MINUTES_ONLY,
    ),
    Metric(
        "contact_time_asymmetry_pct",
        "%",
        "contact time asymmetry",
        "100 (L - R) / mean, medians per side",
        display="pct_points",
        needs_gyroscope=True,
        tables=MINUTES_ONLY,
    ),
    Metric(
        "intensity_mps2",
        "m/s^2",
        "intensity",
        "RMS of the acceleration magnitude minus 1 g (an effort proxy)",
        display="mps2",
        tables=MINUTES_ONLY,
    ),
    Metric(
        "ml_sway_rms_mps2",
        "m/s^2",
        "medio-lateral sway",
        "RMS of the medio-lateral acceleration" + _GYRO,
        display="mps2",
        needs_gyroscope=True,
        tables=MINUTES_ONLY,
    ),
    Metric(
        "stance_vibration_mps2",
        "m/s^2",
        "stance vibration",
        "RMS of 20-45 Hz vertical acceleration in stance (surface signature)",
        display="mps2",
        tables=MINUTES_ONLY,
    ),
)
