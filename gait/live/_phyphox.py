"""A phone as a live sensor: phyphox's remote-access HTTP interface, as one more recorder link.

phyphox (RWTH Aachen, Android and iOS) runs a small web server on the phone when remote access
is enabled. Its documented interface (the app's "Remote-interface communication" page and its
OpenAPI description, ``/get``, ``/control``, ``/config``, ``/meta``, ``/time``):

- ``/config`` lists the experiment's inputs and the buffer each component writes to
  (``{"source": "accelerometer", "outputs": [{"x": "accX"}, ..., {"t": "acc_time"}]}``);
- ``/get?acc_time=T&accX=T|acc_time&...`` returns every value whose time is above ``T``
  (8 significant digits; the server nudges ``T`` up by one unit in the last place so that a
  value is never delivered twice), with the status ``{"session", "measuring", ...}``;
- ``/time`` lists the START and PAUSE events with the experiment time (seconds since the
  first start, pauses excluded) and the phone's system time (seconds since 1970);
- ``/control?cmd=start`` starts the measurement.

`PhyphoxLink` polls ``/get`` then ``/time`` serially (the server is single-threaded: the
documentation asks clients not to issue requests in parallel), one request at a time, a new
connection each (phyphox's server does not keep connections alive well), from a worker thread.
Each sample's experiment time is placed on the phone's own timeline with the ``/time``
events: ``(system time of its START - system time of the first START) + (experiment time -
experiment time of that START)``; a pause or a "clear" on the phone therefore becomes a jump in
that timeline, which the recorder declares as a gap ("phone paused", "phone data cleared").
A network drop loses nothing as long as the phone keeps its buffers (phyphox's raw-sensor
buffers are unbounded): the next poll asks for everything after the last time received.

Accelerometer and gyroscope samples go onto one uniform grid of the phone's timeline
(`gait.live._phone_grid.PhoneGrid`, which also reads the buffer names from ``/config``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

import numpy as np

from firmware_protocol.samples import DecodedSamples

from ..errors import GaitInputError, Where
from ._links import Link
from ._phone_grid import PhoneBuffers, PhoneGrid, PhyphoxError, phone_buffers, pick_grid_rate
from ._scan import FoundDevice

if TYPE_CHECKING:
    from ._recorder import Recorder

__all__ = ["PhoneBuffers", "PhoneGrid", "PhyphoxError", "PhyphoxLink", "phone_buffers"]

PROTOCOL = "phyphox"
#: Errors of one HTTP exchange that mean "the phone is not reachable right now".
_NET_ERRORS = (urllib.error.URLError, TimeoutError, ConnectionError, OSError, json.JSONDecodeError)


class PhyphoxLink(Link):
    """A phone running phyphox, polled over HTTP; see the module docstring.

    Parameters
    ----------
    url
        The address phyphox shows under "Allow remote access" (``http://192.168.1.23:8080``;
        ``http://`` is added when missing).
    rate_hz
        Grid rate of the file; ``None``: the highest of 400, 200, 100 Hz that both sensors reach.
    poll_s
        Pause between two polls.
    timeout_s
        Timeout of one HTTP request.
    max_hole_s
        Longest interval between two samples of one sensor that is interpolated across;
        ``None``: 3.5 median sample intervals (at least 20 ms).
    """

    protocol = PROTOCOL
    has_gyro = True
    drift_correctable = False  # the timeline is the phone's own (pauses placed by its system clock)

    def __init__(
        self,
        url: str,
        *,
        rate_hz: float | None = None,
        poll_s: float = 0.1,
        timeout_s: float = 5.0,
        max_hole_s: float | None = None,
    ) -> None:
        u = url.strip()
        if "://" not in u:
            u = "http://" + u
        parts = urllib.parse.urlsplit(u)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise GaitInputError(
                "not a phyphox address",
                expected="the address phyphox shows for remote access, e.g. http://192.168.1.23:8080",
                found=repr(url),
                where=Where(parameter="--phyphox"),
            )
        super().__init__(rate_hz=None, acc_range_g=0, gyr_range_dps=0, describe=f"the phone at {parts.netloc}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.grid_rate_hz: float | None = None if rate_hz is None else float(rate_hz)
        self.poll_s = float(poll_s)
        self.timeout_s = float(timeout_s)
        self.max_hole_s = max_hole_s
        self.buffers: PhoneBuffers | None = None
        self.grid: PhoneGrid | None = None
        self._thresholds: dict[str, float | None] = {}
        self._session: str | None = None
        self._first_system_s: float | None = None
        self._epoch_key: float | None = None
        self._events: list[tuple[str, float, float]] = []
        self._marked: set[tuple[float, float]] = set()
        self._probe: dict[str, list[np.ndarray]] = {"acc": [], "gyr": []}
        self._polls = 0
        self._bad = 0
        self._net_failures = 0
        self.measuring = False
        self.experiment = ""
        self.has_time_events = True

    # -- HTTP -----------------------------------------------------------------------------------
    def _get_json_blocking(self, path: str, params: dict[str, str] | None = None) -> Any:
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        req = urllib.request.Request(self.url + path + q, headers={"Connection": "close"})
        with urllib.request.urlopen(req, timeout=self.timeout_s) as r:
            return json.loads(r.read().decode("utf-8"))

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await asyncio.to_thread(self._get_json_blocking, path, params)

    # -- setting up ---------------------------------------------------------------------------
    async def connect(self) -> FoundDevice:
        """Read the experiment and the device, pick the buffers, start measuring."""
        try:
            config = await self._get("/config")
            meta = await self._get("/meta")
        except _NET_ERRORS as e:
            raise PhyphoxError(
                f"no answer from phyphox at {self.url} ({type(e).__name__}: {e}). In phyphox, open the experiment, "
                "tap the three dots > Allow remote access, and use the address it shows; the phone and this "
                "computer must be on the same network"
            ) from None
        if not isinstance(config, dict) or not isinstance(meta, dict):
            raise PhyphoxError(f"{self.url} does not answer like phyphox (/config and /meta must be JSON objects)")
        self.buffers = phone_buffers(config)
        self.has_gyro = self.buffers.gyr is not None
        self.experiment = str(config.get("localTitle") or config.get("title") or "")
        model = " ".join(str(meta.get(k)) for k in ("deviceBrand", "deviceModel") if meta.get(k))
        self.device_info = {
            k: str(v)
            for k, v in {
                "model": model or None,
                "phyphox_version": meta.get("version"),
                "experiment": self.experiment or None,
                "os": meta.get("deviceRelease"),
            }.items()
            if v
        }
        sensors = meta.get("sensors") if isinstance(meta.get("sensors"), dict) else {}
        for key, name in (("accelerometer", "acc_sensor"), ("gyroscope", "gyr_sensor")):
            s = sensors.get(key) if isinstance(sensors, dict) else None
            if isinstance(s, dict) and s.get("Name"):
                self.device_info[name] = str(s["Name"])
        status = (await self._get("/get", {})).get("status", {})
        self._session = str(status.get("session", ""))
        # start from what the phone holds now (no backlog from before the recording)
        t_names = [n for n in (self.buffers.acc_t, self.buffers.gyr_t) if n is not None]
        last = await self._get("/get", dict.fromkeys(t_names, ""))
        for name in t_names:
            vals = last.get("buffer", {}).get(name, {}).get("buffer", [])
            self._thresholds[name] = float(vals[-1]) if vals and vals[-1] is not None else None
        if not status.get("measuring"):
            ok = await self._get("/control", {"cmd": "start"})
            if not (isinstance(ok, dict) and ok.get("result")):
                raise PhyphoxError(
                    f"phyphox at {self.url} refused to start the measurement; press play on the phone and try again"
                )
        await self._refresh_time()
        return FoundDevice(
            name=f"phyphox ({model})" if model else "phyphox", address=self.url, rssi_dbm=0, protocol=PROTOCOL
        )

    # -- the timeline -----------------------------------------------------------------------------
    async def _refresh_time(self) -> bool:
        """Read ``/time``; True when the phone's data were cleared or restarted since last time.

        phyphox before 1.1.8 has no ``/time``: its pauses then cannot be placed (the samples
        after a pause follow on directly, as in phyphox's own export) and this says so once.
        """
        if not self.has_time_events:
            return False
        try:
            events = await self._get("/time")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise
            self.has_time_events = False
            self.device_info["time_events"] = "none (phyphox before 1.1.8): pauses are not declared as gaps"
            return False
        parsed = [
            (str(e.get("event")), float(e["experimentTime"]), float(e["systemTime"]))
            for e in (events if isinstance(events, list) else [])
            if isinstance(e, dict) and "experimentTime" in e and "systemTime" in e
        ]
        key = parsed[0][2] if parsed else None
        cleared = self._epoch_key is not None and key != self._epoch_key and key is not None
        if key is not None:
            self._epoch_key = key
            if self._first_system_s is None:
                self._first_system_s = key
        if cleared and self.grid is not None:
            # the phone's timeline restarted: everything new is after the clear
            prev_end = self._timeline_end()
            self._thresholds = dict.fromkeys(self._thresholds)
            self.grid.new_epoch()
            self._events = parsed
            self.grid.mark_gap_cause(prev_end, self.timeline(0.0), "phone data cleared")
            return True
        self._events = parsed
        if self.grid is not None:
            for (e1, x1, s1), (e2, _, s2) in itertools.pairwise(parsed):
                if e1 == "PAUSE" and e2 == "START" and (s1, s2) not in self._marked:
                    self._marked.add((s1, s2))
                    a = float(self.timeline(x1))
                    self.grid.mark_gap_cause(a, a + (s2 - s1), "phone paused")
        return cleared

    def _timeline_end(self) -> float:
        if self.grid is None or self.grid._last_k is None:
            return 0.0
        return self.grid._last_k / self.grid.rate_hz

    def timeline(self, t_exp: float | np.ndarray) -> Any:
        """Seconds on the phone's timeline for experiment times (START events place segments)."""
        x = np.asarray(t_exp, dtype=float)
        starts = [(e, s) for ev, e, s in self._events if ev == "START"]
        if not starts or self._first_system_s is None:
            return x
        e_arr = np.array([e for e, _ in starts])
        s_arr = np.array([s for _, s in starts]) - self._first_system_s
        i = np.clip(np.searchsorted(e_arr, x, side="right") - 1, 0, len(starts) - 1)
        return s_arr[i] + (x - e_arr[i])

    # -- polling ------------------------------------------------------------------------------
    def _params(self) -> dict[str, str]:
        assert self.buffers is not None
        b = self.buffers
        out: dict[str, str] = {}
        for t_name, names in ((b.acc_t, b.acc), (b.gyr_t, b.gyr)):
            if t_name is None or names is None:
                continue
            thr = self._thresholds.get(t_name)
            if thr is None:
                out[t_name] = "full"
                out.update(dict.fromkeys(names, "full"))
            else:
                out[t_name] = repr(thr)
                out.update({n: f"{thr!r}|{t_name}" for n in names})
        return out

    def _columns(self, data: dict[str, Any], t_name: str, names: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
        cols = []
        for name in (t_name, *names):
            vals = data.get(name, {}).get("buffer") if isinstance(data.get(name), dict) else None
            if not isinstance(vals, list):
                raise ValueError(f"buffer {name!r} missing from the answer")
            cols.append(np.array([np.nan if v is None else float(v) for v in vals], dtype=float))
        m = min(c.size for c in cols)  # one snapshot, so equal; guard anyway
        t = cols[0][:m]
        v = np.column_stack([c[:m] for c in cols[1:]])
        keep = np.isfinite(t) & np.isfinite(v).all(axis=1)
        thr = self._thresholds.get(t_name)
        if thr is not None:
            keep &= t > thr  # never the same sample twice
        t, v = t[keep], v[keep]
        order = np.flatnonzero(np.diff(np.concatenate([[-np.inf], t])) > 0)  # strictly increasing
        t, v = t[order], v[order]
        if t.size:
            self._thresholds[t_name] = float(t[-1])
        return t, v

    async def poll(self) -> tuple[DecodedSamples, bool]:
        """One exchange: new samples (on the grid) and whether the phone is measuring."""
        assert self.buffers is not None
        answer = await self._get("/get", self._params())
        cleared = await self._refresh_time()
        status = answer.get("status", {}) if isinstance(answer, dict) else {}
        self.measuring = bool(status.get("measuring"))
        session = str(status.get("session", ""))
        if self._session is not None and session != self._session:
            raise PhyphoxError("another experiment was opened in phyphox during the recording; the recording ends here")
        if cleared:
            return DecodedSamples.empty(has_gyro=self.has_gyro), self.measuring
        data = answer.get("buffer", {}) if isinstance(answer, dict) else {}
        b = self.buffers
        self._polls += 1
        try:
            t_a, acc = self._columns(data, b.acc_t, b.acc)
            if self.has_gyro:
                assert b.gyr_t is not None and b.gyr is not None
                t_g, gyr = self._columns(data, b.gyr_t, b.gyr)
        except (ValueError, TypeError):
            self._bad += 1
            return DecodedSamples.empty(has_gyro=self.has_gyro), self.measuring
        t_a = self.timeline(t_a)
        t_g = self.timeline(t_g) if self.has_gyro else np.zeros(0)
        if self.grid is None:
            self._probe["acc"].append(np.column_stack([t_a, acc]))
            if self.has_gyro:
                self._probe["gyr"].append(np.column_stack([t_g, gyr]))
            if not self._start_grid():
                return DecodedSamples.empty(has_gyro=self.has_gyro), self.measuring
        else:
            self.grid.add("acc", t_a, acc)
            if self.has_gyro:
                self.grid.add("gyr", t_g, gyr)
        assert self.grid is not None
        return self.grid.take(), self.measuring

    def _start_grid(self) -> bool:
        """Once a second of both sensors is held, pick the grid rate and start the grid."""
        kinds = ("acc", "gyr") if self.has_gyro else ("acc",)
        held = {k: np.concatenate(self._probe[k]) if self._probe[k] else np.zeros((0, 4)) for k in kinds}
        if any(h.shape[0] < 20 or h[-1, 0] - h[0, 0] < 1.0 for h in held.values()):
            return False
        dts = [float(np.median(np.diff(held[k][:, 0]))) for k in kinds]
        rate = self.grid_rate_hz or pick_grid_rate(dts)
        hole = self.max_hole_s if self.max_hole_s is not None else max(3.5 * max(dts), 0.02)
        self.rate_hz = rate
        self.grid = PhoneGrid(rate_hz=rate, has_gyro=self.has_gyro, max_hole_s=hole)
        for k in kinds:
            self.grid.add(k, held[k][:, 0], held[k][:, 1:])
        self._probe = {"acc": [], "gyr": []}
        return True

    async def run(self, recorder: Recorder) -> None:
        """Poll until the recorder stops; network failures are retried with backoff."""
        delay = 0.5
        failing_since: float | None = None
        while not recorder._stop.is_set():
            try:
                d, measuring = await self.poll()
            except PhyphoxError as e:
                recorder.message = str(e)
                raise _as_recording_error(e) from None
            except _NET_ERRORS as e:
                self._net_failures += 1
                if failing_since is None:
                    failing_since = time.monotonic()
                recorder.status = f"phone not reachable; retrying in {delay:.1f} s"
                recorder.message = f"{type(e).__name__}: {e}"
                await recorder._wait_stop(delay)
                delay = min(4.0, delay * 2)
                continue
            if failing_since is not None:
                recorder._reconnects += 1
                failing_since, delay = None, 0.5
            h = time.monotonic()
            if d.n_samples:
                recorder._last_notify = h
                recorder._arrivals.append(h)
                recorder._process(d, h)
            if not measuring:
                recorder.status = "phone paused: press play in phyphox"
            elif self.grid is None:
                recorder.status = "receiving from the phone (measuring its rate)"
            else:
                recorder.status = "recording"
                recorder.message = ""
            if recorder._duration_reached():
                return
            await recorder._wait_stop(self.poll_s)

    async def stop_measuring(self) -> None:
        """Stop the measurement on the phone (at a clean end); errors are ignored."""
        try:
            await self._get("/control", {"cmd": "stop"})
        except _NET_ERRORS:
            pass

    # -- Link -----------------------------------------------------------------------------------
    @property
    def notify_uuids(self) -> tuple[str, ...]:
        return ()

    async def configure(self, client: Any, *, resume_ok: bool) -> bool:  # pragma: no cover - not BLE
        raise NotImplementedError

    async def start(self, client: Any) -> None:  # pragma: no cover - not BLE
        raise NotImplementedError

    async def stop(self, client: Any) -> None:  # pragma: no cover - not BLE
        raise NotImplementedError

    def feed(self, data: bytes | bytearray, uuid: str, host_s: float) -> DecodedSamples:  # pragma: no cover
        raise NotImplementedError

    def link_lost(self, host_s: float) -> DecodedSamples:
        return DecodedSamples.empty(has_gyro=self.has_gyro)

    def flush(self) -> DecodedSamples:
        return DecodedSamples.empty(has_gyro=self.has_gyro)

    def counts(self) -> dict[str, int]:
        return {
            "packets_ok": self._polls,
            "packets_lost": 0,
            "duplicated": 0,
            "reordered": 0,
            "late": 0,
            "corrupt": 0,
            "truncated": 0,
            "bad_other": self._bad,
        }

    def settings(self) -> dict[str, Any]:
        return {
            "protocol": "phyphox remote access",
            "experiment": self.experiment,
            "grid_rate_hz": self.rate_hz,
            "max_hole_s": None if self.grid is None else self.grid.max_hole_s,
            # where t = 0 of the file lies on the phone's timeline (seconds after its first START)
            "phone_timeline_start_s": None
            if self.grid is None or self.grid.first_k is None
            else self.grid.first_k / self.grid.rate_hz,
            "resampled": "linear interpolation of the phone's sensor times onto a uniform grid",
        }

    @property
    def units_as_recorded(self) -> dict[str, str]:
        return {"acc": "mps2", "gyr": "rads", "t": "s"}


def _as_recording_error(e: Exception) -> Exception:
    from ._record_types import RecordingError

    return RecordingError(str(e))
