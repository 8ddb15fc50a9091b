"""`gait.live.Recorder` through bleak's public API with the fake backend: fast, no D-Bus.

The virtual sensor logs every sample it delivered; a recording must equal that log (values
bit for bit, times on the sensor's sampling grid) except for declared gaps.
"""

from __future__ import annotations

import asyncio
import math
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from firmware_protocol.virtual_peripheral import FaultPlan, SensorLog
from gait.errors import GaitDataWarning, GaitInputError
from gait.io import read_canonical_session
from gait.live import RecordConfig, Recorder, RecordingError, RecordResult
from gait.simulator import SimulationConfig, simulate
from tests.ble.fake_backend import FakeAir
from tests.ble.harness import fake_rig

RATE = 200


@pytest.fixture(scope="module")
def run_session():
    return simulate(SimulationConfig(duration_s=40.0, seed=5)).session


def stub_analyze(session):
    """A stand-in for gait.analyze: fixed step table and one finding (recorder tests only)."""
    steps = pd.DataFrame(
        {
            "activity": ["running"] * 4,
            "valid": [True, True, True, False],
            "cadence_spm": [170.0, 172.0, 174.0, 999.0],
            "contact_time_s": [0.25, 0.24, 0.26, 9.0],
            "vertical_oscillation_m": [0.08, 0.09, 0.085, 9.0],
            "lean_deg": [5.0, 6.0, 7.0, 99.0],
            "yaw_range_deg": [10.0, 11.0, 12.0, 99.0],
        }
    )
    return SimpleNamespace(steps=steps)


def stub_evaluate(analysis):
    """A stand-in for gait.faults.evaluate: one finding."""
    return [SimpleNamespace(fault="overstriding", cue="overstriding: shorten your step")]


def _config(tmp_path: Path, rig, **kw) -> RecordConfig:
    base = dict(
        out=tmp_path / "run.csv",
        rate_hz=RATE,
        scan_timeout_s=2.0,
        stall_timeout_s=1.0,
        give_up_s=5.0,
        flush_interval_s=0.2,
        backend=rig.backend if rig is not None else None,
        analyze=stub_analyze,
        evaluate=stub_evaluate,
        cue_worker="thread",
    )
    base.update(kw)
    if base["backend"] is None:
        del base["backend"]
    return RecordConfig(**base)


def _load(path: Path, *, gaps_expected: bool = False):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GaitDataWarning)
        s = read_canonical_session(path)
    msgs = [str(w.message) for w in caught]
    assert not any("jitter" in m for m in msgs), "recorded times must be on the uniform grid"
    assert gaps_expected == any("gap" in m for m in msgs), msgs
    return s


def assert_equals_delivered(result: RecordResult, log: SensorLog) -> None:
    """The file holds exactly what the sensor delivered, from its first to its last recorded sample."""
    s = _load(result.path, gaps_expected=result.link.gaps > 0)
    n_rec = np.rint(s.t * result.sampling_rate_hz).astype(np.int64)
    n_sent, acc, gyr = log.samples()
    n_sent = n_sent - n_sent[0]
    k = n_rec.size
    assert k > 0 and k <= n_sent.size
    assert np.array_equal(n_rec, n_sent[:k]), "same samples, same places (gaps exactly the missing samples)"
    assert np.array_equal(s.acc, acc[:k]) and s.gyr is not None and np.array_equal(s.gyr, gyr[:k]), "bit-exact values"


def test_records_what_the_sensor_sent_with_live_metrics(tmp_path: Path, run_session) -> None:
    async def go():
        async with fake_rig(run_session) as rig:
            rec = Recorder(_config(tmp_path, rig, duration_s=2.0))
            result = await rec.run()
            return rec, result, rig

    rec, result, rig = asyncio.run(go())
    assert result.stopped_by == "duration" and result.message == ""
    assert result.n_samples == pytest.approx(2.0 * RATE, abs=0.15 * RATE)
    assert result.link.packets_lost == 0 and result.link.gaps == 0 and result.link.reconnects == 0
    assert_equals_delivered(result, rig.sensor.log)
    # live metrics come from the analysis function on the window, medians of valid running steps
    m = rec.view().metrics
    assert m.cadence_spm == 172.0 and m.contact_time_s == 0.25 and m.n_steps == 3
    assert m.cues == ("overstriding: shorten your step",)
    assert result.latency.n > 0 and result.latency.max_s < 1.0
    # the sensor was told to stop and the link closed
    assert rig.peripheral.client is None and not rig.sensor._streaming
    side = result.sidecar.read_text()
    assert '"stopped_by": "duration"' in side and '"protocol": "lumbar_imu"' in side


