"""The trends page: key metrics over weeks against the runner's own baseline, as one
self-contained HTML file.

Built like the run report (`gait.report`): matplotlib figures inlined as SVG, inline CSS, no
script, and a Content-Security-Policy that forbids every network request; health data stay on
the machine. Like every report it shows the warning signs that need a clinician and says that
the product coaches form and does not diagnose. The statistics are those of
`gait.history.stats` (baseline, run-to-run noise, band), explained on the page.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..history.stats import BAND_EXPLANATION, Trend
from ._page import CSS, PALETTE, doc_ids, esc, figure_svg, new_figure, tool_version

if TYPE_CHECKING:
    from ..faults import Catalogue

__all__ = ["BAND_EXPLANATION", "render_trends_html", "trend_dict", "write_trends_html"]


_TREND_CSS = """
.flag-higher{color:#b03a2e;font-weight:600}.flag-lower{color:#1f618d;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
"""


def trend_dict(t: Trend) -> dict[str, Any]:
    """A trend as JSON-ready data (SI units; NaN as null)."""

    def num(x: float) -> float | None:
        return float(x) if math.isfinite(x) else None

    return {
        "metric": t.spec.name,
        "key": t.spec.key,
        "label": t.spec.label,
        "display_unit": t.spec.unit,
        "display_factor": t.spec.factor,
        "baseline": num(t.baseline),
        "baseline_runs": t.n_baseline,
        "noise_sd": num(t.noise_sd),
        "band": [num(t.band[0]), num(t.band[1])],
        "band_unavailable": t.unavailable,
        "runs": [
            {"id": r.run_id, "started_at": r.started_at.isoformat(), "value": v, "shoes": r.shoes}
            for r, v in zip(t.runs, t.values)
        ],
        "weeks": [
            {"week_start": w.week_start.isoformat(), "runs": w.n, "mean": num(w.mean), "flag": w.flag} for w in t.weeks
        ],
    }


def _plot_trend(t: Trend, salt: str) -> str | None:
    import matplotlib.dates as mdates

    if not t.runs:
        return None
    spec = t.spec
    f = spec.factor
    fig, axes = new_figure(1, 1, width=10.0, height=3.0)
    ax = axes[0, 0]
    when = [r.started_at.replace(tzinfo=None) for r in t.runs]
    v = np.asarray(t.values) * f
    shoes = [r.shoes or "shoes not named" for r in t.runs]
    names = list(dict.fromkeys(shoes))
    if math.isfinite(t.noise_sd) and math.isfinite(t.baseline):
        ax.axhspan(t.band[0] * f, t.band[1] * f, color="#abebc6", alpha=0.45, lw=0, label="usual range")
    if math.isfinite(t.baseline):
        ax.axhline(t.baseline * f, color="#1e8449", lw=1.2, ls="--", label="baseline")
    for k, name in enumerate(names):
        sel = [i for i, s in enumerate(shoes) if s == name]
        ax.scatter(
            [when[i] for i in sel],
            v[sel],
            s=16,
            color=PALETTE[k % len(PALETTE)] if len(names) > 1 else "#5d6d7e",
            label=name if len(names) > 1 else "run",
            zorder=3,
        )
    weeks = [w for w in t.weeks if w.n]
    if weeks:
        mid = [datetime.combine(w.week_start, datetime.min.time()) + timedelta(days=3.5) for w in weeks]
        means = np.array([w.mean for w in weeks]) * f
        ax.plot(mid, means, color="#1b4f72", lw=1.6, marker="s", ms=4, label="weekly mean", zorder=4)
        out = [i for i, w in enumerate(weeks) if w.flag in ("higher", "lower")]
        if out:
            ax.scatter(
                [mid[i] for i in out],
                means[out],
                s=70,
                facecolors="none",
                edgecolors="#c0392b",
                lw=1.5,
                zorder=5,
                label="week outside the range",
            )
    ax.set_ylabel(f"{spec.label} ({spec.unit})" if spec.unit else spec.label, fontsize=8)
    ax.tick_params(labelsize=7)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.legend(fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=6, frameon=False)
    return figure_svg(fig, salt)


def _html_trend(t: Trend, k: int) -> str:
    spec = t.spec
    parts = [f'<section id="metric-{k}"><h2>{esc(spec.label.capitalize())}</h2>']
    if not t.runs:
        parts.append(f"<p>No stored run has a value for {esc(spec.label)} in this period.</p></section>")
        return "\n".join(parts)
    head = f"Baseline {esc(spec.show(t.baseline))} (median of {t.n_baseline} runs)"
    if t.unavailable is None:
        head += (
            f"; run-to-run noise {esc(spec.show(t.noise_sd, extra_decimals=1))}; usual range "
            f"{esc(spec.show(t.band[0], unit=False, extra_decimals=1))} to {esc(spec.show(t.band[1], extra_decimals=1))}."
        )
    else:
        head += f"; no usual range: {esc(t.unavailable)}."
    parts.append(f"<p>{head}</p>")
    svg = _plot_trend(t, f"trend-{k}")
    if svg:
        parts.append(
            f"<figure>{svg}<figcaption>{esc(spec.label.capitalize())} per run (dots"
            + (", coloured by shoes" if len({r.shoes for r in t.runs}) > 1 else "")
            + "), weekly mean (squares), baseline (dashed) and usual range (shaded).</figcaption></figure>"
        )
    rows = []
    for w in t.weeks:
        diff = w.mean - t.baseline if w.n else float("nan")
        flag = w.flag or ("no run" if not w.n else "")
        cls = f' class="flag-{w.flag}"' if w.flag in ("higher", "lower") else ""
        rows.append(
            f"<tr><td>{esc(w.week_start.isoformat())}</td><td class=num>{w.n}</td>"
            f"<td class=num>{esc(spec.show(w.mean, extra_decimals=1) if w.n else '')}</td>"
            f"<td class=num>{esc(spec.show(diff, signed=True, extra_decimals=1) if w.n else '')}</td><td{cls}>{esc(flag)}</td></tr>"
        )
    parts.append(
        "<table><tr><th>week of</th><th>runs</th><th>mean</th><th>against baseline</th><th></th></tr>"
        + "".join(rows)
        + "</table></section>"
    )
    return "\n".join(parts)


def render_trends_html(
    trends: list[Trend],
    *,
    title: str = "Running form over weeks",
    period: str = "",
    baseline_period: str = "",
    database: str | None = None,
    catalogue: Catalogue | None = None,
) -> str:
    """One self-contained HTML page of trends (inline CSS and SVG; no script, no network)."""
    from ..faults import CATALOGUE

    cat = catalogue or CATALOGUE
    warn = "".join(f"<li>{esc(w.text)} {doc_ids(w.documents)}</li>" for w in cat.warning_signs)
    toc = "".join(f'<li><a href="#metric-{k}">{esc(t.spec.label)}</a></li>' for k, t in enumerate(trends))
    body = "\n".join(_html_trend(t, k) for k, t in enumerate(trends))
    n_runs = max((len(t.runs) for t in trends), default=0)
    facts = f"{n_runs} runs" + (f", {period}" if period else "")
    if baseline_period:
        facts += f"; baseline period: {baseline_period}"
    notes = []
    seen: set[int | None] = set()
    for t in trends:
        for r in t.runs:
            if r.note and r.run_id not in seen:
                seen.add(r.run_id)
                notes.append(f"<li>{esc(r.started_at.strftime('%Y-%m-%d'))} (run {esc(r.run_id)}): {esc(r.note)}</li>")
    notes_html = f"<h2>Your notes</h2><ul>{''.join(notes)}</ul>" if notes else ""
    generated = datetime.now().astimezone().isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title><style>{CSS}{_TREND_CSS}</style></head>
<body><main>
<h1>{esc(title)}</h1>
<p class="disclaimer">{esc(cat.disclaimer)}</p>
<div class="warning"><h2>See a clinician if you have any of these</h2><ul>{warn}</ul></div>
<p>{esc(facts)}.</p>
<nav><ol>{toc}</ol></nav>
<p class="muted">{esc(BAND_EXPLANATION)} Per-run values depend on pace: compare runs at a similar speed.</p>
{body}
{notes_html}
<p class="muted">Generated {esc(generated)} by gait-lumbar {esc(tool_version())} from {esc(database or "your run history")}. This page was built on your machine and loads nothing from the network.</p>
</main></body></html>
"""


def write_trends_html(trends: list[Trend], path: str | Path, **kwargs: Any) -> Path:
    """Write `render_trends_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_trends_html(trends, **kwargs), encoding="utf-8")
    return p
