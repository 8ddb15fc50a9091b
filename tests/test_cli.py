"""The gait command: exit codes, messages, exports. Bad input never shows a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from gait.cli import main

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data" / "easy_run.csv.gz"


def run(*args: str) -> subprocess.CompletedProcess:
    """``gait ARGS`` in a subprocess (it inherits the test's private user-data folders)."""
    return subprocess.run(
        [sys.executable, "-m", "gait.cli", *args], capture_output=True, text=True, cwd=REPO, check=False
    )


def test_analyze_sample_and_export(tmp_path):
    steps, minutes = tmp_path / "steps.csv", tmp_path / "minutes.parquet"
    p = run("analyze", str(SAMPLE), "--steps", str(steps), "--minutes", str(minutes))
    assert p.returncode == 0, p.stderr
    assert "Key metrics" in p.stdout and "ground contact time" in p.stdout
    df = pd.read_csv(steps)
    assert {"ic_s", "contact_time_s", "vertical_oscillation_m", "valid", "session"} <= set(df.columns)
    assert (df["activity"] == "running").sum() > 800
    assert len(pd.read_parquet(minutes)) >= 5


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "empty file; expected a header line and data rows"),
        (
            "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n0.01,0,0,nine\n",
            "line 3, column 'acc_z_mps2': not a number",
        ),
    ],
)
def test_bad_input_exits_2_without_traceback(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    p = run("analyze", str(f))
    assert p.returncode == 2
    assert message in p.stderr and p.stderr.startswith("error: ")
    assert "Traceback" not in p.stderr


def test_missing_file(tmp_path):
    p = run("analyze", str(tmp_path / "nope.csv"))
    assert p.returncode == 2 and "file not found" in p.stderr and "Traceback" not in p.stderr


def test_too_short(tmp_path):
    f = tmp_path / "short.csv"
    f.write_text(
        "# sampling_rate_hz: 100\nt_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n"
        + "".join(f"{i / 100},0,0,9.8\n" for i in range(150))
    )
    p = run("analyze", str(f))
    assert p.returncode == 2 and "too short to analyse; expected at least 3 s of samples, found 1.50 s" in p.stderr


def test_simulate_then_analyze(tmp_path):
    out = tmp_path / "sim.csv.gz"
    assert main(["simulate", "--out", str(out), "--duration-s", "20", "--seed", "3", "--decimals", "4"]) == 0
    assert out.exists() and (tmp_path / "sim.truth.csv.gz").exists() and (tmp_path / "sim.truth.json").exists()
    assert (
        main(
            [
                "analyze",
                str(out),
            ]
        )
        == 0
    )


def test_unknown_table_format(tmp_path):
    p = run("analyze", str(SAMPLE), "--steps", str(tmp_path / "steps.xlsx"))
    assert p.returncode == 2 and "unknown table format; expected a name ending in .csv, .csv.gz or .parquet" in p.stderr


def test_version():
    p = run("--version")
    assert p.returncode == 0 and p.stdout.startswith("gait ")


def test_stored_calibration_is_applied(tmp_path, monkeypatch):
    """A gyroscope bias stored for the device is removed before the analysis."""
    import numpy as np

    from calibration import CalibrationStore, estimate_gyro_bias
    from calibration.simulate import simulate_still
    from gait import simulate
    from gait.simulator import SensorModel

    bias = (0.03, -0.02, 0.01)
    sensor = SensorModel(gyr_bias_rads=bias)
    still = simulate_still(duration_s=10.0, sensor=sensor, seed=1)
    rec = estimate_gyro_bias(still.session)
    store_dir = tmp_path / "cal"
    monkeypatch.setenv("GAIT_CALIBRATION_DIR", str(store_dir))
    CalibrationStore(store_dir).save("sim-7", rec)
    path = tmp_path / "run.csv"
    simulate(duration_s=20.0, seed=7, sensor=sensor).save(path)
    p = run("analyze", str(path), "--no-history")
    assert p.returncode == 0, p.stderr
    assert "calibration: applied" in p.stdout and "(device sim-7)" in p.stdout
    p = run("analyze", str(path), "--no-history", "--no-calibration")
    assert "calibration: applied" not in p.stdout
    np.testing.assert_allclose(rec.bias_rads, bias, atol=0.2 * np.pi / 180)
