"""Reports: terminal summaries (rich), JSON and HTML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from .session import Session

if TYPE_CHECKING:
    from .pipeline import Analysis

__all__ = ["session_summary", "print_session_summary", "print_analysis_summary", "write_table", "DISPLAY"]

#: How each per-step metric is shown: (label, column, factor to display unit, unit, decimals).
DISPLAY = [
    ("cadence", "cadence_spm", 1.0, "spm", 0),
    ("contact time", "contact_time_s", 1000.0, "ms", 0),
    ("flight time", "flight_time_s", 1000.0, "ms", 0),
    ("duty factor", "duty_factor", 100.0, "%", 1),
    ("vertical oscillation", "vertical_oscillation_m", 100.0, "cm", 1),
    ("vertical ratio", "vertical_ratio_pct", 1.0, "%", 1),
    ("impact peak", "impact_peak_mps2", 1.0 / 9.80665, "g", 2),
    ("loading rate", "loading_rate_mps3", 1.0 / 9.80665, "g/s", 0),
    ("braking (peak)", "braking_peak_mps2", 1.0 / 9.80665, "g", 2),
    ("braking (speed lost)", "braking_velocity_loss_mps", 1.0, "m/s", 2),
    ("forward lean", "lean_deg", 1.0, "deg", 1),
    ("lateral lean", "lateral_lean_deg", 1.0, "deg", 1),
    ("pelvic drop", "pelvic_drop_deg", 1.0, "deg", 1),
    ("roll range", "roll_range_deg", 1.0, "deg", 1),
    ("rotation (yaw) range", "yaw_range_deg", 1.0, "deg", 1),
    ("step regularity", "step_regularity", 1.0, "", 2),
    ("speed", "speed_mps", 1.0, "m/s", 2),
    ("step length", "step_length_m", 1.0, "m", 2),
]


def session_summary(session: Session) -> dict[str, Any]:
    """Facts about a recording before analysis: duration, rate, channels, gaps, units."""
    gaps = session.gaps
    mag = np.sqrt(np.nansum(session.acc**2, axis=1)) if session.n_samples else np.zeros(0)
    return {
        "source": session.meta.source,
        "device": session.meta.device,
        "samples": session.n_samples,
        "duration_s": session.duration_s,
        "sampling_rate_hz": session.sampling_rate_hz,
        "frame": session.frame,
        "gyroscope": session.has_gyro,
        "missing_acc_axes": list(session.missing_acc_axes),
        "units_as_recorded": dict(session.meta.units_as_recorded),
        "calibration": session.meta.calibration,
        "gaps": len(gaps),
        "gap_total_s": float(sum(b - a - 1.0 / session.sampling_rate_hz for a, b in gaps)),
        "median_acc_magnitude_mps2": float(np.median(mag)) if mag.size else float("nan"),
    }


def print_session_summary(session: Session, console: Console | None = None) -> None:
    """Print `session_summary` as a table."""
    console = console or Console()
    s = session_summary(session)
    table = Table(title=f"Session: {s['source'] or 'in memory'}", show_header=False)
    table.add_row("device", str(s["device"]))
    table.add_row("duration", f"{s['duration_s']:.1f} s ({s['samples']} samples)")
    table.add_row("sampling rate", f"{s['sampling_rate_hz']:g} Hz")
    table.add_row("frame", s["frame"])
    table.add_row("gyroscope", "yes" if s["gyroscope"] else "no")
    if s["missing_acc_axes"]:
        table.add_row("missing axes", ", ".join(s["missing_acc_axes"]))
    table.add_row("units as recorded", ", ".join(f"{k}: {v}" for k, v in s["units_as_recorded"].items()))
    table.add_row("gaps", f"{s['gaps']} ({s['gap_total_s']:.3f} s missing)" if s["gaps"] else "none")
    table.add_row("median |acc|", f"{s['median_acc_magnitude_mps2']:.2f} m/s^2")
    console.print(table)


def _fmt(value: float, factor: float, decimals: int) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value * factor:.{decimals}f}"


def print_analysis_summary(analysis: Analysis, console: Console | None = None) -> None:
    """Print what the analysis found: activity, steps, and the medians of every metric."""
    console = console or Console()
    s = analysis.summary
    bouts = analysis.bouts
    kinds = bouts.groupby("kind")["duration_s"].sum() if len(bouts) else {}
    console.print(
        "Activity: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in dict(kinds).items())
        + f"; {s['running_steps']} running steps analysed"
    )
    if s["running_steps"] == 0:
        console.print("[bold]No running was found in this recording.[/bold]")
        return
    table = Table(title="Running form (median over the run, left / right)")
    table.add_column("metric")
    table.add_column("median", justify="right")
    table.add_column("IQR", justify="right")
    table.add_column("left / right", justify="right")
    table.add_column("unit")
    for label, col, factor, unit, dec in DISPLAY:
        if col in analysis.unavailable:
            continue
        med = s["median"].get(col)
        table.add_row(
            label,
            _fmt(med, factor, dec),
            _fmt(s["iqr"].get(col), factor, dec),
            f"{_fmt(s['left'].get(col), factor, dec)} / {_fmt(s['right'].get(col), factor, dec)}",
            unit,
        )
    rf = s.get("rearfoot_share")
    if rf is not None and np.isfinite(rf):
        table.add_row("rearfoot strikes", f"{100 * rf:.0f}", "", "", "% of steps")
    console.print(table)
    if analysis.unavailable:
        for metric, why in analysis.unavailable.items():
            console.print(f"[dim]not available: {metric}: {why}[/dim]")


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a result table as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``)."""
    from .errors import GaitInputError, Where

    p = Path(path)
    name = p.name.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        df.to_parquet(p, index=False)
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        df.to_csv(p, index=False)
    else:
        raise GaitInputError(
            "unknown table format",
            expected="a name ending in .csv, .csv.gz or .parquet",
            found=repr(p.name),
            where=Where(parameter="path"),
        )
    return p
