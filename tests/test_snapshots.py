"""Snapshot (regression) tests: the whole pipeline's outputs on every sample session.

For each session in ``sample_data/`` the step table, the minute table, the bouts, the run
summary, the frame information, the unavailable metrics and the fault assessment (findings
with their scores, notes, checked faults) are compared with the files stored in
``tests/snapshots/NAME/``. Numbers must agree to ``RTOL`` (relative) / ``ATOL`` (absolute, SI
units): far tighter than any accuracy figure, loose enough for the last bits that differ
between CPUs. Text must agree exactly.

A change that moves a snapshot is a scientific change: regenerate the files with

    python -m pytest tests/test_snapshots.py --update-snapshots

and say in the CHANGELOG's "Scientific changes" how far which outputs moved and why.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import gait
from gait.errors import GaitDataWarning
from gait.faults import assess

REPO = Path(__file__).resolve().parents[1]
SAMPLES = sorted(p for p in (REPO / "sample_data").glob("*.csv.gz") if not p.name.endswith(".truth.csv.gz"))
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
RTOL = 1e-9
ATOL = 1e-9


def _name(p: Path) -> str:
    return p.name.removesuffix(".csv.gz")


def _plain(x: Any) -> Any:
    """JSON-ready: NaN/inf as strings (JSON has no NaN), tuples as lists, numpy scalars as Python."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)  # 'nan', 'inf', '-inf'
    return x


def outputs(path: Path) -> dict[str, Any]:
    """Everything the pipeline produces for one session, as tables and JSON-ready objects."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GaitDataWarning)
        session = gait.read_session(path)
        a = gait.analyze(session)
        assessment = assess(a, history=None, history_reason="history is off (snapshot)")
    said = [str(w.message).replace(str(REPO), "REPO") for w in caught if issubclass(w.category, GaitDataWarning)]
    findings = [f.to_dict() | {"score": f.score} for f in assessment.findings]
    return {
        "steps": a.steps,
        "minutes": a.minutes,
        "bouts": a.bouts,
        "json": _plain(
            {
                "summary": a.summary,
                "frame": a.frame,
                "unavailable": a.unavailable,
                "findings": findings,
                "notes": [n.to_dict() for n in assessment.notes],
                "checked": list(assessment.checked),
                "warnings": said,
            }
        ),
    }


def _write_table(df: pd.DataFrame, path: Path) -> None:
    text = df.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    path.write_bytes(gzip.compress(text.encode(), mtime=0))


def _read_table(path: Path) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(gzip.decompress(path.read_bytes())), keep_default_na=False, na_values=[""])


def write_snapshot(name: str, out: dict[str, Any]) -> None:
    d = SNAPSHOTS / name
    d.mkdir(parents=True, exist_ok=True)
    for table in ("steps", "minutes", "bouts"):
        _write_table(out[table], d / f"{table}.csv.gz")
    (d / "outputs.json").write_text(json.dumps(out["json"], indent=1, sort_keys=True) + "\n")


def _compare_json(got: Any, want: Any, where: str, errors: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        if set(got) != set(want):
            errors.append(f"{where}: keys differ: +{sorted(set(got) - set(want))} -{sorted(set(want) - set(got))}")
        for k in sorted(set(got) & set(want)):
            _compare_json(got[k], want[k], f"{where}.{k}", errors)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            errors.append(f"{where}: {len(got)} items, snapshot has {len(want)}")
        for k, (g, w) in enumerate(zip(got, want)):
            _compare_json(g, w, f"{where}[{k}]", errors)
    elif isinstance(want, float | int) and isinstance(got, float | int) and not isinstance(want, bool):
        if not math.isclose(got, want, rel_tol=RTOL, abs_tol=ATOL):
            errors.append(f"{where}: {got!r}, snapshot {want!r}")
    elif got != want:
        errors.append(f"{where}: {got!r}, snapshot {want!r}")


def _compare_table(got: pd.DataFrame, want: pd.DataFrame, where: str, errors: list[str]) -> None:
    # through the same CSV writer/reader as the snapshot, so dtypes and NaN spelling match
    got = pd.read_csv(io.StringIO(got.to_csv(index=False, float_format="%.17g")), keep_default_na=False, na_values=[""])
    if list(got.columns) != list(want.columns):
        errors.append(f"{where}: columns {list(got.columns)}, snapshot {list(want.columns)}")
        return
    if len(got) != len(want):
        errors.append(f"{where}: {len(got)} rows, snapshot {len(want)}")
        return
    for c in want.columns:
        g, w = got[c], want[c]
        if pd.api.types.is_numeric_dtype(w) and pd.api.types.is_numeric_dtype(g) and w.dtype != bool:
            gv, wv = g.to_numpy(float), w.to_numpy(float)
            bad = ~(np.isclose(gv, wv, rtol=RTOL, atol=ATOL, equal_nan=True))
        else:
            bad = (g.fillna("").astype(str) != w.fillna("").astype(str)).to_numpy()
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            errors.append(
                f"{where}.{c}: {int(bad.sum())} rows differ, first row {k}: {g.iloc[k]!r}, snapshot {w.iloc[k]!r}"
            )


@pytest.fixture(scope="module")
def update(request) -> bool:
    return bool(request.config.getoption("--update-snapshots"))


def test_there_are_samples():
    assert len(SAMPLES) >= 4, SAMPLES


@pytest.mark.parametrize("path", SAMPLES, ids=_name)
def test_pipeline_outputs_match_snapshot(path: Path, update: bool):
    name = _name(path)
    out = outputs(path)
    if update:
        write_snapshot(name, out)
    d = SNAPSHOTS / name
    assert d.is_dir(), f"no snapshot for {name}: run python -m pytest {Path(__file__).name} --update-snapshots"
    errors: list[str] = []
    for table in ("steps", "minutes", "bouts"):
        _compare_table(out[table], _read_table(d / f"{table}.csv.gz"), table, errors)
    _compare_json(out["json"], json.loads((d / "outputs.json").read_text()), "outputs", errors)
    assert not errors, f"{name}: {len(errors)} differences from the snapshot:\n" + "\n".join(errors[:40])


class TestTheComparisonItself:
    """The comparison must catch a moved number, a changed text and a missing row."""

    def test_catches_a_moved_number_and_text(self):
        errors: list[str] = []
        _compare_json({"a": 1.0, "b": "x"}, {"a": 1.0 + 1e-6, "b": "y"}, "o", errors)
        assert len(errors) == 2 and "o.a" in errors[0] and "o.b" in errors[1]

    def test_tolerates_only_the_last_bits(self):
        errors: list[str] = []
        _compare_json({"a": 0.1 + 0.2, "n": "nan"}, {"a": 0.3, "n": "nan"}, "o", errors)
        assert errors == []

    def test_catches_a_changed_table_value_and_a_missing_row(self):
        want = pd.DataFrame({"x": [1.0, np.nan, 3.0], "s": ["L", "R", "?"]})
        errors: list[str] = []
        _compare_table(want.assign(x=[1.0, np.nan, 3.001]), want, "t", errors)
        _compare_table(want.iloc[:2], want, "t", errors)
        _compare_table(want.assign(s=["L", "L", "?"]), want, "t", errors)
        assert len(errors) == 3, errors
