"""A phone as a live sensor: `gait record --phyphox` against a phone made of software.

`tests/phone.py` serves phyphox's documented remote interface on 127.0.0.1 and logs every
sample the phone measured; a recording must equal, sample for sample, the linear
interpolation of those samples onto the file's uniform grid (the only processing the link
does), with a declared gap exactly where the phone was paused, nothing lost when the network
dropped, and nothing written twice.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from gait.errors import GaitDataWarning, GaitInputError
from gait.io import read_canonical_session
from gait.live import RecordConfig, Recorder, RecordingError
from gait.live._phyphox import PhoneGrid, PhyphoxError, PhyphoxLink, phone_buffers
from gait.simulator import SimulationConfig, simulate
from tests.phone import VirtualPhone, _fmt
from tests.test_live_recorder import stub_analyze, stub_evaluate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def run_session():
    # 400 Hz, from 21 s on (the simulated runner stands and walks first)
    s = simulate(SimulationConfig(duration_s=140.0, seed=3), sampling_rate_hz=400.0).session
    return s.slice_time(s.t[0] + 21.0, s.t[-1] + 1.0)


def _expected(phone: VirtualPhone, t_line: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for kind in ("acc", "gyr"):
        t, v = phone.delivered(kind)
        out.append(np.column_stack([np.interp(t_line, t, v[:, c]) for c in range(3)]))
    return out[0], out[1]


def _record(url: str, tmp_path: Path, script, **kw) -> tuple[Recorder, object]:
    cfg = dict(
        out=tmp_path / "phone.csv",
        phyphox=url,
        give_up_s=10.0,
        analyze=stub_analyze,
        evaluate=stub_evaluate,
        cue_worker="thread",
        stale_after_s=1.0,
    )
    cfg.update(kw)
    rec = Recorder(RecordConfig(**cfg))

    async def go():
        task = asyncio.create_task(rec.run())
        await asyncio.to_thread(script, rec)
        return await task

    return rec, asyncio.run(go())


def _wait_for_data(rec: Recorder, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while rec._writer is None:
        assert time.monotonic() < deadline, "no data from the phone"
        time.sleep(0.05)


def test_a_paused_phone_and_a_network_drop(tmp_path: Path, run_session) -> None:
    phone = VirtualPhone(run_session, seed=1)
    views = []

    def script(rec: Recorder) -> None:
        _wait_for_data(rec)
        time.sleep(2.0)
        phone.pause()  # the runner taps pause ...
        time.sleep(2.5)
        views.append(rec.view())
        phone.resume()  # ... and play again
        time.sleep(2.0)
        phone.offline(True)  # the phone drops off the network for 2.5 s
        time.sleep(2.5)
        phone.offline(False)
        time.sleep(2.5)
        rec.stop()

    with phone.serve() as url:
        _, result = _record(url, tmp_path, script)
    assert result.stopped_by == "interrupt", result.message
    assert not phone.measuring, "a clean end stops the phone's measurement, as a sensor is stopped"
    assert phone.refused > 0 and result.link.reconnects == 1
    # the pause is greyed out on the dashboard while it lasts
    assert views[0].stale and views[0].status.startswith("phone paused")
    # exactly one gap, the pause, with its cause; the network drop lost nothing
    assert len(result.gaps) == 1, result.gaps
    a, b, lost, cause = result.gaps[0]
    pause, play = (e["systemTime"] for e in phone.events[1:3])
    assert cause == "phone paused"
    assert (b - a) == pytest.approx(play - pause, abs=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # the gap is reported
        s = read_canonical_session(result.path)
    assert s.sampling_rate_hz == 400.0 and len(s.meta.gaps) == 1 and s.meta.gaps[0].cause == "phone paused"
    assert s.meta.extra["device_experiment"] == "Lumbar run" and s.meta.device.startswith("phyphox")
    # every sample of the file is the interpolation of what the phone measured, at its time
    t0 = s.meta.extra["phone_timeline_start_s"]
    acc, gyr = _expected(phone, t0 + s.t)
    assert s.gyr is not None
    np.testing.assert_allclose(s.acc, acc, rtol=0, atol=1e-9)
    np.testing.assert_allclose(s.gyr, gyr, rtol=0, atol=1e-9)
    # nothing written twice, nothing skipped outside the declared gap
    k = np.rint(s.t * 400.0).astype(np.int64)
    steps = np.diff(k)
    assert (steps >= 1).all() and int((steps > 1).sum()) == 1 and int(steps.max()) - 1 == lost


def test_the_cli_records_from_the_phone_and_analyses_the_run(tmp_path: Path, run_session) -> None:
    phone = VirtualPhone(run_session, seed=2)
    out = tmp_path / "run.csv"
    with phone.serve() as url:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        rec = subprocess.run(
            [
                *(sys.executable, "-m", "gait.cli", "record", "--phyphox", url),
                *("--out", str(out), "--duration", "14s", "--no-dashboard"),
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert "wrote" in rec.stdout and "phyphox" in rec.stdout and "What to work on" in rec.stdout
    s = read_canonical_session(out)
    assert s.duration_s == pytest.approx(14.0, abs=1.0) and s.meta.gaps == ()


def test_an_experiment_without_acceleration_with_g_is_refused(tmp_path: Path, run_session) -> None:
    phone = VirtualPhone(run_session)
    original = phone.handle

    def handle(path, params):
        body = original(path, params)
        if path == "/config":
            body["inputs"] = [{"source": "linear_acceleration", "outputs": [{"x": "linX"}]}]
        return body

    phone.handle = handle  # type: ignore[method-assign]
    with phone.serve() as url, pytest.raises(RecordingError, match="no accelerometer with gravity"):
        asyncio.run(Recorder(RecordConfig(out=tmp_path / "x.csv", phyphox=url)).run())


def test_no_phone_at_the_address(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"no answer from phyphox at http://127\.0\.0\.1:9"):
        asyncio.run(Recorder(RecordConfig(out=tmp_path / "x.csv", phyphox="127.0.0.1:9", connect_timeout_s=2.0)).run())


def test_a_bad_address_is_refused() -> None:
    with pytest.raises(GaitInputError, match="not a phyphox address"):
        PhyphoxLink("ftp://phone")


class TestPhoneGrid:
    def _streams(self, seed: int = 0, n: int = 2000):
        rng = np.random.default_rng(seed)
        ta = np.cumsum(1 / 410 * (1 + 0.03 * rng.standard_normal(n)))
        tg = np.cumsum(1 / 395 * (1 + 0.03 * rng.standard_normal(n)))
        return ta, rng.standard_normal((n, 3)), tg, rng.standard_normal((n, 3))

    def test_chunking_does_not_change_the_output_and_nothing_is_written_twice(self) -> None:
        ta, va, tg, vg = self._streams()
        whole = PhoneGrid(rate_hz=400.0, has_gyro=True, max_hole_s=0.02)
        whole.add("acc", ta, va)
        whole.add("gyr", tg, vg)
        ref = whole.take()
        grid = PhoneGrid(rate_hz=400.0, has_gyro=True, max_hole_s=0.02)
        rng = np.random.default_rng(1)
        cuts_a = np.sort(rng.choice(ta.size, 40, replace=False))
        cuts_g = np.sort(rng.choice(tg.size, 40, replace=False))
        parts = []
        for pa, pg in zip(np.split(np.arange(ta.size), cuts_a), np.split(np.arange(tg.size), cuts_g)):
            grid.add("acc", ta[pa], va[pa])
            grid.add("gyr", tg[pg], vg[pg])
            parts.append(grid.take())
        t = np.concatenate([p.t_s for p in parts])
        assert np.array_equal(t, ref.t_s) and np.all(np.diff(t) > 0)
        np.testing.assert_allclose(np.concatenate([p.acc_mps2 for p in parts]), ref.acc_mps2, atol=1e-12)
        expected = np.column_stack([np.interp(ref.t_s, ta, va[:, c]) for c in range(3)])
        np.testing.assert_allclose(ref.acc_mps2, expected, atol=1e-12)
        assert not any(p.gap_before.any() for p in parts)

    def test_a_hole_is_a_gap_with_its_cause_never_filled(self) -> None:
        ta, va, tg, vg = self._streams(n=800)
        hole = (ta > 0.8) & (ta < 1.1)  # the accelerometer missed 0.3 s
        grid = PhoneGrid(rate_hz=400.0, has_gyro=True, max_hole_s=0.02)
        grid.mark_gap_cause(0.8, 1.1, "phone paused")
        grid.add("acc", ta[~hole], va[~hole])
        grid.add("gyr", tg, vg)
        d = grid.take()
        assert int(d.gap_before.sum()) == 1 and d.reasons == ("phone paused",)
        g = d.t_s
        assert not ((g > ta[~hole][ta[~hole] < 0.8].max() + 1e-9) & (g < ta[hole].max())).any()
        assert d.samples_lost[0] == pytest.approx((1.1 - 0.8) * 400, abs=4)

    def test_buffers_come_from_the_config(self) -> None:
        cfg = {
            "inputs": [
                {"source": "accelerometer", "outputs": [{"x": "ax"}, {"y": "ay"}, {"z": "az"}, {"t": "at"}]},
            ]
        }
        b = phone_buffers(cfg)
        assert b.acc == ("ax", "ay", "az") and b.acc_t == "at" and b.gyr is None
        with pytest.raises(PhyphoxError, match="its inputs: none"):
            phone_buffers({})


def test_number_format_is_phyphox_s() -> None:
    assert _fmt(12.345678912) == "1.2345679E1" and _fmt(0.5) == "5E-1" and _fmt(float("nan")) == "null"


def test_the_phone_thread_is_not_left_running() -> None:
    assert all(t.name != "phyphox" for t in threading.enumerate())


def test_a_phyphox_without_time_events_records_and_says_pauses_are_not_placed(tmp_path: Path, run_session) -> None:
    """phyphox before 1.1.8 has no /time (404): recording works, the metadata says so."""
    phone = VirtualPhone(run_session, seed=3)
    original = phone.handle
    phone.handle = lambda path, params: None if path == "/time" else original(path, params)  # type: ignore[method-assign]

    def script(rec: Recorder) -> None:
        _wait_for_data(rec)
        time.sleep(2.0)
        rec.stop()

    with phone.serve() as url:
        _, result = _record(url, tmp_path, script)
    assert result.stopped_by == "interrupt" and result.gaps == ()
    s = read_canonical_session(result.path)
    assert "pauses are not declared" in s.meta.extra["device_time_events"]
