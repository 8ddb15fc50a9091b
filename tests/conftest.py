"""Shared fixtures: simulated sessions (cached per test run) and the real-data folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gait.simulator import Form, SensorModel, SimulationConfig, simulate

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GAIT_SHARED_DATA", REPO.parent / "shared" / "data"))
ALCANTARA = SHARED_DATA / "alcantara2022_sacral_running"

#: A noise-free, error-free sensor: the signal is exactly the model.
IDEAL_SENSOR = SensorModel(acc_noise_mps2=0.0, gyr_noise_rads=0.0, quantize=False)


@pytest.fixture(autouse=True)
def _private_user_data(tmp_path_factory, monkeypatch):
    """Keep every test (and the processes it starts) away from the user's real history and
    calibration store."""
    root = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("GAIT_HISTORY_DB", str(root / "history.sqlite"))
    monkeypatch.setenv("GAIT_CALIBRATION_DIR", str(root / "calibration"))


def requires_alcantara():
    return pytest.mark.skipif(
        not (ALCANTARA / "trials.csv").is_file(), reason=f"real recordings not found at {ALCANTARA}"
    )


@pytest.fixture(scope="session")
def alcantara_dir() -> Path:
    if not (ALCANTARA / "trials.csv").is_file():
        pytest.skip(f"real recordings not found at {ALCANTARA}")
    return ALCANTARA


@pytest.fixture(scope="session")
def short_run():
    """A 40-second run (sensor frame, belt clip, realistic noise), seed 11."""
    return simulate(SimulationConfig(duration_s=40.0, seed=11))


@pytest.fixture(scope="session")
def ideal_body_run():
    """A noise-free body-frame run with no trunk rotation: acc_v is exactly the model."""
    cfg = SimulationConfig(
        duration_s=60.0,
        seed=3,
        standing_pitch_deg=0.0,
        form=Form(lean_deg=0, pitch_amplitude_deg=0, roll_amplitude_deg=0, yaw_amplitude_deg=0, rearfoot_share=0.5),
        sensor=IDEAL_SENSOR,
    )
    return simulate(cfg, frame="body")


_CACHE: dict = {}


def simulate_cached(**kwargs):
    """`simulate` with a per-run cache (simulations are deterministic)."""
    key = tuple(sorted((k, repr(v)) for k, v in kwargs.items()))
    if key not in _CACHE:
        _CACHE[key] = simulate(SimulationConfig(**kwargs))
    return _CACHE[key]


def pytest_addoption(parser):
    parser.addoption(
        "--update-snapshots",
        action="store_true",
        default=False,
        help="rewrite tests/snapshots/ from the current code (explain the change in the CHANGELOG)",
    )
