"""The perceptron and delta rules: the textbook's worked example number for number in the
Step tab's data, convergence and non-separability said in words, the delta rule's least
squares, and bad networks refused with what to do."""

from __future__ import annotations

import pytest
import torch

import assets
from builder import CATALOG
from builder.training.kernels import linear_rules
from builder.training.probes import ViewContext
from builder.training.probes import linear_rules as probes
from builder.training.procedures import BindingError
from builder.training.records import StatusRecord
from builder.training.trainer import Trainer
from graph import project_file


def example(name: str, **training):
    project = project_file.load(assets.example(name), CATALOG)
    project.training.update(training)
    return project


def outcome(project) -> str:
    records = Trainer(project).run()
    (end,) = [
        r for r in records if isinstance(r, StatusRecord) and r.state in ("finished", "stopped")
    ]
    return end.message


def test_the_two_sample_example_is_worked_number_for_number():
    trainer = Trainer(example("perceptron_two_samples"))
    trainer.prepare()
    state, kernel = trainer.kernel_state, trainer.kernel
    x, d = kernel.prepare(state, trainer.train_x, trainer.train_y)
    assert x.tolist() == [[1, -1, -1], [1, 1, 1]] and d.tolist() == [[0], [1]]
    ctx = ViewContext(kernel, state, trainer.train_x, None, image=False)
    kernel.train_step(state, x[:1], d[:1], 0)
    first = probes.update(ctx)
    assert first["columns"][:6] == ["w before", "b", "s = w·x + b", "y", "d", "e"]
    assert first["cells"] == [
        [
            "[0.5, -1, -0.5]",
            "0.5",
            "2.5",
            "1",
            "0",
            "-1",
            "[-1, 1, 1]",
            "-1",
            "[-0.5, 0, 0.5]",
            "-0.5",
        ]
    ]
    assert first["lines"][0].startswith("sample x = [1, -1, -1], target d = 0")
    assert first["lines"][1] == (
        "the unit: s = w·x + b = 0.5·1 + (-1)·(-1) + (-0.5)·(-1) + 0.5 = 2.5 → y = 1"
        " (y = 1 when s ≥ 0)"
    )
    assert first["lines"][2] == (
        "e = d − y = -1; w ← w + η·e·x = [0.5, -1, -0.5] + 1·(-1)·[1, -1, -1] = [-0.5, 0, 0.5];"
        " b ← b + η·e = -0.5"
    )
    assert first["highlight"] == [0]
    kernel.train_step(state, x[1:], d[1:], 1)
    second = probes.update(ctx)
    assert second["cells"][0][2:6] == ["-0.5", "0", "1", "1"]
    assert second["cells"][0][8:] == ["[0.5, 1, 1.5]", "0.5"]
    kernel.end_epoch(state, 1, 1.0)
    assert "done" not in state  # two errors: on to epoch 2
    for i in range(2):  # both right now: nothing changes
        kernel.train_step(state, x[i : i + 1], d[i : i + 1], 2 + i)
        assert probes.update(ctx)["highlight"] == []
    assert "every unit is right" in probes.update(ctx)["lines"][2]
    kernel.end_epoch(state, 2, 0.0)
    assert state["done"].startswith("Converged after epoch 2")


def test_the_trainer_stops_on_convergence_and_says_so():
    message = outcome(example("perceptron_two_samples"))
    assert message.startswith("Converged after epoch 2: an epoch without errors")


def test_xor_is_said_to_be_not_linearly_separable():
    project = example("perceptron_two_samples", epochs=100, shuffle=True)
    net = project.network()
    net.set_param(net.find("inputs"), "shape", (2,))
    net.set_weights(net.find("sum"), None)
    project.training["dataset"] = {"name": "xor"}
    message = outcome(project)
    assert message.startswith("Not linearly separable: after epoch")
    assert "add a hidden layer" in message
    project.training["dataset"] = {"name": "and"}
    assert outcome(project).startswith("Converged after epoch")


def test_the_delta_rule_is_least_mean_squares():
    """Batch mode over the whole split is gradient descent on ½·Σ(t − s)²: with a small η it
    reaches numpy's least-squares solution of s = w·x + b for t = ±1."""
    project = example("delta_blobs", epochs=300, batch_size="full")
    project.training["procedure_settings"].update(mode="batch", learning_rate=0.001)
    project.training["dataset"]["validation"] = 0.0
    trainer = Trainer(project)
    trainer.run()
    linear = trainer.kernel_state["linear"]
    x = trainer.train_x.double()
    t = 2 * trainer.train_y.double() - 1
    a = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], 1)
    solution = torch.linalg.lstsq(a, t.unsqueeze(1)).solution.squeeze(1)
    mine = torch.cat([linear.weight.detach().double()[0], linear.bias.detach().double()])
    assert torch.allclose(mine, solution, atol=1e-3)


