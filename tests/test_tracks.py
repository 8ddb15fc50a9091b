"""Tracks from GPX, TCX and FIT files: readers, alignment to the session clock, per-step speed
against the simulator's exact speed profile, splits, pace in runners' units, malformed files.

GPX and FIT files are written here with the libraries' own writers (gpxpy, the Garmin FIT SDK's
``Encoder``); the TCX sample is a published Garmin export (``tests/data/README.md``)."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import warnings
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import gpxpy
import gpxpy.gpx
import jsonschema
import numpy as np
import pandas as pd
import pytest
from garmin_fit_sdk import Encoder, Profile
from hypothesis import given
from hypothesis import strategies as st

import gait
from gait.cli import main
from gait.errors import GaitDataWarning, GaitInputError
from gait.faults import ElevationTrack, assess
from gait.report import load_report_schema
from gait.tracks import Track, align_track, estimate_offset, read_track, split_table
from gait.units import format_duration, format_pace, pace_from_speed, parse_pace, speed_from_pace

from .fuzz_settings import fuzz

DATA = Path(__file__).parent / "data"
START = datetime(2024, 5, 1, 7, 0, 0, tzinfo=UTC)
MESG = Profile["mesg_num"]
LAT0, LON0 = 46.5, 7.0
M_PER_DEG_LAT = math.pi * 6371008.8 / 180.0


# ---------------------------------------------------------------------------------------
# writers (the libraries' own)
# ---------------------------------------------------------------------------------------
def write_fit(
    path: Path,
    t_s: np.ndarray,
    *,
    lat: np.ndarray | None = None,
    lon: np.ndarray | None = None,
    ele: np.ndarray | None = None,
    dist: np.ndarray | None = None,
    speed: np.ndarray | None = None,
    pauses: tuple[tuple[float, float], ...] = (),
    sub_sport: str = "generic",
    start: datetime = START,
) -> Path:
    """A FIT activity written with the Garmin FIT SDK's encoder (times: s after ``start``)."""
    enc = Encoder()
    enc.write_mesg(
        {
            "mesg_num": MESG["FILE_ID"],
            "type": "activity",
            "manufacturer": "development",
            "product": 0,
            "time_created": start,
            "serial_number": 1234,
        }
    )
    enc.write_mesg(
        {"mesg_num": MESG["EVENT"], "timestamp": start, "event": "timer", "event_type": "start", "event_group": 0}
    )
    events = [(a, "stop_all") for a, _ in pauses] + [(b, "start") for _, b in pauses]
    ev = sorted(events)
    for k, t in enumerate(t_s):
        while ev and ev[0][0] <= t:
            te, kind = ev.pop(0)
            enc.write_mesg(
                {
                    "mesg_num": MESG["EVENT"],
                    "timestamp": start + timedelta(seconds=float(te)),
                    "event": "timer",
                    "event_type": kind,
                    "event_group": 0,
                }
            )
        rec = {"mesg_num": MESG["RECORD"], "timestamp": start + timedelta(seconds=float(t))}
        if lat is not None and lon is not None:
            rec["position_lat"] = round(float(lat[k]) / 180.0 * 2**31)
            rec["position_long"] = round(float(lon[k]) / 180.0 * 2**31)
        if ele is not None:
            rec["enhanced_altitude"] = float(ele[k])
        if dist is not None:
            rec["distance"] = float(dist[k])
        if speed is not None:
            rec["enhanced_speed"] = float(speed[k])
        enc.write_mesg(rec)
    enc.write_mesg(
        {
            "mesg_num": MESG["SESSION"],
            "timestamp": start + timedelta(seconds=float(t_s[-1])),
            "start_time": start,
            "sport": "running",
            "sub_sport": sub_sport,
            "total_elapsed_time": float(t_s[-1]),
        }
    )
    path.write_bytes(enc.close())
    return path


def write_gpx(
    path: Path,
    t_s: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    ele: np.ndarray | None = None,
    *,
    segments: list[slice] | None = None,
    start: datetime = START,
) -> Path:
    """A GPX 1.1 track written with gpxpy."""
    g = gpxpy.gpx.GPX()
    trk = gpxpy.gpx.GPXTrack()
    g.tracks.append(trk)
    for sl in segments or [slice(None)]:
        seg = gpxpy.gpx.GPXTrackSegment()
        trk.segments.append(seg)
        idx = np.arange(t_s.size)[sl]
        for k in idx:
            seg.points.append(
                gpxpy.gpx.GPXTrackPoint(
                    float(lat[k]),
                    float(lon[k]),
                    elevation=None if ele is None else float(ele[k]),
                    time=start + timedelta(seconds=float(t_s[k])),
                )
            )
    path.write_text(g.to_xml(version="1.1"), encoding="utf-8")
    return path


