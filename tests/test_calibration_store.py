"""The per-device calibration store: missing, corrupt, versioned, two devices, latest wins."""

from __future__ import annotations

import json
import re
from datetime import datetime

import numpy as np
import pytest

from calibration import (
    FORMAT_VERSION,
    AccelCalibration,
    Calibration,
    CalibrationStore,
    GyroBiasCalibration,
    MountingCalibration,
    default_store_dir,
)
from gait import GaitDataWarning, GaitInputError
from gait.simulator import MOUNTINGS

DEV = "AA:BB:CC:DD:EE:FF"
#: the belt clip of the simulator as sensor -> body (v, ap, ml): rows (up, forward, left)
MOUNTING_BELT_CLIP = MOUNTINGS["belt_clip"][[2, 0, 1]]


def gyro(created: str = "2025-01-02T03:04:05.000001Z", bias=(0.01, -0.02, 0.03)) -> GyroBiasCalibration:
    return GyroBiasCalibration(
        bias_rads=bias, noise_rads=(0.003, 0.003, 0.003), duration_s=9.0, n_samples=1800, created=created
    )


def accel(created: str = "2025-01-01T12:00:00.000000Z") -> AccelCalibration:
    return AccelCalibration(
        bias_mps2=(0.1, -0.2, 0.3),
        matrix=np.diag([0.99, 1.01, 1.0]),
        residual_mps2=0.002,
        max_residual_mps2=0.004,
        n_poses=12,
        model="full",
        poses_mps2=np.eye(3) * 9.8,
        residuals_mps2=[0.001, -0.002, 0.003],
        bias_std_mps2=(0.001, 0.001, 0.001),
        scale_std=(1e-4, 1e-4, 1e-4),
        created=created,
        source="poses.csv",
    )


def mounting(created: str = "2025-01-03T00:00:00.000000Z") -> MountingCalibration:
    return MountingCalibration(
        rotation=MOUNTING_BELT_CLIP, method="standing+running", quality={"forward_confidence": 0.9}, created=created
    )


