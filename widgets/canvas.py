"""The node editor: a view of the network being edited (``EditorDocument.net``).

The canvas draws the document and listens to it: each document event (``doc.edited``)
updates only the items it concerns, and ``doc.shapes_checked`` refreshes the cards and
edge labels whose shape-inference result changed. The canvas edits only by pushing undo
commands (:mod:`widgets.commands`); a command that is refused raises ``EditError`` before
anything changes, and the canvas shows its message. Undo therefore never touches a drawn
item: it edits the document, whose events redraw the canvas.

A node's position in the document is the centre of its card.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, QRectF, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QCursor,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPixmap,
    QPolygonF,
    QTransform,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsScene,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QToolTip,
    QWidget,
)

from builder.catalog.layers import CATALOG
from builder.catalog.spec import LayerSpec, Shape
from builder.shapes import NodeInfo
from graph.document import (
    Edge,
    EdgeAdded,
    EdgeRemoved,
    Event,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    TrainableChanged,
)
from graph.errors import EditError
from widgets import theme
from widgets.commands import AddNode, Connect, Disconnect, MoveNodes, RemoveNodes
from widgets.editor_document import EditorDocument

LAYER_MIME = "application/x-neuralcanvas-layer"
"""Drag-and-drop MIME type of a palette entry; the data is the layer type id (UTF-8)."""

MIN_ZOOM, MAX_ZOOM = 0.2, 3.0
FIT_MAX_ZOOM = 1.0  # fit() never magnifies a small network beyond its natural size
FIT_MARGIN = 40.0
SCENE_MARGIN = 10_000.0  # room to pan around the network

CARD_W, CARD_H = 150.0, 68.0
CARD_RADIUS = 7.0
STRIPE_W = 5.0
PAD_X = 9.0
PORT_R = 4.5
PORT_HIT_R = 9.0  # a port is easier to grab than it looks
PORT_GAP = 18.0  # vertical distance between ports on one side
PORT_LABEL_GAP = 4.0
BADGE_R = 6.0
ARROW_LEN, ARROW_HALF = 7.0, 3.5
TEXT_LOD = 0.55  # below this zoom a card shows only its name, in a large font
NAME_LOD = 0.27  # below this, not even that (the card and its stripe only)
MIN_TEXT_W = 112.0  # a card with port labels widens to keep this much room for its text
GRID = 20.0
GRID_MIN_PX = 10.0  # dots closer than this on screen get thinned out

Z_EDGE, Z_NODE, Z_LABEL, Z_RUBBER = 0.0, 1.0, 2.0, 10.0


# ----------------------------------------------------------------------------- style


class _Style:
    """Fonts, metrics, pens and brushes, built once (never per paint)."""

    def __init__(self) -> None:
        base = QFont(QGuiApplication.font())

        def font(px: int, bold: bool = False) -> QFont:
            f = QFont(base)
            f.setPixelSize(px)
            f.setBold(bold)
            return f

        self.small = font(11)
        self.name = font(13, bold=True)
        self.tiny = font(10)  # a card's type and count, port and edge labels
        self.far = font(20, bold=True)  # a card's name when zoomed far out
        self.far_m = QFontMetricsF(self.far)
        self.small_m = QFontMetricsF(self.small)
        self.name_m = QFontMetricsF(self.name)
        self.tiny_m = QFontMetricsF(self.tiny)

        self.card = QBrush(theme.CARD)
        self.error_fill = QBrush(theme.ERROR_FILL)
        self.border = QPen(theme.BORDER, 1.0)
        self.selected = QPen(theme.SELECTION, 2.0)
        self.error = QPen(theme.ERROR, 1.6)
        self.blocked = QPen(theme.BLOCKED, 1.3, Qt.PenStyle.DashLine)
        self.text = QPen(theme.TEXT)
        self.muted = QPen(theme.MUTED)
        self.error_text = QPen(theme.ERROR)

        self.port_pen = QPen(theme.EDGE, 1.2)
        self.port_free = QBrush(theme.CARD)
        self.port_used = QBrush(theme.EDGE)
        self.port_ok = QBrush(theme.ACCENT)
        self.port_bad = QBrush(theme.ERROR)
        self.port_ok_pen = QPen(theme.ACCENT, 1.5)
        self.port_bad_pen = QPen(theme.ERROR, 1.5)

        self.edge = QPen(theme.EDGE, 1.4)
        self.edge.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.edge_selected = QPen(theme.SELECTION, 2.4)
        self.edge_selected.setCapStyle(Qt.PenCapStyle.RoundCap)
        self.arrow = QBrush(theme.EDGE)
        self.arrow_selected = QBrush(theme.SELECTION)
        self.rubber = QPen(theme.ACCENT, 1.6, Qt.PenStyle.DashLine)
        self.rubber.setCosmetic(True)

        self.label_fill = QBrush(theme.CARD)
        self.label_border = QPen(theme.FRAME, 1.0)
        self.label_selected = QPen(theme.SELECTION, 1.2)

        self.badge_ring = QPen(theme.CARD, 2.0)

        self.canvas = QBrush(theme.CANVAS)
        self.grid = QPen(theme.CANVAS_GRID, 2.0)
        self.grid.setCosmetic(True)
        self.grid.setCapStyle(Qt.PenCapStyle.RoundCap)


_STYLE: _Style | None = None


def style() -> _Style:
    global _STYLE
    if _STYLE is None:
        _STYLE = _Style()
    return _STYLE


# ----------------------------------------------------------------------------- text


def format_params(n: int) -> str:
    """``1450`` -> ``1,450 params``; large counts are shortened (``236K``, ``23.5M``)."""
    if n < 100_000:
        text = f"{n:,}"
    elif n < 999_500:
        text = f"{round(n / 1e3)}K"
    else:
        text = f"{n / 1e6:.3g}M"
    return f"{text} param" + ("" if n == 1 else "s")


def _num(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _size(v: Any, dims: int = 2) -> str:
    """A kernel size: ``3`` -> ``3×3`` (2-d), ``(3, 5)`` -> ``3×5``."""
    if isinstance(v, (tuple, list)):
        return "×".join(str(x) for x in v)
    return "×".join([str(v)] * dims)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def key_params(type_id: str, params: Mapping[str, Any], info: NodeInfo | None) -> str:
    """The one line of a card that says what a layer is set to: the 1–2 most telling
    parameters (``16 filters · 3×3``, ``8 units``, ``p=0.5``), or the shape for an Input."""
    p = params
    ins = info.inputs if info is not None else {}
    if type_id == "Input":
        text = str(Shape.of(*p["shape"]))
        return text + (f" · {p['dtype']}" if p.get("dtype", "float32") != "float32" else "")
    if type_id == "Output":
        shape = ins.get("in")
        return f"gets {shape}" if shape is not None else ""
    if type_id == "Linear":
        return _plural(p["out_features"], "unit") + ("" if p["bias"] else " · no bias")
    if type_id in ("Conv1d", "Conv2d", "ConvTranspose2d"):
        dims = 1 if type_id == "Conv1d" else 2
        text = f"{_plural(p['out_channels'], 'filter')} · {_size(p['kernel_size'], dims)}"
        stride = p.get("stride", 1)
        if stride not in (1, (1,) * dims):
            text += f" · stride {_size(stride, 1)}"
        return text
    if type_id in ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"):
        dims = 1 if type_id.endswith("1d") else 2
        text = _size(p["kernel_size"], dims)
        stride = p.get("stride")
        if stride is not None and stride != p["kernel_size"]:
            text += f" · stride {_size(stride, 1)}"
        return text
    if type_id == "AdaptiveAvgPool2d":
        return f"to {_size(p['output_size'])}"
    if type_id == "Reshape":
        return "to " + str(Shape.of(*p["shape"]))
    if type_id == "Flatten":
        return ""
    if type_id == "Dropout":
        return f"p={_num(p['p'])}"
    if type_id in ("BatchNorm1d", "BatchNorm2d"):
        shape = ins.get("in")
        if shape is not None and len(shape) > 1:
            return _plural(shape[1], "channel" if type_id == "BatchNorm2d" else "feature")
        return f"momentum {_num(p['momentum'])}"
    if type_id == "LayerNorm":
        return "last dim" if p["dims"] == 1 else f"last {p['dims']} dims"
    if type_id == "Embedding":
        return f"{p['num_embeddings']} tokens → {p['embedding_dim']}"
    if type_id in ("RNN", "LSTM", "GRU"):
        text = f"{p['hidden_size']} hidden"
        if p["num_layers"] > 1:
            text += f" × {p['num_layers']}"
        if p["bidirectional"]:
            text += " · bidir"
        return text + f" · {p['output']}"
    if type_id == "MultiheadAttention":
        return _plural(p["num_heads"], "head")
    if type_id in ("Add", "Multiply"):
        return _plural(p["num_inputs"], "input")
    if type_id == "Concat":
        return f"{_plural(p['num_inputs'], 'input')} · dim {p['dim']}"
    if type_id == "LeakyReLU":
        return f"slope {_num(p['negative_slope'])}"
    if type_id == "ELU":
        return f"α={_num(p['alpha'])}"
    if type_id == "GELU":
        return "tanh approx." if p["approximate"] != "none" else ""
    if type_id == "PReLU":
        return ("per channel · " if p["per_channel"] else "") + f"init {_num(p['init_slope'])}"
    if type_id in ("Softmax", "LogSoftmax"):
        return f"dim {p['dim']}"
    if type_id == "Step":
        return f"threshold {_num(p['threshold'])}"
    for key, value in p.items():  # anything else: its first parameter
        if key != "init":
            return f"{key} {_num(value)}"
    return ""


def _two_lines(text: str, metrics: QFontMetricsF, width: float) -> str:
    """``text`` on one line if it fits, else broken after an ``_``, ``-``, ``.`` or space
    into two lines that do (``block1_`` / ``conv1``), else elided in the middle."""
    if metrics.horizontalAdvance(text) <= width:
        return text
    for i in range(len(text) - 1, 0, -1):
        if text[i - 1] in "_-. ":
            head, tail = text[:i].rstrip(), text[i:]
            if metrics.horizontalAdvance(head) <= width:
                middle = Qt.TextElideMode.ElideMiddle
                return f"{head}\n{metrics.elidedText(tail, middle, width)}"
    return metrics.elidedText(text, Qt.TextElideMode.ElideMiddle, width)


def _html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


# ----------------------------------------------------------------------------- items


class PortItem(QGraphicsItem):
    """A small circle on the edge of a card: an input (left) or an output (right)."""

    def __init__(self, node: NodeItem, name: str, output: bool):
        super().__init__(node)
        self.node = node
        self.name = name
        self.output = output
        self.connected = 0  # number of edges on this port
        self.highlight: str | None = None  # "ok" / "bad" while a connection is dragged
        self.setZValue(1)
        self.setCursor(Qt.CursorShape.CrossCursor)

    @property
    def node_id(self) -> str:
        return self.node.node_id

    def boundingRect(self) -> QRectF:
        return QRectF(-PORT_HIT_R, -PORT_HIT_R, 2 * PORT_HIT_R, 2 * PORT_HIT_R)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addEllipse(self.boundingRect())
        return path

    def set_highlight(self, state: str | None) -> None:
        if state != self.highlight:
            self.highlight = state
            self.update()

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        if (
            not self.highlight
            and option.levelOfDetailFromTransform(painter.worldTransform()) < NAME_LOD
        ):
            return  # a dot of a pixel this far out: the cards and edges carry the picture
        s = style()
        r = PORT_R
        if self.highlight == "ok":
            painter.setPen(s.port_ok_pen)
            painter.setBrush(s.port_ok)
            r += 2
        elif self.highlight == "bad":
            painter.setPen(s.port_bad_pen)
            painter.setBrush(s.port_bad)
            r += 2
        else:
            painter.setPen(s.port_pen)
            painter.setBrush(s.port_used if self.connected else s.port_free)
        painter.drawEllipse(QPointF(0, 0), r, r)

    def edge_point(self) -> QPointF:
        """Where an edge meets this port (the circle's outer side), in scene coordinates."""
        p = self.scenePos()
        return QPointF(p.x() + PORT_R, p.y()) if self.output else QPointF(p.x() - PORT_R, p.y())


class BadgeItem(QGraphicsItem):
    """A small round badge on a card's top-right corner (gradient health and such)."""

    def __init__(self, node: NodeItem):
        super().__init__(node)
        self.colour = QBrush(theme.MUTED)
        self.setZValue(2)

    def boundingRect(self) -> QRectF:
        r = BADGE_R + 1.5
        return QRectF(-r, -r, 2 * r, 2 * r)

    def set_colour(self, colour: QColor) -> None:
        self.colour = QBrush(colour)
        self.update()

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        painter.setPen(style().badge_ring)
        painter.setBrush(self.colour)
        painter.drawEllipse(QPointF(0, 0), BADGE_R, BADGE_R)


class NodeItem(QGraphicsItem):
    """A layer: a rounded card with a category stripe, its type, name, key parameters and
    parameter count; input ports on the left edge, output ports on the right."""

    def __init__(self, canvas: Canvas, node_id: str, info: NodeInfo | None = None):
        super().__init__()
        self.canvas = canvas
        self.node_id = node_id
        self.info: NodeInfo | None = info
        self.edges: list[EdgeItem] = []
        self.inputs: dict[str, PortItem] = {}
        self.outputs: dict[str, PortItem] = {}
        self.badge: BadgeItem | None = None
        self.w, self.h = CARD_W, CARD_H
        self._rect = QRectF()
        self._bounds = QRectF()
        self._stripe = QPainterPath()
        self._stripe_brush = QBrush()
        self._texts: list[tuple[QFont, QPen, QRectF, int, str]] = []
        self._far: tuple[QFont, QPen, QRectF, int, str] | None = None
        self._shown: tuple[Any, ...] = ()  # what the texts show that depends on the info
        self.frozen = False  # a layer whose weights training keeps (drawn dashed)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(Z_NODE)
        net = canvas.doc.net
        self.setPos(*net.pos_of(node_id))
        self.refresh()

    # ------------------------------------------------------------------ data
    @property
    def spec(self) -> LayerSpec:
        return CATALOG[self.canvas.doc.net.type_of(self.node_id)]

    def refresh(self) -> None:
        """Re-read the node from the document: ports, size, texts, tooltip."""
        net = self.canvas.doc.net
        params = net.params_of(self.node_id)
        spec = self.spec
        ins, outs = spec.input_ports(params), spec.output_ports(params)
        if list(self.inputs) != ins or list(self.outputs) != outs:
            self._rebuild_ports(ins, outs)
        self._layout()
        self._tooltips()

    def set_info(self, info: NodeInfo | None) -> None:
        self.info = info
        if self._info_key() != self._shown:  # most re-checks change no text on the card
            self._layout()
        self._tooltips()

    def _info_key(self) -> tuple[Any, ...]:
        info = self.info
        if info is None:
            return (None,)
        net = self.canvas.doc.net
        detail = key_params(net.type_of(self.node_id), net.params_of(self.node_id), info)
        return (info.status, info.params if info.ok else 0, detail)

    def _rebuild_ports(self, ins: list[str], outs: list[str]) -> None:
        scene = self.scene()
        for port in [*self.inputs.values(), *self.outputs.values()]:
            if scene is not None:
                scene.removeItem(port)
            port.setParentItem(None)
        self.inputs = {name: PortItem(self, name, False) for name in ins}
        self.outputs = {name: PortItem(self, name, True) for name in outs}
        for edge in self.edges:
            for port in (edge.src_port_item(), edge.dst_port_item()):
                if port is not None and port.node is self:
                    port.connected += 1

    # ------------------------------------------------------------------ geometry
    def _layout(self) -> None:
        s = style()
        net = self.canvas.doc.net
        type_id = net.type_of(self.node_id)
        name = net.name_of(self.node_id)
        info = self.info
        col_in = self._label_column(self.inputs)
        col_out = self._label_column(self.outputs)
        most = max(len(self.inputs), len(self.outputs), 1)
        w = max(CARD_W, MIN_TEXT_W + STRIPE_W + 2 * PAD_X + col_in + col_out)
        h = max(CARD_H, PORT_GAP * most + 14.0)
        if (w, h) != (self.w, self.h) or self._rect.isNull():
            self.prepareGeometryChange()
            self.w, self.h = w, h
            self._rect = QRectF(-w / 2, -h / 2, w, h)
            m = max(PORT_HIT_R, BADGE_R + 2)
            self._bounds = self._rect.adjusted(-m, -m, m, m)
            card = QPainterPath()
            card.addRoundedRect(self._rect, CARD_RADIUS, CARD_RADIUS)
            strip = QPainterPath()
            strip.addRect(QRectF(-w / 2, -h / 2, STRIPE_W, h))
            self._stripe = card.intersected(strip)
        self._stripe_brush = QBrush(theme.category_colour(self.spec.category))
        self._place_ports()
        if self.badge is not None:
            self.badge.setPos(w / 2 - 3, -h / 2 + 3)

        # Four rows at fixed heights (names line up along a chain): type, name, key
        # parameters, parameter count (right-aligned).
        x0 = -w / 2 + STRIPE_W + PAD_X + col_in
        x1 = w / 2 - PAD_X - col_out
        tw = x1 - x0
        rows = (s.tiny_m.height(), s.name_m.height(), s.small_m.height(), s.tiny_m.height())
        gap = 1.0
        top = -(sum(rows) + gap * (len(rows) - 1)) / 2
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        elide = Qt.TextElideMode.ElideRight
        error = info is not None and info.status == "error"
        detail = key_params(type_id, net.params_of(self.node_id), info)
        count = format_params(info.params) if info is not None and info.ok and info.params else ""
        self.frozen = not net.trainable_of(self.node_id)
        if self.frozen:  # training keeps its weights: said on the card, its border dashed
            count = f"frozen · {count}" if count else "frozen"
        lines = (
            (s.tiny, s.tiny_m, s.muted, left, type_id),
            (s.name, s.name_m, s.error_text if error else s.text, left, name),
            (s.small, s.small_m, s.text, left, detail),
            (s.tiny, s.tiny_m, s.muted, right, count),
        )
        texts: list[tuple[QFont, QPen, QRectF, int, str]] = []
        y = top
        for (font, metrics, pen, align, text), height in zip(lines, rows):
            if text:
                shown = metrics.elidedText(text, elide, tw)
                texts.append((font, pen, QRectF(x0, y, tw, height), align, shown))
            y += height + gap
        # Zoomed far out only the name is drawn, large enough to stay legible.
        far_w = w - STRIPE_W - 2 * PAD_X
        self._far = (
            s.far,
            s.error_text if error else s.text,
            QRectF(-w / 2 + STRIPE_W + PAD_X, -h / 2, far_w, h),
            Qt.AlignmentFlag.AlignCenter,
            _two_lines(name, s.far_m, far_w),
        )
        # port names, inside the card next to their port, when a side has several
        for ports, col, align in ((self.inputs, col_in, left), (self.outputs, col_out, right)):
            if not col:
                continue
            for port in ports.values():
                py = port.pos().y()
                if port.output:
                    box = QRectF(w / 2 - PORT_R - 5 - col, py - 7, col, 14)
                else:
                    box = QRectF(-w / 2 + PORT_R + 5, py - 7, col, 14)
                texts.append((s.tiny, s.muted, box, align, port.name))
        self._texts = texts
        self._shown = (
            (info.status, info.params if info.ok else 0, detail) if info is not None else (None,)
        )
        self.update()

    @staticmethod
    def _label_column(ports: dict[str, PortItem]) -> float:
        if len(ports) < 2:
            return 0.0
        m = style().tiny_m
        return max(m.horizontalAdvance(name) for name in ports) + PORT_LABEL_GAP

    def _place_ports(self) -> None:
        for ports, x in ((self.inputs, -self.w / 2), (self.outputs, self.w / 2)):
            n = len(ports)
            for i, port in enumerate(ports.values()):
                port.setPos(x, (i - (n - 1) / 2) * PORT_GAP)

    def _tooltips(self) -> None:
        spec = self.spec
        net = self.canvas.doc.net
        info = self.info
        title = f"<b>{_html(spec.type_id)}</b> '{_html(net.name_of(self.node_id))}'"
        if info is not None and info.status == "error":
            tip = _html(info.message)
        elif info is not None and info.status == "blocked":
            tip = f"{title}<br>{_html(info.message)}"
        else:
            tip = f"{title}<br>{_html(spec.help)}"
            if info is not None:
                shapes = info.outputs
                if spec.type_id == "Output":
                    shapes = info.inputs
                if len(shapes) == 1:
                    tip += f"<br><br>Output: {_html(str(next(iter(shapes.values()))))}"
                elif shapes:
                    tip += "<br><br>Outputs: " + ", ".join(
                        f"{_html(port)} {_html(str(shape))}" for port, shape in shapes.items()
                    )
                if info.params:
                    tip += f"<br>Parameters: {info.params:,}"
        self.setToolTip(f"<qt>{tip}</qt>")
        outputs = info.outputs if info is not None and info.ok else {}
        inputs = info.inputs if info is not None else {}
        for port in self.outputs.values():
            shape = outputs.get(port.name)
            port.setToolTip(f"{port.name}: {shape}" if shape is not None else port.name)
        for port in self.inputs.values():
            shape = inputs.get(port.name)
            port.setToolTip(f"{port.name}: {shape}" if shape is not None else port.name)

    # ------------------------------------------------------------------ badge
    def set_badge(self, colour: QColor | None, tooltip: str = "") -> None:
        if colour is None:
            if self.badge is not None:
                self.badge.hide()
            return
        if self.badge is None:
            self.badge = BadgeItem(self)
            self.badge.setPos(self.w / 2 - 3, -self.h / 2 + 3)
        colour = QColor(colour)
        if self.badge.colour.color() != colour:  # an unchanged badge is not repainted
            self.badge.set_colour(colour)
        self.badge.setToolTip(tooltip)
        self.badge.show()

    # ------------------------------------------------------------------ QGraphicsItem
    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self._rect, CARD_RADIUS, CARD_RADIUS)
        return path

    def card_rect(self) -> QRectF:
        """The card in scene coordinates."""
        return self._rect.translated(self.pos())

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_geometry()
        return super().itemChange(change, value)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: Any = None
    ) -> None:
        s = style()
        info = self.info
        status = info.status if info is not None else "ok"
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(s.error_fill if status == "error" else s.card)
        painter.drawRoundedRect(self._rect, CARD_RADIUS, CARD_RADIUS)
        painter.fillPath(self._stripe, self._stripe_brush)
        if self.isSelected():
            pen = s.selected
        elif status == "error":
            pen = s.error
        elif status == "blocked":
            pen = s.blocked
        else:
            pen = s.border
        if self.frozen and not self.isSelected():
            pen = QPen(pen)
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(self._rect, CARD_RADIUS, CARD_RADIUS)
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod >= TEXT_LOD:
            for font, text_pen, rect, align, text in self._texts:
                painter.setFont(font)
                painter.setPen(text_pen)
                painter.drawText(rect, align, text)
        elif lod >= NAME_LOD:
            font, text_pen, rect, align, text = self._far
            painter.setFont(font)
            painter.setPen(text_pen)
            painter.drawText(rect, align, text)


