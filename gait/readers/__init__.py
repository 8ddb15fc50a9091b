"""Readers for every supported input, dispatched by content.

`read_sessions` returns a list of sessions (a dataset can hold many trials); `read_session`
returns exactly one. Canonical files go through `gait.io`; other formats have a module here
that turns them into a table with canonical column names and hands it to
`gait.io.session_from_dataframe`, so every format gets the same validation. Whatever the input,
the answer is sessions or `GaitInputError` (a zip no reader recognises, a damaged zip, the
simulator's ground-truth sidecars included); `gait.readers._archive` reads zip members safely.

=====================  ===============================================  =====================
format                 how it is recognised                             module
=====================  ===============================================  =====================
canonical CSV / gzip   ``t_s`` / ``acc_*`` column names                 `gait.io`
canonical Parquet      ``PAR1`` magic                                   `gait.io`
Alcantara 2022 data    a folder with a trial table and an accelerometer
                       file (``trials.csv`` + ``sacral_accel_g.csv``,
                       ``Sub_Info*.csv`` + ``Accelerometer*.csv``)      `._alcantara`
phyphox export         a zip, folder or CSV whose header has
                       ``"Time (s)"`` and ``"Acceleration x (m/s^2)"``
                       / ``"Gyroscope x (rad/s)"``                      `._phyphox`
Sensor Logger export   a zip or folder with ``TotalAcceleration.csv`` /
                       ``Accelerometer.csv`` / ``Gyroscope.csv``
                       starting ``time,seconds_elapsed``                `._sensorlogger`
=====================  ===============================================  =====================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..errors import GaitInputError, Where
from ..io import read_canonical_session
from ..session import Session
from . import _alcantara, _phyphox, _sensorlogger
from ._archive import is_zip, zip_names

__all__ = ["READERS", "read_session", "read_sessions", "register_reader", "truth_file_error"]

#: (name, sniff(path) -> bool, read(path) -> list[Session]); first match wins.
READERS: list[tuple[str, Callable[[Path], bool], Callable[[Path], list[Session]]]] = [
    ("alcantara2022", _alcantara.sniff, _alcantara.read),
    ("sensorlogger", _sensorlogger.sniff, _sensorlogger.read),
    ("phyphox", _phyphox.sniff, _phyphox.read),
]


def register_reader(name: str, sniff: Callable[[Path], bool], read: Callable[[Path], list[Session]]) -> None:
    """Add a reader in front of the built-in ones."""
    READERS.insert(0, (name, sniff, read))


def read_sessions(path: str | os.PathLike[str], **kwargs) -> list[Session]:
    """Read every session in ``path`` (a file, or a dataset folder)."""
    p = Path(path)
    for _, sniff, read in READERS:
        if sniff(p):
            return read(p)
    if p.is_dir():
        raise GaitInputError(
            "unrecognised folder",
            expected="a session file, or a dataset folder of a supported layout",
            found="a folder of another layout (use 'gait batch' for a folder of sessions)",
            where=Where(file=p),
        )
    if p.name.lower().endswith(".truth.json"):
        raise truth_file_error(p, "the simulator's ground truth (JSON)")
    if p.is_file() and is_zip(p):
        names = zip_names(p)
        shown = ", ".join(repr(n) for n in (names or [])[:6]) + (", ..." if names and len(names) > 6 else "")
        raise GaitInputError(
            "unrecognised zip archive" if names is not None else "damaged zip archive",
            expected="a phyphox or Sensor Logger export (a zip of their CSV files)",
            found=(f"members {shown}" if names else "no members")
            if names is not None
            else "an archive that cannot be opened",
            where=Where(file=p),
        )
    return [read_canonical_session(p, **kwargs)]


def truth_file_error(p: Path, what: str) -> GaitInputError:
    """The error for a simulator ground-truth sidecar given where a session was expected."""
    stem = p.name.split(".truth.")[0] if ".truth." in p.name else None
    sessions = sorted(
        f.name
        for f in p.parent.glob(f"{stem}.*")
        if stem and ".truth." not in f.name and f.name.lower().endswith((".csv", ".csv.gz", ".parquet"))
    )
    return GaitInputError(
        "a ground-truth file, not a session",
        expected="a session file (t_s and acc_* columns)",
        found=what,
        where=Where(file=p),
        hint=f"Analyse the session it belongs to: {p.parent / sessions[0]}"
        if sessions
        else "Analyse the session it belongs to",
    )


def read_session(path: str | os.PathLike[str], **kwargs) -> Session:
    """Read exactly one session; a source holding several raises `GaitInputError`."""
    sessions = read_sessions(path, **kwargs)
    if len(sessions) != 1:
        raise GaitInputError(
            "more than one session",
            expected="a single session",
            found=f"{len(sessions)} sessions",
            where=Where(file=Path(path)),
        )
    return sessions[0]
