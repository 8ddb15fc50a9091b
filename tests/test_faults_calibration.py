"""A small version of ``benchmarks/faults.py`` with tight assertions: good-form runs give no
finding above low; a run with one injected fault ranks that fault first; downhill without an
elevation track is reported as not assessable."""

from __future__ import annotations

import pytest

from gait.faults import SEVERITIES
from tests._fault_fixtures import load_benchmark

B = load_benchmark()
FAULT_CASES = [c for c in B.CASES if c.expected is not None]


@pytest.mark.parametrize("seed", range(6))
def test_good_form_gives_nothing_above_low(seed):
    out = B.run_case(B.CASE_BY_NAME["good form"], 100 + seed)
    assert all(SEVERITIES.index(s) <= 1 for _, s, _ in out.found), out


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.name for c in FAULT_CASES])
def test_injected_fault_is_ranked_first(case):
    seed = 200 + FAULT_CASES.index(case)  # a different runner, speed, mounting and sensor per case
    out = B.run_case(case, seed)
    if case.expect_note:
        assert out.note and not out.detected, out
        return
    assert out.first, out
    assert SEVERITIES.index(out.severity) >= 1
    assert out.others_above_low == 0, out
    if case.expected not in ("too_upright", "rigid_trunk"):  # low-severity notes by design
        assert SEVERITIES.index(out.severity) >= 2, out


def test_table_renders():
    clean = B.Outcome("good form", 0, 3.0, "belt_clip", 100.0, None, (), False)
    rows = B.summarise([clean, B.run_case(FAULT_CASES[0], 0)])
    md = B.markdown(rows)
    assert "| good form | none | 1 | 1/1 clean" in md
    assert "| heel striking | `heel_strike` | 1 | 1/1 | 1/1 |" in md


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 4])
def test_second_build_without_gyroscope_good_form_stays_clean(seed):
    """Configuration B without a gyroscope (seeds 1 and 4: an easy jog, then a walk, before a pick-up
    of pace; symmetric stance force): nothing above low, and the faults that need a gyroscope
    say so instead of guessing."""
    out = B.run_case(B.CASE_BY_NAME["good form"], seed, build="B")
    assert out.gyro is False
    assert all(SEVERITIES.index(s) <= 1 for _, s, _ in out.found), out
    drop = B.run_case(B.CASE_BY_NAME["pelvic drop"], seed, build="B")
    assert drop.note and not drop.found, drop
