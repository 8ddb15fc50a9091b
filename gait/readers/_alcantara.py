"""Reader for the sacral-accelerometer running dataset of Alcantara et al. (2022).

Layout (one trial per row; see the dataset's README): ``sacral_accel_g.csv`` holds 4960 values
per row, the vertical then the antero-posterior sacral acceleration in g at 500 Hz (gravity
included, 20 Hz low-passed, vertical clipped at 0); ``normal_grf_bw.csv`` the treadmill's
normal force in body weights, sample-synchronous; ``trials.csv`` speed, slope and foot-strike
shares. The sensor is biaxial: the medio-lateral axis is absent and there is no gyroscope.

Notes
-----
Alcantara, Edwards, Millet & Grabowski (2022), PeerJ 10:e12752; data from the authors'
repository alcantarar/Recurrent_GRF_Prediction (Apache-2.0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where
from ..io import session_from_dataframe
from ..session import Session

FS_HZ = 500.0
N_PER_AXIS = 2480


def _folder(p: Path) -> Path:
    return p if p.is_dir() else p.parent


def sniff(p: Path) -> bool:
    d = _folder(p)
    return (
        (d / "trials.csv").is_file()
        and (d / "sacral_accel_g.csv").is_file()
        and (p.is_dir() or p.name == "sacral_accel_g.csv")
    )


def read_trials(p: Path) -> pd.DataFrame:
    """The dataset's trial table (speed in m/s, slope in degrees, foot-strike shares in %)."""
    return pd.read_csv(_folder(p) / "trials.csv")


def read(p: Path) -> list[Session]:
    d = _folder(p)
    trials = read_trials(d)
    acc_g = np.loadtxt(d / "sacral_accel_g.csv", delimiter=",", ndmin=2)
    if acc_g.shape[1] != 2 * N_PER_AXIS or acc_g.shape[0] != len(trials):
        raise GaitInputError(
            "unexpected dataset layout",
            expected=f"{len(trials)} rows of {2 * N_PER_AXIS} values",
            found=f"{acc_g.shape[0]} rows of {acc_g.shape[1]} values",
            where=Where(file=d / "sacral_accel_g.csv"),
        )
    t = np.arange(N_PER_AXIS) / FS_HZ
    sessions = []
    for k, row in enumerate(trials.itertuples(index=False)):
        df = pd.DataFrame(
            {
                "t_s": t,
                "acc_v_g": acc_g[k, :N_PER_AXIS],
                "acc_ap_g": acc_g[k, N_PER_AXIS:],
                "acc_ml_g": np.full(N_PER_AXIS, np.nan),
            }
        )
        meta = {
            "sampling_rate_hz": FS_HZ,
            "device": "sacral accelerometer (Alcantara et al. 2022)",
            "device_id": f"alcantara2022-sub{row.Sub}",
            "source": str(d / "sacral_accel_g.csv"),
            "notes": f"trial {row.trial}: {row.Speed} m/s, slope {row.Slope} deg; low-passed at 20 Hz, vertical clipped at 0 g",
            "extra": {
                "lowpass_hz": 20.0,
                "trial": int(row.trial),
                "row": k,
                "speed_mps": float(row.Speed),
                "slope_deg": float(row.Slope),
                "rearfoot_pct": float(row.RFS),
                "body_mass_kg": float(row.Mass),
            },
        }
        sessions.append(session_from_dataframe(df, meta=meta, where=Where(file=d / "sacral_accel_g.csv", line=k + 1)))
    return sessions


def read_force(p: Path) -> np.ndarray:
    """Normal ground reaction force in body weights, shape (trials, 2480), 500 Hz."""
    return np.loadtxt(_folder(p) / "normal_grf_bw.csv", delimiter=",", ndmin=2)
