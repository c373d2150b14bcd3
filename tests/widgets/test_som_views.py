"""The self-organizing map's views (widgets.views.som_map, widgets.views.arithmetic): what a
``grid_map`` payload puts on screen (read back from the grabbed pixels at the cells' centres),
clicking and hovering units, and the arithmetic of one update as a table of the given strings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from builder.training.procedures.spec import View
from widgets.plots import series_colour
from widgets.views import VIEW_WIDGETS, ArithmeticView, SomMapView
from widgets.views.arithmetic import HIGHLIGHT
from widgets.views.som_layout import MapLayout, default_centers
from widgets.views.som_scale import LUT, NO_SAMPLE

LOW, HIGH = QColor(*LUT[0][:3].tolist()), QColor(*LUT[255][:3].tolist())


def ro(array) -> np.ndarray:
    out = np.ascontiguousarray(array)
    out.flags.writeable = False
    return out


def grid(rows: int, cols: int, hexagonal: bool) -> dict:
    centers = default_centers(rows, cols, hexagonal).astype(np.float32)
    return {"rows": rows, "cols": cols, "centers": ro(centers), "hexagonal": hexagonal}


def checkerboard(rows: int, cols: int) -> np.ndarray:
    i, j = np.divmod(np.arange(rows * cols), cols)
    return ((i + j) % 2).astype(np.float32)


@pytest.fixture
def make(qtbot):
    def make(kind: str = "grid_map", size=(520, 360), title: str = "A map"):
        widget = VIEW_WIDGETS[kind](View("v", kind, title))
        qtbot.addWidget(widget)
        widget.resize(*size)
        widget.show()
        qtbot.waitExposed(widget)
        return widget

    return make


def colour_at(view: SomMapView, unit: int, map_index: int = 0) -> QColor:
    """The colour drawn in ``unit``'s cell: below its centre (where a count is written),
    inside the cell and its pie."""
    image = view.canvas.grab().toImage()
    p = view.canvas.cell_centre(unit, map_index)
    below = 0.6 * view.map_layout.inradius * view.canvas.scale
    return image.pixelColor(round(p.x()), round(p.y() + below))


def close(a: QColor, b: QColor, tol: int = 3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a.getRgb()[:3], b.getRgb()[:3]))


def test_the_kinds_are_drawn_by_the_som_widgets():
    assert VIEW_WIDGETS["grid_map"] is SomMapView
    assert VIEW_WIDGETS["arithmetic"] is ArithmeticView


@pytest.mark.parametrize("hexagonal", [False, True], ids=["rect", "hex"])
def test_a_checkerboard_shows_two_colours_at_the_right_cells(make, hexagonal):
    view = make()
    values = checkerboard(6, 7)
    view.update({**grid(6, 7, hexagonal), "values": ro(values), "value_name": "d"})
    assert view.canvas.cell_count() == 42  # every unit has its cell on screen
    for unit, value in enumerate(values):
        want = HIGH if value else LOW
        assert close(colour_at(view, unit), want), (unit, colour_at(view, unit).name())
    # square pixels: a unit is as many pixels across as down
    lay = view.map_layout
    rect = view.canvas.rects[0]
    assert rect.width() / lay.width == pytest.approx(rect.height() / lay.height, rel=0.03)


def test_hexagons_tile_as_the_centres_say():
    # the probe's layout (MiniSom's: columns √3/2 apart, every other one half a unit up):
    # flat-topped hexagons; rows √3/2 apart with every other row moved: pointy tops
    flat = MapLayout.of(grid(5, 6, True))
    assert flat.hexagonal and flat.flat
    assert np.ptp(flat.corners[:, 1]) == pytest.approx(2 * 0.5)  # the flat sides 1 apart, up-down
    i, j = np.divmod(np.arange(30), 6)
    pointy_centres = np.stack([j + 0.5 * (i % 2), i * np.sqrt(3) / 2], axis=1)
    pointy = MapLayout.of({"rows": 5, "cols": 6, "centers": pointy_centres, "hexagonal": True})
    assert not pointy.flat
    assert np.ptp(pointy.corners[:, 0]) == pytest.approx(1.0)
    square = MapLayout.of(grid(5, 6, False))
    assert len(square.corners) == 4 and square.width == 6 and square.height == 5


def test_pointy_hexagons_draw_a_checkerboard_too(make):
    view = make()
    i, j = np.divmod(np.arange(30), 6)
    centres = np.stack([j + 0.5 * (i % 2), i * np.sqrt(3) / 2], axis=1).astype(np.float32)
    values = checkerboard(5, 6)
    view.update(
        {"rows": 5, "cols": 6, "centers": ro(centres), "hexagonal": True, "values": ro(values)}
    )
    assert view.canvas.cell_count() == 30
    for unit, value in enumerate(values):
        assert close(colour_at(view, unit), HIGH if value else LOW)


@pytest.mark.parametrize("flip", [False, True], ids=["y-down", "y-up"])
def test_row_0_is_at_the_top(make, flip):
    view = make()
    payload = grid(4, 4, False)
    if flip:  # centres given with y growing upwards: row 0 still at the top
        centres = np.array(payload["centers"])
        centres[:, 1] = -centres[:, 1]
        payload["centers"] = ro(centres)
    values = np.repeat(np.arange(4, dtype=np.float32), 4)  # each unit's row
    view.update({**payload, "values": ro(values)})
    canvas = view.canvas
    assert canvas.cell_centre(0).y() < canvas.cell_centre(15).y()
    assert canvas.cell_centre(0).x() < canvas.cell_centre(3).x()
    assert close(colour_at(view, 0), LOW) and close(colour_at(view, 15), HIGH)


def test_a_single_map_has_its_colour_bar_and_counts_in_the_cells(make):
    view = make()
    hits = np.array([0, 3, 9, 1], np.float32)
    view.update({**grid(2, 2, False), "values": ro(hits), "value_name": "samples won"})
    content = view.canvas.content
    assert content.bar.name == "samples won" and content.bar.integer
    assert (content.bar.lo, content.bar.hi) == (0.0, 9.0)
    assert content.texts == ["0", "3", "9", "1"]
    view.update({**grid(2, 2, False), "values": ro(hits), "value_name": "hits", "log": True})
    assert view.canvas.content.bar.log
    assert view.canvas._bar_ticks(view.canvas.content.bar)[:3] == [0.0, 1.0, 2.0]


def test_component_planes_are_small_multiples_with_their_names_and_own_scales(make):
    view = make(size=(640, 360))
    base = np.linspace(0, 1, 100, dtype=np.float32)
    planes = np.stack([base, base * 10 + 5, base[::-1]])
    view.update({**grid(10, 10, True), "planes": ro(planes), "names": ["R", "G", "B"]})
    canvas = view.canvas
    canvas.layout_maps()
    assert len(canvas.rects) == 3 and canvas.content.names == ["R", "G", "B"]
    assert canvas._name_h > 0  # the names are drawn over the planes
    assert canvas.content.bar.per_plane
    # each plane its own colour scale: R and G (ten times R, shifted) look alike
    for unit in (0, 50, 99):
        assert close(colour_at(view, unit, 0), colour_at(view, unit, 1))
    assert close(colour_at(view, 0, 0), LOW) and close(colour_at(view, 0, 2), HIGH)
    assert "G: 5  (plane 5 – 15)" in view.unit_text(0, 1)


def test_sixty_four_planes_fit_without_overlapping(make):
    view = make(size=(900, 560))
    planes = RNG.random((64, 900), dtype=np.float32)
    names = [f"pixel {i // 8},{i % 8}" for i in range(64)]
    view.update({**grid(30, 30, False), "planes": ro(planes), "names": names})
    canvas = view.canvas
    canvas.layout_maps()
    rects = canvas.rects
    assert len(rects) == 64
    assert all(canvas.rect().contains(r) for r in rects)
    assert not any(a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1 :])
    assert canvas._name_h > 0 and len(canvas._shown_names) == 64
    view.resize(420, 300)  # too small for the names in full: their last word ("0,3")
    canvas.grab()
    assert canvas._name_h == 0 or canvas._shown_names[3] in ("0,3", "pixel 0,3")


def test_a_class_map_has_its_legend_and_pies(make):
    view = make()
    labels = np.array([0, 1, 2, -1], np.float32)
    shares = np.array([[1, 0, 0], [0.2, 0.8, 0], [0, 0, 1], [0, 0, 0]], np.float32)
    names = ["setosa", "versicolor", "virginica"]
    payload = {**grid(2, 2, True), "labels": ro(labels), "class_names": names}
    view.update(payload)
    legend = [name for _, name in view.canvas.content.legend]
    assert legend == [*names, "no sample"]
    for unit in range(3):
        assert close(colour_at(view, unit), series_colour(unit))
    assert close(colour_at(view, 3), NO_SAMPLE)
    view.update({**payload, "shares": ro(shares), "pies": True})
    assert view.canvas.content.pies is not None
    assert close(colour_at(view, 0), series_colour(0))  # a whole pie of setosa
    assert close(colour_at(view, 2), series_colour(2))
    assert "versicolor 80%" in view.unit_text(1)


def test_the_marker_outlines_the_winner_and_rings_its_neighbourhood(make):
    view = make()
    payload = {**grid(9, 9, True), "values": ro(np.zeros(81, np.float32))}
    view.update(payload)
    before = view.canvas.grab().toImage()
    view.update({**payload, "marker": {"unit": 40, "radius": 2.0}})
    assert view.canvas.content.marker == (40, 2.0)
    after = view.canvas.grab().toImage()
    canvas = view.canvas
    centre = canvas.cell_centre(40)
    edge = canvas.cell_polygon(40, canvas.rects[0])[0]  # a corner of the winner's hexagon
    ring = QPoint(round(centre.x() + 2.0 * canvas.scale), round(centre.y()))

    def changed(p: QPoint) -> bool:
        around = [QPoint(p.x() + dx, p.y() + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        return any(before.pixelColor(q) != after.pixelColor(q) for q in around)

    assert changed(edge.toPoint()) and changed(ring)
    assert before.pixelColor(centre.toPoint()) == after.pixelColor(centre.toPoint())
    view.update({**payload, "marker": {"unit": 40, "radius": 0.0}})  # σ = 0: the winner alone
    only = view.canvas.grab().toImage()
    assert only.pixelColor(ring) == before.pixelColor(ring)


def members_payload(bmus: np.ndarray, images: bool = True) -> dict:
    n = len(bmus)
    samples = RNG.random((n, 1, 8, 8) if images else (n, 4), dtype=np.float32)
    counts = np.bincount(bmus, minlength=16).astype(np.float32)
    return {
        **grid(4, 4, False),
        "values": ro(counts),
        "value_name": "samples won",
        "members": {
            "bmus": ro(bmus.astype(np.float32)),  # as the probes send them: float32
            "samples": ro(samples),
            "labels": ro((np.arange(n) % 3).astype(np.float32)),
            "class_names": ["zero", "one", "two"],
        },
    }


def test_clicking_a_unit_lists_its_samples_and_keeps_it_selected(make):
    view = make()
    bmus = np.array([5, 5, 5, 2, 5, 7, 2], np.int64)
    view.update(members_payload(bmus))
    assert not view.panel.isVisible()
    QTest.mouseClick(
        view.canvas, Qt.MouseButton.LeftButton, pos=view.canvas.cell_centre(5).toPoint()
    )
    assert view.selected == 5 and view.panel.isVisible()
    assert view.panel.count == 4 and "wins <b>4</b>" in view.panel.info.text()
    assert "one:&nbsp;2" in view.panel.info.text()  # samples 1 and 4 of class 1
    assert view.panel.mosaic.isVisible() and not view.panel.mosaic.pixmap().isNull()
    assert view.panel.header.text() == "Row 1, col 1"
    # the run goes on: the next payload keeps the selection and updates the listing
    view.update(members_payload(np.array([5, 1, 1, 1, 1, 1], np.int64)))
    assert view.selected == 5 and view.panel.count == 1
    # vectors: no images, the samples' mean
    view.update(members_payload(np.array([5, 5], np.int64), images=False))
    assert not view.panel.mosaic.isVisible() and "their mean" in view.panel.info.text()
    # clicking outside the map clears it
    QTest.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=QPoint(2, 2))
    assert view.selected is None and not view.panel.isVisible()
    QTest.mouseClick(
        view.canvas, Qt.MouseButton.LeftButton, pos=view.canvas.cell_centre(2).toPoint()
    )
    assert view.selected == 2
    view.reset()
    assert view.selected is None and not view.panel.isVisible()


def test_hovering_a_unit_says_where_it_is_and_its_value(make):
    view = make()
    values = np.arange(12, dtype=np.float32) / 4
    view.update({**grid(3, 4, True), "values": ro(values), "value_name": "mean distance"})
    at = view.canvas.cell_centre(6)
    map_index, unit = view.canvas.unit_at(at)
    assert (map_index, unit) == (0, 6)
    assert view.unit_text(unit) == "unit 7 (row 1, col 2)\nmean distance: 1.5"
    assert view.canvas.unit_at(QPoint(1, 1)) == (-1, -1)
    # the line under the map: the unit under the pointer, else the selected one
    assert view.canvas.status == "hover a unit for its value"
    view.window().activateWindow()  # hover events go to the active window (another test's may be)
    QTest.qWait(0)
    QTest.mouseMove(view.canvas, at.toPoint())
    assert view.canvas.status == "unit 7 (row 1, col 2) · mean distance: 1.5"
    view.canvas.hovered.emit(-1, -1, QPoint())  # the pointer leaves
    view.select(0)
    assert view.canvas.status == "selected: unit 1 (row 0, col 0) · mean distance: 0"
    assert not view.panel.isVisible()  # no samples to list: the line says it all


def test_a_redraw_is_cheap(make):
    """Printed, not asserted: a 30 x 30 map's redraw and paint (target 10 ms), 64 planes'
    (target 30 ms) and a 30 x 30 class map of pies."""
    view = make(size=(560, 400))
    single = {**grid(30, 30, True), "values": ro(RNG.random(900, dtype=np.float32))}
    single["marker"] = {"unit": 400, "radius": 3.0}
    planes = {**grid(30, 30, False), "planes": ro(RNG.random((64, 900), dtype=np.float32))}
    view.update(single)
    assert view.canvas.cell_count() == 900
    shares = RNG.dirichlet([0.5] * 10, 900).astype(np.float32)
    pies = {**grid(30, 30, True), "labels": ro(shares.argmax(axis=1).astype(np.float32))}
    pies.update(shares=ro(shares), pies=True, class_names=[str(i) for i in range(10)])
    cases = (("30x30 map", single), ("64 planes of 30x30", planes), ("30x30 pies", pies))
    for name, payload in cases:
        view.update(payload)
        view.canvas.grab()
        times = []
        for _ in range(10):
            start = time.perf_counter()
            view.update(payload)
            view.canvas.grab()  # a paint (offscreen windows may not be exposed for repaint)
            times.append(time.perf_counter() - start)
        print(
            f"{name}: redraw + paint {1000 * min(times):.1f} ms (median {1000 * np.median(times):.1f})"
        )
    assert view.canvas.content.pies is not None


# ------------------------------------------------------------------------------ arithmetic

TEXTBOOK = {
    "title": "The last update, number by number",
    "lines": [
        "sample x = [1, 0, 1, 0]",
        "η = 0.6, σ = 0: only the winner moves",
        "winner: unit 1 (the smallest distance 0.87)",
        "w₁ ← w₁ + η·(x − w₁) = [0.72, 0.2, 0.88, 0.08]",
    ],
    "columns": ["w before", "‖x − w‖²", "h", "Δw = η·h·(x − w)", "w after"],
    "rows": ["unit 1", "unit 2"],
    "cells": [
        [
            "[0.3, 0.5, 0.7, 0.2]",
            "0.87",
            "1",
            "[0.42, -0.3, 0.18, -0.12]",
            "[0.72, 0.2, 0.88, 0.08]",
        ],
        ["[0.6, 0.7, 0.4, 0.3]", "1.1", "0", "[0, 0, 0, 0]", "[0.6, 0.7, 0.4, 0.3]"],
    ],
    "highlight": [0],
    "note": "one sample at a time",
}


@pytest.mark.parametrize("width", [500, 1000])
def test_the_arithmetic_shows_the_given_strings_and_highlights_the_winner(make, width):
    view = make("arithmetic", size=(width, 300))
    view.update(TEXTBOOK)
    assert view.title.text() == TEXTBOOK["title"]
    assert view.lines.text().splitlines() == TEXTBOOK["lines"]
    for i, row in enumerate(TEXTBOOK["cells"]):
        for j, text in enumerate(row):
            assert view.cell_text(i, j) == text
    assert view.is_highlighted(0) and not view.is_highlighted(1)
    assert view.note.text() == "one sample at a time"
    table = view.table
    # 500 pixels do not hold a unit per row: the table is turned, a unit per column
    assert table.transposed == (width == 500)
    shown = table.horizontalHeaderItem if table.transposed else table.verticalHeaderItem
    assert [shown(k).text() for k in range(2)] == ["unit 1", "unit 2"]
    assert table.item_at(0, 0).background().color() == HIGHLIGHT
    assert table.editTriggers() == table.EditTrigger.NoEditTriggers
    assert not table.horizontalScrollBar().isVisible()  # it fits
    copied = table.text_of(everything=True).splitlines()
    assert len(copied) == (6 if table.transposed else 3)
    assert "[0.72, 0.2, 0.88, 0.08]" in table.text_of(everything=True)


def test_an_arithmetic_without_a_table_shows_its_lines(make):
    view = make("arithmetic", size=(500, 300))
    view.update(TEXTBOOK)
    view.update({"title": "A batch", "lines": ["no single update"], "columns": [], "rows": []})
    assert not view.table.isVisible() and view.lines.text() == "no single update"
    view.reset()
    assert not view.table.isVisible() and not view.lines.isVisible()


RNG = np.random.default_rng(0)
