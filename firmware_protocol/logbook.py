"""On-sensor logging of the lumbar IMU protocol: the Log characteristic's messages, session data.

The wire format is specified in ``firmware_protocol/PROTOCOL.md`` section 7; this module is
its Python reference implementation (``firmware/xiao_nrf52840_sense/src/lumbar_imu_protocol.h`` the C one; the test suite
checks both against ``vectors/vectors.json``). A device that announces `codec.Feature.LOG`
in its configuration logs sessions to its own flash memory (LOG_START, LOG_STOP) and serves
them afterwards: LOG_LIST, LOG_READ (offset-based, so a broken download resumes where it
stopped), LOG_ERASE (only with the digest of the data the host verified), SET_CLOCK and
GET_CLOCK. Its answers are notifications of the Log characteristic (`codec.LOG_UUID`), each
one message::

    kind   message      bytes       content
    0x01   LIST_ENTRY   54          one stored session (`LogEntry`)
    0x02   LIST_END     14          sessions listed, store capacity and free bytes (`LogListEnd`)
    0x03   BLOCK        14 + data   bytes of a session at an offset, numbered (`LogBlock`)
    0x04   READ_END     16          the range a LOG_READ answered (`LogReadEnd`)
    0x05   CLOCK        26          the device's clock and when it was last set (`LogClock`)

Every message starts with its kind and ends with a CRC-16/CCITT-FALSE of the bytes before it
(the same CRC as the data packets). A session's data is the concatenation of *records*, each
a version-1 data packet (PROTOCOL.md section 2: sequence 0, 1, 2 ..., the first flagged
stream start, device overflows flagged); its digest is the CRC-32 (ISO-HDLC, as
``zlib.crc32``) of all of it.

Public API
----------
Messages
    `LogEntry`, `LogListEnd`, `LogBlock`, `LogReadEnd`, `LogClock`, `encode_message`,
    `decode_message`, `MessageKind`, `EntryFlags`, `ClockFlags`, `block_payload_size`.
Session data
    `crc32`, `parse_session_data` (records to raw samples on the device's sampling grid,
    vectorised: a `LoggedRun`), `RangeSet` (which bytes of a download are verified).
Errors
    `LogMessageError` (a `codec.ProtocolError`, ``reason`` ``"truncated"``, ``"oversized"``,
    ``"corrupt"`` or ``"kind"``), `LogDataError` (session data that are not valid records).

The messages are defined here; the session data and the download's verified ranges in
``_logbook_data.py`` (importable from here).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Final

import numpy as np

from gait.errors import Where

from ._logbook_data import LogDataError, LoggedRun, RangeSet, crc32, parse_session_data
from .codec import (
    LOG_UUID,
    MAX_ATTRIBUTE_SIZE,
    MAX_SAMPLES_PER_PACKET,
    DeviceConfig,
    ProtocolError,
    crc16_ccitt_false,
)

__all__ = [
    "BLOCK_OVERHEAD",
    "CLOCK_SIZE",
    "ENTRY_SIZE",
    "LIST_END_SIZE",
    "LOG_UUID",
    "MIN_ATT_MTU",
    "READ_END_SIZE",
    "RECORD_FORMAT_PACKETS",
    "RECORD_SAMPLES",
    "ClockFlags",
    "EntryFlags",
    "LogBlock",
    "LogClock",
    "LogDataError",
    "LogEntry",
    "LogListEnd",
    "LogMessage",
    "LogMessageError",
    "LogReadEnd",
    "LoggedRun",
    "MessageKind",
    "RangeSet",
    "block_payload_size",
    "crc32",
    "decode_message",
    "encode_message",
    "parse_session_data",
]

#: Bytes of each message (a block: its payload plus this overhead).
ENTRY_SIZE: Final = 54
LIST_END_SIZE: Final = 14
BLOCK_OVERHEAD: Final = 14
READ_END_SIZE: Final = 16
CLOCK_SIZE: Final = 26
#: Smallest ATT MTU at which a device answers LOG_LIST and LOG_READ (a list entry needs 57).
MIN_ATT_MTU: Final = 64
#: ``format`` of a list entry whose records are version-1 data packets (the only one so far).
RECORD_FORMAT_PACKETS: Final = 1
#: Samples per record the reference firmware and the virtual sensor write (the last record of
#: a session may hold fewer): 41, the most a packet holds, for 2.2 % overhead.
RECORD_SAMPLES: Final = MAX_SAMPLES_PER_PACKET

_U32 = 1 << 32


class MessageKind(enum.IntEnum):
    """Byte 0 of every Log notification."""

    LIST_ENTRY = 0x01
    LIST_END = 0x02
    BLOCK = 0x03
    READ_END = 0x04
    CLOCK = 0x05


class EntryFlags(enum.IntFlag):
    """Bits of a list entry's ``flags``.

    ``ACTIVE``: being logged now (its size and digest still grow). ``CLOCK_SET``: the device's
    clock had been set when the session started, so ``start_utc_us`` is meaningful.
    ``OVERFLOW``: the device lost samples while logging (records flagged `Flags.OVERFLOW`).
    ``FULL``: logging ended because the store was full. ``RECOVERED``: the device lost power
    while logging; the session was closed at the last complete record when it came back.
    """

    NONE = 0
    ACTIVE = 0x01
    CLOCK_SET = 0x02
    OVERFLOW = 0x04
    FULL = 0x08
    RECOVERED = 0x10


class ClockFlags(enum.IntFlag):
    """Bits of a clock message's ``flags``: ``SET``, the clock was set since the device powered on."""

    NONE = 0
    SET = 0x01


