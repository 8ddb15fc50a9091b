"""``gait calibrate ...`` through `gait.cli.main`, with the store in a temporary folder."""

from __future__ import annotations

import json

import numpy as np
import pytest

from calibration import CalibrationStore
from calibration.simulate import random_sensor_model, simulate_poses, simulate_still
from gait import read_session, save_session
from gait.cli import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("recordings")
    sm = random_sensor_model(8)
    still = simulate_still(sensor=sm, seed=8, device_id="DE:AD:BE:EF:00:01")
    poses = simulate_poses(poses="twelve", sensor=sm, seed=9, device_id="DE:AD:BE:EF:00:01")
    moving = simulate_still(sensor=sm, seed=8, device_id="DE:AD:BE:EF:00:01", bump=(4.0, 0.5, 5.0))
    paths = {"still": d / "still.csv.gz", "poses": d / "poses.csv.gz", "moving": d / "moving.csv"}
    save_session(still.session, paths["still"])
    save_session(poses.session, paths["poses"])
    save_session(moving.session, paths["moving"])
    anon = d / "anon.csv"
    save_session(still.session.with_meta(device_id=None), anon)
    paths["anon"] = anon
    return paths, still, poses


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_guide(capsys):
    for kind in ("gyro", "accel", "mounting"):
        code, out, _ = run(capsys, "calibrate", "guide", kind)
        assert code == 0 and out.strip()
    assert "Do not touch it" in run(capsys, "calibrate", "guide", "gyro")[1]


def test_gyro_then_accel_then_show(capsys, tmp_path, files):
    paths, still, poses = files
    store = str(tmp_path)
    code, out, err = run(capsys, "calibrate", "gyro", str(paths["still"]), "--store", store)
    assert code == 0, err
    assert "gyroscope bias (gyro-" in out and "stored for device 'DE:AD:BE:EF:00:01'" in out
    code, out, err = run(capsys, "calibrate", "accel", str(paths["poses"]), "--store", store)
    assert code == 0, err
    assert "12 still segments: +x, -x, +y, -y, +z, -z" in out and "model full, 12 distinct poses" in out
    assert "residual:" in out and "misalignment (y-z, z-x, x-y)" in out
    cal = CalibrationStore(tmp_path).current("DE:AD:BE:EF:00:01")
    assert np.abs(cal.gyro.bias_rads - still.gyr_bias_rads).max() < 0.2 * np.pi / 180
    assert np.abs(cal.accel.bias_mps2 - poses.acc_bias_mps2).max() < 0.02
    code, out, _ = run(capsys, "calibrate", "show", "--store", store)
    assert code == 0
    assert f"device 'DE:AD:BE:EF:00:01': calibration {cal.id}" in out and "not calibrated: mounting" in out
    code, out, _ = run(capsys, "calibrate", "show", "--store", store, "--json")
    doc = json.loads(out)
    assert doc["DE:AD:BE:EF:00:01"]["id"] == cal.id
    code, out, _ = run(capsys, "calibrate", "show", "--store", store, "--history", "--device", "DE:AD:BE:EF:00:01")
    assert "2 records" in out
    code, out, _ = run(capsys, "calibrate", "show", "--store", store, "--history", "--json")
    assert [e["kind"] for e in json.loads(out)["DE:AD:BE:EF:00:01"]] == ["gyro", "accel"]


def test_apply_writes_a_calibrated_copy(capsys, tmp_path, files):
    paths, _, _ = files
    store = str(tmp_path / "store")
    assert run(capsys, "calibrate", "gyro", str(paths["still"]), "--store", store)[0] == 0
    out_file = tmp_path / "cal.csv"
    code, _, err = run(capsys, "calibrate", "apply", str(paths["still"]), "--out", str(out_file), "--store", store)
    assert code == 0, err
    s = read_session(out_file)
    assert s.meta.calibration.startswith("DE:AD:BE:EF:00:01 gyro-")
    assert np.abs(s.gyr.mean(axis=0)).max() < 0.2 * np.pi / 180
    # applying to an already calibrated file is refused
    code, _, err = run(capsys, "calibrate", "apply", str(out_file), "--out", str(tmp_path / "x.csv"), "--store", store)
    assert code == 2 and "session already calibrated" in err


def test_dry_run_and_device_override(capsys, tmp_path, files):
    paths, _, _ = files
    code, out, _ = run(capsys, "calibrate", "gyro", str(paths["still"]), "--store", str(tmp_path), "--dry-run")
    assert code == 0 and "not stored (--dry-run)" in out
    assert CalibrationStore(tmp_path).devices() == []
    code, out, _ = run(capsys, "calibrate", "gyro", str(paths["anon"]), "--store", str(tmp_path), "--device", "SN-7")
    assert code == 0 and CalibrationStore(tmp_path).devices() == ["SN-7"]


def test_errors_exit_2_without_traceback(capsys, tmp_path, files):
    paths, _, _ = files
    code, _, err = run(capsys, "calibrate", "gyro", str(paths["anon"]), "--store", str(tmp_path))
    assert code == 2
    assert err == (
        f"error: {paths['anon']}: no device id; expected a 'device_id' line in the file header, or --device "
        "ADDRESS_OR_SERIAL, found none. Calibrations are stored per device; name the device with --device\n"
    )
    code, _, err = run(capsys, "calibrate", "gyro", str(paths["moving"]), "--store", str(tmp_path))
    assert code == 2 and "the sensor moved during the gyroscope bias recording" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "calibrate", "accel", str(paths["still"]), "--store", str(tmp_path))
    assert code == 2 and "too few distinct poses" in err
    code, _, err = run(capsys, "calibrate", "apply", str(paths["still"]), "--out", str(tmp_path / "o.csv"),
                       "--store", str(tmp_path / "empty"))  # fmt: skip
    assert code == 2 and "no calibration stored" in err
    assert CalibrationStore(tmp_path).devices() == []


def test_show_empty_and_corrupt(capsys, tmp_path):
    code, out, _ = run(capsys, "calibrate", "show", "--store", str(tmp_path))
    assert code == 0 and out == f"no calibrations stored in {tmp_path}\n"
    store = CalibrationStore(tmp_path)
    store.root.mkdir(exist_ok=True)
    store.path_for("X1").write_text("{")
    code, _, err = run(capsys, "calibrate", "show", "--store", str(tmp_path), "--device", "X1")
    assert code == 2 and "corrupt calibration file; expected valid JSON" in err


def test_store_from_environment(capsys, tmp_path, files, monkeypatch):
    paths, _, _ = files
    monkeypatch.setenv("GAIT_CALIBRATION_DIR", str(tmp_path))
    assert run(capsys, "calibrate", "gyro", str(paths["still"]))[0] == 0
    assert CalibrationStore(tmp_path).devices() == ["DE:AD:BE:EF:00:01"]
