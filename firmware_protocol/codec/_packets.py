"""Sample packets: encode, decode (one, or a batch vectorised), packetise a recording."""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from gait.errors import GaitInputError, Where

from ._constants import (
    _U32,
    HEADER_SIZE,
    MAX_ATTRIBUTE_SIZE,
    MAX_SAMPLES_PER_PACKET,
    OVERHEAD,
    PROTOCOL_VERSION,
    SAMPLE_SIZE,
    Flags,
)
from ._errors import (
    CorruptPacketError,
    OversizedPacketError,
    PacketError,
    TruncatedPacketError,
    VersionError,
    crc16_ccitt_false,
    crc16_ccitt_false_rows,
)


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
