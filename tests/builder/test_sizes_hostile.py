"""Hostile sizes and misleading messages: Input shapes beyond the maxima, counts too large
to print, built-in datasets asked for billions of rows or astronomic noise, a checkpoint
path that is a folder, and labels that BCE cannot take under a network that is right."""

from __future__ import annotations

import json
import os

import pytest
import torch

import assets
from builder import CATALOG
from builder.data import DatasetError, load_dataset
from builder.errors import GraphInvalidError
from builder.shapes import MAX_SAMPLE_VALUES, check_compilable
from builder.summary import format_count, format_table, summarize
from builder.training.checkpoint import CheckpointError, load_checkpoint
from builder.training.objectives import TargetError, make_loss
from graph.errors import NeuralCanvasError
from graph.project_file import from_dict
from widgets.cli import main


def xor_doc(shape=None) -> dict:
    doc = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))
    if shape is not None:
        doc["models"]["main"]["nodes"][0]["params"]["shape"] = shape
    return doc


def test_an_input_dim_above_the_maximum_is_refused_at_load_with_its_place():
    with pytest.raises(NeuralCanvasError) as err:
        from_dict(xor_doc([2**40]), CATALOG, "<test>")
    assert "models.main.nodes[0].params.shape: expected an integer <= 1e+09" in str(err.value)


@pytest.mark.parametrize(
    "shape", [[2**20, 2**20, 2**20], [1_000_000_000, 1_000_000_000], [50_000, 50_000]]
)
def test_an_input_of_too_many_values_per_sample_is_a_shape_error(shape):
    net = from_dict(xor_doc(shape), CATALOG, "<test>").network()
    summary = summarize(net)
    inputs = summary["nodes"][0]
    assert inputs["status"] == "error" and inputs["parameters"] == 0
    values = 1
    for d in shape:
        values *= d
    assert inputs["message"] == (
        f"Input 'inputs' gives (N, {', '.join(map(str, shape))}): {values:,} values per"
        f" sample, more than the {MAX_SAMPLE_VALUES:,} one sample may hold: set a smaller"
        " shape (the dataset's samples decide it)"
    )
    assert [n["status"] for n in summary["nodes"][1:]] == ["blocked"] * 5
    assert "Problems:" in format_table(summary)  # printed, with no count to overflow
    with pytest.raises(GraphInvalidError, match="values per sample"):
        check_compilable(net)


def test_the_largest_input_allowed_still_counts_and_prints():
    # 2e9 values per sample, under 2**31 - 1; the Linear applies on each of the 2 rows
    net = from_dict(xor_doc([2, 1_000_000_000]), CATALOG, "<test>").network()
    summary = summarize(net)
    assert summary["valid"]
    # hidden: 4 weights per input value and 4 biases; logit: 4 weights and a bias
    assert summary["totals"]["parameters"] == 4_000_000_000 + 4 + 4 + 1
    assert "Total: 4,000,000,009 parameters" in format_table(summary)


@pytest.mark.parametrize(
    "n, text",
    [
        (12345, "12,345"),
        (10**24 - 1, "999,999,999,999,999,999,999,999"),
        (10**24, "1.00e+24"),
        (-(123 * 10**40), "-1.23e+42"),
        (999 * 10**300, "9.99e+302"),
        (10**400, "1.00e+400"),  # beyond a float
        (7 * 10**5000, "7.00e+5000"),  # beyond the digits Python prints
    ],
    ids=lambda v: v if isinstance(v, str) else "n",
)
def test_format_count_prints_any_integer(n, text):
    assert format_count(n) == text


