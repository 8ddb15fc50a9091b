"""The command line's allocator setting (`gait._allocator`): set where glibc is, a no-op elsewhere."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from gait._allocator import tune_allocator

GLIBC = sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None


@pytest.mark.skipif(not GLIBC, reason="needs glibc (Linux)")
def test_tune_allocator_sets_both_thresholds_on_glibc():
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent


def test_tune_allocator_is_a_no_op_off_linux(monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    assert tune_allocator() is False


def test_importing_gait_leaves_the_allocator_alone():
    """Only the command line tunes it: importing the library does not call mallopt."""
    code = "import sys, gait, gait.core.pipeline; print('gait._allocator' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
