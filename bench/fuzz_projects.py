"""The families of hostile project files: mutated JSON, names written into exported code,
training settings at and past their limits, project paths that are not files."""

from __future__ import annotations

import copy
import gzip
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.fuzz_base import MARK, SEEDS, Case, _chain, _dump, _node, _write_text, mlp

# --- the project family ---------------------------------------------------------------------


HOSTILE: list[tuple[str, Any]] = [
    ("10**400", 10**400),
    ("-10**400", -(10**400)),
    ("2**64", 2**64),
    ("2**63", 2**63),
    ("-2**63-1", -(2**63) - 1),
    ("1e308", 1e308),
    ("-1e308", -1e308),
    ("5e-324", 5e-324),
    ("0", 0),
    ("-1", -1),
    ("0.5", 0.5),
    ("true", True),
    ("null", None),
    ("empty text", ""),
    ("lone surrogate", "h\ud800"),
    ("control characters", "a\x00\x07\x1b[2J"),
    ("100k characters", "a" * 100_000),
    ("empty list", []),
    ("empty object", {}),
    ("100k-element list", [1] * 100_000),
    ("nesting 500", "@@nest:500@@"),
    ("nesting 900", "@@nest:900@@"),
    ("NaN", float("nan")),
    ("Infinity", float("inf")),
    ("list of surrogates", ["\udfff", "\ud800x"]),
    ("right-to-left text", "\u202eevil"),
]


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:6]):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _project_case(index: int, rng: random.Random) -> Case:
    doc = rng.choice(SEEDS)()
    kind = rng.random()
    if kind < 0.55:  # a hostile value anywhere
        path = rng.choice(_paths(doc)[1:])
        label, value = rng.choice(HOSTILE)
        _set(doc, path, copy.deepcopy(value))
        where = ".".join(map(str, path))
        return Case("project", index, f"{where} = {label}", _write_text("project.json", _dump(doc)))
    if kind < 0.65:  # a key removed
        path = rng.choice(_paths(doc)[1:])
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        where = ".".join(map(str, path))
        return Case("project", index, f"{where} removed", _write_text("project.json", _dump(doc)))
    net = doc["models"]["main"]
    nodes, edges = net["nodes"], net["edges"]
    structural = [
        (
            "a cycle",
            lambda: edges.append({**edges[0], "from": nodes[-2]["id"], "to": nodes[1]["id"]}),
        ),
        ("a duplicate name", lambda: nodes.append({**nodes[1], "id": "n99"})),
        ("a duplicate id", lambda: nodes.append({**nodes[1], "name": "other"})),
        ("an unknown type", lambda: nodes[1].update(type="Conv9d")),
        ("a dangling edge", lambda: edges.append({**edges[0], "to": "n404"})),
        ("an Input of 10**30", lambda: nodes[0]["params"].update(shape=[10**30])),
        (
            "an Input of 20000 into Linear 40000",
            lambda: (
                nodes[0]["params"].update(shape=[20000]),
                nodes[2]["params"].update(out_features=40000),
            ),
        ),
        ("an Input of 100 dimensions", lambda: nodes[0]["params"].update(shape=[1] * 100)),
        ("a negative Input", lambda: nodes[0]["params"].update(shape=[-4])),
        ("no Output", lambda: (nodes.pop(), edges.pop())),
        ("two networks of one name", lambda: doc["models"].update({"main ": copy.deepcopy(net)})),
        ("10k nodes in a line", lambda: _long_chain(net, 10_000)),
        (
            "a self loop",
            lambda: edges.append({**edges[0], "from": nodes[1]["id"], "to": nodes[1]["id"]}),
        ),
        ("a port that does not exist", lambda: edges[0].update(to_port="nowhere")),
    ]
    if kind < 0.85:
        label, mutate = rng.choice(structural)
        mutate()
        return Case("project", index, label, _write_text("project.json", _dump(doc)))
    text = _dump(doc)
    torn = [
        ("cut short", lambda t: t[: rng.randrange(1, len(t))], "refuse"),
        ("a NUL byte", lambda t: t[:100] + "\x00" + t[100:], "refuse"),
        ("a BOM", lambda t: "\ufeff" + t, "either"),
        ("400-digit position", lambda t: t.replace("0.0", "1" * 400, 1), "either"),
        ("trailing garbage", lambda t: t + "}}]", "refuse"),
        (
            "duplicate keys",
            lambda t: t.replace('"name": "fuzz seed"', '"name": "a", "name": "b"', 1),
            "either",
        ),
        ("not UTF-8", lambda t: t.encode("utf-16"), "refuse"),
        (
            "a lone surrogate escape",
            lambda t: t.replace('"fuzz seed"', '"\\ud800 seed"', 1),
            "refuse",
        ),
        ("text-level nesting 100k", lambda t: "[" * 100_000 + "]" * 100_000, "refuse"),
        (
            "a number of 10^6 digits",
            lambda t: t.replace('"epochs": 1', '"epochs": ' + "9" * 1_000_000, 1),
            "refuse",
        ),
        ("a top-level list", lambda t: "[" + t + "]", "refuse"),
        ("empty", lambda t: "", "refuse"),
    ]
    label, cut, expect = rng.choice(torn)
    return Case("project", index, label, _write_text("project.json", cut(text)), expect=expect)


