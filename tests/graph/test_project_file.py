"""The project file: versioned JSON, every problem reported with its JSON path, atomic saves."""

from __future__ import annotations

import copy
import json
import os

import pytest

from builder import CATALOG
from graph import Project, ProjectFileError
from graph import project_file as pf


def small_project() -> Project:
    project = Project(CATALOG, name="Digits", description="tiny CNN")
    net = project.add_network("main")
    i = net.add_node("Input", "image", {"shape": [1, 8, 8]}, pos=(0, 0))
    c = net.add_node("Conv2d", "conv", {"out_channels": 4, "kernel_size": [3, 3]}, pos=(180, 0))
    f = net.add_node("Flatten", "flat", pos=(360, 0))
    p = net.add_node("Linear", "fc", {"out_features": 10}, pos=(540, 0))
    o = net.add_node("Output", "logits", pos=(720, 0))
    for a, b in [(i, c), (c, f), (f, p), (p, o)]:
        net.connect(a, b)
    project.training["epochs"] = 3
    return project


@pytest.fixture
def doc() -> dict:
    return pf.to_dict(small_project())


def load_problems(data) -> list[str]:
    text = data if isinstance(data, str) else json.dumps(data)
    with pytest.raises(ProjectFileError) as info:
        pf.loads(text, CATALOG, "p.json")
    return [str(p) for p in info.value.problems] or [str(info.value)]


def test_round_trip_through_a_file(tmp_path):
    project = small_project()
    path = tmp_path / "p.json"
    pf.save(project, path)
    again = pf.load(path, CATALOG)
    assert pf.to_dict(again) == pf.to_dict(project)
    assert again.network().params_of(again.network().find("conv"))["kernel_size"] == (3, 3)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text)["version"] == pf.VERSION and json.loads(text)["format"] == pf.FORMAT


def test_bad_param_is_reported_with_its_json_path(doc):
    doc["models"]["main"]["nodes"][1]["params"]["kernel_size"] = -2
    problems = load_problems(doc)
    assert problems == [
        "models.main.nodes[1].params.kernel_size: expected a positive integer, got -2"
    ]


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (
            lambda d: d["models"]["main"]["nodes"][0].pop("type"),
            "models.main.nodes[0]: missing field 'type'",
        ),
        (
            lambda d: d["training"].update(epochs="ten"),
            'training.epochs: expected an integer, got text ("ten")',
        ),
        (
            lambda d: d["models"]["main"]["nodes"][2].update(type="Flaten"),
            "models.main.nodes[2].type: unknown layer type 'Flaten': did you mean 'Flatten'?",
        ),
        (
            lambda d: d["models"]["main"]["nodes"][2].update(name="conv"),
            "models.main.nodes[2].name: duplicate name 'conv' (also nodes[1]): names must be unique",
        ),
        (
            lambda d: d["models"]["main"]["edges"][0].update(to="n99"),
            "models.main.edges[0].to: node 'n99' does not exist",
        ),
        (
            lambda d: d["models"]["main"]["nodes"][3]["params"].update(colour=1),
            "models.main.nodes[3].params.colour: unknown parameter for Linear",
        ),
        (lambda d: d.update(extra=1), "unknown field 'extra'"),
        (
            lambda d: d["models"]["main"].update(nodes={}),
            "models.main.nodes: expected a list, got an object",
        ),
        (
            lambda d: d["models"]["main"]["nodes"][0].update(pos=[1]),
            "models.main.nodes[0].pos: expected two numbers",
        ),
        (
            lambda d: d["models"]["main"]["nodes"][0]["params"].update(shape=[1, 0, 8]),
            "models.main.nodes[0].params.shape: expected a positive integer, got [1, 0, 8]",
        ),
    ],
)
def test_each_kind_of_problem_names_its_place(doc, mutate, expected):
    mutate(doc)
    problems = load_problems(doc)
    assert any(p.startswith(expected) for p in problems), problems


def test_cycle_and_double_input_are_reported(doc):
    edges = doc["models"]["main"]["edges"]
    ids = [n["id"] for n in doc["models"]["main"]["nodes"]]
    edges.append({"from": ids[3], "from_port": "out", "to": ids[1], "to_port": "in"})
    problems = load_problems(doc)
    assert problems == [
        "models.main.edges[4]: Input 'in' of 'conv' is already connected to 'image': disconnect it first or use another input"
    ]
    del edges[-1]
    del edges[2]  # flat -> fc
    doc["models"]["main"]["nodes"].append({"id": "m", "type": "Add", "name": "sum", "params": {}})
    edges += [
        {"from": ids[2], "to": "m", "to_port": "in1"},
        {"from": ids[3], "to": "m", "to_port": "in2"},
    ]
    edges.append({"from": "m", "to": ids[3]})
    problems = load_problems(doc)
    assert problems == [
        "models.main.edges[5]: Connecting 'sum' to 'fc' would make a cycle: a network must flow"
        " one way (use a recurrent layer for loops in time)"
    ]


def test_malformed_json_names_line_and_column():
    (problem,) = load_problems('{\n  "format": "neuralcanvas-project",\n  "version": 1,,\n}')
    assert problem.startswith("not valid JSON at line 3, column 16")


@pytest.mark.parametrize(
    "text", ["[]", "42", '"x"', "null", "NaN", '{"version": 1e999}', "[" * 100000]
)
def test_non_projects_are_refused_cleanly(text):
    with pytest.raises(ProjectFileError):
        pf.loads(text, CATALOG)


def test_newer_version_is_refused_with_advice(doc):
    doc["version"] = pf.VERSION + 1
    with pytest.raises(
        ProjectFileError, match="saved by a newer NeuralCanvas.*Update NeuralCanvas"
    ):
        pf.loads(json.dumps(doc), CATALOG)


def test_older_version_goes_through_the_migration_hook(doc, monkeypatch):
    old = copy.deepcopy(doc)
    old["version"] = pf.VERSION - 1
    for net in old["models"].values():
        net["layers"] = net.pop("nodes")

    def rename_layers(d):
        for net in d["models"].values():
            net["nodes"] = net.pop("layers")
        return d

    with pytest.raises(ProjectFileError, match="no longer supported"):
        pf.loads(json.dumps(old), CATALOG)
    monkeypatch.setitem(pf.MIGRATIONS, pf.VERSION - 1, rename_layers)
    project = pf.loads(json.dumps(old), CATALOG)
    assert pf.to_dict(project) == doc


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ProjectFileError, match="does not exist"):
        pf.load(tmp_path / "nope.json", CATALOG)
    with pytest.raises(ProjectFileError, match="is a folder"):
        pf.load(tmp_path, CATALOG)


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    pf.save(small_project(), path)
    before = path.read_bytes()
    changed = small_project()
    changed.name = "changed"

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        pf.save(changed, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["p.json"]


def test_save_keeps_permissions_and_reads_well(tmp_path):
    path = tmp_path / "p.json"
    pf.save(small_project(), path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~pf._UMASK
    os.chmod(path, 0o640)
    pf.save(small_project(), path)
    assert path.stat().st_mode & 0o777 == 0o640
    text = path.read_text(encoding="utf-8")
    assert '"shape": [1, 8, 8]' in text and '"kernel_size": [3, 3]' in text


def test_non_finite_numbers_are_refused_with_their_path(doc):
    doc["training"]["momentum_schedule"] = [1.0, float("inf")]
    with pytest.raises(ProjectFileError) as info:
        pf.from_dict(doc, CATALOG)
    assert [str(p) for p in info.value.problems] == [
        "training.momentum_schedule[1]: NaN and infinite numbers are not allowed: use a finite number"
    ]
