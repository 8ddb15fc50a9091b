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

The entries themselves (data, one per column) are in ``gait/_metric_entries.py``, their types
in ``gait/_metric_types.py``. To regenerate the column lists of ``docs/tables.md`` after
editing an entry::

    python -m gait.registry docs/tables.md
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from ._metric_entries import ALL_METRICS, MINUTES_ONLY, STEPS_AND_MINUTES
from ._metric_types import DISPLAY_UNITS, DisplayUnit, Metric

__all__ = [
    "DISPLAY_UNITS",
    "METRICS",
    "MINUTE_TABLE",
    "REPORT_METRICS",
    "STEP_TABLE",
    "SUMMARISED",
    "PYTHON_TYPES",
    "DisplayUnit",
    "Metric",
    "docs_block",
    "metric",
    "si_unit",
    "update_docs",
]


#: Every registered metric, by name.
METRICS: dict[str, Metric] = {m.name: m for m in ALL_METRICS}

#: The step table's columns, in order (`gait.core.metrics.STEP_COLUMNS`).
STEP_TABLE: tuple[str, ...] = tuple(m.name for m in ALL_METRICS if "steps" in m.tables)

#: The minute table's columns, in order (`gait.core.metrics.MINUTE_COLUMNS`): its own first five,
#: the step metrics summarised per minute, then its own others.
_MINUTE_OWN = [m.name for m in ALL_METRICS if m.tables == MINUTES_ONLY]
MINUTE_TABLE: tuple[str, ...] = (
    *_MINUTE_OWN[:5],
    *(m.name for m in ALL_METRICS if m.tables == STEPS_AND_MINUTES),
    *_MINUTE_OWN[5:],
)

#: The step metrics summarised per minute and per run (medians of valid running steps), in order.
SUMMARISED: tuple[str, ...] = tuple(m.name for m in ALL_METRICS if m.tables == STEPS_AND_MINUTES)

#: The Python type of each registered dtype (the tables' columns).
PYTHON_TYPES: dict[str, type] = {"float": float, "int": int, "bool": bool, "text": object}

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