def write_tcx(path: Path, t_s: np.ndarray, dist: np.ndarray, speed: np.ndarray | None = None) -> Path:
    """A TCX activity (Garmin TrainingCenterDatabase v2, ActivityExtension v2 speed)."""
    ns = "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"
    ext = "http://www.garmin.com/xmlschemas/ActivityExtension/v2"
    root = ET.Element(f"{{{ns}}}TrainingCenterDatabase")
    act = ET.SubElement(ET.SubElement(root, f"{{{ns}}}Activities"), f"{{{ns}}}Activity", Sport="Running")
    ET.SubElement(act, f"{{{ns}}}Id").text = START.isoformat()
    track = ET.SubElement(ET.SubElement(act, f"{{{ns}}}Lap", StartTime=START.isoformat()), f"{{{ns}}}Track")
    for k, t in enumerate(t_s):
        tp = ET.SubElement(track, f"{{{ns}}}Trackpoint")
        ET.SubElement(tp, f"{{{ns}}}Time").text = (
            (START + timedelta(seconds=float(t))).isoformat().replace("+00:00", "Z")
        )
        ET.SubElement(tp, f"{{{ns}}}DistanceMeters").text = f"{dist[k]:.3f}"
        if speed is not None:
            tpx = ET.SubElement(ET.SubElement(tp, f"{{{ns}}}Extensions"), f"{{{ext}}}TPX")
            ET.SubElement(tpx, f"{{{ext}}}Speed").text = f"{speed[k]:.4f}"
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


