"""Sizes, limits, UUIDs and the protocol's enumerations (flags, opcodes, status, state, features)."""

from __future__ import annotations

import enum
from typing import Final

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
