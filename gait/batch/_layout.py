"""The output layout of a batch: session identities, hash buckets, partition and marker paths."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


LAYOUT_VERSION = 1
#: Number of hash buckets of the partitioned tables.
N_BUCKETS = 256
#: Tables written one file per session, partitioned by bucket.
PARTITIONED_TABLES: tuple[str, ...] = ("steps", "minutes")
#: Frames of the innermost calls kept in the traceback of an unexpected exception.
TRACEBACK_FRAMES = 8


def session_id(input_sha256: str, index: int) -> str:
    """Stable id of the ``index``-th session of a source whose content hash is ``input_sha256``."""
    return hashlib.sha256(f"{input_sha256}:{index}".encode()).hexdigest()[:16]


def bucket_of(sid: str) -> int:
    """Hash bucket (0-255) of a session id: its first two hex digits."""
    return int(sid[:2], 16)


def partition_file(out: Path, table: str, sid: str, fmt: str) -> Path:
    """``OUT/<table>/bucket=NNN/<session_id>.<fmt>``."""
    return out / table / f"bucket={bucket_of(sid):03d}" / f"{sid}.{fmt}"


def marker_path(out: Path, key: str) -> Path:
    """The completion marker of a source with completion key ``key``."""
    return out / "_done" / f"{key}.json"
