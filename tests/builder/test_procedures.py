"""One generic test of every registered training procedure: its settings round-trip through
the project file, it trains a few steps on its example, a checkpoint resumed gives the same
records and weights as an uninterrupted run, and every declared view yields a payload of its
kind. Procedure-specific refusals follow."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import assets
from builder import CATALOG
from builder.catalog.params import BOOL, CHOICE, FLOAT, INT
from builder.training.config import ConfigError, parse_training
from builder.training.procedures import PROCEDURES, BindingError
from builder.training.records import EpochRecord, StepRecord, ViewRecord
from builder.training.trainer import Trainer
from graph import project_file

SPECS = list(PROCEDURES.values())
IDS = [s.id for s in SPECS]
PAYLOAD_KEYS = {
    "samples": {"samples", "rows", "value_range"},
    "image_grid": {"images", "cols", "value_range"},
    "scatter": {"points", "labels", "axis_labels", "note"},
    "bars": {"values", "labels", "threshold", "warning"},
    "heatmap": {"values", "value_range"},
    "grid_map": {"rows", "cols", "centers", "hexagonal"},
    "arithmetic": {"title", "lines", "columns", "rows", "cells", "highlight"},
}
TEXT_KINDS = {"arithmetic"}  # payloads of formatted numbers only


def example(spec, epochs: int = 2):
    """The procedure's example project, made short: ``epochs`` epochs."""
    project = project_file.load(assets.example(spec.example), CATALOG)
    project.training["epochs"] = epochs
    project.training["batch_size"] = 32
    return project


def non_default(param):
    """A valid value of ``param`` other than its default."""
    if param.kind == CHOICE:
        return next(c for c in param.choices if c != param.default)
    if param.kind == BOOL:
        return not param.default
    if param.kind == INT:
        return param.default + 1
    if param.kind == FLOAT:
        value = param.default + 0.25
        return min(value, param.max) if param.max is not None else value
    raise AssertionError(f"no test value for a {param.kind} setting")


def step_losses(records) -> list[float]:
    return [x for r in records if isinstance(r, StepRecord) for x in r.losses]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_every_procedure_has_an_example_that_names_it(spec):
    project = example(spec)
    assert project.training.get("procedure", "supervised") == spec.id
    assert spec.views and spec.kernel and spec.title and spec.help


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_settings_round_trip_through_the_project_file(spec):
    project = example(spec)
    changed = {p.name: non_default(p) for p in spec.settings}
    project.training["procedure"] = spec.id
    project.training["procedure_settings"] = changed
    again = project_file.loads(project_file.dumps(project), CATALOG)
    config = parse_training(again.training)
    assert config.procedure == spec.id
    assert config.procedure_settings == {**spec.defaults(), **changed}
    # Absent settings are the declared defaults.
    del again.training["procedure_settings"]
    assert parse_training(again.training).procedure_settings == spec.defaults()


@pytest.mark.parametrize(
    "spec", [s for s in SPECS if s.settings], ids=[s.id for s in SPECS if s.settings]
)
def test_a_bad_setting_is_named_by_its_path(spec):
    training = dict(example(spec).training)
    param = spec.settings[0]
    training["procedure_settings"] = {param.name: "nonsense" if param.kind != CHOICE else 3}
    with pytest.raises(ConfigError, match=rf"training\.procedure_settings\.{param.name}: expected"):
        parse_training(training)
    training["procedure_settings"] = {"no_such_setting": 1}
    with pytest.raises(
        ConfigError, match=r"procedure_settings\.no_such_setting: the .* has no setting"
    ):
        parse_training(training)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_trains_resumes_exactly_and_draws_every_view(spec, tmp_path):
    straight = Trainer(example(spec, epochs=2))
    straight.set_views(True)
    straight.set_probe(None, ([-1.0, 0.0, 1.0], [-1.0, 1.0]))
    records = straight.run()
    assert straight.state == "finished", records[-1]
    losses = step_losses(records)
    assert len(losses) == straight.step > 0 and all(math.isfinite(x) for x in losses)
    steps = [r for r in records if isinstance(r, StepRecord)]
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert [e.epoch for e in epochs] == [1, 2]
    for name in spec.series:  # every declared series, once per step
        if name != "loss":
            assert sum(len(r.series[name]) for r in steps) == len(losses), name
    # Every declared view has something to draw.
    views = {r.key: r for r in records if isinstance(r, ViewRecord)}
    shape = tuple(straight.splits.dataset.input_shape)
    for view in spec.views:
        if not view.applies(shape):  # a view of other data (a GAN's plane for 2-D points)
            assert view.key not in views, view.key
        elif view.probe is not None:
            record = views[view.key]
            assert record.view_kind == view.kind
            assert PAYLOAD_KEYS[view.kind] <= set(record.payload), view.key
            arrays = [v for v in record.payload.values() if isinstance(v, np.ndarray)]
            assert arrays or view.kind in TEXT_KINDS, view.key
            assert all(not a.flags.writeable and np.isfinite(a).all() for a in arrays), view.key
        elif view.kind == "curves":
            known = {"loss", *steps[-1].series, *epochs[-1].metrics}
            assert known & set(view.series), view.key
        elif view.kind == "layer_norms":
            assert steps[-1].grad_norms
        elif view.kind in ("boundary", "histogram"):
            assert straight.history.last_probe is not None
        elif view.kind == "confusion":
            assert "confusion" in epochs[-1].metrics
        else:
            raise AssertionError(f"view {view.key}: no check for kind {view.kind}")

    # One epoch of the two (a stop at its end: schedules over the run's epochs, a SOM's
    # η and σ, are the same), a checkpoint, then the second epoch resumed: the same records
    # and weights.
    first = Trainer(example(spec, epochs=2))
    end_epoch = first._end_epoch

    def end_then_stop(event):
        first.stop()
        return end_epoch(event)

    first._end_epoch = end_then_stop
    part = step_losses(first.run())
    assert first.state == "stopped" and first.epoch == 1
    first.save_checkpoint(tmp_path / "run.pt")
    second = Trainer(example(spec, epochs=2), resume=tmp_path / "run.pt")
    rest = second.run()
    assert second.state == "finished", rest[-1]
    assert part + step_losses(rest) == pytest.approx(losses, abs=1e-6)
    later = [r for r in rest if isinstance(r, EpochRecord)]
    assert later[-1].val_loss == pytest.approx(epochs[-1].val_loss, abs=1e-6)
    assert dict(later[-1].metrics).keys() == dict(epochs[-1].metrics).keys()
    a, b = straight.final_state_dict(), second.final_state_dict()
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_a_checkpoint_of_another_procedure_is_refused_by_name(spec, tmp_path):
    other = next(s for s in SPECS if s.id != spec.id and s.example != spec.example)
    trainer = Trainer(example(other, epochs=1))
    trainer.run()
    trainer.save_checkpoint(tmp_path / "other.pt")
    resumed = Trainer(example(spec, epochs=2), resume=tmp_path / "other.pt")
    with pytest.raises(
        Exception, match=rf"made by the {other.id} procedure.*trains with {spec.id}"
    ):
        resumed.prepare()


