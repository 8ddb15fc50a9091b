"""Guided calibration procedures: the prompts, and the loop a live recorder drives.

The recorder (``gait record``, BLE) owns the connection; it passes a ``record`` callable
that records ``duration_s`` seconds of *raw* sensor-frame samples from the connected device
and returns them as a `gait.session.Session`. These functions prompt the user (``say`` for
messages, ``ask`` to wait for the user to be ready), check each recording, ask for a repeat
when it is unusable, and return the calibration record; the caller stores it with
`CalibrationStore.save`. The same checks run on recorded files (`estimate_gyro_bias`,
`calibrate_accelerometer`), so a recording made with any app following `GUIDES` gives the
same result.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from gait.constants import DEG_PER_RAD, SENSOR_AXES
from gait.errors import GaitInputError, Where, check_positive
from gait.session import Session

from ._accel import fit_accelerometer
from ._gyro import estimate_gyro_bias
from ._still import find_still_segments
from ._types import AccelCalibration, GyroBiasCalibration

__all__ = ["GUIDES", "RecordFn", "accel_procedure", "face_name", "gyro_procedure"]

#: ``record(duration_s) -> Session``: raw sensor-frame samples from the connected device.
RecordFn = Callable[[float], Session]

GUIDES: dict[str, str] = {
    "gyro": (
        "Gyroscope bias (about 15 s; do it before a run, with the sensor switched on for a minute):\n"
        "  1. Put the sensor on a table or the floor, any way up.\n"
        "  2. Do not touch it, or the table, for 10 seconds while it records.\n"
        "  If it moved, you will be asked to do it again."
    ),
    "accel": (
        "Accelerometer (about 2 minutes; once per sensor, again after a hard knock):\n"
        "  1. Lay the sensor still on each of its six faces in turn (each axis pointing up, then down),\n"
        "     2-3 seconds per face, on a firm surface. Move it between faces; order does not matter.\n"
        "  2. Then rest it on six different edges, tilted about 45 degrees (e.g. against a book),\n"
        "     2-3 seconds each. This also measures how far the axes are from square (misalignment).\n"
        "  From a file: record all of this in one go; still stretches are found automatically."
    ),
    "mounting": (
        "Mounting (every time you clip the sensor on; or skip it and let the run be used):\n"
        "  1. Clip the sensor on your lower back and stand upright, still, for 5 seconds.\n"
        "  2. Walk or run straight ahead for at least 10 steps.\n"
        "  Standing defines zero lean; the steps define forward."
    ),
}


def face_name(up_sensor: np.ndarray) -> str:
    """The sensor axis closest to "up" for a reading, e.g. ``"+z"``."""
    v = np.asarray(up_sensor, dtype=float)
    i = int(np.argmax(np.abs(v)))
    return ("+" if v[i] >= 0 else "-") + SENSOR_AXES[i]


def _default_ask(prompt: str) -> None:  # pragma: no cover - interactive
    input(prompt + " [Enter] ")


def gyro_procedure(
    record: RecordFn,
    *,
    duration_s: float = 10.0,
    attempts: int = 3,
    say: Callable[[str], None] = print,
    ask: Callable[[str], None] = _default_ask,
) -> GyroBiasCalibration:
    """Guide the user through a gyroscope-bias recording; repeat it when the sensor moved.

    Parameters
    ----------
    record
        ``record(duration_s) -> Session`` from the connected device (raw, sensor frame).
    duration_s
        Still time asked for, s (1 s more is recorded and trimmed at the ends).
    attempts
        Tries before giving up.
    say, ask
        Output a message; wait until the user is ready.

    Returns
    -------
    GyroBiasCalibration
        With ``source="live"``.

    Raises
    ------
    GaitInputError
        The last attempt's error when every attempt failed.
    """
    check_positive(duration_s, "duration_s")
    say(GUIDES["gyro"])
    last: GaitInputError | None = None
    for k in range(1, max(int(attempts), 1) + 1):
        ask(f"Attempt {k}: put the sensor down and let go")
        say(f"Recording {duration_s:g} s: do not touch the sensor...")
        session = record(duration_s + 1.0)
        try:
            cal = estimate_gyro_bias(session, min_duration_s=0.8 * duration_s)
        except GaitInputError as e:
            last = e
            say(f"Not usable: {e.problem} ({e.found}). Let us try again.")
            continue
        say(
            "Gyroscope bias: "
            + ", ".join(f"{a} {b * DEG_PER_RAD:+.3f}" for a, b in zip(SENSOR_AXES, cal.bias_rads))
            + " deg/s"
        )
        return dataclasses.replace(cal, source="live")
    raise last or GaitInputError("no attempt made", where=Where(parameter="attempts"))


def accel_procedure(
    record: RecordFn,
    *,
    edges: int = 6,
    hold_s: float = 3.0,
    attempts: int = 3,
    say: Callable[[str], None] = print,
    ask: Callable[[str], None] = _default_ask,
    min_separation_deg: float = 20.0,
) -> AccelCalibration:
    """Guide the user through the six faces (and ``edges`` tilted poses), then fit.

    After each pose the user is told which face was up and which are still to do; a pose
    that was not still, or repeats one already recorded, is asked for again.

    Parameters
    ----------
    record
        ``record(duration_s) -> Session`` from the connected device (raw, sensor frame).
    edges
        Tilted poses after the six faces (0: six-face bias and scale only; 6 or more also
        gives the misalignment).
    hold_s
        Still time per pose, s.
    attempts
        Tries per pose.
    say, ask
        Output a message; wait until the user is ready.
    min_separation_deg
        A new pose must differ from every recorded one by at least this angle.

    Returns
    -------
    AccelCalibration
        From `fit_accelerometer` with ``model="auto"``, ``source="live"``. The poses are
        recorded one by one, without the movements between them, so the axes are not
        aligned with the gyroscope (``axes="accelerometer"``); for that, record the whole
        procedure continuously and pass it to `calibrate_accelerometer`.
    """
    check_positive(hold_s, "hold_s")
    if edges < 0:
        raise GaitInputError("out of range", expected="edges >= 0", found=repr(edges), where=Where(parameter="edges"))
    say(GUIDES["accel"])
    means: list[np.ndarray] = []
    faces_todo = [s + a for a in SENSOR_AXES for s in "+-"]
    cos_min = np.cos(min_separation_deg / DEG_PER_RAD)

    def one_pose(prompt: str, want_face: bool) -> None:
        for k in range(1, max(int(attempts), 1) + 1):
            ask(prompt if k == 1 else f"{prompt} (try {k})")
            session = record(hold_s + 1.0)
            segs = find_still_segments(session, min_duration_s=min(1.0, 0.5 * hold_s))
            if not segs:
                say("The sensor was not still. Rest it on a firm surface and let go.")
                continue
            longest = max(segs, key=lambda s: s.stop - s.start)
            m = session.acc[longest].mean(axis=0)
            u = m / np.linalg.norm(m)
            if means and np.max(np.asarray([x / np.linalg.norm(x) for x in means]) @ u) >= cos_min:
                say(f"This pose ({face_name(m)} up) was already recorded. Turn the sensor to another one.")
                continue
            face = face_name(m)
            if want_face and (np.max(np.abs(u)) < np.cos(25 / DEG_PER_RAD) or face not in faces_todo):
                say(f"Expected a flat face from {', '.join(faces_todo)}; this is tilted or done. Try again.")
                continue
            means.append(m)
            if want_face:
                faces_todo.remove(face)
            say(f"Recorded: {face} up." + (f" Still to do: {', '.join(faces_todo)}." if faces_todo else ""))
            return
        raise GaitInputError(
            "accelerometer calibration stopped",
            expected="a still, new pose",
            found=f"none in {attempts} tries",
            where=Where(parameter="live"),
            hint="Start again with the sensor resting on a firm surface",
        )

    for i in range(6):
        one_pose(f"Face {i + 1} of 6: lay the sensor flat on a face not done yet ({', '.join(faces_todo)})", True)
    for i in range(edges):
        one_pose(f"Edge {i + 1} of {edges}: rest the sensor on an edge, tilted about 45 degrees", False)
    cal = fit_accelerometer(np.asarray(means), model="auto", source="live", where=Where(parameter="live"))
    cal = dataclasses.replace(cal, alignment_note="poses recorded one by one: no movements to align with")
    say(
        f"Accelerometer: bias {np.array2string(cal.bias_mps2, precision=3)} m/s^2, "
        f"scale {np.array2string(cal.scale, precision=4)}, residual {cal.residual_mps2:.3f} m/s^2 ({cal.model})"
    )
    return cal
