"""A phone running phyphox with remote access, made of software, for the recorder's tests.

`VirtualPhone` serves phyphox's documented remote interface (the "Remote-interface
communication" page and the app's OpenAPI description) on 127.0.0.1 with the standard library's
HTTP server: ``/config`` (an experiment with the accelerometer with g and the gyroscope, buffer
names as phyphox's simple-experiment creator writes them), ``/meta``, ``/time`` (START and
PAUSE events, experiment time and system time), ``/control?cmd=start|stop|clear`` and
``/get`` with the documented threshold forms (``full``, a number, ``number|reference``; the
server's nudge of the threshold by one unit in the eighth significant digit; values with 8
significant digits as ``1.2345678E1``; ``null`` for non-finite values; the status object).

It plays a session as a phone clipped at the back would measure it: each sensor delivers at
its own slightly irregular rate (about 410 Hz and 395 Hz, 3 % jitter), the values being the
session interpolated at the sample times on the phone's timeline (the runner keeps moving while
the phone is paused, so a pause skips that part of the run). Everything delivered is logged
(`delivered`) so a test can compute exactly what a correct client must write. Faults: `pause` /
`resume` (as the user pressing pause and play) and `offline` (the phone drops off the network:
connections are closed without an answer).
"""

from __future__ import annotations

import json
import math
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from gait.session import Session

ACC = ("accX", "accY", "accZ")
GYR = ("gyrX", "gyrY", "gyrZ")


def _fmt(v: float) -> str:
    """phyphox's number format ("0.#######E0": 8 significant digits, e.g. 1.2345678E1)."""
    if not math.isfinite(v):
        return "null"
    if v == 0:
        return "0E0"
    m, e = f"{v:.7E}".split("E")
    m = m.rstrip("0").rstrip(".")
    return f"{m}E{int(e)}"


