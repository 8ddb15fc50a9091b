"""Random-bytes campaign against every BLE decoder: exceptions, non-finite samples, time order.

    python benchmarks/fuzz_decoders.py                  # 10,000 notifications per decoder and family
    python benchmarks/fuzz_decoders.py --n 2000 --json fuzz.json

Each decoder is fed, in one long stream, ``--n`` random notifications of two families:

- *random*: uniformly random bytes, 0 to 520 long;
- *shaped*: random bytes behind the decoder's own header (the measurement type and frame type
  of Polar PMD, the type and reference of Movesense, a data register of MetaWear, ``55 61`` of
  WitMotion, a packet of our protocol with a correct CRC, and on the characteristics that carry
  settings: Polar's control point, our configuration), so that the payload parsers are reached.

Counted per decoder: notifications fed, exceptions in counting mode (there must be none),
exceptions in raising mode other than the documented one, samples emitted, samples with a NaN
or infinite value (there must be none), and samples whose time is not after the previous
sample's (there must be none). The property-based tests (``tests/test_fuzz_decoders.py``) check
the same properties on mutated valid packets and mixed sequences, and that valid packets after
garbage still decode exactly.
"""

from __future__ import annotations

import argparse
import json
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from firmware_protocol import codec
from firmware_protocol.devices import (
    FrameError,
    LumbarImuDecoder,
    MetaWearDecoder,
    MovesenseDecoder,
    PolarPmdDecoder,
    WitMotionDecoder,
    polar,
)
from firmware_protocol.stream import StreamDecoder

CONFIG = codec.DeviceConfig(
    rate_mhz=416000,
    acc_range_g=16,
    gyr_range_dps=2000,
    acc_scale_ng_per_lsb=488000,
    gyr_scale_udps_per_lsb=70000,
    samples_per_packet=19,
)


@dataclass
class Tally:
    """Outcome of one decoder's campaign."""

    fed: int = 0
    samples: int = 0
    nonfinite_emitted: int = 0
    non_monotone: int = 0
    exceptions: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    stats: dict = field(default_factory=dict)
    tail_sent: int = 0
    tail_emitted: int = 0

    def as_dict(self) -> dict:
        return {
            "fed": self.fed,
            "samples": self.samples,
            "nonfinite_emitted": self.nonfinite_emitted,
            "non_monotone": self.non_monotone,
            "exceptions": dict(self.exceptions),
            "seconds": round(self.seconds, 2),
            "stats": self.stats,
            "tail_sent": self.tail_sent,
            "tail_emitted": self.tail_emitted,
        }


def _random(rng: np.random.Generator) -> bytes:
    return rng.integers(0, 256, int(rng.integers(0, 521)), dtype=np.uint8).tobytes()


def _lumbar_packet(rng: np.random.Generator) -> bytes:
    n = int(rng.integers(1, 42))
    head = bytes([1, int(rng.integers(0, 4))]) + rng.integers(0, 256, 6, dtype=np.uint8).tobytes() + bytes([n])
    body = head + rng.integers(0, 256, 12 * n, dtype=np.uint8).tobytes()
    return body + struct.pack("<H", codec.crc16_ccitt_false(body))


def _clock(rng: np.random.Generator, state: dict, key: str, step: float, start: int) -> int:
    """A device clock that mostly moves on by about ``step`` and sometimes jumps anywhere."""
    if rng.random() < 0.1:
        return int(rng.integers(0, 2**63))
    state[key] = state.get(key, start) + int(step * rng.uniform(0.5, 3.0))
    return state[key]


def _polar_payload(rng: np.random.Generator, meas: int) -> tuple[int, bytes]:
    """A frame type and a payload: mostly well formed with random values, sometimes random bytes."""
    kind = int(rng.integers(0, 4))
    n = int(rng.integers(1, 40))
    if kind == 0 and meas == polar.MEAS_ACC:  # raw int8 / int16 / int24
        ftype = int(rng.integers(0, 3))
        return ftype, rng.integers(0, 256, 3 * (ftype + 1) * n, dtype=np.uint8).tobytes()
    if kind == 1:  # delta-compressed integers
        return 0x80 | int(rng.integers(0, 2)), polar.encode_delta_frame(rng.integers(-30000, 30000, (n, 3)))
    if kind == 2 and meas == polar.MEAS_GYRO:  # delta-compressed float32 bit patterns (NaN and inf included)
        bits = rng.integers(0, 2**32, (n, 3), dtype=np.uint64).astype(np.uint32).view(np.int32).astype(np.int64)
        return 0x81, polar.encode_delta_frame(bits, resolution_bits=32)
    return int(rng.choice([0, 1, 2, 0x80, 0x81])), _random(rng)[:230]