# ---------------------------------------------------------------------------------------
# a simulated run and its exact track
# ---------------------------------------------------------------------------------------
def truth_track(sim, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact distance and speed of the simulated runner at times ``t_s`` (session clock)."""
    s = sim.steps.sort_values("ic_s")
    ic = s["ic_s"].to_numpy(float)
    v = s["speed_mps"].to_numpy(float)
    length = v * s["step_time_s"].to_numpy(float)
    d_ic = np.concatenate([[0.0], np.cumsum(length)])
    t_ic = np.concatenate([ic, [ic[-1] + s["step_time_s"].to_numpy(float)[-1]]])
    dist = np.interp(t_s, t_ic, d_ic)
    k = np.searchsorted(ic, t_s, side="right") - 1
    inside = (k >= 0) & (t_s < t_ic[-1])
    speed = np.where(inside, v[np.clip(k, 0, v.size - 1)], 0.0)
    return dist, speed


@pytest.fixture(scope="module")
def run():
    """A 4-minute simulated run with a warm-up and a 25 % surge, started at 07:00:00 UTC."""
    sim = gait.simulate(duration_s=240.0, seed=7, sampling_rate_hz=100.0, speed_mps=3.2, surges=((120.0, 40.0, 1.25),))
    session = dataclasses.replace(sim.session, meta=dataclasses.replace(sim.session.meta, start_time=START.isoformat()))
    t = np.arange(0.0, float(session.t[-1]) + 1.0, 1.0)
    dist, speed = truth_track(sim, t)
    return sim, session, t, dist, speed


def matched(a, sim, *, with_times: bool = False):
    """Per-step speed of the analysis and of the truth (and the contact times), for running
    steps matched within 40 ms."""
    est = a.running_steps
    tr = sim.steps[sim.steps["activity"] == "running"]
    ti = tr["ic_s"].to_numpy(float)
    k = np.clip(np.searchsorted(ti, est["ic_s"].to_numpy(float)), 1, ti.size - 1)
    near = np.where(np.abs(ti[k] - est["ic_s"]) < np.abs(ti[k - 1] - est["ic_s"]), k, k - 1)
    ok = np.abs(ti[near] - est["ic_s"].to_numpy(float)) < 0.04
    out = est["speed_mps"].to_numpy(float)[ok], tr["speed_mps"].to_numpy(float)[near[ok]]
    return (*out, est["ic_s"].to_numpy(float)[ok]) if with_times else out


def north(dist: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of a runner going due north ``dist`` metres from (LAT0, LON0)."""
    return LAT0 + dist / M_PER_DEG_LAT, np.full(dist.size, LON0)


# ---------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------
class TestReaders:
    def test_fit_with_device_records(self, run, tmp_path):
        _, _, t, dist, speed = run
        lat, lon = north(dist)
        p = write_fit(tmp_path / "w.fit", t, lat=lat, lon=lon, ele=400 + 0.01 * dist, dist=dist, speed=speed)
        tr = read_track(p)
        assert tr.format == "fit" and tr.clock == "utc" and tr.sport == "running"
        assert tr.t_s[0] == START.timestamp() and tr.t_s.size == t.size
        np.testing.assert_allclose(tr.distance_m, dist, atol=0.006)  # FIT stores cm
        np.testing.assert_allclose(tr.speed_mps, speed, atol=0.0006)  # and mm/s
        np.testing.assert_allclose(tr.lat_deg, lat, atol=1e-7)  # semicircles: 8e-8 deg
        np.testing.assert_allclose(tr.elevation_m, 400 + 0.01 * dist, atol=0.11)  # 0.2 m steps
        assert tr.fields["speed_mps"].startswith("device speed") and tr.fields["distance_m"].startswith("device")

    def test_treadmill_fit_has_no_positions(self, tmp_path):
        t = np.arange(0.0, 300.0, 1.0)
        p = write_fit(tmp_path / "tm.fit", t, dist=3.0 * t, speed=np.full(t.size, 3.0), sub_sport="treadmill")
        tr = read_track(p)
        assert tr.lat_deg is None and tr.lon_deg is None and tr.elevation_m is None
        assert tr.sport == "running/treadmill" and "position" not in tr.fields
        assert tr.distance_m[-1] == pytest.approx(3.0 * 299.0, abs=0.01)
        assert tr.speed_at(np.array([100.0 + START.timestamp()]))[0] == pytest.approx(3.0, abs=1e-3)

    def test_fit_pauses(self, tmp_path):
        t = np.concatenate([np.arange(0.0, 101.0), np.arange(160.0, 400.0)])
        d = np.where(t <= 100, 3.0 * t, 300.0 + 3.0 * (t - 160.0))
        p = write_fit(tmp_path / "p.fit", t, dist=d, speed=np.full(t.size, 3.0), pauses=((100.0, 160.0),))
        tr = read_track(p)
        t0 = START.timestamp()
        assert tr.pauses_s == ((t0 + 100.0, t0 + 160.0),)
        assert np.isnan(tr.speed_at(np.array([t0 + 130.0])))[0]
        assert tr.speed_at(np.array([t0 + 170.0]))[0] == pytest.approx(3.0, abs=1e-3)
        assert tr.distance_between(np.array([t0 + 90.0]), np.array([t0 + 170.0]))[0] == pytest.approx(60.0, abs=0.02)
        assert any("pause" in n for n in tr.notes)

    def test_gpx_speed_from_positions(self, run, tmp_path):
        _, _, t, dist, speed = run
        lat, lon = north(dist)
        tr = read_track(write_gpx(tmp_path / "r.gpx", t, lat, lon, 300 + 0 * t))
        assert tr.format == "gpx" and "positions" in tr.fields["distance_m"]
        # gpxpy writes the coordinates in full: the summed great-circle distance is within 0.2 m
        assert tr.distance_m[-1] == pytest.approx(dist[-1], abs=0.2)
        steady = (t > 100) & (t < 115)  # constant speed, away from the warm-up and the surge
        np.testing.assert_allclose(tr.speed_mps[steady], speed[steady], atol=0.01)

    def test_gpx_segments_are_pauses_when_the_clock_jumps(self, tmp_path):
        t = np.concatenate([np.arange(0.0, 60.0), np.arange(120.0, 200.0)])
        d = np.where(t < 60, 3.0 * t, 3.0 * (t - 60.0) + 500.0)  # the runner moved 320 m while paused
        lat, lon = north(d)
        tr = read_track(write_gpx(tmp_path / "s.gpx", t, lat, lon, segments=[slice(0, 60), slice(60, None)]))
        t0 = START.timestamp()
        assert tr.pauses_s == ((t0 + 59.0, t0 + 120.0),)
        assert tr.distance_m[-1] == pytest.approx(3.0 * 59 + 3.0 * 79, abs=0.3)  # nothing across the pause

    def test_published_tcx(self):
        tr = read_track(DATA / "forerunner410_excerpt.tcx")
        assert tr.format == "tcx" and tr.sport == "Running" and tr.t_s.size == 11
        assert tr.t_s[0] == datetime(2012, 12, 26, 21, 29, 53, tzinfo=UTC).timestamp()
        assert tr.distance_m[-1] == pytest.approx(68.855758667)
        assert tr.elevation_m[3] == pytest.approx(177.500610352) and tr.lat_deg[0] == pytest.approx(35.951880198)
        assert tr.fields["distance_m"].startswith("device distance")
        assert tr.fields["speed_mps"] == "distance over a centred 10 s window"
        # 13.003 - 1.107 m in the 10 s around 21:30:04 (interpolated between 21:29:59 and 21:30:09)
        assert 1.5 < tr.speed_mps[3] < 2.6

    def test_tcx_speed_extension(self, tmp_path):
        t = np.arange(0.0, 60.0)
        tr = read_track(write_tcx(tmp_path / "s.tcx", t, 3.5 * t, np.full(t.size, 3.5)))
        assert tr.fields["speed_mps"].startswith("device speed")
        np.testing.assert_allclose(tr.speed_mps, 3.5)

    def test_csv_on_the_session_clock(self, tmp_path):
        p = tmp_path / "e.csv"
        p.write_text("t_s,elevation_m,distance_m\n0,100,0\n10,101,30\n20,102,60\n")
        tr = read_track(p)
        assert tr.clock == "session" and tr.format == "csv"
        np.testing.assert_allclose(tr.speed_mps, 3.0)

    def test_elevation_track_is_a_track(self, tmp_path):
        tr = ElevationTrack(np.arange(0.0, 10.0), np.zeros(10))
        assert isinstance(tr, Track) and tr.speed_mps is None
        g, how = tr.grade_pct(np.array([5.0]), speed_mps=2.0)
        assert g[0] == 0.0 and "2.00 m/s" in how


# ---------------------------------------------------------------------------------------
# alignment and per-step speed
# ---------------------------------------------------------------------------------------
class TestAlignment:
    def test_per_step_speed_equals_the_truth(self, run, tmp_path):
        sim, session, t, dist, speed = run
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed))
        a = gait.analyze(session, speed=tr)
        est, truth = matched(a, sim)
        err = np.abs(est - truth)
        assert est.size > 500
        # the device's 1 Hz speed, interpolated at each contact: exact where the speed is steady,
        # within a ramp of the warm-up or the surge off by at most the change over one second
        assert np.median(err) < 0.002 and np.percentile(err, 95) < 0.01
        assert err.max() < 0.45  # the surge's 2 s ramp adds 0.8 m/s
        sl = a.running_steps
        np.testing.assert_allclose(sl["step_length_m"], sl["speed_mps"] * sl["step_time_s"])
        np.testing.assert_allclose(sl["vertical_ratio_pct"], 100 * sl["vertical_oscillation_m"] / sl["step_length_m"])
        run_truth = sim.steps[sim.steps["activity"] == "running"]
        d_true = float((run_truth["speed_mps"] * run_truth["step_time_s"]).sum())
        assert a.summary["distance_m"] == pytest.approx(d_true, rel=0.01)
        assert a.track is not None and "start time" in a.track.alignment

    def test_speed_from_positions_only(self, run, tmp_path):
        sim, session, t, dist, _ = run
        lat, lon = north(dist)
        a = gait.analyze(session, speed=read_track(write_gpx(tmp_path / "r.gpx", t, lat, lon)))
        est, truth, ic = matched(a, sim, with_times=True)
        # where the true speed is steady over the 10 s window (+- 1 s), distance over time is exact
        grid = ic[:, None] + np.arange(-6.0, 6.5, 0.5)
        _, v = truth_track(sim, grid.ravel())
        v = v.reshape(grid.shape)
        steady = v.max(axis=1) - v.min(axis=1) < 0.02
        assert steady.sum() > 0.4 * ic.size  # the 90 s warm-up and the surge are not steady
        np.testing.assert_allclose(est[steady], truth[steady], atol=0.01)
        # near a change of pace the window smooths it: off by less than the change itself
        assert np.all(np.abs(est - truth)[~steady] <= (v.max(axis=1) - v.min(axis=1))[~steady] + 0.01)

    def test_offset_fixes_a_clock_difference(self, run, tmp_path):
        sim, session, t, dist, speed = run
        # the watch's clock is 25 s behind: its records carry times 25 s too early
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed, start=START - timedelta(seconds=25)))
        off = gait.analyze(session, speed=tr)
        fixed = gait.analyze(session, speed=align_track(tr, session, offset_s=25.0))
        e_off = np.abs(np.subtract(*matched(off, sim)))
        e_fix = np.abs(np.subtract(*matched(fixed, sim)))
        assert np.nanpercentile(e_off, 95) > 0.1  # the surge lands 25 s early
        assert np.isnan(e_off).sum() > 20  # the first steps: the watch says the runner is still walking
        assert np.percentile(e_fix, 95) < 0.01 and np.median(e_fix) < 0.002
        assert "+25 s" in fixed.track.alignment and fixed.track.offset_s == 25.0

    def test_no_overlap_says_by_how_much(self, run, tmp_path):
        _, session, t, dist, speed = run
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed, start=START - timedelta(hours=3)))
        with pytest.raises(
            GaitInputError, match=r"do not overlap.*ends 2:5\d:\d\d \(h:mm:ss\) before the session starts"
        ) as e:
            align_track(tr, session)
        assert "--track-offset-s 10800 lines up the two starts" in str(e.value)
        assert "time-zone" in str(e.value)

    def test_naive_start_time_is_local_time(self, run, tmp_path):
        _, session, t, dist, speed = run
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed))
        naive = START.astimezone().replace(tzinfo=None).isoformat()
        s2 = dataclasses.replace(session, meta=dataclasses.replace(session.meta, start_time=naive))
        al = align_track(tr, s2)
        assert "no time zone" in al.alignment and al.t_s[0] == pytest.approx(0.0, abs=1e-6)

    def test_no_start_time_takes_the_first_point_and_warns(self, run, tmp_path):
        _, session, t, dist, speed = run
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed))
        s2 = dataclasses.replace(session, meta=dataclasses.replace(session.meta, start_time=None))
        with pytest.warns(GaitDataWarning, match="no start time"):
            al = align_track(tr, s2, offset_s=3.0)
        assert al.t_s[0] == pytest.approx(float(session.t[0]) + 3.0) and "first FIT point" in al.alignment

    def test_steps_in_a_pause_have_no_speed(self, run, tmp_path):
        _, session, t, dist, speed = run
        keep = (t < 150) | (t > 170)
        tr = read_track(
            write_fit(tmp_path / "p.fit", t[keep], dist=dist[keep], speed=speed[keep], pauses=((149.0, 171.0),))
        )
        a = gait.analyze(session, speed=tr)
        rs = a.running_steps
        inside = (rs["ic_s"] > 149.0) & (rs["ic_s"] < 171.0)
        assert inside.sum() > 40 and rs.loc[inside, "speed_mps"].isna().all()
        assert rs.loc[~inside, "speed_mps"].notna().mean() > 0.99

    def test_speed_given_twice_and_track_without_speed(self, run):
        _, session, *_ = run
        with pytest.raises(GaitInputError, match="speed given twice"):
            gait.analyze(session, speed=3.0, speed_mps=3.0)
        with pytest.raises(GaitInputError, match="no speed in the track"):
            gait.analyze(session, speed=ElevationTrack(np.arange(0.0, 300.0), np.zeros(300)))

    def test_downhill_from_the_same_fit(self, tmp_path):
        sim = gait.simulate(
            duration_s=150.0, seed=31, speed_mps=3.0, sampling_rate_hz=100.0, slopes=((40.0, 80.0, -6.0),)
        )
        session = dataclasses.replace(
            sim.session, meta=dataclasses.replace(sim.session.meta, start_time=START.isoformat())
        )
        t = np.arange(0.0, float(session.t[-1]) + 1.0)
        dist, speed = truth_track(sim, t)
        st = sim.steps
        dz = np.tan(np.radians(st["slope_deg"])) * st["speed_mps"] * st["step_time_s"]
        z = 200.0 + np.interp(t, st["ic_s"], np.concatenate([[0.0], np.cumsum(dz)])[:-1])
        tr = align_track(read_track(write_fit(tmp_path / "h.fit", t, dist=dist, speed=speed, ele=z)), session)
        a = gait.analyze(session, speed=tr)
        f = next(f for f in assess(a, elevation=tr).findings if f.fault == "downhill")
        assert f.severity == "high" and "h.fit" in f.evidence[0].display


