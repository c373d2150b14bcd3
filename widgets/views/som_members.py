"""The panel beside a self-organizing map's view (widgets.views.som_map) that says what a
clicked unit holds: its place, its value, the samples it wins and, for images, the first of
them tiled."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from widgets import theme

PANEL_WIDTH = 184


class MembersPanel(QFrame):
    """What a clicked unit holds: its place, its value, the samples it wins (how many, of
    which classes) and, for images, the first of them tiled."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("somMembers")
        self.setFixedWidth(PANEL_WIDTH)
        self.setStyleSheet(
            f"#somMembers {{ background: white; border-left: 1px solid {theme.FRAME.name()}; }}"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(2)
        self.header = QLabel()
        self.header.setStyleSheet(f"color: {theme.TEXT.name()}; font-weight: 600;")
        self.header.setWordWrap(True)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Clear the selection (or click outside the map)")
        close.clicked.connect(self.closed.emit)
        head.addWidget(self.header, 1)
        head.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(head)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.info.setStyleSheet(f"color: {theme.TEXT.name()};")
        layout.addWidget(self.info)
        self.mosaic = QLabel()
        self.mosaic.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.mosaic.hide()
        layout.addWidget(self.mosaic)
        self.more = QLabel()
        self.more.setWordWrap(True)
        self.more.setStyleSheet(f"color: {theme.MUTED.name()};")
        self.more.hide()
        layout.addWidget(self.more)
        layout.addStretch(1)
        self.count = 0  # samples the unit wins (of those listed)
        self.hide()

    def show_mosaic(self, rgb: np.ndarray | None) -> None:
        if rgb is None:
            self.mosaic.clear()
            self.mosaic.hide()
            return
        h, w = rgb.shape[:2]
        room = PANEL_WIDTH - 18
        factor = max(1, min(8, room // max(1, w)))
        buf = np.ascontiguousarray(np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2))
        image = QImage(buf.data, w, h, 4 * w, QImage.Format.Format_RGBX8888).copy()
        pixmap = QPixmap.fromImage(image)
        if w * factor > room:  # wider than the panel even at 1:1
            pixmap = pixmap.scaledToWidth(room, Qt.TransformationMode.SmoothTransformation)
        elif factor > 1:
            pixmap = pixmap.scaled(
                w * factor, h * factor, mode=Qt.TransformationMode.FastTransformation
            )
        self.mosaic.setPixmap(pixmap)
        self.mosaic.show()


__all__ = ["PANEL_WIDTH", "MembersPanel"]
