"""MbientLab MetaWear (MetaMotion) on-board logger: command bytes and the readout decoder.

The MetaWear firmware logs *data signals* into its flash with no central connected: a
**logger** (one of a few dozen) records up to 4 bytes of one signal per entry, so a 3-axis
int16 sample (6 bytes) takes two loggers, whose entries the host pairs again. Everything goes
through the logging module (``0x0B``) of the MetaWear command characteristic
(`firmware_protocol.devices.metawear.COMMAND_UUID`) and its notifications
(``NOTIFY_UUID``)::

    command                    bytes                                   answer / effect
    add a logger               0B 02 module register FF (len-1)<<5|off 0B 02 logger_id
    remove a logger            0B 03 id
    start (overwrite or not)   0B 0B 01|00, then 0B 01 01
    stop                       0B 01 00
    time reference (read)      0B 84                                   0B 84 tick(u32) reset_uid
    entry count (read)         0B 85                                   0B 85 n(u32)
    download                   0B 08 01, 0B 0D 01, 0B 07 01, 0B 85, then 0B 06 n(u32) every(u32)
    readout (notification)     0B 07 entry [entry]                     entry: id|uid<<5, tick(u32), 4 data bytes
    progress (notification)    0B 08 entries_left(u32)
    page done (notification)   0B 0D                                   acknowledge with 0B 0E
    clear entries              0B 09 FF FF FF FF

An entry's tick counts 48/32768 s (1.46 ms); a sample gets the tick of its last logger's
entry (the SDK's time offsets between samples need it: the loggers of one sample may be one
tick apart). `LogReadout` decodes readout notifications into entries and pairs them into samples
(`LogReadout.samples`); `start_commands` and the others build the command bytes.

Notes
-----
Source: mbientlab/MetaWear-SDK-Cpp, ``test/test_logging.py`` (command bytes of start, stop,
clear, logger setup and removal, download; a single unknown entry) and ``test/logdata.py``
(``Bmi160Accelerometer``: a logged accelerometer read out at +-8 g, with the expected values
and the expected time offsets between samples; ``Bmi160GyroYAxis``: one gyroscope axis at
+-250 deg/s with its expected values); ``tests/test_metawear_log.py`` checks this module
against them. Deviations: samples are paired by the order of their loggers' entries, as the
SDK does; the SDK's wall-clock epoch (from the time reference and the host clock at the
download) is left to the caller: this module gives ticks and seconds since tick 0. Not wired
into ``gait sync`` yet (``docs/sensors.md`` says what is left).
"""

from __future__ import annotations

import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Final

import numpy as np

from gait.errors import GaitInputError, Where

__all__ = [
    "MODULE_LOGGING",
    "PAGE_ACK",
    "TICK_S",
    "LogEntry",
    "LogReadout",
    "TimeReference",
    "clear_entries_command",
    "download_commands",
    "logger_setup_command",
    "parse_time_reference",
    "remove_logger_command",
    "start_commands",
    "stop_command",
]

MODULE_LOGGING: Final = 0x0B
#: Seconds per logger tick (48/32768 s = 1.46 ms, the MetaWear SDK's tick step).
TICK_S: Final = 48.0 / 32768.0
#: Acknowledgement of a "page done" notification (``0B 0D``): the board sends the next page.
PAGE_ACK: Final = bytes([MODULE_LOGGING, 0x0E])
_READOUT, _PROGRESS, _PAGE_DONE, _TIME_REF, _LENGTH = 0x07, 0x08, 0x0D, 0x84, 0x85
_ENTRY = struct.Struct("<BI4s")


def _byte(value: object, name: str, high: int = 255) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= high:
        raise GaitInputError(
            "out of range", expected=f"an integer in 0 .. {high}", found=repr(value), where=Where(parameter=name)
        )
    return int(value)


def logger_setup_command(*, module: int, register: int, offset: int = 0, length: int = 4, index: int = 0xFF) -> bytes:
    """Add a logger of ``length`` bytes (1 .. 4) at ``offset`` of a data signal's value."""
    _byte(length - 1, "length", 3)
    return bytes(
        [
            MODULE_LOGGING,
            0x02,
            _byte(module, "module"),
            _byte(register, "register"),
            _byte(index, "index"),
            ((length - 1) << 5) | _byte(offset, "offset", 31),
        ]
    )


def remove_logger_command(logger_id: int) -> bytes:
    return bytes([MODULE_LOGGING, 0x03, _byte(logger_id, "logger_id", 31)])


def start_commands(*, overwrite: bool) -> tuple[bytes, bytes]:
    """Start logging; ``overwrite``: when the memory is full the oldest entries go (else logging stops)."""
    return bytes([MODULE_LOGGING, 0x0B, 1 if overwrite else 0]), bytes([MODULE_LOGGING, 0x01, 0x01])


def stop_command() -> bytes:
    return bytes([MODULE_LOGGING, 0x01, 0x00])


def clear_entries_command() -> bytes:
    """Erase every logged entry (the board's only erase: no per-session erase, no digest)."""
    return bytes([MODULE_LOGGING, 0x09, 0xFF, 0xFF, 0xFF, 0xFF])


