"""A run's memory is estimated from shape inference and refused before anything big is
allocated: the Input is checked against the data, then the estimate against the machine's
free memory (replaced here by a fixed figure), before the network is compiled."""

from __future__ import annotations

import json

import pytest

import assets
from builder import CATALOG, budget
from builder.shapes import check_compilable
from builder.training import trainer as trainer_module
from builder.training.config import parse_training
from builder.training.trainer import Trainer, TrainingError
from graph.project_file import from_dict


def doc_of(shape, widths, dataset, **training):
    """Input ``shape`` -> Linear fc1, fc2, ... of ``widths`` -> Output, on ``dataset``."""
    doc = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))
    nodes = [{"id": "n0", "type": "Input", "name": "inputs", "params": {"shape": shape}}]
    for i, width in enumerate(widths, 1):
        nodes.append(
            {"id": f"n{i}", "type": "Linear", "name": f"fc{i}", "params": {"out_features": width}}
        )
    nodes.append({"id": "out", "type": "Output", "name": "prediction", "params": {}})
    for i, node in enumerate(nodes):
        node["pos"] = [100.0 * i, 0.0]
    edges = [
        {"from": a["id"], "from_port": "out", "to": b["id"], "to_port": "in"}
        for a, b in zip(nodes, nodes[1:])
    ]
    doc["models"] = {"main": {"nodes": nodes, "edges": edges}}
    doc["training"] = {"dataset": dataset, "loss": "cross_entropy", "epochs": 1, **training}
    return doc


def project(*args, **kwargs):
    return from_dict(doc_of(*args, **kwargs), CATALOG, "<test>")


@pytest.fixture
def no_compile(monkeypatch):
    """Compiling fails the test: every refusal here comes before it."""

    def compile_network(*args, **kwargs):
        raise AssertionError("the network was compiled before the sizes were checked")

    monkeypatch.setattr(trainer_module, "compile_network", compile_network)


def free(monkeypatch, host: int | None, gpu: int | None = None) -> None:
    monkeypatch.setattr(
        budget, "available_memory", lambda device="cpu": gpu if device == "cuda" else host
    )


def test_the_estimate_counts_parameters_state_activations_and_data():
    p = project([64], [100, 10], {"name": "digits", "flat": True}, batch_size=32)
    net = p.network()
    cfg = parse_training(p.training)
    est = budget.estimate(net, check_compilable(net), cfg, 1000, 300, 5000)
    params = 64 * 100 + 100 + 100 * 10 + 10
    assert est.parameters == 4 * params
    # gradients, the best copy, the weights before a reported step, Adam's two moments
    assert est.state == 4 * params * 5
    # one sample's outputs: Input 64, fc1 100, fc2 10 values of 4 bytes, for 3 x 32 rows
    # of training; evaluating 300 rows at once holds about two fc1 outputs a row
    assert est.activations == max(4 * (64 + 100 + 10) * 3 * 32, 2 * 4 * 100 * 300)
    assert est.data == 5000 and est.batch == 32
    assert est.largest == ("Linear 'fc1'", 6500) and est.widest == ("Linear 'fc1'", 100)
    assert est.total == est.parameters + est.state + est.activations + est.data
    sgd = parse_training({**p.training, "optimizer": {"name": "sgd", "lr": 0.1}})
    assert budget.estimate(net, check_compilable(net), sgd, 1000, 300, 0).state == 4 * params * 3


@pytest.mark.parametrize(
    "n, text",
    [(0, "0 bytes"), (999, "999 bytes"), (1500, "1.5 KB"), (6.4e9, "6.4 GB"), (25e9, "25 GB")],
)
def test_format_bytes(n, text):
    assert budget.format_bytes(n) == text


def test_a_run_larger_than_the_free_memory_is_refused_before_compiling(monkeypatch, no_compile):
    free(monkeypatch, 50_000_000)
    p = project([64], [100_000, 10], {"name": "digits", "flat": True})
    with pytest.raises(budget.MemoryBudgetError) as err:
        Trainer(p).prepare()
    text = str(err.value)
    # 7.5 million parameters: 30 MB of weights, 150 MB of gradients and Adam's state;
    # evaluating the 359 validation rows at once holds two of fc1's 100,000-value outputs
    assert text == (
        "This run needs about 468 MB of memory (parameters 30 MB, gradients and optimiser"
        " state 150 MB, activations 287 MB (batches of 32 rows), data 949 KB) but the machine"
        " has 50 MB free: make Linear 'fc1' smaller (it has 6,500,000 parameters and 100,000"
        " values per sample)"
    )


def test_a_full_batch_too_large_is_told_to_take_a_batch_size(monkeypatch, no_compile):
    free(monkeypatch, 200_000_000)
    p = project([2], [100_000, 2], {"name": "moons", "samples": 2000}, batch_size="full")
    with pytest.raises(budget.MemoryBudgetError) as err:
        Trainer(p).prepare()
    text = str(err.value)
    assert "(batches of 1,600 rows)" in text
    assert 'set training.batch_size to a number (now "full": 1,600 rows)' in text
    assert "or make Linear 'fc1' (100,000 values per sample) smaller" in text


