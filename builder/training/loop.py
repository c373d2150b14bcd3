"""The generic training loop: one generator drives every procedure's kernel.

Portable: it imports only the standard library and torch, and the exported script carries
its source as it is (``inspect.getsource``), so the app and the script train alike by
construction. A kernel is a module with

- ``setup(models, settings) -> state``: ``settings`` are plain data (numbers, strings,
  lists, dicts: the exported script writes them as a literal); ``state`` is a dict holding
  at least ``"models"``; optimisers,
  schedules and random generators under ``"optimizers"`` / ``"schedulers"`` /
  ``"generators"`` (name -> object) are checkpointed, and so are the tensors under
  ``"buffers"`` (name -> tensor or None: what a rule keeps between steps);
- ``prepare(state, x, y) -> (x, y)``: the training split as the steps take it (e.g. targets
  converted for the loss once, up front); ``state["batches"]`` holds the steps per epoch;
- ``train_step(state, x, y, step) -> dict[str, Tensor]``: one update on a batch; named
  losses / metrics, ``"loss"`` first (Keras' ``train_step`` logs); on the CPU a value may
  be a float already;
- ``end_epoch(state, epoch, watched)``: after each epoch (learning-rate schedules); setting
  ``state["done"]`` to a sentence ends the run there and says why (a rule converged);
- ``evaluate(state, x, y) -> dict``: ``"loss"`` and metrics on a split.

:func:`fit` yields a :class:`Step` after each step and an :class:`Epoch` after each epoch
(and a :class:`Diverged` when an epoch's loss is not finite, or blows up while staying
finite: see :class:`Guard`; the best weights are then restored). A caller stops a run by
not asking for more; pausing is waiting between two ``next()`` calls.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

GATHER_BYTES = 256 * 2**20  # a training split this small is reordered once an epoch


class EpochSampler:
    """The training rows of every epoch, shared out among processes.

    One process: one torch.randperm per epoch from ``generator`` (None: the rows in their
    order, every epoch: a worked example's samples as the textbook takes them). Several processes
    (torchrun): the same permutation in every process, padded to a multiple of the number of
    processes and dealt out the way torch.utils.data.DistributedSampler deals it.
    """

    def __init__(self, n: int, generator: torch.Generator | None, rank: int = 0, world: int = 1):
        self.n, self.rank, self.world = n, rank, world
        self.num_samples = math.ceil(n / world)
        self.generator = generator

    def indices(self) -> torch.Tensor:
        """The next epoch's rows (of this process)."""
        if self.generator is None:
            order = torch.arange(self.n)
        else:
            order = torch.randperm(self.n, generator=self.generator)
        if self.world == 1:
            return order
        total = self.num_samples * self.world
        padded = order.repeat(math.ceil(total / self.n))[:total]
        return padded[self.rank :: self.world]


@dataclass
class Progress:
    """Where a run is: kept by the caller (checkpoints save it), updated by :func:`fit`."""

    epoch: int = 0  # epochs completed
    step: int = 0  # steps completed
    best_loss: float = math.inf
    waiting: int = 0  # epochs since the watched loss last improved
    best_state: dict[str, Any] | None = None
    best_epoch: int = 0  # the epoch of best_loss (0: none yet)
    first_loss: float | None = None  # the run's first step loss (the initial weights')
    best_train: float = math.inf  # the lowest epoch training loss
    start_norm: float | None = None  # the weights' norm when the run started


@dataclass(frozen=True)
class Guard:
    """When a run has blown up although its losses stay finite.

    - the loss: an epoch's mean training loss above ``blowup`` times the lowest so far (the
      first step's loss before the first epoch) and above the first step's loss; only for
      positive losses, and in one process (each process sees its own losses);
    - the weights: their norm (all roles together) above ``weight_growth`` times their norm
      when the run started, or not finite.

    0 turns a check off."""

    blowup: float = 10.0
    weight_growth: float = 1000.0


@dataclass(frozen=True)
class EarlyStopping:
    patience: int = 0  # 0: off
    min_delta: float = 0.0
    restore_best: bool = True


@dataclass(slots=True)
class Step:
    """One step done: ``loss`` is a float on the CPU, a detached scalar tensor elsewhere;
    ``logs`` the kernel's other named values (as the step returned them)."""

    epoch: int  # the epoch being trained (0-based)
    step: int  # steps done, this one included
    batch: int  # the batch's index in its epoch
    batches: int
    loss: Any
    logs: dict[str, Any]


@dataclass
class Epoch:
    """One epoch done (``epoch`` counts from 1): the mean step loss, the evaluation, and how
    the run goes on (``stop``: early stopping says enough)."""

    epoch: int
    step: int
    losses: list[float]  # the epoch's step losses, on the host
    train_loss: float
    evaluation: dict[str, Any]
    watched: float
    best: bool
    stop: bool = False
    restored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # the kernel ends the run (state["done"]: a rule converged), and why


@dataclass
class Diverged:
    """The run ends: an epoch's losses are not all finite (``reason`` "not finite"), its
    mean loss blew up ("loss") or the weights' norm did ("weights"); see :class:`Guard`.
    ``value`` is the loss or the norm, ``reference`` what it is compared with (the lowest
    loss, the starting norm); ``restored``: the best weights were put back."""

    epoch: int  # the epoch being trained (0-based)
    step: int  # the first step whose loss is not finite (else the epoch's last step)
    value: float
    losses: list[float]
    reason: str = "not finite"
    reference: float = math.nan
    restored: bool = False


def weight_norm(state: dict[str, Any]) -> float:
    """The L2 norm of every parameter of every role, together."""
    params = [p.detach() for m in state["models"].values() for p in m.parameters()]
    if not params:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(params))))


