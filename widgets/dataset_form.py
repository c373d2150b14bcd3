"""The training panel's Dataset box: the dataset list, its one-line doc, a typed field per
option (from the :mod:`builder.data` registry's :class:`~builder.data.options.Option`\\ s,
through :class:`widgets.settings_form.SettingsForm`), the problems of the options, and a
preview of a few samples.

Options declare a default, a doc and a check function, not a kind: :func:`option_field`
reads the kind from the check (``choice_check(...)`` -> a drop-down of its values,
``bool_check`` -> a check box, ``int_check`` / ``float_check`` -> a number field with their
bounds; anything else is text). The ``augment`` option, an object, becomes one field per
augmentation (flip, shift, noise) under its own heading.

The box writes nothing: an edit calls ``commit(new dataset object, key)``, which the panel
pushes on the undo stack. The data layer (and torch) is imported only once the list is
filled (:meth:`DatasetBox.fill`).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from builder.catalog.params import BOOL, CHOICE, FLOAT, INT
from graph.errors import NeuralCanvasError
from widgets import theme
from widgets.settings_form import TEXT, UNSET, Field, SettingsForm

PREVIEW_ROWS = 20
PREVIEW_IMAGES = 16
AUGMENT = "augment"
AUGMENT_GROUP = "Augmentation (each batch)"
AUGMENT_DOCS = {  # the data layer checks these keys but does not describe them
    "flip": "mirror each image left-right with probability 1/2 (images only)",
    "shift": "move each image by a random whole number of pixels up to this (images only; 0 = off)",
    "noise": "add Gaussian noise of this standard deviation to each batch (0 = off)",
}
IMAGES_ONLY = ("flip", "shift")
_PROBLEM = re.compile(r"^(?:\s*- )?training\.dataset\.([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?): (.*)$")


class LazyCombo(QComboBox):
    """A combo box whose items are filled the first time it opens (or on :meth:`fill`)."""

    def __init__(self, fill: Callable[[], None]):
        super().__init__()
        self._fill = fill

    def showPopup(self) -> None:
        self._fill()
        super().showPopup()


# ----------------------------------------------------------------------------- options


def _captured(check: Callable[..., Any]) -> dict[str, Any]:
    """The values a check made by a factory (``int_check(2)``) closed over, by name."""
    code = getattr(check, "__code__", None)
    cells = getattr(check, "__closure__", None) or ()
    if code is None:
        return {}
    return {name: cell.cell_contents for name, cell in zip(code.co_freevars, cells)}


def check_kind(check: Callable[..., Any]) -> tuple[str, dict[str, Any]]:
    """``(kind, bounds / choices)`` of an option's check (see the module's doc)."""
    from builder.data import options

    if check is options.bool_check:
        return BOOL, {}
    factory = getattr(check, "__qualname__", "").split(".<locals>")[0]
    env = _captured(check)
    if getattr(check, "__module__", "") != options.__name__:
        return TEXT, {}
    if factory == "choice_check" and "values" in env:
        return CHOICE, {"choices": tuple(env["values"])}
    if factory == "int_check" and "lo" in env:
        return INT, {"min": env["lo"], "max": env.get("hi")}
    if factory == "float_check" and "lo" in env:
        return FLOAT, {"min": env["lo"], "max": env.get("hi")}
    return TEXT, {}


def _checked_by(check: Callable[[Any], str | None]) -> Callable[[Any], Any]:
    """An option's check (None or what was expected) as a field's (the value, or ValueError)."""
    from builder.data.options import show

    def field_check(value: Any) -> Any:
        expected = check(value)
        if expected is not None:
            raise ValueError(f"expected {expected}, got {show(value)}")
        return value

    return field_check


def option_field(option: Any, default: Any = UNSET) -> Field:
    """The field of a dataset :class:`~builder.data.options.Option`."""
    kind, extra = check_kind(option.check)
    return Field(
        name=option.name,
        kind=kind,
        default=option.default if default is UNSET else default,
        doc=option.doc,
        required=option.required,
        check=_checked_by(option.check),
        **extra,
    )


def augment_fields() -> list[Field]:
    """One field per augmentation, its default "off" (false, 0)."""
    from builder.data.augment_checks import AUGMENT_CHECKS

    out = []
    for key, check in AUGMENT_CHECKS.items():
        kind, extra = check_kind(check)
        off = False if kind == BOOL else (extra.get("min") or 0) if kind == INT else 0.0
        out.append(
            Field(
                name=f"{AUGMENT}.{key}",
                label=key,
                kind=kind,
                default=off,
                doc=AUGMENT_DOCS.get(key, ""),
                group=AUGMENT_GROUP,
                check=_checked_by(check),
                **extra,
            )
        )
    return out


def dataset_fields(info: Any) -> list[Field]:
    """The fields of a dataset's own options, then the split options every dataset takes,
    the augmentations last."""
    from builder.data import SPLIT_OPTIONS

    fields = []
    for option in (*info.options, *SPLIT_OPTIONS):
        if option.name == AUGMENT:
            continue
        default = info.validation_default if option.name == "validation" else UNSET
        fields.append(option_field(option, default))
    return [*fields, *augment_fields()]


def form_values(spec: dict[str, Any]) -> dict[str, Any]:
    """A ``training.dataset`` object as the form's values (``augment.flip``...)."""
    values = {k: v for k, v in spec.items() if k not in ("name", AUGMENT)}
    augment = spec.get(AUGMENT)
    if isinstance(augment, dict):
        values.update({f"{AUGMENT}.{k}": v for k, v in augment.items()})
    return values