@pytest.mark.parametrize(
    "change, words",
    [
        (
            lambda net: net.set_param(net.find("sum"), "out_features", 3),
            "3 units but dataset 'table' has 2 classes",
        ),
        (lambda net: net.remove_node(net.find("fire")), "is Input → Linear → Output: the"),
    ],
)
def test_a_network_that_is_not_one_layer_of_threshold_units_is_refused(change, words):
    project = example("perceptron_two_samples")
    net = project.network()
    net.set_weights(net.find("sum"), None)
    change(net)
    if net.type_of(net.nodes[-1]) == "Output" and not net.in_edges(net.nodes[-1]):
        net.connect(net.find("sum"), net.nodes[-1])
    with pytest.raises(BindingError, match=words):
        Trainer(project).prepare()


def test_a_step_trained_by_backprop_is_refused_with_advice():
    project = example("perceptron_two_samples")
    project.training.update(
        procedure="supervised", loss="bce", optimizer={"name": "sgd", "lr": 0.1}
    )
    project.training.pop("procedure_settings")
    with pytest.raises(BindingError, match="Step 'fire' is a threshold unit.*perceptron or delta"):
        Trainer(project).prepare()


def test_the_kernel_finds_one_linear_and_one_step():
    with pytest.raises(ValueError, match="one Linear followed by one Step"):
        linear_rules.find_layers(torch.nn.Sequential(torch.nn.Linear(2, 1)))


@pytest.mark.parametrize("rule", ["perceptron", "delta"])
@pytest.mark.parametrize("units, bias", [(1, True), (3, True), (3, False)])
def test_the_cpu_path_makes_the_torch_paths_updates(rule, units, bias):
    """Online on the CPU the rules run in numpy (Python floats for one small unit); the
    torch operations (any device) make the same weights, the same mistakes and losses."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=gen)
    y = torch.randint(0, max(units, 2), (40,), generator=gen)
    states = []
    for path in ("cpu", "torch"):
        linear = torch.nn.Linear(5, units, bias=bias)
        with torch.no_grad():
            linear.weight.copy_(torch.linspace(-1, 1, 5 * units).reshape(units, 5))
            if bias:
                linear.bias.fill_(0.1)
        step = type("Step", (torch.nn.Module,), {"threshold": 0.0, "forward": lambda s, v: v})()
        model = torch.nn.Sequential(linear, step)
        settings = {
            "rule": rule,
            "mode": "online",
            "learning_rate": 0.05,
            "stop_when_separated": False,
            "epochs": 1,
        }
        state = linear_rules.setup({"model": model}, settings)
        xs, ds = linear_rules.prepare(state, x, y)
        figures = []
        for start in range(0, 40, 10):
            xb, db = xs[start : start + 10], ds[start : start + 10]
            if path == "cpu":
                figures.append(linear_rules._online_cpu(state, xb, db))
            else:
                figures.append(linear_rules._torch_step(state, xb, db, online=True))
        states.append((linear.weight.detach().clone(), figures, state["last"]))
    (w_cpu, f_cpu, last_cpu), (w_torch, f_torch, last_torch) = states
    assert torch.allclose(w_cpu, w_torch, atol=1e-5)
    assert [m for m, _ in f_cpu] == [m for m, _ in f_torch]
    assert [loss for _, loss in f_cpu] == pytest.approx([loss for _, loss in f_torch], rel=1e-5)
    assert torch.allclose(last_cpu["w"], last_torch["w"], atol=1e-5)
    assert torch.allclose(last_cpu["dw"], last_torch["dw"], atol=1e-5)


def test_without_a_bias_and_a_threshold_off_zero_a_cycle_is_not_called_inseparable():
    """w = 0.5 separates x = 3 (class 1) from x = 1 (class 0) at threshold 1, but whole
    steps of η = 1 from w = 0 cycle: the run says so without claiming no line exists."""
    linear = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        linear.weight.zero_()
    step = type("Step", (torch.nn.Module,), {"threshold": 1.0, "forward": lambda s, v: v})()
    settings = {
        "rule": "perceptron",
        "mode": "online",
        "learning_rate": 1.0,
        "stop_when_separated": True,
        "epochs": 50,
    }
    state = linear_rules.setup({"model": torch.nn.Sequential(linear, step)}, settings)
    x, d = linear_rules.prepare(state, torch.tensor([[3.0], [1.0]]), torch.tensor([1, 0]))
    for epoch in range(1, 51):
        linear_rules.train_step(state, x, d, epoch)
        linear_rules.end_epoch(state, epoch, 0.0)
        if "done" in state:
            break
    assert (
        state["done"].startswith("The perceptron rule cycles")
        and "give the Linear layer a bias" in state["done"]
    )


@pytest.mark.parametrize(
    "example_name, layer", [("perceptron_two_samples", "sum"), ("som_competitive_4x4", "units")]
)
def test_a_frozen_layer_a_rule_would_train_is_refused(example_name, layer):
    project = project_file.load(assets.example(example_name), CATALOG)
    net = project.network()
    net.set_trainable(net.find(layer), False)
    with pytest.raises(BindingError, match=f"'{layer}' is frozen, but the .* procedure trains it"):
        Trainer(project).prepare()
