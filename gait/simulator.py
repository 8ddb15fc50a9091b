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
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._lazy import lazy_module
from .constants import DEG_PER_RAD, RAD_PER_DEG, G
from .core.frames import apply_matrix
from .errors import GaitInputError, Where, check_positive
from .io import save_session
from .session import Session, SessionMetadata

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")

__all__ = ["MOUNTINGS", "PRESETS", "Form", "SensorModel", "Simulation", "SimulationConfig", "preset", "simulate"]

TRUTH_GRID_HZ = 2000.0


# ---------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Form:
    """Running form of the simulated runner (at the reference speed, before fatigue).

    ``None`` for cadence or contact time means "typical for the speed".
    """

    cadence_spm: float | None = None
    contact_time_s: float | None = None
    #: probability that a step is a rearfoot strike (1 = always heel first, 0 = never)
    rearfoot_share: float = 0.0
    #: probability that a step is a midfoot strike; the rest (``1 - rearfoot_share -
    #: midfoot_share``) land on the forefoot
    midfoot_share: float = 0.0
    #: a midfoot landing's collision transient, as a share of a rearfoot one (the whole sole
    #: meets the ground: a smaller collision; a forefoot landing has none, the ankle takes it)
    midfoot_impact_ratio: float = 0.4
    #: skew of the stance force: sin(pi (x + k x (1 - x))), x = time / contact time. 0 gives the
    #: symmetric half sine of the spring-mass model; 0.35 (default) puts the peak at 41 % of
    #: stance with a steeper rise and a gradual end, which reproduces the timing of real sacral
    #: recordings (the descent crosses 60 % of the stance level at 72 % of stance)
    stance_skew: float = 0.35
    impact_mps2: float = 16.0
    impact_width_s: float = 0.03
    braking_mps2: float = 4.0
    #: share of stance spent braking (0.45 typical, 0.55 when overstriding)
    braking_share: float = 0.45
    lean_deg: float = 5.0
    pitch_amplitude_deg: float = 1.5
    roll_mean_deg: float = 0.0
    roll_amplitude_deg: float = 3.5
    yaw_amplitude_deg: float = 5.0
    ml_sway_mps2: float = 2.5
    #: fractional left-right difference in contact time (+0.06: left 6 % longer than right)
    asymmetry: float = 0.0
    #: fractional left-right difference in impact and braking (+: left harder)
    impact_asymmetry: float = 0.0
    step_time_cv: float = 0.012
    contact_time_cv: float = 0.02
    angle_cv: float = 0.05
    #: timing of the rotation (yaw) swing of running steps, once per stride, deg: 0 (default)
    #: turns the pelvis furthest towards the stance side at contact (the stance-side hip
    #: forward), so that it turns towards the swing side through stance; 180 turns it furthest
    #: towards the swing side at contact, so that it turns towards the stance side through
    #: stance. Two of the three RBDS runners (Fukuchi et al. 2017) run at about 160, the third
    #: at about 105 (the stride's first harmonic of the yaw, from the motion capture)
    yaw_phase_deg: float = 0.0
    #: timing of the roll (pelvic obliquity) swing, deg: the roll follows the waveform
    #: ``sin(a) + q sin(3 a)`` (scaled to a peak of ``roll_amplitude_deg``) at
    #: ``a = pi phi + roll_phase_deg`` with ``phi`` the step phase (0 at a left contact, 1 at
    #: the next, right, contact) and ``q = roll_third_harmonic``. 0 and ``q = 0``: one half sine
    #: per step, the swing side lowest at mid-step (in flight). Default 90 and 0.8: the swing
    #: side drops to its lowest a third of a step after contact (mid-stance) and rises to its
    #: highest two thirds after it (around toe-off), as the three RBDS runners' pelvises do
    #: (the stride's first harmonic peaks 0-4 % of a stride after a left contact, the third
    #: is 0.7-0.9 of the first for runners 1 and 2)
    roll_phase_deg: float = 90.0
    roll_third_harmonic: float = 0.8
    #: growth of the pitch, roll and yaw amplitudes at full fatigue (fractions)
    angle_fatigue: tuple[float, float, float] = (0.3, 0.4, 0.5)


