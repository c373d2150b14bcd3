"""Export: the script's model is the compiled model (same attribute names, same seeded
initial weights, equal outputs), its data are the app's tensors, its training reproduces
the app's losses, it is already ``ruff format``-ted and lint-clean, and nothing from a
project file can inject code into it."""

from __future__ import annotations

import ast
import gzip
import importlib.util
import io
import json
import math
import os
import struct
import subprocess
import sys
import tokenize
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_catalog_generic import TABLE
from test_catalog_generic import _build as build_layer_case
from test_random_graphs import networks as random_networks

import assets
import graph
from builder import CATALOG, compile_network
from builder.catalog.modules import Step
from builder.catalog.params import INITIALISERS
from builder.compile import apply_init, example_inputs
from builder.data import load_dataset, make_splits
from builder.errors import GraphInvalidError
from builder.export.layout import (
    _assign,
    _binary,
    _call,
    _constant,
    _def,
    _list,
    _name,
    _return,
    _statement,
    _subscript,
    comment,
    py_str,
)
from builder.export.script import export, export_script
from builder.training import loop, procedures
from builder.training.config import parse_training
from builder.training.records import EpochRecord, EvaluationRecord, StepRecord
from builder.training.trainer import Trainer
from graph.project_file import load

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
RUFF = BIN / "ruff"
EXAMPLES = assets.example_paths()


# ----------------------------------------------------------------------------- helpers


