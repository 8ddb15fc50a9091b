"""Running ``gait simulate-device`` as a separate process on an emulated adapter (end-to-end tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .stack import AdapterPair, EmulatedBluetooth

REPO = Path(__file__).resolve().parents[2]


@dataclass
class SensorProcess:
    """A ``gait simulate-device`` process and what it logged."""

    proc: subprocess.Popen[str]
    sent_log: Path
    output: str = ""
    samples: tuple[np.ndarray, np.ndarray, np.ndarray, float] | None = field(default=None, repr=False)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (a clean stop: unregister, write the sent log), then collect the output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        self.output = out
        if self.sent_log.exists():
            with np.load(self.sent_log) as z:
                self.samples = (z["n"], z["acc"], z["gyr"], float(z["rate_hz"]))


def gait_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "gait.cli", *args]


@contextlib.contextmanager
def sensor_process(
    stack: EmulatedBluetooth, pair: AdapterPair, tmp: Path, *args: str, timeout_s: float = 30.0
) -> Iterator[SensorProcess]:
    """Start ``gait simulate-device`` on the pair's peripheral adapter; stopped at exit."""
    ready = tmp / f"sensor-{pair.peripheral}.ready"
    sent = tmp / f"sensor-{pair.peripheral}.npz"
    cmd = gait_command(
        "simulate-device",
        "--adapter",
        pair.peripheral,
        "--ready-file",
        str(ready),
        "--sent-log",
        str(sent),
        *args,
    )
    env = stack.env()
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sp = SensorProcess(proc, sent)
    try:
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            if proc.poll() is not None:
                out = proc.communicate()[0]
                raise RuntimeError(f"simulate-device exited with {proc.returncode}:\n{out}")
            if time.monotonic() > deadline:
                raise RuntimeError("simulate-device did not become ready")
            time.sleep(0.05)
        yield sp
    finally:
        sp.stop()


def assert_file_equals_sent(
    path: Path,
    sent: tuple[np.ndarray, np.ndarray, np.ndarray, float],
    *,
    rate_hz: float,
    gaps: tuple[tuple[float, float], ...] | list[tuple[float, float]] = (),
) -> int:
    """The recorded file equals what the sensor delivered, except for declared gaps.

    Every recorded sample was sent, at the same place on the sampling grid, with bit-identical
    values; every sample sent (up to the last recorded one) but not in the file lies inside a
    gap the recorder declared (``gaps``: ``(start_s, end_s)`` in file time), e.g. a
    notification sent as the link went down. Returns the number of samples recorded.
    """
    import warnings

    from gait.errors import GaitDataWarning
    from gait.io import read_canonical_session

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", GaitDataWarning)
        s = read_canonical_session(path)
    assert not any("jitter" in str(w.message) for w in caught), "recorded times must be on the uniform grid"
    n_sent, acc, gyr, _ = sent
    n_rel = n_sent - n_sent[0]
    n_rec = np.rint(s.t * rate_hz).astype(np.int64)
    assert n_rec.size > 0 and n_rec[0] == 0
    pos = np.searchsorted(n_rel, n_rec)
    assert np.all(pos < n_rel.size) and np.array_equal(n_rel[pos], n_rec), (
        "every recorded sample was sent, in its place"
    )
    assert np.array_equal(s.acc, acc[pos]), "bit-identical acceleration"
    assert s.gyr is not None and np.array_equal(s.gyr, gyr[pos]), "bit-identical angular rate"
    missing = np.setdiff1d(n_rel[n_rel <= n_rec[-1]], n_rec) / rate_hz
    inside = np.zeros(missing.size, dtype=bool)
    for a, b in gaps:
        inside |= (missing > a) & (missing < b)
    assert inside.all(), f"samples missing outside any declared gap, at t = {missing[~inside][:5]} s"
    return int(n_rec.size)
