"""Side panels that read the editor document: the problems list and the summary table.

Both refresh on :attr:`EditorDocument.shapes_checked` (debounced after edits) and never edit
anything; clicking a row asks the main window to select that layer via ``node_activated``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder.errors import GraphInvalidError
from builder.shapes import check_compilable
from builder.summary import format_count, summarize
from widgets import theme
from widgets.editor_document import EditorDocument

NODE_ROLE = Qt.ItemDataRole.UserRole + 1  # the node id of a row ("" for the whole network)


def _dot(colour: QColor, size: int = 10) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


def _scaled(font: QFont, scale: float, bold: bool = False) -> QFont:
    font = QFont(font)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    return font


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class _DocPanel(QWidget):
    """A panel bound to one document at a time, refreshed when its shapes are checked."""

    refresh_when_hidden = True

    def __init__(self, doc: EditorDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc: EditorDocument | None = None
        self._pending_doc = doc
        self._stale = False

    def set_document(self, doc: EditorDocument) -> None:
        """Show ``doc`` from now on (e.g. after File > Open)."""
        if self.doc is not None:
            self.doc.shapes_checked.disconnect(self._shapes_checked)
            self.doc.network_switched.disconnect(self._network_switched)
        self.doc = doc
        doc.shapes_checked.connect(self._shapes_checked)
        doc.network_switched.connect(self._network_switched)
        self.refresh()

    def _shapes_checked(self) -> None:
        if self.refresh_when_hidden or self.isVisible():
            self.refresh()
        else:
            self._stale = True  # e.g. behind another dock tab: refreshed when shown

    def _network_switched(self, name: str) -> None:
        self._shapes_checked()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


# ----------------------------------------------------------------------------- problems


class ProblemsPanel(_DocPanel):
    """What is wrong with the current network: one row per layer in error (its message says
    what to do), plus what the network as a whole lacks (an Input, an Output).

    Signals:
        node_activated(str): a layer's row was clicked or activated (Enter): select it.
        count_changed(int): the number of problems changed (e.g. for a dock tab's title).
    """

    node_activated = Signal(str)
    count_changed = Signal(int)

    def __init__(self, doc: EditorDocument, parent: QWidget | None = None):
        super().__init__(doc, parent)
        self.count = -1
        self.header = QLabel()
        self.header.setFont(_scaled(self.font(), 1.0, bold=True))
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.list.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.list.setSpacing(2)
        self.list.setUniformItemSizes(False)
        self.empty = QLabel("No problems")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.list)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addWidget(self.header)
        layout.addWidget(self.stack, 1)
        self._icon = _dot(theme.ERROR)
        self.list.itemClicked.connect(self._activated)
        self.list.itemActivated.connect(self._activated)
        self.set_document(self._pending_doc)

    def problems(self) -> list[tuple[str, str]]:
        """``(node id, message)`` per problem shown; the node id is "" for the network."""
        net = self.doc.net
        results = self.doc.results()
        rows = [
            (n, results[n].message)
            for n in net.topological_order()
            if n in results and results[n].status == "error"
        ]
        try:
            check_compilable(net, results)
        except GraphInvalidError as exc:
            for name, message in exc.problems:
                if not name:  # the network as a whole; layers are listed above
                    rows.append(("", f"Network '{net.name}' {message.removeprefix('it ')}"))
        return rows

    def refresh(self) -> None:
        rows = self.problems()
        self.list.clear()
        for node_id, message in rows:
            item = QListWidgetItem(self._icon, message)
            item.setData(NODE_ROLE, node_id)
            item.setToolTip(message + ("\n\nClick to select the layer." if node_id else ""))
            self.list.addItem(item)
        self.header.setText(_plural(len(rows), "problem") if rows else "Problems")
        self.header.setStyleSheet(f"color: {(theme.ERROR if rows else theme.TEXT).name()};")
        self.stack.setCurrentWidget(self.list if rows else self.empty)
        self._stale = False
        if len(rows) != self.count:
            self.count = len(rows)
            self.count_changed.emit(self.count)

    def _activated(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_activated.emit(node_id)


# ----------------------------------------------------------------------------- summary


class SummaryPanel(_DocPanel):
    """The network's parameter total (as ``neuralcanvas summary`` prints it: the parameters
    of the layers that feed an Output) and a table of every layer: name, type, output shape,
    parameters. Layers in error are red; layers that feed no Output (not compiled) grey.

    Signals:
        node_activated(str): a row was clicked or activated (Enter): select that layer.
    """

    node_activated = Signal(str)
    COLUMNS = ("Layer", "Type", "Output shape", "Params")
    refresh_when_hidden = False  # 500 layers take ~20 ms: not while behind another tab

    def __init__(self, doc: EditorDocument, parent: QWidget | None = None):
        super().__init__(doc, parent)
        self.summary: dict[str, Any] = {}
        self.total_label = QLabel("0")
        self.total_label.setFont(_scaled(self.font(), 1.9, bold=True))
        self.total_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.total_caption = QLabel("parameters")
        self.total_caption.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.detail_label = QLabel()
        self.detail_label.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.detail_label.setWordWrap(True)

        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.horizontalHeaderItem(3).setTextAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        header = self.table.horizontalHeader()
        header.setHighlightSections(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(40)

        total = QHBoxLayout()
        total.setSpacing(6)
        total.addWidget(self.total_label, 0, Qt.AlignmentFlag.AlignBaseline)
        total.addWidget(self.total_caption, 0, Qt.AlignmentFlag.AlignBaseline)
        total.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(2)
        layout.addLayout(total)
        layout.addWidget(self.detail_label)
        layout.addSpacing(6)
        layout.addWidget(self.table, 1)

        self.table.cellClicked.connect(self._row_activated)
        self.table.cellActivated.connect(self._row_activated)
        self.set_document(self._pending_doc)

    def refresh(self) -> None:
        self.summary = summary = summarize(self.doc.net)
        totals = summary["totals"]
        self.total_label.setText(format_count(totals["parameters"]))
        self.total_caption.setText("parameter" if totals["parameters"] == 1 else "parameters")
        errors = totals["errors"]
        unused = sum(1 for n in summary["nodes"] if not n["used"])
        detail = [_plural(totals["nodes"], "layer")]
        detail.append(_plural(errors, "error") if errors else "no errors")
        if unused:
            detail.append(f"{unused:,} not connected to an Output (not counted)")
        self.detail_label.setText(" · ".join(detail))
        self.detail_label.setStyleSheet(
            f"color: {(theme.ERROR if errors else theme.MUTED).name()};"
        )
        self._fill(summary["nodes"])
        self._stale = False

    def _fill(self, nodes: list[dict[str, Any]]) -> None:
        table = self.table
        table.setUpdatesEnabled(False)
        try:
            table.clearContents()
            table.setRowCount(len(nodes))
            right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            error_brush, muted_brush = QBrush(theme.ERROR), QBrush(theme.MUTED)
            for row, node in enumerate(nodes):
                cells = (
                    node["name"],
                    node["type"],
                    node["output"] or "?",
                    format_count(node["parameters"]),
                )
                if node["status"] == "error" or node["status"] == "blocked":
                    tip = node["message"]
                elif not node["used"]:
                    tip = "Not connected to an Output: not compiled, not counted in the total."
                else:
                    tip = ""
                brush = (
                    error_brush
                    if node["status"] == "error"
                    else muted_brush
                    if node["status"] == "blocked" or not node["used"]
                    else None
                )
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    if column == 3:
                        item.setTextAlignment(right)
                    if brush is not None:
                        item.setForeground(brush)
                    if tip:
                        item.setToolTip(tip)
                    table.setItem(row, column, item)
                table.item(row, 0).setData(NODE_ROLE, node["id"])
            self._size_columns(nodes)
            table.setCurrentCell(-1, -1)
        finally:
            table.setUpdatesEnabled(True)

    def _size_columns(self, nodes: list[dict[str, Any]]) -> None:
        """Type, shape and params as wide as their longest text (measured, not by asking
        every item: cheap for 500 rows); the name takes the rest."""
        metrics = self.table.fontMetrics()
        header_metrics = self.table.horizontalHeader().fontMetrics()
        keys = (None, "type", "output", "parameters")
        for column in (1, 2, 3):
            key = keys[column]
            texts = {format_count(n[key]) if column == 3 else n[key] or "?" for n in nodes}
            widest = max((metrics.horizontalAdvance(t) for t in texts), default=0)
            title = header_metrics.horizontalAdvance(self.COLUMNS[column]) + 8
            self.table.setColumnWidth(column, max(widest, title) + 18)

    def node_ids(self) -> list[str]:
        """The node id of each row, top to bottom."""
        return [self.table.item(r, 0).data(NODE_ROLE) for r in range(self.table.rowCount())]

    def _row_activated(self, row: int, column: int) -> None:
        item = self.table.item(row, 0)
        if item is not None:
            self.node_activated.emit(item.data(NODE_ROLE))