@dataclass(frozen=True)
class SensorModel:
    """Errors of the simulated sensor and its link."""

    acc_noise_mps2: float = 0.04
    gyr_noise_rads: float = 0.003
    acc_bias_mps2: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gyr_bias_rads: tuple[float, float, float] = (0.0, 0.0, 0.0)
    acc_scale: tuple[float, float, float] = (1.0, 1.0, 1.0)
    #: small-angle axis misalignment (off-diagonal terms), rad
    acc_misalignment_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)
    acc_range_g: float = 16.0
    gyr_range_dps: float = 2000.0
    quantize: bool = True
    #: standard deviation of the sampling instants around the nominal grid, s
    timestamp_jitter_s: float = 0.0
    #: share of packets lost, and samples per packet
    drop_rate: float = 0.0
    packet_samples: int = 6
    has_gyro: bool = True


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that defines a simulated session. Deterministic for a given ``seed``."""

    duration_s: float = 300.0
    sampling_rate_hz: float = 200.0
    seed: int = 0
    speed_mps: float = 3.0
    form: Form = field(default_factory=Form)
    sensor: SensorModel = field(default_factory=SensorModel)
    standing_before_s: float = 8.0
    walking_before_s: float = 12.0
    walking_after_s: float = 8.0
    standing_after_s: float = 4.0
    walking_speed_mps: float = 1.4
    #: trunk pitch while standing, deg (posture; the standing reference for lean)
    standing_pitch_deg: float = 2.0
    #: the running speed ramps up from ``warmup_start`` x speed over this time (0: no warm-up)
    warmup_s: float = 90.0
    warmup_start: float = 0.75
    #: easy running at ``warmup_start`` x speed for this long before the ramp (an easy jog)
    warmup_easy_s: float = 0.0
    #: 0..1: how far form breaks down by the end of the run
    fatigue: float = 0.0
    #: (start_s into the run, duration_s, speed factor) of speed surges
    surges: tuple[tuple[float, float, float], ...] = ()
    #: (start_s into the run, duration_s, slope_deg) of hills (negative: downhill)
    slopes: tuple[tuple[float, float, float], ...] = ()
    #: 0..1: uneven ground (irregular steps, lateral perturbations)
    surface_roughness: float = 0.0
    #: high-frequency vibration in stance on hard ground, m/s^2 RMS
    surface_vibration_mps2: float = 0.0
    #: constant turning rate, deg/s (e.g. running laps)
    turn_rate_dps: float = 0.0
    #: (start_s into the run, duration_s, angle_deg) of turns (positive: to the left); the
    #: turning rate follows a raised cosine, e.g. ``(60.0, 2.5, 180.0)`` is a U-turn
    turns: tuple[tuple[float, float, float], ...] = ()
    #: sensor mounting: a name in MOUNTINGS, "random", or (z, y, x) intrinsic Euler angles in deg
    mounting: str | tuple[float, float, float] = "belt_clip"
    #: per-run mounting jitter in deg (how imperfectly the clip sits)
    mounting_jitter_deg: float = 0.0
    device: str = "simulator"
    shoes: str | None = None


#: Named sensor mountings: columns are the sensor x, y, z axes expressed in the body frame
#: (forward, left, up).
MOUNTINGS: dict[str, np.ndarray] = {
    "aligned": np.eye(3),
    # flat on the back: x to the right, y up, z out of the back
    "belt_clip": np.array([[0.0, 0.0, -1.0], [-1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
    # the same clip upside down: x to the left, y down
    "upside_down": np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
    # turned a quarter: x up, y to the left
    "sideways": np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]),
}


@dataclass(frozen=True)
class Simulation:
    """A simulated session and its exact truth.

    Attributes
    ----------
    session
        The sensor recording (sensor frame unless simulated with ``frame="body"``).
    steps
        One row per step, columns described in ``docs/simulator.md``.
    bouts
        Activity bouts: ``kind`` (standing / walking / running), ``start_s``, ``end_s``.
    mounting
        3x3 rotation, sensor axes -> body (forward, left, up).
    config
        The configuration that produced it.
    """

    session: Session
    steps: pd.DataFrame
    bouts: pd.DataFrame
    mounting: np.ndarray
    config: SimulationConfig

    def save(self, path: str | os.PathLike[str], *, decimals: int | None = None) -> tuple[Path, Path, Path]:
        """Write the session, ``<stem>.truth.csv.gz`` (steps) and ``<stem>.truth.json``."""
        p = Path(path)
        save_session(self.session, p, decimals=decimals)
        stem = truth_stem(p)
        steps_path = p.with_name(stem + ".truth.csv.gz")
        json_path = p.with_name(stem + ".truth.json")
        self.steps.to_csv(steps_path, index=False, float_format="%.6g", compression={"method": "gzip", "mtime": 0})
        doc = {
            "config": _config_to_dict(self.config),
            "mounting_sensor_to_body_flu": self.mounting.round(12).tolist(),
            "bouts": self.bouts.to_dict(orient="records"),
            "steps_file": steps_path.name,
        }
        json_path.write_text(json.dumps(doc, indent=1, sort_keys=True))
        return p, steps_path, json_path


def truth_stem(path: str | os.PathLike[str]) -> str:
    """File stem used for truth sidecars: ``run.csv.gz`` -> ``run``."""
    name = Path(path).name
    for ext in (".csv.gz", ".csv", ".parquet"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return Path(name).stem


def load_truth(path: str | os.PathLike[str]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the truth sidecars written by `Simulation.save` next to the session ``path``."""
    p = Path(path)
    stem = truth_stem(p)
    jp = p.with_name(stem + ".truth.json")
    if not jp.exists():
        raise GaitInputError("no ground truth", expected=f"a sidecar {jp.name}", found="none", where=Where(file=p))
    doc = json.loads(jp.read_text())
    steps = pd.read_csv(p.with_name(doc["steps_file"]))
    return steps, doc


