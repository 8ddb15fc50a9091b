"""Finding the sources of a batch (files, globs, folders, dataset layouts) and hashing them."""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gait import GaitInputError
from gait.batch._discover import Source, find_sources, hash_source, hash_sources

from .test_batch import write_dataset

HEADER = "# gait-session: 1\n# sampling_rate_hz: 100\nt_s,acc_x_mps2,acc_y_mps2,acc_z_mps2\n0,0,0,9.8\n"


def tree(root: Path) -> Path:
    """Session-like files (the search looks at names and headers only)."""
    (root / "a").mkdir(parents=True)
    (root / "b" / "c").mkdir(parents=True)
    (root / "a" / "run1.csv").write_text(HEADER)
    (root / "a" / "run2.csv.gz").write_bytes(gzip.compress(HEADER.encode()))
    (root / "a" / "run2.truth.csv.gz").write_bytes(gzip.compress(b"step,ic_s\n"))
    (root / "a" / "run2.truth.json").write_text("{}")
    (root / "b" / "run3.parquet").write_bytes(b"PAR1")
    (root / "b" / "c" / "RUN4.CSV").write_text(HEADER)
    (root / "b" / "notes.txt").write_text("hello")
    (root / "b" / "participants.csv").write_text("id,age,height_cm,mass_kg,shoe\n1,30,180,70,x\n")
    (root / "b" / "archive.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    (root / "b" / "empty.csv").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "run5.csv").write_text(HEADER)
    (root / "b" / ".run6.csv").write_text(HEADER)
    return root


def names(sources: list[Source]) -> list[str]:
    return [s.path.name for s in sources]


class TestFindSources:
    def test_empty_folder(self, tmp_path):
        assert find_sources([tmp_path]) == ([], [])

    def test_folder_search(self, tmp_path):
        sources, skipped = find_sources([tree(tmp_path / "t")])
        assert names(sources) == ["run1.csv", "run2.csv.gz", "empty.csv", "run3.parquet", "RUN4.CSV"]
        assert {s.kind for s in sources} == {"file"} and {s.reader for s in sources} == {"canonical"}
        reasons = {p.path.name: p.reason for p in skipped}
        assert reasons == {
            "archive.zip": "a zip archive that is no supported export (phyphox, Sensor Logger)",
            "participants.csv": "a CSV table without a time column (t_s, t_ms, t_us, t_ns): id, age, height_cm, mass_kg, ...",
        }

    def test_explicit_files_are_always_sources(self, tmp_path):
        root = tree(tmp_path / "t")
        sources, skipped = find_sources([root / "b" / "participants.csv", root / "b" / "notes.txt"])
        assert names(sources) == ["participants.csv", "notes.txt"] and skipped == []

    def test_dataset_folder_is_one_source(self, tmp_path):
        ds = write_dataset(tmp_path / "t" / "study" / "alcantara")
        (tmp_path / "t" / "run1.csv").write_text(HEADER)
        sources, _ = find_sources([tmp_path / "t"])
        assert [(s.path, s.kind, s.reader) for s in sources] == [
            (tmp_path / "t" / "run1.csv", "file", "canonical"),
            (ds, "folder", "alcantara2022"),
        ]
        assert find_sources([ds])[0] == [Source(ds, "folder", "alcantara2022")]

    def test_glob_and_duplicates(self, tmp_path):
        root = tree(tmp_path / "t")
        sources, _ = find_sources([str(root / "**" / "*.csv"), root / "a" / "run1.csv"])
        assert names(sources) == ["run1.csv", "empty.csv", "participants.csv"]

    def test_exclude(self, tmp_path):
        root = tree(tmp_path / "t")
        sources, _ = find_sources([root], exclude=[root / "b"])
        assert names(sources) == ["run1.csv", "run2.csv.gz"]

    def test_exceptions(self, tmp_path):
        with pytest.raises(
            GaitInputError,
            match=re.escape("parameter 'inputs': no input; expected at least one file, folder or pattern, found none")
            + "$",
        ):
            find_sources([])
        with pytest.raises(
            GaitInputError,
            match=re.escape(f"{tmp_path / 'x'}: input not found; expected an existing file or folder, found nothing")
            + "$",
        ):
            find_sources([tmp_path / "x"])
        pattern = str(tmp_path / "*.csv")
        with pytest.raises(
            GaitInputError,
            match=re.escape(f"{pattern}: no match; expected a pattern matching files or folders, found nothing") + "$",
        ):
            find_sources([pattern])

    @settings(max_examples=10, deadline=None)
    @given(st.permutations(["a", "b", "a/run1.csv", "b/c"]))
    def test_each_source_once_whatever_the_order(self, tmp_path_factory, order):
        root = tree(tmp_path_factory.mktemp("t"))
        sources, _ = find_sources([root / p for p in order])
        assert len({s.path.resolve() for s in sources}) == len(sources) == 5
        assert sorted(names(sources)) == sorted(["run1.csv", "run2.csv.gz", "run3.parquet", "empty.csv", "RUN4.CSV"])


class TestHash:
    def test_file(self, tmp_path):
        p = tmp_path / "r.csv"
        p.write_text(HEADER)
        assert hash_source(Source(p, "file", "canonical")) == (hashlib.sha256(HEADER.encode()).hexdigest(), len(HEADER))

    def test_folder_follows_content_not_name(self, tmp_path):
        a = write_dataset(tmp_path / "a")
        b = Path(shutil.copytree(a, tmp_path / "b"))
        ha, size = hash_source(Source(a, "folder", "alcantara2022"))
        assert hash_source(Source(b, "folder", "alcantara2022")) == (ha, size)
        (b / ".DS_Store").write_text("x")
        assert hash_source(Source(b, "folder", "alcantara2022"))[0] == ha
        (b / "trials.csv").write_text((b / "trials.csv").read_text().replace("76.8", "76.9"))
        assert hash_source(Source(b, "folder", "alcantara2022"))[0] != ha

    def test_unreadable_source_gives_its_error(self, tmp_path):
        out = hash_sources([Source(tmp_path / "gone.csv", "file", "canonical")])
        assert isinstance(out[0], FileNotFoundError)
