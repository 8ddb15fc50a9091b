"""What a sensor-log sync is configured with and returns: `SyncConfig`, `ClockCheck`,
`SyncedSession`, `SyncResult`, and `SyncError`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmware_protocol import codec
from firmware_protocol import logbook as lb

from ..errors import DeviceError, GaitInputError, Where
from ._scan import BleBackend

#: Drift measured to within this is used to correct the sample rate (the correction threshold
#: is 100 ppm, as for ``gait record``).
_RELIABLE_DRIFT_PPM = 20.0
_MIN_CORRECTION = 1e-4
_MAX_CORRECTION = 0.05


class SyncError(DeviceError):
    """The sync could not run: no sensor, a sensor that cannot log, Bluetooth unavailable."""


class _LinkLost(Exception):
    """The link dropped, or the sensor stopped answering: reconnect."""


class _Silent(_LinkLost):
    """Connected, but no message for ``reply_timeout_s``."""


@dataclass(frozen=True)
class SyncConfig:
    """Settings of one sync (keyword-only, SI units).

    Attributes
    ----------
    out_dir
        Folder for the session files (created); the partial downloads and the index of what
        was synced live in ``out_dir/.gait-sync/``.
    device, adapter, scan_timeout_s, connect_timeout_s, backend
        As for `gait.live.RecordConfig`.
    erase
        Erase each session on the sensor once its download is verified and written.
    stop_logging
        Stop a session the sensor is still logging (True), or leave it logging and skip it.
    set_clock
        Set the sensor's clock at the end (when no download is left unfinished).
    start_log
        Start a new logged session at the end (after setting rate, ranges and the clock).
    rate_hz, acc_range_g, gyr_range_dps
        Settings for ``start_log`` (``rate_hz=None``: keep the sensor's rate).
    window_bytes
        Bytes asked for by one LOG_READ.
    reply_timeout_s
        A sensor silent this long in the middle of an answer is treated as a lost link.
    give_up_s
        End the sync after this long without any progress (the partial downloads are kept).
    max_attempts
        Requests of the same range that bring nothing before its session is given up.
    download
        False: only list what the sensor holds (nothing fetched, erased or set).
    """

    out_dir: Path
    device: str | None = None
    adapter: str | None = None
    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 15.0
    erase: bool = False
    stop_logging: bool = True
    set_clock: bool = True
    start_log: bool = False
    rate_hz: int | None = None
    acc_range_g: int = 16
    gyr_range_dps: int = 2000
    window_bytes: int = 64 * 1024
    reply_timeout_s: float = 5.0
    give_up_s: float = 60.0
    max_attempts: int = 5
    download: bool = True
    backend: BleBackend = field(default_factory=BleBackend)

    def __post_init__(self) -> None:
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        for name in ("scan_timeout_s", "connect_timeout_s", "reply_timeout_s", "give_up_s"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and v > 0 and math.isfinite(v)):
                raise GaitInputError(
                    "out of range", expected="a finite number > 0", found=repr(v), where=Where(parameter=name)
                )
        for name, v, low, high in (
            ("window_bytes", self.window_bytes, 1, (1 << 32) - 1),
            ("max_attempts", self.max_attempts, 1, 1000),
            ("acc_range_g", self.acc_range_g, 1, 255),
            ("gyr_range_dps", self.gyr_range_dps, 1, 65535),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
                raise GaitInputError(
                    "out of range",
                    expected=f"a whole number in {low} .. {high}",
                    found=repr(v),
                    where=Where(parameter=name),
                )
        if self.rate_hz is not None and (isinstance(self.rate_hz, bool) or not 0 < self.rate_hz < 65536):
            raise GaitInputError(
                "out of range",
                expected="a whole number in 1 .. 65535",
                found=repr(self.rate_hz),
                where=Where(parameter="rate_hz"),
            )


@dataclass(frozen=True)
class ClockCheck:
    """The sensor's clock against this computer's, at the sync.

    Attributes
    ----------
    is_set
        Whether the sensor's clock had been set since it powered on.
    device_utc_s, host_utc_s
        The sensor's reading, and this computer's clock at the middle of the request.
    round_trip_s
        Duration of the GET_CLOCK request (the reading is known to half of it).
    set_utc_s
        When the clock was last set (as set; 0 when never).
    """

    is_set: bool
    device_utc_s: float
    host_utc_s: float
    round_trip_s: float
    set_utc_s: float

    @property
    def offset_s(self) -> float:
        """Sensor clock minus this computer's (NaN when not set)."""
        return self.device_utc_s - self.host_utc_s if self.is_set else math.nan

    @property
    def since_set_s(self) -> float:
        return self.host_utc_s - self.set_utc_s if self.is_set else math.nan

    @property
    def drift_ppm(self) -> float:
        """How slow the sensor's clock ran since it was set (+ = slow), ppm."""
        dev = self.device_utc_s - self.set_utc_s
        if not self.is_set or dev <= 0:
            return math.nan
        return ((self.host_utc_s - self.set_utc_s) / dev - 1.0) * 1e6

    @property
    def drift_uncertainty_ppm(self) -> float:
        dev = self.device_utc_s - self.set_utc_s
        if not self.is_set or dev <= 0:
            return math.nan
        return 0.5 * self.round_trip_s / dev * 1e6

    @property
    def drift_reliable(self) -> bool:
        """Known well enough to correct a sample rate (uncertainty <= 20 ppm, a crystal's size)."""
        u, d = self.drift_uncertainty_ppm, self.drift_ppm
        return math.isfinite(u) and u <= _RELIABLE_DRIFT_PPM and abs(d) <= _MAX_CORRECTION * 1e6

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if not math.isfinite(v) else v

        return {
            "set": self.is_set,
            "offset_s": num(self.offset_s),
            "since_set_s": num(self.since_set_s),
            "drift_ppm": num(self.drift_ppm),
            "drift_uncertainty_ppm": num(self.drift_uncertainty_ppm),
            "round_trip_s": self.round_trip_s,
        }


@dataclass(frozen=True)
class SyncedSession:
    """What the sync did with one stored session.

    ``status``: ``"written"`` (downloaded, verified, written), ``"already"`` (synced before),
    ``"partial"`` (the download could not finish; the verified bytes are kept for the next
    sync), ``"failed"`` (the data did not verify: never written, never erased), ``"logging"``
    (still being logged, left alone), ``"listed"`` (only listed).
    """

    entry: lb.LogEntry
    status: str
    path: Path | None = None
    message: str = ""
    n_samples: int = 0
    sampling_rate_hz: float = math.nan
    start_time: str | None = None
    start_time_corrected: bool = False
    bytes_downloaded: int = 0
    bytes_verified_before: int = 0
    blocks_corrupt: int = 0
    blocks_missing: int = 0
    bytes_requested: int = 0
    gaps: tuple[tuple[float, float, int, str], ...] = ()
    erased: bool | None = None
    erase_message: str = ""

    @property
    def session_id(self) -> int:
        return self.entry.session_id


@dataclass(frozen=True)
class SyncResult:
    """How a sync ended: the sensor, the clock check, and every session."""

    device: str
    address: str
    sessions: tuple[SyncedSession, ...]
    clock: ClockCheck | None
    reconnects: int
    bytes_downloaded: int
    download_s: float
    logging_stopped: bool = False
    clock_set: bool = False
    logging_started: bool = False
    log_capacity_bytes: int = 0
    log_free_bytes: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        return all(s.status in ("written", "already", "logging", "listed") for s in self.sessions) and not self.message

    @property
    def throughput_bytes_s(self) -> float:
        return self.bytes_downloaded / self.download_s if self.download_s > 0 else math.nan


class _Refused(Exception):
    def __init__(self, opcode: int, status: int) -> None:
        super().__init__(f"the sensor answered command 0x{opcode:02X} with {_status_name(status)}")
        self.opcode = opcode
        self.status = status


def _status_name(status: int) -> str:
    try:
        return codec.Status(status).name
    except ValueError:
        return str(status)
