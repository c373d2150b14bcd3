"""The property editor: the selected layer's name and parameters, generated from its
:class:`builder.catalog.spec.LayerSpec`.

Each field is built from a :class:`builder.catalog.params.Param` (int -> spin box, float -> spin box
or, for tiny values such as ``eps``, a line edit taking scientific notation, bool -> check box,
choice -> combo box, size / ints -> a line edit such as ``3, 5``). A valid change pushes a
:class:`widgets.commands.SetParam` at once (consecutive edits of one field merge into one
undo step); an invalid text is marked red with the reason under it and pushes nothing. When
the document changes underneath (undo, redo, another view), the fields follow it without
pushing anything.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QDoubleValidator, QFont, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.layers import CATALOG
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, SIZE, Param
from builder.catalog.spec import LayerSpec
from graph.document import (
    Event,
    Network,
    NodeRemoved,
    NodeRenamed,
    ParamChanged,
    TrainableChanged,
    check_name,
)
from graph.errors import EditError
from widgets import theme
from widgets.commands import Rename, SetParam, SetTrainable
from widgets.editor_document import EditorDocument
from widgets.property_text import (  # noqa: F401 (format_value, parse_text re-exported)
    SCIENTIFIC_BELOW,
    _same,
    _tiny,
    format_value,
    inferred_lines,
    parse_text,
    status_text,
)
from widgets.settings_form import WheelGuard
from widgets.weights_table import WeightsEditor, editable

NAME = "name"  # the key of the Name field in ``fields`` / ``errors`` (no param is called so)
INT_LIMIT = 2_147_483_647  # QSpinBox holds a C int
FLOAT_LIMIT = 1e9

_STYLE = f"""
QLineEdit[invalid="true"], QAbstractSpinBox[invalid="true"], QComboBox[invalid="true"] {{
    border: 1px solid {theme.ERROR.name()};
    border-radius: 3px;
    background: {theme.ERROR_FILL.name()};
    padding: 2px 3px;
}}
"""


# ----------------------------------------------------------------------------- helpers


class _FloatSpin(QDoubleSpinBox):
    """Shows 0.5, not 0.5000: as many decimals as the value needs (up to ``decimals``)."""

    def textFromValue(self, value: float) -> str:
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0")
            if text.endswith(point):
                text += "0"
        return text


class _NameEdit(QLineEdit):
    """Escape puts the document's name back."""

    def __init__(self, revert: Callable[[], None]):
        super().__init__()
        self._revert = revert

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self._revert()
            return
        super().keyPressEvent(event)


def _muted(text: str = "", scale: float = 0.92) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.MUTED.name()};")
    font = QFont(label.font())
    if font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    label.setFont(font)
    return label


# ----------------------------------------------------------------------------- the editor


