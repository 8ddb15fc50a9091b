"""Reader for the sacral-accelerometer running dataset of Alcantara et al. (2022).

The dataset comes in three layouts, all one trial per row, each row of the accelerometer file
holding 4960 values: the vertical then the antero-posterior sacral acceleration in g at
500 Hz (2480 each; gravity included, 20 Hz low-passed, vertical clipped at 0); the force
file holds the treadmill's normal force in body weights, 2480 values per row,
sample-synchronous; the trial table gives the runner and the condition of each row:

=====================  ==========================  ===========================  =====================
layout                 trial table                 accelerometer                force
=====================  ==========================  ===========================  =====================
this project's subset  ``trials.csv``              ``sacral_accel_g.csv``       ``normal_grf_bw.csv``
authors' repository    ``Sub_Info_one_sub.csv``    ``Accelerometer_one_sub.csv``  ``GRF_one_sub.csv``
full archive           ``Sub_Info.csv``            ``Accelerometer.csv``        ``GRF.csv``
=====================  ==========================  ===========================  =====================

The trial table has a header row with at least ``Sub``, ``Speed`` (m/s) and ``Slope``
(degrees); ``Mass`` (kg), ``RFS`` (rearfoot strikes, %), ``Condition`` and ``trial`` (the
row's index in the runner's full set of trials; by default the row's own index) are used when
present. The sensor is biaxial: the medio-lateral axis is absent and there is no gyroscope.

Every problem (a file missing, a column missing, text or NaN where a number belongs, ragged
rows, a row count that differs between the files, bytes that are not UTF-8) raises
`GaitInputError` naming the file, the line and the column.

Notes
-----
Alcantara, Edwards, Millet & Grabowski (2022), PeerJ 10:e12752; data from the authors'
repository alcantarar/Recurrent_GRF_Prediction (``data/``; Apache-2.0), whose notebook reads
the accelerometer and force files with ``header=None`` and the trial table with a header.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where
from ..io import session_from_dataframe
from ..session import Session

FS_HZ = 500.0
N_PER_AXIS = 2480
#: Speeds a trial may declare, m/s (exclusive bounds; the same as ``--speed-mps``).
MAX_SPEED_MPS = 12.0
#: Treadmill slopes a trial may declare, degrees.
MAX_SLOPE_DEG = 45.0


@dataclass(frozen=True)
class Layout:
    """File names of one layout of the dataset."""

    name: str
    trials: str
    accel: str
    force: str


LAYOUTS: tuple[Layout, ...] = (
    Layout("subset", "trials.csv", "sacral_accel_g.csv", "normal_grf_bw.csv"),
    Layout("authors' repository", "Sub_Info_one_sub.csv", "Accelerometer_one_sub.csv", "GRF_one_sub.csv"),
    Layout("full archive", "Sub_Info.csv", "Accelerometer.csv", "GRF.csv"),
)
_REQUIRED = ("Sub", "Speed", "Slope")
_NUMBER = r"[ \t]*[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[ \t]*"
_ROW = re.compile(rf"^{_NUMBER}(?:,{_NUMBER})*$", re.ASCII)
_CELL = re.compile(rf"^{_NUMBER}$", re.ASCII)


def _folder(p: Path) -> Path:
    p = Path(p)
    return p if p.is_dir() else p.parent


def _layout(p: Path) -> Layout | None:
    p = Path(p)
    d = _folder(p)
    for lay in LAYOUTS:
        try:
            found = (d / lay.trials).is_file() and (d / lay.accel).is_file()
        except OSError:
            found = False
        if found and (p.is_dir() or p.name in (lay.accel, lay.trials)):
            return lay
    return None


def sniff(p: Path) -> bool:
    return _layout(p) is not None


def _text(f: Path) -> str:
    where = Where(file=f)
    try:
        raw = f.read_bytes()
    except OSError as e:
        raise GaitInputError("cannot read file", expected="a readable file", found=str(e), where=where) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise GaitInputError(
            "not a text file",
            expected="a UTF-8 CSV text file",
            found=f"undecodable bytes at offset {e.start} ({raw[e.start : e.start + 8]!r})",
            where=where,
        ) from None
    if "\x00" in text:
        raise GaitInputError(
            "not a text file", expected="a UTF-8 CSV text file", found="binary data (a NUL byte)", where=where
        )
    return text


def _lines(text: str) -> list[str]:
    """Lines without line ends; blank lines at the end dropped."""
    lines = [x.removesuffix("\r") for x in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _matrix(f: Path, n_values: int, what: str) -> np.ndarray:
    """A headerless CSV of ``n_values`` numbers per row, as a float array (rows, n_values)."""
    lines = _lines(_text(f))
    if not lines:
        raise GaitInputError(
            "empty file",
            expected=f"one row of {n_values} values ({what}) per trial",
            found="no rows",
            where=Where(file=f),
        )
    out = np.empty((len(lines), n_values))
    for k, line in enumerate(lines):
        where = Where(file=f, line=k + 1)
        fields = line.split(",")
        if len(fields) != n_values:
            raise GaitInputError(
                "wrong number of values",
                expected=f"{n_values} comma-separated values ({what})",
                found=f"{len(fields)}",
                where=where,
            )
        if not _ROW.match(line):
            j = next(i for i, x in enumerate(fields) if not _CELL.match(x))
            raise GaitInputError(
                "not a number",
                expected="a decimal number",
                found=f"{fields[j][:40]!r} (value {j + 1} of {n_values})",
                where=where,
            )
        out[k] = np.array(fields, dtype=float)
        bad = ~np.isfinite(out[k])
        if bad.any():
            j = int(np.argmax(bad))
            raise GaitInputError(
                "value out of range",
                expected="a finite number",
                found=f"{fields[j][:40]!r} (value {j + 1} of {n_values})",
                where=where,
            )
    return out


def _number(
    value: str, f: Path, line: int, column: str, lo: float, hi: float, unit: str, *, inclusive: bool = False
) -> float:
    where = Where(file=f, line=line, column=column)
    v = float(value) if _CELL.match(value) else math.nan
    ok = (lo <= v <= hi) if inclusive else (lo < v < hi)
    if not ok:
        bounds = f"from {lo:g} to {hi:g}" if inclusive else f"between {lo:g} and {hi:g} (exclusive)"
        raise GaitInputError(
            "not a number" if math.isnan(v) else "value out of range",
            expected=f"a number {bounds}{unit}",
            found=repr(value[:40]),
            where=where,
        )
    return v


def read_trials(p: Path) -> pd.DataFrame:
    """The dataset's trial table, checked: one row per trial, with numeric ``Speed`` (m/s) and
    ``Slope`` (degrees), ``Mass`` (kg) and ``RFS`` (%) as numbers or NaN, and ``trial``
    (the row's index in the runner's full set of trials; the row's own index when absent)."""
    lay = _layout(p) or LAYOUTS[0]
    f = _folder(p) / lay.trials
    lines = _lines(_text(f))
    if not lines:
        raise GaitInputError(
            "empty file", expected="a header row and one row per trial", found="no rows", where=Where(file=f)
        )
    header = [c.strip() for c in lines[0].split(",")]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise GaitInputError(
            "missing column" + ("s" if len(missing) > 1 else ""),
            expected=f"columns {', '.join(_REQUIRED)} (and optionally Mass, RFS, Condition, trial)",
            found=f"no {', '.join(missing)} among {', '.join(repr(c) for c in header[:15])}",
            where=Where(file=f, line=1),
        )
    if len(set(header)) != len(header):
        dup = sorted({c for c in header if header.count(c) > 1})
        raise GaitInputError(
            "duplicate column names", expected="each column once", found=", ".join(dup), where=Where(file=f, line=1)
        )
    if len(lines) < 2:
        raise GaitInputError(
            "no trials", expected="one row per trial after the header", found="a header only", where=Where(file=f)
        )
    rows = []
    for k, line in enumerate(lines[1:]):
        line_no = k + 2
        cells = [c.strip() for c in line.split(",")]
        if len(cells) != len(header):
            raise GaitInputError(
                "wrong number of fields",
                expected=f"{len(header)} comma-separated values, as in the header",
                found=f"{len(cells)} ({line[:60]!r})",
                where=Where(file=f, line=line_no),
            )
        row = dict(zip(header, cells))
        rec: dict[str, object] = {
            "Sub": row["Sub"],
            "Speed": _number(row["Speed"], f, line_no, "Speed", 0.0, MAX_SPEED_MPS, " m/s"),
            "Slope": _number(row["Slope"], f, line_no, "Slope", -MAX_SLOPE_DEG, MAX_SLOPE_DEG, " deg"),
            "Mass": math.nan,
            "RFS": math.nan,
            "Condition": row.get("Condition", ""),
            "trial": k,
        }
        if row.get("Mass"):
            rec["Mass"] = _number(row["Mass"], f, line_no, "Mass", 0.0, 500.0, " kg")
        if row.get("RFS"):
            rec["RFS"] = _number(row["RFS"], f, line_no, "RFS", 0.0, 100.0, " %", inclusive=True)
        if row.get("trial"):
            rec["trial"] = int(_number(row["trial"], f, line_no, "trial", 0.0, 1e6, " (a row index)", inclusive=True))
            if float(row["trial"]) != rec["trial"]:
                raise GaitInputError(
                    "not a whole number",
                    expected="a trial index (0, 1, 2 ...)",
                    found=repr(row["trial"][:40]),
                    where=Where(file=f, line=line_no, column="trial"),
                )
        if not row["Sub"]:
            raise GaitInputError(
                "missing value",
                expected="the runner's id",
                found="an empty cell",
                where=Where(file=f, line=line_no, column="Sub"),
            )
        rows.append(rec)
    return pd.DataFrame(rows)


def read(p: Path) -> list[Session]:
    lay = _layout(p)
    if lay is None:  # pragma: no cover - read is called after sniff
        raise GaitInputError(
            "not the Alcantara 2022 layout",
            expected=" or ".join(f"{x.trials} with {x.accel}" for x in LAYOUTS),
            found="neither",
            where=Where(file=p),
        )
    d = _folder(p)
    trials = read_trials(d / lay.accel)
    acc_file = d / lay.accel
    acc_g = _matrix(acc_file, 2 * N_PER_AXIS, "vertical then antero-posterior acceleration, g")
    if acc_g.shape[0] != len(trials):
        raise GaitInputError(
            "row counts differ",
            expected=f"one row per trial of {lay.trials} ({len(trials)})",
            found=f"{acc_g.shape[0]} rows",
            where=Where(file=acc_file),
        )
    t = np.arange(N_PER_AXIS) / FS_HZ
    sessions = []
    for k, row in enumerate(trials.to_dict("records")):
        df = pd.DataFrame(
            {
                "t_s": t,
                "acc_v_g": acc_g[k, :N_PER_AXIS],
                "acc_ap_g": acc_g[k, N_PER_AXIS:],
                "acc_ml_g": np.full(N_PER_AXIS, np.nan),
            }
        )
        extra: dict[str, object] = {
            "lowpass_hz": 20.0,
            "trial": int(row["trial"]),
            "row": k,
            "speed_mps": float(row["Speed"]),
            "slope_deg": float(row["Slope"]),
        }
        if not math.isnan(row["RFS"]):
            extra["rearfoot_pct"] = float(row["RFS"])
        if not math.isnan(row["Mass"]):
            extra["body_mass_kg"] = float(row["Mass"])
        if row["Condition"]:
            extra["condition"] = str(row["Condition"])
        meta = {
            "sampling_rate_hz": FS_HZ,
            "device": "sacral accelerometer (Alcantara et al. 2022)",
            "device_id": f"alcantara2022-sub{row['Sub']}",
            "source": str(acc_file),
            "notes": f"trial {row['trial']}: {row['Speed']:g} m/s, slope {row['Slope']:g} deg; low-passed at 20 Hz, "
            "vertical clipped at 0 g",
            "extra": extra,
        }
        sessions.append(session_from_dataframe(df, meta=meta, where=Where(file=acc_file, line=k + 1)))
    return sessions


def read_force(p: Path) -> np.ndarray:
    """Normal ground reaction force in body weights, shape (trials, 2480), 500 Hz."""
    lay = _layout(p) or LAYOUTS[0]
    return _matrix(_folder(p) / lay.force, N_PER_AXIS, "normal force, body weights")
