"""The fault catalogue and `gait.faults`: coverage of DESIGN.md, sources, no copied sentences,
validation messages, findings on runs and windows, notes for what cannot be assessed,
elevation tracks."""

from __future__ import annotations

import dataclasses
import json
import re
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

import gait
from gait.errors import GaitDataWarning, GaitInputError
from gait.faults import (
    CATALOGUE,
    DOCUMENTS,
    SEVERITIES,
    ElevationTrack,
    Finding,
    assess,
    declared_lowpass_hz,
    derived_metrics,
    evaluate,
    implied_requirements,
    load_catalogue,
    read_elevation,
)
from gait.session import Session, SessionMetadata
from gait.simulator import SimulationConfig, simulate
from tests import _fault_fixtures as fx
from tests._fault_fixtures import DESIGN, REPO, SEEDS_DIR

CATALOGUE_FILE = REPO / "gait" / "data" / "faults.toml"

#: DESIGN.md section 5: fault row -> documents that speak of it.
DESIGN_ROWS = {
    "heel striking / hard landing": {"000", "001", "003", "004"},
    "overstriding": {"001", "003", "004"},
    "vertical bounce": {"001", "003"},
    "leaning forward, leaning back, too upright": {"000", "003", "004"},
    "lateral trunk lean, pelvic drop": {"004"},
    "excessive trunk rotation": {"000", "003"},
    "poor core stability": {"000", "002", "003", "004"},
    "left/right imbalance": {"002", "004"},
    "fatigue-related breakdown": {"001", "003"},
    "sudden speed increases": {"001", "002"},
    "no warm-up": {"001", "002", "003", "004"},
    "downhill running": {"001", "003"},
    "hard or uneven surface": {"002", "003", "004"},
    "training load jumps": {"002", "003", "004"},
    "worn shoes": {"000", "002", "004"},
}


@pytest.fixture(scope="session")
def clean_analysis():
    return fx.clean_analysis()


@pytest.fixture(scope="session")
def overstride_sim():
    return fx.overstride_sim()


@pytest.fixture(scope="session")
def overstride_analysis():
    return fx.overstride_analysis()


@pytest.fixture(scope="session")
def no_gyro_analysis():
    return fx.no_gyro_analysis()


@pytest.fixture(scope="module")
def seed_ngrams():
    files = sorted(SEEDS_DIR.glob("*.txt")) if SEEDS_DIR.is_dir() else []
    if len(files) != 5:
        pytest.skip(f"the five seed documents are not at {SEEDS_DIR}")
    grams = set()
    for f in files:
        grams |= _ngrams(_words(f.read_text(encoding="utf-8")))
    return grams


