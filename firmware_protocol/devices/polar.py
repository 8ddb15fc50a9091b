"""Polar Verity Sense and H10: the Polar Measurement Data (PMD) service.

Frames on the PMD data characteristic::

    offset  size  field
    0       1     measurement type (bits 0-5): 2 = ACC, 5 = GYRO (others: ECG, PPG, ... ignored)
    1       8     u64 time stamp of the LAST sample of the frame, ns (device clock)
    9       1     frame type: bit 7 = delta-compressed, bits 0-6 = type number
    10      ...   samples

Raw frames (bit 7 clear) hold int8 / int16 / int24 x y z per sample (ACC types 0 / 1 / 2),
in milli-g. Delta-compressed frames hold a reference sample (channels x resolution bits,
rounded up to bytes) followed by blocks ``[bit width, count, count x channels deltas]``; the
deltas are two's-complement numbers of ``bit width`` bits packed least significant bit first,
and each sample is the previous one plus its deltas. Compressed ACC type 0 is scaled by the
stream's factor to g (x 1000 for milli-g); ACC type 1 is milli-g (times the factor when it
is not 1); GYRO type 0 is deg/s times the factor; GYRO type 1 holds IEEE-754 float32 bit
patterns delta-coded as 32-bit integers (times the factor). The factor arrives as setting 5
(float32) in the control point's response to the start command.

Sample times follow the SDK: the frame time stamp belongs to the last sample; the others are
spread back by ``(t_frame - t_previous_frame) / n`` (or by ``1 / rate`` for a stream's first
frame), rounded to whole nanoseconds.

Bad input never reaches the output: a control-point factor that is not a finite number in
``1e-6 .. 10`` is refused (the factor in force is kept; the real ones are 6e-5 .. 1); a frame
decoded with a factor outside that range is refused (reason ``"factor"``); float samples that
are NaN or infinite are dropped and counted (``stats.nonfinite``; a frame with no finite
sample is refused, reason ``"nonfinite"``); and the frame time stamps go through
`~firmware_protocol.devices.FrameClock` (backwards or more than 32 s ahead: refused, reason
``"time"``; four such frames that agree with each other start a new time base, the output
times continuing after the last sample emitted).

The wire format (frames, delta compression, sample times, the control point) is in
``_polar_pmd.py``; its public names are importable from here.

Notes
-----
Sources: polarofficial/polar-ble-sdk, Android ``PmdDataFrame.kt`` (header), ``AccData.kt``
and ``GyrData.kt`` (frame types and factors), ``BlePMDClient.kt`` (``parseDeltaFramesAll``),
``PmdTimeStampUtils.kt`` (sample times), ``PmdSetting.kt`` (settings encoding),
``PmdControlPointResponse`` (response layout), ``technical_documentation/
SdkModeExplained.md`` (Verity Sense rates and ranges). Tested against the byte vectors and
expected values of ``AccDataTest.kt``, ``GyrDataTest.kt`` and the iOS
``BlePmdClientTest.swift`` (see ``tests/test_device_decoders.py``).

Deviations:

- A delta block of bit width 0, a truncated block, or a raw frame whose length is not a whole
  number of samples makes the whole frame bad (counted), where the SDKs skip or throw
  inconsistently; no partial frame is ever emitted.
- The SDK records a frame's time stamp as the stream's previous one before parsing the payload
  (``BlePMDClient.processPmdData``); here only a frame that decodes moves the time base, so a
  bad frame is as if it had been lost.
- After a loss (the frame covers more than 1.5 times its samples' duration at the configured
  rate), the SDK still spreads the frame's samples over the whole time since the previous
  frame, placing them up to a frame's duration too early; here they are spaced at the
  configured rate back from the frame's time stamp (as for a first frame), and the hole before
  them shows as missing samples.
- The gyroscope is interpolated onto accelerometer times only between gyroscope samples at
  most three periods apart; accelerometer samples in a longer hole are dropped (unpaired).
- `decode_frame` with an explicit ``previous_ns`` follows the SDK exactly (no time checks).
"""

from __future__ import annotations

import math
import struct

import numpy as np

from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError, Where

