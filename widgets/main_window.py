"""The main window: a read-only view of a project (the node editor comes later).

Each network is drawn on a canvas (a rounded box per layer with its type, name and output
shape; edges labelled with the tensor shape they carry) beside a summary table. Everything
shown comes from :func:`builder.summary.summarize`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from builder.summary import format_count, summarize
from graph.document import Network, Project

# One accent colour; the rest are neutral greys. Red only marks a layer in error.
ACCENT = QColor("#2563eb")
WINDOW = QColor("#eef0f3")
BACKGROUND = QColor("#f8f9fb")  # the canvas
CARD = QColor("#ffffff")
FRAME = QColor("#d0d7de")
BORDER = QColor("#c8cdd4")
TEXT = QColor("#1f2328")
MUTED = QColor("#59636e")
EDGE = QColor("#8b949e")
ERROR = QColor("#cf222e")

PAD_X, PAD_Y, LINE_GAP = 12.0, 8.0, 2.0
MIN_NODE_WIDTH = 104.0
MIN_ZOOM, MAX_ZOOM = 0.6, 1.25


def _font(base: QFont, scale: float = 1.0, bold: bool = False) -> QFont:
    font = QFont(base)
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    font.setBold(bold)
    return font


class NodeItem(QGraphicsItem):
    """A layer: a rounded box with its type (accent), name and output shape, centred on
    the node's position."""

    def __init__(self, row: dict[str, Any], base_font: QFont):
        super().__init__()
        self.row = row
        self.lines = [
            (row["type"], _font(base_font, 1.0, bold=True), ACCENT),
            (row["name"], _font(base_font), TEXT),
            (row["output"] or "?", _font(base_font, 0.9), MUTED),
        ]
        width = max(QFontMetricsF(f).horizontalAdvance(t) for t, f, _ in self.lines)
        height = sum(QFontMetricsF(f).height() for _, f, _ in self.lines)
        self.width = max(MIN_NODE_WIDTH, width + 2 * PAD_X)
        self.height = height + 2 * PAD_Y + LINE_GAP * (len(self.lines) - 1)
        tip = f"{row['type']} '{row['name']}'\nOutput: {row['output'] or '?'}"
        tip += f"\nParameters: {format_count(row['parameters'])}"
        if row["message"]:
            tip += f"\n\n{row['message']}"
        self.setToolTip(tip)
        self.setZValue(1)

    def boundingRect(self) -> QRectF:
        return QRectF(-self.width / 2 - 1, -self.height / 2 - 1, self.width + 2, self.height + 2)

    def rect(self) -> QRectF:
        return QRectF(-self.width / 2, -self.height / 2, self.width, self.height)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        status = self.row["status"]
        pen = QPen(ERROR if status == "error" else BORDER, 1.5 if status == "error" else 1.0)
        if status == "blocked":
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QBrush(CARD))
        painter.drawRoundedRect(self.rect(), 8, 8)
        y = -self.height / 2 + PAD_Y
        for text, font, color in self.lines:
            metrics = QFontMetricsF(font)
            painter.setFont(font)
            painter.setPen(color)
            box = QRectF(-self.width / 2, y, self.width, metrics.height())
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            y += metrics.height() + LINE_GAP

    def left(self) -> QPointF:
        return self.pos() + QPointF(-self.width / 2, 0)

    def right(self) -> QPointF:
        return self.pos() + QPointF(self.width / 2, 0)


class EdgeLabel(QGraphicsItem):
    """The shape an edge carries, on a background-coloured plate so the line does not
    run through the text."""

    def __init__(self, text: str, font: QFont):
        super().__init__()
        self.text, self.font = text, font
        metrics = QFontMetricsF(font)
        self.size = QRectF(0, 0, metrics.horizontalAdvance(text) + 6, metrics.height() + 2)
        self.setZValue(2)

    def boundingRect(self) -> QRectF:
        return self.size.translated(-self.size.width() / 2, -self.size.height() / 2)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        rect = self.boundingRect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BACKGROUND)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setFont(self.font)
        painter.setPen(MUTED)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.text)


