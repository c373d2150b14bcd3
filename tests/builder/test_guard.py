"""The loop's guard against a run that blows up while its losses stay finite: the loss far
above its lowest, or the weights' norm far above its start; the best weights come back."""

from __future__ import annotations

import math

import pytest
import torch

from builder.training import loop
from builder.training.records import ErrorRecord
from builder.training.trainer import Trainer
from tests.builder.test_trainer import moons_project


def _fit(trainer: Trainer, guard: loop.Guard, epochs: int = 20):
    return loop.fit(
        trainer.kernel,
        trainer.kernel_state,
        (trainer.train_x, trainer.train_y),
        trainer.eval_split,
        epochs,
        16,
        trainer.shuffle,
        trainer.progress,
        loop.EarlyStopping(),
        guard=guard,
    )


def _weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


@pytest.mark.parametrize(
    "guard, lr, reason",
    [(loop.Guard(blowup=0), 100, "weights"), (loop.Guard(weight_growth=0), 100, "loss")],
    ids=["the weights explode", "the loss grows"],
)
def test_a_blow_up_after_good_epochs_ends_on_the_best_weights(guard, lr, reason):
    trainer = Trainer(moons_project(optimizer={"name": "sgd", "lr": 0.1}), device="cpu")
    trainer.prepare()
    good: list[loop.Epoch] = []
    best_weights = None
    events = _fit(trainer, guard)
    for event in events:
        if isinstance(event, loop.Epoch):
            good.append(event)
            if event.best:
                best_weights = _weights(trainer)
            if len(good) == 4:  # then the learning rate jumps
                for group in trainer.optimizer.param_groups:
                    group["lr"] = lr
        elif isinstance(event, loop.Diverged):
            break
    else:
        pytest.fail("the run never blew up")
    assert len(good) == 4 and event.reason == reason and event.restored
    assert all(math.isfinite(v) for v in event.losses)
    assert event.value > event.reference > 0
    if reason == "loss":
        assert event.value > 10 * event.reference
    else:
        assert event.value > 1000 * event.reference
    best = min(good, key=lambda e: e.watched)
    assert trainer.progress.best_epoch == best.epoch
    for name, tensor in trainer.model.state_dict().items():
        assert torch.equal(tensor, best_weights[name]), name


def test_a_guard_of_zeros_lets_it_run_and_a_good_run_is_never_stopped():
    trainer = Trainer(moons_project(optimizer={"name": "sgd", "lr": 0.1}), device="cpu")
    trainer.prepare()
    events = list(_fit(trainer, loop.Guard(0, 0), epochs=6))
    assert not any(isinstance(e, loop.Diverged) for e in events)
    records = Trainer(moons_project(epochs=30), device="cpu").run()
    assert not any(isinstance(r, ErrorRecord) for r in records)
    assert records[-1].state == "finished"
