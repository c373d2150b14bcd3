"""RBMs: the contrastive-divergence update and the pseudo-likelihood as scikit-learn's
BernoulliRBM computes them, learning on the digits, and bad input refused or warned about."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.neural_network import BernoulliRBM

import assets
from builder import CATALOG
from builder.training.kernels import rbm as kernel
from builder.training.procedures import BindingError
from builder.training.records import EpochRecord
from builder.training.trainer import Trainer
from graph import project_file


def example(**training):
    project = project_file.load(assets.example("rbm_digits"), CATALOG)
    settings = training.pop("settings", {})
    project.training.update(training)
    project.training["procedure_settings"].update(settings)
    return project


def prepared(**training):
    trainer = Trainer(example(**training))
    trainer.prepare()
    state = trainer.kernel_state
    x, y = trainer.kernel.prepare(state, trainer.train_x, trainer.train_y)
    return trainer, state, x, y


@pytest.mark.parametrize("persistent", [False, True])
def test_one_update_is_the_contrastive_divergence_formula(persistent):
    project = example(settings={"persistent": persistent, "learning_rate": 0.1})
    project.network().set_param(project.network().find("rbm"), "hidden", 2)  # 128 weights
    trainer = Trainer(project)
    trainer.prepare()
    state = trainer.kernel_state
    x, y = trainer.kernel.prepare(state, trainer.train_x, trainer.train_y)
    rbm = state["rbm"]
    kernel.train_step(state, x[:1], y[:1], 0)
    last = state["last"]
    w0, b0, c0 = last["before"]
    v, v_neg, h_pos, h_neg = (torch.as_tensor(last[k][0]) for k in ("v", "v_neg", "h_pos", "h_neg"))
    assert torch.allclose(h_pos, torch.sigmoid(w0 @ v + c0))
    # scikit-learn's _fit on one row: components_ += lr·(h⁺ v⁺ᵀ − h⁻ v⁻ᵀ), and the biases
    assert torch.allclose(
        rbm.weight, w0 + 0.1 * (torch.outer(h_pos, v) - torch.outer(h_neg, v_neg)), atol=1e-7
    )
    assert torch.allclose(rbm.hidden_bias, c0 + 0.1 * (h_pos - h_neg), atol=1e-7)
    assert torch.allclose(rbm.visible_bias, b0 + 0.1 * (v - v_neg), atol=1e-7)
    if persistent:  # the chain started at h = 0, as scikit-learn's h_samples_ do
        assert not torch.as_tensor(last["h_start"]).any() and state["buffers"]["chains"].shape == (
            1,
            rbm.hidden,
        )


def test_the_pseudo_likelihood_and_free_energy_are_scikit_learns():
    _, state, x, _ = prepared()
    rbm = state["rbm"]
    with torch.no_grad():
        rbm.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(1))
        rbm.hidden_bias.uniform_(-1, 1)
    v = x[:50].double()
    theirs = BernoulliRBM(n_components=rbm.hidden)
    theirs.components_ = rbm.weight.detach().double().numpy()
    theirs.intercept_hidden_ = rbm.hidden_bias.detach().double().numpy()
    theirs.intercept_visible_ = rbm.visible_bias.detach().double().numpy()
    assert np.allclose(rbm.double().free_energy(v).detach().numpy(), theirs._free_energy(v.numpy()))
    # the same flips: scikit-learn's formula on the rows this kernel corrupts
    mine = kernel.pseudo_likelihood(rbm, v, seed=3)
    cols = torch.randint(0, v.shape[1], (v.shape[0],), generator=torch.Generator().manual_seed(3))
    flipped = v.clone().numpy()
    flipped[np.arange(len(flipped)), cols.numpy()] = (
        1 - flipped[np.arange(len(flipped)), cols.numpy()]
    )
    fe, fe_ = theirs._free_energy(v.numpy()), theirs._free_energy(flipped)
    expected = v.shape[1] * -np.logaddexp(0, -(fe_ - fe))
    assert np.allclose(mine.detach().numpy(), expected)


def test_training_on_the_digits_raises_the_pseudo_likelihood():
    records = Trainer(example(epochs=4)).run()
    epochs = [r for r in records if isinstance(r, EpochRecord)]
    first, last = dict(epochs[0].metrics), dict(epochs[-1].metrics)
    assert last["pseudo_likelihood"] > first["pseudo_likelihood"] > -40
    assert epochs[-1].train_loss < epochs[0].train_loss
    assert abs(last["free_energy_gap"]) < 5
    alarms = [a[0] for a in last.get("alarms") or ()]
    assert "binary" in alarms  # minmax digits are not 0/1: said, with what to do


def test_binarised_data_raises_no_warning_and_bad_data_is_refused():
    records = Trainer(example(epochs=1, settings={"binarise": "threshold"})).run()
    (epoch,) = [r for r in records if isinstance(r, EpochRecord)]
    assert not dict(epoch.metrics).get("alarms")
    project = example()
    project.training["dataset"]["normalise"] = "zscore"
    with pytest.raises(BindingError, match="probabilities in \\[0, 1\\].*normalise to minmax"):
        Trainer(project).prepare()
    project = example()
    net = project.network()
    relu = net.add_node("ReLU", "relu")
    (edge,) = net.in_edges(net.find("rbm"))
    net.disconnect(edge)
    net.connect(net.find("flatten"), relu)
    net.connect(relu, net.find("rbm"))
    with pytest.raises(BindingError, match="comes after ReLU 'relu'"):
        Trainer(project).prepare()


@pytest.mark.parametrize("persistent, k", [(False, 1), (True, 1), (False, 3)])
def test_the_cpu_path_makes_the_torch_paths_updates(persistent, k):
    """On the CPU the plain update runs in numpy; from the same uniform draws the torch
    operations (any device) make the same samples and the same weights."""
    results = []
    for path in (kernel._numpy_step, kernel._torch_step):
        _, state, x, _ = prepared(settings={"persistent": persistent, "k": k})
        for start in range(0, 50, 10):
            out = path(state, x[start : start + 10])
        rbm = state["rbm"]
        results.append(
            (rbm.weight.detach().clone(), rbm.hidden_bias.detach().clone(), float(out["loss"]))
        )
    (w1, c1, l1), (w2, c2, l2) = results
    assert torch.allclose(w1, w2, atol=1e-6) and torch.allclose(c1, c2, atol=1e-6)
    assert l1 == pytest.approx(l2, rel=1e-5)


def test_the_free_energy_gap_compares_alike_binarised_rows():
    trainer, state, _, _ = prepared(
        settings={"binarise": "threshold", "eval_rows": 0},  # every row on both sides
        dataset={"name": "digits", "normalise": "minmax", "validation": 0.0},
    )
    # the training rows themselves: no gap
    figures = kernel.evaluate(state, trainer.train_x, trainer.train_y)
    assert figures["free_energy_gap"] == pytest.approx(0.0, abs=1e-4)
