"""The metric registry: every column of the step and minute tables, described once.

Each metric has its name (the column, with its unit in the name), its SI unit, how it is shown
(a display unit: factor from SI, unit, decimals), a label, its meaning in plain words, and
whether it needs a gyroscope. The reports (`gait.report`), the live dashboard
(`gait.live`), the fault catalogue's displays (`gait.faults.DISPLAYS`) and the column lists of
``docs/tables.md`` are derived from it; ``tests/test_registry.py`` checks that the documented
lists and the tables the pipeline produces are exactly the registered ones.

>>> from gait.registry import METRICS
>>> METRICS["contact_time_s"].format(0.2534)
'253 ms'
>>> METRICS["impact_peak_mps2"].si_unit
'm/s^2'

Unit spellings in names are one per unit: ``_s``, ``_ms``, ``_m``, ``_mps`` (m/s), ``_mps2``
(m/s^2), ``_mps3`` (m/s^3), ``_rads`` (rad/s), ``_dps`` (deg/s), ``_deg``, ``_pct``, ``_spm``,
``_bw`` (body weights), ``_hz``.

To regenerate the column lists of ``docs/tables.md`` after editing the registry::

    python -m gait.registry docs/tables.md
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .constants import METRES_PER_MILE, G

__all__ = [
    "DISPLAY_UNITS",
    "METRICS",
    "MINUTE_TABLE",
    "REPORT_METRICS",
    "STEP_TABLE",
    "DisplayUnit",
    "Metric",
    "docs_block",
    "metric",
    "si_unit",
    "update_docs",
]


@dataclass(frozen=True)
class DisplayUnit:
    """How a value in SI is shown: ``value * factor`` with ``decimals`` decimals and ``unit``.

    Attributes
    ----------
    key
        The name the fault catalogue's rules use (``display = "ms"``).
    unit
        The unit shown ("" for a plain number).
    factor
        Multiplies the SI value.
    decimals
        Decimals shown.
    si_unit
        The SI unit of the values it shows.
    """

    key: str
    unit: str
    factor: float
    decimals: int
    si_unit: str

    def format(self, value: float | None, *, signed: bool = False) -> str:
        """``"253 ms"``; ``"+3.2 deg"`` with ``signed``; ``"n/a"`` when not finite."""
        if value is None or not math.isfinite(value):
            return "n/a"
        s = f"{value * self.factor:{'+' if signed else ''}.{self.decimals}f}"
        return f"{s} {self.unit}" if self.unit else s


def _units(*units: DisplayUnit) -> dict[str, DisplayUnit]:
    return {u.key: u for u in units}


#: Display units by key (the catalogue's ``display`` field chooses among them).
DISPLAY_UNITS: dict[str, DisplayUnit] = _units(
    DisplayUnit("pct", "%", 100.0, 0, "1"),
    DisplayUnit("pct_points", "%", 1.0, 1, "%"),
    DisplayUnit("ms", "ms", 1000.0, 0, "s"),
    DisplayUnit("cm", "cm", 100.0, 1, "m"),
    DisplayUnit("spm", "spm", 1.0, 0, "steps/min"),
    DisplayUnit("deg", "deg", 1.0, 1, "deg"),
    DisplayUnit("mps", "m/s", 1.0, 2, "m/s"),
    DisplayUnit("mps2", "m/s^2", 1.0, 2, "m/s^2"),
    DisplayUnit("g_per_s", "g/s", 1.0 / G, 0, "m/s^3"),
    DisplayUnit("ratio", "", 1.0, 2, "1"),
    DisplayUnit("count", "", 1.0, 0, "1"),
    DisplayUnit("miles", "miles", 1.0 / METRES_PER_MILE, 0, "m"),
    DisplayUnit("days", "days", 1.0, 0, "days"),
    DisplayUnit("min", "min", 1.0 / 60.0, 1, "s"),
    DisplayUnit("g", "g", 1.0 / G, 2, "m/s^2"),
    DisplayUnit("duty_pct", "%", 100.0, 1, "1"),
    DisplayUnit("m", "m", 1.0, 2, "m"),
    DisplayUnit("bw", "BW", 1.0, 2, "body weights"),
    DisplayUnit("s", "s", 1.0, 2, "s"),
)


@dataclass(frozen=True)
class Metric:
    """One column of the step or minute table.

    Attributes
    ----------
    name
        The column name, with its unit in it (``contact_time_s``).
    si_unit
        Unit of the stored values (``"s"``, ``"m/s^2"``, ``"1"`` for a ratio, ``""`` for a
        category, an index or a flag).
    label
        Short name in words (``"contact time"``).
    meaning
        What it is, in plain words (``docs/tables.md``).
    display
        Key of its `DisplayUnit` (None: not a number shown to a runner).
    needs_gyroscope
        Unavailable without a gyroscope (``Analysis.unavailable`` then lists it).
    tables
        The tables it is a column of: ``"steps"``, ``"minutes"``.
    dtype
        ``"float"``, ``"int"``, ``"bool"`` or ``"text"``.
    bounds
        The range of its values when it has one (``(0, 1)`` for a share or a confidence).
    signed
        Its sign has a meaning (lean: + forward): shown with ``+`` live.
    short_label
        The label of the live dashboard, when shorter than ``label``.
    """

    name: str
    si_unit: str
    label: str
    meaning: str
    display: str | None = None
    needs_gyroscope: bool = False
    tables: tuple[str, ...] = ("steps",)
    dtype: str = "float"
    bounds: tuple[float, float] | None = None
    signed: bool = False
    short_label: str | None = None

    @property
    def display_unit(self) -> DisplayUnit:
        """The `DisplayUnit` it is shown in (SI as it is when it has none)."""
        if self.display is None:
            return DisplayUnit("", self.si_unit, 1.0, 2, self.si_unit)
        return DISPLAY_UNITS[self.display]

    def format(self, value: float | None, *, signed: bool | None = None) -> str:
        """The value (SI) in its display unit, e.g. ``"253 ms"`` (``"n/a"`` when not finite)."""
        return self.display_unit.format(value, signed=self.signed if signed is None else signed)

    @property
    def docs_unit(self) -> str:
        """The unit column of ``docs/tables.md``."""
        if self.dtype == "bool":
            return "bool"
        if self.bounds == (0.0, 1.0):
            return "0..1"
        return self.si_unit


_GYRO = "; needs a gyroscope"
_S = ("steps",)
_SM = ("steps", "minutes")
_M = ("minutes",)
_01 = (0.0, 1.0)

_ALL: tuple[Metric, ...] = (
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
    Metric("cadence_spm", "steps/min", "cadence", "60 / step time", display="spm", tables=_SM),
    Metric(
        "contact_time_s",
        "s",
        "contact time",
        "stance; missing (and the step not valid) when a running step's toe-off does not fall between its "
        "contact and the next one. Typically within 12 ms; about 10 ms long on downhill running, and up to "
        "20 ms short at slow and long at fast speeds (docs/validation.md): compare runs of similar slope "
        "and speed",
        display="ms",
        tables=_SM,
    ),
    Metric(
        "flight_time_s",
        "s",
        "flight time",
        "time to the next contact after toe-off; missing (and the step not valid) when a running step's "
        "toe-off does not fall between its contact and the next one",
        display="ms",
        tables=_SM,
    ),
    Metric(
        "duty_factor",
        "1",
        "duty factor",
        "contact time / stride time (stride = 2 steps)",
        display="duty_pct",
        tables=_SM,
    ),
    Metric(
        "vertical_oscillation_m",
        "m",
        "vertical oscillation",
        "centre-of-mass excursion between this contact and the next",
        display="cm",
        tables=_SM,
        short_label="bounce",
    ),
    Metric(
        "vertical_ratio_pct",
        "%",
        "vertical ratio",
        "oscillation / step length (NaN without a speed estimate)",
        display="pct_points",
        tables=_SM,
    ),
    Metric(
        "impact_peak_mps2",
        "m/s^2",
        "impact peak",
        "largest vertical acceleration in the first 25 % of stance (gravity removed)",
        display="g",
        tables=_SM,
    ),
    Metric(
        "loading_rate_mps3",
        "m/s^3",
        "loading rate",
        "mean slope of vertical acceleration from contact to that peak",
        display="g_per_s",
        tables=_SM,
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
        "at least twice its median",
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
        tables=_SM,
    ),
    Metric(
        "braking_velocity_loss_mps",
        "m/s",
        "braking (speed lost)",
        "forward speed lost from contact to its lowest point in stance",
        display="mps",
        tables=_SM,
    ),
    Metric(
        "lean_deg",
        "deg",
        "forward lean",
        "mean trunk pitch over the step minus the standing reference (+ forward; [angles](#trunk-angles))",
        display="deg",
        tables=_SM,
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
        tables=_SM,
        signed=True,
    ),
    Metric(
        "lateral_lean_deg",
        "deg",
        "lateral lean",
        "mean trunk roll over the stride starting at this step (+ right)",
        display="deg",
        tables=_SM,
        signed=True,
    ),
    Metric(
        "roll_range_deg",
        "deg",
        "roll range",
        "roll range over that stride" + _GYRO,
        display="deg",
        needs_gyroscope=True,
        tables=_SM,
    ),
    Metric(
        "yaw_range_deg",
        "deg",
        "rotation (yaw) range",
        "rotation (yaw) range over that stride, heading change removed" + _GYRO,
        display="deg",
        needs_gyroscope=True,
        tables=_SM,
        short_label="rotation",
    ),
    Metric(
        "step_regularity",
        "1",
        "step regularity",
        "vertical autocorrelation at one step lag, over the stride from this contact",
        display="ratio",
        tables=_SM,
    ),
    Metric(
        "stride_regularity",
        "1",
        "stride regularity",
        "vertical autocorrelation at one stride lag, over the stride from this contact",
        display="ratio",
        tables=_SM,
    ),
    Metric(
        "speed_mps",
        "m/s",
        "speed",
        "running speed: the constant given (`--pace`, `--speed-mps`), or the track's speed at this contact "
        "(`--track`, [gps.md](gps.md)); NaN without a speed, for walking, outside the track, in its pauses, or "
        "where the track is below 1 m/s",
        display="mps",
        tables=_SM,
    ),
    Metric(
        "step_length_m",
        "m",
        "step length",
        "speed x step time (NaN when the speed is)",
        display="m",
        tables=_SM,
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
    Metric("minute", "", "minute", "0-based minute of the session clock", tables=_M, dtype="int"),
    Metric("start_s", "s", "start", "start of the minute", display="s", tables=_M),
    Metric("end_s", "s", "end", "end of the minute", display="s", tables=_M),
    Metric("running_s", "s", "running time", "running time in the minute", display="s", tables=_M),
    Metric("steps", "", "steps", "valid running steps", tables=_M, dtype="int"),
    Metric(
        "rearfoot_share",
        "1",
        "rearfoot share",
        "share of rearfoot strikes among the minute's valid running steps with a decided class (NaN when none is "
        "decided)",
        display="pct",
        tables=_M,
        bounds=_01,
    ),
    Metric(
        "midfoot_share",
        "1",
        "midfoot share",
        "share of midfoot strikes, as `rearfoot_share`",
        display="pct",
        tables=_M,
        bounds=_01,
    ),
    Metric(
        "forefoot_share",
        "1",
        "forefoot share",
        "share of forefoot strikes, as `rearfoot_share`",
        display="pct",
        tables=_M,
        bounds=_01,
    ),
    Metric(
        "step_time_cv_pct",
        "%",
        "step time variability",
        "coefficient of variation of step time",
        display="pct_points",
        tables=_M,
    ),
    Metric(
        "contact_time_asymmetry_pct",
        "%",
        "contact time asymmetry",
        "100 (L - R) / mean, medians per side",
        display="pct_points",
        needs_gyroscope=True,
        tables=_M,
    ),
    Metric(
        "intensity_mps2",
        "m/s^2",
        "intensity",
        "RMS of the acceleration magnitude minus 1 g (an effort proxy)",
        display="mps2",
        tables=_M,
    ),
    Metric(
        "ml_sway_rms_mps2",
        "m/s^2",
        "medio-lateral sway",
        "RMS of the medio-lateral acceleration" + _GYRO,
        display="mps2",
        needs_gyroscope=True,
        tables=_M,
    ),
    Metric(
        "stance_vibration_mps2",
        "m/s^2",
        "stance vibration",
        "RMS of 20-45 Hz vertical acceleration in stance (surface signature)",
        display="mps2",
        tables=_M,
    ),
)

#: Every registered metric, by name.
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}

#: The step table's columns, in order (`gait.core.metrics.STEP_COLUMNS`).
STEP_TABLE: tuple[str, ...] = tuple(m.name for m in _ALL if "steps" in m.tables)

#: The minute table's columns, in order (`gait.core.metrics.MINUTE_COLUMNS`): its own first five,
#: the step metrics summarised per minute, then its own others.
_MINUTE_OWN = [m.name for m in _ALL if m.tables == _M]
MINUTE_TABLE: tuple[str, ...] = (
    *_MINUTE_OWN[:5],
    *(m.name for m in _ALL if m.tables == _SM),
    *_MINUTE_OWN[5:],
)

#: The metrics of the report's table (median, IQR, left / right), in order.
REPORT_METRICS: tuple[str, ...] = (
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
    "lateral_lean_deg",
    "pelvic_drop_deg",
    "roll_range_deg",
    "yaw_range_deg",
    "step_regularity",
    "speed_mps",
    "step_length_m",
)


#: SI unit of each unit suffix of a name, longest first (one spelling per unit, as above)
SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_spm", "steps/min"),
    ("_mps3", "m/s^3"),
    ("_mps2", "m/s^2"),
    ("_mps", "m/s"),
    ("_rads", "rad/s"),
    ("_dps", "deg/s"),
    ("_pct", "%"),
    ("_deg", "deg"),
    ("_ms", "ms"),
    ("_bw", "BW"),
    ("_hz", "Hz"),
    ("_s", "s"),
    ("_m", "m"),
)


def si_unit(name: str) -> str:
    """SI unit of a metric or a derived quantity's name: the registry's, else its unit suffix.

    Derived quantities of the fault rules (``derived.trunk_angle_variability_pct``) are not
    table columns; their unit is the suffix of their last dotted part (``"1"`` without one).

    >>> si_unit("contact_time_s"), si_unit("derived.trunk_angle_variability_pct"), si_unit("x")
    ('s', '%', '1')
    """
    if name in METRICS:
        return METRICS[name].si_unit
    base = name.rsplit(".", 1)[-1]
    return next((unit for suffix, unit in SUFFIX_UNITS if base.endswith(suffix)), "1")


def metric(name: str) -> Metric:
    """The registered metric ``name``; a `KeyError` naming the closest registered names if none."""
    try:
        return METRICS[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, METRICS, n=3)
        raise KeyError(
            f"{name!r} is not a registered metric" + (f" (did you mean {', '.join(close)}?)" if close else "")
        ) from None


# ---------------------------------------------------------------------------------------
# docs/tables.md
# ---------------------------------------------------------------------------------------
def _row(names: Iterable[str], unit: str, meaning: str) -> str:
    return f"| {', '.join(f'`{n}`' for n in names)} |{f' {unit} ' if unit else ' '}| {meaning} |"


def docs_block(table: str) -> str:
    """The column list of ``table`` (``"steps"`` or ``"minutes"``) as a markdown table."""
    lines = ["| column | unit | meaning |", "|---|---|---|"]
    if table == "steps":
        lines += [_row([n], METRICS[n].docs_unit, METRICS[n].meaning) for n in STEP_TABLE]
    elif table == "minutes":
        shared = [n for n in MINUTE_TABLE if "steps" in METRICS[n].tables]
        for n in MINUTE_TABLE:
            m = METRICS[n]
            if n == shared[0]:
                lines.append(_row(shared, "as in `steps`", "medians over the minute's valid running steps"))
            elif n not in shared:
                lines.append(_row([n], m.docs_unit, m.meaning))
    else:
        raise ValueError(f"Invalid value for 'table': expected 'steps' or 'minutes', got {table!r}")
    return "\n".join(lines)


def _markers(table: str) -> tuple[str, str]:
    return (
        f"<!-- registry:{table} (generated: python -m gait.registry docs/tables.md) -->",
        f"<!-- /registry:{table} -->",
    )


def update_docs(text: str) -> str:
    """``text`` (``docs/tables.md``) with every generated block replaced by `docs_block`."""
    for table in ("steps", "minutes"):
        begin, end = _markers(table)
        pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.S)
        found = pattern.search(text)
        if found is None:
            raise ValueError(f"no generated block for {table!r} (markers {begin!r} ... {end!r})")
        text = text[: found.start()] + f"{begin}\n{docs_block(table)}\n{end}" + text[found.end() :]
    return text


def main(argv: list[str] | None = None) -> int:
    """Rewrite the generated blocks of the markdown file given (``docs/tables.md``)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m gait.registry docs/tables.md", file=sys.stderr)
        return 2
    p = Path(args[0])
    p.write_text(update_docs(p.read_text()))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
