"""The layer palette: the catalog's categories and layer types, searchable, draggable.

Built from :data:`builder.catalog.layers.CATALOG` only: a new layer declaration appears here with
its category colour and help text without touching this file. Dragging an entry carries
its type id as :data:`LAYER_MIME`; the canvas turns the drop into an ``AddNode`` command.
"""

from __future__ import annotations

import html
import re

from PySide6.QtCore import QEvent, QMimeData, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QFont, QIcon, QKeyEvent, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.layers import CATALOG
from builder.catalog.spec import Catalog, LayerSpec
from widgets import theme

LAYER_MIME = "application/x-neuralcanvas-layer"
"""MIME type of a palette drag; the data is the layer type id in UTF-8."""

TYPE_ROLE = Qt.ItemDataRole.UserRole + 1  # the type id of a layer entry (None on categories)
COLOUR_ROLE = Qt.ItemDataRole.UserRole + 2  # its category colour
IO_CATEGORY = "Input / output"


def layer_mime_data(type_id: str) -> QMimeData:
    """The MIME data a palette drag carries for ``type_id``."""
    mime = QMimeData()
    mime.setData(LAYER_MIME, type_id.encode("utf-8"))
    mime.setText(type_id)  # a drop on a text field types the layer name
    return mime


def layer_type_from_mime(mime: QMimeData) -> str | None:
    """The layer type id a drop carries, or None if it is not a palette drag."""
    if not mime.hasFormat(LAYER_MIME):
        return None
    try:
        return bytes(mime.data(LAYER_MIME).data()).decode("utf-8") or None
    except UnicodeDecodeError:
        return None


def colour_square(colour: QColor, size: int = 12) -> QIcon:
    """A small rounded square of ``colour`` (the category mark of an entry)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(colour)
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 2.5, 2.5)
    painter.end()
    return QIcon(pixmap)


def tooltip_html(spec: LayerSpec) -> str:
    """Rich text (so Qt wraps it): the help, then the ports of the default configuration."""
    params = spec.defaults()
    ins = spec.input_ports(params)
    outs = spec.output_ports(params)
    help_text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(spec.help))
    ports = []
    if ins:
        ports.append(f"<b>Inputs:</b> {html.escape(', '.join(ins))}")
    if outs:
        ports.append(f"<b>Outputs:</b> {html.escape(', '.join(outs))}")
    return (
        f"<p><b>{html.escape(spec.type_id)}</b> · {html.escape(spec.category)}</p>"
        f"<p>{help_text}</p><p>{'<br>'.join(ports)}</p>"
    )


class _LayerTree(QTreeWidget):
    """The tree: drags carry :data:`LAYER_MIME`; Enter activates the current entry."""

    enter_pressed = Signal()

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME]

    def mimeData(self, items) -> QMimeData:
        type_ids = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        return layer_mime_data(type_ids[0]) if type_ids else QMimeData()

    def startDrag(self, supported_actions) -> None:
        item = self.currentItem()
        type_id = item.data(0, TYPE_ROLE) if item is not None else None
        if not type_id:
            return
        drag = QDrag(self)
        drag.setMimeData(layer_mime_data(type_id))
        pixmap = self._drag_pixmap(item)
        drag.setPixmap(pixmap)
        drag.setHotSpot(QPoint(pixmap.width() // 2, pixmap.height() // 2))
        drag.exec(Qt.DropAction.CopyAction)

    def _drag_pixmap(self, item: QTreeWidgetItem) -> QPixmap:
        """A card like the canvas will draw: category stripe and type id."""
        metrics = self.fontMetrics()
        text = item.text(0)
        ratio = self.devicePixelRatioF()
        w, h = metrics.horizontalAdvance(text) + 30, metrics.height() + 14
        pixmap = QPixmap(int(w * ratio), int(h * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(theme.BORDER)
        painter.setBrush(theme.CARD)
        painter.drawRoundedRect(0.5, 0.5, w - 1, h - 1, 6, 6)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(item.data(0, COLOUR_ROLE) or theme.MUTED)
        painter.drawRoundedRect(5, 5, 4, h - 10, 2, 2)
        painter.setPen(theme.TEXT)
        painter.drawText(18, 0, w - 18, h, Qt.AlignmentFlag.AlignVCenter, text)
        painter.end()
        return pixmap

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter_pressed.emit()
            return
        super().keyPressEvent(event)


# The window's shortcuts that the search box must not take for itself (a line edit claims
# Ctrl+E, end of line on some platforms): typed there, they reach the window.
WINDOW_SHORTCUTS = ("Ctrl+E", "Ctrl+Y", "Ctrl+Shift+Z", "F5", "Shift+F5")


class _SearchBox(QLineEdit):
    """Escape clears; Down moves into the list; Enter adds the highlighted match; the
    window's shortcuts (WINDOW_SHORTCUTS) pass through to the window."""

    escape_pressed = Signal()
    down_pressed = Signal()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride:
            pressed = QKeySequence(event.keyCombination())
            if any(
                pressed.matches(QKeySequence(k)) == QKeySequence.SequenceMatch.ExactMatch
                for k in WINDOW_SHORTCUTS
            ):
                event.ignore()  # not ours: the window's action takes it
                return False
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            self.escape_pressed.emit()
            return
        if event.key() == Qt.Key.Key_Down:
            self.down_pressed.emit()
            return
        super().keyPressEvent(event)


