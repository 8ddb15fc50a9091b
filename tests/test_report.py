"""Reports: the versioned JSON (validated against its JSON Schema), the self-contained HTML
(no network, rendered in headless Chromium), the terminal summary, and ``gait analyze`` on
every sample session and on the real recordings."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from gait.cli import main
from gait.faults import CATALOGUE, assess
from gait.history import HistoryStatus
from gait.report import (
    REPORT_SCHEMA_VERSION,
    RunReport,
    load_report_schema,
    print_report,
    render_html,
    report_document,
    write_json,
)
from tests import _fault_fixtures as fx

SAMPLES = sorted((fx.REPO / "sample_data").glob("*.csv.gz"))
SAMPLES = [p for p in SAMPLES if not p.name.endswith(".truth.csv.gz")]


@pytest.fixture(scope="module")
def reports() -> list[RunReport]:
    out = []
    for label, a in (
        ("good form", fx.clean_analysis()),
        ("overstriding", fx.overstride_analysis()),
        ("no gyroscope", fx.no_gyro_analysis()),
    ):
        out.append(RunReport(label, a, assess(a), HistoryStatus("off", ("history is off (--no-history)",))))
    return out


@pytest.fixture(scope="module")
def page(reports) -> str:
    return render_html(reports)


def _validate(doc: dict) -> None:
    jsonschema.Draft202012Validator.check_schema(load_report_schema())
    jsonschema.Draft202012Validator(load_report_schema()).validate(doc)


# ---------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------
class TestJson:
    def test_valid_against_schema(self, reports, tmp_path):
        doc = report_document(reports)
        _validate(doc)
        p = write_json(doc, tmp_path / "r.json")
        again = json.loads(p.read_text(encoding="utf-8"))
        _validate(again)
        assert again["schema"] == "gait-lumbar-report" and again["schema_version"] == REPORT_SCHEMA_VERSION == 1

    def test_ranking_is_reproducible_from_the_json_alone(self, reports, tmp_path):
        """Re-rank every run's findings from the written file only, with the documented rule."""
        doc = json.loads(write_json(report_document(reports), tmp_path / "r.json").read_text(encoding="utf-8"))
        level = {"low": 1, "moderate": 2, "high": 3}
        n_ranked = 0
        for run in doc["runs"]:
            fs = run["findings"]
            for f in fs:
                score = level[f["severity"]] + 0.9 * f["confidence"] + 0.009 * f["margin"]
                assert f["score"] == pytest.approx(score, abs=1e-9)
                assert 0.0 <= f["margin"] < 1.0
            # severity, then confidence, then margin, then fault id
            again = sorted(fs, key=lambda f: (-level[f["severity"]], -f["confidence"], -f["margin"], f["fault"]))
            assert [f["fault"] for f in again] == [f["fault"] for f in fs]
            assert [f["rank"] for f in fs] == list(range(1, len(fs) + 1))
            # the one number sorts the same way
            assert [f["fault"] for f in sorted(fs, key=lambda f: (-f["score"], f["fault"]))] == [f["fault"] for f in fs]
            n_ranked += len(fs) > 1
        assert n_ranked >= 1  # at least one run with several findings to order

    def test_same_severity_ranked_by_confidence(self):
        from gait.faults import Finding, rank_score, ranked

        def f(fault: str, sev: str, conf: float, margin: float) -> Finding:
            return Finding(
                fault, fault, sev, conf, "", "", (), (), None, (), (), (), "", rank_score(sev, conf, margin), margin
            )

        order = ranked([f("a", "moderate", 0.49, 0.99), f("b", "moderate", 0.70, 0.0), f("c", "high", 0.1, 0.0)])
        assert [x.fault for x in order] == ["c", "b", "a"]
        assert rank_score("moderate", 1.0, 0.999) < rank_score("high", 0.0, 0.0)

    def test_content(self, reports):
        doc = report_document(reports)
        assert [w["text"] for w in doc["warning_signs"]] == [w.text for w in CATALOGUE.warning_signs]
        assert "does not diagnose" in doc["disclaimer"]
        assert {u["topic"] for u in doc["unseen_causes"]} >= {"Hydration", "Body weight", "Flexibility"}
        clean, over, nogyro = doc["runs"]
        assert clean["findings"] == [] or all(f["severity"] == "low" for f in clean["findings"])
        f = over["findings"][0]
        assert f["fault"] in ("overstriding", "heel_strike") and f["causes"][0]["documents"]
        assert f["evidence"][0]["unit"] and f["periods"][0]["end_s"] > f["periods"][0]["start_s"]
        m = {x["metric"]: x for x in over["metrics"]}
        assert m["contact_time_s"]["unit"] == "s" and 0.2 < m["contact_time_s"]["median"] < 0.4
        assert m["vertical_ratio_pct"]["median"] is not None  # speed given
        assert clean["metrics"][5]["median"] is None  # vertical ratio without a speed: null, not NaN
        notes = {n["fault"]: n for n in nogyro["notes"]}
        assert notes["trunk_rotation"]["status"] == "cannot_assess"
        assert notes["trunk_rotation"]["message"].startswith("Excessive trunk rotation: cannot be assessed")
        assert nogyro["session"]["gyroscope"] is False

    def test_documents_are_identified(self, reports):
        docs = report_document(reports)["documents"]
        assert [d["id"] for d in docs] == ["000", "001", "002", "003", "004"]
        by_id = {d["id"]: d for d in docs}
        for k, d in CATALOGUE.documents.items():
            assert by_id[k] == {"id": k, "title": d.title, "publisher": d.publisher, "url": d.url, "topic": d.topic}
        assert by_id["002"]["publisher"] == "RunDreamAchieve" and by_id["002"]["url"] is None
        assert by_id["003"]["publisher"] is None  # not identified: null, never guessed

    def test_schema_rejects_a_bad_document(self, reports):
        doc = report_document(reports)
        doc["runs"][1]["findings"][0]["severity"] = "catastrophic"
        with pytest.raises(jsonschema.ValidationError):
            _validate(doc)
        doc = report_document(reports)
        del doc["warning_signs"]
        with pytest.raises(jsonschema.ValidationError):
            _validate(doc)


