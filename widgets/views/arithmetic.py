"""One update worked by hand (the ``arithmetic`` kind): the formulas and values of the last
update as lines of text over a table of numbers, the way a textbook works them (a SOM's
step, the perceptron rule, backprop on one sample). Generic: the probe formats every number,
the view shows the strings exactly as given.

Payload: ``title``, ``lines`` (formulas and values), ``columns``, ``rows`` (row labels),
``cells`` (one list of strings per row), ``highlight`` (row indices drawn highlighted: the
winner), ``note`` (optional, under the table)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import (
    QAction,
    QBrush,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QGuiApplication,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder.training.procedures.spec import View
from widgets import theme
from widgets.plots import on_white
from widgets.views.base import ViewWidget

HIGHLIGHT = on_white(theme.ACCENT, 34)


def mono(points: float = 8.5) -> QFont:
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPointSizeF(points)
    return font


class ArithmeticTable(QTableWidget):
    """The update's numbers: read-only, sized to its contents, monospace, highlighted rows;
    Ctrl+C (or the context menu) copies the selected cells, tab-separated."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.painted = 0.0
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setWordWrap(False)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # no current cell framed until clicked
        self.setFont(mono())
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            header.setFont(QFont())
            header.setHighlightSections(False)
        self.horizontalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.verticalHeader().setDefaultAlignment(
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        )
        self.setStyleSheet(
            "QTableWidget { background: white; gridline-color: #e3e7eb;"
            f" border: 1px solid {theme.FRAME.name()}; }}"
            f" QTableWidget::item {{ padding: 1px 3px; color: {theme.TEXT.name()}; }}"
            f" QTableWidget::item:selected {{ background: {on_white(theme.ACCENT, 80).name()}; }}"
            f" QHeaderView::section {{ background: {theme.WINDOW.name()};"
            f" color: {theme.MUTED.name()}; border: none;"
            f" border-bottom: 1px solid {theme.FRAME.name()};"
            f" border-right: 1px solid {theme.FRAME.name()}; padding: 2px 6px; }}"
            f" QTableCornerButton::section {{ background: {theme.WINDOW.name()}; border: none;"
            f" border-bottom: 1px solid {theme.FRAME.name()};"
            f" border-right: 1px solid {theme.FRAME.name()}; }}"
        )
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        copy = QAction("Copy", self)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        copy_all = QAction("Copy the whole table", self)
        copy_all.triggered.connect(lambda: self.copy_selection(everything=True))
        self.addActions([copy, copy_all])
        self.verticalScrollBar().rangeChanged.connect(lambda *_: self.updateGeometry())
        self.highlighted: list[int] = []  # the payload's rows drawn highlighted
        self.data: tuple[list[str], list[str], list[list[str]]] = ([], [], [])
        self.transposed = False  # a unit per column (the payload's rows across)
        self._built = False
        self._widths: dict[bool, int] = {}

    def paintEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        start = time.thread_time()
        try:
            super().paintEvent(event)
        finally:
            self.painted += time.thread_time() - start

    def set_table(
        self,
        columns: Sequence[str],
        rows: Sequence[str],
        cells: Sequence[Sequence[Any]],
        highlight: Sequence[int],
        width: int | None = None,
    ) -> None:
        """The payload's table; laid out with a unit per row, or (where that is wider than
        ``width`` and this is not) turned, a unit per column."""
        n = max(len(rows), len(cells))
        m = max([len(columns), *(len(r) for r in cells)] or [0])
        self.data = (
            [*map(str, columns), *[""] * (m - len(columns))],
            [*map(str, rows), *[""] * (n - len(rows))],
            [[str(r[j]) if j < len(r) else "" for j in range(m)] for r in cells]
            + [[""] * m for _ in range(n - len(cells))],
        )
        self.highlighted = sorted({int(i) for i in highlight if 0 <= int(i) < n})
        self._widths = {}
        self._built = False
        self.arrange(width)

    def arrange(self, width: int | None) -> None:
        """Turn the table where that lets it fit ``width`` (None: as the payload has it)."""
        want = False
        if width is not None and self.data[1]:
            normal = self._natural_width(False)
            if normal > width and self._natural_width(True) <= width:
                want = True
        if want != self.transposed or not self._built:
            self._build(want)

    def _natural_width(self, transposed: bool) -> int:
        got = self._widths.get(transposed)
        if got is None:
            columns, rows, cells = self.data
            if transposed:
                columns, rows = rows, columns
                cells = [list(r) for r in zip(*cells)] if cells else []
            bold = QFont(self.font())
            bold.setBold(True)
            bold_metrics = QFontMetrics(bold)
            head_metrics = QFontMetrics(self.horizontalHeader().font())
            total = max((head_metrics.horizontalAdvance(r) for r in rows), default=0) + 16 + 6
            for j, name in enumerate(columns):
                widest = head_metrics.horizontalAdvance(name) + 16
                for r in cells:
                    widest = max(widest, bold_metrics.horizontalAdvance(r[j]) + 16)
                total += widest
            got = self._widths[transposed] = total + 2 * self.frameWidth() + 4
        return got

    def _build(self, transposed: bool) -> None:
        columns, rows, cells = self.data
        self.transposed = transposed
        self._built = True
        if transposed:
            columns, rows = rows, columns
            cells = [list(r) for r in zip(*cells)] if cells else []
        n, m = len(rows), len(columns)
        self.setUpdatesEnabled(False)
        try:
            self.clear()
            self.setRowCount(n)
            self.setColumnCount(m)
            self.setHorizontalHeaderLabels(columns)
            bold = QFont(self.font())
            bold.setBold(True)
            head_bold = QFont(self.horizontalHeader().font())
            head_bold.setBold(True)
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            marked_rows = set() if transposed else set(self.highlighted)
            marked_cols = set(self.highlighted) if transposed else set()
            for j in marked_cols:
                head = QTableWidgetItem(columns[j])
                head.setFont(head_bold)
                head.setForeground(QBrush(theme.ACCENT))
                self.setHorizontalHeaderItem(j, head)
            for i in range(n):
                head = QTableWidgetItem(rows[i])
                if i in marked_rows:
                    head.setFont(head_bold)
                    head.setForeground(QBrush(theme.ACCENT))
                self.setVerticalHeaderItem(i, head)
                for j in range(m):
                    item = QTableWidgetItem(cells[i][j] if i < len(cells) else "")
                    item.setTextAlignment(right)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                    if i in marked_rows or j in marked_cols:
                        item.setBackground(QBrush(HIGHLIGHT))
                        item.setFont(bold)
                    self.setItem(i, j, item)
        finally:
            self.setUpdatesEnabled(True)
        self.resizeColumnsToContents()
        self.resizeRowsToContents()
        self.selectionModel().clearCurrentIndex()
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt)
        """Just the table's contents (no empty band under the rows or beside them)."""
        if not self.rowCount():
            return QSize(0, 0)
        frame = 2 * self.frameWidth()
        v, h = self.verticalHeader(), self.horizontalHeader()
        bar = self.verticalScrollBar()
        room = bar.sizeHint().width() if bar.maximum() > 0 else 0  # rows cut: their scroll bar
        return QSize(
            max(v.width(), v.sizeHint().width()) + h.length() + frame + room,
            max(h.height(), h.sizeHint().height()) + v.length() + frame,
        )

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt)
        hint = self.sizeHint()
        return QSize(min(hint.width(), 120), min(hint.height(), 60))

    def item_at(self, row: int, column: int) -> QTableWidgetItem | None:
        """The item of the payload's ``cells[row][column]``, however the table is turned."""
        return self.item(column, row) if self.transposed else self.item(row, column)

    def text_of(self, everything: bool = False) -> str:
        """The selected cells (or all, with the headers) as tab-separated lines."""
        if everything or not self.selectedRanges():
            head = [""] + [
                self.horizontalHeaderItem(j).text() if self.horizontalHeaderItem(j) else ""
                for j in range(self.columnCount())
            ]
            lines = ["\t".join(head)]
            for i in range(self.rowCount()):
                label = self.verticalHeaderItem(i)
                cells = [
                    self.item(i, j).text() if self.item(i, j) else ""
                    for j in range(self.columnCount())
                ]
                lines.append("\t".join([label.text() if label else "", *cells]))
            return "\n".join(lines)
        chosen = {(ix.row(), ix.column()) for ix in self.selectedIndexes()}
        rows = sorted({r for r, _ in chosen})
        cols = sorted({c for _, c in chosen})
        return "\n".join(
            "\t".join(
                self.item(r, c).text() if (r, c) in chosen and self.item(r, c) else "" for c in cols
            )
            for r in rows
        )

    def copy_selection(self, everything: bool = False) -> None:
        QGuiApplication.clipboard().setText(self.text_of(everything))


