"""Starting a run from a weights file (training.initial_weights): tensors matched by name
with a report of what was loaded, kept and left out, each misfit named, pickles refused;
the exported script loads the same file; with a frozen layer, RBM features feed a
classifier."""

from __future__ import annotations

import pickle

import pytest
import torch

import assets
from builder import CATALOG, compile_network
from builder.export.script import export_script
from builder.training.config import ConfigError, parse_training
from builder.training.initial_weights import WeightsFileError, describe, load_weights
from builder.training.records import StatusRecord
from builder.training.trainer import Trainer, TrainingError
from graph import Project, project_file
from tests.builder.test_export import import_script


def classifier(tmp_path, hidden: int = 8) -> Project:
    """Input → Flatten → RBM (frozen) → Linear → Output on the digits, from rbm.pt."""
    project = Project(CATALOG, name="features")
    net = project.add_network("main")
    a = net.add_node("Input", "image", {"shape": [1, 8, 8]})
    f = net.add_node("Flatten", "flatten")
    r = net.add_node("RBM", "rbm", {"hidden": hidden}, trainable=False)
    c = net.add_node("Linear", "classifier", {"out_features": 10})
    o = net.add_node("Output", "digit")
    for u, v in ((a, f), (f, r), (r, c), (c, o)):
        net.connect(u, v)
    project.training = {
        "dataset": {"name": "digits", "normalise": "minmax", "validation": 0.2},
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 2,
        "batch_size": 64,
        "initial_weights": "rbm.pt",
    }
    return project


def rbm_file(tmp_path, hidden: int = 8) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(4)
    weights = {
        "rbm.weight": torch.randn(hidden, 64, generator=gen),
        "rbm.visible_bias": torch.randn(64, generator=gen),
        "rbm.hidden_bias": torch.randn(hidden, generator=gen),
        "other.weight": torch.ones(3),
    }
    torch.save(weights, tmp_path / "rbm.pt")
    return weights


def test_the_report_names_what_was_loaded_kept_and_left_out(tmp_path):
    weights = rbm_file(tmp_path)
    model = compile_network(classifier(tmp_path).network(), seed=0)
    report = load_weights(model, tmp_path / "rbm.pt")
    assert report == {
        "loaded": ["rbm.hidden_bias", "rbm.visible_bias", "rbm.weight"],
        "kept": ["classifier.bias", "classifier.weight"],
        "unused": ["other.weight"],
    }
    assert torch.equal(model.rbm.weight, weights["rbm.weight"])
    assert describe(report, "rbm.pt") == (
        "Loaded 3 of the network's 5 tensors from rbm.pt; kept their own values:"
        " classifier.bias, classifier.weight; not in the network, left out: other.weight"
    )


def test_misfits_pickles_and_missing_files_are_refused_with_what_to_do(tmp_path, capsys):
    model = compile_network(classifier(tmp_path).network(), seed=0)
    torch.save(
        {"rbm.weight": torch.zeros(3, 64), "rbm.hidden_bias": torch.zeros(2)}, tmp_path / "bad.pt"
    )
    with pytest.raises(
        WeightsFileError,
        match=r"2 tensor\(s\) do not fit.*rbm.weight: \[3, 64\] in the file, \[8, 64\]",
    ):
        load_weights(model, tmp_path / "bad.pt")

    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    (tmp_path / "evil.pt").write_bytes(pickle.dumps({"rbm.weight": Payload()}, protocol=2))
    with pytest.raises(WeightsFileError, match="NeuralCanvas reads tensors only|refused"):
        load_weights(model, tmp_path / "evil.pt")
    assert "this must never run" not in capsys.readouterr().out
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(WeightsFileError, match="not a state_dict"):
        load_weights(model, tmp_path / "list.pt")
    with pytest.raises(WeightsFileError, match="no such weights file"):
        load_weights(model, tmp_path / "nope.pt")
    with pytest.raises(ConfigError, match="training.initial_weights: expected the path"):
        parse_training({"initial_weights": 3})


def test_a_frozen_rbm_from_a_file_feeds_a_classifier_and_the_script_loads_it_too(tmp_path):
    weights = rbm_file(tmp_path)
    project = classifier(tmp_path)
    trainer = Trainer(project, base_dir=tmp_path)
    records = trainer.run()
    assert trainer.state == "finished", records[-1]
    running = next(r for r in records if isinstance(r, StatusRecord) and r.state == "running")
    assert running.message.startswith("Loaded 3 of the network's 5 tensors from rbm.pt")
    end = trainer.final_state_dict()
    assert torch.equal(end["rbm.weight"], weights["rbm.weight"])  # frozen: as loaded
    assert not torch.equal(
        end["classifier.weight"], compile_network(project.network(), seed=0).classifier.weight
    )
    code = export_script(project, base_dir=tmp_path)
    script = import_script(code, tmp_path)
    models = script.build_models(torch.device("cpu"))
    first = next(iter(models.values()))
    assert torch.equal(first.rbm.weight, weights["rbm.weight"])
    assert not first.rbm.weight.requires_grad
    with pytest.raises(TrainingError, match="no such weights file"):
        Trainer(project, base_dir=tmp_path / "elsewhere").prepare()


def test_a_som_starts_from_a_loaded_codebook_instead_of_its_weights_init(tmp_path):
    project = project_file.load(assets.example("som_colors"), CATALOG)
    codebook = torch.rand(400, 3, generator=torch.Generator().manual_seed(2))
    torch.save({"map.weight": codebook}, tmp_path / "codebook.pt")
    project.training.update(initial_weights="codebook.pt", epochs=1)
    project.training["procedure_settings"].update(learning_rate=0.0, learning_rate_end=0.0)
    trainer = Trainer(project, base_dir=tmp_path)
    trainer.run()
    assert trainer.kernel_settings["init"] == "keep"
    assert torch.equal(trainer.final_state_dict()["map.weight"], codebook)  # η = 0: as loaded
    code = export_script(project, base_dir=tmp_path)
    assert "'init': 'keep'" in code or '"init": "keep"' in code