# ---------------------------------------------------------------------------------------
# HTML and terminal
# ---------------------------------------------------------------------------------------
NETWORK = re.compile(
    r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:|//|ftp:)|url\(\s*["']?\s*(?:https?:|//)|@import|<script|<link|<iframe|<object|<embed""",
    re.I,
)


class TestHtml:
    def test_self_contained(self, page):
        assert not NETWORK.search(page), NETWORK.search(page)
        assert "Content-Security-Policy" in page and "default-src 'none'" in page
        assert page.count("<svg") >= 5
        for w in CATALOGUE.warning_signs:
            assert w.text.replace("'", "&#x27;") in page
        assert "does not diagnose" in page
        for u in CATALOGUE.unseen_causes:
            assert u.topic in page
        assert "Left versus right: not available" not in page.split('id="run-2"')[0]
        assert "Overstriding" in page and "shorten your step" in page

    def test_sources_list_every_document_by_title(self, page):
        sources = page.split("<h2>Sources</h2>")[1]
        for k, d in CATALOGUE.documents.items():
            assert f'<li id="doc-{k}"><b>[{k}]</b> <cite>{html.escape(d.title)}</cite>' in sources
            if d.url:
                assert d.url in sources  # shown, never fetched (no link to it)
        assert "docs/references.md" in sources
        # every cited id links to its entry and names the document on hover
        before = page.split("<h2>Sources</h2>")[0]
        assert f'<a href="#doc-004" title="{html.escape(CATALOGUE.documents["004"].label)}">004</a>' in before

    def test_no_findings_still_shows_warnings(self):
        a = fx.clean_analysis()
        empty = type(assess(a))(findings=(), notes=(), checked=())
        page = render_html([RunReport("empty", a, empty)])
        assert "No form fault was found" in page and "See a clinician" in page

    def test_terminal(self, reports):
        console = Console(record=True, width=140)
        print_report(reports, console)
        text = " ".join(console.export_text().split())
        assert "See a clinician if" in text and CATALOGUE.disclaimer in text
        assert "Excessive trunk rotation: cannot be assessed: no gyroscope" in text
        assert "overstriding: shorten your step" in text
        assert "[004]" in text  # document ids are shown, not swallowed as markup
        sources = text.split("Sources")[-1]
        for k, d in CATALOGUE.documents.items():
            assert f"[{k}] {d.title}" in sources
        assert "Why Do I Have Lower Back Pain When Jogging?, Biology Insights" in sources
        assert "docs/references.md" in sources


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _render(html_path: Path, png: Path, *, height: int = 2400) -> str:
    exe = _chromium()
    if exe is None:
        pytest.skip("Chromium not installed (Debian package 'chromium'; .ci/setup-system.sh installs it)")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--enable-logging=stderr",
                "--v=0",
                "--hide-scrollbars",
                f"--window-size=1200,{height}",
                f"--screenshot={png}",
                html_path.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.browser
