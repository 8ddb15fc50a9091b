"""gait: running-form analysis from one lower-back IMU.

The public API is small; everything else lives in the stage modules (`gait.io`,
`gait.simulate`, ...), whose own ``__all__`` lists what they offer.

>>> import gait
>>> sim = gait.simulate(duration_s=60, seed=1)
>>> sim.session.sampling_rate_hz
200.0
"""

from ._run import RunResult, run
from .batch_runner import batch
from .errors import GaitDataWarning, GaitError, GaitInputError
from .faults import Finding, evaluate
from .io import load_session, save_session, session_from_arrays
from .pipeline import Analysis, analyze
from .readers import read_session, read_sessions
from .session import Session, SessionMetadata
from .simulator import SimulationConfig, simulate

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
    "load_session",
    "read_session",
    "read_sessions",
    "run",
    "save_session",
    "session_from_arrays",
    "simulate",
]

__version__ = "0.1.0"