class EdgeLabel(QGraphicsItem):
    """The tensor shape an edge carries, on a small rounded plate; a click selects the edge."""

    def __init__(self, edge: EdgeItem):
        super().__init__()
        self.edge = edge
        self.text = ""
        self._rect = QRectF()
        self.setZValue(Z_LABEL)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setVisible(False)

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.prepareGeometryChange()
        self.text = text
        m = style().tiny_m
        w, h = m.horizontalAdvance(text) + 10, m.height() + 3
        self._rect = QRectF(-w / 2, -h / 2, w, h)
        self.setVisible(bool(text))
        self.update()

    def size(self) -> QRectF:
        return self._rect

    def boundingRect(self) -> QRectF:
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: Any = None
    ) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < TEXT_LOD:
            return  # unreadable this far out
        s = style()
        painter.setPen(s.label_selected if self.edge.isSelected() else s.label_border)
        painter.setBrush(s.label_fill)
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(s.tiny)
        painter.setPen(s.muted)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)

    def mousePressEvent(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            scene = self.scene()
            adding = event.modifiers() & (
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
            )
            if adding:
                self.edge.setSelected(not self.edge.isSelected())
            else:
                if scene is not None:
                    scene.clearSelection()
                self.edge.setSelected(True)
            event.accept()
        else:
            event.ignore()


class EdgeItem(QGraphicsItem):
    """A connection: a smooth curve from an output port to an input port with an arrow
    head, and a label with the shape it carries."""

    def __init__(self, canvas: Canvas, edge: Edge, src: NodeItem, dst: NodeItem):
        super().__init__()
        self.canvas = canvas
        self.edge = edge
        self.src = src
        self.dst = dst
        self.label = EdgeLabel(self)
        self._path = QPainterPath()
        self._shape: QPainterPath | None = None
        self._arrow = QPolygonF()
        self._bounds = QRectF()
        self._ends: tuple[QPointF, QPointF] | None = None
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(Z_EDGE)

    def src_port_item(self) -> PortItem | None:
        return self.src.outputs.get(self.edge.src_port)

    def dst_port_item(self) -> PortItem | None:
        return self.dst.inputs.get(self.edge.dst_port)

    def update_geometry(self) -> None:
        sp, dp = self.src_port_item(), self.dst_port_item()
        if sp is None or dp is None:
            return
        a, tip = sp.edge_point(), dp.edge_point()
        end = QPointF(tip.x() - ARROW_LEN, tip.y())
        dx, dy = end.x() - a.x(), end.y() - a.y()
        path = QPainterPath(a)
        if dx > 0 and abs(dy) < 0.5:
            path.lineTo(end)
        else:
            bend = max(30.0, min(abs(dx) * 0.5, 160.0)) if dx > 0 else 60.0 + abs(dy) * 0.2
            path.cubicTo(QPointF(a.x() + bend, a.y()), QPointF(end.x() - bend, end.y()), end)
        self.prepareGeometryChange()
        self._path = path
        self._arrow = QPolygonF(
            [
                tip,
                QPointF(end.x(), tip.y() - ARROW_HALF),
                QPointF(end.x(), tip.y() + ARROW_HALF),
            ]
        )
        self._shape = None  # made when a hit test asks for it
        self._bounds = path.boundingRect().united(self._arrow.boundingRect()).adjusted(-3, -3, 3, 3)
        self._ends = (a, end)
        self._place_label(a, end)

    def _place_label(self, a: QPointF, end: QPointF) -> None:
        label = self.label
        if not label.text:
            return
        # A symmetric cubic's midpoint (t = 0.5) is the midpoint of its ends.
        mid = QPointF((a.x() + end.x()) / 2, (a.y() + end.y()) / 2)
        rect = label.size().translated(mid)
        # Keep clear of the ports (they stick out of the cards) so a press on a port
        # never lands on the label.
        src = self.src.card_rect().adjusted(-12, 0, 12, 0)
        dst = self.dst.card_rect().adjusted(-12, 0, 12, 0)
        if rect.intersects(src) or rect.intersects(dst):
            # Too little room between the cards: sit above them, over the middle of the gap.
            top = min(src.top(), dst.top())
            mid = QPointF(mid.x(), top - rect.height() / 2 - 4)
        label.setPos(mid)

    def refresh_label(self) -> None:
        info = self.src.info
        shape = info.outputs.get(self.edge.src_port) if info is not None and info.ok else None
        text = str(shape) if shape is not None else ""
        if text != self.label.text:
            self.label.set_text(text)
            if self._ends is not None:
                self._place_label(*self._ends)

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)  # easy to click
            self._shape = stroker.createStroke(self._path)
            self._shape.addPolygon(self._arrow)
        return self._shape

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged:
            self.label.update()
        return super().itemChange(change, value)

    def paint(self, painter: QPainter, option: Any, widget: Any = None) -> None:
        s = style()
        selected = self.isSelected()
        far = option.levelOfDetailFromTransform(painter.worldTransform()) < TEXT_LOD
        smooth = painter.testRenderHint(QPainter.RenderHint.Antialiasing)
        if far:
            # far out, hundreds of edges on screen: hairlines without antialiasing draw
            # several times faster and look the same at this size (the view does not save
            # the painter between items: the hint is put back below)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(s.edge_selected if selected else s.edge)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(s.arrow_selected if selected else s.arrow)
        painter.drawPolygon(self._arrow)
        if far:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, smooth)