class LogMessageError(ProtocolError):
    """A Log notification that cannot be decoded (never mis-decoded)."""

    default_reason = "corrupt"


def block_payload_size(att_mtu: int) -> int:
    """Data bytes per BLOCK at ATT MTU ``att_mtu`` (0 below `MIN_ATT_MTU`)."""
    if att_mtu < MIN_ATT_MTU:
        return 0
    return min(att_mtu - 3, MAX_ATTRIBUTE_SIZE) - BLOCK_OVERHEAD


def _u(value: object, name: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < (1 << bits):
        raise LogMessageError(
            "out of range",
            expected=f"an integer in 0 .. {(1 << bits) - 1} (u{bits})",
            found=repr(value),
            where=Where(parameter=name),
            reason="value",
        )
    return int(value)


# ---------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------
_ENTRY = struct.Struct("<BBHIQQIIIIIHBBI")  # 52 bytes + CRC
_LIST_END = struct.Struct("<BBHII")  # 12 + CRC
_BLOCK_HEAD = struct.Struct("<BBHIHH")  # 12 + payload + CRC
_READ_END = struct.Struct("<BBHIIH")  # 14 + CRC
_CLOCK = struct.Struct("<BB6xQQ")  # 24 + CRC


@dataclass(frozen=True)
class LogEntry:
    """One stored session, as LOG_LIST announces it (54 bytes).

    Attributes
    ----------
    session_id
        The device's number for it (1 .. 65535; never reused while the session is stored).
    flags
        `EntryFlags`.
    size_bytes
        Bytes of its data (the records).
    start_utc_us
        Device clock at the first sample, microseconds since 1970-01-01 UTC (0 when the clock
        was not set: `EntryFlags.CLOCK_SET` clear).
    clock_set_utc_us
        The value of the last SET_CLOCK before the session started: the host measures the
        clock's drift since then (`LogClock`) to correct ``start_utc_us``.
    n_samples
        Samples logged.
    duration_ms
        From the first sample to one period after the last, device clock.
    rate_mhz, acc_range_g, gyr_range_dps, acc_scale_ng_per_lsb, gyr_scale_udps_per_lsb
        The settings it was logged with (as in the configuration).
    format
        Record format (`RECORD_FORMAT_PACKETS`).
    digest
        CRC-32 of its data.
    """

    session_id: int
    size_bytes: int
    start_utc_us: int
    n_samples: int
    duration_ms: int
    rate_mhz: int
    acc_range_g: int
    gyr_range_dps: int
    acc_scale_ng_per_lsb: int
    gyr_scale_udps_per_lsb: int
    digest: int
    flags: int = EntryFlags.NONE
    clock_set_utc_us: int = 0
    format: int = RECORD_FORMAT_PACKETS

    @property
    def active(self) -> bool:
        return bool(self.flags & EntryFlags.ACTIVE)

    @property
    def clock_set(self) -> bool:
        return bool(self.flags & EntryFlags.CLOCK_SET)

    @property
    def rate_hz(self) -> float:
        return self.rate_mhz / 1000.0

    @property
    def duration_s(self) -> float:
        return self.duration_ms / 1000.0

    def config(self) -> DeviceConfig:
        """The settings as a `codec.DeviceConfig` (scale factors to convert its samples)."""
        return DeviceConfig(
            rate_mhz=self.rate_mhz,
            acc_range_g=self.acc_range_g,
            gyr_range_dps=self.gyr_range_dps,
            acc_scale_ng_per_lsb=self.acc_scale_ng_per_lsb,
            gyr_scale_udps_per_lsb=self.gyr_scale_udps_per_lsb,
            samples_per_packet=RECORD_SAMPLES,
        )


@dataclass(frozen=True)
class LogListEnd:
    """After the list entries: how many were sent, the store's capacity and free bytes."""

    n_sessions: int
    capacity_bytes: int
    free_bytes: int


@dataclass(frozen=True)
class LogBlock:
    """Bytes ``offset .. offset + len(payload)`` of a session's data.

    ``seq`` numbers the blocks of one LOG_READ answer 0, 1, 2 ... (wrapping at 65536), so a
    missing or repeated notification is seen at once; ``offset`` says where the bytes go.
    """

    session_id: int
    seq: int
    offset: int
    payload: bytes

    @property
    def end(self) -> int:
        return self.offset + len(self.payload)


@dataclass(frozen=True)
class LogReadEnd:
    """The last message of a LOG_READ answer: it covered ``offset .. end`` in ``blocks`` blocks."""

    session_id: int
    offset: int
    end: int
    blocks: int


@dataclass(frozen=True)
class LogClock:
    """The device's clock (microseconds since 1970-01-01 UTC) when the message was built, and
    the value of the last SET_CLOCK (0: never set since power-on)."""

    now_utc_us: int
    set_utc_us: int
    flags: int = ClockFlags.NONE

    @property
    def is_set(self) -> bool:
        return bool(self.flags & ClockFlags.SET)


LogMessage = LogEntry | LogListEnd | LogBlock | LogReadEnd | LogClock


def _seal(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16_ccitt_false(body))


def encode_message(msg: LogMessage) -> bytes:
    """The notification bytes of a Log message (the inverse of `decode_message`)."""
    if isinstance(msg, LogEntry):
        m = msg
        return _seal(
            _ENTRY.pack(
                MessageKind.LIST_ENTRY,
                _u(m.flags, "flags", 8),
                _u(m.session_id, "session_id", 16),
                _u(m.size_bytes, "size_bytes", 32),
                _u(m.start_utc_us, "start_utc_us", 64),
                _u(m.clock_set_utc_us, "clock_set_utc_us", 64),
                _u(m.n_samples, "n_samples", 32),
                _u(m.duration_ms, "duration_ms", 32),
                _u(m.rate_mhz, "rate_mhz", 32),
                _u(m.acc_scale_ng_per_lsb, "acc_scale_ng_per_lsb", 32),
                _u(m.gyr_scale_udps_per_lsb, "gyr_scale_udps_per_lsb", 32),
                _u(m.gyr_range_dps, "gyr_range_dps", 16),
                _u(m.acc_range_g, "acc_range_g", 8),
                _u(m.format, "format", 8),
                _u(m.digest, "digest", 32),
            )
        )
    if isinstance(msg, LogListEnd):
        return _seal(
            _LIST_END.pack(
                MessageKind.LIST_END,
                0,
                _u(msg.n_sessions, "n_sessions", 16),
                _u(msg.capacity_bytes, "capacity_bytes", 32),
                _u(msg.free_bytes, "free_bytes", 32),
            )
        )
    if isinstance(msg, LogBlock):
        n = len(msg.payload)
        if not 1 <= n <= MAX_ATTRIBUTE_SIZE - BLOCK_OVERHEAD:
            raise LogMessageError(
                "bad block length",
                expected=f"1 .. {MAX_ATTRIBUTE_SIZE - BLOCK_OVERHEAD} payload bytes",
                found=str(n),
                where=Where(parameter="payload"),
                reason="value",
            )
        head = _BLOCK_HEAD.pack(
            MessageKind.BLOCK,
            0,
            _u(msg.session_id, "session_id", 16),
            _u(msg.offset, "offset", 32),
            _u(msg.seq, "seq", 16),
            n,
        )
        return _seal(head + bytes(msg.payload))
    if isinstance(msg, LogReadEnd):
        return _seal(
            _READ_END.pack(
                MessageKind.READ_END,
                0,
                _u(msg.session_id, "session_id", 16),
                _u(msg.offset, "offset", 32),
                _u(msg.end, "end", 32),
                _u(msg.blocks, "blocks", 16),
            )
        )
    if isinstance(msg, LogClock):
        return _seal(
            _CLOCK.pack(
                MessageKind.CLOCK,
                _u(msg.flags, "flags", 8),
                _u(msg.now_utc_us, "now_utc_us", 64),
                _u(msg.set_utc_us, "set_utc_us", 64),
            )
        )
    raise LogMessageError(
        "not a Log message",
        expected="LogEntry, LogListEnd, LogBlock, LogReadEnd or LogClock",
        found=type(msg).__name__,
        where=Where(parameter="msg"),
        reason="value",
    )


_SIZES: Final = {
    MessageKind.LIST_ENTRY: ENTRY_SIZE,
    MessageKind.LIST_END: LIST_END_SIZE,
    MessageKind.READ_END: READ_END_SIZE,
    MessageKind.CLOCK: CLOCK_SIZE,
}


def decode_message(data: bytes | bytearray | memoryview) -> LogMessage:
    """Decode one Log notification.

    Checks, in order: a known kind (else ``reason="kind"``), the length the kind (and a
    block's length field) requires (``"truncated"`` / ``"oversized"``), the CRC
    (``"corrupt"``). Raises `LogMessageError` at the first failure.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise LogMessageError(
            "not bytes", expected="bytes", found=type(data).__name__, where=Where(parameter="data"), reason="value"
        )
    raw = bytes(data)
    where = Where(parameter="log message")
    if not raw:
        raise LogMessageError("empty message", expected="a kind byte", found="0 bytes", where=where, reason="truncated")
    try:
        kind = MessageKind(raw[0])
    except ValueError:
        raise LogMessageError(
            "unknown message kind",
            expected="one of " + ", ".join(f"0x{k:02X} ({k.name})" for k in MessageKind),
            found=f"0x{raw[0]:02X}",
            where=where,
            reason="kind",
        ) from None
    if kind == MessageKind.BLOCK:
        if len(raw) < BLOCK_OVERHEAD + 1:
            raise LogMessageError(
                "truncated block",
                expected=f">= {BLOCK_OVERHEAD + 1} bytes",
                found=f"{len(raw)} bytes",
                where=where,
                reason="truncated",
            )
        want = BLOCK_OVERHEAD + _BLOCK_HEAD.unpack_from(raw)[5]
    else:
        want = _SIZES[kind]
    if len(raw) != want:
        raise LogMessageError(
            f"{'truncated' if len(raw) < want else 'oversized'} {kind.name}",
            expected=f"{want} bytes",
            found=f"{len(raw)} bytes",
            where=where,
            reason="truncated" if len(raw) < want else "oversized",
        )
    crc_found = raw[-2] | (raw[-1] << 8)
    crc_want = crc16_ccitt_false(raw[:-2])
    if crc_found != crc_want:
        raise LogMessageError(
            f"CRC mismatch (corrupt {kind.name})",
            expected=f"CRC 0x{crc_want:04X}",
            found=f"0x{crc_found:04X}",
            where=where,
            reason="corrupt",
        )
    if kind == MessageKind.LIST_ENTRY:
        v = _ENTRY.unpack_from(raw)
        return LogEntry(
            flags=v[1],
            session_id=v[2],
            size_bytes=v[3],
            start_utc_us=v[4],
            clock_set_utc_us=v[5],
            n_samples=v[6],
            duration_ms=v[7],
            rate_mhz=v[8],
            acc_scale_ng_per_lsb=v[9],
            gyr_scale_udps_per_lsb=v[10],
            gyr_range_dps=v[11],
            acc_range_g=v[12],
            format=v[13],
            digest=v[14],
        )
    if kind == MessageKind.LIST_END:
        v = _LIST_END.unpack_from(raw)
        return LogListEnd(n_sessions=v[2], capacity_bytes=v[3], free_bytes=v[4])
    if kind == MessageKind.BLOCK:
        v = _BLOCK_HEAD.unpack_from(raw)
        return LogBlock(session_id=v[2], offset=v[3], seq=v[4], payload=raw[_BLOCK_HEAD.size : -2])
    if kind == MessageKind.READ_END:
        v = _READ_END.unpack_from(raw)
        return LogReadEnd(session_id=v[2], offset=v[3], end=v[4], blocks=v[5])
    v = _CLOCK.unpack_from(raw)
    return LogClock(flags=v[1], now_utc_us=v[2], set_utc_us=v[3])
