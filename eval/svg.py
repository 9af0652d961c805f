"""Small inline-SVG charts (histogram, bars, reliability diagram) for self-contained HTML reports:
no plotting library, no script, no external resource; every text is escaped.

Axes read in round numbers: `nice_ticks` picks steps of 1, 2, 2.5 or 5 × 10^k (whole numbers
only for counts), so a score axis reads 0, 0.25, 0.5, 0.75, 1 and a count axis 0, 10, 20, 30.
Tick labels sit in `<g class="x-ticks">` / `<g class="y-ticks">`, axis titles carry
class="axis-label": the report's browser test reads them from the DOM."""

from __future__ import annotations

import math
from decimal import Decimal
from html import escape
from typing import Sequence

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 28, 44
BAR = "#4c78a8"
ACCENT = "#e45756"
GRID = "#dddddd"
AXIS = "#555555"
TARGET_TICKS = 5  # ticks wanted on an axis; nice_ticks gives about 4 to 6
_MANTISSAS = (1.0, 2.0, 2.5, 5.0)


def _fmt(x: float) -> str:
    """A data value (a bar's label, a tooltip) in about three significant digits."""
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 1:
        return f"{x:.3g}"
    return f"{x:.2g}"


def _steps(lo: float, hi: float, integer: bool) -> list[float]:
    """Candidate steps around the span's magnitude: 1, 2, 2.5, 5 × 10^k (integers >= 1 for counts)."""
    span = hi - lo
    k0 = math.floor(math.log10(span / TARGET_TICKS))
    steps = []
    for k in range(k0 - 1, k0 + 3):
        for m in _MANTISSAS:
            step = float(Decimal(str(m)).scaleb(k))  # exact decimal steps: 0.25, not 0.25000000000000006
            if integer and (step < 1 or step != int(step)):
                continue
            steps.append(step)
    return steps or [1.0]


def nice_ticks(lo: float, hi: float, *, integer: bool = False) -> list[float]:
    """Round tick values covering [lo, hi]: the first tick <= lo, the last >= hi, about five ticks
    spaced by 1, 2, 2.5 or 5 × 10^k. With `integer` (counts) every tick is a whole number.

    >>> nice_ticks(0, 1)
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> nice_ticks(0, 28, integer=True)
    [0.0, 10.0, 20.0, 30.0]
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks need finite bounds, got {lo!r}, {hi!r}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:  # one value: an axis from 0 to it (0 to 1 when it is 0)
        lo, hi = (0.0, 1.0) if lo == 0 else (min(lo, 0.0), max(hi, 0.0))
    best: tuple[float, list[float]] | None = None
    for step in _steps(lo, hi, integer):
        first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
        count = last - first + 1
        if count < 2 or count > 12:
            continue
        covered = (last - first) * step
        # few ticks near TARGET_TICKS, and an axis not much longer than the data
        cost = abs(count - TARGET_TICKS) + 2.0 * (covered / (hi - lo) - 1.0)
        if best is None or cost < best[0] - 1e-9:
            ticks = [_clean(i * step) for i in range(first, last + 1)]
            best = (cost, ticks)
    assert best is not None
    return best[1]


def _clean(value: float) -> float:
    """i × step without the float noise (0.30000000000000004 -> 0.3); -0.0 -> 0.0."""
    value = float(f"{value:.12g}")
    return 0.0 if value == 0 else value


def tick_label(value: float, ticks: Sequence[float] = ()) -> str:
    """A tick value as its axis shows it: as few decimals as the axis' step needs, no trailing
    zeros ("0", "0.25", "1", "30", "0.0025")."""
    places = 0
    for t in list(ticks) + [value]:
        text = f"{Decimal(repr(float(t))).normalize():f}"
        if "." in text:
            places = max(places, len(text.split(".")[1]))
    text = f"{value:.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    mid_y = TOP + (HEIGHT - TOP - BOTTOM) / 2
    parts = [f'<svg class="chart" width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text class="chart-title" x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" '
             f'font-weight="bold">{escape(title)}</text>',
             *body]
    if x_label:
        parts.append(f'<text class="axis-label x-label" x="{LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="{HEIGHT - 6}" '
                     f'text-anchor="middle">{escape(x_label)}</text>')
    if y_label:
        parts.append(f'<text class="axis-label y-label" x="12" y="{mid_y}" text-anchor="middle" '
                     f'transform="rotate(-90 12 {mid_y})">{escape(y_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _empty(title: str) -> str:
    return _frame(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#888">no data</text>'],
                  "", "")


class _Axis:
    """A linear axis from ticks[0] to ticks[-1] onto pixels [start, end]."""

    def __init__(self, ticks: Sequence[float], start: float, end: float) -> None:
        self.ticks, self.start, self.end = list(ticks), start, end
        self.lo, self.hi = self.ticks[0], self.ticks[-1]

    def __call__(self, value: float) -> float:
        return self.start + (value - self.lo) / (self.hi - self.lo) * (self.end - self.start)

    def labels(self) -> list[str]:
        return [tick_label(t, self.ticks) for t in self.ticks]


def _y_axis(ticks: Sequence[float]) -> tuple[list[str], _Axis]:
    """Grid lines and tick labels of a vertical axis over the ticks' range."""
    axis = _Axis(ticks, HEIGHT - BOTTOM, TOP)
    out = ['<g class="y-ticks" text-anchor="end">']
    grid = []
    for value, label in zip(axis.ticks, axis.labels()):
        y = axis(value)
        grid.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 5}" y="{y + 4:.1f}">{label}</text>')
    out.append("</g>")
    grid.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS}"/>')
    return grid + out, axis