class NetworkScene(QGraphicsScene):
    """A network drawn read-only at the positions stored in the project."""

    def __init__(self, net: Network, summary: dict[str, Any], base_font: QFont, parent=None):
        super().__init__(parent)
        self.setBackgroundBrush(BACKGROUND)
        rows = {row["id"]: row for row in summary["nodes"]}
        self.nodes: dict[str, NodeItem] = {}
        for node_id in net.nodes:
            item = NodeItem(rows[node_id], base_font)
            x, y = net.pos_of(node_id)
            item.setPos(x, y)
            self.addItem(item)
            self.nodes[node_id] = item
        label_font = _font(base_font, 0.8)
        self.edges: list[QGraphicsPathItem] = []
        self.labels: list[EdgeLabel] = []
        for edge in net.edges():
            src, dst = self.nodes[edge.src], self.nodes[edge.dst]
            shape = rows[edge.src]["outputs"].get(edge.src_port, "")
            self._add_edge(src, dst, shape, label_font)
        self.setSceneRect(self.itemsBoundingRect().adjusted(-40, -40, 40, 40))

    def _add_edge(self, src: NodeItem, dst: NodeItem, shape: str, font: QFont) -> None:
        a, b = src.right(), dst.left()
        path = QPainterPath(a)
        backwards = b.x() < a.x() + 20
        bend = max(40.0, abs(b.x() - a.x()) / 2)
        if abs(a.y() - b.y()) < 0.5 and not backwards:
            path.lineTo(b)
        else:
            path.cubicTo(a + QPointF(bend, 0), b - QPointF(bend, 0), b)
        line = QGraphicsPathItem(path)
        line.setPen(QPen(EDGE, 1.3))
        self.addItem(line)
        self.edges.append(line)
        # arrowhead at the destination
        head = QPolygonF([b, b + QPointF(-8, -4), b + QPointF(-8, 4)])
        arrow = QPainterPath()
        arrow.addPolygon(head)
        arrow.closeSubpath()
        tip = QGraphicsPathItem(arrow)
        tip.setPen(Qt.PenStyle.NoPen)
        tip.setBrush(EDGE)
        self.addItem(tip)
        if not shape:
            return
        label = EdgeLabel(shape, font)
        mid = path.pointAtPercent(0.5)
        if abs(a.y() - b.y()) < 0.5:
            if label.size.width() <= b.x() - a.x() - 6:
                # a caption just above the line, clear of the arrowhead
                label.setPos(mid.x(), mid.y() - label.size.height() / 2 - 4)
            else:
                # too wide for the gap: sit above the boxes, over the middle of the gap
                top = min(src.pos().y() - src.height / 2, dst.pos().y() - dst.height / 2)
                label.setPos(mid.x(), top - label.size.height() / 2 - 3)
        else:
            label.setPos(mid)
        self.addItem(label)
        self.labels.append(label)


class NetworkView(QGraphicsView):
    """The canvas view: fits the network at a readable zoom (scrolls when it is wider);
    Ctrl + wheel zooms."""

    def __init__(self, scene: NetworkScene, parent=None):
        super().__init__(scene, parent)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setObjectName("canvas")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._user_zoomed = False

    def fit(self) -> None:
        rect = self.sceneRect()
        view = self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return
        zoom = min(view.width() / rect.width(), view.height() / rect.height())
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        self.resetTransform()
        self.scale(zoom, zoom)
        # When it does not fit, show the beginning (the inputs) first.
        self.ensureVisible(QRectF(rect.left(), rect.center().y(), 1, 1), 0, 0)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if not self._user_zoomed:
            self.fit()

    def wheelEvent(self, event: Any) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            factor = 1.15 if event.angleDelta().y() > 0 else 1 / 1.15
            self.scale(factor, factor)
            self._user_zoomed = True
        else:
            super().wheelEvent(event)


