"""Reading the members of an export: a zip archive or a folder, safely.

Phone apps export a recording as a zip of CSV files (or, once unpacked, a folder). A damaged,
encrypted or oddly compressed member makes `zipfile` raise one of a dozen unrelated exceptions
(``BadZipFile`` for a wrong CRC, ``RuntimeError`` for encryption, ``NotImplementedError`` for
an unknown compression method, ``zlib.error``, ``lzma.LZMAError``, ``EOFError`` ...). Here
each of them becomes `GaitInputError` naming the archive and the member; sniffing (is this an
export of app X?) never raises at all.
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from ..errors import GaitInputError, Where

__all__ = ["MAX_MEMBER_BYTES", "ZIP_ERRORS", "is_zip", "read_member_files", "zip_names"]

#: Largest member read, bytes (uncompressed); a larger one is refused, not loaded into memory.
MAX_MEMBER_BYTES = 1 << 30
#: What `zipfile` raises for damaged, encrypted or unsupported archives and members.
ZIP_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
    NotImplementedError,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    OverflowError,
    KeyError,
    IndexError,
)


def is_zip(p: Path) -> bool:
    """A file that starts like a zip archive (``PK``), whether or not it can be opened."""
    try:
        with open(p, "rb") as fh:
            return fh.read(2) == b"PK"
    except OSError:
        return False


def zip_names(p: Path) -> list[str] | None:
    """The member names of a zip archive, or None when it cannot be opened."""
    try:
        with zipfile.ZipFile(p) as z:
            return z.namelist()
    except ZIP_ERRORS:
        return None


def _why(e: BaseException) -> str:
    if isinstance(e, RuntimeError) and "encrypted" in str(e):
        return "an encrypted member (a password is needed)"
    if isinstance(e, NotImplementedError):
        return "a compression method this Python cannot read"
    text = str(e).strip() or type(e).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def read_member_files(
    p: Path, select: Callable[[str], bool], *, head: int | None = None, strict: bool = True, limit: int = 64
) -> dict[str, bytes]:
    """Contents of the selected members of a zip archive ``p``, by member name.

    ``head``: only the first bytes of each. ``strict``: a member (or archive) that cannot be
    read raises `GaitInputError` naming it; otherwise it is left out (for sniffing).
    """
    out: dict[str, bytes] = {}
    try:
        z = zipfile.ZipFile(p)
    except ZIP_ERRORS as e:
        if not strict:
            return out
        raise GaitInputError(
            "damaged zip archive", expected="a readable zip archive", found=_why(e), where=Where(file=p)
        ) from None
    with z:
        try:
            infos = [i for i in z.infolist() if not i.is_dir() and select(i.filename)][:limit]
        except ZIP_ERRORS as e:  # pragma: no cover - the central directory was read when opening
            if not strict:
                return out
            raise GaitInputError(
                "damaged zip archive", expected="a readable zip archive", found=_why(e), where=Where(file=p)
            ) from None
        for info in infos:
            where = Where(file=f"{p}/{info.filename}")
            if head is None and info.file_size > MAX_MEMBER_BYTES:
                if not strict:
                    continue
                raise GaitInputError(
                    "zip member too large",
                    expected=f"at most {MAX_MEMBER_BYTES >> 20} MiB uncompressed",
                    found=f"{info.file_size >> 20} MiB",
                    where=where,
                )
            try:
                with z.open(info) as fh:
                    out[info.filename] = fh.read(head) if head else fh.read(MAX_MEMBER_BYTES + 1)
            except ZIP_ERRORS as e:
                if not strict:
                    continue
                raise GaitInputError(
                    "cannot read zip member", expected="a readable CSV file", found=_why(e), where=where
                ) from None
            if head is None and len(out[info.filename]) > MAX_MEMBER_BYTES:
                if not strict:
                    del out[info.filename]
                    continue
                raise GaitInputError(
                    "zip member too large",
                    expected=f"at most {MAX_MEMBER_BYTES >> 20} MiB uncompressed",
                    found="more than that (its header understates its size)",
                    where=where,
                )
    return out
