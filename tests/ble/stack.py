"""An emulated Bluetooth stack for tests and benchmarks: a private dbus-daemon and bluezoo.

`EmulatedBluetooth` starts ``dbus-daemon`` with a system-bus-like configuration (written to
a temporary folder, policy allowing everything) and the ``bluezoo`` BlueZ emulator on it
(through `tests/ble/bluezoo_patched.py`, which fixes the emulator's reconnect behaviour).
Adapters are added in pairs: one for the peripheral (our virtual sensor), one for the central
(bleak). Point bleak at the bus with ``DBUS_SYSTEM_BUS_ADDRESS=stack.bus_address``.

Nothing here needs root or Bluetooth hardware; only the ``dbus-daemon`` binary (Debian
package ``dbus``, installed by ``.ci/setup-system.sh``) and the ``bluezoo`` Python package.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

HERE = Path(__file__).resolve().parent
#: bluezoo versions whose internals `bluezoo_patched.py` knows.
SUPPORTED_BLUEZOO = "1.0."

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <!-- a private bus shaped like the system bus, for an emulated BlueZ; allows everything -->
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="signal"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="signal"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="max_replies_per_connection">100000</limit>
  <limit name="max_incoming_bytes">1000000000</limit>
  <limit name="max_outgoing_bytes">1000000000</limit>
</busconfig>
"""


