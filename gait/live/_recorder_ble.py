"""The recorder's Bluetooth transport: find the sensor, connect, configure, reconnect.

Connect with the `BLEDevice` from the scan; the link (`gait.live._links.ProfileLink`, the
same for every sensor) configures it through its profile, then subscribe and start. After a
link loss: reconnect with exponential backoff (0.5 s doubling to 8 s, refreshed by a scan
when BlueZ forgot the device), subscribe again, and resume the stream if the sensor kept it
running or start it again if the sensor reset. A sensor that stays connected but sends
nothing for ``stall_timeout_s`` is treated as a link loss. The device is always disconnected
in ``finally``. The functions act on a `gait.live.Recorder` (its state and data path).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import TYPE_CHECKING, Any

from bleak import BleakClient
from bleak.exc import BleakDeviceNotFoundError, BleakError

from firmware_protocol.profiles import get_profile

from ..errors import GaitInputError, Where
from ._links import Link, ProfileLink, SensorRefused
from ._record_types import RecordingError
from ._scan import BluetoothUnavailable, FoundDevice, find_again, scan

if TYPE_CHECKING:
    from ._recorder import Recorder

__all__ = ["LINK_ERRORS", "find_sensor", "link_loop", "make_link"]

logger = logging.getLogger("gait.live._recorder")

#: Errors a BLE operation can end with that mean "the link or the device failed", never bugs.
LINK_ERRORS = (BleakError, TimeoutError, EOFError, ConnectionError)


def make_link(rec: Recorder, found: FoundDevice) -> Link:
    cfg = rec.config
    kw = dict(
        rate_hz=cfg.rate_hz, acc_range_g=cfg.acc_range_g, gyr_range_dps=cfg.gyr_range_dps, describe=rec._describe()
    )
    assert found.protocol is not None
    return ProfileLink(get_profile(found.protocol), **kw)


async def find_sensor(rec: Recorder) -> FoundDevice:
    cfg = rec.config
    want = cfg.device

    def good(d: FoundDevice) -> bool:
        return d.matches(want) if want else d.supported

    rec.status = f"scanning for {want or 'a supported sensor'}"
    try:
        seen = await scan(
            timeout_s=cfg.scan_timeout_s,
            adapter=cfg.adapter,
            backend=cfg.backend,
            until=good,
            linger_s=0.0 if want else 1.0,  # without a name: listen a little longer, take the strongest
        )
    except BluetoothUnavailable as e:
        raise RecordingError(str(e)) from None
    hits = [d for d in seen if good(d)]
    if hits:
        if want and not hits[0].supported:
            raise GaitInputError(
                "not a supported sensor",
                expected="a sensor speaking a supported protocol (see `gait devices`)",
                found=f"{hits[0].name or 'unnamed'} ({hits[0].address}) advertising {list(hits[0].service_uuids) or 'no services'}",
                where=Where(parameter="device"),
            )
        return hits[0]
    listing = ", ".join(f"{d.name or '?'} ({d.address}{', ' + d.protocol if d.protocol else ''})" for d in seen[:8])
    if want:
        raise GaitInputError(
            "sensor not found",
            expected=f"a device named or addressed {want!r} advertising within {cfg.scan_timeout_s:g} s",
            found=listing or "no device at all",
            where=Where(parameter="device"),
            hint="Check that the sensor is on, charged and not connected to another app (a phone); `gait devices` lists what is in range",
        )
    raise RecordingError(
        f"no supported sensor found in {cfg.scan_timeout_s:g} s"
        + (f" (devices seen: {listing})" if listing else " (no Bluetooth device advertised at all)")
        + ". Switch the sensor on, make sure no phone app is connected to it, bring it closer, "
        "or name it with --device"
    )


async def _rescan(rec: Recorder) -> FoundDevice | None:
    assert rec.found is not None
    cfg = rec.config
    try:
        return await find_again(
            rec.found.address, timeout_s=min(cfg.scan_timeout_s, 5.0), adapter=cfg.adapter, backend=cfg.backend
        )
    except BluetoothUnavailable as e:
        rec.message = str(e)
        return None


async def link_loop(rec: Recorder) -> None:
    cfg = rec.config
    attempt = 0
    while not rec._stop.is_set():
        got_data_before = rec._last_data
        try:
            await _connected_session(rec)
        except BleakDeviceNotFoundError:
            rec.message = "the sensor is not known to the Bluetooth stack any more; scanning"
            found = await _rescan(rec)
            if found is not None:
                rec.found = found
        except LINK_ERRORS as e:
            rec.message = f"connection failed: {type(e).__name__}: {e}".rstrip(": ")
            logger.info("%s", rec.message)
        if rec._stop.is_set():
            return
        if rec._last_data != got_data_before:
            attempt = 0
        since = time.monotonic() - (rec._last_data if rec._last_data is not None else rec._t_start)
        if since > cfg.give_up_s:
            raise rec._silent(since)
        delay = min(8.0, 0.5 * 2**attempt)
        attempt += 1
        rec.status = f"link lost; reconnecting in {delay:.1f} s"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(rec._stop.wait(), delay)


async def _connected_session(rec: Recorder) -> None:
    cfg = rec.config
    assert rec.found is not None and rec.found.device is not None
    lost = asyncio.Event()
    kwargs: dict[str, Any] = {"timeout": cfg.connect_timeout_s}
    if cfg.adapter:
        kwargs["bluez"] = {"adapter": cfg.adapter}
    if cfg.backend.client is not None:
        kwargs["backend"] = cfg.backend.client
    client = BleakClient(rec.found.device, disconnected_callback=lambda _c: lost.set(), **kwargs)
    rec.status = f"connecting to {rec._describe()}"
    await client.connect()
    clean = False
    try:
        rec._connections += 1
        if rec._connections > 1:
            rec._reconnects += 1
        link = rec._link
        assert link is not None
        rec._process(link.link_lost(time.monotonic()), time.monotonic())
        try:
            need_start = await link.configure(client, resume_ok=not rec._restart_stream)
            rec._restart_stream = False
            for uuid in link.notify_uuids:
                await client.start_notify(uuid, functools.partial(rec._on_notify, uuid))
            if need_start:
                await link.start(client)
        except SensorRefused as e:
            raise RecordingError(str(e)) from None
        rec.status = "recording"
        rec.message = ""
        t_session = time.monotonic()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rec._stop.wait(), 0.1)
            if rec._stop.is_set():
                clean = True
                return
            if lost.is_set() or not client.is_connected:
                rec.message = "the link dropped"
                return
            now = time.monotonic()
            if cfg.duration_s is not None and rec._first_host is not None and now - rec._first_host >= cfg.duration_s:
                rec._stopped_by = "duration"
                rec._stop.set()
                clean = True
                return
            last = rec._last_notify if rec._last_notify is not None and rec._last_notify > t_session else t_session
            if now - last > cfg.stall_timeout_s:
                rec._stalls += 1
                rec._restart_stream = True
                rec.message = f"no data for {now - last:.1f} s; reconnecting"
                return
    finally:
        with contextlib.suppress(*LINK_ERRORS, SensorRefused):
            if clean and client.is_connected and rec._link is not None:
                await asyncio.wait_for(rec._link.stop(client), 2.0)
        with contextlib.suppress(*LINK_ERRORS):
            await asyncio.wait_for(client.disconnect(), 1.0 if rec._giving_up else 10.0)
