"""Force shapes: the stance's vertical force, raised-cosine ramps, the walking profiles."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")


def smooth_step(x: np.ndarray) -> np.ndarray:
    """0 -> 1 raised-cosine ramp for x in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def ramp_window(t: np.ndarray, start: float, dur: float, ramp: float) -> np.ndarray:
    """1 inside [start, start+dur] with raised-cosine edges of ``ramp`` seconds."""
    ramp = max(min(ramp, dur / 2), 1e-6)
    return smooth_step((t - start) / ramp) * smooth_step((start + dur - t) / ramp)


def stance_shape(x: np.ndarray, skew: float | np.ndarray) -> np.ndarray:
    """Vertical force shape in stance, 0 at x = 0 and x = 1 (x = time / contact time)."""
    return np.sin(np.pi * (x + skew * x * (1.0 - x)))


def shape_moments(skew: float) -> tuple[float, float]:
    """Integral and first moment over [0, 1] of `stance_shape` (Simpson, 2001 points)."""
    from scipy.integrate import simpson

    x = np.linspace(0.0, 1.0, 2001)
    y = stance_shape(x, skew)
    return float(simpson(y, x=x)), float(simpson(x * y, x=x))


#: Fourier coefficients (cos, sin) of harmonics 1-4 of the vertical acceleration over a
#: walking step, x = time since contact / step time, scaled to a first harmonic of 1: the
#: median step of 10 adults walking with an IMU at L5 (Voisard et al. 2023, 1288 steps)
WALK_VERTICAL_HARMONICS = ((0.728, 0.686), (0.138, -0.023), (0.341, 0.027), (-0.050, 0.368))
#: share of a walking step over which the trunk brakes after heel strike (forward profile)
WALK_BRAKING_SHARE = 0.16


def walking_profiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertical and forward acceleration shapes over a walking step (x = 0 at contact, 1 at the next).

    Vertical: the first four harmonics of a real median step (`WALK_VERTICAL_HARMONICS`):
    a steep rise at heel strike to a peak at 5 % of the step (loading response), lowest in
    mid single support. Forward: a triangle wave, +1 at heel strike (the trunk has been
    falling forward), down to -1 at `WALK_BRAKING_SHARE` of the step (braking in loading
    response), rising through single support; zero mean (constant walking speed). Both have
    zero mean over the step.
    """
    x = np.mod(np.asarray(x, dtype=float), 1.0)
    v = np.zeros_like(x)
    for k, (c, s_) in enumerate(WALK_VERTICAL_HARMONICS, start=1):
        v += c * np.cos(2 * np.pi * k * x) + s_ * np.sin(2 * np.pi * k * x)
    d = WALK_BRAKING_SHARE
    f = np.where(x < d, 1.0 - 2.0 * x / d, -1.0 + 2.0 * (x - d) / (1.0 - d))
    return v, f


def walking_velocity_at_contact(T: np.ndarray) -> np.ndarray:
    """Vertical velocity at contact (per unit of ``amp_v``) of the periodic walking motion."""
    return -T * sum(s_ / (2 * np.pi * k) for k, (_, s_) in enumerate(WALK_VERTICAL_HARMONICS, start=1))