def with_value(spec: dict[str, Any], name: str, value: Any, field: Field) -> dict[str, Any]:
    """``spec`` with the form's field ``name`` set to ``value`` (UNSET: removed; an
    augmentation set to "off" is removed, and ``augment`` with it once it is empty)."""
    new = copy.deepcopy(spec)
    if name.startswith(AUGMENT + "."):
        key = name.split(".", 1)[1]
        augment = dict(new[AUGMENT]) if isinstance(new.get(AUGMENT), dict) else {}
        if value is UNSET or (value == field.default and type(value) is type(field.default)):
            augment.pop(key, None)
        else:
            augment[key] = value
        if augment:
            new[AUGMENT] = augment
        else:
            new.pop(AUGMENT, None)
    elif value is UNSET:
        new.pop(name, None)
    else:
        new[name] = value
    return new


def option_problems(spec: dict[str, Any]) -> tuple[dict[str, str], str]:
    """The problems of a ``training.dataset`` object's options: ``({field: message},
    text)`` (the data layer's messages; empty when they are fine)."""
    from builder.data import DatasetError, dataset_info
    from builder.data.registry import read_options

    try:
        read_options(spec, dataset_info(spec.get("name")))
    except DatasetError as exc:
        text = str(exc)
    else:
        return {}, ""
    fields = {}
    for line in text.splitlines():
        match = _PROBLEM.match(line)
        if match:
            fields.setdefault(match.group(1), match.group(2))
    return fields, text


# ----------------------------------------------------------------------------- the box


