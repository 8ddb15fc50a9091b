"""What every HTML page of the reports shares: the style sheet, the finding palette, escaping, document ids, matplotlib figures as inline SVG, the tool's version."""

from __future__ import annotations

import html
import io
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..faults import Catalogue


def tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


#: One colour per finding (a finding's card swatch, its shaded periods and its level lines);
#: past the tenth finding, colours are spread around the hue circle.
PALETTE = (
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b2631;background:#fbfcfc}
main{max-width:1100px;margin:0 auto;padding:1.2em 1.5em 3em}
h1{font-size:1.6em;margin:.3em 0}h2{border-bottom:2px solid #d5dbdb;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.1em 0 .3em}
.disclaimer{background:#eaf2f8;border-left:5px solid #2e86c1;padding:.6em 1em;margin:.8em 0}
.warning{background:#fdedec;border:2px solid #c0392b;border-radius:6px;padding:.6em 1.2em;margin:1em 0}
.warning h2{border:none;color:#922b21;margin:.2em 0}
.card{background:#fff;border:1px solid #d5dbdb;border-left:8px solid #999;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.sev{display:inline-block;color:#fff;border-radius:4px;padding:0 .5em;font-weight:600;font-size:.9em}
.cue{font-style:italic;color:#424949}
table{border-collapse:collapse;margin:.4em 0;font-size:.92em}
td,th{border:1px solid #d5dbdb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f3f4}
.docs{color:#7b7d7d;font-size:.85em}
.muted{color:#707b7c}
.signal{background:#fef9e7;border-left:5px solid #d4ac0d;padding:.3em 1em;margin:.6em 0;font-size:.92em}
figure{margin:.8em 0}figure svg{max-width:100%;height:auto}
figcaption{color:#566573;font-size:.9em}
.facts th{background:none;border:none;color:#566573;font-weight:normal;padding:.1em .8em .1em 0}
.facts td{border:none;padding:.1em 0}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.4em;vertical-align:-.05em}
figure.overview svg{display:block;margin-bottom:.2em}
"""


def figure_svg(fig, salt: str) -> str:
    """A matplotlib figure as an inline SVG element (used by the history report) (no XML prolog, no external references)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:]
    # drop the RDF metadata block (it names external vocabularies; nothing is fetched, but the
    # page is simpler and smaller without it)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def new_figure(nrows: int, ncols: int, *, width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def doc_ids(docs: tuple[str, ...] | list[str], cat: Catalogue | None = None, *, link: bool = False) -> str:
    """Document ids as a bracketed list; each id shows its document's title on hover and, with
    ``link`` (a page with a "Sources" part), links to its entry there (``#doc-000``)."""
    from ..faults import CATALOGUE

    known = (cat or CATALOGUE).documents
    ids = []
    for k in docs:
        d = known.get(k)
        if d is None:
            ids.append(esc(k))
        elif link:
            ids.append(f'<a href="#doc-{esc(k)}" title="{esc(d.label)}">{esc(k)}</a>')
        else:
            ids.append(f'<span title="{esc(d.label)}">{esc(k)}</span>')
    return f'<span class="docs">[{", ".join(ids)}]</span>'