def _design_table() -> dict[str, set[str]]:
    text = DESIGN.read_text()
    section = text[text.index("## 5.") : text.index("## 6.")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and re.fullmatch(r"\d{3}(, \d{3})*", cells[2]):
            rows[cells[0]] = set(cells[2].split(", "))
    return rows


# ---------------------------------------------------------------------------------------
# the catalogue
# ---------------------------------------------------------------------------------------
class TestCatalogue:
    def test_design_rows_match_design_md(self):
        if not DESIGN.is_file():
            pytest.skip(f"{DESIGN} not found")
        assert _design_table() == DESIGN_ROWS

    @pytest.mark.parametrize("row", sorted(DESIGN_ROWS))
    def test_every_design_fault_has_an_entry_citing_its_documents(self, row):
        entries = [f for f in CATALOGUE.faults if f.design_row == row]
        assert entries, f"no catalogue entry for {row!r}"
        cited = set().union(*(f.sources for f in entries))
        assert DESIGN_ROWS[row] <= cited, f"{row}: documents {sorted(DESIGN_ROWS[row] - cited)} not cited"

    def test_every_entry_names_its_sources(self):
        for f in CATALOGUE.faults:
            assert f.design_row in DESIGN_ROWS, f.id
            assert f.documents and set(f.documents) <= set(DOCUMENTS)
            for t in (*f.causes, *f.advice):
                assert t.documents, f"{f.id}: {t.text}"
            for r in f.rules:
                assert len(r.source) > 20, f"{f.id}: rule on {r.metric} has no real source"
            assert 0 < len(f.cue) <= 60
        for w in CATALOGUE.warning_signs:
            assert "004" in w.documents
        assert {u.topic for u in CATALOGUE.unseen_causes} >= {
            "Existing spine conditions",
            "Flexibility",
            "Foot shape and shoe fit",
            "Body weight",
            "Hydration",
        }
        assert sorted(CATALOGUE.document_topics) == list(DOCUMENTS)

    def test_every_document_is_identified_by_title(self):
        assert list(CATALOGUE.documents) == list(DOCUMENTS)
        for k, d in CATALOGUE.documents.items():
            assert d.id == k and d.title and d.topic == CATALOGUE.document_topics[k]
            assert d.label.startswith(d.title) and d.label.endswith(f"[{k}]")
        # the publishers found for the documents (docs/references.md says how)
        assert CATALOGUE.documents["002"].publisher == "RunDreamAchieve"
        assert (
            CATALOGUE.documents["004"].label == "Why Do I Have Lower Back Pain When Jogging? (Biology Insights) [004]"
        )

    def test_docs_list_every_entry(self):
        doc = (REPO / "docs" / "faults.md").read_text(encoding="utf-8")
        missing = [f.id for f in CATALOGUE.faults if f"`{f.id}`" not in doc]
        assert not missing, f"docs/faults.md does not describe {missing}"

    def test_separate_rigid_trunk_note_is_low_only(self):
        assert CATALOGUE["rigid_trunk"].max_severity == "low"
        assert CATALOGUE["rigid_trunk"].design_row == CATALOGUE["trunk_rotation"].design_row

    def test_loaded_file_equals_shipped_one(self):
        assert load_catalogue(CATALOGUE_FILE) == dataclasses.replace(CATALOGUE, path=str(CATALOGUE_FILE))


def _words(text: str) -> list[str]:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)


def _ngrams(words: list[str], n: int = 8) -> set[tuple[str, ...]]:
    return {tuple(words[k : k + n]) for k in range(len(words) - n + 1)}


def _strings(obj) -> list[str]:
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return []


class TestNoCopiedSentences:
    def test_catalogue_shares_no_run_of_eight_words_with_a_seed(self, seed_ngrams):
        doc = tomllib.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))
        for d in doc["document"]:
            # a document's title (and an address that spells it) identifies it, as in any
            # citation; its description is checked like every other text
            assert d.pop("title") and d.pop("url", True)
        copied = []
        for s in _strings(doc):
            copied += [" ".join(g) for g in _ngrams(_words(s)) & seed_ngrams]
        assert not copied, f"copied from the seeds: {copied}"

    @pytest.mark.parametrize("name", ["docs/faults.md", "docs/report.md"])
    def test_docs_share_no_run_of_eight_words_with_a_seed(self, seed_ngrams, name):
        p = REPO / name
        if not p.is_file():
            pytest.skip(f"{name} not written yet")
        copied = _ngrams(_words(p.read_text(encoding="utf-8"))) & seed_ngrams
        assert not copied, f"{name} copies: {[' '.join(g) for g in copied]}"

    def test_checker_catches_a_copy(self, seed_ngrams):
        seed = sorted(SEEDS_DIR.glob("*.txt"))[4].read_text(encoding="utf-8")
        sentence = seed.split(". ")[3]
        assert _ngrams(_words(sentence.upper() + "!")) & seed_ngrams