def _x_axis(ticks: Sequence[float]) -> tuple[list[str], _Axis]:
    """Tick marks and labels of a horizontal axis over the ticks' range (the last label ends at
    its tick so it stays inside the chart)."""
    axis = _Axis(ticks, LEFT, WIDTH - RIGHT)
    out = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="{AXIS}"/>',
           '<g class="x-ticks" text-anchor="middle">']
    for i, (value, label) in enumerate(zip(axis.ticks, axis.labels())):
        x = axis(value)
        out.append(f'<line x1="{x:.1f}" y1="{HEIGHT - BOTTOM}" x2="{x:.1f}" y2="{HEIGHT - BOTTOM + 4}" '
                   f'stroke="{AXIS}"/>')
        anchor = ' text-anchor="end"' if i == len(axis.ticks) - 1 and len(label) > 2 else ""
        out.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 15}"{anchor}>{label}</text>')
    out.append("</g>")
    return out, axis


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def histogram(values: Sequence[float | None], *, title: str, x_label: str, y_label: str = "answers",
              lo: float | None = None, hi: float | None = None, bins: int | None = None,
              integer: bool = False) -> str:
    """Counts of `values` in equal-width bins. The x axis runs over round ticks covering [lo, hi]
    (default: the data's range; pass lo=0 for a quantity that starts at 0, such as a latency or a
    score); `integer` for whole-number values (token counts). The bins split the axis' tick
    intervals in two unless `bins` is given; the y axis counts in whole numbers."""
    data = _finite(values)
    if not data:
        return _empty(title)
    lo = min(data) if lo is None else float(lo)
    hi = max(data) if hi is None else float(hi)
    x_ticks = nice_ticks(min(lo, min(data)), max(hi, max(data)), integer=integer)
    start, end = x_ticks[0], x_ticks[-1]
    intervals = len(x_ticks) - 1
    if not bins:  # whole numbers one unit apart get a bin each, not half-unit bins
        bins = intervals if integer and x_ticks[1] - x_ticks[0] == 1 else 2 * intervals
    width_value = (end - start) / bins
    counts = [0] * bins
    for v in data:
        counts[min(max(int((v - start) / width_value), 0), bins - 1)] += 1
    grid, y = _y_axis(nice_ticks(0, max(counts), integer=True))
    body, x = _x_axis(x_ticks)
    bars_out = []
    for i, c in enumerate(counts):
        left, right = x(start + i * width_value), x(start + (i + 1) * width_value)
        top = y(c)
        bars_out.append(f'<rect x="{left + 1:.1f}" y="{top:.1f}" width="{max(right - left - 2, 1):.1f}" '
                        f'height="{y(0) - top:.1f}" fill="{BAR}"><title>{_fmt(start + i * width_value)}–'
                        f'{_fmt(start + (i + 1) * width_value)}: {c}</title></rect>')
    return _frame(title, grid + bars_out + body, x_label, y_label)