class VirtualPhone:
    """See the module docstring. Use as a context manager (`serve`)."""

    def __init__(self, session: Session, *, acc_hz: float = 410.0, gyr_hz: float = 395.0, seed: int = 0) -> None:
        self.session = session
        self.rates = {"acc": acc_hz, "gyr": gyr_hz}
        self.rng = np.random.default_rng(seed)
        self.lock = threading.Lock()
        self.session_id = "a1b2c3"
        self.events: list[dict[str, Any]] = []
        self.measuring = False
        self._exp0 = 0.0  # experiment time at the last START
        self._mono0 = 0.0
        self.t: dict[str, list[float]] = {"acc": [], "gyr": []}
        self.v: dict[str, list[np.ndarray]] = {"acc": [], "gyr": []}
        self._next = {"acc": 0.0, "gyr": 0.0}
        self.offline_flag = False
        self.requests = 0
        self.refused = 0
        self.server: ThreadingHTTPServer | None = None

    # -- the experiment ---------------------------------------------------------------------
    def exp_now(self) -> float:
        return self._exp0 + (time.monotonic() - self._mono0) if self.measuring else self._exp0

    def timeline(self, exp: np.ndarray) -> np.ndarray:
        """Phone timeline (s since the first START, pauses included) of experiment times."""
        starts = [(e["experimentTime"], e["systemTime"]) for e in self.events if e["event"] == "START"]
        ex = np.array([a for a, _ in starts])
        sy = np.array([b for _, b in starts]) - starts[0][1]
        i = np.clip(np.searchsorted(ex, exp, side="right") - 1, 0, len(starts) - 1)
        return sy[i] + (exp - ex[i])

    def _generate(self) -> None:
        """Samples up to now (called under the lock on every request)."""
        if not self.events:
            return
        now = self.exp_now()
        s = self.session
        for kind, rate in self.rates.items():
            n = int((now - self._next[kind]) * rate) + 2
            if n <= 0:
                continue
            dt = (1.0 / rate) * (1.0 + 0.03 * self.rng.standard_normal(n)).clip(0.5, 1.5)
            t = self._next[kind] + np.concatenate([[0.0], np.cumsum(dt[:-1])])
            t = t[t <= now]
            if t.size == 0:
                continue
            self._next[kind] = float(t[-1] + dt[t.size - 1])
            tl = self.timeline(t) + float(s.t[0])
            src = s.acc if kind == "acc" else s.gyr
            assert src is not None
            vals = np.column_stack([np.interp(tl, s.t, src[:, c]) for c in range(3)])
            # what the phone reports: 8 significant digits, as the client will read them
            t = np.array([float(_fmt(x)) for x in t])
            vals = np.vectorize(lambda x: float(_fmt(x)))(vals)
            self.t[kind].extend(t.tolist())
            self.v[kind].extend(vals)

    def start(self) -> bool:
        with self.lock:
            if self.measuring:
                return True
            self._generate()
            self.events.append({"event": "START", "experimentTime": self._exp0, "systemTime": time.time()})
            self.measuring, self._mono0 = True, time.monotonic()
            return True

    def pause(self) -> None:
        with self.lock:
            self._generate()
            self._exp0 = self.exp_now()
            self.measuring = False
            self.events.append({"event": "PAUSE", "experimentTime": self._exp0, "systemTime": time.time()})

    resume = start

    def offline(self, flag: bool) -> None:
        self.offline_flag = flag

    def delivered(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """Every sample the phone measured: (phone timeline time, values)."""
        with self.lock:
            t = np.asarray(self.t[kind])
            return self.timeline(t), np.asarray(self.v[kind]).reshape(-1, 3)

    # -- the interface ------------------------------------------------------------------------
    def _buffers(self) -> dict[str, tuple[str, int]]:
        out = {"acc_time": ("acc", -1), "gyr_time": ("gyr", -1)}
        out.update({n: ("acc", i) for i, n in enumerate(ACC)})
        out.update({n: ("gyr", i) for i, n in enumerate(GYR)})
        return out

    def handle_get(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        with self.lock:
            self._generate()
            bufs = self._buffers()
            seen: set[str] = set()
            out: dict[str, Any] = {}
            for name, value in params:
                if name in seen:
                    continue
                seen.add(name)
                if name not in bufs:
                    continue
                kind, col = bufs[name]
                data = self.t[kind] if col < 0 else [float(v[col]) for v in self.v[kind]]
                if value == "":
                    mode, vals = "single", data[-1:] if data else [math.nan]
                elif value == "full":
                    mode, vals = "full", data
                else:
                    thr_s, _, ref = value.partition("|")
                    thr = float(thr_s)
                    thr += 10 ** math.floor(math.log10(abs(thr) / 1e7)) if thr != 0 else 0.0
                    ref_kind = bufs[ref][0] if ref else kind
                    ref_t = self.t[ref_kind]
                    mode = "partial"
                    vals = [d for d, r in zip(data, ref_t) if r > thr]
                out[name] = {"size": 0, "updateMode": mode, "buffer": vals}
            status = {"session": self.session_id, "measuring": self.measuring, "timedRun": False, "countDown": 0}
            return {"buffer": out, "status": status}

    def handle(self, path: str, params: list[tuple[str, str]]) -> Any:
        if path == "/get":
            return self.handle_get(params)
        if path == "/time":
            with self.lock:
                return list(self.events)
        if path == "/control":
            cmd = dict(params).get("cmd")
            if cmd == "start":
                return {"result": self.start()}
            if cmd == "stop":
                self.pause()
                return {"result": True}
            return {"result": False}
        if path == "/config":
            return {
                "crc32": "1f2e3d",
                "title": "Lumbar run",
                "localTitle": "Lumbar run",
                "category": "New experiment",
                "localCategory": "New experiment",
                "buffers": [{"name": n, "size": 0} for n in self._buffers()],
                "inputs": [
                    {
                        "source": "accelerometer",
                        "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}],
                    },
                    {
                        "source": "gyroscope",
                        "outputs": [{"x": "gyrX"}, {"y": "gyrY"}, {"z": "gyrZ"}, {"t": "gyr_time"}],
                    },
                ],
                "export": [],
            }
        if path == "/meta":
            return {
                "version": "1.2.0",
                "build": "1020000",
                "deviceBrand": "Virtual",
                "deviceModel": "Phone 1",
                "deviceRelease": "14",
                "sensors": {"accelerometer": {"Name": "virtual accelerometer"}, "gyroscope": {"Name": "virtual gyro"}},
            }
        return None

    @contextmanager
    def serve(self) -> Iterator[str]:
        """Serve on 127.0.0.1 (a free port); yields the base URL."""
        phone = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                phone.requests += 1
                if phone.offline_flag:  # off the network: no answer at all
                    phone.refused += 1
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                u = urllib.parse.urlsplit(self.path)
                body = phone.handle(u.path, urllib.parse.parse_qsl(u.query, keep_blank_values=True))
                if body is None:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                if u.path == "/get":  # numbers as phyphox writes them
                    data = _phyphox_json(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Access-Control-Allow-Origin", "*")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{self.server.server_address[1]}"
        finally:
            self.server.shutdown()
            self.server.server_close()
            thread.join(5)


def _phyphox_json(body: dict[str, Any]) -> str:
    parts = []
    for name, b in body["buffer"].items():
        vals = ",".join(_fmt(v) for v in b["buffer"])
        parts.append(f'"{name}":{{"size":{b["size"]},"updateMode":"{b["updateMode"]}", "buffer":[{vals}]}}')
    st = body["status"]
    status = (
        f'"session":"{st["session"]}", "measuring":{str(st["measuring"]).lower()}, '
        f'"timedRun":false, "countDown":{st["countDown"]}'
    )
    return '{"buffer":{\n' + ",\n".join(parts) + '\n},\n"status":{\n' + status + "\n}\n}\n"
