"""The common decoder interface of commodity IMUs, and the device profile.

Every vendor module offers a `DeviceDecoder` subclass: notifications in (``feed``), arrays of
device time (s), acceleration (m/s^2) and angular rate (rad/s) out, with counts of frames
that did not decode. Decoders never raise on bad frames unless built with
``errors="raise"``; they count them by reason in `DecoderStats`.

Guarantees of every decoder, whatever bytes it is fed (``tests/test_fuzz_decoders.py``):

- in counting mode ``feed`` never raises on the bytes themselves (only on a caller's mistake,
  such as a `str` instead of bytes); in raising mode it raises `FrameError` only;
- no sample with a NaN or infinite value is ever emitted: such a sample is dropped and
  counted (``DecoderStats.nonfinite``), and a frame with no finite sample is a bad frame;
- sample times increase strictly from one emitted sample to the next;
- a frame that does not decode changes nothing: not the time base, not the scale factors,
  not the pairing of accelerometer and gyroscope.

Devices that stamp frames with their own clock (Polar, Movesense) go through `FrameClock`: a
frame whose time stamp goes backwards, or jumps further ahead than `MAX_FRAME_JUMP_S`, is
refused (reason ``"time"``); `RESYNC_AFTER` consecutive refused frames that agree with each
other start a new time base (``DecoderStats.resyncs``), so one corrupt time stamp can neither
stop a stream nor move it.
"""

from __future__ import annotations

import abc
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np

from gait.errors import GaitInputError, Where

from ..codec import ProtocolError
from ..samples import DecodedSamples

if TYPE_CHECKING:
    from ._control import DeviceControl

__all__ = [
    "MAX_FRAME_JUMP_S",
    "RESYNC_AFTER",
    "DecoderStats",
    "DeviceDecoder",
    "DeviceProfile",
    "FrameClock",
    "FrameError",
    "IndexPairer",
    "TimeMerger",
    "normalize_uuid",
]

_SIG_BASE = "-0000-1000-8000-00805f9b34fb"

#: Largest step of the device clock from one frame to the next that is taken as it comes: longer
#: than the longest link supervision timeout Bluetooth LE allows (32 s, Core Specification
#: Vol 6 Part B 4.5.2), after which a silent link is dropped. A larger step is a corrupt time
#: stamp, or a device that lost data for that long, which `RESYNC_AFTER` frames confirm.
MAX_FRAME_JUMP_S = 32.0
#: Consecutive refused frames, each in sequence with the one before, that start a new time base.
RESYNC_AFTER = 4
_HEX16 = re.compile(r"^(0x)?([0-9a-f]{4})$")
_HEX32 = re.compile(r"^(0x)?([0-9a-f]{8})$")
_UUID128 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def normalize_uuid(uuid: str, *, parameter: str = "uuid") -> str:
    """A UUID as 128-bit lower-case text; 16- and 32-bit SIG short forms are expanded.

    ``"180D"``, ``"0x180d"`` and ``"0000180d-0000-1000-8000-00805f9b34fb"`` all give the last.
    """
    u = str(uuid).strip().lower()
    if m := _HEX16.match(u):
        return f"0000{m.group(2)}{_SIG_BASE}"
    if m := _HEX32.match(u):
        return f"{m.group(2)}{_SIG_BASE}"
    if _UUID128.match(u):
        return u
    raise GaitInputError(
        "not a UUID",
        expected="a 16-bit (180d), 32-bit or 128-bit (8-4-4-4-12 hex) UUID",
        found=repr(uuid),
        where=Where(parameter=parameter),
    )


class FrameError(ProtocolError):
    """A vendor frame that cannot be decoded (``reason`` says why)."""

    default_reason = "frame"


def finite_rows(t: np.ndarray, *blocks: np.ndarray | None) -> np.ndarray:
    """True for each sample whose time and every value of every ``(n, 3)`` block are finite."""
    ok = np.isfinite(np.asarray(t, dtype=np.float64))
    for b in blocks:
        if b is not None:
            ok &= np.isfinite(b).all(axis=1)
    return ok


