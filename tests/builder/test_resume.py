"""A resume checks what it resumes: crafted checkpoints are refused naming the entry, another
optimiser or schedule is refused, changed hyperparameters are applied and reported."""

from __future__ import annotations

import math

import pytest
import torch

import assets
from builder import CATALOG
from builder.training.checkpoint import CheckpointError
from builder.training.trainer import Trainer
from graph.project_file import load


def xor(**optimizer):
    project = load(assets.example("xor_mlp"), CATALOG)
    project.training["epochs"] = 3
    project.training["optimizer"] = {**project.training["optimizer"], **optimizer}
    return project


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A genuine checkpoint of XOR after 3 epochs, as plain data."""
    trainer = Trainer(xor(), device="cpu")
    trainer.run()
    path = tmp_path_factory.mktemp("ckpt") / "checkpoint.pt"
    trainer.save_checkpoint(path)
    return torch.load(path, weights_only=True)


def resume_from(tmp_path, data, project=None) -> Trainer:
    path = tmp_path / "crafted.pt"
    torch.save(data, path)
    trainer = Trainer(project or xor(), device="cpu", resume=path)
    trainer.prepare()
    return trainer


def _weights_reshaped(d):
    models = {role: dict(w) for role, w in d["models"].items()}
    name = next(iter(models["model"]))
    models["model"][name] = torch.zeros(7, 7)
    return {**d, "models": models}


def _groups_doubled(d):
    opt = d["optimizers"]["model"]
    return {**d, "optimizers": {"model": {**opt, "param_groups": opt["param_groups"] * 2}}}


CRAFTED = {
    "no epoch": (lambda d: {k: v for k, v in d.items() if k != "epoch"}, "has no 'epoch' entry"),
    "negative epoch": (lambda d: {**d, "epoch": -3}, "'epoch' should be a whole number"),
    "absurd epoch": (lambda d: {**d, "epoch": 10**30, "step": 10**30}, "not 10000000000000"),
    "epoch as text": (lambda d: {**d, "epoch": "3"}, "not '3'"),
    "epoch as bool": (lambda d: {**d, "epoch": True}, "'epoch' should be"),
    "step before epoch": (lambda d: {**d, "step": 1}, "step 1 comes before the end of epoch 3"),
    "another network": (lambda d: {**d, "network": "other"}, "made for network 'other'"),
    "models a list": (lambda d: {**d, "models": [1, 2]}, "'models' should be each role's weights"),
    "weights of another shape": (_weights_reshaped, "made for a different network"),
    "no optimizers": (
        lambda d: {k: v for k, v in d.items() if k != "optimizers"},
        "has no 'optimizers' entry",
    ),
    "optimizer state text": (
        lambda d: {**d, "optimizers": {"model": {"state": "x", "param_groups": []}}},
        "'optimizers' should be each role's optimiser state",
    ),
    "param groups that do not fit": (_groups_doubled, "does not fit this run"),
    "short generator state": (
        lambda d: {**d, "shuffle_rng": torch.zeros(10, dtype=torch.uint8)},
        "a random generator state does not fit",
    ),
    "float generator state": (
        lambda d: {**d, "torch_rng": torch.zeros(5056)},
        "'torch_rng' should be a random generator state",
    ),
    "best loss as text": (lambda d: {**d, "best_loss": "low"}, "'best_loss' should be a number"),
    "elapsed NaN": (lambda d: {**d, "elapsed": math.nan}, "'elapsed' should be a number"),
    "best epoch after epoch": (lambda d: {**d, "best_epoch": 9}, "best epoch 9 is after"),
    "best weights a list": (lambda d: {**d, "best_state": [0]}, "'best_state' should be"),
    "settings a list": (lambda d: {**d, "settings": []}, "'settings' should be"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_a_crafted_checkpoint_is_refused_naming_what_is_wrong(tmp_path, saved, case):
    craft, expected = CRAFTED[case]
    with pytest.raises(CheckpointError) as caught:
        resume_from(tmp_path, craft(dict(saved)))
    message = str(caught.value)
    assert expected in message, message
    assert "crafted.pt" in message and len(message) < 400


def test_the_genuine_checkpoint_resumes(tmp_path, saved):
    trainer = resume_from(tmp_path, dict(saved))
    assert (trainer.epoch, trainer.step) == (3, 3) and trainer.resume_changes == []


def test_changed_hyperparameters_are_applied_and_reported(tmp_path, saved):
    trainer = resume_from(tmp_path, dict(saved), xor(lr=0.5, betas=[0.5, 0.9]))
    assert trainer.resume_changes == [
        "optimizer.lr 0.05 -> 0.5",
        "optimizer.betas (0.9, 0.999) -> (0.5, 0.9)",
    ]
    group = trainer.optimizer.param_groups[0]
    assert group["lr"] == pytest.approx(0.5) and group["betas"] == (0.5, 0.9)
    assert trainer.optimizer.state  # the moments carried over


@pytest.mark.parametrize("recorded", [True, False], ids=["settings recorded", "older checkpoint"])
def test_another_optimizer_is_refused(tmp_path, saved, recorded):
    data = dict(saved) if recorded else {k: v for k, v in saved.items() if k != "settings"}
    with pytest.raises(CheckpointError, match="set training.optimizer.name back"):
        resume_from(tmp_path, data, xor(name="sgd", momentum=0.9))


def test_another_schedule_is_refused(tmp_path, saved):
    project = xor()
    project.training["schedule"] = {"name": "step"}
    with pytest.raises(CheckpointError, match="was trained with the none schedule"):
        resume_from(tmp_path, dict(saved), project)
