"""Dashboard test records: step and epoch records and a small run of them, and what a
curve draws (shared by the dashboard tests)."""

from __future__ import annotations

import numpy as np

from builder.training.records import EpochRecord, StepRecord


def step(first: int, losses, epoch: int, grads=None, epoch_ends=()) -> StepRecord:
    losses = tuple(float(v) for v in losses)
    return StepRecord(
        epoch=epoch,
        step=first + len(losses) - 1,
        first_step=first,
        losses=losses,
        train_loss=sum(losses) / len(losses),
        samples_per_sec=100.0,
        lr=0.1,
        elapsed=0.01 * first,
        grad_norms=grads or {},
        epoch_ends=tuple(epoch_ends),
    )


def epoch(n: int, at: int, train: float, val: float | None, **metrics) -> EpochRecord:
    return EpochRecord(
        epoch=n,
        step=at,
        train_loss=train,
        val_loss=val,
        metrics=metrics,
        lr=0.1,
        elapsed=0.01 * at,
        best=True,
    )


def run_records(scale: float = 1.0, epochs: int = 3, per_epoch: int = 4) -> list:
    """``epochs`` epochs of ``per_epoch`` steps: one step report per epoch, then its epoch."""
    out, s = [], 1
    for e in range(1, epochs + 1):
        losses = [scale / (s + i) for i in range(per_epoch)]
        grads = {"fc1": 0.5 / e, "fc2": 2.0 * e}
        out.append(step(s, losses, e, grads))
        s += per_epoch
        out.append(
            epoch(e, s - 1, float(np.mean(losses)), 1.1 * losses[-1], accuracy=0.5 + 0.1 * e)
        )
    return out


def steps_of(records) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in records:
        if isinstance(r, StepRecord):
            xs += list(range(r.first_step, r.first_step + len(r.losses)))
            ys += list(r.losses)
    return [float(x) for x in xs], ys


def data(item) -> tuple[list[float], list[float]]:
    """What a curve draws, as plain lists."""
    x, y = item.getData()
    if x is None:
        return [], []
    return [float(v) for v in x], [float(v) for v in y]
