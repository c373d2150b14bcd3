"""The trainer: trains a compiled network in a background thread and reports immutable
records through a thread-safe channel (DESIGN.md, data flow step 5).

The GUI, the command line and the tests drive the same :class:`Trainer`. It never waits for
its reader: records go into a ``queue.SimpleQueue`` and into a bounded :class:`History`.
Pause, resume and stop are flags checked between steps (and between evaluation batches).

The hot loop keeps host synchronisation off the critical path: the data sits on the device,
batches are index-selected there, on a GPU each step's detached loss stays there until the
report, and per layer gradient norms are gathered with one ``torch._foreach_norm`` call and
copied to the host with the losses once per report (every ``report_every`` steps and
``report_interval`` seconds), never one ``.item()`` per layer. On the CPU, where reading a
scalar waits for nothing, a step's loss is read as it comes (see
:class:`~builder.training.reporting.Pending`).

The training itself is :func:`builder.training.loop.fit` driving the procedure's kernel; this
module binds the procedure, runs the loop in its thread and turns its events into records.
It is longer than ~600 lines because that is one idea (a run under control: pause, single
step, stop, resume, reports, divergence, early stopping) whose parts share the run's state;
what stands apart lives beside it (reporting, checkpoint, probes).
"""

from __future__ import annotations

import copy
import gc
import math
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from builder import budget
from builder.compile import compile_network
from builder.data import Splits, augment, load_dataset, make_splits
from builder.names import attribute_names
from builder.shapes import check_compilable
from builder.training import loop, procedures
from builder.training import resume as resuming
from builder.training.binding import (
    TrainingError,
    bind,
    check_ports,
    ports,
    procedure_hint,
    role_networks,
)
from builder.training.checkpoint import (
    CheckpointError,
    kernel_state_dict,
    load_checkpoint,
    load_kernel_state,
    save_checkpoint,
    upgrade,
)
from builder.training.config import ConfigError, TrainingConfig, parse_training
from builder.training.health import blowup_message, classify, divergence_message
from builder.training.objectives import TargetError
from builder.training.probes import ViewProber, view_prober
from builder.training.probes.layers import LayerProber
from builder.training.procedures.spec import BindingError
from builder.training.records import (
    EpochRecord,
    ErrorRecord,
    EvaluationRecord,
    History,
    Record,
    StatusRecord,
    StepRecord,
    frozen,
)
from builder.training.reporting import Layers, Pending
from graph import project_file
from graph.atomic import FileWriteError
from graph.document import Project
from graph.errors import NeuralCanvasError

SATURATING = {"Sigmoid", "Tanh"}
STOP_POLL = 0.05  # seconds between checks of the stop flag while paused
ALARM_EPOCHS = 200  # the newest epoch evaluations a procedure's alarms judge


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; a named device must be available."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError("CUDA was chosen but no CUDA GPU is available here: choose cpu or auto")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise TrainingError(
            "MPS was chosen but Apple's GPU backend is not available here: choose cpu or auto"
        )
    if name not in ("cpu", "cuda", "mps"):
        raise TrainingError(f"Unknown device {name!r}: choose auto, cpu, cuda or mps")
    return torch.device(name)


def available_devices() -> list[str]:
    """The device choices that work on this machine (``auto`` first)."""
    out = ["auto", "cpu"]
    if torch.cuda.is_available():
        out.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        out.append("mps")
    return out


