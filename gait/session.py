"""`Session`: one recording of a lumbar IMU, in SI units, with its metadata.

A session is plain data: sample times, acceleration, optional angular rate, the frame they are
expressed in, and a frozen `SessionMetadata`. Every stage of the pipeline takes and returns
plain arrays and DataFrames; the session is only the container that travels between the
readers and the core.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from .constants import FRAMES, TIME_COLUMN, acc_columns, axes_for, gyr_columns
from .errors import GaitInputError, Where, quoted

#: A gap is any interval between consecutive samples longer than this many sample periods.
GAP_FACTOR = 1.5
#: The lowest sampling rate the analysis supports, Hz. Measured on the simulator (five seeds each
#: of the easy, heel-strike and rotation presets, 60 s runs): from 90 Hz every one keeps a step
#: F1 of at least 0.99 and a contact-time MAE of at most 10 ms; at 80 Hz the impact transient of a heel strike is too
#: brief and step detection for heel strikers falls to F1 0.88 (0.34-0.45 at 50 Hz, two seeds).
MIN_ANALYSIS_RATE_HZ = 90.0


@dataclass(frozen=True)
class DeclaredGap:
    """A stretch without samples whose cause the recorder knew (``gaps`` in the file header).

    Attributes
    ----------
    start_s, end_s
        Times of the last sample before and the first sample after the gap, on the session
        clock.
    cause
        Why: ``"reconnect"`` (the link dropped and was re-established), ``"loss"`` (packets
        lost on the air), ``"overflow"`` (the sensor's buffer overflowed), ``"restart"`` (the
        sensor restarted its stream), ``"phone paused"``, ... (free text from the recorder).
    samples_lost
        Samples missing in the gap, when the recorder knew (``None`` otherwise).
    """

    start_s: float
    end_s: float
    cause: str
    samples_lost: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"start_s": self.start_s, "end_s": self.end_s, "cause": self.cause}
        if self.samples_lost is not None:
            d["samples_lost"] = self.samples_lost
        return d


def parse_gaps(value: Any, *, where: Where | None = None) -> tuple[DeclaredGap, ...]:
    """The ``gaps`` header value (a JSON list of objects) as `DeclaredGap`, checked.

    ``None`` or a missing key gives ``()``. Raises `GaitInputError` naming the entry for
    anything else than a list of ``{"start_s": number, "end_s": number >= start_s,
    "cause": text, "samples_lost": whole number >= 0 (optional)}``.
    """
    if value is None:
        return ()
    expected = 'a list of {"start_s": s, "end_s": s, "cause": "...", "samples_lost": n}'
    if not isinstance(value, list | tuple):
        raise GaitInputError("bad metadata value for 'gaps'", expected=expected, found=repr(value)[:60], where=where)
    out = []
    for i, g in enumerate(value):
        if isinstance(g, DeclaredGap):
            out.append(g)
            continue
        ok = isinstance(g, Mapping) and isinstance(g.get("cause"), str)
        a = g.get("start_s") if isinstance(g, Mapping) else None
        b = g.get("end_s") if isinstance(g, Mapping) else None
        k = g.get("samples_lost") if isinstance(g, Mapping) else None
        nums = all(isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in (a, b))
        k_ok = k is None or (isinstance(k, int) and not isinstance(k, bool) and k >= 0)
        if not (ok and nums and k_ok and b >= a):  # type: ignore[operator]
            raise GaitInputError(
                "bad metadata value for 'gaps'",
                expected=expected + " with end_s >= start_s",
                found=f"entry {i}: {repr(g)[:80]}",
                where=where,
            )
        out.append(DeclaredGap(float(a), float(b), str(g["cause"]), k))  # type: ignore[arg-type]
    return tuple(out)


@dataclass(frozen=True)
class SessionMetadata:
    """Facts about a recording that are not samples.

    Attributes
    ----------
    sampling_rate_hz
        Nominal sampling rate of ``t``; always explicit, never guessed silently.
    device
        Device model or source application (e.g. ``"WitMotion WT901BLE"``, ``"simulator"``).
    device_id
        Address or serial of the device; keys the calibration store.
    start_time
        ISO 8601 wall-clock time of the first sample, if known.
    units_as_recorded
        Units of the source before conversion to SI, e.g. ``{"acc": "g", "gyr": "dps"}``.
    calibration
        Identifier of the calibration applied to the samples (``None``: raw sensor output).
    shoes
        Name of the shoes worn, for shoe-wear tracking.
    notes
        Free text.
    source
        The file the session was read from, if any.
    extra
        Any other key/value pairs found in a file header (kept, never dropped).
    gaps
        Gaps whose cause the recorder knew (`DeclaredGap`; ``gait record`` writes them). Gaps
        in the samples are found from the times whether or not they are declared.
    """

    sampling_rate_hz: float
    device: str | None = None
    device_id: str | None = None
    start_time: str | None = None
    units_as_recorded: Mapping[str, str] = field(default_factory=dict)
    calibration: str | None = None
    shoes: str | None = None
    notes: str | None = None
    source: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    gaps: tuple[DeclaredGap, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Metadata as a JSON-serialisable dict (the canonical file's header)."""
        d = dataclasses.asdict(self)
        d["units_as_recorded"] = dict(self.units_as_recorded)
        d["extra"] = dict(self.extra)
        d["gaps"] = [g.to_dict() for g in self.gaps] or None
        return d

    @classmethod
    def from_dict(
        cls, d: Mapping[str, Any], *, where: Where | None = None, lines: Mapping[str, int] | None = None
    ) -> SessionMetadata:
        """Build metadata from a header dict; unknown keys go to ``extra``.

        Every value is checked against the documented type (``docs/session-format.md``): the
        rate a finite number > 0, the text fields text (a number is kept as its text, e.g. a
        serial ``12345``), ``units_as_recorded`` an object of text values, ``extra`` an
        object. Anything else raises `GaitInputError` naming the key (and its header line,
        from ``lines``, when given).
        """
        return cls(**clean_metadata(d, where=where, lines=lines))