class DatasetBox(QGroupBox):
    """The Dataset group: ``combo``, ``preview_button``, ``doc`` (the dataset's one-line
    doc), ``form`` (its options), ``problems``, and the ``preview`` stack (``preview_text``,
    ``preview_table``, ``preview_image``). ``commit(new dataset object, key)`` writes an
    edit of the options; ``on_filled()`` runs once opening the list filled it (the options
    can be shown then); the panel connects ``combo.activated`` itself."""

    def __init__(
        self,
        commit: Callable[[dict[str, Any], str], None],
        on_filled: Callable[[], None] | None = None,
        parent=None,
    ):
        super().__init__("Dataset", parent)
        self.commit = commit
        self.on_filled = on_filled  # after the list is filled by opening it
        self.filled = False
        self.spec: dict[str, Any] = {}
        self.info: Any = None
        self._options_for: str | None = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        self.combo = LazyCombo(self._fill_on_open)
        self.combo.setObjectName("datasetCombo")
        self.preview_button = QPushButton("Preview")
        self.preview_button.setToolTip("Load the dataset and show a few samples")
        row.addWidget(self.combo, 1)
        row.addWidget(self.preview_button)
        layout.addLayout(row)
        self.doc = _muted()
        layout.addWidget(self.doc)
        self.form = SettingsForm(spin_ints=False)
        self.form.edited.connect(self._edited)
        layout.addWidget(self.form)
        self.problems = QLabel()
        self.problems.setObjectName("datasetProblems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {theme.ERROR.name()};")
        self.problems.setVisible(False)
        layout.addWidget(self.problems)
        self.preview = QStackedWidget()
        self.preview_text = QLabel()
        self.preview_text.setWordWrap(True)
        self.preview_table = QTableWidget()
        self.preview_table.setMaximumHeight(180)
        self.preview_image = QLabel()
        self.preview_image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        for w in (self.preview_text, self.preview_table, self.preview_image):
            self.preview.addWidget(w)
        self.preview.setVisible(False)
        layout.addWidget(self.preview)

    @property
    def edits(self) -> dict[str, QWidget]:
        """The option fields by option name (``augment.flip`` for an augmentation)."""
        return self.form.fields

    def fill(self) -> bool:
        """List every dataset (imports the data layer); True the first time."""
        if self.filled:
            return False
        from builder.data import dataset_names

        self.filled = True
        current = self.combo.currentText()
        self.combo.clear()
        names = dataset_names()
        self.combo.addItems(names)
        if current and current not in names:
            self.combo.addItem(current)
        self.combo.setCurrentText(current)
        return True

    def _fill_on_open(self) -> None:
        if self.fill() and self.on_filled is not None:
            self.on_filled()

    def load(self, spec: dict[str, Any]) -> None:
        """Show the project's ``training.dataset`` object (after an edit, undo or open)."""
        self.spec = copy.deepcopy(spec)
        name = spec.get("name", "")
        if self.combo.findText(str(name)) < 0:
            self.combo.addItem(str(name))
        self.combo.setCurrentText(str(name))
        if not self.filled:
            return
        self._build_options(name)
        self.form.set_values(form_values(spec))
        self._show_problems()

    def _build_options(self, name: Any) -> None:
        if self._options_for == name:
            return
        from builder.data import DatasetError, dataset_info

        self._options_for = name
        try:
            self.info = dataset_info(name)
        except DatasetError as exc:
            self.info = None
            self.doc.setText(str(exc))
            self.form.set_fields(())
            return
        self.doc.setText(self.info.doc)
        self.form.set_fields(dataset_fields(self.info))

    def _show_problems(self) -> None:
        if self.info is None:
            self.problems.setVisible(False)
            return
        fields, text = option_problems(self.spec)
        self.form.set_problems(fields)
        self.problems.setText(text)
        self.problems.setVisible(bool(text))
        # flip and shift move pixels: offered where the data are images (or may be: a file)
        images = self.info.kind in ("image", None)
        augment = self.spec.get(AUGMENT) if isinstance(self.spec.get(AUGMENT), dict) else {}
        for key in IMAGES_ONLY:
            name = f"{AUGMENT}.{key}"
            if name in self.form.fields:
                usable = images or bool(augment.get(key))  # a set one can be turned off
                self.form.set_enabled(name, usable, f"{self.info.name} has no images")

    def _edited(self, name: str, value: Any) -> None:
        field = self.form.specs[name]
        new = with_value(self.spec, name, value, field)
        if new != self.spec:
            self.commit(new, f"dataset.{name}")

    # ------------------------------------------------------------------ preview
    def show_preview(self, spec: dict[str, Any], base: Path | None, seed: Any) -> None:
        """Load the dataset (small, on demand) and show a few samples, or the error."""
        from builder.data import load_dataset

        self.fill()
        self.preview.setVisible(True)
        try:
            ds = load_dataset(spec, base, seed=seed)
        except NeuralCanvasError as exc:
            self._preview_message(str(exc))
            return
        except Exception as exc:  # a broken file must not take the window down
            self._preview_message(f"Cannot preview the dataset: {exc}")
            return
        x = ds.x.detach().cpu().numpy()
        y = ds.y.detach().cpu().numpy()
        if ds.kind == "points2d" and x.ndim == 2 and x.shape[1] == 2:
            self.preview_image.setPixmap(scatter(x, y, ds.task))
            self.preview.setCurrentWidget(self.preview_image)
        elif ds.kind == "image" and x.ndim >= 3:
            self.preview_image.setPixmap(image_grid(x[:PREVIEW_IMAGES]))
            self.preview.setCurrentWidget(self.preview_image)
        else:
            fill_table(self.preview_table, ds, x, y)
            self.preview.setCurrentWidget(self.preview_table)
        self.preview.setToolTip(f"{ds.name}: {len(ds)} samples of shape {ds.input_shape}")

    def _preview_message(self, text: str) -> None:
        self.preview_text.setText(text)
        self.preview.setCurrentWidget(self.preview_text)


