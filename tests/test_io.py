"""Canonical session files: round trips and every bad input, with its exact message."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from gait import (
    GaitDataWarning,
    GaitInputError,
    Session,
    SessionMetadata,
    save_session,
    session_from_arrays,
)
from gait.constants import G
from gait.io import SessionCsvWriter, read_canonical_session
from gait.readers import read_session

HEADER = "# gait-session: 1\n# sampling_rate_hz: 100.0\n"
COLS = "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads,gyr_y_rads,gyr_z_rads\n"


def rows(n: int = 50, fs: float = 100.0, acc=(0.1, -0.2, 9.8), gyr=(0.01, 0.02, -0.03)) -> str:
    return "".join(f"{i / fs!r},{acc[0]},{acc[1]},{acc[2]},{gyr[0]},{gyr[1]},{gyr[2]}\n" for i in range(n))


def write(tmp_path, text: str, name: str = "s.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def make_session(n=500, fs=200.0, gyro=True, frame="sensor", seed=0) -> Session:
    rng = np.random.default_rng(seed)
    acc = rng.normal(0, 2, (n, 3)) + ([0, 0, G] if frame == "sensor" else [G, 0, 0])
    gyr = rng.normal(0, 1, (n, 3)) if gyro else None
    meta = SessionMetadata(
        sampling_rate_hz=fs, device="unit-test", shoes="Pegasus 40", notes="a, b: c", extra={"runner": "x"}
    )
    return Session(t=np.arange(n) / fs + 12.5, acc=acc, gyr=gyr, frame=frame, meta=meta)


class TestRoundTrip:
    @pytest.mark.parametrize("name", ["s.csv", "s.csv.gz", "s.parquet"])
    @pytest.mark.parametrize("gyro", [True, False])
    def test_exact(self, tmp_path, name, gyro):
        s = make_session(gyro=gyro)
        p = save_session(s, tmp_path / name)
        r = read_canonical_session(p)
        np.testing.assert_array_equal(r.t, s.t)
        np.testing.assert_array_equal(r.acc, s.acc)
        if gyro:
            np.testing.assert_array_equal(r.gyr, s.gyr)
        else:
            assert r.gyr is None
        assert r.frame == s.frame
        for field in ("sampling_rate_hz", "device", "shoes", "notes"):
            assert getattr(r.meta, field) == getattr(s.meta, field)
        assert r.meta.extra["runner"] == "x"

    def test_body_frame_with_missing_axis(self, tmp_path):
        s = make_session(frame="body", gyro=False)
        acc = s.acc.copy()
        acc[:, 2] = np.nan
        s = s.replace(acc=acc)
        r = read_canonical_session(save_session(s, tmp_path / "b.csv"))
        assert r.missing_acc_axes == ("ml",)
        np.testing.assert_array_equal(r.acc[:, :2], s.acc[:, :2])

    def test_pandas_opens_in_one_call(self, tmp_path):
        s = make_session()
        p = save_session(s, tmp_path / "s.csv.gz")
        df = pd.read_csv(p, comment="#")
        assert list(df.columns) == [
            "t_s",
            "acc_x_mps2",
            "acc_y_mps2",
            "acc_z_mps2",
            "gyr_x_rads",
            "gyr_y_rads",
            "gyr_z_rads",
        ]
        assert len(df) == s.n_samples

    def test_decimals_makes_smaller_files(self, tmp_path):
        s = make_session(n=2000)
        big = save_session(s, tmp_path / "a.csv").stat().st_size
        small = save_session(s, tmp_path / "b.csv", decimals=3).stat().st_size
        assert small < 0.5 * big
        r = read_canonical_session(tmp_path / "b.csv")
        np.testing.assert_allclose(r.acc, s.acc, atol=5e-4)

    def test_unknown_extension(self, tmp_path):
        with pytest.raises(
            GaitInputError,
            match=r"unknown output format; expected a name ending in \.csv, \.csv\.gz or \.parquet, found 's\.txt'",
        ):
            save_session(make_session(), tmp_path / "s.txt")


class TestEntryPoints:
    @pytest.mark.parametrize("name", ["s.csv", "s.csv.gz", "s.parquet"])
    def test_read_session_reads_canonical_files_as_the_canonical_reader(self, tmp_path, name):
        """`gait.read_session` (every format) hands canonical files to `read_canonical_session`."""
        p = save_session(make_session(), tmp_path / name)
        a, b = read_session(p), read_canonical_session(p)
        np.testing.assert_array_equal(a.t, b.t)
        np.testing.assert_array_equal(a.acc, b.acc)
        np.testing.assert_array_equal(a.gyr, b.gyr)
        assert a.meta == b.meta

    @pytest.mark.parametrize("where", ["gait", "gait.io"])
    def test_load_session_is_deprecated_but_reads_the_same(self, tmp_path, where):
        p = save_session(make_session(), tmp_path / "s.csv.gz")
        load = __import__(where, fromlist=["load_session"]).load_session
        with pytest.warns(DeprecationWarning, match="gait.read_session"):
            old = load(p, acc_unit="mps2")
        np.testing.assert_array_equal(old.acc, read_canonical_session(p).acc)
        assert "load_session" not in __import__("gait").__all__


class TestBadInput:
    def test_missing_file(self, tmp_path):
        with pytest.raises(
            GaitInputError, match=r"nope\.csv: file not found; expected an existing file, found nothing at this path"
        ):
            read_canonical_session(tmp_path / "nope.csv")

    def test_directory(self, tmp_path):
        with pytest.raises(GaitInputError, match="not a file; expected a session file, found a directory"):
            read_canonical_session(tmp_path)

    def test_empty(self, tmp_path):
        with pytest.raises(
            GaitInputError, match=r"s\.csv: empty file; expected a header line and data rows, found no content"
        ):
            read_canonical_session(write(tmp_path, ""))

    def test_garbage_bytes(self, tmp_path):
        p = tmp_path / "g.csv"
        p.write_bytes(bytes(range(256)) * 4)
        with pytest.raises(
            GaitInputError,
            match=r"g\.csv: not a text file; expected a UTF-8 CSV text file, found binary data \(a NUL byte at offset 0\)",
        ):
            read_canonical_session(p)

    def test_undecodable_bytes(self, tmp_path):
        p = tmp_path / "g.csv"
        p.write_bytes(b"t_s,acc\xff\xfe")
        with pytest.raises(
            GaitInputError,
            match=r"not a text file; expected a UTF-8 CSV text file, found undecodable bytes at offset 7",
        ):
            read_canonical_session(p)

    def test_corrupt_gzip(self, tmp_path):
        p = tmp_path / "g.csv.gz"
        p.write_bytes(b"\x1f\x8b" + b"\x00" * 40)
        with pytest.raises(GaitInputError, match=r"corrupt gzip data; expected a valid \.gz file"):
            read_canonical_session(p)

    def test_header_only(self, tmp_path):
        with pytest.raises(
            GaitInputError,
            match=r"s\.csv: no data rows; expected at least 2 rows of samples after the column header, found a header only",
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS))

    def test_no_column_header(self, tmp_path):
        with pytest.raises(GaitInputError, match=r"s\.csv, line 3: no column header"):
            read_canonical_session(write(tmp_path, HEADER))

    def test_missing_time_column(self, tmp_path):
        text = HEADER + "time,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n"
        with pytest.raises(
            GaitInputError,
            match=r"line 3: missing time column; expected exactly one of t_s, t_ms, t_us, t_ns, found none among 'time'",
        ):
            read_canonical_session(write(tmp_path, text))

    def test_unknown_column(self, tmp_path):
        text = HEADER + "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,temperature\n0,0,0,9.8,20\n"
        with pytest.raises(GaitInputError, match=r"line 3: unknown column; expected t_s plus .* found 'temperature'"):
            read_canonical_session(write(tmp_path, text))

    def test_missing_acc_column(self, tmp_path):
        text = HEADER + "t_s,acc_x_mps2,acc_y_mps2\n0,0,9.8\n"
        with pytest.raises(
            GaitInputError,
            match=r"missing column; expected acceleration on all three sensor-frame axes \(x, y, z\).*found no acc_z",
        ):
            read_canonical_session(write(tmp_path, text))

    def test_partial_gyro(self, tmp_path):
        text = HEADER + "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2,gyr_x_rads\n0,0,0,9.8,0\n"
        with pytest.raises(GaitInputError, match="incomplete gyroscope columns"):
            read_canonical_session(write(tmp_path, text))

    def test_mixed_frames(self, tmp_path):
        text = HEADER + "t_s,acc_x_mps2,acc_y_mps2,acc_v_mps2\n0,0,0,9.8\n"
        with pytest.raises(GaitInputError, match="columns mix frames"):
            read_canonical_session(write(tmp_path, text))

    def test_text_in_number_field(self, tmp_path):
        body = rows(20).splitlines(keepends=True)
        body[7] = body[7].replace("9.8", "nine")
        with pytest.raises(
            GaitInputError,
            match=r"s\.csv, line 11, column 'acc_z_mps2': not a number; expected a decimal number \(digits 0-9, '\.', optional exponent\), found 'nine'",
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    def test_wrong_field_count(self, tmp_path):
        body = rows(20).splitlines(keepends=True)
        body[4] = "0.04,1,2\n"
        with pytest.raises(
            GaitInputError, match=r"line 8: wrong number of fields; expected 7 comma-separated values, found 3"
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    @pytest.mark.parametrize(
        "bad, found", [("nan", "an empty or NaN value"), ("inf", "inf"), ("", "an empty or NaN value")]
    )
    def test_nan_inf_empty(self, tmp_path, bad, found):
        body = rows(20).splitlines(keepends=True)
        body[5] = body[5].replace("0.02", bad, 1)
        with pytest.raises(
            GaitInputError,
            match=rf"line 9, column 'gyr_y_rads': missing or non-finite value; expected a finite number, found {found}",
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    def test_non_monotonic_time(self, tmp_path):
        body = rows(20).splitlines(keepends=True)
        body[10], body[11] = body[11], body[10]
        with pytest.raises(
            GaitInputError,
            match=r"line 15, column 't_s': time goes backwards; expected strictly increasing t_s, found 0\.1 after 0\.11",
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    def test_duplicate_timestamp(self, tmp_path):
        body = rows(20).splitlines(keepends=True)
        body[11] = body[10]
        with pytest.raises(
            GaitInputError,
            match=r"line 15, column 't_s': duplicate timestamp; expected strictly increasing t_s, found 0\.1 after 0\.1",
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    def test_declared_rate_contradicts_timestamps(self, tmp_path):
        text = "# sampling_rate_hz: 200\n" + COLS + rows(50, fs=100.0)
        with pytest.raises(
            GaitInputError,
            match=r"sampling rate does not match the timestamps; expected samples every 5 ms \(declared 200 Hz\), found a median interval of 10 ms \(100 Hz\)",
        ):
            read_canonical_session(write(tmp_path, text))

    def test_undeclared_rate_is_estimated_with_warning(self, tmp_path):
        with pytest.warns(
            GaitDataWarning, match="no sampling_rate_hz declared; using 100 Hz estimated from the timestamps"
        ):
            s = read_canonical_session(write(tmp_path, COLS + rows(50)))
        assert s.sampling_rate_hz == 100.0

    def test_acc_in_g_declared_as_mps2_is_refused(self, tmp_path):
        text = HEADER + COLS + rows(50, acc=(0.01, -0.02, 1.0))
        with pytest.raises(
            GaitInputError,
            match=r"acceleration units look wrong; .* found a median \|acc\| of 1 m/s\^2, which looks like g .*Rename the columns to acc_\*_g, or pass acc_unit='g'",
        ):
            read_canonical_session(write(tmp_path, text))

    def test_acc_in_g_converted_when_declared(self, tmp_path):
        text = HEADER + COLS.replace("mps2", "g") + rows(50, acc=(0.0, 0.0, 1.0))
        s = read_canonical_session(write(tmp_path, text))
        np.testing.assert_allclose(s.acc[:, 2], G)
        assert s.meta.units_as_recorded["acc"] == "g"

    def test_acc_unit_override(self, tmp_path):
        text = HEADER + COLS + rows(50, acc=(0.0, 0.0, 1.0))
        s = read_canonical_session(write(tmp_path, text), acc_unit="g")
        np.testing.assert_allclose(s.acc[:, 2], G)

    def test_gyro_dps_declared_as_rads_is_refused(self, tmp_path):
        text = HEADER + COLS + rows(50, gyr=(120.0, -80.0, 60.0))
        with pytest.raises(
            GaitInputError,
            match=r"angular-rate units look wrong; .*which only makes sense in deg/s\. Rename the columns to gyr_\*_dps",
        ):
            read_canonical_session(write(tmp_path, text))

    def test_gyro_rads_declared_as_dps_is_refused(self, tmp_path):
        rng = np.random.default_rng(0)
        lines = "".join(
            f"{i / 100!r},{a[0]},{a[1]},{a[2]},{g[0]},{g[1]},{g[2]}\n"
            for i, (a, g) in enumerate(
                zip(rng.normal(0, 6, (200, 3)) + np.array([0, 0, 9.8]), rng.normal(0, 1.5, (200, 3)))
            )
        )
        text = HEADER + COLS.replace("rads", "dps") + lines
        with pytest.raises(GaitInputError, match=r"angular-rate units look wrong; .*which looks like rad/s"):
            read_canonical_session(write(tmp_path, text))

    def test_gyro_in_dps_converted_when_declared(self, tmp_path):
        text = HEADER + COLS.replace("rads", "dps") + rows(50, gyr=(180.0, 0.0, -90.0))
        s = read_canonical_session(write(tmp_path, text))
        np.testing.assert_allclose(s.gyr[0], [np.pi, 0.0, -np.pi / 2])

    def test_time_in_ms(self, tmp_path):
        text = HEADER + COLS.replace("t_s", "t_ms") + "".join(f"{i * 10},0,0,9.8,0,0,0\n" for i in range(30))
        s = read_canonical_session(write(tmp_path, text))
        assert s.t[1] == pytest.approx(0.01)

    def test_truncated_last_line_loads_complete_rows(self, tmp_path):
        text = HEADER + COLS + rows(30) + "0.3,0.1,-0.2"
        with pytest.warns(
            GaitDataWarning,
            match=r"line 34: the last line is incomplete \(no line end: '0\.3,0\.1,-0\.2'\); the recording was probably cut off\. Loaded the 30 complete rows before it",
        ):
            s = read_canonical_session(write(tmp_path, text))
        assert s.n_samples == 30

    def test_truncated_gzip_loads_complete_part(self, tmp_path):
        data = gzip.compress((HEADER + COLS + rows(3000)).encode())
        p = tmp_path / "cut.csv.gz"
        p.write_bytes(data[: int(len(data) * 0.6)])
        with pytest.warns(GaitDataWarning) as rec:
            s = read_canonical_session(p)
        msgs = " ".join(str(w.message) for w in rec)
        assert "gzip stream ends early" in msgs and "the last line is incomplete" in msgs
        assert 100 < s.n_samples < 3000

    def test_gaps_are_kept_and_reported(self, tmp_path):
        t = np.concatenate([np.arange(100), np.arange(130, 200)]) / 100.0
        text = HEADER + COLS + "".join(f"{x},0,0,9.8,0,0,0\n" for x in t.tolist())
        with pytest.warns(
            GaitDataWarning,
            match=r"1 gap in the samples \(0\.300 s missing in total; the longest, 0\.310 s, starts at t=0\.990 s\)",
        ):
            s = read_canonical_session(write(tmp_path, text))
        assert s.n_samples == 170
        assert s.gaps == [(0.99, 1.3)]
        assert [sl.stop - sl.start for sl in s.segments()] == [100, 70]

    def test_jitter_is_resampled(self, tmp_path):
        rng = np.random.default_rng(1)
        t = np.arange(400) / 100.0 + rng.uniform(-0.003, 0.003, 400)
        acc_z = 9.8 + np.sin(2 * np.pi * 2 * t)
        text = HEADER + COLS + "".join(f"{x},0,0,{z},0,0,0\n" for x, z in zip(t.tolist(), acc_z.tolist()))
        with pytest.warns(
            GaitDataWarning, match=r"timestamps jitter by up to [23]\.\d+ ms .*resampled onto a uniform 100 Hz grid"
        ):
            s = read_canonical_session(write(tmp_path, text))
        np.testing.assert_allclose(np.diff(s.t), 0.01, atol=1e-12)
        np.testing.assert_allclose(s.acc[:, 2], 9.8 + np.sin(2 * np.pi * 2 * s.t), atol=0.01)

    def test_biaxial_sensor_frame_refused(self, tmp_path):
        text = HEADER + "t_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n" + "".join(f"{i / 100!r},0,,9.8\n" for i in range(20))
        with pytest.raises(GaitInputError, match="a biaxial sensor needs body-frame columns"):
            read_canonical_session(write(tmp_path, text))

    def test_parquet_corrupt(self, tmp_path):
        p = tmp_path / "x.parquet"
        p.write_bytes(b"PAR1" + b"\x00" * 50)
        with pytest.raises(GaitInputError, match="cannot read Parquet file"):
            read_canonical_session(p)


class TestFromArrays:
    def test_basic(self):
        s = session_from_arrays(np.arange(100) / 50, np.tile([0, 0, G], (100, 1)), sampling_rate_hz=50)
        assert s.n_samples == 100 and s.sampling_rate_hz == 50

    def test_bad_shape(self):
        with pytest.raises(
            GaitInputError,
            match=r"parameter 'acc': bad acceleration array; expected shape \(n, 3\), found shape \(100,\)",
        ):
            session_from_arrays(np.arange(100), np.zeros(100), sampling_rate_hz=50)

    def test_length_mismatch(self):
        with pytest.raises(GaitInputError, match="arrays of different lengths"):
            session_from_arrays(np.arange(10), np.zeros((9, 3)), sampling_rate_hz=1)


class TestStreamingWriter:
    def test_crash_safe(self, tmp_path):
        """A writer killed mid-write leaves a file that loads up to the last flush."""
        out = tmp_path / "live.csv"
        code = f"""
