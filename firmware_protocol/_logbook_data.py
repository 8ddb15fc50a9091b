"""On-sensor logging: a session's data (records to samples) and a download's verified bytes.

Part of `firmware_protocol.logbook` (import from there): ``PROTOCOL.md`` section 7. A
session's data is the concatenation of *records*, each a version-1 data packet (sequence
0, 1, 2 ..., the first flagged stream start, device overflows flagged); its digest is the
CRC-32 (ISO-HDLC, as ``zlib.crc32``) of all of it. `parse_session_data` turns the records
into raw samples on the device's sampling grid (vectorised), `RangeSet` tracks which bytes
of a download are verified.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from gait.errors import Where

from .codec import MAX_SAMPLES_PER_PACKET, OVERHEAD, SAMPLE_SIZE, Flags, ProtocolError, decode_packets

__all__ = ["LogDataError", "LoggedRun", "RangeSet", "crc32", "parse_session_data"]

_U32 = 1 << 32


class LogDataError(ProtocolError):
    """Session data that are not a valid sequence of records."""

    default_reason = "log_data"


def crc32(data: bytes | bytearray | memoryview, value: int = 0) -> int:
    """CRC-32/ISO-HDLC of ``data`` (``zlib.crc32``; chain with ``value``, the CRC of what came
    before). Check value: ``crc32(b"123456789") == 0xCBF43926``."""
    return zlib.crc32(bytes(data), value) & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------
# downloads: which bytes are verified
# ---------------------------------------------------------------------------------------
@dataclass
class RangeSet:
    """Disjoint, sorted half-open byte ranges ``[start, end)``: the verified parts of a download."""

    ranges: list[tuple[int, int]] = field(default_factory=list)

    def add(self, start: int, end: int) -> None:
        """Mark ``start .. end`` as held (merging with neighbours)."""
        if end <= start:
            return
        out: list[tuple[int, int]] = []
        placed = False
        for a, b in self.ranges:
            if b < start:
                out.append((a, b))
            elif end < a:
                if not placed:
                    out.append((start, end))
                    placed = True
                out.append((a, b))
            else:
                start, end = min(a, start), max(b, end)
        if not placed:
            out.append((start, end))
        self.ranges = sorted(out)

    @property
    def covered(self) -> int:
        """Bytes held."""
        return sum(b - a for a, b in self.ranges)

    def missing(self, size: int) -> list[tuple[int, int]]:
        """The ranges of ``0 .. size`` not held, in order."""
        out, pos = [], 0
        for a, b in self.ranges:
            if a >= size:
                break
            if a > pos:
                out.append((pos, a))
            pos = max(pos, b)
        if pos < size:
            out.append((pos, size))
        return out

    def complete(self, size: int) -> bool:
        return not self.missing(size)


# ---------------------------------------------------------------------------------------
# session data: records -> samples on the device's sampling grid
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LoggedRun:
    """The samples of a logged session, as raw counts on the device's sampling grid.

    Attributes
    ----------
    acc, gyr
        Raw int16 counts, ``(N, 3)`` each.
    index
        ``(N,)`` int64 sample index on the device's grid: 0 for the first sample, consecutive
        within a contiguous stretch, jumping by ``k + 1`` over ``k`` samples the device lost.
    gaps
        ``(index_before, index_after, samples_lost, reason)`` per hole (``"overflow"``: the
        record was flagged `Flags.OVERFLOW`; ``"time"``: the time stamps jump without it).
    t_first_us
        Device time of the first sample (as in the records, 0 .. 2^32 - 1).
    n_records
        Records in the data.
    device_rate_hz
        Samples per second of device time, from the record time stamps over the contiguous
        stretches (NaN with fewer than two records).
    """

    acc: np.ndarray
    gyr: np.ndarray
    index: np.ndarray
    gaps: tuple[tuple[int, int, int, str], ...]
    t_first_us: int
    n_records: int
    device_rate_hz: float

    @property
    def n_samples(self) -> int:
        return int(self.acc.shape[0])


def _record_bounds(data: bytes) -> list[int]:
    """Start offsets of the records (one step per record: the count byte gives each length)."""
    starts = []
    pos, size = 0, len(data)
    while pos < size:
        if size - pos < OVERHEAD + SAMPLE_SIZE:
            raise LogDataError(
                "truncated record",
                expected=f"a record of at least {OVERHEAD + SAMPLE_SIZE} bytes",
                found=f"{size - pos} bytes left at offset {pos}",
                where=Where(parameter="data"),
            )
        n = data[pos + 8]
        if not 1 <= n <= MAX_SAMPLES_PER_PACKET:
            raise LogDataError(
                "impossible sample count in a record",
                expected=f"1 .. {MAX_SAMPLES_PER_PACKET}",
                found=f"{n} at offset {pos + 8}",
                where=Where(parameter="data"),
            )
        starts.append(pos)
        pos += OVERHEAD + SAMPLE_SIZE * n
    if pos != size:
        raise LogDataError(
            "truncated record",
            expected=f"records ending at byte {size}",
            found=f"the last record ends at {pos}",
            where=Where(parameter="data"),
        )
    return starts


def parse_session_data(data: bytes | bytearray | memoryview, *, rate_hz: float) -> LoggedRun:
    """Samples of a session's data (its records), vectorised over the records.

    Parameters
    ----------
    data
        The session's bytes (all of them, verified).
    rate_hz
        Nominal sampling rate (the list entry's): the period used before the time stamps
        show the real one, and to count samples lost in a hole.

    Raises
    ------
    LogDataError
        For anything that is not a clean sequence of records: a record that does not decode,
        a sequence number out of order, a stream start after the first record, time going
        backwards. Such data are never turned into samples.
    """
    raw = bytes(data)
    if not (math.isfinite(rate_hz) and rate_hz > 0):
        raise LogDataError("bad rate", expected="a rate > 0 Hz", found=repr(rate_hz), where=Where(parameter="rate_hz"))
    if not raw:
        z = np.zeros((0, 3), dtype=np.int16)
        return LoggedRun(z, z.copy(), np.zeros(0, dtype=np.int64), (), 0, 0, math.nan)
    starts = _record_bounds(raw)
    ends = [*starts[1:], len(raw)]
    batch = decode_packets([raw[a:b] for a, b in zip(starts, ends)], errors="mark")
    if not batch.ok.all():
        i = int(np.flatnonzero(~batch.ok)[0])
        raise LogDataError(
            "a record does not decode",
            expected="valid records (CRC, length)",
            found=f"record {i} at offset {starts[i]}: {batch.reason[i]}",
            where=Where(parameter="data"),
        )
    m = batch.n_packets
    seq = batch.seq.astype(np.int64)
    bad_seq = np.flatnonzero(seq != (np.arange(m) & 0xFFFF))
    if bad_seq.size:
        i = int(bad_seq[0])
        raise LogDataError(
            "record out of sequence",
            expected=f"sequence number {i & 0xFFFF}",
            found=f"{seq[i]} (record {i} at offset {starts[i]})",
            where=Where(parameter="data"),
        )
    flags = batch.flags.astype(np.int64)
    starts_flag = np.flatnonzero(flags & Flags.STREAM_START)
    if starts_flag.size != 1 or starts_flag[0] != 0:
        raise LogDataError(
            "stream-start flag misplaced",
            expected="the first record, and only it, flagged stream start",
            found=f"records {starts_flag.tolist()[:5]}",
            where=Where(parameter="data"),
        )
    n = batch.count
    t = batch.t_us.astype(np.int64)
    dt = (np.diff(t) % _U32).astype(np.int64)  # unwrapped steps between records
    period_nominal = 1e6 / rate_hz
    overflow = (flags[1:] & Flags.OVERFLOW) != 0
    clean = ~overflow
    steps_n = n[:-1]
    if clean.any() and steps_n[clean].sum() > 0:
        period = float(dt[clean].sum() / steps_n[clean].sum())
        if not 0.95 * period_nominal <= period <= 1.05 * period_nominal:
            period = period_nominal  # a clock that far off is not measured here
    else:
        period = period_nominal
    lost = np.rint((dt - steps_n * period) / period).astype(np.int64)
    if np.any(lost < 0):
        i = int(np.flatnonzero(lost < 0)[0]) + 1
        raise LogDataError(
            "time goes backwards",
            expected="record time stamps at least one record's length apart",
            found=f"record {i} at offset {starts[i]}",
            where=Where(parameter="data"),
        )
    lost = np.where(overflow | (lost > 0), lost, 0)
    rec_index = np.concatenate([[0], np.cumsum(steps_n + lost)])
    index = np.repeat(rec_index, n) + batch.sample_index
    gaps = tuple(
        (
            int(rec_index[i + 1] - lost[i] - 1),
            int(rec_index[i + 1]),
            int(lost[i]),
            "overflow" if overflow[i] else "time",
        )
        for i in np.flatnonzero(lost > 0)
    )
    good_pairs = clean & (lost == 0)
    rate_dev = float(steps_n[good_pairs].sum() * 1e6 / dt[good_pairs].sum()) if good_pairs.any() else math.nan
    return LoggedRun(
        acc=batch.acc,
        gyr=batch.gyr,
        index=index.astype(np.int64),
        gaps=gaps,
        t_first_us=int(t[0]),
        n_records=m,
        device_rate_hz=rate_dev,
    )
