"""Phone-as-sensor readers: phyphox and Sensor Logger exports, built here from a simulated run
sampled the way phones sample (jittered, accelerometer and gyroscope at different instants)."""

from __future__ import annotations

import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import gait
from gait.errors import GaitDataWarning, GaitInputError
from gait.readers import _phyphox, _sensorlogger, read_session

FS = 200.0


@pytest.fixture(scope="module")
def truth():
    """A simulated run and interpolators of its acceleration and angular rate."""
    s = gait.simulate(duration_s=6, seed=4).session

    def at(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = np.column_stack([np.interp(t, s.t, s.acc[:, k]) for k in range(3)])
        gyr = np.column_stack([np.interp(t, s.t, s.gyr[:, k]) for k in range(3)])
        return acc, gyr

    return s, at


def phone_times(n: int, rate: float, offset: float, seed: int, jitter: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 + offset + np.arange(n) / rate + rng.uniform(-jitter, jitter, n) / rate


def q(cols: list[str]) -> str:
    return ",".join(f'"{c}"' for c in cols)


ACC_COLS = [
    "Time (s)",
    "Acceleration x (m/s^2)",
    "Acceleration y (m/s^2)",
    "Acceleration z (m/s^2)",
    "Absolute acceleration (m/s^2)",
]
GYR_COLS = ["Time (s)", "Gyroscope x (rad/s)", "Gyroscope y (rad/s)", "Gyroscope z (rad/s)", "Absolute (rad/s)"]
LIN_COLS = [
    "Time (s)",
    "Linear Acceleration x (m/s^2)",
    "Linear Acceleration y (m/s^2)",
    "Linear Acceleration z (m/s^2)",
    "Absolute acceleration (m/s^2)",
]


def table(cols: list[str], t: np.ndarray, xyz: np.ndarray, *, sep: str = ",", decimal: str = ".") -> str:
    rows = np.column_stack([t, xyz, np.linalg.norm(xyz, axis=1)])
    body = "\n".join(sep.join(f"{v:.9E}".replace(".", decimal) for v in r) for r in rows)
    header = q(cols) if sep == "," else sep.join(f'"{c}"' for c in cols)
    return header + "\n" + body + "\n"


def phyphox_zip(path: Path, tables: dict[str, str], *, meta: bool = True) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in tables.items():
            z.writestr(name, text)
        if meta:
            z.writestr(
                "meta/device.csv",
                '"property","value"\n"version","1.1.11"\n"deviceBrand","Google"\n"deviceModel","Pixel 7"\n',
            )
            z.writestr(
                "meta/time.csv",
                '"event","experiment time","system time","system time text"\n"START",0.0,1700000000.0,"x"\n',
            )
    return path


def read_quietly(path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = read_session(path)
    return s, [str(w.message) for w in caught if issubclass(w.category, GaitDataWarning)]


# ---------------------------------------------------------------------------------------
# phyphox
# ---------------------------------------------------------------------------------------
class TestPhyphox:
    def test_zip_with_accelerometer_and_gyroscope(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(1000, FS, 0.0, 1)
        tg = phone_times(1010, 199.0, 0.0023, 2)
        acc, _ = at(ta)
        _, gyr = at(tg)
        p = phyphox_zip(
            tmp_path / "Lumbar 2024-05-01 10-00-00.zip",
            {"Accelerometer.csv": table(ACC_COLS, ta, acc), "Gyroscope.csv": table(GYR_COLS, tg, gyr)},
        )
        assert _phyphox.sniff(p) and not _sensorlogger.sniff(p)
        session, msgs = read_quietly(p)
        assert any("interpolated linearly onto the accelerometer times" in m for m in msgs)
        assert session.sampling_rate_hz == 200.0 and session.has_gyro
        assert session.meta.device == "phyphox on Google Pixel 7"
        assert session.meta.start_time == "2023-11-14T22:13:20+00:00"
        # values agree with the truth at the session's (resampled) times
        t_abs = session.t + max(ta[0], tg[0])
        ref_acc, ref_gyr = at(t_abs)
        inner = slice(5, -5)
        assert np.abs(session.acc[inner] - ref_acc[inner]).max() < 1.5
        assert np.abs(session.gyr[inner] - ref_gyr[inner]).max() < 0.2
        assert np.median(np.abs(session.acc - ref_acc)) < 0.1

    def test_single_csv_accelerometer_only(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(600, FS, 0.0, 3)
        p = tmp_path / "Raw Data.csv"
        p.write_text(table(ACC_COLS, ta, at(ta)[0]))
        session, msgs = read_quietly(p)
        assert not session.has_gyro and session.n_samples >= 590
        assert not any("interpolated" in m for m in msgs)

    def test_folder_with_semicolons_and_decimal_commas(self, tmp_path, truth):
        _, at = truth
        ta, tg = phone_times(500, FS, 0, 5), phone_times(500, FS, 0.001, 6)
        (tmp_path / "exp").mkdir()
        (tmp_path / "exp" / "Accelerometer.csv").write_text(table(ACC_COLS, ta, at(ta)[0], sep=";", decimal=","))
        (tmp_path / "exp" / "Gyroscope.csv").write_text(table(GYR_COLS, tg, at(tg)[1], sep="\t", decimal=","))
        session, _ = read_quietly(tmp_path / "exp")
        assert session.has_gyro and 9.0 < np.median(np.linalg.norm(session.acc, axis=1)) < 10.8

    def test_one_table_with_both_sensors_side_by_side(self, tmp_path, truth):
        """A custom experiment's single export set: each sensor follows its own time column."""
        _, at = truth
        ta, tg = phone_times(400, FS, 0, 7), phone_times(380, FS, 0.002, 8)
        a = pd.DataFrame(np.column_stack([ta, at(ta)[0]]), columns=ACC_COLS[:4])
        g = pd.DataFrame(np.column_stack([tg, at(tg)[1]]), columns=GYR_COLS[:4])
        both = pd.concat([a, g], axis=1)  # the shorter set is padded with empty cells
        p = tmp_path / "Raw Data.csv"
        both.to_csv(p, index=False)
        session, _ = read_quietly(p)
        assert session.has_gyro and session.t[-1] <= tg[-1] - ta[0] + 1e-9

    def test_gyroscope_hole_becomes_a_gap(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(1000, FS, 0, 9)
        tg = phone_times(1000, FS, 0.001, 10)
        keep = (tg < 2.5) | (tg > 3.0)
        p = phyphox_zip(
            tmp_path / "x.zip",
            {"a.csv": table(ACC_COLS, ta, at(ta)[0]), "g.csv": table(GYR_COLS, tg[keep], at(tg[keep])[1])},
        )
        session, msgs = read_quietly(p)
        assert len(session.gaps) == 1 and any("gap" in m for m in msgs)
        (g0, g1) = session.gaps[0]
        assert 0.4 < g1 - g0 < 0.6

    def test_linear_acceleration_is_refused(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 11)
        p = tmp_path / "Raw Data.csv"
        p.write_text(table(LIN_COLS, t, at(t)[0] - [0, 9.81, 0]))
        msg = (
            f"{p}: acceleration without gravity; expected the raw accelerometer, with gravity ('Acceleration x (m/s^2)' columns), "
            "found 'Linear Acceleration x (m/s^2)' columns: phyphox's 'Acceleration (without g)' experiment. "
            "Gravity is what defines vertical, so it cannot be left out. Record with phyphox's 'Acceleration with g' experiment "
            "(or a custom experiment with the accelerometer and the gyroscope) and export it again"
        )
        with pytest.raises(GaitInputError, match="^" + re.escape(msg) + "$"):
            read_session(p)

    def test_exceptions(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 12)
        p = phyphox_zip(tmp_path / "gyro.zip", {"Raw Data.csv": table(GYR_COLS, t, at(t)[1])})
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}: no accelerometer data; expected a table with 'Time (s)' and 'Acceleration x/y/z (m/s^2)' columns, found gyroscope data only"
            ),
        ):
            read_session(p)
        two = phyphox_zip(
            tmp_path / "two.zip", {"a.csv": table(ACC_COLS, t, at(t)[0]), "b.csv": table(ACC_COLS, t, at(t)[0])}
        )
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{two}: more than one accelerometer table; expected one accelerometer recording per export, found 2"
            ),
        ):
            read_session(two)
        later = phyphox_zip(
            tmp_path / "apart.zip", {"a.csv": table(ACC_COLS, t, at(t)[0]), "g.csv": table(GYR_COLS, t + 100, at(t)[1])}
        )
        with pytest.raises(
            GaitInputError, match=re.escape(f"{later}: accelerometer and gyroscope do not overlap in time")
        ):
            read_session(later)
        partial = tmp_path / "partial.csv"
        partial.write_text(q(["Time (s)", "Acceleration x (m/s^2)", "Acceleration y (m/s^2)"]) + "\n0,1,2\n")
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                "incomplete sensor columns; expected x, y and z columns of the acc sensor, found only x, y"
            ),
        ):
            read_session(partial)

    def test_empty_and_not_phyphox(self, tmp_path):
        assert not _phyphox.sniff(tmp_path)  # empty folder
        canonical = tmp_path / "run.csv"
        canonical.write_text("t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n")
        assert not _phyphox.sniff(canonical) and not _sensorlogger.sniff(canonical)
        assert not _phyphox.sniff(tmp_path / "missing.zip")
        header_only = tmp_path / "h.csv"
        header_only.write_text(q(ACC_COLS) + "\n")
        with pytest.raises(GaitInputError, match="too few rows; expected at least 2 accelerometer samples, found 0"):
            read_session(header_only)


