"""The som procedure in the trainer: the textbook's competitive-learning example number for
number in the arithmetic view, and bad input refused or warned about with what to do."""

from __future__ import annotations

import pytest

import assets
from builder import CATALOG
from builder.training.probes import ViewContext
from builder.training.probes import som as som_probes
from builder.training.procedures import BindingError
from builder.training.records import EpochRecord, ErrorRecord
from builder.training.trainer import Trainer
from graph import project_file

# Two units, four features, σ = 0, η = 0.6 (a classic worked example of competitive learning)
UNITS = [[0.3, 0.5, 0.7, 0.2], [0.6, 0.7, 0.4, 0.3]]
SAMPLES = [[1, 0, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]]


def colors(**training):
    project = project_file.load(assets.example("som_colors"), CATALOG)
    project.training.update({"epochs": 1, **training})
    return project


def test_the_shipped_example_holds_the_textbook_s_units_and_samples():
    project = project_file.load(assets.example("som_competitive_4x4"), CATALOG)
    net = project.network("map")
    assert net.weights_of(net.find("units"))["weight"] == UNITS  # set by hand, in the file
    assert project.training["dataset"]["rows"] == SAMPLES


def test_the_textbook_example_is_worked_number_for_number():
    project = project_file.load(assets.example("som_competitive_4x4"), CATALOG)
    trainer = Trainer(project)
    trainer.prepare()
    state, kernel = trainer.kernel_state, trainer.kernel
    x, y = kernel.prepare(state, trainer.train_x, trainer.train_y)
    assert x.tolist() == SAMPLES  # in their order (shuffle off), unnormalised
    ctx = ViewContext(kernel, state, trainer.train_x, None, image=False)
    kernel.train_step(state, x[:1], y[:1], 0)
    payload = som_probes.update(ctx)
    assert payload["rows"] == ["unit 1", "unit 2"] and payload["highlight"] == [0]
    assert payload["columns"][1] == "‖x − w‖²"
    assert payload["cells"] == [
        [
            "[0.3, 0.5, 0.7, 0.2]",
            "0.87",
            "1",
            "[0.42, -0.3, 0.18, -0.12]",
            "[0.72, 0.2, 0.88, 0.08]",
        ],
        ["[0.6, 0.7, 0.4, 0.3]", "1.1", "0", "[0, 0, 0, 0]", "[0.6, 0.7, 0.4, 0.3]"],
    ]
    assert "only the winner moves" in payload["lines"][1]
    assert payload["lines"][2].startswith("winner: unit 1")
    winners = [0]
    for i in range(1, 4):
        kernel.train_step(state, x[i : i + 1], y[i : i + 1], i)
        winners.append(som_probes.update(ctx)["highlight"][0])
    assert winners == [0, 0, 1, 1]
    last = som_probes.update(ctx)
    assert [row[1] for row in last["cells"]] == ["2.0559", "1.296"]
    assert last["cells"][1][4] == "[0.336, 0.952, 0.904, 0.288]"
    final = [0.888, 0.08, 0.352, 0.032, 0.336, 0.952, 0.904, 0.288]
    assert state["weight"].flatten().tolist() == pytest.approx(final, abs=1e-6)


def alarms(project) -> list:
    records = Trainer(project).run()
    epoch = [r for r in records if isinstance(r, EpochRecord)][-1]
    return list(dict(epoch.metrics).get("alarms") or ())


def test_a_map_too_big_for_its_data_or_too_wide_a_radius_is_warned_about():
    few = colors(dataset={"name": "colors", "samples": 50, "validation": 0.0, "test": 0.0})
    (units,) = alarms(few)
    assert units[0] == "units" and "400 units for 50 training samples" in units[1]
    assert "5·√N ≈ 35 units" in units[2]
    wide = colors()
    wide.training["procedure_settings"] = {"sigma": 50.0}
    (sigma,) = alarms(wide)
    assert sigma[0] == "sigma" and "wider than the map (20 × 20)" in sigma[1]
    assert alarms(colors()) == []


def error_of(project) -> str:
    records = Trainer(project).run()
    errors = [r.message for r in records if isinstance(r, ErrorRecord)]
    assert errors, records[-1]
    return errors[0]


def test_a_som_project_trained_as_supervised_is_told_to_choose_som():
    project = colors(procedure="supervised")
    del project.training["procedure_settings"]
    assert 'set training.procedure to "som"' in error_of(project)


def test_bad_networks_are_refused_with_what_to_do():
    tokens = colors()
    net = tokens.network(None)
    net.set_param(net.find("rgb"), "dtype", "int64")
    assert "set the Input's dtype to float32" in error_of(tokens)
    two = colors()
    net = two.network(None)
    extra = net.add_node("SOM", "second", {"rows": 2, "cols": 2})
    out = net.add_node("Output", "second_bmu")
    net.connect(net.find("rgb"), extra)
    net.connect(extra, out)
    trainer = Trainer(two)
    with pytest.raises(BindingError, match="has 2 SOM layers"):
        trainer.prepare()
