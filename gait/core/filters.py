"""Filter designs shared by the stages (one definition each).

`butter_sos` is the cached Butterworth design every stage uses (the same few filters run on
every live window). `stance_vibration_sos` is the 20-45 Hz band of the soft-tissue and
surface vibration in stance, used twice with different rules on purpose:

- the minute table's ``vibration_rms`` (`gait.core.pipeline`) filters causally (``sosfilt``: an RMS
  needs no zero phase), from 100 Hz, over segments longer than 100 samples;
- the catalogue's late-stance vibration (`gait.faults`) filters with zero phase
  (``sosfiltfilt``: it is timed within the stance, 35-85 % of the contact), from 90 Hz, over
  segments longer than 60 samples.

Both keep the band's top at 45 Hz or 0.45 of the sampling rate, whichever is lower.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_function

if TYPE_CHECKING:
    from scipy.signal import butter, sosfiltfilt
else:  # SciPy is imported on the first filter (the command line starts without it)
    butter = lazy_function("scipy.signal", "butter")
    sosfiltfilt = lazy_function("scipy.signal", "sosfiltfilt")

__all__ = ["STANCE_VIBRATION_BAND_HZ", "butter_sos", "lowpass", "stance_vibration_sos"]

#: the stance vibration band, Hz
STANCE_VIBRATION_BAND_HZ = (20.0, 45.0)


@functools.lru_cache(maxsize=64)
def butter_sos(order: int, cutoff: float | tuple[float, float], fs: float, btype: str = "low") -> np.ndarray:
    """Butterworth design as second-order sections, cached (do not modify the array returned).

    Parameters
    ----------
    order
        Filter order.
    cutoff
        Cutoff, Hz (a pair for a band).
    fs
        Sampling rate, Hz.
    btype
        ``low``, ``high``, ``band`` or ``bandstop``.

    Returns
    -------
    ndarray
        The sections, shape ``(n_sections, 6)``.
    """
    return butter(order, cutoff, btype=btype, fs=fs, output="sos")


def stance_vibration_sos(fs: float) -> np.ndarray:
    """4th-order Butterworth band-pass of the stance vibration band (`STANCE_VIBRATION_BAND_HZ`),
    its top lowered to 0.45 ``fs`` when the rate is too low for 45 Hz.

    Parameters
    ----------
    fs
        Sampling rate, Hz.

    Returns
    -------
    ndarray
        Second-order sections (`butter_sos`, cached).
    """
    lo, hi = STANCE_VIBRATION_BAND_HZ
    return butter_sos(4, (lo, min(hi, 0.45 * fs)), fs, "band")


def lowpass(x: np.ndarray, fs: float, cutoff: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass at ``cutoff`` Hz of ``x`` sampled at ``fs`` Hz.

    For locating landmarks (stances, troughs, peaks) only: a signal sampled far above the
    cutoff is block-averaged to 20 x the cutoff first (faster; the located positions move by
    less than a sample of the original rate). A signal too short to filter gets its mean.

    Parameters
    ----------
    x
        1-D signal.
    fs
        Sampling rate, Hz.
    cutoff
        Cutoff, Hz.

    Returns
    -------
    ndarray
        The filtered signal, as long as ``x``.
    """
    q = max(int(fs / (20.0 * cutoff)), 1)
    if q > 1 and x.size >= 40 * q:
        m = x.size // q
        xd = np.append(x[: m * q].reshape(m, q).mean(axis=1), x[m * q :].mean() if x.size > m * q else [])
        yd = lowpass(xd, fs / q, cutoff)
        # back to every sample, linear between block centres
        return np.interp(np.arange(x.size), np.arange(yd.size) * q + (q - 1) / 2.0, yd)
    sos = butter_sos(2, cutoff, fs)
    if x.size <= 3 * (2 * len(sos) + 1) + 1:
        return np.full_like(x, x.mean())
    return sosfiltfilt(sos, x)
