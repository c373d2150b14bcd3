"""Property: mutating a valid project file, with hostile values anywhere (integers of any
size, NaN and infinities, lone surrogates and control characters, nesting deeper than any
parser's recursion, lists of thousands of items), either loads or raises the project's own
error (ProjectFileError), never anything else; and what loads saves, prints (the summary)
and compiles, or raises the project's own error there too.

Derandomized, with a bounded number of examples, so the suite runs the same cases each time.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builder import CATALOG
from builder.compile import compile_network
from builder.summary import format_table, summarize
from graph import NeuralCanvasError, ProjectFileError
from graph import project_file as pf
from graph.errors import Problem

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "assets" / "examples").glob("*.json"))
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# compiling builds every weight: beyond this many parameters a network is only printed
COMPILE_MAX_PARAMETERS = 2_000_000


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

EDGE_INTEGERS = [
    0,
    -1,
    2**31,
    2**32 - 1,
    2**32,
    2**53 + 1,
    pf.MAX_INTEGER,
    pf.MAX_INTEGER + 1,
    -(pf.MAX_INTEGER + 2),
    2**64,
    10**400,
    -(10**400),
]
HOSTILE_CHARACTERS = "\x00\x1b\n\t\u202e\u200b\ufeff\ud800\udbff\udc00\udfff\U0010ffff"
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=12) | st.text(
    st.sampled_from(HOSTILE_CHARACTERS + "ab_"), max_size=6
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # any size
    | st.sampled_from(EDGE_INTEGERS)
    | st.floats()  # NaN and infinities included
    | st.sampled_from([1e308, -1e308, 5e-324, 1e-300, 0.5, math.nan, math.inf, -math.inf])
    | texts
)


def _nest(depth: int, kind: str) -> object:
    value: object = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"k": value}
    return value


deep = st.builds(_nest, st.integers(1, 1500), st.sampled_from(["list", "dict"]))
huge_lists = st.builds(lambda n, v: [v] * n, st.integers(1000, 20_000), scalars)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(texts | st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
) | st.one_of(deep, huge_lists)


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
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "insert", "flood"]))
        if action == "replace":
            parent[key] = draw(json_values)
        elif action == "delete":
            del parent[key]
        elif action == "duplicate" and isinstance(parent, list):
            # the same item again (shared, not copied: a deep value would exhaust copy's
            # recursion here, in the harness, before the loader saw it)
            parent.append(parent[key])
        elif action == "insert" and isinstance(parent, dict):
            parent[draw(texts)] = draw(json_values)
        elif action == "flood" and isinstance(parent, list):
            # many copies of one item: a long list of nodes, edges, dims ...
            parent.extend(parent[key] for _ in range(draw(st.integers(10, 200))))
    return doc


def _print_and_compile(project) -> None:
    """What every loaded file goes through: the summary printed, the network compiled."""
    for net in project.networks.values():
        summary = summarize(net)
        format_table(summary).encode("utf-8")
        json.dumps(summary, ensure_ascii=False).encode("utf-8")
        if summary["totals"]["parameters"] > COMPILE_MAX_PARAMETERS:
            continue
        try:
            compile_network(net, seed=0)
        except NeuralCanvasError as exc:
            assert not summary["valid"] or str(exc), summary["problems"]
        else:
            assert summary["valid"], summary["problems"]


@settings(FUZZ, max_examples=150)
@given(mutated())
def test_mutated_documents_load_print_and_compile_or_raise_project_error(doc):
    try:
        project = pf.from_dict(doc, CATALOG, "fuzz.json")
    except ProjectFileError as exc:
        assert str(exc).encode("utf-8")  # printable: the places hold no lone surrogate
        assert all(str(p) for p in exc.problems)
    else:
        # what loads saves (as UTF-8) and loads again to the same document
        text = pf.dumps(project)
        again = pf.loads(text.encode("utf-8"), CATALOG)
        assert pf.to_dict(again) == pf.to_dict(project)
        _print_and_compile(project)


@settings(FUZZ, max_examples=120)
@given(mutated())
def test_checking_nodes_and_edges_directly_agrees_with_the_schema(doc):
    """The loader checks plain nodes and edges without the schema; it finds what the
    schema finds over the whole document, message for message."""
    if pf.hostile_values(doc):
        return
    whole = sorted(
        pf._validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path]
    )
    expected = pf._dedupe(
        [Problem(pf.json_path(e.absolute_path), pf._schema_message(e)) for e in whole]
    )
    assert sorted(pf._schema_problems(doc), key=str) == sorted(expected, key=str)


@settings(FUZZ, max_examples=150)
@given(st.sampled_from(SEEDS), st.data())
def test_damaged_text_loads_or_raises_project_error(doc, data):
    text = json.dumps(doc).encode()
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(
        st.binary(max_size=6)
        | st.sampled_from([b"[" * 5000, b"9" * 5000, b"1e999", b'"\\ud800"', b"NaN", b"\xff"])
    )
    damaged = text[:cut] + junk + text[cut + len(junk) :]
    try:
        pf.loads(damaged, CATALOG)
    except ProjectFileError as exc:
        assert str(exc).encode("utf-8")