from ..samples import DecodedSamples
from ._base import (
    MAX_FRAME_JUMP_S,
    DeviceDecoder,
    DeviceProfile,
    FrameClock,
    TimeMerger,
    normalize_uuid,
)
from ._polar_pmd import (
    _COMPRESSED,
    _MEAS_MASK,
    CONTROL_UUID,
    DATA_UUID,
    FACTOR_RANGE,
    MEAS_ACC,
    MEAS_GYRO,
    MEAS_SDK_MODE,
    SERVICE_UUID,
    SETTING_CHANNELS,
    SETTING_FACTOR,
    SETTING_RANGE,
    SETTING_RANGE_MILLIUNIT,
    SETTING_RESOLUTION,
    SETTING_SAMPLE_RATE,
    ControlResponse,
    _err,
    _plausible_factor,
    encode_delta_frame,
    encode_raw_acc_frame,
    parse_control_response,
    parse_delta_samples,
    sample_timestamps_ns,
    start_measurement,
    stop_measurement,
)

__all__ = [
    "CONTROL_UUID",
    "FACTOR_RANGE",
    "ControlResponse",
    "DATA_UUID",
    "H10_PROFILE",
    "MEAS_ACC",
    "MEAS_GYRO",
    "MEAS_SDK_MODE",
    "SETTING_CHANNELS",
    "SETTING_FACTOR",
    "SETTING_RANGE",
    "SETTING_RANGE_MILLIUNIT",
    "SETTING_RESOLUTION",
    "SETTING_SAMPLE_RATE",
    "SERVICE_UUID",
    "VERITY_PROFILE",
    "PolarPmdDecoder",
    "encode_delta_frame",
    "encode_raw_acc_frame",
    "parse_control_response",
    "parse_delta_samples",
    "sample_timestamps_ns",
    "start_measurement",
    "stop_measurement",
]

#: A frame whose samples span more than this many times their duration at the configured rate
#: follows lost samples (see the module Notes).
_LOSS_SPAN = 1.5
#: Gyroscope holes longer than this many periods are not interpolated across.
_MERGE_GAP_PERIODS = 3.0


