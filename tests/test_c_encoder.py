"""The C reference encoder against the Python codec, the vectors file and PROTOCOL.md.

Compiles ``firmware_protocol/c/make_vectors.c`` with gcc into a temporary directory (no
binaries are committed); skips with a reason when gcc is missing.
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

REPO = Path(__file__).resolve().parents[1]
C_DIR = REPO / "firmware_protocol" / "c"
VECTORS = REPO / "firmware_protocol" / "vectors" / "vectors.json"
PROTOCOL_MD = REPO / "firmware_protocol" / "PROTOCOL.md"
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-Werror"]

GCC = shutil.which("gcc")
requires_gcc = pytest.mark.skipif(GCC is None, reason="gcc not found on PATH: the C encoder cannot be compiled here")


def compile_c(out: Path, source: Path, *extra: str) -> Path:
    """Compile with strict warnings, with the sanitizers when the toolchain has them."""
    assert GCC is not None
    for sanitize in (["-fsanitize=address,undefined", "-fno-omit-frame-pointer"], []):
        cmd = [GCC, *STRICT, *sanitize, *extra, "-I", str(C_DIR), "-o", str(out), str(source)]
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
    return subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=30).stdout


def vectors() -> list[dict]:
    return json.loads(VECTORS.read_text())


def by_kind(kind: str) -> list[dict]:
    return [v for v in vectors() if v["kind"] == kind]


# ---------------------------------------------------------------------------------------
@requires_gcc
class TestCProgram:
    def test_output_equals_vectors_file(self, c_output):
        assert c_output == VECTORS.read_text(), "regenerate: ./make_vectors > ../vectors/vectors.json"

    def test_crc_check_value(self, c_output):
        crc = next(v for v in json.loads(c_output) if v["kind"] == "crc")
        assert crc["crc"] == 0x29B1 == codec.crc16_ccitt_false(b"123456789")

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
            [gxx, "-std=c++11", "-Wall", "-Wextra", "-Werror", "-I", str(C_DIR), "-o", str(tmp_path / "t"), str(src)],
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
            '  printf("%u %u %u %u\\n", LIP_OP_START, LIP_OP_STOP, LIP_OP_SET_RATE, LIP_OP_SET_RANGE);\n'
            '  printf("%u %u %u %u %u %u %u\\n", LIP_STATUS_OK, LIP_STATUS_UNKNOWN_OPCODE, LIP_STATUS_BAD_LENGTH,'
            " LIP_STATUS_BAD_ARGUMENT, LIP_STATUS_MTU_TOO_SMALL, LIP_STATUS_SENSOR_ERROR, LIP_STATUS_BUSY);\n"
            '  printf("%s %s %s %s\\n", LIP_SERVICE_UUID, LIP_DATA_UUID, LIP_CONTROL_UUID, LIP_CONFIG_UUID);\n'
            '  printf("%u %u %u %u\\n", (unsigned)lip_samples_per_packet(23), (unsigned)lip_samples_per_packet(185),'
            " (unsigned)lip_samples_per_packet(247), (unsigned)lip_samples_per_packet(517));\n"
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
        assert lines[3].split() == [codec.SERVICE_UUID, codec.DATA_UUID, codec.CONTROL_UUID, codec.CONFIG_UUID]
        assert [int(x) for x in lines[4].split()] == [codec.samples_per_packet(m) for m in (23, 185, 247, 517)]


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
        for key in (
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
        ):
            assert getattr(c, key) == v[key], key
        assert codec.encode_config(c) == raw

    @pytest.mark.parametrize("v", by_kind("command"), ids=lambda v: v["name"])
    def test_command(self, v):
        raw = bytes.fromhex(v["hex"])
        c = codec.decode_command(raw)
        assert int(c.opcode) == v["opcode"]
        assert (c.rate_hz or 0, c.acc_range_g or 0, c.gyr_range_dps or 0) == (
            v["rate_hz"],
            v["acc_range_g"],
            v["gyr_range_dps"],
        )
        assert codec.encode_command(c) == raw

    def test_uuid_byte_order(self):
        (v,) = by_kind("uuid")
        assert v["uuid"] == codec.SERVICE_UUID
        assert bytes.fromhex(v["hex"]) == bytes(reversed(uuid.UUID(codec.SERVICE_UUID).bytes))


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