def _config_to_dict(cfg: SimulationConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=list))


def config_from_dict(d: dict[str, Any]) -> SimulationConfig:
    """Inverse of the config dict stored in a truth JSON."""
    d = dict(d)
    form = dict(d.get("form", {}))
    if "angle_fatigue" in form:
        form["angle_fatigue"] = tuple(form["angle_fatigue"])
    d["form"] = Form(**form)
    s = dict(d.get("sensor", {}))
    for k in ("acc_bias_mps2", "gyr_bias_rads", "acc_scale", "acc_misalignment_rad"):
        if k in s:
            s[k] = tuple(s[k])
    d["sensor"] = SensorModel(**s)
    for k in ("surges", "slopes", "turns"):
        d[k] = tuple(tuple(x) for x in d.get(k, ()))
    if isinstance(d.get("mounting"), list):
        d["mounting"] = tuple(d["mounting"])
    return SimulationConfig(**d)


# ---------------------------------------------------------------------------------------
# presets: the sample sessions and the fault-calibration runs
# ---------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------
def typical_cadence_spm(speed_mps: float | np.ndarray) -> np.ndarray:
    """Typical recreational step frequency for a running speed (spm)."""
    return 156.0 + 9.0 * (np.asarray(speed_mps) - 2.5)


def typical_contact_time_s(speed_mps: float | np.ndarray) -> np.ndarray:
    """Typical ground contact time for a running speed (s)."""
    return 0.29 * (2.5 / np.asarray(speed_mps)) ** 0.8


