"""The documentation stays true: its example loads, the layer reference matches the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from builder import CATALOG, compile_network
from builder.catalog.reference import markdown
from graph import project_file as pf

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_project_format_example_loads_and_compiles():
    text = (DOCS / "project-format.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(.*?)```", text, re.S).group(1)
    project = pf.loads(example, CATALOG)
    assert compile_network(project.network("main")) is not None


def test_layer_reference_is_generated_from_the_catalog():
    assert (DOCS / "layers.md").read_text(encoding="utf-8") == markdown(), (
        "docs/layers.md is stale: run python -m builder.catalog.reference > docs/layers.md"
    )
    for spec in CATALOG:
        assert f"### {spec.type_id}\n" in markdown()
