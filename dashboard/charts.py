"""Small server-rendered SVG charts: no JavaScript, no CDN, readable by screen readers.

Python computes the geometry; `dashboard/chart.svg.html` draws it, auto-escaped. Each chart has a
<title> and <desc>, labelled axes, and a <title> on every mark with its value; the page shows
the numbers behind each chart in a table beside it.
"""

from dataclasses import dataclass, field
from itertools import count

_ids = count(1)
WIDTH = 640
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 12, 42
AXIS_GREY, GRID_GREY, INK = "#5f6b7a", "#e6e9ee", "#1d232b"


@dataclass
class Series:
    name: str
    values: list  # numbers or None (no data)
    links: list = field(default_factory=list)  # optional URL per value


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str
    link: str | None = None


@dataclass
class Text:
    x: float
    y: float
    text: str
    anchor: str = "middle"
    size: int = 10
    fill: str = AXIS_GREY
    title: str = ""
    rotate: bool = False  # a y-axis label, read bottom to top


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str = GRID_GREY
    dashed: bool = False
    title: str = ""


@dataclass
class Chart:
    title: str
    description: str
    width: int
    height: int
    bars: list[Bar] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    uid: int = field(default_factory=lambda: next(_ids))
    css: str = ""  # a class on the <svg>


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


def _axis_labels(chart, *, x_label, x_at, y_label=None, font=11):
    chart.texts.append(Text(x_at, chart.height - 4, x_label, size=font))
    if y_label:
        chart.texts.append(
            Text(12, (PAD_TOP + chart.height - PAD_BOTTOM) / 2, y_label, size=font, rotate=True)
        )


def _y_grid(chart, y_max, percent=False):
    plot_h = chart.height - PAD_TOP - PAD_BOTTOM
    for i in range(5):
        y = round(PAD_TOP + plot_h - plot_h * i / 4, 1)
        chart.lines.append(Line(PAD_LEFT, y, WIDTH - PAD_RIGHT, y))
        chart.texts.append(Text(PAD_LEFT - 6, y + 4, _fmt(y_max * i / 4, percent), anchor="end"))


def bar_chart(labels, series: list[Series], *, title, x_label, y_label, height=230, percent=False):
    """Grouped vertical bars: one group per label, one bar per series."""
    y_max = (
        1
        if percent
        else _nice_max(max((v or 0) for s in series for v in s.values) if labels else 0)
    )
    description = "; ".join(
        f"{s.name}: "
        + ", ".join(
            f"{label} {_fmt(v, percent)}" for label, v in zip(labels, s.values, strict=False) if v
        )
        for s in series
    )
    chart = Chart(title, description or "No data in this window.", WIDTH, height)
    _y_grid(chart, y_max, percent)
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = height - PAD_TOP - PAD_BOTTOM
    slot = plot_w / max(1, len(labels))
    bar_w = max(1.0, slot * 0.8 / max(1, len(series)))
    for s_index, s in enumerate(series):
        for i, value in enumerate(s.values):
            if not value:
                continue
            h = plot_h * value / y_max
            chart.bars.append(
                Bar(
                    x=round(PAD_LEFT + slot * i + slot * 0.1 + bar_w * s_index, 1),
                    y=round(PAD_TOP + plot_h - h, 1),
                    width=round(bar_w, 1),
                    height=round(h, 1),
                    css=f"c{s_index}",
                    title=f"{s.name}, {labels[i]}: {_fmt(value, percent)}",
                    link=s.links[i] if i < len(s.links) else None,
                )
            )
    every = max(1, round(len(labels) / 12))  # at most about a dozen labels
    for i, label in enumerate(labels[::every]):
        x = round(PAD_LEFT + slot * (i * every + 0.5), 1)
        chart.texts.append(Text(x, height - PAD_BOTTOM + 14, label))
    _axis_labels(chart, x_label=x_label, x_at=(PAD_LEFT + WIDTH - PAD_RIGHT) / 2, y_label=y_label)
    return chart


