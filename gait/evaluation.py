"""Agreement with a reference: event matching (F1) and Bland-Altman statistics.

Used by the accuracy benchmark, the validation notebook and the tests, against simulator
truth and against force-plate references.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "EventMatch",
    "match_events",
    "agreement",
    "compare_steps",
    "force_plate_contacts",
    "com_excursion_from_force",
]


@dataclass(frozen=True)
class EventMatch:
    """One-to-one matching of detected and reference events.

    Attributes
    ----------
    detected_idx, reference_idx
        Indices of the matched pairs (same length).
    n_detected, n_reference
        Totals.
    """

    detected_idx: np.ndarray
    reference_idx: np.ndarray
    n_detected: int
    n_reference: int

    @property
    def true_positives(self) -> int:
        return int(self.detected_idx.size)

    @property
    def precision(self) -> float:
        return self.true_positives / self.n_detected if self.n_detected else float("nan")

    @property
    def recall(self) -> float:
        return self.true_positives / self.n_reference if self.n_reference else float("nan")

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r > 0 else 0.0


def match_events(detected_s: np.ndarray, reference_s: np.ndarray, *, tolerance_s: float = 0.04) -> EventMatch:
    """Match each reference event to the nearest detected event within ``tolerance_s``.

    Greedy by distance (closest pairs first), one-to-one; vectorised over candidate pairs of
    neighbours in time.
    """
    d = np.asarray(detected_s, dtype=float)
    r = np.asarray(reference_s, dtype=float)
    if d.size == 0 or r.size == 0:
        return EventMatch(np.zeros(0, int), np.zeros(0, int), d.size, r.size)
    order = np.argsort(d)
    ds = d[order]
    pos = np.searchsorted(ds, r)
    cand_d = np.concatenate([np.clip(pos - 1, 0, ds.size - 1), np.clip(pos, 0, ds.size - 1)])
    cand_r = np.concatenate([np.arange(r.size), np.arange(r.size)])
    dist = np.abs(ds[cand_d] - r[cand_r])
    keep = dist <= tolerance_s
    cand_d, cand_r, dist = cand_d[keep], cand_r[keep], dist[keep]
    o = np.argsort(dist, kind="stable")
    used_d = np.zeros(ds.size, bool)
    used_r = np.zeros(r.size, bool)
    md, mr = [], []
    for i in o:  # pairs of neighbours only: at most 2 per reference event
        a, b = cand_d[i], cand_r[i]
        if used_d[a] or used_r[b]:
            continue
        used_d[a] = used_r[b] = True
        md.append(order[a])
        mr.append(b)
    return EventMatch(np.array(md, dtype=int), np.array(mr, dtype=int), d.size, r.size)


def agreement(estimate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Bias, mean absolute error, RMSE and 95 % limits of agreement of ``estimate - reference``."""
    e = np.asarray(estimate, dtype=float) - np.asarray(reference, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0:
        return {"n": 0, "bias": np.nan, "mae": np.nan, "rmse": np.nan, "loa_low": np.nan, "loa_high": np.nan}
    sd = float(e.std(ddof=1)) if e.size > 1 else 0.0
    bias = float(e.mean())
    return {
        "n": int(e.size),
        "bias": bias,
        "mae": float(np.abs(e).mean()),
        "rmse": float(np.sqrt(np.mean(e**2))),
        "loa_low": bias - 1.96 * sd,
        "loa_high": bias + 1.96 * sd,
    }


def compare_steps(
    detected: pd.DataFrame, truth: pd.DataFrame, *, tolerance_s: float = 0.04, columns: dict[str, str] | None = None
) -> tuple[EventMatch, pd.DataFrame]:
    """Match detected steps to truth steps by initial contact and pair up their columns.

    Returns the match and a DataFrame with ``<col>_est`` and ``<col>_ref`` for each pair of
    ``columns`` (estimate column -> reference column; by default the shared names).
    """
    m = match_events(detected["ic_s"].to_numpy(), truth["ic_s"].to_numpy(), tolerance_s=tolerance_s)
    if columns is None:
        columns = {c: c for c in detected.columns if c in truth.columns and c not in ("step", "bout")}
    out = {}
    for est, ref in columns.items():
        out[f"{est}_est"] = detected[est].to_numpy()[m.detected_idx]
        out[f"{est}_ref"] = truth[ref].to_numpy()[m.reference_idx]
    return m, pd.DataFrame(out)


def force_plate_contacts(
    force_bw: np.ndarray,
    sampling_rate_hz: float,
    *,
    threshold_bw: float = 0.05,
    hysteresis_bw: float = 0.03,
    min_contact_s: float = 0.08,
    min_flight_s: float = 0.02,
) -> np.ndarray:
    """Ground contacts from a vertical (or belt-normal) force in body weights.

    Contact is force above ``threshold_bw``, with hysteresis: the state (contact or flight)
    changes only when the force crosses ``threshold_bw +- hysteresis_bw``, and each change is
    timed at the interpolated crossing of ``threshold_bw`` itself just before it. Flights
    shorter than ``min_flight_s`` (chatter near zero) are merged, contacts shorter than
    ``min_contact_s`` dropped, and contacts touching either end of the recording left out
    (incomplete).

    The hysteresis keeps a zero-lag filter's pre-ringing out of the contact: a force
    low-passed forward and backward rings ahead of a steep landing (on the Alcantara et al.
    2022 recordings, a bump to 0.06 body weights and a dip to -0.05 about 20 ms before the
    rise, in three of 19 trials), which crosses 0.05 body weights without being a contact.

    Returns
    -------
    ndarray, shape (n, 2)
        Initial contact and toe-off times, s (first sample at t = 0).
    """
    f = np.asarray(force_bw, dtype=float)
    fs = float(sampling_rate_hz)
    n = f.size
    if n < 2:
        return np.zeros((0, 2))
    # Schmitt trigger: 1 above the upper level, 0 below the lower one, the last state between
    code = np.where(f > threshold_bw + hysteresis_bw, 1, np.where(f < threshold_bw - hysteresis_bw, 0, -1))
    known = np.flatnonzero(code >= 0)
    if known.size == 0:
        return np.zeros((0, 2))
    last = np.maximum.accumulate(np.where(code >= 0, np.arange(n), -1))
    state = np.where(last >= 0, code[np.maximum(last, 0)], -1)
    rise = np.flatnonzero((state[1:] == 1) & (state[:-1] == 0)) + 1
    fall = np.flatnonzero((state[1:] == 0) & (state[:-1] == 1)) + 1
    if rise.size == 0 or fall.size == 0:
        return np.zeros((0, 2))
    fall = fall[fall > rise[0]]
    rise = rise[: fall.size]  # states alternate: rise k pairs with fall k; an unfinished one goes
    if rise.size == 0:
        return np.zeros((0, 2))
    above = f > threshold_bw
    up_x = np.flatnonzero(~above[:-1] & above[1:]) + 1  # f[i-1] <= thr < f[i]
    dn_x = np.flatnonzero(above[:-1] & ~above[1:]) + 1  # f[i-1] > thr >= f[i]
    iu = up_x[np.clip(np.searchsorted(up_x, rise, side="right") - 1, 0, None)]
    idn = dn_x[np.clip(np.searchsorted(dn_x, fall, side="right") - 1, 0, None)]
    t_on = (iu - 1 + (threshold_bw - f[iu - 1]) / (f[iu] - f[iu - 1])) / fs
    t_off = (idn - 1 + (f[idn - 1] - threshold_bw) / (f[idn - 1] - f[idn])) / fs
    # merge chatter: a flight shorter than min_flight_s joins its neighbours
    first = np.flatnonzero(np.concatenate([[True], t_on[1:] - t_off[:-1] >= min_flight_s]))
    lastc = np.append(first[1:] - 1, t_on.size - 1)
    t_on, t_off = t_on[first], t_off[lastc]
    # a contact must start after the first known flight sample and end before the last sample
    ok = (t_off - t_on >= min_contact_s) & (t_on * fs > known[0]) & (t_off < (n - 1) / fs)
    return np.column_stack([t_on[ok], t_off[ok]])


def com_excursion_from_force(force_bw: np.ndarray, sampling_rate_hz: float, contact_times_s: np.ndarray) -> np.ndarray:
    """Vertical excursion of the centre of mass per step from a force in body weights.

    Between consecutive initial contacts, ``(F / BW - 1) g`` is integrated to a velocity whose
    mean is removed (no net height change over the step), integrated again; max - min. One
    value per step (the last contact has none).
    """
    from .constants import G

    f = np.asarray(force_bw, dtype=float)
    fs = float(sampling_rate_hz)
    t = np.arange(f.size) / fs
    a = (f - 1.0) * G
    out = []
    for t0, t1 in itertools.pairwise(contact_times_s):  # tens of steps per trial
        m = (t >= t0) & (t <= t1)
        tt, aa = t[m], a[m]
        v = np.concatenate([[0.0], np.cumsum((aa[1:] + aa[:-1]) / 2 * np.diff(tt))])
        v -= np.trapezoid(v, tt) / (tt[-1] - tt[0])
        z = np.concatenate([[0.0], np.cumsum((v[1:] + v[:-1]) / 2 * np.diff(tt))])
        out.append(z.max() - z.min())
    return np.array(out)


def pair_with_force_plate(
    sessions: list, force_bw: np.ndarray, sampling_rate_hz: float, *, tolerance_s: float = 0.04
) -> tuple[pd.DataFrame, EventMatch]:
    """Analyse each session and pair its complete running steps with force-plate contacts.

    Parameters
    ----------
    sessions
        One `gait.Session` per trial, sample-synchronous with the rows of ``force_bw``.
    force_bw
        Force in body weights, shape ``(trials, samples)``.
    sampling_rate_hz
        Rate of the force.

    Returns
    -------
    pairs
        One row per matched step: ``trial``, ``ic_est``, ``to_est``, ``ic_ref``, ``to_ref``
        (s), ``contact_time_s_est`` / ``_ref``, ``vertical_oscillation_m_est`` / ``_ref`` (the
        reference from `com_excursion_from_force`), ``foot_strike``.
    match
        Totals over all trials (for F1).
    """
    from .core.pipeline import analyze

    rows, tp, nd, nr = [], 0, 0, 0
    for k, s in enumerate(sessions):
        a = analyze(s)
        det = a.steps[(a.steps["activity"] == "running") & a.steps["complete"]]
        c = force_plate_contacts(force_bw[k], sampling_rate_hz)
        osc = np.concatenate([com_excursion_from_force(force_bw[k], sampling_rate_hz, c[:, 0]), [np.nan]])
        m = match_events(det["ic_s"].to_numpy(), c[:, 0], tolerance_s=tolerance_s)
        tp, nd, nr = tp + m.true_positives, nd + m.n_detected, nr + m.n_reference
        d = det.iloc[m.detected_idx]
        r = c[m.reference_idx]
        rows.append(
            pd.DataFrame(
                {
                    "trial": k,
                    "ic_est": d["ic_s"].to_numpy(),
                    "to_est": d["to_s"].to_numpy(),
                    "ic_ref": r[:, 0],
                    "to_ref": r[:, 1],
                    "contact_time_s_est": (d["to_s"] - d["ic_s"]).to_numpy(),
                    "contact_time_s_ref": r[:, 1] - r[:, 0],
                    "vertical_oscillation_m_est": d["vertical_oscillation_m"].to_numpy(),
                    "vertical_oscillation_m_ref": osc[m.reference_idx],
                    "foot_strike": d["foot_strike"].to_numpy(),
                }
            )
        )
    total = EventMatch(np.arange(tp), np.arange(tp), nd, nr)
    return pd.concat(rows, ignore_index=True), total
