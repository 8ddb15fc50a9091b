"""``gait calibrate ...``: the calibration procedures on recorded files, and the store.

Registered through ``gait.cli.COMMAND_MODULES``. Sub-commands::

    gait calibrate guide {gyro,accel,mounting}   how to record each procedure
    gait calibrate gyro FILE [--device ID]       gyroscope bias from a still recording
    gait calibrate accel FILE [--device ID]      accelerometer bias / scale / misalignment
    gait calibrate mounting FILE [--device ID]   how the sensor sits on the back
    gait calibrate show [--device ID]            what is stored (current, or --history)
    gait calibrate apply FILE --out OUT          write a calibrated copy of a recording

Each stores its result under the device's address or serial (from the file's ``device_id``
header, or ``--device``), unless ``--dry-run``. ``--store DIR`` (or ``GAIT_CALIBRATION_DIR``)
chooses the store folder.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from gait.constants import DEG_PER_RAD, SENSOR_AXES, G
from gait.errors import GaitInputError, Where

from ._accel import MODELS, calibrate_accelerometer
from ._apply import apply_calibration
from ._gyro import estimate_gyro_bias
from ._mount import calibrate_mounting
from ._store import CalibrationStore
from ._types import AccelCalibration, Calibration, GyroBiasCalibration, MountingCalibration
from .procedures import GUIDES, face_name

__all__ = ["register"]

EXIT_OK = 0


def _store(args: argparse.Namespace) -> CalibrationStore:
    return CalibrationStore(args.store)


def _read(path: Path):
    from gait.readers import read_session

    return read_session(path)


def _device_id(args: argparse.Namespace, session) -> str:
    dev = args.device or session.meta.device_id
    if not dev:
        raise GaitInputError(
            "no device id",
            expected="a 'device_id' line in the file header, or --device ADDRESS_OR_SERIAL",
            found="none",
            where=Where(file=args.file),
            hint="Calibrations are stored per device; name the device with --device",
        )
    return str(dev)


def _vec(x: np.ndarray, fmt: str) -> str:
    return ", ".join(f"{a} {format(float(v), fmt)}" for a, v in zip(SENSOR_AXES, x))


def _describe_gyro(cal: GyroBiasCalibration) -> list[str]:
    return [
        f"gyroscope bias ({cal.id}, {cal.created}):",
        f"  bias:  {_vec(cal.bias_rads * DEG_PER_RAD, '+.3f')} deg/s",
        f"  noise: {_vec(cal.noise_rads * DEG_PER_RAD, '.3f')} deg/s; "
        f"{cal.duration_s:.1f} s still, bias uncertainty {float(cal.bias_std_rads.max()) * DEG_PER_RAD:.4f} deg/s",
    ]


def _describe_accel(cal: AccelCalibration) -> list[str]:
    lines = [
        f"accelerometer ({cal.id}, {cal.created}; model {cal.model}, {cal.n_poses} distinct poses):",
        f"  bias:  {_vec(cal.bias_mps2, '+.4f')} m/s^2",
        f"  scale: {_vec((cal.scale - 1) * 100, '+.3f')} % from nominal",
    ]
    if cal.model == "full":
        lines.append(
            f"  misalignment (y-z, z-x, x-y): {np.array2string(cal.misalignment_rad * DEG_PER_RAD, precision=3)} deg"
        )
    else:
        lines.append("  misalignment: not estimated (needs tilted poses as well as the six faces)")
    lines.append(f"  residual: {cal.residual_mps2:.4f} m/s^2 RMS, {cal.max_residual_mps2:.4f} m/s^2 worst")
    if cal.axes == "gyroscope":
        lines.append(
            f"  aligned with the gyroscope axes ({cal.alignment_residual_deg:.2f} deg RMS); "
            f"gyroscope scale {_vec((cal.gyr_scale - 1) * 100, '+.2f')} %"
        )
    else:
        lines.append(f"  not aligned with the gyroscope: {cal.alignment_note}")
    return lines


def _describe_mounting(cal: MountingCalibration) -> list[str]:
    rows = ["    " + np.array2string(r, precision=4, suppress_small=True) for r in cal.rotation]
    q = ", ".join(f"{k} {v:.3g}" for k, v in cal.quality.items())
    return [f"mounting ({cal.id}, {cal.created}; {cal.method}{'; ' + q if q else ''}):", *rows]


def _describe(record) -> list[str]:
    if isinstance(record, GyroBiasCalibration):
        return _describe_gyro(record)
    if isinstance(record, AccelCalibration):
        return _describe_accel(record)
    return _describe_mounting(record)


def _save(args: argparse.Namespace, device_id: str, record, device: str | None) -> None:
    if args.dry_run:
        print("not stored (--dry-run)")
        return
    path = _store(args).save(device_id, record, device=device)
    print(f"stored for device {device_id!r} in {path}")


# -- sub-commands ------------------------------------------------------------------------
def _cmd_guide(args: argparse.Namespace) -> int:
    print(GUIDES[args.kind])
    return EXIT_OK


def _cmd_gyro(args: argparse.Namespace) -> int:
    session = _read(args.file)
    device_id = _device_id(args, session)
    cal = estimate_gyro_bias(session, min_duration_s=args.min_still_s)
    print("\n".join(_describe_gyro(cal)))
    _save(args, device_id, cal, session.meta.device)
    return EXIT_OK


def _cmd_accel(args: argparse.Namespace) -> int:
    session = _read(args.file)
    device_id = _device_id(args, session)
    cal = calibrate_accelerometer(
        session,
        model=args.model,
        max_residual_mps2=args.max_residual_mps2,
        acc_range_mps2=None if args.acc_range_g is None else args.acc_range_g * G,
    )
    poses = ", ".join(
        f"{face_name(m)}{'' if np.max(np.abs(m)) / np.linalg.norm(m) > 0.9 else '(tilted)'}" for m in cal.poses_mps2
    )
    print(f"{len(cal.poses_mps2)} still segments: {poses}")
    print("\n".join(_describe_accel(cal)))
    _save(args, device_id, cal, session.meta.device)
    return EXIT_OK


def _axis_in_sensor(v: np.ndarray) -> str:
    """Where a body axis points in sensor axes, e.g. ``-y (3.1 deg off)``."""
    i = int(np.argmax(np.abs(v)))
    off = float(np.degrees(np.arccos(min(abs(float(v[i])), 1.0))))
    return f"{'+' if v[i] >= 0 else '-'}{SENSOR_AXES[i]} ({off:.1f} deg off)"


def _cmd_mounting(args: argparse.Namespace) -> int:
    session = _read(args.file)
    device_id = _device_id(args, session)
    if session.meta.calibration is None and not args.no_calibration:
        cal = _store(args).current(device_id)
        if cal is not None and (cal.gyro is not None or cal.accel is not None):
            sensor_only = Calibration(device_id=device_id, gyro=cal.gyro, accel=cal.accel)
            session = apply_calibration(session.with_meta(device_id=device_id), sensor_only)
            print(f"sensor errors corrected first with {sensor_only.id}")
    rec = calibrate_mounting(session)
    up, fwd, left = rec.rotation
    print(f"sensor on the back: up = {_axis_in_sensor(up)}, forward = {_axis_in_sensor(fwd)}, "
          f"left = {_axis_in_sensor(left)}")  # fmt: skip
    print("\n".join(_describe_mounting(rec)))
    _save(args, device_id, rec, session.meta.device)
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    store = _store(args)
    devices = [args.device] if args.device else store.devices()
    if not devices:
        print(f"no calibrations stored in {store.root}")
        return EXIT_OK
    out: dict[str, Any] = {}
    for dev in devices:
        if args.history:
            records = store.history(dev)
            if args.json:
                out[dev] = [r.to_dict() for r in records]
                continue
            print(f"device {dev!r}: {len(records)} record{'s' if len(records) != 1 else ''} ({store.path_for(dev)})")
            for r in records:
                print("\n".join("  " + line for line in _describe(r)))
            continue
        cal = store.current(dev)
        if args.json:
            out[dev] = None if cal is None else cal.to_dict(with_poses=False)
            continue
        if cal is None:
            print(f"device {dev!r}: no calibration stored")
            continue
        print(f"device {dev!r}: calibration {cal.id}")
        for p in cal.parts:
            print("\n".join("  " + line for line in _describe(p)))
        missing = [k for k in ("gyro", "accel", "mounting") if getattr(cal, k) is None]
        if missing:
            print("  not calibrated: " + ", ".join(missing))
    if args.json:
        print(json.dumps(out, indent=1))
    return EXIT_OK


def _cmd_apply(args: argparse.Namespace) -> int:
    from gait.io import save_session

    session = _read(args.file)
    device_id = _device_id(args, session)
    cal: Calibration | None = _store(args).current(device_id)
    if cal is None:
        raise GaitInputError(
            "no calibration stored",
            expected=f"a calibration of device {device_id!r}",
            found="none",
            where=Where(file=_store(args).path_for(device_id)),
            hint="Run `gait calibrate gyro` / `gait calibrate accel` first",
        )
    if args.device and session.meta.device_id not in (None, args.device):
        session = session.with_meta(device_id=args.device)
    out = apply_calibration(session, cal, on_calibrated="raise")
    save_session(out, args.out)
    print(f"wrote {args.out} (calibration {cal.id})")
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    """Add ``gait calibrate`` and its sub-commands to the ``gait`` parser."""
    p = subparsers.add_parser(
        "calibrate",
        help="calibrate a sensor (gyroscope bias, accelerometer) and manage the per-device store",
        description="Calibrate a sensor from recorded files and keep the result per device; `gait analyze` and "
        "`gait record` then apply it automatically. `gait calibrate guide KIND` says how to record.",
    )
    sub = p.add_subparsers(dest="calibrate_command", required=True, metavar="STEP")

    def common(sp: argparse.ArgumentParser, *, with_file: bool = True, with_dry_run: bool = True) -> None:
        if with_file:
            sp.add_argument("file", type=Path, help="the recording (any format `gait analyze` reads)")
            sp.add_argument("--device", help="device address or serial to store under (default: from the file header)")
        if with_dry_run:
            sp.add_argument("--dry-run", action="store_true", help="report only; do not store")
        sp.add_argument("--store", type=Path, help="calibration store folder (default: the user data folder)")

    g = sub.add_parser("guide", help="how to record a calibration")
    g.add_argument("kind", choices=list(GUIDES))
    g.set_defaults(func=_cmd_guide)

    gy = sub.add_parser(
        "gyro",
        help="gyroscope bias from a recording of the sensor lying still",
        description=GUIDES["gyro"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(gy)
    gy.add_argument("--min-still-s", type=float, default=5.0, help="shortest usable still time, s (default 5)")
    gy.set_defaults(func=_cmd_gyro)

    ac = sub.add_parser(
        "accel",
        help="accelerometer bias, scale and misalignment from still poses",
        description=GUIDES["accel"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(ac)
    ac.add_argument("--model", choices=list(MODELS), default="auto", help="parameters to fit (default: auto)")
    ac.add_argument(
        "--max-residual-mps2", type=float, default=0.1, help="refuse a fit worse than this RMS residual (default 0.1)"
    )
    ac.add_argument("--acc-range-g", type=float, help="the accelerometer's full-scale range in g, if known")
    ac.set_defaults(func=_cmd_accel)

    mo = sub.add_parser(
        "mounting",
        help="how the sensor sits on the back, from standing still then walking or running",
        description=GUIDES["mounting"],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(mo)
    mo.add_argument(
        "--no-calibration",
        action="store_true",
        help="do not correct the sensor errors with the stored calibration first",
    )
    mo.set_defaults(func=_cmd_mounting)

    sh = sub.add_parser("show", help="show the stored calibrations")
    sh.add_argument("--device", help="only this device")
    sh.add_argument("--history", action="store_true", help="every stored record, not only the current ones")
    sh.add_argument("--json", action="store_true", help="machine-readable output")
    common(sh, with_file=False, with_dry_run=False)
    sh.set_defaults(func=_cmd_show)

    ap = sub.add_parser("apply", help="write a calibrated copy of a raw recording")
    common(ap, with_dry_run=False)
    ap.add_argument("--out", type=Path, required=True, help="output file (.csv, .csv.gz or .parquet)")
    ap.set_defaults(func=_cmd_apply)
