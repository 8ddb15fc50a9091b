"""On-sensor logging and `gait.live.Syncer` through bleak's public API with the fake backend: fast, no D-Bus.

The virtual sensor (`firmware_protocol.virtual_logging.LoggingSensor`) keeps the raw counts of
every session it logged; a synced file must equal them (values bit for bit, times on the
sensor's sampling grid, no gap), however the download went.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from bleak import BleakClient

from firmware_protocol import codec
from firmware_protocol import logbook as lb
from firmware_protocol.virtual_logging import FlashStore, LogFaultPlan, LoggingSensor
from firmware_protocol.virtual_peripheral import VirtualSensor
from gait.errors import GaitDataWarning
from gait.io import read_canonical_session
from gait.live import BleBackend, SyncConfig, Syncer, SyncError, SyncResult
from gait.simulator import SimulationConfig, simulate
from tests.ble.fake_backend import FakeAir
from tests.ble.harness import FakeRig, serve

ADDRESS = "00:00:00:A0:00:07"
RATE = 200


@pytest.fixture(scope="module")
def run_session():
    return simulate(SimulationConfig(duration_s=60.0, seed=4)).session


def rig(sensor: VirtualSensor, name: str = "LumbarIMU-0007") -> contextlib.AbstractAsyncContextManager[FakeRig]:
    return serve(sensor, name=name, address=ADDRESS)


async def do_sync(r: FakeRig, out: Path, **kw) -> SyncResult:
    cfg = dict(out_dir=out, backend=r.backend, scan_timeout_s=2.0, reply_timeout_s=1.0, give_up_s=10.0)
    cfg.update(kw)
    events: list[str] = []
    res = await Syncer(SyncConfig(**cfg), on_event=events.append).run()
    object.__setattr__(res, "events", events)  # the progress lines, for the tests that read them
    return res


def sync(sensor: VirtualSensor, out: Path, **kw) -> SyncResult:
    async def go():
        async with rig(sensor) as r:
            return await do_sync(r, out, **kw)

    return asyncio.run(go())


def assert_file_equals_logged(path: Path, sensor: LoggingSensor, session_id: int) -> int:
    """The file holds exactly the logged samples: counts x the entry's scale, on the grid, no gap."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", GaitDataWarning)  # no gap, no jitter: any warning fails
        s = read_canonical_session(path)
    acc, gyr = sensor.logged[session_id]
    cfg = sensor.config
    np.testing.assert_array_equal(s.acc, acc.astype(np.float64) * cfg.acc_scale_mps2_per_lsb)
    assert s.gyr is not None
    np.testing.assert_array_equal(s.gyr, gyr.astype(np.float64) * cfg.gyr_scale_rads_per_lsb)
    np.testing.assert_array_equal(s.t, np.arange(acc.shape[0]) / s.sampling_rate_hz)
    return int(acc.shape[0])


# ---------------------------------------------------------------------------------------
# the store
# ---------------------------------------------------------------------------------------
def template(**kw) -> lb.LogEntry:
    base = dict(
        session_id=0,
        size_bytes=0,
        start_utc_us=0,
        n_samples=0,
        duration_ms=0,
        rate_mhz=416000,
        acc_range_g=16,
        gyr_range_dps=2000,
        acc_scale_ng_per_lsb=488000,
        gyr_scale_udps_per_lsb=70000,
        digest=0,
    )
    return lb.LogEntry(**(base | kw))


RECORD = bytes(codec.OVERHEAD + 12 * 41)