# ----------------------------------------------------------------------------- canvas


class Canvas(QGraphicsView):
    """The node editor of ``doc``'s current network.

    Signals:
        selection_changed(list): the ids of the selected nodes, when that list changes.
        message(str): something the user tried was refused; the text says why.
    """

    selection_changed = Signal(list)
    message = Signal(str)

    def __init__(self, doc: EditorDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc = doc
        self._scene = QGraphicsScene(self)
        self.setScene(self._scene)
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self._content = QRectF()
        self._last_selection: list[str] = []
        self._muted = False
        self._auto_fit = True
        self._space = False
        self._pan_from: QPoint | None = None
        self._pan_button = Qt.MouseButton.NoButton
        self._link_from: PortItem | None = None
        self._link_target: PortItem | None = None
        self._link_ok = False
        self._rubber: QGraphicsPathItem | None = None
        self._banding = False
        self._band_kept: list[EdgeItem] = []
        self._grid_tiles: dict[int, QBrush] = {}
        self._building = False

        style()
        self.setObjectName("canvas")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontSavePainterState, True)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)

        doc.edited.connect(self._on_edited)
        doc.shapes_checked.connect(self._on_shapes_checked)
        doc.network_switched.connect(self._on_network_switched)
        self._scene.selectionChanged.connect(self._on_selection_changed)
        self.rebuild()

    # ------------------------------------------------------------------ building
    def rebuild(self) -> None:
        """Draw the current network from scratch (on open and on a network switch)."""
        self._cancel_link()
        self._muted = True
        try:
            self._scene.clear()
        finally:
            self._muted = False
        self.nodes.clear()
        self.edges.clear()
        self._content = QRectF()
        net = self.doc.net
        results = self.doc.results()
        self._building = True  # one scene-rect update at the end, not one per node
        try:
            for node_id in net.nodes:
                self._add_node(node_id, results.get(node_id))
            for edge in net.edges():
                self._add_edge(edge)
        finally:
            self._building = False
        self._update_scene_rect(full=True)
        self._on_selection_changed()
        self._auto_fit = True
        self.fit()

    def _add_node(self, node_id: str, info: NodeInfo | None = None) -> NodeItem:
        item = NodeItem(self, node_id, info)
        self._scene.addItem(item)
        self.nodes[node_id] = item
        self._grow_content(item)
        return item

    def _remove_node(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is None:
            return
        for edge in list(item.edges):
            self._remove_edge(edge.edge)
        self._scene.removeItem(item)

    def _add_edge(self, edge: Edge) -> EdgeItem | None:
        src, dst = self.nodes.get(edge.src), self.nodes.get(edge.dst)
        if src is None or dst is None or edge in self.edges:
            return None
        item = EdgeItem(self, edge, src, dst)
        src.edges.append(item)
        if dst is not src:
            dst.edges.append(item)
        for port in (item.src_port_item(), item.dst_port_item()):
            if port is not None:
                port.connected += 1
                port.update()
        self._scene.addItem(item)
        self._scene.addItem(item.label)
        self.edges[edge] = item
        item.refresh_label()
        item.update_geometry()
        return item

    def _remove_edge(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        for node in (item.src, item.dst):
            if item in node.edges:
                node.edges.remove(item)
        for port in (item.src_port_item(), item.dst_port_item()):
            if port is not None:
                port.connected = max(0, port.connected - 1)
                port.update()
        self._scene.removeItem(item.label)
        self._scene.removeItem(item)

    # ------------------------------------------------------------------ document events
    def _on_network_switched(self, name: str) -> None:
        self.rebuild()

    def _on_edited(self, event: Event) -> None:
        if isinstance(event, NodeAdded):
            self._add_node(event.node_id, self.doc.checker.results.get(event.node_id))
        elif isinstance(event, NodeRemoved):
            self._remove_node(event.node_id)
        elif isinstance(event, EdgeAdded):
            self._add_edge(event.edge)
        elif isinstance(event, EdgeRemoved):
            self._remove_edge(event.edge)
        elif isinstance(event, (ParamChanged, NodeRenamed, TrainableChanged)):
            item = self.nodes.get(event.node_id)
            if item is not None:
                item.refresh()
                for edge in item.edges:
                    edge.update_geometry()
                self._grow_content(item)
        elif isinstance(event, NodeMoved):
            item = self.nodes.get(event.node_id)
            if item is not None:
                item.setPos(*event.new)  # edges follow in itemChange
                self._grow_content(item)

    def _on_shapes_checked(self) -> None:
        results = self.doc.checker.results
        for node_id, item in self.nodes.items():
            info = results.get(node_id)
            # The checker replaces a node's NodeInfo only when its result changed.
            if info is not item.info and info is not None:
                item.set_info(info)
                for edge in item.edges:
                    if edge.src is item:
                        edge.refresh_label()

    # ------------------------------------------------------------------ selection
    def _on_selection_changed(self) -> None:
        if self._muted:
            return
        ids = self.selected_nodes()
        if ids != self._last_selection:
            self._last_selection = ids
            self.selection_changed.emit(ids)

    def selected_nodes(self) -> list[str]:
        """The selected nodes' ids, in document order."""
        chosen = {i.node_id for i in self._scene.selectedItems() if isinstance(i, NodeItem)}
        return [n for n in self.nodes if n in chosen]

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self._scene.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids: Iterable[str]) -> None:
        """Select exactly these nodes (unknown ids are ignored)."""
        self._muted = True
        try:
            self._scene.clearSelection()
            for node_id in ids:
                item = self.nodes.get(node_id)
                if item is not None:
                    item.setSelected(True)
        finally:
            self._muted = False
        self._on_selection_changed()

    def center_on_node(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            self._auto_fit = False
            self.centerOn(item)

    def scene_center(self) -> tuple[float, float]:
        """The centre of the visible part of the scene (where new layers go)."""
        p = self.mapToScene(self.viewport().rect().center())
        return (p.x(), p.y())

    def node_item(self, node_id: str) -> NodeItem:
        return self.nodes[node_id]

    def edge_item(self, edge: Edge) -> EdgeItem:
        return self.edges[edge]

    def set_badge(self, node_id: str, colour: QColor | None, tooltip: str = "") -> None:
        """Show a small round badge of ``colour`` on the node's card (None hides it)."""
        item = self.nodes.get(node_id)
        if item is not None:
            item.set_badge(colour, tooltip)

    def clear_badges(self) -> None:
        for item in self.nodes.values():
            item.set_badge(None)

    # ------------------------------------------------------------------ editing
    def add_layer(self, type_id: str, pos: tuple[float, float] | QPointF) -> str | None:
        """Push an ``AddNode`` at ``pos`` (scene coordinates, the card's centre); returns
        the new node's id, or None (``message`` says why) when it is refused."""
        if isinstance(pos, QPointF):
            pos = (pos.x(), pos.y())
        try:
            command = AddNode(self.doc.net, type_id, (round(pos[0]), round(pos[1])))
        except EditError as exc:
            self._say(str(exc))
            return None
        self.doc.push(command)
        self.select_nodes([command.node_id])
        return command.node_id

    def delete_selection(self) -> None:
        """Delete the selected nodes (with their edges) and disconnect the selected edges,
        as one undo step."""
        net = self.doc.net
        nodes = self.selected_nodes()
        gone = set(nodes)
        edges = [e for e in self.selected_edges() if e.src not in gone and e.dst not in gone]
        if not nodes and not edges:
            return
        macro = bool(nodes) + len(edges) > 1
        if macro:
            what = "Delete" if nodes else f"Disconnect {len(edges)} connections"
            self.doc.undo.beginMacro(what)
        try:
            if nodes:
                self.doc.push(RemoveNodes(net, nodes))
            for edge in edges:
                self.doc.push(Disconnect(net, edge))
        except EditError as exc:
            self._say(str(exc))
        finally:
            if macro:
                self.doc.undo.endMacro()

    def connect_ports(self, src: PortItem, dst: PortItem, where: QPoint | None = None) -> bool:
        """Push a ``Connect`` from output ``src`` to input ``dst``; on refusal emit
        ``message`` (and show it near ``where``, a global position) and change nothing.
        Returns whether it was connected."""
        try:
            command = Connect(self.doc.net, src.node_id, dst.node_id, src.name, dst.name)
        except EditError as exc:
            self._say(str(exc), where)
            return False
        self.doc.push(command)
        return True

    def _say(self, text: str, where: QPoint | None = None) -> None:
        self.message.emit(text)
        if self.isVisible():
            at = where if where is not None else QCursor.pos()
            QToolTip.showText(at, text, self.viewport(), QRect(), 4000)

    def _finish_move(self) -> None:
        net = self.doc.net
        moves = {}
        for node_id in self.selected_nodes():
            item = self.nodes[node_id]
            new = (float(round(item.x())), float(round(item.y())))
            old = net.pos_of(node_id)
            if new != old:
                moves[node_id] = (old, new)
        if not moves:
            return
        try:
            self.doc.push(MoveNodes(net, moves))
        except EditError as exc:
            for node_id, (old, _) in moves.items():
                self.nodes[node_id].setPos(*old)
            self._say(str(exc))
        for node_id in moves:
            self._grow_content(self.nodes[node_id])

    # ------------------------------------------------------------------ connecting
    def port_at(self, scene_pos: QPointF) -> PortItem | None:
        for item in self._scene.items(scene_pos):
            if isinstance(item, PortItem):
                return item
        return None

    def _target_at(self, scene_pos: QPointF) -> PortItem | None:
        """The port a connection dragged from ``_link_from`` would end on: a port of the
        other kind under the pointer, or the nearest one of a card under the pointer."""
        start = self._link_from
        if start is None:
            return None
        for item in self._scene.items(scene_pos):
            if isinstance(item, PortItem):
                if item.output != start.output and item.node is not start.node:
                    return item
            elif isinstance(item, NodeItem):
                if item is start.node:
                    return None
                ports = list((item.inputs if start.output else item.outputs).values())
                if not ports:
                    return None
                y = item.mapFromScene(scene_pos).y()
                return min(ports, key=lambda p: abs(p.pos().y() - y))
        return None

    def _link_problem(self, a: PortItem, b: PortItem) -> bool:
        """Whether connecting ports ``a`` and ``b`` would obviously be refused (for the
        highlight only; the document has the last word)."""
        src, dst = (a, b) if a.output else (b, a)
        if src.node is dst.node or dst.connected:
            return True
        graph = self.doc.net.graph
        return dst.node_id in graph and _has_path(graph, dst.node_id, src.node_id)

    def _start_link(self, port: PortItem, scene_pos: QPointF) -> None:
        self._link_from = port
        self._link_target = None
        self._rubber = QGraphicsPathItem()
        self._rubber.setPen(style().rubber)
        self._rubber.setZValue(Z_RUBBER)
        self._scene.addItem(self._rubber)
        self._update_link(scene_pos)

    def _update_link(self, scene_pos: QPointF) -> None:
        start, rubber = self._link_from, self._rubber
        if start is None or rubber is None:
            return
        target = self._target_at(scene_pos)
        if target is not self._link_target:
            if self._link_target is not None:
                self._link_target.set_highlight(None)
            self._link_target = target
            if target is not None:
                self._link_ok = not self._link_problem(start, target)
                target.set_highlight("ok" if self._link_ok else "bad")
        end = target.scenePos() if target is not None and self._link_ok else scene_pos
        a = start.scenePos()
        if not start.output:
            a, end = end, a
        bend = max(30.0, min(abs(end.x() - a.x()) * 0.5, 160.0))
        path = QPainterPath(a)
        path.cubicTo(QPointF(a.x() + bend, a.y()), QPointF(end.x() - bend, end.y()), end)
        rubber.setPath(path)

    def _finish_link(self, scene_pos: QPointF, where: QPoint | None = None) -> None:
        start = self._link_from
        target = self._target_at(scene_pos) if start is not None else None
        self._cancel_link()
        if start is None or target is None:
            return  # dropped on empty space: nothing happens
        src, dst = (start, target) if start.output else (target, start)
        self.connect_ports(src, dst, where)

    def _cancel_link(self) -> None:
        if self._link_target is not None:
            self._link_target.set_highlight(None)
        if self._rubber is not None:
            self._scene.removeItem(self._rubber)
        self._link_from = self._link_target = self._rubber = None

    # ------------------------------------------------------------------ view
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, zoom: float, anchor: QPoint | None = None) -> None:
        """Zoom to ``zoom`` (clamped to 0.2–3.0), keeping the scene point under ``anchor``
        (a viewport position; default the centre) where it is."""
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if math.isclose(zoom, self.zoom()):
            return
        view = self.viewport().rect()
        anchor = anchor if anchor is not None else view.center()
        fixed = self.mapToScene(anchor)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        centre = QPointF(view.center())
        offset = (centre - QPointF(anchor)) / zoom
        self.centerOn(fixed + offset)

    def zoom_in(self) -> None:
        self._auto_fit = False
        self.set_zoom(self.zoom() * 1.25)

    def zoom_out(self) -> None:
        self._auto_fit = False
        self.set_zoom(self.zoom() / 1.25)

    def reset_zoom(self) -> None:
        self._auto_fit = False
        self.set_zoom(1.0)

    def content_rect(self) -> QRectF:
        """What the network occupies in the scene: every card and edge label."""
        rect = QRectF()
        for item in self.nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        for edge in self.edges.values():
            if edge.label.isVisible():
                rect = rect.united(edge.label.sceneBoundingRect())
        return rect

    def fit(self) -> None:
        """Show the whole network with a margin (never magnified beyond 1:1). A network too
        big for the smallest zoom shows its beginning (the inputs)."""
        rect = self.content_rect()
        view = self.viewport().rect()
        if view.isEmpty():
            return
        if rect.isNull():
            self.setTransform(QTransform())
            self.centerOn(0, 0)
            return
        rect = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        zoom = min(view.width() / rect.width(), view.height() / rect.height(), FIT_MAX_ZOOM)
        zoom = max(MIN_ZOOM, zoom)
        self.setTransform(QTransform.fromScale(zoom, zoom))
        visible_w = view.width() / zoom
        if rect.width() <= visible_w:
            self.centerOn(rect.center())
        else:
            self.centerOn(rect.left() + visible_w / 2, rect.center().y())

    def _grow_content(self, item: QGraphicsItem) -> None:
        if self._building:
            return
        rect = item.sceneBoundingRect()
        if not self._content.contains(rect):
            self._content = self._content.united(rect) if not self._content.isNull() else rect
            self._update_scene_rect()

    def _update_scene_rect(self, full: bool = False) -> None:
        if full:
            self._content = self.content_rect()
        m = SCENE_MARGIN
        base = self._content if not self._content.isNull() else QRectF(0, 0, 1, 1)
        self.setSceneRect(base.adjusted(-m, -m, m, m))

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        # One tiled fill: a tile of one grid cell in device pixels, scaled back by the zoom,
        # so the dots stay put in the scene (drawing thousands of points cost 10-25 ms).
        zoom = self.zoom()
        step = GRID
        while step * zoom < GRID_MIN_PX:
            step *= 2
        dpr = self.devicePixelRatioF()
        px = max(2, round(step * zoom * dpr))
        brush = self._grid_tiles.get(px)
        if brush is None:
            brush = self._grid_tiles[px] = QBrush(_grid_tile(px, dpr))
            if len(self._grid_tiles) > 32:
                self._grid_tiles.pop(next(iter(self._grid_tiles)))
        brush.setTransform(QTransform.fromScale(1 / zoom, 1 / zoom))
        painter.fillRect(rect, brush)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self._auto_fit:
            self.fit()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._auto_fit:
            self.fit()

    # ------------------------------------------------------------------ mouse and keys
    def wheelEvent(self, event: Any) -> None:
        delta = event.angleDelta().y() or event.angleDelta().x()
        if not delta:
            event.ignore()
            return
        self._auto_fit = False
        self.set_zoom(self.zoom() * 1.0015**delta, event.position().toPoint())
        event.accept()

    @staticmethod
    def _shift_as_control(event: Any) -> None:
        # Qt adds to the selection with Ctrl; Shift does the same here.
        mods = event.modifiers()
        if mods & Qt.KeyboardModifier.ShiftModifier:
            event.setModifiers(mods | Qt.KeyboardModifier.ControlModifier)

    def mousePressEvent(self, event: Any) -> None:
        pos = event.position().toPoint()
        button = event.button()
        self._auto_fit = False
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from, self._pan_button = pos, button
            self._auto_fit = False
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and self._link_from is None:
            item = self.itemAt(pos)
            if isinstance(item, PortItem):
                self._start_link(item, self.mapToScene(pos))
                event.accept()
                return
            if item is None:
                self._begin_band(event)
        self._shift_as_control(event)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: Any) -> None:
        pos = event.position().toPoint()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            h, v = self.horizontalScrollBar(), self.verticalScrollBar()
            h.setValue(h.value() - delta.x())
            v.setValue(v.value() - delta.y())
            event.accept()
            return
        if self._link_from is not None:
            self._update_link(self.mapToScene(pos))
            event.accept()
            return
        self._shift_as_control(event)
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: Any) -> None:
        pos = event.position().toPoint()
        if self._pan_from is not None:
            if event.button() == self._pan_button:
                self._pan_from = None
                self.viewport().setCursor(
                    Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
                )
            event.accept()
            return
        if self._link_from is not None:
            if event.button() == Qt.MouseButton.LeftButton:
                self._finish_link(self.mapToScene(pos), event.globalPosition().toPoint())
            event.accept()
            return
        self._shift_as_control(event)
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._end_band()
            self._finish_move()

    def _begin_band(self, event: Any) -> None:
        # The rubber band selects layers only: edges stay out of it (deleting the layers
        # removes their edges anyway).
        self._banding = True
        keep = event.modifiers() & (
            Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
        )
        self._band_kept = [e for e in self.edges.values() if e.isSelected()] if keep else []
        for edge in self.edges.values():
            edge.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, False)

    def _end_band(self) -> None:
        if not self._banding:
            return
        self._banding = False
        for edge in self.edges.values():
            edge.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        for edge in self._band_kept:
            if edge.edge in self.edges:
                edge.setSelected(True)
        self._band_kept = []

    def event(self, event: Any) -> bool:
        # Keys the canvas handles itself win over window shortcuts while it has focus.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in (
            Qt.Key.Key_Delete,
            Qt.Key.Key_Backspace,
            Qt.Key.Key_Space,
        ):
            if not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: Any) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.delete_selection()
            event.accept()
            return
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                if self._pan_from is None:
                    self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if key == Qt.Key.Key_Escape and self._link_from is not None:
            self._cancel_link()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: Any) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event: Any) -> None:
        self._space = False
        super().focusOutEvent(event)

    # ------------------------------------------------------------------ drops
    def dragEnterEvent(self, event: Any) -> None:
        if event.mimeData().hasFormat(LAYER_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        self.dragEnterEvent(event)

    def dragLeaveEvent(self, event: Any) -> None:
        event.accept()

    def dropEvent(self, event: Any) -> None:
        mime = event.mimeData()
        if not mime.hasFormat(LAYER_MIME):
            event.ignore()
            return
        type_id = bytes(mime.data(LAYER_MIME).data()).decode("utf-8", errors="replace").strip()
        pos = self.mapToScene(event.position().toPoint())
        if self.add_layer(type_id, pos) is not None:
            event.acceptProposedAction()
            self.setFocus()
        else:
            event.ignore()


def _grid_tile(px: int, dpr: float) -> QPixmap:
    """A ``px``-device-pixel square of canvas colour with one grid dot in its middle."""
    tile = QPixmap(px, px)
    tile.fill(theme.CANVAS)
    painter = QPainter(tile)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(theme.CANVAS_GRID)
    r = 1.1 * dpr
    painter.drawEllipse(QPointF(px / 2, px / 2), r, r)
    painter.end()
    tile.setDevicePixelRatio(dpr)
    return tile


def _has_path(graph: Any, a: str, b: str) -> bool:
    """Whether ``b`` is reachable from ``a`` (a depth-first walk; networkx's has_path
    builds the whole set of descendants first)."""
    if a == b:
        return True
    seen = {a}
    stack = [a]
    while stack:
        for nxt in graph.successors(stack.pop()):
            if nxt == b:
                return True
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False
