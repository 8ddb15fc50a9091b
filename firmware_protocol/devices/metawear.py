"""MbientLab MetaMotion (MetaWear): accelerometer and gyroscope data signals.

Every notification is ``[module, register, data...]``. The streams decoded here:

====================  ========  ========  ======  ==========================================
signal                module    register  bytes   samples
====================  ========  ========  ======  ==========================================
acceleration          0x03      0x04      8       1 x (int16 x, y, z)
packed, BMI160        0x03      0x1C      20      3 x (int16 x, y, z)
packed, BMI270        0x03      0x05      20      3 x (int16 x, y, z)
rotation, BMI160      0x13      0x05      8       1 x (int16 x, y, z)
rotation, BMI270      0x13      0x04      8       1
packed rot., BMI160   0x13      0x07      20      3
packed rot., BMI270   0x13      0x05      20      3
====================  ========  ========  ======  ==========================================

(0x13 0x05 is one BMI160 sample in 8 bytes or three BMI270 samples in 20: the length tells.)
Counts are scaled by the configured range: acceleration 16384 / 8192 / 4096 / 2048 LSB per g
at +-2 / 4 / 8 / 16 g; angular rate 262.4 / 131.2 / 65.6 / 32.8 / 16.4 LSB per deg/s at
+-125 / 250 / 500 / 1000 / 2000 deg/s. MetaMotion R and C carry a BMI160; MetaMotion S and RL
a BMI270.

Streamed samples carry no time stamps: the MetaWear SDK stamps them on arrival. Here sample
times are the sample count divided by the configured rate, and accelerometer and gyroscope
are paired sample by sample (both run at the same rate; a lost notification shifts the
pairing, which the rate and the notification counts reveal, but cannot be repaired).

Notes
-----
Sources: mbientlab/MetaWear-SDK-Cpp, ``test/test_accelerometer_bmi160.py``,
``test/test_accelerometer_bmi270.py``, ``test/test_gyro_bmi160.py`` (byte vectors, expected
values and command bytes), ``src/metawear/sensor/cpp/gyro_bosch.cpp`` (``FSR_SCALE``),
``gyro_bosch_register.h`` and ``accelerometer_bosch_register.h`` (register numbers). The
gyroscope of the BMI270 boards has no vendor vector; it is checked by round trip only.
"""

from __future__ import annotations

import numpy as np

from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError, Where

from ..samples import DecodedSamples
from ._base import DeviceDecoder, DeviceProfile, FrameError, IndexPairer

__all__ = [
    "ACC_LSB_PER_G",
    "COMMAND_UUID",
    "GYR_LSB_PER_DPS",
    "NOTIFY_UUID",
    "PROFILE",
    "SERVICE_UUID",
    "MetaWearDecoder",
    "encode_frame",
    "start_commands",
    "stop_commands",
]

SERVICE_UUID = "326a9000-85cb-9195-d9dd-464cfbbae75a"
COMMAND_UUID = "326a9001-85cb-9195-d9dd-464cfbbae75a"
NOTIFY_UUID = "326a9006-85cb-9195-d9dd-464cfbbae75a"

MODULE_ACC = 0x03
MODULE_GYRO = 0x13
ACC_LSB_PER_G = {2: 16384.0, 4: 8192.0, 8: 4096.0, 16: 2048.0}
GYR_LSB_PER_DPS = {125: 262.4, 250: 131.2, 500: 65.6, 1000: 32.8, 2000: 16.4}
#: Register codes of the configuration writes.
_ODR_CODE = {25: 0x06, 50: 0x07, 100: 0x08, 200: 0x09, 400: 0x0A, 800: 0x0B}
_ACC_RANGE_BMI160 = {2: 0x03, 4: 0x05, 8: 0x08, 16: 0x0C}
_ACC_RANGE_BMI270 = {2: 0x00, 4: 0x01, 8: 0x02, 16: 0x03}
_GYR_RANGE = {2000: 0x00, 1000: 0x01, 500: 0x02, 250: 0x03, 125: 0x04}

