"""The metric registry: the tables, the docs and the displays all agree with it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gait
from gait import registry
from gait.constants import G
from gait.core.metrics import MINUTE_COLUMNS, STEP_COLUMNS, STEP_METRICS
from gait.faults import DISPLAYS
from gait.live._metrics import LIVE_COLUMNS, format_metric
from gait.registry import DISPLAY_UNITS, METRICS, MINUTE_TABLE, REPORT_METRICS, STEP_TABLE
from gait.report import DISPLAY
from gait.report._display import unit_of

REPO = Path(__file__).resolve().parents[1]
TABLES_MD = REPO / "docs" / "tables.md"


@pytest.fixture(scope="module")
def analyses() -> tuple[gait.Analysis, gait.Analysis]:
    """The same simulated run analysed with and without its gyroscope."""
    s = gait.simulate(duration_s=90, seed=3).session
    return gait.analyze(s), gait.analyze(dataclasses.replace(s, gyr=None))


def _documented(table: str) -> list[str]:
    text = TABLES_MD.read_text()
    begin, end = registry._markers(table)
    block = text[text.index(begin) + len(begin) : text.index(end)]
    names = []
    for line in block.strip().splitlines()[2:]:
        first_cell = line.split("|")[1]
        names += re.findall(r"`([a-z0-9_]+)`", first_cell)
    return names


class TestDocs:
    def test_docs_list_exactly_the_registered_columns(self):
        assert _documented("steps") == list(STEP_TABLE)
        assert _documented("minutes") == list(MINUTE_TABLE)

    def test_docs_are_the_generated_text(self):
        text = TABLES_MD.read_text()
        assert registry.update_docs(text) == text, "run: python -m gait.registry docs/tables.md"

    def test_update_refuses_a_file_without_markers(self):
        with pytest.raises(ValueError, match="no generated block for 'steps'"):
            registry.update_docs("# tables\n")


class TestTheTablesAreRegistered:
    def test_every_step_and_minute_column_is_registered(self, analyses):
        a, _ = analyses
        assert list(a.steps.columns) == list(STEP_TABLE)
        assert list(a.minutes.columns) == list(MINUTE_TABLE)
        assert set(a.steps.columns) | set(a.minutes.columns) <= set(METRICS)
        assert set(METRICS) == set(STEP_TABLE) | set(MINUTE_TABLE)

    def test_the_core_column_lists_are_the_registry(self):
        assert list(STEP_COLUMNS) == list(STEP_TABLE)
        assert list(MINUTE_COLUMNS) == list(MINUTE_TABLE)
        assert list(STEP_METRICS) == [n for n in MINUTE_TABLE if "steps" in METRICS[n].tables]

    def test_dtypes_agree_with_the_step_table(self):
        kinds = {int: "int", float: "float", bool: "bool", object: "text"}
        assert {c: kinds[d] for c, d in STEP_COLUMNS.items()} == {c: METRICS[c].dtype for c in STEP_TABLE}

    def test_needs_gyroscope_is_what_goes_missing_without_one(self, analyses):
        with_gyro, without = analyses
        lost = set()
        for name, m in METRICS.items():
            if name in without.unavailable and name not in with_gyro.unavailable:
                lost.add(name)
            elif m.dtype == "float":
                table = "steps" if "steps" in m.tables else "minutes"
                had = np.isfinite(getattr(with_gyro, table)[name].to_numpy(float)).any()
                has = np.isfinite(getattr(without, table)[name].to_numpy(float)).any()
                if had and not has:
                    lost.add(name)
        assert lost == {n for n, m in METRICS.items() if m.needs_gyroscope}

    def test_names_carry_one_spelling_per_unit(self):
        for name in METRICS:
            assert not re.search(r"_(m_s2|m_s3|rad_s|deg_s|m_s)$", name), name
        suffix_unit = {"_s": "s", "_m": "m", "_mps": "m/s", "_mps2": "m/s^2", "_mps3": "m/s^3", "_deg": "deg"}
        suffix_unit |= {"_pct": "%", "_spm": "steps/min", "_bw": "body weights"}
        for name, m in METRICS.items():
            suffix = "_" + name.rsplit("_", 1)[-1]
            if suffix in suffix_unit:
                assert m.si_unit == suffix_unit[suffix], name


class TestDisplays:
    def test_every_display_key_exists_and_shares_the_si_unit(self):
        for name, m in METRICS.items():
            if m.display is not None:
                assert m.display_unit.si_unit == m.si_unit, name

    def test_catalogue_displays_are_the_registry_units(self):
        assert set(DISPLAYS) == set(DISPLAY_UNITS)
        assert DISPLAYS["g_per_s"] == (1.0 / G, "g/s", 0, "m/s^3")
        assert DISPLAYS["ms"] == (1000.0, "ms", 0, "s")

    def test_report_table_rows(self):
        assert [row[1] for row in DISPLAY] == list(REPORT_METRICS)
        rows = {row[1]: row for row in DISPLAY}
        assert rows["impact_peak_mps2"] == ("impact peak", "impact_peak_mps2", 1.0 / G, "g", 2)
        assert rows["duty_factor"] == ("duty factor", "duty_factor", 100.0, "%", 1)
        assert rows["step_regularity"] == ("step regularity", "step_regularity", 1.0, "", 2)
        assert unit_of("cadence_spm") == "steps/min" and unit_of("loading_rate_mps3") == "m/s^3"
        assert unit_of("duty_factor") == "1" and unit_of("braking_velocity_loss_mps") == "m/s"

    @pytest.mark.parametrize(
        ("name", "value", "shown"),
        [
            ("contact_time_s", 0.2534, "253 ms"),
            ("impact_peak_mps2", 2 * G, "2.00 g"),
            ("lean_deg", 3.04, "+3.0 deg"),
            ("lean_deg", -1.0, "-1.0 deg"),
            ("vertical_oscillation_m", 0.0812, "8.1 cm"),
            ("duty_factor", 0.345, "34.5 %"),
            ("cadence_spm", float("nan"), "n/a"),
        ],
    )
    def test_format(self, name, value, shown):
        assert METRICS[name].format(value) == shown

    def test_live_rows_come_from_the_registry(self):
        from gait.live._dashboard import _ROWS

        assert _ROWS == (
            ("cadence", "cadence_spm"),
            ("contact time", "contact_time_s"),
            ("bounce", "vertical_oscillation_m"),
            ("lean", "lean_deg"),
            ("rotation", "yaw_range_deg"),
        )
        assert [format_metric(c, 0.25) for c in LIVE_COLUMNS] == ["0 spm", "250 ms", "25.0 cm", "+0.2 deg", "0.2 deg"]


def test_an_unknown_metric_names_the_close_ones():
    with pytest.raises(KeyError, match=r"braking_velocity_loss_mps2'.*did you mean braking_velocity_loss_mps"):
        registry.metric("braking_velocity_loss_mps2")


def test_summary_metrics_are_registered(analyses):
    a, _ = analyses
    assert set(a.summary["median"]) <= set(METRICS)
    assert isinstance(a.minutes, pd.DataFrame)
