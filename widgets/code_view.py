"""A read-only view of an exported script (File > Export > Python script…): the code with
Python syntax highlighting and line numbers, the export's note, and Copy / Save… / Close.

``ask_save_path`` is the one dialog it opens; tests replace it.
"""

from __future__ import annotations

import builtins
import keyword
import re
from pathlib import Path

from PySide6.QtCore import QRect, QRegularExpression, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QPainter,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graph.atomic import atomic_write_text

# Colours of a light theme (the editor's background is white).
COLOURS = {
    "keyword": "#0033b3",
    "builtin": "#7a3e9d",
    "self": "#94558d",
    "string": "#067d17",
    "comment": "#8c8c8c",
    "number": "#1750eb",
    "decorator": "#9e880d",
    "definition": "#00627a",
}

_IN_TRIPLE = {'"""': 1, "'''": 2}  # block states: inside a triple-quoted string


def _format(colour: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    fmt.setFontItalic(italic)
    return fmt


class PythonHighlighter(QSyntaxHighlighter):
    """Keywords, builtins, ``self``, numbers, decorators, names after ``def`` / ``class``,
    strings (also triple-quoted over several lines) and comments."""

    def __init__(self, document: QTextDocument):
        super().__init__(document)
        self.formats = {
            "keyword": _format(COLOURS["keyword"], bold=True),
            "builtin": _format(COLOURS["builtin"]),
            "self": _format(COLOURS["self"], italic=True),
            "string": _format(COLOURS["string"]),
            "comment": _format(COLOURS["comment"], italic=True),
            "number": _format(COLOURS["number"]),
            "decorator": _format(COLOURS["decorator"]),
            "definition": _format(COLOURS["definition"], bold=True),
        }
        words = sorted(set(keyword.kwlist) | set(keyword.softkwlist) - {"_"})
        names = sorted(n for n in dir(builtins) if not n.startswith("_") and n not in words)
        self.rules: list[tuple[QRegularExpression, str, int]] = [
            (QRegularExpression(r"\b(" + "|".join(words) + r")\b"), "keyword", 0),
            (QRegularExpression(r"\b(" + "|".join(names) + r")\b"), "builtin", 0),
            (QRegularExpression(r"\b(self|cls)\b"), "self", 0),
            (
                QRegularExpression(
                    r"\b(?:0[xX][0-9a-fA-F_]+|\d[\d_]*\.?[\d_]*(?:[eE][-+]?\d+)?j?)"
                ),
                "number",
                0,
            ),
            (QRegularExpression(r"^\s*(@[\w.]+)"), "decorator", 1),
            (QRegularExpression(r"\b(?:def|class)\s+(\w+)"), "definition", 1),
        ]
        # Strings and comments, found left to right (a '#' in a string is no comment).
        self._tokens = re.compile(
            r"(?P<triple>[rRbBuUfF]{0,2}(?:\"\"\"|'''))"
            r"|(?P<string>[rRbBuUfF]{0,2}(?:\"(?:[^\"\\\n]|\\.)*\"?|'(?:[^'\\\n]|\\.)*'?))"
            r"|(?P<comment>#.*)"
        )

    def highlightBlock(self, text: str) -> None:
        for expr, name, group in self.rules:
            it = expr.globalMatch(text)
            while it.hasNext():
                m = it.next()
                self.setFormat(m.capturedStart(group), m.capturedLength(group), self.formats[name])
        self.setCurrentBlockState(0)
        string_fmt = self.formats["string"]
        pos = 0
        previous = self.previousBlockState()
        if previous in (1, 2):  # continuing a triple-quoted string
            quote = '"""' if previous == 1 else "'''"
            end = text.find(quote)
            if end < 0:
                self.setFormat(0, len(text), string_fmt)
                self.setCurrentBlockState(previous)
                return
            pos = end + 3
            self.setFormat(0, pos, string_fmt)
        while pos < len(text):
            m = self._tokens.search(text, pos)
            if m is None:
                break
            if m.group("triple"):
                quote = m.group("triple")[-3:]
                end = text.find(quote, m.end())
                if end < 0:
                    self.setFormat(m.start(), len(text) - m.start(), string_fmt)
                    self.setCurrentBlockState(_IN_TRIPLE[quote])
                    return
                self.setFormat(m.start(), end + 3 - m.start(), string_fmt)
                pos = end + 3
            elif m.group("string"):
                self.setFormat(m.start(), m.end() - m.start(), string_fmt)
                pos = m.end()
            else:
                self.setFormat(m.start(), m.end() - m.start(), self.formats["comment"])
                break


class _LineNumbers(QWidget):
    def __init__(self, editor: CodeEditor):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.line_number_width(), 0)

    def paintEvent(self, event) -> None:  # noqa: ANN001
        self.editor.paint_line_numbers(event)


