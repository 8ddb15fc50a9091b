"""Throughput of ``gait batch`` with 1 and 2 workers, and where the time goes.

    python benchmarks/batch.py                          # 200 sessions of 30 minutes
    python benchmarks/batch.py --sessions 20 --minutes 5   # a quick look

The sessions are simulated once into a cache folder (``--cache``, default: the user cache
folder) and reused: deterministic seeds, the four presets (easy, heel_overstride, fatigue,
rotation_lean), speeds 2.6-4.2 m/s, four sensor mountings (belt clip, upside down, sideways,
random), 200 Hz with gyroscope; four in five as ``.csv.gz`` (4 decimals), one in five as
Parquet. Each measurement runs ``gait.batch(CACHE, out=<new folder>, workers=N)`` from scratch
(discovery, hashing, parsing, analysis, fault evaluation, writing, the cohort tables and the
manifest): sessions/s is sessions / wall time. ``workers=1`` runs in this process (no pool),
``workers=2`` a spawn process pool (its start-up is included).

The split between parsing and analysis comes from the batch's own per-source timings
(`BatchResult.timings`, seconds of worker time): ``read`` (parsing the file into a session),
``analyze`` (`gait.analyze`), ``faults`` (`gait.faults.evaluate`), ``write`` (the step and
minute tables); ``driver`` is the rest of workers x wall time (discovery, content hashes,
process start-up, the cohort tables, idle workers at the end).

A last measurement gives the machine's own ceiling: the analysis of one session in memory,
repeated, in one process and then in two processes at once (no files, no pool, no tables);
on a shared or virtual machine two cores rarely give 2.0 x.

The machine's load average is printed before each measurement; ``--max-load`` waits (up to
``--max-wait-s``) until the 1-minute load is below it, since other jobs distort the scaling.
With ``--repeat N`` the tables show the best run of each worker count, and the medians are
printed as well.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from pathlib import Path  # noqa: E402

import gait  # noqa: E402
from gait.batch import code_digest  # noqa: E402
from gait.errors import GaitDataWarning  # noqa: E402
from gait.simulator import preset  # noqa: E402

PRESETS = ("easy", "heel_overstride", "fatigue", "rotation_lean")
SPEEDS_MPS = (2.6, 3.0, 3.4, 3.8, 4.2)
MOUNTINGS = ("belt_clip", "upside_down", "sideways", "random")
#: Bump when the generated sessions change, so an old cache is not reused.
CACHE_VERSION = 1


def spec(i: int, minutes: float) -> dict:
    """The simulation of session ``i`` (deterministic)."""
    return {
        "name": f"s{i:03d}_{PRESETS[i % 4]}." + ("parquet" if i % 5 == 4 else "csv.gz"),
        "preset": PRESETS[i % 4],
        "speed_mps": SPEEDS_MPS[(i // 4) % 5],
        "mounting": MOUNTINGS[(i // 20) % 4],
        "seed": 10_000 + i,
        "duration_s": 60.0 * minutes,
    }


def _generate(args: tuple[dict, str]) -> str:
    s, folder = args
    path = Path(folder) / s["name"]
    if not path.exists():
        cfg = preset(s["preset"], duration_s=s["duration_s"], speed_mps=s["speed_mps"], mounting=s["mounting"])
        sim = gait.simulate(cfg, seed=s["seed"])
        gait.save_session(sim.session, path, decimals=4 if path.name.endswith(".csv.gz") else None)
    return s["name"]


def ensure_cache(folder: Path, n: int, minutes: float, workers: int) -> list[dict]:
    """Simulate the sessions that are not in ``folder`` yet; returns their specs."""
    specs = [spec(i, minutes) for i in range(n)]
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.json"
    doc = {"version": CACHE_VERSION, "sessions": specs}
    if index.exists() and json.loads(index.read_text()) != doc:
        sys.exit(f"{folder} holds other sessions; choose another --cache folder")
    missing = [s for s in specs if not (folder / s["name"]).exists()]
    if missing:
        print(f"simulating {len(missing)} sessions of {minutes:g} min into {folder} ...", flush=True)
        t0 = time.perf_counter()
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as ex:
            for k, _ in enumerate(ex.map(_generate, [(s, str(folder)) for s in missing]), start=1):
                if k % 20 == 0:
                    print(f"  {k}/{len(missing)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    index.write_text(json.dumps(doc, indent=1))
    return specs


def wait_for_load(max_load: float | None, max_wait_s: float) -> float:
    """Wait until the 1-minute load average is below ``max_load``; return the load."""
    t0 = time.monotonic()
    load = os.getloadavg()[0]
    while max_load is not None and load > max_load and time.monotonic() - t0 < max_wait_s:
        time.sleep(5.0)
        load = os.getloadavg()[0]
    return load


def _timed_analyses(args: tuple[str, int, float]) -> float:
    """In a worker: read a session, wait for the common start time, analyse it ``repeat`` times."""
    path, repeat, start_at = args
    warnings.simplefilter("ignore", GaitDataWarning)
    s = gait.read_session(path)
    gait.analyze(s)  # warm up
    time.sleep(max(0.0, start_at - time.time()))
    t0 = time.perf_counter()
    for _ in range(repeat):
        gait.analyze(s)
    return time.perf_counter() - t0


def machine_ceiling(path: Path, repeat: int = 6) -> tuple[float, float, float]:
    """How well this machine runs two analyses at once: the same in-memory work in 1 process,
    then in 2 processes started together. Returns (time alone, mean time of the two together,
    ceiling = 2 x alone / together). No file, no pool overhead in the timed part."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as ex:
        alone = ex.submit(_timed_analyses, (str(path), repeat, time.time() + 8.0)).result()
        start = time.time() + 8.0
        both = list(ex.map(_timed_analyses, [(str(path), repeat, start)] * 2))
    together = sum(both) / 2
    return alone, together, 2 * alone / together