@pytest.fixture(
    scope="module",
    params=[
        {"duration_s": 240.0, "seed": 7, "speed_mps": 3.2, "surges": ((120.0, 40.0, 1.25),)},
        {"duration_s": 400.0, "seed": 2, "speed_mps": 2.6},  # warm-up only
        {"duration_s": 400.0, "seed": 5, "speed_mps": 4.0, "warmup_s": 0.0, "mounting": "random"},  # no warm-up
    ],
    ids=["surge", "warmup", "steady"],
)
def case(request):
    """Simulated runs that differ in speed, warm-up, surges and mounting, and their analyses."""
    sim = gait.simulate(sampling_rate_hz=100.0, **request.param)
    session = dataclasses.replace(sim.session, meta=dataclasses.replace(sim.session.meta, start_time=START.isoformat()))
    t = np.arange(0.0, float(session.t[-1]) + 1.0)
    return sim, session, t, *truth_track(sim, t), gait.analyze(session)


class TestEstimateOffset:
    """The offset found from the run: starts, stops and changes of pace seen by both."""

    @pytest.mark.parametrize("offset", [-40, 13, 75])
    def test_finds_the_offset(self, case, offset, tmp_path):
        _, session, t, dist, speed, a = case
        tr = read_track(
            write_fit(tmp_path / "w.fit", t, dist=dist, speed=speed, start=START - timedelta(seconds=offset))
        )
        est = estimate_offset(a, align_track(tr, session))
        assert est.offset_s == pytest.approx(offset, abs=0.5), est.reason
        assert est.correlation > 0.5 and est.correlation - est.runner_up > 0.1

    def test_noisy_smoothed_gps_speed(self, case, tmp_path):
        _, session, t, dist, speed, a = case
        rng = np.random.default_rng(1)
        noisy = np.clip(np.convolve(speed, np.ones(5) / 5, mode="same") + rng.normal(0, 0.1, t.size), 0, None)
        tr = read_track(write_fit(tmp_path / "w.fit", t, dist=dist, speed=noisy, start=START - timedelta(seconds=21)))
        est = estimate_offset(a, align_track(tr, session))
        assert est.offset_s == pytest.approx(21, abs=1.0), est.reason

    def test_nothing_to_line_up_is_refused(self, case, tmp_path):
        _, session, t, dist, speed, a = case
        rng = np.random.default_rng(2)
        mid = (t > 0.45 * t[-1]) & (t < t[-1] - 25)  # steady running only, with GPS noise
        noisy = speed[mid] + rng.normal(0, 0.1, mid.sum())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)  # the track covers half the session
            tr = align_track(read_track(write_fit(tmp_path / "m.fit", t[mid], dist=dist[mid], speed=noisy)), session)
        est = estimate_offset(a, tr)
        assert est.offset_s is None and ("no clear match" in est.reason or "ambiguous" in est.reason)


