"""Small server-rendered SVG charts: no JavaScript, no CDN, readable by screen readers.

Each chart has a <title> and <desc>, labelled axes, and a <title> on every mark with its
value; the page shows the numbers behind each chart in a table beside it.
"""

from dataclasses import dataclass, field
from itertools import count

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

_ids = count(1)
WIDTH = 640
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 42


@dataclass
class Series:
    name: str
    values: list  # numbers or None (no data)
    links: list = field(default_factory=list)  # optional URL per value


def _fmt(value, percent=False) -> str:
    if value is None:
        return "no data"
    if percent:
        return f"{value * 100:.0f}%"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def _nice_max(value: float) -> float:
    """The smallest round top of an axis with four equal, round steps that holds `value`."""
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value / 4) or 1)) - 1)
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if value <= 4 * step * magnitude:
            return 4 * step * magnitude
    return 40 * magnitude


def _frame(title, description, body, *, width, height, x_label, x_at, y_label=None, font=11):
    """The <svg> around a chart: its accessible title and description, and its axis labels."""
    uid = next(_ids)
    y_axis = ""
    if y_label:
        y_mid = (PAD_TOP + height - PAD_BOTTOM) / 2
        y_axis = format_html(
            '<text x="12" y="{y}" text-anchor="middle" font-size="{f}" fill="#5f6b7a" transform="rotate(-90 12 {y})">{label}</text>',
            y=y_mid,
            f=font,
            label=y_label,
        )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" role="img" aria-labelledby="chart-t{uid} chart-d{uid}" xmlns="http://www.w3.org/2000/svg">'
        '<title id="chart-t{uid}">{title}</title><desc id="chart-d{uid}">{desc}</desc>{body}'
        '<text x="{x}" y="{x_y}" text-anchor="middle" font-size="{f}" fill="#5f6b7a">{x_label}</text>{y_axis}</svg>',
        w=width,
        h=height,
        uid=uid,
        title=title,
        desc=description,
        body=body,
        x=x_at,
        x_y=height - 4,
        f=font,
        x_label=x_label,
        y_axis=y_axis,
    )


def _y_axis(height, y_max, percent=False) -> str:
    plot_h = height - PAD_TOP - PAD_BOTTOM
    parts = []
    for i in range(5):
        value = y_max * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e9ee"/>'
            f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="#5f6b7a">{escape(_fmt(value, percent))}</text>'
        )
    return "".join(parts)


def _x_labels(labels, height, slot) -> str:
    step = max(1, round(len(labels) / 12))  # at most about a dozen labels
    parts = []
    for i, label in enumerate(labels):
        if i % step:
            continue
        x = PAD_LEFT + slot * (i + 0.5)
        parts.append(
            f'<text x="{x:.1f}" y="{height - PAD_BOTTOM + 14}" text-anchor="middle" font-size="10" fill="#5f6b7a">{escape(label)}</text>'
        )
    return "".join(parts)


def bar_chart(labels, series: list[Series], *, title, x_label, y_label, height=230, percent=False):
    """Grouped vertical bars: one group per label, one bar per series."""
    y_max = (
        1
        if percent
        else _nice_max(max((v or 0) for s in series for v in s.values) if labels else 0)
    )
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.8 / max(1, len(series)))
    marks = []
    for s_index, s in enumerate(series):
        for i, value in enumerate(s.values):
            if not value:
                continue
            h = plot_h * value / y_max
            x = PAD_LEFT + slot * i + slot * 0.1 + bar_w * s_index
            rect = (
                f'<rect class="c{s_index}" x="{x:.1f}" y="{PAD_TOP + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}">'
                f"<title>{escape(s.name)}, {escape(labels[i])}: {escape(_fmt(value, percent))}</title></rect>"
            )
            link = s.links[i] if i < len(s.links) else None
            marks.append(f'<a href="{escape(link)}">{rect}</a>' if link else rect)
    description = "; ".join(
        f"{s.name}: "
        + ", ".join(
            f"{label} {_fmt(v, percent)}" for label, v in zip(labels, s.values, strict=False) if v
        )
        for s in series
    )
    body = mark_safe(
        _y_axis(height, y_max, percent) + "".join(marks) + _x_labels(labels, height, slot)
    )
    return _frame(
        title,
        description or "No data in this window.",
        body,
        width=WIDTH,
        height=height,
        x_label=x_label,
        x_at=(PAD_LEFT + WIDTH - PAD_RIGHT) / 2,
        y_label=y_label,
    )


