"""Every built-in example loads, validates, compiles and runs."""

from __future__ import annotations

import json

import pytest
import torch

import assets
from builder import CATALOG, compile_network, example_inputs
from builder.summary import summarize
from builder.training.procedures import DEFAULT, procedure  # noqa: E402
from graph.project_file import load, to_dict

EXAMPLES = assets.example_paths()
REQUIRED = {"xor_mlp", "digits_cnn", "resnet_blocks", "lstm_classifier"}


def test_required_examples_exist():
    assert REQUIRED <= {p.stem for p in EXAMPLES}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads_validates_and_compiles(path):
    project = load(path, CATALOG)
    assert project.name and project.description
    training = project.training
    spec = procedure(training.get("procedure", DEFAULT))
    # a procedure whose roles have optimisers of their own names them (training.optimizers);
    # a learning rule (a SOM's) has none
    own = all(role.optimizer is not None for role in spec.roles)
    optimised = any(role.optimised for role in spec.roles)
    optimizer = ("optimizers" if own else "optimizer",) * optimised
    keys = ("dataset", *optimizer, "epochs", "batch_size", "seed") + ("loss",) * spec.uses_loss
    for key in keys:
        assert key in training, key
    if not optimised:
        assert "optimizer" not in training and "optimizers" not in training
    # the file is what saving the loaded project writes, except for parameters the catalog
    # gained since (they load with their defaults)
    saved, written = to_dict(project), json.loads(path.read_text(encoding="utf-8"))
    for net_doc, file_doc in zip(saved["models"].values(), written["models"].values()):
        for node, file_node in zip(net_doc["nodes"], file_doc["nodes"]):
            node["params"] = {k: v for k, v in node["params"].items() if k in file_node["params"]}
    assert saved == written
    for net in project.networks.values():
        summary = summarize(net)
        assert summary["valid"], summary["problems"]
        assert all(n["status"] == "ok" for n in summary["nodes"])
        assert all(n["used"] for n in summary["nodes"]), "every layer should feed an Output"
        positions = [net.pos_of(n) for n in net.nodes]
        assert len(set(positions)) == len(positions), "layers must not sit on each other"
        module = compile_network(net, seed=training["seed"])
        assert summary["totals"]["parameters"] == sum(p.numel() for p in module.parameters())
        module.eval()
        with torch.no_grad():
            out = module(*example_inputs(module, batch=3, net=net))
        outs = out if isinstance(out, tuple) else (out,)
        for tensor, port in zip(outs, module.meta["outputs"]):
            assert tuple(tensor.shape) == (3, *port.shape[1:])
