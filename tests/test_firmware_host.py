"""The reference firmware's protocol logic (``src/lip_device.h``), compiled and run on the host.

``extras/host_test.c`` is built with gcc into a temporary directory. Its ``selftest`` checks
the firmware logic from C; its ``stream`` mode simulates the sensor (off its nominal rate),
the FIFO reads and the radio, and prints the notifications a central would receive, which
the Python `StreamDecoder` decodes here.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import codec
from firmware_protocol.stream import StreamChunk, StreamDecoder

REPO = Path(__file__).resolve().parents[1]
SKETCH = REPO / "firmware_protocol" / "firmware" / "xiao_nrf52840_sense"
GCC = shutil.which("gcc")

pytestmark = pytest.mark.skipif(GCC is None, reason="gcc not found on PATH: the firmware logic cannot be compiled here")


@pytest.fixture(scope="module")
def host_test(tmp_path_factory) -> Path:
    assert GCC is not None
    out = tmp_path_factory.mktemp("fw") / "host_test"
    base = [GCC, "-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-Werror"]
    src = ["-I", str(SKETCH / "src"), "-o", str(out), str(SKETCH / "extras" / "host_test.c")]
    proc = subprocess.run([*base, "-fsanitize=address,undefined", *src], capture_output=True, text=True)
    if proc.returncode != 0:  # no sanitizer runtime: build without
        proc = subprocess.run([*base, *src], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out


@dataclass
class Run:
    config: codec.DeviceConfig
    t0_us: float
    period_us: float
    packets: list[bytes]


def stream(exe: Path, *, rate_hz=400, seconds=10.0, ppm=0.0, mtu=247, stall_start_s=0.0, stall_s=0.0, seed=1) -> Run:
    args = [
        str(exe),
        "stream",
        str(rate_hz),
        str(seconds),
        str(ppm),
        str(mtu),
        str(stall_start_s),
        str(stall_s),
        str(seed),
    ]
    lines = subprocess.run(args, capture_output=True, text=True, check=True, timeout=60).stdout.splitlines()
    cfg = codec.decode_config(bytes.fromhex(lines[0].split()[1]))
    _, t0, period = lines[1].split()
    packets = [bytes.fromhex(line.split()[1]) for line in lines[2:] if line.startswith("P ")]
    return Run(cfg, float(t0), float(period), packets)


def sample_index(batch: codec.PacketBatch) -> np.ndarray:
    return batch.acc[:, 0].astype(np.int64) + 32768 * batch.acc[:, 1].astype(np.int64)


def test_protocol_header_copy_is_identical():
    """Arduino compiles only the sketch folder, so the sketch carries a copy of the header."""
    original = REPO / "firmware_protocol" / "c" / "lumbar_imu_protocol.h"
    assert (SKETCH / "src" / "lumbar_imu_protocol.h").read_bytes() == original.read_bytes()


def test_selftest(host_test):
    proc = subprocess.run([str(host_test), "selftest"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    assert proc.stdout.count("\nok ") >= 30
    assert proc.stdout.rstrip().endswith("all ok")


def test_usage_errors(host_test):
    proc = subprocess.run([str(host_test)], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr
    proc = subprocess.run([str(host_test), "stream", "400"], capture_output=True, text=True)
    assert proc.returncode == 2 and "usage" in proc.stderr


@pytest.mark.parametrize(("mtu", "per_packet"), [(247, 19), (185, 14)])
def test_stream_every_sample_once_in_order(host_test, mtu, per_packet):
    run = stream(host_test, rate_hz=400, seconds=10.0, ppm=8000, mtu=mtu)
    assert run.config.rate_mhz == 416000 and run.config.samples_per_packet == per_packet
    batch = codec.decode_packets(run.packets)
    idx = sample_index(batch)
    np.testing.assert_array_equal(idx, np.arange(idx.size))
    assert idx.size >= int(10.0 * 416 * 1.008) - 1
    assert set(batch.count[:-1]) == {per_packet}
    assert batch.flags[0] == codec.Flags.STREAM_START and not batch.flags[1:].any()
    np.testing.assert_array_equal(batch.seq, np.arange(batch.n_packets))


def test_stream_times_track_the_true_sensor_clock(host_test):
    """The sensor runs 0.8 % fast; stamps stay within half a period and the rate is learnt."""
    run = stream(host_test, rate_hz=400, seconds=10.0, ppm=8000, mtu=247, seed=5)
    dec = StreamDecoder(run.config)
    chunk = dec.feed_many(run.packets)
    assert dec.flush().n_samples == 0
    idx = sample_index(codec.decode_packets(run.packets))
    truth_us = run.t0_us + idx * run.period_us
    err_us = chunk.t_s * 1e6 - truth_us
    settled = idx > 2 * 416  # after 2 s
    assert np.abs(err_us[settled]).max() < run.period_us / 2
    assert np.abs(err_us).max() < run.period_us  # also while locking
    assert dec.stats.rate_hz_estimate == pytest.approx(1e6 / run.period_us, rel=1e-3)
    assert chunk.gaps == () and dec.stats.packets_lost == 0
    assert np.all(np.diff(chunk.t_s) > 0)
    # the MCU microsecond counter wrapped 3 s into the run; the decoder unwrapped it
    assert chunk.t_s[-1] - chunk.t_s[0] == pytest.approx(idx[-1] * run.period_us * 1e-6, abs=1e-3)


def test_radio_stall_becomes_an_overflow_gap_of_the_right_size(host_test):
    run = stream(host_test, rate_hz=400, seconds=10.0, ppm=-8000, mtu=247, stall_start_s=4.0, stall_s=2.0)
    batch = codec.decode_packets(run.packets)
    idx = sample_index(batch)
    jumps = np.flatnonzero(np.diff(idx) != 1)
    assert jumps.size == 1 and np.all(np.diff(idx) > 0)
    dropped = int(idx[jumps[0] + 1] - idx[jumps[0]] - 1)
    assert dropped > 300  # a 2 s stall overflows the 1.2 s ring buffer
    dec = StreamDecoder(run.config)
    chunk = StreamChunk.concat([dec.feed_many(run.packets), dec.flush()])
    (gap,) = chunk.gaps
    assert gap.reason == "overflow" and gap.packets_lost == 0
    assert abs(gap.samples_lost - dropped) <= 1
    assert dec.stats.overflows == 1 and dec.stats.samples_lost == gap.samples_lost
    np.testing.assert_array_equal(np.flatnonzero(chunk.gap_before), [jumps[0] + 1])


@pytest.mark.parametrize(("request_hz", "rate_mhz"), [(100, 104000), (200, 208000), (800, 833000)])
def test_other_rates(host_test, request_hz, rate_mhz):
    run = stream(host_test, rate_hz=request_hz, seconds=3.0, mtu=247)
    assert run.config.rate_mhz == rate_mhz
    dec = StreamDecoder(run.config)
    chunk = dec.feed_many(run.packets)
    assert dec.stats.packets_bad == 0 and chunk.gaps == ()
    assert np.median(np.diff(chunk.t_s)) == pytest.approx(1000.0 / rate_mhz, rel=1e-3)