class TestCatalogueValidation:
    @staticmethod
    def _write(tmp_path: Path, text: str) -> Path:
        p = tmp_path / "faults.toml"
        p.write_text(text, encoding="utf-8")
        return p

    @pytest.mark.parametrize(
        ("old", "new", "match"),
        [
            ('id = "overstriding"', 'id = "heel_strike"', r"fault 'heel_strike'.*duplicate id"),
            (
                "levels = [0.45, 0.6, 0.8]",
                "levels = [0.8, 0.6, 0.45]",
                r"fault 'overstriding'.rules\[0\].levels.*out of order",
            ),
            (
                'documents = ["001", "003", "004"]\ncue = "overstriding',
                'documents = ["001", "009"]\ncue = "overstriding',
                r"fault 'overstriding'.documents.*bad document list",
            ),
            (
                'cue = "overstriding: shorten your step"',
                'cue = "' + "x" * 80 + '"',
                r"fault 'overstriding'.cue.*too long",
            ),
            (
                'kind = "threshold"\nrole = "primary"\nmetric = "median.braking_velocity_loss_mps"',
                'kind = "thresh"\nrole = "primary"\nmetric = "median.braking_velocity_loss_mps"',
                r"fault 'overstriding'.rules\[0\].kind.*invalid value",
            ),
            (
                'detection = "sensor"\nsummary = "Each landing',
                'detection = "sensor"\ncolour = "red"\nsummary = "Each landing',
                r"fault 'overstriding'.colour.*unknown field",
            ),
            (
                'id = "004"\ntitle = "Why Do I Have Lower Back Pain When Jogging?"\n',
                'id = "004"\n',
                r"document\[4\].title.*missing field",
            ),
            ('id = "003"\ntitle', 'id = "002"\ntitle', r"document\[3\].id.*duplicate id"),
            (
                'url = "https://biologyinsights.com/',
                'url = "biologyinsights.com/',
                r"document\[4\].url.*not a web address",
            ),
            ('publisher = "RunDreamAchieve"', 'author = "RunDreamAchieve"', r"document\[2\].author.*unknown field"),
        ],
    )
    def test_bad_entries_name_the_entry_and_field(self, tmp_path, old, new, match):
        text = CATALOGUE_FILE.read_text(encoding="utf-8")
        assert old in text
        with pytest.raises(GaitInputError, match=match) as exc:
            load_catalogue(self._write(tmp_path, text.replace(old, new, 1)))
        assert "faults.toml" in str(exc.value)

    def test_missing_causes(self, tmp_path):
        text = CATALOGUE_FILE.read_text(encoding="utf-8")
        start = text.index('[[fault.causes]]\ntext = "Reaching forward')
        end = text.index("[[fault.advice]]", start)
        with pytest.raises(GaitInputError, match=r"fault 'overstriding'.causes.*missing field"):
            load_catalogue(self._write(tmp_path, text[:start] + text[end:]))

    def test_not_toml(self, tmp_path):
        with pytest.raises(GaitInputError, match="not valid TOML"):
            load_catalogue(self._write(tmp_path, "[[fault]\nid = 3"))


