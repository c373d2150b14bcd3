"""A form of typed fields built from declarations: one widget per field, chosen by its kind.

A :class:`Field` is made from a :class:`builder.catalog.params.Param` (:func:`from_param`: a
training procedure's settings, later a layer's parameters) or from a dataset option
(:mod:`widgets.dataset_form`). Its widget follows its kind:

- ``int``: a spin box within the declared bounds (or, with ``spin_ints=False``, a line edit);
- ``float``: a line edit taking ``0.5`` or ``1e-5`` (a spin box would round small values);
- ``bool``: a check box;
- ``choice``: a combo box of the choices, words bare, booleans as true / false, as wide as
  its longest choice;
- ``size`` / ``ints``: a line edit such as ``3, 5``; ``text``: a line edit.

Tooltips are the fields' docs; a line edit left empty shows its default in grey.

The form writes nothing itself: it shows values (:meth:`SettingsForm.set_values`, which
emits nothing) and reports each edit as ``edited(name, value)``, where ``value`` is
:data:`UNSET` when the user emptied a field (back to its default). A value that fails the
field's check is reported all the same, so that its owner can write it and show the
checker's message (the project file and the form then say the same thing); a form made with
``reject_invalid=True`` shows the message under the field and reports nothing instead.
:meth:`SettingsForm.set_problems` marks fields with messages found elsewhere (the check of
the whole project file).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.params import BOOL, CHOICE, FLOAT, INT, INTS, SIZE, Param
from widgets import theme

TEXT = "text"  # a field kind Param does not have: free text (a file name, a column)
INT_LIMIT = 2_147_483_647  # QSpinBox holds a C int
NARROW = 80  # px: the narrowest a spin box or line edit gets, so the form fits a narrow dock

STYLE = f"""
QLineEdit[invalid="true"], QAbstractSpinBox[invalid="true"], QComboBox[invalid="true"],
QCheckBox[invalid="true"] {{
    border: 1px solid {theme.ERROR.name()};
    border-radius: 3px;
    background: {theme.ERROR_FILL.name()};
}}
"""


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()
"""What ``edited`` reports for a field the user emptied: use the default (drop the key)."""


@dataclass(frozen=True)
class Field:
    """One field of a form.

    ``name`` is the key of its value (unique in the form); ``label`` the caption (default:
    the name); ``check`` returns the value normalised or raises ``ValueError`` with the
    message to show. ``optional``: an empty line edit means None. ``group``: a heading shown
    above the first field of each group.
    """

    name: str
    kind: str
    default: Any = None
    doc: str = ""
    label: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] = ()
    optional: bool = False
    required: bool = False
    group: str = ""
    check: Callable[[Any], Any] | None = None

    @property
    def caption(self) -> str:
        return self.label or self.name


def from_param(param: Param, **changes: Any) -> Field:
    """The field of a declared :class:`Param` (its check is the Param's)."""
    values = {
        "name": param.name,
        "kind": param.kind,
        "default": param.default,
        "doc": param.doc,
        "min": param.min,
        "max": param.max,
        "choices": tuple(param.choices),
        "optional": param.optional,
        "check": param.check,
    }
    values.update(changes)
    return Field(**values)


# ----------------------------------------------------------------------------- text <-> value


def shown(value: Any) -> str:
    """A value as a field shows it: words bare, true / false, numbers short (``1e-05``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(shown(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def number_or_text(token: str) -> Any:
    """``"3"`` -> 3, ``"2.5"`` -> 2.5; anything else stays text (the check names it)."""
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token


def parse_text(field: Field, text: str) -> Any:
    """The value typed as ``text`` into ``field``'s line edit, not yet checked: a number for
    a number field (or the text, when it is none), a list for ``size`` / ``ints``, for
    ``text`` the JSON value when it is one (``5``, ``[0, 1]``, ``null``) else the words."""
    text = text.strip()
    if not text:
        return None if field.optional else UNSET
    if field.kind == FLOAT:
        try:
            return float(text)
        except ValueError:
            return text
    if field.kind == INT:
        return number_or_text(text)
    if field.kind in (SIZE, INTS):
        tokens = [t for t in re.split(r"[,\s]+", text.strip("()[] ")) if t]
        if field.kind == SIZE and len(tokens) == 1:
            return number_or_text(tokens[0])
        return [number_or_text(t) for t in tokens]
    try:
        return json.loads(text)
    except ValueError:
        return text


def problem_of(field: Field, value: Any) -> str:
    """What is wrong with ``value`` for ``field`` ("" when it passes, or nothing checks it)."""
    if field.check is None or value is UNSET:
        return ""
    try:
        field.check(value)
    except ValueError as exc:
        return str(exc)
    return ""


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


class WheelGuard(QObject):
    """Spin boxes and combo boxes ignore the wheel unless focused: scrolling the panel must
    not change settings by accident."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


# ----------------------------------------------------------------------------- the form


class SettingsForm(QWidget):
    """A :class:`QFormLayout` of typed fields (see the module's doc).

    Attributes (read them): ``fields`` (``{name: editor widget}``), ``errors`` (``{name:
    QLabel}``, hidden while the field has no problem), ``specs`` (``{name: Field}``),
    ``layout_`` (the form layout).
    """

    edited = Signal(str, object)

    def __init__(
        self,
        fields: Iterable[Field] = (),
        *,
        spin_ints: bool = True,
        reject_invalid: bool = False,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.spin_ints = spin_ints
        self.reject_invalid = reject_invalid
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.specs: dict[str, Field] = {}
        self._captions: dict[str, QLabel] = {}
        self._texts: dict[str, str] = {}  # what each line edit was last set to
        self._extra: dict[str, list[Any]] = {}  # a combo's values beyond its choices
        self._loading = False
        self._guard = WheelGuard(self)
        self.setStyleSheet(STYLE)
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.set_fields(fields)

    # ------------------------------------------------------------------ building
    def set_fields(self, fields: Iterable[Field]) -> None:
        """Replace every row by one per field (values: the defaults)."""
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields, self.errors, self.specs, self._captions = {}, {}, {}, {}
        self._texts, self._extra = {}, {}
        group = ""
        for field in fields:
            if field.group and field.group != group:
                heading = QLabel(field.group)
                font = QFont(heading.font())
                font.setBold(True)
                heading.setFont(font)
                self.layout_.addRow(heading)
            group = field.group
            self._add_row(field, self._editor(field))
        self.set_values({})

    def _add_row(self, field: Field, editor: QWidget) -> None:
        editor.setToolTip(field.doc)
        editor.setObjectName(f"field_{field.name}")
        caption = QLabel(field.caption)
        caption.setToolTip(field.doc)
        caption.setBuddy(editor)
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet(f"color: {theme.ERROR.name()};")
        error.hide()
        cell = QWidget()
        box = QVBoxLayout(cell)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(editor)
        box.addWidget(error)
        self.layout_.addRow(caption, cell)
        self.fields[field.name] = editor
        self.errors[field.name] = error
        self.specs[field.name] = field
        self._captions[field.name] = caption

    def _editor(self, field: Field) -> QWidget:
        name = field.name
        if field.kind == BOOL:
            box = QCheckBox()
            box.toggled.connect(lambda on, n=name: self._commit(n, bool(on)))
            return box
        if field.kind == CHOICE:
            combo = QComboBox()
            combo.addItems([shown(c) for c in field.choices])
            # as wide as the longest choice: nothing is cut off, whatever the dock's width
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            combo.activated.connect(lambda i, n=name: self._choice(n, i))
            self._guard_wheel(combo)
            return combo
        if field.kind == INT and self.spin_ints and not field.optional:
            spin = QSpinBox()
            lo = int(max(field.min, -INT_LIMIT)) if field.min is not None else -INT_LIMIT
            hi = int(min(field.max, INT_LIMIT)) if field.max is not None else INT_LIMIT
            spin.setRange(lo, hi)
            spin.setKeyboardTracking(False)
            spin.setAccelerated(True)
            spin.valueChanged.connect(lambda v, n=name: self._commit(n, int(v)))
            spin.setMinimumWidth(min(spin.minimumSizeHint().width(), NARROW))
            self._guard_wheel(spin)
            return spin
        edit = QLineEdit()
        if field.required:
            edit.setPlaceholderText("(required)")
        elif field.default is not None:
            edit.setPlaceholderText(shown(field.default))
        elif field.optional:
            edit.setPlaceholderText("none")
        edit.editingFinished.connect(lambda n=name: self._text_finished(n))
        edit.setMinimumWidth(min(edit.minimumSizeHint().width(), NARROW))
        return edit

    def _guard_wheel(self, widget: QWidget) -> None:
        widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        widget.installEventFilter(self._guard)

    # ------------------------------------------------------------------ showing
    def set_values(self, values: Mapping[str, Any]) -> None:
        """Show ``values`` (a field without one shows its default); emits nothing."""
        self._loading = True
        try:
            for name, field in self.specs.items():
                self._show(field, self.fields[name], values.get(name, UNSET))
        finally:
            self._loading = False

    def _show(self, field: Field, editor: QWidget, value: Any) -> None:
        effective = field.default if value is UNSET else value
        if isinstance(editor, QCheckBox):
            editor.setChecked(effective is True)
        elif isinstance(editor, QComboBox):
            values = [*field.choices, *self._extra.get(field.name, [])]
            index = next((i for i, c in enumerate(values) if _same(c, effective)), -1)
            if index < 0:  # a value from the file that is not a choice: shown, and marked
                self._extra.setdefault(field.name, []).append(effective)
                editor.addItem(shown(effective))
                index = editor.count() - 1
            editor.setCurrentIndex(index)
        elif isinstance(editor, QSpinBox):
            if isinstance(effective, int) and not isinstance(effective, bool):
                editor.setValue(effective)  # out of range: clamped; the check says so
        elif isinstance(editor, QLineEdit):
            text = "" if value is UNSET else shown(value)
            if value is None and not field.optional and field.default is not None:
                text = "null"  # written so in the file; the check says whether it may be
            self._texts[field.name] = text
            if editor.text() != text:
                editor.setText(text)

    def value(self, name: str) -> Any:
        """The value field ``name`` shows (its default when it is empty)."""
        field, editor = self.specs[name], self.fields[name]
        if isinstance(editor, QCheckBox):
            return editor.isChecked()
        if isinstance(editor, QComboBox):
            values = [*field.choices, *self._extra.get(name, [])]
            i = editor.currentIndex()
            return values[i] if 0 <= i < len(values) else None
        if isinstance(editor, QSpinBox):
            return editor.value()
        value = parse_text(field, editor.text())
        return field.default if value is UNSET else value

    def set_problems(self, problems: Mapping[str, str]) -> None:
        """Mark each field named in ``problems`` with its message; clear the others."""
        for name in self.specs:
            self._set_error(name, problems.get(name, ""))

    def error_text(self, name: str) -> str:
        """The message under field ``name`` ("" when it has none)."""
        label = self.errors.get(name)
        return label.text() if label is not None and not label.isHidden() else ""

    def set_enabled(self, name: str, enabled: bool, why: str = "") -> None:
        """Enable or disable one field; ``why`` joins its tooltip while it is disabled."""
        editor, field = self.fields[name], self.specs[name]
        editor.setEnabled(enabled)
        self._captions[name].setEnabled(enabled)
        tip = field.doc if enabled or not why else f"{field.doc} ({why})"
        editor.setToolTip(tip)

    def _set_error(self, name: str, message: str) -> None:
        label, editor = self.errors[name], self.fields[name]
        label.setText(message)
        label.setVisible(bool(message))
        if bool(editor.property("invalid")) != bool(message):
            editor.setProperty("invalid", bool(message))
            editor.style().unpolish(editor)
            editor.style().polish(editor)
            editor.update()

    # ------------------------------------------------------------------ editing
    def _choice(self, name: str, index: int) -> None:
        values = [*self.specs[name].choices, *self._extra.get(name, [])]
        if 0 <= index < len(values):
            self._commit(name, values[index])

    def _text_finished(self, name: str) -> None:
        editor = self.fields[name]
        if editor.text() == self._texts.get(name):
            return  # left the field without changing it
        self._texts[name] = editor.text()
        self._commit(name, parse_text(self.specs[name], editor.text()))

    def _commit(self, name: str, value: Any) -> None:
        if self._loading:
            return
        field = self.specs[name]
        problem = problem_of(field, value)
        if self.reject_invalid:
            self._set_error(name, problem)
            if problem:
                return
        if field.check is not None and value is not UNSET and not problem:
            value = field.check(value)  # normalised: 2 -> 2.0 for a float
            if isinstance(value, tuple):
                value = list(value)  # as a project file holds it
        self.edited.emit(name, value)