class Palette(QWidget):
    """The catalog's layer types by category, with a search box above.

    Signals:
        add_requested(str): the user double-clicked an entry or pressed Enter on it (or in
            the search box): add a layer of this type id (e.g. at the view's centre).

    Dragging an entry starts a :class:`QDrag` with :data:`LAYER_MIME` (see
    :func:`layer_type_from_mime` for the drop side).
    """

    add_requested = Signal(str)

    def __init__(self, catalog: Catalog = CATALOG, parent: QWidget | None = None):
        super().__init__(parent)
        self.catalog = catalog
        self.search = _SearchBox()
        self.search.setPlaceholderText("Search layers")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Filter by layer type, category or description. Esc clears; Enter adds the"
            " highlighted layer."
        )
        self.tree = _LayerTree()
        self.tree.setHeaderHidden(True)
        self.tree.setColumnCount(1)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setUniformRowHeights(False)  # category rows are taller (space above)
        self.tree.setIconSize(QSize(12, 12))
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.tree.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty_label = QLabel("No layers match")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet(f"color: {theme.MUTED.name()}; padding: 12px;")
        self.empty_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty_label)
        layout.addStretch(0)
        self.setMinimumWidth(170)

        self._items: dict[str, QTreeWidgetItem] = {}
        self._categories: dict[str, QTreeWidgetItem] = {}
        self._populate()

        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._add_current)
        self.search.escape_pressed.connect(self.tree.setFocus)
        self.search.down_pressed.connect(self._focus_list)
        self.tree.itemDoubleClicked.connect(self._item_double_clicked)
        self.tree.enter_pressed.connect(self._add_current)

    def sizeHint(self) -> QSize:
        return QSize(220, 520)

    # ------------------------------------------------------------------ building
    def _populate(self) -> None:
        categories = self.catalog.categories()
        order = sorted(categories, key=lambda c: c != IO_CATEGORY)  # stable: catalog order
        header_font = QFont(self.tree.font())
        header_font.setBold(True)
        line = self.tree.fontMetrics().height()
        row, head_row = QSize(-1, line + 6), QSize(-1, line + 12)
        for category in order:
            colour = theme.category_colour(category)
            head = QTreeWidgetItem([category])
            head.setFlags(Qt.ItemFlag.ItemIsEnabled)
            head.setFont(0, header_font)
            head.setForeground(0, theme.MUTED)
            head.setData(0, TYPE_ROLE, None)
            head.setSizeHint(0, head_row)
            head.setTextAlignment(0, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom)
            self.tree.addTopLevelItem(head)
            self._categories[category] = head
            icon = colour_square(colour)
            for spec in categories[category]:
                item = QTreeWidgetItem([spec.type_id])
                item.setIcon(0, icon)
                item.setData(0, TYPE_ROLE, spec.type_id)
                item.setData(0, COLOUR_ROLE, colour)
                item.setSizeHint(0, row)
                item.setToolTip(0, tooltip_html(spec))
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
                head.addChild(item)
                self._items[spec.type_id] = item
            head.setExpanded(True)

    # ------------------------------------------------------------------ queries (tests, integrator)
    def type_ids(self) -> list[str]:
        """Every listed type id, in display order."""
        return list(self._items)

    def visible_type_ids(self) -> list[str]:
        """The type ids the current search shows, in display order."""
        return [t for t, item in self._items.items() if not item.isHidden()]

    def category_of(self, type_id: str) -> str:
        return self._items[type_id].parent().text(0)

    def item(self, type_id: str) -> QTreeWidgetItem:
        return self._items[type_id]

    def mime_data(self, type_id: str) -> QMimeData:
        """The MIME data a drag of ``type_id`` carries (what :meth:`startDrag` sends)."""
        return layer_mime_data(type_id)

    # ------------------------------------------------------------------ filtering
    def set_filter(self, text: str) -> None:
        """Show only the types whose id, category or help contains every word of ``text``."""
        if self.search.text() != text:
            self.search.setText(text)  # re-enters through textChanged
            return
        words = text.lower().split()
        first: QTreeWidgetItem | None = None
        for category, head in self._categories.items():
            shown = 0
            for i in range(head.childCount()):
                item = head.child(i)
                spec = self.catalog[item.data(0, TYPE_ROLE)]
                haystack = f"{spec.type_id} {category} {spec.help}".lower()
                match = all(w in haystack for w in words)
                item.setHidden(not match)
                if match:
                    shown += 1
                    first = first or item
            head.setHidden(shown == 0)
            head.setExpanded(True)
        self.tree.setVisible(first is not None)
        self.empty_label.setVisible(first is None)
        current = self.tree.currentItem()
        if words and (current is None or current.isHidden() or not current.data(0, TYPE_ROLE)):
            self.tree.setCurrentItem(first)
        if first is not None and not words:
            self.tree.scrollToTop()

    # ------------------------------------------------------------------ actions
    def _focus_list(self) -> None:
        if self.tree.currentItem() is None or self.tree.currentItem().isHidden():
            visible = self.visible_type_ids()
            if visible:
                self.tree.setCurrentItem(self._items[visible[0]])
        self.tree.setFocus()

    def _item_double_clicked(self, item: QTreeWidgetItem, column: int = 0) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.add_requested.emit(type_id)

    def _add_current(self) -> None:
        """Enter: add the highlighted entry, or while searching the first match."""
        item = self.tree.currentItem()
        if item is None or item.isHidden() or not item.data(0, TYPE_ROLE):
            visible = self.visible_type_ids()
            if not visible or not self.search.text().strip():
                return
            item = self._items[visible[0]]
        self.add_requested.emit(item.data(0, TYPE_ROLE))
