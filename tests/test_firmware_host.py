"""The reference firmware's protocol logic (``src/lip_device.h``, ``src/lip_log.h``), compiled and run on the host.

``extras/host_test.c`` is built with gcc into a temporary directory. Its ``selftest`` checks
the firmware logic from C (streaming, and the session store on a RAM flash with NOR
semantics: logging, listing, reading, erasing, a full store, a power loss); its ``stream``
mode simulates the sensor (off its nominal rate), the FIFO reads and the radio, and prints
the notifications a central would receive, which the Python `StreamDecoder` decodes here;
its ``log`` mode logs such a run with no central connected and prints the Log
characteristic's answers to LOG_LIST and LOG_READ, which `firmware_protocol.logbook` decodes
here; its ``vectors`` mode replays the logging test vectors through the device logic.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import codec
from firmware_protocol import logbook as lb
from firmware_protocol.samples import DecodedSamples
from firmware_protocol.stream import StreamDecoder

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


def test_the_protocol_header_exists_once():
    """Arduino compiles only the sketch folder, so the header lives there, and only there."""
    found = sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("firmware_protocol/**/lumbar_imu_protocol.h"))
    assert found == ["firmware_protocol/firmware/xiao_nrf52840_sense/src/lumbar_imu_protocol.h"]


def test_selftest(host_test):
    proc = subprocess.run([str(host_test), "selftest"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout
    assert proc.stdout.count("\nok ") >= 60
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
    chunk = DecodedSamples.concat([dec.feed_many(run.packets), dec.flush()])
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


# ---------------------------------------------------------------------------------------
# on-sensor logging
# ---------------------------------------------------------------------------------------
def test_logging_vectors_come_out_of_the_firmware_logic(host_test):
    """SET_CLOCK, LOG_START, five samples, LOG_STOP, LOG_LIST, LOG_READ and GET_CLOCK through
    lip_device.h give exactly the vectors the C encoder printed (and PROTOCOL.md quotes)."""
    out = subprocess.run([str(host_test), "vectors"], capture_output=True, text=True, check=True, timeout=30).stdout
    got = dict(line.split() for line in out.splitlines())
    vectors = {
        v["name"]: v.get("hex") for v in json.loads((REPO / "firmware_protocol/vectors/vectors.json").read_text())
    }
    assert set(got) == {
        "config_logging",
        "config_logged_one_session",
        "log_entry_session_1",
        "log_list_end",
        "log_block_first",
        "log_block_last",
        "log_read_end",
        "log_clock",
    }
    assert got == {k: vectors[k] for k in got}


@dataclass
class LogRun:
    started: codec.DeviceConfig
    ended: codec.DeviceConfig
    t0_us: float
    period_us: float
    entries: list[lb.LogEntry]
    list_end: lb.LogListEnd
    data: dict[int, bytes]
    read_ends: list[lb.LogReadEnd]
    violations: int


def log_run(exe: Path, *, rate_hz=400, seconds=20.0, ppm=0.0, mtu=247, sectors=300, seed=1) -> LogRun:
    args = [str(exe), "log", str(rate_hz), str(seconds), str(ppm), str(mtu), str(sectors), str(seed)]
    lines = subprocess.run(args, capture_output=True, text=True, check=True, timeout=120).stdout.splitlines()
    tag = {line.split()[0]: line.split()[1:] for line in lines if not line.startswith("L ")}
    msgs = [lb.decode_message(bytes.fromhex(line.split()[1])) for line in lines if line.startswith("L ")]
    entries = [m for m in msgs if isinstance(m, lb.LogEntry)]
    (list_end,) = [m for m in msgs if isinstance(m, lb.LogListEnd)]
    data: dict[int, bytearray] = {}
    for m in msgs:
        if isinstance(m, lb.LogBlock):
            buf = data.setdefault(m.session_id, bytearray())
            assert m.offset == len(buf), "blocks arrive in order, back to back"
            buf += m.payload
    return LogRun(
        started=codec.decode_config(bytes.fromhex(tag["C"][0])),
        ended=codec.decode_config(bytes.fromhex(tag["E"][0])),
        t0_us=float(tag["T"][0]),
        period_us=float(tag["T"][1]),
        entries=entries,
        list_end=list_end,
        data={k: bytes(v) for k, v in data.items()},
        read_ends=[m for m in msgs if isinstance(m, lb.LogReadEnd)],
        violations=int(tag["F"][0]),
    )


@pytest.mark.parametrize(("mtu", "payload"), [(247, 230), (185, 168), (517, 498)])
def test_a_run_logged_with_no_central_reads_back_sample_for_sample(host_test, mtu, payload):
    run = log_run(host_test, rate_hz=400, seconds=20.0, ppm=8000, mtu=mtu)
    assert run.started.can_log and run.started.logging and run.started.log_sessions == 1
    assert not run.ended.logging and run.ended.log_sessions == 1 and run.violations == 0
    (e,) = run.entries
    raw = run.data[e.session_id]
    assert len(raw) == e.size_bytes and lb.crc32(raw) == e.digest
    (end,) = run.read_ends
    assert (end.offset, end.end, end.blocks) == (0, e.size_bytes, -(-e.size_bytes // payload))
    assert e.flags == lb.EntryFlags.CLOCK_SET and e.rate_mhz == 416000
    logged = lb.parse_session_data(raw, rate_hz=e.rate_hz)
    idx = logged.acc[:, 0].astype(np.int64) + 32768 * logged.acc[:, 1].astype(np.int64)
    np.testing.assert_array_equal(idx, np.arange(idx.size)), "every sample once, in order"
    np.testing.assert_array_equal(logged.index, idx)
    assert logged.gaps == () and e.n_samples == idx.size >= int(20.0 * 416 * 1.008) - 1
    assert logged.n_records == -(-idx.size // lb.RECORD_SAMPLES)
    # the stamps are the firmware's sample clock: the true rate, here 0.8 % fast
    assert logged.device_rate_hz == pytest.approx(1e6 / run.period_us, rel=2e-3)
    assert e.duration_ms == pytest.approx(idx.size * run.period_us / 1000, rel=2e-3)
    # the start time: SET_CLOCK 2024-05-01T07:00:00Z one second before the sensor's first sample
    assert e.start_utc_us - e.clock_set_utc_us == pytest.approx(1e6 + 1000, abs=run.period_us)
    assert run.list_end.capacity_bytes == 299 * 4096
    assert run.list_end.free_bytes == run.list_end.capacity_bytes - 4096 * -(-e.size_bytes // 4096)


def test_a_full_store_ends_the_session_with_everything_that_fit(host_test):
    run = log_run(host_test, rate_hz=400, seconds=20.0, mtu=247, sectors=12)  # 40 KiB for 100 KB of run
    (e,) = run.entries
    assert e.flags & lb.EntryFlags.FULL and run.started.logging
    assert not run.ended.logging and run.ended.log_free_bytes < lb.RECORD_SAMPLES * 12 + 11
    raw = run.data[e.session_id]
    assert lb.crc32(raw) == e.digest and len(raw) <= 11 * 4096
    logged = lb.parse_session_data(raw, rate_hz=e.rate_hz)
    idx = logged.acc[:, 0].astype(np.int64) + 32768 * logged.acc[:, 1].astype(np.int64)
    np.testing.assert_array_equal(idx, np.arange(e.n_samples)), "the first samples, all of them, nothing after"
    assert e.n_samples > 3000 and run.violations == 0


@pytest.mark.parametrize(("request_hz", "rate_mhz"), [(100, 104000), (800, 833000)])
def test_logging_at_other_rates(host_test, request_hz, rate_mhz):
    run = log_run(host_test, rate_hz=request_hz, seconds=10.0, mtu=247)
    (e,) = run.entries
    assert e.rate_mhz == rate_mhz == run.started.rate_mhz
    logged = lb.parse_session_data(run.data[e.session_id], rate_hz=e.rate_hz)
    # the sample clock locks within the first seconds (PLL): the mean rate is within 0.2 %
    assert logged.gaps == () and logged.device_rate_hz == pytest.approx(rate_mhz / 1000, rel=2e-3)
