"""RBF networks: the textbook's XOR network worked number for number in the Step tab's data,
the two-stage method (k-means, widths, least squares) against the pseudo-inverse computed
here, end-to-end backprop through RBF units, and bad networks refused with what to do."""

from __future__ import annotations

import pytest
import torch

import assets
from builder import CATALOG
from builder.training.kernels import rbf as kernel_module
from builder.training.probes import ViewContext
from builder.training.probes import rbf as probes
from builder.training.procedures import BindingError
from builder.training.records import EpochRecord, StatusRecord
from builder.training.trainer import Trainer
from graph import project_file

XOR = [  # x, squared distances to the four corners, h, y, class, predicted
    ["[0, 0]", "[0, 1, 1, 2]", "[1, 0.6065, 0.6065, 0.3679]", "-0.0025", "0", "0"],
    ["[0, 1]", "[1, 0, 2, 1]", "[0.6065, 1, 0.3679, 0.6065]", "0.2606", "1", "1"],
    ["[1, 0]", "[1, 2, 0, 1]", "[0.6065, 0.3679, 1, 0.6065]", "0.2606", "1", "1"],
    ["[1, 1]", "[2, 1, 1, 0]", "[0.3679, 0.6065, 0.6065, 1]", "-0.0025", "0", "0"],
]


def example(**settings):
    project = project_file.load(assets.example("rbf_xor"), CATALOG)
    project.training["procedure_settings"].update(settings)
    return project


def test_the_xor_network_is_worked_number_for_number():
    trainer = Trainer(example())
    trainer.prepare()
    state, kernel = trainer.kernel_state, trainer.kernel
    x, t = kernel.prepare(state, trainer.train_x, trainer.train_y)
    kernel.train_step(state, x, t, 0)
    payload = probes.arithmetic(ViewContext(kernel, state, trainer.train_x, None, image=False))
    assert payload["columns"] == ["x", "‖x − c‖²", "h", "y", "class", "predicted"]
    assert payload["cells"] == XOR and payload["highlight"] == []
    assert payload["lines"][1] == "widths: 2σ² = 2, 2σ² = 2, 2σ² = 2, 2σ² = 2"
    assert payload["lines"][3] == "output weights w = [-0.8, 0.9, 0.9, -0.8]"
    assert payload["lines"][4] == "class 1 when y > 0"


def run(project):
    records = Trainer(project).run()
    end = [r for r in records if isinstance(r, StatusRecord) and r.state == "finished"]
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    return end[0].message, epochs[-1]


def test_the_two_stages_place_the_centres_and_solve_the_output_by_the_pseudo_inverse():
    project = example(centres="kmeans", widths="nearest", output="least_squares", threshold=0.5)
    net = project.network()
    for node in net.nodes:
        net.set_weights(node, None)
    net.set_param(net.find("gaussians"), "units", 12)
    net.set_param(net.find("output"), "bias", True)
    project.training.update(dataset={"name": "moons", "validation": 0.2}, batch_size=64, epochs=3)
    trainer = Trainer(project)
    records = trainer.run()
    (end,) = [r for r in records if isinstance(r, StatusRecord) and r.state == "finished"]
    assert end.message.startswith("Solved in the first step: 12 centres by k-means, widths by")
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert dict(epochs[-1].metrics)["accuracy"] >= 0.95
    assert epochs[0].train_loss == epochs[-1].train_loss  # solved in the first step
    # the output layer is the least-squares solution over the training split's RBF outputs
    state = trainer.kernel_state
    x, t = state["train"]
    with torch.no_grad():
        h = state["rbf"](x).double()
    h1 = torch.cat([h, torch.ones(len(h), 1, dtype=h.dtype)], 1)
    solution = torch.linalg.lstsq(h1, t.double()).solution
    mine = torch.cat([state["linear"].weight.double().T, state["linear"].bias.double()[None]])
    assert torch.allclose(mine, solution, atol=1e-4)
    # every centre is the mean of the training inputs nearest to it (k-means converged)
    c = state["rbf"].centres.detach()
    nearest = (x[:, None] - c[None]).square().sum(-1).argmin(1)
    for j in range(len(c)):
        assert torch.allclose(c[j], x[nearest == j].mean(0), atol=1e-5)


def test_kmeans_and_the_width_rules():
    x = torch.tensor([[0.0, 0], [0, 1], [10, 10], [10, 11]])
    centres = kernel_module.kmeans(x, 2, seed=0, iterations=10)
    assert sorted(centres.tolist()) == [[0.0, 0.5], [10.0, 10.5]]
    nearest = kernel_module.widths(centres, "nearest", 1.0)
    assert nearest.tolist() == pytest.approx([200**0.5] * 2)
    spread = kernel_module.widths(centres, "spread", 0.5)
    assert spread.tolist() == pytest.approx([0.5 * 200**0.5 / 2] * 2)


def test_backprop_trains_an_rbf_network_end_to_end():
    project = example()
    project.training.update(
        procedure="supervised", loss="mse", optimizer={"name": "adam", "lr": 0.05}, epochs=200
    )
    project.training.pop("procedure_settings")
    net = project.network()
    net.set_weights(net.find("gaussians"), None)  # random centres: the gradient moves them
    trainer = Trainer(project)
    records = trainer.run()
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss
    moved = trainer.models["model"].get_submodule("gaussians").centres
    assert moved.requires_grad


def test_more_centres_than_samples_and_other_networks_are_refused():
    project = example(centres="kmeans")
    net = project.network()
    net.set_weights(net.find("gaussians"), None)
    net.set_weights(net.find("output"), None)
    net.set_param(net.find("gaussians"), "units", 5)
    with pytest.raises(BindingError, match="5 centres but the training split has 4 samples"):
        Trainer(project).prepare()
    project = example()
    net = project.network()
    net.set_weights(net.find("output"), None)
    net.set_param(net.find("output"), "out_features", 3)
    with pytest.raises(BindingError, match="3 outputs but dataset 'xor' has 2 classes"):
        Trainer(project).prepare()
    project = example()
    net = project.network()
    relu = net.add_node("ReLU", "relu")
    (edge,) = net.in_edges(net.find("y"))
    net.disconnect(edge)
    net.connect(net.find("output"), relu)
    net.connect(relu, net.find("y"))
    with pytest.raises(BindingError, match="is Input → RBF → Linear → ReLU → Output"):
        Trainer(project).prepare()
