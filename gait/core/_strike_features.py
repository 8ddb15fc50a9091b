"""Candidate foot-strike features of every stance from the lumbar signal (`stance_features`).

The physical differences between a heel-first and a forefoot landing, as force plates show
them, and what each becomes at the lower back:

- a heel strike has an impact peak and a high vertical loading rate early in stance; a forefoot
  landing rises smoothly to a single active peak (Lieberman et al. 2010; the higher loading
  rate of rearfoot strikes: Almeida et al. 2015, meta-analysis) - here the vertical loading rate
  over the first 15 % of stance, the share of the rise to the peak reached by then, the time
  of the peak as a share of contact, and the share of the 5-20 Hz energy of the stance in its
  first 20 %;
- a heel strike brakes the body abruptly; a forefoot landing lets the ankle yield (Lieberman
  et al. 2010) - here the peak antero-posterior deceleration in the first half of stance, its
  timing, and the antero-posterior transient over a 10 Hz low-pass in the first 25 %;
- a forefoot landing is often taken to shorten the contact at a given speed (a hypothesis
  checked here, not a published boundary) - the contact time and duty factor are in the step
  table already.

Notes
-----
These are candidates: their separation of a forefoot runner from rearfoot runners on real
recordings is measured in `benchmarks/_strike_bench.py` and docs/validation.md; the analysis'
foot-strike class rests on the collision transient alone (`gait.core.strike`) because none of
them separates the runners there. Deviations from the force-plate definitions: the signals are
the sacrum's specific force in the level frame in body weights (the bout's or run's mean
vertical specific force), not the ground reaction force, and are low-passed at 10 Hz (or
band-passed 5-20 Hz) so that recordings low-passed at 20 Hz give the same values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import sosfiltfilt

from .filters import butter_sos

#: low-pass of the signals the shape features are read from, Hz (a heel strike's collision lies
#: above it)
SHAPE_LOWPASS_HZ = 10.0
#: band whose energy early in stance marks a collision, Hz (below the 20 Hz low-pass of the
#: recordings the features must transfer to)
EARLY_BAND_HZ = (5.0, 20.0)
#: share of stance over which the loading rate is read (Lieberman et al. 2010 read it over the
#: impact's rise, about the first 15 % of a heel strike's stance)
LOADING_SHARE = 0.15
#: share of stance counted as early for the band energy
EARLY_SHARE = 0.2
#: share of stance in which a collision transient is looked for
TRANSIENT_SHARE = 0.25
#: fewest samples in a stance for its features (fewer: NaN)
MIN_STANCE_SAMPLES = 8

#: the columns `stance_features` returns, with their units
FEATURES = {
    "loading_rate_bw_per_s": "vertical rise over the first 15 % of stance per second, body weights / s",
    "rise_share_15": "share of the rise from contact to the vertical peak reached at 15 % of stance",
    "peak_time_share": "time of the (10 Hz low-passed) vertical peak as a share of contact",
    "early_band_share": "share of the stance's 5-20 Hz vertical energy in its first 20 %",
    "ap_braking_peak_bw": "largest antero-posterior deceleration in the first half of stance, body weights",
    "ap_braking_time_share": "its time as a share of contact",
    "ap_transient_bw": "largest |AP - its 10 Hz low-pass| in the first 25 % of stance, body weights",
}


def _filtered(x: np.ndarray, segment_id: np.ndarray, fs: float, sos: np.ndarray) -> np.ndarray:
    """Zero-phase filter of ``x`` within each contiguous segment (short segments: unfiltered)."""
    out = np.array(x, dtype=float)
    n = x.size
    starts = np.flatnonzero(np.concatenate([[True], segment_id[1:] != segment_id[:-1]]))
    for a, b in zip(starts, np.append(starts[1:], n)):  # a few contiguous segments
        if b - a > 3 * 6 * sos.shape[0]:
            out[a:b] = sosfiltfilt(sos, x[a:b])
    return out


def stance_features(
    f_v: np.ndarray,
    f_ap: np.ndarray,
    ic_idx: np.ndarray,
    to_idx: np.ndarray,
    segment_id: np.ndarray,
    unit: np.ndarray | float,
    *,
    sampling_rate_hz: float,
) -> pd.DataFrame:
    """The candidate foot-strike features of every stance (`FEATURES`).

    Parameters
    ----------
    f_v, f_ap
        Vertical and antero-posterior specific force in the level frame, m/s^2, per sample.
    ic_idx, to_idx
        Contact and toe-off of every step, fractional sample positions.
    segment_id
        Contiguous-segment index of each sample (filters do not cross gaps).
    unit
        Body weight in the sensor's units, per step or one value, m/s^2 (the mean vertical
        specific force over whole steps; g for a calibrated sensor).
    sampling_rate_hz
        Sampling rate, Hz.

    Returns
    -------
    DataFrame
        One row per step, the columns of `FEATURES`; NaN for stances shorter than
        `MIN_STANCE_SAMPLES` samples.
    """
    from ._steps import _ragged, _reduce

    fs = float(sampling_rate_hz)
    x_v = np.nan_to_num(np.asarray(f_v, dtype=float))
    x_ap = np.nan_to_num(np.asarray(f_ap, dtype=float))
    seg = np.asarray(segment_id)
    n = x_v.size
    ic = np.asarray(ic_idx, dtype=float)
    to = np.asarray(to_idx, dtype=float)
    m = ic.size
    u = np.broadcast_to(np.asarray(unit, dtype=float), (m,))
    low = butter_sos(2, SHAPE_LOWPASS_HZ, fs)
    band = butter_sos(2, (EARLY_BAND_HZ[0], min(EARLY_BAND_HZ[1], 0.45 * fs)), fs, "band")
    v10 = _filtered(x_v, seg, fs, low)
    ap10 = _filtered(x_ap, seg, fs, low)
    vb = _filtered(x_v, seg, fs, band)
    ic_i = np.clip(np.round(ic).astype(np.int64), 0, n - 1)
    to_i = np.clip(np.round(to).astype(np.int64), 0, n - 1)
    tc = np.maximum(to - ic, 1.0)
    ok = (to_i - ic_i >= MIN_STANCE_SAMPLES) & np.isfinite(u) & (u > 0)
    idx, owner, offs, ne = _ragged(ic_i, np.maximum(to_i + 1, ic_i + 1), n)
    phase = (idx - ic[owner]) / tc[owner]
    grid = np.arange(n, dtype=float)

    # vertical: loading rate, rise share, peak time
    v0 = v10[ic_i]
    v15 = np.interp(ic + LOADING_SHARE * tc, grid, v10)
    peak = _reduce(np.maximum, v10[idx], offs, ne)
    loading = (v15 - v0) / (LOADING_SHARE * tc / fs) / u
    rise = (v15 - v0) / np.where(peak - v0 > 0, peak - v0, np.nan)
    pos = np.flatnonzero(v10[idx] == peak[owner])
    first = np.full(m, -1, dtype=np.int64)
    first[owner[pos][::-1]] = idx[pos][::-1]
    peak_time = (first - ic) / tc
    # early share of the 5-20 Hz energy
    e = vb[idx] ** 2
    early_e = _reduce(np.add, np.where(phase <= EARLY_SHARE, e, 0.0), offs, ne)
    all_e = _reduce(np.add, e, offs, ne)
    early_share = early_e / np.where(all_e > 0, all_e, np.nan)
    # antero-posterior: braking peak in the first half, its time, and the transient
    cnt = np.bincount(owner, minlength=m)
    ap_mean = _reduce(np.add, x_ap[idx], offs, ne) / np.maximum(cnt, 1)
    ap_st = np.where(phase <= 0.5, x_ap[idx] - ap_mean[owner], np.inf)
    low_ap = _reduce(np.minimum, ap_st, offs, ne)
    pos = np.flatnonzero(ap_st == low_ap[owner])
    first_ap = np.full(m, -1, dtype=np.int64)
    first_ap[owner[pos][::-1]] = idx[pos][::-1]
    braking = -low_ap / u
    braking_time = (first_ap - ic) / tc
    ap_tr = np.where(phase <= TRANSIENT_SHARE, np.abs(x_ap[idx] - ap10[idx]), -np.inf)
    ap_transient = _reduce(np.maximum, ap_tr, offs, ne) / u

    cols = {
        "loading_rate_bw_per_s": loading,
        "rise_share_15": rise,
        "peak_time_share": peak_time,
        "early_band_share": early_share,
        "ap_braking_peak_bw": braking,
        "ap_braking_time_share": np.clip(braking_time, 0.0, 1.0),
        "ap_transient_bw": ap_transient,
    }
    return pd.DataFrame({k: np.where(ok & np.isfinite(v), v, np.nan) for k, v in cols.items()})