#: (module, register, length) -> (sensor, samples per notification)
_STREAMS = {
    (MODULE_ACC, 0x04, 8): ("acc", 1),
    (MODULE_ACC, 0x1C, 20): ("acc", 3),
    (MODULE_ACC, 0x05, 20): ("acc", 3),
    (MODULE_GYRO, 0x05, 8): ("gyr", 1),
    (MODULE_GYRO, 0x04, 8): ("gyr", 1),
    (MODULE_GYRO, 0x07, 20): ("gyr", 3),
    (MODULE_GYRO, 0x05, 20): ("gyr", 3),
}
_DATA_REGISTERS = {(m, r) for m, r, _ in _STREAMS}


def _pick(table: dict, value: float, name: str) -> int:
    key = round(float(value))
    if key not in table:
        raise GaitInputError(
            "unsupported value",
            expected="one of " + ", ".join(str(k) for k in table),
            found=repr(value),
            where=Where(parameter=name),
        )
    return key


def encode_frame(module: int, register: int, counts: object) -> bytes:
    """A data notification from int16 counts ``(n, 3)`` (for tests)."""
    return bytes([module, register]) + np.asarray(counts, dtype="<i2").tobytes()


def start_commands(
    *, rate_hz: float = 200, acc_range_g: int = 16, gyr_range_dps: int = 2000, chip: str = "bmi160"
) -> tuple[bytes, ...]:
    """Writes that configure and start packed accelerometer and gyroscope streams.

    ``chip``: ``"bmi160"`` (MetaMotion R, C) or ``"bmi270"`` (MetaMotion S, RL).
    """
    if chip not in ("bmi160", "bmi270"):
        raise GaitInputError(
            "invalid value", expected="'bmi160' or 'bmi270'", found=repr(chip), where=Where(parameter="chip")
        )
    odr = _ODR_CODE[_pick(_ODR_CODE, rate_hz, "rate_hz")]
    a = _pick(ACC_LSB_PER_G, acc_range_g, "acc_range_g")
    g = _GYR_RANGE[_pick(_GYR_RANGE, gyr_range_dps, "gyr_range_dps")]
    if chip == "bmi160":
        acc_cfg = bytes([MODULE_ACC, 0x03, 0x20 | odr, _ACC_RANGE_BMI160[a]])
        acc_packed, gyr_packed = 0x1C, 0x07
    else:
        acc_cfg = bytes([MODULE_ACC, 0x03, 0xA0 | odr, _ACC_RANGE_BMI270[a]])
        acc_packed, gyr_packed = 0x05, 0x05
    return (
        acc_cfg,
        bytes([MODULE_GYRO, 0x03, 0x20 | odr, g]),
        bytes([MODULE_ACC, acc_packed, 0x01]),  # subscribe
        bytes([MODULE_GYRO, gyr_packed, 0x01]),
        bytes([MODULE_ACC, 0x02, 0x01, 0x00]),  # enable sampling
        bytes([MODULE_GYRO, 0x02, 0x01, 0x00]),
        bytes([MODULE_GYRO, 0x01, 0x01]),  # start (power mode on)
        bytes([MODULE_ACC, 0x01, 0x01]),
    )


def stop_commands(*, chip: str = "bmi160") -> tuple[bytes, ...]:
    acc_packed, gyr_packed = (0x1C, 0x07) if chip == "bmi160" else (0x05, 0x05)
    return (
        bytes([MODULE_ACC, 0x01, 0x00]),
        bytes([MODULE_GYRO, 0x01, 0x00]),
        bytes([MODULE_ACC, 0x02, 0x00, 0x01]),
        bytes([MODULE_GYRO, 0x02, 0x00, 0x01]),
        bytes([MODULE_ACC, acc_packed, 0x00]),
        bytes([MODULE_GYRO, gyr_packed, 0x00]),
    )


