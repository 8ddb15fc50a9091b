"""gait: running-form analysis from one lower-back IMU.

The public API is small; everything else lives in the stage modules (`gait.io`,
`gait.simulate`, ...), whose own ``__all__`` lists what they offer.

>>> import gait
>>> sim = gait.simulate(duration_s=60, seed=1)
>>> sim.session.sampling_rate_hz
200.0

The names below are imported on first use (``gait.analyze``, ``from gait import analyze``),
so that ``import gait`` and the command line load only the stages they need.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._run import RunResult, run
    from .batch import batch
    from .core.pipeline import Analysis, analyze
    from .errors import GaitDataWarning, GaitError, GaitInputError
    from .faults import Finding, evaluate
    from .io import load_session as load_session  # deprecated
    from .io import save_session, session_from_arrays
    from .readers import read_session, read_sessions
    from .session import Session, SessionMetadata
    from .simulator import SimulationConfig, simulate

#: Each public name and the module that defines it. (`batch` is the package ``gait.batch``
#: itself, which runs `gait.batch.batch` when called.)
_EXPORTS: dict[str, str] = {
    "Analysis": "core.pipeline",
    "Finding": "faults",
    "GaitDataWarning": "errors",
    "GaitError": "errors",
    "GaitInputError": "errors",
    "Session": "session",
    "SessionMetadata": "session",
    "RunResult": "_run",
    "SimulationConfig": "simulator",
    "analyze": "core.pipeline",
    "evaluate": "faults",
    "load_session": "io",  # deprecated (DeprecationWarning): read_session reads every format
    "read_session": "readers",
    "read_sessions": "readers",
    "run": "_run",
    "save_session": "io",
    "session_from_arrays": "io",
    "simulate": "simulator",
}

__all__ = [
    "Analysis",
    "Finding",
    "RunResult",
    "GaitDataWarning",
    "GaitError",
    "GaitInputError",
    "Session",
    "SessionMetadata",
    "SimulationConfig",
    "analyze",
    "batch",
    "evaluate",
    "read_session",
    "read_sessions",
    "run",
    "save_session",
    "session_from_arrays",
    "simulate",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use (then cached); a
    stage module (``gait.faults``) is imported on first use too, as ``import gait`` used to."""
    module = _EXPORTS.get(name)
    if module is None:
        if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
