"""Small dialogs shared by the windows."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget


def warn(parent: QWidget, title: str, message: str) -> None:
    """A warning box: the message's first line as its text, the rest as details."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    head, _, rest = message.partition("\n")
    box.setText(head)
    if rest:
        box.setInformativeText(rest)
    box.exec()