def download_commands(*, n_entries: int, n_updates: int) -> tuple[bytes, ...]:
    """The download sequence for ``n_entries`` (from the ``0B 85`` read), with a progress
    notification every ``n_entries // n_updates`` entries (none when ``n_updates`` is 0)."""
    if n_entries < 0 or n_updates < 0:
        raise GaitInputError("out of range", expected="counts >= 0", found=f"{n_entries}, {n_updates}")
    every = n_entries // n_updates if n_updates else 0
    return (
        bytes([MODULE_LOGGING, _PROGRESS, 0x01]),
        bytes([MODULE_LOGGING, _PAGE_DONE, 0x01]),
        bytes([MODULE_LOGGING, _READOUT, 0x01]),
        bytes([MODULE_LOGGING, _LENGTH]),
        bytes([MODULE_LOGGING, 0x06]) + struct.pack("<II", n_entries, every),
    )


@dataclass(frozen=True)
class TimeReference:
    """The answer to the ``0B 84`` read: the board's tick now, and its reset counter."""

    tick: int
    reset_uid: int


def parse_time_reference(data: bytes | bytearray) -> TimeReference:
    raw = bytes(data)
    if len(raw) != 7 or raw[0] != MODULE_LOGGING or raw[1] != _TIME_REF:
        raise GaitInputError(
            "not a time reference", expected="0B 84 and 5 bytes", found=raw.hex(" "), where=Where(parameter="data")
        )
    tick, uid = struct.unpack_from("<IB", raw, 2)
    return TimeReference(tick=tick, reset_uid=uid)


@dataclass(frozen=True)
class LogEntry:
    """One logger entry: which logger, since which reset, when (ticks), 4 data bytes."""

    logger_id: int
    reset_uid: int
    tick: int
    data: bytes


@dataclass
class LogReadout:
    """Decode readout notifications and pair the loggers of one signal into samples.

    Parameters
    ----------
    loggers
        The logger ids of the signal, in the order of their bytes (the accelerometer: the
        logger of x and y, then the one of z).
    sample_bytes
        Bytes of one sample (6 for three int16 axes; 2 for one axis).
    """

    loggers: tuple[int, ...]
    sample_bytes: int
    entries_left: int | None = None
    pages_done: int = 0
    unknown: list[LogEntry] = field(default_factory=list)
    _queues: dict[int, deque[LogEntry]] = field(default_factory=dict, init=False, repr=False)
    _ticks: list[int] = field(default_factory=list, init=False, repr=False)
    _raw: list[bytes] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not self.loggers or not 1 <= self.sample_bytes <= 4 * len(self.loggers):
            raise GaitInputError(
                "bad logger layout",
                expected="1 .. 4 bytes per logger",
                found=f"{self.sample_bytes} bytes over {len(self.loggers)} loggers",
                where=Where(parameter="sample_bytes"),
            )
        self._queues = {i: deque() for i in self.loggers}

    def feed(self, data: bytes | bytearray) -> bytes | None:
        """One notification of the MetaWear notify characteristic. Returns the bytes to write
        back (the page acknowledgement), or None. Notifications of other modules are ignored."""
        raw = bytes(data)
        if len(raw) < 2 or raw[0] != MODULE_LOGGING:
            return None
        reg = raw[1]
        if reg == _PAGE_DONE and len(raw) == 2:
            self.pages_done += 1
            return PAGE_ACK
        if reg == _PROGRESS and len(raw) == 6:
            (self.entries_left,) = struct.unpack_from("<I", raw, 2)
            return None
        if reg != _READOUT:
            return None
        body = raw[2:]
        if len(body) not in (9, 18):
            raise GaitInputError(
                "bad readout notification",
                expected="0B 07 and one or two 9-byte entries",
                found=f"{len(body)} bytes after 0B 07",
                where=Where(parameter="data"),
            )
        for k in range(0, len(body), 9):
            head, tick, payload = _ENTRY.unpack_from(body, k)
            self._take(LogEntry(logger_id=head & 0x1F, reset_uid=head >> 5, tick=tick, data=payload))
        return None

    def _take(self, e: LogEntry) -> None:
        q = self._queues.get(e.logger_id)
        if q is None:
            self.unknown.append(e)
            return
        q.append(e)
        while all(self._queues[i] for i in self.loggers):
            parts = [self._queues[i].popleft() for i in self.loggers]
            self._ticks.append(parts[-1].tick)
            self._raw.append(b"".join(p.data for p in parts)[: self.sample_bytes])

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ticks, counts)``: ``(N,)`` uint32 ticks and ``(N, sample_bytes // 2)`` int16 counts."""
        ticks = np.asarray(self._ticks, dtype=np.uint32)
        counts = np.frombuffer(b"".join(self._raw), dtype="<i2").reshape(len(self._raw), self.sample_bytes // 2)
        return ticks, counts.astype(np.int16)

    @property
    def n_samples(self) -> int:
        return len(self._ticks)
