"""Finding the sessions of a batch: files, globs and folders, and their content hashes.

Rules (``docs/batch.md``):

- A path or glob match that is a **file** is a source, whatever it holds; a file that cannot
  be read becomes a row of the errors table, never a silent skip.
- A **folder** that is itself a dataset or export layout (anything a reader of
  `gait.readers.READERS` recognises: the Alcantara 2022 layout, an unpacked phyphox or Sensor
  Logger export) is **one** source, which may hold several sessions.
- Any other folder is searched recursively, in sorted order. Sub-folders of a recognised layout
  are one source each (not searched further). Files ending in ``.csv``, ``.csv.gz``,
  ``.parquet`` or ``.zip`` are candidates. Hidden entries (``.name``), the batch's own output
  folder and the simulator's ``*.truth.*`` sidecars are left out. A readable CSV table with
  named columns but no time column (``t_s``, ``t_ms``, ``t_us``, ``t_ns``) that no reader
  recognises (a participants table, say) and a zip that opens but is no supported export are
  *skipped*: a folder of data rarely holds sessions only. The batch lists each in its errors
  table (kind ``skipped``) and in the manifest. A file that cannot be read at all (binary,
  UTF-16, a damaged zip) is a source, so the reader's error says what is wrong with it.
- Sources with identical content (the same bytes under two names) are processed once; the
  others are listed as duplicates.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from ..errors import GaitInputError, Where
from ..readers import READERS
from ..readers._archive import zip_names

__all__ = ["SESSION_SUFFIXES", "Skipped", "Source", "find_sources", "hash_source", "hash_sources", "iter_hashes"]

#: File name endings the folder search considers (case-insensitive).
SESSION_SUFFIXES: tuple[str, ...] = (".csv", ".csv.gz", ".parquet", ".zip")
_TIME_COLUMN = re.compile(r"^t_(s|ms|us|ns)$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_HEAD_BYTES = 65536
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Source:
    """One thing to read with `gait.read_sessions`: a file, or a dataset folder.

    Attributes
    ----------
    path
        The file or folder, as found (relative when the input was relative).
    kind
        ``"file"`` or ``"folder"``.
    reader
        The reader that recognises it (``"canonical"`` for the project's own CSV / Parquet, else
        the name in `gait.readers.READERS`, e.g. ``"alcantara2022"``).
    """

    path: Path
    kind: str
    reader: str


@dataclass(frozen=True)
class Skipped:
    """A file the folder search passed over, and why."""

    path: Path
    reason: str


def _reader_of(p: Path) -> str | None:
    for name, sniff, _ in READERS:
        if sniff(p):
            return name
    return None


def _is_sidecar(name: str) -> bool:
    return ".truth." in name.lower()


def _suffix_ok(name: str) -> bool:
    low = name.lower()
    return low.endswith(SESSION_SUFFIXES)


def _csv_header(p: Path) -> str | None:
    """The first line that is not a ``#`` comment, or None when there is none or the head of
    the file is not clean UTF-8 text (binary, UTF-16, damaged gzip): such a file is taken as a
    source, so that the reader says what is wrong with it."""
    try:
        with open(p, "rb") as fh:
            raw = fh.read(_HEAD_BYTES)
    except OSError:
        return None
    if p.name.lower().endswith(".gz"):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw, _HEAD_BYTES)
        except zlib.error:
            return None
    if b"\x00" in raw:
        return None
    if len(raw) == _HEAD_BYTES:  # do not judge a character cut at the end of the head
        raw = raw[: raw.rfind(b"\n") + 1]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            return line
    return None


#: A column name of a table that is not a session (a participants table, say).
_NAME = re.compile(r"^[\w .()/%+\-\[\]#:]{1,80}$")


def _not_a_session(p: Path) -> str | None:
    """Why a folder-search candidate is not a session file, or None when it may be one.

    Only files recognisably of another kind are passed over: a readable CSV table with named
    columns and no time column, and a zip archive that opens and is no supported export. A
    file that cannot be read (binary, UTF-16, a damaged zip) is a source: the reader's error
    says what is wrong with it.
    """
    low = p.name.lower()
    if low.endswith(".zip"):
        if zip_names(p) is None or _reader_of(p):
            return None
        return "a zip archive that is no supported export (phyphox, Sensor Logger)"
    if low.endswith((".csv", ".csv.gz")):
        header = _csv_header(p)
        if header is None:
            return None  # unreadable or empty: let the reader say what is wrong
        cells = [c.strip().strip('"').strip() for c in header.split(",")]
        if any(_TIME_COLUMN.match(c) for c in cells) or _reader_of(p):
            return None
        if len(cells) < 2 or not all(_NAME.match(c) for c in cells):
            return None  # not a header of named columns: a damaged file, for the reader to explain
        shown = ", ".join(cells[:4]) + (", ..." if len(cells) > 4 else "")
        return f"a CSV table without a time column (t_s, t_ms, t_us, t_ns): {shown}"
    return None


def _walk(root: Path, exclude: Sequence[Path], sources: list[Source], skipped: list[Skipped]) -> None:
    excluded = {e.resolve() for e in exclude}
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        keep = []
        for d in sorted(dirnames):
            sub = here / d
            if d.startswith(".") or sub.resolve() in excluded:
                continue
            reader = _reader_of(sub)
            if reader is not None:
                sources.append(Source(sub, "folder", reader))
            else:
                keep.append(d)
        dirnames[:] = keep
        for f in sorted(filenames):
            p = here / f
            if f.startswith(".") or _is_sidecar(f) or not _suffix_ok(f) or not p.is_file():
                continue
            reason = _not_a_session(p)
            if reason is not None:
                skipped.append(Skipped(p, reason))
                continue
            sources.append(Source(p, "file", _reader_of(p) or "canonical"))


def _expand(item: str | os.PathLike[str]) -> list[Path]:
    p = Path(item)
    if p.exists():
        return [p]
    text = os.fspath(item)
    if _GLOB_CHARS.search(text):
        matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
        if not matches:
            raise GaitInputError(
                "no match", expected="a pattern matching files or folders", found="nothing", where=Where(file=text)
            )
        return matches
    raise GaitInputError("input not found", expected="an existing file or folder", found="nothing", where=Where(file=p))


def find_sources(
    inputs: str | os.PathLike[str] | Iterable[str | os.PathLike[str]], *, exclude: Sequence[Path] = ()
) -> tuple[list[Source], list[Skipped]]:
    """The sources named by ``inputs`` (files, globs, folders), in a stable order.

    Parameters
    ----------
    inputs
        A path or glob pattern, or several (``**`` searches sub-folders).
    exclude
        Folders the search never enters (the batch's output folder).

    Returns
    -------
    sources, skipped
        The sources (each path once, in input order then sorted), and the files the folder
        search passed over with the reason.

    Raises
    ------
    GaitInputError
        No input at all, a path that does not exist, or a pattern that matches nothing.
    """
    items: list[str | os.PathLike[str]] = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    if not items:
        raise GaitInputError(
            "no input", expected="at least one file, folder or pattern", found="none", where=Where(parameter="inputs")
        )
    sources: list[Source] = []
    skipped: list[Skipped] = []
    for item in items:
        for p in _expand(item):
            if p.is_dir():
                reader = _reader_of(p)
                if reader is not None:
                    sources.append(Source(p, "folder", reader))
                else:
                    _walk(p, exclude, sources, skipped)
            elif p.is_file():
                sources.append(Source(p, "file", _reader_of(p) or "canonical"))
    seen: set[Path] = set()
    unique = []
    for s in sources:
        r = s.path.resolve()
        if r not in seen:
            seen.add(r)
            unique.append(s)
    return unique, skipped


def _file_sha256(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def hash_source(source: Source) -> tuple[str, int]:
    """SHA-256 of a source's content and its size in bytes.

    A file: the hash of its bytes. A folder: the hash of the sorted list of its files (relative
    path and SHA-256 of each; hidden files left out), so renaming the folder keeps the hash and
    changing any file changes it.
    """
    p = source.path
    if source.kind == "file":
        return _file_sha256(p), p.stat().st_size
    h = hashlib.sha256()
    size = 0
    files = sorted(
        f for f in p.rglob("*") if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
    )
    for f in files:
        h.update(f.relative_to(p).as_posix().encode() + b"\0" + _file_sha256(f).encode() + b"\n")
        size += f.stat().st_size
    return h.hexdigest(), size


def _hash_or_error(s: Source) -> tuple[str, int] | OSError:
    try:
        return hash_source(s)
    except OSError as e:
        return e


def iter_hashes(sources: Sequence[Source], *, threads: int = 4) -> Iterator[tuple[str, int] | OSError]:
    """`hash_source` of each source, in order, as soon as it is known.

    The hashes are computed ahead in ``threads`` threads (hashing releases the GIL), so a
    consumer can start work on the first sources while the others are read. A source that
    cannot be read gives its `OSError` in place of the hash.
    """
    with ThreadPoolExecutor(max_workers=max(1, threads)) as ex:
        yield from ex.map(_hash_or_error, sources)


def hash_sources(sources: Sequence[Source], *, threads: int = 4) -> list[tuple[str, int] | OSError]:
    """`iter_hashes` as a list."""
    return list(iter_hashes(sources, threads=threads))
