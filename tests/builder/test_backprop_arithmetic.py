"""The Step tab's backprop arithmetic: the textbook's 2-2-1 network worked number for number
(to 4 decimals), and what it says when it cannot show an update."""

from __future__ import annotations

import torch

import assets
from builder import CATALOG
from builder.training.probes import ViewContext, backprop
from builder.training.trainer import Trainer
from graph import project_file

# (unit, s, a, δ, w after, b after) as the textbook works the step (σ, ½(d − y)², η = 0.25)
TEXTBOOK = [
    ("hidden 1", "0.2", "0.5498", "-0.0118", "[0.6, -0.0971]", "0.3029"),
    ("hidden 2", "0.9", "0.7109", "-0.0024", "[-0.3, 0.4006]", "0.5006"),
    ("output", "0.091", "0.5227", "-0.1191", "[0.4164, 0.1212]", "-0.1702"),
]


def step_once(project, rows: int = 1):
    trainer = Trainer(project)
    trainer.prepare()
    state, kernel = trainer.kernel_state, trainer.kernel
    x, y = kernel.prepare(state, trainer.train_x, trainer.train_y)
    kernel.train_step(state, x[:rows], y[:rows], 0)
    return backprop.update(ViewContext(kernel, state, trainer.train_x, None, image=False)), state


def test_the_2_2_1_network_is_worked_number_for_number():
    payload, state = step_once(project_file.load(assets.example("backprop_2_2_1"), CATALOG))
    assert payload["columns"][2:5] == ["s = w·x + b", "a = f(s)", "δ = ∂L/∂s"]
    assert payload["rows"] == [row[0] for row in TEXTBOOK]
    for cells, (_, s, a, delta, w_after, b_after) in zip(payload["cells"], TEXTBOOK):
        assert cells[2:5] == [s, a, delta]
        assert cells[8:] == [w_after, b_after]
    assert payload["cells"][2][:2] == ["[0.4, 0.1]", "-0.2"]  # the hand-set weights before
    assert payload["cells"][2][5:8] == ["[-0.0655, -0.0847]", "[0.0164, 0.0212]", "0.0298"]
    assert payload["lines"][0] == "sample x = [0, 1], target d = [1]"
    assert "the output y = [0.5227]; loss L = 0.1139" in payload["lines"][1]
    assert (
        payload["lines"][3].startswith("SGD: w ← w − η·∂L/∂w") and "η = 0.25" in payload["lines"][3]
    )
    # and the trainer's weights are the table's "after" column
    weight = state["model"].get_parameter("output.weight").detach()
    assert [round(float(v), 4) for v in weight[0]] == [0.4164, 0.1212]


def test_without_one_sample_steps_or_in_a_big_network_it_says_what_to_do():
    project = project_file.load(assets.example("xor_mlp"), CATALOG)
    payload, _ = step_once(project, rows=4)
    assert "Set the batch size to 1 and press Step" in payload["lines"][0]
    project.network().set_param(project.network().find("hidden"), "out_features", 64)
    payload, _ = step_once(project)
    assert "up to 200 weights" in payload["lines"][0]


def test_a_step_on_a_larger_batch_forgets_the_last_one_sample_update():
    project = project_file.load(assets.example("backprop_2_2_1"), CATALOG)
    payload, state = step_once(project)
    assert state["last"] is not None
    state["kernel"] = None
    trainer_kernel = __import__("builder.training.kernels.supervised", fromlist=["train_step"])
    x = torch.zeros(2, 2)
    y = torch.ones(2, 1)
    trainer_kernel.train_step(state, x, y, 1)
    assert state["last"] is None  # the view says to use batch size 1, not a stale update
