"""Frozen layers: training keeps their weights (compiled without gradients, out of the
optimiser and of the gradient health), the exported script freezes them too, the project
file keeps the flag, and a network with nothing left to train is refused with what to do."""

from __future__ import annotations

import json

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from builder.export.script import export_script
from builder.training.procedures import BindingError
from builder.training.records import StepRecord
from builder.training.trainer import Trainer
from graph import ProjectFileError
from graph import project_file as pf
from tests.builder.test_export import import_script


def xor(frozen: tuple[str, ...] = ("hidden",)):
    project = pf.load(assets.example("xor_mlp"), CATALOG)
    net = project.network()
    for name in frozen:
        net.set_trainable(net.find(name), False)
    project.training["epochs"] = 20
    return project


def test_training_keeps_a_frozen_layers_weights_and_moves_the_others():
    project = xor()
    start = compile_network(project.network(), seed=project.training["seed"]).state_dict()
    trainer = Trainer(project)
    records = trainer.run()
    assert trainer.state == "finished"
    end = trainer.final_state_dict()
    assert torch.equal(end["hidden.weight"], start["hidden.weight"])
    assert torch.equal(end["hidden.bias"], start["hidden.bias"])
    assert not torch.equal(end["logit.weight"], start["logit.weight"])
    # the gradient health watches the trainable layers only
    names = {
        name for r in records if isinstance(r, StepRecord) and r.health for name in dict(r.health)
    }
    assert names and "hidden" not in names and "logit" in names


def test_the_exported_script_freezes_the_same_layers(tmp_path):
    project = xor()
    code = export_script(project)
    assert "self.hidden.requires_grad_(False)  # frozen: training keeps it" in code
    module = import_script(code, tmp_path)
    model = next(
        v for k, v in vars(module).items() if isinstance(v, type) and hasattr(v, "OUTPUTS")
    )()
    assert not any(p.requires_grad for p in model.hidden.parameters())
    assert all(p.requires_grad for p in model.logit.parameters())


def test_the_flag_is_saved_only_for_frozen_layers_and_checked_on_load(tmp_path):
    project = xor()
    nodes = pf.to_dict(project)["models"]["main"]["nodes"]
    assert [n.get("trainable") for n in nodes if n["name"] in ("hidden", "logit")] == [False, None]
    path = tmp_path / "p.json"
    pf.save(project, path)
    again = pf.load(path, CATALOG).network()
    assert not again.trainable_of(again.find("hidden")) and again.trainable_of(again.find("logit"))
    data = json.loads(path.read_text())
    data["models"]["main"]["nodes"][1]["trainable"] = "no"
    with pytest.raises(ProjectFileError, match=r"nodes\[1\]\.trainable"):
        pf.loads(json.dumps(data), CATALOG)


def test_a_network_with_every_layer_frozen_is_refused():
    project = xor(("hidden", "logit"))
    with pytest.raises(
        BindingError, match="Every layer of network 'main' is frozen.*make a layer trainable"
    ):
        Trainer(project).prepare()
