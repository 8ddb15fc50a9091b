"""The flat rows of a batch's cohort tables: a session's summary, its findings, a failure."""

from __future__ import annotations

import json
import traceback
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .._flat import flatten, jsonable, scalar
from ..errors import GaitDataWarning, GaitInputError

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..faults import Finding
    from ..session import Session
    from ._task import Task

from ._layout import TRACEBACK_FRAMES, bucket_of

#: Columns of the findings table, in order.
FINDING_COLUMNS: tuple[str, ...] = (
    "session_id",
    "rank",
    "fault",
    "name",
    "severity",
    "confidence",
    "headline",
    "metric",
    "value",
    "unit",
    "display",
    "threshold",
    "share_of_steps",
    "when",
    "periods_json",
    "evidence_json",
    "causes_json",
    "advice_json",
    "documents",
    "limitations",
    "score",
)


def finding_rows(sid: str, findings: list[Finding]) -> list[dict[str, Any]]:
    """One flat row per finding (rank 1 = most important), evidence and texts as JSON."""
    rows = []
    for rank, f in enumerate(findings, start=1):
        d = f.to_dict()
        primary = f.evidence[0] if f.evidence else None
        rows.append(
            {
                "session_id": sid,
                "rank": rank,
                "fault": f.fault,
                "name": f.name,
                "severity": f.severity,
                "confidence": float(f.confidence),
                "headline": f.headline,
                "metric": primary.metric if primary else None,
                "value": scalar(primary.value) if primary else float("nan"),
                "unit": primary.unit if primary else None,
                "display": primary.display if primary else None,
                "threshold": primary.threshold if primary else None,
                "share_of_steps": float("nan") if f.share_of_steps is None else float(f.share_of_steps),
                "when": f.when,
                "periods_json": json.dumps(d["periods"]),
                "evidence_json": json.dumps(d["evidence"]),
                "causes_json": json.dumps(d["causes"]),
                "advice_json": json.dumps(d["advice"]),
                "documents": ",".join(f.documents),
                "limitations": f.limitations,
                "score": float(f.score),
            }
        )
    return rows


def error_row(
    *,
    source: str,
    input_sha256: str | None,
    stage: str,
    exc: BaseException,
    session_index: int | None = None,
    sid: str | None = None,
) -> dict[str, Any]:
    """A row of the errors table.

    ``kind`` is ``"input"`` for a `GaitInputError` (the input cannot be used; the message says
    where and why) and ``"bug"`` for anything else, which carries its type, message and the
    innermost frames of its traceback.
    """
    is_input = isinstance(exc, GaitInputError)
    tb = ""
    if not is_input:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-TRACEBACK_FRAMES))
    return {
        "source": source,
        "session_index": session_index,
        "session_id": sid,
        "input_sha256": input_sha256,
        "stage": stage,
        "kind": "input" if is_input else "bug",
        "error_type": type(exc).__name__,
        "message": str(exc),
        "traceback": tb,
    }


def warning_texts(caught: list[warnings.WarningMessage]) -> list[str]:
    texts = []
    for w in caught:
        msg = str(w.message)
        texts.append(msg if issubclass(w.category, GaitDataWarning) else f"{w.category.__name__}: {msg}")
    return list(dict.fromkeys(texts))


def session_row(
    task: Task, index: int, sid: str, s: Session, a: Analysis, findings: list[Finding], texts: list[str]
) -> dict[str, Any]:
    mounting = a.frame.get("mounting") or {}
    row: dict[str, Any] = {
        "session_id": sid,
        "bucket": bucket_of(sid),
        "source": task.source,
        "session_index": index,
        "input_sha256": task.input_sha256,
        "reader": task.reader,
        "device": s.meta.device,
        "device_id": s.meta.device_id,
        "start_time": s.meta.start_time,
        "shoes": s.meta.shoes,
        "sampling_rate_hz": float(s.sampling_rate_hz),
        "n_samples": int(s.n_samples),
        "input_frame": s.frame,
        "has_gyroscope": s.gyr is not None,
        "calibration": s.meta.calibration,
        "mounting_vertical_source": mounting.get("vertical_source"),
        "mounting_forward_source": mounting.get("forward_source"),
        "lean_reference": a.frame.get("lean_reference"),
        "unavailable": ",".join(sorted(a.unavailable)),
        "n_findings": len(findings),
        "faults": ",".join(f"{f.fault}:{f.severity}" for f in findings),
        "n_warnings": len(texts),
        "warnings": " | ".join(texts),
    }
    for k, v in flatten(a.summary).items():
        row[k if k not in row else f"summary.{k}"] = v
    for k, v in s.meta.extra.items():
        if k == "calibration_parameters":
            continue  # the calibration id is in 'calibration'; its parameters are in the store
        row[f"meta.{k}"] = (
            scalar(v) if isinstance(v, str | int | float | bool | np.generic) else json.dumps(jsonable(v))
        )
    return row
