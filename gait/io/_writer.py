"""Writing canonical session files: whole sessions (CSV, gzip or Parquet by extension), the
atomic file write, and the streaming CSV writer of a live recording."""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import IO, Any

import numpy as np

from ..constants import (
    TIME_COLUMN,
    acc_columns,
)
from ..constants import gyr_columns as _gyr_columns
from ..errors import GaitInputError, Where
from ..session import Session, SessionMetadata
from ._format import FORMAT_NAME, FORMAT_VERSION


def save_session(session: Session, path: str | os.PathLike[str], *, decimals: int | None = None) -> Path:
    """Write ``session`` to ``path``; the format follows the extension.

    ``.csv`` and ``.csv.gz`` give the canonical CSV, ``.parquet`` Parquet. The file is written
    to a temporary name and renamed, so an interrupted write never leaves a partial file.
    ``decimals=None`` writes every value exactly (round trip is bit-exact); an integer rounds
    CSV values to that many decimals (smaller files).
    """
    p = Path(path)
    name = p.name.lower()
    if decimals is not None and (
        isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 17
    ):
        raise GaitInputError(
            "invalid value",
            expected="a whole number of decimals from 0 to 17 (or none: every value exactly)",
            found=repr(decimals),
            where=Where(parameter="decimals"),
        )
    if name.endswith(".parquet"):
        from ._parquet import write_parquet_session  # not at the top: _parquet imports this module

        return write_parquet_session(session, p)
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        return write_csv_session(session, p, decimals=decimals)
    raise GaitInputError(
        "unknown output format",
        expected="a name ending in .csv, .csv.gz or .parquet",
        found=repr(p.name),
        where=Where(parameter="path"),
    )


def _json_safe_meta(meta: SessionMetadata) -> dict[str, Any]:
    """The metadata as a dict that JSON can hold; `GaitInputError` when it cannot."""
    d = meta.to_dict()
    try:
        json.dumps(d)
    except (TypeError, ValueError) as e:
        raise GaitInputError(
            "metadata cannot be written",
            expected="metadata of JSON types (text, numbers, lists, objects)",
            found=str(e),
            where=Where(parameter="session.meta"),
        ) from None
    return d


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file, fsync, then rename.

    A process killed at any point leaves either the old file, the new one, or a hidden
    ``.<name>.*.tmp`` that readers ignore (pyarrow skips names starting with ``.``) and the
    batch runner removes. The file gets the usual permissions (0o666 less the umask).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------------------
def _header_lines(session: Session) -> list[str]:
    meta = _json_safe_meta(session.meta)
    lines = [f"# {FORMAT_NAME}: {FORMAT_VERSION}"]
    for key, value in meta.items():
        if value is None or value == {}:
            continue
        lines.append(f"# {key}: {json.dumps(value, sort_keys=True)}")
    return lines


def _columns(frame: str, has_gyro: bool) -> list[str]:
    cols = [TIME_COLUMN, *acc_columns(frame)]
    if has_gyro:
        cols += _gyr_columns(frame)
    return cols


def write_csv_session(session: Session, path: str | os.PathLike[str], *, decimals: int | None = None) -> Path:
    """Write the canonical CSV (gzip when the name ends in ``.gz``), atomically."""
    p = Path(path)
    df = session.to_dataframe()
    text_header = "\n".join(_header_lines(session)) + "\n"
    float_format = None if decimals is None else f"%.{int(decimals)}f"
    buf = io.StringIO()
    buf.write(text_header)
    df.to_csv(buf, index=False, float_format=float_format, lineterminator="\n", na_rep="")
    data = buf.getvalue().encode("utf-8")
    if p.name.lower().endswith(".gz"):
        data = gzip.compress(data, compresslevel=9, mtime=0)
    write_bytes_atomic(p, data)
    return p


