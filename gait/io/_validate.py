"""DataFrame or arrays -> `Session`: the one place where columns, values and time are
validated, and the resampling of jittered timestamps (`regularise`)."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from .._lazy import lazy_module
from ..constants import (
    ACC_UNITS,
    GYR_UNITS,
    TIME_COLUMN,
    TIME_UNITS,
    unit_token,
)
from ..errors import GaitDataWarning, GaitInputError, Where, quoted
from ..session import GAP_FACTOR, Session, SessionMetadata, clean_metadata
from ._format import (
    FORMAT_NAME,
    JITTER_TOLERANCE,
    MAX_ABS_ACC_MPS2,
    MAX_ABS_GYR_RADS,
    MAX_RATE_HZ,
    MAX_RESAMPLING_GROWTH,
    MAX_SPAN_S,
    MAX_T0_S,
    RATE_TOLERANCE,
    _check_duplicates,
    _duration,
    _listed,
    _row_text,
    _row_where,
)
from ._units import _check_acc_units, _check_gyr_units, _classify_columns, _row_norms, _to_si

if TYPE_CHECKING:
    import pandas as pd
else:
    pd = lazy_module("pandas")


def _as_float_columns(df: pd.DataFrame, names: list[str], where: Where, first_data_line: int | None) -> np.ndarray:
    try:
        return df[names].to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        for name in names:
            col = pd.to_numeric(df[name], errors="coerce")
            bad = col.isna() & df[name].notna()
            if bad.any():
                i = int(np.argmax(bad.to_numpy()))
                raise GaitInputError(
                    "not a number",
                    expected="numeric columns",
                    found=f"{quoted(df[name].iloc[i], 40)}{_row_text(i, first_data_line)}",
                    where=_row_where(where, i, first_data_line, name),
                ) from None
        raise GaitInputError(  # pragma: no cover - to_numpy failed but every value converts
            "not a number", expected="numeric columns", found=_listed(names), where=where
        ) from None


def session_from_dataframe(
    df: pd.DataFrame,
    *,
    meta: Mapping[str, Any] | SessionMetadata | None = None,
    where: Where | None = None,
    acc_unit: str | None = None,
    gyr_unit: str | None = None,
    header_line: int | None = None,
    first_data_line: int | None = None,
    meta_lines: Mapping[str, int] | None = None,
) -> Session:
    """Validate a table with canonical column names and build a `Session` in SI units.

    Checks, in order: columns (names, frame, units), metadata (types), values (numbers, NaN /
    inf, all-empty axes), time (order, span, far from zero), values again in SI (magnitudes
    no sensor reports, units contradicted by the magnitudes), sampling rate (declared versus
    timestamps), jitter (resampled onto a uniform grid) and gaps (reported, never filled).
    ``meta_lines`` maps metadata keys to their header lines, for the messages.
    """
    where = where or Where(parameter="data")
    if isinstance(meta, SessionMetadata):
        meta_d: dict[str, Any] = meta.to_dict()
    elif meta is None:
        meta_d = {}
    elif isinstance(meta, Mapping):
        meta_d = dict(meta)
    else:
        raise GaitInputError(
            "bad metadata",
            expected="an object of keys and values (JSON)",
            found=f"{quoted(meta)} ({type(meta).__name__})",
            where=where,
        )
    meta_d.pop(FORMAT_NAME, None)
    meta_d.pop("frame", None)
    # types of every metadata value (the rate is checked here if given, estimated below if not)
    declared = meta_d.get("sampling_rate_hz")
    checked = clean_metadata(
        {**meta_d, "sampling_rate_hz": 1.0 if declared is None else declared}, where=where, lines=meta_lines
    )
    names = list(df.columns)
    if not all(isinstance(c, str) for c in names):
        raise GaitInputError(
            "column names must be text", expected="names such as t_s, acc_x_mps2", found=_listed(names), where=where
        )
    hw = Where(file=where.file, line=header_line) if header_line else where
    _check_duplicates(names, hw)
    cols = _classify_columns(names, where, header_line)
    if acc_unit is not None:
        acc_unit = unit_token(acc_unit)
        if acc_unit not in ACC_UNITS:
            raise GaitInputError(
                "unknown unit",
                expected=f"one of {sorted(ACC_UNITS)}",
                found=repr(acc_unit),
                where=Where(parameter="acc_unit"),
            )
        cols["acc_unit"] = acc_unit
    if gyr_unit is not None:
        gyr_unit = unit_token(gyr_unit)
        if gyr_unit not in GYR_UNITS:
            raise GaitInputError(
                "unknown unit",
                expected=f"one of {sorted(GYR_UNITS)}",
                found=repr(gyr_unit),
                where=Where(parameter="gyr_unit"),
            )
        if cols["gyr"] is not None:
            cols["gyr_unit"] = gyr_unit
    n = len(df)
    if n < 2:
        raise GaitInputError("too few rows", expected="at least 2 samples", found=f"{n}", where=where)

    t_raw = _as_float_columns(df, [cols["time"]], where, first_data_line)[:, 0]
    acc_raw = _as_float_columns(df, cols["acc"], where, first_data_line)
    gyr_raw = None if cols["gyr"] is None else _as_float_columns(df, cols["gyr"], where, first_data_line)

    # -- values: NaN / inf ---------------------------------------------------------------
    _check_finite(t_raw[:, None], [cols["time"]], where, first_data_line, allow_empty_axes=False)
    _check_finite(acc_raw, cols["acc"], where, first_data_line, allow_empty_axes=True)
    if gyr_raw is not None:
        _check_finite(gyr_raw, cols["gyr"], where, first_data_line, allow_empty_axes=False)
    missing_axes = [a for a, col in zip(cols["axes"], acc_raw.T) if np.isnan(col).all()]
    if len(missing_axes) > 1:
        raise GaitInputError(
            "too few accelerometer axes",
            expected="at least two axes with data",
            found="only " + (", ".join(a for a in cols["axes"] if a not in missing_axes) or "none"),
            where=where,
        )
    if missing_axes and cols["frame"] == "sensor":
        raise GaitInputError(
            "a biaxial sensor needs body-frame columns",
            expected="acc_v/acc_ap/acc_ml columns when an axis is missing (its orientation must be known)",
            found=f"sensor-frame columns with no data on {missing_axes[0]}",
            where=where,
        )

    # -- time ----------------------------------------------------------------------------
    t_unit = cols["time"].split("_", 1)[1]
    t = t_raw * TIME_UNITS[t_unit]
    dt = np.diff(t)
    bad = np.flatnonzero(~(dt > 0))
    if bad.size:
        i = int(bad[0])
        kind = "duplicate timestamp" if dt[i] == 0 else "time goes backwards"
        raise GaitInputError(
            kind,
            expected=f"strictly increasing {cols['time']}",
            found=f"{float(t_raw[i + 1])!r} after {float(t_raw[i])!r}{_row_text(i + 1, first_data_line)}",
            where=_row_where(where, i + 1, first_data_line, cols["time"]),
            hint="Sort the rows by time and remove repeated samples" if dt[i] != 0 else None,
        )
    span = float(t[-1] - t[0])
    if not span <= MAX_SPAN_S:
        i = int(np.argmax(np.diff(t)))
        raise GaitInputError(
            "timestamps span too long a time",
            expected=f"a recording of at most {MAX_SPAN_S / 86_400:g} days",
            found=f"{cols['time']} from {float(t_raw[0])!r} to {float(t_raw[-1])!r} ({_duration(span)}; the longest "
            f"step is from {float(t_raw[i])!r} to {float(t_raw[i + 1])!r}{_row_text(i + 1, first_data_line)})",
            where=_row_where(where, i + 1, first_data_line, cols["time"]),
            hint="Check the time column's values and its unit (t_s, t_ms, t_us or t_ns)",
        )
    extra = dict(checked["extra"])
    if not (0.0 <= t[0] < MAX_T0_S):
        offset = float(t[0])
        t = t - offset
        extra["time_offset_s"] = float(extra.get("time_offset_s", 0.0) or 0.0) + offset
        warnings.warn(
            f"{where}: the first timestamp is {offset:.10g} s, far from zero; times were shifted so that the "
            f"first sample is at 0 s (the offset is kept in the metadata as extra.time_offset_s)",
            GaitDataWarning,
            stacklevel=2,
        )

    # -- values in SI --------------------------------------------------------------------
    acc_factor = ACC_UNITS[cols["acc_unit"]]
    acc = _to_si(acc_raw, acc_factor, MAX_ABS_ACC_MPS2, "m/s^2", cols["acc"], cols["acc_unit"], where, first_data_line)
    acc_mag = _row_norms(acc) if not missing_axes else np.sqrt(np.nansum(np.square(acc), axis=1))
    _check_acc_units(acc_mag, cols["acc_unit"], acc_unit is not None, where)
    gyr = None
    if gyr_raw is not None:
        gyr = _to_si(
            gyr_raw, GYR_UNITS[cols["gyr_unit"]], MAX_ABS_GYR_RADS, "rad/s", cols["gyr"], cols["gyr_unit"], where,
            first_data_line,
        )  # fmt: skip
        _check_gyr_units(gyr, acc_mag, cols["gyr_unit"], where)

    # -- sampling rate -------------------------------------------------------------------
    dts = np.diff(t)
    median_dt = float(np.median(dts))
    rate_where = Where(file=where.file, line=(meta_lines or {}).get("sampling_rate_hz")) if where.file else where
    if declared is not None:
        fs = checked["sampling_rate_hz"]
        # intervals on the declared grid (the others are gaps, declared as such below): a
        # recording with many lost samples keeps its rate; a wrong rate or unit has none there
        on_grid = dts[(dts > 0.5 / fs) & (dts < GAP_FACTOR / fs)]
        if on_grid.size >= max(0.2 * dts.size, 1):
            median_dt = float(np.median(on_grid))
        rate_from_t = 1.0 / median_dt
        if abs(rate_from_t - fs) > RATE_TOLERANCE * fs:
            raise GaitInputError(
                "sampling rate does not match the timestamps",
                expected=f"samples every {1000 / fs:.3g} ms (declared {fs:g} Hz)",
                found=f"a median interval of {median_dt * 1000:.3g} ms ({rate_from_t:.4g} Hz)",
                where=rate_where,
                hint="Fix sampling_rate_hz in the header, or the time column's unit",
            )
    else:
        fs = _round_rate(1.0 / median_dt)
        warnings.warn(
            f"{where}: no sampling_rate_hz declared; using {fs:g} Hz estimated from the timestamps",
            GaitDataWarning,
            stacklevel=2,
        )
    if fs > MAX_RATE_HZ:
        raise GaitInputError(
            "sampling rate too high for an IMU",
            expected=f"at most {MAX_RATE_HZ:g} Hz",
            found=f"{fs:.4g} Hz (samples every {1e6 / fs:.3g} us)",
            where=rate_where,
            hint="Check the time column's unit (t_s, t_ms, t_us or t_ns)",
        )

    # -- jitter and gaps -----------------------------------------------------------------
    t, acc, gyr = _regularise(t, acc, gyr, fs, where)

    units = dict(checked["units_as_recorded"])
    units.setdefault("acc", cols["acc_unit"])
    if gyr is not None:
        units.setdefault("gyr", cols["gyr_unit"])
    units.setdefault("t", t_unit)
    checked.update(sampling_rate_hz=fs, units_as_recorded=units, extra=extra)
    if where.file is not None and not checked.get("source"):
        checked["source"] = str(where.file)
    return Session(t=t, acc=acc, gyr=gyr, frame=cols["frame"], meta=SessionMetadata(**checked))


def _round_rate(rate: float) -> float:
    """Snap an estimated rate to a nearby round number when within 0.5 %."""
    for nice in (1, 5, 10, 25, 50, 100, 104, 200, 208, 250, 400, 416, 500, 512, 800, 833, 1000, 1600, 1666):
        if abs(rate - nice) <= 0.005 * nice:
            return float(nice)
    return float(f"{rate:.6g}")


def _check_finite(
    arr: np.ndarray, names: list[str], where: Where, first_data_line: int | None, *, allow_empty_axes: bool
) -> None:
    bad = ~np.isfinite(arr)
    if not bad.any():
        return
    for j, name in enumerate(names):
        col_bad = bad[:, j]
        if not col_bad.any():
            continue
        if allow_empty_axes and np.isnan(arr[:, j]).all():
            continue  # an axis the sensor does not have
        i = int(np.argmax(col_bad))
        v = arr[i, j]
        found = ("an empty or NaN value" if np.isnan(v) else repr(float(v))) + _row_text(i, first_data_line)
        raise GaitInputError(
            "missing or non-finite value",
            expected="a finite number"
            + (" (an axis the sensor lacks must be empty on every row)" if allow_empty_axes else ""),
            found=found + (f" ({int(col_bad.sum())} such values in this column)" if col_bad.sum() > 1 else ""),
            where=_row_where(where, i, first_data_line, name),
        )


def regularise(session: Session) -> Session:
    """The session on a uniform time grid per contiguous segment (jittered timestamps resampled).

    A session whose timestamps already sit on the grid is returned unchanged. Files are
    regularised when they are loaded; this is for sessions built in memory (a simulated
    session with jitter, a live window). Gaps are kept; resampling emits `GaitDataWarning`.
    """
    dt = np.diff(session.t)
    period = 1.0 / session.sampling_rate_hz
    if dt.size and np.all(np.abs(dt - period) <= JITTER_TOLERANCE * period):
        return session  # uniform already (the common case: loaded files are regularised)
    where = Where(file=session.meta.source) if session.meta.source else Where(parameter="session")
    t, acc, gyr = _regularise(session.t, session.acc, session.gyr, session.sampling_rate_hz, where, report_gaps=False)
    if t is session.t:
        return session
    return Session(t=t, acc=acc, gyr=gyr, frame=session.frame, meta=session.meta)


def _regularise(
    t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, fs: float, where: Where, *, report_gaps: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Resample jittered timestamps onto a uniform grid per contiguous segment; report gaps."""
    period = 1.0 / fs
    dt = np.diff(t)
    # a gap is a step in time beyond what the timing jitter explains (1.5 periods when exact)
    # (the jitter is measured on the intervals that are not gaps already, so that many lost
    # samples do not pass for jitter)
    # (no interval beyond GAP_FACTOR periods, the common case: no gap whatever the jitter)
    if dt.size and float(dt.max()) > GAP_FACTOR * period:
        on_grid = dt[dt < GAP_FACTOR * period]
        sigma = 1.4826 * float(np.median(np.abs(on_grid - np.median(on_grid)))) if on_grid.size else 0.0
        cuts = np.flatnonzero(dt > max(GAP_FACTOR * period, period + 8.0 * sigma)) + 1
    else:
        cuts = np.zeros(0, dtype=np.int64)
    bounds = np.concatenate([[0], cuts, [t.size]])
    if cuts.size and report_gaps:
        gap_lengths = t[cuts] - t[cuts - 1]
        longest = int(np.argmax(gap_lengths))
        warnings.warn(
            f"{where}: {cuts.size} gap{'s' if cuts.size > 1 else ''} in the samples "
            f"({float(np.sum(gap_lengths - period)):.3f} s missing in total; the longest, "
            f"{float(gap_lengths[longest]):.3f} s, starts at t={float(t[cuts[longest] - 1]):.3f} s). "
            "Gaps are kept as gaps: no samples are invented, and each segment is analysed on its own",
            GaitDataWarning,
            stacklevel=3,
        )
    # deviation from each segment's own grid (first sample of the segment + k * period)
    if cuts.size:
        seg_id = np.repeat(np.arange(bounds.size - 1), np.diff(bounds))
        seg_start: np.ndarray | float = t[bounds[:-1]][seg_id]
    else:  # one segment (the common case): its first time, without an array of copies
        seg_start = t[0]
    k = np.rint((t - seg_start) / period)
    dev = np.abs(t - (seg_start + k * period))
    if float(dev.max(initial=0.0)) <= JITTER_TOLERANCE * period:
        return t, acc, gyr
    # resample each segment onto its grid by linear interpolation
    sizes = np.floor((t[bounds[1:] - 1] - t[bounds[:-1]]) / period + 1e-9) + 1
    grow = float(sizes.sum()) / max(t.size, 1)
    # jitter moves samples, it neither adds nor removes many: beyond these the grid is not the data's
    if not (0.8 - 10 / t.size <= grow <= 1 + MAX_RESAMPLING_GROWTH + 10 / t.size):
        raise GaitInputError(
            "timestamps too irregular to resample",
            expected=f"samples every {period * 1000:.4g} ms with some jitter (declared or estimated {fs:g} Hz)",
            found=f"{t.size} samples whose uniform grid would need {float(sizes.sum()):.4g}: "
            + ("holes, not jitter" if grow > 1 else "samples crowded closer than the rate allows, not jitter"),
            where=where,
            hint="Check the time column; a recording with lost samples keeps them as gaps (intervals beyond "
            f"{GAP_FACTOR} periods)",
        )
    new_t, new_acc, new_gyr = [], [], []
    for a, b in itertools.pairwise(bounds):
        ts = t[a:b]
        n_grid = int(np.floor((ts[-1] - ts[0]) / period + 1e-9)) + 1
        grid = ts[0] + np.arange(n_grid) * period
        new_t.append(grid)
        new_acc.append(np.column_stack([np.interp(grid, ts, c) for c in acc[a:b].T]))
        if gyr is not None:
            new_gyr.append(np.column_stack([np.interp(grid, ts, c) for c in gyr[a:b].T]))
    warnings.warn(
        f"{where}: timestamps jitter by up to {float(dev.max()) * 1000:.3g} ms "
        f"({float(dev.max()) / period:.0%} of a sample period); resampled onto a uniform "
        f"{fs:g} Hz grid by linear interpolation",
        GaitDataWarning,
        stacklevel=3,
    )
    return (
        np.concatenate(new_t),
        np.concatenate(new_acc),
        None if gyr is None else np.concatenate(new_gyr),
    )


