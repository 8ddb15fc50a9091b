"""The runner's side of the output: the HTML report's charts (one per finding, in its own
colour, with its periods and its level lines; reference zones; left minus right with its
interval; units as in the tables; header; splits), the short terminal summary of
``gait analyze`` (findings first) and the command line's help (suggestions, alias, presets)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import warnings
from html.parser import HTMLParser

import numpy as np
import pytest
from rich.console import Console

from gait import analyze, read_session
from gait.cli import main
from gait.errors import GaitDataWarning
from gait.faults import CATALOGUE, assess
from gait.history import HistoryStatus
from gait.report import DISPLAY, RunReport, key_metrics, print_run_summary, render_html
from tests import _fault_fixtures as fx

G_FACTOR = 1.0 / 9.80665


class _Tree(HTMLParser):
    """Every element as (tag, attributes, the data-finding of the svg it lies in, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[dict] = []
        self.svg: dict | None = None
        self.stack: list[dict] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        el = {"tag": tag, "attrs": a, "svg": self.svg, "text": ""}
        if tag == "svg":
            self.svg = a
            el["svg"] = a
        self.elements.append(el)
        if tag not in ("meta", "br", "img", "link", "input"):
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1]["tag"] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = None
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data


def _parse(page: str) -> list[dict]:
    t = _Tree()
    t.feed(page)
    return t.elements


