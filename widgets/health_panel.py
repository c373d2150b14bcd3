"""The gradient-health panel: what is wrong with the gradients, in plain words, and what to
try. It reads the ``health`` and ``grad_norms`` maps of the trainer's step records (see
:mod:`builder.training.health`) and the network that is training (for the remedies that apply)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from builder.training.health import EXPLODING, HEALTHY, VANISHING
from widgets import theme

EMPTY_TEXT = "All layers healthy"
SATURATING = {"Sigmoid", "Tanh", "Hardsigmoid", "Hardtanh"}
WEIGHTED = {"Linear", "Conv1d", "Conv2d", "ConvTranspose2d", "RBF"}
NORMS = {"BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm"}
HE_INITS = {"he_normal", "he_uniform"}
DEEP = 4  # weighted layers in a row from which a plain stack counts as deep


@dataclass
class LayerState:
    state: str
    since: int  # the step of the first report in this state (it has stayed since)
    norm: float


class HealthPanel(QWidget):
    """Explains vanishing / exploding layers and suggests remedies.

    Call :meth:`begin` at the start of a run (with the network that trains), then
    :meth:`update_health` for each step record that has a health map.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("healthPanel")
        self.layers: dict[str, LayerState] = {}
        self.order: list[str] = []
        self._types: list[str] = []
        self._params: list[Mapping] = []
        self._has_residual = False
        self._clipped = False
        self._lr: float | None = None
        self._stale = False
        self.label = QLabel(EMPTY_TEXT)
        self.label.setObjectName("healthText")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setContentsMargins(8, 6, 8, 6)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    # ------------------------------------------------------------------ input
    def begin(self, net=None, clipped: bool = False, lr: float | None = None) -> None:
        """A new run of ``net`` (a ``graph.document.Network``, the trainer's snapshot)."""
        self.layers.clear()
        self.order = []
        self._clipped = clipped
        self._lr = lr
        if net is not None:
            ids = list(net.nodes)
            self._types = [net.type_of(n) for n in ids]
            self._params = [net.params_of(n) for n in ids]
            self._has_residual = "Add" in self._types
        else:
            self._types, self._params, self._has_residual = [], [], False
        self._render()

    def reset(self) -> None:
        """As in a new window: no run, no layers (another project was opened)."""
        self.begin(None)
        self._stale = False

    def update_health(
        self,
        step: int,
        health: Mapping[str, str],
        norms: Mapping[str, float] | None = None,
        render: bool = True,
    ) -> None:
        """Take one report's classification; ``render=False`` only records it (a caller
        with several reports at once renders once, with :meth:`render`)."""
        if not health:
            return
        norms = norms or {}
        changed = False
        for layer, state in health.items():
            if layer not in self.order:
                self.order.append(layer)
            norm = float(norms.get(layer, float("nan")))
            old = self.layers.get(layer)
            if old is None or old.state != state:
                self.layers[layer] = LayerState(state, step, norm)
                changed = True
            else:
                old.norm = norm
        if changed or any(s.state != HEALTHY for s in self.layers.values()):
            self._stale = True
            if render:
                self.render()

    def render(self) -> None:
        """Show what the reports taken since the last render changed."""
        if self._stale:
            self._stale = False
            self._render()

    # ------------------------------------------------------------------ output
    def problems(self, state: str) -> list[str]:
        """The layers now in ``state`` (``vanishing`` / ``exploding``), in network order."""
        return [n for n in self.order if self.layers[n].state == state]

    @property
    def text(self) -> str:
        """The panel's text without markup (for tests and copying)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.label.text())
        return doc.toPlainText()

    def remedies(self) -> list[str]:
        vanishing, exploding = self.problems(VANISHING), self.problems(EXPLODING)
        out: list[str] = []
        weighted = sum(t in WEIGHTED for t in self._types)
        if vanishing:
            if any(t in SATURATING for t in self._types):
                out.append(
                    "Use ReLU or LeakyReLU instead of sigmoid / tanh: their slope is at most "
                    "1/4 (sigmoid) or 1, so every layer shrinks the gradient on its way back."
                )
            if not any(t in NORMS for t in self._types):
                out.append(
                    "Add batch normalisation (BatchNorm1d after each Linear) to keep every "
                    "layer's inputs in a range where the activations do not saturate."
                )
            inits = {
                p.get("init", "default")
                for t, p in zip(self._types, self._params)
                if t in WEIGHTED and "init" in p
            }
            if inits - HE_INITS:
                out.append(
                    "Start the weights with He (Kaiming) initialisation (the layers' init "
                    "parameter), which keeps the signal's scale through ReLU layers."
                )
            if weighted >= DEEP and not self._has_residual:
                out.append(
                    "Add a residual connection (an Add that skips a few layers), so the "
                    "gradient has a short path back to the first layers."
                )
        if exploding:
            lr = f" (now {self._lr:g})" if self._lr is not None else ""
            out.append(f"Lower the learning rate{lr}, e.g. ten times.")
            if not self._clipped:
                out.append('Clip the gradients: set clip mode "norm" with max 1.0.')
            if not any(t in NORMS for t in self._types):
                out.append("Add batch normalisation to keep the activations' scale in check.")
        return out

    def _render(self) -> None:
        vanishing, exploding = self.problems(VANISHING), self.problems(EXPLODING)
        if not vanishing and not exploding:
            self._show(EMPTY_TEXT, f"color: {theme.HEALTHY.name()};")
            return
        parts: list[str] = []
        for names, state, colour, what in (
            (
                vanishing,
                "Vanishing",
                theme.VANISHING,
                "their gradients are tiny next to the other layers', so they hardly learn",
            ),
            (
                exploding,
                "Exploding",
                theme.EXPLODING,
                "their gradients are huge, so each step throws their weights far off "
                "and the loss may become NaN",
            ),
        ):
            if not names:
                continue
            items = "".join(
                f"<li><b>{html.escape(n)}</b> since step {self.layers[n].since}"
                f"{_norm_text(self.layers[n].norm)}</li>"
                for n in names
            )
            parts.append(
                f"<p style='margin:0'><span style='color:{colour.name()}'><b>{state} gradients"
                f"</b></span> in {len(names)} layer{'s' if len(names) != 1 else ''}: "
                f"{html.escape(what)}.</p><ul style='margin-top:2px'>{items}</ul>"
            )
        remedies = self.remedies()
        if remedies:
            tips = "".join(f"<li>{html.escape(r)}</li>" for r in remedies)
            parts.append(f"<p style='margin:0'><b>Things to try</b></p><ul>{tips}</ul>")
        self._show("".join(parts), "")

    def _show(self, text: str, sheet: str) -> None:
        # unchanged text or style costs nothing (a style sheet change re-polishes the label)
        if self.label.styleSheet() != sheet:
            self.label.setStyleSheet(sheet)
        if self.label.text() != text:
            self.label.setText(text)


def _norm_text(norm: float) -> str:
    return f" (gradient norm {norm:.2g})" if norm == norm else ""
