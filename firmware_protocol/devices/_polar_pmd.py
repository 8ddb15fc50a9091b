"""The Polar Measurement Data (PMD) wire format: UUIDs, frames, sample times, control point.

Part of `firmware_protocol.devices.polar` (import from there; its docstring describes the
frames, the delta compression and the sample times, with their sources in Polar's SDK).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

import numpy as np

from gait.errors import Where

from ._base import FrameError

SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
CONTROL_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

MEAS_ACC = 2
MEAS_GYRO = 5
MEAS_SDK_MODE = 9
_MEAS_MASK = 0x3F
_COMPRESSED = 0x80

#: PmdSetting types and their field sizes (PmdSetting.kt).
SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_RANGE_MILLIUNIT = 3
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
_FIELD_SIZE = {0: 2, 1: 2, 2: 2, 3: 4, 4: 1, 5: 4}

#: Scale factors accepted (from the constructor or a control-point response). The factors
#: Polar sensors announce lie in 6e-5 (ACC at 2 g) .. 1 (float GYRO): a value outside this
#: range is corruption, not a setting.
FACTOR_RANGE = (1e-6, 10.0)


def _plausible_factor(f: float) -> bool:
    return math.isfinite(f) and FACTOR_RANGE[0] <= f <= FACTOR_RANGE[1]


def _err(problem: str, expected: str, found: str, reason: str) -> FrameError:
    return FrameError(problem, expected=expected, found=found, where=Where(parameter="data"), reason=reason)


# ---------------------------------------------------------------------------------------
# delta frames
# ---------------------------------------------------------------------------------------
def parse_delta_samples(payload: bytes, *, channels: int, resolution_bits: int, signed: bool = True) -> np.ndarray:
    """Decode a delta-compressed payload into integer samples, shape ``(n, channels)``.

    The reference sample is read as little-endian integers of ``ceil(resolution / 8)`` bytes
    (signed when ``signed``), then each block's deltas are accumulated. Returns int64 (for
    float32 bit patterns, callers wrap to 32 bits).

    Raises
    ------
    FrameError
        A payload shorter than the reference sample, a block header or block cut short, or a
        block of bit width 0 or above 32.
    """
    nbytes = (resolution_bits + 7) // 8
    ref_len = channels * nbytes
    if len(payload) < ref_len:
        raise _err("truncated reference sample", f"at least {ref_len} bytes", f"{len(payload)} bytes", "truncated")
    ref = np.array(
        [int.from_bytes(payload[k * nbytes : (k + 1) * nbytes], "little", signed=signed) for k in range(channels)],
        dtype=np.int64,
    )
    blocks = [ref[None, :]]
    off = ref_len
    while off < len(payload):
        if off + 2 > len(payload):
            raise _err(
                "truncated delta block header", "2 bytes (bit width, count)", f"{len(payload) - off} byte", "truncated"
            )
        width, count = payload[off], payload[off + 1]
        off += 2
        if not 1 <= width <= 32:
            raise _err("bad delta bit width", "1 .. 32 bits", f"{width}", "corrupt")
        nbits = width * count * channels
        length = (nbits + 7) // 8
        if off + length > len(payload):
            raise _err("truncated delta block", f"{length} bytes", f"{len(payload) - off} bytes", "truncated")
        bits = np.unpackbits(np.frombuffer(payload[off : off + length], dtype=np.uint8), bitorder="little")[:nbits]
        off += length
        if count == 0:
            continue
        fields = bits.reshape(count * channels, width).astype(np.int64)
        values = fields @ (np.int64(1) << np.arange(width, dtype=np.int64))
        values = np.where(values >= (1 << (width - 1)), values - (1 << width), values)  # two's complement
        blocks.append(values.reshape(count, channels))
    deltas = np.concatenate(blocks)
    return np.cumsum(deltas, axis=0)


def encode_delta_frame(samples: object, *, resolution_bits: int = 16, block: int = 16) -> bytes:
    """Delta-compress integer samples ``(n, channels)`` the way the PMD frames do (for tests)."""
    s = np.asarray(samples, dtype=np.int64)
    nbytes = (resolution_bits + 7) // 8
    out = bytearray()
    for v in s[0]:
        out += int(v).to_bytes(nbytes, "little", signed=True)
    d = np.diff(s, axis=0)
    for start in range(0, d.shape[0], block):
        chunk = d[start : start + block]
        hi, lo = int(chunk.max(initial=0)), int(chunk.min(initial=0))
        width = max(hi.bit_length(), (~lo).bit_length()) + 1  # two's complement bits of the widest delta
        u = (chunk.ravel() & ((1 << width) - 1)).astype(np.int64)
        bits = ((u[:, None] >> np.arange(width)) & 1).astype(np.uint8).ravel()
        out += bytes([width, chunk.shape[0]]) + np.packbits(bits, bitorder="little").tobytes()
    return bytes(out)


def encode_raw_acc_frame(acc_mg: object, *, timestamp_ns: int) -> bytes:
    """A raw ACC frame, type 1 (int16 milli-g), as the H10 sends (for tests)."""
    body = np.asarray(acc_mg, dtype="<i2").tobytes()
    return bytes([MEAS_ACC]) + struct.pack("<Q", timestamp_ns) + bytes([1]) + body


# ---------------------------------------------------------------------------------------
# time stamps
# ---------------------------------------------------------------------------------------
def sample_timestamps_ns(previous_ns: int, frame_ns: int, n: int, rate_hz: float) -> np.ndarray:
    """Sample times of a frame of ``n`` samples, as ``PmdTimeStampUtils.getTimeStamps``.

    With a previous frame (``previous_ns > 0``) the spacing is ``(frame - previous) / n`` and
    the first sample is at ``previous + spacing``; for a stream's first frame the spacing is
    ``1e9 / rate_hz`` back from the frame time. Intermediate times are rounded half to even
    (Kotlin ``round``); the last is the frame time stamp.
    """
    if n <= 0:
        raise _err("empty frame", "at least one sample", "0", "empty")
    if frame_ns >= 1 << 63:
        raise _err("time stamp out of range", "a time stamp below 2^63 ns", f"{frame_ns} ns", "time")
    if previous_ns == 0:
        if not rate_hz > 0:
            raise _err("no time base", "a previous frame or a sampling rate", "neither", "time")
        delta = 1e9 / rate_hz
        start = frame_ns - delta * (n - 1)
    else:
        if frame_ns <= previous_ns:
            raise _err("time stamps go backwards", f"a frame time after {previous_ns} ns", f"{frame_ns} ns", "time")
        delta = (frame_ns - previous_ns) / n
        start = previous_ns + delta
    if start <= 0:
        raise _err("negative sample times", "a frame time >= the frame's duration", f"{frame_ns} ns", "time")
    ts = np.round(start + delta * np.arange(n - 1)).astype(np.int64)
    return np.append(ts, np.int64(frame_ns))


# ---------------------------------------------------------------------------------------
# control point
# ---------------------------------------------------------------------------------------
def start_measurement(
    meas_type: int, *, rate_hz: int, range_: int, resolution_bits: int = 16, channels: int | None = None
) -> bytes:
    """Control-point command that starts a measurement with the given settings."""
    body = bytes([0x02, meas_type])
    body += bytes([SETTING_SAMPLE_RATE, 1]) + struct.pack("<H", rate_hz)
    body += bytes([SETTING_RESOLUTION, 1]) + struct.pack("<H", resolution_bits)
    body += bytes([SETTING_RANGE, 1]) + struct.pack("<H", range_)
    if channels is not None:
        body += bytes([SETTING_CHANNELS, 1, channels])
    return body


def stop_measurement(meas_type: int) -> bytes:
    return bytes([0x03, meas_type])


@dataclass(frozen=True)
class ControlResponse:
    """A control-point response: ``status`` 0 is success; ``settings`` maps a setting type to
    its values (the factor, type 5, as a float)."""

    opcode: int
    measurement_type: int
    status: int
    more: bool
    settings: dict[int, list[float]] = field(default_factory=dict)


def parse_control_response(data: bytes) -> ControlResponse:
    """Parse a control-point response ``F0 opcode type status more parameters...``.

    The parameters of a start response (opcode 2) are settings ``[type, count, values]``,
    encoded as in ``PmdSetting.kt``; those are parsed into ``settings``.
    """
    if len(data) < 5 or data[0] != 0xF0:
        raise _err(
            "not a control-point response", "0xF0 and at least 5 bytes", data[:5].hex(" ") or "0 bytes", "control"
        )
    params = data[5:]
    settings: dict[int, list[float]] = {}
    off = 0
    while data[1] == 0x02 and off + 2 <= len(params):
        kind, count = params[off], params[off + 1]
        off += 2
        size = _FIELD_SIZE.get(kind)
        if size is None or off + size * count > len(params):
            break
        for _ in range(count):
            raw = params[off : off + size]
            value = (
                struct.unpack("<f", raw)[0] if kind == SETTING_FACTOR else int.from_bytes(raw, "little", signed=True)
            )
            settings.setdefault(kind, []).append(value)
            off += size
    return ControlResponse(data[1], data[2] & _MEAS_MASK, data[3], bool(data[4]), settings)
