"""The terminal dashboard of `gait record` (rich), and its plain-text fallback."""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..registry import METRICS
from ._metrics import LIVE_COLUMNS, format_metric
from ._record_types import LinkStats, LiveView

__all__ = ["link_text", "plain_line", "render", "stale_text", "status_style"]

_ROWS = tuple((METRICS[c].short_label or METRICS[c].label, c) for c in LIVE_COLUMNS)


def _clock(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


def link_text(link: LinkStats, rate_hz: float) -> str:
    """One line of link quality."""
    parts = [f"{link.samples_written:,} samples"]
    lost_s = link.samples_lost / rate_hz if rate_hz and math.isfinite(rate_hz) else math.nan
    parts.append(
        f"lost {link.packets_lost} packets"
        + (f" ({lost_s:.2f} s)" if link.samples_lost and math.isfinite(lost_s) else "")
    )
    if link.packets_bad:
        parts.append(f"{link.packets_bad} bad")
    if link.samples_invalid:
        parts.append(f"{link.samples_invalid} invalid samples dropped")
    if link.duplicated or link.reordered:
        parts.append(f"{link.duplicated} dup / {link.reordered} reordered")
    parts.append(f"{link.gaps} gap" + ("s" if link.gaps != 1 else ""))
    parts.append(f"{link.reconnects} reconnect" + ("s" if link.reconnects != 1 else ""))
    if link.rssi_dbm is not None:
        parts.append(f"RSSI {link.rssi_dbm} dBm")
    if math.isfinite(link.drift_ppm):
        parts.append(f"clock {link.drift_ppm:+.0f} ppm")
    return ", ".join(parts)


def status_style(view: LiveView) -> str:
    """Colour of the status line: green while data flow, yellow while waiting or stale (the
    numbers above are old), bold green once ended normally, bold red once ended by a failure."""
    if view.ended:
        return "bold red" if view.failed else "bold green"
    if view.status == "recording" and not view.stale:
        return "green"
    return "yellow"


def stale_text(view: LiveView) -> str:
    """``"no data for 12 s: the numbers are from before"`` when the view is stale, else ``""``."""
    if not view.stale or not math.isfinite(view.data_age_s):
        return ""
    return f"no data for {view.data_age_s:.0f} s: the numbers are from before"


def render(view: LiveView) -> RenderableType:
    """The dashboard for one `LiveView`. Numbers and cues older than the stale limit (3 s
    without data) are greyed out and marked, never shown as if current."""
    m = view.metrics
    stale = view.stale
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="dim" if stale else "bold")
    table.add_column(justify="left", style="dim strike" if stale else "")
    for label, col in _ROWS:
        table.add_row(label, format_metric(col, getattr(m, col)))
    window = f"last {m.window_s:.0f} s, {m.n_steps} running steps" if m.window_s else "no data yet"
    if m.note:
        window += f" ({m.note})"
    parts: list[RenderableType] = [table, Text(window, style="dim")]
    if stale:
        parts.append(Text(stale_text(view), style="bold yellow"))
    if view.reference:
        parts.append(Text(view.reference, style="dim"))
    for cue in m.cues:
        parts.append(Text(f"=> {cue}", style="dim" if stale else "bold yellow"))
    parts.append(Text(link_text(view.link, view.sampling_rate_hz), style="cyan"))
    status = view.status + (f": {view.message}" if view.message else "")
    parts.append(Text(status, style=status_style(view)))
    title = f"gait record  {view.device or '?'} ({view.address or '-'})  {_clock(view.recorded_s)}"
    return Panel(Group(*parts), title=title, subtitle=str(view.out), expand=False)


def plain_line(view: LiveView) -> str:
    """The same information as one line (for logs and terminals without a dashboard)."""
    m = view.metrics
    metrics = ", ".join(f"{label} {format_metric(col, getattr(m, col))}" for label, col in _ROWS)
    cues = ("; " + "; ".join(m.cues)) if m.cues and not view.stale else ""
    note = f" ({m.note})" if m.note else ""
    stale = f" [stale: {stale_text(view)}]" if view.stale else ""
    return f"[{_clock(view.recorded_s)}] {view.status}: {metrics}{note}{stale}{cues} | {link_text(view.link, view.sampling_rate_hz)}"