class MetaWearDecoder(DeviceDecoder):
    """Decoder of MetaWear accelerometer and gyroscope notifications (packed or not).

    Parameters
    ----------
    rate_hz
        Output data rate configured (sample times are ``count / rate_hz``).
    acc_range_g, gyr_range_dps
        Ranges configured (they set the scale).
    with_gyro
        Pair with gyroscope samples (True) or emit accelerometer samples alone.
    """

    profile_key = "mbientlab_metamotion"

    def __init__(
        self,
        *,
        rate_hz: float = 200.0,
        acc_range_g: int = 16,
        gyr_range_dps: int = 2000,
        with_gyro: bool = True,
        errors="count",
    ) -> None:
        super().__init__(errors=errors)
        if not (isinstance(rate_hz, (int, float)) and rate_hz > 0):
            raise GaitInputError(
                "out of range", expected="a rate > 0 Hz", found=repr(rate_hz), where=Where(parameter="rate_hz")
            )
        self.has_gyro = bool(with_gyro)
        self.acc_scale = G / ACC_LSB_PER_G[_pick(ACC_LSB_PER_G, acc_range_g, "acc_range_g")]
        self.gyr_scale = RAD_PER_DEG / GYR_LSB_PER_DPS[_pick(GYR_LSB_PER_DPS, gyr_range_dps, "gyr_range_dps")]
        self.rate_hz = float(rate_hz)
        self._pairer = IndexPairer(self.rate_hz)
        self._n_acc = 0

    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        if len(data) < 2:
            raise FrameError(
                "truncated MetaWear notification",
                expected="at least 2 bytes (module, register)",
                found=f"{len(data)} bytes",
                where=Where(parameter="data"),
                reason="truncated",
            )
        key = (data[0], data[1], len(data))
        stream = _STREAMS.get(key)
        if stream is None:
            if (data[0], data[1]) in _DATA_REGISTERS:
                raise FrameError(
                    "bad MetaWear data length",
                    expected="8 bytes (one sample) or 20 bytes (three packed samples)",
                    found=f"{len(data)} bytes for module 0x{data[0]:02X} register 0x{data[1]:02X}",
                    where=Where(parameter="data"),
                    reason="length",
                )
            return None  # another module's response
        sensor, n = stream
        counts = np.frombuffer(data, dtype="<i2", count=3 * n, offset=2).reshape(n, 3).astype(np.float64)
        if sensor == "acc":
            acc = counts * self.acc_scale
            if not self.has_gyro:
                t = (self._n_acc + np.arange(n)) / self.rate_hz
                self._n_acc += n
                return DecodedSamples(t, acc, None)
            self._pairer.add_acc(acc)
        else:
            if not self.has_gyro:
                return None
            self._pairer.add_gyr(counts * self.gyr_scale)
        return self._pairer.pop()


PROFILE = DeviceProfile(
    key="mbientlab_metamotion",
    vendor="MbientLab",
    model="MetaMotion R / C / S / RL (MetaWear)",
    name_patterns=(r"^MetaWear", r"^MetaMotion"),
    service_uuids=(SERVICE_UUID,),
    data_uuid=NOTIFY_UUID,
    control_uuid=COMMAND_UUID,
    rates_hz=(100.0, 200.0, 400.0, 800.0),
    default_rate_hz=200.0,
    has_gyro=True,
    start_commands=start_commands,
    stop_commands=stop_commands(),
    make_decoder=lambda *, rate_hz=200.0, **kw: MetaWearDecoder(rate_hz=rate_hz, **kw),
    scale="acc: 2048 LSB/g at 16 g; gyr: 16.4 LSB/(deg/s) at 2000 dps",
    notes="Use the packed streams at 100-200 Hz (3 samples per notification); BLE rarely sustains 400 Hz of "
    "both sensors. No device time stamps: sample times are counts / rate.",
)
