"""`RunReport` and the JSON report: the documented, versioned schema of ``docs/report.md``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..history import HistoryStatus

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..faults import Assessment, Catalogue, Document

from ._display import DISPLAY, num, unit_of
from ._page import tool_version

#: Name and version of the JSON report format (``docs/report.md``).
REPORT_SCHEMA = "gait-lumbar-report"
REPORT_SCHEMA_VERSION = 1

SEVERITY_STYLE = {"high": "bold red", "moderate": "bold yellow", "low": "cyan"}
SEVERITY_COLOUR = {"high": "#c0392b", "moderate": "#d68910", "low": "#2e86c1"}


@dataclass(frozen=True)
class RunReport:
    """One analysed session, ready to report."""

    label: str
    analysis: Analysis
    assessment: Assessment
    history: HistoryStatus = field(default_factory=HistoryStatus)
    elevation: str | None = None
    shoes: str | None = None
    split_unit: str = "km"
    #: the aligned elevation track, if any (draws the grade under a downhill finding)
    elevation_track: Any = None


def run_report_dict(rr: RunReport) -> dict[str, Any]:
    """The JSON object of one run (``docs/report.md``); numbers in SI, NaN as null."""
    a = rr.analysis
    s = a.summary
    meta = a.session.meta
    metrics = []
    for label, col, factor, unit, dec in DISPLAY:
        metrics.append(
            {
                "metric": col,
                "label": label,
                "unit": unit_of(col),
                "available": col not in a.unavailable,
                "median": num(s["median"].get(col)),
                "iqr": num(s["iqr"].get(col)),
                "left": num(s["left"].get(col)),
                "right": num(s["right"].get(col)),
                "display_unit": unit,
                "display_factor": factor,
                "display_decimals": dec,
            }
        )
    return {
        "label": rr.label,
        "session": {
            "source": meta.source,
            "device": meta.device,
            "start_time": meta.start_time,
            "duration_s": num(a.session.duration_s),
            "sampling_rate_hz": num(a.session.sampling_rate_hz),
            "gyroscope": a.session.gyr is not None,
            "missing_acc_axes": list(a.session.missing_acc_axes),
            "shoes": rr.shoes or meta.shoes,
        },
        "activity": {
            "running_s": num(s.get("running_s")) or 0.0,
            "walking_s": num(s.get("walking_s")) or 0.0,
            "still_s": num(s.get("still_s")) or 0.0,
            "running_steps": int(s.get("running_steps", 0)),
            "distance_m": num(s.get("distance_m")),
            "volume_measure": "distance" if num(s.get("distance_m")) is not None else "running time",
            "speed_source": "track"
            if a.track is not None
            else ("constant" if "speed_mps" not in a.unavailable else None),
        },
        "metrics": metrics,
        "unavailable": {k: str(v) for k, v in a.unavailable.items()},
        "signal_quality": a.quality.to_dict(),
        "heading": (a.frame.get("mounting") or {}).get("heading"),
        "findings": [{**f.to_dict(), "rank": k} for k, f in enumerate(rr.assessment.findings, start=1)],
        "notes": [n.to_dict() for n in rr.assessment.notes],
        "checked_without_finding": list(rr.assessment.checked),
        "history": rr.history.to_dict(),
        "elevation": rr.elevation,
        "track": None if a.track is None else a.track.to_dict(),
        "splits": _splits_dict(rr),
    }


def _splits_dict(rr: RunReport) -> dict[str, Any] | None:
    """The splits of a run for the JSON report (``docs/report.md``), or None without a speed."""
    from ..tracks import split_table

    sp = split_table(rr.analysis, unit=rr.split_unit)
    if sp.empty:
        return None
    rows = []
    for rec in sp.drop(columns=["unit"]).to_dict(orient="records"):
        rows.append(
            {k: (bool(v) if k == "complete" else int(v) if k in ("split", "steps") else num(v)) for k, v in rec.items()}
        )
    return {"unit": rr.split_unit, "rows": rows}


def report_document(
    reports: list[RunReport], *, catalogue: Catalogue | None = None, generated_at: datetime | None = None
) -> dict[str, Any]:
    """The whole JSON report: schema name and version, the clinical warning signs, the causes
    no sensor can see, the disclaimer, the documents cited, and one object per run."""
    from ..faults import CATALOGUE

    cat = catalogue or CATALOGUE
    when = (generated_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": when,
        "tool": {"name": "gait-lumbar", "version": tool_version()},
        "catalogue_version": cat.version,
        "disclaimer": cat.disclaimer,
        "warning_signs": [{"text": w.text, "documents": list(w.documents)} for w in cat.warning_signs],
        "unseen_causes": [
            {"topic": u.topic, "text": u.text, "documents": list(u.documents)} for u in cat.unseen_causes
        ],
        "documents": [
            {"id": d.id, "title": d.title, "publisher": d.publisher, "url": d.url, "topic": d.topic}
            for d in documents(cat)
        ],
        "runs": [run_report_dict(r) for r in reports],
    }


def documents(cat: Catalogue) -> list[Document]:
    """The catalogue's knowledge-base documents, by id (a catalogue built without the table
    gets one untitled entry per described id)."""
    from ..faults import Document

    if cat.documents:
        return [cat.documents[k] for k in sorted(cat.documents)]
    return [Document(k, f"document {k}", None, None, v) for k, v in sorted(cat.document_topics.items())]


#: Where the published studies cited by the reports are listed in full.
REFERENCES_NOTE = (
    "The published studies behind each fault's levels are named in the evidence (its source) and "
    "listed in full in docs/references.md of gait-lumbar."
)


def load_report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `report_document` (``gait/data/report.schema.json``)."""
    from importlib import resources

    return json.loads((resources.files("gait") / "data" / "report.schema.json").read_text("utf-8"))


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    """Write a report document as UTF-8 JSON (indented, keys in a stable order)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return p