# ---------------------------------------------------------------------------------------
# findings
# ---------------------------------------------------------------------------------------
class TestEvaluate:
    def test_good_form_gives_nothing_above_low(self, clean_analysis):
        r = assess(clean_analysis)
        assert all(SEVERITIES.index(f.severity) <= 1 for f in r.findings), [f.headline for f in r.findings]
        assert "overstriding" in r.checked and "trunk_rotation" in r.checked

    def test_overstriding_and_heel_strike(self, overstride_analysis):
        found = evaluate(overstride_analysis)
        ids = [f.fault for f in found]
        assert ids[:2] == ["overstriding", "heel_strike"] or ids[:2] == ["heel_strike", "overstriding"]
        f = next(f for f in found if f.fault == "overstriding")
        assert isinstance(f, Finding) and f.severity in ("moderate", "high")
        assert 0.5 < f.confidence <= 1.0
        assert f.evidence[0].metric == "median.braking_velocity_loss_mps" and f.evidence[0].unit == "m/s"
        assert "m/s" in f.evidence[0].display and "Napier" in f.evidence[0].source
        assert f.cue == "overstriding: shorten your step"
        assert all(c.documents for c in f.causes) and all(a.documents for a in f.advice)
        # when: the running part of the session, and nearly every step
        run = overstride_analysis.running_steps
        (a, b), *_ = f.periods_s
        assert a >= run["ic_s"].min() - 1 and b <= run["ic_s"].max() + 1 and b - a > 120
        assert f.share_of_steps > 0.9
        heel = next(f for f in found if f.fault == "heel_strike")
        assert heel.share_of_steps == pytest.approx(0.9, abs=0.07)
        json.dumps(f.to_dict())  # serialisable
        with pytest.raises(dataclasses.FrozenInstanceError):
            f.severity = "low"  # type: ignore[misc]

    def test_ranked_by_severity_then_score(self, overstride_analysis):
        found = evaluate(overstride_analysis)
        keys = [(f.level, f.score) for f in found]
        assert keys == sorted(keys, reverse=True)

    def test_ten_second_window_gives_the_cue(self, overstride_sim):
        s = overstride_sim.session
        m = (s.t >= 90.0) & (s.t < 100.0)
        window = Session(
            t=s.t[m], acc=s.acc[m], gyr=s.gyr[m], frame="sensor", meta=SessionMetadata(sampling_rate_hz=100.0)
        )
        a = gait.analyze(window)
        t0 = time.perf_counter()
        r = assess(a)
        assert time.perf_counter() - t0 < 0.5
        assert "overstriding: shorten your step" in [f.cue for f in r.findings]
        cannot = {n.fault for n in r.notes if n.status == "cannot_assess"}
        assert {"fatigue", "no_warmup", "sudden_speed_increases", "training_load", "worn_shoes"} <= cannot
        assert not {f.fault for f in r.findings} & cannot

    def test_unavailable_metrics_are_notes_not_findings(self, no_gyro_analysis):
        assert "yaw_range_deg" in no_gyro_analysis.unavailable
        r = assess(no_gyro_analysis)
        notes = {n.fault: n for n in r.notes}
        for fid in ("trunk_rotation", "rigid_trunk"):
            assert notes[fid].status == "cannot_assess"
            assert notes[fid].message.startswith(f"{CATALOGUE[fid].name}: cannot be assessed: no gyroscope")
            assert "gyroscope" in notes[fid].needs
        assert not {"trunk_rotation", "rigid_trunk"} & {f.fault for f in r.findings}
        assert "downhill" in notes and "elevation" in notes["downhill"].needs

    def test_no_running(self):
        t = np.arange(0, 20, 0.01)
        acc = np.tile([0.0, 0.0, 9.81], (t.size, 1)) + np.random.default_rng(0).normal(0, 0.02, (t.size, 3))
        s = gait.session_from_arrays(t=t, acc=acc, sampling_rate_hz=100.0)
        r = assess(gait.analyze(s))
        assert not r.findings
        assert all(n.status == "cannot_assess" for n in r.notes)
        assert any("no valid running steps" in n.reason for n in r.notes)

    def test_declared_lowpass(self):
        meta = SessionMetadata(sampling_rate_hz=500.0, notes="trial 3: 3.3 m/s; low-passed at 20 Hz, clipped")
        assert declared_lowpass_hz(meta) == 20.0
        assert declared_lowpass_hz(SessionMetadata(sampling_rate_hz=100.0, extra={"lowpass_hz": 30})) == 30.0
        assert declared_lowpass_hz(SessionMetadata(sampling_rate_hz=100.0)) is None

    def test_derived_metrics_of_good_form(self, clean_analysis):
        d = derived_metrics(clean_analysis)
        assert d.values["derived.late_stance_vibration_mps2"] < 0.15
        assert d.values["derived.stride_time_cv_pct"] < 1.5
        assert d.values["derived.contact_time_alternation_pct"] < 1.0
        assert 2.0 < d.values["derived.trunk_angle_variability_pct"] < 7.0
        n = len(clean_analysis.running_steps)
        assert all(v.shape == (n,) for v in d.per_step.values())


# ---------------------------------------------------------------------------------------
# elevation
# ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def downhill():
    cfg = SimulationConfig(
        duration_s=150.0, seed=31, speed_mps=3.0, sampling_rate_hz=100.0, slopes=((40.0, 80.0, -6.0),)
    )
    sim = simulate(cfg)
    return sim, gait.analyze(sim.session, speed_mps=3.0)


def _elevation(sim) -> tuple[np.ndarray, np.ndarray]:
    st = sim.steps
    dz = np.tan(np.radians(st["slope_deg"])) * st["speed_mps"] * st["step_time_s"]
    z = 200.0 + np.concatenate([[0.0], np.cumsum(dz)])[:-1]
    t = np.arange(0.0, float(sim.session.t[-1]), 2.0)
    return t, np.interp(t, st["ic_s"], z)


