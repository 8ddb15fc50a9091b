"""How fast ``gait analyze`` handles an hour of running, stage by stage, against the parsers' floor.

    python benchmarks/speed.py                 # 60-minute session at 200 Hz, medians of 5 runs
    python benchmarks/speed.py --minutes 10 --runs 3

One run measures, on the same simulated session (accelerometer + gyroscope, written by
``gait simulate`` and cached under ``benchmarks/.cache``):

1. **parsing**: this project's reader (`gait.io.read_canonical_session`: parse and validate) next to
   ``pandas.read_csv(path, comment="#")`` and ``pyarrow.csv.read_csv`` (header lines skipped;
   its own threads, and one thread) on the same file, plain ``.csv`` and ``.csv.gz``, and the
   reader next to ``pyarrow.parquet.read_table`` on a Parquet copy (`gait.save_session`);
2. **import of the command line**: ``python -X importtime -c "import gait.cli;
   gait.cli.build_parser()"``, the sum of the top-level imports;
3. **the core**: ``gait.analyze(session)`` in a fresh process (its modules imported
   beforehand, the allocator tuned as the command line tunes it: `gait._allocator`), its first
   call and then warm calls (CPU and wall time), and the core's peak memory above the session's own arrays
   (`tracemalloc`, in which NumPy reports its buffers), as a multiple of the raw arrays
   (t, acc, gyr: 7 float64 per sample);
4. **faults** (`gait.faults.assess`), **JSON** (the report document written to a file) and
   **HTML** (the self-contained page written to a file: `gait.report.write_html`);
5. **the whole process**: ``gait analyze FILE --no-history`` in a subprocess (terminal
   output to /dev/null), with ``--json``, with ``--json --html``, and on the Parquet copy.

Each figure is the median of ``--runs`` runs (the first, warming, run of each parser left
out). The machine's load (`os.getloadavg`) is printed before and after: on a shared machine
the figures move with it, and ratios measured in one run are the fair comparison. Ratios are
to pyarrow's time on the same ``.csv.gz`` (the floor for reading it). Targets: the whole
process within 2.5 x that floor (3.5 x with the JSON and HTML reports), the command line
imported within 0.3 s, the core at 3 M samples/s or more warm and its first call within 10 %
of that, its peak memory within 4 x the raw arrays.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import gzip  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"

# Every subprocess runs in the cache folder: a working directory holding a ``gait`` package
# would come first on its path and be measured instead of the one on PYTHONPATH. They keep
# their compiled bytecode there too (as an installed package has it), also where the
# environment says not to write any (PYTHONDONTWRITEBYTECODE): otherwise every start would
# compile the project's modules again.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
_ENV["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")

#: The fresh-process part: the core's first and warm calls, faults, JSON, peak memory.
_CORE_SCRIPT = r"""
import json, sys, tempfile, time, tracemalloc, warnings
from pathlib import Path
path, runs = sys.argv[1], int(sys.argv[2])
import gait
from gait._allocator import tune_allocator
from gait.errors import GaitDataWarning
tune_allocator()  # as the command line does (gait._allocator)
warnings.simplefilter("ignore", GaitDataWarning)
s = gait.io.read_canonical_session(path)
import gait.faults, gait.core.pipeline, gait.report  # imports are measured apart: not part of the first call
out = {"n": int(s.n_samples)}
def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    r = fn()
    return time.perf_counter() - t0, time.process_time() - c0, r
out["first_wall"], out["first_cpu"], a = timed(lambda: gait.analyze(s))
warm = [timed(lambda: gait.analyze(s))[:2] for _ in range(runs)]
out["warm_wall"] = [w for w, _ in warm]
out["warm_cpu"] = [c for _, c in warm]
out["steps"] = int(len(a.steps))
from gait.faults import assess
from gait.report import RunReport, report_document, write_html, write_json
out["faults"] = [timed(lambda: assess(a))[0] for _ in range(runs)]
rr = RunReport(label=path, analysis=a, assessment=assess(a))
with tempfile.TemporaryDirectory() as tmp:
    out["json"] = [timed(lambda: write_json(report_document([rr]), Path(tmp) / "r.json"))[0] for _ in range(runs)]
    write_html([rr], Path(tmp) / "r.html")  # its first page imports the renderer's modules
    out["html"] = [timed(lambda: write_html([rr], Path(tmp) / "r.html"))[0] for _ in range(runs)]
