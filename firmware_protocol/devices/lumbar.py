"""Our own lumbar IMU protocol (``PROTOCOL.md``) behind the common decoder interface.

The decoder wraps `firmware_protocol.stream.StreamDecoder`, so sequence gaps, duplicates,
reordering and device time stamps are handled as for the live recorder; its statistics stay
available as ``decoder.stream.stats``.

Notifications of the configuration characteristic (``characteristic=CONFIG_UUID``) set the
scale factors and rate of the packets that follow; one that does not decode (another
protocol version, too short, a zero rate or scale) is a bad frame (reason ``"config"``) and
the configuration in force stays.

The decoder follows the packet sequence itself (`DeviceDecoder.tracks_sequence`): its output
marks the holes (loss, reconnect, restart, resync) and starts a new clock epoch after a
restart or a resync, so a recorder takes its samples as they are.

`LumbarControl` is the profile's control step: it reads the configuration characteristic
(and the Device Information strings), resumes a stream the sensor kept running through a
link loss, otherwise stops it, sets rate and ranges, and starts and stops the stream, each
command checked against the status the sensor reports.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .. import codec
from ..samples import DecodedSamples
from ..stream import StreamDecoder
from ._base import DeviceDecoder, DeviceProfile, FrameError
from ._control import DeviceControl, GattClient, SensorRefused

__all__ = ["PROFILE", "LumbarControl", "LumbarImuDecoder", "start_commands"]


def _with_epoch(chunk: DecodedSamples) -> DecodedSamples:
    """The stream's block, marked as a new clock epoch after a restart or a resync."""
    return dataclasses.replace(chunk, new_epoch=any(g.reason in ("restart", "resync") for g in chunk.gaps))


class LumbarImuDecoder(DeviceDecoder):
    """Decoder of our protocol. ``config``: the `DeviceConfig` read from the device."""

    profile_key = "lumbar_imu"
    has_gyro = True
    tracks_sequence = True

    def __init__(
        self, *, config: codec.DeviceConfig, reorder_window: int = 3, errors="count", rate_hz: float | None = None
    ) -> None:
        super().__init__(errors=errors)
        self.stream = StreamDecoder(config, reorder_window=reorder_window)
        self._host: float | None = None

    def feed(
        self,
        data: bytes | bytearray | memoryview,
        *,
        characteristic: str | None = None,
        host_time_s: float | None = None,
    ) -> DecodedSamples:
        """As `DeviceDecoder.feed`; ``host_time_s`` (the arrival time) places a stream that
        starts again after a reconnect."""
        self._host = host_time_s
        try:
            return super().feed(data, characteristic=characteristic, host_time_s=host_time_s)
        finally:
            self._host = None

    def set_config(self, config: codec.DeviceConfig) -> None:
        """Use a configuration read from the device for the packets that follow."""
        self.stream.set_config(config)

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
        return _with_epoch(self.stream.feed(data, host_time_s=self._host))

    def flush(self) -> DecodedSamples:
        return _with_epoch(self.stream.flush())

    def reset(self) -> DecodedSamples:
        return _with_epoch(self.stream.reset())

    def link_counts(self) -> dict[str, int]:
        s = self.stream.stats
        return {
            "packets_ok": s.packets_ok,
            "packets_lost": s.packets_lost,
            "duplicated": s.duplicated,
            "reordered": s.reordered,
            "late": s.late,
            "corrupt": s.corrupt,
            "truncated": s.truncated,
            "bad_other": s.oversized + s.wrong_version + s.time_errors,
            "samples_nonfinite": 0,  # integer counts times finite scales: never NaN
        }