# ---------------------------------------------------------------------------------------
# streaming writer (live recording)
# ---------------------------------------------------------------------------------------
class SessionCsvWriter:
    """Append samples to a canonical CSV as they arrive; crash-safe at every flush.

    The header is written and flushed on open. `write` appends whole lines; `flush` pushes them
    to the operating system and fsyncs, so after a kill at any moment the file loads up to the
    last flush (a line cut mid-way is dropped by the reader with a warning).

    Parameters
    ----------
    path
        Output file (plain ``.csv``: gzip streams cannot be flushed safely line by line).
    meta
        Session metadata; ``sampling_rate_hz`` is required.
    frame
        ``"sensor"`` or ``"body"``.
    has_gyro
        Whether gyroscope columns are written.
    """

    def __init__(
        self, path: str | os.PathLike[str], meta: SessionMetadata, *, frame: str = "sensor", has_gyro: bool = True
    ) -> None:
        self.path = Path(path)
        if self.path.name.lower().endswith(".gz"):
            raise GaitInputError(
                "cannot stream to gzip",
                expected="a plain .csv output for live recording",
                found=self.path.name,
                where=Where(parameter="out"),
            )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.frame = frame
        self.has_gyro = has_gyro
        self.n_rows = 0
        self._fh: IO[str] | None = open(self.path, "x", encoding="utf-8", newline="\n")  # never overwrite a recording
        dummy = Session(
            t=np.zeros(0), acc=np.zeros((0, 3)), gyr=np.zeros((0, 3)) if has_gyro else None, frame=frame, meta=meta
        )
        self._fh.write("\n".join(_header_lines(dummy)) + "\n")
        self._fh.write(",".join(_columns(frame, has_gyro)) + "\n")
        self.flush()

    def write(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray | None = None) -> None:
        """Append a block of samples (t in s, acc in m/s^2, gyr in rad/s)."""
        if self._fh is None:
            raise RuntimeError("writer is closed")
        t = np.asarray(t, dtype=float).reshape(-1, 1)
        parts = [t, np.asarray(acc, dtype=float).reshape(-1, 3)]
        if self.has_gyro:
            if gyr is None:
                raise GaitInputError(
                    "missing gyroscope block", expected="gyr samples", found="None", where=Where(parameter="gyr")
                )
            parts.append(np.asarray(gyr, dtype=float).reshape(-1, 3))
        block = np.hstack(parts)
        if block.size == 0:
            return
        # never write a line the loader refuses: check the whole block before any of it is written
        last_t = getattr(self, "_last_t_s", -math.inf)
        bad = ~np.isfinite(block).all(axis=1)
        steps = np.diff(np.concatenate([[last_t], block[:, 0]]))
        if bad.any() or not (steps > 0).all():
            i = int(np.argmax(bad)) if bad.any() else int(np.argmax(~(steps > 0)))
            j = int(np.argmax(~np.isfinite(block[i]))) if bad.any() else 0
            raise GaitInputError(
                "a sample the session file cannot hold",
                expected="finite values, and times that increase from one row to the next",
                found=f"{block[i].tolist()} as row {self.n_rows + i} (the previous time: {last_t!r} s)",
                where=Where(file=self.path, parameter=("t", "acc", "acc", "acc", "gyr", "gyr", "gyr")[j]),
                hint="Nothing of this block was written; the file still loads",
            )
        text = "\n".join(",".join(_fmt(v) for v in row) for row in block.tolist()) + "\n"
        self._fh.write(text)
        self.n_rows += block.shape[0]
        self._last_t_s = float(block[-1, 0])

    def flush(self, *, sync: bool = True) -> int | None:
        """Push the written lines to the operating system and (``sync``) fsync them. Returns
        the file descriptor, for a caller that fsyncs it itself (off its event loop)."""
        if self._fh is None:
            return None
        self._fh.flush()
        if sync:
            os.fsync(self._fh.fileno())
        return self._fh.fileno()

    def close(self) -> None:
        if self._fh is not None:
            self.flush()
            self._fh.close()
            self._fh = None

    def __enter__(self) -> SessionCsvWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fmt(v: float) -> str:
    return "" if v != v else repr(v)
