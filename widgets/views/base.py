"""What every view widget is: a plot over a line of text, drawn by ``update(payload)``; a
view that keeps its history (``View.history``) also has a slider that scrubs back through
its earlier payloads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from builder.training.procedures.spec import View
from widgets import theme
from widgets.plots import _Plot


class ViewWidget(QWidget):
    """A declared view: a plot (:attr:`plot`) over a line of text (:attr:`note`).

    ``update(payload)`` draws a payload (Qt's ``update()`` without one); :meth:`reset`
    empties the view for a new run. ``wide`` views take a whole row of their tab."""

    wide = False

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = view
        self.class_names: list[str] | None = None  # the run's classes (legends)
        self.plot = self._make_plot()
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.note.hide()
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(2)
        self._layout.addWidget(self.plot, 1)
        self._layout.addWidget(self.note)
        self.records: list[Any] = []  # views with history: their kept records, oldest first
        self.shown_record: Any = None  # the record drawn (None: none, or no history)
        self.scrub: QSlider | None = None
        if view.history:
            row = QHBoxLayout()
            row.setContentsMargins(4, 0, 4, 0)
            self.scrub = QSlider(Qt.Orientation.Horizontal)
            self.scrub.setObjectName("viewScrub")
            self.scrub.setToolTip(
                "Drag back to see this view earlier in the run; at the right end it follows"
                " the training live"
            )
            self.scrub.setRange(0, 0)
            self.scrub.valueChanged.connect(self._scrubbed)
            self.scrub_label = QLabel()
            self.scrub_label.setStyleSheet(f"color: {theme.MUTED.name()};")
            self.scrub_label.setMinimumWidth(
                self.scrub_label.fontMetrics().horizontalAdvance("epoch 0000 · step 000000 (live)")
            )
            row.addWidget(self.scrub, 1)
            row.addWidget(self.scrub_label)
            self._layout.addLayout(row)

    def _make_plot(self) -> _Plot:
        plot = _Plot(self.view.title)
        plot.hide_legend()
        return plot

    def hasHeightForWidth(self) -> bool:  # noqa: N802 (Qt)
        """No: the rows of a tab share its height alike. A word-wrapped note would make the
        view's height depend on its width, and the grid would give its row the plot's whole
        size hint (a bars view with a warning: four times the others' rows)."""
        return False

    def update(self, *args: Any) -> None:
        if len(args) == 1 and isinstance(args[0], Mapping):
            self.draw(args[0])
        else:
            super().update(*args)

    def draw(self, payload: Mapping[str, Any]) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        self.set_note("")
        self.plot.reset_view()
        self.records, self.shown_record = [], None
        if self.scrub is not None:
            self.scrub.blockSignals(True)
            self.scrub.setRange(0, 0)
            self.scrub.blockSignals(False)
            self.scrub_label.setText("")

    # -- history --------------------------------------------------------------------------

    @property
    def live(self) -> bool:
        """Whether the view follows the run (not scrubbed back to an earlier record)."""
        return self.scrub is None or self.scrub.value() >= self.scrub.maximum()

    def show_records(self, records: list[Any]) -> None:
        """The view's kept records (``ViewRecord``, oldest first): the newest is drawn,
        unless the user has scrubbed back; then the record shown stays (or the nearest
        earlier one kept, once thinning has dropped it)."""
        if not records:
            self.reset()
            return
        if self.scrub is None:
            self._draw_record(records[-1])
            return
        live = self.live or self.shown_record is None
        self.records = records
        index = len(records) - 1
        if not live:
            step = self.shown_record.step
            index = max((i for i, r in enumerate(records) if r.step <= step), default=0)
        self.scrub.blockSignals(True)
        self.scrub.setRange(0, len(records) - 1)
        self.scrub.setValue(index)
        self.scrub.blockSignals(False)
        self._scrubbed(index)

    def _scrubbed(self, index: int) -> None:
        if 0 <= index < len(self.records):
            self._draw_record(self.records[index])

    def _draw_record(self, record: Any) -> None:
        if record is not self.shown_record:
            self.shown_record = record
            self.draw(record.payload)
        if self.scrub is not None:
            text = f"epoch {record.epoch} · step {record.step}"
            self.scrub_label.setText(text + (" (live)" if self.live else ""))

    def set_note(self, text: str) -> None:
        if text != self.note.text():
            self.note.setText(text)
        self.note.setVisible(bool(text))

    def settle(self, live: bool = False) -> None:
        self.plot.settle(live)

    @property
    def painted(self) -> float:
        return self.plot.painted