# ---------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------
def _steps(n: int, *, speed: float, step_time: float, t0: float = 10.0) -> pd.DataFrame:
    ic = t0 + step_time * np.arange(n)
    d = speed * step_time * np.arange(n)
    km = np.floor(d / 1000.0)
    return pd.DataFrame(
        {
            "ic_s": ic,
            "activity": "running",
            "valid": True,
            "step_time_s": step_time,
            "speed_mps": speed,
            "step_length_m": speed * step_time,
            "cadence_spm": 60.0 / step_time,
            "contact_time_s": 0.20 + 0.01 * km,
            "vertical_oscillation_m": 0.08,
        }
    )


class TestSplits:
    def test_exact_at_constant_speed(self):
        steps = _steps(2500, speed=4.0, step_time=0.35)  # 1.4 m steps, 3500 m
        sp = split_table(steps)
        assert list(sp["split"]) == [1, 2, 3, 4] and list(sp["complete"]) == [True, True, True, False]
        np.testing.assert_allclose(sp["distance_m"], [1000, 1000, 1000, 500], atol=1e-9)
        np.testing.assert_allclose(sp["duration_s"], [250, 250, 250, 125], atol=1e-9)
        np.testing.assert_allclose(sp["start_s"], [10, 260, 510, 760], atol=1e-9)
        np.testing.assert_allclose(sp["pace_s_per_km"], 250.0, atol=1e-9)
        np.testing.assert_allclose(sp["contact_time_s"], [0.20, 0.21, 0.22, 0.23], atol=1e-12)
        np.testing.assert_allclose(sp["cadence_spm"], 60 / 0.35)
        assert sp["elevation_gain_m"].isna().all()

    def test_a_remainder_under_one_percent_is_left_out(self):
        sp = split_table(_steps(2143, speed=4.0, step_time=0.35))  # 3000.2 m
        assert list(sp["complete"]) == [True, True, True]
        sp = split_table(_steps(2150, speed=4.0, step_time=0.35))  # 3010 m
        assert sp["distance_m"].iloc[-1] == pytest.approx(10.0) and not sp["complete"].iloc[-1]

    def test_miles(self):
        sp = split_table(_steps(2500, speed=4.0, step_time=0.35), unit="mi")
        assert list(sp["complete"]) == [True, True, False]
        assert sp["distance_m"].iloc[2] == pytest.approx(3500 - 2 * 1609.344)
        assert sp["duration_s"].iloc[0] == pytest.approx(1609.344 / 4.0)
        assert sp["pace_s_per_mi"].iloc[0] == pytest.approx(1609.344 / 4.0)

    def test_track_distance_and_pauses(self):
        # the watch paused 60 s at 100 s: distance stays at 400 m, the split's time excludes it
        t = np.concatenate([np.arange(0.0, 101.0), np.arange(160.0, 600.0)])
        d = np.where(t <= 100, 4.0 * t, 400.0 + 4.0 * (t - 160.0))
        tr = Track(t, distance_m=d, speed_mps=np.full(t.size, 4.0), pauses_s=((100.0, 160.0),))
        steps = _steps(1700, speed=4.0, step_time=0.35, t0=0.0)
        steps["speed_mps"] = tr.speed_at(steps["ic_s"].to_numpy())
        sp = split_table(steps, track=tr)
        assert sp["end_s"].iloc[0] == pytest.approx(310.0) and sp["duration_s"].iloc[0] == pytest.approx(250.0)
        assert sp["pace_s_per_km"].iloc[0] == pytest.approx(250.0)
        assert sp["duration_s"].iloc[1] == pytest.approx(250.0)

    def test_no_speed_no_splits(self):
        steps = _steps(100, speed=4.0, step_time=0.35)
        steps["speed_mps"] = np.nan
        assert split_table(steps).empty
        with pytest.raises(GaitInputError, match="'km' or 'mi'"):
            split_table(steps, unit="furlong")


