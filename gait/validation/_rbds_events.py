"""RBDS truth from the markers and the force: the world frame, contacts and toe-offs, foot strike by the foot angle."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from ..constants import DEG_PER_RAD
from ..errors import GaitInputError, Where
from ._rbds_files import (
    FORCE_FS_HZ,
    FORCE_HYSTERESIS_N,
    FORCE_THRESHOLD_N,
    FOREFOOT_BELOW_DEG,
    FS_HZ,
    MARKER_IC_LATENCY_S,
    MARKER_TO_UPWARD_MPS,
    MIN_CONTACT_S,
    MIN_FLIGHT_S,
    REARFOOT_ABOVE_DEG,
    TRIALS,
    RbdsTrial,
    foot_names,
    read_force,
    read_markers,
)
from .virtual_imu import (
    DEFAULT_CUTOFF_HZ,
    zero_lag_lowpass,
)


def world_frame(markers: dict[str, np.ndarray]) -> tuple[np.ndarray, float]:
    """Rotation from the laboratory to the world frame (rows: forward, left, up) and belt speed.

    The feet are on the belt when they are low: over the samples where a foot marker is in the
    lowest 30 % of its height range, the median horizontal velocity gives the belt's direction;
    forward is opposite to it (the runner faces into the belt's motion). The belt speed is the
    median forward speed of the heel and metatarsal markers over the middle third of every
    stance (`marker_events`), where the foot moves with the belt.

    Returns
    -------
    W : ndarray, shape (3, 3)
        ``world = W @ lab``.
    belt_speed_mps : float
    """
    up = np.array([0.0, 1.0, 0.0])
    vel = []
    for side in "RL":
        heel, mts = foot_names(markers, side)
        for k in [heel, *mts]:
            p = markers[k]
            v = np.gradient(p, axis=0) * FS_HZ
            y = p[:, 1]
            lo, hi = np.nanpercentile(y, [1, 99])
            low = y < lo + 0.3 * (hi - lo)
            vel.append(v[low & np.isfinite(v).all(axis=1)])
    v = np.concatenate(vel)
    belt = np.median(v, axis=0)
    belt -= up * (belt @ up)
    rough = float(np.linalg.norm(belt))
    if rough < 0.5:
        raise GaitInputError(
            "no belt motion",
            expected="feet moving with a treadmill belt (> 0.5 m/s)",
            found=f"{rough:.2f} m/s",
            where=Where(parameter="markers"),
        )
    fwd = -belt / rough
    left = np.cross(up, fwd)
    W = np.vstack([fwd, left, up])
    # a mirrored laboratory would put the left markers on the right
    if "L.PSIS" in markers and "R.PSIS" in markers:
        lr = np.nanmedian((markers["L.PSIS"] - markers["R.PSIS"]) @ left)
        if not lr > 0:
            raise GaitInputError(
                "left and right swapped",
                expected="L.* markers on the runner's left",
                found=f"L.PSIS {lr * 1000:.0f} mm to the left of R.PSIS",
                where=Where(parameter="markers"),
            )
    world = to_world(markers, W)
    ev = marker_events(world)
    speeds = []
    for side in "RL":
        f = foot_signals(world, side, DEFAULT_CUTOFF_HZ)
        e = ev[ev["side"] == side]
        a = np.round((e["ic_s"] + (e["to_s"] - e["ic_s"]) / 3).to_numpy() * FS_HZ).astype(np.int64)
        b = np.round((e["ic_s"] + 2 * (e["to_s"] - e["ic_s"]) / 3).to_numpy() * FS_HZ).astype(np.int64)
        idx = np.concatenate([np.arange(i, j) for i, j in zip(a, b)]) if a.size else np.zeros(0, np.int64)
        for k in ("heel", "mt"):
            speeds.append(-np.gradient(f[k][:, 0])[idx] * FS_HZ)
    v_mid = np.concatenate(speeds)
    return W, float(np.median(v_mid)) if v_mid.size else rough


def to_world(markers: dict[str, np.ndarray], W: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v @ W.T for k, v in markers.items()}


# ---------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------
def force_contacts(
    force_n: np.ndarray,
    *,
    sampling_rate_hz: float,
    threshold_n: float = FORCE_THRESHOLD_N,
    hysteresis_n: float = FORCE_HYSTERESIS_N,
    min_contact_s: float = MIN_CONTACT_S,
    min_flight_s: float = MIN_FLIGHT_S,
) -> np.ndarray:
    """Contacts from a vertical force: ``(k, 2)`` initial contact and toe-off times, s.

    The state (contact or flight) changes only when the force crosses
    ``threshold_n +- hysteresis_n``; each change is timed at the interpolated crossing of
    ``threshold_n`` just before it. Flights shorter than ``min_flight_s`` are merged, contacts
    shorter than ``min_contact_s`` dropped, and contacts cut by the ends of the recording
    left out. Times from the first sample (t = 0).
    """
    f = np.asarray(force_n, dtype=float)
    fs = float(sampling_rate_hz)
    code = np.where(f > threshold_n + hysteresis_n, 1.0, np.where(f < threshold_n - hysteresis_n, 0.0, np.nan))
    s = pd.Series(code).ffill().to_numpy()
    known = np.isfinite(s)
    s = np.where(known, s, -1)
    rise = np.flatnonzero((s[1:] == 1) & (s[:-1] == 0)) + 1
    fall = np.flatnonzero((s[1:] == 0) & (s[:-1] == 1)) + 1
    if rise.size == 0 or fall.size == 0:
        return np.zeros((0, 2))
    fall = fall[fall > rise[0]]
    rise = rise[: fall.size]  # states alternate: rise k pairs with fall k; an unfinished one goes
    above = f > threshold_n
    up_x = np.flatnonzero(~above[:-1] & above[1:]) + 1  # f[i-1] <= thr < f[i]
    dn_x = np.flatnonzero(above[:-1] & ~above[1:]) + 1  # f[i-1] > thr >= f[i]
    iu = up_x[np.clip(np.searchsorted(up_x, rise, side="right") - 1, 0, None)]
    idn = dn_x[np.clip(np.searchsorted(dn_x, fall, side="right") - 1, 0, None)]
    t_on = (iu - 1 + (threshold_n - f[iu - 1]) / (f[iu] - f[iu - 1])) / fs
    t_off = (idn - 1 + (f[idn - 1] - threshold_n) / (f[idn - 1] - f[idn])) / fs
    # merge contacts separated by a flight shorter than min_flight_s, then drop short contacts
    first = np.flatnonzero(np.concatenate([[True], t_on[1:] - t_off[:-1] >= min_flight_s]))
    last = np.append(first[1:] - 1, t_on.size - 1)
    t_on2, t_off2 = t_on[first], t_off[last]
    ok = (t_off2 - t_on2 >= min_contact_s) & (t_on2 > 1.0 / fs) & (t_off2 < (f.size - 2) / fs)
    return np.column_stack([t_on2[ok], t_off2[ok]])


def foot_signals(world: dict[str, np.ndarray], side: str, cutoff_hz: float) -> dict[str, np.ndarray]:
    heel, mts = foot_names(world, side)

    def filled(x: np.ndarray) -> np.ndarray:
        # a few isolated missing samples in the metatarsal markers: linear bridge, then filter
        out = x.copy()
        for j in range(3):
            bad = ~np.isfinite(out[:, j])
            if bad.any():
                out[bad, j] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), out[~bad, j])
        return out

    h = zero_lag_lowpass(filled(world[heel]), sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    mt = zero_lag_lowpass(filled((world[mts[0]] + world[mts[1]]) / 2), sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    return {"heel": h, "mt": mt}


def _upcross(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: float) -> np.ndarray:
    """Fractional index of the first upward crossing of ``level`` in ``(start[k], stop[k]]``."""
    above = x > level
    ups = np.flatnonzero(~above[:-1] & above[1:]) + 1
    pos = np.searchsorted(ups, start, side="right")
    j = ups[np.clip(pos, 0, max(ups.size - 1, 0))] if ups.size else np.zeros(start.size, np.int64)
    ok = (pos < ups.size) & (j <= stop)
    frac = (level - x[j - 1]) / np.where(x[j] != x[j - 1], x[j] - x[j - 1], 1.0)
    return np.where(ok, j - 1 + frac, np.nan)


def marker_events(
    world: dict[str, np.ndarray],
    *,
    cutoff_hz: float = DEFAULT_CUTOFF_HZ,
    ic_latency_s: float = MARKER_IC_LATENCY_S,
    to_upward_mps: float = MARKER_TO_UPWARD_MPS,
) -> pd.DataFrame:
    """Initial contacts and toe-offs of both feet from foot markers (module docstring).

    Parameters
    ----------
    world
        Marker trajectories in the world frame (forward, left, up), m, at `FS_HZ`.
    cutoff_hz
        Zero-lag low-pass of the foot and sacrum markers, Hz.
    ic_latency_s, to_upward_mps
        The two calibrated constants.

    Returns
    -------
    DataFrame
        ``side``, ``ic_s``, ``to_s``, ``ic_raw_s`` (Zeni's instant, before the latency), sorted
        by contact; times from the first sample.
    """
    sac = zero_lag_lowpass((world["R.PSIS"] + world["L.PSIS"]) / 2, sampling_rate_hz=FS_HZ, cutoff_hz=cutoff_hz)
    rows = []
    for side in "RL":
        f = foot_signals(world, side, cutoff_hz)
        ahead = f["heel"][:, 0] - sac[:, 0]
        pk, _ = find_peaks(ahead, distance=int(0.4 * FS_HZ), prominence=0.1)
        # sub-sample peak (parabola through the three samples around it)
        pk = pk[(pk > 0) & (pk < ahead.size - 1)]
        a, b, c = ahead[pk - 1], ahead[pk], ahead[pk + 1]
        den = a - 2 * b + c
        ic_raw = pk + np.where(den != 0, 0.5 * (a - c) / np.where(den != 0, den, 1.0), 0.0)
        ic = ic_raw + ic_latency_s * FS_HZ
        vz = np.gradient(f["mt"][:, 2]) * FS_HZ
        start = np.floor(ic + 0.08 * FS_HZ).astype(np.int64)
        stop = np.append(np.floor(ic[1:]).astype(np.int64), ahead.size - 1)
        to = _upcross(vz, start, stop, to_upward_mps)
        ok = np.isfinite(to)
        rows.append(
            pd.DataFrame({"side": side, "ic_s": ic[ok] / FS_HZ, "to_s": to[ok] / FS_HZ, "ic_raw_s": ic_raw[ok] / FS_HZ})
        )
    ev = pd.concat(rows, ignore_index=True).sort_values("ic_s", ignore_index=True)
    return ev


def pair_force_with_markers(force_ev: np.ndarray, mk: pd.DataFrame, tolerance_s: float = 0.08) -> pd.DataFrame:
    """Force contacts with the side (and the marker events) of the nearest marker contact."""
    m_ic = mk["ic_s"].to_numpy()
    j = np.clip(np.searchsorted(m_ic, force_ev[:, 0]), 1, max(m_ic.size - 1, 1))
    left, right = j - 1, j
    pick = np.where(np.abs(m_ic[left] - force_ev[:, 0]) <= np.abs(m_ic[right] - force_ev[:, 0]), left, right)
    ok = np.abs(m_ic[pick] - force_ev[:, 0]) <= tolerance_s
    return pd.DataFrame(
        {
            "side": mk["side"].to_numpy()[pick][ok],
            "ic_s": force_ev[ok, 0],
            "to_s": force_ev[ok, 1],
            "ic_markers_s": m_ic[pick][ok],
            "to_markers_s": mk["to_s"].to_numpy()[pick][ok],
            "ic_raw_s": mk["ic_raw_s"].to_numpy()[pick][ok],
        }
    )


@functools.lru_cache(maxsize=8)
def _force_trial_inputs(data_dir: str, trial: RbdsTrial) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """World-frame markers and force contacts of a trial with force (read once per process)."""
    d = Path(data_dir)
    lab = read_markers(d / trial.markers)
    W, _ = world_frame(lab)
    if trial.force is None:
        raise GaitInputError("no force", expected="a trial with force", found=trial.key, where=Where(parameter="trial"))
    return to_world(lab, W), force_contacts(read_force(d / trial.force), sampling_rate_hz=FORCE_FS_HZ)


def marker_event_pairs(
    data_dir: str | Path,
    *,
    ic_latency_s: float = MARKER_IC_LATENCY_S,
    to_upward_mps: float = MARKER_TO_UPWARD_MPS,
    trials: tuple[RbdsTrial, ...] | None = None,
) -> pd.DataFrame:
    """Marker events paired with the force's, one row per contact of every trial with force.

    Columns ``trial``, ``runner``, ``side``, ``ic_force_s``, ``to_force_s``,
    ``ic_markers_s``, ``to_markers_s``, ``ic_raw_s`` (Zeni's instant without the latency);
    times from the trial's first sample. Contacts with no marker contact within 80 ms are
    left out.
    """
    rows = []
    for tr in trials or TRIALS:
        if tr.force is None:
            continue
        world, fc = _force_trial_inputs(str(data_dir), tr)
        mk = marker_events(world, ic_latency_s=ic_latency_s, to_upward_mps=to_upward_mps)
        p = pair_force_with_markers(fc, mk).rename(columns={"ic_s": "ic_force_s", "to_s": "to_force_s"})
        rows.append(p.assign(trial=tr.key, runner=tr.runner))
    cols = ["trial", "runner", "side", "ic_force_s", "to_force_s", "ic_markers_s", "to_markers_s", "ic_raw_s"]
    return pd.concat(rows, ignore_index=True)[cols]


def calibrate_marker_events(data_dir: str | Path, *, runners: tuple[int, ...] | None = None) -> tuple[float, float]:
    """The two marker-event constants from the trials with force of ``runners`` (all: None).

    Pooled over their contacts: the latency is the median of (force contact - Zeni instant);
    the toe-off level (0.20 to 1.00 m/s in steps of 0.01) is the one whose median toe-off
    error is closest to zero. Leave a runner out to cross-validate.

    Returns
    -------
    ic_latency_s, to_upward_mps
    """
    trials = tuple(t for t in TRIALS if t.force is not None and (runners is None or t.runner in runners))
    if not trials:
        raise GaitInputError(
            "no force trial",
            expected="runners with a force trial (1, 2)",
            found=repr(runners),
            where=Where(parameter="runners"),
        )
    levels = np.round(np.arange(0.20, 1.0001, 0.01), 2)
    pairs = [marker_event_pairs(data_dir, ic_latency_s=0.0, to_upward_mps=float(v), trials=trials) for v in levels]
    latency = float(np.median(pairs[0]["ic_force_s"] - pairs[0]["ic_raw_s"]))
    bias = np.array([np.median(p["to_markers_s"] - p["to_force_s"]) for p in pairs])
    return latency, float(levels[int(np.argmin(np.abs(bias)))])


def foot_strike_class(angle_deg: np.ndarray) -> np.ndarray:
    """``rearfoot`` above 8 deg, ``forefoot`` below -1.6 deg, else ``midfoot`` (Altman & Davis 2012)."""
    a = np.asarray(angle_deg, dtype=float)
    out = np.where(a > REARFOOT_ABOVE_DEG, "rearfoot", np.where(a < FOREFOOT_BELOW_DEG, "forefoot", "midfoot")).astype(
        object
    )
    out[~np.isfinite(a)] = None
    return out


def foot_angle(f: dict[str, np.ndarray]) -> np.ndarray:
    d = f["mt"] - f["heel"]
    return np.arctan2(d[:, 2], d[:, 0]) * DEG_PER_RAD
