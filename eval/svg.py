"""Small inline-SVG charts (histogram, bars, reliability diagram) for self-contained HTML reports:
no plotting library, no script, no external resource; every text is escaped."""

from __future__ import annotations

import math
from html import escape
from typing import Sequence

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 28, 44
BAR = "#4c78a8"
ACCENT = "#e45756"
GRID = "#dddddd"


def _fmt(x: float) -> str:
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 1:
        return f"{x:.2g}" if abs(x) < 10 else f"{x:.1f}"
    return f"{x:.2g}"


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    parts = [f'<svg width="{WIDTH}" height="{HEIGHT}" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
             'font-family="sans-serif" font-size="11">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{WIDTH / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">{escape(title)}</text>',
             *body,
             f'<text x="{LEFT + (WIDTH - LEFT - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle">{escape(x_label)}</text>',
             f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2}" text-anchor="middle" '
             f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2})">{escape(y_label)}</text>',
             "</svg>"]
    return "\n".join(parts)


def _empty(title: str) -> str:
    return _frame(title, [f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" fill="#888">no data</text>'],
                  "", "")


def _y_axis(top_value: float, counts: bool = False) -> tuple[list[str], float]:
    """Grid lines and labels for 0..top_value (rounded up to a multiple of 4 for counts, so
    every label is a whole number); returns them and the pixels per unit."""
    if counts:
        top_value = max(4, math.ceil(top_value / 4) * 4)
    plot_h = HEIGHT - TOP - BOTTOM
    scale = plot_h / top_value if top_value > 0 else 0.0
    out = []
    for i in range(5):
        value = top_value * i / 4
        y = HEIGHT - BOTTOM - value * scale
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>')
    return out, scale


def histogram(values: Sequence[float], *, title: str, x_label: str, bins: int = 10,
              lo: float | None = None, hi: float | None = None) -> str:
    """Counts of `values` in `bins` equal-width bins over [lo, hi] (default: the data's range)."""
    data = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not data:
        return _empty(title)
    lo = lo if lo is not None else min(data)
    hi = hi if hi is not None else max(data)
    if hi <= lo:
        hi = lo + 1.0
    counts = [0] * bins
    for v in data:
        counts[min(max(int((v - lo) / (hi - lo) * bins), 0), bins - 1)] += 1
    body, scale = _y_axis(max(counts), counts=True)
    plot_w = WIDTH - LEFT - RIGHT
    width = plot_w / bins
    for i, c in enumerate(counts):
        x = LEFT + i * width
        h = c * scale
        body.append(f'<rect x="{x + 1:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{width - 2:.1f}" height="{h:.1f}" '
                    f'fill="{BAR}"><title>{_fmt(lo + i * (hi - lo) / bins)}–{_fmt(lo + (i + 1) * (hi - lo) / bins)}: '
                    f'{c}</title></rect>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        x = LEFT + i * width
        anchor = "end" if i == bins else "middle"  # the last label would run off the right edge
        body.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="{anchor}">'
                    f'{_fmt(lo + i * (hi - lo) / bins)}</text>')
    return _frame(title, body, x_label, "examples")


def bars(labels: Sequence[str], values: Sequence[float | None], *, title: str, y_label: str,
         reference: float | None = None) -> str:
    """One bar per label; missing values are left out; `reference` draws a dashed line."""
    pairs = [(str(label), float(v)) for label, v in zip(labels, values) if v is not None and math.isfinite(float(v))]
    if not pairs:
        return _empty(title)
    top = max([v for _, v in pairs] + ([reference] if reference is not None else [])) * 1.1 or 1.0
    body, scale = _y_axis(top)
    plot_w = WIDTH - LEFT - RIGHT
    width = plot_w / len(pairs)
    for i, (label, v) in enumerate(pairs):
        x = LEFT + i * width
        h = max(v, 0.0) * scale
        body.append(f'<rect x="{x + width * 0.15:.1f}" y="{HEIGHT - BOTTOM - h:.1f}" width="{width * 0.7:.1f}" '
                    f'height="{h:.1f}" fill="{BAR}"><title>{escape(label)}: {_fmt(v)}</title></rect>')
        body.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM - h - 3:.1f}" text-anchor="middle">'
                    f'{_fmt(v)}</text>')
        short = label if len(label) <= 18 else label[:17] + "…"
        body.append(f'<text x="{x + width / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="middle">'
                    f'{escape(short)}</text>')
    if reference is not None:
        y = HEIGHT - BOTTOM - reference * scale
        body.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{ACCENT}" '
                    'stroke-dasharray="4 3"/>')
    return _frame(title, body, "", y_label)


def reliability(bins: Sequence[dict[str, float]], *, title: str) -> str:
    """Observed frequency against mean predicted probability per bin (`reliability_bins`), with
    the diagonal of perfect calibration; point area grows with the bin's count."""
    used = [b for b in bins if b["count"]]
    if not used:
        return _empty(title)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(p: float, f: float) -> tuple[float, float]:
        return LEFT + p * plot_w, HEIGHT - BOTTOM - f * plot_h

    body, _scale = _y_axis(1.0)
    x0, y0 = xy(0, 0)
    x1, y1 = xy(1, 1)
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y1}" stroke="#999" stroke-dasharray="4 3"/>')
    total = sum(b["count"] for b in used)
    points = [xy(b["mean_prob"], b["frequency"]) for b in used]
    body.append('<polyline fill="none" stroke="' + ACCENT + '" points="'
                + " ".join(f"{x:.1f},{y:.1f}" for x, y in points) + '"/>')
    for b, (x, y) in zip(used, points):
        r = 3 + 7 * math.sqrt(b["count"] / total)
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{ACCENT}" fill-opacity="0.7">'
                    f'<title>confidence {b["lo"]:.1f}–{b["hi"]:.1f}: {b["count"]} answers, mean '
                    f'{b["mean_prob"]:.2f}, correct {b["frequency"]:.2f}</title></circle>')
    for i in range(6):
        x, _ = xy(i / 5, 0)
        anchor = "end" if i == 5 else "middle"
        body.append(f'<text x="{x:.1f}" y="{HEIGHT - BOTTOM + 14}" text-anchor="{anchor}">{i / 5:.1f}</text>')
    return _frame(title, body, "verifier confidence", "share correct")
