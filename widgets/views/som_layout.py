"""Where a self-organizing map's cells are (widgets.views.som_map) and their pixels:
hexagonal maps are drawn as hexagons, rectangular ones as squares, tiled without gaps, square
pixels (one grid unit is as many pixels across as down), row 0 at the top.

A map is rasterised once per layout and size: an image of cell indices (each cell's polygon
filled with its index, by QPainter, aliased: cells tile exactly), the cells' edges as white
lines, and the pixels a pie in each cell covers, in the order of their unit and angle."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen, QPolygonF

from widgets.views.som_scale import WHITE

SQRT3 = math.sqrt(3.0)


def _spacing(values: np.ndarray) -> float:
    """The smallest gap between distinct values (inf: all alike)."""
    distinct = np.unique(np.round(values, 6))
    gaps = np.diff(distinct)
    gaps = gaps[gaps > 1e-6]
    return float(gaps.min()) if gaps.size else math.inf


@dataclass(frozen=True, eq=False)
class MapLayout:
    """Where a map's units are on the plane (grid units, y down, row 0 at the top) and the
    shape of a cell: a hexagon (``flat``: a flat top, columns √3/2 apart and every other one
    moved half a unit down, as the probe lays MiniSom's maps out; else a pointy top, rows
    √3/2 apart) or a rectangle, as offsets of its corners from its centre."""

    rows: int
    cols: int
    centers: np.ndarray  # (units, 2) float64
    hexagonal: bool
    flat: bool
    corners: np.ndarray  # (k, 2)
    inradius: float  # half the distance between neighbours
    bounds: tuple[float, float, float, float]  # x0, y0, x1, y1
    key: bytes = field(default=b"")

    @property
    def units(self) -> int:
        return self.rows * self.cols

    @property
    def width(self) -> float:
        return self.bounds[2] - self.bounds[0]

    @property
    def height(self) -> float:
        return self.bounds[3] - self.bounds[1]

    def cell(self, unit: int) -> tuple[int, int]:
        return divmod(int(unit), self.cols)

    @classmethod
    def of(cls, payload: Mapping[str, Any]) -> MapLayout:
        rows, cols = max(1, int(payload["rows"])), max(1, int(payload["cols"]))
        units = rows * cols
        hexagonal = bool(payload.get("hexagonal", False))
        centers = payload.get("centers")
        c = None if centers is None else np.asarray(centers, dtype=np.float64).reshape(-1, 2)
        if c is None or len(c) != units or not np.isfinite(c).all():
            c = default_centers(rows, cols, hexagonal)
        else:
            c = c.copy()
        if rows > 1 and c[:cols, 1].mean() > c[-cols:, 1].mean():
            c[:, 1] = -c[:, 1]  # y grows upwards: row 0 goes to the top all the same
        sx, sy = _spacing(c[:, 0]), _spacing(c[:, 1])
        if hexagonal:
            d = np.hypot(*(c[1:] - c[0]).T).min() if units > 1 else 1.0
            d = float(d) if d > 1e-9 else 1.0
            flat = sx > sy or (math.isinf(sx) and math.isinf(sy))
            angles = np.radians(np.arange(6) * 60.0 + (0.0 if flat else 30.0))
            corners = (d / SQRT3) * np.stack([np.cos(angles), np.sin(angles)], axis=1)
            inradius = d / 2
        else:
            flat = False
            sx = sy if math.isinf(sx) else sx
            sy = sx if math.isinf(sy) else sy
            sx, sy = (1.0, 1.0) if math.isinf(sx) else (sx, sy)
            corners = np.array(
                [(-sx / 2, -sy / 2), (sx / 2, -sy / 2), (sx / 2, sy / 2), (-sx / 2, sy / 2)]
            )
            inradius = min(sx, sy) / 2
        lo = c.min(axis=0) + corners.min(axis=0)
        hi = c.max(axis=0) + corners.max(axis=0)
        key = bytes([hexagonal]) + np.asarray([rows, cols]).tobytes() + c.tobytes()
        return cls(rows, cols, c, hexagonal, flat, corners, inradius, (*lo, *hi), key)


def default_centers(rows: int, cols: int, hexagonal: bool) -> np.ndarray:
    """The probe's layout: (j, i) on a rectangular map; on a hexagonal one MiniSom's, x = j
    √3/2 across and every other column half a unit up."""
    i = np.repeat(np.arange(rows, dtype=np.float64), cols)
    j = np.tile(np.arange(cols, dtype=np.float64), rows)
    if not hexagonal:
        return np.stack([j, i], axis=1)
    shifted = (cols - 1 - j) % 2 == 0
    return np.stack([j * SQRT3 / 2, np.where(shifted, i - 0.5, i)], axis=1)


def polygon(lay: MapLayout, unit: int, s: float, origin: QPointF) -> QPolygonF:
    """The unit's cell, ``s`` pixels a grid unit, the map's top left corner at ``origin``."""
    x0, y0 = lay.bounds[:2]
    cx, cy = lay.centers[unit]
    return QPolygonF(
        [
            QPointF(origin.x() + (cx + dx - x0) * s, origin.y() + (cy + dy - y0) * s)
            for dx, dy in lay.corners
        ]
    )


def rasterise(lay: MapLayout, w: int, h: int, s: float) -> np.ndarray:
    """(h, w) the unit under each pixel (its centre), -1 where none: each cell's polygon
    filled, aliased, with its index as its colour."""
    image = QImage(w, h, QImage.Format.Format_RGB32)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(Qt.PenStyle.NoPen)
    origin = QPointF(0.0, 0.0)
    for u in range(lay.units):
        k = u + 1
        painter.setBrush(QColor((k >> 16) & 255, (k >> 8) & 255, k & 255))
        painter.drawPolygon(polygon(lay, u, s, origin))
    painter.end()
    bits = np.frombuffer(image.constBits(), np.uint32, count=image.sizeInBytes() // 4)
    raw = bits.reshape(h, image.bytesPerLine() // 4)[:, :w]
    return (raw & 0xFFFFFF).astype(np.int32) - 1


def grout_image(lay: MapLayout, w: int, h: int, s: float, dpr: float) -> QImage:
    """The cells' edges as white lines (antialiased) on a transparent image."""
    image = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    path = QPainterPath()
    origin = QPointF(0.0, 0.0)
    for u in range(lay.units):
        path.addPolygon(polygon(lay, u, s, origin))
        path.closeSubpath()
    width = 1.0 if s * 2 * lay.inradius < 24 else 1.5
    painter.strokePath(path, QPen(WHITE, width))
    painter.end()
    image.setDevicePixelRatio(dpr)
    return image


def pie_pixels(
    index: np.ndarray, lay: MapLayout, s: float, radius: float
) -> tuple[np.ndarray, ...]:
    """The pixels of a map (``index``: the unit under each pixel) within ``radius`` of their
    unit's centre, in the order of their unit and then their angle: where they are (flat),
    their unit, the distance, and the unit plus the angle (clockwise from the top, 0..1)."""
    rows, cols = np.nonzero(index >= 0)
    units = index[rows, cols]
    centres = (lay.centers - lay.bounds[:2]) * s
    dx = cols + 0.5 - centres[units, 0]
    dy = rows + 0.5 - centres[units, 1]
    dist = np.hypot(dx, dy)
    near = dist <= radius + 0.5
    rows, cols, units, dist, dx, dy = (a[near] for a in (rows, cols, units, dist, dx, dy))
    turn = units + (np.arctan2(dx, -dy) / (2 * np.pi)) % 1.0
    order = np.argsort(turn, kind="stable")
    flat = (rows * index.shape[1] + cols)[order]
    return (flat, units[order].astype(np.intp), dist[order], turn[order])


__all__ = [
    "MapLayout",
    "default_centers",
    "grout_image",
    "pie_pixels",
    "polygon",
    "rasterise",
]