class TestElevation:
    def test_csv_makes_downhill_exact(self, downhill, tmp_path):
        sim, a = downhill
        t, z = _elevation(sim)
        p = tmp_path / "elev.csv"
        p.write_text("t_s,elevation_m\n" + "\n".join(f"{x:.1f},{y:.3f}" for x, y in zip(t, z)))
        track = read_elevation(p)
        f = next(f for f in evaluate(a, elevation=track) if f.fault == "downhill")
        assert f.severity == "high"  # 80 s of 130 s at 6 deg (10.5 %)
        (start, end), *_ = f.periods_s
        t0 = float(sim.bouts.loc[sim.bouts.kind == "running", "start_s"].iloc[0])
        assert start == pytest.approx(t0 + 40.0, abs=12.0) and end == pytest.approx(t0 + 120.0, abs=12.0)
        share = float(f.evidence[0].value)
        assert share == pytest.approx(100 * 75.0 / 130.0, abs=8.0)

    def test_without_elevation_it_says_why(self, downhill):
        r = assess(downhill[1])
        note = next(n for n in r.notes if n.fault == "downhill")
        assert "harder surface, a heavier heel strike or a faster pace look the same" in note.reason
        assert "--elevation" in note.needs

    def test_gpx(self, downhill, tmp_path):
        sim, a = downhill
        t, z = _elevation(sim)
        lat0, metres_per_deg = 46.0, 111_195.0
        lat = lat0 + 3.0 * t / metres_per_deg  # due north at 3 m/s
        pts = "".join(
            f'<trkpt lat="{la:.7f}" lon="7.0"><ele>{e:.2f}</ele><time>2024-05-01T07:00:{0:02d}Z</time></trkpt>'.replace(
                "07:00:00Z", f"{7 + int(x) // 3600:02d}:{int(x) % 3600 // 60:02d}:{int(x) % 60:02d}Z"
            )
            for la, e, x in zip(lat, z, t)
        )
        p = tmp_path / "run.gpx"
        p.write_text(
            '<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1">'
            f"<trk><trkseg>{pts}</trkseg></trk></gpx>"
        )
        track = read_elevation(p, session_start="2024-05-01T07:00:00Z")
        assert track.distance_m is not None and track.distance_m[-1] == pytest.approx(3.0 * t[-1], rel=0.01)
        assert "start time" in track.alignment
        f = next(f for f in evaluate(a, elevation=track) if f.fault == "downhill")
        assert f.severity == "high"
        unaligned = read_elevation(p)
        assert "first GPX point" in unaligned.alignment

    def test_flat_track_gives_no_downhill(self, downhill):
        t = np.arange(0.0, 200.0, 1.0)
        track = ElevationTrack(t, np.full(t.size, 50.0))
        assert "downhill" not in [f.fault for f in evaluate(downhill[1], elevation=track)]

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("time,elevation_m\n0,1\n1,2\n", r"column 't_s'.*missing column"),
            ("t_s,elevation_m\n0,1\n1,high\n", r"line 3, column 'elevation_m'.*not a number.*'high'"),
            ("t_s,elevation_m\n0,1\n2,1\n1,2\n", r"line 4, column 't_s'.*time not increasing"),
            ("t_s,elevation_m\n0,1\n", "too few points"),
        ],
    )
    def test_bad_csv(self, tmp_path, text, match):
        p = tmp_path / "e.csv"
        p.write_text(text)
        with pytest.raises(GaitInputError, match=match):
            read_elevation(p)

    def test_bad_gpx_and_missing_file(self, tmp_path):
        p = tmp_path / "e.gpx"
        p.write_text("<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkpt></trkseg></trk></gpx>")
        with pytest.raises(GaitInputError, match="too few track points"):
            read_elevation(p)
        with pytest.raises(GaitInputError, match="not found"):
            read_elevation(tmp_path / "nope.csv")


def _warm_run(**changes):
    """A 5-minute run at 3.2 m/s, 100 Hz (typical sensor), with the given warm-up."""
    cfg = dataclasses.replace(fx.CLEAN, duration_s=300.0, seed=33, **changes)
    a = gait.analyze(gait.simulate(cfg).session)
    return a, assess(a)


