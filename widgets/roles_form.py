"""The networks a procedure of several roles trains (a GAN's generator and discriminator),
chosen in the Training panel: for each role, the network bound to it
(``training.roles.<role>``) and, when the role has an optimiser of its own, that optimiser's
name and learning rate (``training.optimizers.<role>``). A one-role procedure shows nothing
here: it trains the network whose tab is shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QWidget

from builder.training.config import OPTIMIZERS
from builder.training.procedures import ProcedureSpec

NOT_BOUND = "(choose a network)"


class RolesForm(QWidget):
    """``edit(path, value)`` is called with a training-section path (``("roles",
    "generator")``, ``("optimizers", "generator", "lr")``) when the user changes a field."""

    def __init__(self, edit: Callable[[tuple[str, ...], Any], None], parent=None):
        super().__init__(parent)
        self._edit = edit
        self._spec: ProcedureSpec | None = None
        self._loading = False
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.networks: dict[str, QComboBox] = {}  # role -> its network's box
        self.optimizers: dict[str, QComboBox] = {}
        self.rates: dict[str, QDoubleSpinBox] = {}

    def load(self, spec: ProcedureSpec | None, networks: list[str], training: dict) -> None:
        """Show ``spec``'s roles bound as ``training`` says, among the project's networks."""
        boxes = (*self.networks.values(), *self.optimizers.values(), *self.rates.values())
        if not shiboken6.isValid(self) or not all(shiboken6.isValid(b) for b in boxes):
            return  # the undo stack signals while the window closes (children go first)
        several = spec is not None and len(spec.roles) > 1
        if spec is not self._spec:
            self._spec = spec
            self._rebuild(spec if several else None)
        self.setVisible(several)
        if not several:
            return
        roles = training.get("roles") if isinstance(training.get("roles"), dict) else {}
        chosen = training.get("optimizers")
        chosen = chosen if isinstance(chosen, dict) else {}
        self._loading = True
        try:
            for role in spec.roles:
                box = self.networks[role.name]
                box.clear()
                box.addItems(networks)
                name = roles.get(role.name, role.name if role.name in networks else None)
                if not isinstance(name, str) or name not in networks:
                    box.insertItem(0, NOT_BOUND if name is None else str(name))
                    box.setCurrentIndex(0)
                else:
                    box.setCurrentText(name)
                if role.name in self.rates:
                    own = chosen.get(role.name)
                    own = own if isinstance(own, dict) else {}
                    base = dict(role.optimizer or {})
                    name = own.get("name", base.get("name", "adam"))
                    self.optimizers[role.name].setCurrentText(str(name))
                    lr = own.get("lr", base.get("lr", 1e-3))
                    if isinstance(lr, (int, float)) and not isinstance(lr, bool):
                        spin = self.rates[role.name]
                        spin.setValue(min(max(float(lr), spin.minimum()), spin.maximum()))
        finally:
            self._loading = False

    def _rebuild(self, spec: ProcedureSpec | None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.networks.clear()
        self.optimizers.clear()
        self.rates.clear()
        if spec is None:
            return
        for role in spec.roles:
            box = QComboBox()
            box.setObjectName(f"role_{role.name}")
            box.setToolTip(f"The network trained as the {role.name}: {role.help}")
            box.activated.connect(lambda _i, r=role.name: self._network_chosen(r))
            self.networks[role.name] = box
            self.form.addRow(role.name.capitalize(), box)
            if role.optimizer is None or not role.optimised:
                continue
            opt = QComboBox()
            opt.addItems(OPTIMIZERS)
            opt.setToolTip(f"The {role.name}'s own optimiser (training.optimizers.{role.name})")
            opt.activated.connect(lambda _i, r=role.name: self._optimizer_chosen(r))
            lr = QDoubleSpinBox()
            lr.setDecimals(6)
            lr.setRange(1e-6, 10.0)
            lr.setSingleStep(1e-4)
            lr.setToolTip(f"The {role.name}'s learning rate")
            lr.editingFinished.connect(lambda r=role.name: self._rate_edited(r))
            self.optimizers[role.name], self.rates[role.name] = opt, lr
            row = QHBoxLayout()
            row.addWidget(opt, 1)
            row.addWidget(lr, 1)
            self.form.addRow("  optimiser, lr", row)

    def _network_chosen(self, role: str) -> None:
        text = self.networks[role].currentText()
        if not self._loading and text != NOT_BOUND:
            self._edit(("roles", role), text)

    def _optimizer_chosen(self, role: str) -> None:
        if not self._loading:
            self._edit(("optimizers", role, "name"), self.optimizers[role].currentText())

    def _rate_edited(self, role: str) -> None:
        if not self._loading:
            self._edit(("optimizers", role, "lr"), self.rates[role].value())
