"""One palette for the whole app: neutral greys, one blue accent, a colour per layer
category (a thin stripe on each node and palette entry) and the status colours."""

from __future__ import annotations

from PySide6.QtGui import QColor

ACCENT = QColor("#2563eb")
WINDOW = QColor("#eef0f3")
CANVAS = QColor("#f8f9fb")
CANVAS_GRID = QColor("#e8ebef")
CARD = QColor("#ffffff")
FRAME = QColor("#d0d7de")
BORDER = QColor("#c8cdd4")
TEXT = QColor("#1f2328")
MUTED = QColor("#59636e")
DISABLED = QColor("#a0a7b0")  # the text of a disabled button, menu item or field
EDGE = QColor("#8b949e")
SELECTION = QColor("#2563eb")

ERROR = QColor("#cf222e")
ERROR_FILL = QColor("#ffebe9")
BLOCKED = QColor("#9a6700")  # waiting for an upstream layer to be fixed

# gradient health (the training dashboard colours node badges with these)
HEALTHY = QColor("#1a7f37")
VANISHING = QColor("#8250df")
EXPLODING = QColor("#cf222e")

CATEGORY = {
    "Input / output": QColor("#57606a"),
    "Dense": QColor("#2563eb"),
    "Convolution": QColor("#0a7d8c"),
    "Pooling": QColor("#3b8eea"),
    "Reshaping": QColor("#8c959f"),
    "Normalisation": QColor("#bf8700"),
    "Regularisation": QColor("#d4a72c"),
    "Merge": QColor("#8250df"),
    "Recurrent": QColor("#1a7f37"),
    "Attention": QColor("#bf3989"),
    "Activation": QColor("#e16f24"),
}


def category_colour(category: str) -> QColor:
    return CATEGORY.get(category, MUTED)
