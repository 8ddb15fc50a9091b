"""Our own lumbar IMU protocol (``PROTOCOL.md``) behind the common decoder interface.

The decoder wraps `firmware_protocol.stream.StreamDecoder`, so sequence gaps, duplicates,
reordering and device time stamps are handled as for the live recorder; its statistics stay
available as ``decoder.stream.stats``.

Notifications of the configuration characteristic (``characteristic=CONFIG_UUID``) set the
scale factors and rate of the packets that follow; one that does not decode (another
protocol version, too short, a zero rate or scale) is a bad frame (reason ``"config"``) and
the configuration in force stays.
"""

from __future__ import annotations

from .. import codec
from ..samples import DecodedSamples
from ..stream import StreamDecoder
from ._base import DeviceDecoder, DeviceProfile, FrameError

__all__ = ["PROFILE", "LumbarImuDecoder", "start_commands"]


class LumbarImuDecoder(DeviceDecoder):
    """Decoder of our protocol. ``config``: the `DeviceConfig` read from the device."""

    profile_key = "lumbar_imu"
    has_gyro = True

    def __init__(
        self, *, config: codec.DeviceConfig, reorder_window: int = 3, errors="count", rate_hz: float | None = None
    ) -> None:
        super().__init__(errors=errors)
        self.stream = StreamDecoder(config, reorder_window=reorder_window)

    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        if characteristic == codec.CONFIG_UUID:
            try:
                config = codec.decode_config(data)
            except codec.ProtocolError as e:  # VersionError or ConfigError: keep the configuration in force
                raise FrameError(
                    e.problem, expected=e.expected, found=e.found, where=e.where, hint=e.hint, reason="config"
                ) from None
            self.stream.set_config(config)
            return None
        try:
            codec.decode_packet(data)
        except codec.PacketError as e:
            self.stream.feed(data)  # keeps the stream's own counters complete
            raise FrameError(e.problem, expected=e.expected, found=e.found, where=e.where, reason=e.reason) from None
        chunk = self.stream.feed(data)
        return DecodedSamples(chunk.t_s, chunk.acc_mps2, chunk.gyr_rads)

    def flush(self) -> DecodedSamples:
        chunk = self.stream.flush()
        return DecodedSamples(chunk.t_s, chunk.acc_mps2, chunk.gyr_rads)


def start_commands(*, rate_hz: float = 416, acc_range_g: int = 16, gyr_range_dps: int = 2000) -> tuple[bytes, ...]:
    """SET_RATE, SET_RANGE, START."""
    return (
        codec.encode_set_rate(rate_hz=round(rate_hz)),
        codec.encode_set_range(acc_range_g=acc_range_g, gyr_range_dps=gyr_range_dps),
        codec.encode_start(),
    )


PROFILE = DeviceProfile(
    key="lumbar_imu",
    vendor="gait-lumbar (open protocol)",
    model="any device speaking PROTOCOL.md, e.g. the XIAO nRF52840 Sense reference firmware",
    name_patterns=(r"^LumbarIMU",),
    service_uuids=(codec.SERVICE_UUID,),
    data_uuid=codec.DATA_UUID,
    control_uuid=codec.CONTROL_UUID,
    extra_notify_uuids=(codec.CONFIG_UUID,),
    rates_hz=(104.0, 208.0, 416.0, 833.0),
    default_rate_hz=416.0,
    has_gyro=True,
    start_commands=start_commands,
    stop_commands=(codec.encode_stop(),),
    make_decoder=LumbarImuDecoder,
    scale="announced by the configuration characteristic (integers: ng/LSB, udps/LSB)",
    notes="Read the configuration characteristic first: LumbarImuDecoder(config=decode_config(...)).",
)
