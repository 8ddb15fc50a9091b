"""A batch's parameters, the versions and code digest in its manifest, and the completion keys."""

from __future__ import annotations

import functools
import hashlib
import json
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ._discover import Source
from ._task import (
    LAYOUT_VERSION,
)


@dataclass(frozen=True)
class BatchParameters:
    """What, besides the input and the code, decides a batch's results.

    Attributes
    ----------
    fmt
        ``"parquet"`` or ``"csv"``.
    speed_mps
        Running speed given for every session (``None``: each session's own, if any).
    calibration_dir
        Calibration store applied to the sessions (``None``: no stored calibration).
    calibration_sha256
        Content hash of that store (part of the completion key; the path is not).
    """

    fmt: str = "parquet"
    speed_mps: float | None = None
    calibration_dir: str | None = None
    calibration_sha256: str | None = None

    def key_dict(self) -> dict[str, Any]:
        """The parameters that enter the completion key (not the store's path)."""
        return {"fmt": self.fmt, "speed_mps": self.speed_mps, "calibration_sha256": self.calibration_sha256}


def _package_roots() -> list[Path]:
    import calibration

    from .. import __file__ as gait_init

    return [Path(gait_init).parent, Path(calibration.__file__).parent]


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 of the analysis code: every ``.py`` and data file of `gait` and `calibration`.

    Part of each completion key, so results computed by other code are never reused, even
    between two commits with the same version number.
    """
    h = hashlib.sha256()
    for root in _package_roots():
        files = sorted(
            f
            for f in root.rglob("*")
            if f.is_file()
            and "__pycache__" not in f.parts
            and f.suffix not in (".pyc", ".tmp")
            and not f.name.startswith(".")
        )
        for f in files:
            h.update(f"{root.name}/{f.relative_to(root).as_posix()}".encode() + b"\0")
            h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def collect_versions(*, with_dask: bool) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    import numpy
    import pyarrow
    import scipy

    from .. import __version__

    try:
        dist = version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        dist = __version__
    v = {
        "gait": dist,
        "code_sha256": code_digest(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
    }
    if with_dask:
        import dask
        import distributed

        v["dask"] = dask.__version__
        v["distributed"] = distributed.__version__
    return v


#: Versions that enter the completion key (the others are recorded in the manifest only).
_KEY_VERSIONS = ("gait", "code_sha256", "numpy", "scipy", "pandas")


def completion_key(source: Source, sha: str, params: BatchParameters, versions: dict[str, str]) -> str:
    doc = {
        "input_sha256": sha,
        "reader": source.reader,
        "parameters": params.key_dict(),
        "versions": {k: versions[k] for k in _KEY_VERSIONS},
        "layout": LAYOUT_VERSION,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def dir_digest(d: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in d.rglob("*") if p.is_file()):
        h.update(f.relative_to(d).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()