def test_the_input_is_checked_against_the_data_before_compiling(monkeypatch, no_compile):
    # Linear 20000 -> 40000 would take 3.2 GB of weights: the refusal takes none of it.
    p = project([20000], [40000, 2], {"name": "xor"})
    with pytest.raises(TrainingError, match=r"takes \(N, 20000\) but dataset 'xor' gives"):
        Trainer(p).prepare()


def test_a_generated_dataset_too_large_is_refused_before_it_is_made(monkeypatch, no_compile):
    free(monkeypatch, 10_000_000)

    def load_dataset(*args, **kwargs):
        raise AssertionError("the dataset was made before its size was checked")

    monkeypatch.setattr(trainer_module, "load_dataset", load_dataset)
    p = project([2], [2], {"name": "moons", "samples": 1_000_000})
    with pytest.raises(budget.MemoryBudgetError) as err:
        Trainer(p).prepare()
    assert str(err.value) == (
        "training.dataset: making 'moons' (1,000,000 rows of 3 values) needs about 60 MB but"
        " the machine has 10 MB free: lower training.dataset.samples"
    )


def test_a_run_that_fits_trains(monkeypatch):
    free(monkeypatch, 10**12)
    trainer = Trainer(project([2], [8, 2], {"name": "xor"}, batch_size="full"))
    trainer.prepare()
    assert trainer.model is not None
    free(monkeypatch, None)  # the free memory unknown: nothing is refused
    Trainer(project([2], [8, 2], {"name": "xor"})).prepare()


def test_on_a_gpu_the_gpu_and_the_host_are_both_checked(monkeypatch):
    p = project([64], [100_000, 10], {"name": "digits", "flat": True})
    net = p.network()
    est = budget.estimate(net, check_compilable(net), parse_training(p.training), 1000, 300, 10)
    free(monkeypatch, 10**12, 1_000_000)
    with pytest.raises(budget.MemoryBudgetError, match="but the GPU has 1 MB free"):
        budget.check_run(est, "cuda")
    free(monkeypatch, 1_000_000, 10**12)
    with pytest.raises(budget.MemoryBudgetError, match="but the machine has 1 MB free"):
        budget.check_run(est, "cuda")
    free(monkeypatch, 10**12, 10**12)
    budget.check_run(est, "cuda")


def test_available_memory_reads_meminfo_then_sysconf(monkeypatch):
    host = budget.available_memory()
    assert host is None or host > 0

    def no_meminfo(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr("builtins.open", no_meminfo)
    monkeypatch.setattr(budget.os, "sysconf", {"SC_AVPHYS_PAGES": 1000, "SC_PAGE_SIZE": 4096}.get)
    assert budget.available_memory() == 4_096_000


@pytest.mark.parametrize(
    "dataset, hint",
    [
        ({"name": "moons"}, "lower training.dataset.samples (now 400)"),
        ({"name": "xor", "repeat": 50}, "lower training.dataset.repeat (now 50)"),
        ({"name": "iris"}, "use a smaller dataset"),
    ],
)
def test_a_run_mostly_data_is_told_to_use_less(monkeypatch, dataset, hint):
    from builder.data import load_dataset, make_splits

    p = project([2] if dataset["name"] != "iris" else [4], [2], dataset, batch_size=4)
    net, cfg = p.network(), parse_training(p.training)
    splits = make_splits(load_dataset(dataset), dataset)
    est = budget.run_estimate(net, check_compilable(net), cfg, splits)
    assert est.data == budget.dataset_bytes(splits.dataset) > est.total / 2
    assert est.advice().startswith(hint)
    free(monkeypatch, est.total - 1)
    with pytest.raises(budget.MemoryBudgetError) as err:
        budget.check_run(est)
    assert str(err.value).endswith(f"free: {est.advice()}")


def test_compiling_outside_a_run_is_refused_when_the_weights_do_not_fit(monkeypatch):
    import torch

    from builder.compile import compile_network

    net = project([1000], [1000, 2], {"name": "moons"}).network()  # about 4 MB of weights
    monkeypatch.setattr(budget, "available_memory", lambda device="cpu": 1_000_000)
    with pytest.raises(budget.MemoryBudgetError) as refused:
        compile_network(net)
    assert "Linear 'fc1' smaller (it has 1,001,000 parameters)" in str(refused.value)
    assert "about 4 MB" in str(refused.value) and "1 MB free" in str(refused.value)
    with torch.device("meta"):  # the structure only, as export builds it: nothing is taken
        assert compile_network(net).fc1.weight.shape == (1000, 1000)
    monkeypatch.setattr(budget, "available_memory", lambda device="cpu": 10_000_000)
    assert compile_network(net).fc1.weight.device.type == "cpu"


def test_a_limit_on_the_address_space_caps_the_memory_free(monkeypatch):
    import resource

    monkeypatch.setattr(resource, "getrlimit", lambda which: (2 * 1024**3, resource.RLIM_INFINITY))
    left = budget._address_space_left()
    assert left is not None and 0 <= left < 2 * 1024**3
    assert budget.available_memory() <= left
