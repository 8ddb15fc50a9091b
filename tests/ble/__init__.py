"""Helpers for the BLE tests: an emulated BlueZ on a private D-Bus, and a fake bleak backend."""
