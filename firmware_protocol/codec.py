"""Codec of the lumbar IMU protocol, version 1: data packets, configuration and commands.

The wire format is specified in ``firmware_protocol/PROTOCOL.md``; this module is its Python
reference implementation, and ``firmware_protocol/firmware/xiao_nrf52840_sense/src/lumbar_imu_protocol.h`` its C one (the
test suite checks that both produce the same bytes). In short, a data notification is::

    offset  size  field
    0       1     version (1)
    1       1     flags (bit 0 stream start, bit 1 device overflow; others reserved, 0)
    2       2     sequence number, u16, wraps
    4       4     device time of the first sample, microseconds, u32, wraps
    8       1     n: number of samples (1 .. 41)
    9       12 n  samples: int16 acc x, y, z, gyr x, y, z, little-endian
    9+12n   2     CRC-16/CCITT-FALSE of bytes 0 .. 8+12n, little-endian

Everything is little-endian. Raw counts become SI units with the scale factors announced by
the configuration characteristic (`DeviceConfig`).

Public API
----------
Packets
    `encode_packet`, `decode_packet` (one packet), `decode_packets` (many, vectorised with
    NumPy, returns a `PacketBatch`), `packetize` (split sample arrays into packets),
    `samples_per_packet` (capacity for an ATT MTU), `crc16_ccitt_false`.
Configuration
    `DeviceConfig`, `encode_config`, `decode_config`; `Feature` and `LogState` (the
    configuration's extension, 32 bytes, on devices with on-sensor logging).
Commands
    `Command`, `Opcode`, `Status`, `encode_start`, `encode_stop`, `encode_set_rate`,
    `encode_set_range`, `decode_command`; the on-sensor logging commands `encode_log_start`,
    `encode_log_stop`, `encode_log_list`, `encode_log_read`, `encode_log_erase`,
    `encode_set_clock`, `encode_get_clock` (their answers, on the Log characteristic, are in
    `firmware_protocol.logbook`).
Errors
    `ProtocolError` (a `gait.errors.GaitInputError`) with a machine-readable ``reason``;
    `PacketError` and its subclasses `TruncatedPacketError` (``reason="truncated"``),
    `OversizedPacketError` (``"oversized"``), `VersionError` (``"version"``),
    `CorruptPacketError` (``"corrupt"``); `ConfigError`, `CommandError`.

A stream of notifications (sequence gaps, duplicates, reordering, clock) is handled by
`firmware_protocol.stream.StreamDecoder`.

Notes
-----
CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR;
check value ``crc("123456789") == 0x29B1`` (the CRC RevEng catalogue, entry CRC-16/IBM-3740).
It detects every error burst of up to 16 bits, so any single corrupted byte, and all but
2^-16 of other corruptions. Python's ``binascii.crc_hqx(data, 0xFFFF)`` computes the same
function.
"""

from __future__ import annotations

import binascii
import enum
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError, Where

__all__ = [
    "BATTERY_LEVEL_UUID",
    "BATTERY_SERVICE_UUID",
    "CONFIG_EXT_SIZE",
    "CONFIG_SIZE",
    "CONFIG_UUID",
    "CONTROL_UUID",
    "CRC_SIZE",
    "DATA_UUID",
    "DEVICE_INFO_SERVICE_UUID",
    "FIRMWARE_REVISION_UUID",
    "HEADER_SIZE",
    "LOG_UUID",
    "MANUFACTURER_NAME_UUID",
    "MAX_ATTRIBUTE_SIZE",
    "MAX_SAMPLES_PER_PACKET",
    "MODEL_NUMBER_UUID",
    "OVERHEAD",
    "PROTOCOL_VERSION",
    "SAMPLE_SIZE",
    "SERIAL_NUMBER_UUID",
    "SERVICE_UUID",
    "Command",
    "CommandError",
    "ConfigError",
    "CorruptPacketError",
    "DeviceConfig",
    "Feature",
    "Flags",
    "LogState",
    "Opcode",
    "OversizedPacketError",
    "Packet",
    "PacketBatch",
    "PacketError",
    "ProtocolError",
    "State",
    "Status",
    "TruncatedPacketError",
    "VersionError",
    "crc16_ccitt_false",
    "crc16_ccitt_false_rows",
    "decode_command",
    "decode_config",
    "decode_packet",
    "decode_packets",
    "encode_command",
    "encode_config",
    "encode_get_clock",
    "encode_log_erase",
    "encode_log_list",
    "encode_log_read",
    "encode_log_start",
    "encode_log_stop",
    "encode_packet",
    "encode_set_clock",
    "encode_set_range",
    "encode_set_rate",
    "encode_start",
    "encode_stop",
    "packetize",
    "samples_per_packet",
]

# ---------------------------------------------------------------------------------------
# identifiers and sizes
# ---------------------------------------------------------------------------------------
#: The protocol version this codec speaks (byte 0 of every packet and of the configuration).
PROTOCOL_VERSION: Final = 1

_BASE = "-075b-4ff5-90e3-8d9f91d6eb0f"
#: Primary service of the lumbar IMU protocol (advertised).
SERVICE_UUID: Final = "80eb0001" + _BASE
#: Data characteristic: notify; one packet per notification.
DATA_UUID: Final = "80eb0002" + _BASE
#: Control characteristic: write (with response); one command per write.
CONTROL_UUID: Final = "80eb0003" + _BASE
#: Configuration characteristic: read and notify; `DeviceConfig`.
CONFIG_UUID: Final = "80eb0004" + _BASE
#: Log characteristic (devices with `Feature.LOG`): notify; answers to the logging commands
#: (`firmware_protocol.logbook`).
LOG_UUID: Final = "80eb0005" + _BASE