def _long_chain(net: dict, n: int) -> None:
    first, *middle, last = net["nodes"]
    nodes = [first] + [_node(100 + i, "ReLU", f"relu{i}") for i in range(n)] + middle[1:] + [last]
    net["nodes"], net["edges"] = nodes, _chain(nodes)


# --- the inject family ---------------------------------------------------------------------

PAYLOADS = [
    f'a"); {MARK}(); ("',
    f"a'); {MARK}(); ('",
    f'a"""\n{MARK}()\n"""',
    f"a'''\n{MARK}()\n'''",
    f"a\n{MARK}()\n#",
    f"a\r{MARK}()\r#",
    f"a\u2028{MARK}()",
    f"a\u0085{MARK}()",
    f"a\\\n{MARK}()",
    f"{{{MARK}()}}",
    f"a\x00{MARK}()",
    f"#\n{MARK}()",
    f"__import__('os').system('{MARK}')",
    f'a"""+{MARK}()+"""',
    f"x = {MARK}()",
    "a\\",
    f"\\N{{{MARK}}}",
    f'a\\"); {MARK}(); #',
    f"class {MARK}: pass",
    "import os",
]

FIELDS = [
    "project name",
    "description",
    "network name",
    "node name",
    "node id",
    "Output name",
    "csv path",
    "csv class label",
    "csv column name",
    "optimizer name",
    "dataset name",
]


