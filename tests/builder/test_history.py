"""The trainer's bounded record history: step and epoch records stay under their bounds for
runs of any length while spanning the whole run; status, error and evaluation records are all
kept; and a real run's history is what its channel delivered."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builder import CATALOG
from builder.training.records import (
    EpochRecord,
    ErrorRecord,
    EvaluationRecord,
    History,
    StatusRecord,
    StepRecord,
    Thinned,
)
from builder.training.trainer import Trainer
from graph import Project


def step(n: int) -> StepRecord:
    return StepRecord(
        epoch=1,
        step=n,
        first_step=n,
        losses=(1.0 / n,),
        train_loss=1.0 / n,
        samples_per_sec=1.0,
        lr=0.01,
        elapsed=n / 1000,
    )


def epoch(n: int, best: bool = False) -> EpochRecord:
    return EpochRecord(
        epoch=n,
        step=10 * n,
        train_loss=1.0 / n,
        val_loss=None,
        metrics={},
        lr=0.01,
        elapsed=n / 100,
        best=best,
    )


# --------------------------------------------------------------------------- the thinning


@pytest.mark.parametrize("limit", [1, 2, 3, 10, 64])
def test_thinned_stays_within_twice_its_limit_after_every_add(limit):
    store: Thinned[int] = Thinned(limit)
    for n in range(1, 50 * limit + 1):
        store.add(n)
        kept = list(store)
        assert len(kept) == len(store) <= 2 * limit
        assert kept[0] == 1 and kept[-1] == n  # the first item and the newest
        assert kept == sorted(set(kept))  # in order, no repeats


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(1, 40), adds=st.integers(0, 5000))
def test_thinned_is_bounded_evenly_spaced_and_spans_all_adds(limit, adds):
    store: Thinned[int] = Thinned(limit)
    for n in range(1, adds + 1):
        store.add(n)
    kept = list(store)
    assert len(kept) <= 2 * limit
    if adds <= limit:
        assert kept == list(range(1, adds + 1))
        return
    recent = kept[-limit:]
    assert recent == list(range(adds - limit + 1, adds + 1))  # the newest at full resolution
    older = kept[:-limit]
    assert older[0] == 1
    assert all(b - a == store.stride for a, b in zip(older, older[1:]))  # evenly spaced
    # Nothing older than the recent tier is more than one stride away from a kept item.
    assert recent[0] - older[-1] <= store.stride


def test_thinned_refuses_a_zero_limit():
    with pytest.raises(ValueError, match="at least 1"):
        Thinned(0)


# --------------------------------------------------------------------------- the history


@pytest.mark.parametrize("adds", [0, 1, 9, 10, 11, 19, 20, 21, 100, 1000, 12345])
def test_step_records_are_bounded_and_span_the_run(adds):
    recent = 10
    history = History(recent)
    for n in range(1, adds + 1):
        history.add(step(n))
    kept = [r.step for r in history.steps()]
    assert len(kept) <= 2 * recent
    assert kept == sorted(kept)
    if adds:
        assert kept[0] - 1 < adds / 2  # from the first half of the run (in fact its first step)
        assert kept[0] == 1 and kept[-1] == adds  # ... and up to the newest
        assert kept[-recent:] == list(range(max(1, adds - recent + 1), adds + 1))


def test_epoch_records_are_bounded_too_and_the_best_one_stays_reachable():
    history = History(recent=5, recent_epochs=8)
    epochs = 25_000  # 100,000 steps on 4 rows with batch 1
    for n in range(1, epochs + 1):
        history.add(epoch(n, best=n in (3, 777)))
    kept = [e.epoch for e in history.epochs]
    assert len(kept) <= 2 * 8
    assert kept[0] == 1 and kept[-1] == epochs and kept == sorted(kept)
    assert history.best_epoch is not None and history.best_epoch.epoch == 777
    assert 777 not in kept  # thinned away, but still reachable as best_epoch
    assert len(history) == len(kept)


def test_status_error_and_evaluation_records_are_all_kept_in_order():
    history = History(recent=2, recent_epochs=2)
    events = [StatusRecord("running", 0, 0)]
    for n in range(1, 500):
        history.add(step(n))
        history.add(epoch(n))
        if n % 50 == 0:  # a user pausing and resuming often
            events += [StatusRecord("paused", n, n), StatusRecord("resumed", n, n)]
    events += [
        EvaluationRecord("test", 0.1, {}, 499, 499),
        ErrorRecord("the loss became NaN", 499, 499, diverged=True),
        StatusRecord("stopped", 499, 499),
    ]
    for record in events:
        history.add(record)
    assert history.events == events
    assert len(list(history.steps())) < 4 and len(history.epochs) < 4
    assert len(history) == len(events) + len(list(history.steps())) + len(history.epochs)


# --------------------------------------------------------------------------- a real run


def moons_project() -> Project:
    project = Project(CATALOG, name="moons")
    net = project.add_network("main")
    nodes = [
        net.add_node("Input", "x", {"shape": [2]}),
        net.add_node("Linear", "hidden", {"out_features": 8}),
        net.add_node("ReLU", "relu"),
        net.add_node("Linear", "class", {"out_features": 2}),
        net.add_node("Output", "y"),
    ]
    for a, b in zip(nodes, nodes[1:]):
        net.connect(a, b)
    project.training = {
        "dataset": {"name": "moons", "samples": 200, "test": 0.1},
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 5,
        "batch_size": 8,
        "report_every": 3,
        "report_interval": 0,
        "seed": 0,
        "device": "cpu",
    }
    return project


def split(records):
    steps = [r for r in records if isinstance(r, StepRecord)]
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    events = [r for r in records if not isinstance(r, (StepRecord, EpochRecord))]
    return steps, epochs, events


def test_a_quick_runs_history_is_what_its_channel_delivered():
    trainer = Trainer(moons_project())
    trainer.start()
    assert trainer.join(120)
    polled = trainer.poll()
    steps, epochs, events = split(polled)
    assert trainer.state == "finished" and len(steps) > 20 and len(epochs) == 5
    assert list(trainer.history.steps()) == steps
    assert trainer.history.epochs == epochs
    assert trainer.history.events == events
    assert [type(e) for e in events] == [StatusRecord, EvaluationRecord, StatusRecord]
    assert len(trainer.history) == len(polled)
    assert trainer.history.best_epoch == [e for e in epochs if e.best][-1]


def test_a_thinned_history_is_an_ordered_selection_of_the_channels_records():
    trainer = Trainer(moons_project(), history_size=4)
    records = trainer.run()
    steps, epochs, events = split(records)
    kept = list(trainer.history.steps())
    assert len(kept) < 8 < len(steps)
    assert kept[0] is steps[0] and kept[-1] is steps[-1]
    positions = [steps.index(r) for r in kept]
    assert positions == sorted(positions)
    assert kept[-4:] == steps[-4:]
    assert trainer.history.epochs == epochs and trainer.history.events == events
