"""Live form metrics: the offline analysis core run on a sliding window.

`window_metrics` builds a `gait.Session` from the newest ~10 s of samples and calls the same
`gait.analyze` the offline report uses, then takes medians of its per-step table. Nothing
here computes a metric of its own.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GaitInputError
from ..registry import METRICS
from ..session import Session, SessionMetadata

__all__ = ["LiveMetrics", "StartMounting", "format_metric", "window_metrics"]

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
        Cues of the faults found in the window (`gait.faults`), most important first.
    faults
        ``(fault id, severity)`` of each finding behind ``cues``, in the same order (what the
        spoken coach schedules from, `gait.live.CueScheduler`).
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
    faults: tuple[tuple[str, str], ...] = ()
    note: str = "waiting for data"
    newest_t_s: float = math.nan
    compute_s: float = 0.0


AnalyzeFn = Callable[..., Any]
EvaluateFn = Callable[[Any], Any]


def _default_analyze() -> AnalyzeFn | None:
    import gait

    return getattr(gait, "analyze", None)


def _default_evaluate() -> EvaluateFn | None:
    try:
        from ..faults import evaluate
    except ImportError:  # pragma: no cover - a version without the fault catalogue
        return None
    return evaluate


def _accepts(fn: AnalyzeFn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins, some C callables
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def window_metrics(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None,
    *,
    sampling_rate_hz: float,
    analyze: AnalyzeFn | None = None,
    analyze_kwargs: Mapping[str, Any] | None = None,
    device: str | None = None,
    device_id: str | None = None,
    start_time: str | None = None,
    calibration: Any = None,
    mounting: Any = None,
    evaluate: EvaluateFn | None = None,
    with_cues: bool = True,
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
        Extra keyword arguments for it.
    device, device_id, start_time
        Metadata of the window's session.
    calibration
        The sensor's stored `calibration.Calibration` (``None``: raw data), applied to the
        window exactly as ``gait analyze`` and ``gait batch`` apply it; its mounting is used
        when it is recent (`calibration.mounting_for`).
    mounting
        Otherwise, a mounting estimated from the start of the recording (`StartMounting`),
        so lean has its standing reference and every window shares one body frame.
    evaluate
        Turns the window's analysis into findings with a ``cue`` each (default
        `gait.faults.evaluate`, the catalogue the offline report uses; only with the default
        ``analyze``: a custom analysis function brings its own or none).
    with_cues
        Evaluate the fault cues (False: metrics only, ``cues`` empty, and the analysis skips
        the per-minute and run summaries that only the fault rules use). The recorder updates
        cues at most once a second, away from the metrics path, and metrics on every new
        notification.
    """
    start = time.perf_counter()
    fn = analyze if analyze is not None else _default_analyze()
    if evaluate is None and analyze is None:
        evaluate = _default_evaluate()
    window_s = float(t[-1] - t[0]) if t.size else 0.0
    if fn is None:
        return LiveMetrics(window_s=window_s, note="the analysis core (gait.analyze) is not available in this version")
    if t.size < 2:
        return LiveMetrics(window_s=window_s)
    meta = SessionMetadata(sampling_rate_hz=sampling_rate_hz, device=device, device_id=device_id, start_time=start_time)
    session = Session(t=t, acc=acc, gyr=gyr, frame="sensor", meta=meta)
    kwargs = dict(analyze_kwargs or {})
    if not with_cues and "summaries" not in kwargs and _accepts(fn, "summaries"):
        kwargs["summaries"] = False
    findings: list[Any] = []
    try:
        if analyze is None:  # the offline orchestrator, as gait analyze and gait batch run it
            from .._run import run as run_session

            mounting = kwargs.pop("mounting", mounting)
            r = run_session(
                session,
                calibration=calibration,
                mounting=mounting,
                if_calibrated="skip",
                apply_empty=False,
                analyze_kwargs=kwargs,
                faults=None,
            )
            a = r.analysis
        else:  # a custom analysis function (tests, other dashboards)
            if calibration is not None:
                from .._run import prepare

                p = prepare(
                    session, calibration=calibration, mounting=mounting, if_calibrated="skip", apply_empty=False
                )
                session, mounting = p.session, p.mounting
            if mounting is not None and "mounting" not in kwargs and _accepts(fn, "mounting"):
                kwargs["mounting"] = mounting
            a = fn(session, **kwargs)
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
    if evaluate is not None and with_cues:
        findings = list(evaluate(a))
    cues = tuple(dict.fromkeys(str(f.cue) for f in findings))
    faults = tuple(
        dict.fromkeys((str(getattr(f, "fault", f.cue)), str(getattr(f, "severity", "moderate"))) for f in findings)
    )
    note = "" if len(run) else ("no running in the last seconds" if len(steps) else "no steps in the last seconds")
    return LiveMetrics(
        window_s=window_s,
        n_steps=len(run),
        cues=cues,
        faults=faults,
        note=note,
        newest_t_s=float(t[-1]),
        compute_s=time.perf_counter() - start,
        **values,
    )


