"""A small layer's weights as tables the user edits: the starting values set by hand.

For a layer of at most :data:`MAX_TABLE_VALUES` weights (a McCulloch–Pitts unit, a
perceptron, a textbook's two-unit map) the Properties panel shows each weight tensor as a
table: rows are the layer's units, columns what each unit takes in. Unchecked, "Set by hand"
shows the values training starts from now (the initialiser's draw with the project's seed,
greyed); checking it keeps those values as the layer's own (one undo step), and every cell
edited afterwards is one more. The values are saved in the project file and used by the
trainer and the exported script (:mod:`graph.weights`).
"""

from __future__ import annotations

import copy
import math
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.layers import CATALOG
from builder.names import attribute_names
from builder.shapes import tensor_shapes
from graph.document import Network, ParamChanged, WeightsChanged
from graph.errors import EditError, NeuralCanvasError
from widgets import theme
from widgets.commands import SetWeights
from widgets.editor_document import EditorDocument

MAX_TABLE_VALUES = 400  # more is what a weights file is for


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.MUTED.name()};")
    return label


def parameter_shapes(doc: EditorDocument, node_id: str) -> dict[str, tuple[int, ...]] | None:
    """The shapes of the layer's trainable tensors (its parameters, not running statistics),
    or None when its shapes are not known yet (the layer or one before it is wrong)."""
    net = doc.net
    spec = CATALOG[net.type_of(node_id)]
    info = doc.results().get(node_id)
    if spec.ctor is None or info is None or not info.ok:
        return None
    return tensor_shapes(spec, net.params_of(node_id), info.inputs, parameters_only=True)


def editable(doc: EditorDocument, node_id: str) -> bool:
    """Whether the layer is small enough to have its weights set in tables."""
    if doc.net.weights_of(node_id):  # set by hand: always shown (to clear a misfit)
        return True
    shapes = parameter_shapes(doc, node_id)
    return bool(shapes) and sum(math.prod(s) for s in shapes.values()) <= MAX_TABLE_VALUES


def starting_values(net: Network, node_id: str, seed: int) -> dict[str, list[Any]]:
    """The values training starts from when none are set by hand: the network compiled with
    ``seed`` (the initialisers draw in the network's order), this layer's parameters."""
    from builder.compile import compile_network

    try:
        module = compile_network(net, seed=seed)
        layer = module.get_submodule(attribute_names(net)[node_id])
    except (NeuralCanvasError, ValueError, KeyError, AttributeError):
        return {}
    return {name: t.detach().tolist() for name, t in layer.named_parameters()}


def _rows(shape: tuple[int, ...]) -> tuple[int, int]:
    """A tensor shown as a table: its first dimension (the units) down, the rest across (a
    bias: one column)."""
    return shape[0], math.prod(shape[1:])


