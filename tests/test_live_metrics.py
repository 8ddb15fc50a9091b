"""Live metrics from the real analysis core on a sliding window; the dashboard; CLI helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from gait.errors import GaitInputError
from gait.live import LinkStats, LiveMetrics, LiveView, window_metrics
from gait.live._dashboard import plain_line, render
from gait.live._metrics import format_metric
from gait.live.cli import parse_duration
from gait.simulator import SimulationConfig, simulate


@pytest.fixture(scope="module")
def sim():
    return simulate(SimulationConfig(duration_s=40.0, seed=8))


def test_the_real_core_on_a_ten_second_window(sim) -> None:
    """The live numbers are the offline core's on the window, close to the simulation truth."""
    s = sim.session
    m = (s.t >= 30.0) & (s.t < 40.0)  # running (the simulated runner starts at ~20 s)
    lm = window_metrics(s.t[m], s.acc[m], s.gyr[m], sampling_rate_hz=s.sampling_rate_hz)
    truth = sim.steps[(sim.steps["ic_s"] >= 30.0) & (sim.steps["ic_s"] < 39.0) & (sim.steps["activity"] == "running")]
    assert lm.n_steps >= 15 and lm.note == ""
    assert lm.cadence_spm == pytest.approx(60.0 / truth["step_time_s"].median(), rel=0.03)
    assert lm.contact_time_s == pytest.approx(truth["contact_time_s"].median(), abs=0.03)
    assert 0.02 < lm.vertical_oscillation_m < 0.2
    assert math.isfinite(lm.yaw_range_deg)


def test_standing_gives_a_note_not_numbers() -> None:
    t = np.arange(0, 10, 1 / 200)
    rng = np.random.default_rng(0)
    acc = np.tile([0.0, 0.0, 9.81], (t.size, 1)) + rng.normal(0, 0.02, (t.size, 3))
    lm = window_metrics(t, acc, np.zeros((t.size, 3)), sampling_rate_hz=200.0)
    assert lm.n_steps == 0 and math.isnan(lm.cadence_spm) and lm.note


def test_a_missing_core_is_said_not_faked(monkeypatch: pytest.MonkeyPatch) -> None:
    import gait.live._metrics as lm_module

    monkeypatch.setattr(lm_module, "_default_analyze", lambda: None)
    t = np.arange(0, 5, 0.01)
    lm = window_metrics(t, np.zeros((t.size, 3)), None, sampling_rate_hz=100.0)
    assert "not available" in lm.note and math.isnan(lm.cadence_spm)


def test_dashboard_shows_metrics_link_and_cues(tmp_path) -> None:
    view = LiveView(
        status="recording",
        device="LumbarIMU-1A2B",
        address="00:00:00:A0:00:01",
        elapsed_s=75.0,
        recorded_s=72.4,
        sampling_rate_hz=416.0,
        link=LinkStats(
            packets_ok=1500,
            packets_lost=3,
            samples_written=30000,
            samples_lost=57,
            gaps=1,
            reconnects=1,
            rssi_dbm=-61,
            drift_ppm=12.0,
        ),
        metrics=LiveMetrics(
            window_s=10.0,
            n_steps=28,
            cadence_spm=171.6,
            contact_time_s=0.252,
            vertical_oscillation_m=0.084,
            lean_deg=6.2,
            yaw_range_deg=11.0,
            cues=("overstriding: shorten your step",),
            note="",
        ),
        out=tmp_path / "run.csv",
    )
    console = Console(record=True, width=120)
    console.print(render(view))
    text = console.export_text()
    for needle in (
        "172 spm",
        "252 ms",
        "8.4 cm",
        "+6.2 deg",
        "11.0 deg",
        "overstriding: shorten your step",
        "lost 3 packets (0.14 s)",
        "1 gap,",
        "1 reconnect,",
        "RSSI -61 dBm",
        "clock +12 ppm",
        "0:01:12",
    ):
        assert needle in text, needle
    line = plain_line(view)
    assert "cadence 172 spm" in line and "overstriding" in line and "1 reconnect" in line


@pytest.mark.parametrize(("name", "value", "shown"), [("cadence_spm", math.nan, "-"), ("lean_deg", -2.04, "-2.0 deg")])
def test_format_metric(name: str, value: float, shown: str) -> None:
    assert format_metric(name, value) == shown


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("0:30:00", 1800), ("1:30", 90)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "0", "-5m", "1:2:3:4"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(GaitInputError, match="invalid duration"):
        parse_duration(text)


def test_lean_gets_its_reference_from_the_standing_at_the_start(sim) -> None:
    """A running window alone has no standing posture; the mounting from the start gives lean."""
    from gait.live import StartMounting

    s = sim.session
    sm = StartMounting(sampling_rate_hz=s.sampling_rate_hz, every_s=5.0)
    k = int(s.sampling_rate_hz)  # one-second chunks, as they stream in
    for i in range(0, int(35 * k), k):
        sm.add(s.t[i : i + k], s.acc[i : i + k])
        due = sm.due()
        if due is not None:
            sm.accept(sm.estimate(*due))
        if sm.done:
            break
    assert sm.result is not None and sm.result.vertical_source == "standing"
    m = (s.t >= 30.0) & (s.t < 40.0)
    alone = window_metrics(s.t[m], s.acc[m], s.gyr[m], sampling_rate_hz=s.sampling_rate_hz)
    given = window_metrics(s.t[m], s.acc[m], s.gyr[m], sampling_rate_hz=s.sampling_rate_hz, mounting=sm.result)
    assert math.isnan(alone.lean_deg) and math.isfinite(given.lean_deg)
    truth = sim.steps[(sim.steps["ic_s"] >= 30.0) & (sim.steps["ic_s"] < 39.0)]
    if "lean_deg" in truth.columns:
        assert given.lean_deg == pytest.approx(truth["lean_deg"].median(), abs=3.0)
    assert given.cadence_spm == pytest.approx(alone.cadence_spm, rel=0.02)


def test_a_fault_in_the_window_gives_its_cue() -> None:
    """The cues come from the fault catalogue (gait.faults.evaluate) on the window's analysis."""
    from gait import simulator
    from gait.live import StartMounting

    run = simulator.simulate(simulator.preset("heel_overstride"), duration_s=60, seed=3)
    s = run.session
    early = s.t < 40.0  # standing, walking, then running
    mounting = StartMounting(sampling_rate_hz=s.sampling_rate_hz).estimate(s.t[early], s.acc[early])
    w = (s.t >= 40.0) & (s.t < 50.0)
    lm = window_metrics(s.t[w], s.acc[w], s.gyr[w], sampling_rate_hz=s.sampling_rate_hz, mounting=mounting)
    assert "overstriding: shorten your step" in lm.cues