def import_script(code: str, folder: Path, name: str | None = None) -> Any:
    """Import the script from a file in ``folder`` as a fresh module."""
    name = name or f"exported_{uuid.uuid4().hex}"
    path = folder / f"{name}.py"
    path.write_text(code, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def ruff_clean(paths: list[Path]) -> None:
    """Already formatted (ruff's defaults) and clean under the project's lint rules (its
    selection and ignores, see pyproject.toml)."""
    if not RUFF.exists():
        pytest.skip("ruff is not installed in this environment")
    files = [str(p) for p in paths]
    fmt = subprocess.run(
        [str(RUFF), "format", "--isolated", "--check", "--diff", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fmt.returncode == 0, fmt.stdout[-6000:] + fmt.stderr[-2000:]
    lint = subprocess.run(
        [str(RUFF), "check", "--isolated", "--select", "E,F,W,I,B,UP", "--ignore", "E501,B905"]
        + ["--no-cache", *files],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert lint.returncode == 0, lint.stdout[-6000:]


def state_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a)


def as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def check_model(net: graph.Network, module: Any, class_name: str, seed: int) -> None:
    """The script's class: seeded init == compiled seeded init; the compiled weights load
    strictly; equal outputs in eval mode (and in train mode under the same seed)."""
    cls = getattr(module, class_name)
    compiled = compile_network(net, seed=seed)
    torch.manual_seed(seed)
    mine = cls()
    assert state_equal(mine.state_dict(), compiled.state_dict())
    other = compile_network(net, seed=seed + 17)
    mine.load_state_dict(other.state_dict(), strict=True)
    inputs = example_inputs(other, batch=3, net=net, seed=5)
    mine.eval()
    other.eval()
    with torch.no_grad():
        got, want = as_tuple(mine(*inputs)), as_tuple(other(*inputs))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert torch.equal(g, w)
    mine.train()
    other.train()
    with torch.no_grad():
        torch.manual_seed(3)
        got = as_tuple(mine(*inputs))
        torch.manual_seed(3)
        want = as_tuple(other(*inputs))
    for g, w in zip(got, want):
        assert torch.equal(g, w)


def project_with(
    layers: list[tuple[str, dict[str, Any]]],
    shape: tuple[int, ...],
    dataset: dict[str, Any],
    dtype: str = "float32",
    **training: Any,
) -> graph.Project:
    """A one-chain network Input -> layers -> Output with these training settings."""
    project = graph.Project(CATALOG, name="variant")
    net = project.add_network("main")
    prev = net.add_node("Input", params={"shape": shape, "dtype": dtype})
    for type_id, params in layers:
        node = net.add_node(type_id, params=params)
        net.connect(prev, node, "out", net.input_ports(node)[0])
        prev = node
    out = net.add_node("Output")
    net.connect(prev, out)
    project.training = {
        "dataset": dataset,
        "loss": "cross_entropy",
        "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 2,
        "batch_size": 16,
        "seed": 3,
        **training,
    }
    return project


MLP2 = [("Linear", {"out_features": 6}), ("Tanh", {}), ("Linear", {"out_features": 2})]

VARIANTS: dict[str, Any] = {
    "moons_everything": lambda: project_with(
        [
            ("Linear", {"out_features": 8, "init": "he_uniform"}),
            ("BatchNorm1d", {}),
            ("ReLU", {}),
            ("Dropout", {"p": 0.2}),
            ("Linear", {"out_features": 2, "init": "xavier_normal"}),
        ],
        (2,),
        {
            "name": "moons",
            "samples": 120,
            "noise": 0.2,
            "normalise": "zscore",
            "validation": 0.2,
            "test": 0.1,
        },
        optimizer={"name": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        schedule={"name": "step", "step_size": 1, "gamma": 0.5},
        clip={"mode": "norm", "max": 0.5},
        penalties={"l1": 1e-4, "l2": 1e-3},
        early_stopping={"patience": 1, "min_delta": 10.0},  # stops after epoch 2
        report_every=3,
        epochs=3,
    ),
    "circles_logits": lambda: project_with(
        [("Linear", {"out_features": 6, "init": "uniform"}), ("Tanh", {})]
        + [("Linear", {"out_features": 1})],
        (2,),
        {"name": "circles", "samples": 100, "factor": 0.4, "normalise": "minmax"},
        loss="bce_with_logits",
        optimizer={"name": "rmsprop", "lr": 0.01, "momentum": 0.1},
        schedule={"name": "cosine"},
        clip={"mode": "value", "max": 0.1},
    ),
    "blobs_hinge": lambda: project_with(
        [("Linear", {"out_features": 3, "init": "zeros"})],
        (2,),
        {"name": "blobs", "samples": 90, "classes": 3, "std": 0.5},
        loss="hinge",
        optimizer={"name": "adagrad", "lr": 0.1},
        schedule={"name": "plateau", "patience": 0},
        batch_size=7,
    ),
    "spirals_binary_hinge": lambda: project_with(
        [("Linear", {"out_features": 8}), ("ReLU6", {}), ("Linear", {"out_features": 1})],
        (2,),
        {"name": "spirals", "samples": 80, "validation": 0.25},
        loss="hinge",
        optimizer={"name": "adamw", "lr": 0.01, "weight_decay": 0.01},
        penalties={"l2": 0.01},
    ),
    "sine_mse_full_batch": lambda: project_with(
        [("Linear", {"out_features": 8}), ("GELU", {}), ("Linear", {"out_features": 1})],
        (1,),
        {"name": "sine", "samples": 64, "normalise": "zscore"},
        loss="mse",
        batch_size="full",
        penalties={"l1": 0.001},
        early_stopping={"patience": 1, "restore_best": False, "min_delta": 10.0},
        epochs=3,
    ),
    "sine_huber": lambda: project_with(
        [("Linear", {"out_features": 4}), ("ELU", {}), ("Linear", {"out_features": 1})],
        (1,),
        {"name": "sine", "samples": 40, "test": 0.2},
        loss="huber",
    ),
    "lstm_sequences": lambda: project_with(
        [
            ("LSTM", {"hidden_size": 4, "bidirectional": True}),
            ("Linear", {"out_features": 2}),
        ],
        (6, 1),
        {"name": "sine_sequences", "samples": 60, "steps": 6},
    ),
    "gru_forecast_l1": lambda: project_with(
        [
            ("GRU", {"hidden_size": 3, "output": "sequence", "init": "xavier_uniform"}),
            ("Flatten", {}),
            ("Linear", {"out_features": 1}),
        ],
        (5, 1),
        {"name": "sine_forecast", "samples": 50, "steps": 5},
        loss="l1",
    ),
    "tokens_attention_nll": lambda: project_with(
        [
            ("Embedding", {"num_embeddings": 20, "embedding_dim": 8}),
            ("MultiheadAttention", {"num_heads": 2}),
            ("Flatten", {}),
            ("Linear", {"out_features": 2}),
            ("LogSoftmax", {}),
        ],
        (6,),
        {"name": "token_sequences", "samples": 64, "steps": 6, "vocab": 20},
        dtype="int64",
        loss="nll",
    ),
    "digits_cnn_augmented": lambda: project_with(
        [
            ("Conv2d", {"out_channels": 4, "padding": 1, "init": "he_normal"}),
            ("ReLU", {}),
            ("MaxPool2d", {}),
            ("Flatten", {}),
            ("Linear", {"out_features": 10}),
        ],
        (1, 8, 8),
        {
            "name": "digits",
            "augment": {"flip": True, "shift": 1, "noise": 0.05},
            "normalise": "zscore",
            "validation": 0.3,
        },
        batch_size=128,
    ),
    "digits_flat_kl": lambda: project_with(
        [("Linear", {"out_features": 10}), ("LogSoftmax", {})],
        (64,),
        {"name": "digits", "flat": True, "augment": {"noise": 0.1}},
        loss="kl_div",
        batch_size=256,
    ),
    "iris_one_hot_mse": lambda: project_with(
        [("Linear", {"out_features": 3}), ("Softmax", {})],
        (4,),
        {"name": "iris", "normalise": "minmax"},
        loss="mse",
    ),
    "wine_bce_one_hot": lambda: project_with(
        [("Linear", {"out_features": 3}), ("Sigmoid", {})],
        (13,),
        {"name": "wine", "normalise": "zscore"},
        loss="bce",
    ),
    "breast_cancer_l1_binary": lambda: project_with(
        [("Linear", {"out_features": 1}), ("Sigmoid", {})],
        (30,),
        {"name": "breast_cancer", "normalise": "zscore"},
        loss="l1",
        batch_size=64,
    ),
    "or_prelu_mse": lambda: project_with(
        [("Linear", {"out_features": 1}), ("PReLU", {}), ("Sigmoid", {})],
        (2,),
        {"name": "or", "repeat": 3},
        loss="mse",
        batch_size=5,
    ),
    "and_bce": lambda: project_with(
        [("Linear", {"out_features": 2}), ("Tanh", {}), ("Linear", {"out_features": 1})]
        + [("Sigmoid", {})],
        (2,),
        {"name": "and", "repeat": 2, "validation": 0.25},
        loss="bce",
    ),
}


def data_files(folder: Path) -> dict[str, dict[str, Any]]:
    """User data files (CSV, NumPy, IDX) and the dataset specs that read them."""
    rng = np.random.default_rng(0)
    rows = ["a;b;skip;label"] + [
        f"{x:.3f};{y:.3f};zz;{'yes' if x > y else 'no'}" for x, y in rng.normal(size=(30, 2))
    ]
    (folder / "points.csv").write_text("\n".join(rows) + "\n\n", encoding="utf-8")
    np.savez(
        folder / "arrays.npz",
        inputs=rng.normal(size=(40, 3)).astype(np.float64),
        y=rng.integers(0, 3, 40),
    )
    np.save(folder / "x.npy", rng.normal(size=(30, 2)))
    np.save(folder / "y.npy", rng.normal(size=(30, 1)))
    images = rng.integers(0, 256, (25, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 25).astype(np.uint8)
    idx = folder / "mnist"
    idx.mkdir()
    (idx / "train-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(struct.pack(">IIII", 0x803, 25, 28, 28) + images.tobytes())
    )
    (idx / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 25) + labels.tobytes())
    return {
        "csv": {"name": "csv", "path": "points.csv", "features": ["b", 0], "target": "label"},
        "numpy_npz": {"name": "numpy", "path": "arrays.npz", "x_key": "inputs"},
        "numpy_npy_regression": {
            "name": "numpy",
            "path": "x.npy",
            "target_path": "y.npy",
            "normalise": "zscore",
        },
        "idx": {"name": "idx", "folder": "mnist", "limit": 20, "validation": 0.25},
    }


FILE_NETWORKS = {
    "csv": ((2,), MLP2, {}),
    "numpy_npz": ((3,), [("Linear", {"out_features": 3})], {}),
    "numpy_npy_regression": ((2,), [("Linear", {"out_features": 1})], {"loss": "mse"}),
    "idx": ((1, 28, 28), [("Flatten", {}), ("Linear", {"out_features": 10})], {}),
}


def app_run(project: graph.Project, epochs: int, base_dir: Path | None = None) -> dict:
    """The app's trainer on the CPU: every step loss, epoch figures, test figures, weights."""
    config = replace(parse_training(project.training), epochs=epochs, device="cpu")
    trainer = Trainer(project, config=config, base_dir=base_dir)
    records = trainer.run()
    assert trainer.state not in ("error",), [r for r in records if hasattr(r, "message")]
    steps = [loss for r in records if isinstance(r, StepRecord) for loss in r.losses]
    epochs_ = [r for r in records if isinstance(r, EpochRecord)]
    tests = [r for r in records if isinstance(r, EvaluationRecord)]
    return {
        "steps": steps,
        "epochs": epochs_,
        "test": tests[0] if tests else None,
        "state": trainer.final_state_dict(),
        "trainer": trainer,
    }


def compare_runs(app: dict, log: dict, weights: dict[str, torch.Tensor]) -> None:
    assert len(log["steps"]) == len(app["steps"])
    assert np.allclose(log["steps"], app["steps"], atol=1e-6, rtol=0)
    assert len(log["epochs"]) == len(app["epochs"])
    for mine, record in zip(log["epochs"], app["epochs"]):
        assert math.isclose(mine["train_loss"], record.train_loss, abs_tol=1e-6)
        if record.val_loss is None:
            assert mine["val_loss"] is None
        else:
            assert math.isclose(mine["val_loss"], record.val_loss, abs_tol=1e-6)
        for key in ("accuracy", "mse", "mae"):
            if key in record.metrics:
                assert math.isclose(mine[key], record.metrics[key], abs_tol=1e-6), key
        assert math.isclose(mine["lr"], record.lr, rel_tol=1e-12)
    if app["test"] is not None:
        assert math.isclose(log["test"]["loss"], app["test"].loss, abs_tol=1e-6)
    else:
        assert log["test"] is None
    state = app["state"]
    assert list(weights) == list(state)
    for key in state:
        assert torch.allclose(weights[key], state[key], atol=1e-6), key


# ----------------------------------------------------------------------------- literals


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_string_literals_round_trip(text):
    literal = py_str(text)
    assert ast.literal_eval(literal) == text
    assert "\n" not in literal and "\r" not in literal
    line = comment(text)
    assert line.isascii() and line.isprintable() and "#" not in line


def settings_value(rng: np.random.Generator, depth: int) -> Any:
    """A random plain value of the kind kernel settings hold."""
    kind = int(rng.integers(0, 9 if depth else 5))
    if kind == 0:
        return None if rng.random() < 0.5 else bool(rng.random() < 0.5)
    if kind == 1:
        return int(rng.integers(-5, 100_000))
    if kind == 2:
        return float(rng.choice([0.001, 1e-8, 0.5, 123.25, 1e20]))
    if kind in (3, 4):
        return "".join(rng.choice(list("abc_ xyz")) for _ in range(rng.integers(0, 30)))
    size = int(rng.integers(0, 6))
    if kind in (5, 6):
        return {
            f"k{i}" * int(rng.integers(1, 5)): settings_value(rng, depth - 1) for i in range(size)
        }
    items = [settings_value(rng, depth - 1) for _ in range(size)]
    return items if kind == 7 else tuple(items)


def test_literals_and_layout_match_ruff(tmp_path):
    """Strings (every escape, both quote styles) and the statement layouts the exporter
    writes, with names from 1 to 110 characters, are what ruff format writes."""
    rng = np.random.default_rng(7)
    strings = ['a"b', "it's", "\\", 'x"\'"y', "tab\there", "é\u202e\x00\ud800🙂", "''\"", ""]
    lines = [f"S{i} = {py_str(s)}" for i, s in enumerate(strings)]

    def name(lo: int = 1, hi: int = 110) -> str:
        return "n" + "".join(rng.choice(list("abc_xyz")) for _ in range(rng.integers(lo, hi)))

    def short() -> str:
        return name(1, 30)

    body = []
    for _ in range(400):
        kind = int(rng.integers(0, 8))
        args = [_name(short()) for _ in range(rng.integers(1, 4))]
        if kind == 0:
            body.append(_assign(short(), _call(f"self.{name()}", args), 8))
        elif kind == 1:
            call = _call(f"self.{name()}", args, [("need_weights", "False")])
            body.append(_assign(short(), _subscript(call, "0"), 8))
        elif kind == 2:
            ops = [_name(short()) for _ in range(rng.integers(2, 9))]
            body.append(_assign(short(), _binary(str(rng.choice(["+", "*"])), ops), 8))
        elif kind == 3:
            items = _list([_name(name(1, 15)) for _ in range(rng.integers(1, 9))])
            body.append(_assign("x", _call("torch.cat", [items], [("dim", "1")]), 8))
            strings = [py_str(name(1, 20)) for _ in range(rng.integers(1, 9))]
            lines.append(_assign(f"L{len(lines)}", _list(strings), 0))
        elif kind == 4:
            body.append(_return([_name(short()) for _ in range(rng.integers(1, 6))], 8))
        elif kind == 5:
            kwargs = [("in_features", "16"), ("kernel_size", "(3, 3)"), ("bias", "True")]
            kwargs = kwargs[: rng.integers(0, 4)]
            body.append(_assign(f"self.{name()}", _call("nn.Conv2d", [], kwargs), 8))
        elif kind == 6:
            body.append(_statement(_call("apply_init", [f"self.{name()}", '"zeros"']), 8))
            body.append(_assign(f"self.{name()}", _call("nn.Sigmoid"), 8))
            body.append(_assign(name(1, 60), _name(name()), 8))
            body.append(_assign(name(1, 60), _name(py_str(name())), 8))
        else:
            sub = _subscript(short(), "-1")
            body.append(_assign("x", _call(f"self.{name()}", [sub]), 8))
    for _ in range(60):  # settings literals: nested dicts, lists and tuples of plain values
        lines.append(_constant(f"C{len(lines)}", settings_value(rng, 3)))
    code = "\n".join(lines) + "\n\n\nclass A:\n"
    code += _def("forward", ["self", *[short() for _ in range(5)]], 4) + "\n"
    code += "\n".join(body) + "\n"
    path = tmp_path / "layout.py"
    path.write_text(code, encoding="utf-8")
    fmt = subprocess.run(
        [str(RUFF), "format", "--isolated", "--diff", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert fmt.returncode == 0, fmt.stdout[-4000:]


# ----------------------------------------------------------------------------- the model


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_export_the_compiled_model(path, tmp_path):
    project = load(path, CATALOG)
    seed = project.training["seed"]
    for net in project.networks.values():
        result = export(project, net.name)
        module = import_script(result.code, tmp_path)
        assert result.network == net.name
        # each role's network is built with the seed plus its place (a GAN's two)
        built = list(getattr(module, "MODELS", {}).values())
        offset = built.index(getattr(module, result.class_name)) if built else 0
        check_model(net, module, result.class_name, seed + offset)
        assert f"class {result.class_name}(nn.Module):" in result.code


@pytest.mark.parametrize("type_id", sorted(TABLE))
def test_every_layer_type_and_initialiser_exports(type_id, nc, tmp_path):
    spec = CATALOG[type_id]
    for params, ins in TABLE[type_id]:
        project, net, _, _ = build_layer_case(nc, type_id, params, ins)
        result = export(project)
        check_model(net, import_script(result.code, tmp_path), result.class_name, 0)
    if spec.has_init:
        params, ins = TABLE[type_id][0]
        for init in INITIALISERS:
            project, net, _, _ = build_layer_case(nc, type_id, {**params, "init": init}, ins)
            result = export(project)
            module = import_script(result.code, tmp_path)
            check_model(net, module, result.class_name, 4)


def test_helpers_behave_like_the_apps(tmp_path):
    """The script's Step and apply_init are builder.catalog.modules.Step and apply_init."""
    project = project_with(
        [("Linear", {"out_features": 3, "init": "uniform"}), ("Step", {"threshold": 0.2})],
        (4,),
        {"name": "xor"},
    )
    module = import_script(export_script(project), tmp_path)
    x = torch.randn(5, 4)
    assert torch.equal(module.Step(0.2)(x), Step(0.2)(x))
    # With a training loop the script also holds the loop's Step (a step done), another
    # class: renamed there, with its uses.
    trained = project_with(
        [("Linear", {"out_features": 2}), ("Step", {})],
        (2,),
        {"name": "xor"},
        procedure="perceptron",
    )
    code = export_script(trained)
    assert "class LoopStep:" in code and "yield LoopStep(" in code
    script = import_script(code, tmp_path)
    assert torch.equal(script.Step(0.2)(x), Step(0.2)(x))
    assert script.LoopStep.__doc__ == loop.Step.__doc__
    for init in INITIALISERS:
        for factory in (
            lambda: torch.nn.Linear(3, 4),
            lambda: torch.nn.MultiheadAttention(8, 2, kdim=3, vdim=5),
            lambda: torch.nn.LSTM(3, 4, num_layers=2),
        ):
            torch.manual_seed(1)
            a = factory()
            module.apply_init(a, init)
            torch.manual_seed(1)
            b = factory()
            apply_init(b, init)
            assert state_equal(a.state_dict(), b.state_dict()), init


def _long_names(draw, net: graph.Network) -> None:
    """Rename nodes to long, odd or colliding names (the sanitiser makes them legal)."""
    pool = st.sampled_from(
        [
            "x" * 100,
            "conv " * 20,
            "Größe" * 10,
            "class",
            "1 layer",
            "self",
            "forward",
            "a" * 60 + "b",
            "a" * 60 + "c",
        ]
    )
    for i, node in enumerate(net.nodes):
        if draw(st.booleans()):
            name = f"{draw(pool)}{i}" if draw(st.booleans()) else draw(pool)
            name = name[-100:].strip()
            if name not in {net.name_of(n) for n in net.nodes}:
                net.rename(node, name)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_networks(), st.data())
def test_random_networks_export_the_compiled_model(case, data):
    net, _ = case
    _long_names(data.draw, net)
    project = graph.Project(CATALOG, name="random " * 12)
    project.networks[net.name] = net
    result = export(project)
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"nc-export-{uuid.uuid4().hex}"
    folder.mkdir()
    try:
        module = import_script(result.code, folder)
        check_model(net, module, result.class_name, 0)
        if len(net.nodes) > 0 and data.draw(st.integers(0, 4)) == 0:
            ruff_clean([folder / next(p.name for p in folder.glob("*.py"))])
    finally:
        for p in folder.glob("*"):
            p.unlink()
        folder.rmdir()


def test_forward_reads_like_hand_written_code():
    project = load(assets.example("resnet_blocks"), CATALOG)
    code = export_script(project)
    assert "        x = self.stem_conv(image)\n" in code
    assert "        stem_relu = self.stem_relu(x)\n" in code
    assert "        x = stem_relu + x\n" in code
    code = export_script(load(assets.example("lstm_classifier"), CATALOG))
    assert "        _, (h_n, _) = self.lstm(sequence)\n" in code
    assert "        x = self.classifier(h_n[-1])\n" in code
    code = export_script(load(assets.example("attention_text"), CATALOG))
    assert "self.self_attention(embedding, embedding, embedding, need_weights=False)[0]" in code
    code = export_script(load(assets.example("gan_digits"), CATALOG), "generator")
    assert "        x = x.reshape(-1, 1, 8, 8)\n" in code


def test_several_inputs_and_outputs(nc, tmp_path):
    project, net = nc.new_net()
    a = net.add_node("Input", name="left", params={"shape": (4,)})
    b = net.add_node("Input", name="right", params={"shape": (3,)})
    fa = net.add_node("Linear", name="fa", params={"out_features": 5})
    fb = net.add_node("Linear", name="fb", params={"out_features": 5})
    cat = net.add_node("Concat", name="joined", params={"num_inputs": 3})
    add = net.add_node("Add", name="sum", params={"num_inputs": 3})
    mul = net.add_node("Multiply", name="gate")
    lstm = net.add_node("LSTM", name="rnn", params={"hidden_size": 2, "output": "sequence"})
    for src, dst, port in [
        (a, fa, "in"),
        (b, fb, "in"),
        (fa, cat, "in1"),
        (fb, cat, "in2"),
        (a, cat, "in3"),
        (fa, add, "in1"),
        (fb, add, "in2"),
        (fa, add, "in3"),
        (add, mul, "in1"),
        (fb, mul, "in2"),
    ]:
        net.connect(src, dst, "out", port)
    shape = net.add_node("Reshape", name="steps", params={"shape": (7, 2)})
    net.connect(cat, shape)
    net.connect(shape, lstm)
    outs = []
    for src, port in [(mul, "out"), (lstm, "out"), (lstm, "state"), (cat, "out")]:
        out = net.add_node("Output")
        net.connect(src, out, port, "in")
        outs.append(out)
    result = export(project)
    assert not result.trainable and "Input(s)" in result.note
    check_model(net, import_script(result.code, tmp_path), result.class_name, 0)
    forward = result.code[result.code.index("    def forward(self, left, right):") :]
    for line in (
        "joined = torch.cat([fa, fb, left], dim=1)",
        "x = fa + fb + fa",
        "x = x * fb",
        "steps = joined.reshape(-1, 7, 2)",
        "rnn, (h_n, _) = self.rnn(steps)",
        "return x, rnn, h_n[-1], joined",
    ):
        assert f"        {line}\n" in forward, line


def test_invalid_network_is_refused_with_the_validators_message(nc):
    project, net = nc.new_net()
    inp = net.add_node("Input", params={"shape": (1, 8, 8)})
    fc = net.add_node("Linear", name="fc")
    out = net.add_node("Output")
    net.connect(inp, fc)
    net.connect(fc, out)
    with pytest.raises(GraphInvalidError) as info:
        export_script(project)
    assert "add a Flatten before it" in str(info.value)
    project2, net2 = nc.new_net()
    net2.add_node("Input")
    with pytest.raises(GraphInvalidError, match="no Output"):
        export_script(project2)


# ----------------------------------------------------------------------------- data + training


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_scripts_reproduce_the_app(variant, tmp_path):
    """Data tensors equal; with the same seed on the CPU the script's losses, epoch
    figures and final weights are the app's (in-process run of the script's main)."""
    project = VARIANTS[variant]()
    result = export(project)
    assert result.trainable, result.note
    module = import_script(result.code, tmp_path)
    check_model(project.network(), module, result.class_name, project.training["seed"])
    check_data(project, module, None)
    app = app_run(project, project.training["epochs"])
    log_path = tmp_path / "log.json"
    out = tmp_path / "run"
    code = module.main(
        ["--epochs", str(project.training["epochs"]), "--device", "cpu"]
        + ["--log-json", str(log_path), "--out", str(out)]
    )
    assert code == 0
    log = json.loads(log_path.read_text())
    assert log["outcome"] == app["trainer"].state
    if variant in ("moons_everything", "sine_mse_full_batch"):
        assert log["outcome"] == "early_stopped" and len(log["epochs"]) == 2
    compare_runs(app, log, torch.load(out / "weights.pt", weights_only=True))


@pytest.mark.parametrize("procedure", sorted(procedures.PROCEDURES))
def test_every_procedures_example_script_reproduces_the_app(procedure, tmp_path):
    """The script of each registered procedure's example (its kernel chosen by the
    procedure's ``kernel`` path) trains as the app does: the same step losses, epoch
    figures and final weights, on the CPU with the same seed."""
    spec = procedures.PROCEDURES[procedure]
    project = load(assets.example(spec.example), CATALOG)
    result = export(project)
    assert result.trainable, result.note
    assert f"NeuralCanvas's {spec.kernel.replace('.', '/')}.py" in result.code
    module = import_script(result.code, tmp_path)
    (settings,) = [
        node.value
        for node in ast.parse(result.code).body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SETTINGS"
    ]
    assert ast.literal_eval(settings) == module.SETTINGS  # the kernel's settings: a literal
    app = app_run(project, 1)
    log_path, out = tmp_path / "log.json", tmp_path / "run"
    args = ["--epochs", "1", "--device", "cpu", "--log-json", str(log_path), "--out", str(out)]
    assert module.main(args) == 0
    log = json.loads(log_path.read_text())
    assert log["outcome"] == app["trainer"].state
    compare_runs(app, log, torch.load(out / "weights.pt", weights_only=True))


def test_the_script_carries_the_apps_own_code():
    """The data, kernel and loop code is the app's source, copied as it is: no template
    restates it (the portable modules' definitions appear verbatim)."""
    import inspect

    from builder.data import generated, splits
    from builder.training.kernels import common, supervised

    code = export_script(load(assets.example("xor_mlp"), CATALOG))
    for obj in (
        loop.fit,
        loop.EpochSampler,
        supervised.train_step,
        supervised.evaluate,
        common.make_optimizer,
        splits.split_dataset,
        splits.partition,
        generated.xor_table,
    ):
        assert inspect.getsource(obj) in code, obj.__qualname__
    assert "from builder" not in code and "import builder" not in code


def check_data(project: graph.Project, module: Any, base_dir: Path | None) -> None:
    cfg = parse_training(project.training)
    ds = load_dataset(cfg.dataset, base_dir, seed=cfg.seed)
    splits = make_splits(ds, cfg.dataset, seed=cfg.seed)
    x, y = module.load_data()
    assert x.dtype == ds.x.dtype and torch.equal(x, ds.x)
    assert y.dtype == ds.y.dtype and torch.equal(y, ds.y)
    mine = module.load_splits(torch.device("cpu"))
    for name, split in (("train", splits.train), ("val", splits.val), ("test", splits.test)):
        if split is None:
            assert name not in mine
            continue
        assert torch.equal(mine[name][0], split.x), name
        assert torch.equal(mine[name][1], split.y), name


@pytest.mark.parametrize("case", sorted(FILE_NETWORKS))
def test_user_files_are_read_like_the_app(case, tmp_path):
    spec = data_files(tmp_path)[case]
    shape, layers, training = FILE_NETWORKS[case]
    project = project_with(layers, shape, spec, **training)
    result = export(project, base_dir=tmp_path)
    assert result.trainable, result.note
    module = import_script(result.code, tmp_path)
    check_data(project, module, tmp_path)
    app = app_run(project, 2, base_dir=tmp_path)
    log_path = tmp_path / "log.json"
    module.main(
        [
            "--epochs",
            "2",
            "--device",
            "cpu",
            "--log-json",
            str(log_path),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    compare_runs(
        app,
        json.loads(log_path.read_text()),
        torch.load(tmp_path / "o" / "weights.pt", weights_only=True),
    )


def test_generated_scripts_are_formatted_and_lint_clean(tmp_path):
    paths = []
    for path in EXAMPLES:
        project = load(path, CATALOG)
        for net in project.networks:
            paths.append(tmp_path / f"{path.stem}_{net}.py")
            paths[-1].write_text(export_script(project, net), encoding="utf-8")
    for name, factory in VARIANTS.items():
        paths.append(tmp_path / f"variant_{name}.py")
        paths[-1].write_text(export_script(factory()), encoding="utf-8")
    files = tmp_path / "files"
    files.mkdir()
    for case, spec in data_files(files).items():
        shape, layers, training = FILE_NETWORKS[case]
        paths.append(tmp_path / f"file_{case}.py")
        code = export_script(project_with(layers, shape, spec, **training), base_dir=files)
        paths[-1].write_text(code, encoding="utf-8")
    for path in paths:  # torch, numpy, scikit-learn and the standard library only
        assert_harmless(path.read_text(encoding="utf-8"))
    ruff_clean(paths)


def _script_run(path: Path, *args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "PYTHONPATH")}
    env["OMP_NUM_THREADS"] = "1"
    return subprocess.run(
        [sys.executable, str(path), *args],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("example", ["xor_mlp", "digits_cnn"])
def test_script_subprocess_reproduces_the_apps_first_epochs(example, tmp_path):
    project = load(assets.example(example), CATALOG)
    path = tmp_path / "model.py"
    path.write_text(export_script(project), encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the script's process (OMP_NUM_THREADS=1)
    try:
        app = app_run(project, 2)
    finally:
        torch.set_num_threads(threads)
    done = _script_run(
        path, "--epochs", "2", "--device", "cpu", "--log-json", "log.json", "--out", "run"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "epoch 2/2" in done.stdout
    log = json.loads((tmp_path / "log.json").read_text())
    compare_runs(app, log, torch.load(tmp_path / "run" / "weights.pt", weights_only=True))


# ----------------------------------------------------------------------------- security

HOSTILE = [
    "__import__('os').system('echo pwned > PWNED')",
    'x"); import os; os.system("touch PWNED"); ("',
    "'''\"\"\"\\",
    "line one\nimport os; os.system('touch PWNED')",
    "\r\n# fmt: off\n",
    "class",
    "None",
    "Größe ✓ 数据",
    "tab\tand\x00null",
    "\u202eevil",
    "coding: latin-1",
    "a" * 100,
]


def assert_harmless(code: str) -> None:
    """The script parses; it imports only what exports import and calls nothing that runs
    text as code or starts processes; the hostile texts are in no line of code."""
    tree = ast.parse(code)
    allowed = {"__future__", "argparse", "csv", "gzip", "io", "json", "math", "os", "struct"}
    allowed |= {"zlib", "pathlib", "numpy", "torch", "sklearn"}
    allowed |= {"collections", "dataclasses", "difflib", "types", "typing", "zipfile"}
    allowed |= {"errno", "stat"}  # the data loaders' checks of paths and files
    allowed |= {"matplotlib"}  # a SOM's optional PNGs (som_outputs.save_pictures)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name.split(".")[0] for a in node.names} <= allowed
        elif isinstance(node, ast.ImportFrom):
            assert node.module.split(".")[0] in allowed
        elif isinstance(node, ast.Name):
            assert node.id not in {"__import__", "exec", "eval", "compile", "open"}, node.id
        elif isinstance(node, ast.Attribute):
            assert node.attr not in {"system", "popen", "spawn", "remove", "rmtree"}, node.attr
    tokens = tokenize.generate_tokens(io.StringIO(code).readline)
    names = {t.string for t in tokens if t.type == tokenize.NAME}
    assert not names & {"system", "touch", "PWNED", "pwned", "__import__"}


def hostile_project(folder: Path) -> tuple[graph.Project, str]:
    """The XOR example with hostile node, network and project names and a hostile CSV
    path, set on the graph directly (the document would refuse some of them)."""
    project = load(assets.example("xor_mlp"), CATALOG)
    net = project.network()
    for node, name in zip(net.nodes, HOSTILE[:6]):
        net.graph.nodes[node]["name"] = name
    # names that collide after sanitising
    net.graph.nodes[net.nodes[-2]]["name"] = "a b"
    net.graph.nodes[net.nodes[-3]]["name"] = "a_b"
    net.name = HOSTILE[1] + HOSTILE[3]
    project.networks = {net.name: net}
    project.name = "None\n'''" + HOSTILE[0]
    filename = "d'a\"ta\\ __import__('os').system('touch PWNED') \n.csv"
    (folder / filename).write_text("a,b,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n", encoding="utf-8")
    project.training["dataset"] = {"name": "csv", "path": filename}
    return project, filename


def test_hostile_strings_cannot_inject_code(tmp_path):
    project, filename = hostile_project(tmp_path)
    result = export(project, base_dir=tmp_path)
    assert result.trainable, result.note
    assert_harmless(result.code)
    assert py_str(filename) in result.code
    path = tmp_path / "model.py"
    path.write_text(result.code, encoding="utf-8")
    ruff_clean([path])
    done = _script_run(path, "--epochs", "1", "--device", "cpu", "--out", "run")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(tmp_path.glob("PWNED*")), "the script executed a project string"
    assert "pwned" not in done.stdout
    module = import_script(result.code, tmp_path)
    check_model(project.network(), module, result.class_name, 0)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_node_names_give_valid_harmless_scripts(name, nc, tmp_path):
    project, net = nc.new_net()
    ids = nc.chain(net, ("Input", {"shape": (3,)}), ("Linear", {"out_features": 2}), "Output")
    net.graph.nodes[ids[1]]["name"] = name
    net.graph.nodes[ids[0]]["name"] = name + "_in"
    net.name = name
    project.name = name
    result = export(project)
    assert_harmless(result.code)
    module = import_script(result.code, tmp_path)
    check_model(net, module, result.class_name, 0)


def test_filename_in_docstring_is_only_a_plain_name(tmp_path):
    project = load(assets.example("xor_mlp"), CATALOG)
    code = export_script(project, filename='x"""; import os; os.system("touch PWNED")#.py')
    assert "python model.py" in code
    assert "python train_xor.py" in export_script(project, filename="train_xor.py")
    ast.parse(code)