#: Fields of `SessionMetadata` that hold text.
TEXT_FIELDS: tuple[str, ...] = ("device", "device_id", "start_time", "calibration", "shoes", "notes", "source")


def clean_metadata(d: Any, *, where: Where | None = None, lines: Mapping[str, int] | None = None) -> dict[str, Any]:
    """The keyword arguments of `SessionMetadata` for the header ``d``, every value type-checked.

    Raises `GaitInputError` (naming the key, and its line when ``lines`` maps keys to header
    lines) for a value of the wrong type; see `SessionMetadata.from_dict`.
    """
    where = where or Where(parameter="meta")

    def at(key: str) -> Where:
        line = (lines or {}).get(key)
        if line is not None and where.file is not None:
            return Where(file=where.file, line=line)
        return where

    def bad(key: str, expected: str, value: Any) -> GaitInputError:
        return GaitInputError(
            f"bad metadata value for {key!r}",
            expected=expected,
            found=f"{quoted(value)} ({type(value).__name__})",
            where=at(key),
        )

    if not isinstance(d, Mapping):
        raise GaitInputError(
            "bad metadata",
            expected="an object of keys and values (JSON)",
            found=f"{quoted(d)} ({type(d).__name__})",
            where=where,
        )
    names = {f.name for f in dataclasses.fields(SessionMetadata)}
    raw_extra = d.get("extra")
    if raw_extra is not None and not isinstance(raw_extra, Mapping):
        raise bad("extra", 'an object of keys and values, e.g. {"runner": "A"}', raw_extra)
    extra: dict[str, Any] = {}
    for k, v in [*dict(raw_extra or {}).items(), *((k, v) for k, v in d.items() if k not in names)]:
        if not isinstance(k, str):
            raise bad("extra", "text keys", k)
        extra[k] = v
    out: dict[str, Any] = {"extra": extra}
    if "sampling_rate_hz" not in d or d["sampling_rate_hz"] is None:
        raise GaitInputError("missing metadata", expected="a 'sampling_rate_hz' entry", found="none", where=where)
    rate = d["sampling_rate_hz"]
    try:
        if isinstance(rate, bool):
            raise TypeError
        fs = float(rate)
    except (TypeError, ValueError, OverflowError):
        raise bad("sampling_rate_hz", "a number for 'sampling_rate_hz'", rate) from None
    if not (math.isfinite(fs) and fs > 0):
        raise bad("sampling_rate_hz", "a finite sampling_rate_hz > 0", rate)
    out["sampling_rate_hz"] = fs
    for key in TEXT_FIELDS:
        v = d.get(key)
        if v is None or isinstance(v, str):
            out[key] = v
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[key] = str(v) if isinstance(v, int) else repr(v)
        else:
            raise bad(key, f"text for {key!r} (a JSON string)", v)
    units = d.get("units_as_recorded")
    if units is None:
        units = {}
    if not isinstance(units, Mapping) or not all(isinstance(k, str) and isinstance(u, str) for k, u in units.items()):
        raise bad("units_as_recorded", 'an object of text values, e.g. {"acc": "g", "gyr": "dps"}', units)
    out["units_as_recorded"] = dict(units)
    out["gaps"] = parse_gaps(d.get("gaps"), where=at("gaps"))
    return out


