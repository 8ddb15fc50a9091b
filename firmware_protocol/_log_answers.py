"""The virtual sensor's answers on the Log characteristic, and the faults of its downloads.

Part of `firmware_protocol.virtual_logging` (import from there): GET_CLOCK, LOG_LIST and
LOG_READ answer with a sequence of Log messages (``PROTOCOL.md`` section 7), sent one at a
time by `serve_answers` with the faults of a `LogFaultPlan` (blocks dropped or corrupted, the
link dropped after so many bytes) and counted in `SyncServed`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import codec
from . import logbook as lb
from ._flash_store import FlashStore, LoggedSession, VirtualClock
from .virtual_peripheral import Transport

if TYPE_CHECKING:
    from .virtual_logging import LoggingSensor

__all__ = ["LogFaultPlan", "SyncServed", "clock_answer", "list_answer", "read_answer", "serve_answers"]


@dataclass(frozen=True)
class LogFaultPlan:
    """Faults of a `LoggingSensor`'s downloads (counts are over the sensor's lifetime).

    Attributes
    ----------
    disconnect_after_bytes
        Drop the link when the block bytes served reach each of these totals (once each).
    corrupt_blocks
        Flip a byte of the k-th block served (0 = the first), once each.
    drop_blocks
        Do not send the k-th block served (a lost notification), once each.
    stop_serving_after_bytes
        After this many block bytes, answer no LOG_READ any more (a sensor whose battery dies
        mid-download): the host must keep what it verified.
    """

    disconnect_after_bytes: tuple[int, ...] = ()
    corrupt_blocks: tuple[int, ...] = ()
    drop_blocks: tuple[int, ...] = ()
    stop_serving_after_bytes: int | None = None


@dataclass
class SyncServed:
    """What a `LoggingSensor` served: counters for tests and benchmarks."""

    reads: int = 0
    blocks: int = 0
    block_bytes: int = 0
    corrupted: int = 0
    dropped: int = 0
    disconnects: int = 0
    erased: list[int] = field(default_factory=list)
    refused_erases: int = 0
    read_ranges: list[tuple[int, int, int]] = field(default_factory=list)  # (session, offset, end)


def clock_answer(clock: VirtualClock) -> Iterator[bytes | None]:
    """GET_CLOCK's answer: one CLOCK message."""
    c = clock
    yield lb.encode_message(
        lb.LogClock(
            now_utc_us=c.utc_us(),
            set_utc_us=c.set_utc_us,
            flags=lb.ClockFlags.SET if c.is_set else lb.ClockFlags.NONE,
        )
    )


def list_answer(store: FlashStore) -> Iterator[bytes | None]:
    """LOG_LIST's answer: one LIST_ENTRY per session, then LIST_END."""
    for s in list(store.sessions):
        yield lb.encode_message(s.entry)
    st = store
    yield lb.encode_message(
        lb.LogListEnd(n_sessions=len(st.sessions), capacity_bytes=st.capacity_bytes, free_bytes=st.free_bytes)
    )


def read_answer(s: LoggedSession, offset: int, end: int, *, att_mtu: int) -> Iterator[bytes | None]:
    """LOG_READ's answer: the BLOCKs of ``offset .. end`` at ATT MTU ``att_mtu``, then READ_END."""
    size = lb.block_payload_size(att_mtu)
    pos, seq, blocks = offset, 0, 0
    while pos < end:
        n = min(size, end - pos)
        yield lb.encode_message(
            lb.LogBlock(
                session_id=s.entry.session_id, seq=seq & 0xFFFF, offset=pos, payload=bytes(s.data[pos : pos + n])
            )
        )
        pos += n
        seq += 1
        blocks += 1
    yield lb.encode_message(
        lb.LogReadEnd(session_id=s.entry.session_id, offset=offset, end=end, blocks=blocks & 0xFFFF)
    )


async def serve_answers(sensor: LoggingSensor, transport: Transport, stop: asyncio.Event) -> None:
    """Send the answer in progress, one message at a time, with the `LogFaultPlan`'s faults."""
    drain = getattr(transport, "drain", None)  # backpressure, as a radio's transmit queue gives
    sent = 0
    while not stop.is_set():
        answer = sensor._answer
        if answer is None:
            sensor._answer_wake.clear()
            await sensor._answer_wake.wait()
            continue
        msg = next(answer, None)
        if msg is None or sensor._answer is not answer:
            if sensor._answer is answer:
                sensor._answer = None
            continue
        if not transport.notifying(codec.LOG_UUID):
            sensor._answer = None
            continue
        if msg[0] == lb.MessageKind.BLOCK:
            k = sensor.served.blocks
            sensor.served.blocks += 1
            payload = len(msg) - lb.BLOCK_OVERHEAD
            if k in sensor._drop_left:
                sensor._drop_left.discard(k)
                sensor.served.dropped += 1
                continue
            if k in sensor._corrupt_left:
                sensor._corrupt_left.discard(k)
                b = bytearray(msg)
                b[12 + payload // 2] ^= 0x5A
                msg = bytes(b)
                sensor.served.corrupted += 1
            sensor.served.block_bytes += payload
            transport.notify(codec.LOG_UUID, msg)
            left = sensor._disconnects_left
            if left and sensor.served.block_bytes >= left[0]:
                left.pop(0)
                sensor.served.disconnects += 1
                sensor._answer = None
                await transport.disconnect_centrals()
        else:
            transport.notify(codec.LOG_UUID, msg)
        sent += 1
        if drain is not None and sent % sensor.drain_every == 0:
            with contextlib.suppress(Exception):  # a failed ping is only a missed pause
                await drain()
        else:
            await asyncio.sleep(0)
