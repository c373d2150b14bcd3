"""A SOM's exported script trains the app's map (the same schedule and seed: the same step
losses, QE and TE per epoch and codebook on the CPU), prints QE and TE every epoch and, after
training, saves the codebook, the hit map and the U-matrix as .npy files beside the weights
(the U-matrix the app's view shows), and PNGs of them only when matplotlib is installed."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import assets
from builder import CATALOG
from builder.export.script import export
from builder.training.config import parse_training
from builder.training.probes import ViewContext
from builder.training.probes import som as som_probes
from builder.training.records import EpochRecord, StepRecord
from builder.training.trainer import Trainer
from graph.project_file import load

OUTPUTS = ("codebook.npy", "hits.npy", "umatrix.npy")
PICTURES = ("umatrix.png", "hits.png")
# Shortened runs: colours (rectangular 20 x 20) and iris (hexagonal), 2 epochs each.
CASES = {
    "som_colors": {"epochs": 2, "batch_size": 32, "samples": 300},
    "som_iris": {"epochs": 2},
}


def short_project(example: str) -> Any:
    project = load(assets.example(example), CATALOG)
    options = CASES[example]
    training = {**project.training, "epochs": options["epochs"], "device": "cpu"}
    if "batch_size" in options:
        training["batch_size"] = options["batch_size"]
    dataset = dict(training["dataset"])
    if "samples" in options:
        dataset["samples"] = options["samples"]
    training["dataset"] = dataset
    project.training = training
    return project


def import_script(code: str, folder: Path) -> Any:
    name = f"exported_{uuid.uuid4().hex}"
    path = folder / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def app_run(project: Any) -> tuple[Trainer, list[float], list[EpochRecord]]:
    config = replace(parse_training(project.training), device="cpu")
    trainer = Trainer(project, config=config)
    records = trainer.run()
    assert trainer.state == "finished", trainer.state
    steps = [loss for r in records if isinstance(r, StepRecord) for loss in r.losses]
    return trainer, steps, [r for r in records if isinstance(r, EpochRecord)]


def run_script(project: Any, folder: Path, capsys: Any) -> tuple[Any, Path, str, dict]:
    result = export(project)
    assert result.trainable, result.note
    module = import_script(result.code, folder)
    out, log_path = folder / "run", folder / "log.json"
    epochs = str(project.training["epochs"])
    args = ["--epochs", epochs, "--device", "cpu", "--out", str(out), "--log-json", str(log_path)]
    capsys.readouterr()
    assert module.main(args) == 0
    printed = capsys.readouterr().out
    return module, out, printed, json.loads(log_path.read_text())


@pytest.mark.parametrize("example", sorted(CASES))
def test_the_script_reproduces_the_apps_map_and_saves_it(example, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # absent: no PNG, nothing fails
    project = short_project(example)
    trainer, app_steps, app_epochs = app_run(project)
    module, out, printed, log = run_script(project, tmp_path, capsys)
    # the same updates: every step's loss (the batch's QE), QE and TE every epoch, printed
    assert log["outcome"] == "finished"
    assert len(log["steps"]) == len(app_steps) > 0
    assert np.allclose(log["steps"], app_steps, atol=1e-6, rtol=0)
    assert len(log["epochs"]) == len(app_epochs) == project.training["epochs"]
    for mine, record in zip(log["epochs"], app_epochs):
        for key in ("qe", "te"):
            assert math.isclose(mine[key], record.metrics[key], abs_tol=1e-6), key
        assert math.isclose(mine["lr"], record.lr, rel_tol=1e-12)
    lines = re.findall(r"^epoch (\d+)/(\d+): .*\bqe ([\d.e+-]+), te ([\d.e+-]+)$", printed, re.M)
    assert [int(e) for e, *_ in lines] == [1, 2]
    for (_, _, qe, te), mine in zip(lines, log["epochs"]):
        assert float(qe) == pytest.approx(mine["qe"], rel=1e-3)
        assert float(te) == pytest.approx(mine["te"], rel=1e-3, abs=1e-12)
    # the same codebook
    state = trainer.kernel_state
    som = state["som"]
    weights = torch.load(out / "weights.pt", weights_only=True)
    final = trainer.final_state_dict()
    assert list(weights) == list(final)
    for key in final:
        assert torch.allclose(weights[key], final[key], atol=1e-6), key
    shape = (som.rows, som.cols)
    assert (som.topology == "hexagonal") == (example == "som_iris")
    codebook = np.load(out / "codebook.npy")
    assert codebook.shape == (*shape, som.features)
    assert np.allclose(codebook, state["weight"].reshape(*shape, -1).numpy(), atol=1e-6, rtol=0)
    # the hit map: every training row won by its unit (the app's hit map on all of them)
    hits = np.load(out / "hits.npy")
    rows = trainer.train_x.shape[0]
    assert hits.shape == shape and hits.dtype.kind == "i"
    assert int(hits.sum()) == rows == module.load_splits(torch.device("cpu"))["train"][0].shape[0]
    ctx = ViewContext(kernel=trainer.kernel, state=state, x=trainer.train_x, y=None, image=False)
    assert np.array_equal(hits.reshape(-1), som_probes.hits(ctx)["values"])
    # the U-matrix: the app's view's values
    umatrix = np.load(out / "umatrix.npy")
    assert umatrix.shape == shape
    view = som_probes.umatrix(ctx)["values"]
    assert np.allclose(umatrix.reshape(-1), view, atol=1e-6, rtol=0)
    assert np.all(umatrix > 0)
    # written as said, and no PNG without matplotlib
    assert f"Wrote {', '.join(OUTPUTS)} in {out}" in printed
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, "weights.pt"])