class StartMounting:
    """The sensor-to-body rotation, estimated once from the start of the recording.

    A 10-second window of running has no standing posture, so on its own the analysis cannot
    measure lean (it needs vertical from standing) and re-estimates the mounting every window.
    The runner stands for a few seconds before starting (``docs/recording.md``): this keeps
    the first ``max_s`` seconds, and as soon as they hold ``min_still_s`` of standing and
    ``min_running_s`` of running or walking, estimates the mounting with the core's own
    functions (`gait.core.activity.bout_labels`, `gait.core.mounting.estimate_mounting`). That
    estimate is then given to the analysis of every window.

    `add` and `due` run on the event loop; `estimate` (a few ms) in the analysis thread, on
    the arrays `due` returned.
    """

    def __init__(self, *, sampling_rate_hz: float, max_s: float = 120.0, every_s: float = 5.0) -> None:
        self.rate = float(sampling_rate_hz)
        self.max_samples = int(max_s * self.rate)
        self.every = int(every_s * self.rate)
        self._t: list[np.ndarray] = []
        self._acc: list[np.ndarray] = []
        self._n = 0
        self._tried_at = 0
        self.result: Any = None
        self.gave_up = False

    @property
    def done(self) -> bool:
        return self.result is not None or self.gave_up

    def add(self, t: np.ndarray, acc: np.ndarray) -> None:
        if self.done or self._n >= self.max_samples:
            return
        self._t.append(np.asarray(t, dtype=float))
        self._acc.append(np.asarray(acc, dtype=float))
        self._n += int(np.asarray(t).size)

    def due(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The samples to try an estimate on, when enough new ones arrived."""
        if self.done or self._n - self._tried_at < self.every:
            return None
        self._tried_at = self._n
        t, acc = np.concatenate(self._t), np.concatenate(self._acc)
        self._t, self._acc = [t], [acc]
        return t, acc

    def estimate(self, t: np.ndarray, acc: np.ndarray) -> Any:
        """A mounting with a standing reference, or None (not enough standing and moving yet)."""
        from ..core.activity import RUNNING, STILL, WALKING, bout_labels
        from ..core.mounting import estimate_mounting

        session = Session(t=t, acc=acc, gyr=None, frame="sensor", meta=SessionMetadata(sampling_rate_hz=self.rate))
        labels = bout_labels(session)
        still, running, walking = labels == STILL, labels == RUNNING, labels == WALKING
        if still.sum() < self.rate or (running.sum() + walking.sum()) < 4 * self.rate:
            return None
        est = estimate_mounting(acc, sampling_rate_hz=self.rate, still=still, running=running, walking=walking)
        return est if est.vertical_source == "standing" else None

    def accept(self, est: Any) -> None:
        """Keep ``est`` (from `estimate`); give up once the buffer is full without one."""
        if est is not None:
            self.result = est
        elif self._n >= self.max_samples:
            self.gave_up = True
        if self.done:
            self._t, self._acc = [], []


def format_metric(name: str, value: float) -> str:
    """A live metric for display, in the units a runner reads (spm, ms, cm, degrees), as the
    metric registry (`gait.registry`) shows it; a signed metric (lean) with its sign."""
    if not math.isfinite(value):
        return "-"
    m = METRICS.get(name)
    return f"{value:g}" if m is None else m.format(value)