# ---------------------------------------------------------------------------------------
# decoder
# ---------------------------------------------------------------------------------------
class PolarPmdDecoder(DeviceDecoder):
    """Decoder of PMD ACC (and GYRO) frames; the gyroscope is interpolated onto ACC times.

    Parameters
    ----------
    acc_rate_hz, gyr_rate_hz
        Rates requested at start (they time a stream's first frame and the frame after a
        loss).
    with_gyro
        Verity Sense: True (ACC and GYRO streams); H10: False (ACC only).
    acc_factor, gyr_factor
        Scale factors of compressed frames until the control point announces them (1.0);
        each in `FACTOR_RANGE`.

    Feed data notifications with ``characteristic=None`` or the data UUID, and control-point
    notifications with ``characteristic=CONTROL_UUID`` (they carry the factors).
    """

    profile_key = "polar_verity_sense"

    def __init__(
        self,
        *,
        rate_hz: float = 52.0,
        acc_rate_hz: float | None = None,
        gyr_rate_hz: float | None = None,
        with_gyro: bool = True,
        acc_factor: float = 1.0,
        gyr_factor: float = 1.0,
        errors="count",
    ) -> None:
        super().__init__(errors=errors)
        self.has_gyro = bool(with_gyro)
        self.profile_key = "polar_verity_sense" if with_gyro else "polar_h10"
        self.rate_hz = {MEAS_ACC: float(acc_rate_hz or rate_hz), MEAS_GYRO: float(gyr_rate_hz or rate_hz)}
        for name, r in (("acc_rate_hz", self.rate_hz[MEAS_ACC]), ("gyr_rate_hz", self.rate_hz[MEAS_GYRO])):
            if not (math.isfinite(r) and r > 0):
                raise GaitInputError(
                    "out of range", expected="a rate > 0 Hz", found=repr(r), where=Where(parameter=name)
                )
        for name, f in (("acc_factor", acc_factor), ("gyr_factor", gyr_factor)):
            if not (isinstance(f, (int, float)) and _plausible_factor(float(f))):
                raise GaitInputError(
                    "out of range",
                    expected=f"a scale factor in {FACTOR_RANGE[0]:g} .. {FACTOR_RANGE[1]:g}",
                    found=repr(f),
                    where=Where(parameter=name),
                )
        self.factor = {MEAS_ACC: float(acc_factor), MEAS_GYRO: float(gyr_factor)}
        max_jump = round(MAX_FRAME_JUMP_S * 1e9)
        self._clocks = {MEAS_ACC: FrameClock(max_jump=max_jump), MEAS_GYRO: FrameClock(max_jump=max_jump)}
        #: Added to device times in the output after a resync that went back in time, so that the
        #: output keeps increasing (ns; an int, which never overflows).
        self._offset_ns = 0
        self._last_out_ns: int | None = None
        self._merger = TimeMerger(max_gap_s=_MERGE_GAP_PERIODS / self.rate_hz[MEAS_GYRO])

    @property
    def _previous_ns(self) -> dict[int, int]:
        """Time stamp of each stream's last decoded frame (0: none), as the SDK's map."""
        return {m: c.last or 0 for m, c in self._clocks.items()}

    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        if characteristic == normalize_uuid(CONTROL_UUID):
            resp = parse_control_response(data)
            factors = resp.settings.get(SETTING_FACTOR)
            if resp.opcode == 0x02 and resp.status == 0 and factors and resp.measurement_type in self.factor:
                f = float(factors[0])
                if not _plausible_factor(f):
                    raise _err(
                        "implausible scale factor",
                        f"a finite factor in {FACTOR_RANGE[0]:g} .. {FACTOR_RANGE[1]:g}",
                        repr(f),
                        "factor",
                    )
                self.factor[resp.measurement_type] = f
            return None
        frame = self.decode_frame(data)
        if frame is None:
            return None
        meas, times, values = frame
        t = times.astype(np.float64) * 1e-9 + self._offset_ns * 1e-9
        if meas == MEAS_ACC:
            acc = values * (1e-3 * G)  # milli-g
            if not self.has_gyro:
                return DecodedSamples(t, acc, None)
            self._merger.add_acc(t, acc)
        else:
            self._merger.add_gyr(t, values * RAD_PER_DEG)
        out = self._merger.pop()
        self._unpaired = self._merger.unpaired
        return out

    def decode_frame(self, data: bytes, *, previous_ns: int | None = None) -> tuple[int, np.ndarray, np.ndarray] | None:
        """Decode one PMD data frame as the SDK's ``parseDataFromDataFrame`` does.

        Returns ``(measurement type, sample times in ns, values)`` with values in milli-g
        (ACC) or deg/s (GYRO), shape ``(n, 3)``, without the samples that are NaN or infinite
        (counted); None for a measurement of no interest. The times are the device's (the
        output of `feed` adds the offset a backward resync needs). ``previous_ns`` overrides
        the time stamp of the stream's previous frame (the SDK's ``getPreviousTimeStamp``;
        0 = none) and skips the time checks. The stream's time base moves only when the frame
        decodes.

        Raises
        ------
        FrameError
            A frame that is cut short, of an unsupported type, decoded with an implausible
            factor, without a finite sample, or with a time stamp out of sequence.
        """
        if len(data) < 10:
            raise _err("truncated PMD frame", "at least 10 bytes (header)", f"{len(data)} bytes", "truncated")
        meas = data[0] & _MEAS_MASK
        if meas not in (MEAS_ACC, MEAS_GYRO) or (meas == MEAS_GYRO and not self.has_gyro):
            return None
        (frame_ns,) = struct.unpack_from("<Q", data, 1)
        values = self._values(meas, data[9], data[10:])
        finite = np.isfinite(values).all(axis=1)
        if not finite.any():
            self._nonfinite += int(finite.size)
            raise _err("no finite sample", "finite values", f"{finite.size} NaN or infinite samples", "nonfinite")
        n = values.shape[0]
        clock = self._clocks[meas]
        if previous_ns is not None:
            times = sample_timestamps_ns(previous_ns, frame_ns, n, self.rate_hz[meas])
        else:
            times = self._times(meas, clock, frame_ns, n)
        clock.accept(frame_ns)
        if not finite.all():
            self._nonfinite += int(n - finite.sum())
            times, values = times[finite], values[finite]
        last = int(times[-1]) + self._offset_ns
        self._last_out_ns = last if self._last_out_ns is None else max(self._last_out_ns, last)
        return meas, times, values

    def _times(self, meas: int, clock: FrameClock, frame_ns: int, n: int) -> np.ndarray:
        """Sample times of a frame checked against its stream's time base (see the Notes)."""
        rate = self.rate_hz[meas]
        if frame_ns >= 1 << 63:
            raise _err("time stamp out of range", "a time stamp below 2^63 ns", f"{frame_ns} ns", "time")
        prev = clock.last
        if prev is None:
            return sample_timestamps_ns(0, frame_ns, n, rate)
        if clock.in_sequence(frame_ns):
            if (frame_ns - prev) / n > _LOSS_SPAN * 1e9 / rate:  # samples were lost before this frame
                return sample_timestamps_ns(0, frame_ns, n, rate)
            times = sample_timestamps_ns(prev, frame_ns, n, rate)
            if times[0] > prev and np.all(np.diff(times) > 0):
                return times
            # samples less than a nanosecond apart: a corrupt time stamp, refused like one out of sequence
        if not clock.refuse(frame_ns):
            raise _err(
                "time stamp out of sequence",
                f"a frame time after {prev} ns and at most {MAX_FRAME_JUMP_S:g} s later",
                f"{frame_ns} ns",
                "time",
            )
        times = sample_timestamps_ns(0, frame_ns, n, rate)
        self._resync(times, rate)
        return times

    def _resync(self, times: np.ndarray, rate: float) -> None:
        """A new time base for both streams; output times continue after the last emitted."""
        self._resyncs += 1
        first = int(times[0])
        if self._last_out_ns is not None and first + self._offset_ns <= self._last_out_ns:
            self._offset_ns = self._last_out_ns - first + round(1e9 / rate)
        for c in self._clocks.values():
            c.reset()
        self._merger.clear()
        self._unpaired = self._merger.unpaired

    def _values(self, meas: int, ftype: int, payload: bytes) -> np.ndarray:
        """Samples in milli-g (ACC) or deg/s (GYRO), float64 ``(n, 3)``."""
        compressed, number = bool(ftype & _COMPRESSED), ftype & 0x7F
        factor = self.factor[meas]
        if meas == MEAS_ACC and not compressed:
            size = {0: 1, 1: 2, 2: 3}.get(number)
            if size is None:
                raise _err("unsupported ACC frame type", "raw type 0, 1 or 2", f"raw type {number}", "frame_type")
            if len(payload) == 0 or len(payload) % (3 * size):
                raise _err(
                    "bad ACC frame length",
                    f"a positive multiple of {3 * size} bytes",
                    f"{len(payload)} bytes",
                    "truncated",
                )
            raw = np.frombuffer(payload, dtype=np.uint8).reshape(-1, size).astype(np.int64)
            v = raw @ (np.int64(1) << (8 * np.arange(size, dtype=np.int64)))
            v = np.where(v >= 1 << (8 * size - 1), v - (1 << (8 * size)), v)
            return v.reshape(-1, 3).astype(np.float64)
        if not _plausible_factor(factor):  # only reachable by assigning `factor` directly
            raise _err(
                "implausible scale factor",
                f"a finite factor in {FACTOR_RANGE[0]:g} .. {FACTOR_RANGE[1]:g}",
                repr(factor),
                "factor",
            )
        if meas == MEAS_ACC and number == 0:
            return parse_delta_samples(payload, channels=3, resolution_bits=16).astype(np.float64) * factor * 1000.0
        if meas == MEAS_ACC and number == 1:
            return parse_delta_samples(payload, channels=3, resolution_bits=16).astype(np.float64) * factor
        if meas == MEAS_GYRO and compressed and number == 0:
            return parse_delta_samples(payload, channels=3, resolution_bits=16).astype(np.float64) * factor
        if meas == MEAS_GYRO and compressed and number == 1:
            bits = parse_delta_samples(payload, channels=3, resolution_bits=32, signed=False) & 0xFFFFFFFF
            with np.errstate(invalid="ignore", over="ignore"):  # NaN / inf patterns are dropped by the caller
                return bits.astype(np.uint32).view(np.float32).astype(np.float64) * factor
        kind = "compressed" if compressed else "raw"
        raise _err(
            f"unsupported {'ACC' if meas == MEAS_ACC else 'GYRO'} frame type",
            "a type the Polar SDK decodes",
            f"{kind} type {number}",
            "frame_type",
        )

    def flush(self) -> DecodedSamples:
        return DecodedSamples.empty(has_gyro=self.has_gyro)