class FrameClock:
    """Time base of one stream of frames stamped by the device's clock (integer ticks).

    A frame is *in sequence* when its time stamp is after the last accepted frame's and at most
    ``max_jump`` ticks after it. The caller refuses a frame out of sequence (a `FrameError` with
    reason ``"time"``) and tells `refuse`; the time base does not move. When `RESYNC_AFTER`
    consecutive refused frames are each in sequence with the refused frame before them, they
    are a clock of their own (the device restarted its clock, or the time base came from a
    corrupt frame): `refuse` says so, and the caller accepts that frame as a new start.

    Parameters
    ----------
    max_jump
        Largest step between consecutive frames, in ticks.
    resync_after
        Refused frames in a row, in sequence among themselves, that start a new time base.
    """

    def __init__(self, *, max_jump: int, resync_after: int = RESYNC_AFTER) -> None:
        self.max_jump = int(max_jump)
        self.resync_after = int(resync_after)
        #: Time stamp of the last accepted frame (None: none yet, the next frame is a start).
        self.last: int | None = None
        self._run_last: int | None = None
        self._run = 0

    def in_sequence(self, t: int) -> bool:
        """Whether a frame stamped ``t`` continues the time base (always, before the first)."""
        return self.last is None or self.last < t <= self.last + self.max_jump

    def refuse(self, t: int) -> bool:
        """Record a refused frame stamped ``t``; True when it completes a run that resyncs."""
        if self._run_last is not None and self._run_last < t <= self._run_last + self.max_jump:
            self._run += 1
        else:
            self._run = 1
        self._run_last = t
        return self._run >= self.resync_after

    def accept(self, t: int) -> None:
        """The frame stamped ``t`` decoded: it is the time base from now on."""
        self.last = t
        self._run, self._run_last = 0, None

    def reset(self) -> None:
        """Forget the time base: the next frame starts a new one."""
        self.last = None
        self._run, self._run_last = 0, None


@dataclass(frozen=True)
class DecoderStats:
    """Counts of a decoder since construction.

    ``frames_ok``: frames decoded; ``frames_bad``: frames rejected (by reason in ``bad``);
    ``frames_ignored``: valid frames of no interest (other sensors, command responses);
    ``samples``: samples emitted; ``unpaired``: accelerometer or gyroscope samples dropped
    because the other sensor had no sample to pair them with (or only across a hole longer
    than a few sample periods); ``nonfinite``: samples dropped because a value was NaN or
    infinite; ``resyncs``: times the device clock's time base was taken afresh (`FrameClock`).
    """

    frames_ok: int = 0
    frames_bad: int = 0
    frames_ignored: int = 0
    samples: int = 0
    unpaired: int = 0
    bad: Mapping[str, int] = field(default_factory=dict)
    nonfinite: int = 0
    resyncs: int = 0


