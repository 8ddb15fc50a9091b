"""Commands and their answers: encode and decode."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from gait.errors import GaitInputError, Where

from ._constants import Opcode
from ._errors import CommandError
from ._packets import _as_bytes, _check_uint

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
