"""The open project as the GUI sees it: the project, the network being edited, the undo
stack, the file path and the debounced shape check. Every view (canvas, property editor,
problems list, summary) reads from it and edits only by pushing commands on ``undo``."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from builder.shapes import NodeInfo, ShapeChecker
from graph.document import Event, Network, Project


class EditorDocument(QObject):
    """Signals:
    network_switched(str): another network of the project is now edited.
    edited(object): a document event (``graph.document.Event``) of the current network.
    shapes_checked(): shape inference is up to date (debounced after edits).
    modified_changed(bool): the project differs from the file (or not) any more.
    path_changed(object): the file path changed (``Path`` or None).
    """

    network_switched = Signal(str)
    edited = Signal(object)
    shapes_checked = Signal()
    modified_changed = Signal(bool)
    path_changed = Signal(object)

    def __init__(
        self, project: Project, path: str | Path | None = None, parent: QObject | None = None
    ):
        super().__init__(parent)
        self.project = project
        self.path = Path(path) if path is not None else None
        self.undo = QUndoStack(self)
        self.undo.cleanChanged.connect(self._clean_changed)
        self.checkers: dict[str, ShapeChecker] = {}
        self._unsubscribe = []
        for name, net in project.networks.items():
            self.checkers[name] = ShapeChecker(net)
            self._unsubscribe.append(net.subscribe(lambda event, n=name: self._on_event(n, event)))
        self.current = next(iter(project.networks))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)  # after the current event burst (e.g. a paste) is done
        self._timer.timeout.connect(self.check_now)

    # ------------------------------------------------------------------ state
    @property
    def net(self) -> Network:
        return self.project.networks[self.current]

    @property
    def checker(self) -> ShapeChecker:
        return self.checkers[self.current]

    @property
    def modified(self) -> bool:
        return not self.undo.isClean()

    @property
    def title(self) -> str:
        """``name.json`` or ``Untitled``: the window title's document part."""
        return self.path.name if self.path is not None else "Untitled"

    def results(self) -> dict[str, NodeInfo]:
        """Shape-inference results of the current network (brought up to date)."""
        return self.checker.check()

    def set_current(self, name: str) -> None:
        if name != self.current:
            self.project.network(name)  # raises EditError for an unknown name
            self.current = name
            self.network_switched.emit(name)
            self.check_now()

    # ------------------------------------------------------------------ editing
    def push(self, command: QUndoCommand) -> None:
        """Put an already-applied command on the undo stack (see widgets.commands)."""
        self.undo.push(command)

    def mark_saved(self, path: str | Path) -> None:
        self.path = Path(path)
        self.undo.setClean()
        self.path_changed.emit(self.path)

    def _clean_changed(self, clean: bool) -> None:
        self.modified_changed.emit(not clean)

    def _on_event(self, network: str, event: Event) -> None:
        if network == self.current:
            self.edited.emit(event)
        self._timer.start()

    def check_now(self) -> None:
        self._timer.stop()
        self.checker.check()
        self.shapes_checked.emit()

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for checker in self.checkers.values():
            checker.close()
        self._unsubscribe.clear()
