"""The trainer refuses bad projects before training starts, with a clear message: from
:meth:`Trainer.prepare` as an exception, from :meth:`Trainer.start` as an ErrorRecord (and the
worker thread ends)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import torch

import assets
from builder import CATALOG
from builder.data import DatasetError
from builder.training.checkpoint import CheckpointError
from builder.training.config import ConfigError
from builder.training.objectives import TargetError
from builder.training.records import ErrorRecord
from builder.training.trainer import Trainer, TrainingError
from graph import Project
from graph.errors import NeuralCanvasError
from graph.project_file import from_dict

CUDA = torch.cuda.is_available()


def xor_doc() -> dict:
    return json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))


def project_of(doc: dict) -> Project:
    return from_dict(doc, CATALOG, "<test>")


def with_csv(tmp_path: Path, csv_name: str, text: str | None) -> Project:
    if text is not None:
        (tmp_path / csv_name).write_text(text, encoding="utf-8")
    doc = xor_doc()
    doc["training"]["dataset"] = {"name": "csv", "path": csv_name, "validation": 0}
    return project_of(doc)


def sine_with_cross_entropy(tmp_path: Path) -> Project:
    doc = xor_doc()
    doc["models"]["main"]["nodes"][0]["params"]["shape"] = [1]
    doc["training"].update(dataset={"name": "sine"}, loss="cross_entropy")
    return project_of(doc)


def wide_input(tmp_path: Path) -> Project:
    doc = xor_doc()
    doc["models"]["main"]["nodes"][0]["params"]["shape"] = [3]
    return project_of(doc)


# case: (project maker, Trainer keyword arguments, error type, texts of the message)
CASES = {
    "missing csv": (
        lambda tmp: with_csv(tmp, "no_such.csv", None),
        {},
        DatasetError,
        ["training.dataset.path", "no_such.csv", "not found"],
    ),
    "non-numeric csv": (
        lambda tmp: with_csv(tmp, "text.csv", "a,b,label\n1,2,0\n3,x,1\n5,6,0\n7,8,1\n"),
        {},
        DatasetError,
        ["text.csv", "column 'b' is not numeric", "'x'", "line 3"],
    ),
    "nan in csv": (
        lambda tmp: with_csv(tmp, "nan.csv", "a,b,label\n1,2,0\n3,nan,1\n5,6,0\n7,8,1\n"),
        {},
        DatasetError,
        ["nan.csv", "column 'b'", "NaN", "line 3"],
    ),
    "cross_entropy on regression": (
        sine_with_cross_entropy,
        {},
        TargetError,
        ["cross_entropy needs class labels", "'sine'", "use mse or l1"],
    ),
    "input shape": (
        wide_input,
        {},
        TrainingError,
        ["Input 'inputs'", "(N, 3)", "'xor'", "set the Input's shape to [2]"],
    ),
    "missing checkpoint": (
        lambda tmp: project_of(xor_doc()),
        {"resume": "gone.pt"},
        CheckpointError,
        ["gone.pt", "does not exist"],
    ),
}
if not CUDA:
    CASES["cuda without a GPU"] = (
        lambda tmp: project_of(xor_doc()),
        {"device": "cuda"},
        TrainingError,
        ["CUDA was chosen", "no CUDA GPU", "choose cpu or auto"],
    )
NAMES = [name for name in CASES if name != "cuda without a GPU"]


def trainer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "neuralcanvas-trainer"]


def check_message(message: str, texts: list[str]) -> None:
    for text in texts:
        assert text in message, f"{text!r} not in {message!r}"
    assert "Traceback" not in message


def refuse_in_prepare(case: str, tmp_path: Path) -> None:
    make, kwargs, error, texts = CASES[case]
    trainer = Trainer(make(tmp_path), base_dir=tmp_path, **kwargs)
    with pytest.raises(error) as info:
        trainer.prepare()
    assert isinstance(info.value, NeuralCanvasError)
    check_message(str(info.value), texts)
    # refused before any training: no step, no record, no thread
    assert trainer.state == "idle" and trainer.step == 0 and trainer.epoch == 0
    assert trainer.poll() == [] and len(trainer.history) == 0
    assert not trainer.alive and trainer_threads() == []


def refuse_in_start(case: str, tmp_path: Path) -> None:
    make, kwargs, error, texts = CASES[case]
    trainer = Trainer(make(tmp_path), base_dir=tmp_path, **kwargs)
    trainer.start()
    try:
        got = list(trainer.records(timeout=30))
    finally:
        trainer.stop()
        assert trainer.join(5)
    assert len(got) == 1 and isinstance(got[0], ErrorRecord), got  # never "running"
    record = got[0]
    check_message(record.message, texts)
    assert (record.epoch, record.step, record.diverged) == (0, 0, False)
    assert trainer.state == "error" and trainer.step == 0
    assert trainer.poll() == []  # records() consumed the only one
    assert list(trainer.history.events) == [record]
    assert not trainer.alive and trainer_threads() == []


@pytest.mark.parametrize("case", NAMES)
def test_prepare_refuses(case, tmp_path):
    refuse_in_prepare(case, tmp_path)


@pytest.mark.parametrize("case", NAMES)
def test_start_reports_the_refusal_as_an_error_record(case, tmp_path):
    refuse_in_start(case, tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_prepare_refuses_cuda_without_a_gpu(tmp_path):
    refuse_in_prepare("cuda without a GPU", tmp_path)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_start_reports_cuda_without_a_gpu(tmp_path):
    refuse_in_start("cuda without a GPU", tmp_path)


def test_poll_delivers_the_error_record(tmp_path):
    trainer = Trainer(wide_input(tmp_path))
    trainer.start()
    assert trainer.join(5)
    records = trainer.poll()
    assert [type(r) for r in records] == [ErrorRecord]
    check_message(records[0].message, ["Input 'inputs'", "[2]"])
    assert trainer.poll() == []


def test_an_invalid_training_section_is_refused_naming_each_field():
    doc = xor_doc()
    doc["training"]["optimizer"] = {"name": "adam", "lr": 0.1, "momentum": 2}
    doc["training"]["clip"] = {"mode": "norm", "max": 0}
    doc["training"]["early_stopping"] = {"patience": 3, "min_dleta": 0.1}
    project = project_of(doc)
    # The configuration is read when the trainer is made, so no thread can start.
    with pytest.raises(ConfigError) as info:
        Trainer(project).prepare()
    message = str(info.value)
    check_message(
        message,
        [
            "Invalid training settings",
            "training.optimizer.momentum: expected a number >= 0 and <= 1, got 2",
            "training.clip.max: expected a number > 0, got 0",
            "training.early_stopping.min_dleta: unknown setting",
        ],
    )
    assert len(info.value.problems) == 3
    assert trainer_threads() == []


def test_a_negative_learning_rate_is_refused_naming_the_field():
    project = project_of(xor_doc())
    project.training["optimizer"] = {"name": "adam", "lr": -1}  # an edit in the app
    with pytest.raises(NeuralCanvasError) as info:
        Trainer(project).prepare()
    assert "training.optimizer.lr" in str(info.value) and "-1" in str(info.value)
    assert trainer_threads() == []


def test_a_bad_setting_of_an_in_memory_project_does_not_mention_a_file():
    project = project_of(xor_doc())
    project.training["optimizer"] = {"name": "adam", "lr": -1}
    with pytest.raises(NeuralCanvasError) as info:
        Trainer(project).prepare()
    assert "<snapshot>" not in str(info.value)
    assert "Cannot open" not in str(info.value)
    assert "training.optimizer.lr: expected a number > 0, got -1" in str(info.value)
