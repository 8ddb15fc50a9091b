"""Movesense sensors over the GATT sensor-data protocol (``/Meas/IMU6`` or ``/Meas/IMU9``).

Commands (write characteristic): ``[1, ref, path]`` subscribes (``path`` as UTF-8, e.g.
``/Meas/IMU6/208``), ``[2, ref]`` unsubscribes; ``ref`` is a number chosen by the client that
tags the data. Notifications: ``[type, ref, body]`` with type 1 a command response, 2 data,
3 the second part of data too long for one notification. An IMU body is::

    u32  time stamp of the first sample, milliseconds (device clock)
    N x float32 x 3   acceleration, m/s^2
    N x float32 x 3   angular rate, deg/s
    N x float32 x 3   magnetic field, uT (IMU9 only; ignored here)

N follows from the length. Sample ``k`` is at ``time stamp + k / rate``. A part 2 is joined
to the held part 1 it completes (up to two are held; the longest, since the sensor cuts at
its full notification size, and the newest of equal ones), so a cut part 1 does not cost the
good one before it; parts 1 that never get their part 2 are counted
(``"truncated"``) when the next message decodes.

Bad input never reaches the output: samples with a NaN or infinite acceleration or angular
rate are dropped and counted (``stats.nonfinite``; a notification with no finite sample is
refused, reason ``"nonfinite"``), and the time stamps go through
`~firmware_protocol.devices.FrameClock`: a notification whose first sample is not after the
previous notification's last one, or that jumps more than 32 s ahead, is refused (reason
``"time"``; a duplicated notification is refused this way) without moving the time base; four
such notifications that agree with each other start a new time base, the output times
continuing after the last sample emitted.

Notes
-----
Sources: the service and characteristic UUIDs, commands and packet types of Movesense's
``gatt_sensordata_app`` sample (movesense-device-lib, ``samples/gatt_sensordata_app``) and its
Python client, which parses an IMU9 notification as the time stamp at byte 2 followed by the
acceleration, gyroscope and magnetometer arrays, joining a type-3 notification to the type-2
one before it; Movesense's ``/Meas/IMU`` API (time stamp of the first sample, m/s^2, deg/s).
Movesense publishes no byte vectors with expected values, so the decoder is tested by round
trips against `encode_imu`, written from that layout. The sensor must run firmware that
includes the GATT sensor-data service (Movesense's gatt_sensordata_app or a build with it).
"""

from __future__ import annotations

import struct

import numpy as np

from gait.constants import RAD_PER_DEG
from gait.errors import GaitInputError, Where

from ..samples import DecodedSamples
from ._base import MAX_FRAME_JUMP_S, DeviceDecoder, DeviceProfile, FrameClock, FrameError

__all__ = [
    "NOTIFY_UUID",
    "PROFILE",
    "RATES_HZ",
    "SERVICE_UUID",
    "WRITE_UUID",
    "MovesenseDecoder",
    "encode_imu",
    "subscribe",
    "unsubscribe",
]

SERVICE_UUID = "34802252-7185-4d5d-b431-630e7050e8f0"
WRITE_UUID = "34800001-7185-4d5d-b431-630e7050e8f0"
NOTIFY_UUID = "34800002-7185-4d5d-b431-630e7050e8f0"
RATES_HZ = (13, 26, 52, 104, 208, 416, 833, 1666)
TYPE_RESPONSE, TYPE_DATA, TYPE_DATA_PART2 = 1, 2, 3
#: Parts 1 held at once (a part 2 is joined to the newest it completes).
_PART1_HELD = 2
DEFAULT_REF = 99


def subscribe(*, rate_hz: float = 208, ref: int = DEFAULT_REF, channels: str = "IMU6") -> bytes:
    """Subscribe command for ``/Meas/IMU6/<rate>`` (or IMU9)."""
    r = round(float(rate_hz))
    if r not in RATES_HZ:
        raise GaitInputError(
            "unsupported rate",
            expected="one of " + ", ".join(map(str, RATES_HZ)) + " Hz",
            found=repr(rate_hz),
            where=Where(parameter="rate_hz"),
        )
    if channels not in ("IMU6", "IMU9"):
        raise GaitInputError(
            "invalid value", expected="'IMU6' or 'IMU9'", found=repr(channels), where=Where(parameter="channels")
        )
    return bytes([1, ref]) + f"/Meas/{channels}/{r}".encode()


