"""The mounting procedure on a recording: standing, then walking or running, to a stored record.

The estimate itself is `gait.core.mounting.estimate_mounting`; this module checks that the
recording holds what the procedure needs and turns the estimate into a `MountingCalibration`.
"""

from __future__ import annotations

from typing import Any

from gait.core.activity import RUNNING, STILL, WALKING, bout_labels
from gait.core.mounting import estimate_mounting
from gait.errors import GaitInputError
from gait.session import Session

from ._still import describe_where, require_sensor_frame
from ._types import MountingCalibration, utc_now

__all__ = ["calibrate_mounting", "mounting_from_estimate"]

_HINT = "Clip the sensor on, stand upright and still for 5 s, then walk or run straight ahead for at least 10 steps"


def mounting_from_estimate(estimate: Any, *, source: str | None = None) -> MountingCalibration:
    """A storable record from a `gait.core.mounting.MountingEstimate`.

    ``method`` is ``"<vertical source>+<forward source>"`` (e.g. ``"standing+walking"``);
    the quality measures are the estimate's confidence and the seconds of data used.
    """
    return MountingCalibration(
        rotation=estimate.rotation,
        method=f"{estimate.vertical_source}+{estimate.forward_source}",
        quality={
            "forward_confidence": float(estimate.forward_confidence),
            "still_s": float(estimate.still_s),
            "moving_s": float(estimate.moving_s),
        },
        created=utc_now(),
        source=source,
    )


def calibrate_mounting(session: Session) -> MountingCalibration:
    """Sensor-to-body rotation from a recording of standing still, then walking or running.

    Parameters
    ----------
    session
        Sensor-frame recording, preferably with the sensor errors already corrected
        (`apply_calibration`): an accelerometer bias tilts the vertical.

    Returns
    -------
    MountingCalibration

    Raises
    ------
    GaitInputError
        Not the sensor frame, no standing still (at least 1 s), or no walking or running
        (at least 4 s).

    Notes
    -----
    Activity from `gait.core.activity.bout_labels`; the rotation from
    `gait.core.mounting.estimate_mounting` (standing gives vertical and the zero of lean,
    walking or running gives forward), whose Notes give the method.
    """
    where = describe_where(session)
    require_sensor_frame(session, "mounting calibration")
    labels = bout_labels(session)
    fs = session.sampling_rate_hz
    still_s = float((labels == STILL).sum()) / fs
    moving_s = float(((labels == RUNNING) | (labels == WALKING)).sum()) / fs
    if still_s < 1.0:
        raise GaitInputError(
            "no standing still in the mounting recording",
            expected="at least 1 s standing still (5 s recommended)",
            found=f"{still_s:.1f} s",
            where=where,
            hint=_HINT,
        )
    est = estimate_mounting(
        session.acc, sampling_rate_hz=fs, still=labels == STILL, running=labels == RUNNING, walking=labels == WALKING
    )
    if est.forward_source == "none":
        raise GaitInputError(
            "no walking or running in the mounting recording",
            expected="at least 4 s of walking or running straight ahead",
            found=f"{moving_s:.1f} s",
            where=where,
            hint=_HINT,
        )
    return mounting_from_estimate(est, source=session.meta.source)