def hbar_chart(rows, *, title, x_label, percent=False, height_per_row=24, width=420):
    """Horizontal bars: rows of (label, value, link or None, css class)."""
    left = 110
    height = PAD_TOP + PAD_BOTTOM + height_per_row * max(1, len(rows))
    x_max = 1 if percent else _nice_max(max((v or 0) for _, v, _, _ in rows) if rows else 0)
    plot_w = width - left - PAD_RIGHT - 40
    parts = []
    for i, (label, value, link, css) in enumerate(rows):
        y = PAD_TOP + i * height_per_row
        w = plot_w * (value or 0) / x_max
        bar = (
            f'<rect class="{css}" x="{left}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{height_per_row - 6}">'
            f"<title>{escape(label)}: {escape(_fmt(value, percent))}</title></rect>"
        )
        parts.append(
            f'<text x="{left - 6}" y="{y + height_per_row / 2 + 4:.1f}" text-anchor="end" font-size="11" fill="#1d232b">{escape(label)}</text>'
            + (f'<a href="{escape(link)}">{bar}</a>' if link else bar)
            + f'<text x="{left + w + 4:.1f}" y="{y + height_per_row / 2 + 4:.1f}" font-size="11" fill="#3c4754">{escape(_fmt(value, percent))}</text>'
        )
    description = ", ".join(f"{label}: {_fmt(value, percent)}" for label, value, _, _ in rows)
    return _frame(
        title,
        description or "No data.",
        mark_safe("".join(parts)),
        width=width,
        height=height,
        x_label=x_label,
        x_at=left + plot_w / 2,
    )


def calibration_chart(model: str, buckets: list[dict]):
    """One model's approval rate per confidence bucket, against the diagonal of perfect
    calibration. Each bucket dict has low, high, n, rate (None without reviews) and url."""
    width, height = 300, 170
    left, right, top, bottom = 34, 6, 8, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    slot = plot_w / len(buckets)
    parts = [
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h * (1 - f):.1f}" y2="{top + plot_h * (1 - f):.1f}" stroke="#e6e9ee"/>'
        f'<text x="{left - 4}" y="{top + plot_h * (1 - f) + 3:.1f}" text-anchor="end" font-size="9" fill="#5f6b7a">{f:.0%}</text>'
        for f in (0, 0.5, 1)
    ]
    for i, b in enumerate(buckets):
        x = left + slot * i
        if b["rate"] is not None:
            h = plot_h * b["rate"]
            bar = (
                f'<rect class="c0" x="{x + 2:.1f}" y="{top + plot_h - h:.1f}" width="{slot - 4:.1f}" height="{max(h, 1):.1f}">'
                f"<title>{escape(model)}, confidence {b['low']:.1f}–{b['high']:.1f}: {b['rate']:.0%} approved of {b['n']} reviewed</title></rect>"
            )
            parts.append(f'<a href="{escape(b["url"])}">{bar}</a>' if b.get("url") else bar)
        else:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{top + plot_h - 3}" text-anchor="middle" font-size="9" fill="#a9b2bd">·<title>no reviews at confidence {b["low"]:.1f}–{b["high"]:.1f}</title></text>'
            )
        if i % 2 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{height - bottom + 11}" text-anchor="middle" font-size="9" fill="#5f6b7a">{b["low"]:.1f}</text>'
            )
    parts.append(
        f'<text x="{left + plot_w}" y="{height - bottom + 11}" text-anchor="middle" font-size="9" fill="#5f6b7a">1.0</text>'
    )
    parts.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top}" stroke="#b3261e" stroke-dasharray="3 3">'
        "<title>Perfect calibration: approval rate equals confidence</title></line>"
    )
    described = ", ".join(
        f"{b['low']:.1f}–{b['high']:.1f}: {b['rate']:.0%} of {b['n']}"
        for b in buckets
        if b["rate"] is not None
    )
    return _frame(
        f"Calibration of {model}: approval rate by confidence",
        described or "No reviews yet.",
        mark_safe("".join(parts)),
        width=width,
        height=height,
        x_label="confidence",
        x_at=left + plot_w / 2,
        font=10,
    )