def _muted() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {theme.MUTED.name()};")
    return label


# ----------------------------------------------------------------------------- previews


def fill_table(table: QTableWidget, ds: Any, x: Any, y: Any) -> None:
    """The first rows of a table dataset: up to 12 feature columns and the target."""
    rows = min(PREVIEW_ROWS, x.shape[0])
    flat = x[:rows].reshape(rows, -1)
    cols = min(flat.shape[1], 12)
    names = list(ds.feature_names or [])[:cols]
    names += [f"x{i}" for i in range(len(names), cols)]
    table.clear()
    table.setRowCount(rows)
    table.setColumnCount(cols + 1)
    table.setHorizontalHeaderLabels([*names, "target"])
    for r in range(rows):
        for c in range(cols):
            table.setItem(r, c, QTableWidgetItem(f"{flat[r, c]:.4g}"))
        target = y[r]
        if ds.class_names and getattr(target, "ndim", 0) == 0:
            text = str(ds.class_names[int(target)])
        else:
            text = ", ".join(
                f"{v:.4g}" for v in (target.reshape(-1) if hasattr(target, "reshape") else [target])
            )
        table.setItem(r, cols, QTableWidgetItem(text))
    table.resizeColumnsToContents()


_CLASS_COLOURS = ("#2563eb", "#e16f24", "#1a7f37", "#8250df", "#cf222e", "#0a7d8c", "#bf8700")


def scatter(x: Any, y: Any, task: str, size: int = 200) -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(theme.CARD)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    lo, hi = x.min(axis=0), x.max(axis=0)
    span = [(h - lo_) or 1.0 for lo_, h in zip(lo, hi)]
    m = 8
    painter.setPen(Qt.PenStyle.NoPen)
    for i in range(min(len(x), 2000)):
        if task == "classification":
            colour = QColor(_CLASS_COLOURS[int(y[i]) % len(_CLASS_COLOURS)])
        else:
            colour = QColor(theme.ACCENT)
        painter.setBrush(colour)
        px = m + (x[i, 0] - lo[0]) / span[0] * (size - 2 * m)
        py = size - m - (x[i, 1] - lo[1]) / span[1] * (size - 2 * m)
        painter.drawEllipse(QPointF(float(px), float(py)), 2.5, 2.5)
    painter.end()
    return pix


def image_grid(x: Any, cell: int = 48) -> QPixmap:
    import numpy as np

    n = len(x)
    cols = min(4, n) or 1
    rows = max(1, math.ceil(n / cols))
    pix = QPixmap(cols * (cell + 2), rows * (cell + 2))
    pix.fill(theme.CARD)
    painter = QPainter(pix)
    for i in range(n):
        img = np.asarray(x[i], dtype=np.float32)
        if img.ndim == 3:
            img = img[0] if img.shape[0] in (1, 3) and img.shape[0] == 1 else img.mean(axis=0)
        lo, hi = float(img.min()), float(img.max())
        grey = ((img - lo) / ((hi - lo) or 1.0) * 255).astype(np.uint8)
        grey = np.ascontiguousarray(grey)
        h, w = grey.shape
        qimg = QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        r, c = divmod(i, cols)
        painter.drawImage(QRectF(c * (cell + 2), r * (cell + 2), cell, cell), qimg)
    painter.end()
    return pix
