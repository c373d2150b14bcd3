"""The trainer: background thread, records, control, determinism, early stopping, resume."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import pytest
import torch

from builder import CATALOG
from builder.training.config import ConfigError, parse_training
from builder.training.records import EpochRecord, ErrorRecord, StatusRecord, StepRecord
from builder.training.trainer import Trainer, TrainingError, available_devices, pick_device
from graph import Project


def moons_project(**training) -> Project:
    project = Project(CATALOG, name="moons")
    net = project.add_network("main")
    x = net.add_node("Input", "x", {"shape": [2]})
    h1 = net.add_node("Linear", "hidden 1", {"out_features": 16})
    a1 = net.add_node("ReLU", "relu")
    d = net.add_node("Dropout", "drop", {"p": 0.1})
    h2 = net.add_node("Linear", "class", {"out_features": 2})
    y = net.add_node("Output", "y")
    for a, b in [(x, h1), (h1, a1), (a1, d), (d, h2), (h2, y)]:
        net.connect(a, b)
    project.training = {
        "dataset": {"name": "moons", "samples": 200},
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 4,
        "batch_size": 16,
        "seed": 0,
        "report_every": 5,
        "report_interval": 0,
        **training,
    }
    return project


def kinds(records):
    return [r.kind for r in records]


def step_losses(records):
    return [loss for r in records if isinstance(r, StepRecord) for loss in r.losses]


def test_a_run_reports_steps_epochs_and_status():
    records = Trainer(moons_project()).run()
    assert isinstance(records[0], StatusRecord) and records[0].state == "running"
    assert isinstance(records[-1], StatusRecord) and records[-1].state == "finished"
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    steps = [r for r in records if isinstance(r, StepRecord)]
    per_epoch = math.ceil(160 / 16)  # 200 samples, 20% validation
    assert [e.epoch for e in epochs] == [1, 2, 3, 4]
    assert epochs[-1].step == 4 * per_epoch
    # the step records carry every step's loss exactly once
    assert len(step_losses(records)) == 4 * per_epoch
    assert [r.first_step for r in steps] == sorted(r.first_step for r in steps)
    assert steps[0].first_step == 1 and steps[-1].step == 4 * per_epoch
    last = steps[-1]
    assert (
        set(last.grad_norms) == {"hidden 1", "class"} == set(last.health) == set(last.weight_norms)
    )
    assert all(v > 0 for v in last.grad_norms.values())
    assert all(0 < v < 1 for v in last.update_ratios.values())
    assert last.samples_per_sec > 0 and last.lr == pytest.approx(0.01)
    m = epochs[-1].metrics
    assert {"accuracy", "precision", "recall", "f1", "confusion"} <= set(m)
    assert sum(map(sum, m["confusion"])) == 40 and m["accuracy"] > 0.65  # chance is 0.5
    assert epochs[-1].val_loss < epochs[0].val_loss


def test_records_are_immutable():
    records = Trainer(moons_project(epochs=1)).run()
    step = next(r for r in records if isinstance(r, StepRecord))
    with pytest.raises(AttributeError):
        step.step = 3
    with pytest.raises(TypeError):
        step.grad_norms["class"] = 0.0


def test_same_seed_same_curve_other_seed_other_curve():
    a = step_losses(Trainer(moons_project()).run())
    b = step_losses(Trainer(moons_project()).run())
    c = step_losses(Trainer(moons_project(seed=1)).run())
    assert a == b
    assert a != c


def test_snapshot_isolates_the_run_from_later_edits():
    project = moons_project()
    trainer = Trainer(project)
    net = project.network()
    net.set_param(net.find("class"), "out_features", 5)  # would not fit the 2 classes
    records = trainer.run()
    assert records[-1].kind == "status" and records[-1].state == "finished"


def _long(project_kwargs=None):
    return Trainer(moons_project(epochs=100000, **(project_kwargs or {})))


def test_pause_resume_stop_mid_epoch_within_half_a_second():
    # 1,600 one-sample steps per epoch, so the stop lands inside an epoch
    trainer = _long({"batch_size": 1, "dataset": {"name": "moons", "samples": 2000}})
    trainer.start()
    try:
        deadline = time.time() + 20
        while trainer.step < 30 and time.time() < deadline:
            time.sleep(0.01)
        trainer.pause()
        time.sleep(0.3)
        held = trainer.step
        time.sleep(0.3)
        assert trainer.step == held and trainer.state == "paused"
        trainer.resume()
        time.sleep(0.2)
        assert trainer.step > held
        t0 = time.perf_counter()
        trainer.stop()
        assert trainer.join(0.5), "the worker did not stop within 0.5 s"
        assert time.perf_counter() - t0 < 0.5
        assert trainer.step % 1600 != 0  # stopped in the middle of an epoch
    finally:
        trainer.stop()
        trainer.join(5)
    states = [r.state for r in trainer.history.events if isinstance(r, StatusRecord)]
    assert states == ["running", "paused", "resumed", "stopped"]


def test_stop_while_paused():
    trainer = _long()
    trainer.start()
    time.sleep(0.2)
    trainer.pause()
    time.sleep(0.2)
    trainer.stop()
    assert trainer.join(1)
    assert trainer.state == "stopped"


def test_an_exception_in_the_worker_arrives_as_an_error_record(monkeypatch):
    trainer = Trainer(moons_project())
    trainer.prepare()
    calls = {"n": 0}
    forward = trainer.model.forward

    def failing(*args):
        calls["n"] += 1
        if calls["n"] == 7:
            raise RuntimeError("boom in layer")
        return forward(*args)

    monkeypatch.setattr(trainer.model, "forward", failing)
    trainer.start()
    records = list(trainer.records(timeout=10))
    assert trainer.join(5)
    assert isinstance(records[-1], ErrorRecord)
    assert "boom in layer" in records[-1].message and "step 6" in records[-1].message
    assert trainer.state == "error"


def test_no_thread_left_behind():
    before = {t.ident for t in threading.enumerate()}
    trainer = Trainer(moons_project(epochs=1))
    trainer.start()
    assert trainer.join(20)
    assert {t.ident for t in threading.enumerate()} <= before


def test_early_stopping_restores_the_best_weights():
    project = moons_project(
        epochs=200,
        optimizer={"name": "sgd", "lr": 0.5},
        early_stopping={"patience": 2, "restore_best": True},
    )
    trainer = Trainer(project)
    records = trainer.run()
    status = records[-1]
    assert status.state == "early_stopped" and "not improved for 2 epochs" in status.message
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert len(epochs) < 200
    best = min(epochs, key=lambda e: e.val_loss)
    assert epochs[-1].epoch - best.epoch == 2 and best.best
    # the model now holds the best epoch's weights: its validation loss is the best one
    val_loss, _ = trainer._evaluate()
    assert val_loss == pytest.approx(best.val_loss, rel=1e-5)


def test_resume_from_a_checkpoint_continues_the_same_run(tmp_path):
    straight = step_losses(Trainer(moons_project(epochs=4)).run())
    first = Trainer(moons_project(epochs=2))
    part1 = step_losses(first.run())
    first.save_checkpoint(tmp_path / "run.pt")
    second = Trainer(moons_project(epochs=4), resume=tmp_path / "run.pt")
    records = second.run()
    assert [e.epoch for e in records if isinstance(e, EpochRecord)] == [3, 4]
    assert part1 + step_losses(records) == pytest.approx(straight, abs=1e-6)


def test_resume_refuses_a_checkpoint_of_another_network(tmp_path):
    first = Trainer(moons_project(epochs=1))
    first.run()
    first.save_checkpoint(tmp_path / "run.pt")
    other = moons_project(epochs=2)
    net = other.network()
    net.set_param(net.find("hidden 1"), "out_features", 8)
    with pytest.raises(Exception, match="different network"):
        Trainer(other, resume=tmp_path / "run.pt").prepare()
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception, match="damaged or not a NeuralCanvas checkpoint"):
        Trainer(moons_project(), resume=tmp_path / "junk.pt").prepare()


@pytest.mark.parametrize("batch, steps", [("full", 1), (1, 160), (50, 4)])
def test_batch_modes(batch, steps):
    records = Trainer(moons_project(epochs=1, batch_size=batch)).run()
    epoch = next(r for r in records if isinstance(r, EpochRecord))
    assert epoch.step == steps


def test_clipping_by_norm_bounds_the_reported_gradients():
    project = moons_project(
        epochs=1, optimizer={"name": "sgd", "lr": 0.1}, clip={"mode": "norm", "max": 0.01}
    )
    steps = [r for r in Trainer(project).run() if isinstance(r, StepRecord) and r.grad_norms]
    total = [math.sqrt(sum(v * v for v in r.grad_norms.values())) for r in steps]
    assert max(total) <= 0.01 * (1 + 1e-4)


def test_penalties_raise_the_loss_and_schedule_changes_the_rate():
    plain = Trainer(moons_project(epochs=1)).run()
    penalised = Trainer(moons_project(epochs=1, penalties={"l1": 0.01, "l2": 0.01})).run()
    assert step_losses(penalised)[0] > step_losses(plain)[0]
    project = moons_project(epochs=4, schedule={"name": "step", "step_size": 2, "gamma": 0.5})
    lrs = [r.lr for r in Trainer(project).run() if isinstance(r, EpochRecord)]
    assert lrs == pytest.approx([0.01, 0.005, 0.005, 0.0025])


def test_device_choice():
    assert pick_device("cpu") == torch.device("cpu")
    assert available_devices()[:2] == ["auto", "cpu"]
    if not torch.cuda.is_available():
        with pytest.raises(TrainingError, match="no CUDA GPU"):
            pick_device("cuda")
    trainer = Trainer(moons_project(), device="cpu")
    trainer.prepare()
    assert next(trainer.model.parameters()).device.type == "cpu"


def test_config_override_and_monitoring_off():
    project = moons_project()
    config = replace(parse_training(project.training), epochs=1, monitor=False)
    steps = [r for r in Trainer(project, config=config).run() if isinstance(r, StepRecord)]
    assert steps and all(not r.grad_norms and not r.health for r in steps)


def test_starting_twice_is_refused():
    trainer = Trainer(moons_project(epochs=1))
    trainer.start()
    with pytest.raises(TrainingError, match="already been started"):
        trainer.start()
    assert trainer.join(20)


def test_the_test_split_is_evaluated_once_at_the_end():
    project = moons_project(epochs=2)
    project.training["dataset"] = {"name": "moons", "samples": 200, "validation": 0.2, "test": 0.2}
    records = Trainer(project).run()
    evaluations = [r for r in records if r.kind == "evaluation"]
    assert len(evaluations) == 1 and evaluations[0].split == "test"
    assert sum(map(sum, evaluations[0].metrics["confusion"])) == 40
    assert records[-2] is evaluations[0] and records[-1].state == "finished"


def test_probes_report_histograms_and_the_decision_grid():
    import numpy as np

    trainer = Trainer(moons_project(epochs=2))
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1, 1, 5)
    trainer.set_probe("hidden 1", (xs, ys), interval=0.0)
    records = trainer.run()
    probes = [r for r in records if r.kind == "probe"]
    assert probes, "no probe records"
    last = probes[-1]
    assert last.layer == "hidden 1"
    assert sum(last.weights.counts) == 2 * 16  # Linear 2 -> 16 weights
    assert len(last.weights.edges) == len(last.weights.counts) + 1
    assert sum(last.activations.counts) > 0
    assert last.grid.shape == (5, 7) and not last.grid.flags.writeable
    assert ((last.grid >= 0) & (last.grid <= 1)).all()  # probability of class 1
    assert trainer.history.last_probe is last
    assert all(r.kind != "probe" for r in trainer.history.events)


def test_resume_is_exact_with_augmentation_and_early_stopping(tmp_path):
    settings = {
        "dataset": {"name": "moons", "samples": 200, "augment": {"noise": 0.1}},
        "early_stopping": {"patience": 50},
    }
    straight = step_losses(Trainer(moons_project(epochs=4, **settings)).run())
    first = Trainer(moons_project(epochs=2, **settings))
    part1 = step_losses(first.run())
    first.save_checkpoint(tmp_path / "run.pt")
    second = Trainer(moons_project(epochs=4, **settings), resume=tmp_path / "run.pt")
    second.prepare()
    assert (second.progress.waiting, second.epoch) == (first.progress.waiting, 2)
    assert part1 + step_losses(second.run()) == pytest.approx(straight, abs=1e-6)


def test_sparse_reports_span_epochs_and_keep_every_loss():
    """A report interval longer than the run: one step record at the run's end holds every
    step's loss, knows which epoch each step belongs to, and the epoch records' train loss
    is the exact mean of that epoch's step losses."""
    records = Trainer(moons_project(report_every=1, report_interval=3600.0)).run()
    steps = [r for r in records if isinstance(r, StepRecord)]
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    per_epoch = 10
    assert len(steps) == 1
    (report,) = steps
    assert (report.first_step, report.step, report.epoch) == (1, 4 * per_epoch, 4)
    assert report.epoch_ends == (10, 20, 30)
    assert report.step_epochs() == [1] * 10 + [2] * 10 + [3] * 10 + [4] * 10
    assert [report.epoch_of(s) for s in (1, 10, 11, 20, 21, 31, 40)] == [1, 1, 2, 2, 3, 4, 4]
    assert set(report.grad_norms) == {"hidden 1", "class"}  # the run's last step is monitored
    for e in epochs:
        mine = report.losses[(e.epoch - 1) * per_epoch : e.epoch * per_epoch]
        assert e.train_loss == math.fsum(mine) / per_epoch