@pytest.mark.parametrize(
    "spec, expected",
    [
        ({"name": "moons", "samples": 10**9}, "samples: expected an integer from 2 to 10000000"),
        ({"name": "moons", "noise": 1e308}, "noise: expected a number >= 0 and <= 100, got 1e+308"),
        ({"name": "circles", "noise": float("inf")}, "noise: expected a number >= 0 and <= 100"),
        ({"name": "blobs", "std": 1e300}, "std: expected a number > 0 and <= 100"),
        ({"name": "blobs", "classes": 10**6}, "classes: expected an integer from 2 to 1000"),
        ({"name": "xor", "repeat": 10**8}, "repeat: expected an integer from 1 to 2500000"),
        ({"name": "sine_sequences", "steps": 10**6}, "steps: expected an integer from 2 to 10000"),
        ({"name": "token_sequences", "vocab": 10**30}, "vocab: expected an integer from 4 to"),
        (
            {"name": "sine_forecast", "samples": 10**7, "steps": 100},
            "'sine_forecast' with these options makes 10,000,000 rows of 102 values"
            " (1,020,000,000 values), more than the 200,000,000 a generated dataset may hold:"
            " lower samples or steps",
        ),
    ],
    ids=lambda v: v["name"] if isinstance(v, dict) else "",
)
def test_generated_datasets_have_bounded_options(spec, expected):
    with pytest.raises(DatasetError) as err:
        load_dataset(spec)
    assert "training.dataset" in str(err.value) and expected in str(err.value)


def test_noise_at_its_maximum_gives_finite_points():
    ds = load_dataset({"name": "moons", "samples": 50, "noise": 100})
    assert torch.isfinite(ds.x).all()


def test_a_checkpoint_path_that_is_a_folder_is_called_a_folder(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path)
    assert str(err.value) == (
        f"Cannot resume: {tmp_path} is a folder, not a checkpoint file: choose the"
        " checkpoint.pt inside it (a run folder holds its run's checkpoint.pt)"
    )
    with pytest.raises(CheckpointError, match="gone.pt does not exist"):
        load_checkpoint(tmp_path / "gone.pt")
    with pytest.raises(CheckpointError, match=r"cannot be read \(File name too long\)"):
        load_checkpoint(tmp_path / ("x" * 5000))
    if os.path.exists("/dev/null"):
        with pytest.raises(CheckpointError, match="/dev/null is not a regular file"):
            load_checkpoint("/dev/null")


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda run: run.mkdir(), "is a folder with no checkpoint.pt:"),
        (lambda run: (run / "checkpoint.pt").mkdir(parents=True), "whose checkpoint.pt is not"),
    ],
    ids=["empty folder", "checkpoint.pt a folder"],
)
def test_resume_from_a_folder_without_a_checkpoint_says_what_a_folder_must_hold(
    tmp_path, capsys, make, said
):
    project = tmp_path / "xor.json"
    project.write_text(json.dumps(xor_doc()), encoding="utf-8")
    run = tmp_path / "run"
    make(run)
    assert main(["train", str(project), "--quiet", "--resume", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"--resume {run} {said}" in err or f"--resume {run} is a folder {said}" in err
    assert "must be a run folder holding its run's checkpoint.pt" in err
    assert "does not exist" not in err and "Traceback" not in err


REG = "regression"


@pytest.mark.parametrize(
    "name, last, said",
    [
        ("bce", "Sigmoid", "the network's Sigmoid output is fine, the targets are not"),
        ("bce_with_logits", "Linear", "the network's scores are fine, the targets are not"),
    ],
)
def test_bce_labels_outside_0_1_are_blamed_not_the_sigmoid(name, last, said):
    targets = torch.tensor([[0.0], [0.5], [1.5], [1.0]])
    with pytest.raises(TargetError) as err:
        make_loss(name, (1,), REG, None, (1,), torch.float32, dataset="labels", last_layer=last,
                  targets=targets)  # fmt: skip
    text = str(err.value)
    assert "dataset 'labels' has targets from 0 to 1.5 (row 2 holds 1.5)" in text
    assert said in text and "scale the targets into [0, 1], or use mse or l1" in text
    assert "add a Sigmoid" not in text


def test_fractional_labels_in_0_1_are_fine_for_bce():
    targets = torch.tensor([[0.0], [0.25], [0.5], [1.0]])
    obj = make_loss("bce", (1,), REG, None, (1,), torch.float32, last_layer="Sigmoid",
                    targets=targets)  # fmt: skip
    assert obj.loss(torch.full((4, 1), 0.5), targets).item() == pytest.approx(0.6931, abs=1e-4)
