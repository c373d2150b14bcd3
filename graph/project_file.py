"""The project file: versioned JSON (never pickle), validated on load, written atomically.

Loading reports every problem with the JSON path of its place, e.g.
``models.main.nodes[3].params.kernel_size: expected a positive integer, got -2``.
A file from a newer format version is refused; older versions pass through ``MIGRATIONS``.
See docs/project-format.md.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import gc
import json
import math
import os
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from graph.atomic import _UMASK, atomic_write_text  # noqa: F401 (re-exported)
from graph.document import Network, Project
from graph.errors import EditError, Problem, ProjectFileError
from graph.untrusted import (  # noqa: F401 (MAX_DEPTH, MAX_INTEGER re-exported)
    MAX_DEPTH,
    MAX_INTEGER,
    hostile_values,
    json_path,
    read_regular_file,
)
from graph.weights import WeightsError, check_weights

FORMAT = "neuralcanvas-project"
VERSION = 1
MAX_FILE_BYTES = 50 * 1024 * 1024

# MIGRATIONS[v] turns a format-v document into a format-(v+1) one. Each step is a pure
# function on plain dicts, so an old file is upgraded in memory and saved in the new format.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _schema_path() -> Path:
    return Path(__file__).resolve().parent.parent / "assets" / "project.schema.json"


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The project file's JSON Schema (``assets/project.schema.json``)."""
    try:
        import assets

        path = assets.SCHEMA
    except ImportError:  # running from a source tree without the assets package on the path
        path = _schema_path()
    return json.loads(Path(path).read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema())
    return cls(schema())


# ----------------------------------------------------------------------------- messages


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        short = value if len(value) <= 40 else value[:37] + "..."
        return f"text ({json.dumps(short, ensure_ascii=False)})"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