class TestFlashStore:
    def test_capacity_and_a_full_store(self):
        st = FlashStore(capacity_bytes=4 * 4096)
        assert st.free_bytes == 4 * 4096 and st.begin(template()) == codec.Status.OK
        n = 0
        while st.append(RECORD):
            n += 1
        assert n == 4 * 4096 // len(RECORD) and st.free_bytes < len(RECORD)
        e = st.end(lb.EntryFlags.FULL)
        assert e is not None and e.flags == lb.EntryFlags.FULL and e.size_bytes == n * len(RECORD)
        assert e.digest == lb.crc32(RECORD * n)
        assert st.begin(template()) == codec.Status.STORE_FULL, "no room for one more record"
        assert st.erase(e.session_id, e.digest) == codec.Status.OK and st.free_bytes == 4 * 4096

    def test_space_comes_back_in_logging_order(self):
        st = FlashStore(capacity_bytes=8 * 4096)
        ids = []
        for _ in range(3):
            st.begin(template())
            st.append(RECORD)
            ids.append(st.end())
        free = st.free_bytes
        assert free == 8 * 4096 - 3 * 4096, "each session takes whole sectors"
        assert st.erase(ids[1].session_id, ids[1].digest) == codec.Status.OK
        assert st.free_bytes == free and [s.entry.session_id for s in st.sessions] == [1, 3]
        assert st.erase(ids[0].session_id, ids[0].digest) == codec.Status.OK
        assert st.free_bytes == free + 2 * 4096 and len(st.slots) == 1

    def test_erase_refusals(self):
        st = FlashStore()
        st.begin(template())
        st.append(RECORD)
        active = st.active
        assert active is not None
        assert st.erase(active.entry.session_id, active.entry.digest) == codec.Status.BUSY
        e = st.end()
        assert e is not None
        assert st.erase(e.session_id, e.digest ^ 1) == codec.Status.DIGEST_MISMATCH
        assert st.erase(99, 0) == codec.Status.NOT_FOUND
        assert st.find(e.session_id) is not None

    def test_directory_slots_run_out(self):
        st = FlashStore(max_sessions=3)
        for _ in range(3):
            st.begin(template())
            st.append(RECORD)
            st.end()
        assert st.begin(template()) == codec.Status.STORE_FULL

    def test_empty_session_is_forgotten(self):
        st = FlashStore()
        st.begin(template())
        assert st.end() is None and st.sessions == [] and st.free_bytes == st.capacity_bytes

    def test_kept_in_a_folder_and_recovered_after_a_crash(self, tmp_path):
        st = FlashStore(path=tmp_path)
        st.begin(template(start_utc_us=123))
        st.append(RECORD)
        done = st.end()
        st.begin(template())
        st.append(RECORD)
        st.append(RECORD)  # the process dies here, still logging
        again = FlashStore(path=tmp_path)
        (a, b) = again.sessions
        assert a.entry == done and bytes(a.data) == RECORD
        assert b.entry.flags & lb.EntryFlags.RECOVERED and not b.entry.active
        assert b.entry.size_bytes == 2 * len(RECORD) and b.entry.digest == lb.crc32(RECORD * 2)
        assert again.free_bytes == again.capacity_bytes - 2 * 4096 and again.next_id == 3

    def test_exceptions(self):
        with pytest.raises(Exception, match="a multiple of the sector"):
            FlashStore(capacity_bytes=5000)
        with pytest.raises(Exception, match="an integer >= 1"):
            FlashStore(max_sessions=0)


# ---------------------------------------------------------------------------------------
# the sensor's commands
# ---------------------------------------------------------------------------------------
async def command(c: BleakClient, data: bytes) -> codec.DeviceConfig:
    await c.write_gatt_char(codec.CONTROL_UUID, data, response=True)
    return codec.decode_config(await c.read_gatt_char(codec.CONFIG_UUID))


