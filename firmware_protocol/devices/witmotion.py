"""WitMotion WT901BLE family (BWT901BLECL, WT901BLE5.0, WT9011DCL-BT50): 0x55 0x61 frames.

The sensor streams on its own once connected; each 20-byte frame is ``0x55 0x61`` followed by
nine little-endian int16: acceleration x y z, angular rate x y z, angles roll pitch yaw::

    acc [g]     = v / 32768 * 16
    gyr [deg/s] = v / 32768 * 2000
    angle [deg] = v / 32768 * 180

Frames carry neither a time stamp nor a sequence number, so sample times are the frame count
divided by the return rate the sensor was set to, and lost frames cannot be detected. Other
frames on the same characteristic (``0x55 0x71``: register read replies) are skipped.

The notifications are read as one byte stream, as the vendor's parser does, so a frame may be
split across notifications. One exception: bytes of an incomplete frame left over from
earlier notifications are dropped (counted, reason ``"truncated"``) when a notification
arrives that is whole frames by itself (its length a multiple of 20, a frame header every 20
bytes), as every notification of the sensor is: otherwise a cut frame would take the first
bytes of the next good one and turn both into one wrong sample. Frames carry no checksum, so
a corrupted value inside a frame cannot be detected.

Commands go to the write characteristic as ``0xFF 0xAA register low high``; changing a
register needs unlock (``FF AA 69 88 B5``) before and save (``FF AA 00 00 00``) after. The
return rate is register 0x03: 0x06 = 10 Hz, 0x07 = 20 Hz, 0x08 = 50 Hz, 0x09 = 100 Hz,
0x0B = 200 Hz.

Notes
-----
Sources: WITMOTION/WitBluetooth_BWT901BLE5_0, ``Python/BWT901BLE5.0_python_sdk/
device_model.py`` (UUIDs ffe5 / ffe4 / ffe9, the frame parser and its scale factors, the
unlock and save commands). WitMotion publishes no byte vectors with expected values, so the
decoder is tested by round trips against `encode_frame`, written from that parser, and with
the parser's own arithmetic on the same bytes. The rate codes agree across several public
WitMotion integrations; 200 Hz over BLE 5.0 is the sensor's maximum and may drop frames.
"""

from __future__ import annotations

import numpy as np

from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError, Where

from ..samples import DecodedSamples
from ._base import DeviceDecoder, DeviceProfile, FrameError

__all__ = [
    "ACC_RANGE_G",
    "GYR_RANGE_DPS",
    "NOTIFY_UUID",
    "PROFILE",
    "RATE_CODES",
    "SERVICE_UUID",
    "WRITE_UUID",
    "WitMotionDecoder",
    "encode_frame",
    "rate_commands",
]

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
FRAME_SIZE = 20
HEADER = b"\x55\x61"
ACC_RANGE_G = 16.0
GYR_RANGE_DPS = 2000.0
ANGLE_RANGE_DEG = 180.0
#: Return-rate register values (register 0x03).
RATE_CODES = {10.0: 0x06, 20.0: 0x07, 50.0: 0x08, 100.0: 0x09, 200.0: 0x0B}
UNLOCK = bytes([0xFF, 0xAA, 0x69, 0x88, 0xB5])
SAVE = bytes([0xFF, 0xAA, 0x00, 0x00, 0x00])


def rate_commands(*, rate_hz: float = 100.0) -> tuple[bytes, ...]:
    """Writes that set the return rate: unlock, set register 0x03, save."""
    code = RATE_CODES.get(float(rate_hz))
    if code is None:
        raise GaitInputError(
            "unsupported rate",
            expected="one of " + ", ".join(f"{r:g}" for r in RATE_CODES) + " Hz",
            found=repr(rate_hz),
            where=Where(parameter="rate_hz"),
        )
    return (UNLOCK, bytes([0xFF, 0xAA, 0x03, code, 0x00]), SAVE)


