"""Column names -> axes and units, conversion to SI, and the plausibility checks that catch a
wrong unit (an accelerometer in g labelled m/s^2, a gyroscope in deg/s labelled rad/s)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..constants import (
    ACC_UNITS,
    BODY_AXES,
    GYR_UNITS,
    SENSOR_AXES,
    G,
    unit_token,
)
from ..errors import GaitInputError, Where
from ._format import _COL_RE, _TIME_RE, _UNIT_TEXT, _row_text, _row_where


def _classify_columns(columns: list[str], where: Where, header_line: int | None) -> dict[str, Any]:
    hw = Where(file=where.file, line=header_line) if header_line else where
    time_cols = [c for c in columns if _TIME_RE.match(c)]
    expected_hint = (
        "t_s plus acc_x_mps2, acc_y_mps2, acc_z_mps2 (sensor frame) or acc_v_mps2, acc_ap_mps2, "
        "acc_ml_mps2 (body frame), optionally the three gyr_*_rads columns"
    )
    if len(time_cols) != 1:
        raise GaitInputError(
            "missing time column" if not time_cols else "more than one time column",
            expected="exactly one of t_s, t_ms, t_us, t_ns",
            found=", ".join(time_cols) or "none among " + ", ".join(repr(c) for c in columns[:8]),
            where=hw,
        )
    acc: dict[str, tuple[str, str]] = {}
    gyr: dict[str, tuple[str, str]] = {}
    unknown = []
    for c in columns:
        if c in time_cols:
            continue
        m = _COL_RE.match(c)
        if not m:
            unknown.append(c)
            continue
        kind, axis, unit = m.groups()
        unit = unit_token(unit)
        table = ACC_UNITS if kind == "acc" else GYR_UNITS
        if axis not in SENSOR_AXES + BODY_AXES or unit not in table:
            unknown.append(c)
            continue
        (acc if kind == "acc" else gyr)[axis] = (c, unit)
    if unknown:
        raise GaitInputError(
            "unknown column" + ("s" if len(unknown) > 1 else ""),
            expected=expected_hint + f"; units: acc {sorted(ACC_UNITS)}, gyr {sorted(GYR_UNITS)}",
            found=", ".join(repr(c) for c in unknown),
            where=hw,
        )
    frames = {("sensor" if a in SENSOR_AXES else "body") for a in [*acc, *gyr]}
    if len(frames) != 1:
        raise GaitInputError(
            "columns mix frames" if frames else "missing acceleration columns",
            expected=expected_hint,
            found=", ".join(columns),
            where=hw,
        )
    frame = frames.pop()
    axes = SENSOR_AXES if frame == "sensor" else BODY_AXES
    missing = [f"acc_{a}" for a in axes if a not in acc]
    if missing:
        raise GaitInputError(
            "missing column" + ("s" if len(missing) > 1 else ""),
            expected=f"acceleration on all three {frame}-frame axes ({', '.join(axes)}); leave an axis the sensor lacks empty",
            found="no " + ", ".join(missing),
            where=hw,
        )
    if gyr and len(gyr) != 3:
        raise GaitInputError(
            "incomplete gyroscope columns",
            expected=f"all three gyr_{{{','.join(axes)}}} columns or none",
            found=", ".join(v[0] for v in gyr.values()),
            where=hw,
        )
    for kind, d in (("acc", acc), ("gyr", gyr)):
        units = {u for _, u in d.values()}
        if len(units) > 1:
            raise GaitInputError(
                f"{kind} columns use different units",
                expected="one unit for all three axes",
                found=", ".join(sorted(units)),
                where=hw,
            )
    return {
        "time": time_cols[0],
        "frame": frame,
        "axes": axes,
        "acc": [acc[a][0] for a in axes],
        "acc_unit": next(iter(acc.values()))[1],
        "gyr": [gyr[a][0] for a in axes] if gyr else None,
        "gyr_unit": next(iter(gyr.values()))[1] if gyr else None,
    }


def _row_norms(x: np.ndarray) -> np.ndarray:
    """``np.sqrt(np.sum(np.square(x), axis=1))`` of an ``(n, 3)`` array, bit for bit (a sum of
    three adds them in order), without NumPy's slow reduction over rows of three."""
    a, b, c = x[:, 0], x[:, 1], x[:, 2]
    return np.sqrt(a * a + b * b + c * c)


