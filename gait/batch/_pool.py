"""Running the tasks: in this process or in a spawn-safe process pool, and the progress line."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Iterator

from ._task import (
    SourceOutcome,
    Task,
    error_row,
    run_task,
)


@contextlib.contextmanager
def _one_thread_per_child() -> Iterator[None]:
    """Child processes start with one BLAS / OpenMP thread each (one per core is the pool's job).

    The variables are read when NumPy loads, so they have to be in the environment that the
    spawned workers inherit; they are restored afterwards, and values set by the user win.
    """
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {n: os.environ.get(n) for n in names}
    for n in names:
        os.environ.setdefault(n, "1")
    try:
        yield
    finally:
        for n, v in saved.items():
            if v is None:
                os.environ.pop(n, None)
            else:
                os.environ[n] = v


def worker_failure(task: Task, exc: BaseException) -> SourceOutcome:
    """The outcome of a task whose worker (or cluster) failed before it could report."""
    row = error_row(source=task.source, input_sha256=task.input_sha256, stage="worker", exc=exc)
    row["kind"] = "worker"
    if not row["traceback"]:
        row["traceback"] = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return SourceOutcome(task.source, task.input_sha256, task.key, (), (), (row,), (), {})


#: What the planner yields: a task to compute, an outcome already settled (done earlier, or
#: unreadable), or None for a duplicate (nothing to do but count it).
Item = Task | SourceOutcome | None
Done = Callable[[SourceOutcome | None], None]


def run_inline(items: Iterable[Item], done: Done) -> None:
    for item in items:
        done(run_task(item) if isinstance(item, Task) else item)


def run_pool(items: Iterable[Item], workers: int, done: Done) -> None:
    """Tasks go to the pool as soon as they are planned (hashing overlaps the analysis). The
    pool starts at the second task: a re-run that only retries one file starts no process."""
    import itertools
    import multiprocessing
    import queue
    from concurrent.futures import Future, ProcessPoolExecutor

    it = iter(items)
    first_two: list[Task] = []
    for item in it:
        if isinstance(item, Task):
            first_two.append(item)
            if len(first_two) == 2:
                break
        else:
            done(item)
    if len(first_two) < 2:
        for task in first_two:
            done(run_task(task))
        return

    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    pending: dict[Future, Task] = {}

    def collect(block: bool) -> None:
        while pending and (block or not finished.empty()):
            fut = finished.get()
            task = pending.pop(fut)
            # run_task records every failure itself; an exception here means the worker
            # process died (BrokenProcessPool: killed, out of memory, crashed).
            try:
                outcome = fut.result()
            except Exception as e:
                outcome = worker_failure(task, e)
            done(outcome)

    with _one_thread_per_child():
        # spawn, not fork: forking a process that runs threads is unsafe; spawn works everywhere
        ex = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_die_with_parent,
            initargs=(os.getpid(),),
        )
        try:
            for item in itertools.chain(first_two, it):
                if isinstance(item, Task):
                    fut = ex.submit(run_task, item)
                    pending[fut] = item
                    fut.add_done_callback(finished.put)
                    collect(block=False)
                else:
                    done(item)
            collect(block=True)
        except BaseException:
            ex.shutdown(wait=False, cancel_futures=True)
            raise
        ex.shutdown(wait=True)


#: How often a pool process checks that the batch process still runs, s (where the kernel
#: cannot be asked to end it: not Linux).
PARENT_POLL_S = 1.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent_pid: int) -> None:
    """Initializer of every pool process: end it as soon as the batch process dies.

    A batch killed with SIGKILL cannot shut its pool down, and its workers would go on writing
    for as long as their queue lasts. On Linux the kernel is asked to send this process SIGKILL
    when its parent dies (``prctl(PR_SET_PDEATHSIG)``); everywhere, a daemon thread also checks
    every `PARENT_POLL_S` seconds that the parent is still the process that started it. Tables
    a worker was writing stay hidden temporary files, removed by the next run.
    """
    import signal
    import threading

    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread below still works
            pass
    if os.getppid() != parent_pid:  # the parent died before the request above took effect
        os._exit(1)

    def watch() -> None:
        import time

        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="gait-batch-parent-watch", daemon=True).start()


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int) -> Iterator[Callable[[], None]]:
    if not enabled or total == 0:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("sources"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task("batch", total=total)
        yield lambda: bar.advance(task)