@dataclass(frozen=True, eq=False)
class Session:
    """A lumbar IMU recording in SI units.

    Attributes
    ----------
    t
        Sample times, s, shape ``(n,)``, strictly increasing. Uniform at
        ``meta.sampling_rate_hz`` within each contiguous segment; a longer interval between
        two samples is a gap (see `gaps`), never filled with invented samples.
    acc
        Specific force, m/s^2, shape ``(n, 3)``, columns in the order of the frame's axes
        (`gait.constants`). An axis the sensor does not have is a column of NaN.
    gyr
        Angular rate, rad/s, shape ``(n, 3)``, or ``None`` when the sensor has no gyroscope.
    frame
        ``"sensor"`` (axes as the device reports them) or ``"body"`` (``v, ap, ml``).
    meta
        `SessionMetadata`.
    """

    t: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray | None
    frame: str
    meta: SessionMetadata

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t, dtype=np.float64)
        acc = np.ascontiguousarray(self.acc, dtype=np.float64)
        gyr = None if self.gyr is None else np.ascontiguousarray(self.gyr, dtype=np.float64)
        where = Where(file=self.meta.source) if self.meta.source else Where(parameter="session")
        if t.ndim != 1:
            raise GaitInputError("bad time array", expected="a 1-D array", found=f"shape {t.shape}", where=where)
        if acc.shape != (t.size, 3):
            raise GaitInputError(
                "bad acceleration array", expected=f"shape ({t.size}, 3)", found=f"shape {acc.shape}", where=where
            )
        if gyr is not None and gyr.shape != (t.size, 3):
            raise GaitInputError(
                "bad angular-rate array", expected=f"shape ({t.size}, 3)", found=f"shape {gyr.shape}", where=where
            )
        if self.frame not in FRAMES:
            raise GaitInputError("bad frame", expected=f"one of {FRAMES}", found=repr(self.frame), where=where)
        if t.size > 1 and not np.all(np.diff(t) > 0):
            i = int(np.argmin(np.diff(t) > 0))
            raise GaitInputError(
                "time is not strictly increasing",
                expected="t[i+1] > t[i]",
                found=f"t[{i}]={t[i]!r}, t[{i + 1}]={t[i + 1]!r}",
                where=where,
            )
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "acc", acc)
        object.__setattr__(self, "gyr", gyr)

    # -- derived facts -------------------------------------------------------------------
    @property
    def sampling_rate_hz(self) -> float:
        return self.meta.sampling_rate_hz

    @property
    def n_samples(self) -> int:
        return int(self.t.size)

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample plus one period, s."""
        if self.t.size == 0:
            return 0.0
        return float(self.t[-1] - self.t[0] + 1.0 / self.sampling_rate_hz)

    @property
    def axes(self) -> tuple[str, str, str]:
        return axes_for(self.frame)

    @property
    def has_gyro(self) -> bool:
        return self.gyr is not None

    @property
    def missing_acc_axes(self) -> tuple[str, ...]:
        """Accelerometer axes the sensor does not have (all-NaN columns)."""
        if self.acc.shape[0] == 0:
            return ()
        return tuple(a for a, col in zip(self.axes, self.acc.T) if np.isnan(col).all())

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Intervals (start_s, end_s) between consecutive samples longer than 1.5 periods."""
        if self.t.size < 2:
            return []
        dt = np.diff(self.t)
        idx = np.flatnonzero(dt > GAP_FACTOR / self.sampling_rate_hz)
        return [(float(self.t[i]), float(self.t[i + 1])) for i in idx]

    def segments(self) -> list[slice]:
        """Slices of contiguous (gap-free) stretches of samples."""
        if self.t.size == 0:
            return []
        dt = np.diff(self.t)
        cuts = np.flatnonzero(dt > GAP_FACTOR / self.sampling_rate_hz) + 1
        bounds = np.concatenate([[0], cuts, [self.t.size]])
        return [slice(int(a), int(b)) for a, b in itertools.pairwise(bounds)]

    # -- conversions ---------------------------------------------------------------------
    def to_dataframe(self) -> pd.DataFrame:
        """Samples as a DataFrame with the canonical (unit-suffixed) column names."""
        import pandas as pd

        data: dict[str, np.ndarray] = {TIME_COLUMN: self.t}
        for name, col in zip(acc_columns(self.frame), self.acc.T):
            data[name] = col
        if self.gyr is not None:
            for name, col in zip(gyr_columns(self.frame), self.gyr.T):
                data[name] = col
        return pd.DataFrame(data)

    def replace(self, **changes: Any) -> Session:
        """A copy with some fields replaced (``meta`` fields via ``meta=...``)."""
        return dataclasses.replace(self, **changes)

    def with_meta(self, **changes: Any) -> Session:
        """A copy whose metadata has some fields replaced."""
        return dataclasses.replace(self, meta=dataclasses.replace(self.meta, **changes))

    def slice_time(self, start_s: float, end_s: float) -> Session:
        """Samples with ``start_s <= t < end_s``."""
        m = (self.t >= start_s) & (self.t < end_s)
        return dataclasses.replace(self, t=self.t[m], acc=self.acc[m], gyr=None if self.gyr is None else self.gyr[m])

    def __repr__(self) -> str:
        return (
            f"Session({self.n_samples} samples, {self.duration_s:.1f} s at "
            f"{self.sampling_rate_hz:g} Hz, frame={self.frame!r}, gyro={'yes' if self.has_gyro else 'no'}, "
            f"device={self.meta.device!r})"
        )


