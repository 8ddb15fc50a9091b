"""The per-device calibration store: one versioned JSON file per device in the user data folder.

Layout::

    <user data dir>/gait-lumbar/calibration/<device slug>-<hash>.json

    {
      "format": "gait-calibration",
      "version": 1,
      "device_id": "AA:BB:CC:DD:EE:FF",
      "device": "WitMotion WT901BLE",
      "entries": [ {"kind": "gyro", "id": ..., "created": ..., ...}, ... ]
    }

Every calibration is appended (history is kept); the latest entry of each kind (by its
``created`` time) is the current one. Files are written atomically. A file that cannot be
read is never deleted: reading it raises a clear error, and saving a new calibration first
moves it aside to ``<name>.corrupt-<time>.json``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import warnings
from pathlib import Path
from typing import Any

from gait.errors import GaitDataWarning, GaitInputError, Where

from ._types import KINDS, RECORD_TYPES, Calibration, Record, _compact, created_datetime, utc_now

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "CalibrationStore", "default_store_dir"]

FORMAT_NAME = "gait-calibration"
FORMAT_VERSION = 1
#: Environment variable that overrides the store folder.
ENV_DIR = "GAIT_CALIBRATION_DIR"
APP_NAME = "gait-lumbar"


def default_store_dir() -> Path:
    """``$GAIT_CALIBRATION_DIR`` if set, else ``<user data dir>/gait-lumbar/calibration`` (platformdirs)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / "calibration"