class PropertyEditor(QWidget):
    """The name and parameters of one layer of ``doc``'s current network.

    Attributes (read them; do not edit through them): ``node_id`` (shown node or None),
    ``fields`` (``{param name or "name": editor widget}``), ``errors`` (``{same key:
    QLabel}``; hidden when the field is valid).
    """

    def __init__(self, doc: EditorDocument, parent: QWidget | None = None):
        super().__init__(parent)
        self.doc: EditorDocument | None = None
        self.net: Network | None = None  # the network of the shown node
        self.node_id: str | None = None
        self.spec: LayerSpec | None = None
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.weights: WeightsEditor | None = None  # the small layer's weight tables
        self.trainable: QCheckBox | None = None  # unchecked: the layer is frozen
        self._pushing = False  # our own edit is being applied: do not echo it into the fields
        self._wheel_guard = WheelGuard(self)
        self.setStyleSheet(_STYLE)

        self.hint = _muted("Select a layer to edit it", 1.0)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.hint, 1)
        layout.addWidget(self.scroll, 1)
        self.setMinimumWidth(200)

        # header widgets, rebuilt with the form
        self.type_label = QLabel()
        self.help_label = QLabel()
        self.inferred_label = QLabel()
        self.status_label = QLabel()
        self.name_edit: QLineEdit = _NameEdit(self._revert_name)

        self.set_document(doc)

    # ------------------------------------------------------------------ document
    def set_document(self, doc: EditorDocument) -> None:
        """Edit ``doc`` from now on (e.g. after File > Open); shows nothing selected."""
        if self.doc is not None:
            self._commit_pending()
            self.node_id = None
            self.doc.edited.disconnect(self._on_edited)
            self.doc.shapes_checked.disconnect(self._refresh_header)
            self.doc.network_switched.disconnect(self._on_network_switched)
        self.doc = doc
        doc.edited.connect(self._on_edited)
        doc.shapes_checked.connect(self._refresh_header)
        doc.network_switched.connect(self._on_network_switched)
        self.show_node(None)

    # ------------------------------------------------------------------ showing
    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id`` of the current network (None: the "Select a layer" hint)."""
        self._commit_pending()
        self.net = net = self.doc.net
        if node_id is not None and node_id not in net:
            node_id = None
        self.node_id = node_id
        self.fields, self.errors = {}, {}
        self.weights = None
        if node_id is None:
            self.spec = None
            old = self.scroll.takeWidget()
            if old is not None:
                old.deleteLater()
            self.scroll.hide()
            self.hint.show()
            return
        self.spec = CATALOG[net.type_of(node_id)]
        self.scroll.setWidget(self._build_form())
        self.hint.hide()
        self.scroll.show()
        self._refresh_header()

    def _build_form(self) -> QWidget:
        spec, net, node_id = self.spec, self.net, self.node_id
        content = QWidget()
        outer = QVBoxLayout(content)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)

        # header: category stripe | type, category, help, inferred arguments, status
        header = QHBoxLayout()
        header.setSpacing(8)
        stripe = QFrame()
        stripe.setFixedWidth(4)
        stripe.setStyleSheet(
            f"background: {theme.category_colour(spec.category).name()}; border-radius: 2px;"
        )
        header.addWidget(stripe)
        text = QVBoxLayout()
        text.setSpacing(3)
        self.type_label = QLabel(
            f"<b>{html.escape(spec.type_id)}</b>"
            f" <span style='color:{theme.MUTED.name()}'>· {html.escape(spec.category)}</span>"
        )
        font = QFont(self.type_label.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.15)
        self.type_label.setFont(font)
        self.type_label.setWordWrap(True)
        text.addWidget(self.type_label)
        self.help_label = _muted(spec.help.replace("`", ""))
        text.addWidget(self.help_label)
        self.inferred_label = _muted()
        self.inferred_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(self.inferred_label)
        self.status_label = _muted()
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        text.addWidget(self.status_label)
        header.addLayout(text, 1)
        outer.addLayout(header)

        rule = QFrame()
        rule.setFrameShape(QFrame.Shape.HLine)
        rule.setStyleSheet(f"color: {theme.FRAME.name()};")
        outer.addWidget(rule)

        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)

        self.name_edit = _NameEdit(self._revert_name)
        self.name_edit.setText(net.name_of(node_id))
        self.name_edit.setToolTip(
            "The layer's name: unique in the network; the exported code uses it."
        )
        self.name_edit.textEdited.connect(self._name_edited)
        # bound to this node: a focus-out that lands after the selection moved on still
        # renames the layer the user was typing into
        self.name_edit.editingFinished.connect(
            lambda n=node_id, e=self.name_edit: self._name_finished(n, e)
        )
        self._add_row(form, NAME, "Name", self.name_edit, self.name_edit.toolTip())

        params = net.params_of(node_id)
        for param in spec.params:
            editor = self._make_editor(param, params[param.name])
            self._add_row(form, param.name, param.name, editor, param.doc)
        outer.addLayout(form)
        if not spec.params:
            outer.addWidget(_muted("This layer has no parameters."))
        self.trainable = None
        if spec.ctor is not None and spec.count is not None:  # a layer with weights can be frozen
            self.trainable = QCheckBox("Trainable")
            self.trainable.setChecked(net.trainable_of(node_id))
            self.trainable.setToolTip(
                "Unchecked: the layer is frozen; training keeps its weights as they start"
                " (set by hand, or the initialiser's) and leaves it out of the gradient health."
            )
            self.trainable.toggled.connect(lambda on, n=node_id: self._set_trainable(n, on))
            outer.addWidget(self.trainable)
        self.weights = WeightsEditor(self.doc, node_id) if editable(self.doc, node_id) else None
        if self.weights is not None:
            outer.addWidget(self.weights)
        outer.addStretch(1)
        return content

    def _add_row(self, form: QFormLayout, key: str, label: str, editor: QWidget, tip: str) -> None:
        editor.setToolTip(tip)
        caption = QLabel(label)
        caption.setToolTip(tip)
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet(f"color: {theme.ERROR.name()};")
        font = QFont(error.font())
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 0.9)
        error.setFont(font)
        error.hide()
        cell = QWidget()
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(editor)
        box.addWidget(error)
        form.addRow(caption, cell)
        self.fields[key] = editor
        self.errors[key] = error

    def _make_editor(self, param: Param, value: Any) -> QWidget:
        key = param.name
        if param.kind == BOOL:
            box = QCheckBox()
            box.setChecked(bool(value))
            box.toggled.connect(lambda checked, k=key: self._commit(k, checked))
            return box
        if param.kind == CHOICE:
            combo = QComboBox()
            for choice in param.choices:
                combo.addItem(str(choice))
            if value in param.choices:
                combo.setCurrentIndex(param.choices.index(value))
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
            )
            combo.setMinimumContentsLength(6)
            combo.currentIndexChanged.connect(
                lambda i, p=param: i >= 0 and self._commit(p.name, p.choices[i])
            )
            self._guard_wheel(combo)
            return combo
        if param.kind == INT and not param.optional:
            spin = QSpinBox()
            spin.setRange(
                int(max(param.min, -INT_LIMIT)) if param.min is not None else -INT_LIMIT,
                int(min(param.max, INT_LIMIT)) if param.max is not None else INT_LIMIT,
            )
            spin.setValue(int(value))
            spin.setAccelerated(True)
            spin.valueChanged.connect(lambda v, k=key: self._commit(k, v))
            self._guard_wheel(spin)
            return spin
        if param.kind == FLOAT and not param.optional and not _tiny(param.default):
            spin = _FloatSpin()
            lo = param.min if param.min is not None else -FLOAT_LIMIT
            hi = param.max if param.max is not None else FLOAT_LIMIT
            span = hi - lo
            step = 0.05 if span <= 1 else 0.1 if span <= 10 else 0.5 if span <= 100 else 1.0
            spin.setDecimals(4 if span <= 10 else 3)
            if param.exclusive_max and param.max is not None:
                hi = param.max - 10 ** -spin.decimals()
            spin.setRange(lo, hi)
            spin.setSingleStep(step)
            spin.setValue(float(value))
            spin.setAccelerated(True)
            spin.valueChanged.connect(lambda v, k=key: self._commit(k, v))
            self._guard_wheel(spin)
            return spin
        # size, ints, tiny floats (eps), optional numbers: typed text, checked as typed
        edit = QLineEdit(format_value(param, value))
        if param.kind == FLOAT:
            validator = QDoubleValidator(edit)
            validator.setNotation(QDoubleValidator.Notation.ScientificNotation)
            validator.setLocale(QLocale.c())  # "1e-5" and "0.5" everywhere
            edit.setValidator(validator)
        if param.optional:
            edit.setPlaceholderText("auto")
        elif param.kind == SIZE and param.length > 1:
            edit.setPlaceholderText("e.g. 3 or " + ", ".join(["3"] * param.length))
        edit.textEdited.connect(lambda text, p=param: self._text_edited(p, text))
        edit.editingFinished.connect(lambda p=param: self._text_finished(p))
        return edit

    def _guard_wheel(self, widget: QWidget) -> None:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(self._wheel_guard)

    # ------------------------------------------------------------------ header
    def _refresh_header(self) -> None:
        net = self.net
        if self.node_id is None or net is not self.doc.net or self.node_id not in net:
            return
        info = self.doc.results().get(self.node_id)
        params = dict(net.params_of(self.node_id))
        lines = inferred_lines(self.spec, params, info)
        self.inferred_label.setText("\n".join(lines))
        self.inferred_label.setVisible(bool(lines))
        text, kind = status_text(net.type_of(self.node_id), info)
        colour = theme.ERROR if kind == "error" else theme.BLOCKED if kind == "blocked" else None
        self.status_label.setStyleSheet(f"color: {(colour or theme.MUTED).name()};")
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))

    # ------------------------------------------------------------------ errors
    def error_text(self, key: str) -> str:
        """The message under field ``key`` ("" when it is valid)."""
        label = self.errors.get(key)
        return label.text() if label is not None and not label.isHidden() else ""

    def _set_error(self, key: str, message: str) -> None:
        label, field = self.errors.get(key), self.fields.get(key)
        if label is None or field is None:
            return
        label.setText(message)
        label.setVisible(bool(message))
        if bool(field.property("invalid")) != bool(message):
            field.setProperty("invalid", bool(message))
            field.style().unpolish(field)
            field.style().polish(field)
            field.update()

    # ------------------------------------------------------------------ editing
    def _commit(self, key: str, value: Any) -> bool:
        """Push ``SetParam`` for a checked ``value`` unless it is already the value."""
        if self.node_id is None or self._pushing:
            return False
        net = self.net
        if _same(net.params_of(self.node_id)[key], value):
            self._set_error(key, "")
            return True
        self._pushing = True
        try:
            command = SetParam(net, self.node_id, key, value)
        except EditError as exc:
            self._set_error(
                key, _short(str(exc), net.type_of(self.node_id), net.name_of(self.node_id))
            )
            return False
        finally:
            self._pushing = False
        self.doc.push(command)
        self._set_error(key, "")
        return True

    def _text_edited(self, param: Param, text: str) -> None:
        try:
            value = parse_text(param, text)
        except ValueError as exc:
            self._set_error(param.name, str(exc))
            return
        self._commit(param.name, value)

    def _text_finished(self, param: Param) -> None:
        """Leaving a valid field shows its value the canonical way (``3,5`` -> ``3, 5``)."""
        if self.node_id is None or self.error_text(param.name):
            return
        self._load_field(param.name)

    def _load_field(self, key: str) -> None:
        """Show the document's value of ``key`` without pushing anything."""
        field = self.fields.get(key)
        if field is None or self.node_id is None:
            return
        value = self.net.params_of(self.node_id)[key]
        param = self.spec.param(key)
        field.blockSignals(True)
        try:
            if isinstance(field, QCheckBox):
                field.setChecked(bool(value))
            elif isinstance(field, QComboBox):
                field.setCurrentIndex(param.choices.index(value) if value in param.choices else -1)
            elif isinstance(field, (QSpinBox, QDoubleSpinBox)):
                field.setValue(value)
            elif isinstance(field, QLineEdit):
                text = format_value(param, value)
                if field.text() != text:
                    field.setText(text)
        finally:
            field.blockSignals(False)
        self._set_error(key, "")

    # ------------------------------------------------------------------ name
    def _name_problem(self, text: str) -> str:
        """Why ``text`` cannot be this layer's name ("" if it can)."""
        net = self.net
        try:
            name = check_name(text)
        except EditError as exc:
            return str(exc)
        if any(net.name_of(n) == name for n in net.nodes if n != self.node_id):
            return f"A layer named {name!r} already exists: choose another name"
        return ""

    def _name_edited(self, text: str) -> None:
        self._set_error(NAME, self._name_problem(text))

    def _name_finished(self, node_id: str, edit: QLineEdit) -> None:
        net = self.net
        if net is None or node_id not in net:
            return
        shown = node_id == self.node_id
        text = edit.text()
        try:
            unchanged = check_name(text) == net.name_of(node_id)
        except EditError as exc:
            if shown:
                self._set_error(NAME, str(exc))
            return
        if unchanged:
            if shown:
                self._revert_name()  # drops stray spaces
            return
        self._pushing = True
        try:
            command = Rename(net, node_id, text)
        except EditError as exc:
            if shown:
                self._set_error(NAME, str(exc))
            return
        finally:
            self._pushing = False
        self.doc.push(command)
        if shown:
            self._revert_name()

    def _revert_name(self) -> None:
        if self.node_id is not None:
            name = self.net.name_of(self.node_id)
            if self.name_edit.text() != name:
                self.name_edit.setText(name)
        self._set_error(NAME, "")

    # ------------------------------------------------------------------ document events
    def _on_edited(self, event: Event) -> None:
        if self.node_id is None or getattr(event, "node_id", None) != self.node_id:
            return
        if isinstance(event, NodeRemoved):
            self.show_node(None)
        elif self._pushing:
            return  # our own edit: the field already shows it (and the user may be typing)
        elif isinstance(event, ParamChanged):
            self._load_field(event.key)
        elif isinstance(event, NodeRenamed):
            self._revert_name()
        elif isinstance(event, TrainableChanged) and self.trainable is not None:
            self.trainable.setChecked(event.new)

    def _set_trainable(self, node_id: str, on: bool) -> None:
        if not self._pushing and self.net.trainable_of(node_id) != on:
            self.doc.push(SetTrainable(self.net, node_id, on))

    def _on_network_switched(self, name: str) -> None:
        self.show_node(None)

    def _commit_pending(self) -> None:
        """Apply a name still being typed before the form goes (as leaving the field would)."""
        if self.node_id is not None and self.name_edit.isModified():
            self.name_edit.setModified(False)
            self._name_finished(self.node_id, self.name_edit)


def _short(message: str, type_id: str, name: str) -> str:
    """An EditError message without the ``Conv2d 'conv1': `` prefix the field makes obvious."""
    prefix = f"{type_id} '{name}': "
    return message[len(prefix) :] if message.startswith(prefix) else message