import os, numpy as np
from gait.io import SessionCsvWriter
from gait.session import SessionMetadata
w = SessionCsvWriter({str(out)!r}, SessionMetadata(sampling_rate_hz=100.0))
for k in range(10):
    t = (np.arange(100) + 100 * k) / 100.0
    w.write(t, np.tile([0.0, 0.0, 9.8], (100, 1)), np.zeros((100, 3)))
    w.flush()
w._fh.write("10.0,0.0,0.")
w._fh.flush()
os._exit(9)
"""
        subprocess.run([sys.executable, "-c", code], check=False)
        with pytest.warns(GaitDataWarning, match="the last line is incomplete"):
            s = read_canonical_session(out)
        assert s.n_samples == 1000
        np.testing.assert_array_equal(s.t, np.arange(1000) / 100.0)

    def test_refuses_to_overwrite(self, tmp_path):
        out = tmp_path / "x.csv"
        out.write_text("precious")
        with pytest.raises(FileExistsError):
            SessionCsvWriter(out, SessionMetadata(sampling_rate_hz=100.0))
        assert out.read_text() == "precious"

    def test_refuses_gzip(self, tmp_path):
        with pytest.raises(GaitInputError, match="cannot stream to gzip"):
            SessionCsvWriter(tmp_path / "x.csv.gz", SessionMetadata(sampling_rate_hz=100.0))


def test_session_rejects_bad_arrays():
    meta = SessionMetadata(sampling_rate_hz=10.0)
    with pytest.raises(
        GaitInputError, match=re.escape("bad acceleration array; expected shape (3, 3), found shape (3, 2)")
    ):
        Session(t=np.arange(3.0), acc=np.zeros((3, 2)), gyr=None, frame="sensor", meta=meta)
    with pytest.raises(GaitInputError, match="time is not strictly increasing"):
        Session(t=np.array([0.0, 1.0, 1.0]), acc=np.zeros((3, 3)), gyr=None, frame="sensor", meta=meta)


def test_warnings_are_errors_in_this_suite():
    with pytest.raises(GaitDataWarning):
        warnings.warn("x", GaitDataWarning, stacklevel=1)


# ---------------------------------------------------------------------------------------
# what loading repairs and refuses (docs/session-format.md), one case each, exact messages
# ---------------------------------------------------------------------------------------
def gait_simulate():
    from gait import simulate

    return simulate(duration_s=5, seed=2)


def csv_text(n: int = 50, fs: float = 100.0, header: str = HEADER, t0: float = 0.0) -> str:
    return header + COLS + "".join(f"{t0 + i / fs!r},0.1,-0.2,9.8,0.01,0.02,-0.03\n" for i in range(n))


class TestMetadataTypes:
    @pytest.mark.parametrize(
        "line, message",
        [
            (
                "# units_as_recorded: 5",
                "line 3: bad metadata value for 'units_as_recorded'; expected an object of text values, e.g. "
                '{"acc": "g", "gyr": "dps"}, found 5 (int)',
            ),
            (
                "# extra: [1, 2]",
                "line 3: bad metadata value for 'extra'; expected an object of keys and values, e.g. "
                '{"runner": "A"}, found [1, 2] (list)',
            ),
            (
                "# notes: [1, 2]",
                "line 3: bad metadata value for 'notes'; expected text for 'notes' (a JSON string), found [1, 2] (list)",
            ),
            (
                "# shoes: true",
                "line 3: bad metadata value for 'shoes'; expected text for 'shoes' (a JSON string), found True (bool)",
            ),
            (
                "# sampling_rate_hz: NaN",
                "line 3: bad metadata value for 'sampling_rate_hz'; expected a finite sampling_rate_hz > 0, found nan (float)",
            ),
            (
                "# sampling_rate_hz: [100]",
                "line 3: bad metadata value for 'sampling_rate_hz'; expected a number for 'sampling_rate_hz', found [100] (list)",
            ),
        ],
    )
    def test_wrong_type_is_refused_with_its_line(self, tmp_path, line, message):
        p = write(tmp_path, HEADER + line + "\n" + COLS + rows(20))
        with pytest.raises(GaitInputError, match=re.escape(f"{p}, {message}") + "$"):
            read_canonical_session(p)

    def test_number_in_a_text_field_keeps_its_text(self, tmp_path):
        s = read_canonical_session(write(tmp_path, HEADER + "# device_id: 00123\n# device: 5\n" + COLS + rows(20)))
        assert (s.meta.device_id, s.meta.device) == ("00123", "5")

    @pytest.mark.parametrize(
        "version, hint", [("2", ". The file was written by a newer version of gait: upgrade to read it"), ('"one"', "")]
    )
    def test_other_format_versions_are_refused(self, tmp_path, version, hint):
        p = write(tmp_path, f"# gait-session: {version}\n# sampling_rate_hz: 100\n" + COLS + rows(20))
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}, line 1: unsupported format version; expected 'gait-session: 1' (the version this gait reads), "
                f"found gait-session: {version.replace(chr(34), chr(39))}{hint}"
            )
            + "$",
        ):
            read_canonical_session(p)


class TestLastLinesAndNumbers:
    def test_blank_lines_at_the_end_are_accepted(self, tmp_path):
        s = read_canonical_session(write(tmp_path, csv_text(20) + "\n \n\n"))
        assert s.n_samples == 20

    def test_line_cut_mid_way_with_a_newline_is_left_out(self, tmp_path):
        p = write(tmp_path, csv_text(20) + "0.2,0.1,-0.2,9.8,0.0\n")
        with pytest.warns(
            GaitDataWarning,
            match=re.escape(
                f"{p}, line 24: the last line is incomplete (5 of 7 values: '0.2,0.1,-0.2,9.8,0.0'); the recording "
                "was probably cut off. Loaded the 20 complete rows before it"
            ),
        ):
            s = read_canonical_session(p)
        assert s.n_samples == 20

    def test_complete_looking_last_line_without_a_newline_is_left_out(self, tmp_path):
        """``0.264`` may be ``0.26417`` cut short: a last line without its line end is never trusted."""
        text = csv_text(20)[:-1]  # the last row, complete as far as one can tell, without its newline
        with pytest.warns(GaitDataWarning, match=r"line 23: the last line is incomplete \(no line end: '0\.19,"):
            s = read_canonical_session(write(tmp_path, text))
        assert s.n_samples == 19

    @pytest.mark.parametrize("cell", ["NAN", "1_000", "١٢٣", "１２３", "0x10", "1.5e", "'1'"])
    def test_numbers_pandas_refuses_are_named_with_line_and_column(self, tmp_path, cell):
        body = rows(20).splitlines(keepends=True)
        body[6] = body[6].replace("-0.2", cell)
        p = write(tmp_path, HEADER + COLS + "".join(body))
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}, line 10, column 'acc_y_mps2': not a number; expected a decimal number (digits 0-9, '.', "
                f"optional exponent), found {cell!r}"
            ),
        ):
            read_canonical_session(p)

    def test_extra_field_on_the_first_row_is_refused(self, tmp_path):
        """pandas takes a first row with one field too many as an index column and shifts every row."""
        body = rows(20).splitlines(keepends=True)
        body[0] = "7," + body[0]
        with pytest.raises(
            GaitInputError, match=r"line 4: wrong number of fields; expected 7 comma-separated values, found 8"
        ):
            read_canonical_session(write(tmp_path, HEADER + COLS + "".join(body)))

    def test_quoted_numbers_are_accepted(self, tmp_path):
        body = rows(20).replace("9.8", '"9.8"')
        s = read_canonical_session(write(tmp_path, HEADER + COLS + body))
        assert (s.acc[:, 2] == 9.8).all()


class TestTimesAndMagnitudes:
    def test_all_times_below_minus_60_s_are_shifted(self, tmp_path):
        p = write(tmp_path, csv_text(50, t0=-100.0))
        with pytest.warns(GaitDataWarning, match="the first timestamp is -100 s, far from zero; times were shifted"):
            s = read_canonical_session(p)
        assert s.t[0] == 0.0 and s.meta.extra["time_offset_s"] == -100.0

    def test_epoch_times_are_shifted_and_round_trip(self, tmp_path):
        with pytest.warns(GaitDataWarning, match="the first timestamp is 1700000000 s"):
            s = read_canonical_session(write(tmp_path, csv_text(50, t0=1.7e9)))
        r = read_canonical_session(save_session(s, tmp_path / "again.csv"))
        np.testing.assert_array_equal(r.t, s.t)
        assert r.meta.extra["time_offset_s"] == 1.7e9

    def test_a_last_timestamp_of_1e12_s_is_refused(self, tmp_path):
        text = csv_text(50)
        text = text[: text.rstrip("\n").rfind("\n") + 1] + "1000000000000.0,0.1,-0.2,9.8,0.01,0.02,-0.03\n"
        p = write(tmp_path, text)
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}, line 53, column 't_s': timestamps span too long a time; expected a recording of at most 7 "
                "days, found t_s from 0.0 to 1000000000000.0 (3.169e+04 years; the longest step is from 0.48 to "
                "1000000000000.0). Check the time column's values and its unit (t_s, t_ms, t_us or t_ns)"
            ),
        ):
            read_canonical_session(p)

    def test_1e308_g_is_refused_before_it_overflows(self, tmp_path):
        body = rows(20, acc=(0.0, 0.0, 1.0)).splitlines(keepends=True)
        body[3] = body[3].replace(",1.0,", ",1e308,", 1)
        p = write(tmp_path, HEADER + COLS.replace("mps2", "g") + "".join(body))
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{p}, line 7, column 'acc_z_g': value out of range; expected a magnitude of at most 9806.65 m/s^2 "
                "(1000 g), beyond the range of any IMU, found 1e+308 g"
            ),
        ):
            read_canonical_session(p)

    def test_row_norms_are_numpys_bit_for_bit(self):
        from gait.io._units import _row_norms

        x = np.random.default_rng(3).normal(scale=[9.8, 3.0, 1e-3], size=(10_001, 3))
        assert np.array_equal(_row_norms(x), np.sqrt(np.sum(np.square(x), axis=1)))
        assert np.array_equal(_row_norms(np.asfortranarray(x)), np.sqrt(np.sum(np.square(x), axis=1)))

    @pytest.mark.parametrize("value", ["-2e6", "-inf"])
    def test_a_large_negative_value_is_refused_too(self, tmp_path, value):
        body = rows(20, acc=(0.0, 0.0, 9.8)).splitlines(keepends=True)
        body[5] = body[5].replace(",9.8,", f",{value},", 1)
        p = write(tmp_path, HEADER + COLS + "".join(body))
        with pytest.raises(GaitInputError) as e:
            read_canonical_session(p)
        if value == "-inf":  # non-finite values are refused first, by name
            assert f"{p}, line 9, column 'acc_z_mps2': missing or non-finite value" in str(e.value)
        else:
            assert str(e.value).startswith(
                f"{p}, line 9, column 'acc_z_mps2': value out of range; expected a magnitude of at most 9806.65 m/s^2 (9806.65 m/s^2), beyond the range of any IMU, found -2000000.0 m/s^2"
            ), str(e.value)

    def test_a_rate_above_20_khz_is_refused(self, tmp_path):
        text = COLS.replace("t_s", "t_ns") + "".join(f"{i * 10},0,0,9.8,0,0,0\n" for i in range(50))
        with pytest.raises(GaitInputError, match=r"sampling rate too high for an IMU; expected at most 20000 Hz"):
            read_canonical_session(write(tmp_path, "# sampling_rate_hz: 1e8\n" + text))

    def test_timestamps_too_irregular_to_resample(self, tmp_path):
        # median interval 10 ms (100 Hz as declared), holes of 63 ms (gaps), and between them
        # samples 0.5 ms apart: a uniform grid would hold two thirds of them: not jitter
        dt = np.tile([0.0005, 0.0005, 0.01, 0.01, 0.01, 0.063], 100)
        t = np.concatenate([[0.0], np.cumsum(dt)])
        text = HEADER + COLS + "".join(f"{x!r},0,0,9.8,0,0,0\n" for x in t.tolist())
        with (
            pytest.warns(GaitDataWarning, match="100 gaps"),
            pytest.raises(GaitInputError, match=r"timestamps too irregular to resample.*crowded"),
        ):
            read_canonical_session(write(tmp_path, text))

    def test_dps_beyond_2000_is_refused(self, tmp_path):
        text = HEADER + COLS.replace("rads", "dps") + rows(50, gyr=(3000.0, 0.0, 0.0))
        with pytest.raises(
            GaitInputError, match=r"angular rates too high; .*found a 99th-percentile \|gyr\| of 3000 deg/s"
        ):
            read_canonical_session(write(tmp_path, text))


class TestFilesOfAnotherKind:
    def test_truth_sidecar(self, tmp_path):
        sim = gait_simulate()
        paths = sim.save(tmp_path / "run.csv.gz")
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                f"{paths[1]}: a ground-truth file, not a session; expected a session file (t_s and acc_* columns), "
                f"found the simulator's per-step truth table (columns step, activity, ic_s, ...). Analyse the "
                f"session it belongs to: {paths[0]}"
            ),
        ):
            read_session(paths[1])
        with pytest.raises(GaitInputError, match="a ground-truth file, not a session"):
            read_session(paths[2])

    def test_gzip_with_a_wrong_checksum_is_refused(self, tmp_path):
        data = bytearray(gzip.compress(csv_text(200).encode()))
        data[-6] ^= 0xFF  # the CRC-32 in the trailer
        p = tmp_path / "s.csv.gz"
        p.write_bytes(bytes(data))
        with pytest.raises(
            GaitInputError,
            match=re.escape(
                "corrupt gzip data; expected a valid .gz file, found content that does not match the stream's "
                "checksum (the file is damaged)"
            ),
        ):
            read_canonical_session(p)

    def test_bytes_after_the_gzip_stream_are_ignored(self, tmp_path):
        p = tmp_path / "s.csv.gz"
        p.write_bytes(gzip.compress(csv_text(50).encode()) + b"junk")
        with pytest.warns(GaitDataWarning, match="4 bytes after the end of the gzip stream were ignored"):
            assert read_canonical_session(p).n_samples == 50


class TestParquetIntegrity:
    def test_flipped_bits_are_found(self, tmp_path):
        p = save_session(make_session(n=2000), tmp_path / "s.parquet")
        raw = p.read_bytes()
        refused = 0
        for k in range(100, len(raw) - 100, max(1, (len(raw) - 200) // 60)):
            bad = bytearray(raw)
            bad[k] ^= 0x10
            q = tmp_path / "bad.parquet"
            q.write_bytes(bytes(bad))
            try:
                r = read_canonical_session(q)
            except GaitInputError:
                refused += 1
                continue
            s = read_canonical_session(p)  # a bit that changed nothing the session holds (statistics, padding)
            np.testing.assert_array_equal(r.acc, s.acc)
            np.testing.assert_array_equal(r.t, s.t)
        assert refused > 0

    def test_content_checksum(self, tmp_path):
        import pyarrow.parquet as pq

        p = save_session(make_session(), tmp_path / "s.parquet")
        table = pq.read_table(p)
        md = json.loads(table.schema.metadata[b"gait-session"])
        assert len(md["content_sha256"]) == 64
        md["sampling_rate_hz"] = 201.0  # a change the pages cannot see
        pq.write_table(table.replace_schema_metadata({b"gait-session": json.dumps(md).encode()}), p)
        with pytest.raises(
            GaitInputError,
            match=r"content does not match its checksum; .* found different content: the file is damaged",
        ):
            read_canonical_session(p)

    @pytest.mark.parametrize("value", [b"[1, 2]", b'"text"', b"5", b"\xff\xfe"])
    def test_metadata_that_is_not_an_object(self, tmp_path, value):
        import pyarrow as pa
        import pyarrow.parquet as pq

        p = tmp_path / "s.parquet"
        table = pa.Table.from_pandas(make_session().to_dataframe(), preserve_index=False)
        pq.write_table(table.replace_schema_metadata({b"gait-session": value}), p)
        with pytest.raises(GaitInputError, match=rf"{re.escape(str(p))}: corrupt metadata; expected (a )?JSON"):
            read_canonical_session(p)


def test_decimals_must_be_a_small_whole_number(tmp_path):
    with pytest.raises(GaitInputError, match=r"parameter 'decimals': invalid value; expected a whole number"):
        save_session(make_session(), tmp_path / "s.csv", decimals=-3)


class TestFormerUnitSpellings:
    """Files written before one spelling per unit (``acc_x_m_s2``, ``gyr_x_rad_s``, ``gyr_x_deg_s``)
    load exactly as the current spellings do."""

    def test_old_column_names_load_identically(self, tmp_path):
        body = rows(50)
        new = read_canonical_session(write(tmp_path, HEADER + COLS + body, "new.csv"))
        old_cols = COLS.replace("_mps2", "_m_s2").replace("_rads", "_rad_s")
        old = read_canonical_session(write(tmp_path, HEADER + old_cols + body, "old.csv"))
        np.testing.assert_array_equal(old.acc, new.acc)
        np.testing.assert_array_equal(old.gyr, new.gyr)
        np.testing.assert_array_equal(old.t, new.t)

    def test_old_degree_spelling_and_unit_override(self, tmp_path):
        lines = rows(50, gyr=(180.0, 0.0, -90.0))
        a = read_canonical_session(write(tmp_path, HEADER + COLS.replace("rads", "deg_s") + lines, "a.csv"))
        b = read_canonical_session(write(tmp_path, HEADER + COLS.replace("rads", "dps") + lines, "b.csv"))
        np.testing.assert_array_equal(a.gyr, b.gyr)
        np.testing.assert_allclose(a.gyr[0], np.deg2rad([180.0, 0.0, -90.0]))
        c = read_canonical_session(
            write(tmp_path, HEADER + COLS + rows(50), "c.csv"), acc_unit="m_s2", gyr_unit="rad_s"
        )
        np.testing.assert_array_equal(
            c.acc, read_canonical_session(write(tmp_path, HEADER + COLS + rows(50), "d.csv")).acc
        )

    def test_writer_uses_the_current_spelling(self, tmp_path):
        s = read_canonical_session(write(tmp_path, HEADER + COLS.replace("_mps2", "_m_s2") + rows(50), "old.csv"))
        out = tmp_path / "out.csv"
        save_session(s, out)
        header = next(ln for ln in out.read_text().splitlines() if not ln.startswith("#"))
        assert header == COLS.strip()
