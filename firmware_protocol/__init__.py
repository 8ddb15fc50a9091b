"""The wire contract with sensors.

- `firmware_protocol.codec`: our open GATT protocol (``PROTOCOL.md``): packets,
  configuration and commands, encode and decode.
- `firmware_protocol.stream`: `StreamDecoder`, notifications in, SI samples out, with loss,
  duplicate and reordering statistics (used by the live recorder).
- `firmware_protocol.logbook`: on-sensor logging (the Log characteristic's messages, session
  data, verified ranges of a download; used by ``gait sync``); `firmware_protocol.metawear_log`:
  MbientLab's logger route.
- `firmware_protocol.devices` and `firmware_protocol.profiles`: decoders and device
  profiles for commodity IMUs (WitMotion, Polar, MbientLab, Movesense) and `identify`.
- ``c/`` (the C reference encoder and decoders) and ``firmware/`` (reference firmware),
  compiled and tested on the host by the test suite.
- `firmware_protocol.virtual_peripheral` and `firmware_protocol.virtual_logging`: the virtual
  sensor (a GATT server through BlueZ) and its log store.
"""

from .codec import (
    CONFIG_UUID,
    CONTROL_UUID,
    DATA_UUID,
    PROTOCOL_VERSION,
    SERVICE_UUID,
    DeviceConfig,
    PacketError,
    ProtocolError,
    decode_config,
    decode_packet,
    decode_packets,
    encode_config,
    encode_packet,
)
from .samples import DecodedSamples, Gap
from .stream import StreamDecoder, StreamStats

__all__ = [
    "CONFIG_UUID",
    "CONTROL_UUID",
    "DATA_UUID",
    "PROTOCOL_VERSION",
    "SERVICE_UUID",
    "DeviceConfig",
    "PacketError",
    "ProtocolError",
    "DecodedSamples",
    "Gap",
    "StreamDecoder",
    "StreamStats",
    "decode_config",
    "decode_packet",
    "decode_packets",
    "encode_config",
    "encode_packet",
]
