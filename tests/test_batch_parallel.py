"""The parallel paths of gait.batch: a spawn process pool, a Dask LocalCluster, and a real kill.

Each must give exactly the tables of the in-process run (`reference`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import gait

from .test_batch import inputs_master, reference  # noqa: F401  (fixtures)


def same_tables(r, ref) -> None:
    pd.testing.assert_frame_equal(r.sessions, ref.sessions)
    pd.testing.assert_frame_equal(r.findings, ref.findings)
    key = ["session_id", "step"]
    pd.testing.assert_frame_equal(
        r.steps.sort_values(key).reset_index(drop=True), ref.steps.sort_values(key).reset_index(drop=True)
    )


def test_process_pool(tmp_path, inputs_master, reference):  # noqa: F811
    r = gait.batch(inputs_master, out=tmp_path / "out", workers=2)
    assert r.ok and r.analysed == 4 and r.manifest["parameters"]["workers"] == 2
    same_tables(r, reference)
    assert set(r.timings["source"]) == set(reference.timings["source"])


def test_dask_local_cluster(tmp_path, inputs_master, reference):  # noqa: F811
    distributed = pytest.importorskip("distributed")
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        r = gait.batch(inputs_master, out=tmp_path / "out", scheduler=cluster.scheduler_address)
        assert r.ok and r.analysed == 4
        assert r.manifest["parameters"]["scheduler"] == cluster.scheduler_address
        assert {"dask", "distributed"} <= set(r.manifest["versions"])
        # resumable on the cluster as well
        r2 = gait.batch(inputs_master, out=tmp_path / "out", scheduler=cluster.scheduler_address)
        assert (r2.analysed, r2.skipped) == (0, 4)
    same_tables(r, reference)
    assert time.perf_counter() - t0 < 60  # about 5 s on a quiet 2-core machine, 10 s under load


def test_killed_batch_resumes(tmp_path):
    """SIGKILL a real batch as soon as its first source is done; the re-run finishes the rest."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(6):
        gait.save_session(gait.simulate(duration_s=20, seed=40 + k).session, inputs / f"r{k}.parquet")
    out = tmp_path / "out"
    code = f"import gait; gait.batch({str(inputs)!r}, out={str(out)!r}, workers=1)"
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if list(out.glob("_done/*.json")):  # a complete marker (not its hidden temporary file)
                break
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    killed = not (out / "manifest.json").exists()
    r = gait.batch(inputs, out=out, workers=1)
    assert r.ok and r.analysed + r.skipped == 6 and len(r.sessions) == 6
    if killed:
        assert r.skipped >= 1 and r.analysed >= 1
    assert not list(out.rglob("*.tmp"))
    assert sorted(set(r.steps["session_id"])) == sorted(r.sessions["session_id"])


def _children(pid: int) -> list[int]:
    """Pool processes of ``pid`` (multiprocessing's spawned workers), from /proc."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"spawn_main" in cmd:
            out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has ended; only its exit status is left


SLOW_WORKERS = """
import multiprocessing, time
import gait.core.pipeline
_analyze = gait.core.pipeline.analyze

def _slow(*args, **kwargs):
    if multiprocessing.parent_process() is not None:  # in a pool process only
        time.sleep(120)
    return _analyze(*args, **kwargs)

gait.core.pipeline.analyze = _slow
"""


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds the pool's processes in /proc")
def test_pool_processes_end_when_the_batch_is_killed(tmp_path):
    """kill -9 of the batch process (not of its group) ends its pool processes at once, though
    each is in the middle of a task that would last two more minutes."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for k in range(4):
        gait.save_session(gait.simulate(duration_s=5, seed=60 + k).session, inputs / f"r{k}.parquet")
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SLOW_WORKERS)  # the tasks of the pool processes never finish
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])])}
    code = f"import gait; gait.batch({str(inputs)!r}, out={str(tmp_path / 'out')!r}, workers=2)"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(children) < 2:
            time.sleep(0.05)
            children = _children(proc.pid)
        assert len(children) == 2, "the pool did not start"
        time.sleep(1.0)  # both are now inside a task
        assert all(_alive(c) for c in children)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.05)
        assert not any(_alive(c) for c in children), "pool processes outlived the killed batch"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for c in children:
            with contextlib.suppress(OSError):
                os.kill(c, signal.SIGKILL)
