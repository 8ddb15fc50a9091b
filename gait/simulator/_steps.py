"""The step timeline: per-step parameters from the speed profile, form, warm-up, surges and fatigue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._lazy import lazy_module
from ..constants import RAD_PER_DEG, G
from ..errors import GaitInputError, Where

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._config import SimulationConfig
from ._presets import typical_cadence_spm, typical_contact_time_s
from ._shapes import ramp_window, shape_moments, smooth_step, walking_velocity_at_contact


@dataclass
class Steps:
    """Per-step parameters, one array entry per step (walking and running)."""

    ic: np.ndarray
    T: np.ndarray
    tc: np.ndarray
    run: np.ndarray  # bool: running step
    left: np.ndarray  # bool
    speed: np.ndarray
    amp_v: np.ndarray  # stance amplitude (running) / cosine amplitude (walking), m/s^2
    skew: np.ndarray  # stance shape skew (running)
    impact: np.ndarray  # collision transient amplitude, m/s^2 (0: forefoot or walking)
    strike: np.ndarray  # rearfoot / midfoot / forefoot (running), None (walking)
    impact_w: np.ndarray
    brake: np.ndarray
    brake_share: np.ndarray
    prop: np.ndarray
    ml: np.ndarray
    v_land: np.ndarray  # vertical velocity at initial contact
    z_land: np.ndarray  # centre-of-mass height at initial contact (relative)
    lean: np.ndarray  # rad, forward lean relative to standing
    pitch_amp: np.ndarray
    roll_mean: np.ndarray
    roll_amp: np.ndarray
    yaw_amp: np.ndarray
    slope: np.ndarray  # deg


def _running_profiles(cfg: SimulationConfig, tr: np.ndarray) -> dict[str, np.ndarray]:
    """Speed, cadence, contact time and form over run time ``tr`` (s since the run started)."""
    f = cfg.form
    dur = cfg.duration_s
    speed = np.full_like(tr, cfg.speed_mps)
    if cfg.warmup_s > 0 or cfg.warmup_easy_s > 0:
        ramp = smooth_step((tr - cfg.warmup_easy_s) / max(cfg.warmup_s, 1e-9))
        speed *= cfg.warmup_start + (1 - cfg.warmup_start) * ramp
    for start, d, factor in cfg.surges:
        speed *= 1.0 + (factor - 1.0) * ramp_window(tr, start, d, ramp=2.0)
    slope = np.zeros_like(tr)
    for start, d, deg in cfg.slopes:
        slope += deg * ramp_window(tr, start, d, ramp=5.0)
    p = np.clip(tr / dur, 0, 1) ** 1.5 * cfg.fatigue  # fatigue grows late in the run
    cad_ref = f.cadence_spm if f.cadence_spm is not None else float(typical_cadence_spm(cfg.speed_mps))
    tc_ref = f.contact_time_s if f.contact_time_s is not None else float(typical_contact_time_s(cfg.speed_mps))
    cadence = cad_ref + 9.0 * (speed - cfg.speed_mps)
    cadence *= 1.0 - 0.05 * p
    tc = tc_ref * (cfg.speed_mps / speed) ** 0.8 * (1.0 + 0.10 * p)
    downhill = np.clip(-slope, 0, None) / 5.0
    return {
        "speed": speed,
        "slope": slope,
        "cadence": cadence,
        "tc": tc,
        "lean": (f.lean_deg + 4.0 * p - 2.0 * downhill) * RAD_PER_DEG,
        "brake": f.braking_mps2 * (1 + 0.25 * p + 0.5 * downhill),
        "impact_gain": 1.0 + 0.2 * p + 0.4 * downhill,
        "pitch_amp": f.pitch_amplitude_deg * (1 + f.angle_fatigue[0] * p) * RAD_PER_DEG,
        "roll_amp": f.roll_amplitude_deg * (1 + f.angle_fatigue[1] * p) * RAD_PER_DEG,
        "yaw_amp": f.yaw_amplitude_deg * (1 + f.angle_fatigue[2] * p) * RAD_PER_DEG,
        "variability": 1.0 + 1.5 * p,
    }


def _place_steps(
    t0: float, t1: float, cadence_fn, rng: np.random.Generator, cv: float, first_phase: float = 0.0
) -> np.ndarray:
    """Initial-contact times in [t0, t1): where the integrated step frequency crosses integers."""
    grid = np.arange(t0, t1 + 0.01, 0.01)
    cad = cadence_fn(grid)
    phase = first_phase + np.concatenate([[0.0], np.cumsum((cad[1:] + cad[:-1]) / 2 * np.diff(grid) / 60.0)])
    k = np.arange(np.ceil(phase[0]), np.floor(phase[-1]) + 1)
    ic = np.interp(k, phase, grid)
    if ic.size > 2 and cv > 0:
        T = np.diff(ic)
        jitter = rng.normal(0, cv, T.size) * T
        ic = ic[0] + np.concatenate([[0.0], np.cumsum(T + jitter - jitter.mean())])
    return ic[ic < t1]


def build_steps(cfg: SimulationConfig, rng: np.random.Generator) -> tuple[Steps, pd.DataFrame, float]:
    f = cfg.form
    t_walk1 = cfg.standing_before_s
    t_run0 = t_walk1 + cfg.walking_before_s
    t_run1 = t_run0 + cfg.duration_s
    t_walk2_end = t_run1 + cfg.walking_after_s
    t_end = t_walk2_end + cfg.standing_after_s

    walk_cad = 108.0 + 10.0 * (cfg.walking_speed_mps - 1.4)
    ic_w1 = (
        _place_steps(t_walk1, t_run0, lambda g: np.full_like(g, walk_cad), rng, 0.02)
        if cfg.walking_before_s > 0
        else np.zeros(0)
    )
    run_start = ic_w1[-1] + 60.0 / walk_cad if ic_w1.size else t_run0
    ic_r = _place_steps(run_start, t_run1, lambda g: _running_profiles(cfg, g - t_run0)["cadence"], rng, f.step_time_cv)
    if ic_r.size < 4:
        raise GaitInputError(
            "run too short",
            expected="a running duration of at least a few seconds",
            found=f"{cfg.duration_s} s",
            where=Where(parameter="duration_s"),
        )
    last_T = float(np.diff(ic_r)[-1])
    walk2_start = ic_r[-1] + last_T
    ic_w2 = (
        _place_steps(walk2_start, t_walk2_end, lambda g: np.full_like(g, walk_cad), rng, 0.02)
        if cfg.walking_after_s > 0
        else np.zeros(0)
    )
    ic = np.concatenate([ic_w1, ic_r, ic_w2])
    run = np.concatenate([np.zeros(ic_w1.size, bool), np.ones(ic_r.size, bool), np.zeros(ic_w2.size, bool)])
    ends = np.concatenate([ic[1:], [ic[-1] + (60.0 / walk_cad if ic_w2.size else last_T)]])
    # a step ends at the next contact, except across a walking -> standing boundary
    T = ends - ic
    if ic_w1.size:
        T[ic_w1.size - 1] = min(T[ic_w1.size - 1], 60.0 / walk_cad)
    n = ic.size
    left = (np.arange(n) % 2) == 0

    prof = _running_profiles(cfg, ic - t_run0)
    var = np.where(run, prof["variability"], 1.0)
    rough = cfg.surface_roughness
    # contact time: running from the profile; walking 62 % of a stride (per foot)
    asym = np.where(left, 1 + f.asymmetry / 2, 1 - f.asymmetry / 2)
    tc_run = prof["tc"] * asym * (1 + rng.normal(0, f.contact_time_cv, n) * var)
    tc_run = np.clip(tc_run, 0.1, 0.92 * T)
    tc = np.where(run, tc_run, 1.24 * T)
    speed = np.where(run, prof["speed"], cfg.walking_speed_mps)

    if not (0.0 <= f.rearfoot_share <= 1.0 and 0.0 <= f.midfoot_share <= 1.0 - f.rearfoot_share):
        raise GaitInputError(
            "invalid foot-strike shares",
            expected="rearfoot_share and midfoot_share in [0, 1] adding up to at most 1",
            found=f"rearfoot_share={f.rearfoot_share}, midfoot_share={f.midfoot_share}",
            where=Where(parameter="form"),
        )
    u = rng.random(n)
    heel = run & (u < f.rearfoot_share)
    mid = run & ~heel & (u < f.rearfoot_share + f.midfoot_share)
    imp_asym = np.where(left, 1 + f.impact_asymmetry / 2, 1 - f.impact_asymmetry / 2)
    collision = np.where(heel, 1.0, np.where(mid, f.midfoot_impact_ratio, 0.0))
    impact = np.where(
        heel | mid, collision * f.impact_mps2 * prof["impact_gain"] * imp_asym * (1 + rng.normal(0, 0.08, n)), 0.0
    )
    impact = np.clip(impact, 0, None)
    impact_w = np.full(n, f.impact_width_s)

    brake = np.where(run, prof["brake"] * imp_asym * (1 + rng.normal(0, 0.08, n) * var * (1 + rough)), 0.8)
    brake_share = np.where(run, f.braking_share, 0.5)
    ml = np.where(run, f.ml_sway_mps2, 0.8) * (1 + rng.normal(0, 0.08 + 0.3 * rough, n))
    angle_noise = lambda: 1 + rng.normal(0, f.angle_cv, n) * var * (1 + 3 * rough)  # noqa: E731
    lean = np.where(run, prof["lean"], 1.0 * RAD_PER_DEG)
    pitch_amp = np.where(run, prof["pitch_amp"], 0.8 * RAD_PER_DEG) * angle_noise()
    roll_amp = np.where(run, prof["roll_amp"], 2.5 * RAD_PER_DEG) * angle_noise()
    yaw_amp = np.where(run, prof["yaw_amp"], 3.0 * RAD_PER_DEG) * angle_noise()
    roll_mean = np.where(run, f.roll_mean_deg * RAD_PER_DEG, 0.0)

    # vertical: walking cosine amplitude for ~3.5 cm excursion; running from the controller
    amp_v = np.zeros(n)
    w_omega = 2 * np.pi / T
    amp_v[~run] = 0.0175 * w_omega[~run] ** 2
    v_land = np.zeros(n + 1)
    z_land = np.zeros(n + 1)
    prop = np.zeros(n)
    idx_run = np.flatnonzero(run)
    # speed change per running step is produced by the stance (propulsion balances braking)
    dspeed = np.zeros(n)
    dspeed[idx_run[:-1]] = speed[idx_run[1:]] - speed[idx_run[:-1]]
    i0, i1 = shape_moments(f.stance_skew)  # integral and first moment of the stance shape
    for i in idx_run:  # one scalar update per step (not per sample)
        Ti, tci, Ai, wi = T[i], tc[i], impact[i], impact_w[i]
        beta = Ti - tci * i1 / i0
        imp = Ai * (wi / 2) * (tci * i1 / i0 - wi / 2)
        if i == idx_run[0]:
            # enter running at the steady landing velocity (the hand-over from walking is one
            # instant; no transient in the running steps)
            v_land[i] = (G * Ti**2 / 2 - G * Ti * beta - imp) / Ti
        zi, vi = z_land[i], v_land[i]
        # choose the next landing velocity so the centre of mass is back at its reference
        # height at the next contact (no vertical drift)
        v_next = (-zi - vi * (Ti - beta) - G * Ti * beta + G * Ti**2 / 2 - imp) / beta
        amp_v[i] = (G * Ti + v_next - vi - Ai * wi / 2) / (tci * i0)
        d = vi * (Ti - beta) + v_next * beta + G * Ti * beta - G * Ti**2 / 2 + imp
        v_land[i + 1] = v_next
        z_land[i + 1] = zi + d
        tb = brake_share[i] * tci
        imp_ap = 0.35 * Ai * wi / 2
        prop[i] = (brake[i] * 2 * tb / np.pi + imp_ap + dspeed[i]) * np.pi / (2 * (tci - tb))
    # walking: z returns to its landing value; keep z_land continuous
    steps = Steps(
        ic=ic,
        T=T,
        tc=tc,
        run=run,
        left=left,
        speed=speed,
        amp_v=amp_v,
        skew=np.full(n, f.stance_skew),
        impact=impact,
        strike=np.where(run, np.where(heel, "rearfoot", np.where(mid, "midfoot", "forefoot")), "").astype(object),
        impact_w=impact_w,
        brake=brake,
        brake_share=brake_share,
        prop=prop,
        ml=ml,
        v_land=np.where(run, v_land[:n], amp_v * walking_velocity_at_contact(T)),
        z_land=z_land[:n],
        lean=lean,
        pitch_amp=pitch_amp,
        roll_mean=roll_mean,
        roll_amp=roll_amp,
        yaw_amp=yaw_amp,
        slope=np.where(run, prof["slope"], 0.0),
    )
    bouts = pd.DataFrame(
        [
            ("standing", 0.0, float(ic[0]) if n else t_end),
            ("walking", float(ic_w1[0]) if ic_w1.size else float(ic_r[0]), float(ic_r[0])),
            ("running", float(ic_r[0]), float(walk2_start)),
            ("walking", float(walk2_start), float(ic_w2[-1] + T[-1]) if ic_w2.size else float(walk2_start)),
            ("standing", float(ic_w2[-1] + T[-1]) if ic_w2.size else float(walk2_start), t_end),
        ],
        columns=["kind", "start_s", "end_s"],
    )
    bouts = bouts[bouts["end_s"] > bouts["start_s"]].reset_index(drop=True)
    return steps, bouts, t_end