tracemalloc.start()
base = tracemalloc.get_traced_memory()[0]
gait.analyze(s)
out["peak_bytes"] = tracemalloc.get_traced_memory()[1] - base
tracemalloc.stop()
print(json.dumps(out))
"""


def median_time(fn: Callable[[], object], runs: int, *, warmup: bool = True) -> float:
    """Median wall time of ``runs`` calls of ``fn`` (after one untimed call when ``warmup``)."""
    if warmup:
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def session_files(minutes: float, rate_hz: float, seed: int) -> tuple[Path, Path, Path]:
    """The simulated session as ``.csv.gz`` (from ``gait simulate``), as plain ``.csv`` and as
    Parquet (`gait.save_session`), cached."""
    CACHE.mkdir(exist_ok=True)
    stem = f"run_{minutes:g}min_{rate_hz:g}hz_seed{seed}"
    gz, plain, pq = CACHE / f"{stem}.csv.gz", CACHE / f"{stem}.csv", CACHE / f"{stem}.parquet"
    if not gz.exists():
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run.csv.gz"
            subprocess.run(
                [sys.executable, "-m", "gait.cli", "simulate", "--out", str(out), "--duration-s", str(60 * minutes),
                 "--rate-hz", str(rate_hz), "--seed", str(seed)],
                check=True, stdout=subprocess.DEVNULL, cwd=CACHE, env=_ENV,
            )  # fmt: skip
            shutil.move(out, gz)
    if not plain.exists():
        plain.write_bytes(gzip.decompress(gz.read_bytes()))
    if not pq.exists():
        import gait

        gait.save_session(gait.io.read_canonical_session(gz), pq)
    return gz, plain, pq


def header_lines(path: Path) -> int:
    """The number of ``#`` metadata lines at the top of a session file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    n = 0
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            n += 1
    return n


def cli_import_s() -> float:
    """Import time of the command line (module and parser), from ``python -X importtime``."""
    code = "import gait.cli; gait.cli.build_parser()"
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=CACHE,
        env=_ENV,
    ).stderr
    total = 0
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)  # top level: no indent
        if m:
            total += int(m.group(1))
    return total / 1e6


