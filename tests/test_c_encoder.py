"""The C reference encoder and decoders against the Python codec, the vectors file and PROTOCOL.md.

Compiles ``firmware_protocol/c/make_vectors.c`` (the encoder prints the vectors) and
``decode_vectors.c`` (the C decoders read every vector back) with gcc into a temporary
directory (no binaries are committed); skips with a reason when gcc is missing.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import numpy as np
import pytest

from firmware_protocol import codec
from firmware_protocol import logbook as lb

REPO = Path(__file__).resolve().parents[1]
C_DIR = REPO / "firmware_protocol" / "c"
#: the protocol header's only copy (Arduino compiles only the sketch folder)
HEADER_DIR = REPO / "firmware_protocol" / "firmware" / "xiao_nrf52840_sense" / "src"
VECTORS = REPO / "firmware_protocol" / "vectors" / "vectors.json"
PROTOCOL_MD = REPO / "firmware_protocol" / "PROTOCOL.md"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-Werror"]

GCC = shutil.which("gcc")
requires_gcc = pytest.mark.skipif(GCC is None, reason="gcc not found on PATH: the C encoder cannot be compiled here")


def compile_c(out: Path, source: Path, *extra: str) -> Path:
    """Compile with strict warnings, with the sanitizers when the toolchain has them."""
    assert GCC is not None
    for sanitize in (["-fsanitize=address,undefined", "-fno-omit-frame-pointer"], []):
        cmd = [GCC, *STRICT, *sanitize, *extra, "-I", str(HEADER_DIR), "-o", str(out), str(source)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode == 0:
            return out
        if "sanitize" not in proc.stderr and "asan" not in proc.stderr.lower():
            break  # a real compile error, not a missing sanitizer runtime
    pytest.fail(f"gcc failed:\n{' '.join(cmd)}\n{proc.stderr}")


@pytest.fixture(scope="module")
def c_output(tmp_path_factory) -> str:
    if GCC is None:
        pytest.skip("gcc not found on PATH: the C encoder cannot be compiled here")
    exe = compile_c(tmp_path_factory.mktemp("c") / "make_vectors", C_DIR / "make_vectors.c")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=30)
    assert proc.stderr == "", proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def c_decoder(tmp_path_factory):
    """Decode ``[(kind, hex), ...]`` with the C decoders; one JSON object per line."""
    if GCC is None:
        pytest.skip("gcc not found on PATH: the C decoders cannot be compiled here")
    exe = compile_c(tmp_path_factory.mktemp("c") / "decode_vectors", C_DIR / "decode_vectors.c")

    def decode(items: list[tuple[str, str]]) -> list[dict]:
        text = "".join(f"{k} {h}\n" for k, h in items)
        out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True, timeout=30).stdout
        return [json.loads(line) for line in out.splitlines()]

    return decode


def vectors() -> list[dict]:
    return json.loads(VECTORS.read_text())


def by_kind(kind: str) -> list[dict]:
    return [v for v in vectors() if v["kind"] == kind]


CONFIG_KEYS = (
    "version",
    "state",
    "last_opcode",
    "last_status",
    "rate_mhz",
    "acc_range_g",
    "samples_per_packet",
    "gyr_range_dps",
    "acc_scale_ng_per_lsb",
    "gyr_scale_udps_per_lsb",
    "features",
    "log_state",
    "log_sessions",
    "log_capacity_bytes",
    "log_free_bytes",
)
COMMAND_KEYS = (
    "opcode",
    "rate_hz",
    "acc_range_g",
    "gyr_range_dps",
    "session_id",
    "offset",
    "length",
    "digest",
    "utc_us",
)
LOG_KEYS = {
    "log_entry": (
        "flags",
        "session_id",
        "size_bytes",
        "start_utc_us",
        "clock_set_utc_us",
        "n_samples",
        "duration_ms",
        "rate_mhz",
        "acc_scale_ng_per_lsb",
        "gyr_scale_udps_per_lsb",
        "gyr_range_dps",
        "acc_range_g",
        "format",
        "digest",
    ),
    "log_list_end": ("n_sessions", "capacity_bytes", "free_bytes"),
    "log_block": ("session_id", "seq", "offset", "payload"),
    "log_read_end": ("session_id", "offset", "end", "blocks"),
    "log_clock": ("flags", "now_utc_us", "set_utc_us"),
}


# ---------------------------------------------------------------------------------------
@requires_gcc
class TestCProgram:
    def test_output_equals_vectors_file(self, c_output):
        assert c_output == VECTORS.read_text(), "regenerate: ./make_vectors > ../vectors/vectors.json"

    def test_crc_check_value(self, c_output):
        crc = next(v for v in json.loads(c_output) if v["kind"] == "crc")
        assert crc["crc"] == 0x29B1 == codec.crc16_ccitt_false(b"123456789")

    def test_crc32_check_value(self, c_output):
        crc = next(v for v in json.loads(c_output) if v["kind"] == "crc32")
        assert crc["crc"] == 0xCBF43926 == lb.crc32(b"123456789")

    def test_version_1_vectors_are_unchanged_by_the_logging_extension(self, c_output):
        """The logging extension adds vectors; every version-1 one keeps its bytes."""
        pinned = {
            "packet_one_sample": "0101000000000000010000000001080000000000008146",
            "config_416hz_16g_2000dps": "01000000005906001013d0074072070070110100",
            "config_after_unknown_opcode": "01007f0140960100040ef40190dc01005c440000",
            "command_set_range_16g_2000dps": "0410d007",
        }
        got = {v["name"]: v.get("hex") for v in json.loads(c_output)}
        assert {k: got[k] for k in pinned} == pinned

    def test_compiles_as_cpp(self, tmp_path):
        """The firmware includes the header from C++ (Arduino sketches are C++)."""
        gxx = shutil.which("g++")
        if gxx is None:
            pytest.skip("g++ not found on PATH")
        src = tmp_path / "t.cpp"
        src.write_text(
            '#include "lumbar_imu_protocol.h"\nint main() { uint8_t b[4]; return (int)lip_encode_cmd_stop(b) - 1; }\n'
        )
        proc = subprocess.run(
            [
                gxx,
                "-std=c++11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-I",
                str(HEADER_DIR),
                "-o",
                str(tmp_path / "t"),
                str(src),
            ],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr

    def test_constants_match_python(self, tmp_path):
        src = tmp_path / "consts.c"
        src.write_text(
            '#include <stdio.h>\n#include "lumbar_imu_protocol.h"\n'
            "int main(void) {\n"
            '  printf("%u %u %u %u %u %u %u\\n", LIP_VERSION, LIP_HEADER_SIZE, LIP_CRC_SIZE, LIP_SAMPLE_SIZE,'
            " (unsigned)LIP_MAX_SAMPLES, (unsigned)LIP_MAX_PACKET_SIZE, LIP_CONFIG_SIZE);\n"
            '  printf("%u %u %u %u %u %u %u %u %u %u %u\\n", LIP_OP_START, LIP_OP_STOP, LIP_OP_SET_RATE,'
            " LIP_OP_SET_RANGE, LIP_OP_LOG_START, LIP_OP_LOG_STOP, LIP_OP_LOG_LIST, LIP_OP_LOG_READ, LIP_OP_LOG_ERASE,"
            " LIP_OP_SET_CLOCK, LIP_OP_GET_CLOCK);\n"
            '  printf("%u %u %u %u %u %u %u %u %u %u\\n", LIP_STATUS_OK, LIP_STATUS_UNKNOWN_OPCODE,'
            " LIP_STATUS_BAD_LENGTH, LIP_STATUS_BAD_ARGUMENT, LIP_STATUS_MTU_TOO_SMALL, LIP_STATUS_SENSOR_ERROR,"
            " LIP_STATUS_BUSY, LIP_STATUS_STORE_FULL, LIP_STATUS_NOT_FOUND, LIP_STATUS_DIGEST_MISMATCH);\n"
            '  printf("%s %s %s %s %s\\n", LIP_SERVICE_UUID, LIP_DATA_UUID, LIP_CONTROL_UUID, LIP_CONFIG_UUID,'
            " LIP_LOG_UUID);\n"
            '  printf("%u %u %u %u\\n", (unsigned)lip_samples_per_packet(23), (unsigned)lip_samples_per_packet(185),'
            " (unsigned)lip_samples_per_packet(247), (unsigned)lip_samples_per_packet(517));\n"
            '  printf("%u %u %u %u %u %u %u %u\\n", LIP_CONFIG_EXT_SIZE, LIP_LOG_ENTRY_SIZE, LIP_LOG_LIST_END_SIZE,'
            " LIP_LOG_BLOCK_OVERHEAD, LIP_LOG_READ_END_SIZE, LIP_LOG_CLOCK_SIZE, LIP_LOG_MIN_ATT_MTU,"
            " LIP_FEATURE_LOG);\n"
            '  printf("%u %u %u\\n", (unsigned)lip_log_block_payload(63), (unsigned)lip_log_block_payload(247),'
            " (unsigned)lip_log_block_payload(517));\n"
            "  return 0;\n}\n"
        )
        exe = compile_c(tmp_path / "consts", src)
        lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
        assert [int(x) for x in lines[0].split()] == [
            codec.PROTOCOL_VERSION,
            codec.HEADER_SIZE,
            codec.CRC_SIZE,
            codec.SAMPLE_SIZE,
            codec.MAX_SAMPLES_PER_PACKET,
            codec.OVERHEAD + codec.SAMPLE_SIZE * codec.MAX_SAMPLES_PER_PACKET,
            codec.CONFIG_SIZE,
        ]
        assert [int(x) for x in lines[1].split()] == [int(o) for o in codec.Opcode]
        assert [int(x) for x in lines[2].split()] == [int(s) for s in codec.Status]
        assert lines[3].split() == [
            codec.SERVICE_UUID,
            codec.DATA_UUID,
            codec.CONTROL_UUID,
            codec.CONFIG_UUID,
            codec.LOG_UUID,
        ]
        assert [int(x) for x in lines[4].split()] == [codec.samples_per_packet(m) for m in (23, 185, 247, 517)]
        assert [int(x) for x in lines[5].split()] == [
            codec.CONFIG_EXT_SIZE,
            lb.ENTRY_SIZE,
            lb.LIST_END_SIZE,
            lb.BLOCK_OVERHEAD,
            lb.READ_END_SIZE,
            lb.CLOCK_SIZE,
            lb.MIN_ATT_MTU,
            codec.Feature.LOG,
        ]
        assert [int(x) for x in lines[6].split()] == [lb.block_payload_size(m) for m in (63, 247, 517)] == [0, 230, 498]


# ---------------------------------------------------------------------------------------
class TestVectorsDecodeInPython:
    @pytest.mark.parametrize("v", by_kind("packet"), ids=lambda v: v["name"])
    def test_packet(self, v):
        raw = bytes.fromhex(v["hex"])
        p = codec.decode_packet(raw)
        assert (p.seq, p.t_us, p.flags) == (v["seq"], v["t_us"], v["flags"])
        np.testing.assert_array_equal(p.acc, np.array(v["acc"], dtype=np.int16))
        np.testing.assert_array_equal(p.gyr, np.array(v["gyr"], dtype=np.int16))
        again = codec.encode_packet(seq=v["seq"], t_us=v["t_us"], acc=v["acc"], gyr=v["gyr"], flags=v["flags"])
        assert again == raw

    def test_packets_vectorised(self):
        vs = by_kind("packet")
        batch = codec.decode_packets([bytes.fromhex(v["hex"]) for v in vs])
        assert batch.ok.all()
        np.testing.assert_array_equal(batch.acc, np.concatenate([v["acc"] for v in vs]))
        np.testing.assert_array_equal(batch.seq, [v["seq"] for v in vs])

    @pytest.mark.parametrize("v", by_kind("config"), ids=lambda v: v["name"])
    def test_config(self, v):
        raw = bytes.fromhex(v["hex"])
        c = codec.decode_config(raw)
        for key in CONFIG_KEYS:
            assert getattr(c, key) == v[key], key
        assert codec.encode_config(c) == raw
        assert len(raw) == (codec.CONFIG_EXT_SIZE if v["features"] else codec.CONFIG_SIZE)

    @pytest.mark.parametrize("v", by_kind("config"), ids=lambda v: v["name"])
    def test_config_read_by_a_version_1_host(self, v):
        """A host that knows only the first 20 bytes reads a logging device's configuration
        exactly as before (the extension is appended, nothing moved)."""
        raw = bytes.fromhex(v["hex"])
        old = codec.decode_config(raw[: codec.CONFIG_SIZE])
        for key in CONFIG_KEYS[:10]:
            assert getattr(old, key) == v[key], key
        assert not old.can_log

    @pytest.mark.parametrize("v", by_kind("command"), ids=lambda v: v["name"])
    def test_command(self, v):
        raw = bytes.fromhex(v["hex"])
        c = codec.decode_command(raw)
        assert int(c.opcode) == v["opcode"]
        for key in COMMAND_KEYS[1:]:
            assert (getattr(c, key) or 0) == v[key], key
        assert codec.encode_command(c) == raw

    @pytest.mark.parametrize(
        "v", [v for v in vectors() if v["kind"].startswith("log_") and v["kind"] != "log_data"], ids=lambda v: v["name"]
    )
    def test_log_message(self, v):
        raw = bytes.fromhex(v["hex"])
        m = lb.decode_message(raw)
        for key in LOG_KEYS[v["kind"]]:
            got = getattr(m, key)
            assert (got.hex() if isinstance(got, bytes) else got) == v[key], key
        assert lb.encode_message(m) == raw

    def test_log_session_data(self):
        """The session of the vectors: its data parse into the entry's samples, digest and rate."""
        (d,) = by_kind("log_data")
        (entry,) = [lb.decode_message(bytes.fromhex(v["hex"])) for v in by_kind("log_entry")]
        (first, last) = [lb.decode_message(bytes.fromhex(v["hex"])) for v in by_kind("log_block")]
        raw = bytes.fromhex(d["hex"])
        assert first.payload + last.payload == raw and last.end == entry.size_bytes == len(raw)
        assert lb.crc32(raw) == d["digest"] == entry.digest
        run = lb.parse_session_data(raw, rate_hz=entry.rate_hz)
        np.testing.assert_array_equal(run.acc, np.array(d["acc"], dtype=np.int16))
        np.testing.assert_array_equal(run.gyr, np.array(d["gyr"], dtype=np.int16))
        np.testing.assert_array_equal(run.index, np.arange(entry.n_samples))
        assert run.n_records == d["records"] and run.gaps == ()
        # duration: first sample to one period after the last, rounded to ms (PROTOCOL.md 9.3)
        last_t = run.t_first_us + 3 * 2404 + 2404
        assert entry.duration_ms == (last_t - run.t_first_us + 1_000_000_000 // entry.rate_mhz + 500) // 1000
        assert entry.start_utc_us - entry.clock_set_utc_us == run.t_first_us - 4_000_000

    def test_uuid_byte_order(self):
        (v,) = by_kind("uuid")
        assert v["uuid"] == codec.SERVICE_UUID
        assert bytes.fromhex(v["hex"]) == bytes(reversed(uuid.UUID(codec.SERVICE_UUID).bytes))


@requires_gcc
class TestCDecoders:
    """Every vector read back by the C decoders gives the values the vectors file lists."""

    def test_every_vector(self, c_decoder):
        vs = [v for v in vectors() if "hex" in v and v["kind"] != "uuid"]
        got = c_decoder([(v["kind"], v["hex"]) for v in vs])
        assert len(got) == len(vs)
        for v, g in zip(vs, got):
            assert "error" not in g, (v["name"], g)
            for key, value in g.items():
                assert value == v[key], (v["name"], key)

    def test_corrupt_and_cut_messages_are_refused(self, c_decoder):
        items, expect = [], []
        for v in vectors():
            if v["kind"] in ("uuid", "crc", "crc32", "command", "log_data") or "hex" not in v:
                continue
            raw = bytes.fromhex(v["hex"])
            flipped = bytearray(raw)
            flipped[len(raw) // 2] ^= 0x10
            if v["kind"] != "config":  # the configuration carries no CRC
                items.append((v["kind"], bytes(flipped).hex()))
                expect.append(3)  # LIP_DECODE_CORRUPT
            items.append((v["kind"], raw[:-1].hex()))
            expect.append(1 if v["kind"] != "config" or len(raw) == codec.CONFIG_SIZE else None)  # TRUNCATED
        got = c_decoder(items)
        for (kind, hx), g, e in zip(items, got, expect):
            if e is None:  # a 31-byte configuration is a version-1 one: decodes, without the extension
                assert "error" not in g and g["features"] == 0
            else:
                assert g.get("error") == e, (kind, hx, g)


class TestProtocolDocument:
    def quoted(self) -> dict[str, str]:
        text = PROTOCOL_MD.read_text()
        blocks = re.findall(r"#### `(\w+)`\n.*?```text\n(.*?)```", text, flags=re.DOTALL)
        return {name: re.sub(r"\s+", "", body) for name, body in blocks}

    def test_every_vector_is_quoted_exactly(self):
        quoted = self.quoted()
        expected = {v["name"]: v["hex"] for v in vectors() if "hex" in v}
        assert quoted == expected

    def test_throughput_table_matches_the_formula(self):
        text = PROTOCOL_MD.read_text()
        for mtu in (185, 247, 517):
            n = codec.samples_per_packet(mtu)
            row = next(line for line in text.splitlines() if line.startswith(f"| {mtu} "))
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert int(cells[2]) == n and int(cells[3]) == codec.OVERHEAD + 12 * n
            for rate, cell in zip((100, 200, 400, 800), cells[4:]):
                assert cell == f"{rate / n:.1f} /s, {1000 * n / rate:.0f} ms"
        assert codec.samples_per_packet(23) == 0