# ---------------------------------------------------------------------------------------
# Sensor Logger
# ---------------------------------------------------------------------------------------
T0_NS = 1_700_000_000_000_000_000


def sl_csv(t: np.ndarray, xyz: np.ndarray) -> str:
    t_ns = (T0_NS + np.round(t * 1e9)).astype(np.int64)
    df = pd.DataFrame({"time": t_ns, "seconds_elapsed": t - 1.0, "z": xyz[:, 2], "y": xyz[:, 1], "x": xyz[:, 0]})
    return df.to_csv(index=False)


def sl_meta(platform: str, standardisation: bool) -> str:
    return (
        "version,device name,recording epoch time,recording time,recording timezone,platform,appVersion,device id,"
        "sensors,sampleRateMs,standardisation,platform version\n"
        f"3,Test Phone,{T0_NS // 1_000_000},2023-11-14_22-13-20,UTC,{platform},1.40,abc123,Accelerometer|Gyroscope,5|5,"
        f"{str(standardisation).lower()},17\n"
    )


def sl_zip(path: Path, files: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in files.items():
            z.writestr(f"2023-11-14_22-13-20/{name}", text)
    return path


class TestSensorLogger:
    def test_android_folder(self, tmp_path, truth):
        _, at = truth
        ta, tg = phone_times(1000, FS, 0, 21), phone_times(1000, FS, 0.0017, 22)
        d = tmp_path / "rec"
        d.mkdir()
        (d / "TotalAcceleration.csv").write_text(sl_csv(ta, at(ta)[0]))
        (d / "Accelerometer.csv").write_text(sl_csv(ta, at(ta)[0] - [0, 9.8, 0]))
        (d / "Gyroscope.csv").write_text(sl_csv(tg, at(tg)[1]))
        (d / "Metadata.csv").write_text(sl_meta("android", False))
        assert _sensorlogger.sniff(d) and _sensorlogger.sniff(d / "Gyroscope.csv") and not _phyphox.sniff(d)
        session, msgs = read_quietly(d)
        assert any("interpolated linearly" in m for m in msgs)
        assert session.meta.device == "Sensor Logger on Test Phone" and session.meta.device_id == "abc123"
        assert session.meta.extra["platform"] == "android"
        ref_acc, _ = at(session.t + max(ta[0], tg[0]))
        assert np.median(np.abs(session.acc - ref_acc)) < 0.1

    @pytest.mark.parametrize("standardised", [False, True])
    def test_ios_accelerometer_plus_gravity(self, tmp_path, truth, standardised):
        """iOS: user acceleration + gravity, in Core Motion's sign unless standardised."""
        _, at = truth
        ta, tg = phone_times(800, 100.0, 0, 23), phone_times(800, 100.0, 0.003, 24)
        sf, _ = at(ta)
        gravity = np.tile([0.0, 9.80665, 0.0], (ta.size, 1))
        sign = 1.0 if standardised else -1.0
        files = {
            "Accelerometer.csv": sl_csv(ta, sign * (sf - gravity)),
            "Gravity.csv": sl_csv(ta, sign * gravity),
            "Gyroscope.csv": sl_csv(tg, at(tg)[1]),
            "Metadata.csv": sl_meta("ios", standardised),
        }
        session, _ = read_quietly(sl_zip(tmp_path / "r.zip", files))
        ref, _ = at(session.t + max(ta[0], tg[0]))
        assert np.median(np.abs(session.acc - ref)) < 0.1  # specific force: +1 g up
        assert session.sampling_rate_hz == 100.0

    def test_ios_uncalibrated_in_g(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(600, 100.0, 0, 25)
        files = {
            "AccelerometerUncalibrated.csv": sl_csv(ta, -at(ta)[0] / 9.80665),
            "Metadata.csv": sl_meta("ios", False),
        }
        session, _ = read_quietly(sl_zip(tmp_path / "u.zip", files))
        assert not session.has_gyro
        assert np.median(np.abs(session.acc - at(session.t + ta[0])[0])) < 0.1

    def test_repeated_rows_are_dropped(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(600, FS, 0, 26)
        ta_dup = np.insert(ta, [100, 200, 300], ta[[100, 200, 300]])
        files = {"TotalAcceleration.csv": sl_csv(ta_dup, at(ta_dup)[0]), "Metadata.csv": sl_meta("android", False)}
        session, msgs = read_quietly(sl_zip(tmp_path / "d.zip", files))
        assert any(
            m.endswith("3 accelerometer rows repeated an earlier time stamp; the repeats were left out") for m in msgs
        )
        assert session.n_samples >= 590

    def test_without_gravity_is_refused(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 27)
        p = sl_zip(
            tmp_path / "nog.zip",
            {"Accelerometer.csv": sl_csv(t, at(t)[0] - [0, 9.8, 0]), "Gyroscope.csv": sl_csv(t, at(t)[1])},
        )
        msg = (
            f"{p}: acceleration without gravity; expected acceleration with gravity: TotalAcceleration.csv (Android), "
            "Accelerometer.csv with Gravity.csv (iOS), or AccelerometerUncalibrated.csv, found only Accelerometer.csv, "
            "which Sensor Logger writes without gravity. Gravity is what defines vertical. In Sensor Logger enable the "
            "Gravity sensor (iOS) or export Total Acceleration (Android) alongside the Accelerometer, or enable "
            "uncalibrated accelerometer logging, and record again"
        )
        with pytest.raises(GaitInputError, match="^" + re.escape(msg) + "$"):
            read_session(p)

    def test_platform_must_be_known_to_fix_the_sign(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 28)
        p = sl_zip(
            tmp_path / "nometa.zip", {"Accelerometer.csv": sl_csv(t, at(t)[0]), "Gravity.csv": sl_csv(t, at(t)[0])}
        )
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}: unknown platform; expected Metadata.csv with a 'platform' of ios or android (iOS reports acceleration "
                "with the opposite sign), found Accelerometer.csv + Gravity.csv without Metadata.csv. Export the whole "
                "recording (the zip), which includes Metadata.csv"
            ),
        ):
            read_session(p)

    def test_exceptions_and_empty(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 29)
        only_gyro = sl_zip(tmp_path / "g.zip", {"Gyroscope.csv": sl_csv(t, at(t)[1])})
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{only_gyro}: no accelerometer data; expected TotalAcceleration.csv, Accelerometer.csv with Gravity.csv, or AccelerometerUncalibrated.csv, found only gyroscope"
            ),
        ):
            read_session(only_gyro)
        bad = sl_zip(tmp_path / "b.zip", {"TotalAcceleration.csv": "time,seconds_elapsed,a,b\n1,2,3,4\n"})
        assert not _sensorlogger.sniff(bad)
        assert not _sensorlogger.sniff(tmp_path / "nothing-here")
        empty = tmp_path / "e.zip"
        with zipfile.ZipFile(empty, "w"):
            pass
        assert not _sensorlogger.sniff(empty) and not _phyphox.sniff(empty)


