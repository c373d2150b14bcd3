"""Transfer learning end to end: a model imported with its weights (``neuralcanvas import
--weights``), its first layer frozen, its classifier head replaced, fine-tuned on a dataset;
the run starts from the imported weights (the report names what it loaded and what not),
keeps the frozen layer's, and the exported script does the same."""

from __future__ import annotations

import textwrap

import torch

from builder import CATALOG
from builder.export.script import export_script
from builder.training.records import EpochRecord
from builder.training.trainer import Trainer
from graph import project_file
from widgets.cli import main

MODEL = """
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(7)  # "pretrained": weights the project must start from
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(torch.relu(self.fc1(x)))
"""


def test_import_with_weights_freeze_and_fine_tune(tmp_path, capsys):
    source = tmp_path / "models.py"
    source.write_text(textwrap.dedent(MODEL), encoding="utf-8")
    out = tmp_path / "net.json"
    assert main(["import", f"{source}:Net", "-o", str(out), "--input-shape", "4", "--weights"]) == 0
    assert "net.weights.pt (4 tensors, named for the project)" in capsys.readouterr().out
    saved = torch.load(tmp_path / "net.weights.pt", weights_only=True)
    project = project_file.load(out, CATALOG)
    assert project.training["initial_weights"] == "net.weights.pt"
    net = project.network()
    net.set_trainable(net.find("fc1"), False)
    # a new classifier head: fc2 replaced by a fresh Linear (its name is new, so the file's
    # fc2 tensors are reported unused and the head starts from its initialiser)
    (into,) = net.in_edges(net.find("fc2"))
    (out_edge,) = net.out_edges(net.find("fc2"))
    net.remove_node(net.find("fc2"))
    head = net.add_node("Linear", "head", {"out_features": 3})
    net.connect(into.src, head, into.src_port, "in")
    net.connect(head, out_edge.dst, "out", out_edge.dst_port)
    project.training.update(
        epochs=2, dataset={"name": "iris", "normalise": "zscore", "validation": 0.2}
    )
    trainer = Trainer(project, base_dir=tmp_path)
    trainer.prepare()
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    assert all(torch.equal(start[k], saved[k]) for k in ("fc1.weight", "fc1.bias"))
    note = " ".join(trainer.notes)
    assert "fc2.weight" in note and "head.weight" in note, note  # unused, and kept
    records = trainer.run()
    assert trainer.state == "finished", records[-1]
    assert any(isinstance(r, EpochRecord) for r in records)
    after = trainer.model.state_dict()
    assert torch.equal(after["fc1.weight"], saved["fc1.weight"])  # frozen: kept
    assert not torch.equal(after["head.weight"], start["head.weight"])  # fine-tuned
    script = export_script(project)
    source = script if isinstance(script, str) else getattr(script, "source", str(script))
    assert "net.weights.pt" in source and "requires_grad_(False)" in source