@pytest.fixture(scope="module")
def lean_run() -> RunReport:
    """The sample with trunk rotation, sideways lean and pelvic drop, at a known speed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GaitDataWarning)  # the sample's declared gaps and jitter
        s = read_session(fx.REPO / "sample_data" / "rotation_lateral_lean.csv.gz")
    a = analyze(s, speed=3.0)
    return RunReport("lean", a, assess(a), HistoryStatus())


@pytest.fixture(scope="module")
def lean_page(lean_run) -> str:
    return render_html([lean_run])


def _charts(elements, fault: str) -> list[dict]:
    return [e["attrs"] for e in elements if e["tag"] == "svg" and e["attrs"].get("data-finding") == fault]


def _inside(elements, svg: dict, tag: str, cls: str) -> list[dict]:
    return [e for e in elements if e["svg"] is svg and e["tag"] == tag and e["attrs"].get("class") == cls]


def test_every_finding_has_its_chart_with_its_levels_periods_and_own_colour(lean_run, lean_page):
    el = _parse(lean_page)
    findings = lean_run.assessment.findings
    assert {f.fault for f in findings} >= {"trunk_rotation", "lateral_lean", "pelvic_drop"}
    colours = []
    for f in findings:
        (svg,) = _charts(el, f.fault)
        colour = svg["data-colour"]
        colours.append(colour)
        spec = CATALOGUE[f.fault]
        rule = next(r for r in spec.rules if r.kind == "threshold" and r.role == "primary")
        assert svg["data-metric"] == rule.step_column
        factor = next(fac for _, col, fac, _, _ in DISPLAY if col == rule.step_column)
        dec = next(d for _, col, _, _, d in DISPLAY if col == rule.step_column)
        levels = _inside(el, svg, "line", "level")
        assert levels and all(x["attrs"]["stroke"] == colour for x in levels)
        # the lowest level of the rule is drawn, at its value in display units
        shown = {x["attrs"]["data-value"] for x in levels}
        assert f"{rule.levels[0] * factor:.{dec}f}" in shown
        periods = _inside(el, svg, "rect", "period")
        assert len(periods) == len(f.periods_s) and all(p["attrs"]["fill"] == colour for p in periods)
        assert _inside(el, svg, "polyline", "median")
    assert len(set(colours)) == len(colours)  # distinct per finding
    # the card of each finding shows the same colour as its chart
    for k, (f, colour) in enumerate(zip(findings, colours), 1):
        card = lean_page.split(f'id="finding-0-{k}"')[1].split("</h3>")[0]
        assert f'class="swatch" style="background:{colour}"' in card and f.name in card


def test_level_lines_and_periods_sit_where_their_values_are(lean_run, lean_page):
    el = _parse(lean_page)
    (svg,) = _charts(el, "pelvic_drop")
    # y pixel of each level line falls as the level rises (a linear axis, upwards)
    lines = sorted(_inside(el, svg, "line", "level"), key=lambda x: float(x["attrs"]["data-value"]))
    ys = [float(x["attrs"]["y1"]) for x in lines]
    vals = [float(x["attrs"]["data-value"]) for x in lines]
    assert all(b < a for a, b in itertools.pairwise(ys))
    if len(lines) >= 3:
        slope = [(ys[i + 1] - ys[i]) / (vals[i + 1] - vals[i]) for i in range(len(ys) - 1)]
        assert max(slope) == pytest.approx(min(slope), rel=0.05)


def test_reference_zones_behind_the_metrics_over_time(lean_page):
    el = _parse(lean_page)
    overview = {
        e["attrs"].get("data-metric"): e["attrs"] for e in el if e["tag"] == "svg" and "data-finding" not in e["attrs"]
    }
    for col in ("contact_time_s", "cadence_spm", "vertical_oscillation_m", "pelvic_drop_deg", "lateral_lean_deg"):
        assert col in overview, col
    zones = _inside(el, overview["lateral_lean_deg"], "rect", "zone")
    # +-2 / 3 / 5 deg, both sides: low, moderate and high bands on each side of zero (those in view)
    assert {z["attrs"]["data-severity"] for z in zones} >= {"low", "moderate"}
    assert "Lateral trunk lean" in " ".join(z["text"] for z in zones)
    assert overview["contact_time_s"]["data-unit"] == "ms"


def test_left_right_differences_with_their_interval(lean_run, lean_page):
    el = _parse(lean_page)
    diffs = {
        e["attrs"]["data-metric"]: e["attrs"] for e in el if e["tag"] == "circle" and e["attrs"].get("class") == "diff"
    }
    run = lean_run.analysis.running_steps
    assert "contact_time_s" in diffs and "impact_peak_mps2" in diffs
    for col, d in diffs.items():
        v = run[col].to_numpy(float)
        left = v[(run["side"] == "L").to_numpy() & np.isfinite(v)]
        right = v[(run["side"] == "R").to_numpy() & np.isfinite(v)]
        ml, mr = np.median(left), np.median(right)
        assert float(d["data-value"]) == pytest.approx(100 * (ml - mr) / ((ml + mr) / 2), abs=0.006)
        assert 0 < float(d["data-ci"]) < 20
    # units as in the tables: impact and braking in g
    lr = lean_page.split('<ul class="lr">')[1].split("</ul>")[0]
    impact = next(li for li in lr.split("<li>") if li.startswith("impact peak"))
    ml = np.median(run.loc[run["side"] == "L", "impact_peak_mps2"].dropna())
    assert f"left {ml * G_FACTOR:.2f}," in impact and " g;" in impact
    assert "m/s^2" not in lr


def test_header_and_splits(lean_run, lean_page):
    head = lean_page.split('<table class="facts">')[1].split("</table>")[0]
    assert "unknown (the recording has no start time)" in head
    assert "simulator" in head and "at 100 Hz" in head and "km, average pace" in head
    assert "<h3>Splits (per km)</h3>" in lean_page
    dated = RunReport(
        "dated",
        lean_run.analysis,
        lean_run.assessment,
        HistoryStatus("used", started_at="2024-05-04T07:30:00+02:00", date_source="session start time"),
    )
    head = render_html([dated]).split('<table class="facts">')[1].split("</table>")[0]
    assert "2024-05-04 07:30" in head and "from run history (session start time)" in head


def test_page_is_small_and_has_no_matplotlib(lean_page):
    assert len(lean_page) < 400_000
    assert "matplotlib" not in lean_page.lower()


def test_fatigue_chart_shows_the_start_value_and_drift_levels():
    from gait import simulator as sim

    r = sim.simulate(sim.preset("fatigue", duration_s=900.0, sampling_rate_hz=100.0), seed=3)
    a = analyze(r.session)
    asm = assess(a)
    f = next((f for f in asm.findings if f.fault == "fatigue"), None)
    if f is None:
        pytest.skip("no fatigue finding on this short run")
    el = _parse(render_html([RunReport("fatigue", a, asm)]))
    (svg,) = _charts(el, "fatigue")
    ref = _inside(el, svg, "line", "reference")
    assert ref and "start of the run" in ref[0]["text"]
    levels = _inside(el, svg, "line", "level")
    assert levels
    # contact time drift: levels are +4 / +6 / +10 % of the start value
    start = float(ref[0]["text"].split()[-1])
    got = sorted(float(x["attrs"]["data-value"]) for x in levels)
    assert got[0] == pytest.approx(start * 1.04, abs=1.0)


# ---------------------------------------------------------------------------------------
# terminal
# ---------------------------------------------------------------------------------------
def test_short_summary_puts_findings_first(lean_run):
    console = Console(record=True, width=120)
    print_run_summary(lean_run, console)
    text = console.export_text()
    work, metrics = text.index("What to work on"), text.index("Key metrics")
    assert work < metrics
    # findings in their ranked order, each with its cue
    pos = [text.index(f.name) for f in lean_run.assessment.findings]
    assert pos == sorted(pos) and all(p < metrics for p in pos)
    for f in lean_run.assessment.findings:
        assert f.cue in " ".join(text.split())
    assert len(text[:metrics].splitlines()) <= 25  # the findings fit in one screen
    assert "within +-2.0 deg" in text and "below 5.5 deg" in text


def test_key_metrics_ranges_and_levels(lean_run):
    rows = {m["metric"]: m for m in key_metrics(lean_run)}
    lean = rows["median.lean_deg"]
    assert lean["reference"] == "1.0 to 8.0 deg"  # too upright below 1, forward lean from 8
    ct = rows["median.contact_time_s"]
    assert ct["reference"] == "below 300 ms"
    assert rows["median.cadence_spm"]["reference"] == "above 153 spm"
    drop = rows["median.pelvic_drop_deg"]
    v = lean_run.analysis.summary["median"]["pelvic_drop_deg"]
    assert drop["level"] == ("none", "low", "moderate", "high")[CATALOGUE["pelvic_drop"].rules[0].level_of(v)]
    assert drop["shown"] == f"{v:.1f} deg"


def test_key_metrics_never_show_minus_zero(lean_run, monkeypatch):
    """A median that rounds to zero is shown "0.0", not "-0.0"; a real negative keeps its sign."""
    monkeypatch.setitem(lean_run.analysis.summary["median"], "lateral_lean_deg", -0.004)
    rows = {m["metric"]: m for m in key_metrics(lean_run)}
    assert rows["median.lateral_lean_deg"]["shown"] == "0.0 deg"
    monkeypatch.setitem(lean_run.analysis.summary["median"], "lateral_lean_deg", -0.4)
    rows = {m["metric"]: m for m in key_metrics(lean_run)}
    assert rows["median.lateral_lean_deg"]["shown"] == "-0.4 deg"


def test_analyze_short_by_default_and_full_with_details(tmp_path, capsys):
    sample = str(fx.REPO / "sample_data" / "heel_overstride.csv.gz")
    assert main(["analyze", sample, "--no-history"]) == 0
    short = capsys.readouterr().out
    assert "What to work on" in short and "Key metrics" in short
    assert "Running form (median over the run" not in short and "may point to" not in short
    assert short.index("Overstriding") < short.index("Key metrics") < short.index("See a clinician")
    assert main(["analyse", sample, "--no-history", "--details"]) == 0  # the British spelling too
    full = capsys.readouterr().out
    assert "Running form (median over the run" in full and "may point to" in full and "Session:" in full


# ---------------------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------------------
def _exit(argv, capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as e:
        code = int(e.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_suggestions_for_mistyped_commands_and_options(capsys):
    code, _, err = _exit(["analyz", "x.csv"], capsys)
    assert code == 2 and "did you mean 'analyze'?" in err
    code, _, err = _exit(["analyze", "x.csv", "--sped-mps", "3"], capsys)
    assert code == 2 and "did you mean --speed-mps?" in err and "usage: gait analyze" in err
    code, _, err = _exit(["simulate", "--out", "x.csv", "--preset", "heel_overstrid"], capsys)
    assert code == 2 and "did you mean 'heel_overstride'?" in err
    code, _, err = _exit(["analyze", "x.csv", "--zzzz"], capsys)
    assert code == 2 and "unrecognized arguments: --zzzz" in err and "did you mean" not in err


def test_gait_alone_lists_the_commands(capsys):
    code, out, _ = _exit([], capsys)
    assert code == 2
    for cmd in ("analyze", "simulate", "record", "history", "batch"):
        assert cmd in out


def test_simulate_help_and_what_it_wrote(tmp_path, capsys):
    code, out, _ = _exit(["simulate", "--help"], capsys)
    assert code == 0
    from gait.simulator import PRESETS

    for name in PRESETS:
        assert f"  {name}: " in out
    assert "cadence_spm=148" in out  # the heel_overstride runner's cadence, from the preset itself
    code, out, _ = _exit(
        [
            "simulate",
            "--preset",
            "rotation_lean",
            "--duration-s",
            "20",
            "--rate-hz",
            "100",
            "--out",
            str(tmp_path / "s.csv.gz"),
        ],
        capsys,
    )
    assert code == 0
    assert str(tmp_path / "s.csv.gz") in out and "100 Hz" in out and "20 s of running" in out
    assert "preset: rotation_lean" in out and "yaw_amplitude_deg=13" in out


def test_console_script_suggests_in_a_subprocess():
    proc = subprocess.run(
        [sys.executable, "-m", "gait.cli", "simulat"], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 2 and "did you mean 'simulate'?" in proc.stderr