def test_bad_packets_are_counted_never_misdecoded(tmp_path: Path, run_session) -> None:
    faults = FaultPlan(drop=0.08, duplicate=0.08, reorder=0.08, truncate=0.08, corrupt=0.08, seed=2)

    async def go():
        async with fake_rig(run_session, faults=faults) as rig:
            return await Recorder(_config(tmp_path, rig, duration_s=4.0)).run(), rig

    result, rig = asyncio.run(go())
    log, link = rig.sensor.log, result.link
    assert log.dropped and log.duplicated and log.reordered and log.truncated and log.corrupted
    assert link.corrupt + link.truncated + link.bad_other == log.corrupted + log.truncated
    assert link.duplicated == log.duplicated
    assert link.gaps > 0 and link.samples_lost > 0
    assert_equals_delivered(result, log)


def test_link_loss_reconnects_and_records_the_gap_only(tmp_path: Path, run_session) -> None:
    async def go():
        async with fake_rig(run_session, faults=FaultPlan(disconnect_at_s=(1.0,))) as rig:
            return await Recorder(_config(tmp_path, rig, duration_s=3.5)).run(), rig

    result, rig = asyncio.run(go())
    log = rig.sensor.log
    assert log.disconnects == 1 and rig.peripheral.n_connects == 2
    # the sensor stops streaming when the link drops; the recorder starts it again
    assert log.link_stops == 1 and log.starts == 2
    assert result.link.reconnects == 1
    assert len(result.gaps) == 1
    start, end, lost, reason = result.gaps[0]
    assert reason == "reconnect" and 0 < lost < RATE  # reconnect backoff 0.5 s
    assert end - start == pytest.approx((lost + 1) / RATE)
    assert result.link.samples_lost == lost, "nothing else lost"
    assert_equals_delivered(result, log)
    # the sensor resumed the run where the runner was (the run's sample at each grid index),
    # it did not play the session from its beginning again after the reconnect
    s = _load(result.path, gaps_expected=True)
    n = np.rint(s.t * RATE).astype(np.int64)
    after = n > np.rint(end * RATE) - 1
    lsb = rig.sensor.config.acc_scale_mps2_per_lsb
    assert np.abs(s.acc[after] - run_session.acc[n[after]]).max() <= 0.51 * lsb


def test_a_sensor_that_stops_sending_ends_with_a_clear_message(tmp_path: Path, run_session) -> None:
    async def go():
        async with fake_rig(run_session, faults=FaultPlan(stop_at_s=1.0)) as rig:
            return await Recorder(_config(tmp_path, rig, stall_timeout_s=0.5, give_up_s=2.0)).run()

    result = asyncio.run(go())
    assert result.stopped_by == "sensor_silent"
    assert "has sent no data for" in result.message and "saved in" in result.message
    assert result.link.stalls >= 1
    s = _load(result.path)
    assert s.duration_s == pytest.approx(1.0, abs=0.2)


def test_no_sensor_in_range(tmp_path: Path) -> None:
    from gait.live import BleBackend

    air = FakeAir()
    cfg = RecordConfig(
        out=tmp_path / "x.csv", scan_timeout_s=0.3, backend=BleBackend(air.scanner_backend(), air.client_backend())
    )
    with pytest.raises(RecordingError, match=r"no supported sensor found in 0.3 s \(no Bluetooth device advertised"):
        asyncio.run(Recorder(cfg).run())
    assert not (tmp_path / "x.csv").exists()


def test_a_named_sensor_that_is_not_there(tmp_path: Path, run_session) -> None:
    async def go():
        async with fake_rig(run_session) as rig:
            await Recorder(_config(tmp_path, rig, device="Polar H10", scan_timeout_s=0.3)).run()

    with pytest.raises(GaitInputError, match=r"parameter 'device': sensor not found.*GaitSim \(00:00:00:A0:00:01"):
        asyncio.run(go())


def test_transient_connection_errors_are_retried(tmp_path: Path, run_session) -> None:
    async def go():
        async with fake_rig(run_session) as rig:
            rig.peripheral.connect_failures = 2  # le-connection-abort-by-local, twice
            return await Recorder(_config(tmp_path, rig, device="00:00:00:a0:00:01", duration_s=1.0)).run(), rig

    result, rig = asyncio.run(go())
    assert rig.peripheral.n_connects == 1 and result.link.reconnects == 0
    assert_equals_delivered(result, rig.sensor.log)


@pytest.mark.parametrize("how", ["stop", "cancel"])
def test_stopping_always_disconnects(tmp_path: Path, run_session, how: str) -> None:
    async def go():
        async with fake_rig(run_session) as rig:
            rec = Recorder(_config(tmp_path, rig))
            task = asyncio.create_task(rec.run())
            while rec.view().link.samples_written < RATE:
                await asyncio.sleep(0.05)
            if how == "stop":
                rec.stop()
                result = await task
                assert result.stopped_by == "interrupt"
            else:
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            return rig

    rig = asyncio.run(go())
    assert rig.peripheral.client is None, "disconnected in finally"
    s = _load(tmp_path / "run.csv")
    assert s.n_samples >= RATE


