"""The training panel: the procedure (how the network learns) with its settings form built
from the procedure's declared Params (:mod:`widgets.settings_form`), the dataset with its
typed options and a preview (:mod:`widgets.dataset_form`), the training settings (all edited
into the project's ``training`` section through the undo stack), the device, Start / Pause /
Resume / Stop, a progress bar and a status line.

Over 600 lines because it holds two ideas still: the settings forms and the run (starting,
relaying the worker's records, stopping on a project change). The run's half is the next
cut, into its own module under a ``widgets/training/`` package (DESIGN.md).

The trainer (:class:`builder.training.trainer.Trainer`) runs in its own thread; this panel polls its
channel on a 30 Hz timer in the GUI thread and relays the records to the dashboard, the canvas
badges and the health panel (DESIGN.md, data flow step 5). Nothing here blocks the GUI for
long: the worker is joined with a short timeout once its last record has arrived.

torch is imported only when it is needed (a preview, a run, the dataset list), so the window
opens without it.
"""

from __future__ import annotations

import copy
import gc
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from builder.training.config import (
    CLIP_MODES,
    LOSSES,
    OPTIMIZERS,
    SCHEDULES,
    ConfigError,
    TrainingConfig,
    parse_training,
)
from builder.training.health import EXPLODING, HEALTHY, VANISHING
from builder.training.procedures import DEFAULT, PROCEDURES, ProcedureSpec, with_procedure
from graph.errors import EditError, NeuralCanvasError
from widgets import theme
from widgets.commands import SetTraining
from widgets.dataset_form import DatasetBox
from widgets.dialogs import warn
from widgets.editor_document import EditorDocument
from widgets.health_panel import HealthPanel
from widgets.roles_form import RolesForm
from widgets.settings_form import UNSET, SettingsForm, from_param
from widgets.weights_file_row import WeightsFileRow

POLL_MS = 33  # <= 30 Hz (DESIGN.md step 5)
FIELD_MIN_WIDTH = 80  # px: the narrowest a settings field gets (see _build)
PROGRESS_INTERVAL = 0.25  # seconds between moves of the progress bar and status line
JOIN_TIMEOUT = 0.02  # seconds the GUI waits for the worker per tick once it has finished
# Seconds a project change waits for the stopped worker (it stops within one step; loading
# the data and compiling cannot be interrupted): a worker still going then is joined later.
STOP_TIMEOUT = 3.0
REAP_MS = 100  # between looks at such a worker
READY = "Ready"
GRID = 60  # decision-boundary probe: GRID x GRID points over the data's extent
EDIT_NOTE = "Edits apply to the next run"
TERMINAL = ("finished", "stopped", "early_stopped")
BATCH_CHOICES = ("full", "1", "8", "16", "32", "64", "128", "256")
SETTINGS_PATH = "training.procedure_settings"
HEALTH_COLOURS = {HEALTHY: theme.HEALTHY, VANISHING: theme.VANISHING, EXPLODING: theme.EXPLODING}

IDLE, STARTING, RUNNING, PAUSED, STOPPING = "idle", "starting", "running", "paused", "stopping"