def keep_best(state: dict[str, Any], progress: Progress) -> None:
    """Remember the weights of every role as the best (a copy on their device)."""
    progress.best_state = {
        name: {k: v.detach().clone() for k, v in model.state_dict().items()}
        for name, model in state["models"].items()
    }


def restore_best(state: dict[str, Any], progress: Progress) -> bool:
    """Put the best weights back into every role; False when none were kept."""
    if progress.best_state is None:
        return False
    for name, model in state["models"].items():
        model.load_state_dict(progress.best_state[name])
    return True


def blown_up(
    guard: Guard, state: dict[str, Any], progress: Progress, train_loss: float, world: int
) -> tuple[str, float, float] | None:
    """(reason, value, reference) when the epoch just trained blew up (see :class:`Guard`)."""
    first = progress.first_loss
    lowest = min(progress.best_train, first) if first is not None else progress.best_train
    if (
        guard.blowup
        and world == 1
        and first is not None
        and lowest > 0
        and train_loss > guard.blowup * lowest
        and train_loss > first
    ):
        return "loss", train_loss, lowest
    if guard.weight_growth and progress.start_norm:
        norm = weight_norm(state)
        if not math.isfinite(norm) or norm > guard.weight_growth * progress.start_norm:
            return "weights", norm, progress.start_norm
    return None