def _polar_frame(rng: np.random.Generator, state: dict) -> bytes:
    meas = int(rng.choice([polar.MEAS_ACC, polar.MEAS_GYRO]))
    ftype, payload = _polar_payload(rng, meas)
    t_ns = _clock(rng, state, f"polar{meas}", 1e8, 10**18)
    return bytes([meas]) + struct.pack("<Q", t_ns) + bytes([ftype]) + payload


def _polar_control(rng: np.random.Generator) -> bytes:
    head = bytes([0xF0, 0x02, int(rng.choice([2, 5])), int(rng.integers(0, 2)), 0])
    factor = struct.pack("<I", int(rng.integers(0, 2**32)))
    return head + bytes([polar.SETTING_FACTOR, 1]) + factor + _random(rng)[: int(rng.integers(0, 8))]


def _movesense(rng: np.random.Generator, state: dict) -> bytes:
    kind = int(rng.choice([1, 2, 3]))
    t_ms = _clock(rng, state, "movesense", 40, 10**6) % 2**32
    return bytes([kind, 99]) + struct.pack("<I", t_ms) + _random(rng)[:250]


_METAWEAR_KEYS = [(3, 4, 8), (3, 0x1C, 20), (3, 5, 20), (0x13, 5, 8), (0x13, 4, 8), (0x13, 7, 20), (0x13, 5, 20)]


def _metawear(rng: np.random.Generator) -> bytes:
    m, r, n = _METAWEAR_KEYS[int(rng.integers(0, len(_METAWEAR_KEYS)))]
    if rng.random() < 0.2:
        n = int(rng.integers(2, 30))
    return bytes([m, r]) + rng.integers(0, 256, n - 2, dtype=np.uint8).tobytes()


def _witmotion(rng: np.random.Generator) -> bytes:
    k = int(rng.integers(1, 4))
    out = b"".join(b"\x55\x61" + rng.integers(0, 256, 18, dtype=np.uint8).tobytes() for _ in range(k))
    if rng.random() < 0.3:
        out = out[: int(rng.integers(0, len(out) + 1))]
    return out


# ---------------------------------------------------------------------------------------
# valid notifications after the garbage: does the decoder recover?
# ---------------------------------------------------------------------------------------
TAIL = 40


def _tail_lumbar(rng: np.random.Generator, state: dict) -> tuple[list[tuple[bytes, str | None]], int]:
    n = TAIL * 19
    counts = rng.integers(-2000, 2000, (n, 3))
    packets = codec.packetize(
        counts,
        -counts,
        t0_us=int(rng.integers(0, 2**31)),
        rate_hz=416,
        samples_per_packet=19,
        seq0=int(rng.integers(0, 65536)),
        stream_start=False,
    )
    return [(p, None) for p in packets], n


def _polar_delta(meas: int, t_ns: int, n: int, rng: np.random.Generator) -> bytes:
    return (
        bytes([meas])
        + struct.pack("<Q", t_ns)
        + bytes([0x80])
        + polar.encode_delta_frame(rng.integers(-3000, 3000, (n, 3)))
    )


def _tail_polar(with_gyro: bool) -> Callable:
    def tail(rng: np.random.Generator, state: dict) -> tuple[list[tuple[bytes, str | None]], int]:
        rate, n = (208.0, 36) if with_gyro else (200.0, 36)
        t = max(state.get(f"polar{polar.MEAS_ACC}", 10**18), state.get(f"polar{polar.MEAS_GYRO}", 10**18))
        out = []
        for _ in range(TAIL):
            t += round(n * 1e9 / rate)
            out.append((_polar_delta(polar.MEAS_ACC, t, n, rng), None))
            if with_gyro:
                out.append((_polar_delta(polar.MEAS_GYRO, t, n, rng), None))
        return out, TAIL * n

    return tail


