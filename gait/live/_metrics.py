"""Live form metrics: the offline analysis core run on a sliding window.

`window_metrics` builds a `gait.Session` from the newest ~10 s of samples and calls the same
`gait.analyze` the offline report uses, then takes medians of its per-step table. Nothing
here computes a metric of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GaitInputError
from ..session import Session, SessionMetadata

__all__ = ["CUES", "LiveMetrics", "format_metric", "window_metrics"]

#: What the runner is told when a fault shows up (finding name -> cue).
CUES: Mapping[str, str] = {
    "overstriding": "overstriding: shorten your step",
    "low_cadence": "low cadence: quicker, lighter steps",
    "heel_strike": "hard heel strike: land under your hips",
    "excessive_bounce": "bouncing: run lower, push forward not up",
    "forward_lean": "leaning forward from the waist: run tall",
    "backward_lean": "leaning back: lean slightly forward from the ankles",
    "pelvic_drop": "hip drop: keep your pelvis level",
    "trunk_rotation": "twisting: quiet your upper body",
    "asymmetry": "uneven steps: check both sides feel the same",
    "braking": "braking: land closer under your body",
}

#: Step-table columns shown live, and how they are displayed.
LIVE_COLUMNS = ("cadence_spm", "contact_time_s", "vertical_oscillation_m", "lean_deg", "yaw_range_deg")


@dataclass(frozen=True)
class LiveMetrics:
    """Medians over the valid running steps of the window (NaN when not available).

    Attributes
    ----------
    window_s
        Length of the window analysed.
    n_steps
        Valid running steps in the window.
    cadence_spm, contact_time_s, vertical_oscillation_m, lean_deg, yaw_range_deg
        Medians of the step table's columns of the same names.
    cues
        Cues for the faults the analysis found in the window.
    note
        Why there are no numbers (still, walking, analysis core missing, window too short).
    newest_t_s
        Time of the newest sample analysed.
    compute_s
        How long the analysis took.
    """

    window_s: float = 0.0
    n_steps: int = 0
    cadence_spm: float = math.nan
    contact_time_s: float = math.nan
    vertical_oscillation_m: float = math.nan
    lean_deg: float = math.nan
    yaw_range_deg: float = math.nan
    cues: tuple[str, ...] = ()
    note: str = "waiting for data"
    newest_t_s: float = math.nan
    compute_s: float = 0.0


AnalyzeFn = Callable[..., Any]


def _default_analyze() -> AnalyzeFn | None:
    import gait

    return getattr(gait, "analyze", None)


def _findings(analysis: Any) -> list[str]:
    """Names of the faults an `Analysis` reports, whatever shape the findings take."""
    found = getattr(analysis, "findings", None)
    if found is None:
        return []
    if hasattr(found, "columns") and "fault" in getattr(found, "columns", ()):  # a DataFrame
        return [str(x) for x in found["fault"].tolist()]
    names = []
    for f in found:
        name = (
            getattr(f, "fault", None) or getattr(f, "name", None) or (f.get("fault") if isinstance(f, dict) else None)
        )
        if name:
            names.append(str(name))
    return names


def window_metrics(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None,
    *,
    sampling_rate_hz: float,
    analyze: AnalyzeFn | None = None,
    analyze_kwargs: Mapping[str, Any] | None = None,
    device: str | None = None,
) -> LiveMetrics:
    """Analyse one window of samples (sensor frame, SI) with the offline core.

    Parameters
    ----------
    t, acc, gyr
        The window: times (s, increasing; gaps allowed), specific force, angular rate
        (``None`` for an accelerometer-only sensor).
    sampling_rate_hz
        Rate of ``t``.
    analyze
        The analysis function (default `gait.analyze`); it must accept a `Session`.
    analyze_kwargs
        Extra keyword arguments for it (e.g. a mounting estimate kept across windows).
    device
        Device name for the window's metadata.
    """
    start = time.perf_counter()
    fn = analyze if analyze is not None else _default_analyze()
    window_s = float(t[-1] - t[0]) if t.size else 0.0
    if fn is None:
        return LiveMetrics(window_s=window_s, note="the analysis core (gait.analyze) is not available in this version")
    if t.size < 2:
        return LiveMetrics(window_s=window_s)
    session = Session(
        t=t, acc=acc, gyr=gyr, frame="sensor", meta=SessionMetadata(sampling_rate_hz=sampling_rate_hz, device=device)
    )
    try:
        a = fn(session, **dict(analyze_kwargs or {}))
    except GaitInputError as e:  # too short, no running yet, ...: say so, keep streaming
        return LiveMetrics(
            window_s=window_s, note=e.problem, newest_t_s=float(t[-1]), compute_s=time.perf_counter() - start
        )
    steps = a.steps
    run = steps[(steps["activity"] == "running") & steps["valid"]] if len(steps) else steps
    values = {}
    for col in LIVE_COLUMNS:
        if col in run.columns and len(run):
            v = run[col].to_numpy(dtype=float)
            v = v[np.isfinite(v)]
            values[col] = float(np.median(v)) if v.size else math.nan
        else:
            values[col] = math.nan
    cues = tuple(CUES.get(name, name.replace("_", " ")) for name in dict.fromkeys(_findings(a)))
    note = "" if len(run) else ("no running in the last seconds" if len(steps) else "no steps in the last seconds")
    return LiveMetrics(
        window_s=window_s,
        n_steps=len(run),
        cues=cues,
        note=note,
        newest_t_s=float(t[-1]),
        compute_s=time.perf_counter() - start,
        **values,
    )


def format_metric(name: str, value: float) -> str:
    """A live metric for display, in the units a runner reads (spm, ms, cm, degrees)."""
    if not math.isfinite(value):
        return "-"
    if name == "cadence_spm":
        return f"{value:.0f} spm"
    if name == "contact_time_s":
        return f"{value * 1000:.0f} ms"
    if name == "vertical_oscillation_m":
        return f"{value * 100:.1f} cm"
    if name in ("lean_deg", "yaw_range_deg"):
        return f"{value:+.1f} deg" if name == "lean_deg" else f"{value:.1f} deg"
    return f"{value:g}"
