"""How often ``gait history compare`` and ``trend`` call a change that is not there, and how
often they find one that is: simulated runners whose per-run values are pure run-to-run noise
(plus, in some rows, a real change), under three noise models.

    python benchmarks/history_stats.py                # the table of docs/history.md (about 3 minutes)
    python benchmarks/history_stats.py --runners 100  # quicker

Per-run values are drawn directly (the signal pipeline is not involved: the simulator's
run-to-run variation is far smaller than a real runner's, so it would not test anything).
Noise models, each with SD 1 (the change sizes are in units of it):

- ``normal``: independent normal noise from run to run;
- ``heavy``: Student t with 3 degrees of freedom (scaled to SD 1): odd runs (a hill, a slipped
  clip) more often than normal noise allows;
- ``drift``: normal noise plus a slow drift of 2 SD over the whole history (fitness, season).
  The two periods then really differ (by about 1 SD), and ``compare`` reports it: it cannot
  tell a step at the date from a drift, which the trend shows.

Rows:

- *periods*: ``compare_periods`` with n runs before and n after; a change of ``shift`` SD in
  one metric; family: 10 metrics (9 unchanged) or that metric alone (``--metric``). Reported:
  the share of runners with any unchanged metric called beyond noise (family-wise false alarm)
  and the share where the changed metric is called beyond noise (power).
- *two runs*: ``compare_runs`` of the last run against one 10 runs earlier, with a history
  of n runs.
- *weekly flag*: ``trend`` over 12 weeks of 2 runs, nothing changed: the share of weeks
  flagged ``higher`` or ``lower``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gait.history import RunRecord
from gait.history.stats import KEY_METRICS, compare_periods, compare_runs, trend

T0 = datetime(2024, 1, 1, 7, 0, tzinfo=UTC)
SPECS = KEY_METRICS[:10]
NOISES = ("normal", "heavy", "drift")


def _noise(rng: np.random.Generator, kind: str, n: int, m: int) -> np.ndarray:
    if kind == "heavy":
        return rng.standard_t(3, (n, m)) / np.sqrt(3.0)
    x = rng.standard_normal((n, m))
    if kind == "drift":
        x += np.linspace(0.0, 2.0, n)[:, None]
    return x


def _runs(values: np.ndarray, *, days_apart: float = 3.5) -> list[RunRecord]:
    return [
        RunRecord(
            f"r{k:04d}",
            T0 + timedelta(days=days_apart * k),
            "given",
            1900.0,
            1800.0,
            run_id=k + 1,
            metrics={s.key: 100.0 + float(v) for s, v in zip(SPECS, row)},
        )
        for k, row in enumerate(values)
    ]


def periods(rng, kind: str, n: int, shift: float, runners: int) -> dict:
    fa = power_all = power_one = 0
    for _ in range(runners):
        x = _noise(rng, kind, 2 * n, len(SPECS))
        x[n:, 0] += shift
        runs = _runs(x)
        cmp = compare_periods(runs[:n], runs[n:], SPECS)
        fa += any(d.beyond_noise for d in cmp.items[1:])
        power_all += bool(cmp.items[0].beyond_noise)
        power_one += bool(compare_periods(runs[:n], runs[n:], SPECS[:1]).items[0].beyond_noise)
    return {
        "false_alarm_family": fa / runners,
        "power_10_metrics": power_all / runners,
        "power_1_metric": power_one / runners,
    }


def two_runs(rng, kind: str, n: int, shift: float, runners: int) -> dict:
    fa = power_all = power_one = 0
    for _ in range(runners):
        x = _noise(rng, kind, n, len(SPECS))
        x[-1, 0] += shift
        runs = _runs(x)
        a, b = runs[-11], runs[-1]
        cmp = compare_runs(a, b, runs, SPECS)
        fa += any(d.beyond_noise for d in cmp.items[1:])
        power_all += bool(cmp.items[0].beyond_noise)
        power_one += bool(compare_runs(a, b, runs, SPECS[:1]).items[0].beyond_noise)
    return {
        "false_alarm_family": fa / runners,
        "power_10_metrics": power_all / runners,
        "power_1_metric": power_one / runners,
    }


def weekly(rng, kind: str, runners: int) -> dict:
    flagged = total = 0
    for _ in range(runners):
        runs = _runs(_noise(rng, kind, 24, len(SPECS)))
        t = trend(runs, SPECS[0])
        flags = [w.flag for w in t.weeks if w.flag is not None]
        flagged += sum(f != "within" for f in flags)
        total += len(flags)
    return {"weeks_flagged": flagged / total}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runners", type=int, default=300, help="simulated runners per cell (default 300)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    rows = []
    for kind in NOISES:
        for n in (4, 6, 10):
            for shift in (0.0, 2.0, 3.0):
                rows.append(
                    {
                        "test": "periods",
                        "noise": kind,
                        "runs": n,
                        "shift_sd": shift,
                        **periods(rng, kind, n, shift, args.runners),
                    }
                )
        for n in (12, 20, 40):
            for shift in (0.0, 4.0, 6.0):
                rows.append(
                    {
                        "test": "two runs",
                        "noise": kind,
                        "runs": n,
                        "shift_sd": shift,
                        **two_runs(rng, kind, n, shift, args.runners),
                    }
                )
        rows.append(
            {"test": "weekly flag", "noise": kind, "runs": 24, "shift_sd": 0.0, **weekly(rng, kind, args.runners)}
        )
    print(
        "| test | noise | runs | change (SD) | false alarm (any of 9 unchanged) | found (10 metrics) | found (that metric alone) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        if r["test"] == "weekly flag":
            print(f"| weekly flag | {r['noise']} | 12 weeks x 2 | 0 | {r['weeks_flagged']:.3f} of weeks | - | - |")
            continue
        print(
            f"| {r['test']} | {r['noise']} | {r['runs']}{' + ' + str(r['runs']) if r['test'] == 'periods' else ''} | "
            f"{r['shift_sd']:g} | {r['false_alarm_family']:.3f} | {r['power_10_metrics']:.2f} | {r['power_1_metric']:.2f} |"
        )
    print(f"\n{args.runners} simulated runners per row, seed {args.seed}, {time.perf_counter() - t0:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"runners": args.runners, "seed": args.seed, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