class ArithmeticSheet(QWidget):
    """The title, the lines of formulas and the table (the view's "plot")."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("arithmeticSheet")
        self.setAutoFillBackground(True)
        palette = self.palette()
        palette.setColor(self.backgroundRole(), theme.CARD)
        self.setPalette(palette)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(6)
        self.title = QLabel(title)
        font = QFont()
        font.setPointSizeF(10.0)
        font.setBold(True)
        self.title.setFont(font)
        self.title.setWordWrap(True)
        self.title.setStyleSheet(f"color: {theme.TEXT.name()};")
        self.default_title = title
        self.lines = QLabel()
        self.lines.setTextFormat(Qt.TextFormat.PlainText)
        self.lines.setWordWrap(True)
        self.lines.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.lines.setStyleSheet(f"color: {theme.TEXT.name()};")
        self.lines.hide()
        self.table = ArithmeticTable()
        self.table.hide()
        layout.addWidget(self.title)
        layout.addWidget(self.lines)
        layout.addWidget(self.table, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)

    @property
    def painted(self) -> float:
        return self.table.painted

    def settle(self, live: bool = False) -> None:
        """Nothing to settle: the table is sized to its contents."""

    def reset_view(self) -> None:
        self.title.setText(self.default_title)
        self.lines.clear()
        self.lines.hide()
        self.table.set_table([], [], [], [])
        self.table.hide()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt)
        super().resizeEvent(event)
        self.table.arrange(self.table_width())

    def table_width(self) -> int:
        margins = self.layout().contentsMargins()
        return max(0, self.width() - margins.left() - margins.right())


class ArithmeticView(ViewWidget):
    """The last update worked by hand: formulas and values over a table of numbers (see the
    module's docstring for the payload)."""

    wide = True

    def __init__(self, view: View, parent: QWidget | None = None):
        super().__init__(view, parent)
        self.sheet: ArithmeticSheet = self.plot  # type: ignore[assignment]
        self.table = self.sheet.table
        self.lines = self.sheet.lines
        self.title = self.sheet.title

    def _make_plot(self) -> ArithmeticSheet:  # type: ignore[override]
        return ArithmeticSheet(self.view.title)

    def draw(self, payload: Mapping[str, Any]) -> None:
        title = str(payload.get("title") or self.view.title)
        if title != self.title.text():
            self.title.setText(title)
        lines = "\n".join(str(line) for line in payload.get("lines") or ())
        if lines != self.lines.text():
            self.lines.setText(lines)
        self.lines.setVisible(bool(lines))
        columns = [str(c) for c in payload.get("columns") or ()]
        rows = [str(r) for r in payload.get("rows") or ()]
        cells = [list(r) for r in payload.get("cells") or ()]
        highlight = [int(i) for i in payload.get("highlight") or ()]
        self.table.set_table(columns, rows, cells, highlight, self.sheet.table_width())
        self.table.setVisible(bool(rows or cells))
        self.set_note(str(payload.get("note") or ""))

    def cell_text(self, row: int, column: int) -> str:
        """The text shown for the payload's ``cells[row][column]``."""
        item = self.table.item_at(row, column)
        return item.text() if item is not None else ""

    def is_highlighted(self, row: int) -> bool:
        """Whether the payload's row ``row`` is drawn highlighted."""
        item = self.table.item_at(row, 0)
        return item is not None and item.background().color() == HIGHLIGHT
