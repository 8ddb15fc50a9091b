"""Simulated runs and analyses shared by the fault, history and report tests.

Each builder is cached for the whole test session (``functools.cache``); test modules wrap the
ones they use in fixtures, e.g. ``clean_analysis = pytest.fixture(scope="session")(lambda: fx.clean_analysis())``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from functools import cache
from pathlib import Path

import gait
from gait.simulator import Form, SensorModel, Simulation, SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEEDS_DIR = SHARED / "seeds"
DESIGN = SHARED / "DESIGN.md"
SHARED_DATA = Path(os.environ.get("GAIT_SHARED_DATA", SHARED / "data"))
ALCANTARA = SHARED_DATA / "alcantara2022_sacral_running"

#: A good-form run (3 min at 3.2 m/s, belt clip, 100 Hz, typical sensor noise).
CLEAN = SimulationConfig(duration_s=180.0, seed=21, speed_mps=3.2, sampling_rate_hz=100.0)


def load_benchmark(script: str = "faults"):
    """``benchmarks/<script>.py`` as a module (the calibration test runs a small version of it)."""
    name = f"gait_benchmark_{script}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{script}.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


@cache
def clean_sim() -> Simulation:
    return simulate(CLEAN)


@cache
def clean_analysis() -> gait.Analysis:
    return gait.analyze(clean_sim().session)


@cache
def overstride_sim() -> Simulation:
    """Overstriding and heel striking (3 min at 3.2 m/s)."""
    form = Form(cadence_spm=150.0, contact_time_s=0.29, braking_mps2=8.0, braking_share=0.55, rearfoot_share=0.9)
    return simulate(dataclasses.replace(CLEAN, seed=22, form=form))


@cache
def overstride_analysis() -> gait.Analysis:
    return gait.analyze(overstride_sim().session, speed_mps=CLEAN.speed_mps)


@cache
def no_gyro_analysis() -> gait.Analysis:
    """No gyroscope: rotation, and with it the trunk-angle variability, cannot be measured."""
    sim = simulate(dataclasses.replace(CLEAN, duration_s=60.0, seed=23, sensor=SensorModel(has_gyro=False)))
    return gait.analyze(sim.session)
