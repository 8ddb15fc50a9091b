"""The README's examples run as written and print what the README says they print."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gait.simulator import load_truth

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(section: str, lang: str) -> list[str]:
    """The fenced ``lang`` code blocks of the README section titled ``section``."""
    text = README.read_text(encoding="utf-8")
    m = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert m, f"README has no section '## {section}'"
    return re.findall(rf"^```{lang}\n(.*?)^```", m.group(1), flags=re.S | re.M)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["COLUMNS"] = "250"
    return env


def test_three_ways_python_example(tmp_path):
    (code,) = _blocks("Three ways to use it", "python")
    root = README.parent
    out = subprocess.run(
        [sys.executable, "-c", code + "\nprint('contact', a.summary['median']['contact_time_s'], len(sim.steps))"],
        cwd=root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    contact = float(out.stdout.split()[-2])
    truth, _ = load_truth(root / "sample_data" / "easy_run.csv.gz")
    expected = float(truth.loc[truth["activity"] == "running", "contact_time_s"].median())
    assert contact == pytest.approx(expected, abs=0.005)  # the sample run's true median contact time


@pytest.mark.slow
def test_batch_workflow(tmp_path):
    (shell,) = _blocks("Batch", "bash")
    (code,) = _blocks("Batch", "python")
    env = _env()
    run = subprocess.run(
        ["bash", "-e", "-c", shell], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr
    assert "12 sessions from 12 sources: 12 analysed now, 0 already done, 0 failed" in run.stdout
    py = subprocess.run(
        [
            sys.executable,
            "-c",
            "import pandas as pd; pd.set_option('display.width', 250);"
            "pd.set_option('display.max_colwidth', 100)\n" + code,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert py.returncode == 0, py.stderr
    lines = py.stdout.splitlines()
    # what the README states about this cohort
    for preset, faults in [
        ("easy", ""),
        ("fatigue", ""),
        ("heel_overstride", "overstriding:high,heel_strike:high"),
        ("rotation_lean", "trunk_rotation:high,lateral_lean:moderate,pelvic_drop:moderate"),
    ]:
        rows = [ln for ln in lines if f"cohort/{preset}_" in ln]
        assert len(rows) == 3, rows
        for row in rows:
            found = row.split()[-1] if faults else ""
            assert (found == faults) if faults else not re.search(r":(low|moderate|high)", row), row
    heel = [ln.split() for ln in lines if "cohort/heel_overstride_" in ln]
    assert all(146.0 < float(r[2]) < 148.5 and 0.96 < float(r[4]) < 0.99 for r in heel), heel
    # contact time of the overstriding runs by minute: about 0.36 s in the first, 0.30 s after
    minutes = [ln.split() for ln in lines if re.fullmatch(r"[0-9a-f]{16}(\s+[\d.]+){6}", ln.strip())]
    assert len(minutes) == 3, py.stdout
    for row in minutes:
        values = [float(v) for v in row[1:]]
        assert 0.34 < values[0] < 0.38, row
        assert all(0.29 < v < 0.31 for v in values[2:]), row