class TestWarmup:
    """The warm-up counts the walk to the start, an easy jog and a gradual pick-up of pace."""

    def test_walk_then_ramp_is_a_warm_up(self):
        a, r = _warm_run(walking_before_s=90.0, warmup_s=30.0)
        w = a.summary["warmup"]
        assert w["walking_before_s"] == pytest.approx(90.0, abs=2.0)
        assert 5.0 <= w["easy_running_s"] <= 30.0  # most of the 30 s ramp
        assert w["warmup_s"] == pytest.approx(w["walking_before_s"] + w["easy_running_s"])
        assert "no_warmup" not in {f.fault for f in r.findings}
        assert "sudden_speed_increases" not in {f.fault for f in r.findings}  # the ramp is no surge

    def test_easy_jog_is_a_warm_up(self):
        a, r = _warm_run(warmup_easy_s=120.0, warmup_s=30.0, warmup_start=0.8)
        w = a.summary["warmup"]
        assert 120.0 <= w["easy_running_s"] <= 150.0
        assert w["easy_minutes"] == 2
        assert w["first_minute_effort_ratio"] < 0.92
        assert not {"no_warmup", "sudden_speed_increases"} & {f.fault for f in r.findings}

    def test_full_effort_from_the_start(self):
        a, r = _warm_run(warmup_s=0.0)
        w = a.summary["warmup"]
        assert w["walking_before_s"] == pytest.approx(12.0, abs=2.0)  # the default walk to the start
        assert w["easy_running_s"] <= 5.0
        assert w["first_minute_effort_ratio"] > 0.97
        f = next(f for f in r.findings if f.fault == "no_warmup")
        assert f.severity == "moderate" and f.confidence >= 0.5
        assert f.evidence[0].unit == "s" and f.evidence[0].value == pytest.approx(w["warmup_s"])
        assert "min of walking" in f.evidence[0].display


# ---------------------------------------------------------------------------------------
# rule requirements: declared in the catalogue, checked when it is loaded, enforced by assess
# ---------------------------------------------------------------------------------------
class TestRequirements:
    def test_every_rule_lists_what_its_metric_needs(self):
        for spec in CATALOGUE.faults:
            for rule in spec.rules:
                assert set(implied_requirements(rule.kind, rule.metric)) <= set(rule.requires), (spec.id, rule.metric)

    @pytest.mark.parametrize(
        ("kind", "metric", "needs"),
        [
            ("threshold", "median.yaw_range_deg", ("yaw_range_deg",)),
            ("threshold", "asymmetry_pct.braking_peak_mps2", ("braking_peak_mps2", "side")),
            ("drift", "roll_range_deg", ("roll_range_deg",)),
            ("baseline", "median.lean_deg", ("lean_deg",)),
            ("threshold", "derived.trunk_angle_variability_pct", ("roll_range_deg", "yaw_range_deg", "trunk_angles")),
            ("warmup", "warmup.first_minute_intensity_ratio", ()),
            ("weekly_volume", "weekly_increase_pct", ()),
        ],
    )
    def test_implied_requirements(self, kind, metric, needs):
        assert implied_requirements(kind, metric) == needs

    def test_a_rule_missing_one_is_refused(self, tmp_path):
        text = CATALOGUE_FILE.read_text(encoding="utf-8")
        old = 'step_column = "yaw_range_deg"\nrequires = ["yaw_range_deg"]'
        assert old in text
        p = tmp_path / "faults.toml"
        p.write_text(text.replace(old, 'step_column = "yaw_range_deg"', 1), encoding="utf-8")
        with pytest.raises(GaitInputError, match=r"fault 'trunk_rotation'.rules\[0\].requires.*needs yaw_range_deg"):
            load_catalogue(p)

    def test_an_unavailable_metric_is_never_evaluated(self):
        """Even with a number in the summary, a rule whose metric is unavailable gives a note."""
        a = fx.overstride_analysis()
        assert "overstriding" in {f.fault for f in assess(a).findings}
        why = "the forward direction is uncertain (test)"
        hidden = dataclasses.replace(a, unavailable={**a.unavailable, "braking_velocity_loss_mps": why})
        r = assess(hidden)
        assert "overstriding" not in {f.fault for f in r.findings}
        note = next(n for n in r.notes if n.fault == "overstriding")
        assert note.status == "cannot_assess" and why in note.reason

    def test_no_gyroscope_rotation_sample(self):
        """The rotation sample without its gyroscope: roll range and pelvic drop used to read
        0.1 and 0.0 deg, pelvic drop vanished and "Uneven surface: high" appeared on the
        variability of a rotation listed as unavailable."""
        with pytest.warns(GaitDataWarning):  # the sample has lost packets and jittered timestamps
            s = gait.read_session(REPO / "sample_data" / "rotation_lateral_lean.csv.gz")
        with_gyro = assess(gait.analyze(s))
        a = gait.analyze(s.replace(gyr=None))
        for k in ("roll_range_deg", "pelvic_drop_deg", "yaw_range_deg"):
            assert k in a.unavailable and a.unavailable[k].startswith("no gyroscope")
            assert a.steps[k].isna().all() and np.isnan(a.summary["median"][k])
        r = assess(a)
        found = {f.fault for f in r.findings}
        assert "uneven_surface" not in found and "uneven_surface" not in {f.fault for f in with_gyro.findings}
        assert "pelvic_drop" in {f.fault for f in with_gyro.findings}
        notes = {n.fault: n for n in r.notes}
        for fid in ("pelvic_drop", "uneven_surface", "trunk_rotation"):
            assert notes[fid].status == "cannot_assess" and notes[fid].reason.startswith("no gyroscope")
        # what the accelerometer alone gives, validated against the gyroscope path
        assert "lateral_lean" in found
        assert derived_metrics(a).unavailable["trunk_angles"].startswith("no gyroscope")