# ---------------------------------------------------------------------------------------
# pace in runners' units
# ---------------------------------------------------------------------------------------
class TestPace:
    @pytest.mark.parametrize(
        ("text", "mps"),
        [
            ("5:00/km", 1000 / 300),
            ("5:30 /km", 1000 / 330),
            ("5:30 min/km", 1000 / 330),
            ("8:50/mi", 1609.344 / 530),
            ("8:50 per mile", 1609.344 / 530),
            ("12 km/h", 12 / 3.6),
            ("12kph", 12 / 3.6),
            ("7.5 mph", 7.5 * 1609.344 / 3600),
            ("3.3 m/s", 3.3),
            ("4:59.5/km", 1000 / 299.5),
        ],
    )
    def test_parse(self, text, mps):
        assert parse_pace(text) == pytest.approx(mps, rel=1e-12)

    @pytest.mark.parametrize(
        ("text", "match"),
        [("5.5", "not a pace or a speed"), ("5:75/km", "not a pace"), ("0:30/km", "not a running pace"), ("fast", "")],
    )
    def test_refused(self, text, match):
        with pytest.raises(GaitInputError, match=f"parameter '--pace'.*{match}"):
            parse_pace(text)

    @given(st.integers(min_value=135, max_value=3599), st.sampled_from(["km", "mi"]))
    def test_whole_second_paces_round_trip(self, seconds, unit):
        v = speed_from_pace(seconds, unit)
        text = format_pace(v, unit)
        assert text == f"{seconds // 60}:{seconds % 60:02d}/{unit}"
        assert parse_pace(text) == pytest.approx(v, rel=1e-12)

    @given(st.floats(min_value=0.5, max_value=11.9))
    def test_any_speed_round_trips_to_the_second(self, v):
        back = parse_pace(format_pace(v, "km"))
        assert abs(pace_from_speed(back) - pace_from_speed(v)) <= 0.5 + 1e-9

    def test_formats(self):
        assert format_pace(1000 / 330) == "5:30/km" and format_pace(0.0) == "n/a" and format_pace(float("nan")) == "n/a"
        assert format_duration(3725) == "1:02:05" and format_duration(59.6) == "1:00"