def _smooth_step(x: np.ndarray) -> np.ndarray:
    """0 -> 1 raised-cosine ramp for x in [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * x)


def _window(t: np.ndarray, start: float, dur: float, ramp: float) -> np.ndarray:
    """1 inside [start, start+dur] with raised-cosine edges of ``ramp`` seconds."""
    ramp = max(min(ramp, dur / 2), 1e-6)
    return _smooth_step((t - start) / ramp) * _smooth_step((start + dur - t) / ramp)


def stance_shape(x: np.ndarray, skew: float | np.ndarray) -> np.ndarray:
    """Vertical force shape in stance, 0 at x = 0 and x = 1 (x = time / contact time)."""
    return np.sin(np.pi * (x + skew * x * (1.0 - x)))


def _shape_moments(skew: float) -> tuple[float, float]:
    """Integral and first moment over [0, 1] of `stance_shape` (Simpson, 2001 points)."""
    from scipy.integrate import simpson

    x = np.linspace(0.0, 1.0, 2001)
    y = stance_shape(x, skew)
    return float(simpson(y, x=x)), float(simpson(x * y, x=x))


def _mounting_matrix(cfg: SimulationConfig, rng: np.random.Generator) -> np.ndarray:
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


# ---------------------------------------------------------------------------------------
# the step timeline
# ---------------------------------------------------------------------------------------
@dataclass
class _Steps:
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
        ramp = _smooth_step((tr - cfg.warmup_easy_s) / max(cfg.warmup_s, 1e-9))
        speed *= cfg.warmup_start + (1 - cfg.warmup_start) * ramp
    for start, d, factor in cfg.surges:
        speed *= 1.0 + (factor - 1.0) * _window(tr, start, d, ramp=2.0)
    slope = np.zeros_like(tr)
    for start, d, deg in cfg.slopes:
        slope += deg * _window(tr, start, d, ramp=5.0)
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


def _build_steps(cfg: SimulationConfig, rng: np.random.Generator) -> tuple[_Steps, pd.DataFrame, float]:
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
    i0, i1 = _shape_moments(f.stance_skew)  # integral and first moment of the stance shape
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
    steps = _Steps(
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
        v_land=np.where(run, v_land[:n], amp_v * _walking_velocity_at_contact(T)),
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


# ---------------------------------------------------------------------------------------
# the kinematics at arbitrary times (vectorised)
# ---------------------------------------------------------------------------------------
def _step_index(t: np.ndarray, s: _Steps) -> np.ndarray:
    """Index of the step each time falls in, -1 outside every step."""
    i = np.searchsorted(s.ic, t, side="right") - 1
    j = np.clip(i, 0, None)
    return np.where((i >= 0) & (t < s.ic[j] + s.T[j]), i, -1)


def _com_acceleration(t: np.ndarray, s: _Steps, i: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
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


def _walking_velocity_at_contact(T: np.ndarray) -> np.ndarray:
    """Vertical velocity at contact (per unit of ``amp_v``) of the periodic walking motion."""
    return -T * sum(s_ / (2 * np.pi * k) for k, (_, s_) in enumerate(WALK_VERTICAL_HARMONICS, start=1))


def _pl(t: np.ndarray, kx: np.ndarray, ky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _orientation(t: np.ndarray, s: _Steps, cfg: SimulationConfig, i: np.ndarray) -> dict[str, np.ndarray]:
    """Trunk roll, pitch, yaw (rad, heading frame), heading, and their rates at ``t``."""
    start, end = s.ic[0], s.ic[-1] + s.T[-1]
    j = np.clip(i, 0, None)
    frac = np.clip((t - s.ic[j]) / s.T[j], 0.0, 1.0)
    # continuous step phase: i + fraction of step i; 0 before the first step, n after the last
    phi = np.where(i >= 0, j + frac, np.where(t < start, 0.0, float(s.ic.size)))
    dphi = np.where(i >= 0, 1.0 / s.T[j], 0.0)
    # activity envelope: oscillations fade in and out over 0.3 s around the stepping period
    env, denv = _pl(t, np.array([start - 0.3, start, end, end + 0.3]), np.array([0.0, 1.0, 1.0, 0.0]))
    kx = s.ic + s.T / 2
    lean0, dlean0 = _pl(t, kx, s.lean)
    pa, dpa = _pl(t, kx, s.pitch_amp)
    ra, dra = _pl(t, kx, s.roll_amp)
    ya, dya = _pl(t, kx, s.yaw_amp)
    rm, drm = _pl(t, kx, s.roll_mean)
    c2, s2 = np.cos(2 * np.pi * phi), np.sin(2 * np.pi * phi)
    c1, s1 = np.cos(np.pi * phi), np.sin(np.pi * phi)
    # pitch: posture + lean + once per step (most upright at contact)
    stand = cfg.standing_pitch_deg * RAD_PER_DEG
    pitch = stand + env * (lean0 - pa * c2)
    dpitch = denv * (lean0 - pa * c2) + env * (dlean0 - dpa * c2 + pa * 2 * np.pi * s2 * dphi)
    # running steps take the form's roll and yaw timing, walking steps the plain half sine and
    # the 0 yaw phase; the weight moves linearly between step midpoints (as the amplitudes do),
    # so angles and rates stay continuous across a change of gait
    beta, dbeta = _pl(t, kx, s.run.astype(float))
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


def _body_signals(
    t: np.ndarray, s: _Steps, cfg: SimulationConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Specific force (m/s^2) and angular rate (rad/s) in the body frame (forward, left, up)."""
    idx = _step_index(t, s)
    a_ap, a_ml, a_v, stance = _com_acceleration(t, s, idx)
    o = _orientation(t, s, cfg, idx)
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


