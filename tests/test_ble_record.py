"""End to end through bleak's real BlueZ backend: `gait record` against `gait simulate-device`.

A private dbus-daemon runs the bluezoo BlueZ emulator (`tests/ble/stack.py`); the virtual
sensor runs as its own process (``gait simulate-device``) on one emulated adapter and the
recorder on the other, so scanning, connecting, GATT reads and writes, notifications, link
loss and reconnection all go through BlueZ's D-Bus API exactly as with a real sensor. The
recorded file must equal what the sensor delivered except for declared gaps.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from gait.errors import GaitDataWarning
from gait.io import read_canonical_session
from gait.live import RecordConfig, Recorder, RecordingError
from tests.ble.e2e import REPO, assert_file_equals_sent, gait_command, sensor_process
from tests.ble.fixtures import ble_adapters, ble_stack
from tests.ble.stack import AdapterPair, EmulatedBluetooth

pytestmark = pytest.mark.ble
_FIXTURES = (ble_stack, ble_adapters)  # imported for pytest, which finds them by name

RATE = 200
SIM = ("--duration-s", "40", "--rate-hz", str(RATE), "--seed", "2")


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _recorder(pair: AdapterPair, out: Path, **kw) -> Recorder:
    cfg = dict(out=out, adapter=pair.central, rate_hz=RATE, scan_timeout_s=5.0, stall_timeout_s=1.5, give_up_s=8.0)
    cfg.update(kw)
    return Recorder(RecordConfig(**cfg))


def test_gait_record_cli_records_what_the_sensor_sent(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    # from 21 s the simulated runner runs, so the analysis at the end has steps to report
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM, "--start-s", "21") as sensor:
        env = ble_stack.env()
        env["PYTHONPATH"] = str(REPO)
        rec = subprocess.run(
            gait_command(
                "record", "--adapter", ble_adapters.central, "--out", str(out), "--duration", "6s", "--no-dashboard"
            ),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "wrote" in rec.stdout and "0 gaps, 0 reconnects" in rec.stdout
    assert "What to work on" in rec.stdout, "the run is analysed at the end"
    assert sensor.samples is not None
    rate = sensor.samples[3]
    assert rate == 416.0, "the sensor's recommended rate (the reference firmware's 416 Hz) when none is asked"
    info = json.loads(out.with_name("run.recording.json").read_text())
    k = assert_file_equals_sent(
        out, sensor.samples, rate_hz=rate, gaps=[(g["start_s"], g["end_s"]) for g in info["gaps"]]
    )
    assert k == pytest.approx(6 * rate, abs=0.5 * rate)
    assert info["device"]["protocol"] == "lumbar_imu" and info["device"]["address"] == ble_adapters.peripheral_address
    assert info["link"]["packets_lost"] == 0 and info["stopped_by"] == "duration"


def test_link_loss_mid_run_reconnects_and_loses_only_the_gap(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM, "--disconnect-at-s", "2.0") as sensor:
        result = asyncio.run(_recorder(ble_adapters, out, duration_s=6.0).run())
    assert "1 disconnects" in sensor.output
    assert result.link.reconnects == 1
    assert len(result.gaps) == 1 and result.gaps[0][3] == "reconnect"
    lost = result.gaps[0][2]
    assert 0 < lost < 3 * RATE, "the gap is the time the link was down"
    assert result.link.samples_lost == lost, "nothing else lost"
    assert sensor.samples is not None
    assert_file_equals_sent(out, sensor.samples, rate_hz=RATE, gaps=[g[:2] for g in result.gaps])


def test_bad_packets_are_counted_and_never_misdecoded(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    faults = ("--drop", "0.05", "--duplicate", "0.05", "--reorder", "0.05", "--truncate", "0.05", "--corrupt", "0.05")
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM, *faults, "--fault-seed", "3") as sensor:
        result = asyncio.run(_recorder(ble_adapters, out, duration_s=6.0).run())
    link = result.link
    assert link.packets_bad > 0 and link.duplicated > 0 and link.reordered > 0 and link.gaps > 0
    assert sensor.samples is not None
    assert_file_equals_sent(out, sensor.samples, rate_hz=RATE, gaps=[g[:2] for g in result.gaps])


def test_a_sensor_that_stops_sending_times_out_with_a_clear_message(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM, "--stop-at-s", "2.0"):
        result = asyncio.run(_recorder(ble_adapters, out, stall_timeout_s=1.0, give_up_s=3.0).run())
    assert result.stopped_by == "sensor_silent"
    assert "LumbarIMU-" in result.message and "(00:00:00:A0:00:" in result.message
    assert "has sent no data for" in result.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        assert read_canonical_session(out).duration_s == pytest.approx(2.0, abs=0.3)


def test_gait_devices_lists_the_sensor(ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path) -> None:
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM):
        env = ble_stack.env()
        env["PYTHONPATH"] = str(REPO)
        out = subprocess.run(
            gait_command("devices", "--adapter", ble_adapters.central, "--timeout-s", "2"),
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 0, out.stdout + out.stderr
    suffix = ble_adapters.peripheral_address.replace(":", "")[-4:]
    for needle in (f"LumbarIMU-{suffix}", ble_adapters.peripheral_address, "dBm", "lumbar_imu"):
        assert needle in out.stdout, needle


def test_no_sensor_found(ble_adapters: AdapterPair, tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"no supported sensor found in 1\.5 s"):
        asyncio.run(_recorder(ble_adapters, tmp_path / "run.csv", scan_timeout_s=1.5).run())


def test_kill_9_leaves_a_file_that_loads_up_to_the_last_flush(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM) as sensor:
        env = ble_stack.env()
        env["PYTHONPATH"] = str(REPO)
        proc = subprocess.Popen(
            gait_command(
                "record", "--adapter", ble_adapters.central, "--out", str(out), "--rate-hz", str(RATE), "--no-dashboard"
            ),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not out.exists():
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.01)
            t_first = time.monotonic()  # the file is created with the first samples
            time.sleep(3.3)
            children = _children(proc.pid)  # the fault-cue process
            os.kill(proc.pid, signal.SIGKILL)
            t_kill = time.monotonic()
        finally:
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert children, "the recorder runs its fault cues in a child process"
    deadline = time.monotonic() + 15.0
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{c}").exists() for c in children), "no process left behind by a kill -9"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # a line cut mid-way is dropped with a warning
        s = read_canonical_session(out)
    # fsync every 0.5 s: at most that (plus scheduling) is missing at the end
    assert s.duration_s >= (t_kill - t_first) - 1.0
    assert sensor.samples is not None
    assert_file_equals_sent(out, sensor.samples, rate_hz=RATE)  # no link loss: no gap is allowed


@pytest.mark.slow
def test_a_drifting_sensor_clock_is_corrected_to_host_time(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out = tmp_path / "run.csv"
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM, "--drift-ppm", "2000"):
        result = asyncio.run(_recorder(ble_adapters, out, duration_s=24.0).run())
    assert result.clock_corrected
    assert result.drift_ppm == pytest.approx(2000, abs=50)
    # a sensor whose clock runs 0.2 % slow really samples at 200 / 1.002 Hz
    assert result.sampling_rate_hz == pytest.approx(RATE / 1.002, rel=5e-5)
    s = read_canonical_session(out)
    assert s.sampling_rate_hz == result.sampling_rate_hz and s.meta.extra["device_clock_drift_ppm"] == pytest.approx(
        2000, abs=50
    )


def test_a_connected_sensor_stops_advertising_so_no_second_recorder_takes_it(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    """Like a real sensor: while a recorder is connected, a scan does not see the sensor; once
    the recording ends it advertises again."""
    from gait.live import scan

    async def go():
        rec = _recorder(ble_adapters, tmp_path / "run.csv", duration_s=8.0)
        task = asyncio.create_task(rec.run())
        while rec.status != "recording":
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)
        during = await scan(timeout_s=2.5, adapter=ble_adapters.central)
        result = await task
        await asyncio.sleep(1.0)
        after = await scan(timeout_s=2.5, adapter=ble_adapters.central)
        return result, during, after

    with sensor_process(ble_stack, ble_adapters, tmp_path, *SIM):
        result, during, after = asyncio.run(go())
    addr = ble_adapters.peripheral_address
    assert result.stopped_by == "duration"
    assert addr not in {d.address for d in during}, "not advertising while connected"
    assert addr in {d.address for d in after}, "advertising again once the recorder left"