class DeviceDecoder(abc.ABC):
    """Notifications of one device in, SI samples out.

    Parameters
    ----------
    errors
        ``"count"`` (default): bad frames are counted and skipped; ``feed`` never raises on
        the bytes it is given. ``"raise"``: a bad frame raises `FrameError` (after being
        counted).
    """

    #: Key of the `DeviceProfile` this decoder belongs to.
    profile_key: str = ""
    #: Whether the decoder outputs angular rate.
    has_gyro: bool = True
    #: Whether the decoder follows the packet sequence itself (loss, duplicates, order, device
    #: time across reconnects): its output then marks the holes and new clock epochs, a link
    #: loss goes through `reset`, and `link_counts` gives the packet counters. Otherwise the
    #: recorder finds holes from the sample times.
    tracks_sequence: bool = False

    def __init__(self, *, errors: Literal["count", "raise"] = "count") -> None:
        if errors not in ("count", "raise"):
            raise GaitInputError(
                "invalid value", expected="'count' or 'raise'", found=repr(errors), where=Where(parameter="errors")
            )
        self.errors = errors
        self._ok = 0
        self._ignored = 0
        self._samples = 0
        self._unpaired = 0
        self._nonfinite = 0
        self._resyncs = 0
        self._bad: Counter[str] = Counter()

    @abc.abstractmethod
    def _decode(self, data: bytes, characteristic: str | None) -> DecodedSamples | None:
        """Decode one notification; None for a valid frame of no interest. Raise FrameError."""

    def feed(
        self,
        data: bytes | bytearray | memoryview,
        *,
        characteristic: str | None = None,
        host_time_s: float | None = None,
    ) -> DecodedSamples:
        """Decode one notification (``characteristic``: the UUID it came from, where a device
        sends on several). ``host_time_s`` is accepted for a uniform interface.

        Samples with a NaN or infinite value are dropped here whatever the decoder (counted in
        ``stats.nonfinite``); decoders that can produce them drop them earlier, where the
        pairing and the time base need it."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise GaitInputError(
                "not bytes",
                expected="bytes, bytearray or memoryview",
                found=type(data).__name__,
                where=Where(parameter="data"),
            )
        try:
            out = self._decode(
                bytes(data),
                None if characteristic is None else normalize_uuid(characteristic, parameter="characteristic"),
            )
        except ProtocolError as e:  # FrameError, or a codec error of the bytes (never a bug)
            self._bad[e.reason] += 1
            if self.errors == "raise":
                if isinstance(e, FrameError):
                    raise
                raise FrameError(
                    e.problem, expected=e.expected, found=e.found, where=e.where, hint=e.hint, reason=e.reason
                ) from e
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        if out is None:
            self._ignored += 1
            return DecodedSamples.empty(has_gyro=self.has_gyro)
        out = self._finite(out)
        self._ok += 1
        self._samples += out.n_samples
        return out

    def _finite(self, out: DecodedSamples) -> DecodedSamples:
        """``out`` without the samples that hold a NaN or an infinite value (counted)."""
        ok = finite_rows(out.t_s, out.acc_mps2, out.gyr_rads)
        if ok.all():
            return out
        self._nonfinite += int(ok.size - ok.sum())
        return DecodedSamples(out.t_s[ok], out.acc_mps2[ok], None if out.gyr_rads is None else out.gyr_rads[ok])

    def reset(self) -> DecodedSamples:
        """The link dropped: the samples still held back; the next ones start a new segment."""
        return self.flush()

    def link_counts(self) -> dict[str, int] | None:
        """Packet counters of a decoder that `tracks_sequence` (packets_ok, packets_lost,
        duplicated, reordered, late, corrupt, truncated, bad_other, samples_nonfinite); None
        for the others."""
        return None

    def feed_many(self, notifications: list[bytes], *, characteristic: str | None = None) -> DecodedSamples:
        """Decode several notifications of one characteristic, in order."""
        return DecodedSamples.concat(
            [self.feed(n, characteristic=characteristic) for n in notifications], has_gyro=self.has_gyro
        )

    def flush(self) -> DecodedSamples:
        """Samples still held back (end of a recording)."""
        return DecodedSamples.empty(has_gyro=self.has_gyro)

    @property
    def stats(self) -> DecoderStats:
        return DecoderStats(
            frames_ok=self._ok,
            frames_bad=sum(self._bad.values()),
            frames_ignored=self._ignored,
            samples=self._samples,
            unpaired=self._unpaired,
            bad=dict(self._bad),
            nonfinite=self._nonfinite,
            resyncs=self._resyncs,
        )


@dataclass(frozen=True)
class DeviceProfile:
    """What the scanner and the recorder need to know about one kind of device.

    Attributes
    ----------
    key
        Short identifier (``"polar_verity_sense"``).
    vendor, model
        For people.
    name_patterns
        Regular expressions matched (``re.search``) against the advertised local name.
    service_uuids
        Services that identify the device (advertised or in its GATT table), 128-bit text.
    data_uuid, control_uuid
        Characteristic to subscribe to, and the one commands are written to (``None``: none).
    extra_notify_uuids
        Further characteristics to subscribe to (responses the decoder needs, e.g. Polar's
        control point carrying scale factors).
    rates_hz
        Sampling rates the profile can request; ``default_rate_hz`` is what `start_commands`
        uses when not told otherwise.
    has_gyro
        Whether the device streams angular rate.
    start_commands, stop_commands
        ``start_commands(rate_hz=...)`` returns the writes (in order) to the control
        characteristic that start streaming at that rate; ``stop_commands`` stop it.
    make_decoder
        ``make_decoder(rate_hz=...)`` returns a fresh `DeviceDecoder`.
    make_control
        Builds the `firmware_protocol.devices._control.DeviceControl` a recorder drives the
        connected device with (configure, start, stop); None: the default one, which writes
        `start_commands` and `stop_commands`. Devices that must be read before they are
        commanded, or that answer with a status, provide their own (our protocol).
    device_info_uuids
        Characteristics read once after connecting, as text, into a recording's device
        information, as ``(key, uuid)`` pairs (``("model", "00002a24-...")``); unreadable ones
        are skipped.
    scale
        Human-readable scale factors (raw count to unit).
    notes
        Settings and caveats.
    """

    key: str
    vendor: str
    model: str
    name_patterns: tuple[str, ...]
    service_uuids: tuple[str, ...]
    data_uuid: str
    control_uuid: str | None
    rates_hz: tuple[float, ...]
    default_rate_hz: float
    has_gyro: bool
    start_commands: Callable[..., tuple[bytes, ...]]
    stop_commands: tuple[bytes, ...]
    make_decoder: Callable[..., DeviceDecoder]
    scale: str = ""
    notes: str = ""
    extra_notify_uuids: tuple[str, ...] = ()
    make_control: Callable[..., DeviceControl] | None = None
    device_info_uuids: tuple[tuple[str, str], ...] = ()

    def matches_name(self, name: str | None) -> bool:
        return bool(name) and any(re.search(p, name) for p in self.name_patterns)  # type: ignore[arg-type]

    def matches_services(self, service_uuids: tuple[str, ...] | list[str]) -> bool:
        mine = {normalize_uuid(u) for u in self.service_uuids}
        return any(normalize_uuid(u, parameter="service_uuids") in mine for u in service_uuids)


# ---------------------------------------------------------------------------------------
# pairing accelerometer and gyroscope streams that arrive separately
# ---------------------------------------------------------------------------------------
class TimeMerger:
    """Pair two time-stamped streams: the gyroscope interpolated onto accelerometer times.

    Accelerometer samples are emitted once the gyroscope stream has reached their time;
    samples before the first gyroscope sample are dropped (counted as unpaired), and so are
    samples that fall in a hole of the gyroscope stream longer than ``max_gap_s`` (a lost
    gyroscope frame): the gyroscope is interpolated between neighbouring samples, never
    across a hole.

    Parameters
    ----------
    max_gap_s
        Longest interval between two gyroscope samples to interpolate across (None: any).
    """

    def __init__(self, *, max_gap_s: float | None = None) -> None:
        self.max_gap_s = max_gap_s
        self._ta = np.zeros(0)
        self._a = np.zeros((0, 3))
        self._tg = np.zeros(0)
        self._g = np.zeros((0, 3))
        self.unpaired = 0

    def clear(self) -> None:
        """Drop everything held (the accelerometer samples waiting count as unpaired)."""
        self.unpaired += int(self._ta.size)
        self._ta, self._a = np.zeros(0), np.zeros((0, 3))
        self._tg, self._g = np.zeros(0), np.zeros((0, 3))

    def add_acc(self, t: np.ndarray, acc: np.ndarray) -> None:
        self._ta = np.concatenate([self._ta, t])
        self._a = np.concatenate([self._a, acc])

    def add_gyr(self, t: np.ndarray, gyr: np.ndarray) -> None:
        self._tg = np.concatenate([self._tg, t])
        self._g = np.concatenate([self._g, gyr])

    def pop(self) -> DecodedSamples:
        if self._tg.size == 0 or self._ta.size == 0:
            return DecodedSamples.empty()
        early = self._ta < self._tg[0]
        if early.any():
            self.unpaired += int(early.sum())
            self._ta, self._a = self._ta[~early], self._a[~early]
        ready = self._ta <= self._tg[-1]
        t, a = self._ta[ready], self._a[ready]
        self._ta, self._a = self._ta[~ready], self._a[~ready]
        if t.size == 0:
            return DecodedSamples.empty()
        keep = max(0, int(np.searchsorted(self._tg, t[-1], side="right")) - 1)  # keep one sample before
        if self.max_gap_s is not None:
            hi = np.searchsorted(self._tg, t, side="left")  # tg[hi - 1] < t <= tg[hi]
            lo = np.maximum(hi - 1, 0)
            across = (self._tg[hi] != t) & (self._tg[hi] - self._tg[lo] > self.max_gap_s)
            if across.any():
                self.unpaired += int(across.sum())
                t, a = t[~across], a[~across]
        g = np.column_stack([np.interp(t, self._tg, self._g[:, k]) for k in range(3)])
        self._tg, self._g = self._tg[keep:], self._g[keep:]
        return DecodedSamples(t, a, g)


class IndexPairer:
    """Pair two streams without time stamps, sample by sample, at a known rate."""

    def __init__(self, rate_hz: float) -> None:
        self.rate_hz = float(rate_hz)
        self._a = np.zeros((0, 3))
        self._g = np.zeros((0, 3))
        self._n = 0

    def add_acc(self, acc: np.ndarray) -> None:
        self._a = np.concatenate([self._a, acc])

    def add_gyr(self, gyr: np.ndarray) -> None:
        self._g = np.concatenate([self._g, gyr])

    def pop(self) -> DecodedSamples:
        k = min(len(self._a), len(self._g))
        if k == 0:
            return DecodedSamples.empty()
        t = (self._n + np.arange(k)) / self.rate_hz
        a, g = self._a[:k], self._g[:k]
        self._a, self._g = self._a[k:], self._g[k:]
        self._n += k
        return DecodedSamples(t, a, g)
