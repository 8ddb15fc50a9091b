"""Decoders for IMUs runners already own, behind one interface (`DeviceDecoder`).

=====================  =============================  ==========================================
module                 devices                        checked against
=====================  =============================  ==========================================
`.witmotion`           WitMotion WT901BLE family      round trips (no vendor byte vectors exist)
`.polar`               Polar Verity Sense, H10 (PMD)  Polar SDK AccDataTest, GyrDataTest, iOS
                                                      delta-frame tests
`.metawear`            MbientLab MetaMotion R/C/S/RL  MetaWear-SDK-Cpp accelerometer and gyro
                                                      tests (BMI160, BMI270)
`.movesense`           Movesense (GATT sensor data)   round trips (no vendor byte vectors exist)
`.lumbar`              our protocol (PROTOCOL.md)     the C reference encoder's vectors
=====================  =============================  ==========================================

`firmware_protocol.profiles` lists their `DeviceProfile` and identifies a device from its
advertisement. A recorder drives a connected device through its profile's `DeviceControl`
(configure, start, stop; ``profile.make_control``, by default the profile's command bytes).
"""

from ..samples import DecodedSamples
from ._base import DecoderStats, DeviceDecoder, DeviceProfile, FrameError, normalize_uuid
from ._control import DeviceControl, SensorRefused
from .lumbar import LumbarImuDecoder
from .metawear import MetaWearDecoder
from .movesense import MovesenseDecoder
from .polar import PolarPmdDecoder
from .witmotion import WitMotionDecoder

__all__ = [
    "DecodedSamples",
    "DecoderStats",
    "DeviceControl",
    "DeviceDecoder",
    "DeviceProfile",
    "FrameError",
    "LumbarImuDecoder",
    "MetaWearDecoder",
    "MovesenseDecoder",
    "PolarPmdDecoder",
    "SensorRefused",
    "WitMotionDecoder",
    "normalize_uuid",
]
