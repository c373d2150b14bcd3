"""Immutable progress records the trainer sends through its channel, and a bounded history.

Records are small frozen dataclasses of plain Python values (mappings are read-only views),
so any thread may read them; nothing in them refers to a tensor or a widget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

EMPTY: Mapping[str, Any] = MappingProxyType({})
T = TypeVar("T")


def frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else EMPTY


@dataclass(frozen=True)
class StepRecord:
    """A report: at most one every ``report_every`` steps and every ``report_interval``
    seconds (so a run of tiny steps is not slowed down by reports nobody can see).

    ``losses`` holds the loss of every step since the previous report (``first_step`` is the
    step of ``losses[0]``), so the per-step curve is complete although reports are sparse.
    A report can span epochs: ``epoch`` is the epoch of its last step and ``epoch_ends`` the
    steps within it that closed an epoch (see :meth:`epoch_of`).
    The per-layer maps are keyed by node name and empty when monitoring is off.
    ``series`` holds the procedure's other named per-step values (a VAE's ``recon``, ``kl``,
    ``beta``), each a tuple as long as ``losses``.
    """

    epoch: int
    step: int
    first_step: int
    losses: tuple[float, ...]
    train_loss: float  # mean of ``losses``
    samples_per_sec: float
    lr: float
    elapsed: float
    grad_norms: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    weight_norms: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    update_ratios: Mapping[str, float] = field(default_factory=lambda: EMPTY)
    health: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    epoch_ends: tuple[int, ...] = ()
    series: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: EMPTY)
    kind: str = field(default="step", init=False)

    def epoch_of(self, step: int) -> int:
        """The epoch that ``step`` (one of this report's steps) belongs to."""
        return self.epoch - sum(1 for end in self.epoch_ends if step <= end < self.step)

    def step_epochs(self) -> list[int]:
        """The epoch of each of ``losses``."""
        if not self.epoch_ends:
            return [self.epoch] * len(self.losses)
        return [self.epoch_of(s) for s in range(self.first_step, self.step + 1)]


@dataclass(frozen=True)
class EpochRecord:
    """The end of an epoch: mean train loss, validation loss and metrics (on the validation
    split, or on the training data when there is none)."""

    epoch: int
    step: int
    train_loss: float
    val_loss: float | None
    metrics: Mapping[str, Any]
    lr: float
    elapsed: float
    best: bool
    kind: str = field(default="epoch", init=False)


@dataclass(frozen=True)
class Histogram:
    """``counts[i]`` values fall in ``[edges[i], edges[i + 1])``."""

    counts: tuple[int, ...]
    edges: tuple[float, ...]


@dataclass(frozen=True)
class ProbeRecord:
    """What the dashboard asked to see (:meth:`builder.training.trainer.Trainer.set_probe`), at most a
    few times a second: the chosen layer's weight and activation histograms, and for 2-D
    data the model's prediction on a grid (the decision boundary or regression surface).

    ``grid`` is a read-only float32 array of shape ``(len(grid_y), len(grid_x))``: the
    probability of class 1 for two classes, the predicted class index for more, or the
    predicted value for regression.
    """

    epoch: int
    step: int
    layer: str | None = None
    weights: Histogram | None = None
    activations: Histogram | None = None
    grid_x: tuple[float, ...] = ()
    grid_y: tuple[float, ...] = ()
    grid: Any = None
    kind: str = field(default="probe", init=False)


@dataclass(frozen=True)
class ViewRecord:
    """One of the procedure's declared views (:class:`~builder.training.procedures.spec.View`),
    probed on the trained networks at most every ``View.every`` seconds once the dashboard
    asks for views (:meth:`builder.training.trainer.Trainer.set_views`).

    ``view_kind`` says how to draw ``payload`` (read-only numpy arrays and plain values):

    - ``samples``: ``samples`` float32 (R, N, *sample_shape), ``rows`` R labels (``input``,
      ``noisy input``, ``output``), ``value_range`` (lo, hi); images when a sample has 2 or 3
      dimensions ((H, W) or (C, H, W)), curves when it is a vector;
    - ``image_grid``: ``images`` float32 (N, *sample_shape), ``cols``, ``value_range``, and
      optionally ``axis`` (the latent values along each grid axis);
    - ``scatter``: ``points`` float32 (N, 2), ``labels`` int64 (N,) or None, ``axis_labels``
      (two strings), ``note`` (e.g. "PCA of 8-D codes: 71 % of the variance"); optionally
      ``mesh`` (lines between points), ``mesh_only`` (labels drawn only as those lines);
    - ``bars``: ``values`` float32 (D,), ``labels`` D strings, ``threshold`` (a line drawn
      across), ``warning`` ("" when all is well).
    """

    key: str
    view_kind: str
    epoch: int
    step: int
    payload: Mapping[str, Any]
    kind: str = field(default="view", init=False)


@dataclass(frozen=True)
class EvaluationRecord:
    """The held-out test split, evaluated once when training ends (finished or early
    stopped) with the final weights."""

    split: str
    loss: float
    metrics: Mapping[str, Any]
    epoch: int
    step: int
    kind: str = field(default="evaluation", init=False)


@dataclass(frozen=True)
class StatusRecord:
    """A change of state: ``running``, ``paused``, ``resumed``, ``stopped``, ``finished``,
    ``early_stopped``."""

    state: str
    epoch: int
    step: int
    message: str = ""
    kind: str = field(default="status", init=False)


@dataclass(frozen=True)
class ErrorRecord:
    """Training failed: ``message`` says what happened and what to do. ``diverged`` is true
    when the loss became NaN or infinite."""

    message: str
    epoch: int
    step: int
    diverged: bool = False
    kind: str = field(default="error", init=False)


Record = (
    StepRecord
    | EpochRecord
    | EvaluationRecord
    | ProbeRecord
    | ViewRecord
    | StatusRecord
    | ErrorRecord
)


class Thinned(Generic[T]):
    """The newest ``limit`` items at full resolution and older ones thinned, so any number of
    additions is held in at most ``2 * limit`` items spread over all of them.

    Items leaving the recent tier are kept every ``stride``-th; whenever the older tier reaches
    ``limit`` items, every second one is dropped and the stride doubles. The first item ever
    added is never dropped, and the older tier stays evenly spaced (every ``stride``-th item).
    """

    def __init__(self, limit: int):
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.recent: deque[T] = deque()
        self.older: list[T] = []
        self.stride = 1
        self._aged = 0  # items that have left the recent tier

    def add(self, item: T) -> None:
        self.recent.append(item)
        if len(self.recent) > self.limit:
            aged = self.recent.popleft()
            self._aged += 1
            if (self._aged - 1) % self.stride == 0:
                self.older.append(aged)
                if len(self.older) >= self.limit:
                    self.older = self.older[::2]
                    self.stride *= 2

    def __iter__(self) -> Iterator[T]:
        yield from self.older
        yield from self.recent

    def __len__(self) -> int:
        return len(self.older) + len(self.recent)


class History:
    """Every record of a run, bounded for runs of any length.

    Step records and epoch records are each kept in a :class:`Thinned` store: the newest
    ``recent`` step records (``recent_epochs`` epoch records) at full resolution and older ones
    thinned, so a run holds at most ``2 * recent`` step records and ``2 * recent_epochs``
    epoch records, spread over the whole run from its first record to its newest (by default
    at most 4,000 of each, a few MiB). Epoch records need the bound too: a 100,000-step run on 4
    rows with batch 1 has 25,000 epochs. The newest epoch that was best so far stays reachable
    as :attr:`best_epoch` even when thinning drops it. Status, error and evaluation records are
    all kept in :attr:`events` (a few per run, plus one per pause and resume).
    """

    def __init__(self, recent: int = 2000, recent_epochs: int = 2000):
        self.recent_limit = recent
        self.recent_epochs_limit = recent_epochs
        self._steps: Thinned[StepRecord] = Thinned(recent)
        self._epochs: Thinned[EpochRecord] = Thinned(recent_epochs)
        self.best_epoch: EpochRecord | None = None
        self.last_probe: ProbeRecord | None = None
        self.views: dict[str, ViewRecord] = {}  # the newest of each view
        # the views whose earlier records are kept too (see keep_views), oldest first
        self.view_history: dict[str, Thinned[ViewRecord]] = {}
        self.events: list[EvaluationRecord | StatusRecord | ErrorRecord] = []

    def add(self, record: Record) -> None:
        if isinstance(record, StepRecord):
            self._steps.add(record)
        elif isinstance(record, EpochRecord):
            self._epochs.add(record)
            if record.best:
                self.best_epoch = record
        elif isinstance(record, ProbeRecord):
            self.last_probe = record  # only the newest: probes come several times a second
        elif isinstance(record, ViewRecord):
            self.views[record.key] = record
            kept = self.view_history.get(record.key)
            if kept is not None:
                kept.add(record)
        else:
            self.events.append(record)

    def keep_views(self, limits: dict[str, int]) -> None:
        """Keep the earlier records of these views too (key -> how many at full resolution;
        older ones thinned, at most twice as many): a view's history to scrub back through."""
        for key, limit in limits.items():
            if limit > 0 and key not in self.view_history:
                self.view_history[key] = Thinned(limit)

    def steps(self) -> Iterator[StepRecord]:
        """The kept step records, oldest first."""
        return iter(self._steps)

    @property
    def epochs(self) -> list[EpochRecord]:
        """The kept epoch records, oldest first."""
        return list(self._epochs)

    def __len__(self) -> int:
        return len(self._steps) + len(self._epochs) + len(self.events)
