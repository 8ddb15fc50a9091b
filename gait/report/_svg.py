"""Small inline-SVG charts for the HTML report: no dependency, no script, no external reference.

The report draws a few kinds of chart (a metric over the run with bands, shaded periods and
level lines; a row chart of left-minus-right differences with their uncertainty). Writing the
SVG directly keeps the page small and fast: a 60-minute run is summarised per time bin before
it is drawn, so a chart holds a few hundred points whatever the recording's length, and the
whole page renders in a small fraction of a second (matplotlib's SVG backend took seconds).

Every element a reader (or a test) may look for carries a class (``zone``, ``period``,
``level``, ``median``, ``spread``, ``diff``, ``ci``) and, where useful, ``data-*`` attributes
with the value in display units.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["Panel", "nice_ticks"]

_FONT = 'font-family="system-ui,Helvetica,Arial,sans-serif"'


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _f(x: float) -> str:
    """A coordinate with one decimal (enough at screen resolution; keeps the page small)."""
    return f"{x:.1f}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo] if math.isfinite(lo) else []
    raw = (hi - lo) / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    v = first
    while v <= hi + 1e-9 * step:
        out.append(0.0 if abs(v) < 1e-12 * step else v)
        v += step
    return out


def _tick_text(v: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(v) or 1.0
    dec = max(0, -math.floor(math.log10(step) + 1e-9)) if step > 0 else 0
    if step > 0 and abs(step * 10**dec - round(step * 10**dec)) > 1e-6:
        dec += 1
    return f"{v:.{dec}f}"


class Panel:
    """One chart: x and y ranges in data units, drawn into ``width`` x ``height`` pixels;
    ``uid`` is unique in the page (it names the chart's clip path).

    Elements are added in drawing order (the first drawn lies underneath); `render` returns
    the ``<svg>`` element.
    """

    def __init__(
        self,
        *,
        uid: str,
        x_range: tuple[float, float],
        y_range: tuple[float, float],
        width: int = 860,
        height: int = 170,
        x_label: str = "",
        y_label: str = "",
        title: str = "",
        css_class: str = "chart",
        data: dict[str, str] | None = None,
        left: int = 62,
        right: int = 12,
    ) -> None:
        self.uid = uid
        self.w, self.h = width, height
        self.ml, self.mr, self.mt, self.mb = left, right, (22 if title else 8), (34 if x_label else 22)
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.x_label, self.y_label, self.title = x_label, y_label, title
        self.css_class = css_class
        self.data = data or {}
        self.parts: list[str] = []

    # --- coordinates ------------------------------------------------------------------
    @property
    def pw(self) -> float:
        return self.w - self.ml - self.mr

    @property
    def ph(self) -> float:
        return self.h - self.mt - self.mb

    def px(self, x: np.ndarray | float) -> np.ndarray:
        return self.ml + (np.asarray(x, dtype=float) - self.x0) / (self.x1 - self.x0) * self.pw

    def py(self, y: np.ndarray | float) -> np.ndarray:
        return self.mt + (self.y1 - np.asarray(y, dtype=float)) / (self.y1 - self.y0) * self.ph

    def _clip_y(self, y: float) -> float:
        return float(self.py(min(max(y, self.y0), self.y1)))

    def _clip_x(self, x: float) -> float:
        return float(self.px(min(max(x, self.x0), self.x1)))

    # --- elements ---------------------------------------------------------------------
    def band_y(self, lo: float, hi: float, *, fill: str, opacity: float, cls: str, tip: str = "", **data: str) -> None:
        """A horizontal band between two y values (clipped to the plot), e.g. a reference zone."""
        if hi <= self.y0 or lo >= self.y1:
            return
        top, bottom = self._clip_y(hi), self._clip_y(lo)
        self.parts.append(
            f'<rect class="{cls}" x="{_f(self.ml)}" y="{_f(top)}" width="{_f(self.pw)}" height="{_f(bottom - top)}" '
            f'fill="{fill}" fill-opacity="{opacity:g}"{_data(data)}>{_tip(tip)}</rect>'
        )

    def span_x(self, a: float, b: float, *, fill: str, opacity: float, cls: str, tip: str = "", **data: str) -> None:
        """A vertical band between two x values (clipped), e.g. when a finding occurred, with a solid
        bar along its top."""
        if b < self.x0 or a > self.x1:
            return
        xa, xb = self._clip_x(a), self._clip_x(b)
        w = _f(max(xb - xa, 1.5))
        self.parts.append(
            f'<rect class="{cls}" x="{_f(xa)}" y="{_f(self.mt)}" width="{w}" height="{_f(self.ph)}" '
            f'fill="{fill}" fill-opacity="{opacity:g}"{_data(data)}>{_tip(tip)}</rect>'
            f'<rect class="{cls}-bar" x="{_f(xa)}" y="{_f(self.mt)}" width="{w}" height="5" fill="{fill}"/>'
        )

    def hline(
        self, y: float, *, stroke: str, cls: str, dash: str = "5 3", width: float = 1.2, label: str = "", **data: str
    ) -> None:
        """A horizontal line across the plot at ``y`` (kept in range by the caller), labelled
        at its right end."""
        yy = float(self.py(y))
        self.parts.append(
            f'<line class="{cls}" x1="{_f(self.ml)}" x2="{_f(self.ml + self.pw)}" y1="{_f(yy)}" y2="{_f(yy)}" '
            f'stroke="{stroke}" stroke-width="{width:g}" stroke-dasharray="{dash}"{_data(data)}>{_tip(label)}</line>'
        )
        if label:
            self.parts.append(
                f'<text x="{_f(self.ml + self.pw - 3)}" y="{_f(yy - 3)}" text-anchor="end" font-size="10" '
                f'fill="{stroke}" {_FONT}>{_e(label)}</text>'
            )

    def vline(self, x: float, *, stroke: str, cls: str, dash: str = "3 3", label: str = "") -> None:
        xx = self._clip_x(x)
        self.parts.append(
            f'<line class="{cls}" x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(self.mt)}" y2="{_f(self.mt + self.ph)}" '
            f'stroke="{stroke}" stroke-width="1" stroke-dasharray="{dash}">{_tip(label)}</line>'
        )

    def line(self, x: np.ndarray, y: np.ndarray, *, stroke: str, cls: str, width: float = 1.6) -> None:
        """A polyline through the finite points (broken at NaN)."""
        for xs, ys in _runs(np.asarray(x, float), np.asarray(y, float)):
            pts = " ".join(f"{_f(a)},{_f(b)}" for a, b in zip(self.px(xs), self.py(np.clip(ys, self.y0, self.y1))))
            if xs.size == 1:
                cx, cy = float(self.px(xs[0])), float(self.py(np.clip(ys[0], self.y0, self.y1)))
                self.parts.append(f'<circle class="{cls}" cx="{_f(cx)}" cy="{_f(cy)}" r="2" fill="{stroke}"/>')
                continue
            self.parts.append(
                f'<polyline class="{cls}" points="{pts}" fill="none" stroke="{stroke}" stroke-width="{width:g}" '
                'stroke-linejoin="round"/>'
            )

    def area(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray, *, fill: str, opacity: float, cls: str) -> None:
        """The band between ``lo`` and ``hi`` (broken where either is NaN)."""
        x, lo, hi = (np.asarray(v, float) for v in (x, lo, hi))
        ok = np.isfinite(lo) & np.isfinite(hi)
        for xs, (los, his) in _runs_multi(x, ok, lo, hi):
            if xs.size < 2:
                continue
            top = [f"{_f(a)},{_f(b)}" for a, b in zip(self.px(xs), self.py(np.clip(his, self.y0, self.y1)))]
            bot = [f"{_f(a)},{_f(b)}" for a, b in zip(self.px(xs[::-1]), self.py(np.clip(los[::-1], self.y0, self.y1)))]
            self.parts.append(
                f'<polygon class="{cls}" points="{" ".join(top + bot)}" fill="{fill}" fill-opacity="{opacity:g}"/>'
            )

    def markers(self, x: np.ndarray, y: np.ndarray, *, fill: str, cls: str, r: float = 2.5) -> None:
        for a, b in zip(self.px(x), self.py(np.clip(np.asarray(y, float), self.y0, self.y1))):
            if np.isfinite(a) and np.isfinite(b):
                self.parts.append(f'<circle class="{cls}" cx="{_f(a)}" cy="{_f(b)}" r="{r:g}" fill="{fill}"/>')

    def raw(self, svg: str) -> None:
        self.parts.append(svg)

    # --- output -----------------------------------------------------------------------
    def _axes(self) -> str:
        out = [
            f'<rect x="{_f(self.ml)}" y="{_f(self.mt)}" width="{_f(self.pw)}" height="{_f(self.ph)}" fill="none" '
            'stroke="#aab7b8" stroke-width="0.8"/>'
        ]
        yt = nice_ticks(self.y0, self.y1, 4)
        for v in yt:
            yy = float(self.py(v))
            out.append(
                f'<line x1="{_f(self.ml - 4)}" x2="{_f(self.ml)}" y1="{_f(yy)}" y2="{_f(yy)}" stroke="#7f8c8d"/>'
                f'<text x="{_f(self.ml - 6)}" y="{_f(yy + 3.5)}" text-anchor="end" font-size="10" fill="#424949" '
                f"{_FONT}>{_e(_tick_text(v, yt))}</text>"
            )
        xt = nice_ticks(self.x0, self.x1, 8)
        base = self.mt + self.ph
        for v in xt:
            xx = float(self.px(v))
            out.append(
                f'<line x1="{_f(xx)}" x2="{_f(xx)}" y1="{_f(base)}" y2="{_f(base + 4)}" stroke="#7f8c8d"/>'
                f'<text x="{_f(xx)}" y="{_f(base + 15)}" text-anchor="middle" font-size="10" fill="#424949" '
                f"{_FONT}>{_e(_tick_text(v, xt))}</text>"
            )
        if self.x_label:
            out.append(
                f'<text x="{_f(self.ml + self.pw / 2)}" y="{_f(self.h - 4)}" text-anchor="middle" font-size="10.5" '
                f'fill="#424949" {_FONT}>{_e(self.x_label)}</text>'
            )
        if self.y_label:
            cy = self.mt + self.ph / 2
            out.append(
                f'<text x="12" y="{_f(cy)}" transform="rotate(-90 12 {_f(cy)})" text-anchor="middle" font-size="10.5" '
                f'fill="#424949" {_FONT}>{_e(self.y_label)}</text>'
            )
        if self.title:
            out.append(
                f'<text x="{_f(self.ml)}" y="15" font-size="12" font-weight="600" fill="#1b2631" {_FONT}>'
                f"{_e(self.title)}</text>"
            )
        return "".join(out)

    def render(self) -> str:
        clip = f"clip-{self.uid}"
        return (
            f'<svg class="{self.css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.w} {self.h}" '
            f'width="{self.w}" height="{self.h}" role="img"{_data(self.data)}>'
            f"{'<title>' + _e(self.title or self.y_label) + '</title>' if (self.title or self.y_label) else ''}"
            f'<defs><clipPath id="{clip}"><rect x="{_f(self.ml)}" y="{_f(self.mt)}" width="{_f(self.pw)}" '
            f'height="{_f(self.ph)}"/></clipPath></defs>'
            f'<g clip-path="url(#{clip})">{"".join(self.parts)}</g>{self._axes()}</svg>'
        )


def _data(d: dict[str, str]) -> str:
    return "".join(f' data-{k.replace("_", "-")}="{_e(v)}"' for k, v in d.items())


def _tip(text: str) -> str:
    return f"<title>{_e(text)}</title>" if text else ""


def _runs(x: np.ndarray, y: np.ndarray):
    """Contiguous stretches where both are finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    for xs, (ys,) in _runs_multi(x, ok, y):
        yield xs, ys


def _runs_multi(x: np.ndarray, ok: np.ndarray, *arrays: np.ndarray):
    if not ok.any():
        return
    d = np.diff(np.concatenate([[0], ok.astype(np.int8), [0]]))
    for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
        yield x[a:b], tuple(arr[a:b] for arr in arrays)
