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

from ._commands import (
    Command,
    decode_command,
    encode_command,
    encode_get_clock,
    encode_log_erase,
    encode_log_list,
    encode_log_read,
    encode_log_start,
    encode_log_stop,
    encode_set_clock,
    encode_set_range,
    encode_set_rate,
    encode_start,
    encode_stop,
)
from ._config import DeviceConfig, decode_config, encode_config
from ._constants import (
    BATTERY_LEVEL_UUID,
    BATTERY_SERVICE_UUID,
    CONFIG_EXT_SIZE,
    CONFIG_SIZE,
    CONFIG_UUID,
    CONTROL_UUID,
    CRC_SIZE,
    DATA_UUID,
    DEVICE_INFO_SERVICE_UUID,
    FIRMWARE_REVISION_UUID,
    HEADER_SIZE,
    LOG_UUID,
    MANUFACTURER_NAME_UUID,
    MAX_ATTRIBUTE_SIZE,
    MAX_SAMPLES_PER_PACKET,
    MODEL_NUMBER_UUID,
    OVERHEAD,
    PROTOCOL_VERSION,
    SAMPLE_SIZE,
    SERIAL_NUMBER_UUID,
    SERVICE_UUID,
    Feature,
    Flags,
    LogState,
    Opcode,
    State,
    Status,
)
from ._errors import (
    CommandError,
    ConfigError,
    CorruptPacketError,
    OversizedPacketError,
    PacketError,
    ProtocolError,
    TruncatedPacketError,
    VersionError,
    crc16_ccitt_false,
    crc16_ccitt_false_rows,
)
from ._packets import Packet, PacketBatch, decode_packet, decode_packets, encode_packet, packetize, samples_per_packet

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