def test_report_interval_spaces_reports_in_time():
    """Reports come at least report_interval apart (the last one excepted), each covering
    at least report_every steps."""
    records = Trainer(moons_project(epochs=30, report_every=2, report_interval=0.01)).run()
    steps = [r for r in records if isinstance(r, StepRecord)]
    assert len(step_losses(records)) == 30 * 10
    assert 1 < len(steps) < 30 * 10 // 2
    gaps = [b.elapsed - a.elapsed for a, b in zip(steps, steps[1:-1])]
    assert all(g >= 0.01 for g in gaps), gaps
    assert all(len(r.losses) >= 2 for r in steps[:-1])


def test_report_interval_is_checked():
    with pytest.raises(ConfigError, match="report_interval"):
        parse_training({"report_interval": -1})


def test_a_run_ends_with_a_probe_of_the_trained_model():
    """However long the probe interval, the last record before the final status is a probe
    of the trained model: activations from a fresh forward pass, the final weights."""
    import numpy as np

    trainer = Trainer(moons_project(epochs=2))
    trainer.set_probe("hidden 1", (np.linspace(-2, 2, 4), np.linspace(-1, 1, 3)), interval=3600)
    records = trainer.run()
    probes = [r for r in records if r.kind == "probe"]
    assert len(probes) == 2  # the first report's (interval not started yet) and the final one
    final = probes[-1]
    assert records.index(final) == len(records) - 2 and records[-1].state == "finished"
    assert final.step == trainer.step and sum(final.activations.counts) == 160 * 16
    weights = trainer.model.state_dict()
    w = next(v for k, v in weights.items() if k.endswith("weight") and v.shape == (16, 2))
    assert final.weights.edges[0] == pytest.approx(float(w.min()))
    assert final.weights.edges[-1] == pytest.approx(float(w.max()))