def _check_rate(rate_hz: float, allowed: tuple[int, ...]) -> int:
    r = round(float(rate_hz))
    if r not in allowed:
        raise GaitInputError(
            "unsupported rate",
            expected="one of " + ", ".join(str(a) for a in allowed) + " Hz",
            found=repr(rate_hz),
            where=Where(parameter="rate_hz"),
        )
    return r


VERITY_RATES = (26, 52, 104, 208, 416)
H10_RATES = (25, 50, 100, 200)


def verity_start(*, rate_hz: float = 208, acc_range_g: int = 16, gyr_range_dps: int = 2000) -> tuple[bytes, ...]:
    """Enable SDK mode (rates above 52 Hz), then start ACC and GYRO."""
    r = _check_rate(rate_hz, VERITY_RATES)
    return (
        bytes([0x02, MEAS_SDK_MODE]),
        start_measurement(MEAS_ACC, rate_hz=r, range_=acc_range_g, channels=3),
        start_measurement(MEAS_GYRO, rate_hz=r, range_=gyr_range_dps, channels=3),
    )


def h10_start(*, rate_hz: float = 200, acc_range_g: int = 8) -> tuple[bytes, ...]:
    r = _check_rate(rate_hz, H10_RATES)
    return (start_measurement(MEAS_ACC, rate_hz=r, range_=acc_range_g),)


