"""The types of the metric registry (`gait.registry`): a display unit and a metric."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .constants import METRES_PER_MILE, G


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