class TestCatalogueMetricNames:
    """Every metric the catalogue names exists; a misspelt one is refused when it is loaded."""

    def test_every_catalogue_metric_resolves_on_a_full_analysis(self):
        from gait.faults import evaluation_context

        a = gait.analyze(gait.read_session(REPO / "sample_data" / "fatigue_long_run.csv.gz"))
        ctx = evaluation_context(a)
        checked = 0
        for f in CATALOGUE.faults:
            for r in f.rules:
                if r.kind in ("threshold", "baseline", "warmup"):
                    assert r.metric in ctx.metrics, (f.id, r.metric)
                elif r.kind == "drift":
                    assert ctx.step_values(r.metric) is not None, (f.id, r.metric)
                if r.step_column is not None:
                    assert ctx.step_values(r.step_column) is not None, (f.id, r.step_column)
                if r.minute_column is not None:
                    assert r.minute_column in a.minutes.columns, (f.id, r.minute_column)
                checked += 1
        assert checked >= 40

    def _write(self, tmp_path, old: str, new: str) -> Path:
        text = CATALOGUE_FILE.read_text()
        assert text.count(old) >= 1
        p = tmp_path / "faults.toml"
        p.write_text(text.replace(old, new, 1))
        return p

    def test_a_misspelt_metric_is_refused_with_close_names(self, tmp_path):
        p = self._write(
            tmp_path, 'metric = "median.braking_velocity_loss_mps"', 'metric = "median.braking_velocity_loss_mps2"'
        )
        with pytest.raises(GaitInputError) as e:
            load_catalogue(p)
        msg = str(e.value)
        assert msg.startswith(str(p))
        assert "fault 'overstriding'.rules[0].metric" in msg
        assert "unknown metric 'median.braking_velocity_loss_mps2'" in msg
        assert re.search(r"did you mean median\.braking_velocity_loss_mps\b", msg)

    def test_a_misspelt_step_column_is_refused(self, tmp_path):
        p = self._write(
            tmp_path, 'step_column = "braking_velocity_loss_mps"', 'step_column = "braking_velocity_los_mps"'
        )
        with pytest.raises(
            GaitInputError, match=r"unknown column 'braking_velocity_los_mps' \(did you mean braking_velocity_loss_mps"
        ):
            load_catalogue(p)

    def test_a_metric_of_another_kind_is_refused(self, tmp_path):
        p = self._write(tmp_path, 'metric = "surge_index_pct"', 'metric = "median.cadence_spm"')
        with pytest.raises(GaitInputError, match=r"unknown metric 'median.cadence_spm'.*a surges rule"):
            load_catalogue(p)
