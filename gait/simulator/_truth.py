"""The truth table: each step's exact values, from the model on a fine time grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module
from ..constants import DEG_PER_RAD, RAD_PER_DEG

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._body import com_acceleration, orientation
from ._config import TRUTH_GRID_HZ, SimulationConfig
from ._steps import Steps


def _cumtrapz_blocks(
    y: np.ndarray, same: np.ndarray, dtau: np.ndarray, offs: np.ndarray, local: np.ndarray
) -> np.ndarray:
    """Cumulative trapezoid integral of ``y`` restarting at 0 at every block start."""
    inc = np.where(same, (y + np.concatenate([[0.0], y[:-1]])) / 2 * dtau, 0.0)
    c = np.cumsum(inc)
    return c - c[offs][local]


def truth_table(s: Steps, cfg: SimulationConfig, chunk_steps: int = 800) -> pd.DataFrame:
    """Per-step truth from the model on a fine grid that starts exactly at every contact."""
    n = s.ic.size
    dt = 1.0 / TRUTH_GRID_HZ
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("osc", "bpk", "vloss", "pitch", "roll", "rmax", "rmin", "ymax", "ymin", "smax", "smin")
    }
    for c0 in range(0, n, chunk_steps):  # bounded memory for long runs
        steps = np.arange(c0, min(n, c0 + chunk_steps))
        m = np.ceil(s.T[steps] / dt).astype(int) + 1  # grid points per step, both ends included
        offs = np.concatenate([[0], np.cumsum(m)[:-1]])
        sid = np.repeat(steps, m)
        local = np.repeat(np.arange(steps.size), m)
        tau = np.minimum((np.arange(m.sum()) - offs[local]) * dt, s.T[sid])
        tg = s.ic[sid] + tau
        a_ap, _, a_v, _ = com_acceleration(tg, s, sid)
        o = orientation(tg, s, cfg, sid)
        same = np.concatenate([[False], local[1:] == local[:-1]])
        dtau = np.concatenate([[0.0], np.diff(tau)])
        blocks = (same, dtau, offs, local)
        vz = s.v_land[sid] + _cumtrapz_blocks(a_v, *blocks)
        z = _cumtrapz_blocks(vz, *blocks)
        cols["osc"].append(np.maximum.reduceat(z, offs) - np.minimum.reduceat(z, offs))
        in_stance = np.where(s.run[sid], tau <= s.tc[sid], True)
        v_ap = _cumtrapz_blocks(a_ap, *blocks)
        cols["bpk"].append(np.maximum.reduceat(np.where(in_stance, -a_ap, 0.0), offs))
        cols["vloss"].append(np.maximum.reduceat(np.where(in_stance, -v_ap, 0.0), offs))
        # means over the step (trapezoid weights; the grid is uniform but for the last point)
        wts = np.where(same, dtau, 0.0)
        wts = (wts + np.concatenate([wts[1:], [0.0]]) * np.concatenate([same[1:], [False]])) / 2
        norm = np.add.reduceat(wts, offs)
        cols["pitch"].append(np.add.reduceat(o["pitch"] * wts, offs) / norm)
        cols["roll"].append(np.add.reduceat(o["roll"] * wts, offs) / norm)
        cols["rmax"].append(np.maximum.reduceat(o["roll"], offs))
        cols["rmin"].append(np.minimum.reduceat(o["roll"], offs))
        cols["ymax"].append(np.maximum.reduceat(o["yaw"], offs))
        cols["ymin"].append(np.minimum.reduceat(o["yaw"], offs))
        # roll extremes in stance (running; walking: the whole step), for the pelvic drop
        cols["smax"].append(np.maximum.reduceat(np.where(in_stance, o["roll"], -np.inf), offs))
        cols["smin"].append(np.minimum.reduceat(np.where(in_stance, o["roll"], np.inf), offs))
    r = {k: np.concatenate(v) for k, v in cols.items()}
    # ranges over the stride that starts at each step (this step and the next, same activity)
    nxt = np.concatenate([s.run[1:] == s.run[:-1], [False]]) & np.concatenate(
        [np.diff(s.ic) <= s.T[:-1] * 1.001, [False]]
    )

    def stride_range(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        hi2 = np.maximum(hi, np.concatenate([hi[1:], [np.nan]]))
        lo2 = np.minimum(lo, np.concatenate([lo[1:], [np.nan]]))
        return np.where(nxt, hi2 - lo2, np.nan)

    def stride_mean(x: np.ndarray) -> np.ndarray:
        nx = np.concatenate([x[1:], [np.nan]])
        nT = np.concatenate([s.T[1:], [np.nan]])
        return np.where(nxt, (x * s.T + nx * nT) / (s.T + nT), np.nan)

    stand = cfg.standing_pitch_deg * RAD_PER_DEG
    # pelvic drop: the largest roll in stance towards the swing side (left stance: the right
    # side down, roll > 0), relative to the stride's mean roll (as `gait.core.metrics` defines it)
    lateral = stride_mean(r["roll"])
    drop = np.where(s.left, r["smax"] - lateral, lateral - r["smin"])
    df = pd.DataFrame(
        {
            "step": np.arange(n),
            "activity": np.where(s.run, "running", "walking"),
            "side": np.where(s.left, "L", "R"),
            "ic_s": s.ic,
            "to_s": s.ic + s.tc,
            "step_time_s": s.T,
            "contact_time_s": s.tc,
            "flight_time_s": np.where(s.run, s.T - s.tc, 0.0),
            "cadence_spm": 60.0 / s.T,
            "vertical_oscillation_m": r["osc"],
            "speed_mps": s.speed,
            "step_length_m": s.speed * s.T,
            "foot_strike": pd.Series(s.strike, dtype=object).where(s.run, None).to_numpy(),
            "impact_mps2": s.impact,
            "braking_peak_mps2": r["bpk"],
            "braking_velocity_loss_mps": r["vloss"],
            "lean_deg": (r["pitch"] - stand) * DEG_PER_RAD,
            "pelvic_roll_deg": r["roll"] * DEG_PER_RAD,
            "lateral_lean_deg": lateral * DEG_PER_RAD,
            "pelvic_drop_deg": np.where(s.run, drop, np.nan) * DEG_PER_RAD,
            "roll_range_deg": stride_range(r["rmax"], r["rmin"]) * DEG_PER_RAD,
            "yaw_range_deg": stride_range(r["ymax"], r["ymin"]) * DEG_PER_RAD,
            "slope_deg": s.slope,
        }
    )
    df["vertical_ratio_pct"] = 100 * df["vertical_oscillation_m"] / df["step_length_m"]
    return df
