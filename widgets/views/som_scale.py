"""How a self-organizing map's values are coloured and said (widgets.views.som_map): the
sequential colour map (the plots' viridis) as a lookup table, the cells' colours and their
range, numbers written short for the cells and in full for the tooltips, round ticks, and the
key beside the map, drawn by QPainter: the colour bar or the class legend."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QLinearGradient, QPainter, QPen

from widgets import theme
from widgets.plots import heat_colormap

WHITE = QColor(255, 255, 255)
NO_VALUE = QColor("#d0d7de")  # a unit whose value is not finite
NO_SAMPLE = QColor("#e4e7eb")  # a unit of the class map no sample maps to


def short(value: float) -> str:
    """A cell's value in at most about four characters: integers as they are, others to two
    significant digits."""
    if not math.isfinite(value):
        return "–"
    if float(value).is_integer() and abs(value) < 1e5:
        return str(int(value))
    a = abs(value)
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if a >= 1e-4:
        return f"{value:.2g}"
    return f"{value:.1e}"


def number(value: float) -> str:
    """A value said in a tooltip or the side panel (four significant digits)."""
    if not math.isfinite(value):
        return "no value"
    if float(value).is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.4g}"


def nice_ticks(lo: float, hi: float, most: int = 5, integer: bool = False) -> list[float]:
    """Round values between ``lo`` and ``hi`` (at most ``most``; the two ends when none);
    ``integer``: whole numbers only (counts)."""
    span = hi - lo
    if not (math.isfinite(span) and span > 0):
        return [lo]
    raw = span / max(1, most - 1)
    mag = 10.0 ** math.floor(math.log10(raw))
    if integer:
        mag = max(mag, 1.0)
    step = mag
    factors = (1.0, 2.0, 5.0, 10.0) if integer else (1.0, 2.0, 2.5, 5.0, 10.0)
    for factor in factors:
        step = factor * mag
        count = math.floor(hi / step + 1e-9) - math.ceil(lo / step - 1e-9) + 1
        if count <= most:
            break
    first = math.ceil(lo / step - 1e-9)
    ticks = [
        round(k * step, 10) for k in range(first, first + most + 1) if k * step <= hi + 1e-9 * step
    ]
    return ticks if len(ticks) >= 2 else [lo, hi]


def colourmap_lut() -> np.ndarray:
    """The sequential colour map (the plots' viridis) as (256, 4) RGBX bytes."""
    rgb = heat_colormap().getLookupTable(0.0, 1.0, 256, alpha=False)
    return np.concatenate([rgb, np.full((256, 1), 255, np.uint8)], axis=1)


LUT = colourmap_lut()


def rgbx(colour: QColor) -> np.ndarray:
    return np.array([colour.red(), colour.green(), colour.blue(), 255], np.uint8)


def colour_cells(values: np.ndarray, lo: float, hi: float, log: bool = False) -> np.ndarray:
    """(..., units) values as (..., units, 4) colours of the sequential map, ``lo`` to ``hi``
    (``log``: log10(1 + v), for counts); a value that is not finite is grey."""
    v = np.asarray(values, dtype=np.float64)
    lo_, hi_ = lo, hi
    if log:
        v = np.log10(1.0 + np.clip(v, 0.0, None))
        lo_, hi_ = math.log10(1.0 + max(lo, 0.0)), math.log10(1.0 + max(hi, 0.0))
    span = hi_ - lo_ if hi_ > lo_ else 1.0
    t = np.clip((v - lo_) / span, 0.0, 1.0)
    t = np.where(np.isfinite(t), t, 0.0)
    out = LUT[(t * 255 + 0.5).astype(np.intp)]
    bad = ~np.isfinite(v)
    if bad.any():
        out[bad] = rgbx(NO_VALUE)
    return out


def value_range(values: np.ndarray) -> tuple[float, float]:
    """The finite values' range; one value alike everywhere gets a range around it (whole
    numbers: ±1, not below 0 for counts), so that it is drawn in the map's middle colour
    (0 in its lowest)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if hi > lo:
        return lo, hi
    if lo == round(lo):
        return (max(lo - 1.0, 0.0) if lo >= 0 else lo - 1.0), lo + 1.0
    half = max(abs(lo) * 0.1, 1e-6)
    return lo - half, lo + half


def luminance(rgb: np.ndarray) -> float:
    """How light a colour is (0..255): dark text on light cells, white on dark."""
    r, g, b = (float(x) for x in rgb[:3])
    return 0.299 * r + 0.587 * g + 0.114 * b


@dataclass
class ColourBar:
    lo: float
    hi: float
    log: bool = False
    name: str = ""
    per_plane: bool = False  # component planes: low → high of each plane's own range
    integer: bool = False  # whole values (counts): whole ticks


def bar_ticks(bar: ColourBar) -> list[float]:
    """The values the colour bar marks: round ones, or on a log scale 0 and powers of ten
    (and their multiples where too few)."""
    if bar.log:
        top = int(math.log10(max(bar.hi, 1.0))) + 1
        for multiples in ((1,), (1, 2, 5), (1, 2, 3, 5)):
            ticks = [0.0] + [m * 10.0**k for k in range(top) for m in multiples]
            ticks = [t for t in ticks if bar.lo <= t <= bar.hi]
            if len(ticks) >= 4:
                break
        return ticks or [bar.lo, bar.hi]
    return nice_ticks(bar.lo, bar.hi, integer=bar.integer)


def tick_label(value: float) -> str:
    return f"{value:.4g}"


def bar_position(bar: ColourBar, value: float, top: int, height: int) -> float:
    if bar.log:
        lo, hi = math.log10(1 + max(bar.lo, 0.0)), math.log10(1 + max(bar.hi, 0.0))
        value = math.log10(1 + max(value, 0.0))
    else:
        lo, hi = bar.lo, bar.hi
    t = (value - lo) / (hi - lo) if hi > lo else 0.5
    return top + height - t * height


def key_width(bar: ColourBar | None, legend: list[tuple[QColor, str]], font: QFont) -> int:
    """How wide the key beside the map is: the colour bar with its ticks and its name, or the
    legend (0: none)."""
    small = QFontMetrics(font)
    if bar is not None:
        if bar.per_plane:
            labels = ["high", "low"]
        else:
            labels = [tick_label(t) for t in bar_ticks(bar)]
        widest = max((small.horizontalAdvance(t) for t in labels), default=0)
        return 12 + 4 + widest + 6 + small.height() + 4
    if legend:
        widest = max(small.horizontalAdvance(name) for _, name in legend)
        return 12 + 5 + min(widest, 150) + 6
    return 0


def paint_bar(p: QPainter, bar: ColourBar, side: QRect, font: QFont) -> None:
    """The colour bar in ``side``: the colour map low to high, its ticks and its name."""
    height = max(40, min(side.height(), 260))
    top = side.top() + (side.height() - height) // 2
    strip = QRect(side.left(), top, 12, height)
    gradient = QLinearGradient(QPointF(0, strip.bottom()), QPointF(0, strip.top()))
    for k in range(0, 256, 15):
        r, g, b, _ = LUT[k]
        gradient.setColorAt(k / 255, QColor(int(r), int(g), int(b)))
    r, g, b, _ = LUT[255]
    gradient.setColorAt(1.0, QColor(int(r), int(g), int(b)))
    p.fillRect(strip, QBrush(gradient))
    p.setPen(QPen(theme.BORDER, 1))
    p.drawRect(strip.adjusted(0, 0, -1, -1))
    p.setFont(font)
    metrics = QFontMetrics(font)
    label_x = strip.right() + 5
    if bar.per_plane:
        p.setPen(theme.MUTED)
        p.drawText(QPoint(label_x, strip.top() + metrics.ascent()), "high")
        p.drawText(QPoint(label_x, strip.bottom()), "low")
        widest = metrics.horizontalAdvance("high")
        name = bar.name or "each plane's own range"
    else:
        ticks = bar_ticks(bar)
        widest = 0
        for t in ticks:
            y = bar_position(bar, t, strip.top(), strip.height())
            p.setPen(theme.BORDER)
            p.drawLine(QPointF(strip.right() + 1, y), QPointF(strip.right() + 3, y))
            p.setPen(theme.MUTED)
            text = tick_label(t)
            widest = max(widest, metrics.horizontalAdvance(text))
            base = y + metrics.ascent() / 2 - 1
            base = min(max(base, strip.top() + metrics.ascent() - 2), strip.bottom() + 3)
            p.drawText(QPointF(label_x, base), text)
        name = bar.name + (" (log scale)" if bar.log else "")
    if name:
        p.save()
        p.setPen(theme.MUTED)
        x = label_x + widest + 6 + metrics.ascent()
        p.translate(x, strip.top() + strip.height() / 2)
        p.rotate(-90)
        text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, strip.height())
        half = metrics.horizontalAdvance(text) / 2
        p.drawText(QPointF(-half, 0), text)
        p.restore()


def paint_legend(p: QPainter, legend: list[tuple[QColor, str]], side: QRect, font: QFont) -> None:
    """The classes' colours and names in ``side``, one a row."""
    p.setFont(font)
    metrics = QFontMetrics(font)
    row = metrics.height() + 4
    height = row * len(legend)
    y = side.top() + max(0, (side.height() - height) // 2)
    for colour, name in legend:
        p.fillRect(QRect(side.left(), y + 2, 12, 12), colour)
        p.setPen(theme.TEXT)
        text = metrics.elidedText(name, Qt.TextElideMode.ElideRight, side.width() - 17)
        p.drawText(
            QRect(side.left() + 17, y, side.width() - 17, row),
            int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
            text,
        )
        y += row


__all__ = [
    "LUT",
    "NO_SAMPLE",
    "NO_VALUE",
    "WHITE",
    "ColourBar",
    "bar_position",
    "bar_ticks",
    "colour_cells",
    "colourmap_lut",
    "key_width",
    "luminance",
    "nice_ticks",
    "number",
    "paint_bar",
    "paint_legend",
    "rgbx",
    "short",
    "tick_label",
    "value_range",
]