class TestLoggingSensor:
    def test_rules_of_the_commands(self, run_session):
        sensor = LoggingSensor(run_session)
        e = sensor.log_run(duration_s=5)
        assert e is not None

        async def go():
            async with rig(sensor) as r, BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                got = []
                await c.start_notify(codec.LOG_UUID, lambda _c, d: got.append(lb.decode_message(bytes(d))))
                dc = await command(c, codec.encode_start())
                assert dc.streaming
                assert (await command(c, codec.encode_log_start())).last_status == codec.Status.BUSY
                await command(c, codec.encode_stop())
                dc = await command(c, codec.encode_log_start())
                assert dc.last_status == codec.Status.OK and dc.logging and dc.log_sessions == 2
                for busy in (
                    codec.encode_start(),
                    codec.encode_set_rate(rate_hz=100),
                    codec.encode_log_start(),
                    codec.encode_log_read(session_id=1, offset=0),
                ):
                    assert (await command(c, busy)).last_status == codec.Status.BUSY, busy.hex()
                dc = await command(c, codec.encode_log_list())
                assert dc.last_status == codec.Status.OK, "listing is fine while logging"
                await asyncio.sleep(0.05)
                assert [m.active for m in got if isinstance(m, lb.LogEntry)] == [False, True]
                await command(c, codec.encode_log_stop())
                for data, status in (
                    (codec.encode_log_read(session_id=9, offset=0), codec.Status.NOT_FOUND),
                    (codec.encode_log_read(session_id=1, offset=e.size_bytes + 1), codec.Status.BAD_ARGUMENT),
                    (codec.encode_log_erase(session_id=1, digest=e.digest ^ 1), codec.Status.DIGEST_MISMATCH),
                    (codec.encode_log_erase(session_id=9, digest=0), codec.Status.NOT_FOUND),
                    (b"\x13\x00", codec.Status.BAD_LENGTH),
                    (codec.encode_log_erase(session_id=1, digest=e.digest), codec.Status.OK),
                ):
                    dc = await command(c, data)
                    assert (dc.last_opcode, dc.last_status) == (data[0], status), data.hex()
                assert dc.log_sessions == 1

        asyncio.run(go())

    def test_list_and_read_need_an_mtu_of_64(self, run_session):
        sensor = LoggingSensor(run_session, att_mtu=60)

        async def go():
            async with rig(sensor) as r, BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                assert (await command(c, codec.encode_log_list())).last_status == codec.Status.MTU_TOO_SMALL

        asyncio.run(go())

    def test_a_live_log_goes_on_without_a_central(self, run_session):
        """LOG_START, the central leaves, the sensor logs on; LOG_STOP later ends the session
        with every sample due (played 20 times faster than real time)."""
        sensor = LoggingSensor(run_session, speed=20.0)

        async def go():
            async with rig(sensor) as r:
                async with BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                    await command(c, codec.encode_set_clock(utc_us=1_714_546_800_000_000))
                    assert (await command(c, codec.encode_log_start())).logging
                await asyncio.sleep(1.0)  # 20 s of the run, nobody connected
                async with BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                    dc = await command(c, codec.encode_log_stop())
                    assert not dc.logging and dc.log_sessions == 1

        asyncio.run(go())
        (s,) = sensor.store.sessions
        e = s.entry
        assert e.flags == lb.EntryFlags.CLOCK_SET and 15 * RATE < e.n_samples < 30 * RATE
        run = lb.parse_session_data(bytes(s.data), rate_hz=e.rate_hz)
        acc, gyr = sensor.logged[e.session_id]
        np.testing.assert_array_equal(run.acc, acc)
        np.testing.assert_array_equal(run.gyr, gyr)
        np.testing.assert_array_equal(run.index, np.arange(e.n_samples))
        assert e.duration_ms == pytest.approx(e.n_samples / RATE * 1000, abs=6)
        assert run.n_records == -(-e.n_samples // 41)


# ---------------------------------------------------------------------------------------
# gait sync
# ---------------------------------------------------------------------------------------
class TestSync:
    def test_a_logged_run_is_fetched_bit_for_bit(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session)
        e = sensor.log_run(duration_s=40)
        assert e is not None
        res = sync(sensor, tmp_path)
        (s,) = res.sessions
        assert res.ok and s.status == "written" and s.gaps == () and s.erased is None
        assert assert_file_equals_logged(s.path, sensor, e.session_id) == 40 * RATE
        info = json.loads(s.path.with_name(s.path.stem + ".recording.json").read_text())
        assert info["download"]["corrupt_blocks"] == 0 and info["log"]["digest_crc32"] == f"{e.digest:08x}"
        assert info["samples"] == 40 * RATE and info["stopped_by"] == "log_stop" and info["gaps"] == []
        index = json.loads((tmp_path / ".gait-sync" / "index.json").read_text())["sessions"]
        assert [(i["session_id"], i["digest"], i["file"]) for i in index] == [(1, e.digest, s.path.name)]
        assert not list((tmp_path / ".gait-sync").glob("*.part*")), "the partial download is gone"
        assert sensor.store.find(e.session_id) is not None, "not erased unless asked"
        assert res.clock_set and sensor.clock.set_utc_us > e.clock_set_utc_us

    def test_link_broken_twice_resumes_from_the_verified_bytes(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session, log_faults=LogFaultPlan(disconnect_after_bytes=(20_000, 60_000)))
        e = sensor.log_run(duration_s=40)
        assert e is not None
        res = sync(sensor, tmp_path)
        (s,) = res.sessions
        assert res.reconnects == 2 and s.status == "written"
        starts = [a for _, a, _ in sensor.served.read_ranges]
        # the link drops after the block that crosses each mark: the next read starts right after it
        assert 20_000 <= starts[1] < 20_000 + 230 and 60_000 <= starts[2] < 60_000 + 230, starts
        assert sensor.served.block_bytes < e.size_bytes + 2 * 230, "nothing verified was fetched twice"
        assert_file_equals_logged(s.path, sensor, e.session_id)

    def test_corrupt_and_lost_blocks_are_requested_again(self, run_session, tmp_path):
        faults = LogFaultPlan(corrupt_blocks=(3, 100), drop_blocks=(50,))
        sensor = LoggingSensor(run_session, log_faults=faults)
        e = sensor.log_run(duration_s=40)
        assert e is not None
        res = sync(sensor, tmp_path)
        (s,) = res.sessions
        assert (s.blocks_corrupt, s.blocks_missing, res.reconnects) == (2, 1, 0)
        again = sorted((a, b) for _, a, b in sensor.served.read_ranges if b - a == 230)
        assert again == [(k * 230, (k + 1) * 230) for k in (3, 50, 100)], "exactly those blocks, asked for again"
        assert sum(b - a for _, a, b in sensor.served.read_ranges) == e.size_bytes + 3 * 230
        assert_file_equals_logged(s.path, sensor, e.session_id)

    def test_erase_only_after_verification_and_resume_at_the_next_sync(self, run_session, tmp_path):
        store = FlashStore()
        dying = LoggingSensor(run_session, store=store, log_faults=LogFaultPlan(stop_serving_after_bytes=30_000))
        e = dying.log_run(duration_s=40)
        assert e is not None
        res = sync(dying, tmp_path, erase=True, max_attempts=2)
        (s,) = res.sessions
        assert not res.ok and s.status == "partial" and s.erased is None, "never asked to erase"
        assert dying.served.erased == [] and store.find(e.session_id) is not None
        assert not res.clock_set, "the clock is kept: the unfinished session's start time needs it"
        part = json.loads(next((tmp_path / ".gait-sync").glob("*.part.json")).read_text())
        verified = sum(b - a for a, b in part["ranges"])
        # the sensor sent the first 64 KiB window whole, then answered no more reads
        assert verified == 65_536 and part["ranges"] == [[0, 65_536]]

        # the sensor refuses an erase whose digest is not that of the whole session
        partial_data = next((tmp_path / ".gait-sync").glob("*.part")).read_bytes()

        async def erase_with(digest: int) -> int:
            async with rig(LoggingSensor(run_session, store=store)) as r:
                async with BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                    return (
                        await command(c, codec.encode_log_erase(session_id=e.session_id, digest=digest))
                    ).last_status

        assert asyncio.run(erase_with(lb.crc32(partial_data))) == codec.Status.DIGEST_MISMATCH
        assert store.find(e.session_id) is not None

        healthy = LoggingSensor(run_session, store=store)
        res = sync(healthy, tmp_path, erase=True)
        (s,) = res.sessions
        assert s.status == "written" and s.erased is True and s.bytes_verified_before == verified
        assert healthy.served.read_ranges[0][1] == verified, "resumed where the last sync stopped"
        assert healthy.served.block_bytes == e.size_bytes - verified
        assert store.sessions == [] and res.clock_set
        assert_file_equals_logged(s.path, dying, e.session_id)

    def test_a_full_store(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session, store=FlashStore(capacity_bytes=10 * 4096))
        e = sensor.log_run(duration_s=40)  # 98 kB of run for 40 kB of store
        assert e is not None and e.flags & lb.EntryFlags.FULL and e.n_samples < 40 * RATE
        res = sync(sensor, tmp_path, start_log=True)
        (s,) = res.sessions
        assert s.status == "written" and not res.logging_started
        assert "store is full" in res.message and not res.ok
        n = assert_file_equals_logged(s.path, sensor, e.session_id)
        assert n == e.n_samples and n == (10 * 4096 - 4096 * 0) // (11 + 12 * 41) * 41
        info = json.loads(s.path.with_name(s.path.stem + ".recording.json").read_text())
        assert info["stopped_by"] == "store_full" and "full" in info["log"]["flags"]
        res = sync(sensor, tmp_path, start_log=True, erase=True)
        (s,) = res.sessions
        assert s.status == "already" and s.erased is True and res.logging_started and res.ok

    def test_start_time_and_rate_from_a_drifting_clock(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session, drift_ppm=500.0)
        e = sensor.log_run(duration_s=40, clock_set_before_s=7200.0)
        assert e is not None
        res = sync(sensor, tmp_path)
        (s,) = res.sessions
        c = res.clock
        assert c is not None and c.drift_ppm == pytest.approx(500.0, abs=1.0) and c.drift_reliable
        truth = sensor.truth[e.session_id]
        s_meta = read_canonical_session(s.path).meta
        import datetime as dt

        start = dt.datetime.fromisoformat(s_meta.start_time).timestamp()
        assert s.start_time_corrected and start == pytest.approx(truth["start_wall_s"], abs=0.005)
        raw_start = e.start_utc_us / 1e6
        assert abs(raw_start - truth["start_wall_s"]) > 3.0, "uncorrected, the clock was 3.6 s behind"
        assert s.sampling_rate_hz == pytest.approx(truth["rate_hz"], rel=2e-6)
        assert s_meta.extra["device_clock_drift_ppm"] == pytest.approx(500.0, abs=1.0)
        assert_file_equals_logged(s.path, sensor, e.session_id)

    def test_clock_never_set(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session)
        e = sensor.log_run(duration_s=10, clock_set=False)
        assert e is not None and not e.clock_set
        res = sync(sensor, tmp_path, set_clock=False)
        (s,) = res.sessions
        assert s.start_time is None and s.path.name == "run-000000A00007-session1.csv"
        assert read_canonical_session(s.path).meta.start_time is None
        assert any("not set" in ev for ev in res.events)  # type: ignore[attr-defined]

    def test_synced_before_is_skipped_then_erased_when_asked(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session)
        e = sensor.log_run(duration_s=10)
        assert e is not None
        first = sync(sensor, tmp_path)
        served = sensor.served.block_bytes
        again = sync(sensor, tmp_path)
        assert again.sessions[0].status == "already" and sensor.served.block_bytes == served
        erased = sync(sensor, tmp_path, erase=True)
        assert erased.sessions[0].erased is True and sensor.served.block_bytes == served
        assert sensor.store.sessions == [] and first.sessions[0].path.exists()

    def test_a_session_being_logged_is_stopped_and_fetched(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session, speed=20.0)

        async def go():
            async with rig(sensor) as r:
                async with BleakClient(ADDRESS, backend=r.air.client_backend()) as c:
                    await command(c, codec.encode_log_start())
                await asyncio.sleep(0.5)
                kept = await do_sync(r, tmp_path, stop_logging=False)
                fetched = await do_sync(r, tmp_path)
                return kept, fetched

        kept, fetched = asyncio.run(go())
        assert kept.sessions[0].status == "logging" and kept.bytes_downloaded == 0 and not kept.clock_set
        assert fetched.logging_stopped and fetched.sessions[0].status == "written"
        assert_file_equals_logged(fetched.sessions[0].path, sensor, 1)

    def test_list_only(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session)
        sensor.log_run(duration_s=5)
        res = sync(sensor, tmp_path, download=False)
        assert res.ok and res.sessions[0].status == "listed" and sensor.served.reads == 0 and not res.clock_set

    def test_data_that_do_not_verify_are_never_written_or_erased(self, run_session, tmp_path):
        sensor = LoggingSensor(run_session)
        e = sensor.log_run(duration_s=10)
        assert e is not None
        sensor.store.sessions[0].data[500] ^= 0x01  # the flash lost a bit after the digest was made
        res = sync(sensor, tmp_path, erase=True)
        (s,) = res.sessions
        assert s.status == "failed" and "digest" in s.message and s.path is None and s.erased is None
        assert sensor.served.reads >= 2, "downloaded twice before giving up"
        assert not list(tmp_path.glob("*.csv")) and sensor.store.find(e.session_id) is not None

    def test_a_sensor_without_logging(self, run_session, tmp_path):
        with pytest.raises(SyncError, match="does not log on its own"):
            sync(VirtualSensor(run_session), tmp_path)

    def test_no_sensor(self, tmp_path):
        async def go():
            air = FakeAir()
            return await Syncer(
                SyncConfig(
                    out_dir=tmp_path,
                    backend=BleBackend(air.scanner_backend(), air.client_backend()),
                    scan_timeout_s=0.3,
                )
            ).run()

        with pytest.raises(SyncError, match=r"no sensor of the lumbar IMU protocol found in 0\.3 s"):
            asyncio.run(go())

    def test_config_exceptions(self, tmp_path):
        with pytest.raises(Exception, match="window_bytes"):
            SyncConfig(out_dir=tmp_path, window_bytes=0)
        with pytest.raises(Exception, match="give_up_s"):
            SyncConfig(out_dir=tmp_path, give_up_s=-1)