class SummaryPanel(QWidget):
    """The layers of one network in a table, with the total parameter count below."""

    COLUMNS = ("Name", "Type", "Output shape", "Parameters")

    def __init__(self, summary: dict[str, Any], parent=None):
        super().__init__(parent)
        self.table = QTableWidget(len(summary["nodes"]), len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(summary["nodes"]):
            cells = (
                row["name"],
                row["type"],
                row["output"] or "?",
                format_count(row["parameters"]),
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 3:
                    item.setTextAlignment(right)
                if row["message"]:
                    item.setToolTip(row["message"])
                    if row["status"] == "error":
                        item.setForeground(ERROR)
                self.table.setItem(r, c, item)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        for c in range(len(self.COLUMNS)):
            self.table.horizontalHeaderItem(c).setTextAlignment(right if c == 3 else left)
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

        totals = summary["totals"]
        text = f"Total parameters: {format_count(totals['parameters'])}"
        self.total_label = QLabel(text, self)
        self.total_label.setObjectName("totalParameters")
        bold = self.total_label.font()
        bold.setBold(True)
        self.total_label.setFont(bold)
        self.total_parameters = totals["parameters"]
        self.problems_label = QLabel("\n".join(summary["problems"]), self)
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet(f"color: {ERROR.name()};")
        self.problems_label.setVisible(bool(summary["problems"]))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.total_label)
        layout.addWidget(self.problems_label)

    def preferred_width(self) -> int:
        """Wide enough for every column without clipping."""
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        width = sum(header.sectionSize(i) for i in range(header.count()))
        width += self.table.verticalScrollBar().sizeHint().width() + 2 * self.table.frameWidth()
        return width + 4


class NetworkPage(QSplitter):
    """One network: its canvas on the left, its summary on the right."""

    def __init__(self, net: Network, base_font: QFont, parent=None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.net = net
        self.summary = summarize(net)
        self.scene = NetworkScene(net, self.summary, base_font, self)
        self.view = NetworkView(self.scene, self)
        self.panel = SummaryPanel(self.summary, self)
        self.addWidget(self.view)
        self.addWidget(self.panel)
        self.setStretchFactor(0, 1)
        self.setStretchFactor(1, 0)
        self.setChildrenCollapsible(False)
        self.setHandleWidth(12)
        self._sized = False

    def showEvent(self, event: Any) -> None:
        # Column widths depend on the style sheet, which applies once the page is shown.
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            width = self.panel.preferred_width()
            self.panel.setMinimumWidth(width)
            self.setSizes([max(300, self.width() - width - self.handleWidth()), width])

    @property
    def table(self) -> QTableWidget:
        return self.panel.table

    @property
    def total_label(self) -> QLabel:
        return self.panel.total_label


class MainWindow(QMainWindow):
    """A read-only view of one project: a tab per network (the tab bar hides for one)."""

    def __init__(self, project: Project, path: str | Path | None = None, parent=None):
        super().__init__(parent)
        self.project = project
        self.path = Path(path) if path is not None else None
        file_name = self.path.name if self.path is not None else "Untitled"
        self.setWindowTitle(f"NeuralCanvas — {file_name}")
        self.setObjectName("mainWindow")
        self.setStyleSheet(
            f"QWidget#central {{ background: {WINDOW.name()}; }}"
            f" QLabel#projectTitle {{ color: {TEXT.name()}; }}"
            f" QGraphicsView#canvas, QTableWidget {{ border: 1px solid {FRAME.name()};"
            f" border-radius: 4px; background: {BACKGROUND.name()}; }}"
            f" QTableWidget {{ background: {CARD.name()}; }}"
            " QTableWidget::item { padding: 0px 6px; }"
            f" QHeaderView::section {{ background: {WINDOW.name()}; color: {TEXT.name()};"
            f" padding: 4px 9px; border: none; border-bottom: 1px solid {FRAME.name()};"
            " font-weight: 600; }"
        )

        central = QWidget(self)
        central.setObjectName("central")
        layout = QVBoxLayout(central)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)

        self.title_label = QLabel(project.name, central)
        self.title_label.setObjectName("projectTitle")
        title_font = self.title_label.font()
        title_font.setPointSizeF(title_font.pointSizeF() * 1.35)
        title_font.setBold(True)
        self.title_label.setFont(title_font)
        self.title_label.setWordWrap(True)
        layout.addWidget(self.title_label)
        if project.description:
            self.description_label = QLabel(project.description, central)
            self.description_label.setWordWrap(True)
            self.description_label.setStyleSheet(f"color: {MUTED.name()};")
            layout.addWidget(self.description_label)

        self.tabs = QTabWidget(central)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.setDocumentMode(True)
        self.pages: list[NetworkPage] = []
        for net in project.networks.values():
            page = NetworkPage(net, self.font(), self.tabs)
            self.pages.append(page)
            self.tabs.addTab(page, net.name)
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)

        where = str(self.path) if self.path is not None else "not saved"
        nets = len(project.networks)
        self.statusBar().showMessage(
            f"{where} — {nets} network{'s' if nets != 1 else ''}, read-only"
        )
        self.resize(1280, 760)
