"""The body's kinematics at arbitrary times (vectorised): centre-of-mass acceleration, trunk orientation, turns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module
from ..constants import RAD_PER_DEG, G

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._config import SimulationConfig
from ._shapes import stance_shape, walking_profiles
from ._steps import Steps


def step_index(t: np.ndarray, s: Steps) -> np.ndarray:
    """Index of the step each time falls in, -1 outside every step."""
    i = np.searchsorted(s.ic, t, side="right") - 1
    j = np.clip(i, 0, None)
    return np.where((i >= 0) & (t < s.ic[j] + s.T[j]), i, -1)


def com_acceleration(t: np.ndarray, s: Steps, i: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre-of-mass acceleration (forward, left, up; gravity excluded) at times ``t``.

    ``i`` is the step each time belongs to (-1: standing). Returns ``a_ap, a_ml, a_v, stance``.
    """
    valid = i >= 0
    j = np.clip(i, 0, None)
    tau = t - s.ic[j]
    T, tc, run = s.T[j], s.tc[j], s.run[j]
    side = np.where(s.left[j], 1.0, -1.0)
    stance = valid & np.where(run, tau < tc, True)
    a_v = np.zeros_like(t)
    a_ap = np.zeros_like(t)
    a_ml = np.zeros_like(t)
    # running: half-sine stance, free fall in flight, raised-cosine heel-strike impact
    r = valid & run
    rs = r & (tau < tc)
    a_v[r] = -G
    a_v[rs] += s.amp_v[j][rs] * stance_shape(tau[rs] / tc[rs], s.skew[j][rs])
    w = s.impact_w[j]
    imp_on = rs & (tau < w) & (s.impact[j] > 0)
    imp = np.zeros_like(t)
    imp[imp_on] = s.impact[j][imp_on] * 0.5 * (1 - np.cos(2 * np.pi * tau[imp_on] / w[imp_on]))
    a_v += imp
    tb = s.brake_share[j] * tc
    br = rs & (tau < tb)
    pr = rs & (tau >= tb)
    a_ap[br] = -s.brake[j][br] * np.sin(np.pi * tau[br] / tb[br])
    a_ap[pr] = s.prop[j][pr] * np.sin(np.pi * (tau[pr] - tb[pr]) / (tc[pr] - tb[pr]))
    a_ap -= 0.35 * imp
    a_ml[rs] = -side[rs] * s.ml[j][rs] * np.sin(np.pi * tau[rs] / tc[rs])
    # walking: the vertical load peaks in loading response and is lowest in single support;
    # the trunk is thrown forward until heel strike, then brakes (`walking_profiles`)
    wk = valid & ~run
    wv, wf = walking_profiles(tau[wk] / T[wk])
    a_v[wk] = s.amp_v[j][wk] * wv
    a_ap[wk] = s.brake[j][wk] * wf
    a_ml[wk] = -side[wk] * s.ml[j][wk] * np.sin(np.pi * tau[wk] / T[wk])
    return a_ap, a_ml, a_v, stance