VERITY_PROFILE = DeviceProfile(
    key="polar_verity_sense",
    vendor="Polar",
    model="Verity Sense",
    name_patterns=(r"^Polar Sense", r"Verity"),
    service_uuids=(SERVICE_UUID,),
    data_uuid=DATA_UUID,
    control_uuid=CONTROL_UUID,
    extra_notify_uuids=(CONTROL_UUID,),
    rates_hz=tuple(float(r) for r in VERITY_RATES),
    default_rate_hz=208.0,
    has_gyro=True,
    start_commands=verity_start,
    stop_commands=(stop_measurement(MEAS_ACC), stop_measurement(MEAS_GYRO), stop_measurement(MEAS_SDK_MODE)),
    make_decoder=lambda *, rate_hz=208.0, **kw: PolarPmdDecoder(rate_hz=rate_hz, with_gyro=True, **kw),
    scale="delta-compressed frames x factor from the start response: ACC -> g, GYRO -> deg/s",
    notes="52 Hz in normal mode; SDK mode (firmware 1.1.5+) gives 26-416 Hz, ACC 2-16 g, GYRO 250-2000 dps. "
    "Request an ATT MTU of at least 232 (Polar's requirement for PMD).",
)

H10_PROFILE = DeviceProfile(
    key="polar_h10",
    vendor="Polar",
    model="H10 (chest strap; worn on a belt at the back it is a lumbar accelerometer)",
    name_patterns=(r"^Polar H10",),
    service_uuids=(SERVICE_UUID,),
    data_uuid=DATA_UUID,
    control_uuid=CONTROL_UUID,
    extra_notify_uuids=(CONTROL_UUID,),
    rates_hz=tuple(float(r) for r in H10_RATES),
    default_rate_hz=200.0,
    has_gyro=False,
    start_commands=h10_start,
    stop_commands=(stop_measurement(MEAS_ACC),),
    make_decoder=lambda *, rate_hz=200.0, **kw: PolarPmdDecoder(rate_hz=rate_hz, with_gyro=False, **kw),
    scale="raw int16 frames in milli-g",
    notes="Accelerometer only (25/50/100/200 Hz, 2/4/8 g): no gyroscope, so trunk rotation metrics are unavailable.",
)