def _tail_metawear(rng: np.random.Generator, state: dict) -> tuple[list[tuple[bytes, str | None]], int]:
    out = []
    for _ in range(TAIL):
        out.append((bytes([0x03, 0x1C]) + rng.integers(-2000, 2000, 9).astype("<i2").tobytes(), None))
        out.append((bytes([0x13, 0x07]) + rng.integers(-2000, 2000, 9).astype("<i2").tobytes(), None))
    return out, TAIL * 3


def _tail_movesense(arrays: int) -> Callable:
    from firmware_protocol.devices import movesense

    def tail(rng: np.random.Generator, state: dict) -> tuple[list[tuple[bytes, str | None]], int]:
        n, rate = 8, 208.0
        t_ms = state.get("movesense", 10**6)
        out = []
        for k in range(TAIL):
            acc, gyr = rng.normal(0, 9, (n, 3)), rng.normal(0, 90, (n, 3))
            mag = rng.normal(0, 50, (n, 3)) if arrays == 3 else None
            ts = (t_ms + round(k * n * 1000 / rate)) % 2**32
            out += [(note, None) for note in movesense.encode_imu(ts, acc, gyr, mag, mtu_payload=244)]
        return out, TAIL * n

    return tail


def _tail_witmotion(rng: np.random.Generator, state: dict) -> tuple[list[tuple[bytes, str | None]], int]:
    from firmware_protocol.devices import witmotion

    out = [(witmotion.encode_frame(rng.uniform(-2, 2, 3), rng.uniform(-500, 500, 3)), None) for _ in range(TAIL)]
    return out, TAIL


Feed = Callable[[bytes, str | None], tuple[np.ndarray, np.ndarray, np.ndarray | None]]


def _device_feed(dec) -> Feed:
    def feed(data: bytes, char: str | None):
        out = dec.feed(data, characteristic=char)
        return out.t_s, out.acc_mps2, out.gyr_rads

    return feed


def _stream_feed(dec: StreamDecoder) -> Feed:
    def feed(data: bytes, char: str | None):
        out = dec.feed(data)
        return out.t_s, out.acc_mps2, out.gyr_rads

    return feed


@dataclass(frozen=True)
class Target:
    name: str
    make: Callable[[str], object]
    feed: Callable[[object], Feed]
    documented: tuple[type[Exception], ...]
    shaped: Callable[[np.random.Generator, dict], tuple[bytes, str | None]]
    tail: Callable[[np.random.Generator, dict], tuple[list[tuple[bytes, str | None]], int]]