# ----------------------------------------------------------------------------- refusals


def refusal(project) -> str:
    trainer = Trainer(project)
    with pytest.raises(BindingError) as info:
        trainer.prepare()
    return str(info.value)


def test_a_vae_without_mean_and_log_var_outputs_is_told_what_to_add():
    project = example(PROCEDURES["vae"])
    net = project.network()
    (log_var,) = [n for n in net.nodes if net.name_of(n) == "log_var"]
    net.remove_node(log_var)
    message = refusal(project)
    assert "needs Outputs named 'mean' and 'log_var'" in message
    assert "add an Output named 'log_var'" in message


def test_an_autoencoder_whose_output_is_not_the_input_shape_is_told_to_reshape():
    project = example(PROCEDURES["autoencoder"])
    net = project.network()
    (reshape,) = [n for n in net.nodes if net.type_of(n) == "Reshape"]
    (recon,) = [n for n in net.nodes if net.type_of(n) == "Output"]
    (src,) = [e.src for e in net.in_edges(reshape)]
    net.remove_node(reshape)
    net.connect(src, recon)
    message = refusal(project)
    assert "gives (N, 64) but the input is (N, 1, 8, 8)" in message
    assert "add a Reshape to (1, 8, 8) before 'recon'" in message


def test_bce_without_a_sigmoid_is_told_to_add_one():
    project = example(PROCEDURES["vae"])
    net = project.network()
    (sigmoid,) = [n for n in net.nodes if net.type_of(n) == "Sigmoid"]
    (src,) = [e.src for e in net.in_edges(sigmoid)]
    (dst,) = [e.dst for e in net.out_edges(sigmoid)]
    net.remove_node(sigmoid)
    net.connect(src, dst)
    assert "add a Sigmoid before 'recon', or set recon_loss to mse" in refusal(project)


def test_a_supervised_network_with_two_outputs_is_told_to_choose():
    project = example(PROCEDURES["vae"])
    project.training["procedure"] = "supervised"
    project.training["loss"] = "mse"
    del project.training["procedure_settings"]
    assert "supervised training needs exactly one" in refusal(project)


def test_an_unknown_procedure_gets_did_you_mean():
    training = dict(example(PROCEDURES["vae"]).training, procedure="vea")
    with pytest.raises(
        ConfigError, match=r'training\.procedure: unknown procedure .*did you mean "vae"'
    ):
        parse_training(training)


def test_a_fraction_of_noise_above_one_is_refused():
    project = example(PROCEDURES["denoising"])
    project.training["procedure_settings"] = {"noise": "masking", "noise_level": 1.5}
    assert "noise_level: masking corrupts a fraction" in refusal(project)


def test_a_collapsed_posterior_is_named_with_its_remedies_and_free_bits_keep_it_open():
    def kl_view(free_bits: float):
        project = example(PROCEDURES["vae"], epochs=5)
        project.training["procedure_settings"] = {"beta": 8.0, "free_bits": free_bits}
        trainer = Trainer(project)
        trainer.set_views(True)
        trainer.run()
        return trainer.history.views["kl_per_dim"].payload, trainer.history.epochs[-1].metrics

    collapsed, metrics = kl_view(0.0)  # a heavy KL weight pushes every code to the prior
    assert metrics["active_units"] == 0 and (collapsed["values"] < 0.01).all()
    assert "posterior collapse" in collapsed["warning"]
    assert "warm-up" in collapsed["warning"] and "free bits" in collapsed["warning"]
    kept, metrics = kl_view(0.5)
    assert metrics["active_units"] == 2 and kept["warning"] == ""
