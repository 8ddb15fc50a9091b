"""Live recording over BLE: scan, connect, stream to disk, reconnect, live metrics.

>>> from gait.live import RecordConfig, record          # doctest: +SKIP
>>> result = asyncio.run(record(RecordConfig(out="run.csv", duration_s=1800)))  # doctest: +SKIP

The command line is ``gait devices``, ``gait record``, ``gait sync`` (fetch what a sensor
logged on its own: `Syncer`) and ``gait simulate-device`` (`gait.live.cli`). Recording step by
step, and the settings of each supported sensor: ``docs/recording.md``.
"""

from ._clock import ClockEstimate, DriftFit, SampleIndexer
from ._metrics import LiveMetrics, StartMounting, window_metrics
from ._recorder import LinkStats, LiveView, RecordConfig, Recorder, RecordingError, RecordResult, record
from ._scan import BleBackend, FoundDevice, identify_protocol, scan
from ._sync import ClockCheck, SyncConfig, SyncedSession, Syncer, SyncError, SyncResult, sync

__all__ = [
    "BleBackend",
    "ClockCheck",
    "ClockEstimate",
    "DriftFit",
    "FoundDevice",
    "LinkStats",
    "LiveMetrics",
    "LiveView",
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
