"""The configuration characteristic: `DeviceConfig`, encode and decode."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from gait.constants import RAD_PER_DEG, G
from gait.errors import Where

from ._constants import CONFIG_EXT_SIZE, CONFIG_SIZE, PROTOCOL_VERSION, Feature, LogState, State, Status
from ._errors import ConfigError, VersionError
from ._packets import _as_bytes, _check_uint

# ---------------------------------------------------------------------------------------
# configuration characteristic
# ---------------------------------------------------------------------------------------
_CONFIG_STRUCT = struct.Struct("<BBBBIBBHII")  # 20 bytes, every field naturally aligned
_CONFIG_EXT_STRUCT = struct.Struct("<BBHII")  # the 12 bytes appended by devices with features


@dataclass(frozen=True)
class DeviceConfig:
    """Contents of the configuration characteristic (20 bytes in version 1).

    Attributes
    ----------
    rate_mhz
        Output data rate actually running, millihertz (e.g. 416000 for 416 Hz).
    acc_range_g, gyr_range_dps
        Full-scale ranges, +-g and +-deg/s.
    acc_scale_ng_per_lsb
        Accelerometer sensitivity: nano-g per count (LSM6DS3 at +-16 g: 488000).
    gyr_scale_udps_per_lsb
        Gyroscope sensitivity: micro-degrees per second per count (LSM6DS3 at 2000 dps: 70000).
    samples_per_packet
        Samples the device puts in each packet for the negotiated MTU.
    state
        `State` (idle or streaming).
    last_opcode, last_status
        The last command received and its `Status`.
    version
        Protocol version of the device.
    features
        `Feature` bits (0 on a plain version-1 device, whose configuration has 20 bytes).
    log_state
        `LogState` of on-sensor logging.
    log_sessions
        Logged sessions stored on the device (the one being logged included).
    log_capacity_bytes, log_free_bytes
        Bytes of session data the empty store holds, and those still free.
    """

    rate_mhz: int
    acc_range_g: int
    gyr_range_dps: int
    acc_scale_ng_per_lsb: int
    gyr_scale_udps_per_lsb: int
    samples_per_packet: int
    state: int = State.IDLE
    last_opcode: int = 0
    last_status: int = Status.OK
    version: int = PROTOCOL_VERSION
    features: int = Feature.NONE
    log_state: int = LogState.IDLE
    log_sessions: int = 0
    log_capacity_bytes: int = 0
    log_free_bytes: int = 0

    def __post_init__(self) -> None:
        for name, bits in (
            ("features", 8),
            ("log_state", 8),
            ("log_sessions", 16),
            ("log_capacity_bytes", 32),
            ("log_free_bytes", 32),
            ("version", 8),
            ("state", 8),
            ("last_opcode", 8),
            ("last_status", 8),
            ("rate_mhz", 32),
            ("acc_range_g", 8),
            ("samples_per_packet", 8),
            ("gyr_range_dps", 16),
            ("acc_scale_ng_per_lsb", 32),
            ("gyr_scale_udps_per_lsb", 32),
        ):
            _check_uint(getattr(self, name), name, bits)
        for name in ("rate_mhz", "acc_scale_ng_per_lsb", "gyr_scale_udps_per_lsb", "samples_per_packet"):
            if getattr(self, name) == 0:
                raise ConfigError("zero field", expected=f"{name} > 0", found="0", where=Where(parameter=name))

    @property
    def rate_hz(self) -> float:
        return self.rate_mhz / 1000.0

    @property
    def sample_period_s(self) -> float:
        return 1000.0 / self.rate_mhz

    @property
    def acc_scale_mps2_per_lsb(self) -> float:
        return self.acc_scale_ng_per_lsb * 1e-9 * G

    @property
    def gyr_scale_rads_per_lsb(self) -> float:
        return self.gyr_scale_udps_per_lsb * 1e-6 * RAD_PER_DEG

    @property
    def streaming(self) -> bool:
        return self.state == State.STREAMING

    @property
    def can_log(self) -> bool:
        """Whether the device logs on its own (`Feature.LOG`)."""
        return bool(self.features & Feature.LOG)

    @property
    def logging(self) -> bool:
        return self.log_state == LogState.LOGGING

    @property
    def extended(self) -> bool:
        """Whether the configuration carries the 12 appended bytes (any feature or log field set)."""
        return any((self.features, self.log_state, self.log_sessions, self.log_capacity_bytes, self.log_free_bytes))


def encode_config(config: DeviceConfig) -> bytes:
    """The configuration characteristic: 20 bytes, or 32 on a device that announces features."""
    c = config
    base = _CONFIG_STRUCT.pack(
        c.version,
        c.state,
        c.last_opcode,
        c.last_status,
        c.rate_mhz,
        c.acc_range_g,
        c.samples_per_packet,
        c.gyr_range_dps,
        c.acc_scale_ng_per_lsb,
        c.gyr_scale_udps_per_lsb,
    )
    if not c.extended:
        return base
    return base + _CONFIG_EXT_STRUCT.pack(
        c.features, c.log_state, c.log_sessions, c.log_capacity_bytes, c.log_free_bytes
    )


def decode_config(data: bytes | bytearray | memoryview) -> DeviceConfig:
    """Decode the configuration characteristic.

    The first 20 bytes are version 1's; a device that announces features (`Feature`) appends
    12 more (read when present: a configuration of 20 to 31 bytes is a plain version-1 one);
    bytes beyond those are ignored (later additions).

    Raises
    ------
    VersionError
        A device of another protocol version.
    ConfigError
        Fewer than 20 bytes, or a zero rate, scale or packet size.
    """
    raw = _as_bytes(data, "data")
    where = Where(parameter="config")
    if raw and raw[0] != PROTOCOL_VERSION:
        raise VersionError(
            "unsupported protocol version",
            expected=f"version {PROTOCOL_VERSION}",
            found=f"version {raw[0]}",
            where=where,
            hint="Update gait-lumbar, or flash firmware that speaks version 1",
        )
    if len(raw) < CONFIG_SIZE:
        raise ConfigError(
            "truncated configuration", expected=f"at least {CONFIG_SIZE} bytes", found=f"{len(raw)} bytes", where=where
        )
    v = _CONFIG_STRUCT.unpack_from(raw)
    ext = _CONFIG_EXT_STRUCT.unpack_from(raw, CONFIG_SIZE) if len(raw) >= CONFIG_EXT_SIZE else (0, 0, 0, 0, 0)
    try:
        return DeviceConfig(
            features=ext[0],
            log_state=ext[1],
            log_sessions=ext[2],
            log_capacity_bytes=ext[3],
            log_free_bytes=ext[4],
            version=v[0],
            state=v[1],
            last_opcode=v[2],
            last_status=v[3],
            rate_mhz=v[4],
            acc_range_g=v[5],
            samples_per_packet=v[6],
            gyr_range_dps=v[7],
            acc_scale_ng_per_lsb=v[8],
            gyr_scale_udps_per_lsb=v[9],
        )
    except ConfigError as e:
        raise ConfigError(e.problem, expected=e.expected, found=e.found, where=where) from None
