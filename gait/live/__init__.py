"""Live recording over BLE (or from a phone running phyphox): stream to disk, reconnect, live metrics.

>>> from gait.live import RecordConfig, record          # doctest: +SKIP
>>> result = asyncio.run(record(RecordConfig(out="run.csv", duration_s=1800)))  # doctest: +SKIP

The command line is ``gait devices``, ``gait record``, ``gait sync`` (fetch what a sensor
logged on its own: `Syncer`) and ``gait simulate-device`` (`gait.live.cli`). Recording step by
step, and the settings of each supported sensor: ``docs/recording.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._clock import ClockEstimate, DriftFit, SampleIndexer
    from ._metrics import LiveMetrics, StartMounting, window_metrics
    from ._phyphox import PhoneGrid, PhyphoxError, PhyphoxLink
    from ._record_types import LatencyHistogram, LinkStats, LiveView, RecordConfig, RecordingError, RecordResult
    from ._recorder import Recorder, record
    from ._scan import BleBackend, FoundDevice, identify_protocol, scan
    from ._sync import Syncer, sync
    from ._sync_types import ClockCheck, SyncConfig, SyncedSession, SyncError, SyncResult

#: Each public name and the module that defines it (imported on first use: importing the
#: package stays cheap, and only what is used is loaded).
_EXPORTS: dict[str, str] = {
    "BleBackend": "_scan",
    "ClockCheck": "_sync_types",
    "ClockEstimate": "_clock",
    "DriftFit": "_clock",
    "FoundDevice": "_scan",
    "LatencyHistogram": "_record_types",
    "LinkStats": "_record_types",
    "LiveMetrics": "_metrics",
    "LiveView": "_record_types",
    "PhoneGrid": "_phyphox",
    "PhyphoxError": "_phyphox",
    "PhyphoxLink": "_phyphox",
    "RecordConfig": "_record_types",
    "RecordResult": "_record_types",
    "Recorder": "_recorder",
    "RecordingError": "_record_types",
    "SampleIndexer": "_clock",
    "StartMounting": "_metrics",
    "SyncConfig": "_sync_types",
    "SyncError": "_sync_types",
    "SyncResult": "_sync_types",
    "SyncedSession": "_sync_types",
    "Syncer": "_sync",
    "identify_protocol": "_scan",
    "record": "_recorder",
    "scan": "_scan",
    "sync": "_sync",
    "window_metrics": "_metrics",
}

__all__ = [
    "BleBackend",
    "ClockCheck",
    "ClockEstimate",
    "DriftFit",
    "FoundDevice",
    "LatencyHistogram",
    "LinkStats",
    "LiveMetrics",
    "LiveView",
    "PhoneGrid",
    "PhyphoxError",
    "PhyphoxLink",
    "RecordConfig",
    "RecordResult",
    "Recorder",
    "RecordingError",
    "SampleIndexer",
    "StartMounting",
    "SyncConfig",
    "SyncError",
    "SyncResult",
    "SyncedSession",
    "Syncer",
    "identify_protocol",
    "record",
    "scan",
    "sync",
    "window_metrics",
]


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use (then cached); a
    submodule is imported on first use too."""
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
