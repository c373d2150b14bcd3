"""The Training panel's "Initial weights" row: the weights file a run starts from
(``training.initial_weights``, relative to the project's folder), chosen, typed or cleared."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLineEdit, QPushButton, QWidget


class WeightsFileRow(QWidget):
    """Signals: ``changed(object)``: the new path (text), or None when cleared."""

    changed = Signal(object)

    def __init__(self, folder: callable, parent: QWidget | None = None):
        """``folder()``: the project's folder (None: not saved yet), where the path starts."""
        super().__init__(parent)
        self.folder = folder
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.edit = QLineEdit()
        self.edit.setObjectName("initialWeights")
        self.edit.setPlaceholderText("none: the initialiser's draw")
        self.edit.setToolTip(
            "A weights file (a run's weights.pt, any torch state_dict) the network starts from:"
            " tensors of the same names are loaded, the others keep their values; the run says"
            " what it loaded. Relative to the project's folder. Tensors only: pickles are refused."
        )
        self.edit.editingFinished.connect(self._typed)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        clear = QPushButton("Clear")
        clear.clicked.connect(lambda: self._set(None))
        layout.addWidget(self.edit, 1)
        layout.addWidget(browse)
        layout.addWidget(clear)

    def set_path(self, path: str | None) -> None:
        """Show ``path`` without saying it changed (the document's value)."""
        self.edit.setText(path or "")

    def _typed(self) -> None:
        self._set(self.edit.text().strip() or None)

    def _set(self, path: str | None) -> None:
        self.set_path(path)
        self.changed.emit(path)

    def _browse(self) -> None:
        base = self.folder()
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Initial weights", str(base or Path.home()), "Weights (*.pt *.pth);;All files (*)"
        )
        if not chosen:
            return
        path = Path(chosen)
        if base is not None:
            try:  # relative to the project's folder when it is inside it
                path = Path(os.path.relpath(path, base))
            except ValueError:  # another drive
                pass
        self._set(path.as_posix())