def test_html_renders_in_chromium(page, tmp_path):
    html_path = tmp_path / "report.html"
    html_path.write_text(page, encoding="utf-8")
    png = tmp_path / "report.png"
    log = _render(html_path, png)
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not console, console  # no script errors, no blocked (network) requests
    import matplotlib.image as mpimg

    img = mpimg.imread(png)
    assert img.shape[0] >= 2000 and img.shape[1] == 1200
    dark = (img[..., :3].mean(axis=2) < 0.5).mean()
    assert 0.01 < dark < 0.5, f"page looks empty ({dark:.3%} dark pixels)"


@pytest.mark.browser
def test_a_network_request_would_be_caught(tmp_path):
    page = tmp_path / "bad.html"
    page.write_text(
        render_html([]).replace("</main>", '<img src="https://example.invalid/x.png"></main>'), encoding="utf-8"
    )
    log = _render(page, tmp_path / "bad.png", height=600)
    assert any(":CONSOLE" in line and "Content Security Policy" in line for line in log.splitlines())


# ---------------------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------------------
def _run_cli(args: list[str], capsys) -> str:
    assert main(args) == 0
    return " ".join(capsys.readouterr().out.split())


def test_cli_on_a_sample(tmp_path, capsys):
    sample = fx.REPO / "sample_data" / "heel_overstride.csv.gz"
    out = _run_cli(
        [
            "analyze",
            str(sample),
            "--history-db",
            str(tmp_path / "h.sqlite"),
            "--store-history",
            "--shoes",
            "Pegasus",
            "--json",
            str(tmp_path / "r.json"),
            "--html",
            str(tmp_path / "r.html"),
            "--steps",
            str(tmp_path / "steps.csv"),
        ],
        capsys,
    )
    assert "What to work on" in out and "Overstriding" in out and "See a clinician if" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    _validate(doc)
    run = doc["runs"][0]
    assert [f["fault"] for f in run["findings"]][:2] == ["overstriding", "heel_strike"]
    assert run["history"]["status"] == "used" and run["history"]["stored"] == "new"
    assert run["session"]["shoes"] == "Pegasus"
    assert not NETWORK.search((tmp_path / "r.html").read_text())
    assert len(pd.read_csv(tmp_path / "steps.csv")) > 500


def test_cli_elevation_and_errors(tmp_path, capsys):
    sample = fx.REPO / "sample_data" / "easy_run.csv.gz"
    elev = tmp_path / "e.csv"
    t = np.arange(0.0, 420.0, 5.0)
    elev.write_text("t_s,elevation_m\n" + "\n".join(f"{x},{300 - 0.25 * x}" for x in t))  # 8 % down at 3 m/s
    out = _run_cli(["analyze", str(sample), "--no-history", "--speed-mps", "3.0", "--elevation", str(elev)], capsys)
    assert "Downhill running" in out and "history is off (--no-history)" in out
    elev.write_text("t_s,height\n0,1\n")
    assert main(["analyze", str(sample), "--no-history", "--elevation", str(elev)]) == 2
    assert "missing column" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sample", SAMPLES, ids=[p.name for p in SAMPLES])
