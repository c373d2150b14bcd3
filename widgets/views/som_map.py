"""A self-organizing map on its grid (the ``grid_map`` kind): one map of values (U-matrix,
hit counts) with its colour bar, component planes as small multiples (one per input
feature, each with its own colour scale), or the class map (majority colours or pies per
unit) with its legend; the current winner and its neighbourhood radius σ drawn over it, and
a click on a unit lists (and for images shows) the samples it wins.

- :mod:`~widgets.views.som_scale`: values to colours and words, the colour bar, the legend;
- :mod:`~widgets.views.som_layout`: where the cells are, and their pixels;
- :mod:`~widgets.views.som_canvas`: the map(s) painted, and the pointer on them;
- :mod:`~widgets.views.som_members`: the panel of a clicked unit's samples;
- this module: :class:`SomMapView`, the payload read and said.

Payload: ``rows``, ``cols``, ``centers`` (units, 2: x across, y down, unit ``i * cols +
j``; on a hexagonal map neighbours are 1 apart), ``hexagonal``; one of ``values`` (units,)
with ``value_name`` and optional ``log`` and ``value_range``, ``planes`` (P, units) with
``names`` (P), or ``labels`` (units,: the majority class, -1 none) with ``class_names``,
``shares`` (units, classes) and ``pies``; optionally ``marker`` ({"unit", "radius"}: the
winner, and σ in grid units), ``members`` ({"bmus", "samples", "labels", "class_names"}:
the samples a click on a unit lists) and ``note``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QPoint, Signal
from PySide6.QtWidgets import QHBoxLayout, QWidget

from builder.training.procedures.spec import View
from widgets import theme
from widgets.plots import on_white, series_colour
from widgets.views.base import ViewWidget
from widgets.views.images import pixels, tile
from widgets.views.som_canvas import Content, MapCanvas
from widgets.views.som_layout import MapLayout
from widgets.views.som_members import MembersPanel
from widgets.views.som_scale import (
    NO_SAMPLE,
    ColourBar,
    colour_cells,
    number,
    rgbx,
    short,
    value_range,
)

TEXT_UNITS = 400  # single maps of at most this many units write their values in the cells
MOSAIC_MOST = 64  # samples a clicked unit shows as images


class SomMapView(ViewWidget):
    """A self-organizing map on its grid: one map of values, component planes or the class
    map (see the module's docstring for the payload). Hover a unit for its value; click one
    for the samples it wins (kept selected while the run redraws the map)."""

    unit_selected = Signal(object)  # the selected unit, or None

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        self.canvas: MapCanvas = self.plot  # type: ignore[assignment]
        self.panel = MembersPanel()
        self.panel.closed.connect(lambda: self.select(None))
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        self._layout.removeWidget(self.canvas)
        row.addWidget(self.canvas, 1)
        row.addWidget(self.panel)
        self._layout.insertLayout(0, row, 1)
        self.canvas.clicked.connect(self._clicked)
        self.canvas.hovered.connect(self._hovered)
        self.selected: int | None = None
        self._hover = (-1, -1)  # (map, unit) under the pointer
        self.payload: Mapping[str, Any] | None = None
        self.map_layout: MapLayout | None = None
        self.mode = ""  # values, planes or labels
        self._values: np.ndarray | None = None  # (maps, units): what a tooltip says
        self._sample_range: tuple[float, float, Any] | None = None
        self._plane_ranges: list[tuple[float, float]] = []
        self._shares: np.ndarray | None = None
        self._class_names: list[str] = []

    def _make_plot(self) -> MapCanvas:  # type: ignore[override]
        return MapCanvas(self.view.title)

    # -- drawing ------------------------------------------------------------------------------

    def draw(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        lay = MapLayout.of(payload)
        if self.map_layout is None or self.map_layout.key != lay.key:
            self.map_layout = lay
            if self.selected is not None and self.selected >= lay.units:
                self.select(None)
        lay = self.map_layout
        units = lay.units
        marker = payload.get("marker")
        mark = None
        if marker:
            mark = (int(marker.get("unit", -1)), float(marker.get("radius", 0.0) or 0.0))
        if payload.get("planes") is not None:
            content = self._planes(payload, lay)
        elif payload.get("labels") is not None:
            content = self._labels(payload, lay)
        else:
            content = self._single(payload, lay)
        content.marker = mark
        self.canvas.set_content(content)
        self.set_note(str(payload.get("note") or ""))
        if self.selected is not None and self.selected >= units:
            self.select(None)
        self._show_panel()

    @staticmethod
    def _fit(values: Any, units: int) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64).ravel()
        if len(v) >= units:
            return v[:units]
        return np.concatenate([v, np.full(units - len(v), np.nan)])

    def _single(self, payload: Mapping[str, Any], lay: MapLayout) -> Content:
        self.mode = "values"
        v = self._fit(payload.get("values", ()), lay.units)
        given = payload.get("value_range")
        lo, hi = (float(given[0]), float(given[1])) if given is not None else value_range(v)
        if not hi > lo:
            lo, hi = value_range(np.array([lo]))
        log = bool(payload.get("log", False)) and lo >= 0
        self._values = v[None]
        finite = v[np.isfinite(v)]
        integer = bool(finite.size) and bool(np.all(finite == np.round(finite)))
        # the values in the cells: counts, or every value of a tiny map (a worked example)
        wanted = lay.units <= TEXT_UNITS and (integer or lay.units <= 16)
        texts = [short(float(x)) for x in v] if wanted else None
        return Content(
            layout=lay,
            colours=colour_cells(v, lo, hi, log)[None],
            bar=ColourBar(lo, hi, log, str(payload.get("value_name") or ""), integer=integer),
            texts=texts,
        )

    def _planes(self, payload: Mapping[str, Any], lay: MapLayout) -> Content:
        self.mode = "planes"
        planes = np.asarray(payload["planes"], dtype=np.float64)
        planes = planes.reshape(planes.shape[0], -1) if planes.ndim != 2 else planes
        if planes.shape[1] != lay.units:
            planes = np.stack([self._fit(p, lay.units) for p in planes]) if len(planes) else planes
        p = planes.shape[0]
        names = [str(n) for n in (payload.get("names") or ())]
        names += [f"x{i + 1}" for i in range(len(names), p)]
        with np.errstate(all="ignore"):
            finite = np.where(np.isfinite(planes), planes, np.nan)
            lo = np.nanmin(finite, axis=1) if planes.size else np.zeros(p)
            hi = np.nanmax(finite, axis=1) if planes.size else np.ones(p)
        lo = np.where(np.isfinite(lo), lo, 0.0)
        hi = np.where(np.isfinite(hi) & (hi > lo), hi, lo + 1.0)
        span = hi - lo
        t = (planes - lo[:, None]) / span[:, None]
        colours = colour_cells(t, 0.0, 1.0)
        self._values = planes
        self._plane_ranges = list(zip(lo.tolist(), hi.tolist()))
        ranges = [f"{short(a)}–{short(b)}" for a, b in self._plane_ranges]
        return Content(
            layout=lay,
            colours=colours,
            names=names[:p],
            ranges=ranges if p <= 16 else [],
            bar=ColourBar(0.0, 1.0, per_plane=True, name="each plane's own range"),
        )

    def _labels(self, payload: Mapping[str, Any], lay: MapLayout) -> Content:
        self.mode = "labels"
        labels = np.asarray(payload["labels"], dtype=np.float64).ravel()
        labels = np.nan_to_num(labels, nan=-1).astype(np.int64)
        if len(labels) < lay.units:
            labels = np.concatenate([labels, np.full(lay.units - len(labels), -1)])
        labels = labels[: lay.units]
        names = [str(n) for n in (payload.get("class_names") or self.class_names or ())]
        k = max(len(names), int(labels.max()) + 1 if labels.size else 0)
        names += [str(i) for i in range(len(names), k)]
        shares = payload.get("shares")
        pies = None
        if payload.get("pies") and shares is not None:
            pies = np.nan_to_num(np.asarray(shares, dtype=np.float64)).reshape(lay.units, -1)
        palette = [series_colour(i) for i in range(max(k, 1))]
        fills = [on_white(q, 70) if pies is not None else q for q in palette]
        table = np.array([*map(rgbx, fills), rgbx(NO_SAMPLE)], np.uint8)  # the last: none
        colours = table[np.where(labels >= 0, labels % len(palette), len(palette))]
        self._values = labels[None].astype(np.float64)
        self._shares = (
            None if shares is None else np.asarray(shares, np.float64).reshape(lay.units, -1)
        )
        self._class_names = names
        present = sorted({int(c) for c in labels if c >= 0})
        if pies is not None:
            present = sorted(set(present) | {int(c) for c in np.nonzero(pies.sum(axis=0) > 0)[0]})
        legend = [(palette[c % len(palette)], names[c]) for c in present]
        if (labels < 0).any():
            legend.append((NO_SAMPLE, "no sample"))
        return Content(
            layout=lay,
            colours=colours[None],
            legend=legend,
            pies=pies,
            pie_colours=palette,
        )

    # -- the pointer ----------------------------------------------------------------------------

    def unit_text(self, unit: int, map_index: int = 0) -> str:
        """What hovering ``unit`` says (on map ``map_index`` of the component planes)."""
        lay = self.map_layout
        if lay is None or self._values is None or not 0 <= unit < lay.units:
            return ""
        i, j = lay.cell(unit)
        head = f"unit {unit + 1} (row {i}, col {j})"
        payload = self.payload or {}
        if self.mode == "values":
            name = str(payload.get("value_name") or "value")
            text = f"{head}\n{name}: {number(float(self._values[0, unit]))}"
        elif self.mode == "planes":
            k = min(max(map_index, 0), len(self._values) - 1)
            names = self.canvas.content.names if self.canvas.content else []
            lo, hi = self._plane_ranges[k]
            name = names[k] if k < len(names) else f"x{k + 1}"
            text = (
                f"{head}\n{name}: {number(float(self._values[k, unit]))}"
                f"  (plane {number(lo)} – {number(hi)})"
            )
        else:
            c = int(self._values[0, unit])
            names = self._class_names
            text = f"{head}\n" + (f"majority: {names[c]}" if c >= 0 else "no sample")
            if self._shares is not None and c >= 0:
                row = self._shares[unit]
                parts = [
                    f"{names[q] if q < len(names) else q} {100 * row[q]:.0f}%"
                    for q in np.argsort(-row)
                    if row[q] > 0
                ]
                text += "\n" + " · ".join(parts[:5])
        count = self._member_count(unit)
        if count is not None:
            text += f"\nwins {count} of the samples listed"
        return text

    def _hovered(self, map_index: int, unit: int, where: QPoint) -> None:
        self._hover = (map_index, unit)
        self._show_status()

    def _show_status(self) -> None:
        """The line under the map: the unit under the pointer, else the selected one, else
        what the pointer can do."""
        k, unit = self._hover
        text = self.unit_text(unit, k) if unit >= 0 else ""
        if not text and self.selected is not None:
            text = "selected: " + self.unit_text(self.selected, max(k, 0))
        if not text and self.payload is not None:
            more = " · click one for its samples" if self._members() is not None else ""
            text = "hover a unit for its value" + more
        self.canvas.set_status(text.replace("\n", " · "))

    def _clicked(self, map_index: int, unit: int) -> None:
        self.select(unit if unit >= 0 else None)

    def select(self, unit: int | None) -> None:
        """Select ``unit`` (None: nothing): outlined on the map, its samples listed."""
        if unit is not None and (self.map_layout is None or not 0 <= unit < self.map_layout.units):
            unit = None
        changed = unit != self.selected
        self.selected = unit
        self.canvas.set_selected(unit)
        self._show_panel()
        if changed:
            self.unit_selected.emit(unit)

    def unit_position(self, unit: int, map_index: int = 0) -> QPoint:
        """Where ``unit``'s centre is drawn, in this widget's coordinates (for a click)."""
        self.canvas.layout_maps()
        centre = self.canvas.cell_centre(unit, map_index)
        return self.canvas.mapTo(self, centre.toPoint())

    # -- the selected unit's panel ------------------------------------------------------------

    def _members(self) -> Mapping[str, Any] | None:
        members = (self.payload or {}).get("members")
        return members if members is not None and members.get("bmus") is not None else None

    def _member_count(self, unit: int) -> int | None:
        members = self._members()
        if members is None:
            return None
        bmus = np.asarray(members["bmus"]).ravel()
        return int(np.count_nonzero(np.rint(bmus) == unit))

    def _show_panel(self) -> None:
        """The selected unit's samples beside the map (a payload with ``members``); the line
        under the map says the rest."""
        self._show_status()
        panel, unit, lay = self.panel, self.selected, self.map_layout
        if unit is None or lay is None or self.payload is None or self._members() is None:
            panel.hide()
            panel.count = 0
            return
        i, j = lay.cell(unit)
        panel.header.setText(f"Row {i}, col {j}")
        muted = theme.MUTED.name()
        lines: list[str] = [f'<span style="color:{muted}">unit {unit + 1} of {lay.units}</span>']
        payload = self.payload
        if self.mode == "values":
            name = str(payload.get("value_name") or "value")
            lines.append(f"{_esc(name)}: <b>{number(float(self._values[0, unit]))}</b>")
        elif self.mode == "planes":
            names = self.canvas.content.names if self.canvas.content else []
            shown = min(len(names), 8)
            rows = [
                f"{_esc(names[k])} = {number(float(self._values[k, unit]))}" for k in range(shown)
            ]
            if len(names) > shown:
                rows.append(f"… {len(names) - shown} more (hover the planes)")
            lines.append("weights: " + "<br>".join(rows))
        else:
            c = int(self._values[0, unit])
            lines.append(
                f"majority: <b>{_esc(self._class_names[c])}</b>" if c >= 0 else "no sample"
            )
        members = self._members()
        mosaic = None
        more = ""
        panel.count = 0
        if members is not None:
            bmus = np.rint(np.asarray(members["bmus"], dtype=np.float64).ravel()).astype(np.int64)
            chosen = np.nonzero(bmus == unit)[0]
            panel.count = n = len(chosen)
            lines.append(f"wins <b>{n}</b> of the {len(bmus)} samples listed")
            labels = members.get("labels")
            names = list(members.get("class_names") or self.class_names or ())
            if labels is not None and n:
                got = np.rint(np.asarray(labels, dtype=np.float64).ravel()[chosen]).astype(np.int64)
                classes, counts = np.unique(got, return_counts=True)
                order = np.argsort(-counts, kind="stable")
                parts = []
                for q in order:
                    c = int(classes[q])
                    name = names[c] if 0 <= c < len(names) else str(c)
                    colour = series_colour(c).name() if c >= 0 else theme.MUTED.name()
                    parts.append(
                        f'<span style="color:{colour}">■</span>&nbsp;{_esc(name)}:&nbsp;{counts[q]}'
                    )
                lines.append(" &nbsp; ".join(parts))
            samples = members.get("samples")
            if samples is not None and n:
                samples = np.asarray(samples)
                if samples.ndim in (3, 4):
                    if self._sample_range is None or self._sample_range[2] is not samples:
                        lo, hi = value_range(samples.astype(np.float64, copy=False))
                        self._sample_range = (lo, hi, samples)
                    lo, hi = self._sample_range[:2]
                    picked = samples[chosen[:MOSAIC_MOST]]
                    tiles = pixels(picked, (lo, hi))
                    cols = max(1, min(8, math.ceil(math.sqrt(len(tiles)))))
                    mosaic = tile(tiles, cols)
                    if n > MOSAIC_MOST:
                        more = f"the first {MOSAIC_MOST} of {n} shown"
                elif samples.ndim == 2 and samples.shape[1] <= 8:
                    mean = samples[chosen].astype(np.float64).mean(axis=0)
                    lines.append("their mean: [" + ", ".join(number(float(x)) for x in mean) + "]")
        panel.info.setText("<br>".join(lines))
        panel.show_mosaic(mosaic)
        panel.more.setText(more)
        panel.more.setVisible(bool(more))
        panel.show()

    # -- the dashboard ------------------------------------------------------------------------

    def reset(self) -> None:
        self.payload = None
        self.map_layout = None
        self._values = None
        self._sample_range = None
        self.selected = None
        self.canvas.set_selected(None)
        self.panel.hide()
        super().reset()


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


__all__ = ["SomMapView"]
