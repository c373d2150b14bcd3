"""What every family of bench/fuzz_cases.py shares: the Case, the seed projects, the
writers of a case's files."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARK = "NC_PWNED"


@dataclass
class Case:
    family: str
    index: int
    label: str
    write: Callable[[Path], None]  # fills the case's folder
    expect: str = "either"  # "refuse" | "either"
    resume: str | None = None  # file name of a checkpoint to resume from, in the folder
    project: str = "project.json"
    heavy: bool = False  # seconds of work or hundreds of MB: left out of the suite's subset
    notes: dict[str, Any] = field(default_factory=dict)


# --- seed projects ------------------------------------------------------------------------


def _node(i: int, type_: str, name: str, params: dict | None = None) -> dict:
    return {
        "id": f"n{i}",
        "type": type_,
        "name": name,
        "params": params or {},
        "pos": [i * 200.0, 0.0],
    }


def _chain(nodes: list[dict]) -> list[dict]:
    return [
        {"from": a["id"], "from_port": "out", "to": b["id"], "to_port": "in"}
        for a, b in zip(nodes, nodes[1:], strict=False)
    ]


def project_doc(layers: list[tuple[str, str, dict]], dataset: dict, **training: Any) -> dict:
    nodes = [_node(i + 1, t, n, p) for i, (t, n, p) in enumerate(layers)]
    return {
        "format": "neuralcanvas-project",
        "version": 1,
        "name": "fuzz seed",
        "description": "a small network the fuzz harness mutates",
        "models": {"main": {"nodes": nodes, "edges": _chain(nodes)}},
        "training": {
            "dataset": dataset,
            "loss": "cross_entropy",
            "optimizer": {"name": "adam", "lr": 0.01},
            "epochs": 1,
            "batch_size": 32,
            "seed": 0,
            **training,
        },
    }


def mlp(dataset: dict | None = None, inputs: list[int] | None = None, classes: int = 2) -> dict:
    return project_doc(
        [
            ("Input", "x", {"shape": inputs or [2]}),
            ("Flatten", "flat", {}),
            ("Linear", "hidden", {"out_features": 8}),
            ("ReLU", "relu", {}),
            ("Dropout", "drop", {"p": 0.1}),
            ("Linear", "logits", {"out_features": classes}),
            ("Output", "y", {}),
        ],
        dataset or {"name": "moons", "samples": 64, "noise": 0.1},
    )


def cnn() -> dict:
    return project_doc(
        [
            ("Input", "image", {"shape": [1, 8, 8]}),
            ("Conv2d", "conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            ("BatchNorm2d", "bn", {}),
            ("ReLU", "relu", {}),
            ("MaxPool2d", "pool", {"kernel_size": 2}),
            ("Flatten", "flat", {}),
            ("LayerNorm", "norm", {"eps": 1e-5}),
            ("Linear", "logits", {"out_features": 10}),
            ("Output", "digit", {}),
        ],
        {"name": "digits", "validation": 0.9},
    )


def rnn() -> dict:
    return project_doc(
        [
            ("Input", "wave", {"shape": [20, 1]}),
            ("LSTM", "lstm", {"hidden_size": 6}),
            ("Linear", "logits", {"out_features": 2}),
            ("Output", "kind", {}),
        ],
        {"name": "sine_sequences", "samples": 64},
    )


SEEDS: list[Callable[[], dict]] = [mlp, cnn, rnn]


def _nested(depth: int) -> str:
    """JSON text nested ``depth`` levels (written as text: building it as Python objects
    would hit the recursion limit of the harness itself)."""
    opens = "".join("[" if i % 2 else '{"k": ' for i in range(depth))
    closes = "".join("]" if i % 2 else "}" for i in reversed(range(depth)))
    return opens + "1" + closes


def _dump(doc: Any) -> str:
    text = json.dumps(doc, indent=1)
    for depth in (500, 900):
        text = text.replace(f'"@@nest:{depth}@@"', _nested(depth))
    return text


def _write_text(name: str, text: str | bytes) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        (folder / name).write_bytes(data)

    return write


def _writes(*writers: Callable[[Path], None]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        for w in writers:
            w(folder)

    return write
