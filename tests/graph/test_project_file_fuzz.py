"""Property: mutating a valid project file either still loads or raises the project's own
error (ProjectFileError), never anything else."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import CATALOG
from graph import ProjectFileError
from graph import project_file as pf

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "assets" / "examples").glob("*.json"))


def _small_doc() -> dict:
    from graph import Project

    project = Project(CATALOG, name="seed")
    net = project.add_network("main")
    i = net.add_node("Input", "x", {"shape": [4, 6]})
    r = net.add_node("LSTM", "rnn", {"hidden_size": 5, "output": "sequence"})
    a = net.add_node("MultiheadAttention", "att", {"num_heads": 5})
    s = net.add_node("Add", "skip")
    f = net.add_node("Flatten", "flat")
    o = net.add_node("Output", "y")
    net.connect(i, r)
    net.connect(r, a, "out", "query")
    net.connect(a, s, "out", "in1")
    net.connect(r, s, "out", "in2")
    net.connect(s, f)
    net.connect(f, o)
    return pf.to_dict(project)


SEEDS = [_small_doc()] + [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*prefix, i))


def _get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


@st.composite
def mutated(draw):
    doc = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths))
        if not path:
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "insert"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(json_values)
    return doc


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_documents_load_or_raise_project_error(doc):
    try:
        project = pf.from_dict(doc, CATALOG, "fuzz.json")
    except ProjectFileError as exc:
        assert str(exc)
        assert all(str(p) for p in exc.problems)
    else:
        # what loads saves and loads again to the same document
        again = pf.loads(pf.dumps(project), CATALOG)
        assert pf.to_dict(again) == pf.to_dict(project)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(SEEDS), st.data())
def test_damaged_text_loads_or_raises_project_error(doc, data):
    text = json.dumps(doc).encode()
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.binary(max_size=6))
    damaged = text[:cut] + junk + text[cut + len(junk) :]
    try:
        pf.loads(damaged, CATALOG)
    except ProjectFileError:
        pass
