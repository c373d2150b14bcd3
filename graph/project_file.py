"""The project file: versioned JSON (never pickle), validated on load, written atomically.

Loading reports every problem with the JSON path of its place, e.g.
``models.main.nodes[3].params.kernel_size: expected a positive integer, got -2``.
A file from a newer format version is refused; older versions pass through ``MIGRATIONS``.
See docs/project-format.md.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import os
import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from graph.atomic import _UMASK, atomic_write_text  # noqa: F401 (re-exported)
from graph.document import Network, Project
from graph.errors import EditError, Problem, ProjectFileError

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


# ----------------------------------------------------------------------------- paths


def json_path(parts: Iterable[str | int]) -> str:
    """``["models", "main", "nodes", 3]`` -> ``models.main.nodes[3]``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part, ensure_ascii=False)}]"
    return out


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

    try:
        data = json.loads(text, parse_constant=no_constants)
    except json.JSONDecodeError as exc:
        raise ProjectFileError(
            source,
            [Problem("", f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
        ) from None
    except (ValueError, RecursionError) as exc:
        msg = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ProjectFileError(source, [Problem("", f"not valid JSON: {msg}")]) from None
    return from_dict(data, specs, source)


def load(path: str | os.PathLike[str], specs: Any) -> Project:
    """Read the project file at ``path``."""
    path = Path(path)
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ProjectFileError(
                source,
                [Problem("", f"the file is {size // 2**20} MB; a project file is at most 50 MB")],
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProjectFileError(
            source, message=f"Cannot open {source}: the file does not exist"
        ) from None
    except IsADirectoryError:
        raise ProjectFileError(
            source, message=f"Cannot open {source}: it is a folder, not a file"
        ) from None
    except OSError as exc:
        raise ProjectFileError(
            source, message=f"Cannot open {source}: {exc.strerror or exc}"
        ) from None
    return loads(raw, specs, source)


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
    data = copy.deepcopy(data)
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
    if not isinstance(data, dict):
        raise ProjectFileError(
            source, [Problem("", f"expected a JSON object, got {_describe(data)}")]
        )
    if data.get("format") not in (FORMAT, None):
        raise ProjectFileError(
            source, [Problem("format", f"expected {FORMAT!r}: this is not a NeuralCanvas project")]
        )
    data = migrate(data, source)
    bad_numbers = list(_non_finite(data, []))
    if bad_numbers:
        raise ProjectFileError(
            source,
            [
                Problem(
                    json_path(p), "NaN and infinite numbers are not allowed: use a finite number"
                )
                for p in bad_numbers
            ],
        )
    errors = sorted(_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        problems = [Problem(json_path(e.absolute_path), _schema_message(e)) for e in errors]
        raise ProjectFileError(source, _dedupe(problems))

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


def _non_finite(value: Any, path: list[str | int]) -> Iterable[list[str | int]]:
    if isinstance(value, float) and not math.isfinite(value):
        yield list(path)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _non_finite(v, [*path, str(k)])
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _non_finite(v, [*path, i])


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
        if bad:
            continue
        try:
            net.add_node(type_id, name, params, tuple(node.get("pos", (0.0, 0.0))), node_id)
        except EditError as exc:
            problems.append(Problem(json_path(where), str(exc)))
    for j, edge in enumerate(data.get("edges", [])):
        where = [*base, "edges", j]
        missing = [k for k in ("from", "to") if edge[k] not in net]
        for k in missing:
            if edge[k] not in ids:  # a node that exists but failed to load is reported already
                problems.append(Problem(json_path([*where, k]), f"node {edge[k]!r} does not exist"))
        if missing:
            continue
        try:
            net.connect(
                edge["from"], edge["to"], edge.get("from_port", "out"), edge.get("to_port", "in")
            )
        except EditError as exc:
            problems.append(Problem(json_path(where), str(exc)))
    return problems


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
            nodes.append(
                {
                    "id": node_id,
                    "type": d["type"],
                    "name": d["name"],
                    "params": _plain(d["params"]),
                    "pos": [d["pos"][0], d["pos"][1]],
                }
            )
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
    # Raw newlines never occur inside JSON strings, so only layout whitespace is joined.
    def join(match: re.Match[str]) -> str:
        return "[" + re.sub(r",\n\s*", ", ", match.group(1)) + "]"

    return re.sub(r"\[\n\s*([^\[\]{}\n]*(?:,\n\s*[^\[\]{}\n]*)*)\n\s*\]", join, text)


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
