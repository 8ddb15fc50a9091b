"""End to end through bleak's real BlueZ backend: `gait sync` against `gait simulate-device` with a log store.

The virtual sensor runs as its own process on one emulated adapter (``gait simulate-device``,
its log store in a folder); ``gait sync`` runs as another on the other adapter, so scanning,
connecting, GATT writes and reads, the Log characteristic's notifications, link loss and
reconnection all go through BlueZ's D-Bus API as with a real sensor. The sensor writes what
it logged (raw counts, the true start time and rate) to an .npz at exit; every synced file
must equal it, sample for sample and bit for bit, with no gap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient, BleakScanner

from firmware_protocol import codec
from firmware_protocol import logbook as lb
from gait.errors import GaitDataWarning
from gait.io import read_canonical_session
from tests.ble.e2e import REPO, gait_command, sensor_process
from tests.ble.fixtures import ble_adapters, ble_stack
from tests.ble.stack import AdapterPair, EmulatedBluetooth

pytestmark = pytest.mark.ble
_FIXTURES = (ble_stack, ble_adapters)  # imported for pytest, which finds them by name

RATE = 200
# the simulated runner stands, walks, then runs from about 21 s; from there the played run lasts
# 51 s (SHORT: 10200 samples, 125 kB of records) or 71 s (LONG)
SHORT = ("--duration-s", "40", "--rate-hz", str(RATE), "--seed", "2", "--start-s", "21")
LONG = ("--duration-s", "60", "--rate-hz", str(RATE), "--seed", "2", "--start-s", "21")


def run_sync(
    stack: EmulatedBluetooth, pair: AdapterPair, out: Path, *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = stack.env()
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        gait_command("sync", "--adapter", pair.central, "--out-dir", str(out), "--scan-timeout-s", "5", *args),
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def logged(npz: Path, session_id: int = 1) -> dict[str, np.ndarray]:
    with np.load(npz) as z:
        return {k[len(f"s{session_id}_") :]: z[k] for k in z.files if k.startswith(f"s{session_id}_")} | {
            "served": z["served"],
            "erased": z["erased"],
        }


def assert_file_equals_logged(path: Path, log: dict[str, np.ndarray]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", GaitDataWarning)  # no gap, no jitter
        s = read_canonical_session(path)
    cfg = codec.DeviceConfig(
        rate_mhz=RATE * 1000,
        acc_range_g=16,
        gyr_range_dps=2000,
        acc_scale_ng_per_lsb=488000,
        gyr_scale_udps_per_lsb=70000,
        samples_per_packet=19,
    )
    np.testing.assert_array_equal(s.acc, log["acc"].astype(np.float64) * cfg.acc_scale_mps2_per_lsb)
    assert s.gyr is not None
    np.testing.assert_array_equal(s.gyr, log["gyr"].astype(np.float64) * cfg.gyr_scale_rads_per_lsb)
    np.testing.assert_array_equal(s.t, np.arange(log["acc"].shape[0]) / s.sampling_rate_hz)


def sidecar(path: Path) -> dict:
    return json.loads(path.with_name(path.stem + ".recording.json").read_text())


def test_gait_sync_fetches_a_logged_run_through_a_broken_link_and_a_corrupt_block(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out, npz = tmp_path / "runs", tmp_path / "logged.npz"
    faults = ("--log-disconnect-after-bytes", "20000", "--log-corrupt-block", "10")
    clock = ("--drift-ppm", "300", "--clock-set-before-s", "7200")
    with sensor_process(
        ble_stack, ble_adapters, tmp_path, *SHORT, "--log-run", *clock, *faults, "--log-record", str(npz)
    ) as sensor:
        res = run_sync(ble_stack, ble_adapters, out, "--erase")
    assert res.returncode == 0, res.stdout + res.stderr
    for needle in (
        "1 session on the sensor, 1 new",
        "link lost",
        "verified (CRC-32",
        "erased on the sensor",
        "What to work on",
    ):
        assert needle in res.stdout, needle
    assert "1 corrupted, 0 dropped, 1 disconnects); erased [1]" in sensor.output
    (path,) = out.glob("run-*.csv")
    log = logged(npz)
    assert_file_equals_logged(path, log)
    info = sidecar(path)
    assert info["download"]["corrupt_blocks"] == 1 and info["download"]["reconnects"] == 1 and info["gaps"] == []
    assert info["samples"] == log["acc"].shape[0] == 10200  # 51 s: from 21 s to the end of the played run
    # the sensor's clock ran 300 ppm slow for 2 h: 2.2 s behind; the start time is corrected
    s = read_canonical_session(path)
    start = dt.datetime.fromisoformat(s.meta.start_time).timestamp()
    assert start == pytest.approx(float(log["start_wall_s"]), abs=0.05)
    assert s.sampling_rate_hz == pytest.approx(float(log["rate_hz"]), rel=5e-6)
    assert info["clock"]["drift_ppm"] == pytest.approx(300, abs=10) and info["clock"]["corrected"]


def _erase_directly(stack: EmulatedBluetooth, pair: AdapterPair, session_id: int, digest: int) -> tuple[int, int]:
    """LOG_ERASE with a digest, through bleak; returns (status, sessions listed after)."""

    async def go() -> tuple[int, int]:
        dev = await BleakScanner.find_device_by_address(
            pair.peripheral_address, timeout=10, bluez={"adapter": pair.central}
        )
        assert dev is not None
        async with BleakClient(dev, bluez={"adapter": pair.central}) as c:
            await c.write_gatt_char(
                codec.CONTROL_UUID, codec.encode_log_erase(session_id=session_id, digest=digest), response=True
            )
            dc = codec.decode_config(await c.read_gatt_char(codec.CONFIG_UUID))
            return dc.last_status, dc.log_sessions

    return asyncio.run(go())  # the ble_adapters fixture points bleak at the emulated bus


def test_erase_is_refused_before_verification_and_the_next_sync_resumes(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    out, flash = tmp_path / "runs", tmp_path / "flash"
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    # a sensor that dies after the first 64 KiB window of a 174 kB session
    dying = ("--log-run", "--log-stop-serving-after-bytes", "20000", "--flash", str(flash), "--log-record", str(first))
    with sensor_process(ble_stack, ble_adapters, tmp_path, *LONG, *dying) as sensor:
        res = run_sync(
            ble_stack, ble_adapters, out, "--erase", "--no-analyze", "--reply-timeout-s", "1", "--give-up-s", "10"
        )
        assert res.returncode == 1, res.stdout + res.stderr
        assert "unfinished" in res.stdout and "; 65536 of " in res.stdout and "erased" not in res.stdout
        (part,) = (out / ".gait-sync").glob("*.part")
        # an erase with the digest of what was verified is refused: the session stays
        status, n = _erase_directly(ble_stack, ble_adapters, 1, lb.crc32(part.read_bytes()))
        assert (status, n) == (codec.Status.DIGEST_MISMATCH, 1)
    assert "erased []" in sensor.output and not list(out.glob("*.csv"))
    (tmp_path / f"sensor-{ble_adapters.peripheral}.ready").unlink()
    # the sensor comes back (same flash, no fault): the next sync fetches only what was missing
    with sensor_process(
        ble_stack, ble_adapters, tmp_path, *LONG, "--flash", str(flash), "--log-record", str(second)
    ) as sensor:
        res = run_sync(ble_stack, ble_adapters, out, "--erase", "--no-analyze")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "resuming, 65536 of " in res.stdout and "erased on the sensor" in res.stdout
    served = logged(second)["served"]
    size = json.loads((flash / "store.json").read_text())  # erased: the store is empty now
    assert size["slots"] == [] and "erased [1]" in sensor.output
    (path,) = out.glob("run-*.csv")
    info = sidecar(path)
    assert info["download"]["bytes_verified_before"] == 65536
    assert served[2] == info["log"]["size_bytes"] - 65536, "only the missing bytes were served"
    assert_file_equals_logged(path, logged(first))
    assert not list((out / ".gait-sync").glob("*.part*"))


def test_a_full_store(ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path) -> None:
    out, npz = tmp_path / "runs", tmp_path / "logged.npz"
    small = ("--flash-capacity-bytes", "40960", "--log-run", "--log-record", str(npz))
    with sensor_process(ble_stack, ble_adapters, tmp_path, *LONG, *small) as sensor:
        res = run_sync(ble_stack, ble_adapters, out, "--start-log", "--no-analyze")
        assert res.returncode == 1, res.stdout + res.stderr
        assert "session 1: logging ended when the sensor's store filled" in res.stdout
        assert "its store is full; sync with --erase first" in res.stderr
        res2 = run_sync(ble_stack, ble_adapters, out, "--start-log", "--erase", "--no-analyze")
    assert res2.returncode == 0, res2.stdout + res2.stderr
    assert "logged session 1: 3321 samples (40743 bytes) until the store filled" in sensor.output
    assert "synced before" in res2.stdout and "erased on the sensor" in res2.stdout and "logging started" in res2.stdout
    (path,) = out.glob("run-*.csv")
    log = logged(npz)
    assert_file_equals_logged(path, log)
    info = sidecar(path)
    assert info["stopped_by"] == "store_full" and info["samples"] == 81 * 41 == log["acc"].shape[0]


def test_start_a_log_leave_and_fetch_it_later(
    ble_stack: EmulatedBluetooth, ble_adapters: AdapterPair, tmp_path: Path
) -> None:
    """``gait sync --start-log``, no central for a while (the sensor logs alone), ``gait sync``."""
    out, npz = tmp_path / "runs", tmp_path / "logged.npz"
    with sensor_process(ble_stack, ble_adapters, tmp_path, *SHORT, "--log-record", str(npz)) as sensor:
        res = run_sync(ble_stack, ble_adapters, out, "--start-log", "--rate-hz", str(RATE), "--no-analyze")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "the sensor holds no logged session" in res.stdout and "logging started at 200 Hz" in res.stdout
        t_started = time.time()
        time.sleep(4.0)  # the run: nobody connected
        res = run_sync(ble_stack, ble_adapters, out, "--erase", "--no-analyze")
        t_stopped = time.time()
    assert res.returncode == 0, res.stdout + res.stderr
    assert "the sensor was logging: stopped that session to fetch it" in res.stdout
    (path,) = out.glob("run-*.csv")
    log = logged(npz)
    assert_file_equals_logged(path, log)
    n = log["acc"].shape[0]
    assert 4.0 * RATE <= n <= (t_stopped - t_started + 1.0) * RATE
    s = read_canonical_session(path)
    start = dt.datetime.fromisoformat(s.meta.start_time).timestamp()
    assert start == pytest.approx(float(log["start_wall_s"]), abs=0.1)
    assert "erased [1]" in sensor.output
