"""The minute table: per-minute medians and signal RMS (`gait.core.metrics.minute_table`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._checks import check_same_length, check_signal
from ..errors import GaitInputError, Where
from ..registry import MINUTE_TABLE
from ._columns import STEP_METRICS, _running_valid
from .records import MinuteSignals
from .strike import (  # noqa: F401 (re-exported: the step table's foot-strike columns)
    DECISION_RATIO,
    FOOT_STRIKES,
    FOREFOOT_BELOW_BW,
    REARFOOT_ABOVE_BW,
    classify_foot_strike,
    collision_transient,
    run_foot_strike,
)

#: The minute table's columns, in order (`gait.registry`, docs/tables.md).
MINUTE_COLUMNS = list(MINUTE_TABLE)


def minute_table(
    steps: pd.DataFrame, *, signals: MinuteSignals | None = None, t: np.ndarray | None = None
) -> pd.DataFrame:
    """Per-minute medians of valid running steps (``docs/tables.md``).

    ``signals`` (`gait.core.records.MinuteSignals`) may hold per-sample ``intensity`` (|f| - g),
    ``ml`` (medio-lateral acceleration) and ``vibration`` (20-45 Hz vertical in stance, else NaN)
    with times ``t``; their RMS per minute over the running samples is added. Plain NumPy over the (time-sorted) steps: this runs on every
    live window too.

    Parameters
    ----------
    steps
        The step table (`step_table`), sorted by time.
    signals
        Per-sample signals, each 1-D and as long as ``t``; None: no signal columns.
    t
        Sample times, s (required with ``signals``).

    Returns
    -------
    DataFrame
        One row per minute with a valid running step, `MINUTE_COLUMNS`.
    """
    if signals is not None:
        if t is None:
            raise GaitInputError(
                "signals without their times",
                expected="the sample times t with signals",
                found="t None",
                where=Where(parameter="t"),
            )
        t = check_signal(t, "t")
        if not isinstance(signals, MinuteSignals):
            raise GaitInputError(
                "signals of the wrong type",
                expected="a gait.core.records.MinuteSignals",
                found=type(signals).__name__,
                where=Where(parameter="signals"),
            )
        for key, sig in signals.arrays().items():
            check_same_length(t.size, "t", **{f"signals[{key!r}]": check_signal(sig, f"signals[{key!r}]")})
    sel = _running_valid(steps)
    if not sel.any():
        return pd.DataFrame({c: pd.Series(dtype=int if c in ("minute", "steps") else float) for c in MINUTE_COLUMNS})
    ic = steps["ic_s"].to_numpy()[sel]
    minute = np.floor(ic / 60.0).astype(np.int64)
    minutes, first = np.unique(minute, return_index=True)
    bounds = np.append(first, minute.size)
    vals = steps[STEP_METRICS].to_numpy(float)[sel]
    step_time = steps["step_time_s"].to_numpy(float)[sel]
    contact = steps["contact_time_s"].to_numpy(float)[sel]
    side = np.asarray(steps["side"], dtype=object)[sel]
    strike = np.asarray(steps["foot_strike"], dtype=object)[sel]
    counts = np.diff(bounds)
    k = minutes.size
    pos = np.arange(minute.size) - np.repeat(first, counts)  # step number within its minute
    grp = np.repeat(np.arange(k), counts)

    def padded(x: np.ndarray) -> np.ndarray:
        """(minutes, most steps in a minute, ...) with NaN padding, for one nanmedian call."""
        out = np.full((k, int(counts.max()), *x.shape[1:]), np.nan)
        out[grp, pos] = x
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN metric in a minute gives NaN
        med = np.nanmedian(padded(vals), axis=1)
        left = np.nanmedian(padded(np.where(side == "L", contact, np.nan)), axis=1)
        right = np.nanmedian(padded(np.where(side == "R", contact, np.nan)), axis=1)
    decided = np.isin(strike, FOOT_STRIKES[:3])
    n_known = np.bincount(grp, weights=decided.astype(float), minlength=k)
    shares = [
        np.where(
            n_known > 0,
            np.bincount(grp, weights=(strike == c).astype(float), minlength=k) / np.maximum(n_known, 1),
            np.nan,
        )
        for c in FOOT_STRIKES[:3]
    ]
    st_sum = np.bincount(grp, weights=np.nan_to_num(step_time), minlength=k)
    st_mean = st_sum / counts
    st_var = np.bincount(grp, weights=np.nan_to_num(step_time - st_mean[grp]) ** 2, minlength=k) / np.maximum(
        counts - 1, 1
    )
    body = np.column_stack(
        [
            st_sum,
            counts,
            med,
            *shares,
            np.where(counts > 1, 100 * np.sqrt(st_var) / st_mean, np.nan),
            100 * (left - right) / ((left + right) / 2),
        ]
    )
    data: dict[str, np.ndarray] = {"minute": minutes, "start_s": minutes * 60.0, "end_s": minutes * 60.0 + 60.0}
    names = [
        "running_s",
        "steps",
        *STEP_METRICS,
        "rearfoot_share",
        "midfoot_share",
        "forefoot_share",
        "step_time_cv_pct",
        "contact_time_asymmetry_pct",
    ]
    data.update({c: body[:, j] for j, c in enumerate(names)})
    data["steps"] = data["steps"].astype(int)
    for name, col in (
        ("intensity", "intensity_mps2"),
        ("ml", "ml_sway_rms_mps2"),
        ("vibration", "stance_vibration_mps2"),
    ):
        x = None if signals is None or t is None else getattr(signals, name)
        if x is None or signals is None or t is None:
            data[col] = np.full(minutes.size, np.nan)
            continue
        mi = np.floor(t / 60.0).astype(np.int64)
        ok = np.isfinite(x) & signals.running_mask
        s2 = np.bincount(mi[ok], weights=x[ok] ** 2, minlength=int(mi.max()) + 1)
        cnt = np.bincount(mi[ok], minlength=int(mi.max()) + 1)
        rms = np.sqrt(s2 / np.maximum(cnt, 1))
        rms[cnt == 0] = np.nan
        data[col] = rms[minutes]
    return pd.DataFrame(data, columns=MINUTE_COLUMNS)
