"""Decode a live stream of lumbar-IMU notifications into SI samples: `StreamDecoder`.

This is the piece the live recorder (``gait/live.py``) uses. It is fed one notification at
a time, exactly as bleak delivers them, and returns the samples they complete, in SI units,
in order, with markers where samples are missing. Nothing here does I/O or needs asyncio.

Usage
-----
::

    from firmware_protocol import codec
    from firmware_protocol.stream import StreamDecoder

    cfg = codec.decode_config(await client.read_gatt_char(codec.CONFIG_UUID))
    decoder = StreamDecoder(cfg)

    def on_notify(_sender, data: bytearray) -> None:       # bleak notification callback
        chunk = decoder.feed(data, host_time_s=time.monotonic())
        writer.write(chunk.t_s, chunk.acc_mps2, chunk.gyr_rads)   # may be empty

    await client.start_notify(codec.DATA_UUID, on_notify)
    await client.write_gatt_char(codec.CONTROL_UUID, codec.encode_start(), response=True)
    ...
    # after a reconnect, before start_notify again:
    writer.write(*decoder.reset().arrays())                  # emits what the reorder buffer held
    # at the end:
    writer.write(*decoder.flush().arrays())
    print(decoder.stats)

API
---
``StreamDecoder(config, *, reorder_window=3, errors="count")``
    ``config`` is the `~firmware_protocol.codec.DeviceConfig` read from the device (scale
    factors and rate). ``reorder_window``: how many packets past a hole are held back waiting
    for the missing one before it is declared lost (0: declare at once; in-order packets are
    never delayed). ``errors="count"`` counts bad packets in `stats`; ``"raise"`` raises
    their `~firmware_protocol.codec.PacketError` instead.
``feed(data, *, host_time_s=None) -> DecodedSamples``
    One notification. ``host_time_s`` (any monotonic clock, seconds) feeds `clock`.
``feed_many(notifications, *, host_times_s=None) -> DecodedSamples``
    Several at once (same result as calling `feed` for each).
``flush() -> DecodedSamples``
    Give up on every hole still open and return the held-back packets (end of recording).
``reset() -> DecodedSamples``
    The link was lost: flush, and treat the next packet as the start of a new segment.
    Statistics, the time base and the clock model are kept.
``set_config(config)``
    The device announced a new configuration (after SET_RATE / SET_RANGE).
``stats -> StreamStats``
    Counters (a frozen snapshot): packets ok, lost (sequence gaps), duplicated, reordered
    (arrived late but within the window, put back in order), late (arrived after being
    declared lost; dropped), corrupt, truncated, oversized, wrong version, samples ok and
    lost (inside a stream: sequence gaps, device overflows, time jumps; the pause between two
    streams is a `Gap` but not a loss), stream starts, resyncs, device overflows.
``clock -> firmware_protocol.clock.DriftFit``
    Device-to-host time mapping fitted to arrival times (offset and drift).

`DecodedSamples` holds ``t_s`` (device time in seconds: the packet time stamps unwrapped past
2^32 us, continuous across restarts), ``acc_mps2`` and ``gyr_rads`` (``(n, 3)``, sensor
frame), ``gap_before`` (``(n,)`` bool, True on the first sample after missing samples) and
``gaps`` (one `Gap` per hole, with the packets and samples lost and why).

Notes
-----
Sample times: the first sample of a packet is at its time stamp; the others follow at the
sample period, which starts at the configured rate and then tracks the rate the packet time
stamps show (sensor oscillators run up to a few per cent off their nominal rate; tracking is
limited to +-5 %). Missing samples are counted from the time stamps, so a device-side
overflow (`~firmware_protocol.codec.Flags.OVERFLOW`) is measured as well as lost packets.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Literal

import numpy as np

from gait.errors import GaitInputError, Where

from .clock import DriftFit
from .codec import DeviceConfig, Flags, Packet, PacketError, decode_packet
from .samples import DecodedSamples, Gap

__all__ = ["StreamDecoder", "StreamStats"]

_U32 = 1 << 32
_HALF_U32 = 1 << 31
#: Consecutive packets "behind" the expected sequence number that make the decoder resync
#: (a device that restarted its sequence without the stream-start packet arriving).
RESYNC_AFTER = 4
#: How many recent sequence numbers are remembered for duplicate / late detection.
_HISTORY = 4096
#: Rate tracking: smoothing factor and the largest deviation from the nominal period accepted.
_TRACK_ALPHA = 0.1
_TRACK_LIMIT = 0.05


@dataclass(frozen=True)
class StreamStats:
    """Counters of a `StreamDecoder` (a snapshot; all counts since construction)."""

    notifications: int = 0
    packets_ok: int = 0
    packets_lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    late: int = 0
    corrupt: int = 0
    truncated: int = 0
    oversized: int = 0
    wrong_version: int = 0
    time_errors: int = 0
    stream_starts: int = 0
    resyncs: int = 0
    overflows: int = 0
    samples_ok: int = 0
    samples_lost: int = 0
    rate_hz_estimate: float = math.nan

    @property
    def packets_bad(self) -> int:
        """Packets that did not decode (corrupt, truncated, oversized, wrong version)."""
        return self.corrupt + self.truncated + self.oversized + self.wrong_version

    @property
    def loss_fraction(self) -> float:
        """Share of samples missing (0 .. 1)."""
        total = self.samples_ok + self.samples_lost
        return self.samples_lost / total if total else 0.0

    def __str__(self) -> str:
        parts = [f"{f.name}={getattr(self, f.name)}" for f in fields(self) if f.name != "rate_hz_estimate"]
        return "StreamStats(" + ", ".join(parts) + f", rate_hz_estimate={self.rate_hz_estimate:.6g})"


_LOST = object()


class StreamDecoder:
    """Turn notifications of the lumbar IMU protocol into samples; see the module docstring.

    Parameters
    ----------
    config
        The device's `DeviceConfig` (scale factors, rate).
    reorder_window
        Packets held back after a sequence gap, waiting for the missing packet (0 .. 64).
    errors
        ``"count"``: bad packets are counted in `stats` and skipped. ``"raise"``: their
        `PacketError` propagates (after being counted).
    """

    def __init__(
        self, config: DeviceConfig, *, reorder_window: int = 3, errors: Literal["count", "raise"] = "count"
    ) -> None:
        if not isinstance(config, DeviceConfig):
            raise GaitInputError(
                "not a device configuration",
                expected="a firmware_protocol.codec.DeviceConfig (decode_config of the configuration characteristic)",
                found=type(config).__name__,
                where=Where(parameter="config"),
            )
        if isinstance(reorder_window, bool) or not isinstance(reorder_window, int) or not 0 <= reorder_window <= 64:
            raise GaitInputError(
                "out of range",
                expected="an integer in 0 .. 64",
                found=repr(reorder_window),
                where=Where(parameter="reorder_window"),
            )
        if errors not in ("count", "raise"):
            raise GaitInputError(
                "invalid value", expected="'count' or 'raise'", found=repr(errors), where=Where(parameter="errors")
            )
        self.reorder_window = reorder_window
        self.errors = errors
        self.clock = DriftFit()
        self._counts: dict[str, int] = {f.name: 0 for f in fields(StreamStats) if f.name != "rate_hz_estimate"}
        self._config = config
        self._period_us = 1e9 / config.rate_mhz
        self._nominal_us = self._period_us
        # sequence state
        self._expected: int | None = None
        self._pending: dict[int, tuple[Packet, float | None]] = {}
        self._recent: OrderedDict[int, object] = OrderedDict()
        self._stale_run = 0
        self._pending_loss = 0
        self._break: str | None = None
        # time state
        self._wrap_us = 0
        self._shift_us = 0
        self._last_u: int | None = None
        self._last_n = 0
        self._last_end_s: float | None = None
        self._last_host: float | None = None

    # -- public ----------------------------------------------------------------------------
    @property
    def config(self) -> DeviceConfig:
        return self._config

    def set_config(self, config: DeviceConfig) -> None:
        """Use a new configuration for the packets that follow (scales and nominal rate)."""
        if not isinstance(config, DeviceConfig):
            raise GaitInputError(
                "not a device configuration",
                expected="a DeviceConfig",
                found=type(config).__name__,
                where=Where(parameter="config"),
            )
        self._config = config
        self._nominal_us = self._period_us = 1e9 / config.rate_mhz

    @property
    def stats(self) -> StreamStats:
        return StreamStats(**self._counts, rate_hz_estimate=1e6 / self._period_us)

    def feed(self, data: bytes | bytearray | memoryview, *, host_time_s: float | None = None) -> DecodedSamples:
        """Decode one notification; return the samples it completes (possibly none).

        In counting mode this never raises on the bytes; a ``host_time_s`` that is not a finite
        number is ignored (as if not given)."""
        self._counts["notifications"] += 1
        if host_time_s is not None and not math.isfinite(host_time_s):
            host_time_s = None
        try:
            packet = decode_packet(data)
        except PacketError as e:
            key = {"version": "wrong_version"}.get(e.reason, e.reason)
            self._counts[key if key in self._counts else "corrupt"] += 1
            if self.errors == "raise":
                raise
            return DecodedSamples.empty()
        out: list[tuple[np.ndarray, Packet, Gap | None]] = []
        self._accept(packet, host_time_s, out)
        return self._chunk(out)

    def feed_many(
        self, notifications: Sequence[bytes | bytearray | memoryview], *, host_times_s: Sequence[float] | None = None
    ) -> DecodedSamples:
        """Decode several notifications in order; the same as `feed` on each."""
        if host_times_s is not None and len(host_times_s) != len(notifications):
            raise GaitInputError(
                "lengths differ",
                expected=f"{len(notifications)} host times (one per notification)",
                found=str(len(host_times_s)),
                where=Where(parameter="host_times_s"),
            )
        hts: Sequence[float | None] = host_times_s if host_times_s is not None else [None] * len(notifications)
        return DecodedSamples.concat(self.feed(n, host_time_s=h) for n, h in zip(notifications, hts))

    def flush(self) -> DecodedSamples:
        """Declare every open hole lost and return the packets held back."""
        out: list[tuple[np.ndarray, Packet, Gap | None]] = []
        while self._pending:
            self._give_up(out)
        return self._chunk(out)

    def reset(self) -> DecodedSamples:
        """The link dropped: flush, then start a new segment with the next packet."""
        chunk = self.flush()
        self._expected = None
        self._recent.clear()
        self._stale_run = 0
        if self._last_u is not None:
            self._break = "reconnect"
        return chunk

    # -- sequence handling -----------------------------------------------------------------
    def _remember(self, seq: int, value: object) -> None:
        self._recent[seq] = value
        self._recent.move_to_end(seq)
        while len(self._recent) > _HISTORY:
            self._recent.popitem(last=False)

    def _accept(self, p: Packet, host: float | None, out: list) -> None:
        s = p.seq
        if p.flags & Flags.STREAM_START:
            if self._expected is not None and self._recent.get(s, None) == p.t_us:
                self._counts["duplicated"] += 1
                return
            while self._pending:
                self._give_up(out)
            if self._last_u is not None:
                self._break = self._break or "restart"
            self._counts["stream_starts"] += 1
            self._recent.clear()
            self._expected = s
            self._stale_run = 0
        if self._expected is None:
            self._expected = s
        d = (s - self._expected) & 0xFFFF
        if d == 0:
            self._stale_run = 0
            if self._pending:
                self._counts["reordered"] += 1
            self._emit(p, host, out)
            self._drain(out)
        elif d < 0x8000:
            self._stale_run = 0
            if s in self._pending:
                self._counts["duplicated"] += 1
                return
            self._pending[s] = (p, host)
            while len(self._pending) > self.reorder_window:
                self._give_up(out)
        else:
            seen = self._recent.get(s)
            if seen is not None and seen is not _LOST and seen == p.t_us:
                self._counts["duplicated"] += 1
                return
            if seen is _LOST:
                self._counts["late"] += 1
                return
            self._stale_run += 1
            if self._stale_run < RESYNC_AFTER:
                self._counts["late"] += 1  # dropped; if a resync follows, these were its first packets
                return
            # the device restarted its numbering and the stream-start packet was lost
            while self._pending:
                self._give_up(out)
            self._counts["resyncs"] += 1
            self._stale_run = 0
            self._recent.clear()
            self._break = self._break or "resync"
            self._expected = s
            self._emit(p, host, out)

    def _drain(self, out: list) -> None:
        while self._expected in self._pending:
            p, host = self._pending.pop(self._expected)
            self._emit(p, host, out)

    def _give_up(self, out: list) -> None:
        expected = self._expected if self._expected is not None else 0
        first = min(self._pending, key=lambda q: (q - expected) & 0xFFFF)
        lost = (first - expected) & 0xFFFF
        for k in range(lost):
            self._remember((expected + k) & 0xFFFF, _LOST)
        self._counts["packets_lost"] += lost
        self._pending_loss += lost
        self._expected = first
        self._drain(out)

    # -- timing ----------------------------------------------------------------------------
    def _emit(self, p: Packet, host: float | None, out: list) -> None:
        u = p.t_us + self._wrap_us
        if self._last_u is not None and self._break is not None and host is not None and self._last_host is not None:
            # after a restart or reconnect the host clock says how far the device clock moved,
            # which resolves wraps of the 32-bit time stamp however long the link was down
            expected_u = self._last_u + (host - self._last_host) * 1e6
            k = round((expected_u - u) / _U32)
            if k > 0:
                self._wrap_us += k * _U32
                u += k * _U32
        elif self._last_u is not None and u < self._last_u - _HALF_U32:
            self._wrap_us += _U32
            u += _U32
        reason = self._break or ("loss" if self._pending_loss else None)
        if self._last_u is not None and u <= self._last_u and self._break is None:
            # time stamps must increase within a stream: a device fault; never emit backwards
            self._counts["time_errors"] += 1
            self._expected = (p.seq + 1) & 0xFFFF
            self._remember(p.seq, p.t_us)
            return
        if self._break is not None and self._last_end_s is not None:
            start_s = (u + self._shift_us) * 1e-6
            if start_s <= self._last_end_s:  # the device clock restarted: continue after the last sample
                host_gap_us = (
                    0.0 if host is None or self._last_host is None else max(0.0, (host - self._last_host) * 1e6)
                )
                self._shift_us += math.ceil((self._last_end_s - start_s) * 1e6 + self._period_us + host_gap_us)
        contiguous = reason is None and not (p.flags & Flags.OVERFLOW)
        if contiguous and self._last_u is not None and self._last_n:
            measured = (u - self._last_u) / self._last_n
            if abs(measured - self._nominal_us) <= _TRACK_LIMIT * self._nominal_us:
                self._period_us += _TRACK_ALPHA * (measured - self._period_us)
        n = p.n_samples
        t = (u + self._shift_us) * 1e-6 + np.arange(n) * (self._period_us * 1e-6)
        gap = None
        if p.flags & Flags.OVERFLOW:
            self._counts["overflows"] += 1
        if self._last_end_s is not None:
            period_s = self._period_us * 1e-6
            missing = max(0, round((t[0] - self._last_end_s) / period_s) - 1)
            if reason is None and missing > 0:
                reason = "overflow" if p.flags & Flags.OVERFLOW else "time"
            if reason is not None:
                gap = Gap(float(self._last_end_s), float(t[0]), self._pending_loss, int(missing), reason)
                if reason in ("loss", "overflow", "time"):  # not pauses between streams
                    self._counts["samples_lost"] += int(missing)
        self._pending_loss = 0
        self._break = None
        self._remember(p.seq, p.t_us)
        self._expected = (p.seq + 1) & 0xFFFF
        self._last_u, self._last_n, self._last_end_s = u, n, float(t[-1])
        if host is not None:
            self._last_host = host
            self.clock.add(float(t[-1]), float(host))
        self._counts["packets_ok"] += 1
        self._counts["samples_ok"] += n
        out.append((t, p, gap))

    def _chunk(self, out: list[tuple[np.ndarray, Packet, Gap | None]]) -> DecodedSamples:
        if not out:
            return DecodedSamples.empty()
        t = np.concatenate([o[0] for o in out])
        acc = np.concatenate([o[1].acc for o in out]).astype(np.float64) * self._config.acc_scale_mps2_per_lsb
        gyr = np.concatenate([o[1].gyr for o in out]).astype(np.float64) * self._config.gyr_scale_rads_per_lsb
        gap_before = np.zeros(t.size, dtype=bool)
        starts = np.cumsum([0] + [o[0].size for o in out[:-1]])
        gap_before[starts[[o[2] is not None for o in out]]] = True
        return DecodedSamples(t, acc, gyr, gap_before, tuple(o[2] for o in out if o[2] is not None))