def fit(
    kernel: Any,
    state: dict[str, Any],
    train: tuple[torch.Tensor, torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor] | None,
    epochs: int,
    batch_size: int | None,
    shuffle: torch.Generator | None,
    progress: Progress,
    early_stopping: EarlyStopping = EarlyStopping(),
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    rank: int = 0,
    world: int = 1,
    guard: Guard = Guard(),
) -> Iterator[Step | Epoch | Diverged]:
    """Train from ``progress`` to ``epochs``; yields after each step and each epoch.

    ``val`` is the split early stopping and schedules watch (``None``: the training loss is
    watched and the training split evaluated). ``transform`` augments each batch's inputs.
    The best weights are kept (a copy) whenever the watched loss improves, so a run that
    diverges, or stops early, ends on them.
    """
    n = train[0].shape[0]
    batch = n if batch_size is None else min(batch_size, n)
    sampler = EpochSampler(n, shuffle, rank, world)
    per_process = math.ceil(batch / world)
    batches = math.ceil(sampler.num_samples / per_process)
    state["batches"] = batches
    x_all, y_all = kernel.prepare(state, *train)
    eval_x, eval_y = val if val is not None else train
    device = x_all.device
    host = device.type == "cpu"  # reading a scalar there waits for nothing
    step_fn = kernel.train_step
    if progress.start_norm is None:
        progress.start_norm = weight_norm(state)
    keeping = bool(guard.blowup or guard.weight_growth) or (
        early_stopping.patience and early_stopping.restore_best
    )
    while progress.epoch < epochs:
        for model in state["models"].values():
            model.train()
        order = sampler.indices().to(device)
        # A split of up to GATHER_BYTES is put in the epoch's order at once, so each batch
        # is a slice (no copy): two operations fewer a step, which small models feel.
        whole = x_all.element_size() * x_all.numel() + y_all.element_size() * y_all.numel()
        if whole <= GATHER_BYTES:
            x_epoch, y_epoch = x_all.index_select(0, order), y_all.index_select(0, order)
        losses: list[Any] = []
        for b in range(batches):
            if whole <= GATHER_BYTES:
                at = slice(b * per_process, (b + 1) * per_process)
                xb, yb = x_epoch[at], y_epoch[at]
            else:
                rows = order[b * per_process : (b + 1) * per_process]
                xb, yb = x_all.index_select(0, rows), y_all.index_select(0, rows)
            if transform is not None:
                xb = transform(xb)
            logs = step_fn(state, xb, yb, progress.step)
            loss = logs.pop("loss")
            if type(loss) is not float:  # a kernel on the host may give a float
                loss = loss.item() if host else loss.detach()
            losses.append(loss)
            progress.step += 1
            yield Step(progress.epoch, progress.step, b, batches, loss, logs)
        values = losses if host else torch.stack(losses).tolist()
        if progress.first_loss is None and values:
            progress.first_loss = values[0]
        for i, value in enumerate(values):
            if not math.isfinite(value):
                restored = restore_best(state, progress)
                at = progress.step - batches + i + 1
                yield Diverged(progress.epoch, at, value, values, restored=restored)
                return
        train_loss = math.fsum(values) / batches  # exact: the same in any grouping
        blown = blown_up(guard, state, progress, train_loss, world)
        if blown is not None:
            reason, value, reference = blown
            restored = restore_best(state, progress)
            yield Diverged(
                progress.epoch, progress.step, value, values, reason, reference, restored
            )
            return
        progress.best_train = min(progress.best_train, train_loss)
        progress.epoch += 1
        evaluation = kernel.evaluate(state, eval_x, eval_y)
        watched = evaluation["loss"] if val is not None else train_loss
        best = watched < progress.best_loss - early_stopping.min_delta
        if best:
            progress.best_loss, progress.waiting = watched, 0
            progress.best_epoch = progress.epoch
            if keeping:
                keep_best(state, progress)
        else:
            progress.waiting += 1
        kernel.end_epoch(state, progress.epoch, watched)
        reason = state.pop("done", None) or ""  # the kernel says the run is over, and why
        stop = bool(early_stopping.patience) and progress.waiting >= early_stopping.patience
        restore = stop and early_stopping.restore_best and progress.best_state is not None
        stop = stop or bool(reason)
        yield Epoch(
            progress.epoch,
            progress.step,
            values,
            train_loss,
            evaluation,
            watched,
            best,
            stop,
            restore,
            reason=reason,
        )
        if stop:
            if restore:  # after the caller has seen the epoch (and the last steps' weights)
                restore_best(state, progress)
            return
