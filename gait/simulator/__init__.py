"""Simulator: a lumbar IMU on a runner, from a physical model, with exact ground truth.

The model
---------
*Timeline.* Standing, walking, running, walking, standing. Steps are placed by integrating
the step frequency (a smooth function of the speed profile, warm-up, surges and fatigue), so
initial contacts are where the cumulative step phase crosses an integer, plus per-step jitter.
Steps alternate left / right; side ``L`` on even step numbers.

*Vertical (spring-mass).* In stance the vertical specific force follows the spring-mass
half sine, skewed as real trunk recordings are (`stance_shape`: the peak at 41 % of stance, a
steep rise and a gradual end; ``stance_skew=0`` gives the symmetric half sine),
``f_v = A sin(pi (x + k x (1 - x)))``, ``x = tau / tc``, plus the foot's collision with the
ground: a raised-cosine transient of width ``impact_width_s`` at the start of stance, of
amplitude ``impact_mps2`` when the heel lands first (rearfoot), ``midfoot_impact_ratio`` of it
when the whole sole lands at once (midfoot), and none when the forefoot lands first and the
ankle's dorsiflexion takes the collision (forefoot; Lieberman et al. 2010). Each step's strike
is drawn with the probabilities ``rearfoot_share`` and ``midfoot_share`` (the rest forefoot).
In flight the sensor is in free fall (``f_v = 0``). Each step's amplitude ``A`` balances the impulse so that the vertical velocity
changes from this landing to the next, and the next landing velocity is chosen so the centre
of mass returns to its reference height at every initial contact (no drift). The true vertical
oscillation of a step is max - min of the exact double integral of ``f_v - g`` between its
initial contact and the next (computed on a 2 kHz grid, restarted from the exact state at
every contact).

*Antero-posterior.* Braking in the first part of stance (a half sine of depth
``braking_mps2``; longer when overstriding), propulsion after it, balanced so the speed
follows the profile; a collision transient also has a posterior component (35 % of it). Walking uses
sinusoidal profiles of an inverted pendulum.

*Medio-lateral.* A half sine per stance pushing the centre of mass towards the other side,
plus the centripetal acceleration of any turn.

*Trunk orientation.* ``R = Rz(yaw) Ry(pitch) Rx(roll)`` in the heading frame (forward, left,
up). Pitch is the standing posture plus the forward lean plus an oscillation once per step;
roll (pelvic obliquity) of running steps follows the stride's first and third harmonics, the
contralateral side dropping to its lowest in mid-stance and rising to its highest around
toe-off (`Form.roll_phase_deg`, `Form.roll_third_harmonic`; walking steps: a half sine per
step); yaw swings once per stride, the stance-side hip forward at contact (`Form.yaw_phase_deg`
moves it for running steps). Angular rates are the exact derivatives (body frame), so
gyroscope and accelerometer are consistent.

*Sensor.* The specific force and angular rate are rotated into a sensor mounted at any
rotation (``mounting``), then scaled, misaligned, biased, made noisy, saturated and quantised
like an int16 MEMS part; samples can be taken at jittered times and lost in packets.

Every number in the truth table comes from the model, not from the sensor signal.

Notes
-----
The spring-mass stance profile follows the classic model of Blickhan (1989) and McMahon &
Cheng (1990); vertical oscillation defined as the per-step excursion of the centre of mass, as
used for force-plate references (integrate ``(F / BW - 1) g`` twice per step; Cavagna 1975).
Contralateral pelvic drop in stance follows the running kinematics reported by Bramah (2018);
its timing (and the rotation's) was measured on the RBDS runners (Fukuchi et al. 2017,
``benchmarks/sides.py``).
Foot strikes: rearfoot landings produce a distinct impact transient in the vertical force,
forefoot landings none and midfoot landings a small one (Lieberman et al. 2010, Nature
463:531-535; loading rates rearfoot > midfoot, forefoot: Almeida, Davis & Lopes 2015, J Orthop
Sports Phys Ther 45:738-755). The amplitudes at the sacrum are this model's choice.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..core.frames import apply_matrix
from ..errors import GaitInputError, Where, check_positive
from ..session import Session, SessionMetadata

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

from ._body import body_signals
from ._config import (
    MOUNTINGS,
    TRUTH_GRID_HZ,
    Form,
    SensorModel,
    Simulation,
    SimulationConfig,
    config_from_dict,
    load_truth,
    truth_stem,
)
from ._presets import PRESETS, preset, typical_cadence_spm, typical_contact_time_s
from ._sensor import mounting_matrix, sensor_errors
from ._shapes import stance_shape, walking_profiles
from ._steps import build_steps
from ._truth import truth_table

__all__ = [
    "MOUNTINGS",
    "PRESETS",
    "TRUTH_GRID_HZ",
    "Form",
    "SensorModel",
    "Simulation",
    "SimulationConfig",
    "config_from_dict",
    "load_truth",
    "preset",
    "simulate",
    "stance_shape",
    "truth_stem",
    "typical_cadence_spm",
    "typical_contact_time_s",
    "walking_profiles",
]


def simulate(config: SimulationConfig | None = None, *, frame: str = "sensor", **overrides: Any) -> Simulation:
    """Simulate a lumbar IMU recording of a run, with exact per-step truth.

    Parameters
    ----------
    config
        A `SimulationConfig` (default: a 5-minute easy run at 3 m/s, 200 Hz). Keyword
        arguments override its fields, e.g. ``simulate(duration_s=60, seed=3)``.
    frame
        ``"sensor"``: as the mounted device reports it (default); ``"body"``: already in the
        body frame (``v, ap, ml``; mounting and sensor axis errors do not apply).

    Returns
    -------
    Simulation
        The session, the truth table of steps, the activity bouts and the mounting.

    Examples
    --------
    >>> sim = simulate(duration_s=60, seed=1)
    >>> sim.steps[["ic_s", "contact_time_s", "vertical_oscillation_m"]].head()  # doctest: +SKIP
    """
    cfg = config or SimulationConfig()
    if overrides:
        names = {f.name for f in dataclasses.fields(SimulationConfig)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise GaitInputError(
                "unknown simulation parameter",
                expected="one of " + ", ".join(sorted(names)),
                found=", ".join(unknown),
                where=Where(parameter=unknown[0]),
            )
        cfg = dataclasses.replace(cfg, **overrides)
    fs = check_positive(cfg.sampling_rate_hz, "sampling_rate_hz")
    check_positive(cfg.duration_s, "duration_s")
    if frame not in ("sensor", "body"):
        raise GaitInputError(
            "invalid value", expected="'sensor' or 'body'", found=repr(frame), where=Where(parameter="frame")
        )
    rng = np.random.default_rng(cfg.seed)
    rng_steps, rng_sig, rng_err, rng_time, rng_mount = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 5))

    steps, bouts, t_end = build_steps(cfg, rng_steps)
    n = int(np.floor(t_end * fs))
    t = np.arange(n) / fs
    sm = cfg.sensor
    if sm.timestamp_jitter_s > 0:
        jit = rng_time.normal(0, sm.timestamp_jitter_s, n)
        jit = np.clip(jit, -0.45 / fs, 0.45 / fs)
        t = t + jit
    f_b, w_b = body_signals(t, steps, cfg, rng_sig)
    R = mounting_matrix(cfg, rng_mount)
    if frame == "sensor":
        f_s, w_s = apply_matrix(R.T, f_b), apply_matrix(R.T, w_b)  # v_sensor = R^T v_body
        acc, gyr = sensor_errors(f_s, w_s, sm, rng_err)
    else:
        body = dataclasses.replace(
            sm, acc_bias_mps2=(0, 0, 0), acc_scale=(1, 1, 1), acc_misalignment_rad=(0, 0, 0), gyr_bias_rads=(0, 0, 0)
        )
        acc, gyr = sensor_errors(f_b, w_b, body, rng_err)
        order = [2, 0, 1]  # (forward, left, up) -> (v, ap, ml)
        acc, gyr = acc[:, order], gyr[:, order]
    keep = np.ones(n, bool)
    if sm.drop_rate > 0:
        n_packets = int(np.ceil(n / sm.packet_samples))
        lost = rng_time.random(n_packets) < sm.drop_rate
        lost[0] = lost[-1] = False
        keep = ~np.repeat(lost, sm.packet_samples)[:n]
    truth = truth_table(steps, cfg)
    meta = SessionMetadata(
        sampling_rate_hz=fs,
        device=cfg.device,
        device_id=f"sim-{cfg.seed}",
        units_as_recorded={"acc": "mps2", "gyr": "rads", "t": "s"},
        shoes=cfg.shoes,
        notes="simulated session; truth in the .truth sidecars",
    )
    session = Session(
        t=t[keep],
        acc=acc[keep],
        gyr=gyr[keep] if sm.has_gyro else None,
        frame=frame,
        meta=meta,
    )
    return Simulation(session=session, steps=truth, bouts=bouts, mounting=R, config=cfg)
