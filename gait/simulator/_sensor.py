"""The sensor: its mounting on the body and its errors (scale, misalignment, bias, noise, range, quantisation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module
from ..constants import RAD_PER_DEG, G
from ..core.frames import apply_matrix
from ..errors import GaitInputError, Where

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._config import MOUNTINGS, SensorModel, SimulationConfig


def mounting_matrix(cfg: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
    m = cfg.mounting
    if isinstance(m, str):
        if m == "random":
            R = transform.Rotation.random(random_state=rng.integers(2**31)).as_matrix()
        elif m in MOUNTINGS:
            R = MOUNTINGS[m]
        else:
            raise GaitInputError(
                "unknown mounting",
                expected="one of " + ", ".join([*MOUNTINGS, "random"]) + " or three angles",
                found=repr(m),
                where=Where(parameter="mounting"),
            )
    else:
        if len(m) != 3:
            raise GaitInputError(
                "bad mounting",
                expected="three Euler angles (z, y, x) in deg",
                found=repr(m),
                where=Where(parameter="mounting"),
            )
        R = transform.Rotation.from_euler("ZYX", list(m), degrees=True).as_matrix()
    if cfg.mounting_jitter_deg > 0:
        R = transform.Rotation.from_rotvec(rng.normal(0, cfg.mounting_jitter_deg * RAD_PER_DEG, 3)).as_matrix() @ R
    return np.asarray(R, dtype=float)


def sensor_errors(
    f_s: np.ndarray, w_s: np.ndarray, sm: SensorModel, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    m = np.asarray(sm.acc_misalignment_rad, dtype=float)
    mis = np.array([[1.0, -m[2], m[1]], [m[2], 1.0, -m[0]], [-m[1], m[0], 1.0]])
    acc = apply_matrix(mis, f_s) * np.asarray(sm.acc_scale) + np.asarray(sm.acc_bias_mps2)
    acc = acc + rng.normal(0, sm.acc_noise_mps2, acc.shape)
    gyr = w_s + np.asarray(sm.gyr_bias_rads) + rng.normal(0, sm.gyr_noise_rads, w_s.shape)
    a_lim = sm.acc_range_g * G
    g_lim = sm.gyr_range_dps * RAD_PER_DEG
    acc = np.clip(acc, -a_lim, a_lim * (32767 / 32768))
    gyr = np.clip(gyr, -g_lim, g_lim * (32767 / 32768))
    if sm.quantize:
        a_lsb = a_lim / 32768
        g_lsb = g_lim / 32768
        acc = np.round(acc / a_lsb) * a_lsb
        gyr = np.round(gyr / g_lsb) * g_lsb
    return acc, gyr