# ---------------------------------------------------------------------------------------
# malformed files
# ---------------------------------------------------------------------------------------
class TestMalformed:
    @pytest.mark.parametrize(
        ("name", "text", "match"),
        [
            ("a.gpx", "<gpx><trk>", "not a valid GPX file"),
            ("a.gpx", "<gpx><trk><trkseg><trkpt lat='x' lon='2'/></trkseg></trk></gpx>", "not a valid GPX"),
            ("a.gpx", "<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkpt></trkseg></trk></gpx>", "too few track points"),
            (
                "a.gpx",
                "<gpx><trk><trkseg>"
                "<trkpt lat='91' lon='2'><time>2024-05-01T07:00:00Z</time></trkpt>"
                "<trkpt lat='1' lon='2'><time>2024-05-01T07:00:01Z</time></trkpt></trkseg></trk></gpx>",
                r"latitude out of range.*found 91 deg at trkpt 1",
            ),
            (
                "a.gpx",
                "<gpx><trk><trkseg>"
                "<trkpt lat='1' lon='2'><time>2024-05-01T07:00:05Z</time></trkpt>"
                "<trkpt lat='1' lon='2'><time>2024-05-01T07:00:01Z</time></trkpt></trkseg></trk></gpx>",
                r"time goes backwards.*trkpt 1 at 2024-05-01T07:00:05Z then trkpt 2",
            ),
            ("a.tcx", "<TrainingCenterDatabase><Activities>", r"line 1.*not valid XML"),
            (
                "a.tcx",
                "<TrainingCenterDatabase>\n<Activities><Activity><Lap><Track><Trackpoint>\n"
                "<Time>2024-05-01T07:00:00Z</Time><DistanceMeters>ten</DistanceMeters></Trackpoint>"
                "</Track></Lap></Activity></Activities></TrainingCenterDatabase>",
                r"line 3, column 'DistanceMeters'.*not a number.*'ten'",
            ),
            (
                "a.tcx",
                "<TrainingCenterDatabase><Activities><Activity><Lap><Track><Trackpoint>"
                "<Time>noon</Time></Trackpoint></Track></Lap></Activity></Activities></TrainingCenterDatabase>",
                r"column 'Time'.*not a time.*'noon'",
            ),
            ("a.tcx", "<Workouts/>", "not a TCX file"),
            ("a.fit", "0123456789ABCDEF", "not a FIT file"),
            ("a.csv", "t_s,height\n0,1\n1,2\n", "missing column"),
            ("a.csv", "t_s,speed_mps\n0,1\n1,-2\n", r"line 3, column 'speed_mps'.*negative speed"),
        ],
    )
    def test_clear_errors(self, tmp_path, name, text, match):
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(GaitInputError, match=match) as e:
            read_track(p)
        assert str(p) in str(e.value)

    def test_missing_file(self, tmp_path):
        with pytest.raises(GaitInputError, match="not found"):
            read_track(tmp_path / "nope.fit")

    def test_cut_off_fit_reads_what_is_there(self, tmp_path):
        t = np.arange(0.0, 120.0)
        data = write_fit(tmp_path / "w.fit", t, dist=3.0 * t, speed=np.full(t.size, 3.0)).read_bytes()
        p = tmp_path / "cut.fit"
        p.write_bytes(data[: len(data) // 2])
        with pytest.warns(GaitDataWarning, match="damaged or cut-off"):
            tr = read_track(p)
        assert 30 < tr.t_s.size < 90 and np.isfinite(tr.speed_mps).all()
        p.write_bytes(data[:20])
        with pytest.raises(GaitInputError, match=r"damaged FIT file|cannot decode"):
            read_track(p)


_VALID: dict[str, bytes] = {}


def _valid_files(tmp: Path) -> dict[str, bytes]:
    t = np.arange(0.0, 30.0)
    d = 3.0 * t
    lat, lon = north(d)
    return {
        "fit": write_fit(tmp / "v.fit", t, lat=lat, lon=lon, dist=d, speed=np.full(t.size, 3.0)).read_bytes(),
        "gpx": write_gpx(tmp / "v.gpx", t, lat, lon, 100 + 0 * t).read_bytes(),
        "tcx": (DATA / "forerunner410_excerpt.tcx").read_bytes(),
    }


def _check(tr: Track) -> None:
    for name in ("t_s", "elevation_m", "distance_m", "speed_mps", "lat_deg", "lon_deg"):
        v = getattr(tr, name)
        assert v is None or np.isfinite(v).all()
    assert (np.diff(tr.t_s) > 0).all()


@fuzz
@given(kind=st.sampled_from(["fit", "gpx", "tcx"]), data=st.data())
def test_fuzz_mutated_files_give_a_track_or_a_clear_error(tmp_path_factory, kind, data):
    tmp = tmp_path_factory.getbasetemp() / "fuzz_tracks"
    tmp.mkdir(exist_ok=True)
    if not _VALID:
        _VALID.update(_valid_files(tmp))
    raw = bytearray(_VALID[kind])
    n = data.draw(st.integers(min_value=1, max_value=8))
    for _ in range(n):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(min_value=0, max_value=max(len(raw) - 1, 0)))
        if op == "flip" and raw:
            raw[pos] = data.draw(st.integers(min_value=0, max_value=255))
        elif op == "cut":
            del raw[pos : pos + data.draw(st.integers(min_value=1, max_value=64))]
        else:
            raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    p = tmp / f"m.{kind}"
    p.write_bytes(bytes(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        try:
            tr = read_track(p)
        except GaitInputError as e:
            assert str(p) in str(e)
            return
    _check(tr)


# ---------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def files(run, tmp_path_factory):
    """The simulated run as a session file, and its watch's FIT file."""
    _, session, t, dist, speed = run
    tmp = tmp_path_factory.mktemp("cli")
    gait.save_session(session, tmp / "run.csv.gz")
    lat, lon = north(dist)
    write_fit(tmp / "w.fit", t, lat=lat, lon=lon, ele=300 + 0 * t, dist=dist, speed=speed)
    return tmp


class TestCli:
    def test_analyze_with_a_track(self, files, capsys):
        assert (
            main(
                [
                    "analyze",
                    str(files / "run.csv.gz"),
                    "--no-history",
                    "--track",
                    str(files / "w.fit"),
                    "--json",
                    str(files / "r.json"),
                    "--html",
                    str(files / "r.html"),
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "track: w.fit (FIT" in out and "Splits (per km" in out and "/km" in out
        doc = json.loads((files / "r.json").read_text())
        jsonschema.Draft202012Validator(load_report_schema()).validate(doc)
        run = doc["runs"][0]
        assert run["activity"]["speed_source"] == "track" and run["track"]["format"] == "fit"
        (row,) = run["splits"]["rows"]  # about 700 m: one incomplete kilometre
        assert run["splits"]["unit"] == "km" and row["complete"] is False
        assert row["distance_m"] == pytest.approx(run["activity"]["distance_m"], rel=0.02)
        assert row["pace_s_per_km"] == pytest.approx(1000 / 3.2, rel=0.12)
        html = (files / "r.html").read_text()
        assert "Splits (per km)" in html

    def test_pace_and_miles(self, files, capsys):
        assert main(["analyze", str(files / "run.csv.gz"), "--no-history", "--pace", "8:23/mi"]) == 0
        out = capsys.readouterr().out
        assert "Splits (per mi" in out and "8:23/mi" in out

    def test_pace_and_speed_are_exclusive(self, files, capsys):
        assert (
            main(["analyze", str(files / "run.csv.gz"), "--no-history", "--pace", "5:00/km", "--speed-mps", "3"]) == 2
        )
        assert "speed given twice" in capsys.readouterr().err

    def test_offset_and_no_overlap(self, files, capsys):
        code = main(
            [
                "analyze",
                str(files / "run.csv.gz"),
                "--no-history",
                "--track",
                str(files / "w.fit"),
                "--track-offset-s",
                "-7200",
            ]
        )
        assert code == 2
        err = capsys.readouterr().err
        assert "do not overlap" in err and "--track-offset-s 0 lines up" in err

    def test_auto_offset(self, run, files, capsys):
        _, _, t, dist, speed = run
        write_fit(files / "late.fit", t, dist=dist, speed=speed, start=START - timedelta(seconds=30))
        args = ["analyze", str(files / "run.csv.gz"), "--no-history", "--track", str(files / "late.fit")]
        assert main([*args, "--track-offset-s", "auto", "--json", str(files / "auto.json")]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert re.search(r"track offset: \+(29\.[5-9]|30\.[0-5]) s, found from the run \(correlation", out)
        tr = json.loads((files / "auto.json").read_text())["runs"][0]["track"]
        assert tr["offset_s"] == pytest.approx(30.0, abs=0.5) and "found from the run" in tr["alignment"]
        with pytest.raises(SystemExit):  # argparse: not a number and not 'auto'
            main([*args, "--track-offset-s", "soon"])
        assert "expected a number of seconds or 'auto', found 'soon'" in capsys.readouterr().err

    def test_auto_offset_refused_keeps_the_start_times(self, run, files, capsys):
        _, _, t, dist, _ = run
        rng = np.random.default_rng(3)
        flat = np.clip(3.2 + rng.normal(0, 0.1, t.size), 0, None)  # shows none of the run's changes
        write_fit(files / "flat.fit", t, dist=dist, speed=flat, ele=100 + 0 * t)
        args = ["analyze", str(files / "run.csv.gz"), "--no-history", "--track", str(files / "flat.fit")]
        assert main([*args, "--track-offset-s", "auto", "--json", str(files / "flat.json")]) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert "track offset: not found from the run (no clear match" in out and "none applied" in out
        tr = json.loads((files / "flat.json").read_text())["runs"][0]["track"]
        assert tr["offset_s"] == 0.0 and "found from the run" not in tr["alignment"]

    def test_elevation_is_an_alias(self, files, capsys):
        assert main(["analyze", str(files / "run.csv.gz"), "--no-history", "--elevation", str(files / "w.fit")]) == 0
        assert "Splits (per km" in capsys.readouterr().out
        assert (
            main(
                [
                    "analyze",
                    str(files / "run.csv.gz"),
                    "--no-history",
                    "--elevation",
                    str(files / "w.fit"),
                    "--track",
                    str(files / "w.fit"),
                ]
            )
            == 2
        )


@fuzz
@given(suffix=st.sampled_from([".fit", ".gpx", ".tcx", ".csv", ".txt"]), raw=st.binary(max_size=400))
def test_fuzz_arbitrary_bytes(tmp_path_factory, suffix, raw):
    p = tmp_path_factory.getbasetemp() / f"any{suffix}"
    p.write_bytes(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)
        try:
            tr = read_track(p)
        except GaitInputError as e:
            assert str(p) in str(e)
            return
    _check(tr)


@pytest.mark.parametrize("bad", [-3.0, 0.0, 300.0, float("nan"), "fast"])
def test_a_speed_from_python_is_checked_like_the_cli(bad):
    s = gait.simulate(duration_s=20.0, seed=3).session
    with pytest.raises(GaitInputError, match="speed"):
        gait.analyze(s, speed_mps=bad)


def test_a_speed_in_km_h_from_python_gets_the_conversion():
    s = gait.simulate(duration_s=20.0, seed=3).session
    with pytest.raises(GaitInputError, match=r"15 km/h is 4.17 m/s"):
        gait.analyze(s, speed=15.0)