def unavailable_reason() -> str | None:
    """Why the emulated stack cannot run here (``None`` when it can)."""
    if not sys.platform.startswith("linux"):
        return "the emulated BlueZ stack needs Linux"
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon not found (install the Debian package 'dbus', or run .ci/setup-system.sh as root)"
    if importlib.util.find_spec("bluezoo") is None:
        return "the bluezoo package is not installed (pip install -e '.[dev]')"
    version = importlib.metadata.version("bluezoo")
    if not version.startswith(SUPPORTED_BLUEZOO):
        return (
            f"bluezoo {version} is installed, but tests/ble/bluezoo_patched.py patches the internals of "
            f"bluezoo {SUPPORTED_BLUEZOO}x; install bluezoo=={SUPPORTED_BLUEZOO}2 or update the patches"
        )
    probe = subprocess.run(
        [sys.executable, "-c", "import sdbus"], capture_output=True, text=True, timeout=60, check=False
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return f"bluezoo's D-Bus library (sdbus) cannot load: {last}"
    return None


@dataclass(frozen=True)
class AdapterPair:
    """Two emulated adapters: the peripheral's and the central's."""

    peripheral: str  # e.g. "hci0"
    peripheral_address: str
    central: str  # e.g. "hci1"
    central_address: str
    ids: tuple[int, int]


class EmulatedBluetooth:
    """A private dbus-daemon with bluezoo on it; a context manager.

    Parameters
    ----------
    workdir
        Folder for the bus socket, its configuration and the logs.
    scan_interval_s
        How often bluezoo's emulated scan reports advertisers (integer seconds).
    """

    def __init__(self, workdir: str | os.PathLike[str], *, scan_interval_s: int = 1) -> None:
        self.workdir = Path(workdir)
        self.scan_interval_s = int(scan_interval_s)
        self.socket = self.workdir / "system_bus_socket"
        self.bus_address = f"unix:path={self.socket}"
        self._dbus: subprocess.Popen[bytes] | None = None
        self._zoo: subprocess.Popen[bytes] | None = None
        self._logs: list[object] = []
        self._next_id = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "bus.conf"
        conf.write_text(_CONFIG.format(socket=self.socket))
        dlog = open(self.workdir / "dbus-daemon.log", "wb")  # closed in stop()
        self._logs.append(dlog)
        self._dbus = subprocess.Popen(
            ["dbus-daemon", f"--config-file={conf}", "--nofork", "--nopidfile"],
            stdout=dlog,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout_s
        while not self.socket.exists():
            self._check_alive(self._dbus, "dbus-daemon", "dbus-daemon.log")
            if time.monotonic() > deadline:
                raise RuntimeError("dbus-daemon did not create its socket")
            time.sleep(0.02)
        zlog = open(self.workdir / "bluezoo.log", "wb")  # closed in stop()
        self._logs.append(zlog)
        self._zoo = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "bluezoo_patched.py"),
                "--auto-enable",
                "--scan-interval",
                str(self.scan_interval_s),
            ],
            stdout=zlog,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env(),
        )
        while not asyncio.run(self._has_owner("org.bluez")):
            self._check_alive(self._zoo, "bluezoo", "bluezoo.log")
            if time.monotonic() > deadline:
                raise RuntimeError(f"bluezoo did not start; see {self.workdir / 'bluezoo.log'}")
            time.sleep(0.05)

    def stop(self) -> None:
        for proc in (self._zoo, self._dbus):
            if proc is None:
                continue
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._zoo = self._dbus = None
        for fh in self._logs:
            fh.close()  # type: ignore[attr-defined]
        self._logs.clear()

    def __enter__(self) -> EmulatedBluetooth:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment whose system bus is the private one."""
        env = dict(os.environ if base is None else base)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.bus_address
        return env

    def log_tail(self, n: int = 40) -> str:
        """The last lines of bluezoo's log, for failure messages."""
        path = self.workdir / "bluezoo.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])

    # -- adapters -----------------------------------------------------------------------
    def add_adapter_pair(self) -> AdapterPair:
        """Add two powered adapters (fresh addresses, so no state leaks between tests)."""
        a, b = self._next_id, self._next_id + 1
        self._next_id += 2
        pa = f"00:00:00:A0:00:{a:02X}"
        ca = f"00:00:00:C0:00:{b:02X}"
        asyncio.run(self._bluezoo_call("AddAdapter", "ys", [a, pa]))
        asyncio.run(self._bluezoo_call("AddAdapter", "ys", [b, ca]))
        asyncio.run(self._wait_powered([f"/org/bluez/hci{a}", f"/org/bluez/hci{b}"]))
        return AdapterPair(
            peripheral=f"hci{a}", peripheral_address=pa, central=f"hci{b}", central_address=ca, ids=(a, b)
        )

    def remove_adapter_pair(self, pair: AdapterPair) -> None:
        for i in pair.ids:
            with contextlib.suppress(RuntimeError):
                asyncio.run(self._bluezoo_call("RemoveAdapter", "y", [i]))

    # -- internals ----------------------------------------------------------------------
    @staticmethod
    def _check_alive(proc: subprocess.Popen[bytes], name: str, log: str) -> None:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with status {proc.returncode}; see its log {log}")

    async def _has_owner(self, name: str) -> bool:
        bus = await MessageBus(bus_address=self.bus_address).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.freedesktop.DBus",
                    path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus",
                    member="NameHasOwner",
                    signature="s",
                    body=[name],
                )
            )
            return bool(reply is not None and reply.message_type == MessageType.METHOD_RETURN and reply.body[0])
        finally:
            bus.disconnect()
            await bus.wait_for_disconnect()

    async def _bluezoo_call(self, member: str, signature: str, body: list[object]) -> None:
        bus = await MessageBus(bus_address=self.bus_address).connect()
        try:
            reply = await bus.call(
                Message(
                    destination="org.bluez",
                    path="/org/bluezoo",
                    interface="org.bluezoo.Manager1",
                    member=member,
                    signature=signature,
                    body=body,
                )
            )
            if reply is None or reply.message_type == MessageType.ERROR:
                raise RuntimeError(f"bluezoo {member}{tuple(body)} failed: {reply.error_name if reply else 'no reply'}")
        finally:
            bus.disconnect()
            await bus.wait_for_disconnect()

    async def _wait_powered(self, paths: list[str], timeout_s: float = 10.0) -> None:
        bus = await MessageBus(bus_address=self.bus_address).connect()
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                reply = await bus.call(
                    Message(
                        destination="org.bluez",
                        path="/",
                        interface="org.freedesktop.DBus.ObjectManager",
                        member="GetManagedObjects",
                    )
                )
                assert reply is not None
                objs = reply.body[0]
                powered = [
                    objs.get(p, {}).get("org.bluez.Adapter1", {}).get("Powered", Variant("b", False)).value
                    for p in paths
                ]
                if all(powered):
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"adapters {paths} not powered after {timeout_s} s")
                await asyncio.sleep(0.02)
        finally:
            bus.disconnect()
            await bus.wait_for_disconnect()