class WeightsEditor(QWidget):
    """The weight tables of one layer of ``doc``'s current network.

    Attributes (read them): ``check`` ("Set by hand"), ``tables`` (``{tensor name:
    QTableWidget}``), ``error`` (the last refused cell's message)."""

    def __init__(self, doc: EditorDocument, node_id: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc, self.net, self.node_id = doc, doc.net, node_id
        self.tables: dict[str, QTableWidget] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}
        self._filling = False
        self._cache: tuple[int, int, dict[str, Any]] | None = None  # (revision, seed, values)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.setSpacing(4)
        head = QHBoxLayout()
        title = QLabel("<b>Weights</b>")
        head.addWidget(title)
        head.addStretch(1)
        self.check = QCheckBox("Set by hand")
        self.check.setToolTip(
            "Start training from the values in these tables instead of the initialiser's draw;"
            " they are saved in the project and used by the exported script."
        )
        self.check.toggled.connect(self._toggled)
        head.addWidget(self.check)
        layout.addLayout(head)
        self.caption = _label("")
        layout.addWidget(self.caption)
        self.body = QVBoxLayout()
        self.body.setSpacing(4)
        layout.addLayout(self.body)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(f"color: {theme.ERROR.name()};")
        self.error.hide()
        layout.addWidget(self.error)
        doc.edited.connect(self._on_edited)
        doc.shapes_checked.connect(self.refresh)
        self.refresh()

    # ------------------------------------------------------------------ showing
    def _seed(self) -> int:
        seed = self.doc.project.training.get("seed", 0)
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0

    def _starting(self) -> dict[str, Any]:
        key = (self.net.revision, self._seed())
        if self._cache is None or self._cache[:2] != key:
            self._cache = (*key, starting_values(self.net, self.node_id, self._seed()))
        return self._cache[2]

    def values(self) -> dict[str, Any]:
        """The hand-set values, a tensor not set by hand taking its starting value."""
        hand = self.net.weights_of(self.node_id) or {}
        missing = set(self._shapes) - set(hand)
        values = self._starting() if missing else {}
        return {**copy.deepcopy(values), **copy.deepcopy(dict(hand))}

    def refresh(self) -> None:
        if self.node_id not in self.net or self.net is not self.doc.net:
            return
        shapes = parameter_shapes(self.doc, self.node_id) or {}
        hand = self.net.weights_of(self.node_id)
        if shapes != self._shapes:
            self._rebuild(shapes)
        import torch

        self._filling = True
        try:
            self.check.setChecked(bool(hand))
            # the initialiser's draw is computed when asked (Set by hand), not on every check:
            # it compiles the network under the project's seed
            values = self.values() if hand else {}
            for name, table in self.tables.items():
                flat = torch.tensor(values[name]).flatten().tolist() if name in values else []
                rows, cols = _rows(self._shapes[name])
                for i in range(rows):
                    for j in range(cols):
                        k = i * cols + j
                        text = f"{flat[k]:.6g}" if k < len(flat) else ""
                        item = table.item(i, j)
                        if item.text() != text:
                            item.setText(text)
                table.setEnabled(bool(hand))
        finally:
            self._filling = False
        init = "weights_init" in self.net.params_of(self.node_id)
        if hand and not shapes:
            text = (
                "These hand-set values no longer fit the layer (see its status above):"
                " uncheck Set by hand to clear them, or undo the change that made them misfit."
            )
        elif hand:
            text = "Training starts from these values. Double-click a cell to edit it."
        elif init:
            text = (
                "The procedure sets these from the data when training starts (weights_init);"
                " set them by hand to start from your own."
            )
        else:
            text = (
                f"Training starts from the initialiser's draw (seed {self._seed()}); check"
                " Set by hand to see those values and start from your own."
            )
        self.caption.setText(text)

    def _rebuild(self, shapes: dict[str, tuple[int, ...]]) -> None:
        while self.body.count():
            item = self.body.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.tables, self._shapes = {}, dict(shapes)
        for name, shape in shapes.items():
            rows, cols = _rows(shape)
            self.body.addWidget(_label(f"{name}  {list(shape)}"))
            table = QTableWidget(rows, cols)
            table.setObjectName(name)
            table.setVerticalHeaderLabels([f"unit {i + 1}" for i in range(rows)])
            across = [f"in {j + 1}" for j in range(cols)] if len(shape) > 1 else [name]
            table.setHorizontalHeaderLabels(across)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
            table.horizontalHeader().setMinimumSectionSize(46)
            table.setEditTriggers(
                QAbstractItemView.EditTrigger.DoubleClicked
                | QAbstractItemView.EditTrigger.EditKeyPressed
                | QAbstractItemView.EditTrigger.AnyKeyPressed
            )
            for i in range(rows):
                for j in range(cols):
                    item = QTableWidgetItem("")
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                    table.setItem(i, j, item)
            height = table.horizontalHeader().sizeHint().height() + sum(
                table.rowHeight(i) for i in range(min(rows, 8))
            )
            table.setFixedHeight(height + 2 * table.frameWidth() + (16 if rows > 8 else 4))
            table.itemChanged.connect(lambda item, n=name: self._cell_edited(n, item))
            self.body.addWidget(table)
            self.tables[name] = table

    # ------------------------------------------------------------------ editing
    def _toggled(self, on: bool) -> None:
        if self._filling:
            return
        name = self.net.name_of(self.node_id)
        if on:
            values = self._starting()
            if not values:
                self._refuse("The network cannot be built yet: fix it, then set the weights")
                return
            self._push(values, f"Set the weights of '{name}' by hand")
        else:
            self._push(None, f"Clear the hand-set weights of '{name}'")

    def _cell_edited(self, name: str, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        text = item.text().strip().replace(",", ".")
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        where = f"{name}, row {item.row() + 1}, column {item.column() + 1}"
        if not math.isfinite(number):
            self._refuse(f"{where}: {item.text()!r} is not a number: type one such as 0.5 or -1")
            self.refresh()
            return
        import torch

        values = self.values()
        shape = self._shapes[name]
        flat = torch.tensor(values[name], dtype=torch.float64).flatten()
        _, cols = _rows(shape)
        flat[item.row() * cols + item.column()] = number
        values[name] = flat.reshape(shape).tolist()
        self._push(values, f"Set {name} of '{self.net.name_of(self.node_id)}'")

    def _push(self, values: dict[str, Any] | None, text: str) -> None:
        try:
            command = SetWeights(self.net, self.node_id, values, text)
        except EditError as exc:
            self._refuse(str(exc))
            self.refresh()
            return
        self.error.hide()
        self.doc.push(command)

    def _refuse(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()

    def _on_edited(self, event: Any) -> None:
        if getattr(event, "node_id", None) != self.node_id:
            return
        if isinstance(event, (WeightsChanged, ParamChanged)):
            self.error.hide()
            self.refresh()
