"""Batch processing: many sessions into tidy, partitioned tables, locally or on a Dask cluster.

``gait.batch`` (`batch`; the package itself can be called as it) and ``gait batch`` read every session of the inputs
(files, globs, folders of any supported format; a dataset folder is one source of several
sessions), analyse each one, evaluate its form faults, and write:

=========================================  =====================================================
``OUT/steps/bucket=NNN/<id>.parquet``      the step table of each session (``docs/tables.md``)
``OUT/minutes/bucket=NNN/<id>.parquet``    the per-minute table of each session
``OUT/sessions.parquet``                   the cohort: one row per session, run summary flattened
``OUT/findings.parquet``                   one row per form fault found (`gait.faults.evaluate`)
``OUT/errors.parquet``                     one row per failure, with the file and the reason
``OUT/manifest.json``                      inputs with content hashes, versions, parameters
=========================================  =====================================================

Every table has a ``session_id`` column that joins them. ``pd.read_parquet(OUT / "steps")``
reads a whole cohort in one call; `read_table` does the same for CSV output and takes filters.
See ``docs/batch.md`` for the layout, the partitioning and the reproducibility rules.

Execution: in this process (``workers=1``), a spawn-safe process pool (``workers=N``), or a
``dask.distributed`` cluster (``scheduler="tcp://host:8786"``); the same task function runs in
all three. Resumable: a source whose completion marker matches its content hash, the
parameters and the code version is not computed again (``force=True`` recomputes). Outputs are
written to a hidden temporary file and renamed, and the marker is written last, so a killed
batch never leaves a result that a re-run would take as done. A bad file never stops a batch:
it becomes a row of the errors table, and `BatchResult.ok` is False. Files of a searched folder
that are no session (a participants table, a zip of something else) are rows of the errors
table too, of kind ``skipped``, which does not make the batch fail.

Per-user stored data are never used implicitly: no calibration store unless
``calibration_dir`` is given, no run history. Results depend on the inputs, the parameters
and the code only.

Modules: `gait.batch._runner` (`batch`), `_discover` (the sources and their content hashes),
`_task` (the per-source task a worker runs), `_layout` (identities and paths), `_rows` (the
cohort tables' rows), `_params` (parameters, versions, completion keys), `_outputs` (the output
folder and its tables), `_pool` (this process, a process pool), `_dask` (a Dask cluster),
`_cli` (``gait batch``). Names are imported on first use, so ``gait --help`` loads none of them.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._outputs import FORMATS, BatchResult, read_table
    from ._params import BatchParameters, code_digest
    from ._runner import batch

__all__ = ["FORMATS", "BatchParameters", "BatchResult", "batch", "code_digest", "read_table"]

#: Each public name and the module that defines it.
_EXPORTS: dict[str, str] = {
    "FORMATS": "_outputs",
    "BatchParameters": "_params",
    "BatchResult": "_outputs",
    "batch": "_runner",
    "code_digest": "_params",
    "read_table": "_outputs",
}


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use (then cached)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _CallablePackage(types.ModuleType):
    """``gait.batch`` is both this package and the function `batch` exported by `gait`:
    once the package is imported, ``gait.batch`` is the package, so calling it runs `batch`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from ._runner import batch

        return batch(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
