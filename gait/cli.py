"""The ``gait`` command line.

Every sub-command is a thin wrapper over the public API. Input problems (`GaitInputError`)
are printed as one clear message and exit with status 2; recoverable data problems
(`GaitDataWarning`) are printed as ``warning:`` lines. No traceback reaches the user for
either.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import GaitDataWarning, GaitInputError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GaitDataWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:  # pragma: no cover - library warnings from dependencies
        print(f"warning: {category.__name__}: {message}", file=sys.stderr)


# ---------------------------------------------------------------------------------------
# sub-commands
# ---------------------------------------------------------------------------------------
def _cmd_simulate(args: argparse.Namespace) -> int:
    from . import simulator as sim

    cfg = sim.preset(args.preset) if args.preset else sim.SimulationConfig()
    changes = {}
    if args.duration_s is not None:
        changes["duration_s"] = args.duration_s
    if args.rate_hz is not None:
        changes["sampling_rate_hz"] = args.rate_hz
    if args.speed_mps is not None:
        changes["speed_mps"] = args.speed_mps
    if args.mounting is not None:
        changes["mounting"] = args.mounting
    changes["seed"] = args.seed
    result = sim.simulate(cfg, frame=args.frame, **changes)
    paths = result.save(args.out, decimals=args.decimals)
    n_run = int((result.steps["activity"] == "running").sum())
    print(
        f"wrote {paths[0]} ({result.session.n_samples} samples, {result.session.duration_s:.0f} s, {n_run} running steps)"
    )
    print(f"truth: {paths[1].name}, {paths[2].name}")
    return EXIT_OK


def _cmd_analyze(args: argparse.Namespace) -> int:
    import pandas as pd

    from .pipeline import analyze
    from .readers import read_sessions
    from .report import print_analysis_summary, print_session_summary, write_table

    sessions = read_sessions(args.file, acc_unit=args.acc_unit, gyr_unit=args.gyr_unit)
    steps, minutes = [], []
    for k, s in enumerate(sessions):
        print_session_summary(s)
        a = analyze(s, speed_mps=args.speed_mps)
        print_analysis_summary(a)
        label = s.meta.source or str(args.file)
        if len(sessions) > 1:
            label = f"{label}#{k}"
        steps.append(a.steps.assign(session=label))
        minutes.append(a.minutes.assign(session=label))
    if args.steps:
        print(f"wrote {write_table(pd.concat(steps, ignore_index=True), args.steps)}")
    if args.minutes:
        print(f"wrote {write_table(pd.concat(minutes, ignore_index=True), args.minutes)}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gait", description="Running-form analysis from one lower-back IMU.")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser("analyze", help="analyse a recorded session (CSV, CSV.gz, Parquet, or a supported export)")
    a.add_argument("file", type=Path, help="session file or dataset folder")
    a.add_argument(
        "--acc-unit", choices=["m_s2", "g", "mg"], help="override the acceleration unit declared in the file"
    )
    a.add_argument("--gyr-unit", choices=["rad_s", "deg_s"], help="override the angular-rate unit declared in the file")
    a.add_argument(
        "--speed-mps", type=float, help="known running speed (treadmill or GPS), for step length and vertical ratio"
    )
    a.add_argument("--steps", type=Path, metavar="FILE", help="write the per-step table (.csv, .csv.gz or .parquet)")
    a.add_argument(
        "--minutes", type=Path, metavar="FILE", help="write the per-minute table (.csv, .csv.gz or .parquet)"
    )
    a.set_defaults(func=_cmd_analyze)

    s = sub.add_parser("simulate", help="simulate a lumbar IMU recording of a run, with ground truth")
    s.add_argument("--out", type=Path, required=True, help="output session file (.csv, .csv.gz or .parquet)")
    s.add_argument(
        "--preset", choices=["easy", "heel_overstride", "fatigue", "rotation_lean"], help="a named runner / run"
    )
    s.add_argument("--duration-s", type=float, help="running time in seconds")
    s.add_argument("--rate-hz", type=float, help="sampling rate in Hz (default 200)")
    s.add_argument("--speed-mps", type=float, help="running speed in m/s")
    s.add_argument("--mounting", help="aligned, belt_clip, upside_down, sideways or random")
    s.add_argument("--frame", choices=["sensor", "body"], default="sensor", help="output frame (default: sensor)")
    s.add_argument("--seed", type=int, default=0, help="random seed (same seed, same session)")
    s.add_argument("--decimals", type=int, help="round CSV values to this many decimals (smaller files)")
    s.set_defaults(func=_cmd_simulate)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return p


#: Modules that add sub-commands: each has ``register(subparsers)``, which adds its parsers
#: and sets ``func`` (taking the parsed arguments, returning the exit status).
COMMAND_MODULES: tuple[str, ...] = ("calibration.cli", "gait.live.cli")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gait`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    with warnings.catch_warnings():
        warnings.simplefilter("always", GaitDataWarning)
        warnings.showwarning = _print_warning
        try:
            return func(args)
        except GaitInputError as e:
            print(f"error: {e}", file=sys.stderr)
            return EXIT_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
