"""The ``gait devices``, ``gait record`` and ``gait simulate-device`` commands without Bluetooth:
clear messages and exit statuses, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from gait.cli import main


@pytest.fixture
def no_bluetooth(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path / 'no-such-bus'}")


def test_devices_without_bluetooth(no_bluetooth, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devices", "--timeout-s", "0.5"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Bluetooth is not available (the default adapter)") and "bluetoothctl" in err


def test_record_without_bluetooth(no_bluetooth, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run.csv"
    assert main(["record", "--out", str(out), "--adapter", "hci7", "--no-dashboard", "--scan-timeout-s", "0.5"]) == 1
    assert "error: Bluetooth is not available (adapter 'hci7')" in capsys.readouterr().err
    assert not out.exists()


def test_simulate_device_without_bluetooth(no_bluetooth, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate-device", "--duration-s", "5", "--for-s", "1"]) == 1
    assert "error: cannot reach the system D-Bus" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["record", "--duration", "soon"], "parameter '--duration': invalid duration"),
        (["record", "--out", "run.parquet"], "parameter 'out': unsupported output format"),
        (["record", "--out", "EXISTING"], "parameter 'out': output file exists"),
        (["record", "--rate-hz", "0"], "parameter 'rate_hz': out of range"),
        (["simulate-device", "--session", "MISSING.csv"], "missing.csv: file not found"),
    ],
)
def test_bad_input_exits_2(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    existing = tmp_path / "existing.csv"
    existing.write_text("x")
    argv = [a.replace("EXISTING", str(existing)).replace("MISSING.csv", str(tmp_path / "missing.csv")) for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
