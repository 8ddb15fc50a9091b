"""The fault cues of a live recording, evaluated away from the metrics path (a worker at lower
priority, at most once a second)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import numpy as np

from ._metrics import LiveMetrics, window_metrics


def _lower_priority() -> None:
    """Initializer of the cue process: below the recorder, so it only uses spare CPU; and it
    ends when the recorder dies (a ``kill -9`` of the recorder must not leave it behind)."""
    with contextlib.suppress(OSError, AttributeError):  # no nice() on Windows
        os.nice(10)
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:  # re-parented: the recorder is gone
                os._exit(0)

    threading.Thread(target=watch, name="gait-cue-parent-watch", daemon=True).start()


def _cue_window(t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, kwargs: dict[str, Any]) -> LiveMetrics:
    """The window with its fault cues (in the cue process or thread)."""
    return window_metrics(t, acc, gyr, with_cues=True, **kwargs)


class _CueRunner:
    """Where fault cues are evaluated: a low-priority process (default) or a thread."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self._pool: Executor | None = None

    def _executor(self) -> Executor:
        if self._pool is None:
            if self.worker == "process":
                ctx = multiprocessing.get_context("spawn")  # never fork a threaded process
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_lower_priority)
            else:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gait-live-cues")
        return self._pool

    async def run(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, kwargs: dict[str, Any]) -> LiveMetrics:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor(), _cue_window, t, acc, gyr, kwargs)

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
