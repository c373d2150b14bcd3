"""Gradient health: the classification rule, the divergence message, and the built-in
examples that show vanishing gradients (deep_sigmoid), their cure (deep_relu_bn) and
exploding gradients from a too-high learning rate (exploding_lr)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import pytest

import assets
from builder import CATALOG
from builder.training.config import ConfigError, HealthThresholds, parse_training
from builder.training.health import EXPLODING, HEALTHY, VANISHING, classify, divergence_message
from builder.training.records import EpochRecord, ErrorRecord, StepRecord
from builder.training.trainer import Trainer
from graph.project_file import load

DEFAULT = HealthThresholds()
SEEDS = (0, 1, 2)
FINE = {"normalised": True, "clipped": True, "saturating": False}


# --------------------------------------------------------------------------- classify


def test_default_thresholds():
    assert (DEFAULT.vanishing, DEFAULT.vanishing_ratio, DEFAULT.exploding) == (1e-5, 1e-3, 100.0)
    assert parse_training({}).health == DEFAULT


def test_empty_and_single_layer():
    assert classify({}, DEFAULT) == {}
    assert classify({"fc": 1.0}, DEFAULT) == {"fc": HEALTHY}


def test_exploding_boundary_is_exclusive():
    got = classify({"at": 100.0, "above": math.nextafter(100.0, math.inf)}, DEFAULT)
    assert got == {"at": HEALTHY, "above": EXPLODING}


def test_absolute_vanishing_boundary_is_exclusive():
    # alone, so the relative rule cannot apply
    assert classify({"fc": 1e-5}, DEFAULT) == {"fc": HEALTHY}
    assert classify({"fc": math.nextafter(1e-5, 0.0)}, DEFAULT) == {"fc": VANISHING}
    assert classify({"fc": 0.0}, DEFAULT) == {"fc": VANISHING}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_not_finite_is_exploding_and_not_the_reference(bad):
    got = classify({"bad": bad, "a": 1.0, "b": 0.5}, DEFAULT)
    assert got == {"bad": EXPLODING, "a": HEALTHY, "b": HEALTHY}


def test_relative_rule():
    norms = {"last": 2.0, "edge": 2e-3, "below": math.nextafter(2e-3, 0.0)}
    got = classify(norms, DEFAULT)
    assert got == {"last": HEALTHY, "edge": HEALTHY, "below": VANISHING}


def test_relative_rule_ignores_exploding_layers():
    # 1e-3 of an exploding layer is not a reason to call a normal layer vanishing
    got = classify({"blown": 1e6, "normal": 5.0, "tiny": 1e-3}, DEFAULT)
    assert got == {"blown": EXPLODING, "normal": HEALTHY, "tiny": VANISHING}
    assert classify({"blown": 1e6, "normal": 5.0}, DEFAULT)["normal"] == HEALTHY


def test_thresholds_are_configurable():
    config = parse_training(
        {"health": {"vanishing": 0.01, "vanishing_ratio": 0.5, "exploding": 10}}
    )
    assert config.health == HealthThresholds(0.01, 0.5, 10.0)
    norms = {"a": 8.0, "b": 3.0, "c": 5.0, "d": 0.005, "e": 11.0}
    assert classify(norms, config.health) == {
        "a": HEALTHY,
        "b": VANISHING,  # below 0.5 x 8 (e explodes, so it is not the reference)
        "c": HEALTHY,
        "d": VANISHING,
        "e": EXPLODING,
    }


def test_relative_rule_can_be_switched_off():
    health = parse_training({"health": {"vanishing_ratio": 0}}).health
    assert classify({"a": 50.0, "b": 1e-4}, health) == {"a": HEALTHY, "b": HEALTHY}


@pytest.mark.parametrize(
    ("health", "where"),
    [
        ({"vanishing": 0}, "training.health.vanishing"),
        ({"vanishing_ratio": 2}, "training.health.vanishing_ratio"),
        ({"exploding": -1}, "training.health.exploding"),
        ({"vanishing": 5, "exploding": 1}, "training.health"),
        ({"explode": 1}, "training.health.explode"),
    ],
)
def test_bad_thresholds_are_rejected_with_their_path(health, where):
    with pytest.raises(ConfigError) as info:
        parse_training({"health": health})
    assert where in str(info.value)


# --------------------------------------------------------------------------- divergence message


def test_divergence_message_names_step_epoch_value_and_lr():
    text = divergence_message(137, 4, math.nan, 0.05, FINE)
    assert "step 137" in text and "epoch 4" in text and "NaN" in text
    assert "learning rate (0.05)" in text
    assert "infinite" in divergence_message(3, 1, math.inf, 2.0, FINE)


def test_divergence_message_lists_only_the_causes_that_apply():
    text = divergence_message(5, 1, math.inf, 2.0, FINE)
    assert "learning rate (2)" in text
    for word in ("normalis", "saturating", "clipping"):
        assert word not in text
    causes = {
        "normalised": "normalise option",
        "saturating": "saturating activations",
        "clipped": "no gradient clipping",
    }
    for hint, words in causes.items():
        flipped = {**FINE, hint: not FINE[hint]}
        text = divergence_message(5, 1, math.inf, 2.0, flipped)
        assert words in text, hint
        assert all(w not in text for h, w in causes.items() if h != hint), hint
        assert text.count("\n  - ") == 2  # the learning rate and this one


# --------------------------------------------------------------------------- the examples


def _trainer(name: str, seed: int, lr: float | None = None, **changes) -> Trainer:
    trainer = Trainer(load(assets.example(name), CATALOG), device="cpu")
    if lr is not None:
        changes["optimizer"] = replace(trainer.config.optimizer, lr=lr)
    trainer.config = replace(trainer.config, seed=seed, **changes)
    return trainer


def _steps(records) -> list[StepRecord]:
    return [r for r in records if isinstance(r, StepRecord)]


@pytest.fixture
def started() -> Iterator[list[Trainer]]:
    """Trainers started in a test; stopped and joined afterwards whatever happened."""
    trainers: list[Trainer] = []
    yield trainers
    for trainer in trainers:
        trainer.stop()
        assert trainer.join(30)


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_sigmoid_first_layers_vanish(seed):
    steps = _steps(_trainer("deep_sigmoid", seed, epochs=3).run())
    assert len(steps) >= 6
    last = list(steps[0].health)[-1]
    assert last == "fc9"
    for layer in ("fc1", "fc2"):
        vanishing = sum(r.health[layer] == VANISHING for r in steps)
        assert vanishing >= 0.8 * len(steps), (layer, [r.grad_norms[layer] for r in steps])
    assert all(r.health[last] == HEALTHY for r in steps), [r.grad_norms[last] for r in steps]
    assert not any(EXPLODING in r.health.values() for r in steps)
    # the signal really fades with depth: fc1 gets far less than fc9
    for r in steps:
        assert r.grad_norms["fc1"] < 1e-3 * r.grad_norms[last]


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_relu_bn_is_healthy(seed):
    steps = _steps(_trainer("deep_relu_bn", seed, epochs=3).run())
    assert len(steps) >= 6
    assert {"fc1", "fc2", "bn1", "fc9"} <= set(steps[0].health)
    for r in steps:
        assert set(r.health.values()) == {HEALTHY}, dict(r.grad_norms)


def test_same_depth_and_width_in_the_two_deep_examples():
    def linears(name):
        net = load(assets.example(name), CATALOG).network()
        return [
            (net.name_of(n), net.params_of(n)["out_features"])
            for n in net.topological_order()
            if net.type_of(n) == "Linear"
        ]

    assert linears("deep_sigmoid") == linears("deep_relu_bn")
    assert len(linears("deep_sigmoid")) >= 8


@pytest.mark.parametrize("seed", SEEDS)
def test_exploding_lr_reports_exploding_then_stops(seed):
    trainer = _trainer("exploding_lr", seed)
    records = trainer.run()
    errors = [r for r in records if isinstance(r, ErrorRecord)]
    assert len(errors) == 1
    error = errors[0]
    assert error.diverged
    before = _steps(records[: records.index(error)])
    assert _steps(records) == before, "no step record after the error"
    assert any(EXPLODING in r.health.values() for r in before), [dict(r.grad_norms) for r in before]
    text = error.message
    assert f"step {error.step}" in text
    assert error.step > before[-1].step
    assert f"learning rate ({trainer.config.optimizer.lr:g})" in text
    assert "no gradient clipping" in text
    assert "normalise option" not in text  # the example's inputs are z-scored
    assert "saturating" not in text  # and it uses ReLU
    assert not [r for r in records if isinstance(r, EpochRecord)], "diverges within epoch 1"


def test_health_thresholds_reach_the_trainer():
    trainer = _trainer("deep_relu_bn", 0, epochs=1)
    trainer.config = replace(trainer.config, health=HealthThresholds(1e-9, 0.0, 1e-6))
    steps = _steps(trainer.run())
    assert steps and all(set(r.health.values()) == {EXPLODING} for r in steps)


# --------------------------------------------------------------------------- the worker stops


def _check_stopped_on_error(trainer: Trainer) -> ErrorRecord:
    assert trainer.join(60), "the worker thread should end by itself"
    assert not trainer.alive
    assert trainer.state == "error"
    records = trainer.poll()
    assert records and isinstance(records[-1], ErrorRecord), records[-3:]
    assert records[-1].diverged
    assert trainer.history.events[-1] == records[-1]
    return records[-1]


def test_too_high_lr_stops_the_worker(started):
    trainer = _trainer("exploding_lr", 0)
    started.append(trainer)
    trainer.start()
    error = _check_stopped_on_error(trainer)
    assert "learning rate" in error.message


def test_nan_in_the_middle_stops_the_worker(started):
    """A NaN at step 26 (epoch 3) of a run that was going well ends it at that step."""
    trainer = _trainer("exploding_lr", 0, lr=0.1, epochs=10, report_every=5)
    trainer.prepare()
    batches = math.ceil(len(trainer.splits.train) / trainer.config.batch_size)
    assert batches == 10

    def poison(module, inputs, output):
        # trainer.step counts the steps done, so this is the forward pass of step 26
        return output * math.nan if module.training and trainer.step == 25 else output

    trainer.model.register_forward_hook(poison)
    started.append(trainer)
    trainer.start()
    error = _check_stopped_on_error(trainer)
    assert (error.step, error.epoch) == (26, 3)
    assert "step 26 (epoch 3)" in error.message and "NaN" in error.message
    history = trainer.history
    assert [e.epoch for e in history.epochs] == [1, 2]
    steps = list(history.steps())
    assert steps[-1].step == 25 and all(math.isfinite(v) for r in steps for v in r.losses)


def test_nan_found_at_the_epoch_end_when_reports_are_sparse(started):
    """With a report interval longer than the run, a NaN at step 26 is caught when epoch 3
    ends: the error still names step 26 of epoch 3, and no epoch record follows it."""
    trainer = _trainer("exploding_lr", 0, lr=0.1, epochs=10, report_every=5, report_interval=3600.0)
    trainer.prepare()

    def poison(module, inputs, output):
        return output * math.nan if module.training and trainer.step == 25 else output

    trainer.model.register_forward_hook(poison)
    started.append(trainer)
    trainer.start()
    error = _check_stopped_on_error(trainer)
    assert (error.step, error.epoch) == (26, 3)
    assert "step 26 (epoch 3)" in error.message
    assert [e.epoch for e in trainer.history.epochs] == [1, 2]
    assert trainer.step == 30  # the rest of epoch 3 ran before its end was checked
