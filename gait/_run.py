"""One orchestrator: a session and its stored calibration in, the analysis and findings out.

`run` is what ``gait analyze``, ``gait batch`` and the live dashboard of ``gait record`` do
with a session: apply the device's stored calibration, pick the mounting (the stored one when
it is recent, else the one given, else estimated by the analysis), analyse, and evaluate the
fault catalogue. The few ways they differ are explicit parameters, not separate copies:

============================  =====================  ==================  =====================
parameter                     ``gait analyze``       ``gait batch``      live window
============================  =====================  ==================  =====================
``calibration``               ``"stored"`` (or None  ``"stored"`` in     the recorder's
                              with --no-calibration) ``--calibration-dir``  `Calibration`
``if_calibrated``             ``"skip"``             ``"mounting"``      ``"skip"``
``apply_empty``               True                   False               False
``sensor_frame_only``         False                  True                False
``faults``                    None; after the run    ``"evaluate"``      None; the cues are
                              history and the        (``on_stage``       evaluated at most
                              track's offset,        times each stage)   once a second
                              `gait.faults.assess`
============================  =====================  ==================  =====================

All three call `run`; ``gait analyze`` then aligns a watch track found from the run itself
(``--track-offset-s auto``), records the run in the history and assesses it with the history,
which needs the analysis first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from .session import Session

if TYPE_CHECKING:
    from calibration import Calibration, CalibrationStore

    from .core.pipeline import Analysis
    from .faults import Assessment, ElevationTrack, Finding
    from .history import History

__all__ = ["Prepared", "RunResult", "calibration_line", "prepare", "run"]


@dataclass(frozen=True)
class Prepared:
    """A session ready for analysis: calibrated, with the mounting to use (None: estimate it)."""

    session: Session
    mounting: Any = None
    calibration: Any = None  # the stored calibration found (applied or not), or None


@dataclass(frozen=True)
class RunResult:
    """What `run` produced: the session as analysed, its analysis, and the findings."""

    session: Session
    analysis: Analysis
    findings: list[Finding] = field(default_factory=list)
    assessment: Assessment | None = None
    mounting: Any = None
    calibration: Any = None


def prepare(
    session: Session,
    *,
    calibration: Calibration | Literal["stored"] | None = "stored",
    store: CalibrationStore | None = None,
    mounting: Any = None,
    if_calibrated: Literal["skip", "mounting"] = "skip",
    apply_empty: bool = False,
    sensor_frame_only: bool = False,
) -> Prepared:
    """Apply the device's calibration and choose the mounting.

    Parameters
    ----------
    session
        The session as read.
    calibration
        ``"stored"``: the current calibration of ``session.meta.device_id`` in ``store``
        (default store); a `calibration.Calibration`: that one; None: no calibration.
    store
        The calibration store for ``"stored"``.
    mounting
        The mounting to use when no recent stored one exists (None: the analysis estimates it).
    if_calibrated
        A session that is already calibrated (``meta.calibration`` set): ``"skip"`` neither
        applies a calibration nor uses the stored mounting; ``"mounting"`` applies none but uses
        the stored mounting when recent.
    apply_empty
        Apply a calibration that corrects nothing (it still names itself in the metadata).
    sensor_frame_only
        Apply a calibration only to a session in the sensor frame.
    """
    from calibration import apply_calibration, load_calibration, mounting_for

    already = bool(session.meta.calibration)
    if calibration is None or (already and if_calibrated == "skip"):
        return Prepared(session, mounting, None)
    cal = load_calibration(session.meta.device_id, store=store) if isinstance(calibration, str) else calibration
    if cal is None:
        return Prepared(session, mounting, None)
    applies = not already and (apply_empty or not cal.is_empty)
    if sensor_frame_only and session.frame != "sensor":
        applies = False
    if applies:
        session = apply_calibration(session, cal)
    stored = mounting_for(session, cal)
    return Prepared(session, stored if stored is not None else mounting, cal)


def run(
    session: Session,
    *,
    calibration: Calibration | Literal["stored"] | None = "stored",
    store: CalibrationStore | None = None,
    mounting: Any = None,
    if_calibrated: Literal["skip", "mounting"] = "skip",
    apply_empty: bool = False,
    sensor_frame_only: bool = False,
    speed: Any = None,
    analyze_kwargs: Mapping[str, Any] | None = None,
    faults: Literal["assess", "evaluate"] | None = "assess",
    history: History | None = None,
    history_reason: str | None = None,
    elevation: ElevationTrack | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> RunResult:
    """Calibrate, analyse and evaluate one session (see the module docstring).

    Parameters
    ----------
    session, calibration, store, mounting, if_calibrated, apply_empty, sensor_frame_only
        As in `prepare`.
    speed
        The running speed: a `gait.tracks.Track` aligned to the session, or m/s (`gait.analyze`).
    analyze_kwargs
        Further keyword arguments of `gait.analyze` (``summaries=False`` ...).
    faults
        ``"assess"``: `gait.faults.assess` with ``history``, ``history_reason`` and
        ``elevation`` (findings and notes); ``"evaluate"``: the findings only; None: no fault
        evaluation.
    on_stage
        Called with ``"calibrate"``, ``"analyze"`` and ``"faults"`` as each stage starts (the
        batch runner times the stages and names the one that failed).

    Returns
    -------
    RunResult
        The calibrated session, its `Analysis`, the findings (and the `Assessment` with
        ``faults="assess"``), the mounting used and the calibration found.
    """
    from .core.pipeline import analyze
    from .faults import assess, evaluate

    stage = on_stage if on_stage is not None else (lambda _name: None)
    stage("calibrate")
    p = prepare(
        session,
        calibration=calibration,
        store=store,
        mounting=mounting,
        if_calibrated=if_calibrated,
        apply_empty=apply_empty,
        sensor_frame_only=sensor_frame_only,
    )
    kwargs = dict(analyze_kwargs or {})
    if speed is not None:
        kwargs["speed"] = speed
    stage("analyze")
    a = analyze(p.session, mounting=p.mounting, **kwargs)
    if faults is not None:
        stage("faults")
    assessment = None
    findings: list[Finding] = []
    if faults == "assess":
        assessment = assess(a, history=history, elevation=elevation, history_reason=history_reason)
        findings = list(assessment.findings)
    elif faults == "evaluate":
        findings = list(evaluate(a))
    return RunResult(p.session, a, findings, assessment, p.mounting, p.calibration)


def calibration_line(result: Prepared | RunResult) -> str | None:
    """The line the command line prints about the stored calibration applied, or None."""
    if result.calibration is None:
        return None
    meta = result.session.meta
    return f"calibration: applied {meta.calibration} (device {meta.device_id})" + (
        "; stored mounting used" if result.mounting is not None else ""
    )
