"""Running the tasks on a ``dask.distributed`` cluster."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from typing import Any

from ..errors import GaitInputError, Where
from ._pool import Done, Item, worker_failure
from ._task import (
    Task,
    run_task,
)

#: Seconds to wait for a Dask scheduler before giving up.
DASK_CONNECT_TIMEOUT_S = 10.0


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator[Any]:
    """A client of the scheduler at ``scheduler`` (closed afterwards); not the default client."""
    try:
        from distributed import Client
    except ImportError:
        raise GaitInputError(
            "Dask is not installed",
            expected="dask[distributed] (pip install 'gait-lumbar[dask]')",
            found="no module 'distributed'",
            where=Where(parameter="scheduler"),
        ) from None
    try:
        client = Client(scheduler, timeout=DASK_CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as e:
        raise GaitInputError(
            "cannot connect to the Dask scheduler",
            expected=f"a running scheduler at {scheduler}",
            found=str(e) or type(e).__name__,
            where=Where(parameter="scheduler"),
        ) from None
    try:
        yield client
    finally:
        client.close()


def run_dask(items: Iterable[Item], client: Any, done: Done) -> None:
    """As `run_pool`, on the cluster: each task is submitted as soon as it is planned."""
    from distributed import as_completed

    ready = as_completed(loop=client.loop)
    pending: dict[str, Task] = {}

    def collect(futures: Iterable[Any]) -> None:
        for fut in futures:
            task = pending.pop(fut.key)
            # As with the pool: a task never raises for its input, so an exception here is the
            # cluster's (KilledWorker, lost connection); it is recorded for that source.
            try:
                outcome = fut.result()
            except Exception as e:
                outcome = worker_failure(task, e)
            done(outcome)
            fut.release()

    try:
        for item in items:
            if not isinstance(item, Task):
                done(item)
                continue
            fut = client.submit(run_task, item, pure=False)
            pending[fut.key] = item
            ready.add(fut)
            if ready.has_ready():
                collect(ready.next_batch(block=False))
        collect(ready)
    except BaseException:
        client.cancel(list(ready.futures))
        raise
