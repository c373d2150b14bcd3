"""Project files that are valid JSON (or not files at all) but that the rest of the app
could not take: each is refused at load with ProjectFileError naming its place; loading
stays linear in the size of the file."""

from __future__ import annotations

import copy
import json
import os
import socket
from pathlib import Path

import pytest

import assets
from builder import CATALOG
from graph import Network, ProjectFileError
from graph import project_file as pf

BIG = "1" + "0" * 400  # 401 digits: no float holds it
XOR = json.loads(assets.example("xor_mlp").read_text(encoding="utf-8"))


def _node(type_id: str, name: str, params: dict) -> dict:
    return {"id": f"x_{name}", "type": type_id, "name": name, "params": params, "pos": [0, 0]}


def _variant(change) -> str:
    doc = copy.deepcopy(XOR)
    change(doc)
    # ASCII escapes keep lone surrogates as \ud800; markers become raw JSON numbers
    return (
        json.dumps(doc)
        .replace('"BIG"', BIG)
        .replace('"-BIG"', "-" + BIG)
        .replace('"1e400"', "1e400")
    )


def _nodes(doc: dict) -> list:
    return doc["models"]["main"]["nodes"]


def _deep_text(levels: int, opening: str = "[", closing: str = "]", inner: str = "") -> str:
    marked = _variant(lambda d: d["training"]["dataset"].__setitem__("extra", "DEEP"))
    return marked.replace('"DEEP"', opening * levels + inner + closing * levels)