class TestStore:
    def test_missing(self, tmp_path):
        store = CalibrationStore(tmp_path / "nowhere")
        assert store.current(DEV) is None
        assert store.history(DEV) == []
        assert store.devices() == []

    def test_round_trip_every_kind(self, tmp_path):
        store = CalibrationStore(tmp_path)
        for rec in (gyro(), accel(), mounting()):
            store.save(DEV, rec, device="WitMotion WT901BLE")
        cal = store.current(DEV)
        assert isinstance(cal, Calibration) and cal.device_id == DEV
        np.testing.assert_array_equal(cal.gyro.bias_rads, gyro().bias_rads)
        np.testing.assert_array_equal(cal.accel.matrix, accel().matrix)
        np.testing.assert_array_equal(cal.accel.poses_mps2, accel().poses_mps2)
        assert cal.accel.source == "poses.csv" and cal.accel.model == "full"
        np.testing.assert_array_equal(cal.mounting.rotation, MOUNTING_BELT_CLIP)
        assert cal.mounting.method == "standing+running" and cal.mounting.quality == {"forward_confidence": 0.9}
        assert cal.id == (
            f"{DEV} gyro-20250102T030405.000001Z+accel-20250101T120000.000000Z+mounting-20250103T000000.000000Z"
        )
        doc = json.loads(store.path_for(DEV).read_text())
        assert doc["format"] == "gait-calibration" and doc["version"] == FORMAT_VERSION == 1
        assert doc["device_id"] == DEV and doc["device"] == "WitMotion WT901BLE"
        assert [e["kind"] for e in doc["entries"]] == ["gyro", "accel", "mounting"]
        assert not list(tmp_path.glob(".tmp-*"))  # atomic write left nothing behind

    def test_two_devices(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro(bias=(0.1, 0.0, 0.0)))
        store.save("serial 0042/b", gyro(bias=(0.2, 0.0, 0.0)))
        assert store.devices() == sorted([DEV, "serial 0042/b"])
        assert store.path_for(DEV) != store.path_for("serial 0042/b")
        assert store.path_for("AA_BB") != store.path_for("AA:BB")  # same slug, different devices
        assert store.current(DEV).gyro.bias_rads[0] == 0.1
        assert store.current("serial 0042/b").gyro.bias_rads[0] == 0.2
        assert store.current("other") is None

    def test_latest_wins_by_timestamp(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro("2025-03-01T00:00:00.000000Z", bias=(0.3, 0, 0)))
        store.save(DEV, gyro("2025-01-01T00:00:00.000000Z", bias=(0.1, 0, 0)))  # older, saved later
        store.save(DEV, accel())
        cal = store.current(DEV)
        assert cal.gyro.bias_rads[0] == 0.3
        assert cal.accel is not None and cal.mounting is None
        assert [r.bias_rads[0] for r in store.history(DEV, kind="gyro")] == [0.1, 0.3]
        assert len(store.history(DEV)) == 3

    def test_same_record_saved_twice_is_kept_once(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        store.save(DEV, gyro())
        assert len(store.history(DEV)) == 1

    def test_timestamp(self):
        rec = GyroBiasCalibration(bias_rads=(0, 0, 0), noise_rads=(0, 0, 0), duration_s=1.0, n_samples=1)
        created = datetime.fromisoformat(rec.created.replace("Z", "+00:00"))
        assert created.utcoffset().total_seconds() == 0
        assert abs((datetime.now(created.tzinfo) - created).total_seconds()) < 60
        msg = "parameter 'created': bad timestamp; expected an ISO 8601 time such as '2025-01-02T03:04:05.678Z', found 'yesterday'"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            gyro("yesterday")

    def test_corrupt_json_is_reported_and_kept_aside(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        path = store.path_for(DEV)
        path.write_text('{"format": "gait-calibration", "version": 1, "entr')
        msg = (
            f"{path}: corrupt calibration file; expected valid JSON, found Unterminated string starting at: line 1 "
            "column 46 (char 45). Fix or delete the file, or calibrate again (`gait calibrate ...` keeps the old "
            f"file aside as {path.stem}.corrupt-<time>.json); `--no-calibration` analyses without"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            store.current(DEV)
        assert path.exists()  # reading never deletes or moves it
        with pytest.warns(GaitDataWarning, match=r"corrupt calibration file; kept aside as .*\.corrupt-.*\.json"):
            store.save(DEV, accel())
        aside = list(tmp_path.glob("*.corrupt-*.json"))
        assert len(aside) == 1 and aside[0].read_text().endswith('"entr')
        assert store.current(DEV).gyro is None and store.current(DEV).accel is not None
        assert store.devices() == [DEV]

    def test_corrupt_entry(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        path = store.path_for(DEV)
        doc = json.loads(path.read_text())
        del doc["entries"][0]["bias_rads"]
        path.write_text(json.dumps(doc))
        msg = f"{path}: corrupt calibration entry; expected a complete 'gyro' entry, found entry 1: 'bias_rads'"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            store.current(DEV)

    def test_unknown_kind_is_ignored_and_kept(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        path = store.path_for(DEV)
        doc = json.loads(path.read_text())
        doc["entries"].append({"kind": "magnetometer", "id": "m1"})
        path.write_text(json.dumps(doc))
        assert store.current(DEV).gyro is not None
        store.save(DEV, accel())
        kinds = [e["kind"] for e in json.loads(path.read_text())["entries"]]
        assert kinds == ["gyro", "magnetometer", "accel"]

    def test_versioned_schema(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        path = store.path_for(DEV)
        doc = json.loads(path.read_text())
        doc["version"] = 2
        path.write_text(json.dumps(doc))
        msg = (
            f"{path}: calibration file from a newer version of gait; expected format version 1 or older, found "
            "version 2. Upgrade gait-lumbar"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            store.current(DEV)
        with pytest.raises(GaitInputError, match=re.escape("newer version")):
            store.save(DEV, accel())  # never overwrites a newer file
        assert json.loads(path.read_text())["version"] == 2
        path.write_text(json.dumps({"format": "something-else"}))
        with pytest.raises(GaitInputError, match=re.escape("not a calibration file")):
            store.current(DEV)

    def test_file_of_another_device(self, tmp_path):
        store = CalibrationStore(tmp_path)
        store.save(DEV, gyro())
        doc = json.loads(store.path_for(DEV).read_text())
        doc["device_id"] = "other"
        store.path_for(DEV).write_text(json.dumps(doc))
        with pytest.raises(GaitInputError, match=re.escape("calibration file of another device")):
            store.current(DEV)

    def test_exceptions(self, tmp_path):
        store = CalibrationStore(tmp_path)
        msg = (
            "parameter 'device_id': no device id; expected the device's address or serial (e.g. "
            "'AA:BB:CC:DD:EE:FF'), found ''. Pass --device ADDRESS_OR_SERIAL, or record with a tool that writes "
            "'device_id' in the file header"
        )
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            store.save("", gyro())
        with pytest.raises(GaitInputError, match=re.escape("not a calibration record")):
            store.save(DEV, {"kind": "gyro"})  # type: ignore[arg-type]

    def test_default_dir(self, monkeypatch, tmp_path):
        monkeypatch.setenv("GAIT_CALIBRATION_DIR", str(tmp_path))
        assert default_store_dir() == tmp_path
        assert CalibrationStore().root == tmp_path
        monkeypatch.delenv("GAIT_CALIBRATION_DIR")
        d = default_store_dir()
        assert d.name == "calibration" and "gait-lumbar" in str(d)


class TestRecords:
    def test_mounting_must_be_a_rotation(self):
        msg = "parameter 'rotation': bad calibration value; expected a proper rotation matrix (orthonormal, determinant +1)"
        with pytest.raises(GaitInputError, match=re.escape(msg)):
            MountingCalibration(rotation=np.diag([1.0, 1.0, -1.0]), method="auto")
        with pytest.raises(GaitInputError, match=re.escape("expected a non-empty method name")):
            MountingCalibration(rotation=np.eye(3), method="")

    def test_accel_validation(self):
        with pytest.raises(
            GaitInputError, match=re.escape("parameter 'matrix': bad calibration value; expected shape (3, 3)")
        ):
            AccelCalibration(
                bias_mps2=(0, 0, 0), matrix=np.eye(2), residual_mps2=0, max_residual_mps2=0, n_poses=6, model="full"
            )
        with pytest.raises(GaitInputError, match=re.escape("expected an invertible correction matrix")):
            AccelCalibration(
                bias_mps2=(0, 0, 0),
                matrix=np.zeros((3, 3)),
                residual_mps2=0,
                max_residual_mps2=0,
                n_poses=6,
                model="full",
            )
        with pytest.raises(GaitInputError, match=re.escape("expected model 'bias_scale' or 'full'")):
            AccelCalibration(
                bias_mps2=(0, 0, 0), matrix=np.eye(3), residual_mps2=0, max_residual_mps2=0, n_poses=6, model="x"
            )
        with pytest.raises(
            GaitInputError, match=re.escape("parameter 'bias_rads': bad calibration value; expected finite numbers")
        ):
            gyro(bias=(np.nan, 0, 0))

    def test_records_do_not_alias_inputs(self):
        b = np.array([0.1, 0.2, 0.3])
        rec = GyroBiasCalibration(bias_rads=b, noise_rads=b, duration_s=1.0, n_samples=10)
        b[0] = 5.0
        assert rec.bias_rads[0] == 0.1

    def test_empty_calibration(self):
        cal = Calibration(device_id=None)
        assert cal.is_empty and cal.id == "none" and cal.parts == ()
