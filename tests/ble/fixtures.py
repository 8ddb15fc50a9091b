"""pytest fixtures for the end-to-end BLE tests (import them into a test module).

``ble_stack`` (session scope) starts one private dbus-daemon and one bluezoo for the whole
run; ``ble_adapters`` (per test) adds a fresh pair of emulated adapters and points bleak at
the private bus through ``DBUS_SYSTEM_BUS_ADDRESS``. Tests that use them skip, with the
reason, when ``dbus-daemon`` or bluezoo is missing; they never fail for that.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .stack import AdapterPair, EmulatedBluetooth, unavailable_reason

__all__ = ["ble_adapters", "ble_stack"]


@pytest.fixture(scope="session")
def ble_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatedBluetooth]:
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    stack = EmulatedBluetooth(tmp_path_factory.mktemp("bluez"))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def ble_adapters(ble_stack: EmulatedBluetooth, monkeypatch: pytest.MonkeyPatch) -> Iterator[AdapterPair]:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", ble_stack.bus_address)
    pair = ble_stack.add_adapter_pair()
    try:
        yield pair
    finally:
        ble_stack.remove_adapter_pair(pair)
