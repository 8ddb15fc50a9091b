"""Named configurations (the sample sessions, the fault-calibration runs) and typical running values."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..errors import GaitInputError, Where

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._config import Form, SimulationConfig


def _presets() -> dict[str, SimulationConfig]:
    base = SimulationConfig()
    return {
        "easy": dataclasses.replace(base, duration_s=360.0, speed_mps=2.9),
        "heel_overstride": dataclasses.replace(
            base,
            duration_s=360.0,
            speed_mps=3.2,
            form=Form(
                cadence_spm=148.0,
                contact_time_s=0.30,
                rearfoot_share=0.97,
                impact_mps2=22.0,
                braking_mps2=8.5,
                braking_share=0.55,
                lean_deg=3.0,
            ),
        ),
        "fatigue": dataclasses.replace(base, duration_s=1500.0, speed_mps=3.1, fatigue=1.0, warmup_s=120.0),
        "rotation_lean": dataclasses.replace(
            base,
            duration_s=360.0,
            speed_mps=3.0,
            form=Form(yaw_amplitude_deg=13.0, roll_amplitude_deg=7.5, roll_mean_deg=4.0, ml_sway_mps2=3.5),
        ),
    }


PRESETS: dict[str, SimulationConfig] = _presets()


def preset(name: str, **changes: Any) -> SimulationConfig:
    """A named configuration (``easy``, ``heel_overstride``, ``fatigue``, ``rotation_lean``)."""
    if name not in PRESETS:
        raise GaitInputError(
            "unknown preset", expected="one of " + ", ".join(PRESETS), found=repr(name), where=Where(parameter="preset")
        )
    return dataclasses.replace(PRESETS[name], **changes)


def typical_cadence_spm(speed_mps: float | np.ndarray) -> np.ndarray:
    """Typical recreational step frequency for a running speed (spm)."""
    return 156.0 + 9.0 * (np.asarray(speed_mps) - 2.5)


def typical_contact_time_s(speed_mps: float | np.ndarray) -> np.ndarray:
    """Typical ground contact time for a running speed (s)."""
    return 0.29 * (2.5 / np.asarray(speed_mps)) ** 0.8