def _slug(device_id: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", device_id).strip("._")[:60] or "device"
    digest = hashlib.sha1(device_id.encode("utf-8")).hexdigest()[:8]
    return f"{safe}-{digest}"


def _check_device_id(device_id: object) -> str:
    if not isinstance(device_id, str) or not device_id.strip():
        raise GaitInputError(
            "no device id",
            expected="the device's address or serial (e.g. 'AA:BB:CC:DD:EE:FF')",
            found=repr(device_id),
            where=Where(parameter="device_id"),
            hint="Pass --device ADDRESS_OR_SERIAL, or record with a tool that writes 'device_id' in the file header",
        )
    return device_id.strip()


class CalibrationStore:
    """Calibrations of every device, kept in one folder.

    Parameters
    ----------
    root
        Folder of the store (created on first save). ``None``: `default_store_dir`.

    Examples
    --------
    >>> store = CalibrationStore(tmp)                                   # doctest: +SKIP
    >>> store.save("AA:BB:CC:DD:EE:FF", estimate_gyro_bias(still))      # doctest: +SKIP
    >>> cal = store.current("AA:BB:CC:DD:EE:FF")                        # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_store_dir()

    def __repr__(self) -> str:
        return f"CalibrationStore({str(self.root)!r})"

    # -- paths -------------------------------------------------------------------------
    def path_for(self, device_id: str) -> Path:
        """The JSON file of ``device_id`` (it may not exist yet)."""
        return self.root / f"{_slug(_check_device_id(device_id))}.json"

    def devices(self) -> list[str]:
        """Device ids with a readable store file, sorted."""
        if not self.root.is_dir():
            return []
        out = []
        for p in sorted(self.root.glob("*.json")):
            if ".corrupt-" in p.name:
                continue
            try:
                doc = json.loads(p.read_text(encoding="utf-8"))
                out.append(str(doc["device_id"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # reported when that device is read
        return sorted(out)

    # -- reading -----------------------------------------------------------------------
    def _read(self, device_id: str) -> dict[str, Any] | None:
        path = self.path_for(device_id)
        if not path.exists():
            return None
        where = Where(file=path)
        hint = (
            f"Fix or delete the file, or calibrate again (`gait calibrate ...` keeps the old file aside as "
            f"{path.stem}.corrupt-<time>.json); `--no-calibration` analyses without"
        )
        try:
            text = path.read_text(encoding="utf-8")
            doc = json.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise GaitInputError(
                "corrupt calibration file", expected="valid JSON", found=str(e), where=where, hint=hint
            ) from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
            raise GaitInputError(
                "not a calibration file",
                expected=f'a JSON object with "format": "{FORMAT_NAME}"',
                found=repr(doc.get("format")) if isinstance(doc, dict) else type(doc).__name__,
                where=where,
                hint=hint,
            )
        version = doc.get("version")
        if not isinstance(version, int) or version < 1:
            raise GaitInputError(
                "corrupt calibration file", expected="an integer 'version'", found=repr(version), where=where, hint=hint
            )
        if version > FORMAT_VERSION:
            raise GaitInputError(
                "calibration file from a newer version of gait",
                expected=f"format version {FORMAT_VERSION} or older",
                found=f"version {version}",
                where=where,
                hint="Upgrade gait-lumbar",
            )
        if doc.get("device_id") != device_id:
            raise GaitInputError(
                "calibration file of another device",
                expected=f"device_id {device_id!r}",
                found=repr(doc.get("device_id")),
                where=where,
                hint=hint,
            )
        entries = doc.get("entries")
        if not isinstance(entries, list):
            raise GaitInputError(
                "corrupt calibration file", expected="a list 'entries'", found=repr(type(entries).__name__),
                where=where, hint=hint,
            )  # fmt: skip
        return doc

    def _records(self, doc: dict[str, Any], path: Path) -> list[Record]:
        out: list[Record] = []
        for i, e in enumerate(doc["entries"]):
            kind = e.get("kind") if isinstance(e, dict) else None
            if kind not in RECORD_TYPES:
                continue  # a kind from a newer minor version: ignored, kept in the file
            try:
                out.append(RECORD_TYPES[kind].from_dict(e))
            except (KeyError, TypeError, ValueError) as err:
                raise GaitInputError(
                    "corrupt calibration entry",
                    expected=f"a complete {kind!r} entry",
                    found=f"entry {i + 1}: {err}",
                    where=Where(file=path),
                    hint="Fix or delete the entry, or calibrate again",
                ) from None
        return out

    def history(self, device_id: str, *, kind: str | None = None) -> list[Record]:
        """Every stored record of ``device_id`` (of one ``kind`` if given), oldest first."""
        doc = self._read(_check_device_id(device_id))
        if doc is None:
            return []
        recs = self._records(doc, self.path_for(device_id))
        if kind is not None:
            recs = [r for r in recs if r.kind == kind]
        order = sorted(range(len(recs)), key=lambda i: (created_datetime(recs[i].created), i))
        return [recs[i] for i in order]

    def current(self, device_id: str) -> Calibration | None:
        """The latest record of each kind for ``device_id``; ``None`` when nothing is stored."""
        recs = self.history(device_id)
        if not recs:
            return None
        latest: dict[str, Record] = {}
        for r in recs:  # oldest first: later ones win
            latest[r.kind] = r
        return Calibration(device_id=device_id, **latest)  # type: ignore[arg-type]

    # -- writing -----------------------------------------------------------------------
    def save(self, device_id: str, record: Record, *, device: str | None = None) -> Path:
        """Append ``record`` to the store of ``device_id``; returns the file written.

        A record with the same id as a stored one (same kind and time) is replaced. An
        unreadable existing file is moved aside (``.corrupt-<time>.json``, with a
        `GaitDataWarning`) and a new file started.
        """
        device_id = _check_device_id(device_id)
        if getattr(record, "kind", None) not in KINDS:
            raise GaitInputError(
                "not a calibration record",
                expected="a GyroBiasCalibration, AccelCalibration or MountingCalibration",
                found=type(record).__name__,
                where=Where(parameter="record"),
            )
        path = self.path_for(device_id)
        try:
            doc = self._read(device_id)
            if doc is not None:
                self._records(doc, path)  # refuse to build on entries that cannot be read
        except GaitInputError as e:
            if "newer version" in e.problem:
                raise
            aside = path.with_name(f"{path.stem}.corrupt-{_compact(utc_now())}.json")
            path.rename(aside)
            warnings.warn(
                f"{path}: {e.problem}; kept aside as {aside.name} and started a new calibration file",
                GaitDataWarning,
                stacklevel=2,
            )
            doc = None
        if doc is None:
            doc = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "device_id": device_id, "entries": []}
        if device:
            doc["device"] = device
        entry = record.to_dict()
        doc["entries"] = [e for e in doc["entries"] if not (isinstance(e, dict) and e.get("id") == entry["id"])]
        doc["entries"].append(entry)
        doc["version"] = FORMAT_VERSION
        self.root.mkdir(parents=True, exist_ok=True)
        data = json.dumps(doc, indent=1, sort_keys=False) + "\n"
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path