class Trainer:
    """Trains one network of a project.

    The project is snapshotted (serialised and rebuilt) when the trainer is made, so edits
    made while it runs cannot race it. :meth:`prepare` loads the data, compiles the model and
    checks that they fit; it raises :class:`graph.errors.NeuralCanvasError` subclasses with
    clear messages. :meth:`start` runs training in a background thread (preparing first if
    needed, reporting a failure as an :class:`ErrorRecord`); :meth:`run` does the same in
    the calling thread.
    """

    def __init__(
        self,
        project: Project,
        network: str | None = None,
        config: TrainingConfig | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        device: str | None = None,
        resume: str | os.PathLike[str] | None = None,
        splits: Splits | None = None,
        history_size: int = 2000,
        checkpoint: str | os.PathLike[str] | None = None,
    ):
        # The networks are rebuilt from their serialised form; the training section is copied
        # as it is and checked by parse_training, whose messages name the setting.
        snapshot = project_file.to_dict(project)
        training = copy.deepcopy(snapshot.pop("training", {}))
        self.project = project_file.from_dict(snapshot, project.specs, "the project")
        self.project.training = training
        self._network = network
        # The networks by role (bound in prepare); until then, the one shown.
        self.net = self.project.network(network)
        self.nets = {"model": self.net}
        self.models: dict[str, nn.Module] = {}
        self._config_error: ConfigError | None = None
        if config is None:
            try:
                config = parse_training(training)
            except ConfigError as exc:  # raised by prepare(), so start() reports it as a record
                self._config_error = exc
                config = TrainingConfig()
        self.config = config
        if device is not None:
            self.config = replace(self.config, device=device)
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.resume_from = resume
        self.resume_changes: list[str] = []  # settings changed since the checkpoint (applied)
        # Written atomically after every epoch, so a kill loses at most the epoch under way;
        # synced to the disk once checkpoint_every seconds have passed (0: every epoch).
        self.checkpoint_path = checkpoint
        self.checkpoint_every = 2.0
        # A reader that writes the records to files (the command line) says up to which epoch
        # it has (records_written); the checkpoint of an epoch then waits for its records,
        # so that it never runs ahead of them (a resume continues the files from it).
        self.wait_for_records = False
        self._written_epoch = 0
        self._written = threading.Condition()
        self._saved_at = -math.inf
        self.splits = splits
        self.channel: queue.SimpleQueue[Record] = queue.SimpleQueue()
        self.history = History(history_size)
        self.state = "idle"
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.progress = loop.Progress()  # epoch, step, early stopping's best loss and count
        self._single = False  # pause after the next step (single-step mode)
        self._phase: str | None = None  # the part of the procedure that single step does
        self._alarms: Any = None  # the procedure's alarms (see ProcedureSpec.alarms)
        self._evaluations: deque[dict[str, Any]] = deque(maxlen=ALARM_EPOCHS)
        self._grad_max: tuple[str, float] | None = None  # the newest report's largest norm
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._prepared = False
        self.notes: list[str] = []  # said when the run starts (what initial_weights loaded)
        self.loaded: set[str] = set()  # the tensors initial_weights loaded
        self._probe: tuple[str | None, Any, float] | None = None
        self._elapsed0 = 0.0
        self._views_on = False
        self._norm_index: torch.Tensor | None = None  # see _train
        self.prober: ViewProber | None = None

    @property
    def epoch(self) -> int:
        """Epochs completed."""
        return self.progress.epoch

    @property
    def step(self) -> int:
        """Steps completed."""
        return self.progress.step

    @property
    def best_loss(self) -> float:
        return self.progress.best_loss

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        """Train in a background thread; read records with :meth:`poll`."""
        if self._thread is not None:
            raise TrainingError(
                "This trainer has already been started: make a new one for a new run"
            )
        self._thread = threading.Thread(
            target=self._thread_main, name="neuralcanvas-trainer", daemon=True
        )
        self._thread.start()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def step_once(self, phase: str | None = None) -> None:
        """Single step: apply one update, report it, then pause (safe from any thread).
        ``phase``: one of the procedure's phases (a GAN's "discriminator" or "generator"):
        that step updates only that part."""
        if phase is not None:
            spec = procedures.procedure(self.config.procedure)
            known = [p for p, _label, _help in spec.phases]
            if phase not in known:
                raise TrainingError(
                    f"The {spec.id} procedure has no phase {phase!r}"
                    + (f"; it has {', '.join(known)}" if known else "")
                )
        self._phase = phase
        self._single = True
        self._running.set()

    def stop(self) -> None:
        """Ask the run to stop; it does within one training step (or evaluation batch)."""
        self._stop.set()
        self._running.set()

    def set_probe(
        self,
        layer: str | None = None,
        grid: tuple[Any, Any] | None = None,
        interval: float = 0.25,
    ) -> None:
        """Ask for :class:`ProbeRecord`\\ s (safe from any thread): the weight and activation
        histograms of the layer named ``layer`` and, for 2-D inputs, the model's prediction
        on the grid ``(xs, ys)`` (in the trainer's normalised input space), at most every
        ``interval`` seconds, on report steps. ``set_probe()`` with no arguments stops them."""
        if layer is None and grid is None:
            self._probe = None
        else:
            self._probe = (layer, grid, interval)

    def set_views(self, on: bool = True) -> None:
        """Ask for the procedure's declared views as :class:`ViewRecord`\\ s (safe from any
        thread): probed on report steps, each at most every ``View.every`` seconds, and once
        more on the final weights."""
        self._views_on = bool(on)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker; returns True when it has finished."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poll(self) -> list[Record]:
        """Every record sent since the last poll (never blocks)."""
        out = []
        while True:
            try:
                out.append(self.channel.get_nowait())
            except queue.Empty:
                return out

    def records(self, timeout: float = 60.0) -> Iterator[Record]:
        """Yield records until the run ends (for headless callers); raises TrainingError if
        no record arrives for ``timeout`` seconds while the worker is alive."""
        while True:
            try:
                record = self.channel.get(timeout=timeout)
            except queue.Empty:
                if not self.alive:
                    return
                raise TrainingError(f"No progress for {timeout:g} s") from None
            yield record
            if isinstance(record, ErrorRecord) or (
                isinstance(record, StatusRecord)
                and record.state in ("finished", "stopped", "early_stopped")
            ):
                return

    def run(self) -> list[Record]:
        """Prepare and train in the calling thread; returns every record."""
        self._thread_main()
        return self.poll()

    # ------------------------------------------------------------------ preparation
    def prepare(self) -> None:
        """Load data, compile the model, bind it to the procedure's roles and check they fit;
        raise a clear error if not."""
        if self._prepared:
            return
        if self._config_error is not None:
            raise self._config_error
        cfg = self.config
        self.device = pick_device(cfg.device)
        self.procedure = procedures.procedure(cfg.procedure)
        if self.splits is None:
            budget.check_data(cfg.dataset, self.device.type)  # before it is made
            dataset = load_dataset(cfg.dataset, self.base_dir, seed=cfg.seed)
            self.splits = make_splits(dataset, cfg.dataset, seed=cfg.seed)
        ds = self.splits.dataset
        spec = self.procedure
        self.nets = role_networks(self.project, spec, cfg.roles, self._network)
        self.net = next(iter(self.nets.values()))  # the first role's (a GAN's generator)
        # Sizes are checked on the shapes before a weight is allocated: the Input against
        # the data, then the run's memory against the machine's.
        for role in spec.roles:
            net = self.nets[role.name]
            results = check_compilable(net)
            try:
                check_ports(net, *ports(net, results), ds, spec.id, role.takes_data)
            except TrainingError as exc:
                hint = procedure_hint(self.project, spec)
                if hint is None:
                    raise
                raise TrainingError(f"{exc}. {hint}") from None
            estimate = budget.run_estimate(net, results, cfg, self.splits)
            budget.check_run(estimate, self.device.type)
        models = {
            role: compile_network(net, seed=cfg.seed + i)
            for i, (role, net) in enumerate(self.nets.items())
        }
        if cfg.initial_weights is not None:
            self.notes.append(self._initial_weights(cfg.initial_weights, models, spec))
        binding = bind(self.nets, models, self.splits, spec, frozenset(self.loaded))
        data_int = not ds.x.is_floating_point()
        try:
            spec.check(binding)
            settings = spec.configure(binding, cfg)
        except (BindingError, TargetError) as exc:  # built for another procedure: say which
            hint = procedure_hint(self.project, spec)
            if hint is None:
                raise
            raise type(exc)(f"{exc}. {hint}") from None
        self.kernel_settings = settings
        self._alarms = spec.load_alarms()
        self.models = {role: model.to(self.device) for role, model in models.items()}
        self.model = next(iter(self.models.values()))
        self.attr_to_name = {}
        for net in self.nets.values():
            prefix = "" if len(self.nets) == 1 else f"{net.name}/"
            names = attribute_names(net).items()
            self.attr_to_name.update({prefix + attr: prefix + net.name_of(n) for n, attr in names})
        self.name_to_attr = {v: k for k, v in self.attr_to_name.items()}
        self.layers = Layers(self._monitored(), self.attr_to_name, self.device)
        self.kernel = self.procedure.load_kernel()
        self.kernel_state = self.kernel.setup(dict(self.models), settings)
        # The optimiser that steps first in a step: its pre-step hook takes the report's
        # gradient norms of every network (a GAN's discriminator's, then the generator's).
        # None for a learning rule (a SOM's): no optimiser, no gradients to monitor.
        self.optimizer = next(iter(self.kernel_state.get("optimizers", {}).values()), None)
        self.scheduler = self.kernel_state.get("scheduler")
        self.task = settings.get("task")
        self.hints = {
            "normalised": self.splits.normalisation.get("kind", "none") != "none" or data_int,
            "clipped": cfg.clip.mode != "none",
            "saturating": any(
                net.type_of(n) in SATURATING for net in self.nets.values() for n in net.nodes
            ),
        }
        # Data lives on the device.
        self.train_x = self.splits.train.x.to(self.device)
        self.train_y = self.splits.train.y.to(self.device)
        if self.splits.val is not None and len(self.splits.val):
            self.eval_split = (self.splits.val.x.to(self.device), self.splits.val.y.to(self.device))
            self.has_val = True
        else:
            self.eval_split = None
            self.has_val = False
        self.shuffle = torch.Generator().manual_seed(cfg.seed + 1)
        self.aug_gen = torch.Generator(device=self.device).manual_seed(cfg.seed + 2)
        self.augment_options = cfg.dataset.get("augment") or {}
        self.prober = view_prober(
            self.procedure,
            self.kernel,
            self.kernel_state,
            self.model,
            self.net,
            ds,
            self.eval_split or (self.train_x, self.train_y),
        )
        self.layer_prober = LayerProber(
            self.model,
            self.name_to_attr,
            self.task,
            getattr(cfg, "loss", ""),
            probability=self.kernel_settings.get("prediction") == "probability",
            threshold=self.kernel_settings.get("threshold")
            if self.kernel_settings.get("prediction") == "threshold"
            else None,
        )
        if self.resume_from is not None:
            self._load_resume(self.resume_from)
        self._prepared = True

    def _load_resume(self, path: str | os.PathLike[str]) -> None:
        data = upgrade(load_checkpoint(path))
        made_by = data.get("procedure", procedures.DEFAULT)
        if isinstance(made_by, str) and made_by != self.procedure.id:  # before its network
            raise CheckpointError(
                f"Checkpoint {path} was made by the {made_by} procedure; this run trains with"
                f" {self.procedure.id}: resume it with training.procedure set to {made_by!r},"
                " or start this run afresh"
            )
        resuming.validate(data, path, self.net.name)
        saved, now = data.get("settings"), resuming.settings_of(self.config)
        resuming.refuse_other_kinds(saved, now, path)
        if saved is None:  # a checkpoint that does not record its settings
            for role, optimizer in self.kernel_state.get("optimizers", {}).items():
                resuming.refuse_other_optimizer(data["optimizers"].get(role) or {}, optimizer, path)
        load_kernel_state(self.kernel_state, data, path, self.net.name)
        self.resume_changes = resuming.apply_changes(saved, now, self.kernel_state)
        p = self.progress
        p.epoch, p.step = int(data["epoch"]), int(data["step"])
        p.best_loss = float(data.get("best_loss", math.inf))
        p.waiting = int(data.get("waiting", 0))
        p.best_state = data.get("best_state")
        p.best_epoch = int(data.get("best_epoch", 0))
        p.best_train = float(data.get("best_train", math.inf))
        for name in ("first_loss", "start_norm"):
            setattr(p, name, None if data.get(name) is None else float(data[name]))
        self._elapsed0 = float(data.get("elapsed", 0.0))
        try:
            if data.get("shuffle_rng") is not None:
                self.shuffle.set_state(data["shuffle_rng"])
            if data.get("augment_rng") is not None:
                self.aug_gen.set_state(data["augment_rng"])
            if data.get("torch_rng") is not None:
                torch.Generator().set_state(data["torch_rng"])  # checked here, used at the start
        except RuntimeError as exc:
            raise CheckpointError(
                f"Checkpoint {path} is damaged: a random generator state does not fit"
                f" ({str(exc).splitlines()[0][:200]}). Start the run afresh (without --resume)"
            ) from None
        if data.get("torch_rng") is not None:
            self._resume_rng = data["torch_rng"]

    def _monitored(self) -> list[tuple[str, nn.Module]]:
        """Every layer of every network, by attribute (prefixed by the network's name when
        there are several)."""
        if len(self.models) == 1:
            return list(self.model.named_children())
        return [
            (f"{self.nets[role].name}/{attr}", module)
            for role, model in self.models.items()
            for attr, module in model.named_children()
        ]

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to resume this run where it is."""
        return {
            "network": self.net.name,
            "procedure": self.procedure.id,
            **kernel_state_dict(self.kernel_state),
            "epoch": self.epoch,
            "step": self.step,
            "best_loss": self.progress.best_loss,
            "best_state": self.progress.best_state,
            "elapsed": self._elapsed(),
            "shuffle_rng": self.shuffle.get_state(),
            "augment_rng": self.aug_gen.get_state(),
            "waiting": self.progress.waiting,
            "best_epoch": self.progress.best_epoch,
            "best_train": self.progress.best_train,
            "first_loss": self.progress.first_loss,
            "start_norm": self.progress.start_norm,
            "torch_rng": torch.get_rng_state(),
            "settings": resuming.settings_of(self.config),
        }

    def save_checkpoint(self, path: str | os.PathLike[str], durable: bool = True) -> None:
        save_checkpoint(path, self.checkpoint_state(), durable)

    # ------------------------------------------------------------------ the run
    def _emit(self, record: Record) -> None:
        self.history.add(record)
        self.channel.put(record)

    def _initial_weights(self, path: str, models: dict[str, Any], spec: Any) -> str:
        """Load ``training.initial_weights`` into the first network; the report, in words."""
        from builder.training.initial_weights import WeightsFileError, describe, load_weights

        if len(models) > 1:
            raise TrainingError(
                f"training.initial_weights loads one network's weights, but the {spec.id}"
                " procedure trains several: set the weights of each by hand, or leave it null"
            )
        full = Path(path) if self.base_dir is None else Path(self.base_dir) / path
        try:
            report = load_weights(next(iter(models.values())), full)
        except WeightsFileError as exc:
            raise TrainingError(str(exc)) from None
        self.loaded = set(report["loaded"])
        return describe(report, path)

    def _status(self, state: str, message: str = "") -> None:
        self.state = state
        self._emit(StatusRecord(state, self.epoch, self.step, message))

    def _elapsed(self) -> float:
        return self._elapsed0 + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0)

    def _thread_main(self) -> None:
        # Collections during the run scan only what the run creates: everything alive once
        # it is prepared (torch, the data, the model; a few hundred thousand objects) moves
        # to the permanent generation until the run ends. Otherwise the run's own small
        # allocations trigger collections that scan it all: 15-20 % of a VAE run's time.
        # The GUI has already frozen the heap and moved collection to its own thread.
        frozen = False
        try:
            self.prepare()
            if gc.isenabled():
                gc.freeze()
                frozen = True
            self._t0 = time.perf_counter()
            self._written_epoch = max(self._written_epoch, self.epoch)  # a resumed run's
            self._status("running", "; ".join(self.notes))
            outcome = self._train()
            if self._probe is not None and self.state != "error":
                self._probe_now(self._probe, final=True)  # the trained model, whatever the time
            if self._views_on and self.prober is not None and self.state != "error":
                for record in self.prober.records(self.epoch, self.step, final=True):
                    self._emit(record)
            if (
                outcome[0] in ("finished", "early_stopped")
                and self.splits.test is not None
                and len(self.splits.test)
            ):
                self._evaluate_test()
            if self.state != "error":  # a diverged run ends on its ErrorRecord
                self._status(*outcome)
        except NeuralCanvasError as exc:
            self.state = "error"
            self._emit(ErrorRecord(str(exc), self.epoch, self.step))
        except Exception as exc:  # an unexpected failure still reaches the caller as a record
            self.state = "error"
            detail = f"{exc.__class__.__name__}: {exc}"
            self._emit(
                ErrorRecord(
                    f"Training failed at step {self.step} (epoch {self.epoch}): {detail}",
                    self.epoch,
                    self.step,
                )
            )
        finally:
            if frozen:
                gc.unfreeze()

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        self._status("paused")
        t = time.perf_counter()
        while not self._running.wait(STOP_POLL):
            pass
        self._t0 += time.perf_counter() - t  # paused time is not training time
        if not self._stop.is_set() and not self._single:  # a single step stays paused
            self._status("resumed")

    def _train(self) -> tuple[str, str]:
        cfg = self.config
        n = self.train_x.shape[0]
        batch = n if cfg.batch_size is None else min(cfg.batch_size, n)
        batches = math.ceil(n / batch)
        every, interval = cfg.report_every, cfg.report_interval
        monitor = cfg.monitor and bool(self.layers) and self.optimizer is not None
        hook = None
        if monitor:
            # Where each parameter's gradient, weight and update norm goes among the per-layer
            # ones (see _report), and a buffer for the weights before a reported step; the
            # optimiser's pre-step hook takes both on report steps (the kernel knows nothing).
            m, index = len(self.layers.names), self.layers.index
            self._norm_index = torch.cat([index, index + m, index + 2 * m])
            self._norm_zeros = torch.zeros(3 * m, device=self.device)
            self._before = [torch.empty_like(p) for p in self.layers.params]
            hook = self.optimizer.register_step_pre_hook(self._before_step)
        self._due = False
        self._taken: tuple[Any, Any] | None = None
        # The pending report: the step losses since the last report (see _Pending) and the
        # steps that closed an epoch in between.
        host = self.device.type == "cpu"  # step losses read as they come (see _Pending)
        pending = Pending(self.step, host)
        aug = self.augment_options if any(self.augment_options.values()) else None
        transform = None
        if aug is not None:
            gen = self.aug_gen

            def transform(xb: torch.Tensor) -> torch.Tensor:
                return augment(xb, aug, gen)

        torch.manual_seed(cfg.seed + 3)  # dropout and other layer randomness
        if getattr(self, "_resume_rng", None) is not None:
            torch.set_rng_state(self._resume_rng)
        stop, running = self._stop, self._running
        es = cfg.early_stopping
        run = loop.fit(
            self.kernel,
            self.kernel_state,
            (self.train_x, self.train_y),
            self.eval_split,
            cfg.epochs,
            cfg.batch_size,
            self.shuffle if cfg.shuffle else None,
            self.progress,
            loop.EarlyStopping(es.patience, es.min_delta, es.restore_best),
            transform,
            guard=loop.Guard(self.procedure.blowup, self.procedure.weight_growth),
        )
        last_step = self.step + (cfg.epochs - self.epoch) * batches  # the run's last step
        early: tuple[str, str] | None = None
        try:
            if stop.is_set():
                return ("stopped", f"Stopped by the user at step {self.step}")
            # a single step asked before the run (Step on an idle panel) is reported too
            self._due = self._single or self._report_due(pending, every, interval, last_step)
            self._set_phase()
            for event in run:
                if type(event) is loop.Step:
                    pending.losses.append(event.loss)
                    if event.logs:
                        series = pending.series
                        for name, value in event.logs.items():
                            if host and type(value) is torch.Tensor:  # read as it comes
                                value = value.item()
                            if name in series:
                                series[name].append(value)
                            else:
                                series[name] = [value]
                    if self._due:
                        grads, before = self._taken if self._taken is not None else (None, None)
                        self._taken = None
                        if grads is None and monitor:
                            grads = self._grad_norms(True)
                        _, problem = self._report(pending, event.epoch + 1, grads, before)
                        if problem:
                            return problem
                        pending = Pending(self.step, host)
                    if self._single:  # one update, then pause
                        self._single = False
                        self._running.clear()
                    if stop.is_set() or not running.is_set():
                        if not stop.is_set():
                            self._wait_if_paused()
                        if stop.is_set():
                            if event.batch == event.batches - 1:  # the epoch was complete
                                if pending.losses:
                                    pending.epoch_ends.append(self.step)
                                self.progress.epoch += 1
                            if pending.losses:  # what was trained reaches the records now
                                _, problem = self._report(
                                    pending, event.epoch + 1, self._grad_norms(monitor)
                                )
                                if problem:
                                    return problem
                            return ("stopped", f"Stopped by the user at step {self.step}")
                    self._set_phase()
                    self._due = self._single or self._report_due(
                        pending, every, interval, last_step
                    )
                elif type(event) is loop.Diverged:
                    _, problem = self._report(pending, self.epoch + 1, self._grad_norms(monitor))
                    if problem:
                        return problem
                    if event.reason == "not finite":
                        raise AssertionError("a diverged epoch reported finite losses")
                    return self._blown_up(event)
                else:
                    if pending.losses:
                        pending.epoch_ends.append(self.step)
                    early = self._end_epoch(event)
                    self._periodic_checkpoint(final=self.epoch >= cfg.epochs or early is not None)
                    if early is not None:
                        if pending.losses:  # the steps not reported yet, before the restore
                            self._report(pending, self.epoch, self._grad_norms(monitor))
                            pending = Pending(self.step, host)
                        continue  # the loop restores the best weights and ends
                    if stop.is_set():  # asked during the epoch's end: stop on its boundary
                        if pending.losses:
                            _, problem = self._report(
                                pending, self.epoch, self._grad_norms(monitor)
                            )
                            if problem:
                                return problem
                        return ("stopped", f"Stopped by the user at step {self.step}")
                    self._set_phase()
                    self._due = self._single or self._report_due(
                        pending, every, interval, last_step
                    )
            if early is not None:
                return early
            if pending.losses:  # never the case: the run's last step is reported
                _, problem = self._report(pending, self.epoch, self._grad_norms(monitor))
                if problem:
                    return problem
            if stop.is_set():
                return ("stopped", f"Stopped by the user at step {self.step}")
            return ("finished", f"Finished {self.epoch} epochs ({self.step} steps)")
        finally:
            run.close()
            if hook is not None:
                hook.remove()

    def _set_phase(self) -> None:
        """The part of an iteration the coming step does: a single step's phase (Step D /
        Step G), else the whole iteration (the kernel reads ``state["phase"]``)."""
        phase = self._phase if self._single else None
        if self.kernel_state.get("phase") != phase:
            if phase is None:
                del self.kernel_state["phase"]
            else:
                self.kernel_state["phase"] = phase

    def _report_due(self, pending: Pending, every: int, interval: float, last: int) -> bool:
        """Whether the coming step is reported (decided before it, for the pre-step hook)."""
        return self.step + 1 >= last or (
            len(pending.losses) + 1 >= every and time.perf_counter() - pending.started >= interval
        )

    def _before_step(self, *_: Any) -> None:
        """The optimiser's pre-step hook: on a report step, the gradient norms and the
        weights before the update (for the update ratios)."""
        if self._due:
            grads = torch._foreach_norm(self.layers.grads())
            before = self._before
            torch._foreach_copy_(before, [p.detach() for p in self.layers.params])
            self._taken = (grads, before)

    def _end_epoch(self, event: loop.Epoch) -> tuple[str, str] | None:
        """The epoch record; the outcome when early stopping ends the run."""
        evaluation = dict(event.evaluation)
        val_loss = evaluation.pop("loss", None) if self.has_val else None
        evaluation.pop("loss", None)
        if self._alarms is not None:  # what goes wrong, with what to try
            self._evaluations.append(dict(evaluation))
            raised = self._alarms(list(self._evaluations), self._grad_max, self.kernel_settings)
            if raised:
                evaluation["alarms"] = raised
        self._emit(
            EpochRecord(
                self.epoch,
                self.step,
                event.train_loss,
                val_loss,
                frozen(evaluation),
                self._lr(),
                self._elapsed(),
                event.best,
            )
        )
        if not event.stop:
            return None
        if event.reason:  # the kernel ends the run (a learning rule converged)
            return ("finished", event.reason)
        restored = ""
        if event.restored:
            restored = f"; restored the best weights (loss {self.best_loss:.4g})"
        what = "validation" if self.has_val else "training"
        return (
            "early_stopped",
            f"Early stopping after epoch {self.epoch}: the {what} loss has not improved for"
            f" {self.config.early_stopping.patience} epochs{restored}",
        )

    def _periodic_checkpoint(self, final: bool) -> None:
        if self.checkpoint_path is None:
            return
        # Replaced after every epoch, so a kill loses at most the epoch under way; synced
        # to the disk (against a crash of the system) at most every checkpoint_every s.
        if self.wait_for_records:
            with self._written:
                while self._written_epoch < self.epoch and not self._stop.is_set():
                    self._written.wait(STOP_POLL)
                if self._written_epoch < self.epoch:
                    return  # the records stopped (a full disk): the last checkpoint fits them
        now = time.perf_counter()
        durable = final or now - self._saved_at >= self.checkpoint_every
        try:
            self.save_checkpoint(self.checkpoint_path, durable)
        except FileWriteError as exc:
            raise FileWriteError(
                f"{exc}\nThe run stopped after epoch {self.epoch}: its checkpoint could not be"
                " written (the one before it, if any, is intact)."
            ) from None
        if durable:
            self._saved_at = now

    def records_written(self, epoch: int) -> None:
        """The reader has written the records up to the end of ``epoch`` (see
        ``wait_for_records``)."""
        with self._written:
            self._written_epoch = max(self._written_epoch, epoch)
            self._written.notify_all()

    def _kept(self) -> str:
        """What a diverged run keeps: the best epoch's weights (restored), or none."""
        p = self.progress
        if p.best_state is None:
            return "No epoch ended well before it: no weights are kept."
        what = "validation" if self.has_val else "training"
        return f"Kept the best weights: epoch {p.best_epoch}, {what} loss {p.best_loss:.4g}."

    def _lr(self) -> float:
        """The learning rate now: the first optimiser's, else the rule's (``state["lr"]``:
        a SOM's η(t))."""
        if self.optimizer is None:
            return float(self.kernel_state.get("lr", 0.0))
        return self.optimizer.param_groups[0]["lr"]

    def _blown_up(self, event: loop.Diverged) -> tuple[str, str]:
        """Emit the diagnosis of a run whose loss or weights blew up (staying finite)."""
        lr = self._lr()
        message = blowup_message(event, self.epoch + 1, lr, self.hints) + "\n" + self._kept()
        self.state = "error"
        self._emit(ErrorRecord(message, self.epoch + 1, event.step, diverged=True))
        return ("stopped", "Stopped: the run blew up")

    def _grad_norms(self, monitor: bool) -> list[torch.Tensor] | None:
        return torch._foreach_norm(self.layers.grads()) if monitor else None

    def _diverged_roles(self, pending: Pending, i: int) -> str:
        """Which networks' losses are not finite at the report's ``i``-th step (a procedure
        that declares a loss per role), as "the discriminator's loss (d_loss)"; "" if none."""
        bad = []
        series = pending.series_values(i + 1) if self.procedure.role_losses else {}
        for role, name in self.procedure.role_losses:
            values = series.get(name, ())
            if len(values) > i and not math.isfinite(values[i]):
                net = self.nets[role].name
                bad.append(f"the loss of the {role} {net!r} ({name})")
        return " and ".join(bad)

    def _report(
        self,
        pending: Pending,
        epoch: int,
        grads: Sequence[torch.Tensor] | None,
        before: list[torch.Tensor] | None = None,
    ) -> tuple[list[float], tuple[str, str] | None]:
        """Copy one report's numbers to the host and emit it; return the step losses and,
        on a NaN/inf loss, emit an error record and return the outcome that ends the run.

        ``epoch`` is the epoch of the report's last step. ``grads`` are the per-parameter
        gradient norms and ``before`` the parameters, both taken before the optimiser step
        (``before`` is overwritten here); without ``before`` only gradient norms are
        reported. Per-layer norms come from the per-parameter ones through one
        ``index_add_`` and reach the host in the same copy as the losses."""
        values, g, w, u = pending.host_copy(self.layers, self._norm_index, grads, before)
        first = pending.first
        ends = tuple(pending.epoch_ends)
        for i, value in enumerate(values):
            if not math.isfinite(value):
                step = first + i + 1
                at = epoch - sum(1 for end in ends if step <= end < first + len(values))
                lr = self._lr()
                message = divergence_message(step, at, value, lr, self.hints)
                culprits = self._diverged_roles(pending, i)
                if culprits:
                    message = message.replace("the loss became", f"{culprits} became", 1)
                loop.restore_best(self.kernel_state, self.progress)
                message += "\n" + self._kept()
                if g is not None:
                    grad_map = dict(zip(self.layers.names, g))
                    bad = [
                        k
                        for k, v in classify(grad_map, self.config.health).items()
                        if v == "exploding"
                    ]
                    if bad:
                        message += f"\nExploding gradients in: {', '.join(bad)}"
                self.state = "error"
                self._emit(ErrorRecord(message, at, step, diverged=True))
                return values, ("stopped", "Stopped: the loss diverged")
        now = time.perf_counter()
        batch = (
            self.train_x.shape[0]
            if self.config.batch_size is None
            else min(self.config.batch_size, self.train_x.shape[0])
        )
        rate = len(values) * batch / max(now - pending.started, 1e-9)
        layer_maps: dict[str, Any] = {}
        if g is not None:
            names = self.layers.names
            grad_map = dict(zip(names, g))
            if grad_map:
                self._grad_max = max(grad_map.items(), key=lambda item: item[1])
            layer_maps = {
                "grad_norms": frozen(grad_map),
                "health": frozen(classify(grad_map, self.config.health)),
            }
            if w is not None and u is not None:
                layer_maps["weight_norms"] = frozen(dict(zip(names, w)))
                layer_maps["update_ratios"] = frozen(
                    {name: (du / wn if wn > 0 else 0.0) for name, du, wn in zip(names, u, w)}
                )
        self._emit(
            StepRecord(
                epoch=epoch,
                step=first + len(values),
                first_step=first + 1,
                losses=tuple(values),
                train_loss=math.fsum(values) / len(values),
                samples_per_sec=rate,
                lr=self._lr(),
                elapsed=self._elapsed(),
                epoch_ends=ends,
                series=frozen(pending.series_values(len(values))),
                **layer_maps,
            )
        )
        if self._probe is not None:
            self._probe_now(self._probe)
        if self._views_on and self.prober is not None:
            # a single step shows every view of that one update
            for record in self.prober.records(epoch, first + len(values), now_all=self._single):
                self._emit(record)
        return values, None

    def _probe_now(self, request: tuple[str | None, Any, float], final: bool = False) -> None:
        record = self.layer_prober.record(request, self.epoch + 1, self.step, self.train_x, final)
        if record is not None:
            self._emit(record)

    def _evaluate_test(self) -> None:
        test = self.splits.test
        metrics = dict(self._evaluation((test.x.to(self.device), test.y.to(self.device))))
        loss = metrics.pop("loss")
        self._emit(EvaluationRecord("test", loss, frozen(metrics), self.epoch, self.step))

    def _evaluation(self, split: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
        """The kernel's evaluation of ``split`` (default: the validation split, or the
        training data when there is none)."""
        x, y = split or self.eval_split or (self.train_x, self.train_y)
        return self.kernel.evaluate(self.kernel_state, x, y)

    def _evaluate(self) -> tuple[float, dict[str, Any]]:
        """The loss and the metrics on the validation split (or the training data)."""
        metrics = dict(self._evaluation())
        return metrics.pop("loss"), metrics

    def weight_files(self) -> dict[str, dict[str, torch.Tensor]]:
        """The weights a run leaves, by file name: ``weights.pt`` holds the first role's
        network (the one trained, or a GAN's generator), ``weights_<role>.pt`` each other
        role's (a GAN's ``weights_discriminator.pt``): plain state dicts."""
        files = {}
        for i, (role, model) in enumerate(self.models.items() or {"model": self.model}.items()):
            name = "weights.pt" if i == 0 else f"weights_{role}.pt"
            files[name] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        return files

    def final_state_dict(self) -> dict[str, torch.Tensor]:
        return copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
