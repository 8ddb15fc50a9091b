"""Live recording over BLE (work in progress)."""
