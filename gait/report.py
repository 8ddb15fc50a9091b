"""Reports: terminal summaries (rich), JSON and HTML."""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from .session import Session

__all__ = ["print_session_summary", "session_summary"]


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
