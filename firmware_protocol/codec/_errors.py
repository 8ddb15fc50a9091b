"""The protocol's error types and its CRC-16/CCITT-FALSE."""

from __future__ import annotations

import binascii

import numpy as np

from gait.errors import GaitInputError, Where


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