class LumbarControl(DeviceControl):
    """Configure, start and stop a device speaking our protocol; see the module docstring."""

    def __init__(self, profile: DeviceProfile, **kw: Any) -> None:
        super().__init__(profile, **kw)
        self.config: codec.DeviceConfig | None = None

    async def _read_config(self, client: GattClient) -> codec.DeviceConfig:
        raw = await client.read_gatt_char(codec.CONFIG_UUID)
        try:
            return codec.decode_config(raw)
        except codec.ProtocolError as e:  # never a crash: the recording ends with the reason
            raise SensorRefused(
                f"{self.describe} sent a configuration that does not decode ({e}); "
                "update gait-lumbar or the sensor's firmware"
            ) from None

    async def _command(self, client: GattClient, data: bytes, *, check: bool = True) -> codec.DeviceConfig:
        await client.write_gatt_char(codec.CONTROL_UUID, data, response=True)
        dc = await self._read_config(client)
        if check and dc.last_status != codec.Status.OK:
            try:
                status = codec.Status(dc.last_status).name
            except ValueError:
                status = str(dc.last_status)
            raise SensorRefused(
                f"{self.describe} refused the command 0x{data[0]:02X} with status {status}; "
                "check the requested rate and ranges (`gait record --help`)"
            )
        return dc

    async def configure(self, client: GattClient, *, resume_ok: bool) -> bool:
        dc = await self._read_config(client)
        prev = self.config
        same = prev is not None and (dc.rate_mhz, dc.acc_scale_ng_per_lsb, dc.gyr_scale_udps_per_lsb) == (
            prev.rate_mhz,
            prev.acc_scale_ng_per_lsb,
            prev.gyr_scale_udps_per_lsb,
        )
        if resume_ok and dc.streaming and same:
            return False  # a sensor that kept streaming through the link loss
        if dc.streaming:
            dc = await self._command(client, codec.encode_stop())
        rate = self.requested_rate_hz if self.requested_rate_hz is not None else self.profile.default_rate_hz
        dc = await self._command(client, codec.encode_set_rate(rate_hz=round(rate)))
        dc = await self._command(
            client, codec.encode_set_range(acc_range_g=self.acc_range_g, gyr_range_dps=self.gyr_range_dps)
        )
        if prev is not None and dc.rate_mhz != prev.rate_mhz:
            raise SensorRefused(
                f"{self.describe} came back at {dc.rate_hz:g} Hz instead of {prev.rate_hz:g} Hz; "
                "a recording keeps one rate: start a new one"
            )
        self.config = dc
        self.rate_hz = dc.rate_hz
        if isinstance(self.decoder, LumbarImuDecoder):
            self.decoder.set_config(dc)  # the same decoder: the sequence goes on across reconnects
        else:
            self.decoder = LumbarImuDecoder(config=dc)
        return True

    async def start(self, client: GattClient) -> None:
        await self._command(client, codec.encode_start())

    async def stop(self, client: GattClient) -> None:
        await self._command(client, codec.encode_stop(), check=False)

    def settings(self) -> dict[str, Any]:
        dc = self.config
        if dc is None:
            return {}
        return {
            "protocol": f"lumbar-imu v{dc.version}",
            "acc_range_g": dc.acc_range_g,
            "gyr_range_dps": dc.gyr_range_dps,
            "samples_per_packet": dc.samples_per_packet,
        }

    @property
    def units_as_recorded(self) -> dict[str, str]:
        return {"acc": "g", "gyr": "dps", "t": "s"}


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
    rates_hz=(104.0, 208.0, 416.0, 833.0),
    default_rate_hz=416.0,
    has_gyro=True,
    start_commands=start_commands,
    stop_commands=(codec.encode_stop(),),
    make_decoder=LumbarImuDecoder,
    scale="announced by the configuration characteristic (integers: ng/LSB, udps/LSB)",
    notes=(
        "Read the configuration characteristic first: LumbarImuDecoder(config=decode_config(...)); "
        "LumbarControl does so when recording."
    ),
    make_control=LumbarControl,
    device_info_uuids=(
        ("model", codec.MODEL_NUMBER_UUID),
        ("serial", codec.SERIAL_NUMBER_UUID),
        ("firmware", codec.FIRMWARE_REVISION_UUID),
        ("manufacturer", codec.MANUFACTURER_NAME_UUID),
    ),
)