def unsubscribe(*, ref: int = DEFAULT_REF) -> bytes:
    return bytes([2, ref])


def encode_imu(
    timestamp_ms: int,
    acc_mps2: object,
    gyr_dps: object,
    mag_ut: object | None = None,
    *,
    ref: int = DEFAULT_REF,
    mtu_payload: int | None = None,
) -> list[bytes]:
    """IMU data notifications as the sensor sends them (split in two beyond ``mtu_payload``)."""
    arrays = [np.asarray(acc_mps2, "<f4"), np.asarray(gyr_dps, "<f4")] + (
        [] if mag_ut is None else [np.asarray(mag_ut, "<f4")]
    )
    body = struct.pack("<I", timestamp_ms) + b"".join(a.tobytes() for a in arrays)
    first = bytes([TYPE_DATA, ref]) + body
    if mtu_payload is None or len(first) <= mtu_payload:
        return [first]
    cut = mtu_payload
    return [first[:cut], bytes([TYPE_DATA_PART2, ref]) + first[cut:]]


class MovesenseDecoder(DeviceDecoder):
    """Decoder of ``/Meas/IMU6`` and ``/Meas/IMU9`` notifications of one subscription.

    Parameters
    ----------
    rate_hz
        Rate subscribed to.
    channels
        ``"IMU6"`` or ``"IMU9"``.
    ref
        Reference number used when subscribing; other references are ignored.
    """

    profile_key = "movesense"
    has_gyro = True

    def __init__(
        self, *, rate_hz: float = 208.0, channels: str = "IMU6", ref: int = DEFAULT_REF, errors="count"
    ) -> None:
        super().__init__(errors=errors)
        if channels not in ("IMU6", "IMU9"):
            raise GaitInputError(
                "invalid value", expected="'IMU6' or 'IMU9'", found=repr(channels), where=Where(parameter="channels")
            )
        if not (isinstance(rate_hz, (int, float)) and rate_hz > 0):
            raise GaitInputError(
                "out of range", expected="a rate > 0 Hz", found=repr(rate_hz), where=Where(parameter="rate_hz")
            )
        self.rate_hz = float(rate_hz)
        self.arrays = 3 if channels == "IMU9" else 2
        self.ref = ref
        self._part1: list[bytes] = []  # parts 1 waiting for their part 2, oldest first
        self._clock = FrameClock(max_jump=round(MAX_FRAME_JUMP_S * 1000))  # unwrapped ms
        self._wrap_ms = 0
        #: Device time of the last accepted notification's last sample (s), and the offset added to
        #: device times (s) since a resync that went back in time, so the output keeps increasing.
        self._last_end_s: float | None = None
        self._offset_s = 0.0

    def _complete(self, body: bytes) -> bool:
        per_sample = 12 * self.arrays
        return len(body) >= 4 + per_sample and (len(body) - 4) % per_sample == 0

    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        if len(data) < 2:
            raise FrameError(
                "truncated Movesense notification",
                expected="at least 2 bytes",
                found=f"{len(data)} bytes",
                where=Where(parameter="data"),
                reason="truncated",
            )
        kind, ref = data[0], data[1]
        if ref != self.ref or kind == TYPE_RESPONSE:
            return None
        if kind == TYPE_DATA:
            body = data[2:]
            if not self._complete(body):  # part 1: held until its part 2
                self._part1.append(body)
                if len(self._part1) > _PART1_HELD:
                    self._part1.pop(0)
                    self._bad["truncated"] += 1  # a part 1 that never got its part 2
                return None
            out = self._samples_of(body)  # raises before anything changes
            self._drop_parts(used=None)
            return out
        if kind == TYPE_DATA_PART2:
            if not self._part1:
                raise FrameError(
                    "unexpected part 2",
                    expected="a part-1 data notification before it",
                    found="none",
                    where=Where(parameter="data"),
                    reason="orphan",
                )
            # the part 1 it completes: the longest (the sensor cuts a message at its full
            # notification size, so a shorter one was cut short), the newest of equals
            fits = [i for i, p in enumerate(self._part1) if self._complete(p + data[2:])]
            if fits:
                i = max(fits, key=lambda j: (len(self._part1[j]), j))
                out = self._samples_of(self._part1[i] + data[2:])
                self._drop_parts(used=i)
                return out
            raise FrameError(  # the parts 1 stay: their own part 2 may still come
                "bad IMU data length",
                expected=f"4 + a multiple of {12 * self.arrays} bytes",
                found=f"{len(self._part1[-1] + data[2:])} bytes",
                where=Where(parameter="data"),
                reason="length",
            )
        raise FrameError(
            "unknown packet type",
            expected="1, 2 or 3",
            found=str(kind),
            where=Where(parameter="data"),
            reason="type",
        )

    def _drop_parts(self, *, used: int | None) -> None:
        """A message decoded: the other parts 1 held will never be completed (counted)."""
        lost = len(self._part1) - (0 if used is None else 1)
        if lost:
            self._bad["truncated"] += lost
        self._part1 = []

    def _samples_of(self, body: bytes) -> DecodedSamples:
        """Samples of one complete IMU body; the time base moves only if it decodes."""
        (ts_ms,) = struct.unpack_from("<I", body)
        n = (len(body) - 4) // (12 * self.arrays)
        with np.errstate(invalid="ignore"):  # signalling NaN patterns: dropped below
            vals = np.frombuffer(body, dtype="<f4", offset=4).astype(np.float64).reshape(self.arrays, n, 3)
        finite = np.isfinite(vals[0]).all(axis=1) & np.isfinite(vals[1]).all(axis=1)
        if not finite.any():
            self._nonfinite += n
            raise FrameError(
                "no finite sample",
                expected="finite acceleration and angular rate",
                found=f"{n} NaN or infinite samples",
                where=Where(parameter="data"),
                reason="nonfinite",
            )
        u = ts_ms + self._wrap_ms
        last = self._clock.last
        if last is not None and u < last - 2**31:
            u += 2**32  # the millisecond counter wraps after 49.7 days
        if not (self._clock.in_sequence(u) and (self._last_end_s is None or u * 1e-3 > self._last_end_s)):
            if not self._clock.refuse(u):
                raise FrameError(
                    "time stamp out of sequence",
                    expected="a first sample after the previous notification's last, at most "
                    f"{MAX_FRAME_JUMP_S:g} s later",
                    found=f"{u * 1e-3} s after {self._last_end_s} s",
                    where=Where(parameter="data"),
                    reason="time",
                )
            # a new time base (the device clock restarted, or the old one came from a corrupt
            # notification): the output continues after the last sample emitted
            self._resyncs += 1
            u = ts_ms + self._wrap_ms
            if self._last_end_s is not None and u * 1e-3 <= self._last_end_s:
                self._offset_s += self._last_end_s - u * 1e-3 + 1.0 / self.rate_hz
        self._wrap_ms = u - ts_ms
        self._clock.accept(u)
        t_dev = u * 1e-3 + np.arange(n) / self.rate_hz
        self._last_end_s = float(t_dev[-1])
        if not finite.all():
            self._nonfinite += int(n - finite.sum())
        t = t_dev + self._offset_s
        return DecodedSamples(t[finite], vals[0][finite], vals[1][finite] * RAD_PER_DEG)


PROFILE = DeviceProfile(
    key="movesense",
    vendor="Movesense",
    model="Movesense sensor (MD, Flash, HR+) with the GATT sensor-data service",
    name_patterns=(r"^Movesense",),
    service_uuids=(SERVICE_UUID,),
    data_uuid=NOTIFY_UUID,
    control_uuid=WRITE_UUID,
    rates_hz=tuple(float(r) for r in RATES_HZ if 52 <= r <= 416),
    default_rate_hz=208.0,
    has_gyro=True,
    start_commands=lambda *, rate_hz=208.0, **kw: (subscribe(rate_hz=rate_hz, **kw),),
    stop_commands=(unsubscribe(),),
    make_decoder=lambda *, rate_hz=208.0, **kw: MovesenseDecoder(rate_hz=rate_hz, **kw),
    scale="float32: acc m/s^2, gyr deg/s",
    notes="Subscribe /Meas/IMU6/208 (IMU9 adds the magnetometer and needs two notifications per packet).",
)