def encode_frame(acc_g: object, gyr_dps: object, angle_deg: object = (0.0, 0.0, 0.0)) -> bytes:
    """One 0x55 0x61 frame from physical values (the inverse of the vendor's parser)."""
    vals = np.concatenate(
        [
            np.asarray(acc_g, float) / ACC_RANGE_G,
            np.asarray(gyr_dps, float) / GYR_RANGE_DPS,
            np.asarray(angle_deg, float) / ANGLE_RANGE_DEG,
        ]
    )
    counts = np.clip(np.round(vals * 32768), -32768, 32767).astype("<i2")
    return HEADER + counts.tobytes()


def _whole_frames(data: bytes) -> bool:
    """Whether ``data`` is one or more complete frames (a header every 20 bytes)."""
    if not data or len(data) % FRAME_SIZE:
        return False
    return all(data[i] == 0x55 and data[i + 1] in (0x61, 0x71) for i in range(0, len(data), FRAME_SIZE))


class WitMotionDecoder(DeviceDecoder):
    """Decoder of 0x55 0x61 frames; a notification may hold several frames or part of one.

    Parameters
    ----------
    rate_hz
        Return rate the sensor was set to (sample times are ``count / rate_hz``).
    """

    profile_key = "witmotion_wt901ble"
    has_gyro = True

    def __init__(self, *, rate_hz: float = 100.0, errors="count") -> None:
        super().__init__(errors=errors)
        if not (isinstance(rate_hz, (int, float)) and rate_hz > 0):
            raise GaitInputError(
                "out of range", expected="a rate > 0 Hz", found=repr(rate_hz), where=Where(parameter="rate_hz")
            )
        self.rate_hz = float(rate_hz)
        self._buf = b""
        self._n = 0

    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        if self._buf and _whole_frames(data):  # what was left is a cut frame: never join it
            self._bad["truncated" if self._buf[:1] == HEADER[:1] else "resync"] += 1
            self._buf = b""
        buf = self._buf + data
        frames = []
        skipped = 0
        i = 0
        while i + 2 <= len(buf):
            if buf[i] == 0x55 and buf[i + 1] in (0x61, 0x71):
                if i + FRAME_SIZE > len(buf):
                    break
                if buf[i + 1] == 0x61:
                    frames.append(buf[i : i + FRAME_SIZE])
                i += FRAME_SIZE
            else:
                i += 1
                skipped += 1
        self._buf = buf[i:]
        if skipped:
            err = FrameError(
                "not a WitMotion frame",
                expected="frames starting 0x55 0x61",
                found=f"{skipped} stray bytes",
                where=Where(parameter="data"),
                reason="resync",
            )
            if not frames or self.errors == "raise":
                raise err
            self._bad[err.reason] += 1  # the frames around the stray bytes are still good
        if not frames:
            return None
        raw = np.frombuffer(b"".join(f[2:] for f in frames), dtype="<i2").reshape(len(frames), 9).astype(np.float64)
        acc = raw[:, 0:3] / 32768.0 * ACC_RANGE_G * G
        gyr = raw[:, 3:6] / 32768.0 * GYR_RANGE_DPS * RAD_PER_DEG
        t = (self._n + np.arange(len(frames))) / self.rate_hz
        self._n += len(frames)
        return DecodedSamples(t, acc, gyr)


PROFILE = DeviceProfile(
    key="witmotion_wt901ble",
    vendor="WitMotion",
    model="WT901BLE family (BWT901BLECL, WT901BLE5.0, WT9011DCL-BT50)",
    name_patterns=(r"^WT9", r"^BWT9", r"^WT901"),
    service_uuids=(SERVICE_UUID,),
    data_uuid=NOTIFY_UUID,
    control_uuid=WRITE_UUID,
    rates_hz=tuple(RATE_CODES),
    default_rate_hz=100.0,
    has_gyro=True,
    start_commands=rate_commands,
    stop_commands=(),
    make_decoder=WitMotionDecoder,
    scale="acc = v/32768*16 g; gyr = v/32768*2000 deg/s (fixed ranges)",
    notes="Streams on connection (default 10 Hz); set 100 Hz once (saved in the sensor). No time stamps or "
    "sequence numbers: sample times are the frame count / rate and lost frames go unnoticed.",
)