def test_the_output_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "run.csv").write_text("precious")
    with pytest.raises(GaitInputError, match="output file exists"):
        asyncio.run(Recorder(RecordConfig(out=tmp_path / "run.csv")).run())
    assert (tmp_path / "run.csv").read_text() == "precious"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"out": "run.parquet"}, "ending in .csv"),
        ({"flush_interval_s": 2.0}, "flush interval"),
        ({"duration_s": 0.0}, "duration"),
        ({"rate_hz": 0}, "rate_hz"),
        ({"stall_timeout_s": math.inf}, "stall_timeout_s"),
    ],
)
def test_config_is_validated(kw: dict, match: str) -> None:
    with pytest.raises(GaitInputError, match=match):
        RecordConfig(**{"out": "run.csv", **kw})


def test_the_dashboard_refreshes_while_recording(tmp_path: Path, run_session) -> None:
    import io

    from rich.console import Console

    from gait.live.cli import _record_with_view

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)

    async def go():
        async with fake_rig(run_session) as rig:
            rec = Recorder(_config(tmp_path, rig, duration_s=2.5))
            return await _record_with_view(rec, dashboard=True, console=console)

    result = asyncio.run(go())
    out = buf.getvalue()
    assert result.stopped_by == "duration"
    assert out.count("gait record") >= 3, "refreshed at least once a second"
    assert "172 spm" in out and "overstriding: shorten your step" in out and "reconnects" in out


def test_a_silent_sensor_greys_the_numbers_then_gives_up_on_time(tmp_path: Path, run_session) -> None:
    """After ``stale_after_s`` without data the view is stale (numbers greyed and marked, cues
    hidden from the plain line); the recording ends ``give_up_s`` after the last data, whatever
    the link loop is doing (here: stall, reconnect, backoff), and the last view is a failure."""
    from gait.live._dashboard import plain_line, render, status_style

    views = []

    async def go():
        async with fake_rig(run_session, faults=FaultPlan(stop_at_s=1.5)) as rig:
            rec = Recorder(_config(tmp_path, rig, stall_timeout_s=0.5, give_up_s=4.0, stale_after_s=1.0))
            task = asyncio.create_task(rec.run())
            while not task.done():
                await asyncio.wait({task}, timeout=0.1)
                views.append(rec.view())
            return rec, task.result()

    rec, result = asyncio.run(go())
    assert result.stopped_by == "sensor_silent"
    fresh = [v for v in views if v.metrics.n_steps and not v.stale]
    stale = [v for v in views if v.stale and not v.ended]
    assert fresh and stale, "fresh numbers first, then stale ones"
    v = stale[-1]
    assert v.metrics.cadence_spm == 172.0, "the last numbers are kept, but marked"
    assert status_style(v) == "yellow" and "no data for" in plain_line(v) and "overstriding" not in plain_line(v)
    assert "the numbers are from before" in str(render(v).renderable.renderables)  # type: ignore[attr-defined]
    # give-up: the watchdog measured the silence when it ended the recording
    since = float(result.message.split("has sent no data for ")[1].split(" s")[0])
    assert since <= 4.0 + 2.0
    final = rec.view()
    assert final.ended and final.failed and status_style(final) == "bold red" and final.status == "ended: no data"


def test_a_normal_end_has_a_green_final_status_and_the_gaps_in_the_csv(tmp_path: Path, run_session) -> None:
    from gait.live._dashboard import status_style

    async def go():
        async with fake_rig(run_session, faults=FaultPlan(disconnect_at_s=(1.0,))) as rig:
            rec = Recorder(_config(tmp_path, rig, duration_s=3.0))
            return rec, await rec.run()

    rec, result = asyncio.run(go())
    final = rec.view()
    assert final.ended and not final.failed and final.status == "finished" and status_style(final) == "bold green"
    # the gap list is in the file itself (start, end, cause), read back by the loader
    s = _load(result.path, gaps_expected=True)
    assert len(s.meta.gaps) == 1 == len(result.gaps)
    g, (a, b, lost, reason) = s.meta.gaps[0], result.gaps[0]
    assert (g.start_s, g.end_s, g.cause, g.samples_lost) == (a, b, reason, lost) and g.cause == "reconnect"
    assert s.gaps == [(g.start_s, g.end_s)], "the declared gap is the gap in the times"
    head = result.path.read_text().splitlines()
    assert head[0] == "# gait-session: 1" and any(line.startswith("# gaps: [{") for line in head[:12])


def test_cues_from_the_low_priority_process(tmp_path: Path, run_session) -> None:
    """The default cue worker, a separate process, evaluates the same functions."""

    async def go():
        async with fake_rig(run_session) as rig:
            rec = Recorder(_config(tmp_path, rig, duration_s=8.0, cue_worker="process"))
            return rec, await rec.run()

    rec, _ = asyncio.run(go())
    m = rec.view().metrics
    assert m.cadence_spm == 172.0
    assert m.cues == ("overstriding: shorten your step",) and m.faults == (("overstriding", "moderate"),)