def piecewise_linear(t: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear interpolation through knots (flat outside) and its exact derivative."""
    y = np.interp(t, kx, ky)
    if kx.size < 2:
        return y, np.zeros_like(t)
    slopes = np.diff(ky) / np.diff(kx)
    k = np.searchsorted(kx, t, side="right") - 1
    inside = (k >= 0) & (k < kx.size - 1)
    return y, np.where(inside, slopes[np.clip(k, 0, slopes.size - 1)], 0.0)


def _roll_waveform(a: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """``(sin a + q sin 3a) / peak`` and its derivative in ``a``; ``peak`` is the waveform's
    largest value, so the roll swings between -1 and +1 of its amplitude whatever ``q``."""
    grid = np.linspace(0.0, np.pi, 2001)  # w(a + pi) = -w(a): its peak is positive for every q
    peak = float(np.max(np.sin(grid) + q * np.sin(3 * grid)))
    return (np.sin(a) + q * np.sin(3 * a)) / peak, (np.cos(a) + 3 * q * np.cos(3 * a)) / peak


def orientation(t: np.ndarray, s: Steps, cfg: SimulationConfig, i: np.ndarray) -> dict[str, np.ndarray]:
    """Trunk roll, pitch, yaw (rad, heading frame), heading, and their rates at ``t``."""
    start, end = s.ic[0], s.ic[-1] + s.T[-1]
    j = np.clip(i, 0, None)
    frac = np.clip((t - s.ic[j]) / s.T[j], 0.0, 1.0)
    # continuous step phase: i + fraction of step i; 0 before the first step, n after the last
    phi = np.where(i >= 0, j + frac, np.where(t < start, 0.0, float(s.ic.size)))
    dphi = np.where(i >= 0, 1.0 / s.T[j], 0.0)
    # activity envelope: oscillations fade in and out over 0.3 s around the stepping period
    env, denv = piecewise_linear(t, np.array([start - 0.3, start, end, end + 0.3]), np.array([0.0, 1.0, 1.0, 0.0]))
    kx = s.ic + s.T / 2
    lean0, dlean0 = piecewise_linear(t, kx, s.lean)
    pa, dpa = piecewise_linear(t, kx, s.pitch_amp)
    ra, dra = piecewise_linear(t, kx, s.roll_amp)
    ya, dya = piecewise_linear(t, kx, s.yaw_amp)
    rm, drm = piecewise_linear(t, kx, s.roll_mean)
    c2, s2 = np.cos(2 * np.pi * phi), np.sin(2 * np.pi * phi)
    c1, s1 = np.cos(np.pi * phi), np.sin(np.pi * phi)
    # pitch: posture + lean + once per step (most upright at contact)
    stand = cfg.standing_pitch_deg * RAD_PER_DEG
    pitch = stand + env * (lean0 - pa * c2)
    dpitch = denv * (lean0 - pa * c2) + env * (dlean0 - dpa * c2 + pa * 2 * np.pi * s2 * dphi)
    # running steps take the form's roll and yaw timing, walking steps the plain half sine and
    # the 0 yaw phase; the weight moves linearly between step midpoints (as the amplitudes do),
    # so angles and rates stay continuous across a change of gait
    beta, dbeta = piecewise_linear(t, kx, s.run.astype(float))
    # roll: running (`Form.roll_phase_deg`, `Form.roll_third_harmonic`): the contralateral side
    # drops in early stance (left step: right side down, roll > 0) and rises through late
    # stance; walking: it is lowest at mid-step
    w_run, dw_run = _roll_waveform(np.pi * phi + cfg.form.roll_phase_deg * RAD_PER_DEG, cfg.form.roll_third_harmonic)
    w_r = (1 - beta) * s1 + beta * w_run
    dw_r = ((1 - beta) * c1 + beta * dw_run) * np.pi * dphi + dbeta * (w_run - s1)
    roll = env * (rm + ra * w_r)
    droll = denv * (rm + ra * w_r) + env * (drm + dra * w_r + ra * dw_r)
    # yaw, once per stride: with a 0 phase the stance-side hip is forward at contact (left
    # contact: turned right, yaw < 0); running steps take `Form.yaw_phase_deg`
    dl = cfg.form.yaw_phase_deg * RAD_PER_DEG
    cy = (1 - beta) * c1 + beta * np.cos(np.pi * phi + dl)
    dcy = -((1 - beta) * s1 + beta * np.sin(np.pi * phi + dl)) * np.pi * dphi + dbeta * (np.cos(np.pi * phi + dl) - c1)
    yaw = -env * ya * cy
    dyaw = -(denv * ya + env * dya) * cy - env * ya * dcy
    turn = cfg.turn_rate_dps * RAD_PER_DEG
    head = turn * np.clip(t - start, 0.0, end - start)
    dhead = np.where((t >= start) & (t < end), turn, 0.0)
    head, dhead = _add_turns(cfg, t, head, dhead)
    return {
        "roll": roll,
        "pitch": pitch,
        "yaw": yaw,
        "droll": droll,
        "dpitch": dpitch,
        "dyaw": dyaw,
        "heading": head,
        "dheading": dhead,
    }


def _add_turns(
    cfg: SimulationConfig, t: np.ndarray, head: np.ndarray, dhead: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Heading and its rate with the configured turns added (raised-cosine turning rate)."""
    if not cfg.turns:
        return head, dhead
    t_run0 = cfg.standing_before_s + cfg.walking_before_s
    head, dhead = head.copy(), dhead.copy()
    for start, dur, angle in cfg.turns:
        a = t_run0 + start
        x = np.clip((t - a) / dur, 0.0, 1.0)
        total = angle * RAD_PER_DEG
        head += total * (x - np.sin(2 * np.pi * x) / (2 * np.pi))
        inside = (t > a) & (t < a + dur)
        dhead += np.where(inside, total / dur * (1 - np.cos(2 * np.pi * x)), 0.0)
    return head, dhead


def body_signals(
    t: np.ndarray, s: Steps, cfg: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Specific force (m/s^2) and angular rate (rad/s) in the body frame (forward, left, up)."""
    idx = step_index(t, s)
    a_ap, a_ml, a_v, stance = com_acceleration(t, s, idx)
    o = orientation(t, s, cfg, idx)
    speed_at = np.where(idx >= 0, s.speed[np.clip(idx, 0, None)], 0.0)
    a_ml = a_ml + speed_at * o["dheading"]  # centripetal acceleration of a turn
    if cfg.surface_vibration_mps2 > 0:
        from scipy.signal import butter, sosfiltfilt

        fs = 1.0 / float(np.median(np.diff(t)))
        sos = butter(4, [20.0, min(45.0, 0.45 * fs)], btype="band", fs=fs, output="sos")
        vib = sosfiltfilt(sos, rng.normal(0, 1, (3, t.size)), axis=1)
        vib *= cfg.surface_vibration_mps2 / max(float(vib.std()), 1e-12)
        gate = stance & (idx >= 0) & s.run[np.clip(idx, 0, None)]
        a_ap, a_ml, a_v = a_ap + vib[0] * gate, a_ml + vib[1] * gate, a_v + vib[2] * gate
    f_h = np.column_stack([a_ap, a_ml, a_v + G])
    rot = transform.Rotation.from_euler("ZYX", np.column_stack([o["yaw"], o["pitch"], o["roll"]]))
    f_b = rot.inv().apply(f_h)
    ph, th = o["roll"], o["pitch"]
    dps = o["dyaw"] + o["dheading"]
    # body rates of R = Rz(yaw) Ry(pitch) Rx(roll)
    w_x = o["droll"] - dps * np.sin(th)
    w_y = o["dpitch"] * np.cos(ph) + dps * np.cos(th) * np.sin(ph)
    w_z = -o["dpitch"] * np.sin(ph) + dps * np.cos(th) * np.cos(ph)
    return f_b, np.column_stack([w_x, w_y, w_z])
