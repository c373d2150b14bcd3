"""Help: the keyboard shortcuts (read off the window's own actions), the layer reference
(made from the catalog, as docs/layers.md is), the documentation (the docs/ files shipped
beside the app, read from disk: no network) and About. Each opens a window of its own
beside the editor (not modal), kept and raised again when asked twice."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QTextCursor
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QListWidget,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

DOCS = Path(__file__).resolve().parents[1] / "docs"
# keys from here on are a keyboard's media and launch keys (Qt's "New", "Open", "Zoom In"
# keys that the platform binds too): not what the user types, left out of the list
MEDIA_KEYS = Qt.Key.Key_Back.value


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def shortcut_rows(window: QWidget) -> list[tuple[str, str]]:
    """(what, keys) for every action of ``window`` that has a shortcut, in the order the
    window made them; keys in the platform's words, alternatives joined by "or"."""
    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for action in window.actions():
        keys = [
            k.toString(QKeySequence.SequenceFormat.NativeText)
            for k in action.shortcuts()
            if not k.isEmpty() and k[0].key().value < MEDIA_KEYS
        ]
        what = action.text().replace("&", "").rstrip("…").strip()
        if not keys or not what or what in seen:
            continue
        seen.add(what)
        rows.append((what, " or ".join(keys)))
    return rows


class HelpMenu:
    """The Help menu of a main window (``menu``) and the windows it opens."""

    def __init__(self, window: QWidget):
        self.window = window
        self.menu = QMenu("&Help", window)
        self.windows: dict[str, QDialog] = {}
        self.shortcuts_action = self._add("&Keyboard Shortcuts", self.show_shortcuts, "Ctrl+/")
        self.reference_action = self._add(
            "&Layer Reference", lambda: self.show_reference(self.selected_type()), "F1"
        )
        self.docs_action = self._add("&Documentation", self.show_docs)
        self.menu.addSeparator()
        self.about_action = self._add("&About NeuralCanvas", self.show_about)

    def selected_type(self) -> str | None:
        """The type of the one selected layer (F1 opens the reference there), else None."""
        canvas = getattr(self.window, "canvas", None)
        selected = canvas.selected_nodes() if canvas is not None else []
        return self.window.doc.net.type_of(selected[0]) if len(selected) == 1 else None

    def _add(self, text: str, slot: Any, shortcut: str | None = None) -> QAction:
        action = QAction(text, self.window)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            self.window.addAction(action)
        action.triggered.connect(lambda checked=False: slot())
        self.menu.addAction(action)
        return action

    def _open(self, key: str, title: str, make: Any) -> QDialog:
        dialog = self.windows.get(key)
        if dialog is None:
            dialog = QDialog(self.window)
            dialog.setWindowTitle(title)
            dialog.resize(760, 620)
            make(dialog)
            self.windows[key] = dialog
        dialog.show()
        dialog.raise_()
        return dialog

    def show_shortcuts(self) -> QDialog:
        def make(dialog: QDialog) -> None:
            rows = shortcut_rows(self.window)
            table = QTableWidget(len(rows), 2, dialog)
            table.setObjectName("shortcuts")
            table.setHorizontalHeaderLabels(["Action", "Keys"])
            table.verticalHeader().setVisible(False)
            table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
            for r, (what, keys) in enumerate(rows):
                table.setItem(r, 0, QTableWidgetItem(what))
                table.setItem(r, 1, QTableWidgetItem(keys))
            table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
            table.resizeColumnToContents(1)
            QVBoxLayout(dialog).addWidget(table)

        return self._open("shortcuts", "Keyboard shortcuts", make)

    def show_reference(self, type_id: str | None = None) -> QDialog:
        def make(dialog: QDialog) -> None:
            from builder.catalog.reference import markdown

            browser = QTextBrowser(dialog)
            browser.setObjectName("reference")
            browser.setMarkdown(markdown())
            QVBoxLayout(dialog).addWidget(browser)

        dialog = self._open("reference", "Layer reference", make)
        if type_id:  # scrolled to the layer's heading, the heading selected
            browser = dialog.findChild(QTextBrowser, "reference")
            block = browser.document().begin()
            while block.isValid():
                if block.blockFormat().headingLevel() and block.text() == type_id:
                    cursor = QTextCursor(block)
                    cursor.movePosition(
                        QTextCursor.MoveOperation.EndOfBlock, QTextCursor.MoveMode.KeepAnchor
                    )
                    browser.setTextCursor(cursor)
                    browser.ensureCursorVisible()
                    bar = browser.verticalScrollBar()  # the heading at the top, not the bottom
                    bar.setValue(bar.value() + browser.cursorRect().top() - 4)
                    break
                block = block.next()
        return dialog

    def show_docs(self) -> QDialog:
        files = sorted(DOCS.glob("*.md")) if DOCS.is_dir() else []

        def make(dialog: QDialog) -> None:
            pages = QListWidget(dialog)
            pages.setObjectName("pages")
            browser = QTextBrowser(dialog)
            browser.setObjectName("page")
            browser.setOpenExternalLinks(False)
            browser.setSearchPaths([str(DOCS)])
            for f in files:
                pages.addItem(f.stem)

            def show(row: int) -> None:
                if 0 <= row < len(files):
                    browser.setMarkdown(files[row].read_text(encoding="utf-8"))

            pages.currentRowChanged.connect(show)
            pages.setFixedWidth(170)
            layout = QHBoxLayout(dialog)
            layout.addWidget(pages)
            layout.addWidget(browser, 1)
            if files:
                pages.setCurrentRow(0)
            else:
                browser.setPlainText(f"The documentation files are not installed ({DOCS}).")

        return self._open("docs", "NeuralCanvas documentation", make)

    def about_text(self) -> str:
        return (
            f"<b>NeuralCanvas</b> {_version('neuralcanvas')}<br>Build neural networks by"
            " dragging layers onto a canvas, train them live, export PyTorch code.<br><br>"
            f"Python {platform.python_version()} · torch {_version('torch')} · PySide6"
            f" {_version('PySide6-Essentials')} · pyqtgraph {_version('pyqtgraph')}"
        )

    def show_about(self) -> None:
        box = QMessageBox(self.window)
        box.setWindowTitle("About NeuralCanvas")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.show()
        self.windows["about"] = box