def session_from_arrays(
    t: np.ndarray,
    acc: np.ndarray,
    gyr: np.ndarray | None = None,
    *,
    sampling_rate_hz: float,
    frame: str = "sensor",
    acc_unit: str = "mps2",
    gyr_unit: str = "rads",
    **meta: Any,
) -> Session:
    """Build a validated `Session` from arrays (times in s), with the same checks as a file."""
    from ..constants import axes_for

    axes = axes_for(frame)
    data: dict[str, Any] = {TIME_COLUMN: np.asarray(t, dtype=float)}
    acc = np.asarray(acc, dtype=float)
    if acc.ndim != 2 or acc.shape[1] != 3:
        raise GaitInputError(
            "bad acceleration array", expected="shape (n, 3)", found=f"shape {acc.shape}", where=Where(parameter="acc")
        )
    for a, col in zip(axes, acc.T):
        data[f"acc_{a}_{acc_unit}"] = col
    if gyr is not None:
        gyr = np.asarray(gyr, dtype=float)
        if gyr.ndim != 2 or gyr.shape[1] != 3:
            raise GaitInputError(
                "bad angular-rate array",
                expected="shape (n, 3)",
                found=f"shape {gyr.shape}",
                where=Where(parameter="gyr"),
            )
        for a, col in zip(axes, gyr.T):
            data[f"gyr_{a}_{gyr_unit}"] = col
    try:
        df = pd.DataFrame(data)
    except ValueError as e:
        raise GaitInputError(
            "arrays of different lengths",
            expected="t, acc and gyr with the same number of rows",
            found=str(e),
            where=Where(parameter="t"),
        ) from None
    return session_from_dataframe(
        df, meta={"sampling_rate_hz": sampling_rate_hz, **meta}, where=Where(parameter="arrays")
    )
