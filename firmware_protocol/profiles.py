"""Device profiles of every supported sensor, and `identify` for the ``gait devices`` scanner.

>>> from firmware_protocol.profiles import identify
>>> identify("Polar Sense B5A3C42F", []).key
'polar_verity_sense'
>>> identify(None, ["0000ffe5-0000-1000-8000-00805f9a34fb"]).key
'witmotion_wt901ble'
>>> identify("Heart strap", ["180d"]) is None
True

A profile (`firmware_protocol.devices.DeviceProfile`) holds the UUIDs to subscribe and write
to, the name patterns, the start and stop command bytes, the supported rates, the scale
factors and a decoder factory (``profile.make_decoder(rate_hz=...)``).
"""

from __future__ import annotations

from collections.abc import Iterable

from gait.errors import GaitInputError, Where

from .devices import lumbar, metawear, movesense, polar, witmotion
from .devices._base import DeviceProfile

__all__ = ["PROFILES", "get_profile", "identify"]

#: All profiles, in the order `identify` prefers them on a tie.
PROFILES: tuple[DeviceProfile, ...] = (
    lumbar.PROFILE,
    polar.VERITY_PROFILE,
    polar.H10_PROFILE,
    metawear.PROFILE,
    movesense.PROFILE,
    witmotion.PROFILE,
)


def get_profile(key: str) -> DeviceProfile:
    """The profile called ``key`` (e.g. ``"movesense"``)."""
    for p in PROFILES:
        if p.key == key:
            return p
    raise GaitInputError(
        "unknown device profile",
        expected="one of " + ", ".join(repr(p.key) for p in PROFILES),
        found=repr(key),
        where=Where(parameter="key"),
    )


def identify(name: str | None, service_uuids: Iterable[str] = ()) -> DeviceProfile | None:
    """The profile of an advertising device, or None when it is not a supported sensor.

    Parameters
    ----------
    name
        Advertised local name (may be None: many devices put it only in the scan response).
    service_uuids
        Advertised service UUIDs (16-, 32- or 128-bit text, any case).

    Notes
    -----
    A name match scores 2 and a service match 1; the highest total wins, ties go to the
    earlier profile in `PROFILES`. Polar's Verity Sense and H10 share the PMD service, so
    only the name tells them apart (Polar devices advertise their name).
    """
    uuids = list(service_uuids)
    best, best_score = None, 0
    for p in PROFILES:
        score = 2 * p.matches_name(name) + p.matches_services(uuids)
        if score > best_score:
            best, best_score = p, score
    return best
