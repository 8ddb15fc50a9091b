"""What a recording is configured with and what it returns: `RecordConfig`, `LinkStats`,
`LiveView`, `LatencyHistogram`, `RecordResult`, and `RecordingError`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DeviceError, GaitInputError, Where
from ._metrics import AnalyzeFn, EvaluateFn, LiveMetrics
from ._scan import BleBackend


class RecordingError(DeviceError):
    """The recording could not start or had to end: no sensor, a sensor that stopped sending,
    a sensor that refuses the settings. The message says what happened and what to try."""


class _SensorSilent(RecordingError):
    """No data for ``give_up_s``."""


@dataclass(frozen=True)
class RecordConfig:
    """Settings of one recording (keyword-only, SI units).

    Attributes
    ----------
    out
        Output file (plain ``.csv``; never overwritten).
    device
        Name (or its beginning) or address of the sensor; ``None``: the strongest supported one.
    duration_s
        Stop after this long (``None``: until Ctrl-C).
    rate_hz, acc_range_g, gyr_range_dps
        Requested sampling rate and full-scale ranges (the sensor picks the nearest it
        supports at or above each). ``rate_hz=None``: the sensor profile's default (416 Hz
        for our protocol's reference firmware, 100 Hz WitMotion, 208 Hz Polar Verity Sense
        and Movesense, 200 Hz Polar H10 and MetaMotion).
    adapter
        Bluetooth adapter (Linux: ``"hci0"``); ``None``: the default one.
    scan_timeout_s, connect_timeout_s
        How long to look for the sensor, and to wait for one connection attempt.
    stall_timeout_s
        A connected sensor silent this long is treated as a lost link.
    give_up_s
        End the recording after this long without any data (link lost or sensor silent).
    flush_interval_s
        The file is fsynced at least this often (<= 1 s).
    window_s
        Length of the live analysis window.
    metrics_interval_s
        Minimum time between two live analyses (0: as soon as new data and the previous
        analysis are done).
    backend
        bleak backend classes (tests); default: the platform's.
    analyze, evaluate
        Live analysis and fault functions (default `gait.analyze` and `gait.faults.evaluate`).
    handle_signals
        Stop cleanly on SIGINT / SIGTERM (the command line does; embedding code may not want it).
    stale_after_s
        Live numbers older than this (no new data) are shown as stale (greyed out, marked).
    cue_worker
        Where the fault cues are evaluated once a second: ``"process"`` (default: a separate
        process at a lower priority, so the full analysis and the fault rules never delay the
        metrics of a notification) or ``"thread"`` (in this process; for tests and small
        machines without room for a second Python process).
    phyphox
        Record from a phone running phyphox with remote access instead of a BLE sensor: the
        address phyphox shows (``http://192.168.1.23:8080``); see `gait.live.PhyphoxLink`.
    phyphox_poll_s
        Time between two polls of the phone (phyphox recommends serial requests).
    """

    out: Path
    device: str | None = None
    duration_s: float | None = None
    rate_hz: int | None = None
    acc_range_g: int = 16
    gyr_range_dps: int = 2000
    adapter: str | None = None
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 15.0
    stall_timeout_s: float = 5.0
    give_up_s: float = 60.0
    flush_interval_s: float = 0.5
    window_s: float = 10.0
    metrics_interval_s: float = 0.0
    backend: BleBackend = field(default_factory=BleBackend)
    analyze: AnalyzeFn | None = None
    evaluate: EvaluateFn | None = None
    handle_signals: bool = False
    stale_after_s: float = 3.0
    cue_worker: str = "process"
    phyphox: str | None = None
    phyphox_poll_s: float = 0.1

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))
        if not self.out.name.lower().endswith(".csv"):
            raise GaitInputError(
                "unsupported output format for a live recording",
                expected="a file name ending in .csv (streamed and fsynced as it arrives)",
                found=repr(self.out.name),
                where=Where(parameter="out"),
                hint="Record to .csv; gait.save_session converts it to .csv.gz or .parquet afterwards",
            )
        if self.cue_worker not in ("process", "thread"):
            raise GaitInputError(
                "invalid value",
                expected="'process' or 'thread'",
                found=repr(self.cue_worker),
                where=Where(parameter="cue_worker"),
            )
        for name in (
            "scan_timeout_s",
            "connect_timeout_s",
            "stall_timeout_s",
            "give_up_s",
            "window_s",
            "stale_after_s",
            "phyphox_poll_s",
        ):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise GaitInputError(
                    "out of range", expected="a finite number > 0", found=repr(v), where=Where(parameter=name)
                )
        if not 0 < self.flush_interval_s <= 1.0:
            raise GaitInputError(
                "out of range",
                expected="0 < flush interval <= 1 s",
                found=repr(self.flush_interval_s),
                where=Where(parameter="flush_interval_s"),
            )
        if not (self.metrics_interval_s >= 0 and math.isfinite(self.metrics_interval_s)):
            raise GaitInputError(
                "out of range",
                expected="a finite number >= 0",
                found=repr(self.metrics_interval_s),
                where=Where(parameter="metrics_interval_s"),
            )
        if self.duration_s is not None and not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise GaitInputError(
                "out of range",
                expected="a duration > 0 s",
                found=repr(self.duration_s),
                where=Where(parameter="duration_s"),
            )
        for name, v in (
            ("rate_hz", self.rate_hz),
            ("acc_range_g", self.acc_range_g),
            ("gyr_range_dps", self.gyr_range_dps),
        ):
            if v is None and name == "rate_hz":
                continue  # the sensor profile's default
            if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < 65536:
                raise GaitInputError(
                    "out of range", expected="a whole number in 1 .. 65535", found=repr(v), where=Where(parameter=name)
                )


@dataclass(frozen=True)
class LinkStats:
    """Link quality so far (a snapshot).

    ``packets_*`` and ``duplicated`` ... come from the stream decoder; ``gaps`` counts holes in
    the recorded samples, ``samples_lost`` the samples in them; ``samples_invalid`` the samples
    that arrived but were dropped because a value was NaN, infinite or beyond what any
    supported sensor measures (they are part of the gaps); ``reconnects`` the links
    re-established after a loss; ``stalls`` the times the sensor went silent while connected.
    """

    packets_ok: int = 0
    packets_lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    late: int = 0
    corrupt: int = 0
    truncated: int = 0
    bad_other: int = 0
    samples_written: int = 0
    samples_lost: int = 0
    samples_invalid: int = 0
    gaps: int = 0
    reconnects: int = 0
    stalls: int = 0
    drift_ppm: float = math.nan
    rssi_dbm: int | None = None

    @property
    def packets_bad(self) -> int:
        return self.corrupt + self.truncated + self.bad_other


@dataclass(frozen=True)
class LiveView:
    """What the dashboard shows, at one moment."""

    status: str
    device: str
    address: str
    elapsed_s: float
    recorded_s: float
    sampling_rate_hz: float
    link: LinkStats
    metrics: LiveMetrics
    out: Path
    message: str = ""
    reference: str = ""
    data_age_s: float = math.inf
    stale: bool = False
    ended: bool = False
    failed: bool = False


class LatencyHistogram:
    """Notification-to-metrics latencies in bounded memory: counts in 0.5 ms bins up to 10 s.

    A 3-hour recording at 22 notifications a second would otherwise keep a quarter of a
    million floats; percentiles from the bins are exact to the bin width.
    """

    BIN_S = 0.0005
    N_BINS = 20_000

    def __init__(self) -> None:
        self.counts = np.zeros(self.N_BINS + 1, dtype=np.int64)  # the last bin holds >= 10 s
        self.max_s = 0.0

    def add(self, latencies_s: np.ndarray) -> None:
        x = np.asarray(latencies_s, dtype=float)
        if x.size == 0:
            return
        idx = np.minimum((np.maximum(x, 0.0) / self.BIN_S).astype(np.int64), self.N_BINS)
        np.add.at(self.counts, idx, 1)
        self.max_s = max(self.max_s, float(x.max()))

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def percentile_s(self, q: float) -> float:
        """The ``q``-th percentile (upper edge of its bin), NaN when empty."""
        n = self.n
        if n == 0:
            return math.nan
        k = int(np.searchsorted(np.cumsum(self.counts), math.ceil(q / 100.0 * n)))
        return min((k + 1) * self.BIN_S, self.max_s)


@dataclass(frozen=True)
class RecordResult:
    """How a recording ended.

    Attributes
    ----------
    path
        The session file.
    sidecar
        The JSON file beside it with device, link statistics, gaps and clock.
    n_samples
        Samples in the file.
    sampling_rate_hz
        Rate declared in the file (drift-corrected when the correction mattered).
    clock_corrected
        Whether the file's times were rescaled to host time at the end.
    drift_ppm
        Device clock against host clock.
    link
        Final `LinkStats`.
    gaps
        ``(start_s, end_s, samples_lost, reason)`` of every gap, in file time.
    stopped_by
        ``"duration"``, ``"interrupt"``, ``"sensor_silent"`` (no data for ``give_up_s``) or
        ``"error"`` (e.g. the sensor refused its settings after a reconnect).
    message
        For an abnormal end, what happened.
    metrics_error
        The last error of the live analysis, if it ever failed (the recording is unaffected).
    latency
        Latency of each notification to the live metrics that include it (benchmarks), as a
        `LatencyHistogram`.
    """

    path: Path
    sidecar: Path
    n_samples: int
    sampling_rate_hz: float
    clock_corrected: bool
    drift_ppm: float
    link: LinkStats
    gaps: tuple[tuple[float, float, int, str], ...]
    stopped_by: str
    message: str = ""
    metrics_error: str | None = None
    latency: LatencyHistogram = field(default_factory=LatencyHistogram, repr=False)