_TYPE_WORDS = {
    "object": "an object",
    "array": "a list",
    "string": "text",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _schema_message(error: jsonschema.ValidationError) -> str:
    v = error.validator
    if v == "required":
        missing = [r for r in error.validator_value if r not in (error.instance or {})]
        return f"missing field {missing[0]!r}" if missing else error.message
    if v == "type":
        want = error.validator_value
        words = " or ".join(
            _TYPE_WORDS.get(w, w) for w in (want if isinstance(want, list) else [want])
        )
        return f"expected {words}, got {_describe(error.instance)}"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"unknown field {extra[0]!r}" if extra else error.message
    if v == "const":
        return f"expected {json.dumps(error.validator_value)}, got {_describe(error.instance)}"
    if v in ("minimum", "exclusiveMinimum"):
        cmp = ">=" if v == "minimum" else ">"
        return f"expected a value {cmp} {error.validator_value}, got {_describe(error.instance)}"
    if v in ("maximum", "exclusiveMaximum"):
        cmp = "<=" if v == "maximum" else "<"
        return f"expected a value {cmp} {error.validator_value}, got {_describe(error.instance)}"
    if v == "minLength":
        return "cannot be empty"
    if v == "maxLength":
        return f"is too long (at most {error.validator_value} characters)"
    if v == "minProperties":
        return "needs at least one entry"
    if v in ("minItems", "maxItems"):
        return f"expected two numbers [x, y], got {_describe(error.instance)}"
    if v == "oneOf":
        return f'expected a positive integer or "full", got {_describe(error.instance)}'
    return error.message


def _schema_problems(data: dict[str, Any]) -> list[Problem]:
    """The schema's problems with ``data``, sorted by place.

    A file holds thousands of nodes and edges and checking each against the schema costs
    far more than the rest of loading, so the common shape of a node or an edge is checked
    directly (:func:`_plain_item`); only the items that fail that check go to the schema,
    each for its own messages, with the rest of the document checked without them."""
    skeleton: dict[str, Any] = data
    suspects: list[tuple[list[str | int], str, Any]] = []
    models = data.get("models")
    if isinstance(models, dict):
        skeleton = {**data, "models": dict(models)}
        for name, net in models.items():
            if not isinstance(net, dict):
                continue
            net = dict(net)
            for key in ("nodes", "edges"):
                items = net.get(key)
                if isinstance(items, list):
                    net[key] = []
                    suspects += [
                        (["models", name, key, i], key, item)
                        for i, item in enumerate(items)
                        if not _plain_item(key, item)
                    ]
            skeleton["models"][name] = net
    found = [(list(e.absolute_path), e) for e in _validator().iter_errors(skeleton)]
    for where, key, item in suspects:
        found += [([*where, *e.absolute_path], e) for e in _item_validator(key).iter_errors(item)]
    found.sort(key=lambda pe: [str(p) for p in pe[0]])
    return _dedupe([Problem(json_path(p), _schema_message(e)) for p, e in found])


@lru_cache(maxsize=2)
def _item_validator(key: str) -> jsonschema.protocols.Validator:
    return _validator().evolve(schema=schema()["$defs"][key[:-1]])


@lru_cache(maxsize=2)
def _item_rules(key: str) -> tuple[frozenset[str], frozenset[str], dict[str, tuple[int, float]]]:
    """For ``nodes`` or ``edges``: the fields an item may have, those it needs, and its text
    fields with their (least, most) lengths, as the schema says."""
    item = schema()["$defs"][key[:-1]]
    rules = item["properties"]
    texts = {
        field: (rule.get("minLength", 0), rule.get("maxLength", math.inf))
        for field, rule in rules.items()
        if rule.get("type") == "string"
    }
    return frozenset(rules), frozenset(item.get("required", ())), texts


def _plain_item(key: str, item: Any) -> bool:
    """True when ``item`` certainly passes the schema of a node (``key`` = "nodes") or an
    edge ("edges"); False sends it to the schema for the messages."""
    if type(item) is not dict:
        return False
    fields, required, texts = _item_rules(key)
    if not (required <= item.keys() <= fields):
        return False
    for field, (least, most) in texts.items():
        if field in item:
            value = item[field]
            if type(value) is not str or not least <= len(value) <= most:
                return False
    if key == "nodes":
        if "params" in item and type(item["params"]) is not dict:
            return False
        if "weights" in item and type(item["weights"]) is not dict:
            return False
        if "trainable" in item and type(item["trainable"]) is not bool:
            return False
        if "pos" in item:
            pos = item["pos"]
            if type(pos) is not list or len(pos) != 2:
                return False
            if type(pos[0]) not in (int, float) or type(pos[1]) not in (int, float):
                return False
    return True


# ----------------------------------------------------------------------------- load


def loads(text: str | bytes, specs: Any, source: str = "<text>") -> Project:
    """Parse, migrate, validate and build a project; raise :class:`ProjectFileError`."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ProjectFileError(
                source, [Problem("", f"not UTF-8 text (byte {exc.start}): is this a project file?")]
            ) from None

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not allowed in a project file")

    with _no_gc():
        return _parse_and_build(text, specs, source, no_constants)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused: parsing and building a large file creates
    millions of objects and none of them is garbage yet (a quarter of the load time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _parse_and_build(text: str, specs: Any, source: str, no_constants: Any) -> Project:
    try:
        data = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(
            source,
            [Problem("", f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
        ) from None
    except RecursionError:
        msg = f"not valid JSON: nested too deeply (a project file nests at most {MAX_DEPTH} levels)"
        raise ProjectFileError(source, [Problem("", msg)]) from None
    except ValueError as exc:
        msg = str(exc)
        if "integer string conversion" in msg:  # Python's limit on the digits of an integer
            msg = f"a number has thousands of digits; numbers are at most {MAX_INTEGER}"
        raise ProjectFileError(source, [Problem("", f"not valid JSON: {msg}")]) from None
    return from_dict(data, specs, source)


def load(path: str | os.PathLike[str], specs: Any) -> Project:
    """Read the project file at ``path``: a regular file of at most :data:`MAX_FILE_BYTES`."""
    path = Path(path)
    source = str(path)
    return loads(read_regular_file(path, MAX_FILE_BYTES, source), specs, source)


def migrate(data: dict[str, Any], source: str = "") -> dict[str, Any]:
    """Bring a document of an older format version up to :data:`VERSION`."""
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return data  # the schema reports it
    if version > VERSION:
        raise ProjectFileError(
            source,
            message=(
                f"Cannot open {source or 'this project'}: it was saved by a newer NeuralCanvas"
                f" (file format version {version}; this version reads up to {VERSION})."
                " Update NeuralCanvas to open it."
            ),
        )
    if version == VERSION:
        return data
    data = copy.deepcopy(data)  # the steps may change it in place
    while data["version"] < VERSION:
        step = MIGRATIONS.get(data["version"])
        if step is None:
            raise ProjectFileError(
                source,
                message=(
                    f"Cannot open {source or 'this project'}: file format version"
                    f" {data['version']} is no longer supported"
                ),
            )
        old = data["version"]
        data = step(data)
        data["version"] = old + 1
    return data


def from_dict(data: Any, specs: Any, source: str = "<data>") -> Project:
    """Build a project from the parsed JSON document, reporting every problem found."""
    hostile = hostile_values(data)
    if hostile:
        raise ProjectFileError(source, hostile)
    if not isinstance(data, dict):
        raise ProjectFileError(
            source, [Problem("", f"expected a JSON object, got {_describe(data)}")]
        )
    if data.get("format") not in (FORMAT, None):
        raise ProjectFileError(
            source, [Problem("format", f"expected {FORMAT!r}: this is not a NeuralCanvas project")]
        )
    data = migrate(data, source)
    problems = _schema_problems(data)
    if problems:
        raise ProjectFileError(source, problems)

    project = Project(
        specs, name=data.get("name", "Untitled"), description=data.get("description", "")
    )
    if "training" in data:
        project.training = copy.deepcopy(data["training"])
    problems: list[Problem] = []
    for net_name, net_data in data["models"].items():
        base = ["models", net_name]
        try:
            net = project.add_network(net_name)
        except EditError as exc:
            problems.append(Problem(json_path(base), str(exc)))
            continue
        problems += _build_network(net, net_data, base)
    if problems:
        raise ProjectFileError(source, problems)
    return project


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[Problem] = set()
    return [p for p in problems if not (p in seen or seen.add(p))]


def _build_network(net: Network, data: dict[str, Any], base: list[str | int]) -> list[Problem]:
    problems: list[Problem] = []
    specs = net.specs
    names: dict[str, int] = {}
    ids: dict[str, int] = {}
    for i, node in enumerate(data["nodes"]):
        where = [*base, "nodes", i]
        node_id, type_id, name = node["id"], node["type"], node["name"]
        if node_id in ids:
            problems.append(
                Problem(
                    json_path([*where, "id"]),
                    f"duplicate id {node_id!r} (also nodes[{ids[node_id]}])",
                )
            )
            continue
        ids[node_id] = i
        if not specs.has_type(type_id):
            problems.append(Problem(json_path([*where, "type"]), _unknown_type(specs, type_id)))
            continue
        if name in names:
            problems.append(
                Problem(
                    json_path([*where, "name"]),
                    f"duplicate name {name!r} (also nodes[{names[name]}]): names must be unique",
                )
            )
            continue
        names[name] = i
        params = node.get("params", {})
        defaults = specs.default_params(type_id)
        bad = False
        for key, value in params.items():
            if key not in defaults:
                known = ", ".join(sorted(defaults)) or "none"
                msg = f"unknown parameter for {type_id} (its parameters: {known})"
                problems.append(Problem(json_path([*where, "params", key]), msg))
                bad = True
                continue
            try:
                specs.check_param(type_id, key, value)
            except ValueError as exc:
                problems.append(Problem(json_path([*where, "params", key]), str(exc)))
                bad = True
        weights = node.get("weights")
        if weights is not None:
            try:
                weights = check_weights(weights)
            except WeightsError as exc:
                inner = exc.path.split(".", 1)[1:]  # "weights.weight[1]" -> "weight[1]"
                at = json_path([*where, "weights"]) + ("." + inner[0] if inner else "")
                problems.append(Problem(at, str(exc).split(": ", 1)[-1]))
                bad = True
        if bad:
            continue
        try:
            pos = tuple(node.get("pos", (0.0, 0.0)))
            trainable = node.get("trainable", True)
            net.add_node(type_id, name, params, pos, node_id, weights, trainable)
        except EditError as exc:
            problems.append(Problem(json_path(where), str(exc)))
    wanted: list[tuple[str, str, str, str]] = []
    indices: list[int] = []
    edge_problems: list[tuple[int, Problem]] = []
    for j, edge in enumerate(data.get("edges", [])):
        where = [*base, "edges", j]
        missing = [k for k in ("from", "to") if edge[k] not in net]
        for k in missing:
            if edge[k] not in ids:  # a node that exists but failed to load is reported already
                msg = f"node {edge[k]!r} does not exist"
                edge_problems.append((j, Problem(json_path([*where, k]), msg)))
        if missing:
            continue
        wanted.append(
            (edge["from"], edge["to"], edge.get("from_port", "out"), edge.get("to_port", "in"))
        )
        indices.append(j)
    for i, exc in net.connect_all(wanted):
        j = indices[i]
        edge_problems.append((j, Problem(json_path([*base, "edges", j]), str(exc))))
    edge_problems.sort(key=lambda jp: jp[0])  # in the file's order
    return problems + [p for _, p in edge_problems]


def _unknown_type(specs: Any, type_id: str) -> str:
    known = list(getattr(specs, "type_ids", lambda: [])())
    close = difflib.get_close_matches(type_id, known, n=1)
    hint = f": did you mean {close[0]!r}?" if close else ""
    return f"unknown layer type {type_id!r}{hint}"


# ----------------------------------------------------------------------------- save


def to_dict(project: Project) -> dict[str, Any]:
    """The JSON document of a project (plain dicts, lists, strings and numbers)."""
    models: dict[str, Any] = {}
    for name, net in project.networks.items():
        nodes = []
        for node_id, d in net.iter_nodes():
            node = {
                "id": node_id,
                "type": d["type"],
                "name": d["name"],
                "params": _plain(d["params"]),
                "pos": [d["pos"][0], d["pos"][1]],
            }
            if d.get("weights") is not None:
                node["weights"] = _plain(d["weights"])
            if not d.get("trainable", True):
                node["trainable"] = False
            nodes.append(node)
        order = {n: i for i, n in enumerate(net.nodes)}
        ordered = sorted(
            net.edges(), key=lambda e: (order[e.src], e.src_port, order[e.dst], e.dst_port)
        )
        edges = [
            {"from": e.src, "from_port": e.src_port, "to": e.dst, "to_port": e.dst_port}
            for e in ordered
        ]
        models[name] = {"nodes": nodes, "edges": edges}
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": project.name,
        "description": project.description,
        "models": models,
        "training": _plain(project.training),
    }


def dumps(project: Project) -> str:
    """Indented JSON with short lists of numbers or strings (shapes, positions) on one line."""
    return _inline_scalar_lists(json.dumps(to_dict(project), indent=2, ensure_ascii=False)) + "\n"


def _inline_scalar_lists(text: str) -> str:
    """Put each list whose items are all scalars (no bracket or brace in them) on its
    opening line, in one pass over the lines: linear in the text, however long or deep a
    hostile project's lists are. Raw newlines never occur inside JSON strings, so only
    layout whitespace is joined."""
    lines = text.split("\n")
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        i += 1
        if not line.endswith("["):
            out.append(line)
            continue
        j = i
        while j < n and not lines[j].lstrip().startswith("]"):
            if any(c in lines[j] for c in "[]{}"):
                break
            j += 1
        if j == i or j == n or not lines[j].lstrip().startswith("]"):
            out.append(line)  # empty, or an item holds a list or an object: left as it is
            continue
        items = " ".join(item.lstrip() for item in lines[i:j])
        out.append(line + items + lines[j].lstrip())
        i = j + 1
    return "\n".join(out)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def save(project: Project, path: str | os.PathLike[str]) -> None:
    """Write atomically: a temporary file in the same folder, flushed, then renamed over
    ``path``; a crash mid-write leaves the previous file intact."""
    atomic_write_text(Path(path), dumps(project))