def whole_process_s(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "gait.cli", *args], check=True, stdout=subprocess.DEVNULL, cwd=CACHE, env=_ENV
    )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=60.0, help="running time of the session (default 60)")
    ap.add_argument("--rate-hz", type=float, default=200.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5, help="runs per figure; medians are reported (default 5)")
    args = ap.parse_args(argv)
    runs = args.runs

    import pandas as pd
    import pyarrow.csv as pacsv

    import gait

    load_before = os.getloadavg()
    gz, plain, pq = session_files(args.minutes, args.rate_hz, args.seed)
    skip = header_lines(gz)
    print(f"gait from {Path(gait.__file__).parent}; python {sys.version.split()[0]}, pandas {pd.__version__}, "
          f"pyarrow {__import__('pyarrow').__version__}; {os.cpu_count()} cores")  # fmt: skip
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} (1, 5, 15 min)")

    parse: dict[tuple[str, str], float] = {}
    for kind, path in (("csv.gz", gz), ("csv", plain)):
        parse["gait.io.read_canonical_session", kind] = median_time(
            lambda p=path: gait.io.read_canonical_session(p), runs
        )
        parse["pandas.read_csv", kind] = median_time(lambda p=path: pd.read_csv(p, comment="#"), runs)
        opts = pacsv.ReadOptions(skip_rows=skip)
        parse["pyarrow.csv.read_csv", kind] = median_time(
            lambda p=path, o=opts: pacsv.read_csv(p, read_options=o), runs
        )
        one = pacsv.ReadOptions(skip_rows=skip, use_threads=False)
        parse["pyarrow.csv.read_csv, one thread", kind] = median_time(
            lambda p=path, o=one: pacsv.read_csv(p, read_options=o), runs
        )
    import pyarrow.parquet as papq

    parse["gait.io.read_canonical_session", "parquet"] = median_time(lambda: gait.io.read_canonical_session(pq), runs)
    parse["pyarrow.parquet.read_table", "parquet"] = median_time(lambda: papq.read_table(pq), runs)
    floor = parse["pyarrow.csv.read_csv", "csv.gz"]

    whole_process_s(["analyze", str(gz), "--no-history"])  # compiles and caches the bytecode
    imports = statistics.median(cli_import_s() for _ in range(runs))
    core_out = subprocess.run(
        [sys.executable, "-c", _CORE_SCRIPT, str(gz), str(runs)],
        capture_output=True,
        text=True,
        check=True,
        cwd=CACHE,
        env=_ENV,
    ).stdout
    core = json.loads(core_out.strip().splitlines()[-1])
    whole = statistics.median(whole_process_s(["analyze", str(gz), "--no-history"]) for _ in range(runs))
    whole_pq = statistics.median(whole_process_s(["analyze", str(pq), "--no-history"]) for _ in range(runs))
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "r.json")
        whole_json = statistics.median(
            whole_process_s(["analyze", str(gz), "--no-history", "--json", out]) for _ in range(runs)
        )
        page = str(Path(tmp) / "r.html")
        whole_html = statistics.median(
            whole_process_s(["analyze", str(gz), "--no-history", "--json", out, "--html", page]) for _ in range(runs)
        )
    load_after = os.getloadavg()

    n = core["n"]
    raw_bytes = n * 7 * 8
    warm_wall, warm_cpu = statistics.median(core["warm_wall"]), statistics.median(core["warm_cpu"])
    print(
        f"session: {n} samples ({n / args.rate_hz / 60:.1f} min at {args.rate_hz:g} Hz, accelerometer + gyroscope), "
        f"{core['steps']} steps; {gz.stat().st_size / 1e6:.1f} MB .csv.gz, {plain.stat().st_size / 1e6:.1f} MB .csv, "
        f"{pq.stat().st_size / 1e6:.1f} MB .parquet"
    )
    print(f"medians of {runs} runs; ratios to pyarrow.csv.read_csv on the .csv.gz ({floor:.3f} s)")
    print()
    print("| stage | time | x pyarrow (.csv.gz) | samples/s |")
    print("|---|---|---|---|")

    def row(label: str, seconds: float) -> None:
        print(f"| {label} | {seconds:.3f} s | {seconds / floor:.2f} | {n / seconds / 1e6:.2f} M |")

    for kind in ("csv.gz", "csv"):
        for parser in (
            "gait.io.read_canonical_session",
            "pandas.read_csv",
            "pyarrow.csv.read_csv",
            "pyarrow.csv.read_csv, one thread",
        ):
            row(f"parse .{kind}: {parser}", parse[parser, kind])
    for parser in ("gait.io.read_canonical_session", "pyarrow.parquet.read_table"):
        row(f"parse .parquet: {parser}", parse[parser, "parquet"])
    row("import of the command line (-X importtime)", imports)
    row("core, first call (fresh process)", core["first_wall"])
    row("core, warm (wall)", warm_wall)
    row("core, warm (CPU)", warm_cpu)
    row("faults (`gait.faults.assess`)", statistics.median(core["faults"]))
    row("JSON report (document + write)", statistics.median(core["json"]))
    row("whole process: `gait analyze FILE --no-history`", whole)
    row("HTML report (render + write)", statistics.median(core["html"]))
    row("whole process, with `--json`", whole_json)
    row("whole process, with `--json --html`", whole_html)
    row("whole process on the Parquet copy, `--no-history`", whole_pq)
    print()
    peak = core["peak_bytes"]
    print(
        f"peak memory of the core: {peak / 1e6:.0f} MB = {peak / raw_bytes:.1f} x the raw arrays ({raw_bytes / 1e6:.0f} MB)"
    )
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print()
    targets = (
        ("whole process <= 2.5 x pyarrow on the .csv.gz", f"{whole / floor:.2f} x", whole / floor <= 2.5),
        ("with JSON + HTML <= 3.5 x pyarrow", f"{whole_html / floor:.2f} x", whole_html / floor <= 3.5),
        ("command line imported in <= 0.3 s", f"{imports:.3f} s", imports <= 0.3),
        ("core >= 3 M samples/s warm (wall)", f"{n / warm_wall / 1e6:.2f} M/s", n / warm_wall >= 3e6),
        (
            "core's first call within 10 % of warm",
            f"{core['first_wall'] / warm_wall - 1:+.0%}",
            core["first_wall"] <= 1.1 * warm_wall,
        ),
        ("core's peak memory <= 4 x the raw arrays", f"{peak / raw_bytes:.1f} x", peak <= 4 * raw_bytes),
    )
    for label, value, met in targets:
        print(f"target: {label}: {value} -> {'met' if met else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
