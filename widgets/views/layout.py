"""The shown run's procedure views in the dashboard's tabs, and what they draw."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGridLayout, QTabWidget, QWidget

from builder.training.procedures import ProcedureSpec
from builder.training.procedures.spec import View
from widgets.views.base import ViewWidget
from widgets.views.charts import CurvesView
from widgets.views.registry import builtin_part, procedure_spec, widget_for

OVERVIEW = "Overview"
VIEW_PREFIX = "view:"  # a procedure view's key among the dashboard's dirty plots


def dirty_key(key: str) -> str:
    return VIEW_PREFIX + key


def curves_payload(run: Any, view: View) -> dict[str, Any]:
    """A curves view's payload from a dashboard run: each series' per-step values (``loss``
    is the step losses, others the step records' ``series``) and its per-epoch ones (the
    validation loss, else the epoch's training loss; the epoch metrics of that name)."""
    steps: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    epochs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name in view.series:
        if name == "loss":
            steps[name] = run.step_losses()
            x, train, val = run.epochs.col(0), run.epochs.col(1), run.epochs.col(2)
            epochs[name] = (x, val if np.isfinite(val).any() else train)
            continue
        ring = run.series.get(name)
        if ring is not None:
            steps[name] = (ring.col(0), ring.col(1))
        ring = run.metrics.get(name)
        if ring is not None:
            epochs[name] = (ring.col(0), ring.col(1))
    return {"steps": steps, "epochs": epochs, "split": run.metrics_split}


def flow(grid: QGridLayout, widgets: Iterable[QWidget], columns: int = 2) -> None:
    """Lay ``widgets`` out in rows of ``columns`` (a ``wide`` one alone in its row, and
    the last of a row that is alone spans it), each row stretching alike."""
    while grid.count():
        grid.takeAt(0)
    rows: list[list[QWidget]] = []
    row: list[QWidget] = []
    for w in widgets:
        if getattr(w, "wide", False):
            if row:
                rows.append(row)
                row = []
            rows.append([w])
            continue
        row.append(w)
        if len(row) == columns:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    for r, items in enumerate(rows):
        if len(items) == 1:
            grid.addWidget(items[0], r, 0, 1, columns)
        else:
            for c, w in enumerate(items):
                grid.addWidget(w, r, c)
        grid.setRowStretch(r, 1)
    for r in range(len(rows), grid.rowCount()):
        grid.setRowStretch(r, 0)


class ProcedureViews:
    """The shown run's procedure views in the dashboard: a widget per declared view that the
    dashboard's own plots do not draw, each in the tab its view names.

    ``builtin`` holds the dashboard's own Overview plots by part (``loss``, ``metrics``,
    ``gradients``, ``boundary``) and ``builtin_tabs`` its other tabs (``gradients``,
    ``layers``, ``confusion``): :meth:`arrange` shows those the procedure declares. The
    Overview tab shows the declared plots and views in declaration order; the procedure's
    other tabs are created by :meth:`show` and removed by :meth:`clear`."""

    def __init__(
        self,
        tabs: QTabWidget,
        overview: QGridLayout,
        builtin: Mapping[str, QWidget],
        builtin_tabs: Mapping[str, QWidget],
    ):
        self.tabs = tabs
        self.overview = overview
        self.builtin = dict(builtin)
        self.builtin_tabs = dict(builtin_tabs)
        self.spec = procedure_spec(None)
        self.widgets: dict[str, ViewWidget] = {}
        self.pages: dict[str, QWidget] = {}  # the procedure's own tabs, by name
        self.smoothing = 0.6
        self.log_y = False
        self.sample_shape: tuple[int, ...] | None = None  # the run's data (None: not known)
        # Widgets made ahead of a procedure's first run (see prepare), by view key
        self._ahead: ProcedureSpec | None = None
        self._made: dict[str, ViewWidget] = {}

    # -- which views ----------------------------------------------------------------------

    def show(self, procedure: str | ProcedureSpec | None) -> bool:
        """Make the procedure's views: its tabs and widgets (kept when it is already the one
        shown: the dashboard redraws them from the new run). True when the layout changed."""
        spec = procedure_spec(procedure)
        own = {v.key for v in spec.views if widget_for(v) is not None}
        if spec is self.spec and set(self.widgets) == own:
            return False  # kept: the new run's (empty) payloads redraw them in turn
        made = self._made if spec is self._ahead else {}
        self._ahead, self._made = None, {}
        self.clear()
        self.spec = spec
        tabs: dict[str, list[ViewWidget]] = {}
        for view in spec.views:
            widget = made.pop(view.key, None) or self._make(view)
            if widget is None:
                continue
            if isinstance(widget, CurvesView):  # as the dashboard's controls are now
                widget.set_smoothing(self.smoothing)
                widget.set_log_y(self.log_y)
            self.widgets[view.key] = widget
            if view.tab != OVERVIEW:
                tabs.setdefault(view.tab, []).append(widget)
        for name, widgets in tabs.items():
            page = QWidget()
            grid = QGridLayout(page)
            grid.setContentsMargins(0, 4, 0, 0)
            grid.setSpacing(8)
            flow(grid, widgets)
            for widget in widgets:
                widget.show()  # with its tab
            self.tabs.addTab(page, name)
            self.pages[name] = page
        return True

    def prepare(
        self, procedure: str | ProcedureSpec | None, ready: Callable[[], None] | None = None
    ) -> None:
        """Make the procedure's view widgets ahead of its first run, one per turn of the
        event loop (a plot widget takes 30-50 ms to make: nine at once at Start would block
        the window for a third of a second); :meth:`show` then takes them. ``ready`` is
        called once all are made."""
        spec = procedure_spec(procedure)
        if spec is self.spec or spec is self._ahead:
            return
        self._discard(self._made)
        self._ahead, self._made = spec, {}
        QTimer.singleShot(0, self.tabs, lambda: self._make_next(spec, ready))

    def _make_next(self, spec: ProcedureSpec, ready: Callable[[], None] | None) -> None:
        if spec is not self._ahead:  # shown meanwhile, or another procedure's turn
            return
        for view in spec.views:
            if view.key not in self._made and widget_for(view) is not None:
                self._made[view.key] = self._make(view)
                QTimer.singleShot(0, self.tabs, lambda: self._make_next(spec, ready))
                return
        if ready is not None:
            ready()

    def _make(self, view: View) -> ViewWidget | None:
        kind = widget_for(view)
        if kind is None:
            return None
        return kind(view)

    @staticmethod
    def _discard(widgets: dict[str, ViewWidget]) -> None:
        for widget in widgets.values():
            widget.deleteLater()
        widgets.clear()

    def clear(self) -> None:
        """No procedure views (the dashboard of supervised runs, as at first)."""
        if self.tabs.currentWidget() in self.pages.values():  # its tab goes: show the Overview
            self.tabs.setCurrentIndex(0)
        for page in self.pages.values():
            self.tabs.removeTab(self.tabs.indexOf(page))
            page.deleteLater()
        for widget in self.widgets.values():
            if widget.view.tab == OVERVIEW:
                self.overview.removeWidget(widget)
                widget.hide()
                widget.deleteLater()
        self.pages.clear()
        self.widgets.clear()
        self.spec = procedure_spec(None)

    def reset(self) -> None:
        for widget in self.widgets.values():
            widget.reset()

    def parts(self) -> set[str]:
        """The dashboard's own plots the procedure declares."""
        return {p for p in (builtin_part(v) for v in self.spec.views) if p is not None}

    def probed(self) -> bool:
        """The procedure declares views the trainer probes (Trainer.set_views)."""
        return any(v.probe is not None for v in self.spec.views)

    def applies(self, view: View) -> bool:
        """Whether ``view`` shows something for the run's data (all do until it is known)."""
        if self.sample_shape is None:  # a worked example's view waits for the data
            return view.data != "few_inputs"
        return view.applies(self.sample_shape)

    def set_data(self, sample_shape: tuple[int, ...] | None, boundary: bool = True) -> None:
        """The shape of one sample of the run's data: the views of other data (a GAN's plane
        for images) and the tabs left empty are hidden."""
        self.sample_shape = None if sample_shape is None else tuple(sample_shape)
        self.arrange(boundary)

    def arrange(self, boundary: bool = True) -> None:
        """Show the dashboard's own plots and tabs the procedure declares (the boundary only
        where ``boundary``: 2-D data), and of the procedure's own views those that apply to
        the run's data, and lay the Overview tab out."""
        parts = self.parts()
        shown: list[QWidget] = []
        for name, page in self.pages.items():
            wanted = [v for v in self.spec.views if v.tab == name and v.key in self.widgets]
            visible = any(self.applies(v) for v in wanted)
            self.tabs.setTabVisible(self.tabs.indexOf(page), visible)
            for view in wanted:
                self.widgets[view.key].setVisible(self.applies(view))
        for view in self.spec.views:
            if not self.applies(view):
                continue
            part = builtin_part(view)
            widget = self.builtin.get(part) if part else self.widgets.get(view.key)
            if widget is None or (part is None and view.tab != OVERVIEW):
                continue
            if part == "boundary" and not boundary:
                continue
            if widget not in shown:
                shown.append(widget)
        flow(self.overview, shown)  # first: a widget shown before it has a parent is a window
        page = self.overview.parentWidget()
        for widget in [*self.builtin.values(), *self.widgets.values()]:
            if widget in shown:
                widget.show()
            elif widget.parentWidget() is page:
                widget.hide()
        for part, page in self.builtin_tabs.items():
            self.tabs.setTabVisible(self.tabs.indexOf(page), part in parts)

    # -- drawing --------------------------------------------------------------------------

    def keys(self) -> set[str]:
        """Every view's dirty key."""
        return {dirty_key(k) for k in self.widgets}

    def groups(self) -> list[frozenset[str]]:
        """The views as live-redraw groups, one each."""
        return [frozenset({dirty_key(k)}) for k in self.widgets]

    def live_every(self, group: frozenset[str]) -> float | None:
        """The probe period of the group's live view (View.live), None when it has none."""
        for key in group:
            widget = (
                self.widgets.get(key[len(VIEW_PREFIX) :]) if key.startswith(VIEW_PREFIX) else None
            )
            if widget is not None and widget.view.live:
                return widget.view.every
        return None

    def dirtied(self, dirty: set[str]) -> set[str]:
        """The views that a run's changed plots (``dirty``) change too: the curves views
        when steps or epochs came."""
        if not dirty & {"loss", "epochs", "metrics"}:
            return set()
        return {dirty_key(k) for k, w in self.widgets.items() if isinstance(w, CurvesView)}

    def visible(self, key: str) -> bool:
        widget = self.widgets.get(key[len(VIEW_PREFIX) :] if key.startswith(VIEW_PREFIX) else key)
        return widget is not None and widget.isVisible()

    def waiting(self, dirty: set[str]) -> set[str]:
        """The dirty views that are not shown (on a hidden tab): they wait to be drawn."""
        return {k for k in dirty if k.startswith(VIEW_PREFIX) and not self.visible(k)}

    def draw(self, run: Any, dirty: set[str], live: bool = False) -> bool:
        """Draw the views in ``dirty`` from ``run``: the newest record of each probed view
        (an empty view without one), the run's series for curves. True when it drew curves."""
        curves = False
        for key, widget in self.widgets.items():
            if dirty_key(key) not in dirty:
                continue
            widget.class_names = run.class_names
            if widget.view.kind == "curves":
                widget.update(curves_payload(run, widget.view))
                curves = True
            elif key in run.history.view_history:  # with the slider to scrub back
                widget.show_records(list(run.history.view_history[key]))
            else:
                record = run.history.views.get(key)
                if record is None:
                    widget.reset()
                else:
                    widget.update(record.payload)
            widget.settle(live)
        return curves

    def painted(self) -> float:
        return sum(w.painted for w in self.widgets.values())

    def set_smoothing(self, value: float) -> None:
        self.smoothing = value
        for widget in self.widgets.values():
            if isinstance(widget, CurvesView):
                widget.set_smoothing(value)

    def set_log_y(self, on: bool) -> None:
        self.log_y = on
        for widget in self.widgets.values():
            if isinstance(widget, CurvesView):
                widget.set_log_y(on)