def test_cli_on_every_sample(sample, tmp_path, capsys):
    out = _run_cli(
        [
            "analyze",
            str(sample),
            "--no-history",
            "--json",
            str(tmp_path / "r.json"),
            "--html",
            str(tmp_path / "r.html"),
        ],
        capsys,
    )
    assert "See a clinician if" in out and "does not diagnose" in out
    _validate(json.loads((tmp_path / "r.json").read_text()))
    expected = {
        "easy_run.csv.gz": set(),
        "heel_overstride.csv.gz": {"overstriding", "heel_strike"},
        "fatigue_long_run.csv.gz": {"fatigue"},
        "rotation_lateral_lean.csv.gz": {"trunk_rotation", "lateral_lean", "pelvic_drop"},
    }[sample.name]
    run = json.loads((tmp_path / "r.json").read_text())["runs"][0]
    found = {f["fault"] for f in run["findings"] if f["severity"] != "low"}
    assert found == expected


def _subset(src: Path, dst: Path, rows: list[int]) -> Path:
    """A copy of the real dataset with a few trials, in a temporary folder (never in the repo)."""
    dst.mkdir()
    trials = pd.read_csv(src / "trials.csv")
    trials.iloc[rows].to_csv(dst / "trials.csv", index=False)
    lines = (src / "sacral_accel_g.csv").read_text().splitlines()
    (dst / "sacral_accel_g.csv").write_text("\n".join(lines[r] for r in rows) + "\n")
    return dst


@pytest.mark.realdata
def test_cli_on_real_recordings_degrades_gracefully(tmp_path, capsys):
    if not (fx.ALCANTARA / "trials.csv").is_file():
        pytest.skip(f"real recordings not found at {fx.ALCANTARA}")
    folder = _subset(fx.ALCANTARA, tmp_path / "alcantara", [2, 7, 12])  # level, downhill, uphill
    out = _run_cli(["analyze", str(folder), "--no-history", "--json", str(tmp_path / "r.json")], capsys)
    assert "Excessive trunk rotation: cannot be assessed: no gyroscope" in out
    assert "Hard surface: cannot be assessed: the recording was low-pass filtered at 20 Hz" in out
    doc = json.loads((tmp_path / "r.json").read_text())
    _validate(doc)
    level, down, up = doc["runs"]
    # 100 % rearfoot in the dataset: decided on the downhill and this level trial (median
    # transients 1.0-1.6 body weights); uphill the landing (median 0.26) sits in the middle band,
    # so the run's strike is uncertain and the fault is not assessed
    assert "heel_strike" in {f["fault"] for f in down["findings"]}
    level_notes = {n["fault"]: n for n in level["notes"]}
    assert "heel_strike" not in level_notes or level_notes["heel_strike"]["status"] != "cannot_assess"
    up_notes = {n["fault"]: n for n in up["notes"]}
    assert up_notes["heel_strike"]["status"] == "cannot_assess"
    assert "foot strike is undecided" in up_notes["heel_strike"]["reason"]
    assert "downhill" in {f["fault"] for f in down["findings"]}  # -5 deg treadmill (declared slope)
    assert "downhill" not in {f["fault"] for f in up["findings"]}
    for run in doc["runs"]:
        notes = {n["fault"]: n for n in run["notes"]}
        assert notes["forward_lean"]["status"] == "cannot_assess"  # no standing reference
        assert notes["pelvic_drop"]["status"] == "cannot_assess"  # biaxial: no medio-lateral axis
        assert notes["fatigue"]["status"] == "cannot_assess"  # 5 s trials


@pytest.mark.slow
@pytest.mark.realdata
def test_cli_on_all_real_recordings(tmp_path, capsys):
    if not (fx.ALCANTARA / "trials.csv").is_file():
        pytest.skip(f"real recordings not found at {fx.ALCANTARA}")
    _run_cli(["analyze", str(fx.ALCANTARA), "--no-history", "--json", str(tmp_path / "r.json")], capsys)
    doc = json.loads((tmp_path / "r.json").read_text())
    _validate(doc)
    assert len(doc["runs"]) == 19
