"""Reports: terminal summaries (rich), JSON and HTML.

A report is built from `RunReport` objects (one per analysed session: the `Analysis`, the
`gait.faults.Assessment`, and what happened with the history). Three renderings:

- terminal (`print_report`): findings with evidence, when, confidence, causes and advice
  with their document ids, what could not be assessed and why;
- JSON (`report_document`, `write_json`): the documented, versioned schema of
  ``docs/report.md`` (JSON Schema in ``gait/data/report.schema.json``);
- HTML (`render_html`, `write_html`): one self-contained page with inline SVG plots (metrics
  over the run with fault periods shaded, per-step distributions, left versus right). It makes
  no network request of any kind (no CDN, no web font, no script; a Content-Security-Policy
  forbids it): health data stay on the machine.

Every rendering shows the warning signs that need a clinician, the causes no sensor can see,
and says plainly that the product coaches form and does not diagnose. Causes, advice and
warning signs carry the ids of the knowledge-base documents they come from; each rendering
ends with its "Sources": every document by title, publisher and address where known (the
catalogue's ``[[document]]`` table). The published studies behind the fault levels are named
in each rule's ``source`` and listed in full in ``docs/references.md``.

Modules: `_text` (terminal), `_json` (`RunReport`, the JSON report), `_html` (the page),
`_charts` (each finding's charts), `_svg` (the SVG drawing primitives), `_page` (what every
page shares: style, palette, escaping, figures), `_display` (units and formatting), `history`
(the run history's trends page).
"""

from __future__ import annotations

from ..history import HistoryStatus
from ._display import DISPLAY, signal_lines
from ._html import render_html, write_html
from ._json import (
    REPORT_SCHEMA,
    REPORT_SCHEMA_VERSION,
    RunReport,
    load_report_schema,
    report_document,
    run_report_dict,
    write_json,
)
from ._text import (
    key_metrics,
    print_analysis_summary,
    print_findings,
    print_report,
    print_report_footer,
    print_run_summary,
    print_session_summary,
    print_splits,
    session_summary,
    write_table,
)

__all__ = [
    "DISPLAY",
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "HistoryStatus",
    "RunReport",
    "load_report_schema",
    "print_analysis_summary",
    "print_findings",
    "print_report",
    "print_report_footer",
    "print_run_summary",
    "key_metrics",
    "print_session_summary",
    "print_splits",
    "render_html",
    "report_document",
    "run_report_dict",
    "session_summary",
    "signal_lines",
    "write_html",
    "write_json",
    "write_table",
]

#: How each per-step metric is shown: (label, column, factor to display unit, unit, decimals),