def bars(labels: Sequence[str], values: Sequence[float | None], *, title: str, y_label: str,
         reference: float | None = None, hi: float | None = None) -> str:
    """One bar per label; missing values are left out; `reference` draws a dashed line. The y axis
    starts at 0 and ends at a round tick above the largest value (at least `hi`: pass hi=1 for
    scores so their axis reads 0, 0.25, 0.5, 0.75, 1)."""
    pairs = [(str(label), float(v)) for label, v in zip(labels, values) if v is not None and math.isfinite(float(v))]
    if not pairs:
        return _empty(title)
    top = max([v for _, v in pairs] + ([reference] if reference is not None else []))
    top = hi if hi is not None and top <= hi else top * 1.08  # room above the tallest bar for its value
    grid, y = _y_axis(nice_ticks(0.0, top if top > 0 else 1.0))
    body = grid + [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" '
                   f'stroke="{AXIS}"/>']
    plot_w = WIDTH - LEFT - RIGHT
    width = plot_w / len(pairs)
    names = ['<g class="categories" text-anchor="middle">']
    for i, (label, v) in enumerate(pairs):
        x = LEFT + i * width
        bar_top = y(max(v, 0.0))
        body.append(f'<rect x="{x + width * 0.15:.1f}" y="{bar_top:.1f}" width="{width * 0.7:.1f}" '
                    f'height="{y(0) - bar_top:.1f}" fill="{BAR}"><title>{escape(label)}: {_fmt(v)}</title></rect>')
        body.append(f'<text class="value" x="{x + width / 2:.1f}" y="{bar_top - 3:.1f}" text-anchor="middle">'
                    f'{_fmt(v)}</text>')
        short = label if len(label) <= 18 else label[:17] + "…"
        names.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 15}">{escape(short)}</text>')
    names.append("</g>")
    if reference is not None:
        ref_y = y(reference)
        body.append(f'<line x1="{LEFT}" y1="{ref_y:.1f}" x2="{WIDTH - RIGHT}" y2="{ref_y:.1f}" stroke="{ACCENT}" '
                    'stroke-dasharray="4 3"/>')
    return _frame(title, body + names, "", y_label)


def reliability(bins: Sequence[dict[str, float]], *, title: str, x_label: str = "verifier confidence",
                y_label: str = "share correct") -> str:
    """Observed frequency against mean predicted probability per bin (`reliability_bins`), with
    the diagonal of perfect calibration; point area grows with the bin's count. Both axes 0..1."""
    used = [b for b in bins if b["count"]]
    if not used:
        return _empty(title)
    unit = nice_ticks(0.0, 1.0)
    grid, y = _y_axis(unit)
    body, x = _x_axis(unit)
    body = grid + body
    body.append(f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="4 3"/>')
    total = sum(b["count"] for b in used)
    points = [(x(b["mean_prob"]), y(b["frequency"])) for b in used]
    body.append('<polyline fill="none" stroke="' + ACCENT + '" points="'
                + " ".join(f"{px:.1f},{py:.1f}" for px, py in points) + '"/>')
    for b, (px, py) in zip(used, points):
        r = 3 + 7 * math.sqrt(b["count"] / total)
        body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="{r:.1f}" fill="{ACCENT}" fill-opacity="0.7">'
                    f'<title>confidence {b["lo"]:.1f}–{b["hi"]:.1f}: {b["count"]} answers, mean '
                    f'{b["mean_prob"]:.2f}, correct {b["frequency"]:.2f}</title></circle>')
    return _frame(title, body, x_label, y_label)