def bridge_short_gaps(session: Session, max_gap_s: float) -> tuple[Session, np.ndarray]:
    """A copy of ``session`` with gaps up to ``max_gap_s`` filled by linear interpolation.

    For analysis only: orientation filters and step detection need continuous signals, and a
    lost packet or two should not split a run. The returned mask marks the filled samples, so
    results that touch them can be flagged (the analysis excludes such steps from its
    summaries). Longer gaps are kept as gaps.
    """
    fs = session.sampling_rate_hz
    period = 1.0 / fs
    t = session.t
    if t.size < 2:
        return session, np.zeros(t.size, bool)
    dt = np.diff(t)
    short = (dt > GAP_FACTOR * period) & (dt <= max_gap_s + period)
    if not short.any():
        return session, np.zeros(t.size, bool)
    # number of missing samples in each short gap, inserted on the gap's own grid
    missing = np.where(short, np.rint(dt / period).astype(np.int64) - 1, 0)
    new_n = t.size + int(missing.sum())
    src_pos = np.arange(t.size) + np.concatenate([[0], np.cumsum(missing)])
    filled = np.ones(new_n, bool)
    filled[src_pos] = False
    # times of inserted samples: evenly spaced inside each gap
    new_t = np.empty(new_n)
    new_t[src_pos] = t
    gap_idx = np.flatnonzero(missing)
    owner = np.repeat(gap_idx, missing[gap_idx])
    k = np.arange(owner.size) - np.repeat(np.concatenate([[0], np.cumsum(missing[gap_idx])[:-1]]), missing[gap_idx]) + 1
    new_t[filled] = t[owner] + k * (t[owner + 1] - t[owner]) / (missing[owner] + 1)

    def fill(a: np.ndarray) -> np.ndarray:
        out = np.empty((new_n, 3))
        out[src_pos] = a
        for j in range(3):  # three axes
            out[filled, j] = np.interp(new_t[filled], t, a[:, j])
        return out

    bridged = dataclasses.replace(
        session, t=new_t, acc=fill(session.acc), gyr=None if session.gyr is None else fill(session.gyr)
    )
    return bridged, filled


def check_analysable_rate(session: Session) -> None:
    """Raise `GaitInputError` when ``session`` is sampled below `MIN_ANALYSIS_RATE_HZ`."""
    fs = session.sampling_rate_hz
    if fs >= MIN_ANALYSIS_RATE_HZ:
        return
    raise GaitInputError(
        "sampling rate too low for the analysis",
        expected=f"at least {MIN_ANALYSIS_RATE_HZ:g} Hz (below it the brief impact of a heel strike is missed, "
        "so steps and contact times would be wrong)",
        found=f"{fs:g} Hz",
        where=Where(file=session.meta.source) if session.meta.source else Where(parameter="session"),
        hint="Record at 100 Hz or more (most sensors and phone apps can)",
    )