def hbar_chart(rows, *, title, x_label, percent=False, height_per_row=24, width=420):
    """Horizontal bars: rows of (label, value, link or None, css class)."""
    left = 110
    height = PAD_TOP + PAD_BOTTOM + height_per_row * max(1, len(rows))
    x_max = 1 if percent else _nice_max(max((v or 0) for _, v, _, _ in rows) if rows else 0)
    plot_w = width - left - PAD_RIGHT - 40
    description = ", ".join(f"{label}: {_fmt(value, percent)}" for label, value, _, _ in rows)
    chart = Chart(title, description or "No data.", width, height)
    for i, (label, value, link, css) in enumerate(rows):
        y = PAD_TOP + i * height_per_row
        w = round(plot_w * (value or 0) / x_max, 1)
        middle = round(y + height_per_row / 2 + 4, 1)
        text = _fmt(value, percent)
        chart.bars.append(
            Bar(left, y + 3, max(w, 0.5), height_per_row - 6, css, f"{label}: {text}", link)
        )
        chart.texts.append(Text(left - 6, middle, label, anchor="end", size=11, fill=INK))
        chart.texts.append(Text(left + w + 4, middle, text, anchor="start", size=11, fill=INK))
    _axis_labels(chart, x_label=x_label, x_at=left + plot_w / 2)
    return chart


def calibration_chart(model: str, buckets: list[dict], min_n: int):
    """One model's approval rate per confidence bucket, against the diagonal of perfect
    calibration. Each bucket dict has low, high, n, rate (None without reviews), enough (n is at
    least `min_n`) and url. The number of reviews stands above each bar; a bar of too few
    reviews to judge is grey."""
    width, height = 300, 176
    left, right, top, bottom = 34, 6, 14, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    described = ", ".join(
        f"{b['low']:.1f}–{b['high']:.1f}: {b['rate']:.0%} of {b['n']}"
        + ("" if b["enough"] else " (too few to judge)")
        for b in buckets
        if b["rate"] is not None
    )
    chart = Chart(
        f"Calibration of {model}: approval rate by confidence",
        described or "No reviews yet.",
        width,
        height,
    )
    for f in (0, 0.5, 1):
        y = round(top + plot_h * (1 - f), 1)
        chart.lines.append(Line(left, y, width - right, y))
        chart.texts.append(Text(left - 4, y + 3, f"{f:.0%}", anchor="end", size=9))
    slot = plot_w / len(buckets)
    for i, b in enumerate(buckets):
        x = left + slot * i
        where = f"confidence {b['low']:.1f}–{b['high']:.1f}"
        if b["rate"] is not None:
            h = plot_h * b["rate"]
            judged = (
                f"{b['rate']:.0%} approved of {b['n']} reviewed"
                if b["enough"]
                else f"only {b['n']} reviewed ({b['rate']:.0%} approved): too few to judge"
            )
            chart.bars.append(
                Bar(
                    x=round(x + 2, 1),
                    y=round(top + plot_h - h, 1),
                    width=round(slot - 4, 1),
                    height=round(max(h, 1), 1),
                    css="c0" if b["enough"] else "few",
                    title=f"{model}, {where}: {judged}",
                    link=b.get("url"),
                )
            )
            chart.texts.append(
                Text(
                    round(x + slot / 2, 1),
                    round(top + plot_h - max(h, 1) - 2, 1),
                    f"{b['n']:,}",
                    size=8,
                    fill=INK if b["enough"] else AXIS_GREY,
                )
            )
        else:
            chart.texts.append(
                Text(
                    round(x + slot / 2, 1),
                    top + plot_h - 3,
                    "·",
                    size=9,
                    fill="#a9b2bd",
                    title=f"no reviews at {where}",
                )
            )
        if i % 2 == 0:
            chart.texts.append(Text(round(x, 1), height - bottom + 11, f"{b['low']:.1f}", size=9))
    chart.texts.append(Text(left + plot_w, height - bottom + 11, "1.0", size=9))
    chart.lines.append(
        Line(
            left,
            top + plot_h,
            left + plot_w,
            top,
            stroke="#b3261e",
            dashed=True,
            title="Perfect calibration: approval rate equals confidence",
        )
    )
    chart.texts.append(Text(left + plot_w / 2, height - 4, "confidence", size=10))
    return chart


def sparkline(values: list, labels: list[str], *, title: str, width=168, height=28):
    """A row's small bar chart (a reviewer's decisions per day): as wide whatever the window."""
    described = ", ".join(f"{label}: {v}" for label, v in zip(labels, values, strict=False) if v)
    chart = Chart(title, described or "None.", width, height, css="sparkline")
    slot = width / max(1, len(values))
    peak = max(values, default=0) or 1
    chart.lines.append(Line(0, height - 0.5, width, height - 0.5))
    for i, value in enumerate(values):
        if not value:
            continue
        h = max(2.0, (height - 2) * value / peak)
        chart.bars.append(
            Bar(
                x=round(i * slot + 0.5, 1),
                y=round(height - h, 1),
                width=round(max(1.0, slot - 1), 1),
                height=round(h, 1),
                css="c1",
                title=f"{labels[i]}: {value}",
            )
        )
    return chart