SURROGATE = "h\ud800"
HOSTILE = {
    # name: (file text, place named in the message, what the message says)
    "position": (
        _variant(lambda d: _nodes(d)[1].__setitem__("pos", ["BIG", 0.0])),
        "models.main.nodes[1].pos[0]",
        "401 digits is too large",
    ),
    "negative-position": (
        _variant(lambda d: _nodes(d)[1].__setitem__("pos", [0.0, "-BIG"])),
        "models.main.nodes[1].pos[1]",
        "too large",
    ),
    "dropout-p": (
        _variant(lambda d: _nodes(d).insert(3, _node("Dropout", "drop", {"p": "BIG"}))),
        "models.main.nodes[3].params.p",
        "too large",
    ),
    "layernorm-eps": (
        _variant(lambda d: _nodes(d).insert(3, _node("LayerNorm", "ln", {"eps": "BIG"}))),
        "models.main.nodes[3].params.eps",
        "too large",
    ),
    "linear-out-features": (
        _variant(lambda d: _nodes(d)[1]["params"].__setitem__("out_features", "BIG")),
        "models.main.nodes[1].params.out_features",
        "too large",
    ),
    "input-shape": (
        _variant(lambda d: _nodes(d)[0]["params"].__setitem__("shape", [2, "BIG"])),
        "models.main.nodes[0].params.shape[1]",
        "too large",
    ),
    "lr": (
        _variant(lambda d: d["training"]["optimizer"].__setitem__("lr", "BIG")),
        "training.optimizer.lr",
        "too large",
    ),
    "clip-max": (
        _variant(lambda d: d["training"].__setitem__("clip", {"max": "BIG"})),
        "training.clip.max",
        "too large",
    ),
    "epochs": (
        _variant(lambda d: d["training"].__setitem__("epochs", "BIG")),
        "training.epochs",
        "too large",
    ),
    "lr-1e400": (
        _variant(lambda d: d["training"]["optimizer"].__setitem__("lr", "1e400")),
        "training.optimizer.lr",
        "NaN and infinite numbers are not allowed",
    ),
    "seed-2**64": (
        _variant(lambda d: d["training"].__setitem__("seed", 2**64)),
        "training.seed",
        "too large",
    ),
    "seed-2**40": (
        _variant(lambda d: d["training"].__setitem__("seed", 2**40)),
        "training.seed",
        "expected a value <= 4294967295",
    ),
    # the place is where the 40th level starts: training.dataset.extra and 37 levels more
    "nesting-400": (_deep_text(400), "training.dataset.extra" + "[0]" * 37, "nested too deeply"),
    "nesting-900": (_deep_text(900), "training.dataset.extra" + "[0]" * 37, "nested too deeply"),
    "nesting-900-objects": (
        _deep_text(900, '{"a": ', "}", "0"),
        "training.dataset.extra" + ".a" * 37,
        "nested too deeply",
    ),
    "nesting-100000": (_deep_text(100_000), "", "nested too deeply"),
    "surrogate-node-name": (
        _variant(lambda d: _nodes(d)[1].__setitem__("name", SURROGATE)),
        "models.main.nodes[1].name",
        "invalid character (\\ud800, half of a surrogate pair, at position 2)",
    ),
    "surrogate-node-id": (
        _variant(lambda d: _nodes(d)[1].__setitem__("id", SURROGATE)),
        "models.main.nodes[1].id",
        "invalid character",
    ),
    "surrogate-project-name": (
        _variant(lambda d: d.__setitem__("name", "\udfff")),
        "name",
        "invalid character (\\udfff",
    ),
    "surrogate-description": (
        _variant(lambda d: d.__setitem__("description", "ok " + SURROGATE)),
        "description",
        "at position 5",
    ),
    "surrogate-network-name": (
        _variant(lambda d: d["models"].__setitem__(SURROGATE, d["models"].pop("main"))),
        'models["h\\ud800"]',
        "the field name holds an invalid character",
    ),
    "surrogate-dataset-path": (
        _variant(
            lambda d: d["training"].__setitem__("dataset", {"name": "csv", "path": SURROGATE})
        ),
        "training.dataset.path",
        "invalid character",
    ),
    "surrogate-param": (
        _variant(lambda d: _nodes(d)[0]["params"].__setitem__("dtype", SURROGATE)),
        "models.main.nodes[0].params.dtype",
        "invalid character",
    ),
    "surrogate-edge-port": (
        _variant(lambda d: d["models"]["main"]["edges"][0].__setitem__("to_port", SURROGATE)),
        "models.main.edges[0].to_port",
        "invalid character",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_values_are_refused_with_their_place(case, tmp_path):
    text, place, says = HOSTILE[case]
    path = tmp_path / "hostile.json"
    path.write_text(text, encoding="ascii")

    with pytest.raises(ProjectFileError) as info:
        pf.load(path, CATALOG)

    message = str(info.value)
    assert message.startswith(f"Cannot open {path}: ")
    assert f"{place}: " in message if place else True
    assert says in message
    message.encode("utf-8")  # printable: no lone surrogate reaches the message
    assert len(message) < 1000


def test_every_hostile_value_of_a_file_is_listed():
    doc = copy.deepcopy(XOR)
    _nodes(doc)[1]["pos"] = [10**400, -(10**30)]
    _nodes(doc)[2]["name"] = SURROGATE
    doc["training"]["seed"] = 2**70
    with pytest.raises(ProjectFileError) as info:
        pf.from_dict(doc, CATALOG, "f.json")
    places = sorted(p.path for p in info.value.problems)
    assert places == [
        "models.main.nodes[1].pos[0]",
        "models.main.nodes[1].pos[1]",
        "models.main.nodes[2].name",
        "training.seed",
    ]


def test_thousands_of_digits_are_refused_in_words():
    text = _variant(lambda d: d["training"].__setitem__("epochs", "HUGE")).replace(
        '"HUGE"', "9" * 5000
    )
    with pytest.raises(ProjectFileError, match="a number has thousands of digits"):
        pf.loads(text, CATALOG, "f.json")


def test_largest_allowed_numbers_load():
    doc = copy.deepcopy(XOR)
    _nodes(doc)[1]["pos"] = [pf.MAX_INTEGER, -pf.MAX_INTEGER]
    doc["training"]["seed"] = 2**32 - 1
    doc["training"]["extra"] = [[[[[[[[1]]]]]]]]  # deep enough for any real setting
    project = pf.from_dict(doc, CATALOG)
    assert project.network().pos_of("n2") == (float(pf.MAX_INTEGER), -float(pf.MAX_INTEGER))
    assert project.training["seed"] == 2**32 - 1


# ----------------------------------------------------------------------------- not files


def _fifo(folder: Path) -> Path:
    os.mkfifo(folder / "pipe.json")
    return folder / "pipe.json"


def _socket(folder: Path) -> Path:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(folder / "sock.json"))
    sock.close()
    return folder / "sock.json"


def _link_to_zero(folder: Path) -> Path:
    (folder / "zero.json").symlink_to("/dev/zero")
    return folder / "zero.json"


@pytest.mark.parametrize(
    "make, says",
    [
        (lambda f: Path("/dev/zero"), "is not a regular file (a device)"),
        (_link_to_zero, "is not a regular file (a device)"),
        (_fifo, "is not a regular file (a named pipe)"),  # would block forever if opened
        (_socket, "is not a regular file (a socket)"),
        (lambda f: f, "is a folder, not a file"),
        (lambda f: f / "none.json", "the file does not exist"),
        (lambda f: f / "none" / "x.json", "the file does not exist"),
        (lambda f: f / ("x" * 5000), "File name too long"),
        (lambda f: f / "a\0b", "NUL character"),
    ],
    ids=[
        "dev-zero",
        "link-to-dev-zero",
        "fifo",
        "socket",
        "folder",
        "missing",
        "missing-dir",
        "name-too-long",
        "nul",
    ],
)
def test_only_regular_files_are_read(tmp_path, make, says):
    path = make(tmp_path)
    with pytest.raises(ProjectFileError) as info:
        pf.load(path, CATALOG)
    assert str(info.value) == f"Cannot open {path}: " + str(info.value).split(": ", 1)[1]
    assert says in str(info.value)
    assert "is a folder" not in str(info.value) or path == tmp_path


def test_a_file_over_the_cap_is_refused_from_its_size(tmp_path):
    path = tmp_path / "big.json"
    with open(path, "wb") as f:
        f.truncate(pf.MAX_FILE_BYTES + 2**20)  # sparse: nothing is written or read
    with pytest.raises(
        ProjectFileError, match="the file is 51 MB; a project file is at most 50 MB"
    ):
        pf.load(path, CATALOG)


def test_at_most_the_cap_and_one_byte_is_read_whatever_the_size_says():
    # /proc files report a size of 0 and still hold bytes
    with pytest.raises(ProjectFileError, match="the file is over 10 bytes; .* at most 10 bytes"):
        pf.read_regular_file(Path("/proc/self/status"), 10, "status")
    assert b"Name:" in pf.read_regular_file(Path("/proc/self/status"), 10**6, "status")


# ----------------------------------------------------------------------------- linear loading


def _chain(n: int, edges_backwards: bool) -> dict:
    nodes = [{"id": "n0", "type": "Input", "name": "in", "params": {"shape": [4]}}]
    nodes += [{"id": f"n{i}", "type": "ReLU", "name": f"relu_{i}"} for i in range(1, n - 1)]
    nodes.append({"id": f"n{n - 1}", "type": "Output", "name": "out", "pos": [1.0, 2]})
    edges = [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(n - 1)]
    if edges_backwards:
        edges.reverse()
    return {"format": pf.FORMAT, "version": 1, "models": {"main": {"nodes": nodes, "edges": edges}}}


@pytest.mark.parametrize("edges_backwards", [False, True])
def test_a_large_acyclic_file_loads_without_searching_for_cycles(edges_backwards, monkeypatch):
    searches, schema_items = [], []
    monkeypatch.setattr(Network, "_reaches", lambda *a: searches.append(a) or False)
    real_item_validator = pf._item_validator
    monkeypatch.setattr(
        pf, "_item_validator", lambda key: schema_items.append(key) or real_item_validator(key)
    )
    project = pf.from_dict(_chain(3000, edges_backwards), CATALOG)

    net = project.network()
    assert len(net) == 3000 and len(net.edges()) == 2999
    assert net.topological_order()[:3] == ["n0", "n1", "n2"]
    assert searches == [] and schema_items == []


def test_a_cycle_in_a_large_file_is_still_found_and_named():
    doc = _chain(3000, edges_backwards=True)
    doc["models"]["main"]["edges"].insert(0, {"from": "n2000", "to": "n1000", "to_port": "in"})
    doc["models"]["main"]["nodes"][1000]["type"] = "Add"  # two inputs: in1, in2
    edges = doc["models"]["main"]["edges"]
    for e in edges:
        if e["to"] == "n1000":
            e["to_port"] = "in1" if e["from"] == "n999" else "in2"
    with pytest.raises(ProjectFileError) as info:
        pf.from_dict(doc, CATALOG, "f.json")
    (problem,) = info.value.problems
    # edges are added in the file's order: the one that closes the loop is refused
    assert problem.path.startswith("models.main.edges[")
    assert "would make a cycle" in problem.message


def test_a_long_list_in_the_training_section_saves_in_one_pass(tmp_path):
    # A list of thousands of numbers that ends in an object: the layout step once took
    # hours on it (a backtracking regular expression); it is now one pass over the lines.
    project = pf.load(assets.example("xor_mlp"), CATALOG)
    project.training["notes"] = [*range(20000), {"k": 1}]
    project.training["shape"] = [1, 8, 8]
    text = pf.dumps(project)
    assert '"shape": [1, 8, 8]' in text  # short scalar lists still on one line
    assert text.count("\n") > 20000  # the mixed list stays one item per line
    assert json.loads(text)["training"]["notes"][-1] == {"k": 1}
