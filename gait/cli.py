"""The ``gait`` command line.

Every sub-command is a thin wrapper over the public API. Input problems (`GaitInputError`)
are printed as one clear message and exit with status 2; recoverable data problems
(`GaitDataWarning`) are printed as ``warning:`` lines. No traceback reaches the user for
either.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import re
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from ._analyze_cmd import run_analyze, track_offset
from .constants import EXIT_INPUT, EXIT_OK
from .errors import GaitDataWarning, GaitInputError, check_speed_mps


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, GaitDataWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:  # pragma: no cover - library warnings from dependencies
        print(f"warning: {category.__name__}: {message}", file=sys.stderr)


class GaitArgumentParser(argparse.ArgumentParser):
    """`argparse.ArgumentParser` that suggests the closest command or choice when one is
    mistyped (``invalid choice: 'analyz'; did you mean 'analyze'?``). Sub-command parsers are
    of this class too (argparse gives them the class of their parent). An epilog may be a
    function, called only when the help is printed (``simulate``'s describes the simulator's
    presets, which a command that only parses its arguments need not import)."""

    def format_help(self) -> str:
        if callable(self.epilog):
            self.epilog = self.epilog()
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        m = re.search(r"invalid choice: '([^']*)'", message)
        if m:
            choices = [str(c) for a in self._actions if a.choices for c in a.choices]
            close = difflib.get_close_matches(m.group(1), choices, n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def _deepest_parser(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.ArgumentParser:
    """The sub-command parser the words of ``argv`` lead to (``gait history show ...`` ->
    the parser of ``history show``)."""
    current = parser
    for word in argv:
        subs = [a for a in current._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and word in subs[0].choices:
            current = subs[0].choices[word]
    return current


def _unrecognized(parser: argparse.ArgumentParser, extras: Sequence[str]) -> str:
    """``unrecognized arguments: --sped-mps 3 (did you mean --speed-mps?)``."""
    options = [o for a in parser._actions for o in a.option_strings]
    hints = []
    for word in extras:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], options, n=1, cutoff=0.6)
            if close:
                hints.append(f"{word.split('=', 1)[0]}: did you mean {close[0]}?")
    msg = "unrecognized arguments: " + " ".join(extras)
    return msg + (f" ({'; '.join(hints)})" if hints else "")


# ---------------------------------------------------------------------------------------
# sub-commands
# ---------------------------------------------------------------------------------------
#: What each simulator preset is for (``gait simulate --help``); the numbers come from the
#: preset itself (`_preset_changes`).
_PRESET_PURPOSE = {
    "easy": "good form at an easy pace (no fault)",
    "heel_overstride": "heel striking and overstriding at a low cadence",
    "fatigue": "a long run whose form breaks down towards the end",
    "rotation_lean": "trunk rotation, sideways lean and pelvic drop",
}


def _preset_changes(cfg) -> list[str]:
    """What a configuration changes from the default simulated runner (``name=value``): the
    faults and conditions it injects."""
    from . import simulator as sim

    base = sim.SimulationConfig()
    out = []
    for obj, ref, prefix in ((cfg.form, base.form, ""), (cfg, base, "")):
        for f in dataclasses.fields(obj):
            if f.name in ("form", "sensor", "duration_s", "speed_mps", "seed", "sampling_rate_hz", "mounting"):
                continue
            v, r = getattr(obj, f.name), getattr(ref, f.name)
            if v != r:
                out.append(f"{prefix}{f.name}={v:g}" if isinstance(v, float) else f"{prefix}{f.name}={v}")
    return out


def _preset_help() -> str:
    from . import simulator as sim

    lines = []
    for name, cfg in sim.PRESETS.items():
        changes = _preset_changes(cfg)
        lines.append(
            f"  {name}: {_PRESET_PURPOSE.get(name, '')}; {cfg.duration_s / 60:g} min of running at "
            f"{cfg.speed_mps:g} m/s; "
            + (f"changed from the default runner: {', '.join(changes)}" if changes else "the default runner")
        )
    return "presets:\n" + "\n".join(lines)


def _cmd_simulate(args: argparse.Namespace) -> int:
    from . import simulator as sim

    if args.speed_mps is not None:
        check_speed_mps(args.speed_mps, "--speed-mps")

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
    c = result.config
    injected = _preset_changes(c)
    print(
        f"wrote {paths[0]}: {result.session.duration_s:.0f} s recorded ({c.duration_s:g} s of running at "
        f"{c.speed_mps:g} m/s), {c.sampling_rate_hz:g} Hz, {result.session.n_samples} samples, {n_run} running steps"
    )
    print(
        f"preset: {args.preset or 'none (the default runner)'}; mounting {c.mounting}; frame {args.frame}; seed {c.seed}"
    )
    print("faults and conditions injected: " + (", ".join(injected) if injected else "none (good form)"))
    print(f"truth: {paths[1].name}, {paths[2].name}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------
# parser
# ---------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = GaitArgumentParser(
        prog="gait",
        description="Running-form analysis from one lower-back IMU.",
        epilog="'gait COMMAND --help' describes a command. 'gait' alone prints this list and exits with status 2.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    a = sub.add_parser(
        "analyze",
        aliases=["analyse"],
        help="analyse a recorded session: form faults, their causes and advice (terminal, JSON, HTML)",
        description=(
            "Analyse a recorded session (CSV, CSV.gz, Parquet, or a supported dataset folder): metrics, form faults "
            "with evidence, causes and advice, run history (training load, shoes, personal baselines). "
            "The report coaches form; it does not diagnose."
        ),
    )
    a.add_argument("file", type=Path, help="session file or dataset folder")
    a.add_argument(
        "--acc-unit", choices=["mps2", "g", "mg", "m_s2"], help="override the acceleration unit declared in the file"
    )
    a.add_argument(
        "--gyr-unit",
        choices=["rads", "dps", "rad_s", "deg_s"],
        help="override the angular-rate unit declared in the file",
    )
    a.add_argument(
        "--speed-mps",
        type=float,
        help="known running speed (treadmill or GPS), for step length, vertical ratio and distance",
    )
    a.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON (schema: docs/report.md)")
    a.add_argument(
        "--html", type=Path, metavar="FILE", help="write a self-contained HTML report with plots (no network)"
    )
    a.add_argument("--shoes", metavar="NAME", help="the shoes worn (for shoe wear); default: the session's metadata")
    a.add_argument(
        "--track",
        type=Path,
        metavar="FILE",
        help="the run's track from a watch or phone (FIT, TCX or GPX; docs/gps.md): per-step speed, step length, "
        "vertical ratio, distance, splits and exact downhill detection",
    )
    a.add_argument(
        "--elevation",
        type=Path,
        metavar="FILE",
        help="the same as --track (its older name); also takes a CSV with t_s (session clock) and elevation_m",
    )
    a.add_argument(
        "--track-offset-s",
        type=track_offset,
        default=0.0,
        metavar="S",
        help="clock offset of the track, s (positive moves the track later) when the watch and the sensor clocks "
        "disagree; 'auto' finds it from the run's starts, stops and changes of pace (docs/gps.md)",
    )
    a.add_argument(
        "--pace",
        metavar="PACE",
        help="a constant pace instead of --speed-mps: 5:30/km, 8:50/mi, 12 km/h, 7.5 mph or 3.3 m/s",
    )
    a.add_argument(
        "--splits",
        choices=["km", "mi"],
        help="split distance in the summary and reports (default: km; mi with --pace .../mi)",
    )
    a.add_argument(
        "--details",
        action="store_true",
        help="print the full tables (session, every metric with IQR and sides, splits, every finding's causes and "
        "advice, why each check could not run) instead of the short summary",
    )
    a.add_argument("--no-history", action="store_true", help="do not read or store the run history")
    a.add_argument(
        "--store-history",
        action="store_true",
        help="store a simulated, sample or test session in the run history as one of your runs "
        "(they are kept out of it by default: docs/history.md)",
    )
    a.add_argument("--no-calibration", action="store_true", help="do not apply the stored calibration of the device")
    a.add_argument(
        "--history-db",
        type=Path,
        metavar="PATH",
        help="history database (default: $GAIT_HISTORY_DB, else the user data folder)",
    )
    a.add_argument("--steps", type=Path, metavar="FILE", help="write the per-step table (.csv, .csv.gz or .parquet)")
    a.add_argument(
        "--minutes", type=Path, metavar="FILE", help="write the per-minute table (.csv, .csv.gz or .parquet)"
    )
    a.set_defaults(func=run_analyze)

    s = sub.add_parser(
        "simulate",
        help="simulate a lumbar IMU recording of a run, with ground truth",
        description="Simulate a lumbar IMU recording of a run, with its exact truth (steps and config) beside it.",
        epilog=_preset_help,  # type: ignore[arg-type]  # called by GaitArgumentParser.format_help
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("--out", type=Path, required=True, help="output session file (.csv, .csv.gz or .parquet)")
    s.add_argument(
        "--preset",
        choices=["easy", "heel_overstride", "fatigue", "rotation_lean"],
        help="a named runner / run (each described below)",
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
COMMAND_MODULES: tuple[str, ...] = ("calibration.cli", "gait.live.cli", "gait.batch._cli", "gait.history.cli")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gait`` console script."""
    from ._allocator import tune_allocator

    tune_allocator()  # large arrays reused between stages, not faulted in again (gait._allocator)
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    if not words:
        parser.print_help()
        return EXIT_INPUT
    args, extras = parser.parse_known_args(words)
    if extras:
        target = _deepest_parser(parser, words)
        target.error(_unrecognized(target, extras))
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
