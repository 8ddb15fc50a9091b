"""``gait analyze`` end to end on odd but valid sessions: never a traceback.

Sessions that are valid yet unlike a typical run (two samples, times far from zero, constant
signals, walking or standing only, an axis missing, no gyroscope, clipped or noisy signals,
gaps, jitter, every unit, 90 Hz to 2 kHz, phone exports and the Alcantara dataset layout) go
through the whole command with its options (JSON, HTML, tables, a speed, history, stored
calibration). Each run must exit with 0 (analysed) or 2 (refused, one ``error:`` line) and
never raise. This module keeps a representative part as tests; the whole campaign (about 500
runs) is::

    python -m tests.test_cli_odd_sessions
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import json
import os
import sys
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from gait.cli import main
from gait.constants import G
from gait.io import save_session
from gait.session import Session, SessionMetadata
from gait.simulator import SensorModel, SimulationConfig, preset, simulate

from .test_fuzz_loaders import alcantara_files, phyphox_files, render_csv, sensorlogger_files, write_folder, write_zip


# ---------------------------------------------------------------------------------------
# odd but valid sessions
# ---------------------------------------------------------------------------------------
@functools.cache
def _sim(kind: str) -> Session:
    quiet = {"standing_before_s": 4.0, "walking_before_s": 6.0, "walking_after_s": 4.0, "standing_after_s": 2.0}
    if kind == "run":
        return simulate(SimulationConfig(duration_s=40, seed=1, warmup_s=0, **quiet)).session
    if kind == "body":
        return simulate(SimulationConfig(duration_s=40, seed=2, warmup_s=0, **quiet), frame="body").session
    if kind == "nogyro":
        cfg = SimulationConfig(duration_s=40, seed=3, warmup_s=0, sensor=SensorModel(has_gyro=False), **quiet)
        return simulate(cfg).session
    if kind == "heel":
        return simulate(preset("heel_overstride"), duration_s=40, seed=4, warmup_s=0, **quiet).session
    if kind == "100hz":
        return simulate(SimulationConfig(duration_s=40, seed=5, sampling_rate_hz=100, warmup_s=0, **quiet)).session
    if kind == "1000hz":
        return simulate(SimulationConfig(duration_s=20, seed=6, sampling_rate_hz=1000, warmup_s=0, **quiet)).session
    if kind == "random_mount":
        return simulate(SimulationConfig(duration_s=40, seed=7, mounting="random", warmup_s=0, **quiet)).session
    if kind == "standing_start_only":
        cfg = SimulationConfig(duration_s=5, seed=8, warmup_s=0, walking_before_s=0, walking_after_s=0)
        return simulate(cfg).session
    raise KeyError(kind)


def _replace(s: Session, **kw) -> Session:
    return s.replace(**kw)


def _rotate(s: Session, R: np.ndarray) -> Session:
    return s.replace(acc=s.acc @ R.T, gyr=None if s.gyr is None else s.gyr @ R.T)


def _cut_gaps(s: Session, gaps: list[tuple[float, float]]) -> Session:
    keep = np.ones(s.n_samples, bool)
    for a, b in gaps:
        keep &= ~((s.t >= a) & (s.t < b))
    return s.replace(t=s.t[keep], acc=s.acc[keep], gyr=None if s.gyr is None else s.gyr[keep])


def _constant(s: Session, acc: tuple[float, float, float]) -> Session:
    return s.replace(acc=np.tile(acc, (s.n_samples, 1)), gyr=None if s.gyr is None else np.zeros_like(s.gyr))


def _biaxial(s: Session) -> Session:
    acc = s.acc.copy()
    acc[:, 2] = np.nan
    return s.replace(acc=acc, gyr=None)


def _jitter(s: Session, share: float, seed: int = 0) -> Session:
    rng = np.random.default_rng(seed)
    return s.replace(t=s.t + rng.uniform(-share, share, s.n_samples) / s.sampling_rate_hz)


def _noise(s: Session, sd: float) -> Session:
    rng = np.random.default_rng(1)
    return s.replace(acc=s.acc + rng.normal(0, sd, s.acc.shape))


def _sine(n: int, fs: float, f_hz: float, amp: float) -> Session:
    t = np.arange(n) / fs
    acc = np.column_stack([np.zeros(n), np.zeros(n), G + amp * np.sin(2 * np.pi * f_hz * t)])
    return Session(t=t, acc=acc, gyr=np.zeros((n, 3)), frame="sensor", meta=SessionMetadata(sampling_rate_hz=fs))


FLIP = np.diag([1.0, -1.0, -1.0])
SCENARIOS: dict[str, Callable[[], Session]] = {
    "two_samples": lambda: _sim("run").slice_time(10, 10.01),
    "half_second": lambda: _sim("run").slice_time(30, 30.5),
    "just_under_3s": lambda: _sim("run").slice_time(30, 32.995),
    "exactly_3s": lambda: _sim("run").slice_time(30, 33.0),
    "ten_seconds_running": lambda: _sim("run").slice_time(25, 35),
    "standing_only": lambda: _sim("run").slice_time(0, 4),
    "walking_only": lambda: _sim("run").slice_time(4.5, 10),
    "walking_and_standing": lambda: _sim("run").slice_time(0, 10),
    "running_only": lambda: _sim("run").slice_time(12, 48),
    "full_run": lambda: _sim("run"),
    "epoch_offset": lambda: _sim("run").replace(t=_sim("run").t + 1.7e9),
    "negative_times": lambda: _sim("run").replace(t=_sim("run").t - 1e4),
    "all_below_minus_60": lambda: _sim("run").replace(t=_sim("run").t - 61 - _sim("run").t[-1]),
    "day_offset": lambda: _sim("run").replace(t=_sim("run").t + 86_399.0),
    "constant_gravity": lambda: _constant(_sim("run"), (0.0, 0.0, G)),
    "constant_x_up": lambda: _constant(_sim("run"), (G, 0.0, 0.0)),
    "constant_tilted": lambda: _constant(_sim("run"), (3.0, 4.0, 8.3)),
    "body_frame": lambda: _sim("body"),
    "biaxial_body": lambda: _biaxial(_sim("body")),
    "no_gyroscope": lambda: _sim("nogyro"),
    "gyro_all_zero": lambda: _sim("run").replace(gyr=np.zeros_like(_sim("run").gyr)),
    "heel_striker": lambda: _sim("heel"),
    "100_hz": lambda: _sim("100hz"),
    "1000_hz": lambda: _sim("1000hz"),
    "upside_down": lambda: _rotate(_sim("run"), FLIP),
    "random_mounting": lambda: _sim("random_mount"),
    "clipped_2g": lambda: _sim("run").replace(acc=np.clip(_sim("run").acc, -2 * G, 2 * G)),
    "very_noisy": lambda: _noise(_sim("run"), 20.0),
    "short_gaps": lambda: _cut_gaps(_sim("run"), [(20, 20.1), (25, 25.2), (30, 30.05)]),
    "long_gap": lambda: _cut_gaps(_sim("run"), [(20, 35)]),
    "many_gaps": lambda: _cut_gaps(_sim("run"), [(a, a + 0.3) for a in np.arange(12, 45, 1.0)]),
    "jittered": lambda: _jitter(_sim("run"), 0.3),
    "sine_3hz": lambda: _sine(8000, 200.0, 3.0, 12.0),
    "sine_20hz": lambda: _sine(8000, 200.0, 20.0, 30.0),
    "standing_start_only": lambda: _sim("standing_start_only"),
}
#: (file format or unit variant, CSV options)
WRITERS = ["csv", "csv.gz", "parquet", "g_deg_ms", "mg_us", "ns_4_decimals"]
OPTIONS = [
    [],
    ["--speed-mps", "3.2"],
    ["--json", "{out}/r.json", "--html", "{out}/r.html"],
    ["--steps", "{out}/steps.csv", "--minutes", "{out}/minutes.parquet"],
    ["--shoes", "Pegasus 40 é", "--history-db", "{out}/h.sqlite", "--store-history"],
    ["--no-calibration", "--no-history", "--steps", "{out}/steps.parquet"],
]


def write_session(s: Session, writer: str, folder: Path) -> Path:
    if writer in ("csv", "csv.gz", "parquet"):
        return save_session(s, folder / f"s.{writer}")
    p = folder / "s.csv"
    if writer == "g_deg_ms":
        text = render_csv(s, acc_unit="g", gyr_unit="dps", t_unit="ms")
    elif writer == "mg_us":
        text = render_csv(s, acc_unit="mg", t_unit="us")
    else:
        text = render_csv(s, t_unit="ns", fmt=lambda v: f"{v:.4f}")
    p.write_text(text)
    return p


def phone_and_dataset_inputs(folder: Path) -> list[tuple[str, Path]]:
    out = []
    run = _sim("100hz").slice_time(10, 45)
    for app, files in (
        ("phyphox", phyphox_files(100.0, run)),
        ("sensorlogger-android", sensorlogger_files("android", run)),
        ("sensorlogger-ios", sensorlogger_files("ios", run)),
    ):
        out.append((f"{app}-zip", write_zip(folder / f"{app}.zip", files, ("none",))))
        out.append((f"{app}-folder", write_folder(folder / app, files)))
    for layout in ("subset", "authors", "zenodo"):
        out.append((f"alcantara-{layout}", write_folder(folder / f"alcantara-{layout}", alcantara_files(layout))))
    return out


def cases() -> list[tuple[str, str, int]]:
    """(scenario, writer, option set) of the whole campaign: every scenario in every writer
    with two option sets each (rotating through them), plus every option set on two scenarios."""
    out = []
    for i, (name, writer) in enumerate(itertools.product(SCENARIOS, WRITERS)):
        out.append((name, writer, i % len(OPTIONS)))
        out.append((name, writer, (i + 3) % len(OPTIONS)))
    for name in ("full_run", "biaxial_body"):
        for k in range(len(OPTIONS)):
            out.append((name, "csv", k))
    return out


# ---------------------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------------------
def run_cli(args: list[str]) -> tuple[int | str, str, str]:
    """``gait`` in this process: (exit status or the exception's type, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code: int | str = main(args)
        except SystemExit as e:  # argparse
            code = int(e.code or 0)
        except Exception as e:  # a traceback is what this campaign looks for
            code = type(e).__name__
            err.write("".join(traceback.format_exception(type(e), e, e.__traceback__, limit=-8)))
    return code, out.getvalue(), err.getvalue()


def analyse(path: Path, options: list[str], out: Path) -> tuple[int | str, str, str]:
    args = ["analyze", str(path), *(o.format(out=out) for o in options)]
    if not any(o in options for o in ("--no-history", "--history-db")):
        args += ["--history-db", str(out / "history.sqlite")]
    return run_cli(args)


def check(code: int | str, stdout: str, stderr: str) -> str | None:
    """Why a run breaks the contract, or None."""
    if not isinstance(code, int):
        return f"traceback ({code})"
    if code not in (0, 2):
        return f"exit status {code}"
    if code == 2 and not stderr.strip().splitlines()[-1].startswith("error: "):
        return "refused without an 'error:' line"
    if "Traceback" in stderr:
        return "traceback on stderr"
    return None


# ---------------------------------------------------------------------------------------
# the representative part, as tests
# ---------------------------------------------------------------------------------------
EXPECTED = [
    # (scenario, writer, options, exit status, text on stdout (0) or in the error line (2))
    ("two_samples", "csv", 0, 2, "too short to analyse; expected at least 3 s of samples, found 0.01 s"),
    ("just_under_3s", "parquet", 1, 2, "too short to analyse"),
    ("exactly_3s", "csv.gz", 2, 0, ""),  # 600 samples at 200 Hz
    ("standing_only", "csv", 0, 0, ""),
    ("walking_only", "g_deg_ms", 3, 0, ""),
    ("epoch_offset", "csv.gz", 0, 0, ""),
    ("all_below_minus_60", "csv", 2, 0, ""),
    ("constant_gravity", "parquet", 0, 0, ""),
    ("constant_tilted", "mg_us", 4, 0, ""),
    ("biaxial_body", "csv", 2, 0, ""),
    ("no_gyroscope", "ns_4_decimals", 5, 0, ""),
    ("gyro_all_zero", "csv", 1, 0, ""),
    ("1000_hz", "parquet", 3, 0, ""),
    ("clipped_2g", "csv", 0, 0, ""),
    ("very_noisy", "csv.gz", 1, 0, ""),
    ("many_gaps", "csv", 2, 0, ""),
    ("long_gap", "parquet", 0, 0, ""),
    ("jittered", "csv", 0, 0, ""),
    ("sine_3hz", "csv", 3, 0, ""),
    ("sine_20hz", "parquet", 0, 0, ""),
    ("standing_start_only", "csv", 4, 0, ""),
]


@pytest.mark.parametrize(("scenario", "writer", "options", "status", "text"), EXPECTED, ids=[e[0] for e in EXPECTED])
def test_odd_session_end_to_end(tmp_path, scenario, writer, options, status, text):
    p = write_session(SCENARIOS[scenario](), writer, tmp_path)
    code, stdout, stderr = analyse(p, OPTIONS[options], tmp_path)
    assert check(code, stdout, stderr) is None, stderr[-3000:]
    assert code == status, stderr[-3000:]
    if status == 2:
        assert text in stderr.strip().splitlines()[-1]
    else:
        assert "What to work on" in stdout
        for o in OPTIONS[options]:
            if o.startswith("{out}/"):
                assert (tmp_path / o.removeprefix("{out}/")).is_file()


def test_phone_exports_and_dataset_end_to_end(tmp_path):
    for label, p in phone_and_dataset_inputs(tmp_path):
        code, stdout, stderr = analyse(p, ["--no-history", "--json", "{out}/" + label + ".json"], tmp_path)
        assert check(code, stdout, stderr) is None, f"{label}: {stderr[-3000:]}"
        assert code == 0, f"{label}: {stderr[-2000:]}"


def test_low_rate_refused_by_the_analysis(tmp_path):
    s = simulate(SimulationConfig(duration_s=20, sampling_rate_hz=50, seed=9)).session
    code, _, stderr = analyse(save_session(s, tmp_path / "s.csv"), ["--no-history"], tmp_path)
    assert code == 2
    assert stderr.strip().splitlines()[-1] == (
        f"error: {tmp_path / 's.csv'}: sampling rate too low for the analysis; expected at least 90 Hz (below it "
        "the brief impact of a heel strike is missed, so steps and contact times would be wrong), found 50 Hz. "
        "Record at 100 Hz or more (most sensors and phone apps can)"
    )


# ---------------------------------------------------------------------------------------
# the whole campaign
# ---------------------------------------------------------------------------------------
def campaign() -> dict:
    outcomes: Counter[str] = Counter()
    failures: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gait-cli-") as tmp:
        root = Path(tmp)
        os.environ.setdefault("GAIT_CALIBRATION_DIR", str(root / "calibration"))
        runs = 0
        for k, (name, writer, opt) in enumerate(cases()):
            folder = root / f"c{k}"
            folder.mkdir()
            p = write_session(SCENARIOS[name](), writer, folder)
            code, stdout, stderr = analyse(p, OPTIONS[opt], folder)
            runs += 1
            why = check(code, stdout, stderr)
            key = f"{name}/{writer}/{opt}"
            if why:
                outcomes[why] += 1
                failures.setdefault(why + ": " + key, stderr[-2500:])
            else:
                last = stderr.strip().splitlines()[-1] if code == 2 else ""
                outcomes["analysed" if code == 0 else "refused: " + last.split(";")[0].split(": ")[-1]] += 1
        for label, p in phone_and_dataset_inputs(root):
            for opt in range(len(OPTIONS)):
                folder = root / f"{label}-{opt}"
                folder.mkdir()
                code, stdout, stderr = analyse(p, OPTIONS[opt], folder)
                runs += 1
                why = check(code, stdout, stderr)
                if why:
                    outcomes[why] += 1
                    failures.setdefault(why + ": " + label, stderr[-2500:])
                else:
                    last = stderr.strip().splitlines()[-1] if code == 2 else ""
                    outcomes["analysed" if code == 0 else "refused: " + last.split(";")[0].split(": ")[-1]] += 1
    return {"runs": runs, "outcomes": dict(outcomes), "failures": failures}


if __name__ == "__main__":  # pragma: no cover - campaign runner
    import warnings

    warnings.simplefilter("ignore")
    result = campaign()
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}, indent=1))
    for k, v in result["failures"].items():
        print(f"\n=== {k}\n{v}")
    sys.exit(0)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("-3", "found -3. A speed is a positive number (the treadmill's or the GPS's speed)"),
        ("0", "found 0. A speed is a positive number (the treadmill's or the GPS's speed)"),
        ("15", "found 15. 15 looks like km/h: 15 km/h is 4.17 m/s, so pass --speed-mps 4.17"),
        ("300", "found 300"),
        ("nan", None),
    ],
)
@pytest.mark.parametrize("command", ["analyze", "simulate", "batch"])
def test_speed_must_be_a_running_speed_in_m_s(tmp_path, command, value, found):
    p = save_session(_sim("run").slice_time(12, 20), tmp_path / "s.csv")
    args = {
        "analyze": ["analyze", str(p), "--no-history"],
        "simulate": ["simulate", "--out", str(tmp_path / "x.csv")],
        "batch": ["batch", str(p), "--out", str(tmp_path / "out"), "--quiet"],
    }[command]
    code, stdout, stderr = run_cli([*args, "--speed-mps", value])
    assert code == 2 and stdout == "" and not (tmp_path / "x.csv").exists() and not (tmp_path / "out").exists()
    expected = (
        "error: parameter '--speed-mps': not a finite number; expected a running speed in m/s, found nan"
        if found is None
        else "error: parameter '--speed-mps': running speed out of range; expected a speed in m/s between 0 and 12 "
        f"(exclusive; 3.5 m/s is 12.6 km/h), {found}"
    )
    assert stderr.strip() == expected
