"""The statistics of ``gait history``: run-to-run noise, baseline band, weekly flags, the two
comparisons and their p-values (exact values on small cases, coverage on large simulated ones)."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats

from gait.errors import GaitInputError
from gait.history import RunRecord
from gait.history.stats import (
    ALPHA,
    BAND_K,
    KEY_METRICS,
    compare_periods,
    compare_runs,
    holm,
    metric_spec,
    permutation_p,
    run_to_run_noise,
    studentised_p,
    trend,
)

CAD = metric_spec("cadence")
T0 = datetime(2024, 1, 1, 7, 0, tzinfo=UTC)  # a Monday


def _runs(values, *, key="median.cadence_spm", days=None, start=T0):
    days = days if days is not None else [3.5 * k for k in range(len(values))]
    return [
        RunRecord(f"r{k:03d}", start + timedelta(days=d), "given", 1900, 1800, run_id=k + 1, metrics={key: float(v)})
        for k, (v, d) in enumerate(zip(values, days))
    ]


class TestNoise:
    def test_exact_small_case(self):
        assert run_to_run_noise([0.0, 1.0, 0.0, 1.0]) == pytest.approx(1.482602218505602 / math.sqrt(2))
        assert run_to_run_noise([170, 172, np.nan, 171, 175]) == pytest.approx(
            1.482602218505602 * np.median([2, 1, 4]) / math.sqrt(2)
        )

    def test_needs_four_runs(self):
        assert math.isnan(run_to_run_noise([1.0, 2.0, 3.0]))
        assert math.isnan(run_to_run_noise([1.0, 2.0, np.nan, 3.0]))

    def test_a_trend_and_a_step_are_not_noise(self):
        rng = np.random.default_rng(7)
        n, sigma = 4000, 2.0
        x = 170 + rng.normal(0, sigma, n)
        drifting = x + np.linspace(0, 15, n)  # a slow trend of 7.5 sigma
        drifting[n // 2 :] += 10.0  # and a step of 5 sigma
        assert run_to_run_noise(x) == pytest.approx(sigma, rel=0.05)
        assert run_to_run_noise(drifting) == pytest.approx(sigma, rel=0.05)
        assert np.std(drifting) > 3 * sigma  # what the plain SD would have called noise

    def test_an_odd_run_barely_moves_it(self):
        rng = np.random.default_rng(3)
        x = 170 + rng.normal(0, 1.0, 40)
        odd = x.copy()
        odd[20] += 30.0  # a run on a hill, a sensor that slipped
        assert run_to_run_noise(odd) == pytest.approx(run_to_run_noise(x), rel=0.15)


class TestHolm:
    def test_values(self):
        p = [0.01, 0.04, 0.03, 0.005, np.nan]
        adj = holm(p)
        # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> monotone 0.06
        assert adj[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
        assert math.isnan(adj[4])
        assert holm([0.5, 0.9])[1] == 1.0 and holm([]).size == 0


class TestPermutation:
    def test_exact_equals_brute_force(self):
        a, b = [1.0, 2.5, 3.0], [2.0, 4.0, 5.5, 6.0]
        pooled = a + b
        obs = abs(np.mean(b) - np.mean(a))
        count = total = 0
        for perm in itertools.permutations(pooled):
            total += 1
            count += abs(np.mean(perm[3:]) - np.mean(perm[:3])) >= obs - 1e-12
        assert permutation_p(a, b) == pytest.approx(count / total)

    def test_smallest_p_with_three_runs_each(self):
        assert permutation_p([1, 2, 3], [10, 11, 12]) == pytest.approx(2 / 20)
        assert permutation_p([1, 2, 3, 4], [10, 11, 12, 13]) == pytest.approx(2 / 70)
        assert 2 / 70 < ALPHA

    def test_random_permutations_agree_with_a_t_test_on_normal_data(self):
        rng = np.random.default_rng(11)
        a, b = rng.normal(0, 1, 20), rng.normal(0.8, 1, 20)  # C(40, 20) splits: random permutations
        p = permutation_p(a, b)
        assert p == pytest.approx(stats.ttest_ind(a, b).pvalue, abs=0.01)
        assert p == permutation_p(a, b)  # fixed seed: the same answer every time

    def test_empty_group(self):
        assert math.isnan(permutation_p([], [1.0]))


class TestTrend:
    def test_weeks_baseline_band_and_flags(self):
        # two runs a week (Monday, Thursday) for 6 weeks; cadence 170 +- 1, then +6 spm from week 5
        offsets = [1, -1, -1, 1, 1, -1, -1, 1]
        values = [170 + o for o in offsets] + [176 + o for o in (1, -1, -1, 1)]
        runs = _runs(values)
        t = trend(runs, CAD, baseline_runs=runs[:8])
        diffs = np.abs(np.diff(values[:8]))
        sigma = 1.482602218505602 * np.median(diffs) / math.sqrt(2)
        assert t.baseline == 170.0 and t.n_baseline == 8 and t.noise_sd == pytest.approx(sigma)
        assert t.band == pytest.approx((170 - BAND_K * sigma, 170 + BAND_K * sigma))
        assert [w.week_start for w in t.weeks] == [date(2024, 1, 1) + timedelta(weeks=k) for k in range(6)]
        assert [w.n for w in t.weeks] == [2] * 6
        assert [w.mean for w in t.weeks] == pytest.approx([170] * 4 + [176] * 2)
        assert [w.flag for w in t.weeks] == ["within"] * 4 + ["higher"] * 2
        assert t.unavailable is None and len(t.runs) == 12

    def test_empty_weeks_are_listed_and_missing_values_left_out(self):
        runs = _runs([170, 171, 169, 172, 170], days=[0, 1, 2, 22, 23])
        runs[1] = RunRecord("x", runs[1].started_at, "given", 1, 1, metrics={})  # no cadence in this run
        t = trend(runs, CAD)
        assert [w.n for w in t.weeks] == [2, 0, 0, 2]
        assert math.isnan(t.weeks[1].mean) and t.weeks[1].flag is None
        assert len(t.runs) == 4 and t.baseline == 170.0  # median of 170, 169, 172, 170

    def test_too_few_runs_for_a_band(self):
        t = trend(_runs([170, 171, 172]), CAD)
        assert "needs at least 4 runs with cadence" in t.unavailable and "(found 3)" in t.unavailable
        assert all(w.flag is None for w in t.weeks)
        assert trend([], CAD).weeks == ()


class TestCompare:
    def test_two_runs_against_the_noise_of_the_other_runs(self):
        history = _runs([170, 171, 170, 171, 170, 171, 170, 171])
        a = history[0]
        b = RunRecord("b", T0 + timedelta(days=40), "given", 1, 1, run_id=9, metrics={"median.cadence_spm": 175.0})
        cmp = compare_runs(a, b, [*history, b], [CAD])
        (d,) = cmp.items
        sigma = run_to_run_noise([171, 170, 171, 170, 171, 170, 171])  # the runs other than A and B
        assert d.difference == 5.0 and d.noise_sd == pytest.approx(sigma) and d.effect == pytest.approx(5 / sigma)
        assert d.p == studentised_p(5 / (math.sqrt(2) * sigma), 7)
        assert d.p_adjusted == d.p and d.beyond_noise is True  # one metric: no adjustment
        assert cmp.label_a.startswith("run 1 (2024-01-01") and cmp.kind == "runs"
        same = compare_runs(a, history[2], history, [CAD]).items[0]
        assert same.difference == 0 and same.beyond_noise is False

    def test_studentised_p_is_calibrated(self):
        """Under normal noise the p-value is uniform for any number of runs: 5 % of unchanged
        metrics fall below 0.05 (a normal p-value would give 15 % with 4 runs)."""
        rng = np.random.default_rng(99)
        for n in (4, 10, 30):
            x = rng.standard_normal((4000, n))
            sigma = 1.482602218505602 * np.median(np.abs(np.diff(x, axis=1)), axis=1) / math.sqrt(2)
            t = rng.standard_normal(4000) / sigma
            p = np.array([studentised_p(v, n) for v in t])
            assert np.mean(p < 0.05) == pytest.approx(0.05, abs=0.012)  # binomial SD 0.0034
            assert np.mean(2 * stats.norm.sf(np.abs(t)) < 0.05) > 0.055  # the normal p-value is not
        assert studentised_p(1.96, 2000) == pytest.approx(0.05, abs=0.006)  # many runs: the normal limit
        assert studentised_p(0.0, 10) == 1.0 and studentised_p(1e9, 10) == pytest.approx(1 / 20_001)

    def test_noise_unknown_with_too_few_runs(self):
        runs = _runs([170, 175])
        (d,) = compare_runs(runs[0], runs[1], runs, [CAD]).items
        assert d.beyond_noise is None and "needs 4 other runs" in d.reason and math.isnan(d.p)

    def test_two_periods(self):
        rng = np.random.default_rng(5)
        before = _runs(170 + rng.normal(0, 1.5, 10))
        after = _runs(176 + rng.normal(0, 1.5, 10), start=T0 + timedelta(days=60))
        cmp = compare_periods(before, after, [CAD], label_a="before", label_b="after")
        (d,) = cmp.items
        xa = np.array([r.metrics[CAD.key] for r in before])
        xb = np.array([r.metrics[CAD.key] for r in after])
        sp = math.sqrt((9 * xa.var(ddof=1) + 9 * xb.var(ddof=1)) / 18)
        assert d.a == pytest.approx(xa.mean()) and d.b == pytest.approx(xb.mean())
        assert d.noise_sd == pytest.approx(sp) and d.effect == pytest.approx((xb.mean() - xa.mean()) / sp)
        assert d.p == permutation_p(xa, xb) and d.p < 1e-3 and d.beyond_noise is True
        assert (cmp.n_a, cmp.n_b, d.n_a, d.n_b) == (10, 10, 10, 10)

    def test_three_runs_each_can_never_be_beyond_noise(self):
        (d,) = compare_periods(_runs([170, 170.5, 171]), _runs([180, 180.5, 181]), [CAD]).items
        assert d.p == pytest.approx(0.1) and d.beyond_noise is False

    def test_holm_over_the_metrics_compared(self):
        key2 = "median.contact_time_s"
        before = [RunRecord(f"a{k}", T0 + timedelta(days=k), "given", 1, 1, metrics={CAD.key: 170.0 + (k % 2), key2: 0.25 + 0.001 * (k % 3)}) for k in range(5)]  # fmt: skip
        after = [RunRecord(f"b{k}", T0 + timedelta(days=30 + k), "given", 1, 1, metrics={CAD.key: 175.0 + (k % 2), key2: 0.25 + 0.001 * ((k + 1) % 3)}) for k in range(5)]  # fmt: skip
        cmp = compare_periods(before, after, [CAD, metric_spec("contact_time")])
        p = [d.p for d in cmp.items]
        assert [d.p_adjusted for d in cmp.items] == pytest.approx(list(holm(p)))
        assert cmp.items[0].beyond_noise is True and cmp.items[1].beyond_noise is False

    def test_false_alarm_rate_when_nothing_changed(self):
        """Nothing changed: across 200 simulated runners and every key metric, a metric is called
        beyond noise in at most about ALPHA of the comparisons (Holm keeps the family-wise rate)."""
        rng = np.random.default_rng(2024)
        alarms = 0
        n_runners = 200
        specs = KEY_METRICS[:6]
        for _ in range(n_runners):
            runs = [
                RunRecord(f"r{k}", T0 + timedelta(days=3 * k), "given", 1, 1,
                          metrics={s.key: 100.0 + rng.normal(0, 1.0) for s in specs})
                for k in range(12)
            ]  # fmt: skip
            cmp = compare_periods(runs[:6], runs[6:], specs)
            alarms += any(d.beyond_noise for d in cmp.items)
        assert alarms / n_runners <= ALPHA + 0.03  # family-wise; binomial SD at 200 runners is 0.015


class TestMetricNames:
    def test_aliases(self):
        assert metric_spec("cadence") is metric_spec("cadence_spm") is metric_spec("median.cadence_spm")
        assert metric_spec("Contact-Time").key == "median.contact_time_s"
        assert metric_spec("vertical_oscillation_m").name == "oscillation"
        assert CAD.show(171.4) == "171 spm" and CAD.show(-0.2, signed=True) == "+0 spm"
        assert metric_spec("contact_time").show(0.2534, extra_decimals=1) == "253.4 ms"
        assert CAD.show(float("nan")) == "n/a"

    def test_unknown(self):
        with pytest.raises(GaitInputError, match=r"parameter 'METRIC': unknown metric; expected one of cadence, "):
            metric_spec("speediness")