def training_threads() -> int:
    """Torch threads for a run started from the window: every core but one, which stays
    with the interface (on two cores, two torch threads and the GUI thread fight for them:
    the GUI timer ran 40 ms late at p99 and training slowed whenever anything else ran)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


class _GuiThreadGC:
    """While a run goes, Python's cyclic garbage collector runs only in the GUI thread.

    Otherwise an allocation in the trainer's thread can trigger a collection there that
    destroys Qt objects caught in reference cycles (plot items, closed widgets) off the GUI
    thread, which crashes Qt. pyqtgraph's ``GarbageCollector`` does the same. Holds nest
    (several windows may train at once).
    """

    holds = 0
    was_enabled = True

    @classmethod
    def hold(cls) -> None:
        if cls.holds == 0:
            cls.was_enabled = gc.isenabled()
            # Everything alive now (Qt, torch, the window: some 200k objects) moves to the
            # permanent generation: the GUI thread's collections during the run then scan
            # only what the run creates. A full collection here took 150-380 ms.
            gc.freeze()
            gc.disable()
        cls.holds += 1

    @classmethod
    def release(cls) -> None:
        if cls.holds == 0:
            return
        cls.holds -= 1
        if cls.holds == 0 and cls.was_enabled:
            gc.enable()

    @staticmethod
    def collect() -> None:
        """A collection of the generations that are due (as the automatic one would)."""
        counts, limits = gc.get_count(), gc.get_threshold()
        if counts[0] <= limits[0]:
            return
        generation = 2 if counts[2] > limits[2] else 1 if counts[1] > limits[1] else 0
        gc.collect(generation)


@dataclass
class _Stopping:
    """A run stopped by a project change whose worker outlived :data:`STOP_TIMEOUT`: its
    last records still go to its dashboard run, and it is joined once it ends."""

    trainer: Any
    run: Any  # the dashboard's run, or None
    began: bool  # it loaded and compiled, "running" (else its dashboard run is forgotten)
    gc_held: bool


class TrainingPanel(QWidget):
    """Signals: ``state_changed(str)``: idle / starting / running / paused / stopping."""

    state_changed = Signal(str)

    def __init__(self, doc: EditorDocument, canvas: Any, dashboard: Any = None, parent=None):
        super().__init__(parent)
        self.setObjectName("trainingPanel")
        self.doc = doc
        self.canvas = canvas
        self.dashboard = dashboard
        self.health = HealthPanel()
        self.trainer: Any = None
        # The newest run's trainer once it has ended (its model holds the trained weights,
        # which File > Export saves); None before the first run and while one goes.
        self.last_trainer: Any = None
        self.state = IDLE
        self.config: TrainingConfig | None = None
        self.total_steps = 0
        self.step = 0
        self.last_error: str | None = None
        self.probe_layer: str | None = None
        self.probe_grid: tuple[Any, Any] | None = None
        self._terminal = False
        self._loading = False
        self._procedure_shown: Any = _MISSING  # the procedure whose settings the form holds
        self._run_count = 0
        self._last_step: Any = None
        self._running_seen = False
        self._launched = False  # the worker of the current run has been started
        self.dashboard_run: Any = None  # the dashboard's run of the current training run
        self._step_shown = True
        self._shown_step = -1
        self._progress_t = -math.inf
        self._gc_held = False
        self._badged: tuple[Any, Any] | None = None  # the newest report's health and norms
        self._badge_networks: tuple[str, ...] = ()  # the networks the run trains
        self.stopping: list[_Stopping] = []  # runs of closed projects not joined yet

        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.tick)
        self._reap_timer = QTimer(self)
        self._reap_timer.setInterval(REAP_MS)
        self._reap_timer.timeout.connect(self._reap)

        # The dataset list and options need torch: show them once it is loaded (the app
        # preloads it in the background), or when the user opens the list.
        self._fill_timer = QTimer(self)
        self._fill_timer.setInterval(300)
        self._fill_timer.timeout.connect(self._fill_when_ready)

        self._build()
        if dashboard is not None and hasattr(dashboard, "layer_selected"):
            dashboard.layer_selected.connect(self.select_probe_layer)
        self._bind(doc)
        self.load_form()
        self._update_buttons()

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(8, 6, 8, 6)
        outer.setSpacing(6)

        # run controls
        buttons = QGridLayout()
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.stop_button = QPushButton("Stop")
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip(
            "Apply one update, report it and pause (before a run: start one, paused after its"
            " first update)"
        )
        self.step_button.clicked.connect(lambda _checked=False: self.single_step())
        self.start_button.clicked.connect(self.start)
        self.pause_button.clicked.connect(self.pause)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        for i, b in enumerate((self.start_button, self.stop_button)):
            buttons.addWidget(b, 0, i * 3, 1, 3)
        for i, b in enumerate((self.pause_button, self.resume_button, self.step_button)):
            buttons.addWidget(b, 1, i * 2, 1, 2)
        outer.addLayout(buttons)
        # single steps of one part of an iteration (a GAN's Step D / Step G), as the
        # procedure declares them
        self.phase_row = QHBoxLayout()
        self.phase_buttons: dict[str, QPushButton] = {}
        outer.addLayout(self.phase_row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("%p%")
        outer.addWidget(self.progress)
        self.status = QLabel(READY)
        self.status.setObjectName("trainingStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.status)
        self.note = QLabel(EDIT_NOTE)
        self.note.setObjectName("trainingNote")
        self.note.setStyleSheet(f"color: {theme.MUTED.name()}; font-style: italic;")
        self.note.setVisible(False)
        outer.addWidget(self.note)
        # the procedure: how the network learns, and its own settings
        proc_box = QGroupBox("Procedure")
        proc = QVBoxLayout(proc_box)
        self.procedure_combo = QComboBox()
        self.procedure_combo.setObjectName("procedureCombo")
        for spec in PROCEDURES.values():
            self.procedure_combo.addItem(spec.title, spec.id)
            self.procedure_combo.setItemData(
                self.procedure_combo.count() - 1, spec.help, Qt.ItemDataRole.ToolTipRole
            )
        self.procedure_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.procedure_combo.activated.connect(lambda _i: self._procedure_chosen())
        proc.addWidget(self.procedure_combo)
        self.procedure_help = QLabel()
        self.procedure_help.setObjectName("procedureHelp")
        self.procedure_help.setWordWrap(True)
        self.procedure_help.setStyleSheet(f"color: {theme.MUTED.name()};")
        proc.addWidget(self.procedure_help)
        self.roles_form = RolesForm(self.set_field)
        self.roles_form.setObjectName("rolesForm")
        proc.addWidget(self.roles_form)
        self.procedure_form = SettingsForm()
        self.procedure_form.setObjectName("procedureSettings")
        self.procedure_form.edited.connect(self._setting_edited)
        proc.addWidget(self.procedure_form)
        outer.addWidget(proc_box)

        # dataset (widgets/dataset_form.py); its widgets are the panel's too
        self.dataset_box = DatasetBox(self._dataset_edited, on_filled=self.load_form)
        box = self.dataset_box
        self.dataset_combo, self.preview_button = box.combo, box.preview_button
        self.dataset_doc, self.preview = box.doc, box.preview
        self.preview_text, self.preview_table = box.preview_text, box.preview_table
        self.preview_image = box.preview_image
        self.dataset_combo.activated.connect(lambda _i: self._dataset_chosen())
        self.preview_button.clicked.connect(self.show_preview)
        outer.addWidget(box)

        # hyper-parameters
        hp_box = QGroupBox("Training")
        form = QFormLayout(hp_box)
        self.training_form = form
        self.loss_combo = self._combo(LOSSES, ("loss",))
        # as wide as its longest loss (bce_with_logits): a narrow dock cut cross_entropy off
        self.loss_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.loss_combo.setMinimumContentsLength(max(map(len, LOSSES)))
        self.optimizer_combo = self._combo(OPTIMIZERS, ("optimizer", "name"))
        self.lr_spin = self._double(("optimizer", "lr"), 1e-6, 10.0, 6, 1e-3)
        self.momentum_spin = self._double(("optimizer", "momentum"), 0.0, 1.0, 3, 0.0, step=0.05)
        self.schedule_combo = self._combo(SCHEDULES, ("schedule", "name"))
        self.epochs_spin = self._int(("epochs",), 1, 1_000_000, 100)
        self.batch_combo = QComboBox()
        self.batch_combo.setEditable(True)
        self.batch_combo.addItems(BATCH_CHOICES)
        self.batch_combo.setToolTip('Rows per step: "full" = the whole training set (batch GD)')
        self.batch_combo.lineEdit().editingFinished.connect(self._batch_edited)
        self.batch_combo.activated.connect(lambda _i: self._batch_edited())
        self.shuffle_check = QCheckBox("each epoch")
        self.shuffle_check.setObjectName("shuffleCheck")
        self.shuffle_check.setToolTip(
            "Shuffle the training rows every epoch (off: in their order, as a worked example"
            " takes them)"
        )
        self.shuffle_check.setChecked(True)
        self.shuffle_check.toggled.connect(lambda on: self.set_field(("shuffle",), bool(on)))
        self.l1_spin = self._double(("penalties", "l1"), 0.0, 10.0, 6, 0.0, step=1e-4)
        self.l2_spin = self._double(("penalties", "l2"), 0.0, 10.0, 6, 0.0, step=1e-4)
        self.clip_combo = self._combo(CLIP_MODES, ("clip", "mode"))
        self.clip_spin = self._double(("clip", "max"), 1e-6, 1e6, 3, 1.0, step=0.5)
        self.patience_spin = self._int(("early_stopping", "patience"), 0, 100_000, 0)
        self.patience_spin.setSpecialValueText("off")
        self.seed_spin = self._int(("seed",), 0, 2**31 - 1, 0)
        self.weights_row = WeightsFileRow(
            lambda: self.doc.path.parent if self.doc.path is not None else None
        )
        self.weights_row.changed.connect(self._set_weights_file)
        form.addRow("Loss", self.loss_combo)
        form.addRow("Optimizer", self.optimizer_combo)
        form.addRow("Learning rate", self.lr_spin)
        form.addRow("Momentum", self.momentum_spin)
        form.addRow("Schedule", self.schedule_combo)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_combo)
        form.addRow("Shuffle", self.shuffle_check)
        form.addRow("L1 penalty", self.l1_spin)
        form.addRow("L2 penalty", self.l2_spin)
        form.addRow("Clip", self.clip_combo)
        form.addRow("Clip max", self.clip_spin)
        form.addRow("Early stop", self.patience_spin)
        form.addRow("Seed", self.seed_spin)
        form.addRow("Initial weights", self.weights_row)
        self.device_combo = QComboBox()
        self.device_combo.addItem("auto")
        self.device_combo.setToolTip("Where the network trains (auto: a GPU when there is one)")
        self._devices_filled = False
        self.device_combo.showPopup = self._device_popup  # type: ignore[method-assign]
        form.addRow("Device", self.device_combo)
        outer.addWidget(hp_box)
        self.config_error = QLabel()
        self.config_error.setObjectName("configError")
        self.config_error.setWordWrap(True)
        self.config_error.setStyleSheet(f"color: {theme.ERROR.name()};")
        self.config_error.setVisible(False)
        outer.addWidget(self.config_error)

        outer.addStretch(1)
        # Spin boxes may be narrower than their longest value (one is sized for its maximum,
        # 1000000.000 for Clip max), so the panel fits a narrow dock; a combo box keeps the
        # width of its longest item, which would be cut off.
        for i in range(form.rowCount()):
            item = form.itemAt(i, QFormLayout.ItemRole.FieldRole)
            field = item.widget() if item is not None else None
            if field is not None and (
                not isinstance(field, QComboBox) or field is self.batch_combo
            ):
                field.setMinimumWidth(min(field.minimumSizeHint().width(), FIELD_MIN_WIDTH))
        # the loss row is hidden for procedures without a loss: the box keeps its width, so
        # the panel (and the dock sized for it) is as wide for every procedure
        hp_box.setMinimumWidth(hp_box.minimumSizeHint().width())

    def _combo(self, items: tuple[str, ...], path: tuple[str, ...]) -> QComboBox:
        combo = QComboBox()
        combo.addItems(items)
        combo.activated.connect(lambda _i, c=combo, p=path: self.set_field(p, c.currentText()))
        return combo

    def _double(
        self, path: tuple[str, ...], lo: float, hi: float, decimals: int, default: float, step=0.0
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setRange(lo, hi)
        spin.setDecimals(decimals)
        spin.setSingleStep(step or 10 ** -(decimals - 2))
        spin.setValue(default)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(lambda v, p=path: self.set_field(p, float(v)))
        return spin

    def _int(self, path: tuple[str, ...], lo: int, hi: int, default: int) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(lo, hi)
        spin.setValue(default)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(lambda v, p=path: self.set_field(p, int(v)))
        return spin

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._datasets_filled:
            self._fill_timer.start()

    def _fill_when_ready(self) -> None:
        torch = sys.modules.get("torch")
        spec = getattr(torch, "__spec__", None)
        if torch is not None and not getattr(spec, "_initializing", False):
            self.fill_datasets()
        if self._datasets_filled:
            self._fill_timer.stop()

    def _device_popup(self) -> None:
        if not self._devices_filled:
            from builder.training.trainer import available_devices

            current = self.device_combo.currentText()
            self.device_combo.clear()
            self.device_combo.addItems(available_devices())
            self.device_combo.setCurrentText(current)
            self._devices_filled = True
        QComboBox.showPopup(self.device_combo)

    # ------------------------------------------------------------------ the document
    def _bind(self, doc: EditorDocument) -> None:
        doc.undo.indexChanged.connect(self._undo_changed)
        doc.edited.connect(self._graph_edited)
        doc.network_switched.connect(self._network_switched)

    def set_document(self, doc: EditorDocument, canvas: Any) -> None:
        """Edit ``doc`` from now on (File > New / Open); a running training is stopped and
        the panel forgets the previous project (:meth:`end_project`)."""
        self.end_project()
        try:
            self.doc.undo.indexChanged.disconnect(self._undo_changed)
            self.doc.edited.disconnect(self._graph_edited)
            self.doc.network_switched.disconnect(self._network_switched)
        except (RuntimeError, TypeError):
            pass
        self.doc, self.canvas = doc, canvas
        self._bind(doc)
        self.load_form()

    def _undo_changed(self, _index: int) -> None:
        self.load_form()
        self._graph_edited()

    def _graph_edited(self, *_args: Any) -> None:
        if self.state != IDLE:
            self.note.setVisible(True)

    @property
    def training(self) -> dict[str, Any]:
        return self.doc.project.training

    def set_field(self, path: tuple[str, ...], value: Any) -> None:
        """Set one training setting (``("optimizer", "lr")``) through the undo stack."""
        if self._loading:
            return
        new = copy.deepcopy(self.training)
        node = new
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        if node.get(path[-1], _MISSING) == value:
            return
        node[path[-1]] = value
        self.set_training(new, ".".join(path))

    def _set_weights_file(self, path: str | None) -> None:
        """A file chosen or cleared: one undo step each (not merged like typing)."""
        if self._loading or self.training.get("initial_weights") == path:
            return
        new = copy.deepcopy(self.training)
        new["initial_weights"] = path
        self.set_training(new, "initial_weights", merge=False)

    def set_training(self, new: dict[str, Any], key: str = "", merge: bool = True) -> None:
        if new == self.training:
            return
        self.doc.push(SetTraining(self.doc.project, new, key, merge))
        self.load_form()

    def validate(self) -> TrainingConfig | None:
        """Parse the training section; show the problems under the form, and mark the
        procedure's settings they name."""
        try:
            config = parse_training(self.training)
        except ConfigError as exc:
            self.config_error.setText(str(exc))
            self.config_error.setVisible(True)
            self._mark_problems(exc.problems)
            return None
        self.config_error.setVisible(False)
        self.config_error.clear()
        self._mark_problems([])
        return config

    def _mark_problems(self, problems: list[Any]) -> None:
        prefix = SETTINGS_PATH + "."
        settings = {p.path[len(prefix) :]: p.message for p in problems if p.path.startswith(prefix)}
        self.procedure_form.set_problems(settings)
        bad = any(p.path == "training.procedure" for p in problems)
        if bool(self.procedure_combo.property("invalid")) != bad:
            self.procedure_combo.setProperty("invalid", bad)
            self.procedure_combo.setStyleSheet(
                f"QComboBox {{ border: 1px solid {theme.ERROR.name()}; }}" if bad else ""
            )

    def load_form(self) -> None:
        """Show the project's training section in the form (after an edit, undo or open)."""
        t = self.training
        self._loading = True
        try:
            self._load_procedure(t)
            opt = _section(t, "optimizer")
            _set_combo(self.loss_combo, t.get("loss", "mse"))
            _set_combo(self.optimizer_combo, opt.get("name", "adam"))
            _set_spin(self.lr_spin, opt.get("lr", 1e-3))
            _set_spin(self.momentum_spin, opt.get("momentum", 0.0))
            _set_combo(self.schedule_combo, _section(t, "schedule").get("name", "none"))
            _set_spin(self.epochs_spin, t.get("epochs", 100))
            batch = t.get("batch_size", 32)
            self.batch_combo.setEditText(str(batch))
            self.shuffle_check.setChecked(t.get("shuffle", True) is not False)
            weights = t.get("initial_weights")
            self.weights_row.set_path(weights if isinstance(weights, str) else None)
            pen = _section(t, "penalties")
            _set_spin(self.l1_spin, pen.get("l1", 0.0))
            _set_spin(self.l2_spin, pen.get("l2", 0.0))
            clip = _section(t, "clip")
            _set_combo(self.clip_combo, clip.get("mode", "none"))
            _set_spin(self.clip_spin, clip.get("max", 1.0))
            self.clip_spin.setEnabled(clip.get("mode", "none") != "none")
            _set_spin(self.patience_spin, _section(t, "early_stopping").get("patience", 0))
            _set_spin(self.seed_spin, t.get("seed", 0))
            self.momentum_spin.setEnabled(opt.get("name", "adam") in ("sgd", "rmsprop"))
            self.dataset_box.load(_section(t, "dataset"))
        finally:
            self._loading = False
        self.validate()

    # ------------------------------------------------------------------ procedure
    @property
    def procedure(self) -> ProcedureSpec | None:
        """The project's procedure (None: a name the registry does not know)."""
        name = self.training.get("procedure", DEFAULT)
        return PROCEDURES.get(name) if isinstance(name, str) else None

    def _load_procedure(self, t: dict[str, Any]) -> None:
        name = t.get("procedure", DEFAULT)
        spec = self.procedure
        combo = self.procedure_combo
        for i in reversed(range(len(PROCEDURES), combo.count())):
            combo.removeItem(i)  # a name shown earlier that is not a procedure
        index = combo.findData(name) if spec is not None else -1
        if index < 0:  # not a procedure: shown as written; validate() names it
            combo.addItem(str(name), None)
            index = combo.count() - 1
        combo.setCurrentIndex(index)
        combo.setToolTip(spec.help if spec is not None else "")
        self.procedure_help.setText(spec.help if spec is not None else "")
        if self._procedure_shown is not spec:  # another procedure: its own form
            self._procedure_shown = spec
            params = spec.settings if spec is not None else ()
            self.procedure_form.set_fields([from_param(p) for p in params])
            self._phase_buttons(spec)
        if self.dashboard is not None and spec is not None:
            self.dashboard.prepare_views(spec)  # made while the user looks, not at Start
        self.roles_form.load(spec, list(self.doc.project.networks), t)
        # a procedure whose every role has an optimiser of its own (a GAN's) does not use
        # the shared one: its rows go, the roles form holds each role's
        own = spec is not None and all(r.optimizer is not None for r in spec.roles)
        # a learning rule (a SOM's) has no optimiser, loss, schedule, penalties or clipping
        rule = spec is not None and not any(r.optimised for r in spec.roles)
        for row in (self.optimizer_combo, self.lr_spin, self.momentum_spin):
            self.training_form.setRowVisible(row, not (own or rule))
        for row in (
            self.schedule_combo,
            self.l1_spin,
            self.l2_spin,
            self.clip_combo,
            self.clip_spin,
        ):
            self.training_form.setRowVisible(row, not rule)
        self.procedure_form.setVisible(bool(self.procedure_form.specs))
        self.procedure_form.set_values(_section(t, "procedure_settings"))
        # the autoencoders' reconstruction loss is their own recon_loss setting
        self.training_form.setRowVisible(
            self.loss_combo, (spec is None or spec.uses_loss) and not rule
        )

    def _phase_buttons(self, spec: ProcedureSpec | None) -> None:
        for button in self.phase_buttons.values():
            self.phase_row.removeWidget(button)
            button.deleteLater()
        self.phase_buttons = {}
        for phase, label, tip in spec.phases if spec is not None else ():
            button = QPushButton(label)
            button.setObjectName(f"phase_{phase}")
            button.setToolTip(tip)
            button.clicked.connect(lambda _c=False, p=phase: self.single_step(p))
            self.phase_row.addWidget(button)
            self.phase_buttons[phase] = button
        if self.phase_buttons:
            self.step_button.setToolTip(
                "Paused: one full iteration ("
                + ", then ".join(self.phase_buttons)
                + "), then pause"
            )
        self._update_buttons()

    def _procedure_chosen(self) -> None:
        """Another procedure: the settings it declares too are kept (recon_loss from
        autoencoder to denoising), the others go; undo brings them back."""
        if self._loading:
            return
        name = self.procedure_combo.currentData()
        if name not in PROCEDURES or name == self.training.get("procedure", DEFAULT):
            self.load_form()  # the list shows the project's procedure again
            return
        self.set_training(with_procedure(self.training, name), "procedure", merge=False)

    def _setting_edited(self, name: str, value: Any) -> None:
        if value is not UNSET:
            self.set_field(("procedure_settings", name), value)
            return
        new = copy.deepcopy(self.training)  # emptied: back to the declared default
        settings = _section(new, "procedure_settings")
        if settings.pop(name, _MISSING) is _MISSING:
            return
        if not settings:
            new.pop("procedure_settings", None)
        self.set_training(new, f"procedure_settings.{name}")

    # ------------------------------------------------------------------ dataset
    @property
    def _datasets_filled(self) -> bool:
        return self.dataset_box.filled

    @property
    def _option_edits(self) -> dict[str, QWidget]:
        """The dataset option fields by name (``augment.flip`` for an augmentation)."""
        return self.dataset_box.edits

    def fill_datasets(self) -> None:
        """List every dataset and show the current one's options (imports the data layer)."""
        if self.dataset_box.fill():
            self.load_form()

    def _dataset_edited(self, spec: dict[str, Any], key: str) -> None:
        if self._loading:
            return
        new = copy.deepcopy(self.training)
        new["dataset"] = spec
        self.set_training(new, key, merge=False)

    def _dataset_chosen(self) -> None:
        name = self.dataset_combo.currentText()
        if name == _section(self.training, "dataset").get("name"):
            return
        new = copy.deepcopy(self.training)
        new["dataset"] = {"name": name}  # another dataset's options rarely fit
        self.set_training(new, "dataset", merge=False)
        self.preview.setVisible(False)

    def show_preview(self) -> None:
        """Load the dataset (small, on demand) and show a few samples, or the error."""
        if self.dataset_box.fill():
            self.load_form()
        base = self.doc.path.parent if self.doc.path is not None else None
        seed = self.training.get("seed", 0)
        self.dataset_box.show_preview(_section(self.training, "dataset"), base, seed)

    # ------------------------------------------------------------------ batch size
    def _batch_edited(self) -> None:
        if self._loading:
            return
        text = self.batch_combo.currentText().strip().lower()
        if text == "full":
            value: Any = "full"
        else:
            try:
                value = int(text)
            except ValueError:
                value = text  # parse_training names the problem
        self.set_field(("batch_size",), value)

    # ------------------------------------------------------------------ running
    @property
    def running(self) -> bool:
        return self.state != IDLE

    @property
    def settled(self) -> bool:
        """Idle, and the dashboard has drawn the end of the last run (it does so a plot
        group per turn of the event loop)."""
        return self.state == IDLE and not (self.dashboard is not None and self.dashboard.in_turns)

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self._update_buttons()
            self.state_changed.emit(state)

    def _update_buttons(self) -> None:
        s = self.state
        self.start_button.setEnabled(s == IDLE)
        self.pause_button.setEnabled(s in (STARTING, RUNNING))
        self.resume_button.setEnabled(s == PAUSED)
        self.step_button.setEnabled(s in (IDLE, PAUSED))
        # a phase steps the running procedure: the one the run was started with
        spec = PROCEDURES.get(self.config.procedure) if self.config and s != IDLE else None
        phases = {p for p, _label, _tip in spec.phases} if spec is not None else set()
        for phase, button in self.phase_buttons.items():
            button.setEnabled(s == PAUSED and phase in phases)
        self.stop_button.setEnabled(s in (STARTING, RUNNING, PAUSED))
        self.device_combo.setEnabled(s == IDLE)

    def start(self) -> bool:
        """Start a run of the current network with the project's settings; False when it
        cannot start (the reason is shown)."""
        if self.state != IDLE:
            return False
        config = self.validate()
        if config is None:
            self._fail("The training settings are invalid: " + self.config_error.text())
            return False
        try:
            import torch

            from builder.training.trainer import Trainer

            torch.set_num_threads(training_threads())
            base = self.doc.path.parent if self.doc.path is not None else None
            trainer = Trainer(
                self.doc.project,
                self.doc.current,
                config,
                base_dir=base,
                device=self.device_combo.currentText() or "auto",
            )
        except NeuralCanvasError as exc:
            self._fail(str(exc))
            return False
        except Exception as exc:  # an unexpected failure must leave the window usable
            self._fail(f"Cannot start training: {exc.__class__.__name__}: {exc}")
            return False
        self.trainer = trainer
        self.last_trainer = None
        self.config = trainer.config
        self._terminal = False
        self.last_error = None
        self.step = 0
        self.total_steps = 0
        self.probe_grid = None
        self._last_step = None
        self._running_seen = False  # the trainer has loaded and compiled ("running")
        self._step_shown = True  # the newest report's badges and warnings are drawn
        self._shown_step = -1  # the step the progress bar and status line show
        self._progress_t = -math.inf
        self._run_count += 1
        self.progress.setRange(0, 0)  # busy until the data is loaded
        self.status.setText("Loading data and compiling the network…")
        self.note.setText(EDIT_NOTE)
        self.note.setVisible(True)
        if self.canvas is not None:
            self.canvas.clear_badges()
        self._badged = None
        self._badge_networks = tuple(n.name for n in trainer.nets.values())
        clipped = config.clip.mode != "none"
        self.health.begin(trainer.net, clipped=clipped, lr=config.optimizer.lr)
        self.dashboard_run = None
        if self.dashboard is not None:  # cleared now, while the trainer loads and compiles
            spec = PROCEDURES.get(config.procedure)
            several = spec is not None and len(spec.roles) > 1  # a GAN's: named by procedure
            shown = spec.title if several else self.doc.current
            name = f"{shown} #{self._run_count}"
            self.dashboard_run = self.dashboard.begin_run(
                name, config.health, procedure=config.procedure, trainer=trainer
            )
        self._set_state(STARTING)
        # Collection moves to the GUI thread before the worker exists; the worker starts
        # last, once the GUI's own work for Start is done (it would compete for the
        # interpreter lock with the worker's loading and compiling).
        _GuiThreadGC.hold()
        self._gc_held = True
        self._launched = False
        self.timer.start()
        # The rest (clearing the plots, then the worker) in the next turn of the event loop:
        # Start then never blocks the interface for long in one piece.
        QTimer.singleShot(0, lambda: self._launch(trainer))
        return True

    def _discard_dashboard_run(self) -> None:
        """Forget the dashboard's run of a run that never reached its first step."""
        if self.dashboard_run is not None:
            self.dashboard.discard_run(self.dashboard_run)
            self.dashboard_run = None

    def _launch(self, trainer: Any) -> None:
        """Start's second half: the dashboard shows the new, empty run, then the worker
        starts (last: the GUI's own work does not compete with its loading)."""
        if self.trainer is not trainer:
            return  # shut down before it began
        if self.state == STOPPING:  # stopped before it began: nothing ran, nothing to keep
            self._discard_dashboard_run()
            self.status.setText("Stopped before training began")
            self._finish()
            return
        if self.dashboard_run is not None:  # the new run's empty plots, a group per turn
            self.dashboard.refresh_in_turns()
        try:
            trainer.start()  # prepare() runs in the worker; its errors come as records
            self._launched = True
        except Exception as exc:  # no thread (the system is out of them): back to idle
            self.timer.stop()
            self._release_gc()
            self._discard_dashboard_run()
            self.trainer = None
            self.note.setVisible(False)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self._set_state(IDLE)
            self._fail(f"Cannot start training: {exc.__class__.__name__}: {exc}")

    def pause(self) -> None:
        if self.trainer is not None and self.state in (STARTING, RUNNING):
            self.trainer.pause()
            self._set_state(PAUSED)
            self.status.setText(self._status_text("Paused"))

    def resume(self) -> None:
        if self.trainer is not None and self.state == PAUSED:
            self.trainer.resume()
            self._set_state(RUNNING)

    def single_step(self, phase: str | None = None) -> None:
        """One update, reported, then paused again (the run stays paused); ``phase``: only
        that part of the procedure's iteration (a GAN's "discriminator" or "generator")."""
        if self.trainer is not None and self.state == PAUSED:
            self.trainer.step_once(phase)
        elif self.state == IDLE and phase is None and self.start():
            self.trainer.step_once()  # before its thread starts: paused after one update

    def stop(self) -> None:
        if self.trainer is not None and self.state in (STARTING, RUNNING, PAUSED):
            self.trainer.stop()
            self._set_state(STOPPING)
            self.status.setText(self._status_text("Stopping"))

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop and join the worker (window closing), and those of runs stopped by a
        project change; True when no thread is left."""
        self.timer.stop()
        for item in self.stopping:
            item.trainer.stop()
            item.trainer.join(timeout)
        self._reap()
        trainer = self.trainer
        if trainer is None:
            return not self.stopping
        trainer.stop()
        done = trainer.join(timeout)
        if done:
            self._release_gc()
            self.trainer = None
            self.last_trainer = trainer
            self.note.setVisible(False)
            self._set_state(IDLE)
        return done and not self.stopping

    # ------------------------------------------------------------------ another project
    def end_project(self, timeout: float | None = None) -> None:
        """Forget the open project (File > New / Open; the caller has asked whether a run
        may stop): a run still going is stopped, its records so far stay with its
        dashboard run; the status line, progress, note, preview, the gradient-health
        panel and the canvas badges are as in a new window. Never leaves a thread behind:
        a worker that does not end within ``timeout`` seconds (default
        :data:`STOP_TIMEOUT`) is joined later."""
        self._stop_for_project_change(STOP_TIMEOUT if timeout is None else timeout)
        self.last_trainer = None  # trained on the previous project
        self.config = None
        self.last_error = None
        self.step = self.total_steps = 0
        self._last_step = None
        self._terminal = self._running_seen = self._launched = False
        self._step_shown, self._shown_step, self._progress_t = True, -1, -math.inf
        self.probe_layer = None  # a layer of the previous project's network
        self.probe_grid = None
        self._run_count = 0  # runs are counted per project ("main #1" again)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.status.setText(READY)
        self.note.setVisible(False)
        self.preview.setVisible(False)
        self.health.reset()
        self._badged = None
        if self.canvas is not None:
            self.canvas.clear_badges()

    def _stop_for_project_change(self, timeout: float) -> None:
        trainer = self.trainer
        if trainer is None:
            return
        self.timer.stop()
        trainer.stop()
        item = _Stopping(trainer, self.dashboard_run, self._running_seen, self._gc_held)
        self.trainer, self.dashboard_run, self._gc_held = None, None, False
        if trainer.alive:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            try:
                trainer.join(timeout)
            finally:
                QGuiApplication.restoreOverrideCursor()
        self.stopping.append(item)
        self._reap()  # at once when it has ended, else on the reap timer
        self._set_state(IDLE)

    def _reap(self) -> None:
        """Relay the records of the runs stopped by a project change to their dashboard
        runs, and join the workers that have ended."""
        for item in list(self.stopping):
            ended = not item.trainer.alive  # before the last poll: nothing comes after it
            records = item.trainer.poll()
            item.began = item.began or any(_began(r) for r in records)
            if item.run is not None and self.dashboard is not None:
                if item.began and records:
                    self.dashboard.add_records(records, run=item.run)
                elif ended and not item.began:  # it never began: nothing to keep
                    self.dashboard.discard_run(item.run)
            if ended and item.trainer.join(0):
                self.stopping.remove(item)
                if item.gc_held:
                    _GuiThreadGC.release()
        if self.stopping:
            self._reap_timer.start()
        else:
            self._reap_timer.stop()

    def tick(self) -> None:
        """Relay the trainer's new records (the 30 Hz timer)."""
        trainer = self.trainer
        if trainer is None:
            self.timer.stop()
            return
        if not self._launched:
            return  # Start's second half has not run yet
        _GuiThreadGC.collect()
        records = trainer.poll()
        for record in records:
            self._handle(record)
        self._show_progress()
        if self.dashboard_run is not None:
            if records:
                self.dashboard.add_records(records)
            self.dashboard.refresh_live()  # one plot per tick, so no tick blocks for long
        if self._terminal or not trainer.alive:
            if self._terminal and trainer.join(JOIN_TIMEOUT):
                self._finish()
            elif not trainer.alive and not records:
                self._finish()  # ended without a last record (should not happen)

    def _finish(self) -> None:
        self.timer.stop()
        trainer = self.trainer
        try:
            if trainer is not None:
                # anything that came with the last record, or after a tick's empty poll
                # (the worker may have ended in between): handled with the run still set
                records = trainer.poll()
                for record in records:
                    self._handle(record)
                self._show_progress(final=True)
                if self.dashboard_run is not None:
                    if records:
                        self.dashboard.add_records(records)
                    # everything the live ticks had not drawn yet, a plot group per turn
                    self.dashboard.refresh_in_turns()
                self.last_trainer = trainer
        finally:  # the run ends here whatever a record did
            self.trainer = None
            self._release_gc()
            self.note.setVisible(False)
            self._set_state(IDLE)

    def _release_gc(self) -> None:
        if self._gc_held:
            self._gc_held = False
            _GuiThreadGC.release()

    def _handle(self, record: Any) -> None:
        kind = getattr(record, "kind", "")
        if kind == "status":
            state = record.state
            if state == "running":
                self._prepared()
                if record.message:  # what initial_weights loaded
                    self.note.setText(record.message)
                    self.note.setVisible(True)
            elif state == "paused":
                self._set_state(PAUSED)
                self.status.setText(self._status_text("Paused"))
            elif state == "resumed" and self.state != STOPPING:
                self._set_state(RUNNING)
            elif state in TERMINAL:
                self._terminal = True
                words = {
                    "finished": "Finished",
                    "stopped": "Stopped",
                    "early_stopped": "Early stopped",
                }
                text = self._status_text(words[state])
                if record.message and state != "finished":
                    text = f"{text} — {record.message}"
                self.status.setText(text)
                if state == "finished":
                    self.progress.setValue(self.progress.maximum())
        elif kind == "step":
            self._step(record)
        elif kind == "error":
            self._terminal = True
            if not self._running_seen:  # refused before its first step: no run to keep
                self._discard_dashboard_run()
            self.last_error = record.message
            self.status.setText(record.message)
            self.progress.setRange(0, 1)
            self.progress.setValue(0)
            self.show_error("Training stopped", record.message)

    def _prepared(self) -> None:
        """The worker loaded the data and compiled the model: size the progress bar, start
        the dashboard's run and, for 2-D data, the decision-boundary probe."""
        trainer = self.trainer
        cfg = trainer.config
        n = len(trainer.splits.train)
        batch = n if cfg.batch_size is None else max(1, min(cfg.batch_size, n))
        self.total_steps = cfg.epochs * math.ceil(n / batch)
        self.progress.setRange(0, max(1, self.total_steps))
        self.progress.setValue(0)
        if self.state == STARTING:
            self._set_state(RUNNING)
        self.status.setText(self._status_text("Running"))
        self._badge_networks = tuple(net.name for net in trainer.nets.values())
        points = None
        ds = trainer.splits.dataset
        if ds.kind == "points2d" and trainer.splits.train.x.ndim == 2:
            x = trainer.splits.train.x.detach().cpu().numpy()
            y = trainer.splits.train.y.detach().cpu().numpy()
            points = (x, y)
            self.probe_grid = _grid(x)
        if self.dashboard is not None:
            names = ds.class_names if ds.task == "classification" else None
            self.dashboard.set_run_data(
                points=points, class_names=names, sample_shape=tuple(ds.input_shape)
            )
        self._running_seen = True
        self._apply_probe()

    def _step(self, record: Any) -> None:
        """Take a report; what it shows is drawn once per tick (:meth:`_show_progress`), from
        the newest report, however many came since the last tick."""
        self.step = record.step
        self._last_step = record
        self._step_shown = False
        if record.health:  # every report, so "since step N" is exact; rendered once a tick
            self.health.update_health(record.step, record.health, record.grad_norms, False)

    def _show_progress(self, final: bool = False) -> None:
        """The progress bar and the status line (at most every :data:`PROGRESS_INTERVAL`
        seconds during a run: the bar repaints synchronously on each change, about 0.4 ms),
        the canvas badges and the warnings, for the newest report."""
        record = self._last_step
        if record is None:
            return
        now = time.monotonic()
        if (
            self.last_error is None
            and self._shown_step != record.step
            and (final or now - self._progress_t >= PROGRESS_INTERVAL)
        ):
            self._progress_t = now
            self._shown_step = record.step
            if self.total_steps:
                self.progress.setValue(min(record.step, self.total_steps))
            if self.state not in (PAUSED, STOPPING) and not self._terminal:
                self.status.setText(self._status_text("Running"))
        if not self._step_shown:
            self._step_shown = True
            if record.health:
                self._badges(record.health, record.grad_norms)
            self.health.render()

    def _status_text(self, what: str) -> str:
        rec = self._last_step
        if rec is None:
            return what
        parts = [what, f"epoch {rec.epoch}/{self.config.epochs if self.config else '?'}"]
        parts.append(f"step {rec.step}/{self.total_steps or '?'}")
        parts.append(f"loss {rec.train_loss:.4g}")
        parts.append(f"{rec.samples_per_sec:,.0f} samples/s")
        if what == "Running" and self.total_steps and rec.step:
            eta = rec.elapsed * (self.total_steps - rec.step) / rec.step
            parts.append(f"ETA {_duration(eta)}")
        return " · ".join(parts)

    def _badges(self, health: Any, norms: Any) -> None:
        """The canvas badges of the shown network: a run of several networks (a GAN) names
        its layers "network/layer", and each network's tab shows its own."""
        self._badged = (health, norms)
        if self.canvas is None:
            return
        net = self.doc.net
        trained = self._badge_networks
        if net.name not in trained:
            return
        prefix = f"{net.name}/" if len(trained) > 1 else ""
        for name, state in health.items():
            if not name.startswith(prefix):
                continue
            layer = name[len(prefix) :]
            try:
                node_id = net.find(layer)  # names are unique; a renamed layer is skipped
            except EditError:
                continue
            norm = norms.get(name) if norms else None
            tip = f"{layer}: {state} gradient"
            if norm is not None:
                tip += f" (norm {norm:.3g})"
            self.canvas.set_badge(node_id, HEALTH_COLOURS.get(state, theme.MUTED), tip)

    def _network_switched(self, _name: str) -> None:
        """Another tab: its network's badges of the newest report (the canvas has rebuilt
        its cards)."""
        if self._badged is not None:
            self._badges(*self._badged)

    # ------------------------------------------------------------------ probe
    def select_probe_layer(self, layer: str | None) -> None:
        self.probe_layer = layer or None
        self._apply_probe()

    def _apply_probe(self) -> None:
        trainer = self.trainer
        if trainer is not None and hasattr(trainer, "set_probe"):
            trainer.set_probe(self.probe_layer, self.probe_grid)

    # ------------------------------------------------------------------ dialogs
    def _fail(self, message: str) -> None:
        self.last_error = message
        self.status.setText(message)
        self.show_error("Cannot start training", message)

    def show_error(self, title: str, message: str) -> None:
        """Tell the user (replaceable in tests: assign a function to the instance)."""
        warn(self, title, message)


# --------------------------------------------------------------------------- helpers

_MISSING = object()


def _began(record: Any) -> bool:
    """Whether a record shows that its run got past loading and compiling."""
    kind = getattr(record, "kind", "")
    return kind == "step" or (kind == "status" and getattr(record, "state", "") == "running")


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _set_combo(combo: QComboBox, value: Any) -> None:
    text = str(value)
    if combo.findText(text) < 0:
        combo.addItem(text)  # an invalid value stays visible; parse_training names it
    combo.setCurrentText(text)


def _set_spin(spin: QSpinBox | QDoubleSpinBox, value: Any) -> None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        # clamped first: a QSpinBox holds 32-bit integers and overflows beyond them
        spin.setValue(type(spin.value())(min(max(value, spin.minimum()), spin.maximum())))


def _duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _grid(x: Any) -> tuple[Any, Any]:
    """``GRID`` points along each axis over the data's extent plus a 10% margin."""
    import numpy as np

    lo, hi = x.min(axis=0), x.max(axis=0)
    pad = (hi - lo) * 0.1 + 1e-6
    gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], GRID, dtype=np.float32)
    gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], GRID, dtype=np.float32)
    return gx, gy
