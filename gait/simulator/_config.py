"""Simulation parameters: running form, sensor model, configuration, mountings; the result and its files."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..errors import GaitInputError, Where
from ..io import save_session
from ..session import Session

if TYPE_CHECKING:
    import pandas as pd
    from scipy.spatial import transform
else:
    pd = lazy_module("pandas")
    transform = lazy_module("scipy.spatial.transform")


TRUTH_GRID_HZ = 2000.0


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
            "config": config_to_dict(self.config),
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


def config_to_dict(cfg: SimulationConfig) -> dict[str, Any]:
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
