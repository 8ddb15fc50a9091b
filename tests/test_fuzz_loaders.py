"""Property-based fuzzing of every loader: mutated sessions, phone exports and dataset folders.

Valid inputs are built here (canonical CSV, CSV.gz and Parquet; phyphox and Sensor Logger
exports, zipped and unpacked; the three layouts of the Alcantara 2022 dataset), then mutated:
flipped bits, cut files, inserted, deleted and swapped lines, odd numbers in cells, metadata of
the wrong type, timestamps far from zero, values that overflow, broken zip members. Every
case must end in one of two ways:

- a `GaitInputError` whose message names the file and says what was expected and what was
  found (never another exception, never a warning other than `GaitDataWarning`);
- a session with finite, strictly increasing times, finite values (an axis the sensor lacks is
  empty on every row), a finite positive sampling rate and metadata of the documented types,
  which the writer saves and the loader reads back exactly (CSV and Parquet).

Each test runs `tests.fuzz_settings.fuzz` examples (300; 1000 on CI; 3000 with ``GAIT_FUZZ=slow``).
The same strategies run as a campaign that counts outcomes instead of stopping at the first
failure (for comparing two versions of the code)::

    GAIT_FUZZ_CAMPAIGN=3000 python -m tests.test_fuzz_loaders
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gzip
import io
import json
import math
import os
import struct
import sys
import tempfile
import traceback
import warnings
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from gait.constants import ACC_UNITS, GYR_UNITS, TIME_UNITS, G, acc_columns, gyr_columns
from gait.errors import GaitDataWarning, GaitInputError
from gait.io import save_session
from gait.readers import read_sessions
from gait.session import Session, SessionMetadata

from .fuzz_settings import fuzz

# ---------------------------------------------------------------------------------------
# outcomes: one check for every case (raises AssertionError, or tallies in a campaign)
# ---------------------------------------------------------------------------------------
#: In a campaign, outcomes are counted here instead of failing the test.
TALLY: collections.Counter[str] | None = None
#: First example of each unexpected outcome in a campaign (kind -> text).
EXAMPLES: dict[str, str] = {}
#: Number of cases each test has run (all modes).
CASES: collections.Counter[str] = collections.Counter()

_STR_FIELDS = ("device", "device_id", "start_time", "calibration", "shoes", "notes", "source")


def _fail(kind: str, detail: str) -> None:
    if TALLY is None:
        raise AssertionError(f"{kind}: {detail}")
    TALLY[kind] += 1
    EXAMPLES.setdefault(kind, detail[:3000])


def _check_session(s: Session, label: str) -> str | None:
    """Why an accepted session breaks the contract, or None."""
    if not (np.isfinite(s.t).all() and (s.t.size < 2 or (np.diff(s.t) > 0).all())):
        return "times not finite or not strictly increasing"
    fs = s.sampling_rate_hz
    if not (isinstance(fs, float) and math.isfinite(fs) and fs > 0):
        return f"bad sampling rate {fs!r}"
    acc_ok = np.isfinite(s.acc)
    empty = ~acc_ok.any(axis=0)
    if not (acc_ok | empty[None, :]).all() or not np.isnan(s.acc[:, empty]).all():
        return "non-finite acceleration"
    if empty.sum() > 1 or (empty.any() and s.frame != "body"):
        return f"missing axes {s.missing_acc_axes} in frame {s.frame}"
    if s.gyr is not None and not np.isfinite(s.gyr).all():
        return "non-finite angular rate"
    if s.n_samples < 2:
        return f"{s.n_samples} samples"
    m = s.meta
    for f in _STR_FIELDS:
        v = getattr(m, f)
        if v is not None and not isinstance(v, str):
            return f"metadata {f} is {type(v).__name__}"
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in dict(m.units_as_recorded).items()):
        return "units_as_recorded is not str -> str"
    if not all(isinstance(k, str) for k in dict(m.extra)):
        return "extra has non-string keys"
    return None


def _meta_json(m: SessionMetadata) -> str:
    return json.dumps(m.to_dict(), sort_keys=True, default=repr)


def _round_trip(s: Session, folder: Path) -> str | None:
    """Save ``s`` as CSV and Parquet and read it back: identical arrays and metadata."""
    for name in ("rt.csv", "rt.parquet"):
        p = save_session(s, folder / name)
        (r,) = read_sessions(p)
        for what, a, b in (("t", s.t, r.t), ("acc", s.acc, r.acc)):
            if not np.array_equal(a, b, equal_nan=True):
                return f"{name}: {what} differs after a round trip"
        if (s.gyr is None) != (r.gyr is None) or (s.gyr is not None and not np.array_equal(s.gyr, r.gyr)):
            return f"{name}: gyr differs after a round trip"
        if r.frame != s.frame or _meta_json(r.meta) != _meta_json(s.meta):
            return f"{name}: metadata differs after a round trip: {_meta_json(s.meta)} != {_meta_json(r.meta)}"
        p.unlink()
    return None


def check_read(path: Path, label: str, *, round_trip: bool = True, **kwargs: Any) -> str:
    """Read ``path`` and check the contract; returns ``"ok"``, ``"refused"`` or ``"bug"``."""
    CASES[label] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _read_and_check(path, label, round_trip, kwargs)
    other = [w for w in caught if not issubclass(w.category, GaitDataWarning)]
    if other:
        w = other[0]
        _fail(f"warning {w.category.__name__}", f"{label}: {path}: {w.message} ({w.filename}:{w.lineno})")
    if TALLY is not None:
        TALLY[outcome] += 1
    return outcome


def _read_and_check(path: Path, label: str, round_trip: bool, kwargs: dict[str, Any]) -> str:
    try:
        sessions = read_sessions(path, **kwargs)
    except GaitInputError as e:
        text = str(e)
        named = str(path) in text or (label.startswith("alcantara") and str(path.parent) in text)
        if not named:
            _fail("message without the file", f"{label}: {path}: {text}")
        if not e.expected or not e.found:
            _fail("message without expected/found", f"{label}: {text}")
        return "refused"
    except Exception as e:  # the very thing under test: anything but GaitInputError is a bug
        _fail(
            f"exception {type(e).__name__}",
            f"{label}: {path}: {''.join(traceback.format_exception(type(e), e, e.__traceback__, limit=-6))}",
        )
        return "bug"
    if not sessions:
        _fail("no session and no error", f"{label}: {path}")
    for s in sessions:
        why = _check_session(s, label)
        if why:
            _fail("bad session accepted", f"{label}: {path}: {why}")
        elif round_trip:
            try:
                with tempfile.TemporaryDirectory() as d:
                    why = _round_trip(s, Path(d))
            except Exception as e:
                why = f"round trip raised {type(e).__name__}: {e}"
            if why:
                _fail("round trip", f"{label}: {path}: {why}")
    return "ok"


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="gait-fuzz-") as d:
        yield Path(d)


# ---------------------------------------------------------------------------------------
# valid inputs
# ---------------------------------------------------------------------------------------
FS = 100.0
N = 300


@functools.cache
def base_session(kind: str) -> Session:
    """A small valid session: ``sensor`` (with gyroscope), ``sensor_nogyro``, ``body``,
    ``body_biaxial`` (no medio-lateral axis, no gyroscope)."""
    rng = np.random.default_rng(len(kind))
    t = np.arange(N) / FS + (0.0 if kind != "body" else 12.5)
    bounce = 2.0 * np.sin(2 * np.pi * 2.8 * t)
    frame = "body" if kind.startswith("body") else "sensor"
    mean = [0.3, -0.5, G] if frame == "sensor" else [G, 0.2, -0.1]
    acc = np.asarray(mean) + bounce[:, None] * [0.1, 0.2, 1.0] + rng.normal(0, 0.3, (N, 3))
    if frame == "body":
        acc = acc[:, ::-1].copy() if kind == "body" else acc
    if kind == "body_biaxial":
        acc[:, 2] = np.nan
    gyr = rng.normal(0, 0.5, (N, 3)) if kind in ("sensor", "body") else None
    meta = SessionMetadata(
        sampling_rate_hz=FS,
        device="Fuzz IMU é",
        device_id="AA:BB:CC",
        start_time="2024-05-01T07:30:00+02:00",
        shoes="Pegasus 40",
        notes='a, b: c "q"',
        extra={"runner": "x", "nested": {"k": [1, 2.5, None]}},
    )
    return Session(t=t, acc=acc, gyr=gyr, frame=frame, meta=meta)


BASES = ("sensor", "sensor_nogyro", "body", "body_biaxial")
FORMATS = ("csv", "csv.gz", "parquet")


def render_csv(
    s: Session,
    *,
    acc_unit: str = "mps2",
    gyr_unit: str = "rads",
    t_unit: str = "s",
    eol: str = "\n",
    header: bool = True,
    fmt: Callable[[float], str] = repr,
    t: np.ndarray | None = None,
    acc: np.ndarray | None = None,
    gyr: np.ndarray | None = None,
    fs: Any = None,
) -> str:
    """A CSV of ``s`` (or of the given arrays) in the given units, written by hand."""
    t = s.t if t is None else t
    acc = s.acc if acc is None else acc
    gyr = s.gyr if gyr is None else gyr
    cols = [f"t_{t_unit}", *(c.replace("_mps2", f"_{acc_unit}") for c in acc_columns(s.frame))]
    with np.errstate(all="ignore"):
        data = [np.asarray(t, float) / TIME_UNITS[t_unit], *(np.asarray(acc, float) / ACC_UNITS[acc_unit]).T]
        if gyr is not None:
            cols += [c.replace("_rads", f"_{gyr_unit}") for c in gyr_columns(s.frame)]
            data += list((np.asarray(gyr, float) / GYR_UNITS[gyr_unit]).T)
    lines = []
    if header:
        lines += ["# gait-session: 1", f"# sampling_rate_hz: {s.sampling_rate_hz if fs is None else fs}"]
        for k, v in s.meta.to_dict().items():
            if k != "sampling_rate_hz" and v not in (None, {}):
                lines.append(f"# {k}: {json.dumps(v)}")
    lines.append(",".join(cols))
    with np.errstate(all="ignore"):
        rows = np.column_stack(data).tolist()
    lines += [",".join("" if v != v else fmt(v) for v in r) for r in rows]
    return eol.join(lines) + eol


def write_base(kind: str, fmt: str, folder: Path) -> Path:
    return save_session(base_session(kind), folder / f"s.{fmt}")


# ---------------------------------------------------------------------------------------
# mutations
# ---------------------------------------------------------------------------------------
ODD_NUMBERS = [
    "NAN", "Nan", "nan", "NaN", "inf", "-inf", "Infinity", "-Infinity", "INF", "1_000", "1_0.5",
    "١٢٣", "٣٫٥", "１２３", "𝟙", "½", "²", "1e308", "-1e308", "1e309", "-1e309", "1.7976931348623157e308",
    "4.9e-324", "1e-320", "0x10", "1e", "1.5e", "+", "-", ".", "", " ", "1.5.3", "1,5", '"1"', "'1'",
    "9" * 400, "-0", "-0.0", "0.264", "1e12", "-1e12", "1e300", "None", "NULL", "#N/A", "N/A", "\t",
    "1d5", "--1", "+-1", "1e+308", "1E400", "0.000", "00001.5", "+.5e-3", "١", "\u00a01", "1\u00a0", "\x0c1",
]  # fmt: skip

#: Values that may appear in a metadata header line, as JSON text or raw text.
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30) | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)
META_KEYS = [
    "gait-session", "sampling_rate_hz", "device", "device_id", "start_time", "units_as_recorded", "calibration",
    "shoes", "notes", "source", "extra", "frame", "lowpass_hz", "speed_mps", "trial",
]  # fmt: skip
meta_values = st.one_of(
    json_values.map(lambda v: json.dumps(v)),
    st.sampled_from(["1", "2", "99", "0", "-1", "1.0", "1e400", "NaN", "Infinity", "[1, 2]", "5", '"200"', "true"]),
    st.text(max_size=20).filter(lambda x: "\n" not in x and "\r" not in x),
)

fractions = st.floats(0.0, 1.0)
byte_ops = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), fractions, st.integers(0, 7)),
        st.tuples(st.just("set"), fractions, st.integers(0, 255)),
        st.tuples(st.just("insert"), fractions, st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), fractions, st.integers(1, 64)),
        st.tuples(st.just("truncate"), fractions),
    ),
    min_size=1,
    max_size=4,
)


def _at(frac: float, n: int) -> int:
    return min(int(frac * n), max(n - 1, 0))


def apply_byte_ops(data: bytes, ops: list[tuple]) -> bytes:
    b = bytearray(data)
    for op in ops:
        if not b:
            break
        i = _at(op[1], len(b))
        if op[0] == "flip":
            b[i] ^= 1 << op[2]
        elif op[0] == "set":
            b[i] = op[2]
        elif op[0] == "insert":
            b[i:i] = op[2]
        elif op[0] == "delete":
            del b[i : i + op[2]]
        elif op[0] == "truncate":
            del b[i:]
    return bytes(b)


cells = st.one_of(
    st.sampled_from(ODD_NUMBERS),
    st.floats().map(repr),
    st.text(max_size=6).filter(lambda x: "\n" not in x and "\r" not in x),
)
inserted_lines = st.one_of(
    st.sampled_from(["", " ", "\t", "#", "# comment", "# sampling_rate_hz: 50", ",,,", "t_s,acc_x_mps2", "0,0,0,9.8"]),
    st.lists(cells, min_size=1, max_size=8).map(",".join),
)
line_ops = st.lists(
    st.one_of(
        st.tuples(st.just("delete"), fractions),
        st.tuples(st.just("duplicate"), fractions),
        st.tuples(st.just("insert"), fractions, inserted_lines),
        st.tuples(st.just("swap"), fractions, fractions),
        st.tuples(st.just("cell"), fractions, st.integers(0, 7), cells),
        st.tuples(st.just("cut"), fractions, st.booleans()),
        st.tuples(st.just("append"), st.sampled_from(["", "\n", "\n\n", " \n", "\r\n", "0.1,2", "\n\n\n"])),
        st.tuples(st.just("header"), st.integers(0, 7), st.sampled_from(["", "t_s", "acc_x_g", "T_S", "x", "t_s "])),
        st.tuples(st.just("meta"), st.sampled_from(META_KEYS), meta_values),
        st.tuples(st.just("crlf")),
    ),
    min_size=1,
    max_size=4,
)


def apply_line_ops(text: str, ops: list[tuple]) -> str:
    lines = text.split("\n")
    end = lines.pop() if lines and lines[-1] == "" else None  # keep a final newline apart
    n_meta = sum(1 for x in lines if x.startswith("#"))
    for op in ops:
        kind = op[0]
        if kind == "delete" and lines:
            del lines[_at(op[1], len(lines))]
        elif kind == "duplicate" and lines:
            i = _at(op[1], len(lines))
            lines.insert(i, lines[i])
        elif kind == "insert":
            lines.insert(_at(op[1], len(lines) + 1), op[2])
        elif kind == "swap" and lines:
            i, j = _at(op[1], len(lines)), _at(op[2], len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "cell" and len(lines) > n_meta + 1:
            i = n_meta + 1 + _at(op[1], len(lines) - n_meta - 1)
            fields = lines[i].split(",")
            fields[op[2] % len(fields)] = op[3]
            lines[i] = ",".join(fields)
        elif kind == "cut":
            whole = "\n".join(lines)
            cut = whole[: _at(op[1], len(whole) + 1)]
            return cut + ("\n" if op[2] else "")
        elif kind == "append":
            return "\n".join(lines) + ("\n" if end is not None else "") + op[1]
        elif kind == "header" and n_meta < len(lines):
            cols = lines[n_meta].split(",")
            cols[op[1] % len(cols)] = op[2]
            lines[n_meta] = ",".join(cols)
        elif kind == "meta":
            lines.insert(0, f"# {op[1]}: {op[2]}")
            n_meta += 1
        elif kind == "crlf":
            lines = [x.rstrip("\r") + "\r" for x in lines]
    return "\n".join(lines) + ("\n" if end is not None else "")


# ---------------------------------------------------------------------------------------
# canonical files
# ---------------------------------------------------------------------------------------
@fuzz
@given(st.sampled_from(BASES), st.sampled_from(FORMATS), st.booleans(), byte_ops)
def test_byte_mutations(base, fmt, inner, ops):
    """Flipped bits, set, inserted and deleted bytes, truncation; for .csv.gz either in the
    compressed stream or in the text before compression."""
    with scratch() as d:
        p = write_base(base, fmt, d)
        raw = p.read_bytes()
        if fmt == "csv.gz" and inner:
            raw = gzip.compress(apply_byte_ops(gzip.decompress(raw), ops), mtime=0)
        else:
            raw = apply_byte_ops(raw, ops)
        p.write_bytes(raw)
        check_read(p, "bytes")


@fuzz
@given(
    st.sampled_from(BASES),
    st.sampled_from(("csv", "csv.gz")),
    line_ops,
    st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"]),
)
def test_line_mutations(base, fmt, ops, encoding):
    """Lines deleted, duplicated, inserted or swapped; odd numbers in cells (``NAN``, ``1_000``,
    Arabic-Indic and full-width digits, 1e308 ...); a file cut mid-line with or without a
    newline; blank lines at the end; renamed columns; metadata lines of any type; the text
    saved as UTF-16 or Latin-1."""
    with scratch() as d:
        p = write_base(base, "csv", d)
        text = apply_line_ops(p.read_text(encoding="utf-8"), ops)
        data = text.encode(encoding, errors="replace" if encoding == "latin-1" else "surrogatepass")
        if fmt == "csv.gz":
            p = d / "s.csv.gz"
            data = gzip.compress(data, mtime=0)
        p.write_bytes(data)
        check_read(p, "lines")


def _parquet_with_meta(s: Session, path: Path, value: bytes | None) -> Path:
    table = pa.Table.from_pandas(s.to_dataframe(), preserve_index=False)
    md = {} if value is None else {b"gait-session": value}
    pq.write_table(table.replace_schema_metadata(md), path)
    return path


@fuzz
@given(
    st.sampled_from(BASES),
    st.sampled_from(("csv", "parquet")),
    st.lists(st.tuples(st.sampled_from(META_KEYS), meta_values), min_size=1, max_size=3),
    st.one_of(st.none(), json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=30)),
)
def test_metadata_of_any_type(base, fmt, entries, parquet_meta):
    """Metadata of the wrong type (``units_as_recorded: 5``, ``extra: [1, 2]``, ``notes: [1, 2]``),
    format versions other than 1, Parquet metadata that is a list, a string, a number or bytes."""
    s = base_session(base)
    with scratch() as d:
        if fmt == "csv":
            text = render_csv(s)
            head = "".join(f"# {k}: {v}\n" for k, v in entries)
            p = d / "s.csv"
            p.write_text(head + text, encoding="utf-8", errors="surrogatepass")
        else:
            doc: Any
            if parquet_meta is None:
                doc = {"gait-session": 1, **s.meta.to_dict()}
                for k, v in entries:
                    try:
                        doc[k] = json.loads(v)
                    except ValueError:
                        doc[k] = v
                value = json.dumps(doc).encode()
            else:
                value = parquet_meta
            p = _parquet_with_meta(s, d / "s.parquet", value)
        check_read(p, "metadata")


TIME_OFFSETS = [0.0, 12.5, -0.5, -59.0, -61.0, -1e4, 86_399.0, 86_401.0, 1.7e9, 1e12, -1e12, 1e300, -1e300]
SCALES = [1.0, 1.0, 1e-3, 1e3, 1e308, 1e-308, 0.0, -1.0]


@fuzz
@given(
    st.sampled_from(BASES),
    st.sampled_from(TIME_OFFSETS),
    st.one_of(st.just(0.0), st.sampled_from([1e-4, 0.003, 0.02, 1.0, 1e12, 1e308])),
    st.sampled_from([None, 1e12, 1e308, -1.0, 5.0]),
    st.sampled_from(SCALES),
    st.sampled_from(SCALES),
    st.sampled_from(sorted(ACC_UNITS)),
    st.sampled_from(sorted(GYR_UNITS)),
    st.sampled_from(sorted(TIME_UNITS)),
    st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 5.0, 10.0, 99.0, 100.0, 1e6]), st.floats()),
    st.sampled_from([repr, lambda v: f"{v:.4f}", lambda v: f"{v:.3e}"]),
)
def test_times_and_values(base, offset, jitter, last_t, acc_scale, gyr_scale, acc_unit, gyr_unit, t_unit, fs, fmt):
    """Timestamps far from zero (all below -60 s, epochs, 1e12 s), jitter up to 1e308, a last
    timestamp of 1e12 s, values that overflow once converted (1e308 g), any declared rate."""
    s = base_session(base)
    rng = np.random.default_rng(7)
    with np.errstate(all="ignore"):
        t = s.t + offset + rng.uniform(-1.0, 1.0, s.t.size) * (jitter / FS)
        if last_t is not None:
            t[-1] = last_t
        acc = s.acc * acc_scale
        gyr = None if s.gyr is None else s.gyr * gyr_scale
    with scratch() as d:
        p = d / "s.csv"
        p.write_text(
            render_csv(s, t=t, acc=acc, gyr=gyr, acc_unit=acc_unit, gyr_unit=gyr_unit, t_unit=t_unit, fs=fs, fmt=fmt)
        )
        check_read(p, "times-values")


# ---------------------------------------------------------------------------------------
# phone exports
# ---------------------------------------------------------------------------------------
def _phone_times(n: int, rate: float, offset: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 + offset + np.arange(n) / rate + rng.uniform(-0.2, 0.2, n) / rate


def _xyz(t: np.ndarray, gyro: bool, source: Session | None = None) -> np.ndarray:
    s = source or base_session("sensor")
    src = s.gyr if gyro else s.acc
    return np.column_stack([np.interp(t, s.t - s.t[0] + 1.0, src[:, k]) for k in range(3)])


def _n(source: Session | None, rate: float) -> int:
    return 280 if source is None else int((source.t[-1] - source.t[0] - 0.1) * rate)


def phyphox_files(rate: float = 100.0, source: Session | None = None) -> dict[str, bytes]:
    """A phyphox export (accelerometer and gyroscope tables, meta files) of ``source`` (default:
    a 3-second base session), sampled the way phones sample."""
    ta = _phone_times(_n(source, rate), rate, 0.0, 1)
    tg = _phone_times(_n(source, rate * 0.99), rate * 0.99, 0.0021, 2)

    def table(kind: str, t: np.ndarray) -> bytes:
        names = (
            ["Acceleration x (m/s^2)", "Acceleration y (m/s^2)", "Acceleration z (m/s^2)"]
            if kind == "acc"
            else ["Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)"]
        )
        xyz = _xyz(t, kind == "gyr", source)
        head = ",".join(f'"{c}"' for c in ["Time (s)", *names])
        body = "\n".join(",".join(f"{v:.9E}" for v in r) for r in np.column_stack([t, xyz]).tolist())
        return (head + "\n" + body + "\n").encode()

    return {
        "Accelerometer.csv": table("acc", ta),
        "Gyroscope.csv": table("gyr", tg),
        "meta/device.csv": b'"property","value"\n"version","1.1.11"\n"deviceBrand","Google"\n"deviceModel","Pixel 7"\n',
        "meta/time.csv": b'"event","experiment time","system time","system time text"\n"START",0.0,1700000000.0,"x"\n',
    }


T0_NS = 1_700_000_000_000_000_000


def sensorlogger_files(platform: str = "android", source: Session | None = None) -> dict[str, bytes]:
    """A Sensor Logger export (Android: TotalAcceleration; iOS: Accelerometer + Gravity) of
    ``source`` (default: a 3-second base session)."""
    ta = _phone_times(_n(source, 100.0), 100.0, 0.0, 3)
    tg = _phone_times(_n(source, 99.0), 99.0, 0.0017, 4)

    def table(t: np.ndarray, xyz: np.ndarray) -> bytes:
        t_ns = (T0_NS + np.round(t * 1e9)).astype(np.int64)
        df = pd.DataFrame({"time": t_ns, "seconds_elapsed": t - 1.0, "z": xyz[:, 2], "y": xyz[:, 1], "x": xyz[:, 0]})
        return df.to_csv(index=False).encode()

    acc = _xyz(ta, False, source)
    files = {"Gyroscope.csv": table(tg, _xyz(tg, True, source))}
    if platform == "android":
        files["TotalAcceleration.csv"] = table(ta, acc)
    else:
        grav = np.tile([0.0, 0.0, -G], (ta.size, 1))
        files["Accelerometer.csv"] = table(ta, -(acc) - grav)
        files["Gravity.csv"] = table(ta, grav)
    files["Metadata.csv"] = (
        "version,device name,recording epoch time,recording time,recording timezone,platform,appVersion,device id,"
        "sensors,sampleRateMs,standardisation,platform version\n"
        f"3,Test Phone,{T0_NS // 1_000_000},2023-11-14_22-13-20,UTC,{platform},1.40,abc123,Accelerometer|Gyroscope,"
        "10|10,false,17\n"
    ).encode()
    return files


member_ops = st.one_of(
    st.tuples(st.just("keep")),
    st.tuples(st.just("drop")),
    st.tuples(st.just("empty")),
    st.tuples(st.just("header_only")),
    st.tuples(st.just("garbage"), st.binary(min_size=1, max_size=40)),
    st.tuples(st.just("bytes"), byte_ops),
    st.tuples(st.just("lines"), line_ops),
    st.tuples(st.just("utf16")),
)
EPOCHS = ["nan", "NaN", "inf", "-inf", "1e300", "-1e300", "-62135596801", "253402300800", "0", "", "x", "1e20", "-1"]
zip_tweaks = st.one_of(
    st.tuples(st.just("none")),
    st.tuples(st.just("encrypted")),
    st.tuples(st.just("method"), st.sampled_from([1, 6, 9, 12, 14, 95, 98, 99])),
    st.tuples(st.just("crc")),
    st.tuples(st.just("archive_bytes"), byte_ops),
)


def apply_member_op(data: bytes, op: tuple) -> bytes | None:
    kind = op[0]
    if kind == "drop":
        return None
    if kind == "empty":
        return b""
    if kind == "header_only":
        return data.split(b"\n", 1)[0] + b"\n"
    if kind == "garbage":
        return op[1]
    if kind == "bytes":
        return apply_byte_ops(data, op[1])
    if kind == "lines":
        text = data.decode("utf-8", errors="surrogateescape")
        return apply_line_ops(text, op[1]).encode("utf-8", errors="surrogateescape")
    if kind == "utf16":
        return data.decode("utf-8", errors="surrogateescape").encode("utf-16", errors="surrogatepass")
    return data


def write_zip(path: Path, files: dict[str, bytes], tweak: tuple, prefix: str = "") -> Path:
    stored = tweak[0] in ("encrypted", "method", "crc")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(prefix + name, data)
    raw = bytearray(path.read_bytes())
    if tweak[0] in ("encrypted", "method"):
        # patch every local file header (PK\3\4) and central directory entry (PK\1\2)
        for sig, flag_off, method_off in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
            i = raw.find(sig)
            while i != -1:
                if tweak[0] == "encrypted":
                    raw[i + flag_off] |= 1
                else:
                    raw[i + method_off : i + method_off + 2] = struct.pack("<H", tweak[1])
                i = raw.find(sig, i + 4)
    elif tweak[0] == "crc":
        i = raw.find(b"PK\x03\x04")
        if i != -1:
            name_len, extra_len = struct.unpack("<HH", raw[i + 26 : i + 30])
            j = i + 30 + name_len + extra_len
            if j < len(raw):
                raw[j] ^= 0xFF  # first byte of the stored data: the CRC no longer matches
    elif tweak[0] == "archive_bytes":
        raw = bytearray(apply_byte_ops(bytes(raw), tweak[1]))
    path.write_bytes(bytes(raw))
    return path


def write_folder(folder: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        f = folder / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(data)
    return folder


@fuzz
@given(
    st.sampled_from(["phyphox", "sensorlogger-android", "sensorlogger-ios"]),
    st.sampled_from(["zip", "folder"]),
    st.lists(st.tuples(st.integers(0, 5), member_ops), max_size=3),
    st.one_of(st.none(), st.sampled_from(EPOCHS)),
    st.one_of(st.none(), st.binary(max_size=60)),
    zip_tweaks,
    st.sampled_from([100.0, 50.0, 5.0, 1.0]),
)
def test_phone_exports(app, container, member_changes, epoch, device_csv, tweak, rate):
    """phyphox and Sensor Logger exports, zipped or unpacked: members dropped, emptied, garbled,
    cut or re-encoded; odd epochs in ``meta/time.csv``; a garbage ``device.csv``; encrypted,
    oddly compressed or corrupt zip members; phones sampling at 1-5 Hz."""
    files = phyphox_files(rate) if app == "phyphox" else sensorlogger_files(app.split("-")[1])
    if app == "phyphox":
        if epoch is not None:
            files["meta/time.csv"] = f'"event","experiment time","system time"\n"START",0.0,{epoch}\n'.encode()
        if device_csv is not None:
            files["meta/device.csv"] = device_csv
    names = sorted(files)
    for idx, op in member_changes:
        name = names[idx % len(names)]
        if name in files:
            new = apply_member_op(files[name], op)
            if new is None:
                del files[name]
            else:
                files[name] = new
    with scratch() as d:
        if container == "zip":
            p = write_zip(d / "export.zip", files, tweak, prefix="" if app == "phyphox" else "2023-11-14_22-13-20/")
        else:
            p = write_folder(d / "export", files)
        check_read(p, f"phone-{app}")


# ---------------------------------------------------------------------------------------
# the Alcantara 2022 dataset
# ---------------------------------------------------------------------------------------
#: (trial table, accelerometer matrix, force matrix) file names of each layout
ALCANTARA_LAYOUTS = {
    "subset": ("trials.csv", "sacral_accel_g.csv", "normal_grf_bw.csv"),
    "authors": ("Sub_Info_one_sub.csv", "Accelerometer_one_sub.csv", "GRF_one_sub.csv"),
    "zenodo": ("Sub_Info.csv", "Accelerometer.csv", "GRF.csv"),
}
N_AX = 2480


@functools.cache
def _alcantara_rows() -> np.ndarray:
    t = np.arange(N_AX) / 500.0
    v = np.clip(1.0 + 1.3 * np.sin(2 * np.pi * 2.8 * t), 0.0, None)
    ap = 0.05 + 0.3 * np.sin(2 * np.pi * 2.8 * t + 1.0)
    return np.vstack([np.concatenate([v, ap]) * (1 + 0.01 * k) for k in range(2)])


def alcantara_files(layout: str) -> dict[str, bytes]:
    trials_name, acc_name, grf_name = ALCANTARA_LAYOUTS[layout]
    acc = _alcantara_rows()
    if layout == "subset":
        head = "Sub,Condition,Sex,Age,Height,Mass,RFS,MFS,FFS,Speed,Slope,StepFreq,trial\n"
        rows = "".join(f"2,,m,,173,76.8,100,0.0,0.0,{3.0 + 0.5 * k},0,,{k + 1}\n" for k in range(2))
        fmt = "%.6g"
    else:
        head = "Sub,Condition,Sex,Age,Height,Mass,RFS,MFS,FFS,Speed,Slope,StepFreq\n"
        rows = "".join(f"2,C{k + 1},m,36,173.0,76.8,100.0,0.0,0.0,{3.0 + 0.5 * k},{5 * k},0\n" for k in range(2))
        fmt = "%.18e"
    buf = io.BytesIO()
    np.savetxt(buf, acc, delimiter=",", fmt=fmt)
    grf = io.BytesIO()
    np.savetxt(grf, np.clip(acc[:, :N_AX] * 1.2 - 0.2, 0, None), delimiter=",", fmt=fmt)
    return {trials_name: (head + rows).encode(), acc_name: buf.getvalue(), grf_name: grf.getvalue()}


alcantara_ops = st.one_of(
    member_ops,
    st.tuples(st.just("drop_column"), st.sampled_from(["Sub", "Mass", "Speed", "Slope", "RFS", "trial", "Height"])),
    st.tuples(st.just("set_cell"), st.integers(0, 1), st.integers(0, 12), cells),
    st.tuples(st.just("ragged_row"), st.integers(0, 1), st.integers(1, 4960)),
)


def apply_alcantara_op(name: str, data: bytes, op: tuple) -> bytes | None:
    kind = op[0]
    if kind == "drop_column" and name.lower().startswith(("trials", "sub_info")):
        try:
            df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError):
            return data  # already broken by an earlier change
        return df.drop(columns=[op[1]], errors="ignore").to_csv(index=False).encode()
    if kind == "set_cell":
        lines = data.decode("utf-8", errors="surrogateescape").split("\n")
        i = min(op[1] + (1 if name.lower().startswith(("trials", "sub_info")) else 0), len(lines) - 1)
        fields = lines[i].split(",")
        fields[op[2] % len(fields)] = op[3]
        lines[i] = ",".join(fields)
        return "\n".join(lines).encode("utf-8", errors="surrogatepass")
    if kind == "ragged_row":
        lines = data.decode("utf-8", errors="surrogateescape").split("\n")
        i = min(op[1], len(lines) - 1)
        fields = lines[i].split(",")
        lines[i] = ",".join(fields[: op[2]])
        return "\n".join(lines).encode("utf-8", errors="surrogateescape")
    if kind in ("drop_column", "set_cell", "ragged_row"):
        return data
    return apply_member_op(data, op)


@fuzz
@given(
    st.sampled_from(sorted(ALCANTARA_LAYOUTS)),
    st.lists(st.tuples(st.integers(0, 2), alcantara_ops), max_size=3),
    st.sampled_from(["folder", "matrix file"]),
)
def test_alcantara_folders(layout, changes, entry):
    """The dataset's three layouts (this project's subset, the authors' repository's data
    folder, the full archive) with a column missing, text or NaN in a cell, ragged rows, an
    empty table, non-UTF-8 bytes, a huge trial number, files missing."""
    files = alcantara_files(layout)
    names = list(ALCANTARA_LAYOUTS[layout])
    for idx, op in changes:
        name = names[idx]
        if name in files:
            new = apply_alcantara_op(name, files[name], op)
            if new is None:
                del files[name]
            else:
                files[name] = new
    with scratch() as d:
        folder = write_folder(d / "alcantara", files)
        p = folder if entry == "folder" else folder / names[1]
        if p.exists():
            check_read(p, f"alcantara-{layout}")


# ---------------------------------------------------------------------------------------
# writer -> loader: exact round trips of valid sessions
# ---------------------------------------------------------------------------------------
meta_text = st.text(max_size=15)


@fuzz
@given(
    st.sampled_from(BASES),
    st.sampled_from(FORMATS),
    st.integers(2, 40),
    st.sampled_from([25.0, 50.0, 100.0, 104.0, 200.0, 400.0, 512.0, 833.0]),
    st.floats(-1e5, 1e5, allow_nan=False),
    st.floats(-50, 50, allow_nan=False, allow_infinity=False, width=64),
    st.fixed_dictionaries(
        {"device": st.none() | meta_text, "shoes": st.none() | meta_text, "notes": st.none() | meta_text},
    ),
    st.dictionaries(st.text(max_size=5), json_values, max_size=3),
)
def test_round_trip_is_exact(base, fmt, n, fs, t0, value, strings, extra):
    """Any valid session written by the writer is read back bit for bit, with its metadata."""
    s = base_session(base)
    n = min(n, s.n_samples)
    acc = s.acc[:n].copy()
    acc[0, 0] = value if not np.isnan(acc[0, 0]) else acc[0, 0]
    meta = SessionMetadata(sampling_rate_hz=fs, extra=extra, **strings)
    t = np.arange(n) / fs + t0
    s = Session(t=t, acc=acc, gyr=None if s.gyr is None else s.gyr[:n], frame=s.frame, meta=meta)
    with scratch() as d:
        p = save_session(s, d / f"s.{fmt}")
        outcome = check_read(p, "round-trip")
        if outcome != "ok":
            return
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", GaitDataWarning)
            (r,) = read_sessions(p)
    if TALLY is None:
        assert np.array_equal(r.acc, s.acc, equal_nan=True)
        if 0.0 <= t0 < 86_400:  # times far from zero are rebased (tested in test_loader_edges)
            assert np.array_equal(r.t, s.t)


# ---------------------------------------------------------------------------------------
# campaign mode: python -m tests.test_fuzz_loaders
# ---------------------------------------------------------------------------------------
TESTS = [
    test_byte_mutations,
    test_line_mutations,
    test_metadata_of_any_type,
    test_times_and_values,
    test_phone_exports,
    test_alcantara_folders,
    test_round_trip_is_exact,
]


def campaign(examples: int) -> dict[str, Any]:
    """Run every strategy for ``examples`` cases, counting outcomes instead of failing."""
    from hypothesis import settings

    global TALLY
    TALLY = collections.Counter()
    EXAMPLES.clear()
    CASES.clear()
    per_test = {}
    for test in TESTS:
        before = sum(CASES.values())
        saved = test._hypothesis_internal_use_settings
        test._hypothesis_internal_use_settings = settings(fuzz, max_examples=examples)
        try:
            test()
        finally:
            test._hypothesis_internal_use_settings = saved
        per_test[test.__name__] = sum(CASES.values()) - before
    tally = dict(TALLY)
    TALLY = None
    return {"cases": sum(CASES.values()), "per_test": per_test, "outcomes": tally, "examples": dict(EXAMPLES)}


if __name__ == "__main__":  # pragma: no cover - campaign runner
    n = int(os.environ.get("GAIT_FUZZ_CAMPAIGN", "300"))
    warnings.simplefilter("default")
    result = campaign(n)
    out = os.environ.get("GAIT_FUZZ_REPORT")
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=1))
    for kind, text in result["examples"].items():
        print(f"\n=== {kind}\n{text}")
    sys.exit(0)
