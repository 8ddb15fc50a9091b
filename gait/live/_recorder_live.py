"""The recorder's live analysis: metrics on every notification, fault cues once a second.

The metrics of every notification come from `window_metrics` without the fault rules (the
analysis skips its per-minute and run summaries), in a worker thread; the fault cues are
evaluated at most every `CUE_INTERVAL_S` by a separate job, by default in a low-priority
process, so that neither the full analysis nor the rules delay a notification's metrics.
The garbage collector's long-lived objects are frozen once warmed up. A failing analysis
never stops the recording: it is logged, shown and kept in the result. The functions act
on a `gait.live.Recorder`.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ._cues import _CueRunner
from ._metrics import LiveMetrics, window_metrics

if TYPE_CHECKING:
    from ._recorder import Recorder

__all__ = ["CUE_INTERVAL_S", "metrics_loop"]

logger = logging.getLogger("gait.live._recorder")

#: Fault cues are re-evaluated at most this often (s); the metrics on every notification.
CUE_INTERVAL_S = 1.0


async def metrics_loop(rec: Recorder, executor: ThreadPoolExecutor, cues: _CueRunner) -> None:
    loop = asyncio.get_running_loop()
    version = -1
    while True:
        ring = rec._ring
        if ring is None or ring.version == version:
            rec._new_data.clear()
            await rec._new_data.wait()
            continue
        t0 = time.monotonic()
        version = ring.version
        t, acc, gyr = ring.snapshot()
        gyr_or_none = gyr if rec._link is None or rec._link.has_gyro else None
        included = np.fromiter(rec._arrivals, dtype=float, count=len(rec._arrivals))
        rec._arrivals.clear()
        early = rec._start_mounting.due() if rec._start_mounting is not None else None
        job = functools.partial(live_job, rec, t, acc, gyr_or_none, early)
        try:
            m, est = await loop.run_in_executor(executor, job)
        except Exception as e:  # the live view must never stop the recording
            # Not hidden: logged with its traceback, shown on the dashboard, kept in the result.
            if rec.metrics_error is None:
                logger.exception("live analysis failed")
            else:
                logger.debug("live analysis failed again: %s", e)
            rec.metrics_error = f"{type(e).__name__}: {e}"
            rec._metrics = LiveMetrics(note=f"live analysis failed ({rec.metrics_error}); recording continues")
            await asyncio.sleep(1.0)
            continue
        if early is not None and rec._start_mounting is not None:
            rec._start_mounting.accept(est)
        done = time.monotonic()
        if not rec._gc_frozen:
            # everything imported and warmed up by now: leave it out of every later
            # collection (a full collection of ~10^5 objects costs tens of milliseconds)
            gc.freeze()
            rec._gc_frozen = True
        rec._metrics = replace(m, cues=rec._cues, faults=rec._faults)
        rec._latency.add(done - included)
        # cues are coaching prompts: re-evaluated at most once a second, by a separate job
        # (the full analysis and the fault rules), never on the path of the metrics
        if (rec._cue_task is None or rec._cue_task.done()) and done - rec._cues_at >= CUE_INTERVAL_S:
            rec._cues_at = done
            rec._cue_task = asyncio.create_task(cue_job(rec, cues, t, acc, gyr_or_none))
        wait = rec.config.metrics_interval_s - (done - t0)
        if wait > 0:
            await asyncio.sleep(wait)


def window_kwargs(rec: Recorder) -> dict[str, Any]:
    assert rec.found is not None
    sm = rec._start_mounting
    return dict(
        sampling_rate_hz=rec._rate_file,
        analyze=rec.config.analyze,
        device=rec._device_name(),
        device_id=rec.found.address,
        start_time=rec._start_wall,
        calibration=rec._calibration,
        mounting=sm.result if sm is not None else None,
        evaluate=rec.config.evaluate,
    )


async def cue_job(rec: Recorder, cues: _CueRunner, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None) -> None:
    try:
        m = await cues.run(t, acc, gyr, window_kwargs(rec))
    except Exception as e:  # never stops the recording; the metrics go on
        logger.info("fault cue evaluation failed: %s", e)
        return
    rec._cues, rec._faults = m.cues, m.faults
    rec._metrics = replace(rec._metrics, cues=m.cues, faults=m.faults)


def live_job(
    rec: Recorder, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None, early: tuple[np.ndarray, np.ndarray] | None
) -> tuple[LiveMetrics, Any]:
    """Runs in the analysis thread: the start mounting when due, then the window (metrics only)."""
    sm = rec._start_mounting
    est = sm.estimate(*early) if (sm is not None and early is not None) else None
    kw = window_kwargs(rec)
    if sm is not None and sm.result is None:
        kw["mounting"] = est
    m = window_metrics(t, acc, gyr, with_cues=False, **kw)
    return m, est