_SIG = "-0000-1000-8000-00805f9b34fb"
#: Bluetooth SIG Battery Service and its Battery Level characteristic (u8 percent).
BATTERY_SERVICE_UUID: Final = "0000180f" + _SIG
BATTERY_LEVEL_UUID: Final = "00002a19" + _SIG
#: Bluetooth SIG Device Information Service and the characteristics the firmware provides.
DEVICE_INFO_SERVICE_UUID: Final = "0000180a" + _SIG
MANUFACTURER_NAME_UUID: Final = "00002a29" + _SIG
MODEL_NUMBER_UUID: Final = "00002a24" + _SIG
SERIAL_NUMBER_UUID: Final = "00002a25" + _SIG
FIRMWARE_REVISION_UUID: Final = "00002a26" + _SIG

#: Bytes before the samples: version, flags, sequence, time, count.
HEADER_SIZE: Final = 9
#: Bytes of the integrity check at the end.
CRC_SIZE: Final = 2
#: Bytes per sample: six int16.
SAMPLE_SIZE: Final = 12
#: Bytes of a packet that are not samples.
OVERHEAD: Final = HEADER_SIZE + CRC_SIZE
#: Largest attribute value ATT allows (Core Specification Vol 3 Part F 3.2.9).
MAX_ATTRIBUTE_SIZE: Final = 512
#: Largest sample count of one packet: (512 - 11) // 12.
MAX_SAMPLES_PER_PACKET: Final = (MAX_ATTRIBUTE_SIZE - OVERHEAD) // SAMPLE_SIZE
#: Bytes of the configuration characteristic in version 1 (later versions may append).
CONFIG_SIZE: Final = 20
#: Bytes of the configuration of a device that announces features (`Feature`): the 20 bytes of
#: version 1 and 12 appended (features, log state, sessions stored, capacity, free bytes).
CONFIG_EXT_SIZE: Final = 32

_U32 = 1 << 32


class Flags(enum.IntFlag):
    """Bits of the packet flags byte.

    ``STREAM_START``: the first packet after a start command; its sequence number is 0.
    ``OVERFLOW``: the device dropped samples before this packet (sensor FIFO or ring-buffer
    overrun); the packet's time stamp still places its first sample correctly.
    """

    NONE = 0
    STREAM_START = 0x01
    OVERFLOW = 0x02


class Opcode(enum.IntEnum):
    """First byte of a command written to the control characteristic."""

    START = 0x01
    STOP = 0x02
    SET_RATE = 0x03
    SET_RANGE = 0x04
    LOG_START = 0x10
    LOG_STOP = 0x11
    LOG_LIST = 0x12
    LOG_READ = 0x13
    LOG_ERASE = 0x14
    SET_CLOCK = 0x15
    GET_CLOCK = 0x16


class Status(enum.IntEnum):
    """Outcome of the last command, reported in the configuration characteristic."""

    OK = 0
    UNKNOWN_OPCODE = 1
    BAD_LENGTH = 2
    BAD_ARGUMENT = 3
    MTU_TOO_SMALL = 4
    SENSOR_ERROR = 5
    BUSY = 6
    STORE_FULL = 7
    NOT_FOUND = 8
    DIGEST_MISMATCH = 9


class State(enum.IntEnum):
    """Device state, reported in the configuration characteristic."""

    IDLE = 0
    STREAMING = 1


class Feature(enum.IntFlag):
    """Bits of the configuration's ``features`` byte (offset 20; absent on plain version-1 devices).

    ``LOG``: on-sensor logging: the commands LOG_START .. GET_CLOCK, the Log characteristic and
    the log fields of the configuration (PROTOCOL.md section 7).
    """

    NONE = 0
    LOG = 0x01


class LogState(enum.IntEnum):
    """On-sensor logging state, reported in the configuration (offset 21)."""

    IDLE = 0
    LOGGING = 1


# ---------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------
class ProtocolError(GaitInputError):
    """Bytes that are not valid under the protocol.

    Parameters
    ----------
    problem, expected, found, where, hint
        As for `gait.errors.GaitInputError`.
    reason
        Machine-readable category (``"truncated"``, ``"oversized"``, ``"version"``,
        ``"corrupt"``, ``"config"``, ``"command"``).
    """

    default_reason = "protocol"

    def __init__(
        self,
        problem: str,
        *,
        expected: str | None = None,
        found: str | None = None,
        where: Where | None = None,
        hint: str | None = None,
        reason: str | None = None,
    ) -> None:
        self.reason = reason or self.default_reason
        super().__init__(problem, expected=expected, found=found, where=where, hint=hint)

    def __reduce__(self):  # keep the subclass and the reason across pickling
        return (
            _rebuild_protocol_error,
            (type(self), self.problem, self.expected, self.found, self.where, self.hint, self.reason),
        )


def _rebuild_protocol_error(cls, problem, expected, found, where, hint, reason):  # pragma: no cover - pickling helper
    return cls(problem, expected=expected, found=found, where=where, hint=hint, reason=reason)


class PacketError(ProtocolError):
    """A data packet that cannot be decoded; never mis-decoded, always one of the subclasses."""

    default_reason = "packet"


class TruncatedPacketError(PacketError):
    """Fewer bytes than the header (or the sample count) requires."""

    default_reason = "truncated"


class OversizedPacketError(PacketError):
    """More bytes than the sample count accounts for, or more than an attribute can hold."""

    default_reason = "oversized"