# ---------------------------------------------------------------------------------------
# damaged exports: one clear error (or a warning for metadata), never another exception
# ---------------------------------------------------------------------------------------
def _patch_members(path: Path, *, flag: int | None = None, method: int | None = None) -> Path:
    """Set a general-purpose flag bit or the compression method of every member, in place."""
    raw = bytearray(path.read_bytes())
    for sig, flag_off, method_off in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = raw.find(sig)
        while i != -1:
            if flag is not None:
                raw[i + flag_off] |= flag
            if method is not None:
                raw[i + method_off : i + method_off + 2] = method.to_bytes(2, "little")
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))
    return path


class TestDamagedExports:
    @pytest.fixture
    def export(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(600, FS, 0.0, 31)
        acc, gyr = at(ta)

        def make(name: str = "x.zip", stored: bool = True) -> Path:
            p = tmp_path / name
            with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
                z.writestr("Accelerometer.csv", table(ACC_COLS, ta, acc))
                z.writestr("Gyroscope.csv", table(GYR_COLS, ta + 0.001, gyr))
                z.writestr("meta/device.csv", '"property","value"\n"deviceModel","Pixel 7"\n')
                z.writestr("meta/time.csv", '"event","experiment time","system time"\n"START",0.0,1700000000.0\n')
            return p

        return make

    def test_encrypted_member(self, export):
        p = _patch_members(export(), flag=1)
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}/Accelerometer.csv: cannot read zip member; expected a readable CSV file, found an encrypted "
                "member (a password is needed)"
            ),
        ):
            read_session(p)

    def test_unknown_compression_method(self, export):
        p = _patch_members(export(), method=99)
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}/Accelerometer.csv: cannot read zip member; expected a readable CSV file, found a compression "
                "method this Python cannot read"
            ),
        ):
            read_session(p)

    def test_member_with_a_wrong_crc(self, export):
        p = export()
        raw = bytearray(p.read_bytes())
        i = raw.find(b'"Time (s)"')
        raw[i + 1] ^= 0x20  # stored data changed under its CRC
        p.write_bytes(bytes(raw))
        with pytest.raises(GaitInputError, match=re.escape(f"{p}/Accelerometer.csv: cannot read zip member") + ".*CRC"):
            read_session(p)

    def test_zip_that_cannot_be_opened(self, tmp_path):
        p = tmp_path / "broken.zip"
        p.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}: damaged zip archive; expected a phyphox or Sensor Logger export (a zip of their CSV files), "
                "found an archive that cannot be opened"
            ),
        ):
            read_session(p)

    @pytest.mark.parametrize("epoch", ["nan", "inf", "-62135596801", "1e300", "soon"])
    def test_start_time_that_is_not_a_time_is_left_out(self, tmp_path, truth, epoch):
        _, at = truth
        ta = phone_times(600, FS, 0.0, 32)
        p = phyphox_zip(tmp_path / "e.zip", {"Accelerometer.csv": table(ACC_COLS, ta, at(ta)[0])}, meta=False)
        with zipfile.ZipFile(p, "a") as z:
            z.writestr("meta/time.csv", f'"event","experiment time","system time"\n"START",0.0,{epoch}\n')
        s, msgs = read_quietly(p)
        assert s.meta.start_time is None
        assert f"meta/time.csv was left out: its START time {epoch!r} is not a time (seconds since 1970)" in " ".join(
            msgs
        )

    def test_garbage_device_csv_is_left_out(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(600, FS, 0.0, 33)
        p = phyphox_zip(tmp_path / "d.zip", {"Accelerometer.csv": table(ACC_COLS, ta, at(ta)[0])}, meta=False)
        with zipfile.ZipFile(p, "a") as z:
            z.writestr("meta/device.csv", b'"property","value"\n"deviceModel","' + b"x" * 200_000 + b'"\n')
        s, msgs = read_quietly(p)
        assert s.meta.device == "phyphox"
        assert any(
            "meta/device.csv was left out: it is not a readable CSV table (field larger than field limit" in m
            for m in msgs
        )

    def test_sensor_logger_with_an_empty_gravity_file(self, tmp_path, truth):
        _, at = truth
        t = phone_times(300, FS, 0, 34)
        for gravity, found in (("", "unreadable CSV"), ("time,seconds_elapsed,z,y,x\n", "too few rows")):
            p = sl_zip(
                tmp_path / f"g{len(gravity)}.zip",
                {
                    "Accelerometer.csv": sl_csv(t, at(t)[0]),
                    "Gravity.csv": gravity,
                    "Metadata.csv": sl_meta("ios", False),
                },
            )
            with pytest.raises(GaitInputError, match=re.escape(f"{p}/gravity: {found}")):
                read_session(p)

    def test_phone_sampling_at_5_hz_loads_but_is_not_analysed(self, tmp_path, truth):
        _, at = truth
        ta = phone_times(40, 5.0, 0.0, 35)
        p = phyphox_zip(tmp_path / "slow.zip", {"Accelerometer.csv": table(ACC_COLS, ta, at(ta)[0])}, meta=False)
        s, _ = read_quietly(p)
        assert s.sampling_rate_hz == 5.0
        with pytest.raises(GaitInputError, match=r"sampling rate too low for the analysis; expected at least 90 Hz"):
            gait.analyze(s)