class CodeEditor(QPlainTextEdit):
    """A read-only, monospace, non-wrapping text view with line numbers in its margin."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(max(font.pointSize(), 10))
        self.setFont(font)
        self.setTabStopDistance(4 * self.fontMetrics().horizontalAdvance(" "))
        self.setStyleSheet(
            "QPlainTextEdit { background: #ffffff; color: #1f1f1f;"
            " selection-background-color: #cfe3ff; selection-color: #1f1f1f; }"
        )
        self.numbers = _LineNumbers(self)
        self.blockCountChanged.connect(self._update_margin)
        self.updateRequest.connect(self._update_numbers)
        self._update_margin()

    def line_number_width(self) -> int:
        digits = max(3, len(str(max(1, self.blockCount()))))
        return 12 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margin(self, *_args) -> None:  # noqa: ANN002
        self.setViewportMargins(self.line_number_width(), 0, 0, 0)

    def _update_numbers(self, rect: QRect, dy: int) -> None:
        if dy:
            self.numbers.scroll(0, dy)
        else:
            self.numbers.update(0, rect.y(), self.numbers.width(), rect.height())

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.numbers.setGeometry(QRect(cr.left(), cr.top(), self.line_number_width(), cr.height()))

    def paint_line_numbers(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self.numbers)
        painter.fillRect(event.rect(), QColor("#f3f3f3"))
        painter.setPen(QColor("#9a9a9a"))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        height = self.fontMetrics().height()
        width = self.numbers.width() - 6
        while block.isValid() and top <= event.rect().bottom():
            bottom = top + round(self.blockBoundingRect(block).height())
            if block.isVisible() and bottom >= event.rect().top():
                painter.drawText(
                    0, top, width, height, Qt.AlignmentFlag.AlignRight, str(number + 1)
                )
            block = block.next()
            top = bottom
            number += 1
        painter.end()


class CodeViewDialog(QDialog):
    """The exported script, read-only: Copy puts it on the clipboard, Save… writes it."""

    def __init__(
        self, code: str, suggested_name: str, parent: QWidget | None = None, note: str = ""
    ):
        super().__init__(parent)
        self.code = code
        self.suggested_name = suggested_name or "model.py"
        self.saved_path: Path | None = None
        self.setWindowTitle(f"Exported script — {self.suggested_name}")
        self.resize(900, 680)
        layout = QVBoxLayout(self)
        self.note_label = QLabel()
        self.note_label.setObjectName("exportNote")
        self.note_label.setWordWrap(True)
        self.note_label.setStyleSheet(
            "QLabel { background: #fff4ce; color: #5c4400; border: 1px solid #e6c75a;"
            " border-radius: 4px; padding: 6px; }"
        )
        self.set_note(note)
        layout.addWidget(self.note_label)
        self.editor = CodeEditor()
        self.editor.setPlainText(code)
        self.highlighter = PythonHighlighter(self.editor.document())
        layout.addWidget(self.editor, 1)
        buttons = QHBoxLayout()
        self.info = QLabel(f"{code.count(chr(10))} lines")
        self.info.setStyleSheet("color: #777;")
        buttons.addWidget(self.info)
        buttons.addStretch(1)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the script to the clipboard")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = QPushButton("Save…")
        self.save_button.setToolTip("Save the script as a .py file")
        self.save_button.clicked.connect(self.save)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        self.close_button.setDefault(True)
        for button in (self.copy_button, self.save_button, self.close_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)

    def set_note(self, note: str) -> None:
        self.note_label.setText(f"No training loop in this script: {note}" if note else "")
        self.note_label.setVisible(bool(note))

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.code)
        self.info.setText("Copied to the clipboard")

    def save(self) -> Path | None:
        """Ask where, then write the script atomically; the path written, or None."""
        chosen = self.ask_save_path()
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            path = path.with_name(path.name + ".py")
        try:
            atomic_write_text(path, self.code)
        except OSError as exc:
            self.info.setText(f"Cannot save {path}: {exc.strerror or exc}")
            return None
        self.saved_path = path
        self.info.setText(f"Saved {path}")
        return path

    # ------------------------------------------------------------------ replaceable
    def ask_save_path(self) -> str | None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save script", self.suggested_name, "Python script (*.py)"
        )
        return path or None


# ============================================================================ File > Export

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _stem(window) -> str:  # noqa: ANN001
    """A plain file stem for the exports: the project file's, else the project's name."""
    doc = window.doc
    raw = doc.path.stem if doc.path is not None else (doc.project.name or "model")
    stem = _UNSAFE.sub("_", raw).strip("._-")[:60]
    return stem or "model"


TRAINED_STATES = ("finished", "early_stopped", "stopped")  # a run that ended with weights


def _structure(net) -> tuple:  # noqa: ANN001
    """What the weights depend on: layers (id, type, name, parameters) and connections,
    not where the layers sit on the canvas."""
    nodes = sorted(
        (n, net.type_of(n), net.name_of(n), repr(sorted(net.params_of(n).items())))
        for n in net.nodes
    )
    edges = sorted((e.src, e.src_port, e.dst, e.dst_port) for e in net.edges())
    return nodes, edges


def _seed(project) -> int:  # noqa: ANN001
    training = project.training if isinstance(project.training, dict) else {}
    seed = training.get("seed", 0)
    return seed if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0 else 0


class ExportActions:
    """File > Export: Python script… (the code view), Weights (state_dict)…, ONNX….

    Owned by a :class:`widgets.main_window.MainWindow`; errors go through its ``show_error``
    and results to its status bar. ``ask_save_path`` and ``show_dialog`` are replaceable.
    """

    def __init__(self, window) -> None:  # noqa: ANN001
        from PySide6.QtGui import QAction, QKeySequence
        from PySide6.QtWidgets import QMenu

        self.window = window
        self.dialog: CodeViewDialog | None = None
        self.menu = QMenu("&Export", window)

        def action(text: str, slot, shortcut: str | None, tip: str) -> QAction:  # noqa: ANN001
            act = QAction(text, window)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            act.setToolTip(tip)
            act.triggered.connect(lambda checked=False: slot())
            window.addAction(act)  # the shortcut works while the menu bar is hidden too
            self.menu.addAction(act)
            return act

        self.script_action = action(
            "&Python script…",
            self.export_script,
            "Ctrl+E",
            "Show the current network and its training as a standalone PyTorch script",
        )
        self.weights_action = action(
            "&Weights (state_dict)…",
            self.export_weights,
            None,
            "Save the network's weights (the trained ones after a run) as a state_dict",
        )
        self.onnx_action = action(
            "&ONNX…", self.export_onnx, None, "Save the network as an ONNX model"
        )

    # ------------------------------------------------------------------ the exports
    def export_script(self) -> CodeViewDialog | None:
        from builder.export.script import export
        from graph.errors import NeuralCanvasError

        window = self.window
        doc = window.doc
        stem = _stem(window)
        base = doc.path.parent if doc.path is not None else None
        try:
            result = export(doc.project, doc.current, base_dir=base, filename=f"{stem}.py")
        except NeuralCanvasError as exc:
            window.show_error("Cannot export the network", str(exc))
            return None
        except Exception as exc:  # an unexpected failure must leave the window usable
            window.show_error("Cannot export the network", f"{exc.__class__.__name__}: {exc}")
            return None
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = CodeViewDialog(result.code, f"{stem}.py", window, note=result.note)
        if window.doc.path is not None:
            self.dialog.suggested_name = str(window.doc.path.parent / f"{stem}.py")
        self.show_dialog(self.dialog)
        return self.dialog

    def model(self):  # noqa: ANN201
        """The current network's trained model when the training panel holds a run of it
        that ended (finished, early stopped or stopped: ``panel.trainer`` until the panel
        lets go of it, then ``panel.last_trainer``) and the network has not been changed
        since; else the network freshly compiled with the project's seed (on the CPU)."""
        import copy

        from builder import compile_network

        window = self.window
        panel = getattr(window, "training", None)
        for name in ("trainer", "last_trainer"):
            trainer = getattr(panel, name, None)
            model = getattr(trainer, "model", None)
            net = getattr(trainer, "net", None)
            if (
                model is not None
                and getattr(trainer, "state", None) in TRAINED_STATES
                and getattr(net, "name", None) == window.doc.current
                and _structure(net) == _structure(window.doc.net)
            ):
                return copy.deepcopy(model).cpu().eval(), True
        return compile_network(window.doc.net, seed=_seed(window.doc.project)), False

    def _build(self, title: str):  # noqa: ANN202
        from graph.errors import NeuralCanvasError

        try:
            return self.model()
        except NeuralCanvasError as exc:
            self.window.show_error(title, str(exc))
        except Exception as exc:
            self.window.show_error(title, f"{exc.__class__.__name__}: {exc}")
        return None, False

    def export_weights(self) -> Path | None:
        from builder.export.formats import save_state_dict

        title = "Cannot export the weights"
        model, trained = self._build(title)
        if model is None:
            return None
        chosen = self.ask_save_path(
            "Save weights", f"{_stem(self.window)}.pt", "PyTorch state_dict (*.pt *.pth)"
        )
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            path = path.with_name(path.name + ".pt")
        try:
            save_state_dict(model, path)
        except OSError as exc:
            self.window.show_error(title, f"Cannot write {path}: {exc.strerror or exc}")
            return None
        which = "trained" if trained else "initial"
        self.window.show_message(f"Saved the {which} weights to {path}")
        return path

    def export_onnx(self) -> Path | None:
        from builder.export.formats import check_onnx, export_onnx
        from graph.errors import NeuralCanvasError

        title = "Cannot export to ONNX"
        model, trained = self._build(title)
        if model is None:
            return None
        chosen = self.ask_save_path(
            "Save ONNX model", f"{_stem(self.window)}.onnx", "ONNX model (*.onnx)"
        )
        if not chosen:
            return None
        path = Path(chosen)
        if not path.suffix:
            path = path.with_name(path.name + ".onnx")
        net = self.window.doc.net
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            export_onnx(model, path, net=net)
            diff = check_onnx(model, path, net=net)
        except NeuralCanvasError as exc:
            self.window.show_error(title, str(exc))
            return None
        except OSError as exc:
            self.window.show_error(title, f"Cannot write {path}: {exc.strerror or exc}")
            return None
        finally:
            QGuiApplication.restoreOverrideCursor()
        which = "trained" if trained else "initial"
        checked = (
            "not checked (onnxruntime is not installed)"
            if diff is None
            else f"max difference from PyTorch {diff:.3g}"
        )
        self.window.show_message(f"Saved {path} ({which} weights); {checked}")
        self.last_difference = diff
        return path

    # ------------------------------------------------------------------ replaceable
    def ask_save_path(self, title: str, suggested: str, filter_: str) -> str | None:
        folder = self.window._start_folder()
        path, _ = QFileDialog.getSaveFileName(self.window, title, str(folder / suggested), filter_)
        return path or None

    def show_dialog(self, dialog: CodeViewDialog) -> None:
        dialog.open()