def _sensor_errors(
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


# ---------------------------------------------------------------------------------------
# truth
# ---------------------------------------------------------------------------------------
def _cumtrapz_blocks(
    y: np.ndarray, same: np.ndarray, dtau: np.ndarray, offs: np.ndarray, local: np.ndarray
) -> np.ndarray:
    """Cumulative trapezoid integral of ``y`` restarting at 0 at every block start."""
    inc = np.where(same, (y + np.concatenate([[0.0], y[:-1]])) / 2 * dtau, 0.0)
    c = np.cumsum(inc)
    return c - c[offs][local]


def _truth_table(s: _Steps, cfg: SimulationConfig, chunk_steps: int = 800) -> pd.DataFrame:
    """Per-step truth from the model on a fine grid that starts exactly at every contact."""
    n = s.ic.size
    dt = 1.0 / TRUTH_GRID_HZ
    cols: dict[str, list[np.ndarray]] = {
        k: [] for k in ("osc", "bpk", "vloss", "pitch", "roll", "rmax", "rmin", "ymax", "ymin", "smax", "smin")
    }
    for c0 in range(0, n, chunk_steps):  # bounded memory for long runs
        steps = np.arange(c0, min(n, c0 + chunk_steps))
        m = np.ceil(s.T[steps] / dt).astype(int) + 1  # grid points per step, both ends included
        offs = np.concatenate([[0], np.cumsum(m)[:-1]])
        sid = np.repeat(steps, m)
        local = np.repeat(np.arange(steps.size), m)
        tau = np.minimum((np.arange(m.sum()) - offs[local]) * dt, s.T[sid])
        tg = s.ic[sid] + tau
        a_ap, _, a_v, _ = _com_acceleration(tg, s, sid)
        o = _orientation(tg, s, cfg, sid)
        same = np.concatenate([[False], local[1:] == local[:-1]])
        dtau = np.concatenate([[0.0], np.diff(tau)])
        blocks = (same, dtau, offs, local)
        vz = s.v_land[sid] + _cumtrapz_blocks(a_v, *blocks)
        z = _cumtrapz_blocks(vz, *blocks)
        cols["osc"].append(np.maximum.reduceat(z, offs) - np.minimum.reduceat(z, offs))
        in_stance = np.where(s.run[sid], tau <= s.tc[sid], True)
        v_ap = _cumtrapz_blocks(a_ap, *blocks)
        cols["bpk"].append(np.maximum.reduceat(np.where(in_stance, -a_ap, 0.0), offs))
        cols["vloss"].append(np.maximum.reduceat(np.where(in_stance, -v_ap, 0.0), offs))
        # means over the step (trapezoid weights; the grid is uniform but for the last point)
        wts = np.where(same, dtau, 0.0)
        wts = (wts + np.concatenate([wts[1:], [0.0]]) * np.concatenate([same[1:], [False]])) / 2
        norm = np.add.reduceat(wts, offs)
        cols["pitch"].append(np.add.reduceat(o["pitch"] * wts, offs) / norm)
        cols["roll"].append(np.add.reduceat(o["roll"] * wts, offs) / norm)
        cols["rmax"].append(np.maximum.reduceat(o["roll"], offs))
        cols["rmin"].append(np.minimum.reduceat(o["roll"], offs))
        cols["ymax"].append(np.maximum.reduceat(o["yaw"], offs))
        cols["ymin"].append(np.minimum.reduceat(o["yaw"], offs))
        # roll extremes in stance (running; walking: the whole step), for the pelvic drop
        cols["smax"].append(np.maximum.reduceat(np.where(in_stance, o["roll"], -np.inf), offs))
        cols["smin"].append(np.minimum.reduceat(np.where(in_stance, o["roll"], np.inf), offs))
    r = {k: np.concatenate(v) for k, v in cols.items()}
    # ranges over the stride that starts at each step (this step and the next, same activity)
    nxt = np.concatenate([s.run[1:] == s.run[:-1], [False]]) & np.concatenate(
        [np.diff(s.ic) <= s.T[:-1] * 1.001, [False]]
    )

    def stride_range(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
        hi2 = np.maximum(hi, np.concatenate([hi[1:], [np.nan]]))
        lo2 = np.minimum(lo, np.concatenate([lo[1:], [np.nan]]))
        return np.where(nxt, hi2 - lo2, np.nan)

    def stride_mean(x: np.ndarray) -> np.ndarray:
        nx = np.concatenate([x[1:], [np.nan]])
        nT = np.concatenate([s.T[1:], [np.nan]])
        return np.where(nxt, (x * s.T + nx * nT) / (s.T + nT), np.nan)

    stand = cfg.standing_pitch_deg * RAD_PER_DEG
    # pelvic drop: the largest roll in stance towards the swing side (left stance: the right
    # side down, roll > 0), relative to the stride's mean roll (as `gait.core.metrics` defines it)
    lateral = stride_mean(r["roll"])
    drop = np.where(s.left, r["smax"] - lateral, lateral - r["smin"])
    df = pd.DataFrame(
        {
            "step": np.arange(n),
            "activity": np.where(s.run, "running", "walking"),
            "side": np.where(s.left, "L", "R"),
            "ic_s": s.ic,
            "to_s": s.ic + s.tc,
            "step_time_s": s.T,
            "contact_time_s": s.tc,
            "flight_time_s": np.where(s.run, s.T - s.tc, 0.0),
            "cadence_spm": 60.0 / s.T,
            "vertical_oscillation_m": r["osc"],
            "speed_mps": s.speed,
            "step_length_m": s.speed * s.T,
            "foot_strike": pd.Series(s.strike, dtype=object).where(s.run, None).to_numpy(),
            "impact_mps2": s.impact,
            "braking_peak_mps2": r["bpk"],
            "braking_velocity_loss_mps": r["vloss"],
            "lean_deg": (r["pitch"] - stand) * DEG_PER_RAD,
            "pelvic_roll_deg": r["roll"] * DEG_PER_RAD,
            "lateral_lean_deg": lateral * DEG_PER_RAD,
            "pelvic_drop_deg": np.where(s.run, drop, np.nan) * DEG_PER_RAD,
            "roll_range_deg": stride_range(r["rmax"], r["rmin"]) * DEG_PER_RAD,
            "yaw_range_deg": stride_range(r["ymax"], r["ymin"]) * DEG_PER_RAD,
            "slope_deg": s.slope,
        }
    )
    df["vertical_ratio_pct"] = 100 * df["vertical_oscillation_m"] / df["step_length_m"]
    return df


# ---------------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------------
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

    steps, bouts, t_end = _build_steps(cfg, rng_steps)
    n = int(np.floor(t_end * fs))
    t = np.arange(n) / fs
    sm = cfg.sensor
    if sm.timestamp_jitter_s > 0:
        jit = rng_time.normal(0, sm.timestamp_jitter_s, n)
        jit = np.clip(jit, -0.45 / fs, 0.45 / fs)
        t = t + jit
    f_b, w_b = _body_signals(t, steps, cfg, rng_sig)
    R = _mounting_matrix(cfg, rng_mount)
    if frame == "sensor":
        f_s, w_s = apply_matrix(R.T, f_b), apply_matrix(R.T, w_b)  # v_sensor = R^T v_body
        acc, gyr = _sensor_errors(f_s, w_s, sm, rng_err)
    else:
        body = dataclasses.replace(
            sm, acc_bias_mps2=(0, 0, 0), acc_scale=(1, 1, 1), acc_misalignment_rad=(0, 0, 0), gyr_bias_rads=(0, 0, 0)
        )
        acc, gyr = _sensor_errors(f_b, w_b, body, rng_err)
        order = [2, 0, 1]  # (forward, left, up) -> (v, ap, ml)
        acc, gyr = acc[:, order], gyr[:, order]
    keep = np.ones(n, bool)
    if sm.drop_rate > 0:
        n_packets = int(np.ceil(n / sm.packet_samples))
        lost = rng_time.random(n_packets) < sm.drop_rate
        lost[0] = lost[-1] = False
        keep = ~np.repeat(lost, sm.packet_samples)[:n]
    truth = _truth_table(steps, cfg)
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
