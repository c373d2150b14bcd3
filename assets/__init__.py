"""Data shipped with NeuralCanvas: the project-file JSON Schema, example projects, icons."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXAMPLES = ROOT / "examples"
SCHEMA = ROOT / "project.schema.json"


def example_paths() -> list[Path]:
    """Every built-in example project, sorted by file name."""
    return sorted(EXAMPLES.glob("*.json"))


def example(name: str) -> Path:
    """The path of the built-in example ``name`` (file name with or without ``.json``)."""
    path = EXAMPLES / (name if name.endswith(".json") else f"{name}.json")
    if not path.is_file():
        known = ", ".join(p.stem for p in example_paths())
        raise FileNotFoundError(f"No built-in example {name!r} (there are: {known})")
    return path