def _to_si(
    raw: np.ndarray,
    factor: float,
    limit: float,
    si_unit: str,
    names: list[str],
    unit: str,
    where: Where,
    first_data_line: int | None,
) -> np.ndarray:
    """``raw * factor``, refusing magnitudes no sensor reports (they would overflow the analysis)."""
    with np.errstate(over="ignore", invalid="ignore"):
        si = raw if factor == 1.0 else raw * factor  # (x * 1.0 is x, bit for bit)
        # the extremes first (two passes, no temporaries; fmax / fmin skip NaN, an empty axis)
        if si.size == 0 or not (np.fmax.reduce(si, axis=None) > limit or np.fmin.reduce(si, axis=None) < -limit):
            return si
        too_big = np.abs(si) > limit  # inf too; NaN (an empty axis) is not
    if too_big.any():
        i, j = (int(k) for k in np.argwhere(too_big)[0])
        raise GaitInputError(
            "value out of range",
            expected=f"a magnitude of at most {limit:g} {si_unit} ({limit / factor:.6g} {_UNIT_TEXT[unit]}), "
            "beyond the range of any IMU",
            found=f"{float(raw[i, j])!r} {_UNIT_TEXT[unit]}{_row_text(i, first_data_line)}"
            + (f" ({int(too_big.sum())} such values)" if too_big.sum() > 1 else ""),
            where=_row_where(where, i, first_data_line, names[j]),
        )
    return si


def _check_acc_units(acc_mag: np.ndarray, unit: str, overridden: bool, where: Where) -> None:
    """Refuse acceleration whose magnitude (``acc_mag``, m/s^2, per sample) contradicts the
    declared unit."""
    med = float(np.median(acc_mag))
    if 3.0 <= med <= 40.0:
        return
    if unit == "mps2" and 0.3 <= med * 1.0 <= 4.0:
        guess = "g (the median |acc| is about 1, i.e. gravity in g)"
        fix = "Rename the columns to acc_*_g, or pass acc_unit='g' (--acc-unit g)"
    elif unit == "g" and 3.0 * G <= med <= 40.0 * G:
        guess = "m/s^2 (the median |acc| is about 9.8 g, i.e. gravity in m/s^2 read as g)"
        fix = "Rename the columns to acc_*_mps2, or pass acc_unit='mps2' (--acc-unit mps2)"
    elif unit == "mg" and 0.3 * G / 1000 <= med <= 4.0 * G / 1000:
        guess = "g"
        fix = "Rename the columns to acc_*_g"
    else:
        guess = "an unknown unit, or a sensor that is not an accelerometer"
        fix = "Check the acceleration columns and their unit"
    raise GaitInputError(
        "acceleration units look wrong",
        expected=f"a median |acc| near 9.8 m/s^2 (1 g) for columns declared in {unit}{' (overridden)' if overridden else ''}",
        found=f"a median |acc| of {med:.3g} m/s^2, which looks like {guess}",
        where=where,
        hint=fix + "; nothing was converted",
    )


def _check_gyr_units(gyr_si: np.ndarray, acc_mag: np.ndarray, unit: str, where: Where) -> None:
    """Refuse angular rates that only make sense in the other unit.

    A lumbar sensor while running turns at most a few rad/s; rates above 35 rad/s
    (2000 deg/s, the largest common gyroscope range) mean deg/s values were declared as
    rad/s. Conversely, a moving sensor (|acc| varying by more than 2 m/s^2 RMS) whose
    99th-percentile rate is below 0.15 rad/s (8.6 deg/s) was declared in deg/s but recorded
    in rad/s.
    """
    mag = _row_norms(gyr_si)
    p99 = float(np.percentile(mag, 99))
    if unit == "rads" and p99 > 35.0:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of at most a few rad/s from a sensor on the lower back (columns declared rad/s)",
            found=f"a 99th-percentile |gyr| of {p99:.4g} rad/s ({p99 * 57.3:.4g} deg/s), which only makes sense in deg/s",
            where=where,
            hint="Rename the columns to gyr_*_dps, or pass gyr_unit='dps' (--gyr-unit dps); nothing was converted",
        )
    if p99 > 35.0:  # declared deg/s: beyond 2000 deg/s in any unit
        raise GaitInputError(
            "angular rates too high",
            expected="rates of at most a few hundred deg/s from a sensor on the lower back "
            "(2000 deg/s is the largest common gyroscope range)",
            found=f"a 99th-percentile |gyr| of {p99 / np.deg2rad(1):.4g} deg/s",
            where=where,
            hint="Check the angular-rate columns and their unit",
        )
    if unit == "dps" and p99 < 0.15 and float(np.std(acc_mag)) > 2.0:
        raise GaitInputError(
            "angular-rate units look wrong",
            expected="rates of tens of deg/s from a moving sensor (columns declared deg/s)",
            found=f"a 99th-percentile |gyr| of {p99 / np.deg2rad(1):.3g} deg/s while the accelerometer shows motion, which looks like rad/s",
            where=where,
            hint="Rename the columns to gyr_*_rads, or pass gyr_unit='rads' (--gyr-unit rads); nothing was converted",
        )