class VersionError(PacketError):
    """A packet or configuration of a protocol version this codec does not speak."""

    default_reason = "version"


class CorruptPacketError(PacketError):
    """Integrity check failed, or an impossible sample count."""

    default_reason = "corrupt"


class ConfigError(ProtocolError):
    """Bytes of the configuration characteristic that cannot be decoded."""

    default_reason = "config"


class CommandError(ProtocolError):
    """Bytes of a command that cannot be decoded, or a command argument out of range."""

    default_reason = "command"


# ---------------------------------------------------------------------------------------
# CRC-16/CCITT-FALSE
# ---------------------------------------------------------------------------------------
def _crc_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x1021) if c & 0x8000 else (c << 1)
        table[i] = c & 0xFFFF
    return table


_CRC_TABLE = _crc_table()


def crc16_ccitt_false(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/CCITT-FALSE of ``data`` (poly 0x1021, init 0xFFFF, no reflection, no XOR-out)."""
    return binascii.crc_hqx(bytes(data), 0xFFFF)


def crc16_ccitt_false_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT-FALSE of every row of a 2-D ``uint8`` array, vectorised over the rows.

    The loop runs over byte positions (at most a few hundred), each step over all rows at
    once, so thousands of packets cost about as much as one.
    """
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.ndim != 2:
        raise GaitInputError(
            "bad array", expected="a 2-D uint8 array", found=f"shape {rows.shape}", where=Where(parameter="rows")
        )
    crc = np.full(rows.shape[0], 0xFFFF, dtype=np.uint16)
    for j in range(rows.shape[1]):
        idx = (crc >> np.uint16(8)) ^ rows[:, j]
        crc = (crc << np.uint16(8)) ^ _CRC_TABLE[idx & 0xFF]
    return crc


# ---------------------------------------------------------------------------------------
# packets
# ---------------------------------------------------------------------------------------
def samples_per_packet(att_mtu: int) -> int:
    """How many samples fit one notification at ATT MTU ``att_mtu`` (0 when not even one).

    A notification carries ``att_mtu - 3`` bytes (1 opcode + 2 handle bytes of the ATT
    Handle Value Notification); a packet needs 11 bytes plus 12 per sample; an attribute
    holds at most 512 bytes.
    """
    if isinstance(att_mtu, bool) or not isinstance(att_mtu, (int, np.integer)) or att_mtu < 23:
        raise GaitInputError(
            "invalid ATT MTU",
            expected="an integer >= 23 (the smallest ATT MTU of Bluetooth LE)",
            found=repr(att_mtu),
            where=Where(parameter="att_mtu"),
        )
    payload = min(int(att_mtu) - 3, MAX_ATTRIBUTE_SIZE)
    return max(0, (payload - OVERHEAD) // SAMPLE_SIZE)


def _int16_block(values: object, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise GaitInputError(
            "bad sample array", expected="shape (n, 3)", found=f"shape {arr.shape}", where=Where(parameter=name)
        )
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise GaitInputError(
                "not integer counts",
                expected="raw sensor counts (integers)",
                found=f"dtype {arr.dtype} with non-integer values",
                where=Where(parameter=name),
            )
    if arr.size and (arr.min() < -32768 or arr.max() > 32767):
        raise GaitInputError(
            "count out of range",
            expected="int16 counts in -32768 .. 32767",
            found=f"values in {arr.min()} .. {arr.max()}",
            where=Where(parameter=name),
        )
    return arr.astype(np.int16)


def _check_uint(value: object, name: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) < (1 << bits):
        raise GaitInputError(
            "out of range",
            expected=f"an integer in 0 .. {(1 << bits) - 1} (u{bits})",
            found=repr(value),
            where=Where(parameter=name),
        )
    return int(value)


@dataclass(frozen=True, eq=False)
class Packet:
    """One decoded data packet; samples are raw int16 counts.

    Attributes
    ----------
    seq
        Sequence number, 0 .. 65535 (wraps).
    t_us
        Device time of the first sample, microseconds, 0 .. 2^32 - 1 (wraps).
    acc, gyr
        Raw counts, ``int16`` arrays of shape ``(n, 3)`` (x, y, z in the sensor frame).
    flags
        `Flags` bits.
    """

    seq: int
    t_us: int
    acc: np.ndarray
    gyr: np.ndarray
    flags: int = 0

    @property
    def n_samples(self) -> int:
        return int(self.acc.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Packet):
            return NotImplemented
        return (
            self.seq == other.seq
            and self.t_us == other.t_us
            and int(self.flags) == int(other.flags)
            and np.array_equal(self.acc, other.acc)
            and np.array_equal(self.gyr, other.gyr)
        )

    __hash__ = None  # type: ignore[assignment]


def encode_packet(*, seq: int, t_us: int, acc: object, gyr: object, flags: int = 0) -> bytes:
    """Encode one data packet.

    Parameters
    ----------
    seq
        Sequence number, 0 .. 65535.
    t_us
        Device time of the first sample in microseconds, 0 .. 2^32 - 1 (callers wrap it).
    acc, gyr
        Raw int16 counts, shape ``(n, 3)`` each, 1 <= n <= 41.
    flags
        `Flags` bits (reserved bits must be 0).

    Raises
    ------
    GaitInputError
        For a value outside its field.
    """
    seq = _check_uint(seq, "seq", 16)
    t_us = _check_uint(t_us, "t_us", 32)
    flags = _check_uint(int(flags), "flags", 8)
    if flags & ~int(Flags.STREAM_START | Flags.OVERFLOW):
        raise GaitInputError(
            "reserved flag bits set",
            expected="only bits 0 (stream start) and 1 (overflow)",
            found=f"0x{flags:02X}",
            where=Where(parameter="flags"),
        )
    a = _int16_block(acc, "acc")
    g = _int16_block(gyr, "gyr")
    if a.shape != g.shape:
        raise GaitInputError(
            "acc and gyr differ in length",
            expected="the same number of samples",
            found=f"{a.shape[0]} and {g.shape[0]}",
            where=Where(parameter="gyr"),
        )
    n = a.shape[0]
    if not 1 <= n <= MAX_SAMPLES_PER_PACKET:
        raise GaitInputError(
            "bad sample count",
            expected=f"1 .. {MAX_SAMPLES_PER_PACKET} samples per packet",
            found=str(n),
            where=Where(parameter="acc"),
        )
    body = struct.pack("<BBHIB", PROTOCOL_VERSION, flags, seq, t_us, n) + np.hstack([a, g]).astype("<i2").tobytes()
    return body + struct.pack("<H", crc16_ccitt_false(body))


def _packet_where(index: int | None) -> Where:
    return Where(parameter="data" if index is None else f"packets[{index}]")


def _classify(data: bytes, index: int | None = None) -> PacketError | None:
    """The error of one packet, or None when it is valid (the scalar reference path)."""
    where = _packet_where(index)
    size = len(data)
    if size == 0:
        return TruncatedPacketError(
            "empty packet", expected=f"at least {OVERHEAD + SAMPLE_SIZE} bytes", found="0 bytes", where=where
        )
    if data[0] != PROTOCOL_VERSION:
        return VersionError(
            "unsupported protocol version",
            expected=f"version {PROTOCOL_VERSION}",
            found=f"version {data[0]}",
            where=where,
            hint="Update gait-lumbar, or flash firmware that speaks version 1",
        )
    if size < OVERHEAD + SAMPLE_SIZE:
        return TruncatedPacketError(
            "truncated packet",
            expected=f"at least {OVERHEAD + SAMPLE_SIZE} bytes (header, one sample, CRC)",
            found=f"{size} bytes",
            where=where,
        )
    n = data[8]
    if not 1 <= n <= MAX_SAMPLES_PER_PACKET:
        return CorruptPacketError(
            "impossible sample count",
            expected=f"1 .. {MAX_SAMPLES_PER_PACKET} samples",
            found=f"{n} (byte 8)",
            where=where,
        )
    want = OVERHEAD + SAMPLE_SIZE * n
    if size < want:
        return TruncatedPacketError(
            "truncated packet",
            expected=f"{want} bytes ({OVERHEAD} + 12 x {n} samples)",
            found=f"{size} bytes",
            where=where,
        )
    if size > want:
        return OversizedPacketError(
            "oversized packet",
            expected=f"{want} bytes ({OVERHEAD} + 12 x {n} samples)",
            found=f"{size} bytes",
            where=where,
        )
    crc_found = data[-2] | (data[-1] << 8)
    crc_want = crc16_ccitt_false(data[:-2])
    if crc_found != crc_want:
        return CorruptPacketError(
            "CRC mismatch (corrupt packet)",
            expected=f"CRC 0x{crc_want:04X}",
            found=f"0x{crc_found:04X}",
            where=where,
        )
    return None


def _as_bytes(data: object, name: str) -> bytes:
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    raise GaitInputError(
        "not bytes", expected="bytes, bytearray or memoryview", found=type(data).__name__, where=Where(parameter=name)
    )


def decode_packet(data: bytes | bytearray | memoryview) -> Packet:
    """Decode one data packet.

    Raises
    ------
    TruncatedPacketError, OversizedPacketError, VersionError, CorruptPacketError
        For any packet that is not exactly valid (all are `PacketError`, a `GaitInputError`).
    """
    raw = _as_bytes(data, "data")
    err = _classify(raw)
    if err is not None:
        raise err
    _, flags, seq, t_us, n = struct.unpack_from("<BBHIB", raw)
    samples = np.frombuffer(raw, dtype="<i2", count=6 * n, offset=HEADER_SIZE).reshape(n, 6).astype(np.int16)
    return Packet(seq=seq, t_us=t_us, acc=samples[:, :3].copy(), gyr=samples[:, 3:].copy(), flags=flags)


@dataclass(frozen=True, eq=False)
class PacketBatch:
    """Many decoded packets, as arrays (see `decode_packets`).

    Per packet (length m, in input order): ``seq``, ``t_us``, ``flags``, ``count`` (0 for a bad
    packet), ``ok`` (bool), ``reason`` (``""`` when ok, else the error category).
    Per sample (length N = sum of ``count``, in packet order): ``acc``, ``gyr`` (int16,
    ``(N, 3)``), ``packet_index`` (which packet each sample came from) and
    ``sample_index`` (its position in that packet).
    """

    seq: np.ndarray
    t_us: np.ndarray
    flags: np.ndarray
    count: np.ndarray
    ok: np.ndarray
    reason: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray
    packet_index: np.ndarray
    sample_index: np.ndarray
    errors: tuple[PacketError, ...] = field(default=())

    @property
    def n_packets(self) -> int:
        return int(self.seq.size)

    @property
    def n_samples(self) -> int:
        return int(self.acc.shape[0])

    def packet(self, i: int) -> Packet:
        """Packet ``i`` as a `Packet` (only for a packet that decoded)."""
        if not self.ok[i]:
            raise GaitInputError(
                "packet did not decode", expected="a valid packet", found=str(self.reason[i]), where=_packet_where(i)
            )
        m = self.packet_index == i
        return Packet(
            seq=int(self.seq[i]), t_us=int(self.t_us[i]), acc=self.acc[m], gyr=self.gyr[m], flags=int(self.flags[i])
        )


def decode_packets(
    packets: Sequence[bytes | bytearray | memoryview], *, errors: Literal["raise", "mark"] = "raise"
) -> PacketBatch:
    """Decode many data packets at once (vectorised: one NumPy pass per packet length).

    Parameters
    ----------
    packets
        Notification payloads.
    errors
        ``"raise"``: raise the first bad packet's `PacketError`. ``"mark"``: keep going; bad
        packets get ``ok=False``, a ``reason`` and no samples, and their errors are listed in
        ``PacketBatch.errors``.
    """
    if errors not in ("raise", "mark"):
        raise GaitInputError(
            "invalid value", expected="'raise' or 'mark'", found=repr(errors), where=Where(parameter="errors")
        )
    raws = [_as_bytes(p, f"packets[{i}]") for i, p in enumerate(packets)]
    m = len(raws)
    lengths = np.fromiter((len(r) for r in raws), dtype=np.int64, count=m)
    seq = np.zeros(m, dtype=np.uint16)
    t_us = np.zeros(m, dtype=np.uint32)
    flags = np.zeros(m, dtype=np.uint8)
    count = np.zeros(m, dtype=np.int64)
    ok = np.zeros(m, dtype=bool)
    reason = np.full(m, "", dtype=object)
    blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    n_of_len = (lengths - OVERHEAD) // SAMPLE_SIZE
    plausible = (
        (lengths >= OVERHEAD + SAMPLE_SIZE)
        & ((lengths - OVERHEAD) % SAMPLE_SIZE == 0)
        & (n_of_len <= MAX_SAMPLES_PER_PACKET)
    )
    for size in np.unique(lengths[plausible]):
        idx = np.flatnonzero(lengths == size)
        buf = np.frombuffer(b"".join(raws[i] for i in idx), dtype=np.uint8).reshape(idx.size, int(size))
        n = (int(size) - OVERHEAD) // SAMPLE_SIZE
        crc_found = buf[:, -2].astype(np.uint16) | (buf[:, -1].astype(np.uint16) << np.uint16(8))
        good = (buf[:, 0] == PROTOCOL_VERSION) & (buf[:, 8] == n) & (crc16_ccitt_false_rows(buf[:, :-2]) == crc_found)
        gi = idx[good]
        gb = buf[good]
        ok[gi] = True
        flags[gi] = gb[:, 1]
        seq[gi] = gb[:, 2].astype(np.uint16) | (gb[:, 3].astype(np.uint16) << np.uint16(8))
        t_us[gi] = np.ascontiguousarray(gb[:, 4:8]).view("<u4").ravel()
        count[gi] = n
        samples = (
            np.ascontiguousarray(gb[:, HEADER_SIZE : HEADER_SIZE + SAMPLE_SIZE * n]).view("<i2").reshape(gi.size, n, 6)
        )
        blocks[int(size)] = (gi, samples)

    bad_errors: list[PacketError] = []
    for i in np.flatnonzero(~ok):
        err = _classify(raws[i], int(i))
        if err is None:  # pragma: no cover - the vectorised and scalar paths disagree: a bug
            raise RuntimeError(f"packet {i} failed the vectorised checks but passes the scalar ones")
        if errors == "raise":
            raise err
        reason[i] = err.reason
        bad_errors.append(err)

    offsets = np.concatenate([[0], np.cumsum(count)])
    total = int(offsets[-1])
    acc = np.zeros((total, 3), dtype=np.int16)
    gyr = np.zeros((total, 3), dtype=np.int16)
    packet_index = np.repeat(np.arange(m), count)
    sample_index = np.arange(total) - np.repeat(offsets[:-1], count)
    for gi, samples in blocks.values():
        n = samples.shape[1]
        rows = (offsets[gi][:, None] + np.arange(n)[None, :]).ravel()
        flat = samples.reshape(-1, 6)
        acc[rows] = flat[:, :3]
        gyr[rows] = flat[:, 3:]
    return PacketBatch(
        seq=seq,
        t_us=t_us,
        flags=flags,
        count=count,
        ok=ok,
        reason=reason,
        acc=acc,
        gyr=gyr,
        packet_index=packet_index,
        sample_index=sample_index,
        errors=tuple(bad_errors),
    )


def packetize(
    acc: object,
    gyr: object,
    *,
    t0_us: int,
    rate_hz: float,
    samples_per_packet: int,
    seq0: int = 0,
    stream_start: bool = True,
) -> list[bytes]:
    """Split raw sample arrays into consecutive packets, as a device streams them.

    Parameters
    ----------
    acc, gyr
        Raw int16 counts, shape ``(n, 3)`` each.
    t0_us
        Device time of the first sample, microseconds (any non-negative integer; wrapped to
        32 bits in the packets).
    rate_hz
        Sampling rate; packet ``k`` starting at sample ``i`` is stamped
        ``t0_us + round(i * 1e6 / rate_hz)``.
    samples_per_packet
        Samples per packet (the last packet may hold fewer).
    seq0
        Sequence number of the first packet; later ones count up and wrap at 65536.
    stream_start
        Set `Flags.STREAM_START` on the first packet.
    """
    a = _int16_block(acc, "acc")
    g = _int16_block(gyr, "gyr")
    if a.shape != g.shape:
        raise GaitInputError(
            "acc and gyr differ in length",
            expected="the same number of samples",
            found=f"{a.shape[0]} and {g.shape[0]}",
            where=Where(parameter="gyr"),
        )
    k = _check_uint(samples_per_packet, "samples_per_packet", 8)
    if not 1 <= k <= MAX_SAMPLES_PER_PACKET:
        raise GaitInputError(
            "out of range",
            expected=f"1 .. {MAX_SAMPLES_PER_PACKET}",
            found=repr(samples_per_packet),
            where=Where(parameter="samples_per_packet"),
        )
    if isinstance(t0_us, bool) or not isinstance(t0_us, (int, np.integer)) or t0_us < 0:
        raise GaitInputError(
            "out of range", expected="an integer >= 0", found=repr(t0_us), where=Where(parameter="t0_us")
        )
    if not (isinstance(rate_hz, (int, float, np.number)) and math.isfinite(rate_hz) and rate_hz > 0):
        raise GaitInputError(
            "out of range", expected="a finite rate > 0 Hz", found=repr(rate_hz), where=Where(parameter="rate_hz")
        )
    seq0 = _check_uint(seq0, "seq0", 16)
    out = []
    for j, start in enumerate(range(0, a.shape[0], k)):
        t = (int(t0_us) + round(start * 1e6 / float(rate_hz))) % _U32
        fl = Flags.STREAM_START if (stream_start and j == 0) else Flags.NONE
        out.append(
            encode_packet(seq=(seq0 + j) & 0xFFFF, t_us=t, acc=a[start : start + k], gyr=g[start : start + k], flags=fl)
        )
    return out


# ---------------------------------------------------------------------------------------
# configuration characteristic
# ---------------------------------------------------------------------------------------
_CONFIG_STRUCT = struct.Struct("<BBBBIBBHII")  # 20 bytes, every field naturally aligned
_CONFIG_EXT_STRUCT = struct.Struct("<BBHII")  # the 12 bytes appended by devices with features


@dataclass(frozen=True)
class DeviceConfig:
    """Contents of the configuration characteristic (20 bytes in version 1).

    Attributes
    ----------
    rate_mhz
        Output data rate actually running, millihertz (e.g. 416000 for 416 Hz).
    acc_range_g, gyr_range_dps
        Full-scale ranges, +-g and +-deg/s.
    acc_scale_ng_per_lsb
        Accelerometer sensitivity: nano-g per count (LSM6DS3 at +-16 g: 488000).
    gyr_scale_udps_per_lsb
        Gyroscope sensitivity: micro-degrees per second per count (LSM6DS3 at 2000 dps: 70000).
    samples_per_packet
        Samples the device puts in each packet for the negotiated MTU.
    state
        `State` (idle or streaming).
    last_opcode, last_status
        The last command received and its `Status`.
    version
        Protocol version of the device.
    features
        `Feature` bits (0 on a plain version-1 device, whose configuration has 20 bytes).
    log_state
        `LogState` of on-sensor logging.
    log_sessions
        Logged sessions stored on the device (the one being logged included).
    log_capacity_bytes, log_free_bytes
        Bytes of session data the empty store holds, and those still free.
    """

    rate_mhz: int
    acc_range_g: int
    gyr_range_dps: int
    acc_scale_ng_per_lsb: int
    gyr_scale_udps_per_lsb: int
    samples_per_packet: int
    state: int = State.IDLE
    last_opcode: int = 0
    last_status: int = Status.OK
    version: int = PROTOCOL_VERSION
    features: int = Feature.NONE
    log_state: int = LogState.IDLE
    log_sessions: int = 0
    log_capacity_bytes: int = 0
    log_free_bytes: int = 0

    def __post_init__(self) -> None:
        for name, bits in (
            ("features", 8),
            ("log_state", 8),
            ("log_sessions", 16),
            ("log_capacity_bytes", 32),
            ("log_free_bytes", 32),
            ("version", 8),
            ("state", 8),
            ("last_opcode", 8),
            ("last_status", 8),
            ("rate_mhz", 32),
            ("acc_range_g", 8),
            ("samples_per_packet", 8),
            ("gyr_range_dps", 16),
            ("acc_scale_ng_per_lsb", 32),
            ("gyr_scale_udps_per_lsb", 32),
        ):
            _check_uint(getattr(self, name), name, bits)
        for name in ("rate_mhz", "acc_scale_ng_per_lsb", "gyr_scale_udps_per_lsb", "samples_per_packet"):
            if getattr(self, name) == 0:
                raise ConfigError("zero field", expected=f"{name} > 0", found="0", where=Where(parameter=name))

    @property
    def rate_hz(self) -> float:
        return self.rate_mhz / 1000.0

    @property
    def sample_period_s(self) -> float:
        return 1000.0 / self.rate_mhz

    @property
    def acc_scale_mps2_per_lsb(self) -> float:
        return self.acc_scale_ng_per_lsb * 1e-9 * G

    @property
    def gyr_scale_rads_per_lsb(self) -> float:
        return self.gyr_scale_udps_per_lsb * 1e-6 * RAD_PER_DEG

    @property
    def streaming(self) -> bool:
        return self.state == State.STREAMING

    @property
    def can_log(self) -> bool:
        """Whether the device logs on its own (`Feature.LOG`)."""
        return bool(self.features & Feature.LOG)

    @property
    def logging(self) -> bool:
        return self.log_state == LogState.LOGGING

    @property
    def extended(self) -> bool:
        """Whether the configuration carries the 12 appended bytes (any feature or log field set)."""
        return any((self.features, self.log_state, self.log_sessions, self.log_capacity_bytes, self.log_free_bytes))


def encode_config(config: DeviceConfig) -> bytes:
    """The configuration characteristic: 20 bytes, or 32 on a device that announces features."""
    c = config
    base = _CONFIG_STRUCT.pack(
        c.version,
        c.state,
        c.last_opcode,
        c.last_status,
        c.rate_mhz,
        c.acc_range_g,
        c.samples_per_packet,
        c.gyr_range_dps,
        c.acc_scale_ng_per_lsb,
        c.gyr_scale_udps_per_lsb,
    )
    if not c.extended:
        return base
    return base + _CONFIG_EXT_STRUCT.pack(
        c.features, c.log_state, c.log_sessions, c.log_capacity_bytes, c.log_free_bytes
    )


def decode_config(data: bytes | bytearray | memoryview) -> DeviceConfig:
    """Decode the configuration characteristic.

    The first 20 bytes are version 1's; a device that announces features (`Feature`) appends
    12 more (read when present: a configuration of 20 to 31 bytes is a plain version-1 one);
    bytes beyond those are ignored (later additions).

    Raises
    ------
    VersionError
        A device of another protocol version.
    ConfigError
        Fewer than 20 bytes, or a zero rate, scale or packet size.
    """
    raw = _as_bytes(data, "data")
    where = Where(parameter="config")
    if raw and raw[0] != PROTOCOL_VERSION:
        raise VersionError(
            "unsupported protocol version",
            expected=f"version {PROTOCOL_VERSION}",
            found=f"version {raw[0]}",
            where=where,
            hint="Update gait-lumbar, or flash firmware that speaks version 1",
        )
    if len(raw) < CONFIG_SIZE:
        raise ConfigError(
            "truncated configuration", expected=f"at least {CONFIG_SIZE} bytes", found=f"{len(raw)} bytes", where=where
        )
    v = _CONFIG_STRUCT.unpack_from(raw)
    ext = _CONFIG_EXT_STRUCT.unpack_from(raw, CONFIG_SIZE) if len(raw) >= CONFIG_EXT_SIZE else (0, 0, 0, 0, 0)
    try:
        return DeviceConfig(
            features=ext[0],
            log_state=ext[1],
            log_sessions=ext[2],
            log_capacity_bytes=ext[3],
            log_free_bytes=ext[4],
            version=v[0],
            state=v[1],
            last_opcode=v[2],
            last_status=v[3],
            rate_mhz=v[4],
            acc_range_g=v[5],
            samples_per_packet=v[6],
            gyr_range_dps=v[7],
            acc_scale_ng_per_lsb=v[8],
            gyr_scale_udps_per_lsb=v[9],
        )
    except ConfigError as e:
        raise ConfigError(e.problem, expected=e.expected, found=e.found, where=where) from None


# ---------------------------------------------------------------------------------------
# commands (control characteristic)
# ---------------------------------------------------------------------------------------
#: Payload length of each opcode (bytes after the opcode).
_ARG_LEN: Final = {
    Opcode.START: 0,
    Opcode.STOP: 0,
    Opcode.SET_RATE: 2,
    Opcode.SET_RANGE: 3,
    Opcode.LOG_START: 0,
    Opcode.LOG_STOP: 0,
    Opcode.LOG_LIST: 0,
    Opcode.LOG_READ: 10,
    Opcode.LOG_ERASE: 6,
    Opcode.SET_CLOCK: 8,
    Opcode.GET_CLOCK: 0,
}
_NO_ARGUMENT: Final = (
    Opcode.START,
    Opcode.STOP,
    Opcode.LOG_START,
    Opcode.LOG_STOP,
    Opcode.LOG_LIST,
    Opcode.GET_CLOCK,
)


@dataclass(frozen=True)
class Command:
    """A decoded command.

    ``rate_hz`` is set for SET_RATE, the ranges for SET_RANGE; ``session_id``, ``offset`` and
    ``length`` for LOG_READ (``length`` 0: to the end of the session); ``session_id`` and
    ``digest`` for LOG_ERASE; ``utc_us`` (microseconds since 1970-01-01 UTC) for SET_CLOCK.
    """

    opcode: Opcode
    rate_hz: int | None = None
    acc_range_g: int | None = None
    gyr_range_dps: int | None = None
    session_id: int | None = None
    offset: int | None = None
    length: int | None = None
    digest: int | None = None
    utc_us: int | None = None


def encode_start() -> bytes:
    """START: begin streaming (the first packet has `Flags.STREAM_START` and sequence 0)."""
    return bytes([Opcode.START])


def encode_stop() -> bytes:
    """STOP: stop streaming."""
    return bytes([Opcode.STOP])


def encode_set_rate(*, rate_hz: int) -> bytes:
    """SET_RATE: request an output data rate in Hz (u16); the device runs the lowest rate it
    supports at or above it and announces it in the configuration."""
    r = _check_uint(rate_hz, "rate_hz", 16)
    if r == 0:
        raise GaitInputError(
            "out of range", expected="a rate of 1 .. 65535 Hz", found="0", where=Where(parameter="rate_hz")
        )
    return struct.pack("<BH", Opcode.SET_RATE, r)


def encode_set_range(*, acc_range_g: int, gyr_range_dps: int) -> bytes:
    """SET_RANGE: request full-scale ranges (+-g as u8, +-deg/s as u16); the device runs the
    smallest ranges it supports at or above them."""
    a = _check_uint(acc_range_g, "acc_range_g", 8)
    g = _check_uint(gyr_range_dps, "gyr_range_dps", 16)
    for name, v in (("acc_range_g", a), ("gyr_range_dps", g)):
        if v == 0:
            raise GaitInputError("out of range", expected="a range > 0", found="0", where=Where(parameter=name))
    return struct.pack("<BBH", Opcode.SET_RANGE, a, g)


def encode_log_start() -> bytes:
    """LOG_START: start a logged session at the current rate and ranges (PROTOCOL.md section 7)."""
    return bytes([Opcode.LOG_START])


def encode_log_stop() -> bytes:
    """LOG_STOP: end the logged session."""
    return bytes([Opcode.LOG_STOP])


def encode_log_list() -> bytes:
    """LOG_LIST: the device notifies one list entry per stored session, then a list end."""
    return bytes([Opcode.LOG_LIST])


def encode_log_read(*, session_id: int, offset: int, length: int = 0) -> bytes:
    """LOG_READ: the device notifies blocks of the session's data from byte ``offset`` on,
    ``length`` bytes (0: to the end), then a read end."""
    sid = _check_uint(session_id, "session_id", 16)
    off = _check_uint(offset, "offset", 32)
    n = _check_uint(length, "length", 32)
    return struct.pack("<BHII", Opcode.LOG_READ, sid, off, n)


def encode_log_erase(*, session_id: int, digest: int) -> bytes:
    """LOG_ERASE: erase a session; ``digest`` is the CRC-32 the host computed over the data it
    downloaded, and the device erases only when it equals the session's."""
    sid = _check_uint(session_id, "session_id", 16)
    d = _check_uint(digest, "digest", 32)
    return struct.pack("<BHI", Opcode.LOG_ERASE, sid, d)


def encode_set_clock(*, utc_us: int) -> bytes:
    """SET_CLOCK: set the device's clock to ``utc_us`` microseconds since 1970-01-01 UTC."""
    u = _check_uint(utc_us, "utc_us", 64)
    if u == 0:
        raise GaitInputError(
            "out of range", expected="a time after 1970-01-01", found="0", where=Where(parameter="utc_us")
        )
    return struct.pack("<BQ", Opcode.SET_CLOCK, u)


def encode_get_clock() -> bytes:
    """GET_CLOCK: the device notifies its clock (`firmware_protocol.logbook.LogClock`)."""
    return bytes([Opcode.GET_CLOCK])


def encode_command(command: Command) -> bytes:
    """Encode a `Command` (the inverse of `decode_command`)."""
    c = command
    op = Opcode(c.opcode)
    if op in _NO_ARGUMENT:
        return bytes([op])
    if op == Opcode.SET_RATE:
        return encode_set_rate(rate_hz=c.rate_hz)  # type: ignore[arg-type]
    if op == Opcode.SET_RANGE:
        return encode_set_range(acc_range_g=c.acc_range_g, gyr_range_dps=c.gyr_range_dps)  # type: ignore[arg-type]
    if op == Opcode.LOG_READ:
        return encode_log_read(session_id=c.session_id, offset=c.offset, length=c.length)  # type: ignore[arg-type]
    if op == Opcode.LOG_ERASE:
        return encode_log_erase(session_id=c.session_id, digest=c.digest)  # type: ignore[arg-type]
    return encode_set_clock(utc_us=c.utc_us)  # type: ignore[arg-type]


def decode_command(data: bytes | bytearray | memoryview) -> Command:
    """Decode a command written to the control characteristic (what the firmware does).

    Raises
    ------
    CommandError
        Empty, unknown opcode (``reason="unknown_opcode"``), wrong length
        (``"bad_length"``) or a zero argument (``"bad_argument"``): the same cases the
        firmware answers with `Status` codes.
    """
    raw = _as_bytes(data, "data")
    where = Where(parameter="command")
    if not raw:
        raise CommandError(
            "empty command", expected="an opcode byte", found="0 bytes", where=where, reason="bad_length"
        )
    try:
        op = Opcode(raw[0])
    except ValueError:
        raise CommandError(
            "unknown opcode",
            expected="one of " + ", ".join(f"0x{o:02X} ({o.name})" for o in Opcode),
            found=f"0x{raw[0]:02X}",
            where=where,
            reason="unknown_opcode",
        ) from None
    want = 1 + _ARG_LEN[op]
    if len(raw) != want:
        raise CommandError(
            f"bad length for {op.name}",
            expected=f"{want} bytes",
            found=f"{len(raw)} bytes",
            where=where,
            reason="bad_length",
        )
    if op == Opcode.SET_RATE:
        (rate,) = struct.unpack_from("<H", raw, 1)
        if rate == 0:
            raise CommandError("zero rate", expected="1 .. 65535 Hz", found="0", where=where, reason="bad_argument")
        return Command(op, rate_hz=rate)
    if op == Opcode.SET_RANGE:
        a, g = struct.unpack_from("<BH", raw, 1)
        if a == 0 or g == 0:
            raise CommandError(
                "zero range", expected="ranges > 0", found=f"acc {a} g, gyr {g} dps", where=where, reason="bad_argument"
            )
        return Command(op, acc_range_g=a, gyr_range_dps=g)
    if op == Opcode.LOG_READ:
        sid, off, n = struct.unpack_from("<HII", raw, 1)
        return Command(op, session_id=sid, offset=off, length=n)
    if op == Opcode.LOG_ERASE:
        sid, d = struct.unpack_from("<HI", raw, 1)
        return Command(op, session_id=sid, digest=d)
    if op == Opcode.SET_CLOCK:
        (u,) = struct.unpack_from("<Q", raw, 1)
        if u == 0:
            raise CommandError(
                "zero time", expected="a time after 1970-01-01", found="0", where=where, reason="bad_argument"
            )
        return Command(op, utc_us=u)
    return Command(op)
