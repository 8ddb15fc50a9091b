"""Live recording over BLE (or from a phone running phyphox): stream to disk, reconnect, live metrics.

>>> from gait.live import RecordConfig, record          # doctest: +SKIP
>>> result = asyncio.run(record(RecordConfig(out="run.csv", duration_s=1800)))  # doctest: +SKIP

The command line is ``gait devices``, ``gait record``, ``gait sync`` (fetch what a sensor
logged on its own: `Syncer`) and ``gait simulate-device`` (`gait.live.cli`). Recording step by
step, and the settings of each supported sensor: ``docs/recording.md``.
"""

from ._clock import ClockEstimate, DriftFit, SampleIndexer
from ._metrics import LiveMetrics, StartMounting, window_metrics
from ._phyphox import PhoneGrid, PhyphoxError, PhyphoxLink
from ._recorder import (
    LatencyHistogram,
    LinkStats,
    LiveView,
    RecordConfig,
    Recorder,
    RecordingError,
    RecordResult,
    record,
)
from ._scan import BleBackend, FoundDevice, identify_protocol, scan
from ._sync import ClockCheck, SyncConfig, SyncedSession, Syncer, SyncError, SyncResult, sync

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
