"""What every view widget is: a plot over a line of text, drawn by ``update(payload)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

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

    def _make_plot(self) -> _Plot:
        plot = _Plot(self.view.title)
        plot.hide_legend()
        return plot

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

    def set_note(self, text: str) -> None:
        if text != self.note.text():
            self.note.setText(text)
        self.note.setVisible(bool(text))

    def settle(self, live: bool = False) -> None:
        self.plot.settle(live)

    @property
    def painted(self) -> float:
        return self.plot.painted
