"""The RBDS files: the trials, the marker and force readers and the dataset's constants."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where

#: Marker sampling rate (the ``Time`` column is rounded to 1 ms; samples are uniform).
FS_HZ = 150.0


#: Force sampling rate (``Time`` is the sample number, synchronous with the markers).
FORCE_FS_HZ = 300.0


#: The pelvis cluster.
PELVIS_MARKERS = ("R.ASIS", "L.ASIS", "R.PSIS", "L.PSIS", "R.Iliac.Crest", "L.Iliac.Crest")


#: Contact from force: threshold and Schmitt-trigger half-width, N; minimum durations, s.
FORCE_THRESHOLD_N = 50.0


FORCE_HYSTERESIS_N = 20.0


MIN_CONTACT_S = 0.1


MIN_FLIGHT_S = 0.03


#: Marker events: the heel is furthest ahead of the sacrum this long before contact (s), and
#: toe-off is when the metatarsal markers rise faster than this (m/s). Calibrated on the two
#: force trials with `calibrate_marker_events` (pooled); see ``docs/validation.md``.
MARKER_IC_LATENCY_S = 0.025


MARKER_TO_UPWARD_MPS = 0.59


#: Foot-strike angle thresholds, deg (Altman & Davis 2012).
REARFOOT_ABOVE_DEG = 8.0


FOREFOOT_BELOW_DEG = -1.6


#: Standing trials shorter than this are replaced by their mean posture held still.
MIN_STANDING_S = 3.0


#: Time dropped at each end of a virtual recording (filter and derivative edges), s.
TRIM_S = 0.2


#: ``join="gap"``: time between the standing part and the run (a gap, not bridged), s.
GAP_S = 1.0


#: ``join="fade"``: the run fades in from, and out to, the standing posture over this long, s;
#: the standing posture is then held this long at the end.
FADE_S = 2.0


TAIL_S = 5.0


@dataclass(frozen=True)
class RbdsTrial:
    """One running trial of the dataset.

    Attributes
    ----------
    key
        Short name, e.g. ``"r1_2.5"``.
    runner
        1, 2 or 3 (the dataset's subject identities beyond runner 1 are uncertain).
    nominal_speed_mps
        Speed in the file name; the belt speed measured from the feet is in `RbdsData.info`.
    markers, force, static
        File names (force ``None`` when absent).
    """

    key: str
    runner: int
    nominal_speed_mps: float
    markers: str
    force: str | None
    static: str


#: The five trials of the folder ``rbds2017_treadmill_mocap``.
TRIALS: tuple[RbdsTrial, ...] = (
    RbdsTrial("r1_2.5", 1, 2.5, "RBDS001runT25markers.txt.gz", "RBDS001runT25forces.txt.gz", "RBDS001static.txt.gz"),
    RbdsTrial("r2_2.5", 2, 2.5, "RBDS0041runT252.txt.gz", "RBDS0041runT252forces.txt.gz", "RBDS0041static.txt.gz"),
    RbdsTrial("r2_3.5", 2, 3.5, "RBDS0041runT352.txt.gz", None, "RBDS0041static.txt.gz"),
    RbdsTrial("r2_4.5", 2, 4.5, "RBDS0041runT452.txt.gz", None, "RBDS0041static.txt.gz"),
    RbdsTrial("r3_3.5", 3, 3.5, "RBDS032runT35markers.txt.gz", None, "RBDS032static.txt.gz"),
)


# ---------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------
def read_markers(path: str | Path) -> dict[str, np.ndarray]:
    """Marker trajectories of one file: name -> ``(n, 3)`` laboratory coordinates in m.

    Columns ``<name>X``, ``<name>Y``, ``<name>Z`` in mm (``Time`` is ignored: samples are
    uniform at `FS_HZ`). Missing samples stay NaN; markers missing throughout are left out.
    """
    p = Path(path)
    if not p.is_file():
        raise GaitInputError("file not found", expected="an RBDS marker file", found=str(p), where=Where(file=p))
    df = pd.read_csv(p, sep="\t")
    names = [c[:-1] for c in df.columns if c.endswith("X") and c[:-1] + "Y" in df and c[:-1] + "Z" in df]
    if not names:
        raise GaitInputError(
            "no markers",
            expected="columns <marker>X, <marker>Y, <marker>Z",
            found=", ".join(df.columns[:5]),
            where=Where(file=p),
        )
    out = {}
    for k in names:
        xyz = df[[k + "X", k + "Y", k + "Z"]].to_numpy(float) / 1000.0
        if np.isfinite(xyz).any():
            out[k] = xyz
    return out


def read_force(path: str | Path) -> np.ndarray:
    """Vertical treadmill force (column ``Fy``), N, at `FORCE_FS_HZ`."""
    p = Path(path)
    df = pd.read_csv(p, sep="\t")
    if "Fy" not in df:
        raise GaitInputError(
            "no vertical force", expected="a column 'Fy'", found=", ".join(df.columns), where=Where(file=p)
        )
    return df["Fy"].to_numpy(float)


def mass_from_info(data_dir: Path, force_file: str | None) -> float | None:
    """Body mass (kg) from the participant table, for a force file listed in it."""
    info = data_dir / "RBDSinfo.txt.gz"
    if force_file is None or not info.is_file():
        return None
    df = pd.read_csv(info, sep="\t")
    row = df[df["FileName"] == force_file.removesuffix(".gz")]
    return float(row["Mass"].iloc[0]) if len(row) else None


# ---------------------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------------------
def foot_names(markers: dict[str, np.ndarray], side: str) -> tuple[str, list[str]]:
    heel = f"{side}.Heel.Bottom"
    mts = [f"{side}.MT1", f"{side}.MT5"]
    missing = [k for k in [heel, *mts] if k not in markers]
    if missing:
        raise GaitInputError(
            "foot markers missing",
            expected="Heel.Bottom, MT1 and MT5 of both feet",
            found="no " + ", ".join(missing),
            where=Where(parameter="markers"),
        )
    return heel, mts
