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
scalar waits for nothing, a step's loss is read as it comes (see :class:`_Pending`).
"""

from __future__ import annotations

import copy
import math
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from builder.compile import compile_network
from builder.data import Splits, augment, load_dataset, make_splits
from builder.names import attribute_names
from builder.shapes import infer
from builder.training import loop, procedures
from builder.training.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from builder.training.config import ConfigError, TrainingConfig, parse_training
from builder.training.health import classify, divergence_message
from builder.training.probes import PROBE_ROWS, ViewContext, ViewProber
from builder.training.procedures.spec import Binding
from builder.training.records import (
    EpochRecord,
    ErrorRecord,
    EvaluationRecord,
    Histogram,
    History,
    ProbeRecord,
    Record,
    StatusRecord,
    StepRecord,
    frozen,
)
from graph import project_file
from graph.document import Project
from graph.errors import NeuralCanvasError

SATURATING = {"Sigmoid", "Tanh"}
STOP_POLL = 0.05  # seconds between checks of the stop flag while paused


class TrainingError(NeuralCanvasError):
    """Training cannot start or cannot go on; the message says why and what to do."""


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


def _histogram(values: torch.Tensor, bins: int = 30) -> Histogram:
    finite = values[torch.isfinite(values)]
    if finite.numel() == 0:
        return Histogram((), ())
    lo, hi = finite.min(), finite.max()
    if bool(hi <= lo):
        hi = lo + 1e-6
    counts = torch.histc(finite, bins=bins, min=float(lo), max=float(hi))
    edges = torch.linspace(float(lo), float(hi), bins + 1)
    return Histogram(tuple(int(c) for c in counts.tolist()), tuple(edges.tolist()))


class _Layers:
    """Parameters grouped by layer (node), for per-layer norms in one batched call."""

    def __init__(self, model: nn.Module, names: dict[str, str], device: torch.device):
        self.names: list[str] = []
        self.params: list[nn.Parameter] = []
        index: list[int] = []
        for attr, module in model.named_children():
            params = [p for p in module.parameters() if p.requires_grad]
            if not params:
                continue
            self.names.append(names.get(attr, attr))
            for p in params:
                self.params.append(p)
                index.append(len(self.names) - 1)
        self.index = torch.tensor(index, dtype=torch.long, device=device)
        self.device = device

    def __bool__(self) -> bool:
        return bool(self.params)

    def grads(self) -> list[torch.Tensor]:
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]


class _Pending:
    """The steps since the last report: their losses as the step left them, the host copies
    of the first ``len(values)`` of them and the steps among them that closed an epoch.

    On a GPU a step's loss stays on the device (a detached scalar) until the report or the
    epoch's end copies them all at once. On the CPU (``host``) reading a scalar is a plain
    memory read with nothing to wait for, cheaper than keeping a detached tensor and
    stacking it later: each loss is read as the step leaves it and ``values`` *is*
    ``losses``."""

    __slots__ = ("first", "losses", "values", "epoch_ends", "started", "series")

    def __init__(self, step: int, host: bool = False):
        self.first = step  # the step before the first one
        self.losses: list[Any] = []  # tensors on the device, or floats when ``host``
        self.values: list[float] = self.losses if host else []
        self.epoch_ends: list[int] = []
        self.started = time.perf_counter()
        self.series: dict[str, list[Any]] = {}  # the kernel's other named values, per step

    def series_values(self, count: int) -> dict[str, tuple[float, ...]]:
        """The named series of the first ``count`` steps, on the host."""
        out = {}
        for name, values in self.series.items():
            values = values[:count]
            if values and torch.is_tensor(values[0]):
                out[name] = tuple(torch.stack(values).tolist())
            else:
                out[name] = tuple(float(v) for v in values)
        return out

    def copy(self) -> list[float]:
        """All the losses on the host (copying only those not copied yet)."""
        rest = self.losses[len(self.values) :]
        if rest:
            self.values += torch.stack(rest).tolist()  # detached scalars: one op, one copy
        return self.values


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
    ):
        # The networks are rebuilt from their serialised form; the training section is copied
        # as it is and checked by parse_training, whose messages name the setting.
        snapshot = project_file.to_dict(project)
        training = copy.deepcopy(snapshot.pop("training", {}))
        self.project = project_file.from_dict(snapshot, project.specs, "the project")
        self.project.training = training
        self.net = self.project.network(network)
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
        self.splits = splits
        self.channel: queue.SimpleQueue[Record] = queue.SimpleQueue()
        self.history = History(history_size)
        self.state = "idle"
        self.model: nn.Module | None = None
        self.device: torch.device | None = None
        self.progress = loop.Progress()  # epoch, step, early stopping's best loss and count
        self._single = False  # pause after the next step (single-step mode)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._prepared = False
        self._probe: tuple[str | None, Any, float] | None = None
        self._probe_t = -math.inf  # the first report probes (perf_counter may be small)
        self._hooked: tuple[str, Any] | None = None  # (module attribute, hook handle)
        self._activation: list[torch.Tensor] = []
        self._elapsed0 = 0.0
        self._views_on = False
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

    def step_once(self) -> None:
        """Single step: apply one update, report it, then pause (safe from any thread)."""
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
            dataset = load_dataset(cfg.dataset, self.base_dir, seed=cfg.seed)
            self.splits = make_splits(dataset, cfg.dataset, seed=cfg.seed)
        ds = self.splits.dataset
        model = compile_network(self.net, seed=cfg.seed)
        inputs, outputs = model.meta["inputs"], model.meta["outputs"]
        if len(inputs) != 1 or not outputs:
            raise TrainingError(
                f"Network {self.net.name!r} has {len(inputs)} Input(s) and {len(outputs)} Output(s):"
                f" {self.procedure.id} training needs exactly one Input and an Output"
            )
        port = inputs[0]
        want = tuple(port.shape[1:])
        if want != tuple(ds.input_shape):
            shape = ", ".join(map(str, ds.input_shape))
            raise TrainingError(
                f"The Input '{self.net.name_of(port.node_id)}' takes (N, {', '.join(map(str, want))}) but dataset"
                f" '{ds.name}' gives samples of shape ({shape}): set the Input's shape to [{shape}]"
            )
        data_int = not ds.x.is_floating_point()
        if data_int != (port.shape.dtype == "int64"):
            kind = "integer token ids" if data_int else "real values"
            raise TrainingError(
                f"Dataset '{ds.name}' gives {kind} but the Input '{self.net.name_of(port.node_id)}' has dtype"
                f" {port.shape.dtype}: set the Input's dtype to {'int64' if data_int else 'float32'}"
            )
        binding = Binding(
            roles={"model": model},
            networks={"model": self.net},
            outputs={"model": {self.net.name_of(o.node_id): o for o in outputs}},
            dataset=ds,
            train=(self.splits.train.x, self.splits.train.y),
        )
        self.procedure.check(binding)
        settings = self.procedure.configure(binding, cfg)
        self.objective = settings.get("objective")
        self.model = model.to(self.device)
        self.attr_to_name = {p: self.net.name_of(n) for n, p in attribute_names(self.net).items()}
        self.name_to_attr = {v: k for k, v in self.attr_to_name.items()}
        self.layers = _Layers(self.model, self.attr_to_name, self.device)
        self.kernel = self.procedure.load_kernel()
        self.kernel_state = self.kernel.setup({"model": self.model}, settings)
        self.optimizer = next(iter(self.kernel_state["optimizers"].values()))
        self.scheduler = self.kernel_state.get("scheduler")
        self.task = settings.get("task")
        self.hints = {
            "normalised": self.splits.normalisation.get("kind", "none") != "none" or data_int,
            "clipped": cfg.clip.mode != "none",
            "saturating": any(self.net.type_of(n) in SATURATING for n in self.net.nodes),
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
        self.prober = self._view_prober(ds) if any(v.probe for v in self.procedure.views) else None
        if self.resume_from is not None:
            self._load_resume(self.resume_from)
        self._prepared = True

    def _view_prober(self, ds: Any) -> ViewProber:
        """The procedure's probes on fixed samples of the evaluated split."""
        x, y = self.eval_split or (self.train_x, self.train_y)
        sample = code = None
        code_name = ""
        modules = dict(self.model.named_modules())
        attrs = attribute_names(self.net)
        for node in self.net.topological_order():
            if self.net.type_of(node) == "Sample" and node in attrs:
                sample = modules.get(attrs[node])
        if sample is None:  # an autoencoder's code: its narrowest layer
            shapes = infer(self.net)
            sizes = []
            for i, node in enumerate(self.net.topological_order()):
                out = shapes[node].outputs.get("out")
                if node in attrs and attrs[node] in modules and out is not None:
                    sizes.append((math.prod(out[1:]), i, node))
            if sizes:
                _, _, node = min(sizes)
                code, code_name = modules[attrs[node]], self.net.name_of(node)
        context = ViewContext(
            kernel=self.kernel,
            state=self.kernel_state,
            x=x[:PROBE_ROWS],
            y=y[:PROBE_ROWS] if y is not None else None,
            image=len(ds.input_shape) in (2, 3),
            class_names=ds.class_names,
            sample=sample,
            code=code,
            code_name=code_name,
        )
        return ViewProber(self.procedure, context)

    def _load_resume(self, path: str | os.PathLike[str]) -> None:
        data = load_checkpoint(path)
        made_by = data.get("procedure", procedures.DEFAULT)
        if made_by != self.procedure.id:
            raise CheckpointError(
                f"Checkpoint {path} was made by the {made_by} procedure; this run trains with"
                f" {self.procedure.id}: resume it with training.procedure set to {made_by!r},"
                " or start this run afresh"
            )
        state = self.kernel_state
        if "models" not in data:  # written before procedures: one model, one optimiser
            data["models"] = {"model": data["model"]}
            data["optimizers"] = {"model": data["optimizer"]}
            data["schedulers"] = {"model": data["scheduler"]} if data.get("scheduler") else {}
            if data.get("best_state") is not None:
                data["best_state"] = {"model": data["best_state"]}
        for role, model in state["models"].items():
            try:
                model.load_state_dict(data["models"][role], strict=True)
            except (RuntimeError, KeyError) as exc:
                raise CheckpointError(
                    f"Checkpoint {path} was made for a different network (its weights do not fit {self.net.name!r}):"
                    f" {str(exc).splitlines()[0]}"
                ) from None
        for name, optimizer in state["optimizers"].items():
            optimizer.load_state_dict(data["optimizers"][name])
        for name, scheduler in state.get("schedulers", {}).items():
            if data["schedulers"].get(name) is not None:
                scheduler.load_state_dict(data["schedulers"][name])
        p = self.progress
        p.epoch, p.step = int(data["epoch"]), int(data["step"])
        p.best_loss = float(data.get("best_loss", math.inf))
        p.waiting = int(data.get("waiting", 0))
        p.best_state = data.get("best_state")
        self._elapsed0 = float(data.get("elapsed", 0.0))
        if data.get("shuffle_rng") is not None:
            self.shuffle.set_state(data["shuffle_rng"])
        if data.get("augment_rng") is not None:
            self.aug_gen.set_state(data["augment_rng"])
        if data.get("torch_rng") is not None:
            self._resume_rng = data["torch_rng"]
        for name, gen in state.get("generators", {}).items():
            if data.get("generators", {}).get(name) is not None:
                gen.set_state(data["generators"][name])

    def checkpoint_state(self) -> dict[str, Any]:
        """Everything needed to resume this run where it is."""
        state = self.kernel_state
        return {
            "network": self.net.name,
            "procedure": self.procedure.id,
            "models": {
                role: {k: v.detach().cpu() for k, v in model.state_dict().items()}
                for role, model in state["models"].items()
            },
            "optimizers": {k: o.state_dict() for k, o in state["optimizers"].items()},
            "schedulers": {k: s.state_dict() for k, s in state.get("schedulers", {}).items()},
            "epoch": self.epoch,
            "step": self.step,
            "best_loss": self.progress.best_loss,
            "best_state": self.progress.best_state,
            "elapsed": self._elapsed(),
            "shuffle_rng": self.shuffle.get_state(),
            "augment_rng": self.aug_gen.get_state(),
            "waiting": self.progress.waiting,
            "torch_rng": torch.get_rng_state(),
            "generators": {k: g.get_state() for k, g in state.get("generators", {}).items()},
        }

    def save_checkpoint(self, path: str | os.PathLike[str]) -> None:
        save_checkpoint(path, self.checkpoint_state())

    # ------------------------------------------------------------------ the run
    def _emit(self, record: Record) -> None:
        self.history.add(record)
        self.channel.put(record)

    def _status(self, state: str, message: str = "") -> None:
        self.state = state
        self._emit(StatusRecord(state, self.epoch, self.step, message))

    def _elapsed(self) -> float:
        return self._elapsed0 + (time.perf_counter() - self._t0 if hasattr(self, "_t0") else 0.0)

    def _thread_main(self) -> None:
        try:
            self.prepare()
            self._t0 = time.perf_counter()
            self._status("running")
            outcome = self._train()
            if self._probe is not None and self.state != "error":
                self._emit_probe(self._probe, final=True)  # the trained model, whatever the time
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

    def _wait_if_paused(self) -> None:
        if self._running.is_set():
            return
        self._status("paused")
        t = time.perf_counter()
        while not self._running.wait(STOP_POLL):
            pass
        self._t0 += time.perf_counter() - t  # paused time is not training time
        if not self._stop.is_set():
            self._status("resumed")

    def _train(self) -> tuple[str, str]:
        cfg = self.config
        n = self.train_x.shape[0]
        batch = n if cfg.batch_size is None else min(cfg.batch_size, n)
        batches = math.ceil(n / batch)
        every, interval = cfg.report_every, cfg.report_interval
        monitor = cfg.monitor and bool(self.layers)
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
        pending = _Pending(self.step, host)
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
            self.shuffle,
            self.progress,
            loop.EarlyStopping(es.patience, es.min_delta, es.restore_best),
            transform,
        )
        last_step = self.step + (cfg.epochs - self.epoch) * batches  # the run's last step
        early: tuple[str, str] | None = None
        try:
            if stop.is_set():
                return ("stopped", f"Stopped by the user at step {self.step}")
            self._due = self._report_due(pending, every, interval, last_step)
            for event in run:
                if type(event) is loop.Step:
                    pending.losses.append(event.loss)
                    if event.logs:
                        for name, value in event.logs.items():
                            pending.series.setdefault(name, []).append(value)
                    if self._due:
                        grads, before = self._taken if self._taken is not None else (None, None)
                        self._taken = None
                        if grads is None and monitor:
                            grads = self._grad_norms(True)
                        _, problem = self._report(pending, event.epoch + 1, grads, before)
                        if problem:
                            return problem
                        pending = _Pending(self.step, host)
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
                    self._due = self._single or self._report_due(
                        pending, every, interval, last_step
                    )
                elif type(event) is loop.Diverged:
                    _, problem = self._report(pending, self.epoch + 1, self._grad_norms(monitor))
                    if problem:
                        return problem
                    raise AssertionError("a diverged epoch reported finite losses")
                else:
                    if pending.losses:
                        pending.epoch_ends.append(self.step)
                    early = self._end_epoch(event)
                    if early is not None:
                        if pending.losses:  # the steps not reported yet, before the restore
                            self._report(pending, self.epoch, self._grad_norms(monitor))
                            pending = _Pending(self.step, host)
                        continue  # the loop restores the best weights and ends
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

    def _report_due(self, pending: _Pending, every: int, interval: float, last: int) -> bool:
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
        self._emit(
            EpochRecord(
                self.epoch,
                self.step,
                event.train_loss,
                val_loss,
                frozen(evaluation),
                self.optimizer.param_groups[0]["lr"],
                self._elapsed(),
                event.best,
            )
        )
        if not event.stop:
            return None
        restored = ""
        if event.restored:
            restored = f"; restored the best weights (loss {self.best_loss:.4g})"
        what = "validation" if self.has_val else "training"
        return (
            "early_stopped",
            f"Early stopping after epoch {self.epoch}: the {what} loss has not improved for"
            f" {self.config.early_stopping.patience} epochs{restored}",
        )

    def _grad_norms(self, monitor: bool) -> list[torch.Tensor] | None:
        return torch._foreach_norm(self.layers.grads()) if monitor else None

    def _report(
        self,
        pending: _Pending,
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
        rest = pending.losses[len(pending.values) :]
        g = w = u = None
        with torch.no_grad():
            if grads is not None:
                m = len(self.layers.names)
                if before is not None:
                    current = [p.detach() for p in self.layers.params]
                    torch._foreach_sub_(before, current)  # minus the update: the same norm
                    norms = torch.stack([*grads, *torch._foreach_norm([*current, *before])])
                    index, size = self._norm_index, 3 * m
                else:
                    norms, index, size = torch.stack(list(grads)), self.layers.index, m
                zeros = torch.zeros(size, dtype=norms.dtype, device=norms.device)
                per_layer = torch.index_add(zeros, 0, index, norms * norms).sqrt_()
                parts = [torch.stack(rest), per_layer] if rest else [per_layer]
                packed = torch.cat(parts).tolist()  # the one host copy
                k = len(rest)
                g = packed[k : k + m]
                if before is not None:
                    w, u = packed[k + m : k + 2 * m], packed[k + 2 * m :]
                values = pending.values + packed[:k]
            else:
                values = pending.values + (torch.stack(rest).tolist() if rest else [])
        first = pending.first
        ends = tuple(pending.epoch_ends)
        for i, value in enumerate(values):
            if not math.isfinite(value):
                step = first + i + 1
                at = epoch - sum(1 for end in ends if step <= end < first + len(values))
                lr = self.optimizer.param_groups[0]["lr"]
                message = divergence_message(step, at, value, lr, self.hints)
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
                lr=self.optimizer.param_groups[0]["lr"],
                elapsed=self._elapsed(),
                epoch_ends=ends,
                series=frozen(pending.series_values(len(values))),
                **layer_maps,
            )
        )
        if self._probe is not None:
            self._emit_probe(self._probe)
        if self._views_on and self.prober is not None:
            for record in self.prober.records(epoch, first + len(values)):
                self._emit(record)
        return values, None

    def _emit_probe(self, request: tuple[str | None, Any, float], final: bool = False) -> None:
        """A probe record, at most every ``interval`` seconds; ``final``: now, with the
        activations of a fresh forward pass (the run's last state)."""
        layer, grid, interval = request
        now = time.perf_counter()
        if now - self._probe_t < interval and not final:
            return
        self._probe_t = now
        fields: dict[str, Any] = {"layer": layer}
        attr = self.name_to_attr.get(layer) if layer is not None else None
        module = getattr(self.model, attr, None) if attr is not None else None
        if self._hooked is not None and self._hooked[0] != attr:
            self._hooked[1].remove()
            self._hooked = None
            self._activation.clear()
        if module is not None:
            if self._hooked is None:

                def keep(_module: nn.Module, _inputs: Any, output: Any) -> None:
                    self._activation[:] = [
                        (output[0] if isinstance(output, tuple) else output).detach()
                    ]

                self._hooked = (attr, module.register_forward_hook(keep))
            if final:  # the activations of the trained model on (up to 256) training rows
                was_training = self.model.training
                self.model.eval()
                try:
                    with torch.no_grad():
                        self.model(self.train_x[:256])
                finally:
                    self.model.train(was_training)
            with torch.no_grad():
                weights = [p.detach().flatten() for p in module.parameters() if p.dim() >= 2]
                if weights:
                    fields["weights"] = _histogram(torch.cat(weights))
                if self._activation:
                    fields["activations"] = _histogram(self._activation[0].flatten().float())
        if grid is not None and self.task is not None and tuple(self.train_x.shape[1:]) == (2,):
            fields.update(self._grid_prediction(grid))
        self._emit(ProbeRecord(self.epoch + 1, self.step, **fields))

    @torch.no_grad()
    def _grid_prediction(self, grid: tuple[Any, Any]) -> dict[str, Any]:
        xs = torch.as_tensor(np.asarray(grid[0], dtype=np.float32))
        ys = torch.as_tensor(np.asarray(grid[1], dtype=np.float32))
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        points = torch.stack([xx.flatten(), yy.flatten()], dim=1).to(self.device)
        was_training = self.model.training
        self.model.eval()
        try:
            out = self.model(points).float()
        finally:
            self.model.train(was_training)
        out = out.reshape(out.shape[0], -1)
        if self.task != "classification":
            values = out[:, 0]
        elif out.shape[1] == 1:
            probability = self.config.loss in ("bce", "mse", "l1", "huber")
            values = out[:, 0].clamp(0, 1) if probability else torch.sigmoid(out[:, 0])
        elif out.shape[1] == 2:
            values = torch.softmax(out, dim=1)[:, 1]  # logits or log-probabilities alike
        else:
            values = out.argmax(dim=1).float()
        array = values.reshape(len(ys), len(xs)).cpu().numpy()
        array.flags.writeable = False
        return {"grid_x": tuple(xs.tolist()), "grid_y": tuple(ys.tolist()), "grid": array}

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

    def final_state_dict(self) -> dict[str, torch.Tensor]:
        return copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
