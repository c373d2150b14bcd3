"""Immutable progress records the trainer sends through its channel, and a bounded history.

Records are small frozen dataclasses of plain Python values (mappings are read-only views),
so any thread may read them; nothing in them refers to a tensor or a widget.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


def frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping)) if mapping else EMPTY


@dataclass(frozen=True)
class StepRecord:
    """A report every ``report_every`` steps.

    ``losses`` holds the loss of every step since the previous report (``first_step`` is the
    step of ``losses[0]``), so the per-step curve is complete although reports are sparse.
    The per-layer maps are keyed by node name and empty when monitoring is off.
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
    kind: str = field(default="step", init=False)


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


Record = StepRecord | EpochRecord | EvaluationRecord | StatusRecord | ErrorRecord


class History:
    """Every record of a run, with the step records bounded.

    Epoch, status and error records are all kept (there are few). Step records are kept in
    two tiers: the newest ``recent`` at full resolution, and older ones thinned to every
    ``stride``-th report, the stride doubling whenever the older tier reaches ``recent``
    entries. So a run of any length holds at most ``2 * recent`` step records, spread over the
    whole run (the default bound is 2 * 2,000 = 4,000 step records).
    """

    def __init__(self, recent: int = 2000):
        self.recent_limit = recent
        self.recent: deque[StepRecord] = deque()
        self.older: list[StepRecord] = []
        self.stride = 1
        self._dropped = 0
        self.epochs: list[EpochRecord] = []
        self.events: list[StatusRecord | ErrorRecord] = []

    def add(self, record: Record) -> None:
        if isinstance(record, StepRecord):
            self.recent.append(record)
            if len(self.recent) > self.recent_limit:
                self._age(self.recent.popleft())
        elif isinstance(record, EpochRecord):
            self.epochs.append(record)
        else:
            self.events.append(record)

    def _age(self, record: StepRecord) -> None:
        self._dropped += 1
        if self._dropped % self.stride == 0:
            self.older.append(record)
        if len(self.older) >= self.recent_limit:
            self.older = self.older[::2]
            self.stride *= 2

    def steps(self) -> Iterator[StepRecord]:
        yield from self.older
        yield from self.recent

    def __len__(self) -> int:
        return len(self.older) + len(self.recent) + len(self.epochs) + len(self.events)