def measure(cache: Path, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        r = gait.batch(cache, out=Path(tmp) / "out", workers=workers)
        wall = time.perf_counter() - t0
    if not r.ok:
        print(r.errors.to_string(), file=sys.stderr)
        raise SystemExit("the batch failed")
    stages = {c: float(r.timings[c].sum()) for c in ("read_s", "analyze_s", "faults_s", "write_s")}
    return {
        "workers": workers,
        "wall_s": wall,
        "sessions": len(r.sessions),
        "samples": int(r.sessions["n_samples"].sum()),
        "stages": stages,
    }


def main(argv: list[str] | None = None) -> int:
    from platformdirs import user_cache_dir

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=30.0, help="running time of each session (default 30)")
    ap.add_argument("--cache", type=Path, help="folder of the simulated sessions (default: user cache folder)")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to measure (default 1 2)")
    ap.add_argument("--repeat", type=int, default=1, help="measurements per worker count (best is kept)")
    ap.add_argument("--max-load", type=float, help="wait until the 1-minute load average is below this")
    ap.add_argument("--max-wait-s", type=float, default=600.0)
    ap.add_argument("--generate-only", action="store_true", help="fill the cache and stop")
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore", GaitDataWarning)

    cache = args.cache or Path(user_cache_dir("gait-lumbar", appauthor=False)) / (
        f"bench-batch-{args.sessions}x{args.minutes:g}min"
    )
    specs = ensure_cache(cache, args.sessions, args.minutes, workers=max(args.workers))
    if args.generate_only:
        return 0
    size = sum(p.stat().st_size for p in cache.iterdir() if p.name != "index.json")
    print(f"cache: {cache} ({args.sessions} sessions, {size / 1e6:.0f} MB); {os.cpu_count()} CPUs")
    digest = code_digest.__wrapped__()  # workers import the code on disk: it must not change meanwhile
    print(f"code: {digest[:12]}")

    best: dict[int, dict] = {}
    walls: dict[int, list[float]] = {w: [] for w in args.workers}
    for _ in range(args.repeat):
        for w in args.workers:
            load = wait_for_load(args.max_load, args.max_wait_s)
            m = measure(cache, w)
            m["load_before"] = load
            m["load_after"] = os.getloadavg()[0]
            print(
                f"  workers={w}: {m['wall_s']:.1f} s, {m['sessions'] / m['wall_s']:.2f} sessions/s "
                f"(1-min load {load:.2f} before, {m['load_after']:.2f} after)",
                flush=True,
            )
            walls[w].append(m["wall_s"])
            if w not in best or m["wall_s"] < best[w]["wall_s"]:
                best[w] = m

    load = wait_for_load(args.max_load, args.max_wait_s)
    alone, together, ceiling = machine_ceiling(cache / specs[0]["name"])
    print(
        f"  machine ceiling: {args.minutes:g}-min analysis in memory x6: {alone:.2f} s alone, {together:.2f} s each "
        f"with two at once -> {ceiling:.2f} x (1-min load {load:.2f} before)",
        flush=True,
    )

    if code_digest.__wrapped__() != digest:
        print("WARNING: the code changed during the measurements; the figures mix two versions", flush=True)

    base = best[min(best)]
    print()
    print("| workers | wall time | sessions/s | samples/s | scaling | 1-min load before / after |")
    print("|---|---|---|---|---|---|")
    for w, m in sorted(best.items()):
        rate = m["sessions"] / m["wall_s"]
        scale = base["wall_s"] / m["wall_s"]
        print(
            f"| {w} | {m['wall_s']:.1f} s | {rate:.2f} | {m['samples'] / m['wall_s'] / 1e6:.2f} M | "
            f"{scale:.2f} x | {m['load_before']:.2f} / {m['load_after']:.2f} |"
        )
    print()
    print("| stage | " + " | ".join(f"{w} worker{'s' if w > 1 else ''}" for w in sorted(best)) + " |")
    print("|---|" + "---|" * len(best))
    names = {
        "read_s": "parsing (`read_sessions`)",
        "analyze_s": "analysis (`gait.analyze`)",
        "faults_s": "faults (`evaluate`)",
        "write_s": "writing tables",
    }
    for key, label in names.items():
        cells = []
        for _, m in sorted(best.items()):
            busy = m["wall_s"] * m["workers"]
            cells.append(f"{m['stages'][key]:.1f} s ({100 * m['stages'][key] / busy:.0f} %)")
        print(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for _, m in sorted(best.items()):
        busy = m["wall_s"] * m["workers"]
        other = busy - sum(m["stages"].values())
        cells.append(f"{other:.1f} s ({100 * other / busy:.0f} %)")
    print("| driver and idle (discovery, hashing, start-up, tables) | " + " | ".join(cells) + " |")
    print()
    if args.repeat > 1:
        med = {w: statistics.median(v) for w, v in walls.items()}
        print(
            f"median of {args.repeat} runs: "
            + ", ".join(f"{w} worker{'s' if w > 1 else ''} {med[w]:.1f} s" for w in sorted(med))
            + f" -> scaling {med[min(med)] / med[max(med)]:.2f} x"
        )
    print(
        f"machine ceiling for two processes (the analysis alone, in memory): {ceiling:.2f} x; "
        f"the batch reaches {base['wall_s'] / best[max(best)]['wall_s']:.2f} x (best of each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