def _targets() -> list[Target]:
    dev = _device_feed
    return [
        Target(
            "our protocol, StreamDecoder",
            lambda errors: StreamDecoder(CONFIG, errors=errors),
            _stream_feed,
            (codec.PacketError,),
            lambda rng, st: (_lumbar_packet(rng), None),
            _tail_lumbar,
        ),
        Target(
            "our protocol, LumbarImuDecoder",
            lambda errors: LumbarImuDecoder(config=CONFIG, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (
                (_lumbar_packet(rng), None)
                if rng.random() < 0.8
                else (bytes([1]) + rng.integers(0, 256, 19, dtype=np.uint8).tobytes(), codec.CONFIG_UUID)
            ),
            _tail_lumbar,
        ),
        Target(
            "Polar Verity Sense (ACC + GYRO)",
            lambda errors: PolarPmdDecoder(rate_hz=208, with_gyro=True, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (
                (_polar_frame(rng, st), None) if rng.random() < 0.9 else (_polar_control(rng), polar.CONTROL_UUID)
            ),
            _tail_polar(True),
        ),
        Target(
            "Polar H10 (ACC)",
            lambda errors: PolarPmdDecoder(rate_hz=200, with_gyro=False, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (
                (_polar_frame(rng, st), None) if rng.random() < 0.9 else (_polar_control(rng), polar.CONTROL_UUID)
            ),
            _tail_polar(False),
        ),
        Target(
            "MetaWear",
            lambda errors: MetaWearDecoder(rate_hz=200, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (_metawear(rng), None),
            _tail_metawear,
        ),
        Target(
            "Movesense IMU6",
            lambda errors: MovesenseDecoder(rate_hz=208, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (_movesense(rng, st), None),
            _tail_movesense(2),
        ),
        Target(
            "Movesense IMU9",
            lambda errors: MovesenseDecoder(rate_hz=208, channels="IMU9", errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (_movesense(rng, st), None),
            _tail_movesense(3),
        ),
        Target(
            "WitMotion",
            lambda errors: WitMotionDecoder(rate_hz=100, errors=errors),
            dev,
            (FrameError,),
            lambda rng, st: (_witmotion(rng), None),
            _tail_witmotion,
        ),
    ]


def run_target(target: Target, *, n: int, family: str, errors: str, seed: int) -> Tally:
    rng = np.random.default_rng(seed)
    dec = target.make(errors)
    feed = target.feed(dec)
    tally = Tally()
    state: dict = {}
    last_t = -np.inf
    t0 = time.perf_counter()

    def one(data: bytes, char: str | None) -> int:
        nonlocal last_t
        tally.fed += 1
        try:
            t, acc, gyr = feed(data, char)
        except target.documented as e:
            if errors == "count":
                tally.exceptions[type(e).__name__] += 1
            return 0
        except Exception as e:  # the campaign's point: any other exception is a finding
            tally.exceptions[f"{type(e).__name__} (undocumented)"] += 1
            return 0
        if t.size == 0:
            return 0
        tally.samples += int(t.size)
        rows = np.isfinite(t) & np.isfinite(acc).all(axis=1)
        if gyr is not None:
            rows &= np.isfinite(gyr).all(axis=1)
        tally.nonfinite_emitted += int((~rows).sum())
        tt = np.concatenate([[last_t], t])
        tally.non_monotone += int(np.sum(~(np.diff(tt) > 0)))
        last_t = float(t[-1]) if np.isfinite(t[-1]) else last_t
        return int(t.size)

    for _ in range(n):
        data, char = (_random(rng), None) if family == "random" else target.shaped(rng, state)
        one(data, char)
    tail, tally.tail_sent = target.tail(rng, state)
    for data, char in tail:
        tally.tail_emitted += one(data, char)
    st = getattr(dec, "stats", None)
    if st is not None:
        tally.stats = {
            k: (dict(v) if isinstance(v, dict) else v)
            for k, v in vars(st).items()
            if k
            in (
                "frames_ok",
                "frames_bad",
                "nonfinite",
                "resyncs",
                "unpaired",
                "bad",
                "packets_ok",
                "corrupt",
                "resyncs",
            )
        }
    tally.seconds = time.perf_counter() - t0
    return tally


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000, help="notifications per decoder, family and mode")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    results = []
    print(
        f"{'decoder':34s} {'family':7s} {'mode':6s} {'fed':>7s} {'samples':>9s} {'non-finite':>10s} "
        f"{'non-monotone':>12s} {'tail':>11s}  exceptions"
    )
    for target in _targets():
        for family in ("random", "shaped"):
            for errors in ("count", "raise"):
                tally = run_target(target, n=args.n, family=family, errors=errors, seed=args.seed)
                results.append({"decoder": target.name, "family": family, "errors": errors, **tally.as_dict()})
                exc = ", ".join(f"{k}: {v}" for k, v in sorted(tally.exceptions.items())) or "-"
                tail = f"{tally.tail_emitted}/{tally.tail_sent}"
                print(
                    f"{target.name:34s} {family:7s} {errors:6s} {tally.fed:7d} {tally.samples:9d} "
                    f"{tally.nonfinite_emitted:10d} {tally.non_monotone:12d} {tail:>11s}  {exc}",
                    flush=True,
                )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    bad = sum(
        r["nonfinite_emitted"]
        + r["non_monotone"]
        + sum(v for k, v in r["exceptions"].items() if r["errors"] == "count" or "undocumented" in k)
        for r in results
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