def _inject_case(index: int, rng: random.Random) -> Case:
    payload = PAYLOADS[index % len(PAYLOADS)]
    where = FIELDS[(index // len(PAYLOADS)) % len(FIELDS)]
    if rng.random() < 0.3:
        payload = rng.choice(["", "x", "é", "\t"]) + payload + rng.choice(["", "\\", '"', "'"])
    csv_name = "data.csv"
    header, label_a = "f1,f2,label", "cat"
    doc = mlp()
    net = doc["models"]["main"]
    if where == "project name":
        doc["name"] = payload
    elif where == "description":
        doc["description"] = payload
    elif where == "network name":
        doc["models"] = {payload: net}
    elif where == "node name":
        net["nodes"][2]["name"] = payload
    elif where == "node id":
        old = net["nodes"][2]["id"]
        net["nodes"][2]["id"] = payload
        for e in net["edges"]:
            for end in ("from", "to"):
                if e[end] == old:
                    e[end] = payload
    elif where == "Output name":
        net["nodes"][-1]["name"] = payload
    elif where == "csv path":
        csv_name = payload.replace("/", "_").replace("\x00", "0") + ".csv"
    elif where == "csv class label":
        label_a = payload.replace(",", ";").replace("\n", " ").replace("\r", " ")
    elif where == "csv column name":
        header = "f1," + payload.replace(",", ";").replace("\n", " ").replace("\r", " ") + ",label"
    elif where == "optimizer name":
        doc["training"]["optimizer"]["name"] = payload
    elif where == "dataset name":
        doc["training"]["dataset"]["name"] = payload
    if where.startswith("csv"):
        doc["training"]["dataset"] = {
            "name": "csv",
            "path": csv_name,
            "target": "label" if where != "csv column name" else None,
        }
        if where == "csv column name":
            doc["training"]["dataset"].pop("target")
    rows = "\n".join(f"{i % 7},{i % 3},{label_a if i % 2 else 'dog'}" for i in range(40))

    def write(folder: Path) -> None:
        (folder / "project.json").write_text(_dump(doc), encoding="utf-8", errors="surrogatepass")
        if where.startswith("csv"):
            try:
                (folder / csv_name).write_text(
                    header + "\n" + rows + "\n", encoding="utf-8", errors="surrogatepass"
                )
            except (OSError, ValueError):
                pass

    return Case("inject", index, f"{where}: {payload!r}", write)


# --- the training and special families ---------------------------------------------------


def _training_case(index: int, rng: random.Random) -> Case:
    doc = mlp()
    t = doc["training"]
    faults: list[tuple[str, Callable[[], Any], str]] = [
        ("lr 1e6", lambda: t["optimizer"].update(lr=1e6), "either"),
        ("lr 1e308", lambda: t["optimizer"].update(lr=1e308), "either"),
        ("lr -1", lambda: t["optimizer"].update(lr=-1), "refuse"),
        ("epochs 0", lambda: t.update(epochs=0), "refuse"),
        ("batch_size 0", lambda: t.update(batch_size=0), "refuse"),
        ("batch_size 10**9", lambda: t.update(batch_size=10**9), "either"),
        ("batch_size 1", lambda: t.update(batch_size=1), "either"),
        ("samples 10**9", lambda: t["dataset"].update(samples=10**9), "refuse"),
        ("samples 1", lambda: t["dataset"].update(samples=1), "either"),
        ("samples 0", lambda: t["dataset"].update(samples=0), "refuse"),
        ("noise 1e308", lambda: t["dataset"].update(noise=1e308), "refuse"),
        ("noise -1", lambda: t["dataset"].update(noise=-1), "refuse"),
        ("seed 2**64", lambda: t.update(seed=2**64), "refuse"),
        ("seed -1", lambda: t.update(seed=-1), "either"),
        ("clip max 1e308", lambda: t.update(clip={"mode": "norm", "max": 1e308}), "either"),
        ("weight decay 1e308", lambda: t["optimizer"].update(weight_decay=1e308), "either"),
        (
            "momentum 10",
            lambda: t.update(optimizer={"name": "sgd", "lr": 0.1, "momentum": 10}),
            "either",
        ),
        ("betas [1, 1]", lambda: t["optimizer"].update(betas=[1, 1]), "either"),
        ("bce on two logits", lambda: t.update(loss="bce"), "refuse"),
        ("mse on classes", lambda: t.update(loss="mse"), "either"),
        ("validation 1", lambda: t["dataset"].update(validation=1.0), "refuse"),
        ("validation 0.999", lambda: t["dataset"].update(validation=0.999), "either"),
        ("an unknown procedure", lambda: t.update(procedure="telepathy"), "refuse"),
        ("vae on an MLP", lambda: t.update(procedure="vae"), "either"),
        ("autoencoder with 2 logits", lambda: t.update(procedure="autoencoder"), "either"),
        ("device quantum", lambda: t.update(device="quantum"), "refuse"),
        (
            "Dropout p 1",
            lambda: doc["models"]["main"]["nodes"][4]["params"].update(p=1.0),
            "either",
        ),
        (
            "Dropout p 1e308",
            lambda: doc["models"]["main"]["nodes"][4]["params"].update(p=1e308),
            "refuse",
        ),
        (
            "Linear 10**12",
            lambda: doc["models"]["main"]["nodes"][2]["params"].update(out_features=10**12),
            "refuse",
        ),
        (
            "Linear 10**6 x Input 10**4",
            lambda: (
                doc["models"]["main"]["nodes"][0]["params"].update(shape=[10**4]),
                doc["models"]["main"]["nodes"][2]["params"].update(out_features=10**6),
            ),
            "refuse",
        ),
    ]
    label, fault, expect = faults[index % len(faults)]
    fault()
    return Case("training", index, label, _write_text("project.json", _dump(doc)), expect=expect)


def _special_case(index: int, rng: random.Random) -> Case:
    def fifo(f: Path) -> None:
        os.mkfifo(f / "project.json")

    def dev(f: Path) -> None:
        (f / "project.json").symlink_to("/dev/zero")

    def folder(f: Path) -> None:
        (f / "project.json").mkdir()

    def huge(f: Path) -> None:
        with open(f / "project.json", "wb") as out:
            out.write(b'{"format": "neuralcanvas-project", "description": "')
            out.truncate(60 * 1024**2)

    def sparse(f: Path) -> None:
        with open(f / "project.json", "wb") as out:
            out.truncate(4 * 1024**3)

    def gz(f: Path) -> None:
        (f / "project.json").write_bytes(gzip.compress(_dump(mlp()).encode()))

    cases = [
        ("a FIFO", fifo),
        ("/dev/zero", dev),
        ("a folder", folder),
        ("60 MB", huge),
        ("4 GB sparse", sparse),
        ("gzipped", gz),
    ]
    if index % 7 == 6:
        return Case(
            "special",
            index,
            "a 6,000-character path",
            lambda f: None,
            expect="refuse",
            project="p" * 6000 + ".json",
        )
    label, write = cases[index % 7 % len(cases)]
    return Case("special", index, label, write, expect="refuse")
